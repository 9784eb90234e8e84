//! Visibility benchmark: ListWorkflowExecutions and CountWorkflowExecutions over many runs
//! (default 100,000; `HOURGLASS_BENCH_RUNS=10000` to change), through gRPC, in two setups:
//!
//! 1. **closed runs in a database file** (the goal: a selective query and a count
//!    with `GROUP BY ExecutionStatus` each in ≤ 50 ms): runs with three custom attributes
//!    (`BenchColor` Keyword of 100 values, so one value is 1% of the rows, `BenchSize` Int,
//!    `BenchVip` Bool) that close by their run timeout (TimedOut) or are terminated (every
//!    tenth); the server keeps only its closed-run cache in memory and answers from SQL.
//! 2. **open runs in memory** (`HOURGLASS_BENCH_OPEN=1`): the same starts on an in-memory
//!    server, filtered by the in-memory evaluation.
//!
//! Prints the median and p95 of 20 calls of each query.
//!
//! Run: `cargo bench -p hourglass-devserver --bench visibility`
#[path = "support/mod.rs"]
mod support;
use hourglass_devserver::{Database, DevServer, RunningServer};
use std::time::{Duration, Instant};
use temporalio_common::protos::temporal::api::common::v1::{
    Payload, SearchAttributes, WorkflowExecution, WorkflowType,
};
use temporalio_common::protos::temporal::api::taskqueue::v1::TaskQueue;
use temporalio_common::protos::temporal::api::workflowservice::v1::{
    CountWorkflowExecutionsRequest, ListWorkflowExecutionsRequest, StartWorkflowExecutionRequest,
    TerminateWorkflowExecutionRequest, workflow_service_client::WorkflowServiceClient,
};
use tonic::transport::Channel;

fn keyword(v: &str) -> Payload {
    Payload {
        metadata: [
            ("encoding".to_string(), b"json/plain".to_vec()),
            ("type".to_string(), b"Keyword".to_vec()),
        ]
        .into(),
        data: format!("\"{v}\"").into_bytes(),
        ..Default::default()
    }
}

fn typed(json: String, ty: &str) -> Payload {
    Payload {
        metadata: [
            ("encoding".to_string(), b"json/plain".to_vec()),
            ("type".to_string(), ty.as_bytes().to_vec()),
        ]
        .into(),
        data: json.into_bytes(),
        ..Default::default()
    }
}

/// Starts `runs` runs; with `run_timeout`, every one but each tenth times out after it.
async fn start_runs(
    c: &WorkflowServiceClient<Channel>,
    runs: usize,
    run_timeout: Option<Duration>,
) -> anyhow::Result<()> {
    let mut tasks = tokio::task::JoinSet::new();
    for chunk in 0..32 {
        let mut c = c.clone();
        tasks.spawn(async move {
            for i in (chunk..runs).step_by(32) {
                let sa = SearchAttributes {
                    indexed_fields: [
                        ("BenchColor".to_string(), keyword(&format!("c{}", i % 100))),
                        (
                            "BenchSize".to_string(),
                            typed((i % 1000).to_string(), "Int"),
                        ),
                        (
                            "BenchVip".to_string(),
                            typed((i % 3 == 0).to_string(), "Bool"),
                        ),
                    ]
                    .into(),
                };
                let timeout = run_timeout.filter(|_| i % 10 != 0);
                c.start_workflow_execution(StartWorkflowExecutionRequest {
                    namespace: "default".into(),
                    workflow_id: format!("vis-{i}"),
                    workflow_type: Some(WorkflowType {
                        name: if i % 2 == 0 { "Even" } else { "Odd" }.into(),
                    }),
                    task_queue: Some(TaskQueue {
                        name: "vis-bench".into(),
                        ..Default::default()
                    }),
                    request_id: format!("r-{i}"),
                    search_attributes: Some(sa),
                    workflow_run_timeout: timeout.map(|t| prost_wkt_types::Duration {
                        seconds: t.as_secs() as i64,
                        nanos: 0,
                    }),
                    ..Default::default()
                })
                .await?;
            }
            anyhow::Ok(())
        });
    }
    while let Some(r) = tasks.join_next().await {
        r??;
    }
    Ok(())
}

fn report(what: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{what:<58} median={:>8.2} ms  p95={:>8.2} ms",
        ms(samples[samples.len() / 2]),
        ms(samples[samples.len() * 95 / 100])
    );
}

