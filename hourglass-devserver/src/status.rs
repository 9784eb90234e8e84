//! gRPC statuses carrying the `temporal.api.errordetails.v1` details real Temporal sends,
//! so the official SDKs map them (not found, already started, query failed, ...).
use prost::Message;
use prost_wkt_types::Any;
use temporalio_protos::google::rpc::Status as RpcStatus;
use temporalio_protos::temporal::api::{
    errordetails::v1::{
        NamespaceNotFoundFailure, NotFoundFailure, PermissionDeniedFailure, QueryFailedFailure,
        WorkflowExecutionAlreadyStartedFailure,
    },
    failure::v1::Failure,
};
use tonic::{Code, Status};

fn with_detail(code: Code, msg: impl Into<String>, type_name: &str, detail: Vec<u8>) -> Status {
    let msg = msg.into();
    let st = RpcStatus {
        code: code as i32,
        message: msg.clone(),
        details: vec![Any {
            type_url: format!("type.googleapis.com/{type_name}"),
            value: detail,
        }],
    };
    Status::with_details(code, msg, st.encode_to_vec().into())
}

/// Which deprecated worker-versioning API family a request belongs to.
#[derive(Debug, Clone, Copy)]
pub enum VersioningApis {
    /// v0.1, version sets: Get/UpdateWorkerBuildIdCompatibility.
    VersionSets,
    /// v0.2, rules: Get/UpdateWorkerVersioningRules and GetWorkerTaskReachability.
    Rules,
}

/// PermissionDenied for the deprecated worker-versioning APIs, which a Temporal dev server
/// refuses unless `frontend.workerVersioningDataAPIs` (or `...RuleAPIs`) is turned on
/// (`errWorkerVersioningV1_0NotAllowed` / `errWorkerVersioningV2_0NotAllowed`).
pub fn versioning_disabled(apis: VersioningApis) -> Status {
    let msg = match apis {
        VersioningApis::VersionSets => {
            "Worker versioning v0.1 (Version Set-based, deprecated) is disabled on this namespace."
        }
        VersioningApis::Rules => {
            "Worker versioning v0.2 (Rules-based, deprecated) is disabled on this namespace."
        }
    };
    with_detail(
        Code::PermissionDenied,
        msg,
        "temporal.api.errordetails.v1.PermissionDeniedFailure",
        PermissionDeniedFailure::default().encode_to_vec(),
    )
}

/// NotFound with a `NotFoundFailure` detail.
pub fn not_found(msg: impl Into<String>) -> Status {
    let d = NotFoundFailure {
        current_cluster: "active".into(),
        active_cluster: "active".into(),
    };
    with_detail(
        Code::NotFound,
        msg,
        "temporal.api.errordetails.v1.NotFoundFailure",
        d.encode_to_vec(),
    )
}

/// ResourceExhausted (cause BUSY_WORKFLOW) for a request the workflow cannot take because it
/// is closing (Temporal's `consts.ErrWorkflowClosing`): clients retry it, and the retry
/// reaches the next run.
pub fn workflow_closing() -> Status {
    use temporalio_protos::temporal::api::{
        enums::v1::{ResourceExhaustedCause, ResourceExhaustedScope},
        errordetails::v1::ResourceExhaustedFailure,
    };
    let d = ResourceExhaustedFailure {
        cause: ResourceExhaustedCause::BusyWorkflow as i32,
        scope: ResourceExhaustedScope::Namespace as i32,
    };
    with_detail(
        Code::ResourceExhausted,
        "workflow operation can not be applied because workflow is closing",
        "temporal.api.errordetails.v1.ResourceExhaustedFailure",
        d.encode_to_vec(),
    )
}

/// NotFound for an unknown namespace.
pub fn namespace_not_found(ns: &str) -> Status {
    let d = NamespaceNotFoundFailure {
        namespace: ns.to_string(),
    };
    with_detail(
        Code::NotFound,
        format!("Namespace {ns} is not found."),
        "temporal.api.errordetails.v1.NamespaceNotFoundFailure",
        d.encode_to_vec(),
    )
}

