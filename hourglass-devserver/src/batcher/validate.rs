//! The rules a StartBatchOperation request must meet, check for check and message for
//! message as Temporal's `batcher.ValidateBatchOperation` and the frontend's
//! `StartBatchOperation`, and the names Temporal records a job's operation under.
use crate::prelude::*;
use temporalio_protos::temporal::api::batch::v1 as batch;
use temporalio_protos::temporal::api::common::v1::Execution;
use temporalio_protos::temporal::api::enums::v1::{BatchOperationType, ExecutionType, ResetType};
use ws::start_batch_operation_request::Operation as Op;

/// Temporal's `OpenBatchOperationQuery` prefix is what selects jobs; its filter on the
/// executions a job visits (`statusRunningOrPausedQueryFilter`).
const RUNNING_OR_PAUSED: &str = "ExecutionStatus='Running' OR ExecutionStatus='Paused'";

fn invalid(msg: impl Into<String>) -> Status {
    status::invalid(msg)
}

/// The operation's Go type as `%T` prints it, for Temporal's messages.
pub(crate) fn go_type_name(op: &Op) -> &'static str {
    match op {
        Op::TerminationOperation(_) => {
            "*workflowservice.StartBatchOperationRequest_TerminationOperation"
        }
        Op::SignalOperation(_) => "*workflowservice.StartBatchOperationRequest_SignalOperation",
        Op::CancellationOperation(_) => {
            "*workflowservice.StartBatchOperationRequest_CancellationOperation"
        }
        Op::DeletionOperation(_) => "*workflowservice.StartBatchOperationRequest_DeletionOperation",
        Op::ResetOperation(_) => "*workflowservice.StartBatchOperationRequest_ResetOperation",
        Op::UpdateWorkflowOptionsOperation(_) => {
            "*workflowservice.StartBatchOperationRequest_UpdateWorkflowOptionsOperation"
        }
        Op::UnpauseActivitiesOperation(_) => {
            "*workflowservice.StartBatchOperationRequest_UnpauseActivitiesOperation"
        }
        Op::ResetActivitiesOperation(_) => {
            "*workflowservice.StartBatchOperationRequest_ResetActivitiesOperation"
        }
        Op::UpdateActivityOptionsOperation(_) => {
            "*workflowservice.StartBatchOperationRequest_UpdateActivityOptionsOperation"
        }
        Op::CancelActivitiesOperation(_) => {
            "*workflowservice.StartBatchOperationRequest_CancelActivitiesOperation"
        }
        Op::TerminateActivitiesOperation(_) => {
            "*workflowservice.StartBatchOperationRequest_TerminateActivitiesOperation"
        }
        Op::DeleteActivitiesOperation(_) => {
            "*workflowservice.StartBatchOperationRequest_DeleteActivitiesOperation"
        }
    }
}

/// Whether the operation acts on standalone activity executions.
fn is_activity_operation(op: &Op) -> bool {
    matches!(
        op,
        Op::TerminateActivitiesOperation(_)
            | Op::DeleteActivitiesOperation(_)
            | Op::CancelActivitiesOperation(_)
    )
}

