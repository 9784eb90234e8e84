//! DescribeWorkflowExecution.
use crate::prelude::*;
use temporalio_protos::temporal::api::workflow::v1::WorkflowExecutionExtendedInfo;

impl Engine {
    /// DescribeWorkflowExecution.
    pub async fn describe(
        &self,
        req: ws::DescribeWorkflowExecutionRequest,
    ) -> RpcResult<ws::DescribeWorkflowExecutionResponse> {
        let wf = crate::history::query::workflow_of(&req.execution);
        self.with_workflow(&req.namespace, wf, |g| {
            let key = g.resolve(&req.namespace, &req.execution)?;
            let ex = g
                .execs
                .get(&key)
                .ok_or_else(|| status::not_found("workflow execution not found"))?;
            let st = &ex.st;
            let started = started_attrs(ex);
            let pending_activities = st
                .activities
                .values()
                .map(|a| PendingActivityInfo {
                    activity_id: a.activity_id.clone(),
                    activity_type: Some(ActivityType {
                        name: a.activity_type.clone(),
                    }),
                    state: if a.cancel_requested {
                        PendingActivityState::CancelRequested as i32
                    } else if a.paused.is_some() && a.started_ms.is_some() {
                        PendingActivityState::PauseRequested as i32
                    } else if a.paused.is_some() {
                        PendingActivityState::Paused as i32
                    } else if a.started_ms.is_some() {
                        PendingActivityState::Started as i32
                    } else {
                        PendingActivityState::Scheduled as i32
                    },
                    heartbeat_details: a.heartbeat_details.clone(),
                    last_heartbeat_time: a.last_heartbeat_ms.map(ts),
                    last_started_time: a.started_ms.map(ts),
                    attempt: a.attempt,
                    maximum_attempts: a.retry_policy.maximum_attempts,
                    scheduled_time: Some(ts(a.attempt_scheduled_ms)),
                    last_failure: a.last_failure.clone(),
                    last_worker_identity: a.started_identity.clone(),
                    paused: a.paused.is_some(),
                    pause_info: a.paused.as_ref().map(pause_info),
                    ..Default::default()
                })
                .collect();
            let pending_children = st
                .children
                .iter()
                .map(|(init, c)| PendingChildExecutionInfo {
                    workflow_id: c.workflow_id.clone(),
                    run_id: c.run_id.clone(),
                    workflow_type_name: c.workflow_type.clone(),
                    initiated_id: *init,
                    parent_close_policy: c.parent_close_policy,
                })
                .collect();
            let pending_workflow_task = st.wft.as_ref().map(|w| PendingWorkflowTaskInfo {
                state: if w.started_event_id.is_some() { 2 } else { 1 },
                scheduled_time: Some(ts(w.scheduled_ms)),
                started_time: w.started_event_id.map(|_| ts(w.started_ms)),
                attempt: w.attempt,
                ..Default::default()
            });
            Ok(ws::DescribeWorkflowExecutionResponse {
                execution_config: Some(WorkflowExecutionConfig {
                    task_queue: Some(task_queue(&st.task_queue)),
                    workflow_execution_timeout: started
                        .as_ref()
                        .and_then(|s| s.workflow_execution_timeout),
                    workflow_run_timeout: started.as_ref().and_then(|s| s.workflow_run_timeout),
                    default_workflow_task_timeout: dur(st.wft_timeout_ms),
                    user_metadata: ex.events.first().and_then(|e| e.user_metadata.clone()),
                }),
                // Reset points are described, not listed (visibility records lack them).
                workflow_execution_info: Some(WorkflowExecutionInfo {
                    auto_reset_points: st.auto_reset_points.clone(),
                    priority: started.as_ref().and_then(|s| s.priority.clone()),
                    ..exec_info(st)
                }),
                pending_activities,
                pending_children,
                pending_workflow_task,
                workflow_extended_info: Some(extended_info(ex)),
                ..Default::default()
            })
        })
        .await
    }
}

/// `WorkflowExecutionExtendedInfo` as Temporal's describe fills it: the deadlines, the
/// original start time (the start event's), the reset run and, for a reset run, the reset
/// time (its start).
fn extended_info(ex: &Exec) -> WorkflowExecutionExtendedInfo {
    let st = &ex.st;
    WorkflowExecutionExtendedInfo {
        execution_expiration_time: st.execution_deadline_ms.map(ts),
        run_expiration_time: st.run_deadline_ms.map(ts),
        cancel_requested: st.cancel_requested,
        last_reset_time: (!st.reset_request_id.is_empty()).then(|| ts(st.start_ms)),
        original_start_time: ex.events.first().and_then(|e| e.event_time),
        reset_run_id: st.reset_run_id.clone(),
        ..Default::default()
    }
}

pub(crate) fn started_attrs(ex: &Exec) -> Option<h::WorkflowExecutionStartedEventAttributes> {
    match ex.events.first().and_then(|e| e.attributes.clone()) {
        Some(A::WorkflowExecutionStartedEventAttributes(s)) => Some(s),
        _ => None,
    }
}

/// Temporal's `PendingActivityInfo.PauseInfo` of a manual pause.
fn pause_info(
    p: &ActivityPause,
) -> temporalio_protos::temporal::api::workflow::v1::pending_activity_info::PauseInfo {
    use temporalio_protos::temporal::api::workflow::v1::pending_activity_info::pause_info;
    temporalio_protos::temporal::api::workflow::v1::pending_activity_info::PauseInfo {
        pause_time: Some(ts(p.time_ms)),
        paused_by: Some(pause_info::PausedBy::Manual(pause_info::Manual {
            identity: p.identity.clone(),
            reason: p.reason.clone(),
        })),
    }
}
