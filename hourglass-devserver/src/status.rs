//! gRPC statuses carrying the `temporal.api.errordetails.v1` details real Temporal sends,
//! so the official SDKs map them (not found, already started, query failed, ...).
use prost::Message;
use prost_wkt_types::Any;
use temporalio_protos::google::rpc::Status as RpcStatus;
use temporalio_protos::temporal::api::{
    errordetails::v1::{
        NamespaceNotFoundFailure, NotFoundFailure, QueryFailedFailure,
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
