//! Sequential-steps benchmark: a workflow that runs N trivial echo activities one after
//! another, driven by the official Rust SDK worker against the embedded dev server on
//! durable SQLite (a fresh file in a temp dir for each N). For each N (default 50 and
//! 1,000; override with `HOURGLASS_BENCH_STEPS=50,1000`) it runs a few such workflows at
//! once (default 4; `HOURGLASS_BENCH_SEQ_WORKFLOWS=1`) and prints the time per step (wall
//! time / (workflows × N)), the history events the server delivered to workers in
//! workflow-task poll responses over the run (`RunningServer::workflow_task_events_delivered`)
//! against the runs' history length (`DescribeWorkflowExecution`), and at the end the ratio
//! of per-step time at the largest N to the smallest. It asserts nothing about speed.
//! Goals from the issue: per-step time at N = 1,000 within 1.2× of N = 50; events delivered
//! ≤ 3× the history length (no full-history replay per step, no O(n²)).
//!
//! Run: `cargo bench -p hourglass-devserver --bench sequential`
#[path = "support/mod.rs"]
mod support;
use hourglass_devserver::{Database, DevServer};
use std::time::{Duration, Instant};
use support::{BenchActs, env_list, sdk_client};
use temporalio_client::{WorkflowDescribeOptions, WorkflowGetResultOptions, WorkflowStartOptions};
use temporalio_macros::{workflow, workflow_methods};
use temporalio_sdk::{
    ActivityOptions, Runtime, Worker, WorkerOptions, WorkflowContext, WorkflowResult,
};

#[workflow]
#[derive(Default)]
pub struct Sequential;

#[workflow_methods]
impl Sequential {
    /// Runs `steps` echo activities in sequence; returns the sum of their results.
    #[run]
    pub async fn run(ctx: &mut WorkflowContext<Self>, steps: u64) -> WorkflowResult<u64> {
        let mut sum = 0;
        for i in 0..steps {
            sum += ctx
                .execute_activity(
                    BenchActs::echo,
                    i,
                    ActivityOptions::start_to_close_timeout(Duration::from_secs(30)),
                )
                .await?;
        }
        Ok(sum)
    }
}

struct Figures {
    per_step: Duration,
    delivered: u64,
    history: u64,
}

async fn run_steps(steps: u64, workflows: u64) -> anyhow::Result<Figures> {
    let dir = tempfile::tempdir()?;
    let server = DevServer::builder()
        .port(0)
        .database(Database::Path(dir.path().join("bench.sqlite")))
        .start()
        .await?;
    let client = sdk_client(&server.url()).await?;
    let tq = format!("bench-seq-{steps}");
    let opts = WorkerOptions::new(&tq)
        .register_activities(BenchActs)
        .register_workflow::<Sequential>()?
        .build();
    let runtime = Runtime::from_current_tokio(Default::default())?;
    let mut worker = Worker::new(&runtime, client.clone(), opts)?;
    let shutdown = worker.shutdown_handle();
    let delivered0 = server.workflow_task_events_delivered();
    let load = tokio::spawn(async move {
        let t0 = Instant::now();
        let mut tasks = Vec::new();
        for w in 0..workflows {
            let c = client.clone();
            let tq = tq.clone();
            tasks.push(tokio::spawn(async move {
                let h = c
                    .start_workflow(
                        Sequential::run,
                        steps,
                        WorkflowStartOptions::new(tq, format!("seq-{steps}-{w}")).build(),
                    )
                    .await?;
                let r = h.get_result(WorkflowGetResultOptions::default()).await?;
                anyhow::ensure!(r == steps * steps.saturating_sub(1) / 2, "wrong result {r}");
                anyhow::Ok(h)
            }));
        }
        let mut handles = Vec::new();
        for t in tasks {
            handles.push(t.await??);
        }
        let elapsed = t0.elapsed();
        shutdown();
        let mut history = 0;
        for h in handles {
            history += h
                .describe(WorkflowDescribeOptions::default())
                .await?
                .history_length() as u64;
        }
        anyhow::Ok((elapsed, history))
    });
    worker.run().await?;
    let (elapsed, history) = load.await??;
    let delivered = server.workflow_task_events_delivered() - delivered0;
    server.shutdown().await?;
    dir.close()?;
    let per_step =
        Duration::from_secs_f64(elapsed.as_secs_f64() / (workflows * steps).max(1) as f64);
    println!(
        "steps={steps:>5}  workflows={workflows}  elapsed={:>7.2}s  per_step={:>8.3} ms  \
         events_delivered={delivered:>7} ({:>6.0}/wf)  history_length={history:>7} ({:>6.0}/wf)  \
         delivered/history={:.2}x (goal <= 3x)",
        elapsed.as_secs_f64(),
        per_step.as_secs_f64() * 1000.0,
        delivered as f64 / workflows as f64,
        history as f64 / workflows as f64,
        delivered as f64 / history.max(1) as f64,
    );
    Ok(Figures {
        per_step,
        delivered,
        history,
    })
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> anyhow::Result<()> {
    if support::run_by_cargo_test() {
        return Ok(());
    }
    let mut steps = env_list("HOURGLASS_BENCH_STEPS").unwrap_or_else(|| vec![50, 1_000]);
    steps.sort_unstable();
    let workflows = env_list("HOURGLASS_BENCH_SEQ_WORKFLOWS")
        .and_then(|v| v.first().copied())
        .unwrap_or(4);
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    println!(
        "dev server sequential steps: workflows of N echo activities in sequence, official Rust \
         SDK worker, embedded server, durable SQLite, {workflows} workflows at once, {cores} cores"
    );
    let mut results = Vec::new();
    for &n in &steps {
        println!("load average before N={n}: {}", support::loadavg());
        results.push((n, run_steps(n, workflows).await?));
    }
    if let [(n0, f0), .., (n1, f1)] = &results[..] {
        println!(
            "per-step time at N={n1} vs N={n0}: {:.2}x (goal <= 1.2x); delivered/history {:.2}x \
             at N={n0}, {:.2}x at N={n1}",
            f1.per_step.as_secs_f64() / f0.per_step.as_secs_f64(),
            f0.delivered as f64 / f0.history.max(1) as f64,
            f1.delivered as f64 / f1.history.max(1) as f64,
        );
    }
    Ok(())
}
