//! Helpers of the batch-operation tests: workflows with no worker (they stay Running), batch
//! requests, and waiting for a job to end.
#![allow(dead_code)]
use std::time::{Duration, Instant};
use temporalio_common::protos::temporal::api::{
    batch::v1::{
        BatchOperationCancellation, BatchOperationDeletion, BatchOperationSignal,
        BatchOperationTermination,
    },
    common::v1::{Payload, Payloads, WorkflowExecution, WorkflowType},
    enums::v1::{BatchOperationState, WorkflowExecutionStatus},
    history::v1::HistoryEvent,
    taskqueue::v1::TaskQueue,
    workflowservice::v1::{
        DescribeBatchOperationRequest, DescribeBatchOperationResponse,
        DescribeWorkflowExecutionRequest, GetWorkflowExecutionHistoryRequest,
        StartBatchOperationRequest, StartWorkflowExecutionRequest,
        start_batch_operation_request::Operation, workflow_service_client::WorkflowServiceClient,
    },
};
use tonic::transport::Channel;

pub type C = WorkflowServiceClient<Channel>;

/// Starts a workflow of `workflow_type` on a task queue no worker polls; answers its run id.
pub async fn start_idle(c: &mut C, id: &str, workflow_type: &str) -> String {
    c.start_workflow_execution(StartWorkflowExecutionRequest {
        namespace: "default".into(),
        workflow_id: id.into(),
        workflow_type: Some(WorkflowType {
            name: workflow_type.into(),
        }),
        task_queue: Some(TaskQueue {
            name: "batch-tq".into(),
            ..Default::default()
        }),
        request_id: uuid::Uuid::new_v4().to_string(),
        ..Default::default()
    })
    .await
    .unwrap()
    .into_inner()
    .run_id
}

/// Starts `n` idle workflows `<prefix>-0..n` of type `workflow_type`.
pub async fn start_many(c: &mut C, prefix: &str, workflow_type: &str, n: usize) -> Vec<String> {
    let mut ids = vec![];
    for i in 0..n {
        let id = format!("{prefix}-{i}");
        start_idle(c, &id, workflow_type).await;
        ids.push(id);
    }
    ids
}

/// A batch request over `query` (reason "batch test").
pub fn batch(job_id: &str, query: &str, operation: Operation) -> StartBatchOperationRequest {
    StartBatchOperationRequest {
        namespace: "default".into(),
        job_id: job_id.into(),
        visibility_query: query.into(),
        reason: "batch test".into(),
        operation: Some(operation),
        ..Default::default()
    }
}

pub fn terminate_op() -> Operation {
    Operation::TerminationOperation(BatchOperationTermination {
        details: None,
        identity: "batch-tester".into(),
    })
}

pub fn cancel_op() -> Operation {
    Operation::CancellationOperation(BatchOperationCancellation {
        identity: "batch-tester".into(),
    })
}

pub fn delete_op() -> Operation {
    Operation::DeletionOperation(BatchOperationDeletion {
        identity: "batch-tester".into(),
    })
}

/// A signal `name` carrying one JSON payload.
pub fn signal_op(name: &str, json: &str) -> Operation {
    Operation::SignalOperation(BatchOperationSignal {
        signal: name.into(),
        input: Some(Payloads {
            payloads: vec![Payload {
                metadata: [("encoding".to_string(), b"json/plain".to_vec())]
                    .into_iter()
                    .collect(),
                data: json.as_bytes().to_vec(),
                ..Default::default()
            }],
        }),
        header: None,
        identity: "batch-tester".into(),
    })
}

pub async fn describe_job(c: &mut C, job_id: &str) -> DescribeBatchOperationResponse {
    c.describe_batch_operation(DescribeBatchOperationRequest {
        namespace: "default".into(),
        job_id: job_id.into(),
    })
    .await
    .unwrap()
    .into_inner()
}

/// Waits (at most `limit`) until the job is no longer running; answers its description.
pub async fn wait_job(c: &mut C, job_id: &str, limit: Duration) -> DescribeBatchOperationResponse {
    let deadline = Instant::now() + limit;
    loop {
        let d = describe_job(c, job_id).await;
        if d.state != BatchOperationState::Running as i32 {
            return d;
        }
        assert!(
            Instant::now() < deadline,
            "batch job {job_id} still running after {limit:?}: {d:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The status of the workflow's current run (None once it is deleted).
pub async fn status(c: &mut C, id: &str) -> Option<WorkflowExecutionStatus> {
    let r = c
        .describe_workflow_execution(DescribeWorkflowExecutionRequest {
            namespace: "default".into(),
            execution: Some(WorkflowExecution {
                workflow_id: id.into(),
                run_id: String::new(),
            }),
        })
        .await;
    match r {
        Ok(r) => {
            let st = r.into_inner().workflow_execution_info.unwrap().status;
            Some(WorkflowExecutionStatus::try_from(st).unwrap())
        }
        Err(s) if s.code() == tonic::Code::NotFound => None,
        Err(s) => panic!("describe {id}: {s}"),
    }
}

/// The current run's history.
pub async fn events(c: &mut C, id: &str) -> Vec<HistoryEvent> {
    c.get_workflow_execution_history(GetWorkflowExecutionHistoryRequest {
        namespace: "default".into(),
        execution: Some(WorkflowExecution {
            workflow_id: id.into(),
            run_id: String::new(),
        }),
        ..Default::default()
    })
    .await
    .unwrap()
    .into_inner()
    .history
    .unwrap()
    .events
}