/// `ValidateBatchOperation`: the target selector, reason, operation and the operation's
/// own required fields.
pub(crate) fn request(r: &ws::StartBatchOperationRequest) -> Result<(), Status> {
    let selectors = [
        !r.visibility_query.is_empty(),
        !r.executions.is_empty(),
        !r.target_executions.is_empty(),
    ]
    .iter()
    .filter(|s| **s)
    .count();
    if r.operation.is_none() || r.reason.is_empty() || r.namespace.is_empty() || selectors == 0 {
        return Err(invalid(
            "must provide required parameters: BatchType,Reason,Namespace, AND one of (Query OR Executions OR TargetExecutions)",
        ));
    }
    if r.job_id.is_empty() {
        return Err(invalid("JobId is not set on request."));
    }
    if selectors > 1 {
        return Err(invalid(
            "visibility query, executions, and target executions are mutually exclusive",
        ));
    }
    let Some(op) = &r.operation else {
        return Err(invalid("Batch operation is not set on request."));
    };
    let expected = if is_activity_operation(op) {
        ExecutionType::Activity
    } else {
        ExecutionType::Workflow
    };
    for (i, e) in r.target_executions.iter().enumerate() {
        if e.r#type != expected as i32 {
            let ty = ExecutionType::try_from(e.r#type)
                .map(|t| t.as_str_name())
                .unwrap_or("EXECUTION_TYPE_UNSPECIFIED");
            return Err(invalid(format!(
                "target_executions[{i}] has type {ty}, but operation {} requires {}",
                go_type_name(op),
                expected.as_str_name()
            )));
        }
    }
    operation(op)
}

