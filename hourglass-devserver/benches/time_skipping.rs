//! Time-skipping benchmark: workflows that sleep 30 virtual days (one timer each), driven by
//! the official Rust SDK worker against a dev server on a skipping clock (unlocked, so the
//! clock jumps whenever nothing is outstanding). Prints the wall time per batch, the
//! virtual time that passed, and the ratio.
//!
//! Run: `cargo bench -p hourglass-devserver --bench time_skipping`
//! (`HOURGLASS_BENCH_COUNTS=1,10,100` sets the batch sizes; default 1 and 100.)
#[path = "support/mod.rs"]
mod support;
use hourglass_devserver::{DevServer, TimeSkipping};
use std::time::{Duration, Instant};
use support::{env_list, sdk_client};
use temporalio_client::{WorkflowGetResultOptions, WorkflowStartOptions};
use temporalio_common::protos::temporal::api::testservice::v1::test_service_client::TestServiceClient;
use temporalio_macros::{workflow, workflow_methods};
use temporalio_sdk::{Runtime, Worker, WorkerOptions, WorkflowContext, WorkflowResult};

const THIRTY_DAYS: Duration = Duration::from_secs(30 * 86_400);

#[workflow]
#[derive(Default)]
pub struct ThirtyDaySleep;

#[workflow_methods]
impl ThirtyDaySleep {
    #[run]
    pub async fn run(ctx: &mut WorkflowContext<Self>, n: u64) -> WorkflowResult<u64> {
        ctx.timer(THIRTY_DAYS).await;
        Ok(n)
    }
}

async fn virtual_now(url: &str) -> anyhow::Result<i64> {
    let mut ts = TestServiceClient::connect(url.to_string()).await?;
    let t = ts.get_current_time(()).await?.into_inner().time;
    Ok(t.map(|t| t.seconds).unwrap_or(0))
}

async fn run_batch(count: u64) -> anyhow::Result<()> {
    let server = DevServer::builder()
        .port(0)
        .time_skipping(TimeSkipping::Unlocked)
        .start()
        .await?;
    let client = sdk_client(&server.url()).await?;
    let tq = format!("skip-{count}");
    let opts = WorkerOptions::new(&tq)
        .register_workflow::<ThirtyDaySleep>()?
        .build();
    let runtime = Runtime::from_current_tokio(Default::default())?;
    let mut worker = Worker::new(&runtime, client.clone(), opts)?;
    let shutdown = worker.shutdown_handle();
    let v0 = virtual_now(&server.url()).await?;
    let load = tokio::spawn(async move {
        let t0 = Instant::now();
        let mut tasks = Vec::new();
        for i in 0..count {
            let c = client.clone();
            let tq = tq.clone();
            tasks.push(tokio::spawn(async move {
                let h = c
                    .start_workflow(
                        ThirtyDaySleep::run,
                        i,
                        WorkflowStartOptions::new(tq, format!("sleep-{i}")).build(),
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
    let skipped_days = (virtual_now(&server.url()).await? - v0) as f64 / 86_400.0;
    server.shutdown().await?;
    println!(
        "workflows={count:>4}  wall={:>7.3}s  virtual={skipped_days:>6.1} days  ratio={:>10.0}x",
        elapsed.as_secs_f64(),
        skipped_days * 86_400.0 / elapsed.as_secs_f64()
    );
    Ok(())
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> anyhow::Result<()> {
    if support::run_by_cargo_test() {
        return Ok(());
    }
    let counts = env_list("HOURGLASS_BENCH_COUNTS").unwrap_or_else(|| vec![1, 100]);
    println!("time skipping: workflows sleeping 30 days each, official Rust SDK worker");
    for count in counts {
        run_batch(count).await?;
    }
    Ok(())
}
