//! Workflow updates: admission, delivery as protocol messages on a workflow task, the worker's acceptance / rejection / response, and waiting for a stage.
use crate::history::query::workflow_of;
use crate::prelude::*;

/// Temporal's `update.AbortedByWorkflowClosingErr` message: an update admitted but not yet
/// accepted when its run closed.
pub(crate) const ABORTED_BY_CLOSING_WORKFLOW: &str =
    "workflow update was aborted by closing workflow";

/// The UpdateWorkflowExecution response for an update of `key` at `stage`.
pub(crate) fn update_response(
    key: &ExecKey,
    update_id: String,
    stage: i32,
    outcome: Option<Outcome>,
) -> ws::UpdateWorkflowExecutionResponse {
    ws::UpdateWorkflowExecutionResponse {
        update_ref: Some(upd::UpdateRef {
            workflow_execution: Some(exec_of(key)),
            update_id,
        }),
        outcome,
        stage,
        link: None,
    }
}

impl Engine {
    /// UpdateWorkflowExecution: admitted, delivered on a workflow task, waits for the stage.
    pub async fn update(
        &self,
        req: ws::UpdateWorkflowExecutionRequest,
        timeout: Option<std::time::Duration>,
    ) -> RpcResult<ws::UpdateWorkflowExecutionResponse> {
        let deadline = poll_deadline(timeout);
        let request = req
            .request
            .ok_or_else(|| status::invalid("update request is required"))?;
        let update_id = request
            .meta
            .as_ref()
            .map(|m| m.update_id.clone())
            .unwrap_or_default();
        if update_id.is_empty() {
            return Err(status::invalid("update id is required"));
        }
        if request.input.as_ref().is_none_or(|i| i.name.is_empty()) {
            return Err(status::invalid("update name is required"));
        }
        let wait = req
            .wait_policy
            .map(|w| w.lifecycle_stage)
            .unwrap_or(UpdateWorkflowExecutionLifecycleStage::Accepted as i32);
        let key = self
            .with_workflow(&req.namespace, workflow_of(&req.workflow_execution), |g| {
                let key = g.resolve(&req.namespace, &req.workflow_execution)?;
                // Temporal's updateworkflow.ApplyRequest: a first execution run id that is not
                // this chain's (a handle of an earlier, closed chain) finds no execution.
                let first_run = g.execs.get(&key).map(|ex| ex.st.first_run_id.as_str());
                if !req.first_execution_run_id.is_empty()
                    && first_run != Some(req.first_execution_run_id.as_str())
                {
                    return Err(status::not_found("workflow execution not found"));
                }
                g.admit_update(&key, &request)?;
                Ok(key)
            })
            .await?;
        let (stage, outcome) = self.wait_update(&key, &update_id, wait, deadline).await?;
        Ok(update_response(&key, update_id, stage, outcome))
    }

    /// PollWorkflowExecutionUpdate.
    pub async fn poll_update(
        &self,
        req: ws::PollWorkflowExecutionUpdateRequest,
        timeout: Option<std::time::Duration>,
    ) -> RpcResult<ws::PollWorkflowExecutionUpdateResponse> {
        let deadline = poll_deadline(timeout);
        let r = req
            .update_ref
            .ok_or_else(|| status::invalid("update_ref is required"))?;
        let key = {
            let mut g = self.lock_workflow(&req.namespace, workflow_of(&r.workflow_execution));
            g.resolve(&req.namespace, &r.workflow_execution)?
        };
        // Temporal's frontend fills in an empty wait policy: with no stage asked for, the poll
        // answers at once with the stage reached (ADMITTED for an update not yet delivered).
        let wait = req
            .wait_policy
            .map(|w| w.lifecycle_stage)
            .unwrap_or(UpdateWorkflowExecutionLifecycleStage::Unspecified as i32);
        let (stage, outcome) = self.wait_update(&key, &r.update_id, wait, deadline).await?;
        Ok(ws::PollWorkflowExecutionUpdateResponse {
            outcome,
            stage,
            update_ref: Some(upd::UpdateRef {
                workflow_execution: Some(exec_of(&key)),
                update_id: r.update_id,
            }),
        })
    }

    pub(crate) async fn wait_update(
        &self,
        key: &ExecKey,
        id: &str,
        wait: i32,
        deadline: Instant,
    ) -> RpcResult<(i32, Option<Outcome>)> {
        let mut stop = self.closing.subscribe();
        loop {
            // An outcome is answered once durable, as the completion that recorded it is.
            let ready = {
                let g = self.lock_workflow(&key.namespace, &key.workflow_id);
                let ex = g
                    .execs
                    .get(key)
                    .ok_or_else(|| status::not_found("workflow execution not found"))?;
                let u = ex
                    .st
                    .updates
                    .get(id)
                    .ok_or_else(|| status::not_found(format!("update {id} not found")))?;
                if u.aborted {
                    // Temporal: AbortedByWorkflowClosingErr, or ErrWorkflowClosing (retried by
                    // the client onto the next run) when the run continued as new.
                    return Err(
                        if ex.st.status == WorkflowExecutionStatus::ContinuedAsNew as i32 {
                            status::workflow_closing()
                        } else {
                            status::not_found(ABORTED_BY_CLOSING_WORKFLOW)
                        },
                    );
                }
                if u.stage >= wait || u.outcome.is_some() {
                    Err((u.stage, u.outcome.clone(), g.queued_seq()))
                } else {
                    Ok(ex.watch.subscribe())
                }
            };
            let mut rx = match ready {
                Ok(rx) => rx,
                Err((stage, outcome, seq)) => {
                    self.wait_durable(seq).await?;
                    return Ok((stage, outcome));
                }
            };
            tokio::select! {
                r = rx.changed() => { if r.is_err() { return Err(status::not_found("workflow execution not found")); } }
                _ = stop.wait_for(|v| *v) => return Err(Status::unavailable("dev server shutting down")),
                _ = tokio::time::sleep_until(deadline) => {
                    let g = self.lock_workflow(&key.namespace, &key.workflow_id);
                    let stage = g.execs.get(key).and_then(|e| e.st.updates.get(id)).map(|u| u.stage).unwrap_or(1);
                    return Ok((stage, None));
                }
            }
        }
    }
}

