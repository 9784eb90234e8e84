//! End-to-end tests of the supervised subsystem (seed 003) against the embedded dev server,
//! with workflows and activities written with the official API and registered structurally.

mod common;

use common::{client, config, hourglass, init_tracing, server, within};
use hourglass_bridge::Core;
use hourglass_supervise::{ChildState, Exit, SupervisorSnapshot};
use hourglass_worker::activity::{ActivityContext, ActivityError};
use hourglass_worker::examples::{
    CounterWorkflow, GreetingWorkflow, ParentWorkflow, TimerWorkflow,
};
use hourglass_worker::subsystem::{Hourglass, OrphanedWorkers, SubsystemError};
use std::collections::HashSet;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;
use temporalio_client::{
    Client, UntypedWorkflow, WorkflowDescribeOptions, WorkflowExecuteUpdateOptions,
    WorkflowFetchHistoryOptions, WorkflowGetResultOptions, WorkflowQueryOptions,
    WorkflowSignalOptions, WorkflowStartOptions,
};
use temporalio_common::RetryPolicy;
use temporalio_common::protos::temporal::api::enums::v1::{EventType, WorkflowExecutionStatus};
use temporalio_workflow::{
    ActivityOptions, ContinueAsNewOptions, WorkflowContext, WorkflowResult, workflow,
    workflow_methods,
};

// ---- test workflows and activities, registered at link time like any user's ----

static PANICKY_ATTEMPTS: AtomicU32 = AtomicU32::new(0);
static SLOW_RUNS: AtomicU32 = AtomicU32::new(0);

/// Activities for the failure tests.
pub struct E2eActivities;

#[hourglass_worker::activities]
impl E2eActivities {
    /// Panics on its first attempt, then returns the attempt number.
    #[activity]
    pub async fn panics_once(ctx: ActivityContext, _x: ()) -> Result<u32, ActivityError> {
        PANICKY_ATTEMPTS.fetch_add(1, Ordering::SeqCst);
        let attempt = ctx.info().attempt;
        if attempt == 1 {
            panic!("activity panicked on purpose");
        }
        Ok(attempt)
    }

    /// Sleeps `millis`, counting its runs.
    #[activity]
    pub async fn slow(_ctx: ActivityContext, millis: u64) -> Result<u64, ActivityError> {
        SLOW_RUNS.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(millis)).await;
        Ok(millis)
    }
}

fn options() -> ActivityOptions {
    ActivityOptions::with_start_to_close_timeout(Duration::from_secs(20))
        .retry_policy(
            RetryPolicy::builder()
                .initial_interval(Duration::from_millis(100))
                .maximum_attempts(5)
                .build(),
        )
        .build()
}

/// Runs `panics_once` and returns the attempt that succeeded.
#[hourglass_worker::register]
#[workflow]
#[derive(Default)]
pub struct PanickyActivityWorkflow;

#[workflow_methods]
impl PanickyActivityWorkflow {
    #[run]
    pub async fn run(ctx: &mut WorkflowContext<Self>) -> WorkflowResult<u32> {
        Ok(ctx
            .execute_activity(E2eActivities::panics_once, (), options())
            .await?)
    }
}

/// Panics in workflow code, every time.
#[hourglass_worker::register]
#[workflow]
#[derive(Default)]
pub struct PanickingWorkflow;

#[workflow_methods]
impl PanickingWorkflow {
    #[run]
    pub async fn run(_ctx: &mut WorkflowContext<Self>) -> WorkflowResult<()> {
        panic!("workflow code panicked on purpose");
    }
}

/// Runs `slow(millis)`.
#[hourglass_worker::register]
#[workflow]
#[derive(Default)]
pub struct SlowWorkflow;

#[workflow_methods]
impl SlowWorkflow {
    #[run]
    pub async fn run(ctx: &mut WorkflowContext<Self>, millis: u64) -> WorkflowResult<u64> {
        Ok(ctx
            .execute_activity(E2eActivities::slow, millis, options())
            .await?)
    }
}

/// Continues as new until round 2, then takes a patched branch and draws deterministic
/// random values.
#[hourglass_worker::register]
#[workflow]
#[derive(Default)]
pub struct ContinueAndPatchWorkflow;

