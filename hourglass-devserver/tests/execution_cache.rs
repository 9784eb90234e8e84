//! Bounded memory on a durable server (Temporal's history execution cache): closed runs
//! beyond the cache's capacity leave memory once durable, and are read back from SQLite
//! when a request names them (describe, history, id reuse, list, count); a restarted server
//! loads only the open runs.
mod common;
use common::*;
use std::path::Path;
use std::time::{Duration, Instant};
use temporalio_common::protos::temporal::api::enums::v1::WorkflowIdReusePolicy;
use temporalio_common::protos::temporal::api::workflowservice::v1::{
    CountWorkflowExecutionsRequest, ListWorkflowExecutionsRequest,
    TerminateWorkflowExecutionRequest,
};
use tonic::Code;

const CAPACITY: usize = 3;
const CLOSED: usize = 12;

async fn durable(path: &Path) -> (RunningServer, C) {
    let s = DevServer::builder()
        .port(0)
        .database_path(path)
        .closed_cache_capacity(CAPACITY)
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
        reason: format!("done with {id}"),
        ..Default::default()
    })
    .await
    .unwrap();
}

async fn status(c: &mut C, id: &str) -> WorkflowExecutionStatus {
    let d = c
        .describe_workflow_execution(DescribeWorkflowExecutionRequest {
            namespace: "default".into(),
            execution: Some(WorkflowExecution {
                workflow_id: id.into(),
                run_id: String::new(),
            }),
        })
        .await
        .unwrap()
        .into_inner();
    let info = d.workflow_execution_info.unwrap();
    assert_eq!(info.execution.unwrap().workflow_id, id);
    WorkflowExecutionStatus::try_from(info.status).unwrap()
}

