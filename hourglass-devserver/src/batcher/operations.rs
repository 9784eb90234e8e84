//! One batch operation on one workflow execution, as Temporal's batcher activity applies it
//! (`processSingleTask` in `service/worker/batcher/activities.go`): each goes through the
//! same frontend checks and engine path as the RPC it stands for. A NotFound answer (the
//! workflow closed or is gone) counts as done.
use crate::frontend::validation;
use crate::prelude::*;
use temporalio_protos::temporal::api::batch::v1 as batch;
use temporalio_protos::temporal::api::common::v1::{ResetOptions, reset_options::Target};
use temporalio_protos::temporal::api::enums::v1::ResetType;
use ws::start_batch_operation_request::Operation as Op;

/// Why an operation on one execution failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum OperationError {
    /// The RPC's answer.
    #[error("{}", .0.message())]
    Rpc(Status),
    /// The history has no workflow task to reset to (non-retryable in Temporal).
    #[error("unable to find any scheduled or completed task")]
    NoWorkflowTaskFound,
    /// No usable auto-reset point for a build id.
    #[error("{0}")]
    ResetPoint(String),
}

impl OperationError {
    /// Whether Temporal's batcher tries the execution again (up to its attempts limit).
    pub(crate) fn retryable(&self) -> bool {
        !matches!(self, OperationError::NoWorkflowTaskFound)
    }
}

impl From<Status> for OperationError {
    fn from(s: Status) -> Self {
        OperationError::Rpc(s)
    }
}

/// Temporal's `deterministicRequestID`: a request id derived from the job and the target,
/// so a retried call is recognised as the same request (a UUID of a 128-bit hash of the
/// key, where Temporal takes a SHA-1 name-based UUID).
pub(crate) fn request_id(job_id: &str, parts: &[&str]) -> String {
    let mut key = job_id.to_string();
    for p in parts {
        key.push(':');
        key.push_str(p);
    }
    let high = u128::from(farmhash::hash64_with_seed(key.as_bytes(), 0));
    let low = u128::from(farmhash::hash64_with_seed(key.as_bytes(), 1));
    uuid::Uuid::from_u128(high << 64 | low).to_string()
}

/// Applies the job's operation to `exec`; NotFound counts as success.
pub(crate) async fn apply(
    engine: &Engine,
    req: &ws::StartBatchOperationRequest,
    exec: WorkflowExecution,
) -> Result<(), OperationError> {
    match apply_rpc(engine, req, exec).await {
        Err(OperationError::Rpc(s)) if s.code() == tonic::Code::NotFound => Ok(()),
        other => other,
    }
}

async fn apply_rpc(
    engine: &Engine,
    req: &ws::StartBatchOperationRequest,
    exec: WorkflowExecution,
) -> Result<(), OperationError> {
    let ns = req.namespace.clone();
    let Some(op) = &req.operation else {
        return Err(Status::invalid_argument("Batch operation is not set on request.").into());
    };
    match op {
        Op::TerminationOperation(o) => {
            let r = ws::TerminateWorkflowExecutionRequest {
                namespace: ns,
                workflow_execution: Some(exec),
                reason: req.reason.clone(),
                details: o.details.clone(),
                identity: o.identity.clone(),
                ..Default::default()
            };
            validation::execution(r.workflow_execution.as_ref())?;
            Ok(engine.terminate(r).await?)
        }
        Op::CancellationOperation(o) => {
            let r = ws::RequestCancelWorkflowExecutionRequest {
                namespace: ns,
                request_id: request_id(&req.job_id, &["cancel", &exec.workflow_id, &exec.run_id]),
                workflow_execution: Some(exec),
                identity: o.identity.clone(),
                ..Default::default()
            };
            validation::execution(r.workflow_execution.as_ref())?;
            Ok(engine.request_cancel(r).await?)
        }
        Op::SignalOperation(o) => {
            let r = ws::SignalWorkflowExecutionRequest {
                namespace: ns,
                request_id: request_id(
                    &req.job_id,
                    &["signal", &exec.workflow_id, &exec.run_id, &o.signal],
                ),
                workflow_execution: Some(exec),
                signal_name: o.signal.clone(),
                input: o.input.clone(),
                header: o.header.clone(),
                identity: o.identity.clone(),
                ..Default::default()
            };
            validation::signal(&r)?;
            Ok(engine.signal_workflow(r).await?)
        }
        Op::DeletionOperation(_) => {
            let r = ws::DeleteWorkflowExecutionRequest {
                namespace: ns,
                workflow_execution: Some(exec),
            };
            validation::execution(r.workflow_execution.as_ref())?;
            Ok(engine.delete_workflow(r).await?)
        }
        Op::ResetOperation(o) => reset(engine, req, o, exec).await,
        Op::UnpauseActivitiesOperation(o) => unpause_activities(engine, &ns, o, exec).await,
        Op::ResetActivitiesOperation(o) => reset_activities(engine, &ns, o, exec).await,
        other => Err(Status::invalid_argument(format!(
            "unknown batch type: {}",
            crate::batcher::validate::go_type_name(other)
        ))
        .into()),
    }
}

