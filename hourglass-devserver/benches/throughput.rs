//! Throughput benchmark: workflows of one activity each, driven by the official Rust SDK
//! worker against the dev server on the same machine, with durable SQLite and in memory.
//! Prints completed workflows per second for each workflow count (default 1,000 and
//! 10,000; override with `HOURGLASS_BENCH_COUNTS=500,2000`).
//!
//! Run: `cargo bench -p hourglass-devserver --bench throughput`
use hourglass_devserver::{Database, DevServer};
use std::sync::Arc;
use std::time::{Duration, Instant};
use temporalio_client::{
    Client, ClientOptions, Connection, ConnectionOptions, WorkflowGetResultOptions,
    WorkflowStartOptions,
};
use temporalio_macros::{activities, workflow, workflow_methods};
use temporalio_sdk::{
    ActivityOptions, Runtime, Worker, WorkerOptions, WorkflowContext, WorkflowResult,
    activities::{ActivityContext, ActivityError},
};

pub struct BenchActs;

#[activities]
impl BenchActs {
    #[activity]
    pub async fn echo(_ctx: ActivityContext, n: u64) -> Result<u64, ActivityError> {
        Ok(n)
    }
}

#[workflow]
#[derive(Default)]
pub struct OneActivity;

#[workflow_methods]
impl OneActivity {
    #[run]
    pub async fn run(ctx: &mut WorkflowContext<Self>, n: u64) -> WorkflowResult<u64> {
        Ok(ctx
            .execute_activity(
                BenchActs::echo,
                n,
                ActivityOptions::start_to_close_timeout(Duration::from_secs(30)),
            )
            .await?)
    }
}

const IN_FLIGHT: usize = 400;

async fn run_one(label: &str, db: Database, count: u64) -> anyhow::Result<f64> {
    let server = DevServer::builder().port(0).database(db).start().await?;
    let url = url::Url::parse(&server.url())?;
    let conn = Connection::connect(
        ConnectionOptions::new(url)
            .identity("bench@localhost")
            .build(),
    )
    .await?;
    let client = Client::new(conn, ClientOptions::new("default").build())?;
    let tq = format!("bench-{label}-{count}");
    let opts = WorkerOptions::new(&tq)
        .register_activities(BenchActs)
        .register_workflow::<OneActivity>()?
        .max_cached_workflows(2000)
        .build();
    let runtime = Runtime::from_current_tokio(Default::default())?;
    let mut worker = Worker::new(&runtime, client.clone(), opts)?;
    let shutdown = worker.shutdown_handle();
    let load = tokio::spawn(async move {
        let sem = Arc::new(tokio::sync::Semaphore::new(IN_FLIGHT));
        let t0 = Instant::now();
        let mut tasks = Vec::with_capacity(count as usize);
        for i in 0..count {
            let permit = sem.clone().acquire_owned().await?;
            let c = client.clone();
            let tq = tq.clone();
            tasks.push(tokio::spawn(async move {
                let _permit = permit;
                let h = c
                    .start_workflow(
                        OneActivity::run,
                        i,
                        WorkflowStartOptions::new(tq, format!("bench-{i}")).build(),
                    )
                    .await?;
                let r = h.get_result(WorkflowGetResultOptions::default()).await?;
                anyhow::ensure!(r == i, "wrong result {r} for {i}");
                anyhow::Ok(())
            }));
        }
        for t in tasks {
            t.await??;
        }
        let elapsed = t0.elapsed();
        shutdown();
        anyhow::Ok(elapsed)
    });
    worker.run().await?;
    let elapsed = load.await??;
    server.shutdown().await?;
    let rate = count as f64 / elapsed.as_secs_f64();
    println!(
        "{label:>8}  workflows={count:>6}  elapsed={:>7.2}s  rate={rate:>8.1} wf/s",
        elapsed.as_secs_f64()
    );
    Ok(rate)
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> anyhow::Result<()> {
    // `cargo test` runs bench targets with `--bench`-less args; only run when benchmarking.
    if std::env::args().any(|a| a == "--test" || a == "--list") {
        return Ok(());
    }
    let counts: Vec<u64> = std::env::var("HOURGLASS_BENCH_COUNTS")
        .ok()
        .map(|s| s.split(',').filter_map(|x| x.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![1_000, 10_000]);
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    println!(
        "dev server throughput: one-activity workflows, official Rust SDK worker, {cores} cores"
    );
    for &count in &counts {
        let dir = tempfile::tempdir()?;
        run_one(
            "sqlite",
            Database::Path(dir.path().join("bench.sqlite")),
            count,
        )
        .await?;
        run_one("memory", Database::InMemory, count).await?;
    }
    Ok(())
}
