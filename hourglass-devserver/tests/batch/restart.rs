//! Batch jobs are durable: a real `hourglass-devserver` process on a SQLite file is
//! SIGKILLed while a job runs; restarted on the same file it still describes and lists its
//! jobs, and the interrupted job resumes and completes its work.
use crate::batch_support::*;
use crate::server_proc::ServerProc;
use std::time::Duration;
use temporalio_common::protos::temporal::api::{
    enums::v1::{BatchOperationState, WorkflowExecutionStatus},
    workflowservice::v1::ListBatchOperationsRequest,
};

async fn client(port: u16) -> C {
    C::connect(format!("http://127.0.0.1:{port}"))
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_interrupted_by_sigkill_resumes_after_the_restart() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("batch.sqlite");
    let server = ServerProc::start(&db, 0);
    let port = server.port;
    let mut c = client(port).await;
    start_idle(&mut c, "done-0", "Done").await;
    c.start_batch_operation(batch("done-job", "WorkflowType = 'Done'", cancel_op()))
        .await
        .unwrap();
    wait_job(&mut c, "done-job", Duration::from_secs(20)).await;
    let slow = start_many(&mut c, "slow", "Slow", 6).await;
    let mut req = batch("slow-job", "WorkflowType = 'Slow'", terminate_op());
    req.max_operations_per_second = 2.0;
    c.start_batch_operation(req).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(
        describe_job(&mut c, "slow-job").await.state,
        BatchOperationState::Running as i32
    );
    server.sigkill();

    let _server = ServerProc::start(&db, port);
    let mut c = client(port).await;
    let done = describe_job(&mut c, "done-job").await;
    assert_eq!(done.state, BatchOperationState::Completed as i32);
    assert_eq!(
        (done.total_operation_count, done.complete_operation_count),
        (1, 1)
    );
    assert_eq!(done.reason, "batch test");
    let listed: Vec<String> = c
        .list_batch_operations(ListBatchOperationsRequest {
            namespace: "default".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .operation_info
        .into_iter()
        .map(|j| j.job_id)
        .collect();
    assert_eq!(listed.len(), 2, "{listed:?}");
    assert!(listed.contains(&"slow-job".to_string()) && listed.contains(&"done-job".to_string()));
    let d = wait_job(&mut c, "slow-job", Duration::from_secs(30)).await;
    assert_eq!(d.state, BatchOperationState::Completed as i32, "{d:?}");
    assert_eq!(d.failure_operation_count, 0);
    // The page in progress at the kill is taken again from its start; the workflows it
    // had already terminated no longer match (the job visits running ones only).
    assert!((1..=6).contains(&d.complete_operation_count), "{d:?}");
    for id in &slow {
        assert_eq!(
            status(&mut c, id).await,
            Some(WorkflowExecutionStatus::Terminated),
            "{id}"
        );
    }
}
