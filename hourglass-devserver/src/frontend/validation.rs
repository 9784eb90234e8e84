//! Request validation the frontend does before a request reaches history, check for check
//! and message for message as temporalio/temporal's frontend (`prepareStartWorkflowRequest`,
//! `SignalWorkflowExecution`, `prepareUpdateWorkflowRequest`, `validateExecution` in
//! service/frontend, and `RequestValidator` in chasm/lib/workflow/validator.go). A refused
//! request is answered with `InvalidArgument` and changes nothing.
//!
//! Defaults Temporal fills here are filled here too: an empty request id becomes a UUID,
//! durations over 100 years are capped, a retry policy gets its defaults.
use crate::frontend::blob_size::{BlobSite, check_blob, check_memo};
use crate::history::activity_timeouts::{
    MAX_ID_LENGTH, normalize_retry_policy, normalize_task_queue, validate_and_cap,
};
use prost_wkt_types::Duration;
use temporalio_protos::temporal::api::{
    common::v1::{RetryPolicy, WorkflowExecution},
    enums::v1::{WorkflowIdConflictPolicy, WorkflowIdReusePolicy},
    taskqueue::v1::TaskQueue,
    workflowservice::v1 as ws,
};
use tonic::Status;

fn invalid(msg: impl Into<String>) -> Status {
    Status::invalid_argument(msg)
}

/// `RequestValidator.ValidateWorkflowID`.
fn workflow_id(id: &str) -> Result<(), Status> {
    if id.is_empty() {
        return Err(invalid("WorkflowId is not set on request."));
    }
    if id.len() > MAX_ID_LENGTH {
        return Err(invalid(format!(
            "WorkflowId exceeds maximum allowed length ({}/{MAX_ID_LENGTH})",
            id.len()
        )));
    }
    Ok(())
}

/// `validateExecution`: the execution is set, names a workflow id, and its run id (when
/// given) is a UUID.
pub fn execution(w: Option<&WorkflowExecution>) -> Result<(), Status> {
    let w = w.ok_or_else(|| invalid("Execution is not set on request."))?;
    if w.workflow_id.is_empty() {
        return Err(invalid("WorkflowId is not set on request."));
    }
    if !w.run_id.is_empty() && uuid::Uuid::parse_str(&w.run_id).is_err() {
        return Err(invalid("Invalid RunId."));
    }
    Ok(())
}

/// The three workflow timeouts (`ValidateWorkflowTimeouts`), capped at 100 years.
fn workflow_timeouts(
    execution: &mut Option<Duration>,
    run: &mut Option<Duration>,
    task: &mut Option<Duration>,
) -> Result<(), Status> {
    for (d, name) in [
        (execution, "WorkflowExecutionTimeoutSeconds"),
        (run, "WorkflowRunTimeoutSeconds"),
        (task, "WorkflowTaskTimeoutSeconds"),
    ] {
        *d = validate_and_cap(d).map_err(|problem| {
            invalid(format!(
                "An invalid {name} is set on request. cause: {problem}"
            ))
        })?;
    }
    Ok(())
}

/// `ValidateWorkflowStartDelay`.
fn start_delay(cron: &str, delay: &mut Option<Duration>) -> Result<(), Status> {
    if !cron.is_empty() && delay.is_some() {
        return Err(invalid(
            "CronSchedule and WorkflowStartDelay may not be used together.",
        ));
    }
    *delay = validate_and_cap(delay).map_err(|problem| {
        invalid(format!(
            "An invalid WorkflowStartDelaySeconds is set on request. cause: {problem}"
        ))
    })?;
    Ok(())
}

/// `ValidateRetryPolicy`: no policy means no retries; a given one gets Temporal's defaults
/// and is validated.
fn retry_policy(rp: &mut Option<RetryPolicy>) -> Result<(), Status> {
    if let Some(p) = rp.take() {
        *rp = Some(normalize_retry_policy(p).map_err(|e| invalid(e.to_string()))?);
    }
    Ok(())
}

