//! Update-with-start (ExecuteMultiOperation [Start, Update]), as Temporal's
//! service/history/api/multioperation does: the update is applied to the running workflow
//! when the start is deduplicated, the update id is known, or the conflict policy is
//! USE_EXISTING; otherwise the workflow is started (by its reuse and conflict policies) with
//! the update admitted before its first workflow task, under the same lock. A completed
//! update of that id is returned as it is. Errors name the operation that failed; the other
//! one is aborted.
use crate::history::update::{ABORTED_BY_CLOSING_WORKFLOW, update_response};
use crate::prelude::*;
use tonic::Code;

/// The message of every update-with-start error (the frontend's, for the feature's name).
pub(crate) const MULTI_OPERATION_FAILED: &str = "Update-with-Start could not be executed.";

/// Where the update went.
struct Applied {
    key: ExecKey,
    started: bool,
    status: i32,
    /// Set when the update had already completed: nothing to wait for.
    completed: Option<(i32, Option<Outcome>)>,
}

/// An update-with-start that failed: each operation's status (`None`: it succeeded).
struct Failed {
    start: Option<Status>,
    update: Option<Status>,
    /// The update was admitted to a running workflow that closed before accepting it.
    aborted_by_closing: bool,
}

impl Failed {
    fn start(e: Status) -> Self {
        Failed {
            start: Some(e),
            update: Some(status::multi_operation_aborted()),
            aborted_by_closing: false,
        }
    }

    fn update(started: bool, e: Status) -> Self {
        let aborted_by_closing = !started && e.message() == ABORTED_BY_CLOSING_WORKFLOW;
        Failed {
            start: (!started).then(status::multi_operation_aborted),
            update: Some(e),
            aborted_by_closing,
        }
    }

    fn into_status(self) -> Status {
        status::multi_operation(MULTI_OPERATION_FAILED, &[self.start, self.update])
    }
}

fn update_id_of(update: &ws::UpdateWorkflowExecutionRequest) -> String {
    update
        .request
        .as_ref()
        .and_then(|r| r.meta.as_ref())
        .map(|m| m.update_id.clone())
        .unwrap_or_default()
}

impl Engine {
    /// ExecuteMultiOperation with [start, update], both already validated by the frontend.
    /// An update aborted because the running workflow it joined closed is retried once
    /// (which may start a new run); a second such abort is answered with `Aborted`, which
    /// clients retry.
    pub async fn update_with_start(
        &self,
        start: ws::StartWorkflowExecutionRequest,
        update: ws::UpdateWorkflowExecutionRequest,
        timeout: Option<std::time::Duration>,
    ) -> RpcResult<ws::ExecuteMultiOperationResponse> {
        use ws::execute_multi_operation_response::{Response, response::Response as R};
        let deadline = poll_deadline(timeout);
        let mut retried = false;
        let (start_resp, update_resp) = loop {
            match self.update_with_start_once(&start, &update, deadline).await {
                Ok(r) => break r,
                Err(f) if f.aborted_by_closing && !retried => {
                    tracing::debug!(workflow_id = %start.workflow_id, "update-with-start retried: the workflow closed before accepting the update");
                    retried = true;
                }
                Err(mut f) => {
                    if f.aborted_by_closing {
                        f.update = Some(Status::new(Code::Aborted, ABORTED_BY_CLOSING_WORKFLOW));
                    }
                    return Err(f.into_status());
                }
            }
        };
        Ok(ws::ExecuteMultiOperationResponse {
            responses: vec![
                Response {
                    response: Some(R::StartWorkflow(start_resp)),
                },
                Response {
                    response: Some(R::UpdateWorkflow(update_resp)),
                },
            ],
        })
    }

