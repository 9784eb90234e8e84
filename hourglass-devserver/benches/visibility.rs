//! Visibility benchmark: ListWorkflowExecutions and CountWorkflowExecutions over many runs
//! (default 100,000; `HOURGLASS_BENCH_RUNS=10000` to change), in memory, through gRPC.
//! The runs are started with a workflow type and a custom Keyword search attribute taking
//! ten values; the queries filter on them. Prints the median and p95 of 20 calls each.
//!
//! Run: `cargo bench -p hourglass-devserver --bench visibility`
use hourglass_devserver::DevServer;
use std::time::{Duration, Instant};
use temporalio_common::protos::temporal::api::common::v1::{
    Payload, SearchAttributes, WorkflowType,
};
use temporalio_common::protos::temporal::api::taskqueue::v1::TaskQueue;
use temporalio_common::protos::temporal::api::workflowservice::v1::{
    CountWorkflowExecutionsRequest, ListWorkflowExecutionsRequest, StartWorkflowExecutionRequest,
    workflow_service_client::WorkflowServiceClient,
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

async fn start_runs(c: &WorkflowServiceClient<Channel>, runs: usize) -> anyhow::Result<()> {
    let mut tasks = tokio::task::JoinSet::new();
    for chunk in 0..8 {
        let mut c = c.clone();
        tasks.spawn(async move {
            for i in (chunk..runs).step_by(8) {
                let sa = SearchAttributes {
                    indexed_fields: [("BenchColor".to_string(), keyword(&format!("c{}", i % 10)))]
                        .into(),
                };
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

#[tokio::main(flavor = "multi_thread")]
async fn main() -> anyhow::Result<()> {
    if std::env::args().any(|a| a == "--test" || a == "--list") {
        return Ok(());
    }
    let runs: usize = std::env::var("HOURGLASS_BENCH_RUNS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(100_000);
    let server = DevServer::builder()
        .port(0)
        .search_attribute("BenchColor", "Keyword")
        .start()
        .await?;
    let c = WorkflowServiceClient::connect(server.url())
        .await?
        .max_decoding_message_size(64 << 20);
    let t0 = Instant::now();
    start_runs(&c, runs).await?;
    println!(
        "visibility over {runs} open runs in memory (started in {:.1} s)",
        t0.elapsed().as_secs_f64()
    );
    let queries = [
        "",
        "WorkflowType = 'Even' AND BenchColor = 'c4'",
        "BenchColor IN ('c1', 'c2') OR WorkflowId STARTS_WITH 'vis-99'",
    ];
    for q in queries {
        let mut list = Vec::new();
        let mut count = Vec::new();
        for _ in 0..20 {
            let mut c = c.clone();
            let t = Instant::now();
            c.list_workflow_executions(ListWorkflowExecutionsRequest {
                namespace: "default".into(),
                page_size: 100,
                query: q.into(),
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
            count.push(t.elapsed());
        }
        let label = if q.is_empty() { "(all)" } else { q };
        report(&format!("list 100  {label}"), list);
        report(&format!("count     {label} GROUP BY"), count);
    }
    server.shutdown().await?;
    Ok(())
}
