//! External pool benchmark (real Python processes). Prints:
//! - the time to start a pool of 16 and of 100 Python workers (all handshaken and ready;
//!   goals on the 2-core reference machine: ≤ 1 s and ≤ 3 s), forked by the pool's fork server
//!   (the default) and, for comparison, each spawned (`fork_server = false`);
//! - median and p99 latency of an echo activity through the pool, against the same echo as an
//!   in-process Rust async function, and the difference (the pool's added overhead; goals:
//!   median ≤ 0.5 ms, p99 ≤ 2 ms);
//! - echo activities per second through a pool of 8 workers under concurrent load;
//! - echo activities per second *through Temporal* (the embedded dev server, a Rust workflow
//!   fanning out): on a pool of 8 Hourglass Python workers, and on the official Temporal Python
//!   SDK worker (one process, the standard way to run Python activities) against the same
//!   server, so the pool's cost or saving shows.
//!
//! Run: `cargo bench -p hourglass-worker --bench external_pool` (add `-- quick` for fewer
//! samples and no 100-worker pool, `-- no-sdk` to skip the official SDK's venv and run).

#[path = "../../tests/src/child_output.rs"]
#[allow(dead_code)]
mod child_output;
#[path = "../tests/external_support/mod.rs"]
mod external_support;
#[path = "../../tests/src/python_env.rs"]
#[allow(dead_code, unused_imports)]
mod python_env;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use hourglass_worker::external::{
    ExternalActivity, ExternalActivityInfo, ExternalOutcome, ExternalPoolConfig, ExternalPools,
};
use temporalio_common::protos::temporal::api::common::v1::Payload;
use tokio_util::sync::CancellationToken;

const WARMUP: usize = 300;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx]
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

#[inline(never)]
async fn rust_echo(activity: &ExternalActivity) -> ExternalOutcome {
    ExternalOutcome::Completed(activity.input[0].clone())
}

fn echo_activity() -> ExternalActivity {
    let payload = Payload {
        metadata: HashMap::from([("encoding".to_string(), b"json/plain".to_vec())]),
        data: br#"{"msg":"hello","n":42}"#.to_vec(),
        ..Default::default()
    };
    ExternalActivity {
        info: ExternalActivityInfo {
            activity_type: "Echo".into(),
            activity_id: "bench".into(),
            attempt: 1,
            ..Default::default()
        },
        input: vec![payload],
        ..Default::default()
    }
}

fn bench_pool(name: &str, size: usize) -> ExternalPoolConfig {
    external_support::fixture_pool(name, size).health(
        Duration::from_secs(5),
        Duration::from_secs(2),
        3,
    )
}

/// Starts a pool of `size` workers (forked by a fork server, or each spawned), prints the time
/// to ready, stops it.
async fn startup(state: &std::path::Path, size: usize, goal: Duration, fork_server: bool) {
    let mut cfg = bench_pool(&format!("start{size}"), size).fork_server(fork_server);
    if let Some(n) = std::env::var("HOURGLASS_BENCH_STARTUP_CONCURRENCY")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        cfg = cfg.startup_concurrency(n);
    }
    let pools = ExternalPools::new(vec![cfg], state).expect("config");
    let t0 = Instant::now();
    let running = pools.start().await.expect("pool start");
    let ready = t0.elapsed();
    let report = pools.stats()[0].startup.clone().expect("startup report");
    println!(
        "start a pool of {size:>3} Python workers ({}): {:.2} s to ready ({} up, {} failed; goal <= {:.0} s) -> {}",
        if fork_server {
            "fork server"
        } else {
            "spawned, fork_server = false"
        },
        ready.as_secs_f64(),
        report.started,
        report.failures.len(),
        goal.as_secs_f64(),
        if ready <= goal { "met" } else { "NOT met" }
    );
    running.shutdown().await;
}

