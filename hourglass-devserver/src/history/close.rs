//! Closing a run: the Complete / Fail / CancelWorkflowExecution commands, the run timeout, and
//! what every close does (pending work dropped, updates failed, children's parent-close
//! policies applied, the parent told).
use crate::history::activity::server_timeout_failure;
use crate::history::workflow_retry::WorkflowRetry;
use crate::prelude::*;

/// How a run closed.
pub(crate) enum Close {
    Completed(Option<Payloads>),
    Failed(Box<Option<Failure>>),
    Canceled(Option<Payloads>),
    Terminated,
    TimedOut,
    ContinuedAsNew,
}

impl Inner<'_> {
    /// The CompleteWorkflowExecution command.
    pub(crate) fn complete_workflow_execution_command(
        &mut self,
        key: &ExecKey,
        a: cmd::CompleteWorkflowExecutionCommandAttributes,
        cx: &mut CmdCtx<'_>,
    ) -> RpcResult<()> {
        let completed_id = cx.completed_id;
        let ex = self.exec_mut(key)?;
        ex.add(A::WorkflowExecutionCompletedEventAttributes(
            h::WorkflowExecutionCompletedEventAttributes {
                result: a.result.clone(),
                workflow_task_completed_event_id: completed_id,
                new_execution_run_id: String::new(),
            },
        ));
        cx.eff.closed = true;
        self.close_run(key, Close::Completed(a.result));
        Ok(())
    }

    /// The FailWorkflowExecution command.
    pub(crate) fn fail_workflow_execution_command(
        &mut self,
        key: &ExecKey,
        a: cmd::FailWorkflowExecutionCommandAttributes,
        cx: &mut CmdCtx<'_>,
    ) -> RpcResult<()> {
        let completed_id = cx.completed_id;
        let failure = a.failure.clone().unwrap_or_default();
        let retry = self.workflow_retry(key, &failure, None);
        let new_run = retry.backoff_ms.map(|_| new_id());
        let ex = self.exec_mut(key)?;
        ex.add(A::WorkflowExecutionFailedEventAttributes(
            h::WorkflowExecutionFailedEventAttributes {
                failure: a.failure.clone(),
                retry_state: retry.state as i32,
                workflow_task_completed_event_id: completed_id,
                new_execution_run_id: new_run.clone().unwrap_or_default(),
            },
        ));
        ex.st.continued_as_new_run_id = new_run.clone().unwrap_or_default();
        cx.eff.closed = true;
        self.close_run(key, Close::Failed(Box::new(a.failure)));
        if let (Some(run), Some(backoff)) = (new_run, retry.backoff_ms) {
            self.start_workflow_retry(key, run, backoff, failure);
        }
        Ok(())
    }

    /// The CancelWorkflowExecution command.
    pub(crate) fn cancel_workflow_execution_command(
        &mut self,
        key: &ExecKey,
        a: cmd::CancelWorkflowExecutionCommandAttributes,
        cx: &mut CmdCtx<'_>,
    ) -> RpcResult<()> {
        let completed_id = cx.completed_id;
        let ex = self.exec_mut(key)?;
        ex.add(A::WorkflowExecutionCanceledEventAttributes(
            h::WorkflowExecutionCanceledEventAttributes {
                workflow_task_completed_event_id: completed_id,
                details: a.details.clone(),
            },
        ));
        cx.eff.closed = true;
        self.close_run(key, Close::Canceled(a.details));
        Ok(())
    }

    /// The run timeout fired.
    pub(crate) fn run_timed_out(&mut self, key: ExecKey, now: i64) {
        let Some(ex) = self.execs.get_mut(&key) else {
            return;
        };
        if !ex.st.is_open() || ex.st.run_deadline_ms.is_none_or(|d| d > now) {
            return;
        }
        let expired = ex.st.execution_deadline_ms.is_some_and(|d| d <= now);
        let failure = Failure {
            message: "workflow timeout".into(),
            ..server_timeout_failure(TimeoutType::StartToClose)
        };
        let retry = if expired {
            WorkflowRetry {
                state: RetryState::Timeout,
                backoff_ms: None,
            }
        } else {
            self.workflow_retry(&key, &failure, Some(TimeoutType::StartToClose))
        };
        let new_run = retry.backoff_ms.map(|_| new_id());
        let Some(ex) = self.execs.get_mut(&key) else {
            return;
        };
        ex.flush();
        ex.add(A::WorkflowExecutionTimedOutEventAttributes(
            h::WorkflowExecutionTimedOutEventAttributes {
                retry_state: retry.state as i32,
                new_execution_run_id: new_run.clone().unwrap_or_default(),
            },
        ));
        ex.st.continued_as_new_run_id = new_run.clone().unwrap_or_default();
        self.close_run(&key, Close::TimedOut);
        if let (Some(run), Some(backoff)) = (new_run, retry.backoff_ms) {
            self.start_workflow_retry(&key, run, backoff, failure);
        }
    }

    pub(crate) fn close_run(&mut self, key: &ExecKey, how: Close) {
        let Some(ex) = self.execs.get_mut(key) else {
            return;
        };
        let status_v = match &how {
            Close::Completed(_) => WorkflowExecutionStatus::Completed,
            Close::Failed(_) => WorkflowExecutionStatus::Failed,
            Close::Canceled(_) => WorkflowExecutionStatus::Canceled,
            Close::Terminated => WorkflowExecutionStatus::Terminated,
            Close::TimedOut => WorkflowExecutionStatus::TimedOut,
            Close::ContinuedAsNew => WorkflowExecutionStatus::ContinuedAsNew,
        };
        ex.st.status = status_v as i32;
        ex.st.close_ms = Some(ex.time.now_ms());
        ex.st.wft = None;
        ex.st.buffered.clear();
        ex.st.activities.clear();
        ex.st.timers.clear();
        abort_updates(&mut ex.st.updates);
        ex.bump();
        let children: Vec<Child> = ex.st.children.values().cloned().collect();
        let parent = ex.st.parent.clone();
        let queries: Vec<String> = ex
            .pending_queries
            .drain(..)
            .chain(ex.attached_queries.drain(..))
            .collect();
        let result_event = ex.events.last().cloned();
        self.dirty.insert(key.clone());
        self.arm_retention(key);
        self.cache_closed(key);
        // Queries on a closed run are answered from its history by a worker (legacy task).
        for q in queries {
            self.dispatch_query(key, q);
        }
        if matches!(how, Close::ContinuedAsNew) {
            return;
        }
        tracing::info!(workflow_id = %key.workflow_id, run_id = %key.run_id, status = status_name(status_v as i32), "workflow closed");
        // A run a reset terminated keeps its children for the reset run and does not report
        // to its parent (Temporal's processCloseExecution).
        if crate::history::reset::terminated_by_resetter(result_event.as_ref()) {
            return;
        }
        for c in children {
            if c.run_id.is_empty() {
                continue;
            }
            let ck = self.current_key(&c.namespace, &c.workflow_id);
            let Some(ck) = ck else { continue };
            if !self.execs.get(&ck).is_some_and(|e| e.st.is_open()) {
                continue;
            }
            if c.parent_close_policy == ParentClosePolicy::Abandon as i32 {
                continue;
            } else if c.parent_close_policy == ParentClosePolicy::RequestCancel as i32 {
                self.request_cancel(&ck, "parent-close-policy", "parent closed", 0, None);
            } else {
                self.terminate(&ck, "by parent close policy", None, "parent-close-policy");
            }
        }
        // A retried child's parent hears only of the chain's last run (Temporal's
        // replyToParentWorkflow: no new execution run id).
        let retried = self
            .execs
            .get(key)
            .is_some_and(|e| !e.st.continued_as_new_run_id.is_empty());
        if let Some(p) = parent
            && !retried
        {
            self.notify_parent(key, &p, how, result_event);
        }
    }
}

