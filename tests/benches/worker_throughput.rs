//! Worker benchmarks, printed in one run against one dev server:
//! - throughput of one-activity workflows through Hourglass vs the official Rust SDK worker;
//! - median time from a BridgeHolder crash to the default worker polling again;
//! - median time from a core reload to polling again (dynamic core);
//!
//! Each phase also counts workflows lost (must be 0).
//!
//! `cargo bench -p hourglass-tests --bench worker_throughput` (N via `HOURGLASS_BENCH_WORKFLOWS`,
//! default 2000).

use hourglass_bridge::Core;
use hourglass_devserver::{Database, DevServer, RunningServer};
use hourglass_worker::examples::GreetingWorkflow;
use hourglass_worker::subsystem::{Hourglass, SubsystemConfig};
use std::time::{Duration, Instant};
use temporalio_client::{
    Client, ClientOptions, Connection, ConnectionOptions, WorkflowGetResultOptions,
    WorkflowStartOptions,
};
use temporalio_macros::{activities, workflow, workflow_methods};
use temporalio_sdk::activities::{ActivityContext, ActivityError};
use temporalio_sdk::{
    ActivityOptions, Runtime, Worker, WorkerOptions, WorkflowContext, WorkflowResult,
};

/// The official SDK's twin of Hourglass's greeting example.
pub struct SdkActivities;

#[activities]
impl SdkActivities {
    #[activity]
    pub async fn greet(_ctx: ActivityContext, name: String) -> Result<String, ActivityError> {
        Ok(format!("Hello, {name}!"))
    }
}

#[workflow]
#[derive(Default)]
pub struct SdkGreetingWorkflow;

#[workflow_methods]
impl SdkGreetingWorkflow {
    #[run]
    pub async fn run(ctx: &mut WorkflowContext<Self>, name: String) -> WorkflowResult<String> {
        Ok(ctx
            .execute_activity(
                SdkActivities::greet,
                name,
                ActivityOptions::start_to_close_timeout(Duration::from_secs(30)),
            )
            .await?)
    }
}

async fn client(server: &RunningServer) -> Client {
    let url = url::Url::parse(&server.url()).expect("url");
    let conn = Connection::connect(
        ConnectionOptions::new(url)
            .identity("bench@localhost")
            .build(),
    )
    .await
    .expect("connect");
    Client::new(conn, ClientOptions::new("default").build()).expect("client")
}

/// Starts `n` workflows (at most 200 starts in flight) and waits for every result; returns
/// the elapsed time and the number that did not complete correctly.
async fn drive<W>(c: &Client, tq: &str, prefix: &str, n: usize, wf: fn() -> W) -> (Duration, usize)
where
    W: temporalio_common::HasWorkflowDefinition
        + temporalio_common::WorkflowDefinition<Input = String, Output = String>
        + Send
        + Sync
        + 'static,
{
    use futures::StreamExt;
    let start = Instant::now();
    let lost = futures::stream::iter(0..n)
        .map(|i| {
            let c = c.clone();
            let tq = tq.to_string();
            let id = format!("{prefix}-{i}");
            async move {
                let h = match c
                    .start_workflow(
                        wf(),
                        format!("w{i}"),
                        WorkflowStartOptions::new(&tq, &id).build(),
                    )
                    .await
                {
                    Ok(h) => h,
                    Err(_) => return 1,
                };
                match tokio::time::timeout(
                    Duration::from_secs(300),
                    h.get_result(WorkflowGetResultOptions::default()),
                )
                .await
                {
                    Ok(Ok(r)) if r == format!("Hello, w{i}!") => 0,
                    _ => 1,
                }
            }
        })
        .buffer_unordered(200)
        .fold(0usize, |acc, x| async move { acc + x })
        .await;
    (start.elapsed(), lost)
}

/// CPU time this process has used so far (user + system; Linux `/proc`, 10 ms ticks), or
/// `None` where that is not readable. The server, the client and the worker share the
/// process, so per-workflow differences between runs are the workers' own.
fn cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(Duration::from_millis(ticks * 10))
}