#[workflow_methods]
impl ContinueAndPatchWorkflow {
    #[run]
    pub async fn run(ctx: &mut WorkflowContext<Self>, round: u32) -> WorkflowResult<String> {
        if round < 2 {
            ctx.continue_as_new(round + 1, ContinueAsNewOptions::default())?;
        }
        let patched = ctx.patched("v2");
        let uuid = ctx.uuid4();
        let draw: u64 = ctx.random();
        Ok(format!(
            "round {round}, patched {patched}, uuid {}, draw {}",
            uuid.len(),
            draw > 0
        ))
    }
}

/// Waits for cancellation and reports it.
#[hourglass_worker::register]
#[workflow]
#[derive(Default)]
pub struct WaitForCancelWorkflow;

#[workflow_methods]
impl WaitForCancelWorkflow {
    #[run]
    pub async fn run(ctx: &mut WorkflowContext<Self>) -> WorkflowResult<String> {
        let reason = ctx.cancelled().await;
        Ok(format!("cancelled: {}", reason.unwrap_or_default()))
    }
}

// ---- helpers ----

fn start_opts(tq: &str, id: &str) -> temporalio_client::WorkflowStartOptions {
    WorkflowStartOptions::new(tq, id).build()
}

async fn greet_many(c: &Client, tq: &str, prefix: &str, n: usize) -> Vec<(String, String)> {
    let mut handles = Vec::new();
    for i in 0..n {
        let id = format!("{prefix}-{i}");
        let h = c
            .start_workflow(GreetingWorkflow::run, format!("n{i}"), start_opts(tq, &id))
            .await
            .expect("start");
        handles.push((id, format!("Hello, n{i}!"), h));
    }
    let mut out = Vec::new();
    for (id, expected, h) in handles {
        let r = within(
            120,
            &format!("result of {id}"),
            h.get_result(WorkflowGetResultOptions::default()),
        )
        .await
        .unwrap_or_else(|e| panic!("{id} failed: {e}"));
        assert_eq!(r, expected, "{id}");
        out.push((id, r));
    }
    out
}

async fn event_types(c: &Client, workflow_id: &str) -> Vec<EventType> {
    let h = c.get_workflow_handle::<UntypedWorkflow>(workflow_id);
    h.fetch_history(WorkflowFetchHistoryOptions::default())
        .into_events()
        .await
        .expect("history")
        .into_iter()
        .map(|e| EventType::try_from(e.event_type).unwrap_or(EventType::Unspecified))
        .collect()
}

fn find<'a>(snap: &'a SupervisorSnapshot, path: &[&str]) -> &'a hourglass_supervise::ChildSnapshot {
    let (first, rest) = path.split_first().expect("non-empty path");
    let child = snap
        .children
        .iter()
        .find(|c| c.id == *first)
        .unwrap_or_else(|| {
            panic!(
                "no child {first} in {:?}",
                snap.children.iter().map(|c| &c.id).collect::<Vec<_>>()
            )
        });
    if rest.is_empty() {
        child
    } else {
        find(child.supervisor.as_ref().expect("a supervisor"), rest)
    }
}