/// Terminates every tenth run (those started without a run timeout).
async fn terminate_tenth(c: &WorkflowServiceClient<Channel>, runs: usize) -> anyhow::Result<()> {
    let mut tasks = tokio::task::JoinSet::new();
    for chunk in 0..32 {
        let mut c = c.clone();
        tasks.spawn(async move {
            for i in (chunk * 10..runs).step_by(320) {
                c.terminate_workflow_execution(TerminateWorkflowExecutionRequest {
                    namespace: "default".into(),
                    workflow_execution: Some(WorkflowExecution {
                        workflow_id: format!("vis-{i}"),
                        run_id: String::new(),
                    }),
                    reason: "bench".into(),
                    ..Default::default()
                })
                .await?;
            }
            anyhow::Ok(())
        });
    }
    while let Some(r) = tasks.join_next().await {
        r??;
    }
    Ok(())
}

async fn count(c: &WorkflowServiceClient<Channel>, query: &str) -> anyhow::Result<i64> {
    let mut c = c.clone();
    Ok(c.count_workflow_executions(CountWorkflowExecutionsRequest {
        namespace: "default".into(),
        query: query.into(),
    })
    .await?
    .into_inner()
    .count)
}

/// Times 20 lists (a page of 100) and 20 counts grouped by status of each query.
async fn measure(c: &WorkflowServiceClient<Channel>, queries: &[&str]) -> anyhow::Result<()> {
    for q in queries {
        let mut list = Vec::new();
        let mut counts = Vec::new();
        for _ in 0..20 {
            let mut c = c.clone();
            let t = Instant::now();
            c.list_workflow_executions(ListWorkflowExecutionsRequest {
                namespace: "default".into(),
                page_size: 100,
                query: q.to_string(),
                ..Default::default()
            })
            .await?;
            list.push(t.elapsed());
            let t = Instant::now();
            c.count_workflow_executions(CountWorkflowExecutionsRequest {
                namespace: "default".into(),
                query: format!("{q} GROUP BY ExecutionStatus").trim().into(),
            })
            .await?;
            counts.push(t.elapsed());
        }
        let label = if q.is_empty() { "(all)" } else { q };
        let n = count(c, q).await?;
        report(&format!("list 100  {label} [{n} rows]"), list);
        report(&format!("count     {label} GROUP BY"), counts);
    }
    Ok(())
}

const QUERIES: &[&str] = &[
    "",
    "BenchColor = 'c42'",
    "WorkflowType = 'Even' AND BenchColor = 'c42'",
    "BenchColor IN ('c1', 'c2') AND BenchSize < 500 AND BenchVip = true",
    "ExecutionStatus = 'Terminated' AND BenchSize BETWEEN 100 AND 109",
    "BenchColor IN ('c1', 'c2') OR WorkflowId STARTS_WITH 'vis-99'",
];

async fn server(db: Database) -> anyhow::Result<RunningServer> {
    Ok(DevServer::builder()
        .port(0)
        .database(db)
        .search_attribute("BenchColor", "Keyword")
        .search_attribute("BenchSize", "Int")
        .search_attribute("BenchVip", "Bool")
        .start()
        .await?)
}

async fn closed_on_disk(runs: usize) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let server = server(Database::Path(dir.path().join("bench.db"))).await?;
    let c = WorkflowServiceClient::connect(server.url())
        .await?
        .max_decoding_message_size(64 << 20);
    let t0 = Instant::now();
    start_runs(&c, runs, Some(Duration::from_secs(2))).await?;
    terminate_tenth(&c, runs).await?;
    while count(&c, "ExecutionStatus = 'Running'").await? > 0 {
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    println!(
        "visibility over {runs} closed runs in a database file ({} in memory; started and \
         closed in {:.1} s)",
        server.executions_in_memory(),
        t0.elapsed().as_secs_f64()
    );
    measure(&c, QUERIES).await?;
    server.shutdown().await?;
    Ok(())
}

async fn open_in_memory(runs: usize) -> anyhow::Result<()> {
    let server = server(Database::InMemory).await?;
    let c = WorkflowServiceClient::connect(server.url())
        .await?
        .max_decoding_message_size(64 << 20);
    let t0 = Instant::now();
    start_runs(&c, runs, None).await?;
    println!(
        "visibility over {runs} open runs in memory (started in {:.1} s)",
        t0.elapsed().as_secs_f64()
    );
    measure(&c, QUERIES).await?;
    server.shutdown().await?;
    Ok(())
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> anyhow::Result<()> {
    if support::run_by_cargo_test() {
        return Ok(());
    }
    let runs: usize = std::env::var("HOURGLASS_BENCH_RUNS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(100_000);
    closed_on_disk(runs).await?;
    if std::env::var("HOURGLASS_BENCH_OPEN").is_ok_and(|v| v == "1") {
        open_in_memory(runs).await?;
    }
    Ok(())
}
