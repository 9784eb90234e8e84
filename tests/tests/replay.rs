//! The Replayer end to end with the real core library: histories recorded by running every
//! example workflow on the dev server replay clean; the same histories against deliberately
//! changed workflows (registered under the same type names) fail naming the mismatching
//! event; Temporal's JSON format round-trips; bad input gives typed errors.

mod common;

use common::{client, config, init_tracing, server, within};
use hourglass_bridge::Core;
use hourglass_bridge::protos::temporal::api::workflowservice::v1::workflow_service_client::WorkflowServiceClient;
use hourglass_worker::examples::{
    CounterWorkflow, GreetingActivities, GreetingWorkflow, ParentWorkflow, TimerWorkflow,
};
use hourglass_worker::replay::{ReplayError, Replayer, WorkflowHistory, server as replay_server};
use hourglass_worker::subsystem::Hourglass;
use hourglass_worker::workflow::WorkflowDefinitions;
use std::sync::OnceLock;
use std::time::Duration;
use temporalio_client::{
    WorkflowExecuteUpdateOptions, WorkflowGetResultOptions, WorkflowSignalOptions,
    WorkflowStartOptions,
};
use temporalio_workflow::{
    ActivityOptions, WorkflowContext, WorkflowResult, workflow, workflow_methods,
};

const TQ: &str = "replay-recording";

fn activity_options() -> ActivityOptions {
    ActivityOptions::with_start_to_close_timeout(Duration::from_secs(10)).build()
}

/// Sleeps one second, then greets: two commands in a fixed order.
#[hourglass_worker::register]
#[workflow]
#[derive(Default)]
pub struct TwoStepWorkflow;

#[workflow_methods]
impl TwoStepWorkflow {
    #[run]
    pub async fn run(ctx: &mut WorkflowContext<Self>, name: String) -> WorkflowResult<String> {
        ctx.timer(Duration::from_secs(1)).await;
        Ok(ctx
            .execute_activity(GreetingActivities::greet, name, activity_options())
            .await?)
    }
}

// ---- changed versions, under the recorded type names (not link-time registered) ----

/// `GreetingWorkflow` with its activity swapped for a timer.
#[workflow]
#[derive(Default)]
pub struct GreetingWithTimer;

#[workflow_methods]
impl GreetingWithTimer {
    #[run(name = "GreetingWorkflow")]
    pub async fn run(ctx: &mut WorkflowContext<Self>, name: String) -> WorkflowResult<String> {
        ctx.timer(Duration::from_secs(1)).await;
        Ok(format!("Hello, {name}!"))
    }
}

/// `TwoStepWorkflow` with its two commands reordered.
#[workflow]
#[derive(Default)]
pub struct TwoStepReordered;

#[workflow_methods]
impl TwoStepReordered {
    #[run(name = "TwoStepWorkflow")]
    pub async fn run(ctx: &mut WorkflowContext<Self>, name: String) -> WorkflowResult<String> {
        let greeting = ctx
            .execute_activity(GreetingActivities::greet, name, activity_options())
            .await?;
        ctx.timer(Duration::from_secs(1)).await;
        Ok(greeting)
    }
}

/// The histories of one run of every example (and of `TwoStepWorkflow`), recorded once per
/// test process on a fresh dev server with the loaded core library.
struct Recorded {
    greeting: WorkflowHistory,
    timer: WorkflowHistory,
    counter: WorkflowHistory,
    parent: WorkflowHistory,
    child: WorkflowHistory,
    two_step: WorkflowHistory,
}

impl Recorded {
    fn all(&self) -> Vec<WorkflowHistory> {
        vec![
            self.greeting.clone(),
            self.timer.clone(),
            self.counter.clone(),
            self.parent.clone(),
            self.child.clone(),
            self.two_step.clone(),
        ]
    }
}

fn core() -> Core {
    Core::load(hourglass_tests::core_lib::core_library()).expect("the core library loads")
}