/// Sequential echo calls through a pool against the in-process Rust echo.
async fn overhead(state: &std::path::Path, samples: usize) {
    let pools = ExternalPools::new(vec![bench_pool("latency", 2)], state).expect("config");
    let running = pools.start().await.expect("pool start");
    let activity = echo_activity();
    let mut pool_lat = Vec::with_capacity(samples);
    let mut rust_lat = Vec::with_capacity(samples);
    for i in 0..WARMUP + samples {
        let t = Instant::now();
        let out = pools
            .execute(activity.clone(), CancellationToken::new(), |_| {})
            .await;
        let d = t.elapsed();
        assert!(matches!(out, ExternalOutcome::Completed(_)), "{out:?}");
        let t = Instant::now();
        let out = std::hint::black_box(rust_echo(std::hint::black_box(&activity)).await);
        let r = t.elapsed();
        assert!(matches!(out, ExternalOutcome::Completed(_)));
        if i >= WARMUP {
            pool_lat.push(d);
            rust_lat.push(r);
        }
    }
    pool_lat.sort();
    rust_lat.sort();
    let (pm, p99) = (percentile(&pool_lat, 0.5), percentile(&pool_lat, 0.99));
    let (rm, r99) = (percentile(&rust_lat, 0.5), percentile(&rust_lat, 0.99));
    println!(
        "echo through the pool ({samples} sequential calls): median {:.0} us, p99 {:.0} us",
        us(pm),
        us(p99)
    );
    println!(
        "echo in-process Rust:                          median {:.2} us, p99 {:.2} us",
        us(rm),
        us(r99)
    );
    let (am, a99) = (pm.saturating_sub(rm), p99.saturating_sub(r99));
    println!(
        "added overhead: median {:.0} us, p99 {:.0} us (goals: median <= 500 us, p99 <= 2000 us) -> {}",
        us(am),
        us(a99),
        if am <= Duration::from_micros(500) && a99 <= Duration::from_millis(2) {
            "met"
        } else {
            "NOT met"
        }
    );
    running.shutdown().await;
}

/// Echo activities per second through a pool of 8 workers, `in_flight` at a time.
async fn throughput(state: &std::path::Path, total: usize, in_flight: usize) {
    let cfg = bench_pool("throughput", 8).max_concurrent(in_flight.div_ceil(8));
    let pools = ExternalPools::new(vec![cfg], state).expect("config");
    let running = pools.start().await.expect("pool start");
    let activity = echo_activity();
    let run = |n: usize| {
        let pools = pools.clone();
        let activity = activity.clone();
        async move {
            let next = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
            let callers: Vec<_> = (0..in_flight)
                .map(|_| {
                    let (pools, activity, next) = (pools.clone(), activity.clone(), next.clone());
                    tokio::spawn(async move {
                        while next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) < n {
                            let out = pools
                                .execute(activity.clone(), CancellationToken::new(), |_| {})
                                .await;
                            assert!(matches!(out, ExternalOutcome::Completed(_)), "{out:?}");
                        }
                    })
                })
                .collect();
            for c in callers {
                c.await.expect("caller");
            }
        }
    };
    run(WARMUP).await;
    let t0 = Instant::now();
    run(total).await;
    let elapsed = t0.elapsed();
    println!(
        "throughput through a pool of 8 ({in_flight} in flight, {total} echo activities): {:.0} activities/s",
        total as f64 / elapsed.as_secs_f64()
    );
    running.shutdown().await;
}

/// Runs `count` Echo activities at once on `task_queue` (each a single attempt).
#[hourglass_worker::register]
#[temporalio_workflow::workflow]
#[derive(Default)]
pub struct BenchEchoFanOutWorkflow;

#[temporalio_workflow::workflow_methods]
impl BenchEchoFanOutWorkflow {
    #[run]
    pub async fn run(
        ctx: &mut temporalio_workflow::WorkflowContext<Self>,
        args: (u32, String),
    ) -> temporalio_workflow::WorkflowResult<u32> {
        let (count, task_queue) = args;
        let options = temporalio_workflow::ActivityOptions::with_start_to_close_timeout(
            Duration::from_secs(60),
        )
        .task_queue(task_queue)
        .retry_policy(
            temporalio_common::RetryPolicy::builder()
                .maximum_attempts(1)
                .build(),
        )
        .build();
        let input = echo_activity().input;
        let calls = (0..count).map(|_| {
            ctx.execute_activity(
                temporalio_common::UntypedActivity::new("Echo"),
                temporalio_common::data_converters::RawValue::new(input.clone()),
                options.clone(),
            )
        });
        let mut done = 0;
        for result in futures::future::join_all(calls).await {
            result?;
            done += 1;
        }
        Ok(done)
    }
}

const SDK_WORKER: &str = r#"
import asyncio, sys
from temporalio import activity
from temporalio.client import Client
from temporalio.worker import Worker

@activity.defn(name="Echo")
async def echo(value):
    return value

async def main():
    client = await Client.connect(sys.argv[1])
    async with Worker(client, task_queue=sys.argv[2], activities=[echo], max_concurrent_activities=32):
        print("SDK_READY", flush=True)
        await asyncio.Event().wait()

asyncio.run(main())
"#;