async fn wait_for_worker(hg: &Hourglass, tq: &str) {
    within(30, "worker registered again", async {
        while !hg.task_queues().iter().any(|t| t == tq) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
}

// ---- tests ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn examples_run_end_to_end_and_shutdown_is_graceful() {
    init_tracing();
    let srv = server().await;
    let tq = "e2e-examples";
    let hg = hourglass(&srv, tq).await;
    let c = client(&srv).await;

    let snap = hg.snapshot().await.unwrap();
    for path in [
        &["workflow_evaluator"][..],
        &["activity_executor"],
        &["subsystem", "runtime"],
        &["subsystem", "bridge_holder"],
        &["subsystem", "worker_registry"],
        &["subsystem", "worker_supervisor"],
        &["subsystem", "worker_supervisor", &format!("worker:{tq}")],
    ] {
        assert_eq!(find(&snap, path).state, ChildState::Running, "{path:?}");
    }
    assert_eq!(hg.task_queues(), [tq]);

    greet_many(&c, tq, "greet", 3).await;

    let h = c
        .start_workflow(TimerWorkflow::run, 1, start_opts(tq, "timer"))
        .await
        .unwrap();
    let r = within(
        30,
        "timer",
        h.get_result(WorkflowGetResultOptions::default()),
    )
    .await
    .unwrap();
    assert_eq!(r, "timer of 1s fired");

    let h = c
        .start_workflow(
            ParentWorkflow::run,
            "kid".to_string(),
            start_opts(tq, "parent"),
        )
        .await
        .unwrap();
    let r = within(
        30,
        "parent",
        h.get_result(WorkflowGetResultOptions::default()),
    )
    .await
    .unwrap();
    assert_eq!(r, "child said: Hello, kid!");

    let h = c
        .start_workflow(CounterWorkflow::run, (), start_opts(tq, "counter"))
        .await
        .unwrap();
    h.signal(CounterWorkflow::add, 2, WorkflowSignalOptions::default())
        .await
        .unwrap();
    let after_update = within(
        30,
        "update",
        h.execute_update(
            CounterWorkflow::add_and_get,
            3,
            WorkflowExecuteUpdateOptions::default(),
        ),
    )
    .await
    .unwrap();
    assert_eq!(after_update, 5);
    let count = h
        .query(CounterWorkflow::count, (), WorkflowQueryOptions::default())
        .await
        .unwrap();
    assert_eq!(count, 5);
    h.signal(
        CounterWorkflow::finish,
        (),
        WorkflowSignalOptions::default(),
    )
    .await
    .unwrap();
    let r = within(
        30,
        "counter",
        h.get_result(WorkflowGetResultOptions::default()),
    )
    .await
    .unwrap();
    assert_eq!(r, 5);

    let exit = within(60, "graceful shutdown", hg.shutdown()).await;
    assert_eq!(exit, Exit::Shutdown);
    srv.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn continue_as_new_patches_random_and_cancellation_end_to_end() {
    init_tracing();
    let srv = server().await;
    let tq = "e2e-features";
    let hg = hourglass(&srv, tq).await;
    let c = client(&srv).await;
    let h = c
        .start_workflow(ContinueAndPatchWorkflow::run, 0, start_opts(tq, "can"))
        .await
        .unwrap();
    let r = within(
        60,
        "continue-as-new chain",
        h.get_result(WorkflowGetResultOptions::default()),
    )
    .await
    .unwrap();
    assert_eq!(r, "round 2, patched true, uuid 36, draw true");
    let events = event_types(&c, "can").await;
    assert!(
        events.contains(&EventType::MarkerRecorded),
        "patch marker: {events:?}"
    );

    let h = c
        .start_workflow(WaitForCancelWorkflow::run, (), start_opts(tq, "cancel-me"))
        .await
        .unwrap();
    within(30, "workflow started", async {
        while !event_types(&c, "cancel-me")
            .await
            .contains(&EventType::WorkflowTaskCompleted)
        {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    h.cancel(temporalio_client::WorkflowCancelOptions::default())
        .await
        .unwrap();
    let r = within(
        30,
        "cancelled workflow",
        h.get_result(WorkflowGetResultOptions::default()),
    )
    .await
    .unwrap();
    assert!(r.starts_with("cancelled"), "{r}");
    assert_eq!(within(60, "shutdown", hg.shutdown()).await, Exit::Shutdown);
    srv.shutdown().await.unwrap();
}

/// Waits until `n` core workers orphaned by cascades have been wound down, and returns the
/// counts.
async fn orphans_reaped(hg: &Hourglass, n: u64) -> OrphanedWorkers {
    within(60, "reaping orphaned core workers", async {
        loop {
            let o = hg.orphaned_workers();
            if o.finalized + o.abandoned >= n {
                return o;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bridge_holder_crash_cascades_heals_and_200_workflows_complete_exactly_once() {
    init_tracing();
    let srv = server().await;
    let tq = "e2e-holder-crash";
    let hg = hourglass(&srv, tq).await;
    let c = client(&srv).await;
    let old_holder = hg.bridge_holder().expect("holder");
    let old_registration = old_holder.registration_id(tq).expect("registered");

    let run = greet_many(&c, tq, "crash", 200);
    let crash = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(hg.crash_bridge_holder("chaos test"));
    };
    let (results, ()) = tokio::join!(run, crash);
    let ids: HashSet<String> = results.iter().map(|(id, _)| id.clone()).collect();
    assert_eq!(ids.len(), 200);

    // The old holder is dead and refuses its old registration; a new one owns a new one.
    assert!(!old_holder.is_alive());
    assert!(old_holder.registration_id(tq).is_none());
    wait_for_worker(&hg, tq).await;
    let new_holder = hg.bridge_holder().expect("new holder");
    let new_registration = new_holder
        .registration_id(tq)
        .expect("re-registered by the launcher");
    assert_ne!(old_registration, new_registration);
    let snap = hg.snapshot().await.unwrap();
    assert_eq!(find(&snap, &["subsystem", "bridge_holder"]).restarts, 1);
    assert_eq!(
        find(&snap, &["subsystem", "runtime"]).restarts,
        0,
        "the runtime is before the holder"
    );

    // Exactly once: every workflow has exactly one completion event.
    for (id, _) in results.iter().step_by(20) {
        let events = event_types(&c, id).await;
        let completions = events
            .iter()
            .filter(|e| **e == EventType::WorkflowExecutionCompleted)
            .count();
        assert_eq!(completions, 1, "{id}: {events:?}");
    }
    // And the healed subsystem keeps serving.
    greet_many(&c, tq, "after-crash", 5).await;
    // The crashed holder's core worker was drained and finalized, not dropped.
    let orphans = orphans_reaped(&hg, 1).await;
    assert!(
        orphans.finalized >= 1 && orphans.abandoned == 0,
        "{orphans:?}"
    );
    assert_eq!(within(60, "shutdown", hg.shutdown()).await, Exit::Shutdown);
    srv.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_poll_loops_restart_and_nothing_is_lost() {
    init_tracing();
    let srv = server().await;
    let tq = "e2e-poll-kill";
    let hg = hourglass(&srv, tq).await;
    let c = client(&srv).await;
    let registration = hg.bridge_holder().unwrap().registration_id(tq).unwrap();

    let run = greet_many(&c, tq, "pk", 30);
    let chaos = async {
        for i in 0..6 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            let which = if i % 2 == 0 {
                "workflow_poll_loop"
            } else {
                "activity_poll_loop"
            };
            assert!(
                hg.kill_poll_loop(tq, which).await.unwrap(),
                "{which} was running"
            );
        }
    };
    tokio::join!(run, chaos);
    let snap = hg.snapshot().await.unwrap();
    let pollers = [
        "subsystem",
        "worker_supervisor",
        &format!("worker:{tq}"),
        "pollers",
    ];
    let mut wf = pollers.to_vec();
    wf.push("workflow_poll_loop");
    let mut act = pollers.to_vec();
    act.push("activity_poll_loop");
    assert_eq!(find(&snap, &wf).restarts, 3);
    assert_eq!(find(&snap, &act).restarts, 3);
    // Killing a loop does not replace the registration.
    assert_eq!(
        hg.bridge_holder().unwrap().registration_id(tq),
        Some(registration)
    );
    assert_eq!(within(60, "shutdown", hg.shutdown()).await, Exit::Shutdown);
    srv.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn panics_and_unknown_types_fail_tasks_not_the_process() {
    init_tracing();
    let srv = server().await;
    let tq = "e2e-failures";
    let hg = hourglass(&srv, tq).await;
    let c = client(&srv).await;

    // A panicking activity is a retryable failure: attempt 2 succeeds.
    let h = c
        .start_workflow(
            PanickyActivityWorkflow::run,
            (),
            start_opts(tq, "panicky-activity"),
        )
        .await
        .unwrap();
    let attempt = within(
        60,
        "panicky activity",
        h.get_result(WorkflowGetResultOptions::default()),
    )
    .await
    .unwrap();
    assert_eq!(attempt, 2);

    // A panicking workflow fails its workflow task; the workflow stays open, the process lives.
    c.start_workflow(
        PanickingWorkflow::run,
        (),
        start_opts(tq, "panicking-workflow"),
    )
    .await
    .unwrap();
    // An unknown workflow type also fails workflow tasks.
    c.start_workflow(
        UntypedWorkflow::new("NoSuchWorkflow"),
        temporalio_common::data_converters::RawValue::new(vec![]),
        start_opts(tq, "unknown-workflow"),
    )
    .await
    .unwrap();
    for id in ["panicking-workflow", "unknown-workflow"] {
        within(30, &format!("{id} workflow task failed"), async {
            loop {
                if event_types(&c, id)
                    .await
                    .contains(&EventType::WorkflowTaskFailed)
                {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
        .await;
        let desc = c
            .get_workflow_handle::<UntypedWorkflow>(id)
            .describe(WorkflowDescribeOptions::default())
            .await
            .unwrap();
        assert_eq!(
            desc.raw_description
                .workflow_execution_info
                .as_ref()
                .unwrap()
                .status(),
            WorkflowExecutionStatus::Running,
            "{id}"
        );
    }
    // The worker is unharmed.
    greet_many(&c, tq, "after-failures", 2).await;
    assert_eq!(within(60, "shutdown", hg.shutdown()).await, Exit::Shutdown);
    srv.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_shutdown_drains_work_in_flight() {
    init_tracing();
    let srv = server().await;
    let tq = "e2e-drain";
    let hg = hourglass(&srv, tq).await;
    let c = client(&srv).await;
    let before = SLOW_RUNS.load(Ordering::SeqCst);
    let h = c
        .start_workflow(SlowWorkflow::run, 1500, start_opts(tq, "drain"))
        .await
        .unwrap();
    within(30, "activity started", async {
        while SLOW_RUNS.load(Ordering::SeqCst) == before {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    // Shut down while the activity runs: the drain lets it finish and complete.
    assert_eq!(
        within(60, "graceful shutdown", hg.shutdown()).await,
        Exit::Shutdown
    );
    let events = event_types(&c, "drain").await;
    assert!(
        events.contains(&EventType::ActivityTaskCompleted),
        "{events:?}"
    );

    // A new worker finishes the workflow without running the activity again.
    let hg2 = hourglass(&srv, tq).await;
    let r = within(
        60,
        "result",
        h.get_result(WorkflowGetResultOptions::default()),
    )
    .await
    .unwrap();
    assert_eq!(r, 1500);
    assert_eq!(SLOW_RUNS.load(Ordering::SeqCst), before + 1);
    assert_eq!(within(60, "shutdown", hg2.shutdown()).await, Exit::Shutdown);
    srv.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_server_fails_start_cleanly() {
    init_tracing();
    // A port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut cfg = config(Core::linked(), &server().await, "e2e-unreachable");
    cfg.client.target_url = format!("http://127.0.0.1:{port}");
    cfg.client.connect_timeout_millis = 2000;
    let err = within(60, "start fails", Hourglass::start(cfg))
        .await
        .err()
        .expect("start must fail");
    let msg = err.to_string();
    assert!(matches!(err, SubsystemError::Supervise(_)), "{msg}");
    assert!(msg.contains("connect"), "{msg}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn core_reload_cascades_to_fresh_handles_and_workflows_complete() {
    init_tracing();
    let lib = hourglass_tests::core_lib::core_library();
    let core = Core::load(&lib).expect("core loads");
    let srv = server().await;
    let tq = "e2e-reload";
    let hg = Hourglass::start(config(core.clone(), &srv, tq))
        .await
        .expect("start");
    let c = client(&srv).await;
    let generation = core.generation();

    let run = greet_many(&c, tq, "reload", 40);
    let reload = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        core.reload().expect("reload");
    };
    tokio::join!(run, reload);
    assert!(core.generation() > generation);
    wait_for_worker(&hg, tq).await;
    let snap = hg.snapshot().await.unwrap();
    assert_eq!(find(&snap, &["subsystem", "runtime"]).restarts, 1);
    greet_many(&c, tq, "after-reload", 3).await;
    // The old core's worker was wound down in the library copy that issued it: its work
    // failed back, drained and finalized — not dropped with its threads running.
    let orphans = orphans_reaped(&hg, 1).await;
    assert!(
        orphans.finalized >= 1 && orphans.abandoned == 0,
        "{orphans:?}"
    );
    assert_eq!(within(60, "shutdown", hg.shutdown()).await, Exit::Shutdown);
    srv.shutdown().await.unwrap();
}