/// The per-operation checks of `ValidateBatchOperation`.
fn operation(op: &Op) -> Result<(), Status> {
    match op {
        Op::SignalOperation(s) if s.signal.is_empty() => Err(invalid("must provide signal name")),
        Op::UpdateWorkflowOptionsOperation(u) if u.workflow_execution_options.is_none() => {
            Err(invalid("must provide UpdateOptions"))
        }
        Op::UpdateWorkflowOptionsOperation(u) if u.update_mask.is_none() => {
            Err(invalid("must provide UpdateMask"))
        }
        Op::ResetOperation(r) => reset(r),
        Op::UnpauseActivitiesOperation(u) => {
            use batch::batch_operation_unpause_activities::Activity;
            match &u.activity {
                None => Err(invalid("activity filter must be set")),
                Some(Activity::Type(t)) if t.is_empty() => Err(either_type_or_match_all()),
                Some(Activity::MatchAll(false)) => Err(either_type_or_match_all()),
                _ => Ok(()),
            }
        }
        Op::ResetActivitiesOperation(r) => {
            use batch::batch_operation_reset_activities::Activity;
            match &r.activity {
                None => Err(invalid("must provide ActivityType or MatchAll")),
                Some(Activity::Type(t)) if t.is_empty() => Err(either_type_or_match_all()),
                Some(Activity::MatchAll(false)) => Err(either_type_or_match_all()),
                _ => Ok(()),
            }
        }
        Op::UpdateActivityOptionsOperation(u) => {
            if u.activity_options.is_some() && u.restore_original {
                return Err(invalid(
                    "cannot set both activity options and restore original",
                ));
            }
            if u.activity_options.is_none() && !u.restore_original {
                return Err(invalid(
                    "Either activity type must be set, or restore original should be set to true",
                ));
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

fn either_type_or_match_all() -> Status {
    invalid("Either activity type must be set, or match all should be set to true")
}

/// A reset names a target (new form) or a known reset type (deprecated form).
fn reset(r: &batch::BatchOperationReset) -> Result<(), Status> {
    match &r.options {
        Some(o) if o.target.is_none() => Err(invalid("batch reset missing target")),
        Some(_) => Ok(()),
        None => match ResetType::try_from(r.reset_type) {
            Ok(t) if t != ResetType::Unspecified => Ok(()),
            _ => Err(invalid(format!(
                "unknown batch reset type {}",
                ResetType::try_from(r.reset_type)
                    .map(|t| t.as_str_name().to_string())
                    .unwrap_or_else(|_| r.reset_type.to_string())
            ))),
        },
    }
}

/// The operations the dev server cannot apply: the standalone-activity ones (Temporal's
/// answer when standalone activities are off for the namespace) and those whose RPC the
/// dev server does not serve.
pub(crate) fn supported(op: &Op) -> Result<(), Status> {
    match op {
        op if is_activity_operation(op) => Err(invalid(format!(
            "The operation type {} is not supported for this namespace",
            go_type_name(op)
        ))),
        Op::UpdateWorkflowOptionsOperation(_) | Op::UpdateActivityOptionsOperation(_) => {
            Err(invalid(format!(
                "The operation type {} is not supported (the dev server does not serve its RPC)",
                go_type_name(op)
            )))
        }
        Op::UnpauseActivitiesOperation(u)
            if matches!(
                u.activity,
                Some(batch::batch_operation_unpause_activities::Activity::Type(_))
            ) =>
        {
            Err(invalid(
                "unpausing activities by type selects workflows by TemporalPauseInfo, which the dev server does not index; use match_all with a visibility query",
            ))
        }
        _ => Ok(()),
    }
}

/// The operation's memo string (`snakeCaseBatchType`) and the identity Temporal records as
/// the job's `BatcherUser`.
pub(crate) fn memo_type_and_identity(op: &Op) -> (&'static str, String) {
    match op {
        Op::TerminationOperation(o) => ("terminate", o.identity.clone()),
        Op::SignalOperation(o) => ("signal", o.identity.clone()),
        Op::CancellationOperation(o) => ("cancel", o.identity.clone()),
        Op::DeletionOperation(o) => ("delete", o.identity.clone()),
        Op::ResetOperation(o) => ("reset", o.identity.clone()),
        Op::UpdateWorkflowOptionsOperation(o) => ("update_options", o.identity.clone()),
        Op::UnpauseActivitiesOperation(o) => ("unpause_activities", o.identity.clone()),
        Op::ResetActivitiesOperation(o) => ("reset_activities", o.identity.clone()),
        Op::UpdateActivityOptionsOperation(o) => ("update_activity_options", o.identity.clone()),
        Op::TerminateActivitiesOperation(o) => ("terminate_activities", o.identity.clone()),
        Op::CancelActivitiesOperation(o) => ("cancel_activities", o.identity.clone()),
        Op::DeleteActivitiesOperation(_) => ("delete_activities", String::new()),
    }
}

/// `batchOperationTypeFromString`.
pub(crate) fn operation_type_from_memo(memo: &str) -> BatchOperationType {
    use BatchOperationType as T;
    match memo {
        "terminate" | "terminate_workflows" => T::TerminateWorkflow,
        "cancel" | "cancel_workflows" => T::CancelWorkflow,
        "signal" | "signal_workflows" => T::SignalWorkflow,
        "delete" | "delete_workflows" => T::DeleteWorkflow,
        "reset" | "reset_workflows" => T::ResetWorkflow,
        "update_options" | "update_workflow_options" => T::UpdateWorkflowExecutionOptions,
        "update_activity_options" => T::UpdateActivityOptions,
        "reset_activities" => T::ResetActivity,
        "unpause_activities" => T::UnpauseActivity,
        "terminate_activities" => T::TerminateActivity,
        "cancel_activities" => T::CancelActivity,
        "delete_activities" => T::DeleteActivity,
        _ => T::Unspecified,
    }
}

/// `batchOperationExecutionsFromRequest`: the explicit targets, the deprecated
/// `executions` as workflow executions.
pub(crate) fn executions_of(r: &ws::StartBatchOperationRequest) -> Vec<Execution> {
    if !r.target_executions.is_empty() {
        return r.target_executions.clone();
    }
    r.executions
        .iter()
        .map(|e| Execution {
            r#type: ExecutionType::Workflow as i32,
            business_id: e.workflow_id.clone(),
            run_id: e.run_id.clone(),
        })
        .collect()
}

/// The workflow executions an explicit-list job visits.
pub(crate) fn workflow_targets(r: &ws::StartBatchOperationRequest) -> Vec<WorkflowExecution> {
    executions_of(r)
        .into_iter()
        .map(|e| WorkflowExecution {
            workflow_id: e.business_id,
            run_id: e.run_id,
        })
        .collect()
}

/// `adjustQueryBatchTypeEnum`: operations that only make sense on open workflows visit
/// the running (or paused) ones only; delete and reset visit every match.
pub(crate) fn adjusted_query(r: &ws::StartBatchOperationRequest) -> String {
    let q = &r.visibility_query;
    let open_only = matches!(
        r.operation,
        Some(
            Op::TerminationOperation(_)
                | Op::SignalOperation(_)
                | Op::CancellationOperation(_)
                | Op::UnpauseActivitiesOperation(_)
                | Op::ResetActivitiesOperation(_)
        )
    );
    if q.is_empty() || !open_only {
        return q.clone();
    }
    format!("({q}) AND ({RUNNING_OR_PAUSED})")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(op: Option<Op>) -> ws::StartBatchOperationRequest {
        ws::StartBatchOperationRequest {
            namespace: "default".into(),
            job_id: "job".into(),
            reason: "r".into(),
            visibility_query: "WorkflowType = 'W'".into(),
            operation: op,
            ..Default::default()
        }
    }

    fn message(r: &ws::StartBatchOperationRequest) -> String {
        request(r).unwrap_err().message().to_string()
    }

    #[test]
    fn the_required_parameters_and_selectors_are_checked_in_temporals_order() {
        let term = || Some(Op::TerminationOperation(Default::default()));
        assert!(request(&req(term())).is_ok());
        assert!(message(&req(None)).starts_with("must provide required parameters"));
        let mut r = req(term());
        r.reason.clear();
        assert!(message(&r).starts_with("must provide required parameters"));
        let mut r = req(term());
        r.visibility_query.clear();
        assert!(message(&r).starts_with("must provide required parameters"));
        let mut r = req(term());
        r.job_id.clear();
        assert_eq!(message(&r), "JobId is not set on request.");
        let mut r = req(term());
        r.executions.push(WorkflowExecution::default());
        assert!(message(&r).contains("mutually exclusive"));
        let mut r = req(term());
        r.visibility_query.clear();
        r.target_executions.push(Execution {
            r#type: ExecutionType::Activity as i32,
            ..Default::default()
        });
        assert!(message(&r).contains("target_executions[0] has type EXECUTION_TYPE_ACTIVITY"));
    }

    #[test]
    fn operations_need_their_own_fields() {
        let signal = req(Some(Op::SignalOperation(Default::default())));
        assert_eq!(message(&signal), "must provide signal name");
        let reset = req(Some(Op::ResetOperation(Default::default())));
        assert_eq!(
            message(&reset),
            "unknown batch reset type RESET_TYPE_UNSPECIFIED"
        );
        let no_target = req(Some(Op::ResetOperation(batch::BatchOperationReset {
            options: Some(Default::default()),
            ..Default::default()
        })));
        assert_eq!(message(&no_target), "batch reset missing target");
    }

    #[test]
    fn open_only_operations_visit_running_workflows() {
        let term = req(Some(Op::TerminationOperation(Default::default())));
        assert_eq!(
            adjusted_query(&term),
            "(WorkflowType = 'W') AND (ExecutionStatus='Running' OR ExecutionStatus='Paused')"
        );
        let delete = req(Some(Op::DeletionOperation(Default::default())));
        assert_eq!(adjusted_query(&delete), "WorkflowType = 'W'");
    }

    #[test]
    fn memo_strings_map_back_to_the_workflow_operation_types() {
        for op in [
            Op::TerminationOperation(Default::default()),
            Op::CancellationOperation(Default::default()),
            Op::SignalOperation(Default::default()),
            Op::DeletionOperation(Default::default()),
            Op::ResetOperation(Default::default()),
        ] {
            let (memo, _) = memo_type_and_identity(&op);
            assert_ne!(
                operation_type_from_memo(memo),
                BatchOperationType::Unspecified
            );
        }
        assert_eq!(
            operation_type_from_memo("terminate"),
            BatchOperationType::TerminateWorkflow
        );
    }
}
