//! Error paths: startup failures come back as errors, bad requests as the gRPC statuses
//! real Temporal uses (with the details the SDKs decode), never a panic.
use hourglass_devserver::{Database, DevServer, DevServerError, RunningServer};
use prost::Message;
use std::time::{Duration, Instant};
use temporalio_common::protos::google::rpc::Status as RpcStatus;
use temporalio_common::protos::temporal::api::{
    common::v1::{WorkflowExecution, WorkflowType},
    enums::v1::WorkflowIdConflictPolicy,
    errordetails::v1::WorkflowExecutionAlreadyStartedFailure,
    taskqueue::v1::TaskQueue,
    workflowservice::v1::{
        DescribeNamespaceRequest, DescribeWorkflowExecutionRequest,
        GetWorkerBuildIdCompatibilityRequest, GetWorkerTaskReachabilityRequest,
        GetWorkflowExecutionHistoryRequest, ListWorkflowExecutionsRequest,
        PollActivityTaskQueueRequest, RespondActivityTaskCompletedRequest,
        StartWorkflowExecutionRequest, workflow_service_client::WorkflowServiceClient,
    },
};
use tonic::Code;
use tonic::transport::Channel;

async fn server() -> (RunningServer, WorkflowServiceClient<Channel>) {
    let s = DevServer::builder()
        .port(0)
        .database(Database::InMemory)
        .start()
        .await
        .unwrap();
    let c = WorkflowServiceClient::connect(s.url()).await.unwrap();
    (s, c)
}

fn start_req(id: &str, request_id: &str) -> StartWorkflowExecutionRequest {
    StartWorkflowExecutionRequest {
        namespace: "default".into(),
        workflow_id: id.into(),
        workflow_type: Some(WorkflowType { name: "Wf".into() }),
        task_queue: Some(TaskQueue {
            name: "tq".into(),
            ..Default::default()
        }),
        request_id: request_id.into(),
        ..Default::default()
    }
}

#[tokio::test]
async fn port_in_use_is_a_clear_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let err = DevServer::builder()
        .port(port)
        .start()
        .await
        .err()
        .expect("bind must fail");
    assert!(matches!(err, DevServerError::Bind { .. }), "{err}");
    assert!(err.to_string().contains(&port.to_string()), "{err}");
}

#[tokio::test]
async fn unreadable_database_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    // A directory is not a database file.
    let err = DevServer::builder()
        .port(0)
        .database_path(dir.path())
        .start()
        .await
        .err()
        .expect("must fail");
    assert!(matches!(err, DevServerError::OpenDatabase { .. }), "{err}");
    // Nor is a file of garbage.
    let junk = dir.path().join("junk.sqlite");
    std::fs::write(&junk, vec![0x42u8; 8192]).unwrap();
    let err = DevServer::builder()
        .port(0)
        .database_path(&junk)
        .start()
        .await
        .err()
        .expect("must fail");
    assert!(err.to_string().contains("junk.sqlite"), "{err}");
}