/// Activities per second through Temporal: `workflows` fan-outs of `per_workflow` Echo
/// activities on `activity_queue`, run by the Hourglass worker of `workflow_queue`.
async fn fan_out(
    client: &temporalio_client::Client,
    workflow_queue: &str,
    activity_queue: &str,
    workflows: u32,
    per_workflow: u32,
    tag: &str,
) -> f64 {
    use temporalio_client::{WorkflowGetResultOptions, WorkflowStartOptions};
    let t0 = Instant::now();
    let mut handles = Vec::with_capacity(workflows as usize);
    for i in 0..workflows {
        let h = client
            .start_workflow(
                BenchEchoFanOutWorkflow::run,
                (per_workflow, activity_queue.to_string()),
                WorkflowStartOptions::new(workflow_queue, format!("bench-{tag}-{i}")).build(),
            )
            .await
            .expect("start workflow");
        handles.push(h);
    }
    for h in handles {
        let done = h
            .get_result(WorkflowGetResultOptions::default())
            .await
            .expect("fan-out result");
        assert_eq!(done, per_workflow);
    }
    f64::from(workflows * per_workflow) / t0.elapsed().as_secs_f64()
}

/// The pool of 8 against the official Python SDK worker, through the same dev server.
async fn through_temporal(state: &std::path::Path, with_sdk: bool) {
    use hourglass_worker::subsystem::{Hourglass, SubsystemConfig};
    let server = hourglass_devserver::DevServer::builder()
        .port(0)
        .database(hourglass_devserver::Database::InMemory)
        .start()
        .await
        .expect("dev server");
    let pools = ExternalPools::new(vec![bench_pool("temporal", 8).max_concurrent(4)], state)
        .expect("config");
    let mut config =
        SubsystemConfig::new(hourglass_bridge::Core::linked(), server.url(), "default")
            .expect("config");
    config.task_queues = vec!["bench-pool".to_string()];
    config.external_pools = Some(pools.clone());
    let hg = Hourglass::start(config).await.expect("hourglass");
    let conn = temporalio_client::Connection::connect(
        temporalio_client::ConnectionOptions::new(url::Url::parse(&server.url()).expect("url"))
            .identity("bench@localhost")
            .build(),
    )
    .await
    .expect("connect");
    let client = temporalio_client::Client::new(
        conn,
        temporalio_client::ClientOptions::new("default").build(),
    )
    .expect("client");
    // 25 activities per workflow: with more than about 32 at once in one workflow, the fan-out
    // stalls on this dev server (seen at 40; not investigated here), so the load is spread over
    // many workflows.
    fan_out(&client, "bench-pool", "bench-pool", 2, 25, "warm").await;
    let rate = fan_out(&client, "bench-pool", "bench-pool", 40, 25, "pool").await;
    println!(
        "through Temporal, Hourglass pool of 8 Python workers (32 slots): {rate:.0} activities/s"
    );
    if with_sdk {
        match sdk_worker(&server.url()) {
            Ok(mut sdk) => {
                fan_out(&client, "bench-pool", "bench-sdk", 2, 25, "sdk-warm").await;
                let rate = fan_out(&client, "bench-pool", "bench-sdk", 40, 25, "sdk").await;
                println!(
                    "through Temporal, official Temporal Python SDK worker (1 process, 32 slots): {rate:.0} activities/s"
                );
                let _ = sdk.kill();
                let _ = sdk.wait();
            }
            Err(e) => println!("official Python SDK worker not run: {e}"),
        }
    }
    hg.shutdown().await;
    let _ = server.shutdown().await;
}

/// Starts the official SDK's worker for task queue `bench-sdk` and waits until it polls.
fn sdk_worker(url: &str) -> Result<std::process::Child, String> {
    use std::io::BufRead;
    let python = python_env::python_venv().map_err(|e| e.to_string())?;
    let address = url.trim_start_matches("http://").to_string();
    let mut child = std::process::Command::new(python)
        .args(["-c", SDK_WORKER, &address, "bench-sdk"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| e.to_string())?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let ready = std::io::BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .any(|l| l.contains("SDK_READY"));
    if ready {
        Ok(child)
    } else {
        let _ = child.kill();
        Err("the SDK worker exited before it was ready".into())
    }
}

fn main() {
    let quick = std::env::args().any(|a| a == "quick");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    rt.block_on(async {
        let python = external_support::venv_python();
        println!("python: {}", python.display());
        let state = tempfile::tempdir().expect("tempdir");
        startup(state.path(), 16, Duration::from_secs(1), true).await;
        if !quick {
            startup(state.path(), 100, Duration::from_secs(3), true).await;
        }
        startup(state.path(), 16, Duration::from_secs(1), false).await;
        if !quick {
            startup(state.path(), 100, Duration::from_secs(3), false).await;
        }
        overhead(state.path(), if quick { 500 } else { 3000 }).await;
        throughput(state.path(), if quick { 1000 } else { 5000 }, 32).await;
        let with_sdk = !std::env::args().any(|a| a == "no-sdk");
        through_temporal(state.path(), with_sdk).await;
    });
}