/// `tqid.NormalizeAndValidateUserDefined` for a workflow's task queue.
pub(crate) fn task_queue(tq: &mut Option<TaskQueue>) -> Result<(), Status> {
    *tq = Some(normalize_task_queue(tq.as_ref(), "").map_err(|e| invalid(e.to_string()))?);
    Ok(())
}

/// `validateRequestId`: an empty id becomes a fresh UUID; a long one is refused.
fn request_id(id: &mut String) -> Result<(), Status> {
    if id.is_empty() {
        *id = uuid::Uuid::new_v4().to_string();
    }
    if id.len() > MAX_ID_LENGTH {
        return Err(invalid("RequestId length exceeds limit."));
    }
    Ok(())
}

/// `ValidateWorkflowIDReusePolicy`.
fn id_policies(reuse: i32, conflict: i32) -> Result<(), Status> {
    let reuse =
        WorkflowIdReusePolicy::try_from(reuse).unwrap_or(WorkflowIdReusePolicy::Unspecified);
    let conflict = WorkflowIdConflictPolicy::try_from(conflict)
        .unwrap_or(WorkflowIdConflictPolicy::Unspecified);
    if conflict != WorkflowIdConflictPolicy::Unspecified
        && reuse == WorkflowIdReusePolicy::TerminateIfRunning
    {
        return Err(invalid(
            "Invalid WorkflowIDReusePolicy: WORKFLOW_ID_REUSE_POLICY_TERMINATE_IF_RUNNING cannot be used together with a WorkflowIDConflictPolicy",
        ));
    }
    if conflict == WorkflowIdConflictPolicy::TerminateExisting
        && reuse == WorkflowIdReusePolicy::RejectDuplicate
    {
        return Err(invalid(
            "Invalid WorkflowIDReusePolicy: WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE cannot be used together with WorkflowIdConflictPolicy WORKFLOW_ID_CONFLICT_POLICY_TERMINATE_EXISTING",
        ));
    }
    Ok(())
}

/// `prepareStartWorkflowRequest` and history's start-time blob checks: validates a
/// StartWorkflowExecution request and fills Temporal's defaults.
pub fn start_workflow(r: &mut ws::StartWorkflowExecutionRequest) -> Result<(), Status> {
    if r.workflow_id_conflict_policy == WorkflowIdConflictPolicy::Unspecified as i32 {
        r.workflow_id_conflict_policy = WorkflowIdConflictPolicy::Fail as i32;
    }
    workflow_id(&r.workflow_id)?;
    retry_policy(&mut r.retry_policy)?;
    start_delay(&r.cron_schedule, &mut r.workflow_start_delay)?;
    let ty = r.workflow_type.as_ref().map_or("", |t| t.name.as_str());
    if ty.is_empty() {
        return Err(invalid("WorkflowType is not set on request."));
    }
    if ty.len() > MAX_ID_LENGTH {
        return Err(invalid("WorkflowType length exceeds limit."));
    }
    task_queue(&mut r.task_queue)?;
    workflow_timeouts(
        &mut r.workflow_execution_timeout,
        &mut r.workflow_run_timeout,
        &mut r.workflow_task_timeout,
    )?;
    request_id(&mut r.request_id)?;
    id_policies(r.workflow_id_reuse_policy, r.workflow_id_conflict_policy)?;
    let site = BlobSite {
        operation: "StartWorkflowExecution",
        namespace: &r.namespace,
        workflow_id: &r.workflow_id,
    };
    check_blob(r.input.as_ref(), &site)?;
    check_memo(r.memo.as_ref(), &site)
}

/// What Temporal appends to a scheduled workflow's id when validating it.
const APPENDED_TIMESTAMP_FOR_VALIDATION: &str = "-2009-11-10T23:00:00Z";

