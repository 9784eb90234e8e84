//! How long the Web UI takes to render its heaviest pages: the page of a workflow with
//! 10,000 history events, and the workflow list over 100,000 workflows (with status counts).
//! Prints the median of a few requests for each. Sizes: `HOURGLASS_BENCH_EVENTS` (default
//! 10000) and `HOURGLASS_BENCH_WORKFLOWS` (default 100000).
//!
//! Run: `cargo bench -p hourglass-devserver --bench web_ui_pages`
#[path = "support/mod.rs"]
mod support;
use bytes::Bytes;
use hourglass_devserver::{Database, DevServer};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use support::env_or;
use temporalio_common::protos::temporal::api::common::v1::{WorkflowExecution, WorkflowType};
use temporalio_common::protos::temporal::api::taskqueue::v1::TaskQueue;
use temporalio_common::protos::temporal::api::workflowservice::v1::{
    CountWorkflowExecutionsRequest, ListWorkflowExecutionsRequest, SignalWorkflowExecutionRequest,
    StartWorkflowExecutionRequest, workflow_service_client::WorkflowServiceClient,
};

type C = WorkflowServiceClient<tonic::transport::Channel>;

async fn start(c: &mut C, id: &str) -> String {
    c.start_workflow_execution(StartWorkflowExecutionRequest {
        namespace: "default".into(),
        workflow_id: id.into(),
        workflow_type: Some(WorkflowType {
            name: "BenchType".into(),
        }),
        task_queue: Some(TaskQueue {
            name: "bench-tq".into(),
            ..Default::default()
        }),
        request_id: format!("req-{id}"),
        ..Default::default()
    })
    .await
    .expect("start")
    .into_inner()
    .run_id
}

/// Median time of `n` GETs of `path`, and the body size.
async fn time_get(addr: SocketAddr, path: &str, n: usize) -> (Duration, usize) {
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let mut times = Vec::new();
    let mut size = 0;
    for _ in 0..n {
        let req = http::Request::get(format!("http://{addr}{path}"))
            .body(Full::default())
            .expect("request");
        let t = Instant::now();
        let resp = client.request(req).await.expect("get");
        assert_eq!(resp.status(), 200, "{path}");
        size = resp
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes()
            .len();
        times.push(t.elapsed());
    }
    times.sort();
    (times[times.len() / 2], size)
}

#[tokio::main]
async fn main() {
    let events = env_or("HOURGLASS_BENCH_EVENTS", 10_000);
    let workflows = env_or("HOURGLASS_BENCH_WORKFLOWS", 100_000);
    let dir = tempfile::tempdir().expect("tempdir");
    let server = DevServer::builder()
        .port(0)
        .ui_port(0)
        .database(Database::Path(dir.path().join("bench.db")))
        .start()
        .await
        .expect("server");
    let ui = server.ui_addr().expect("ui");
    let mut c = WorkflowServiceClient::connect(server.url())
        .await
        .expect("connect");

    // One workflow with `events` events: started (2 events) then signals.
    let t = Instant::now();
    let run = start(&mut c, "big-history").await;
    for i in 0..events.saturating_sub(2) {
        c.signal_workflow_execution(SignalWorkflowExecutionRequest {
            namespace: "default".into(),
            workflow_execution: Some(WorkflowExecution {
                workflow_id: "big-history".into(),
                run_id: String::new(),
            }),
            signal_name: "s".into(),
            request_id: format!("sig-{i}"),
            ..Default::default()
        })
        .await
        .expect("signal");
    }
    println!("set-up: {events} events in {:.1?}", t.elapsed());
    let (median, size) = time_get(
        ui,
        &format!("/namespaces/default/workflows/big-history/{run}"),
        5,
    )
    .await;
    println!(
        "workflow page, {events} events: median {median:.1?} ({} KiB of HTML)",
        size / 1024
    );

    // `workflows` workflows, started concurrently.
    let t = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for w in 0..16 {
        let mut c = c.clone();
        tasks.spawn(async move {
            let mut i = w;
            while i < workflows {
                start(&mut c, &format!("wf-{i}")).await;
                i += 16;
            }
        });
    }
    while tasks.join_next().await.is_some() {}
    println!("set-up: {workflows} workflows in {:.1?}", t.elapsed());
    let (median, size) = time_get(ui, "/namespaces/default/workflows", 5).await;
    println!(
        "workflow list over {} workflows (page of 50, status counts): median {median:.1?} ({} KiB)",
        workflows + 1,
        size / 1024
    );
    let (median, _) = time_get(
        ui,
        "/namespaces/default/workflows?query=WorkflowId%20STARTS_WITH%20%27wf-9%27",
        5,
    )
    .await;
    println!("workflow list with a STARTS_WITH query: median {median:.1?}");
    // What the list page waits for: the two visibility calls it makes.
    let t = Instant::now();
    c.list_workflow_executions(ListWorkflowExecutionsRequest {
        namespace: "default".into(),
        page_size: 50,
        ..Default::default()
    })
    .await
    .expect("list");
    println!(
        "  of which ListWorkflowExecutions (50): {:.1?}",
        t.elapsed()
    );
    let t = Instant::now();
    c.count_workflow_executions(CountWorkflowExecutionsRequest {
        namespace: "default".into(),
        query: "GROUP BY ExecutionStatus".into(),
    })
    .await
    .expect("count");
    println!(
        "  of which CountWorkflowExecutions GROUP BY ExecutionStatus: {:.1?}",
        t.elapsed()
    );
    server.shutdown().await.expect("shutdown");
}
