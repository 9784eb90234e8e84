//! Durability: a real `hourglass-devserver` process is SIGKILLed while a workflow waits in
//! a task queue and again while a durable timer runs; restarted on the same SQLite file it
//! continues the workflow to completion with the official Rust SDK worker; a batch job
//! interrupted the same way resumes (`batch/restart.rs`).
#[path = "batch/restart.rs"]
mod batch_restart;
#[path = "batch/support.rs"]
mod batch_support;
#[path = "support/server_proc.rs"]
mod server_proc;
use server_proc::ServerProc;
use std::time::Duration;
use temporalio_client::{
    Client, ClientOptions, Connection, ConnectionOptions, WorkflowGetResultOptions,
    WorkflowStartOptions,
};
use temporalio_common::protos::temporal::api::{
    common::v1::WorkflowExecution,
    enums::v1::EventType,
    workflowservice::v1::{
        GetWorkflowExecutionHistoryRequest, workflow_service_client::WorkflowServiceClient,
    },
};
use temporalio_macros::{activities, workflow, workflow_methods};
use temporalio_sdk::{
    ActivityOptions, Runtime, Worker, WorkerOptions, WorkflowContext, WorkflowResult,
    activities::{ActivityContext, ActivityError},
};

pub struct Acts;

#[activities]
impl Acts {
    #[activity]
    pub async fn shout(_ctx: ActivityContext, s: String) -> Result<String, ActivityError> {
        Ok(s.to_uppercase())
    }
}

#[workflow]
#[derive(Default)]
pub struct DurableWf;

#[workflow_methods]
impl DurableWf {
    #[run]
    pub async fn run(ctx: &mut WorkflowContext<Self>, s: String) -> WorkflowResult<String> {
        let a = ctx
            .execute_activity(
                Acts::shout,
                s,
                ActivityOptions::start_to_close_timeout(Duration::from_secs(10)),
            )
            .await?;
        ctx.timer(Duration::from_secs(3)).await;
        let b = ctx
            .execute_activity(
                Acts::shout,
                "after the timer".to_string(),
                ActivityOptions::start_to_close_timeout(Duration::from_secs(10)),
            )
            .await?;
        Ok(format!("{a} / {b}"))
    }
}

async fn connect(port: u16) -> Client {
    let url = url::Url::parse(&format!("http://127.0.0.1:{port}")).unwrap();
    let conn = Connection::connect(
        ConnectionOptions::new(url)
            .identity("restart-test@localhost")
            .build(),
    )
    .await
    .unwrap();
    Client::new(conn, ClientOptions::new("default").build()).unwrap()
}

async fn has_event(port: u16, wf: &str, t: EventType) -> bool {
    let Ok(mut svc) = WorkflowServiceClient::connect(format!("http://127.0.0.1:{port}")).await
    else {
        return false;
    };
    let r = svc
        .get_workflow_execution_history(GetWorkflowExecutionHistoryRequest {
            namespace: "default".into(),
            execution: Some(WorkflowExecution {
                workflow_id: wf.into(),
                run_id: String::new(),
            }),
            ..Default::default()
        })
        .await;
    r.map(|r| {
        r.into_inner()
            .history
            .unwrap_or_default()
            .events
            .iter()
            .any(|e| e.event_type == t as i32)
    })
    .unwrap_or(false)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_and_restart_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("dev.sqlite");

    // 1. Start a workflow with no worker running, then SIGKILL the server.
    let server = ServerProc::start(&db, 0);
    let port = server.port;
    let client = connect(port).await;
    client
        .start_workflow(
            DurableWf::run,
            "hi".to_string(),
            WorkflowStartOptions::new("durable", "durable-1").build(),
        )
        .await
        .unwrap();
    server.sigkill();

    // 2. Restart on the same file; a worker picks the queued workflow task up.
    let server = ServerProc::start(&db, port);
    let client = connect(port).await;
    let opts = WorkerOptions::new("durable")
        .register_activities(Acts)
        .register_workflow::<DurableWf>()
        .unwrap()
        .build();
    let runtime = Runtime::from_current_tokio(Default::default()).unwrap();
    let mut worker = Worker::new(&runtime, client.clone(), opts).unwrap();
    let shutdown = worker.shutdown_handle();
    let scenario = tokio::spawn(async move {
        // 3. Once the durable timer is running, SIGKILL again and restart on the same port.
        let mut started = false;
        for _ in 0..200 {
            if has_event(port, "durable-1", EventType::TimerStarted).await {
                started = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        assert!(started, "timer never started");
        server.sigkill();
        let server = ServerProc::start(&db, port);
        let c3 = connect(port).await;
        let h = c3.get_workflow_handle::<DurableWf>("durable-1");
        let r = tokio::time::timeout(
            Duration::from_secs(60),
            h.get_result(WorkflowGetResultOptions::default()),
        )
        .await;
        shutdown();
        (r, server)
    });
    tokio::time::timeout(Duration::from_secs(120), worker.run())
        .await
        .unwrap()
        .unwrap();
    let (r, _server) = scenario.await.unwrap();
    assert_eq!(r.unwrap().unwrap(), "HI / AFTER THE TIMER");
}
