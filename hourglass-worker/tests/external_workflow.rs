//! A Rust workflow calls activities implemented in Python: through Temporal (the embedded dev
//! server), the subsystem routes activity types no Rust activity claims to the external pool.

mod external_support;

use std::collections::HashMap;
use std::time::Duration;

use external_support::{fixture_pool, is_dead, wait_for};
use hourglass_bridge::Core;
use hourglass_devserver::{Database, DevServer};
use hourglass_supervise::Exit;
use hourglass_worker::external::ExternalPools;
use hourglass_worker::subsystem::{Hourglass, SubsystemConfig};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use temporalio_client::{
    Client, ClientOptions, Connection, ConnectionOptions, WorkflowGetResultOptions,
    WorkflowStartOptions,
};
use temporalio_common::RetryPolicy;
use temporalio_common::UntypedActivity;
use temporalio_common::data_converters::RawValue;
use temporalio_common::protos::temporal::api::common::v1::Payload;
use temporalio_workflow::{
    ActivityOptions, WorkflowContext, WorkflowResult, workflow, workflow_methods,
};

fn json(value: &serde_json::Value) -> Payload {
    Payload {
        metadata: HashMap::from([("encoding".to_string(), b"json/plain".to_vec())]),
        data: serde_json::to_vec(value).unwrap_or_default(),
        ..Default::default()
    }
}

fn options() -> ActivityOptions {
    ActivityOptions::with_start_to_close_timeout(Duration::from_secs(30))
        .retry_policy(
            RetryPolicy::builder()
                .initial_interval(Duration::from_millis(100))
                .maximum_attempts(5)
                .build(),
        )
        .build()
}

/// Calls the Python activity `activity` with one JSON argument; returns its JSON result.
async fn call_python(
    ctx: &mut WorkflowContext<impl Sized + 'static>,
    activity: &str,
    arg: serde_json::Value,
) -> WorkflowResult<serde_json::Value> {
    let out: RawValue = ctx
        .execute_activity(
            UntypedActivity::new(activity),
            RawValue::new(vec![json(&arg)]),
            options(),
        )
        .await?;
    Ok(out
        .payloads
        .first()
        .and_then(|p| serde_json::from_slice(&p.data).ok())
        .unwrap_or(serde_json::Value::Null))
}

/// Echoes through the Python `Echo` activity.
#[hourglass_worker::register]
#[workflow]
#[derive(Default)]
pub struct PythonEchoWorkflow;

#[workflow_methods]
impl PythonEchoWorkflow {
    #[run]
    pub async fn run(ctx: &mut WorkflowContext<Self>, value: String) -> WorkflowResult<String> {
        let v = call_python(ctx, "Echo", serde_json::json!(value)).await?;
        Ok(format!("python said: {}", v.as_str().unwrap_or_default()))
    }
}

/// Sleeps in the Python `Sleep` activity.
#[hourglass_worker::register]
#[workflow]
#[derive(Default)]
pub struct PythonSleepWorkflow;

#[workflow_methods]
impl PythonSleepWorkflow {
    #[run]
    pub async fn run(ctx: &mut WorkflowContext<Self>, seconds: f64) -> WorkflowResult<String> {
        let v = call_python(ctx, "Sleep", serde_json::json!(seconds)).await?;
        Ok(v.as_str().unwrap_or_default().to_string())
    }
}

/// Runs `count` Python `Sleep` activities at once, each allowed a single attempt (so any
/// refusal by a full pool would fail the workflow); returns how many completed.
#[hourglass_worker::register]
#[workflow]
#[derive(Default)]
pub struct PythonFanOutWorkflow;

#[workflow_methods]
impl PythonFanOutWorkflow {
    #[run]
    pub async fn run(ctx: &mut WorkflowContext<Self>, count: u32) -> WorkflowResult<u32> {
        let once = ActivityOptions::with_start_to_close_timeout(Duration::from_secs(120))
            .retry_policy(RetryPolicy::builder().maximum_attempts(1).build())
            .build();
        let calls = (0..count).map(|_| {
            ctx.execute_activity(
                UntypedActivity::new("Sleep"),
                RawValue::new(vec![json(&serde_json::json!(0.05))]),
                once.clone(),
            )
        });
        let mut done = 0;
        for result in futures::future::join_all(calls).await {
            let _: RawValue = result?;
            done += 1;
        }
        Ok(done)
    }
}

