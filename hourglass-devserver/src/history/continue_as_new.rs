//! The ContinueAsNewWorkflowExecution command: closes the run and starts the next one of the chain.
use crate::prelude::*;

impl Inner<'_> {
    /// The ContinueAsNewWorkflowExecution command.
    pub(crate) fn continue_as_new_workflow_execution_command(
        &mut self,
        key: &ExecKey,
        a: cmd::ContinueAsNewWorkflowExecutionCommandAttributes,
        cx: &mut CmdCtx<'_>,
    ) -> RpcResult<()> {
        let completed_id = cx.completed_id;
        let identity = cx.identity;
        let ex = self.exec_mut(key)?;
        let new_run = new_id();
        let wf_type = a
            .workflow_type
            .as_ref()
            .map(|t| t.name.clone())
            .filter(|n| !n.is_empty())
            .unwrap_or(ex.st.workflow_type.clone());
        let tq = a
            .task_queue
            .as_ref()
            .map(|t| t.name.clone())
            .filter(|n| !n.is_empty())
            .unwrap_or(ex.st.task_queue.clone());
        let started = started_attrs(ex);
        let run_timeout = if a.workflow_run_timeout.is_some() {
            dur_ms(&a.workflow_run_timeout)
        } else {
            started
                .as_ref()
                .map(|s| dur_ms(&s.workflow_run_timeout))
                .unwrap_or(0)
        };
        let wft_timeout = if a.workflow_task_timeout.is_some() {
            dur_ms(&a.workflow_task_timeout)
        } else {
            ex.st.wft_timeout_ms
        };
        ex.add(A::WorkflowExecutionContinuedAsNewEventAttributes(
            h::WorkflowExecutionContinuedAsNewEventAttributes {
                new_execution_run_id: new_run.clone(),
                workflow_type: Some(WorkflowType {
                    name: wf_type.clone(),
                }),
                task_queue: Some(task_queue(&tq)),
                input: a.input.clone(),
                workflow_run_timeout: dur(run_timeout),
                workflow_task_timeout: dur(wft_timeout),
                workflow_task_completed_event_id: completed_id,
                backoff_start_interval: a.backoff_start_interval,
                initiator: ContinueAsNewInitiator::Workflow as i32,
                header: a.header.clone(),
                memo: a.memo.clone(),
                search_attributes: a.search_attributes.clone(),
                ..Default::default()
            },
        ));
        ex.st.continued_as_new_run_id = new_run.clone();
        let r = NewRun {
            namespace: key.namespace.clone(),
            workflow_id: key.workflow_id.clone(),
            run_id: new_run,
            first_run_id: ex.st.first_run_id.clone(),
            workflow_type: wf_type,
            task_queue: tq,
            input: a.input,
            execution_timeout_ms: started
                .as_ref()
                .map(|s| dur_ms(&s.workflow_execution_timeout))
                .unwrap_or(0),
            run_timeout_ms: run_timeout,
            wft_timeout_ms: wft_timeout,
            identity: identity.to_string(),
            request_id: new_id(),
            retry_policy: a.retry_policy,
            memo: a.memo.or(ex.st.memo.clone()),
            search_attributes: a.search_attributes.or(ex.st.search_attributes.clone()),
            header: a.header,
            parent: ex.st.parent.clone(),
            continued_execution_run_id: key.run_id.clone(),
            initiator: ContinueAsNewInitiator::Workflow as i32,
            last_completion_result: a.last_completion_result,
            continued_failure: a.failure,
            execution_deadline_ms: ex.st.execution_deadline_ms,
            start_delay_ms: dur_ms(&a.backoff_start_interval),
            signal: None,
            attempt: 1,
            priority: started.as_ref().and_then(|s| s.priority.clone()),
            user_metadata: None,
            prev_auto_reset_points: ex.st.auto_reset_points.clone(),
        };
        let parent = ex.st.parent.clone();
        cx.eff.closed = true;
        self.close_run(key, Close::ContinuedAsNew);
        let nk = self.create_run(r);
        if let Some(p) = parent {
            self.follow_chain_in_parent(&p, &nk);
        }
        Ok(())
    }
}
