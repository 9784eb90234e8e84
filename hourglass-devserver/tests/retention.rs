//! Namespace retention on a durable server: a closed run, its history and its visibility
//! record are deleted once its namespace's retention passed, also across a restart, while
//! open runs stay; RegisterNamespace refuses a retention under Temporal's minimum.
mod common;
use common::*;
use std::path::Path;
use std::time::{Duration, Instant};
use temporalio_common::protos::temporal::api::workflowservice::v1::{
    ListWorkflowExecutionsRequest, RegisterNamespaceRequest, TerminateWorkflowExecutionRequest,
};
use tonic::Code;

async fn durable(path: &Path, retention: Duration) -> (RunningServer, C) {
    let s = DevServer::builder()
        .port(0)
        .database_path(path)
        .retention(retention)
        // Deleted on time, not up to Temporal's default 30 minutes later.
        .retention_jitter(Duration::ZERO)
        .start()
        .await
        .unwrap();
    let c = WorkflowServiceClient::connect(s.url()).await.unwrap();
    (s, c)
}

async fn terminate(c: &mut C, id: &str) {
    c.terminate_workflow_execution(TerminateWorkflowExecutionRequest {
        namespace: "default".into(),
        workflow_execution: Some(WorkflowExecution {
            workflow_id: id.into(),
            run_id: String::new(),
        }),
        ..Default::default()
    })
    .await
    .unwrap();
}

/// The describe status code of `id`: Ok while it is kept, NotFound once deleted.
async fn describe_code(c: &mut C, id: &str) -> Code {
    match c
        .describe_workflow_execution(DescribeWorkflowExecutionRequest {
            namespace: "default".into(),
            execution: Some(WorkflowExecution {
                workflow_id: id.into(),
                run_id: String::new(),
            }),
        })
        .await
    {
        Ok(_) => Code::Ok,
        Err(e) => e.code(),
    }
}

async fn listed(c: &mut C) -> Vec<String> {
    c.list_workflow_executions(ListWorkflowExecutionsRequest {
        namespace: "default".into(),
        ..Default::default()
    })
    .await
    .unwrap()
    .into_inner()
    .executions
    .into_iter()
    .filter_map(|e| e.execution.map(|x| x.workflow_id))
    .collect()
}

/// Waits (bounded, generously) until `id` is deleted.
async fn until_deleted(c: &mut C, id: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while describe_code(c, id).await == Code::Ok {
        assert!(Instant::now() < deadline, "{id} was never deleted");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn closed_runs_are_deleted_after_the_retention_also_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("dev.db");
    let (s, mut c) = durable(&db, Duration::from_millis(500)).await;
    start(&mut c, "closed", 10_000, 0).await;
    start(&mut c, "open", 10_000, 0).await;
    terminate(&mut c, "closed").await;
    assert_eq!(
        describe_code(&mut c, "closed").await,
        Code::Ok,
        "kept at first"
    );
    until_deleted(&mut c, "closed").await;
    let err = c
        .get_workflow_execution_history(GetWorkflowExecutionHistoryRequest {
            namespace: "default".into(),
            execution: Some(WorkflowExecution {
                workflow_id: "closed".into(),
                run_id: String::new(),
            }),
            ..Default::default()
        })
        .await
        .expect_err("its history is gone");
    assert_eq!(err.code(), Code::NotFound);
    assert_eq!(listed(&mut c).await, vec!["open".to_string()]);
    s.shutdown().await.unwrap();

    // A run closed just before a shutdown is deleted by the next server once due, and the
    // deleted one does not come back from the file.
    let (s, mut c) = durable(&db, Duration::from_secs(2)).await;
    assert_eq!(describe_code(&mut c, "closed").await, Code::NotFound);
    terminate(&mut c, "open").await;
    s.shutdown().await.unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (s, mut c) = durable(&db, Duration::from_secs(2)).await;
    until_deleted(&mut c, "open").await;
    assert!(listed(&mut c).await.is_empty());
    s.shutdown().await.unwrap();
}

#[tokio::test]
async fn register_namespace_refuses_a_retention_under_an_hour() {
    let (_s, mut c) = server().await;
    let err = c
        .register_namespace(RegisterNamespaceRequest {
            namespace: "brief".into(),
            workflow_execution_retention_period: dur(59 * 60 * 1000),
            ..Default::default()
        })
        .await
        .expect_err("under the minimum");
    assert_eq!(err.code(), Code::InvalidArgument);
    assert_eq!(
        err.message(),
        "A valid retention period is not set on request."
    );
    c.register_namespace(RegisterNamespaceRequest {
        namespace: "kept".into(),
        workflow_execution_retention_period: dur(72 * 3600 * 1000),
        ..Default::default()
    })
    .await
    .expect("72 h is valid");
    let ttl = c
        .describe_namespace(
            temporalio_common::protos::temporal::api::workflowservice::v1::DescribeNamespaceRequest {
                namespace: "kept".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .into_inner()
        .config
        .and_then(|c| c.workflow_execution_retention_ttl)
        .map(|d| d.seconds);
    assert_eq!(ttl, Some(72 * 3600));
}