/// `validateStartWorkflowArgsForSchedule`: a schedule's workflow as its starts will need it
/// (the id with a timestamp appended within limits, a type, a task queue, valid timeouts,
/// no cron, no reuse policy but ALLOW_DUPLICATE); fills the retry policy's defaults.
pub fn schedule_action(
    wf: &mut temporalio_protos::temporal::api::workflow::v1::NewWorkflowExecutionInfo,
) -> Result<(), Status> {
    workflow_id(&format!(
        "{}{APPENDED_TIMESTAMP_FOR_VALIDATION}",
        wf.workflow_id
    ))?;
    let ty = wf.workflow_type.as_ref().map_or("", |t| t.name.as_str());
    if ty.is_empty() {
        return Err(invalid("WorkflowType is not set on request."));
    }
    if ty.len() > MAX_ID_LENGTH {
        return Err(invalid("WorkflowType length exceeds limit."));
    }
    task_queue(&mut wf.task_queue)?;
    workflow_timeouts(
        &mut wf.workflow_execution_timeout,
        &mut wf.workflow_run_timeout,
        &mut wf.workflow_task_timeout,
    )?;
    if !wf.cron_schedule.is_empty() {
        return Err(invalid("Scheduled workflow must not contain CronSchedule"));
    }
    let reuse = wf.workflow_id_reuse_policy;
    if reuse != WorkflowIdReusePolicy::Unspecified as i32
        && reuse != WorkflowIdReusePolicy::AllowDuplicate as i32
    {
        return Err(invalid(
            "Scheduled workflow must not contain WorkflowIDReusePolicy",
        ));
    }
    retry_policy(&mut wf.retry_policy)
}

/// `ValidateSignalWithStartRequest` and the blob checks of SignalWithStartWorkflowExecution.
pub fn signal_with_start(
    r: &mut ws::SignalWithStartWorkflowExecutionRequest,
) -> Result<(), Status> {
    workflow_id(&r.workflow_id)?;
    if r.signal_name.is_empty() {
        return Err(invalid("signal not set"));
    }
    if r.signal_name.len() > MAX_ID_LENGTH {
        return Err(invalid(format!(
            "signal name exceeds maximum allowed length ({}/{MAX_ID_LENGTH})",
            r.signal_name.len()
        )));
    }
    let ty = r.workflow_type.as_ref().map_or("", |t| t.name.as_str());
    if ty.is_empty() {
        return Err(invalid("workflow type not set"));
    }
    if ty.len() > MAX_ID_LENGTH {
        return Err(invalid(format!(
            "workflow type name exceeds maximum allowed length ({}/{MAX_ID_LENGTH})",
            ty.len()
        )));
    }
    task_queue(&mut r.task_queue)?;
    if r.request_id.is_empty() {
        r.request_id = uuid::Uuid::new_v4().to_string();
    } else if r.request_id.len() > MAX_ID_LENGTH {
        return Err(invalid(format!(
            "Request ID exceeds maximum allowed length ({}/{MAX_ID_LENGTH})",
            r.request_id.len()
        )));
    }
    workflow_timeouts(
        &mut r.workflow_execution_timeout,
        &mut r.workflow_run_timeout,
        &mut r.workflow_task_timeout,
    )?;
    retry_policy(&mut r.retry_policy)?;
    start_delay(&r.cron_schedule, &mut r.workflow_start_delay)?;
    id_policies(r.workflow_id_reuse_policy, r.workflow_id_conflict_policy)?;
    let site = BlobSite {
        operation: "SignalWithStartWorkflowExecution",
        namespace: &r.namespace,
        workflow_id: &r.workflow_id,
    };
    check_blob(r.signal_input.as_ref(), &site)?;
    check_blob(r.input.as_ref(), &site)?;
    check_memo(r.memo.as_ref(), &site)
}

