//! A batch signal reaching workflows the official Rust SDK worker runs: each waits for its
//! counter to reach 5, and one batch job signalling `increment(5)` to every match of a
//! query completes them all.
use crate::batch_support::signal_op;
use crate::{CounterWf, drive};
use std::time::Duration;
use temporalio_client::{WorkflowGetResultOptions, WorkflowStartOptions};
use temporalio_common::protos::temporal::api::{
    enums::v1::BatchOperationState,
    workflowservice::v1::{DescribeBatchOperationRequest, StartBatchOperationRequest},
};
use tonic::IntoRequest;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_signal_completes_the_sdk_workflows_waiting_for_it() {
    drive("rust-sdk-batch", |c, _| async move {
        let mut handles = vec![];
        for i in 0..3 {
            let opts =
                WorkflowStartOptions::new("rust-sdk-batch", format!("batch-ctr-{i}")).build();
            handles.push(c.start_workflow(CounterWf::run, 5, opts).await.unwrap());
        }
        let mut svc = c.connection().workflow_service();
        svc.start_batch_operation(
            StartBatchOperationRequest {
                namespace: "default".into(),
                job_id: "sdk-signal".into(),
                visibility_query: "WorkflowType = 'CounterWf'".into(),
                reason: "batch test".into(),
                operation: Some(signal_op("increment", "5")),
                ..Default::default()
            }
            .into_request(),
        )
        .await
        .unwrap();
        for h in handles {
            let r = crate::within_30s(h.get_result(WorkflowGetResultOptions::default()))
                .await
                .unwrap();
            assert_eq!(r, 5);
        }
        let mut d = Default::default();
        for _ in 0..200 {
            d = svc
                .describe_batch_operation(
                    DescribeBatchOperationRequest {
                        namespace: "default".into(),
                        job_id: "sdk-signal".into(),
                    }
                    .into_request(),
                )
                .await
                .unwrap()
                .into_inner();
            if d.state != BatchOperationState::Running as i32 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(d.state, BatchOperationState::Completed as i32, "{d:?}");
        assert_eq!(
            (d.total_operation_count, d.complete_operation_count),
            (3, 3)
        );
    })
    .await;
}
