//! Child workflows: StartChildWorkflowExecution, the child's start, and telling the parent how the child closed.
use crate::prelude::*;

impl Inner<'_> {
    /// The StartChildWorkflowExecution command.
    pub(crate) fn start_child_workflow_execution_command(
        &mut self,
        key: &ExecKey,
        a: cmd::StartChildWorkflowExecutionCommandAttributes,
        cx: &mut CmdCtx<'_>,
    ) -> RpcResult<()> {
        let completed_id = cx.completed_id;
        let ex = self.exec_mut(key)?;
        let ns = if a.namespace.is_empty() {
            key.namespace.clone()
        } else {
            a.namespace.clone()
        };
        let tq = a
            .task_queue
            .as_ref()
            .map(|t| t.name.clone())
            .filter(|n| !n.is_empty())
            .unwrap_or(ex.st.task_queue.clone());
        let init = ex.add(A::StartChildWorkflowExecutionInitiatedEventAttributes(
            h::StartChildWorkflowExecutionInitiatedEventAttributes {
                namespace: ns.clone(),
                workflow_id: a.workflow_id.clone(),
                workflow_type: a.workflow_type.clone(),
                task_queue: Some(task_queue(&tq)),
                input: a.input.clone(),
                workflow_execution_timeout: a.workflow_execution_timeout,
                workflow_run_timeout: a.workflow_run_timeout,
                workflow_task_timeout: a.workflow_task_timeout,
                parent_close_policy: a.parent_close_policy,
                control: a.control.clone(),
                workflow_task_completed_event_id: completed_id,
                workflow_id_reuse_policy: a.workflow_id_reuse_policy,
                retry_policy: a.retry_policy.clone(),
                cron_schedule: a.cron_schedule.clone(),
                header: a.header.clone(),
                memo: a.memo.clone(),
                search_attributes: a.search_attributes.clone(),
                priority: a.priority.clone(),
                ..Default::default()
            },
        ));
        cx.deferred
            .push(Deferred::StartChild(Box::new((init, ns, tq, a))));
        Ok(())
    }

    /// Starts the child a StartChildWorkflowExecution command initiated, or records why it could not.
    pub(crate) fn start_child(
        &mut self,
        key: &ExecKey,
        b: Box<(
            i64,
            String,
            String,
            cmd::StartChildWorkflowExecutionCommandAttributes,
        )>,
    ) {
        let (init, ns, tq, a) = *b;
        let wf_type = a
            .workflow_type
            .as_ref()
            .map(|t| t.name.clone())
            .unwrap_or_default();
        let exists = self
            .current_key(&ns, &a.workflow_id)
            .and_then(|k| self.execs.get(&k))
            .is_some_and(|e| e.st.is_open());
        let bad = a.workflow_id.is_empty() || wf_type.is_empty() || self.namespace(&ns).is_err();
        if exists || bad {
            if let Some(ex) = self.execs.get_mut(key) {
                ex.add(A::StartChildWorkflowExecutionFailedEventAttributes(
                    h::StartChildWorkflowExecutionFailedEventAttributes {
                        namespace: ns,
                        workflow_id: a.workflow_id,
                        workflow_type: a.workflow_type,
                        cause: if exists {
                            StartChildWorkflowExecutionFailedCause::WorkflowAlreadyExists as i32
                        } else {
                            StartChildWorkflowExecutionFailedCause::NamespaceNotFound as i32
                        },
                        control: a.control,
                        initiated_event_id: init,
                        ..Default::default()
                    },
                ));
            }
            self.ensure_wft(key);
            return;
        }
        let run_id = new_id();
        let exec_timeout = dur_ms(&a.workflow_execution_timeout);
        let root = self
            .execs
            .get(key)
            .map(|e| e.st.root())
            .unwrap_or_else(|| exec_of(key));
        let ck = self.create_run(NewRun {
            namespace: ns.clone(),
            workflow_id: a.workflow_id.clone(),
            run_id: run_id.clone(),
            first_run_id: run_id.clone(),
            workflow_type: wf_type.clone(),
            task_queue: tq,
            input: a.input,
            execution_timeout_ms: exec_timeout,
            run_timeout_ms: dur_ms(&a.workflow_run_timeout),
            wft_timeout_ms: dur_ms(&a.workflow_task_timeout),
            identity: String::new(),
            request_id: new_id(),
            retry_policy: a.retry_policy,
            memo: a.memo,
            search_attributes: a.search_attributes,
            header: a.header.clone(),
            parent: Some(Parent {
                namespace: key.namespace.clone(),
                workflow_id: key.workflow_id.clone(),
                run_id: key.run_id.clone(),
                initiated_event_id: init,
                root_workflow_id: root.workflow_id,
                root_run_id: root.run_id,
            }),
            execution_deadline_ms: (exec_timeout > 0).then(|| self.now_ms() + exec_timeout),
            priority: a.priority,
            ..Default::default()
        });
        if let Some(ex) = self.execs.get_mut(key) {
            let sid = ex.add(A::ChildWorkflowExecutionStartedEventAttributes(
                h::ChildWorkflowExecutionStartedEventAttributes {
                    namespace: ns.clone(),
                    initiated_event_id: init,
                    workflow_execution: Some(exec_of(&ck)),
                    workflow_type: Some(WorkflowType {
                        name: wf_type.clone(),
                    }),
                    header: a.header,
                    ..Default::default()
                },
            ));
            ex.st.children.insert(
                init,
                Child {
                    namespace: ns,
                    workflow_id: ck.workflow_id.clone(),
                    run_id: ck.run_id.clone(),
                    workflow_type: wf_type,
                    started_event_id: sid,
                    parent_close_policy: a.parent_close_policy,
                },
            );
        }
        self.ensure_wft(key);
    }

    pub(crate) fn notify_parent(
        &mut self,
        child: &ExecKey,
        p: &Parent,
        how: Close,
        _last: Option<HistoryEvent>,
    ) {
        let mut pk = ExecKey {
            namespace: p.namespace.clone(),
            workflow_id: p.workflow_id.clone(),
            run_id: p.run_id.clone(),
        };
        // A parent closed by a reset hands the child to its reset run (Temporal retries
        // RecordChildExecutionCompleted on the ResetRunId it answers).
        for _ in 0..16 {
            self.fault_in(&pk);
            match self.execs.get(&pk) {
                Some(pex) if !pex.st.is_open() && !pex.st.reset_run_id.is_empty() => {
                    pk.run_id = pex.st.reset_run_id.clone();
                }
                _ => break,
            }
        }
        let child_type = self
            .execs
            .get(child)
            .map(|e| e.st.workflow_type.clone())
            .unwrap_or_default();
        let Some(pex) = self.execs.get_mut(&pk) else {
            return;
        };
        if !pex.st.is_open() {
            return;
        }
        let Some(c) = pex.st.children.remove(&p.initiated_event_id) else {
            return;
        };
        let we = Some(WorkflowExecution {
            workflow_id: c.workflow_id.clone(),
            run_id: c.run_id.clone(),
        });
        let wt = Some(WorkflowType { name: child_type });
        let init = p.initiated_event_id;
        let started = c.started_event_id;
        let ns = c.namespace.clone();
        let attrs = match how {
            Close::Completed(result) => A::ChildWorkflowExecutionCompletedEventAttributes(
                h::ChildWorkflowExecutionCompletedEventAttributes {
                    result,
                    namespace: ns,
                    workflow_execution: we,
                    workflow_type: wt,
                    initiated_event_id: init,
                    started_event_id: started,
                    ..Default::default()
                },
            ),
            Close::Failed(failure) => A::ChildWorkflowExecutionFailedEventAttributes(
                h::ChildWorkflowExecutionFailedEventAttributes {
                    failure: *failure,
                    namespace: ns,
                    workflow_execution: we,
                    workflow_type: wt,
                    initiated_event_id: init,
                    started_event_id: started,
                    retry_state: RetryState::RetryPolicyNotSet as i32,
                    ..Default::default()
                },
            ),
            Close::Canceled(details) => A::ChildWorkflowExecutionCanceledEventAttributes(
                h::ChildWorkflowExecutionCanceledEventAttributes {
                    details,
                    namespace: ns,
                    workflow_execution: we,
                    workflow_type: wt,
                    initiated_event_id: init,
                    started_event_id: started,
                    ..Default::default()
                },
            ),
            Close::Terminated => A::ChildWorkflowExecutionTerminatedEventAttributes(
                h::ChildWorkflowExecutionTerminatedEventAttributes {
                    namespace: ns,
                    workflow_execution: we,
                    workflow_type: wt,
                    initiated_event_id: init,
                    started_event_id: started,
                    ..Default::default()
                },
            ),
            Close::TimedOut => A::ChildWorkflowExecutionTimedOutEventAttributes(
                h::ChildWorkflowExecutionTimedOutEventAttributes {
                    namespace: ns,
                    workflow_execution: we,
                    workflow_type: wt,
                    initiated_event_id: init,
                    started_event_id: started,
                    retry_state: RetryState::Timeout as i32,
                    ..Default::default()
                },
            ),
            Close::ContinuedAsNew => return,
        };
        pex.add_or_buffer(attrs);
        self.ensure_wft(&pk);
    }
}
