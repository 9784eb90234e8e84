//! RespondWorkflowTaskCompleted: the command loop. Queries riding on the task are answered,
//! each command is recorded by the file of its concern, protocol messages (updates) are
//! handled in order, deferred cross-run effects run last, and a new workflow task is
//! scheduled when the run needs one.
use crate::history::workflow_task::WftFailure;
use crate::prelude::*;

impl Engine {
    /// RespondWorkflowTaskCompleted.
    pub async fn complete_workflow_task(
        &self,
        req: ws::RespondWorkflowTaskCompletedRequest,
    ) -> RpcResult<ws::RespondWorkflowTaskCompletedResponse> {
        self.with(|g| g.complete_wft(req))
            .await
            .map(|_| ws::RespondWorkflowTaskCompletedResponse::default())
    }
}

impl Inner {
    /// Records a completed workflow task and its commands.
    pub(crate) fn complete_wft(
        &mut self,
        req: ws::RespondWorkflowTaskCompletedRequest,
    ) -> RpcResult<()> {
        let (key, sid) = self.started_wft(&req.task_token)?;
        let identity = req.identity.clone();
        let is_close = |c: &Command| {
            matches!(
                c.attributes,
                Some(
                    C::CompleteWorkflowExecutionCommandAttributes(_)
                        | C::FailWorkflowExecutionCommandAttributes(_)
                        | C::CancelWorkflowExecutionCommandAttributes(_)
                        | C::ContinueAsNewWorkflowExecutionCommandAttributes(_)
                )
            )
        };
        // Answer queries that rode on this task.
        let answered: HashSet<String> = req.query_results.keys().cloned().collect();
        for (qid, res) in req.query_results {
            if let Some(mut q) = self.queries.remove(&qid)
                && let Some(tx) = q.tx.take()
            {
                let _ = tx.send(res);
            }
        }
        let limits = self.history_limits;
        let bad_search_attributes = self
            .validate_command_search_attributes(&key.namespace, &req.commands)
            .err();
        let ex = self
            .execs
            .get_mut(&key)
            .ok_or_else(|| status::not_found("workflow execution not found"))?;
        // Queries the worker left unanswered wait for the next task (or a query task).
        let unanswered: Vec<String> = ex
            .attached_queries
            .drain(..)
            .filter(|q| !answered.contains(q))
            .collect();
        ex.pending_queries.extend(unanswered);
        let wft = ex
            .st
            .wft
            .clone()
            .ok_or_else(|| status::not_found("Workflow task not found."))?;
        let started = wft.started_event_id.unwrap_or(0);
        let has_close = req.commands.iter().any(is_close);
        if has_close && !ex.st.buffered.is_empty() {
            // New events arrived while the worker decided to close: fail the task like
            // Temporal does, so the worker sees them on the next one.
            self.fail_started_wft(
                &key,
                WftFailure::Failed {
                    cause: WorkflowTaskFailedCause::UnhandledCommand as i32,
                    failure: Box::new(Some(Failure {
                        message: "UnhandledCommand".into(),
                        ..Default::default()
                    })),
                    identity: identity.clone(),
                },
            );
            return Ok(());
        }
        if let Some(e) = bad_search_attributes {
            // Temporal fails the task and applies none of its commands.
            tracing::warn!(workflow_id = %key.workflow_id, error = %e.message(), "workflow task failed: bad search attributes");
            self.fail_started_wft(
                &key,
                WftFailure::Failed {
                    cause: WorkflowTaskFailedCause::BadSearchAttributes as i32,
                    failure: Box::new(Some(Failure {
                        message: e.message().to_string(),
                        ..Default::default()
                    })),
                    identity: identity.clone(),
                },
            );
            // The failure is committed either way; the worker is told why, as Temporal does.
            return Err(status::invalid(e.message().to_string()));
        }
        if wft.attempt > 1 {
            // A transient task's Scheduled/Started events are written only now it completed.
            ex.write_transient_events(&wft, &identity, &limits);
        }
        ex.st.set_sticky(req.sticky_attributes.as_ref());
        ex.st.wft = None;
        ex.st.last_completed_started_id = started;
        ex.st.next_wft_attempt = 1;
        let completed_id = ex.add(A::WorkflowTaskCompletedEventAttributes(
            h::WorkflowTaskCompletedEventAttributes {
                scheduled_event_id: sid,
                started_event_id: started,
                identity: identity.clone(),
                binary_checksum: req.binary_checksum.clone(),
                worker_version: req.worker_version_stamp.clone(),
                sdk_metadata: req.sdk_metadata.clone(),
                metering_metadata: req.metering_metadata,
                ..Default::default()
            },
        ));
        self.dirty.insert(key.clone());
        let mut messages: BTreeMap<String, ProtocolMessage> = req
            .messages
            .into_iter()
            .map(|m| (m.id.clone(), m))
            .collect();
        let mut order: Vec<String> = vec![];
        let mut cx = CmdCtx {
            completed_id,
            identity: &identity,
            now: now_ms(),
            eff: CmdEffect {
                need_wft: req.force_create_new_workflow_task,
                closed: false,
            },
            deferred: vec![],
        };
        for cmd in req.commands {
            if cx.eff.closed {
                break;
            }
            let Some(attrs) = cmd.attributes else {
                return Err(status::invalid("command without attributes"));
            };
            match attrs {
                C::ProtocolMessageCommandAttributes(p) => {
                    if let Some(m) = messages.remove(&p.message_id) {
                        self.handle_message(&key, m);
                    }
                    order.push(p.message_id);
                }
                other => self.handle_command(&key, other, &mut cx)?,
            }
        }
        let CmdCtx { eff, deferred, .. } = cx;
        let mut need_wft = eff.need_wft;
        let closed = eff.closed;
        for (_, m) in std::mem::take(&mut messages) {
            if !closed {
                self.handle_message(&key, m);
            }
        }
        for d in deferred {
            self.run_deferred(&key, d);
        }
        let Some(ex) = self.execs.get_mut(&key) else {
            return Ok(());
        };
        if ex.st.is_open() {
            need_wft |= ex.flush();
            let undelivered = ex.st.updates.iter().any(|(id, u)| {
                u.stage == UpdateWorkflowExecutionLifecycleStage::Admitted as i32
                    && u.outcome.is_none()
                    && !wft.delivered_updates.contains(id)
            });
            need_wft |= undelivered;
            if need_wft {
                self.schedule_wft(&key);
            }
            self.flush_pending_queries(&key);
        }
        Ok(())
    }
}