fn cpu_per_workflow(before: Option<Duration>, n: usize) -> String {
    match (before, cpu_time()) {
        (Some(b), Some(a)) => format!(
            "{:.2} ms CPU/workflow",
            (a - b).as_secs_f64() * 1000.0 / n as f64
        ),
        _ => "CPU n/a".into(),
    }
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

async fn wait_polling(hg: &Hourglass, tq: &str, old: Option<u64>) {
    loop {
        if let Some(id) = hg.bridge_holder().and_then(|h| h.registration_id(tq))
            && Some(id) != old
            && hg.task_queues().iter().any(|t| t == tq)
        {
            return;
        }
        tokio::task::yield_now().await;
    }
}

/// One run of the official Rust SDK worker over `n` workflows on its own task queue.
async fn sdk_run(c: &Client, n: usize, round: usize) -> (Duration, usize) {
    // Timed from before the worker is created, like the Hourglass side.
    let begun = Instant::now();
    let sdk_tq = format!("bench-sdk-{round}");
    let opts = WorkerOptions::new(&sdk_tq)
        .register_activities(SdkActivities)
        .register_workflow::<SdkGreetingWorkflow>()
        .expect("register")
        .build();
    let runtime = Runtime::from_current_tokio(Default::default()).expect("runtime");
    let mut worker = Worker::new(&runtime, c.clone(), opts).expect("sdk worker");
    let shutdown = worker.shutdown_handle();
    let c2 = c.clone();
    let run = tokio::spawn(async move {
        let startup = begun.elapsed();
        let (t, lost) = drive(&c2, &sdk_tq, &format!("sdk{round}"), n, || {
            SdkGreetingWorkflow::run
        })
        .await;
        shutdown();
        (t + startup, lost)
    });
    worker.run().await.expect("sdk worker run");
    run.await.expect("sdk drive")
}

fn config(core: Core, server: &RunningServer, tq: &str) -> SubsystemConfig {
    let mut config = SubsystemConfig::new(core, server.url(), "default").expect("config");
    config.task_queues = vec![tq.to_string()];
    config
}

/// Runs of each worker (override with `HOURGLASS_BENCH_ROUNDS`), in the order A B B A A B
/// B A ...: the server accumulates closed workflows, so a drift in its speed over the run
/// weighs on both sides equally.
const ROUNDS: usize = 4;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let n: usize = std::env::var("HOURGLASS_BENCH_WORKFLOWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    let server = DevServer::builder()
        .port(0)
        .database(Database::InMemory)
        .start()
        .await
        .expect("dev server");
    let c = client(&server).await;
    println!(
        "worker benchmarks ({n} one-activity workflows each, in-memory dev server, {} cores)",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    );

    // Warm up (not counted): the first runs in a process pay for lazy initialisation on
    // both sides and on the server.
    {
        let hg = Hourglass::start(config(Core::linked(), &server, "bench-warmup-hg"))
            .await
            .expect("hourglass");
        drive(&c, "bench-warmup-hg", "warmup-hg", n / 10, || {
            GreetingWorkflow::run
        })
        .await;
        hg.shutdown().await;
        sdk_run(&c, n / 10, usize::MAX).await;
    }

    // Alternate the two workers (see ROUNDS). Each run starts a fresh worker on its own task
    // queue, on both sides: a worker left idle between its runs would begin the next one
    // with its pollers scaled down, which a fresh worker does not.
    let mut hg_rates = Vec::new();
    let mut sdk_rates = Vec::new();
    let rounds: usize = std::env::var("HOURGLASS_BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(ROUNDS);
    for round in 0..rounds {
        for side in if round % 2 == 0 {
            ["hg", "sdk"]
        } else {
            ["sdk", "hg"]
        } {
            if side == "hg" {
                let tq = format!("bench-hourglass-{round}");
                // Timed from before the start, as the SDK worker's start is inside its run.
                let cpu = cpu_time();
                let begun = Instant::now();
                let hg = Hourglass::start(config(Core::linked(), &server, &tq))
                    .await
                    .expect("hourglass");
                let startup = begun.elapsed();
                let (t, lost) =
                    drive(&c, &tq, &format!("hg{round}"), n, || GreetingWorkflow::run).await;
                let t = t + startup;
                let cpu = cpu_per_workflow(cpu, n);
                hg.shutdown().await;
                let rate = n as f64 / t.as_secs_f64();
                println!(
                    "hourglass (linked core):  {rate:8.1} workflows/s ({:.2} s, {cpu}, lost {lost})",
                    t.as_secs_f64()
                );
                hg_rates.push(rate);
            } else {
                let cpu = cpu_time();
                let (t, lost) = sdk_run(&c, n, round).await;
                let cpu = cpu_per_workflow(cpu, n);
                let rate = n as f64 / t.as_secs_f64();
                println!(
                    "official Rust SDK worker: {rate:8.1} workflows/s ({:.2} s, {cpu}, lost {lost})",
                    t.as_secs_f64()
                );
                sdk_rates.push(rate);
            }
        }
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    println!(
        "ratio hourglass / official SDK (means of {rounds} runs each): {:.3} (goal >= 0.95)",
        mean(&hg_rates) / mean(&sdk_rates)
    );

    // BridgeHolder crash -> polling again.
    let tq = "bench-hourglass";
    let hg = Hourglass::start(config(Core::linked(), &server, tq))
        .await
        .expect("hourglass");
    let mut crash_times = Vec::new();
    let during = tokio::spawn({
        let c = c.clone();
        async move { drive(&c, tq, "crash", 200, || GreetingWorkflow::run).await }
    });
    for _ in 0..20 {
        let old = hg.bridge_holder().and_then(|h| h.registration_id(tq));
        let t = Instant::now();
        hg.crash_bridge_holder("benchmark");
        wait_polling(&hg, tq, old).await;
        crash_times.push(t.elapsed());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (_, crash_lost) = during.await.expect("drive during crashes");
    println!(
        "bridge holder crash -> polling again: median {:?} over 20 (goal <= 100 ms), workflows lost {crash_lost}/200",
        median(crash_times)
    );
    hg.shutdown().await;

    // Core reload -> polling again (dynamic core).
    let lib = hourglass_tests::core_lib::core_library();
    let core = Core::load(&lib).expect("load core");
    let tq = "bench-reload";
    let hg = Hourglass::start(config(core.clone(), &server, tq))
        .await
        .expect("hourglass dynamic");
    let during = tokio::spawn({
        let c = c.clone();
        async move { drive(&c, tq, "reload", 200, || GreetingWorkflow::run).await }
    });
    let mut reload_times = Vec::new();
    for _ in 0..5 {
        let old = hg.bridge_holder().and_then(|h| h.registration_id(tq));
        let t = Instant::now();
        core.reload().expect("reload");
        wait_polling(&hg, tq, old).await;
        reload_times.push(t.elapsed());
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let (_, reload_lost) = during.await.expect("drive during reloads");
    println!(
        "core reload -> polling again: median {:?} over 5 (goal <= 1 s), workflows lost {reload_lost}/200",
        median(reload_times)
    );
    hg.shutdown().await;
    server.shutdown().await.expect("server shutdown");
}