/// A reset of `exec` to the point the operation names (the new `options`, or the
/// deprecated reset type), with the job's reason.
async fn reset(
    engine: &Engine,
    req: &ws::StartBatchOperationRequest,
    o: &batch::BatchOperationReset,
    mut exec: WorkflowExecution,
) -> Result<(), OperationError> {
    let (event_id, reapply, excludes) = match &o.options {
        Some(opts) => (
            reset_event_by_options(engine, &req.namespace, opts, &mut exec).await?,
            opts.reset_reapply_type,
            opts.reset_reapply_exclude_types.clone(),
        ),
        None => {
            let target = match ResetType::try_from(o.reset_type) {
                Ok(ResetType::FirstWorkflowTask) => WorkflowTaskPoint::First,
                Ok(ResetType::LastWorkflowTask) => WorkflowTaskPoint::Last,
                _ => {
                    return Err(Status::invalid_argument(format!(
                        "provided reset type ({}) is not supported.",
                        o.reset_type
                    ))
                    .into());
                }
            };
            let id = workflow_task_event(engine, &req.namespace, &exec, target).await?;
            (id, o.reset_reapply_type, vec![])
        }
    };
    let r = ws::ResetWorkflowExecutionRequest {
        namespace: req.namespace.clone(),
        request_id: request_id(&req.job_id, &["reset", &exec.workflow_id, &exec.run_id]),
        workflow_execution: Some(exec),
        reason: req.reason.clone(),
        workflow_task_finish_event_id: event_id,
        reset_reapply_type: reapply,
        reset_reapply_exclude_types: excludes,
        post_reset_operations: o.post_reset_operations.clone(),
        identity: o.identity.clone(),
    };
    validation::reset(&r)?;
    engine.reset_workflow(r).await?;
    Ok(())
}

/// Which workflow task a reset goes back to.
#[derive(Debug, Clone, Copy)]
enum WorkflowTaskPoint {
    First,
    Last,
}

/// `getResetEventIDByOptions`; a build-id target may move `exec` to an earlier run.
async fn reset_event_by_options(
    engine: &Engine,
    ns: &str,
    opts: &ResetOptions,
    exec: &mut WorkflowExecution,
) -> Result<i64, OperationError> {
    match &opts.target {
        Some(Target::FirstWorkflowTask(_)) => {
            workflow_task_event(engine, ns, exec, WorkflowTaskPoint::First).await
        }
        Some(Target::LastWorkflowTask(_)) => {
            workflow_task_event(engine, ns, exec, WorkflowTaskPoint::Last).await
        }
        Some(Target::WorkflowTaskId(id)) => Ok(*id),
        Some(Target::BuildId(build_id)) => {
            build_id_reset_point(engine, ns, exec, build_id, opts.current_run_only).await
        }
        None => Err(Status::invalid_argument("provided reset target is not supported.").into()),
    }
}