/// AlreadyExists for a duplicate workflow start.
pub fn already_started(workflow_id: &str, request_id: &str, run_id: &str) -> Status {
    let d = WorkflowExecutionAlreadyStartedFailure {
        start_request_id: request_id.to_string(),
        run_id: run_id.to_string(),
        first_execution_run_id: String::new(),
    };
    with_detail(
        Code::AlreadyExists,
        format!(
            "Workflow execution is already running. WorkflowId: {workflow_id}, RunId: {run_id}."
        ),
        "temporal.api.errordetails.v1.WorkflowExecutionAlreadyStartedFailure",
        d.encode_to_vec(),
    )
}

/// AlreadyExists for a start whose workflow id names a closed run under the
/// RejectDuplicate reuse policy (`workflow_id_dedup.go`).
pub fn already_finished_reject_duplicate(
    workflow_id: &str,
    request_id: &str,
    run_id: &str,
) -> Status {
    let d = WorkflowExecutionAlreadyStartedFailure {
        start_request_id: request_id.to_string(),
        run_id: run_id.to_string(),
        first_execution_run_id: String::new(),
    };
    with_detail(
        Code::AlreadyExists,
        format!(
            "Workflow execution already finished. WorkflowId: {workflow_id}, RunId: {run_id}. Workflow Id reuse policy: reject duplicate workflow Id."
        ),
        "temporal.api.errordetails.v1.WorkflowExecutionAlreadyStartedFailure",
        d.encode_to_vec(),
    )
}

/// ResourceExhausted (cause CONCURRENT_LIMIT, scope NAMESPACE), as the frontend answers a
/// batch operation over `frontend.MaxConcurrentBatchOperationPerNamespace`.
pub fn concurrent_limit(msg: &str) -> Status {
    use temporalio_protos::temporal::api::{
        enums::v1::{ResourceExhaustedCause, ResourceExhaustedScope},
        errordetails::v1::ResourceExhaustedFailure,
    };
    let d = ResourceExhaustedFailure {
        cause: ResourceExhaustedCause::ConcurrentLimit as i32,
        scope: ResourceExhaustedScope::Namespace as i32,
    };
    with_detail(
        Code::ResourceExhausted,
        msg,
        "temporal.api.errordetails.v1.ResourceExhaustedFailure",
        d.encode_to_vec(),
    )
}

/// AlreadyExists for a CreateSchedule naming an existing schedule (Temporal's frontend
/// answers it as a duplicate start of the schedule's workflow).
pub fn schedule_already_registered(schedule_id: &str) -> Status {
    with_detail(
        Code::AlreadyExists,
        format!("schedule {schedule_id:?} is already registered"),
        "temporal.api.errordetails.v1.WorkflowExecutionAlreadyStartedFailure",
        WorkflowExecutionAlreadyStartedFailure::default().encode_to_vec(),
    )
}

/// InvalidArgument carrying a `QueryFailedFailure`.
pub fn query_failed(msg: &str, failure: Option<Failure>) -> Status {
    let failure = failure.or_else(|| {
        Some(Failure {
            message: msg.to_string(),
            ..Default::default()
        })
    });
    let d = QueryFailedFailure { failure };
    with_detail(
        Code::InvalidArgument,
        msg,
        "temporal.api.errordetails.v1.QueryFailedFailure",
        d.encode_to_vec(),
    )
}

/// InvalidArgument with a plain message.
pub fn invalid(msg: impl Into<String>) -> Status {
    Status::invalid_argument(msg)
}