async fn listed(c: &mut C, query: &str) -> Vec<String> {
    let mut ids: Vec<String> = c
        .list_workflow_executions(ListWorkflowExecutionsRequest {
            namespace: "default".into(),
            query: query.into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .executions
        .into_iter()
        .filter_map(|e| e.execution.map(|x| x.workflow_id))
        .collect();
    ids.sort();
    ids
}

async fn count(c: &mut C, query: &str) -> i64 {
    c.count_workflow_executions(CountWorkflowExecutionsRequest {
        namespace: "default".into(),
        query: query.into(),
    })
    .await
    .unwrap()
    .into_inner()
    .count
}

fn closed_id(i: usize) -> String {
    format!("closed-{i:02}")
}

/// Waits (bounded, generously) until at most `n` runs are in memory; each new request
/// commits, which is when durable closed runs are evicted.
async fn until_at_most(s: &RunningServer, c: &mut C, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut i = 0;
    while s.executions_in_memory() > n {
        assert!(
            Instant::now() < deadline,
            "{} runs still in memory, expected at most {n}",
            s.executions_in_memory()
        );
        i += 1;
        let tick = format!("tick-{i}");
        c.start_workflow_execution(StartWorkflowExecutionRequest {
            namespace: "default".into(),
            workflow_id: tick.clone(),
            workflow_type: Some(WorkflowType {
                name: "Tick".into(),
            }),
            task_queue: tq(),
            ..Default::default()
        })
        .await
        .unwrap();
        terminate(c, &tick).await;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn closed_runs_leave_memory_and_are_read_back_on_demand() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("dev.db");
    let (s, mut c) = durable(&db).await;
    start(&mut c, "open", 10_000, 0).await;
    for i in 0..CLOSED {
        start(&mut c, &closed_id(i), 10_000, 0).await;
        terminate(&mut c, &closed_id(i)).await;
    }
    // One open run plus at most the cache's capacity of closed ones.
    until_at_most(&s, &mut c, 1 + CAPACITY).await;

    // The oldest closed run is no longer in memory, yet answers as before.
    let first = closed_id(0);
    assert_eq!(
        status(&mut c, &first).await,
        WorkflowExecutionStatus::Terminated
    );
    let evs = history(&mut c, &first).await;
    assert_eq!(
        types(&evs),
        [
            EventType::WorkflowExecutionStarted,
            EventType::WorkflowTaskScheduled,
            EventType::WorkflowExecutionTerminated,
        ]
    );
    // Id reuse is checked against the evicted run: a duplicate is refused.
    let dup = c
        .start_workflow_execution(StartWorkflowExecutionRequest {
            namespace: "default".into(),
            workflow_id: first.clone(),
            workflow_type: Some(WorkflowType { name: "Raw".into() }),
            task_queue: tq(),
            workflow_id_reuse_policy: WorkflowIdReusePolicy::RejectDuplicate as i32,
            request_id: "another-request".into(),
            ..Default::default()
        })
        .await
        .expect_err("the closed run still holds its id");
    assert_eq!(dup.code(), Code::AlreadyExists, "{dup:?}");
    // A signal to it finds it closed, not missing.
    let sig = c
        .signal_workflow_execution(SignalWorkflowExecutionRequest {
            namespace: "default".into(),
            workflow_execution: Some(WorkflowExecution {
                workflow_id: closed_id(1),
                run_id: String::new(),
            }),
            signal_name: "late".into(),
            ..Default::default()
        })
        .await
        .expect_err("closed");
    assert_eq!(sig.code(), Code::NotFound);
    assert!(sig.message().contains("already completed"), "{sig:?}");

    // Visibility sees every run, in memory or not.
    let mut raw_ids: Vec<String> = (0..CLOSED).map(closed_id).collect();
    raw_ids.push("open".into());
    let q = "WorkflowType = 'Raw'";
    let by_status = "WorkflowType = 'Raw' AND ExecutionStatus = 'Terminated'";
    assert_eq!(listed(&mut c, q).await, raw_ids);
    assert_eq!(count(&mut c, by_status).await, CLOSED as i64);
    assert_eq!(
        listed(&mut c, "ExecutionStatus = 'Running'").await,
        ["open"]
    );
    s.shutdown().await.unwrap();

    // A restarted server loads only the open run; the closed ones are still there.
    let (s, mut c) = durable(&db).await;
    assert_eq!(s.executions_in_memory(), 1);
    assert_eq!(
        status(&mut c, &closed_id(5)).await,
        WorkflowExecutionStatus::Terminated
    );
    assert_eq!(
        status(&mut c, "open").await,
        WorkflowExecutionStatus::Running
    );
    assert_eq!(listed(&mut c, q).await, raw_ids);
    assert_eq!(count(&mut c, by_status).await, CLOSED as i64);
    s.shutdown().await.unwrap();
}

/// In memory there is nowhere to read a run back from, so nothing is evicted.
#[tokio::test]
async fn an_in_memory_server_keeps_every_run() {
    let s = DevServer::builder()
        .port(0)
        .closed_cache_capacity(1)
        .start()
        .await
        .unwrap();
    let mut c = WorkflowServiceClient::connect(s.url()).await.unwrap();
    for i in 0..5 {
        start(&mut c, &closed_id(i), 10_000, 0).await;
        terminate(&mut c, &closed_id(i)).await;
    }
    assert_eq!(s.executions_in_memory(), 5);
    assert_eq!(
        status(&mut c, &closed_id(0)).await,
        WorkflowExecutionStatus::Terminated
    );
    s.shutdown().await.unwrap();
}

/// A database written before the index columns existed is migrated at start-up: its
/// closed runs are found closed (not loaded), its open run is loaded and still running.
#[tokio::test]
async fn a_database_without_index_columns_is_migrated() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("dev.db");
    let (s, mut c) = durable(&db).await;
    start(&mut c, "open", 10_000, 0).await;
    for i in 0..4 {
        start(&mut c, &closed_id(i), 10_000, 0).await;
        terminate(&mut c, &closed_id(i)).await;
    }
    s.shutdown().await.unwrap();
    {
        // The executions table as earlier versions wrote it.
        let conn = rusqlite::Connection::open(&db).unwrap();
        conn.execute_batch(
            "CREATE TABLE old AS SELECT namespace, workflow_id, run_id, state FROM executions;
             DROP TABLE executions;
             CREATE TABLE executions (
                 namespace TEXT NOT NULL, workflow_id TEXT NOT NULL, run_id TEXT NOT NULL,
                 state TEXT NOT NULL, PRIMARY KEY (namespace, workflow_id, run_id));
             INSERT INTO executions SELECT * FROM old;
             DROP TABLE old;",
        )
        .unwrap();
    }
    let (s, mut c) = durable(&db).await;
    assert_eq!(s.executions_in_memory(), 1, "only the open run is loaded");
    assert_eq!(
        status(&mut c, "open").await,
        WorkflowExecutionStatus::Running
    );
    assert_eq!(
        status(&mut c, &closed_id(2)).await,
        WorkflowExecutionStatus::Terminated
    );
    assert_eq!(
        count(&mut c, "ExecutionStatus = 'Terminated'").await,
        4,
        "closed runs are visible from the migrated file"
    );
    s.shutdown().await.unwrap();
}