async fn client(url: &str) -> Client {
    let conn = Connection::connect(
        ConnectionOptions::new(url::Url::parse(url).unwrap())
            .identity("external-e2e@localhost")
            .build(),
    )
    .await
    .unwrap();
    Client::new(conn, ClientOptions::new("default").build()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_workflow_calls_python_activity_and_survives_a_killed_python_process() {
    let state = tempfile::tempdir().unwrap();
    let server = DevServer::builder()
        .port(0)
        .database(Database::InMemory)
        .start()
        .await
        .unwrap();
    let pools = ExternalPools::new(vec![fixture_pool("e2e-py", 1)], state.path()).unwrap();
    let tq = "external-e2e";
    let mut config = SubsystemConfig::new(Core::linked(), server.url(), "default").unwrap();
    config.task_queues = vec![tq.to_string()];
    config.external_pools = Some(pools.clone());
    let hg = Hourglass::start(config).await.unwrap();
    assert!(pools.serves("Echo") && pools.serves("Sleep"));
    let c = client(&server.url()).await;

    let h = c
        .start_workflow(
            PythonEchoWorkflow::run,
            "hi".to_string(),
            WorkflowStartOptions::new(tq, "py-echo").build(),
        )
        .await
        .unwrap();
    let r = tokio::time::timeout(
        Duration::from_secs(60),
        h.get_result(WorkflowGetResultOptions::default()),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(r, "python said: hi");

    // SIGKILL the Python process mid-activity: the attempt fails retryably, its Starter
    // restarts the process, the retry runs there and the workflow completes.
    let pid = pools.stats()[0].workers[0].1;
    let h = c
        .start_workflow(
            PythonSleepWorkflow::run,
            2.0,
            WorkflowStartOptions::new(tq, "py-sleep").build(),
        )
        .await
        .unwrap();
    wait_for("the sleep to be running", Duration::from_secs(30), || {
        pools.stats()[0].idle_slots == 0
    })
    .await;
    kill(Pid::from_raw(pid as i32), Signal::SIGKILL).unwrap();
    wait_for(
        "the killed process to be gone",
        Duration::from_secs(10),
        || is_dead(pid),
    )
    .await;
    let r = tokio::time::timeout(
        Duration::from_secs(90),
        h.get_result(WorkflowGetResultOptions::default()),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(r, "slept");
    let stats = &pools.stats()[0];
    assert!(stats.lost_executions >= 1, "{stats:?}");
    assert_ne!(stats.workers[0].1, pid, "a new process serves the pool");

    let new_pid = stats.workers[0].1;
    assert_eq!(hg.shutdown().await, Exit::Shutdown);
    // Shutdown stops the pool's processes too.
    wait_for(
        "the python process to stop",
        Duration::from_secs(15),
        || is_dead(new_pid),
    )
    .await;
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_times_more_activities_than_slots_all_complete_under_back_pressure() {
    let state = tempfile::tempdir().unwrap();
    let server = DevServer::builder()
        .port(0)
        .database(Database::InMemory)
        .start()
        .await
        .unwrap();
    // Two slots (two processes, one attempt each) and room for one waiter: 40 activities at
    // once are 20x the slots, so most must wait on the server until a slot frees up. Over 30,
    // the workflow's `join_all` is a yielding `FuturesOrdered` (once a stall: the yield was
    // taken for nondeterminism).
    let cfg = fixture_pool("fan-out", 2).max_concurrent(1).max_queue(1);
    let pools = ExternalPools::new(vec![cfg], state.path()).unwrap();
    let tq = "external-fan-out";
    let mut config = SubsystemConfig::new(Core::linked(), server.url(), "default").unwrap();
    config.task_queues = vec![tq.to_string()];
    config.external_pools = Some(pools.clone());
    let hg = Hourglass::start(config).await.unwrap();
    let c = client(&server.url()).await;
    let h = c
        .start_workflow(
            PythonFanOutWorkflow::run,
            40u32,
            WorkflowStartOptions::new(tq, "py-fan-out").build(),
        )
        .await
        .unwrap();
    let done = tokio::time::timeout(
        Duration::from_secs(120),
        h.get_result(WorkflowGetResultOptions::default()),
    )
    .await
    .expect("the fan-out did not finish")
    .expect("an activity failed: a full pool must make tasks wait, not fail");
    assert_eq!(done, 40);
    let stats = &pools.stats()[0];
    assert!(
        stats.peak_waiting <= 1,
        "more executions waited than max_queue allows: {stats:?}"
    );
    assert_eq!(stats.lost_executions, 0, "{stats:?}");
    assert_eq!(hg.shutdown().await, Exit::Shutdown);
    server.shutdown().await.unwrap();
}