fn recorded() -> &'static Recorded {
    static RECORDED: OnceLock<Recorded> = OnceLock::new();
    RECORDED.get_or_init(|| {
        // A runtime of its own: the server must outlive no single test's runtime.
        std::thread::spawn(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("runtime")
                .block_on(record())
        })
        .join()
        .expect("recording the example histories")
    })
}

async fn record() -> Recorded {
    init_tracing();
    let srv = server().await;
    let hg = Hourglass::start(config(core(), &srv, TQ))
        .await
        .expect("hourglass starts");
    let c = client(&srv).await;
    let opts = |id: &str| WorkflowStartOptions::new(TQ, id).build();
    let done = WorkflowGetResultOptions::default;

    let h = c
        .start_workflow(
            GreetingWorkflow::run,
            "World".to_string(),
            opts("rec-greeting"),
        )
        .await
        .unwrap();
    assert_eq!(
        within(60, "greeting", h.get_result(done())).await.unwrap(),
        "Hello, World!"
    );
    let h = c
        .start_workflow(TimerWorkflow::run, 1, opts("rec-timer"))
        .await
        .unwrap();
    assert_eq!(
        within(60, "timer", h.get_result(done())).await.unwrap(),
        "timer of 1s fired"
    );
    let h = c
        .start_workflow(ParentWorkflow::run, "Kid".to_string(), opts("rec-parent"))
        .await
        .unwrap();
    assert_eq!(
        within(60, "parent", h.get_result(done())).await.unwrap(),
        "child said: Hello, Kid!"
    );
    let h = c
        .start_workflow(
            TwoStepWorkflow::run,
            "Two".to_string(),
            opts("rec-two-step"),
        )
        .await
        .unwrap();
    assert_eq!(
        within(60, "two-step", h.get_result(done())).await.unwrap(),
        "Hello, Two!"
    );
    let h = c
        .start_workflow(CounterWorkflow::run, (), opts("rec-counter"))
        .await
        .unwrap();
    h.signal(CounterWorkflow::add, 2, WorkflowSignalOptions::default())
        .await
        .unwrap();
    let n = within(
        60,
        "update",
        h.execute_update(
            CounterWorkflow::add_and_get,
            3,
            WorkflowExecuteUpdateOptions::default(),
        ),
    )
    .await
    .unwrap();
    assert_eq!(n, 5);
    h.signal(
        CounterWorkflow::finish,
        (),
        WorkflowSignalOptions::default(),
    )
    .await
    .unwrap();
    assert_eq!(
        within(60, "counter", h.get_result(done())).await.unwrap(),
        5
    );

    let mut grpc = WorkflowServiceClient::connect(srv.url())
        .await
        .expect("grpc client");
    let mut fetch = async |id: &str| {
        replay_server::fetch_history(&mut grpc, "default", id, None)
            .await
            .unwrap_or_else(|e| panic!("history of {id}: {e}"))
    };
    let recorded = Recorded {
        greeting: fetch("rec-greeting").await,
        timer: fetch("rec-timer").await,
        counter: fetch("rec-counter").await,
        parent: fetch("rec-parent").await,
        child: fetch("rec-parent-child").await,
        two_step: fetch("rec-two-step").await,
    };
    within(60, "shutdown", hg.shutdown()).await;
    srv.shutdown().await.unwrap();
    recorded
}