/// ResetWorkflowExecution's checks (`WorkflowHandler.ResetWorkflowExecution`): a request id
/// is required (not filled in), the execution names a workflow, the reapply type is known.
pub fn reset(r: &ws::ResetWorkflowExecutionRequest) -> Result<(), Status> {
    if r.request_id.is_empty() {
        return Err(invalid("RequestId is not set on request."));
    }
    if r.request_id.len() > MAX_ID_LENGTH {
        return Err(invalid("RequestId length exceeds limit."));
    }
    execution(r.workflow_execution.as_ref())?;
    if temporalio_protos::temporal::api::enums::v1::ResetReapplyType::try_from(r.reset_reapply_type)
        .is_err()
    {
        return Err(Status::internal(format!(
            "unknown reset reapply type: {}",
            r.reset_reapply_type
        )));
    }
    Ok(())
}

/// SignalWorkflowExecution's checks.
pub fn signal(r: &ws::SignalWorkflowExecutionRequest) -> Result<(), Status> {
    execution(r.workflow_execution.as_ref())?;
    if r.signal_name.is_empty() {
        return Err(invalid("SignalName is not set on request."));
    }
    if r.signal_name.len() > MAX_ID_LENGTH {
        return Err(invalid("SignalName length exceeds limit."));
    }
    if r.request_id.len() > MAX_ID_LENGTH {
        return Err(invalid("RequestId length exceeds limit."));
    }
    let site = BlobSite {
        operation: "SignalWorkflowExecution",
        namespace: &r.namespace,
        workflow_id: r.workflow_execution.as_ref().map_or("", |w| &w.workflow_id),
    };
    check_blob(r.input.as_ref(), &site)
}

/// `prepareUpdateWorkflowRequest`: fills an empty update id with a UUID.
pub fn update(r: &mut ws::UpdateWorkflowExecutionRequest) -> Result<(), Status> {
    execution(r.workflow_execution.as_ref())?;
    let not_set = || invalid("Update meta is not set on request.");
    let req = r.request.as_mut().ok_or_else(not_set)?;
    let meta = req.meta.as_mut().ok_or_else(not_set)?;
    if meta.update_id.len() > MAX_ID_LENGTH {
        return Err(invalid("UpdateId length exceeds limit."));
    }
    if meta.update_id.is_empty() {
        meta.update_id = uuid::Uuid::new_v4().to_string();
    }
    let input = req
        .input
        .as_ref()
        .ok_or_else(|| invalid("Update input is not set on request."))?;
    if input.name.is_empty() {
        return Err(invalid("Update name is not set on request."));
    }
    let site = BlobSite {
        operation: "UpdateWorkflowExecution",
        namespace: &r.namespace,
        workflow_id: r.workflow_execution.as_ref().map_or("", |w| &w.workflow_id),
    };
    check_blob(input.args.as_ref(), &site)
}

/// DescribeTaskQueue's checks (`tqid.NormalizeAndValidatePartition`): a named task queue; an
/// unspecified task queue type means the workflow queue.
pub fn describe_task_queue(r: &mut ws::DescribeTaskQueueRequest) -> Result<(), Status> {
    use temporalio_protos::temporal::api::enums::v1::TaskQueueType;
    task_queue(&mut r.task_queue)?;
    if r.task_queue_type == TaskQueueType::Unspecified as i32 {
        r.task_queue_type = TaskQueueType::Workflow as i32;
    }
    Ok(())
}

/// QueryWorkflow's checks.
pub fn query(r: &ws::QueryWorkflowRequest) -> Result<(), Status> {
    execution(r.execution.as_ref())?;
    let q = r
        .query
        .as_ref()
        .ok_or_else(|| invalid("WorkflowQuery is not set on request."))?;
    if q.query_type.is_empty() {
        return Err(invalid("QueryType is not set on request."));
    }
    let site = BlobSite {
        operation: "QueryWorkflow",
        namespace: &r.namespace,
        workflow_id: r.execution.as_ref().map_or("", |w| &w.workflow_id),
    };
    check_blob(q.query_args.as_ref(), &site)
}

#[cfg(test)]
#[path = "validation_tests.rs"]
mod tests;