/// `getFirstWorkflowTaskEventID` / `getLastWorkflowTaskEventID`: the first or last
/// WorkflowTaskCompleted, or the first WorkflowTaskScheduled + 1 when none completed.
async fn workflow_task_event(
    engine: &Engine,
    ns: &str,
    exec: &WorkflowExecution,
    point: WorkflowTaskPoint,
) -> Result<i64, OperationError> {
    let mut token = vec![];
    let mut first_scheduled = None;
    let mut completed = None;
    loop {
        let page = engine
            .history(
                ws::GetWorkflowExecutionHistoryRequest {
                    namespace: ns.to_string(),
                    execution: Some(exec.clone()),
                    maximum_page_size: 1000,
                    next_page_token: token,
                    ..Default::default()
                },
                None,
            )
            .await?;
        for e in page.history.map(|h| h.events).unwrap_or_default() {
            if e.event_type == EventType::WorkflowTaskCompleted as i32 {
                completed = match (point, completed) {
                    (WorkflowTaskPoint::First, Some(id)) => Some(id),
                    _ => Some(e.event_id),
                };
            } else if e.event_type == EventType::WorkflowTaskScheduled as i32 {
                first_scheduled = first_scheduled.or(Some(e.event_id + 1));
            }
        }
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    completed
        .or(first_scheduled)
        .ok_or(OperationError::NoWorkflowTaskFound)
}

/// `getResetPoint`: the first workflow task completed by `build_id`, from the run's
/// auto-reset points.
async fn build_id_reset_point(
    engine: &Engine,
    ns: &str,
    exec: &mut WorkflowExecution,
    build_id: &str,
    current_run_only: bool,
) -> Result<i64, OperationError> {
    let d = engine
        .describe(ws::DescribeWorkflowExecutionRequest {
            namespace: ns.to_string(),
            execution: Some(exec.clone()),
        })
        .await?;
    let points = d
        .workflow_execution_info
        .and_then(|i| i.auto_reset_points)
        .map(|p| p.points)
        .unwrap_or_default();
    let now = engine.now_ms();
    let point = points
        .into_iter()
        .find(|p| p.build_id == build_id)
        .ok_or_else(|| {
            OperationError::ResetPoint(format!("Can't find reset point for {build_id}"))
        })?;
    if !point.resettable {
        return Err(OperationError::ResetPoint(format!(
            "Reset point for {build_id} is not resettable"
        )));
    }
    if point.expire_time.as_ref().is_some_and(|t| ts_ms(t) < now) {
        return Err(OperationError::ResetPoint(format!(
            "Reset point for {build_id} is expired"
        )));
    }
    if exec.run_id != point.run_id && current_run_only {
        return Err(OperationError::ResetPoint(format!(
            "Reset point for {build_id} points to previous run and CurrentRunOnly is set"
        )));
    }
    exec.run_id = point.run_id;
    Ok(point.first_workflow_task_completed_id)
}

async fn unpause_activities(
    engine: &Engine,
    ns: &str,
    o: &batch::BatchOperationUnpauseActivities,
    exec: WorkflowExecution,
) -> Result<(), OperationError> {
    use batch::batch_operation_unpause_activities::Activity as From;
    use ws::unpause_activity_request::Activity as To;
    let activity = match &o.activity {
        Some(From::Type(t)) => To::Type(t.clone()),
        Some(From::MatchAll(_)) => To::UnpauseAll(true),
        None => return Err(Status::invalid_argument("unknown activity type").into()),
    };
    engine
        .unpause_activity(ws::UnpauseActivityRequest {
            namespace: ns.to_string(),
            execution: Some(exec),
            identity: o.identity.clone(),
            activity: Some(activity),
            reset_attempts: o.reset_attempts,
            reset_heartbeat: o.reset_heartbeat,
            jitter: o.jitter,
        })
        .await?;
    Ok(())
}

async fn reset_activities(
    engine: &Engine,
    ns: &str,
    o: &batch::BatchOperationResetActivities,
    exec: WorkflowExecution,
) -> Result<(), OperationError> {
    use batch::batch_operation_reset_activities::Activity as From;
    use ws::reset_activity_request::Activity as To;
    let activity = match &o.activity {
        Some(From::Type(t)) => To::Type(t.clone()),
        Some(From::MatchAll(_)) => To::MatchAll(true),
        None => return Err(Status::invalid_argument("unknown activity type").into()),
    };
    engine
        .reset_activity(ws::ResetActivityRequest {
            namespace: ns.to_string(),
            execution: Some(exec),
            identity: o.identity.clone(),
            activity: Some(activity),
            reset_heartbeat: o.reset_heartbeat,
            keep_paused: o.keep_paused,
            jitter: o.jitter,
            restore_original_options: o.restore_original_options,
        })
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_are_stable_per_job_and_target() {
        let a = request_id("job", &["signal", "w", "r", "s"]);
        assert_eq!(a, request_id("job", &["signal", "w", "r", "s"]));
        assert_ne!(a, request_id("job2", &["signal", "w", "r", "s"]));
        assert!(uuid::Uuid::parse_str(&a).is_ok());
    }
}