/// Temporal's `AcceptedUpdateCompletedWorkflowFailure`: the outcome of an accepted update
/// whose run closed before the update completed.
pub(crate) fn accepted_update_completed_workflow_failure() -> Failure {
    Failure {
        message:
            "Workflow Update failed because the Workflow completed before the Update completed."
                .into(),
        source: "Server".into(),
        failure_info: Some(FailureInfo::ApplicationFailureInfo(
            ApplicationFailureInfo {
                r#type: "AcceptedUpdateCompletedWorkflow".into(),
                non_retryable: true,
                ..Default::default()
            },
        )),
        ..Default::default()
    }
}

/// Aborts the updates still in flight when a run closes, as Temporal's update registry does
/// (`AbortReasonWorkflowCompleted` / `AbortReasonWorkflowContinuing`): an accepted update
/// completes with [`accepted_update_completed_workflow_failure`]; one not yet accepted is
/// aborted, and its callers get an error ([`crate::history::update`] maps it).
pub(crate) fn abort_updates(updates: &mut BTreeMap<String, Update>) {
    for u in updates.values_mut() {
        if u.outcome.is_some() || u.aborted {
            continue;
        }
        if u.accepted_event_id > 0 {
            u.stage = UpdateWorkflowExecutionLifecycleStage::Completed as i32;
            u.outcome = Some(Outcome {
                value: Some(outcome::Value::Failure(
                    accepted_update_completed_workflow_failure(),
                )),
            });
        } else {
            u.aborted = true;
        }
    }
}