fn changed(defs: impl FnOnce(&mut WorkflowDefinitions)) -> Replayer {
    let mut workflows = WorkflowDefinitions::new();
    defs(&mut workflows);
    Replayer::with_workflows(&core(), workflows).expect("replayer")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_example_history_replays_clean() {
    let rec = tokio::task::spawn_blocking(recorded).await.unwrap();
    let replayer = Replayer::new(&core()).expect("replayer");
    let n = within(120, "replay", replayer.replay_all(rec.all()))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(n, 6);
    // One at a time too, and each history is what was recorded.
    assert_eq!(rec.counter.workflow_type(), "CounterWorkflow");
    assert_eq!(rec.child.workflow_id(), "rec-parent-child");
    replayer.replay(&rec.parent).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_activity_swapped_for_a_timer_is_nondeterminism_at_the_activity_event() {
    let rec = tokio::task::spawn_blocking(recorded).await.unwrap();
    let replayer = changed(|d| {
        d.register::<GreetingWithTimer>().unwrap();
    });
    let err = replayer.replay(&rec.greeting).await.unwrap_err();
    let nd = err
        .nondeterminism()
        .unwrap_or_else(|| panic!("not nondeterminism: {err}"));
    let scheduled = first_event_of(&rec.greeting, "ActivityTaskScheduled");
    assert_eq!(nd.event_id, Some(scheduled), "{err}");
    assert_eq!(nd.event_type.as_deref(), Some("ActivityTaskScheduled"));
    assert_eq!(nd.workflow_id, "rec-greeting");
    assert_eq!(nd.run_id, rec.greeting.run_id());
    assert!(nd.message.contains("Timer"), "{}", nd.message);
    let text = err.to_string();
    assert!(
        text.contains(&format!("at event {scheduled} (ActivityTaskScheduled)")),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reordered_commands_are_nondeterminism_at_the_first_reordered_event() {
    let rec = tokio::task::spawn_blocking(recorded).await.unwrap();
    let replayer = changed(|d| {
        d.register::<TwoStepReordered>().unwrap();
    });
    let err = replayer.replay(&rec.two_step).await.unwrap_err();
    let nd = err
        .nondeterminism()
        .unwrap_or_else(|| panic!("not nondeterminism: {err}"));
    let timer = first_event_of(&rec.two_step, "TimerStarted");
    assert_eq!(nd.event_id, Some(timer), "{err}");
    assert_eq!(nd.event_type.as_deref(), Some("TimerStarted"));
    assert!(nd.message.contains("Activity"), "{}", nd.message);
    // The unchanged histories still replay on the same replayer's session after a failure,
    // and replay_each reports each history's own outcome.
    let results = replayer
        .replay_each([rec.two_step.clone(), rec.greeting.clone()])
        .await
        .unwrap();
    assert!(
        results[0]
            .result
            .as_ref()
            .is_err_and(|e| e.nondeterminism().is_some())
    );
    assert!(matches!(
        results[1].result,
        Err(ReplayError::UnknownWorkflowType { ref workflow_type, .. }) if workflow_type == "GreetingWorkflow"
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_all_stops_at_the_first_mismatch() {
    let rec = tokio::task::spawn_blocking(recorded).await.unwrap();
    let mut workflows = WorkflowDefinitions::new();
    workflows.register::<GreetingWithTimer>().unwrap();
    workflows.register::<TimerWorkflow>().unwrap();
    let replayer = Replayer::with_workflows(&core(), workflows).unwrap();
    let err = replayer
        .replay_all([rec.timer.clone(), rec.greeting.clone(), rec.timer.clone()])
        .await
        .unwrap_err();
    assert_eq!(
        err.nondeterminism().map(|n| n.workflow_id.as_str()),
        Some("rec-greeting")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_and_protobuf_round_trip_and_replay() {
    let rec = tokio::task::spawn_blocking(recorded).await.unwrap();
    let replayer = Replayer::new(&core()).unwrap();
    for h in rec.all() {
        let json = h.to_json().unwrap();
        assert!(
            json["events"][0]["eventType"] == "EVENT_TYPE_WORKFLOW_EXECUTION_STARTED",
            "{json}"
        );
        assert!(
            json["events"][0]["eventId"] == "1",
            "int64 as strings: {json}"
        );
        let back = WorkflowHistory::from_json(&json.to_string()).unwrap();
        assert_eq!(back, h, "JSON round trip of {}", h.workflow_id());
        let bytes = prost::Message::encode_to_vec(h.history());
        assert_eq!(WorkflowHistory::from_proto(&bytes).unwrap(), h);
        replayer
            .replay(&back)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("greeting.json");
    std::fs::write(&path, rec.greeting.to_json().unwrap().to_string()).unwrap();
    let from_file = WorkflowHistory::from_json_file(&path).unwrap();
    assert_eq!(from_file.workflow_id(), "rec-greeting");
    replayer.replay(&from_file).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_workflow_type_is_a_typed_error_naming_the_registered_types() {
    let rec = tokio::task::spawn_blocking(recorded).await.unwrap();
    let replayer = changed(|d| {
        d.register::<TimerWorkflow>().unwrap();
    });
    let err = replayer.replay(&rec.counter).await.unwrap_err();
    match &err {
        ReplayError::UnknownWorkflowType {
            workflow_type,
            registered,
            workflow_id,
        } => {
            assert_eq!(workflow_type, "CounterWorkflow");
            assert_eq!(workflow_id, "rec-counter");
            assert_eq!(registered, &["TimerWorkflow"]);
        }
        other => panic!("expected UnknownWorkflowType, got {other}"),
    }
    assert!(err.to_string().contains("CounterWorkflow"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_history_whose_input_the_code_cannot_decode_is_a_failed_workflow_task() {
    let rec = tokio::task::spawn_blocking(recorded).await.unwrap();
    // TimerWorkflow's history (input: a number) given to GreetingWorkflow (input: a string).
    let mut json = rec.timer.to_json().unwrap();
    json["events"][0]["workflowExecutionStartedEventAttributes"]["workflowType"]["name"] =
        "GreetingWorkflow".into();
    let history = WorkflowHistory::from_json(&json.to_string()).unwrap();
    let replayer = Replayer::new(&core()).unwrap();
    let err = replayer.replay(&history).await.unwrap_err();
    assert!(
        matches!(&err, ReplayError::WorkflowTaskFailed { workflow_id, .. } if workflow_id == "rec-timer"),
        "{err}"
    );
}

/// `EVENT_TYPE_TIMER_STARTED` → `TimerStarted`, as older exports (tctl, earlier UIs) wrote.
fn legacy_enum(value: &str, prefix: &str) -> String {
    value
        .trim_start_matches(prefix)
        .split('_')
        .filter(|w| !w.is_empty())
        .map(|w| {
            let (head, tail) = w.split_at(1);
            format!("{head}{}", tail.to_lowercase())
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn older_exports_with_pascal_case_enums_and_extra_fields_replay() {
    let rec = tokio::task::spawn_blocking(recorded).await.unwrap();
    let replayer = Replayer::new(&core()).unwrap();
    for h in [&rec.greeting, &rec.two_step, &rec.parent] {
        let mut json = h.to_json().unwrap();
        for event in json["events"].as_array_mut().unwrap() {
            let t = event["eventType"].as_str().unwrap().to_string();
            event["eventType"] = legacy_enum(&t, "EVENT_TYPE_").into();
            event["uiDisplayName"] = "an export-only field".into();
            if let Some(tq) = event
                .as_object_mut()
                .unwrap()
                .values_mut()
                .find_map(|v| v.get_mut("taskQueue"))
                && let Some(kind) = tq.get("kind").and_then(|k| k.as_str()).map(str::to_owned)
            {
                tq["kind"] = legacy_enum(&kind, "TASK_QUEUE_KIND_").into();
            }
        }
        assert_eq!(json["events"][0]["eventType"], "WorkflowExecutionStarted");
        let back = WorkflowHistory::from_json(&json.to_string()).unwrap();
        assert_eq!(&back, h, "legacy export of {}", h.workflow_id());
        replayer.replay(&back).await.unwrap();
    }
}

fn first_event_of(history: &WorkflowHistory, event_type: &str) -> i64 {
    (1..=history.history().events.len() as i64)
        .find(|id| history.event_type_of(*id).as_deref() == Some(event_type))
        .unwrap_or_else(|| panic!("no {event_type} in {}", history.workflow_id()))
}
