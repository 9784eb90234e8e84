//! Signals: SignalWorkflowExecution and the SignalExternalWorkflowExecution command.
use crate::history::query::workflow_of;
use crate::prelude::*;

impl Engine {
    /// SignalWorkflowExecution.
    pub async fn signal_workflow(&self, req: ws::SignalWorkflowExecutionRequest) -> RpcResult<()> {
        let wf = workflow_of(&req.workflow_execution);
        self.with_workflow_local(&req.namespace, wf, |g| {
            let key = g.resolve_open(&req.namespace, &req.workflow_execution)?;
            if req.signal_name.is_empty() {
                return Err(status::invalid("signal name is required"));
            }
            g.signal(&key, &req.signal_name, req.input, req.header, &req.identity);
            Ok(())
        })
        .await
    }
}

impl Inner<'_> {
    pub(crate) fn signal(
        &mut self,
        key: &ExecKey,
        name: &str,
        input: Option<Payloads>,
        header: Option<Header>,
        identity: &str,
    ) {
        let Some(ex) = self.execs.get_mut(key) else {
            return;
        };
        ex.add_or_buffer(A::WorkflowExecutionSignaledEventAttributes(
            h::WorkflowExecutionSignaledEventAttributes {
                signal_name: name.to_string(),
                input,
                identity: identity.to_string(),
                header,
                ..Default::default()
            },
        ));
        self.ensure_wft(key);
    }

    /// The SignalExternalWorkflowExecution command.
    pub(crate) fn signal_external_workflow_execution_command(
        &mut self,
        key: &ExecKey,
        a: cmd::SignalExternalWorkflowExecutionCommandAttributes,
        cx: &mut CmdCtx<'_>,
    ) -> RpcResult<()> {
        let completed_id = cx.completed_id;
        let ex = self.exec_mut(key)?;
        let ns = if a.namespace.is_empty() {
            key.namespace.clone()
        } else {
            a.namespace.clone()
        };
        let init = ex.add(A::SignalExternalWorkflowExecutionInitiatedEventAttributes(
            h::SignalExternalWorkflowExecutionInitiatedEventAttributes {
                workflow_task_completed_event_id: completed_id,
                namespace: ns.clone(),
                workflow_execution: a.execution.clone(),
                signal_name: a.signal_name.clone(),
                input: a.input.clone(),
                control: a.control.clone(),
                child_workflow_only: a.child_workflow_only,
                header: a.header.clone(),
                ..Default::default()
            },
        ));
        cx.deferred.push(Deferred::Signal(Box::new((init, ns, a))));
        Ok(())
    }

    /// Delivers a SignalExternalWorkflowExecution command's signal and records the outcome in the sender.
    pub(crate) fn signal_external(
        &mut self,
        key: &ExecKey,
        b: Box<(
            i64,
            String,
            cmd::SignalExternalWorkflowExecutionCommandAttributes,
        )>,
    ) {
        let (init, ns, a) = *b;
        let target = a.execution.as_ref().and_then(|e| {
            let k = if e.run_id.is_empty() {
                self.current_key(&ns, &e.workflow_id)?
            } else {
                ExecKey {
                    namespace: ns.clone(),
                    workflow_id: e.workflow_id.clone(),
                    run_id: e.run_id.clone(),
                }
            };
            self.execs.get(&k).filter(|x| x.st.is_open()).map(|_| k)
        });
        match target {
            Some(tk) => {
                self.signal(&tk, &a.signal_name, a.input, a.header, "");
                if let Some(ex) = self.execs.get_mut(key) {
                    ex.add(A::ExternalWorkflowExecutionSignaledEventAttributes(
                        h::ExternalWorkflowExecutionSignaledEventAttributes {
                            initiated_event_id: init,
                            namespace: ns,
                            workflow_execution: a.execution,
                            control: a.control,
                            ..Default::default()
                        },
                    ));
                }
            }
            None => {
                if let Some(ex) = self.execs.get_mut(key) {
                    ex.add(A::SignalExternalWorkflowExecutionFailedEventAttributes(
                                h::SignalExternalWorkflowExecutionFailedEventAttributes {
                                    cause: SignalExternalWorkflowExecutionFailedCause::ExternalWorkflowExecutionNotFound
                                        as i32,
                                    initiated_event_id: init,
                                    namespace: ns,
                                    workflow_execution: a.execution,
                                    control: a.control,
                                    ..Default::default()
                                },
                            ));
                }
            }
        }
        self.ensure_wft(key);
    }
}
