//! The command loop's dispatch: each workflow command goes to the file of its concern; the
//! effects that touch other runs (children, external signals and cancels) are deferred until
//! every command of the task has been recorded.
use crate::prelude::*;

pub(crate) enum Deferred {
    StartChild(Box<(i64, String, String, temporalio_protos::temporal::api::command::v1::StartChildWorkflowExecutionCommandAttributes)>),
    Signal(Box<(i64, String, temporalio_protos::temporal::api::command::v1::SignalExternalWorkflowExecutionCommandAttributes)>),
    /// (initiated event id, namespace, target, control, reason).
    Cancel(Box<(i64, String, WorkflowExecution, String, String)>),
}

#[derive(Default)]
pub(crate) struct CmdEffect {
    pub(crate) need_wft: bool,
    pub(crate) closed: bool,
}

/// What every command handler needs from the completing workflow task.
pub(crate) struct CmdCtx<'a> {
    /// WorkflowTaskCompleted event id.
    pub(crate) completed_id: i64,
    /// The completing worker.
    pub(crate) identity: &'a str,
    /// Now (ms).
    pub(crate) now: i64,
    /// Accumulated effect.
    pub(crate) eff: CmdEffect,
    /// Cross-run effects to run after all commands.
    pub(crate) deferred: Vec<Deferred>,
}

impl Inner<'_> {
    /// Records one command; returns whether it needs a new workflow task and closed the run.
    pub(crate) fn handle_command(
        &mut self,
        key: &ExecKey,
        attrs: C,
        cx: &mut CmdCtx<'_>,
    ) -> RpcResult<()> {
        match attrs {
            C::ScheduleActivityTaskCommandAttributes(a) => {
                self.schedule_activity_task_command(key, a, cx)?
            }
            C::RequestCancelActivityTaskCommandAttributes(a) => {
                self.request_cancel_activity_task_command(key, a, cx)?
            }
            C::StartTimerCommandAttributes(a) => self.start_timer_command(key, a, cx)?,
            C::CancelTimerCommandAttributes(a) => self.cancel_timer_command(key, a, cx)?,
            C::CompleteWorkflowExecutionCommandAttributes(a) => {
                self.complete_workflow_execution_command(key, a, cx)?
            }
            C::FailWorkflowExecutionCommandAttributes(a) => {
                self.fail_workflow_execution_command(key, a, cx)?
            }
            C::CancelWorkflowExecutionCommandAttributes(a) => {
                self.cancel_workflow_execution_command(key, a, cx)?
            }
            C::ContinueAsNewWorkflowExecutionCommandAttributes(a) => {
                self.continue_as_new_workflow_execution_command(key, a, cx)?
            }
            C::StartChildWorkflowExecutionCommandAttributes(a) => {
                self.start_child_workflow_execution_command(key, a, cx)?
            }
            C::SignalExternalWorkflowExecutionCommandAttributes(a) => {
                self.signal_external_workflow_execution_command(key, a, cx)?
            }
            C::RequestCancelExternalWorkflowExecutionCommandAttributes(a) => {
                self.request_cancel_external_workflow_execution_command(key, a, cx)?
            }
            C::RecordMarkerCommandAttributes(a) => self.record_marker_command(key, a, cx)?,
            C::UpsertWorkflowSearchAttributesCommandAttributes(a) => {
                self.upsert_workflow_search_attributes_command(key, a, cx)?
            }
            C::ModifyWorkflowPropertiesCommandAttributes(a) => {
                self.modify_workflow_properties_command(key, a, cx)?
            }
            C::ProtocolMessageCommandAttributes(_) => {}
            C::ScheduleNexusOperationCommandAttributes(_)
            | C::RequestCancelNexusOperationCommandAttributes(_) => {
                return Err(status::invalid(
                    "Nexus operations are not supported by the dev server",
                ));
            }
        }
        self.dirty.insert(key.clone());
        Ok(())
    }

    /// Runs a deferred cross-run effect once the run's own commands are recorded.
    pub(crate) fn run_deferred(&mut self, key: &ExecKey, d: Deferred) {
        if !self.execs.get(key).is_some_and(|e| e.st.is_open()) {
            return;
        }
        match d {
            Deferred::StartChild(b) => self.start_child(key, b),
            Deferred::Signal(b) => self.signal_external(key, b),
            Deferred::Cancel(b) => {
                let (init, ns, exec, control, reason) = *b;
                self.cancel_external(key, init, ns, exec, control, &reason)
            }
        }
    }
}