    async fn update_with_start_once(
        &self,
        start: &ws::StartWorkflowExecutionRequest,
        update: &ws::UpdateWorkflowExecutionRequest,
        deadline: Instant,
    ) -> Result<
        (
            ws::StartWorkflowExecutionResponse,
            ws::UpdateWorkflowExecutionResponse,
        ),
        Failed,
    > {
        let update_id = update_id_of(update);
        let applied = self
            .with_workflow_local(&start.namespace, &start.workflow_id, |g| {
                Ok(g.apply_update_with_start(start, update, &update_id))
            })
            .await
            .map_err(Failed::start)??;
        let (stage, outcome) = match applied.completed {
            Some(done) => done,
            None => {
                let wait = update
                    .wait_policy
                    .map(|w| w.lifecycle_stage)
                    .unwrap_or(UpdateWorkflowExecutionLifecycleStage::Accepted as i32);
                self.wait_update(&applied.key, &update_id, wait, deadline)
                    .await
                    .map_err(|e| Failed::update(applied.started, e))?
            }
        };
        let start_resp = ws::StartWorkflowExecutionResponse {
            run_id: applied.key.run_id.clone(),
            started: applied.started,
            status: applied.status,
            ..Default::default()
        };
        Ok((
            start_resp,
            update_response(&applied.key, update_id, stage, outcome),
        ))
    }
}

impl Inner<'_> {
    /// The locked part of update-with-start: joins the current run or starts a new one, and
    /// admits the update to it.
    fn apply_update_with_start(
        &mut self,
        start: &ws::StartWorkflowExecutionRequest,
        update: &ws::UpdateWorkflowExecutionRequest,
        update_id: &str,
    ) -> Result<Applied, Failed> {
        self.namespace(&start.namespace).map_err(Failed::start)?;
        let request = update.request.clone().unwrap_or_default();
        let current = self
            .execs
            .current(&start.namespace, &start.workflow_id)
            .cloned();
        if let Some(run) = &current {
            let key = ExecKey {
                namespace: start.namespace.clone(),
                workflow_id: start.workflow_id.clone(),
                run_id: run.clone(),
            };
            self.fault_in(&key);
            if let Some(ex) = self.execs.get(&key) {
                let status = ex.st.status;
                // Temporal's GetUpdateOutcome: only an update completed in history counts.
                let completed = ex
                    .st
                    .updates
                    .get(update_id)
                    .filter(|u| u.completed_event_id > 0);
                if let Some(outcome) = completed.and_then(|u| u.outcome.clone()) {
                    return Ok(Applied {
                        key,
                        started: false,
                        status,
                        completed: Some((
                            UpdateWorkflowExecutionLifecycleStage::Completed as i32,
                            Some(outcome),
                        )),
                    });
                }
                let join = ex.st.is_open()
                    && (start.request_id == ex.st.request_id
                        || ex.st.updates.contains_key(update_id)
                        || start.workflow_id_conflict_policy
                            == WorkflowIdConflictPolicy::UseExisting as i32);
                if join {
                    self.admit_update(&key, &request)
                        .map_err(|e| Failed::update(false, e))?;
                    return Ok(Applied {
                        key,
                        started: false,
                        status,
                        completed: None,
                    });
                }
            }
        }
        let (run_id, started) = self
            .start(StartArgs::from(start.clone()))
            .map_err(Failed::start)?;
        if !started || current.as_ref() == Some(&run_id) {
            // A deduplicated start of a closed run: nothing was started for the update.
            return Err(Failed::start(Status::unavailable(
                "Workflow was not started: the start request was deduplicated",
            )));
        }
        let key = ExecKey {
            namespace: start.namespace.clone(),
            workflow_id: start.workflow_id.clone(),
            run_id,
        };
        self.admit_update(&key, &request)
            .map_err(|e| Failed::update(true, e))?;
        tracing::info!(workflow_id = %key.workflow_id, run_id = %key.run_id, update_id, "workflow started with an update");
        Ok(Applied {
            key,
            started: true,
            status: OPEN,
            completed: None,
        })
    }
}
