//! The error paths of the batch-operation RPCs, each with the status and message Temporal's
//! frontend answers.
use crate::batch_support::*;
use crate::common::server;
use std::time::Duration;
use temporalio_common::protos::temporal::api::{
    batch::v1::BatchOperationUpdateWorkflowExecutionOptions,
    enums::v1::BatchOperationState,
    workflowservice::v1::{
        DescribeBatchOperationRequest, ListBatchOperationsRequest, StopBatchOperationRequest,
        start_batch_operation_request::Operation,
    },
};
use tonic::Code;

const WAIT: Duration = Duration::from_secs(20);

fn assert_status(r: Result<impl std::fmt::Debug, tonic::Status>, code: Code, text: &str) {
    let e = r.expect_err("the request must be refused");
    assert_eq!(e.code(), code, "{e:?}");
    assert!(
        e.message().contains(text),
        "{:?} lacks {text:?}",
        e.message()
    );
}

#[tokio::test]
async fn a_duplicate_job_id_is_already_exists_while_running_and_after() {
    let (_s, mut c) = server().await;
    start_many(&mut c, "dup", "BatchTarget", 3).await;
    let mut slow = batch(
        "dup-job",
        "WorkflowType = 'BatchTarget'",
        signal_op("s", "1"),
    );
    slow.max_operations_per_second = 2.0;
    c.start_batch_operation(slow.clone()).await.unwrap();
    assert_status(
        c.start_batch_operation(slow.clone()).await,
        Code::AlreadyExists,
        "Workflow execution is already running. WorkflowId: dup-job",
    );
    wait_job(&mut c, "dup-job", WAIT).await;
    assert_status(
        c.start_batch_operation(slow).await,
        Code::AlreadyExists,
        "reject duplicate",
    );
    // A job id is a workflow id: one naming a workflow is taken too.
    assert_status(
        c.start_batch_operation(batch("dup-0", "WorkflowType = 'BatchTarget'", cancel_op()))
            .await,
        Code::AlreadyExists,
        "WorkflowId: dup-0",
    );
}

#[tokio::test]
async fn start_requests_missing_a_required_part_are_invalid_argument() {
    let (_s, mut c) = server().await;
    let required = "must provide required parameters: BatchType,Reason,Namespace, AND one of (Query OR Executions OR TargetExecutions)";
    // Neither a query nor executions.
    assert_status(
        c.start_batch_operation(batch("j", "", terminate_op()))
            .await,
        Code::InvalidArgument,
        required,
    );
    // No reason.
    let mut r = batch("j", "WorkflowType = 'x'", terminate_op());
    r.reason.clear();
    assert_status(
        c.start_batch_operation(r).await,
        Code::InvalidArgument,
        required,
    );
    // No operation (also what an operation this server's API does not know decodes to).
    let mut r = batch("j", "WorkflowType = 'x'", terminate_op());
    r.operation = None;
    assert_status(
        c.start_batch_operation(r).await,
        Code::InvalidArgument,
        required,
    );
    assert_status(
        c.start_batch_operation(batch("", "WorkflowType = 'x'", terminate_op()))
            .await,
        Code::InvalidArgument,
        "JobId is not set on request.",
    );
    assert_status(
        c.start_batch_operation(batch("j", "WorkflowType = 'x'", signal_op("", "1")))
            .await,
        Code::InvalidArgument,
        "must provide signal name",
    );
    assert_status(
        c.start_batch_operation(batch("j", "WorkflowType = ", terminate_op()))
            .await,
        Code::InvalidArgument,
        "invalid visibility query: syntax error",
    );
}

#[tokio::test]
async fn operations_the_server_cannot_apply_are_invalid_argument() {
    let (_s, mut c) = server().await;
    let op =
        Operation::UpdateWorkflowOptionsOperation(BatchOperationUpdateWorkflowExecutionOptions {
            workflow_execution_options: Some(Default::default()),
            update_mask: Some(Default::default()),
            identity: String::new(),
        });
    assert_status(
        c.start_batch_operation(batch("j", "WorkflowType = 'x'", op))
            .await,
        Code::InvalidArgument,
        "UpdateWorkflowOptionsOperation is not supported",
    );
    let op = Operation::TerminateActivitiesOperation(Default::default());
    assert_status(
        c.start_batch_operation(batch("j", "ActivityType = 'x'", op))
            .await,
        Code::InvalidArgument,
        "not supported for this namespace",
    );
}

#[tokio::test]
async fn a_second_running_job_in_a_namespace_is_resource_exhausted() {
    let (_s, mut c) = server().await;
    start_many(&mut c, "conc", "BatchTarget", 3).await;
    let mut slow = batch("first", "WorkflowType = 'BatchTarget'", signal_op("s", "1"));
    slow.max_operations_per_second = 2.0;
    c.start_batch_operation(slow).await.unwrap();
    assert_status(
        c.start_batch_operation(batch("second", "WorkflowType = 'BatchTarget'", cancel_op()))
            .await,
        Code::ResourceExhausted,
        "Max concurrent batch operations is reached",
    );
    // Once the first is done, the next one may start.
    wait_job(&mut c, "first", WAIT).await;
    c.start_batch_operation(batch("second", "WorkflowType = 'BatchTarget'", cancel_op()))
        .await
        .unwrap();
}

#[tokio::test]
async fn a_query_naming_an_unknown_attribute_fails_the_job() {
    let (_s, mut c) = server().await;
    // The syntax is fine, so the start succeeds; the batcher's count then fails for good.
    c.start_batch_operation(batch("bad-attr", "NoSuchAttribute = 'x'", terminate_op()))
        .await
        .unwrap();
    let d = wait_job(&mut c, "bad-attr", WAIT).await;
    assert_eq!(d.state, BatchOperationState::Failed as i32, "{d:?}");
    assert!(d.close_time.is_some());
}

#[tokio::test]
async fn describe_list_and_stop_check_their_requests() {
    let (_s, mut c) = server().await;
    let describe = |job_id: &str| DescribeBatchOperationRequest {
        namespace: "default".into(),
        job_id: job_id.into(),
    };
    assert_status(
        c.describe_batch_operation(describe("")).await,
        Code::InvalidArgument,
        "JobId is not set on request.",
    );
    assert_status(
        c.describe_batch_operation(describe("nope")).await,
        Code::NotFound,
        "nope",
    );
    assert_status(
        c.describe_batch_operation(DescribeBatchOperationRequest {
            namespace: String::new(),
            job_id: "j".into(),
        })
        .await,
        Code::InvalidArgument,
        "Namespace is not set on request.",
    );
    assert_status(
        c.list_batch_operations(ListBatchOperationsRequest::default())
            .await,
        Code::InvalidArgument,
        "Namespace is not set on request.",
    );
    let stop = |job_id: &str, reason: &str| StopBatchOperationRequest {
        namespace: "default".into(),
        job_id: job_id.into(),
        reason: reason.into(),
        identity: String::new(),
    };
    assert_status(
        c.stop_batch_operation(stop("j", "")).await,
        Code::InvalidArgument,
        "Reason is not set on request.",
    );
    assert_status(
        c.stop_batch_operation(stop("", "r")).await,
        Code::InvalidArgument,
        "JobId is not set on request.",
    );
    assert_status(
        c.stop_batch_operation(stop("nope", "r")).await,
        Code::NotFound,
        "nope",
    );
    let empty = c
        .list_batch_operations(ListBatchOperationsRequest {
            namespace: "default".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(empty.operation_info.is_empty());
}
