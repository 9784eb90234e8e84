//! Cancellation and termination: RequestCancelWorkflowExecution, TerminateWorkflowExecution and the RequestCancelExternalWorkflowExecution command.
use crate::history::query::workflow_of;
use crate::prelude::*;

impl Engine {
    /// RequestCancelWorkflowExecution.
    pub async fn request_cancel(
        &self,
        req: ws::RequestCancelWorkflowExecutionRequest,
    ) -> RpcResult<()> {
        let wf = workflow_of(&req.workflow_execution);
        self.with_workflow_local(&req.namespace, wf, |g| {
            let key = g.resolve(&req.namespace, &req.workflow_execution)?;
            // As Temporal: cancelling a run that already closed succeeds and changes nothing.
            if g.execs.get(&key).is_some_and(|e| e.st.is_open()) {
                g.request_cancel(&key, &req.identity, &req.reason, 0, None);
            }
            Ok(())
        })
        .await
    }

    /// TerminateWorkflowExecution.
    pub async fn terminate(&self, req: ws::TerminateWorkflowExecutionRequest) -> RpcResult<()> {
        let wf = workflow_of(&req.workflow_execution);
        self.with_workflow_local(&req.namespace, wf, |g| {
            let key = g.resolve_open(&req.namespace, &req.workflow_execution)?;
            g.terminate(&key, &req.reason, req.details, &req.identity);
            Ok(())
        })
        .await
    }
}

impl Inner<'_> {
    pub(crate) fn request_cancel(
        &mut self,
        key: &ExecKey,
        identity: &str,
        reason: &str,
        external_initiated: i64,
        external: Option<WorkflowExecution>,
    ) {
        let Some(ex) = self.execs.get_mut(key) else {
            return;
        };
        if ex.st.cancel_requested {
            return;
        }
        ex.st.cancel_requested = true;
        ex.add_or_buffer(A::WorkflowExecutionCancelRequestedEventAttributes(
            h::WorkflowExecutionCancelRequestedEventAttributes {
                cause: reason.to_string(),
                external_initiated_event_id: external_initiated,
                external_workflow_execution: external,
                identity: identity.to_string(),
            },
        ));
        self.ensure_wft(key);
    }

    pub(crate) fn terminate(
        &mut self,
        key: &ExecKey,
        reason: &str,
        details: Option<Payloads>,
        identity: &str,
    ) {
        let Some(ex) = self.execs.get_mut(key) else {
            return;
        };
        if !ex.st.is_open() {
            return;
        }
        ex.flush();
        ex.add(A::WorkflowExecutionTerminatedEventAttributes(
            h::WorkflowExecutionTerminatedEventAttributes {
                reason: reason.to_string(),
                details,
                identity: identity.to_string(),
            },
        ));
        tracing::info!(workflow_id = %key.workflow_id, reason, "workflow terminated");
        self.close_run(key, Close::Terminated);
    }

    /// The RequestCancelExternalWorkflowExecution command.
    pub(crate) fn request_cancel_external_workflow_execution_command(
        &mut self,
        key: &ExecKey,
        a: cmd::RequestCancelExternalWorkflowExecutionCommandAttributes,
        cx: &mut CmdCtx<'_>,
    ) -> RpcResult<()> {
        let completed_id = cx.completed_id;
        let ex = self.exec_mut(key)?;
        let ns = if a.namespace.is_empty() {
            key.namespace.clone()
        } else {
            a.namespace.clone()
        };
        let exec = WorkflowExecution {
            workflow_id: a.workflow_id.clone(),
            run_id: a.run_id.clone(),
        };
        let init = ex.add(
            A::RequestCancelExternalWorkflowExecutionInitiatedEventAttributes(
                h::RequestCancelExternalWorkflowExecutionInitiatedEventAttributes {
                    workflow_task_completed_event_id: completed_id,
                    namespace: ns.clone(),
                    workflow_execution: Some(exec.clone()),
                    control: a.control.clone(),
                    child_workflow_only: a.child_workflow_only,
                    reason: a.reason.clone(),
                    ..Default::default()
                },
            ),
        );
        cx.deferred.push(Deferred::Cancel(Box::new((
            init, ns, exec, a.control, a.reason,
        ))));
        Ok(())
    }

    /// Delivers a RequestCancelExternalWorkflowExecution command (with its reason) and records the outcome in the requester.
    pub(crate) fn cancel_external(
        &mut self,
        key: &ExecKey,
        init: i64,
        ns: String,
        exec: WorkflowExecution,
        control: String,
        reason: &str,
    ) {
        let k = if exec.run_id.is_empty() {
            self.current_key(&ns, &exec.workflow_id)
        } else {
            Some(ExecKey {
                namespace: ns.clone(),
                workflow_id: exec.workflow_id.clone(),
                run_id: exec.run_id.clone(),
            })
        };
        let target = k.filter(|k| self.execs.get(k).is_some_and(|x| x.st.is_open()));
        match target {
            Some(tk) => {
                // As Temporal's transfer queue: the command's reason, sent by the history service.
                self.request_cancel(&tk, "history-service", reason, init, Some(exec_of(key)));
                if let Some(ex) = self.execs.get_mut(key) {
                    ex.add(A::ExternalWorkflowExecutionCancelRequestedEventAttributes(
                        h::ExternalWorkflowExecutionCancelRequestedEventAttributes {
                            initiated_event_id: init,
                            namespace: ns,
                            workflow_execution: Some(exec),
                            ..Default::default()
                        },
                    ));
                }
            }
            None => {
                if let Some(ex) = self.execs.get_mut(key) {
                    ex.add(
                        A::RequestCancelExternalWorkflowExecutionFailedEventAttributes(
                            h::RequestCancelExternalWorkflowExecutionFailedEventAttributes {
                                cause: 1, // EXTERNAL_WORKFLOW_EXECUTION_NOT_FOUND
                                workflow_task_completed_event_id: 0,
                                namespace: ns,
                                workflow_execution: Some(exec),
                                initiated_event_id: init,
                                control,
                                ..Default::default()
                            },
                        ),
                    );
                }
            }
        }
        self.ensure_wft(key);
    }
}