impl Inner<'_> {
    /// Admits an update to the run `key` and makes sure a workflow task will deliver it;
    /// an update of the same id already there is left as it is (the request attaches to
    /// it). NotFound for a missing run, or a closed one without that update.
    pub(crate) fn admit_update(&mut self, key: &ExecKey, request: &upd::Request) -> RpcResult<()> {
        let update_id = request
            .meta
            .as_ref()
            .map(|m| m.update_id.clone())
            .unwrap_or_default();
        let ex = self
            .execs
            .get_mut(key)
            .ok_or_else(|| status::not_found("workflow execution not found"))?;
        if ex.st.updates.contains_key(&update_id) {
            return Ok(());
        }
        if !ex.st.is_open() {
            return Err(status::not_found("workflow execution already completed"));
        }
        ex.st.updates.insert(
            update_id,
            Update {
                request: request.clone(),
                stage: UpdateWorkflowExecutionLifecycleStage::Admitted as i32,
                ..Default::default()
            },
        );
        self.dirty.insert(key.clone());
        // Temporal delivers an update to a run with no workflow task by a speculative one.
        self.schedule_wft_of(key, true);
        Ok(())
    }

    pub(crate) fn handle_message(&mut self, key: &ExecKey, m: ProtocolMessage) {
        let Some(ex) = self.execs.get_mut(key) else {
            return;
        };
        let Some(body) = m.body else { return };
        let id = m.protocol_instance_id.clone();
        let tname = body
            .type_url
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .to_string();
        match tname.as_str() {
            "temporal.api.update.v1.Acceptance" => {
                let Ok(a) = upd::Acceptance::decode(body.value.as_slice()) else {
                    return;
                };
                // Temporal's onAcceptanceMsg: the request is the server's own record of it,
                // left out when an UpdateAdmitted event in history already carries it.
                let accepted_request = match ex.st.updates.get(&id) {
                    Some(u) if u.admitted_event_id > 0 => None,
                    Some(u) => Some(u.request.clone()),
                    None => a.accepted_request.clone(),
                };
                let eid = ex.add(A::WorkflowExecutionUpdateAcceptedEventAttributes(
                    h::WorkflowExecutionUpdateAcceptedEventAttributes {
                        protocol_instance_id: id.clone(),
                        accepted_request_message_id: a.accepted_request_message_id,
                        accepted_request_sequencing_event_id: a
                            .accepted_request_sequencing_event_id,
                        accepted_request,
                    },
                ));
                let u = ex.st.updates.entry(id.clone()).or_insert_with(|| Update {
                    request: a.accepted_request.unwrap_or_default(),
                    ..Default::default()
                });
                u.stage = UpdateWorkflowExecutionLifecycleStage::Accepted as i32;
                u.accepted_event_id = eid;
            }
            "temporal.api.update.v1.Rejection" => {
                let Ok(r) = upd::Rejection::decode(body.value.as_slice()) else {
                    return;
                };
                if let Some(u) = ex.st.updates.get_mut(&id) {
                    u.stage = UpdateWorkflowExecutionLifecycleStage::Completed as i32;
                    u.outcome = Some(Outcome {
                        value: r.failure.map(outcome::Value::Failure),
                    });
                }
                ex.bump();
            }
            "temporal.api.update.v1.Response" => {
                let Ok(r) = upd::Response::decode(body.value.as_slice()) else {
                    return;
                };
                let accepted = ex
                    .st
                    .updates
                    .get(&id)
                    .map(|u| u.accepted_event_id)
                    .unwrap_or(0);
                let completed = ex.add(A::WorkflowExecutionUpdateCompletedEventAttributes(
                    h::WorkflowExecutionUpdateCompletedEventAttributes {
                        meta: r.meta.clone(),
                        accepted_event_id: accepted,
                        outcome: r.outcome.clone(),
                    },
                ));
                if let Some(u) = ex.st.updates.get_mut(&id) {
                    u.stage = UpdateWorkflowExecutionLifecycleStage::Completed as i32;
                    u.outcome = r.outcome;
                    u.completed_event_id = completed;
                }
            }
            other => tracing::warn!(message_type = other, "ignoring unknown protocol message"),
        }
    }
}
