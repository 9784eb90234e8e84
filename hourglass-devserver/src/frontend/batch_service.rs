//! The batch-operation RPCs of `WorkflowService` (StartBatchOperation,
//! DescribeBatchOperation, ListBatchOperations, StopBatchOperation): the frontend's
//! request checks, in Temporal's order and with its messages (`workflow_handler.go`), then
//! the engine (`batcher::service`).
use crate::batcher::validate;
use crate::engine::Engine;
use crate::visibility::query::check_syntax;
use std::sync::Arc;
use temporalio_protos::temporal::api::workflowservice::v1 as ws;
use tonic::Status;

fn invalid(msg: impl Into<String>) -> Status {
    crate::status::invalid(msg)
}

fn namespace_set(namespace: &str) -> Result<(), Status> {
    if namespace.is_empty() {
        return Err(invalid("Namespace is not set on request."));
    }
    Ok(())
}

fn job_id_set(job_id: &str) -> Result<(), Status> {
    if job_id.is_empty() {
        return Err(invalid("JobId is not set on request."));
    }
    Ok(())
}

/// The checks of Temporal's `StartBatchOperation` before the job's workflow is started.
pub(crate) fn check_start(req: &ws::StartBatchOperationRequest) -> Result<(), Status> {
    if let Some(op) = &req.operation {
        // Standalone activities are off in the dev server, so their operations are refused
        // first, as Temporal does for a namespace without them.
        if matches!(
            op,
            ws::start_batch_operation_request::Operation::TerminateActivitiesOperation(_)
                | ws::start_batch_operation_request::Operation::DeleteActivitiesOperation(_)
                | ws::start_batch_operation_request::Operation::CancelActivitiesOperation(_)
        ) {
            return validate::supported(op);
        }
    }
    validate::request(req)?;
    if !req.visibility_query.is_empty() {
        check_syntax(&req.visibility_query)
            .map_err(|e| invalid(format!("invalid visibility query: {e}")))?;
    }
    match &req.operation {
        Some(op) => validate::supported(op),
        None => Err(invalid("Batch operation is not set on request.")),
    }
}

/// StartBatchOperation.
pub(crate) async fn start(
    engine: &Arc<Engine>,
    req: ws::StartBatchOperationRequest,
) -> Result<ws::StartBatchOperationResponse, Status> {
    check_start(&req)?;
    engine.start_batch_operation(req).await?;
    Ok(ws::StartBatchOperationResponse {})
}

/// DescribeBatchOperation.
pub(crate) async fn describe(
    engine: &Engine,
    req: ws::DescribeBatchOperationRequest,
) -> Result<ws::DescribeBatchOperationResponse, Status> {
    job_id_set(&req.job_id)?;
    namespace_set(&req.namespace)?;
    engine.describe_batch_operation(req).await
}

/// ListBatchOperations.
pub(crate) async fn list(
    engine: &Engine,
    req: ws::ListBatchOperationsRequest,
) -> Result<ws::ListBatchOperationsResponse, Status> {
    namespace_set(&req.namespace)?;
    engine.list_batch_operations(req).await
}

/// StopBatchOperation.
pub(crate) async fn stop(
    engine: &Engine,
    req: ws::StopBatchOperationRequest,
) -> Result<ws::StopBatchOperationResponse, Status> {
    job_id_set(&req.job_id)?;
    namespace_set(&req.namespace)?;
    if req.reason.is_empty() {
        return Err(invalid("Reason is not set on request."));
    }
    engine.stop_batch_operation(req).await?;
    Ok(ws::StopBatchOperationResponse {})
}

#[cfg(test)]
mod tests {
    use super::*;
    use ws::start_batch_operation_request::Operation as Op;

    fn req(query: &str, op: Op) -> ws::StartBatchOperationRequest {
        ws::StartBatchOperationRequest {
            namespace: "default".into(),
            job_id: "j".into(),
            reason: "r".into(),
            visibility_query: query.into(),
            operation: Some(op),
            ..Default::default()
        }
    }

    #[test]
    fn a_malformed_query_and_unsupported_operations_are_refused() {
        let term = || Op::TerminationOperation(Default::default());
        assert!(check_start(&req("WorkflowType = 'x'", term())).is_ok());
        let e = check_start(&req("()", term())).unwrap_err();
        assert_eq!(e.code(), tonic::Code::InvalidArgument);
        assert!(
            e.message()
                .starts_with("invalid visibility query: syntax error at position 28"),
            "{}",
            e.message()
        );
        let e =
            check_start(&req("", Op::CancelActivitiesOperation(Default::default()))).unwrap_err();
        assert!(
            e.message().contains("not supported for this namespace"),
            "{}",
            e.message()
        );
        let e = check_start(&req(
            "WorkflowType = 'x'",
            Op::UpdateWorkflowOptionsOperation(
                temporalio_protos::temporal::api::batch::v1::BatchOperationUpdateWorkflowExecutionOptions {
                    workflow_execution_options: Some(Default::default()),
                    update_mask: Some(Default::default()),
                    ..Default::default()
                },
            ),
        ))
        .unwrap_err();
        assert!(e.message().contains("is not supported"), "{}", e.message());
    }
}