#[tokio::test]
async fn statuses_for_bad_requests() {
    let (s, mut c) = server().await;

    // Unknown namespace.
    let e = c
        .describe_namespace(DescribeNamespaceRequest {
            namespace: "nope".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::NotFound);

    // Unknown workflow.
    let e = c
        .describe_workflow_execution(DescribeWorkflowExecutionRequest {
            namespace: "default".into(),
            execution: Some(WorkflowExecution {
                workflow_id: "missing".into(),
                run_id: String::new(),
            }),
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::NotFound);

    // Missing required fields.
    let e = c
        .start_workflow_execution(start_req("", "r0"))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);

    // Duplicate start: AlreadyExists with the details the SDKs decode.
    let first = c
        .start_workflow_execution(start_req("dup", "r1"))
        .await
        .unwrap()
        .into_inner();
    let e = c
        .start_workflow_execution(start_req("dup", "r2"))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::AlreadyExists);
    let st = RpcStatus::decode(e.details()).unwrap();
    let d = WorkflowExecutionAlreadyStartedFailure::decode(st.details[0].value.as_slice()).unwrap();
    assert_eq!(d.run_id, first.run_id);

    // Same request id: idempotent, same run.
    let again = c
        .start_workflow_execution(start_req("dup", "r1"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(again.run_id, first.run_id);

    // Conflict policy USE_EXISTING: no new run.
    let mut req = start_req("dup", "r3");
    req.workflow_id_conflict_policy = WorkflowIdConflictPolicy::UseExisting as i32;
    let existing = c.start_workflow_execution(req).await.unwrap().into_inner();
    assert_eq!(existing.run_id, first.run_id);
    assert!(!existing.started);

    // Garbage task token.
    let e = c
        .respond_activity_task_completed(RespondActivityTaskCompletedRequest {
            task_token: b"\xff\x00garbage".to_vec(),
            namespace: "default".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);

    // Malformed page token and unsupported visibility query.
    let e = c
        .get_workflow_execution_history(GetWorkflowExecutionHistoryRequest {
            namespace: "default".into(),
            execution: Some(WorkflowExecution {
                workflow_id: "dup".into(),
                run_id: String::new(),
            }),
            next_page_token: b"abc".to_vec(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    let e = c
        .list_workflow_executions(ListWorkflowExecutionsRequest {
            namespace: "default".into(),
            query: "WorkflowId = 'a' OR".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert_eq!(
        e.message(),
        "invalid query: malformed SQL query: syntax error at position 20 near end of query"
    );

    // History paginates.
    let mut token = vec![];
    let mut ids = vec![];
    loop {
        let r = c
            .get_workflow_execution_history(GetWorkflowExecutionHistoryRequest {
                namespace: "default".into(),
                execution: Some(WorkflowExecution {
                    workflow_id: "dup".into(),
                    run_id: String::new(),
                }),
                maximum_page_size: 1,
                next_page_token: token.clone(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        ids.extend(r.history.unwrap().events.iter().map(|e| e.event_id));
        if r.next_page_token.is_empty() {
            break;
        }
        token = r.next_page_token;
    }
    assert_eq!(ids, vec![1, 2]); // started, workflow task scheduled

    s.shutdown().await.unwrap();
}

#[tokio::test]
async fn empty_long_poll_returns_before_client_deadline() {
    let (s, mut c) = server().await;
    let mut req = tonic::Request::new(PollActivityTaskQueueRequest {
        namespace: "default".into(),
        task_queue: Some(TaskQueue {
            name: "empty".into(),
            ..Default::default()
        }),
        identity: "t".into(),
        ..Default::default()
    });
    req.set_timeout(Duration::from_secs(3));
    let t0 = Instant::now();
    let r = c.poll_activity_task_queue(req).await.unwrap().into_inner();
    assert!(r.task_token.is_empty());
    assert!(t0.elapsed() < Duration::from_secs(3));
    s.shutdown().await.unwrap();
}

#[tokio::test]
async fn state_survives_graceful_restart() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("s.sqlite");
    let s = DevServer::builder()
        .port(0)
        .database_path(&db)
        .start()
        .await
        .unwrap();
    let mut c = WorkflowServiceClient::connect(s.url()).await.unwrap();
    let run = c
        .start_workflow_execution(start_req("kept", "r"))
        .await
        .unwrap()
        .into_inner()
        .run_id;
    s.shutdown().await.unwrap();
    let s = DevServer::builder()
        .port(0)
        .database_path(&db)
        .start()
        .await
        .unwrap();
    let mut c = WorkflowServiceClient::connect(s.url()).await.unwrap();
    let d = c
        .describe_workflow_execution(DescribeWorkflowExecutionRequest {
            namespace: "default".into(),
            execution: Some(WorkflowExecution {
                workflow_id: "kept".into(),
                run_id: String::new(),
            }),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        d.workflow_execution_info.unwrap().execution.unwrap().run_id,
        run
    );
    s.shutdown().await.unwrap();
}

#[tokio::test]
async fn deprecated_worker_versioning_apis_are_refused_as_by_a_dev_server() {
    let (s, mut c) = server().await;
    let reach = c
        .get_worker_task_reachability(GetWorkerTaskReachabilityRequest {
            namespace: "default".into(),
            build_ids: vec!["b1".into()],
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(reach.code(), Code::PermissionDenied);
    assert_eq!(
        reach.message(),
        "Worker versioning v0.2 (Rules-based, deprecated) is disabled on this namespace."
    );
    let compat = c
        .get_worker_build_id_compatibility(GetWorkerBuildIdCompatibilityRequest {
            namespace: "default".into(),
            task_queue: "tq".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(compat.code(), Code::PermissionDenied);
    assert!(
        compat.message().contains("v0.1 (Version Set-based"),
        "{}",
        compat.message()
    );
    let detail = RpcStatus::decode(compat.details()).unwrap();
    assert!(
        detail.details[0]
            .type_url
            .ends_with("PermissionDeniedFailure")
    );
    s.shutdown().await.unwrap();
}