/// The `Any` details a status carries (those of its encoded `google.rpc.Status`).
fn details_of(st: &Status) -> Vec<prost_types::Any> {
    if st.details().is_empty() {
        return Vec::new();
    }
    match RpcStatus::decode(st.details()) {
        Ok(rpc) => rpc
            .details
            .into_iter()
            .map(|a| prost_types::Any {
                type_url: a.type_url,
                value: a.value,
            })
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// Temporal's `MultiOperationAborted`: the status of an operation that was not executed
/// because another one of the same multi-operation failed.
pub fn multi_operation_aborted() -> Status {
    use temporalio_protos::temporal::api::failure::v1::MultiOperationExecutionAborted;
    with_detail(
        Code::Aborted,
        "Operation was aborted.",
        "temporal.api.failure.v1.MultiOperationExecutionAborted",
        MultiOperationExecutionAborted {}.encode_to_vec(),
    )
}

fn is_multi_operation_aborted(st: &Status) -> bool {
    details_of(st)
        .first()
        .is_some_and(|a| a.type_url.ends_with("MultiOperationExecutionAborted"))
}

/// Temporal's `MultiOperationExecution` error: a `MultiOperationExecutionFailure` detail with
/// one status per operation (`None` for one that succeeded, code OK), under the code of the
/// first operation that failed for its own reason (not aborted), else `Aborted`.
pub fn multi_operation(message: &str, operations: &[Option<Status>]) -> Status {
    use temporalio_protos::temporal::api::errordetails::v1::{
        MultiOperationExecutionFailure, multi_operation_execution_failure::OperationStatus,
    };
    let statuses: Vec<OperationStatus> = operations
        .iter()
        .map(|op| match op {
            Some(st) => OperationStatus {
                code: st.code() as i32,
                message: st.message().to_string(),
                details: details_of(st),
            },
            None => OperationStatus {
                code: Code::Ok as i32,
                message: String::new(),
                details: Vec::new(),
            },
        })
        .collect();
    let code = operations
        .iter()
        .flatten()
        .find(|st| st.code() != Code::Ok && !is_multi_operation_aborted(st))
        .map_or(Code::Aborted, |st| st.code());
    with_detail(
        code,
        message,
        "temporal.api.errordetails.v1.MultiOperationExecutionFailure",
        MultiOperationExecutionFailure { statuses }.encode_to_vec(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use temporalio_protos::temporal::api::errordetails::v1::MultiOperationExecutionFailure;

    fn failure_of(st: &Status) -> MultiOperationExecutionFailure {
        let d = details_of(st);
        assert_eq!(d.len(), 1);
        assert!(d[0].type_url.ends_with("MultiOperationExecutionFailure"));
        MultiOperationExecutionFailure::decode(d[0].value.as_slice()).unwrap()
    }

    #[test]
    fn a_multi_operation_error_takes_the_code_of_the_operation_that_failed() {
        let st = multi_operation(
            "Update-with-Start could not be executed.",
            &[
                Some(already_started("wf", "req", "run")),
                Some(multi_operation_aborted()),
            ],
        );
        assert_eq!(st.code(), Code::AlreadyExists);
        let f = failure_of(&st);
        assert_eq!(f.statuses[0].code, Code::AlreadyExists as i32);
        assert!(
            f.statuses[0].details[0]
                .type_url
                .ends_with("WorkflowExecutionAlreadyStartedFailure")
        );
        assert_eq!(f.statuses[1].code, Code::Aborted as i32);
        assert_eq!(f.statuses[1].message, "Operation was aborted.");
    }

    #[test]
    fn a_succeeded_operation_is_ok_and_all_aborted_is_aborted() {
        let st = multi_operation("m", &[None, Some(invalid("bad update"))]);
        assert_eq!(st.code(), Code::InvalidArgument);
        assert_eq!(failure_of(&st).statuses[0].code, Code::Ok as i32);
        let st = multi_operation(
            "m",
            &[
                Some(multi_operation_aborted()),
                Some(multi_operation_aborted()),
            ],
        );
        assert_eq!(st.code(), Code::Aborted);
    }
}
