//! Bounded-memory benchmark: runs N workflows to completion on a durable dev server (each
//! started eagerly and completed by its first workflow task, over raw gRPC), then prints the
//! process's resident memory, the runs still in memory, and how long a restart on that file
//! takes to be ready. Default N = 100,000; override with `HOURGLASS_BENCH_CLOSED=20000`.
//!
//! Run: `cargo bench -p hourglass-devserver --bench closed_memory`
#[path = "support/mod.rs"]
mod support;
use hourglass_devserver::{DevServer, RunningServer};
use std::sync::Arc;
use std::time::Instant;
use temporalio_common::protos::temporal::api::{
    command::v1::{Command, CompleteWorkflowExecutionCommandAttributes, command::Attributes},
    common::v1::WorkflowType,
    enums::v1::CommandType,
    taskqueue::v1::TaskQueue,
    workflowservice::v1::{
        RespondWorkflowTaskCompletedRequest, StartWorkflowExecutionRequest,
        workflow_service_client::WorkflowServiceClient,
    },
};
use tonic::transport::Channel;

const IN_FLIGHT: usize = 64;

/// The resident set size of this process (server and client), in MiB.
fn rss_mib() -> anyhow::Result<f64> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .ok_or_else(|| anyhow::anyhow!("no VmRSS in /proc/self/status"))?
        .parse()?;
    Ok(kb / 1024.0)
}

async fn run_to_completion(mut c: WorkflowServiceClient<Channel>, i: u64) -> anyhow::Result<()> {
    let started = c
        .start_workflow_execution(StartWorkflowExecutionRequest {
            namespace: "default".into(),
            workflow_id: format!("closed-{i}"),
            workflow_type: Some(WorkflowType {
                name: "Bench".into(),
            }),
            task_queue: Some(TaskQueue {
                name: "bench-closed".into(),
                ..Default::default()
            }),
            identity: "bench".into(),
            request_id: format!("bench-request-{i}"),
            request_eager_execution: true,
            ..Default::default()
        })
        .await?
        .into_inner();
    let task = started
        .eager_workflow_task
        .ok_or_else(|| anyhow::anyhow!("no eager workflow task for workflow {i}"))?;
    c.respond_workflow_task_completed(RespondWorkflowTaskCompletedRequest {
        task_token: task.task_token,
        namespace: "default".into(),
        identity: "bench".into(),
        commands: vec![Command {
            command_type: CommandType::CompleteWorkflowExecution as i32,
            attributes: Some(Attributes::CompleteWorkflowExecutionCommandAttributes(
                CompleteWorkflowExecutionCommandAttributes { result: None },
            )),
            ..Default::default()
        }],
        ..Default::default()
    })
    .await?;
    Ok(())
}

async fn start_on(path: &std::path::Path) -> anyhow::Result<(RunningServer, f64)> {
    let t0 = Instant::now();
    let s = DevServer::builder()
        .port(0)
        .database_path(path)
        .start()
        .await?;
    Ok((s, t0.elapsed().as_secs_f64()))
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> anyhow::Result<()> {
    if support::run_by_cargo_test() {
        return Ok(());
    }
    let count: u64 = std::env::var("HOURGLASS_BENCH_CLOSED")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100_000);
    let dir = tempfile::tempdir()?;
    let db = dir.path().join("closed.sqlite");
    let rss0 = rss_mib()?;
    let (server, _) = start_on(&db).await?;
    let client = WorkflowServiceClient::connect(server.url()).await?;
    let sem = Arc::new(tokio::sync::Semaphore::new(IN_FLIGHT));
    let t0 = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..count {
        let permit = sem.clone().acquire_owned().await?;
        let c = client.clone();
        tasks.spawn(async move {
            let _permit = permit;
            run_to_completion(c, i).await
        });
        while let Some(r) = tasks.try_join_next() {
            r??;
        }
    }
    while let Some(r) = tasks.join_next().await {
        r??;
    }
    let elapsed = t0.elapsed().as_secs_f64();
    println!(
        "closed workflows={count}  elapsed={elapsed:.1}s  rate={:.0} wf/s",
        count as f64 / elapsed
    );
    println!(
        "after the run: rss={:.1} MiB (at start {rss0:.1} MiB)  runs in memory={}",
        rss_mib()?,
        server.executions_in_memory()
    );
    drop(client);
    server.shutdown().await?;
    let (server, ready) = start_on(&db).await?;
    println!(
        "restart on that file: ready in {ready:.3}s  rss={:.1} MiB  runs in memory={}",
        rss_mib()?,
        server.executions_in_memory()
    );
    server.shutdown().await?;
    Ok(())
}
