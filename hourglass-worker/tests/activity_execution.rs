//! Runs real activity tasks (as the core would deliver them) through `ActivityExecutor`.

mod common;

use std::sync::{
    Arc,
    atomic::{AtomicUsize, Ordering},
};

use common::{decode, p};
use hourglass_worker::{
    WorkerError,
    activity::{
        ACTIVITY_NOT_FOUND_TYPE, ActivityCancelReason, ActivityContext, ActivityDefinitions,
        ActivityDispatch, ActivityError, ActivityExecutor, ActivityHost, ApplicationFailure,
    },
    examples::EXAMPLE_ACTIVITY_TYPES,
};
use parking_lot::Mutex;
use temporalio_common::protos::{
    coresdk::{
        ActivityHeartbeat, ActivityTaskCompletion,
        activity_result::activity_execution_result::Status,
        activity_task::{ActivityTask, Cancel, Start, activity_task},
    },
    temporal::api::{
        common::v1::{Payload, WorkflowExecution},
        failure::v1::{Failure, failure::FailureInfo},
    },
};

// ---- Test activities, registered like user activities ------------------------------------------

pub struct TestActivities {
    calls: AtomicUsize,
}

#[hourglass_worker::activities(instance = TestActivities { calls: AtomicUsize::new(0) })]
impl TestActivities {
    #[activity]
    pub async fn echo(ctx: ActivityContext, s: String) -> Result<String, ActivityError> {
        Ok(format!(
            "{s} (attempt {}, wf {:?})",
            ctx.info().attempt,
            ctx.info().workflow_id
        ))
    }

    #[activity]
    pub async fn add(_ctx: ActivityContext, a: u32, b: u32) -> Result<u32, ActivityError> {
        Ok(a + b)
    }

    #[activity]
    pub async fn count_calls(
        self: Arc<Self>,
        _ctx: ActivityContext,
    ) -> Result<usize, ActivityError> {
        Ok(self.calls.fetch_add(1, Ordering::SeqCst) + 1)
    }

    #[activity]
    pub fn blocking_double(_ctx: ActivityContext, x: u64) -> Result<u64, ActivityError> {
        Ok(x * 2)
    }

    #[activity]
    pub async fn fail_retryable(_ctx: ActivityContext) -> Result<(), ActivityError> {
        Err(ApplicationFailure::new(anyhow::anyhow!("database unavailable")).into())
    }

    #[activity]
    pub async fn fail_permanently(_ctx: ActivityContext) -> Result<(), ActivityError> {
        Err(ApplicationFailure::builder(anyhow::anyhow!("bad input"))
            .type_name("ValidationError".to_owned())
            .non_retryable(true)
            .build()
            .into())
    }

    #[activity]
    pub async fn explode(_ctx: ActivityContext) -> Result<(), ActivityError> {
        panic!("activity boom");
    }

    /// Heartbeats `n` progress values, returning what the previous attempt last reported.
    #[activity]
    pub async fn heartbeat(ctx: ActivityContext, n: u32) -> Result<Option<u32>, ActivityError> {
        let previous = ctx.heartbeat_details().deserialize::<u32>()?;
        for i in 1..=n {
            ctx.record_heartbeat(i).await?;
        }
        Ok(previous)
    }

    #[activity(name = "wait-for-cancel")]
    pub async fn wait_for_cancel(ctx: ActivityContext) -> Result<String, ActivityError> {
        ctx.cancelled().await;
        assert_eq!(
            ctx.cancellation_reason(),
            Some(ActivityCancelReason::TimedOut)
        );
        Err(ActivityError::cancelled())
    }
}

/// Needs an instance and is not registered automatically.
pub struct Unregistered {
    greeting: String,
}

#[hourglass_worker::activities(register = false)]
impl Unregistered {
    #[activity]
    pub async fn hello(self: Arc<Self>, _ctx: ActivityContext) -> Result<String, ActivityError> {
        Ok(self.greeting.clone())
    }
}

/// Registered through the `register_activities!` macro with a configured instance.
pub struct ManualActs {
    prefix: String,
}

#[hourglass_worker::activities(register = false)]
impl ManualActs {
    #[activity(name = "manual-prefix")]
    pub async fn prefixed(
        self: Arc<Self>,
        _ctx: ActivityContext,
        s: String,
    ) -> Result<String, ActivityError> {
        Ok(format!("{}{s}", self.prefix))
    }
}

hourglass_worker::register_activities!(ManualActs {
    prefix: "manual: ".to_owned()
});

// ---- Helpers -----------------------------------------------------------------------------------

#[derive(Default)]
struct RecordingHost(Mutex<Vec<ActivityHeartbeat>>);

impl ActivityHost for RecordingHost {
    fn record_heartbeat(&self, heartbeat: ActivityHeartbeat) {
        self.0.lock().push(heartbeat);
    }
}

fn executor() -> ActivityExecutor {
    ActivityExecutor::new(ActivityDefinitions::from_registered().unwrap(), "tq")
}

fn start(token: &[u8], activity_type: &str, input: Vec<Payload>) -> ActivityTask {
    start_with_details(token, activity_type, input, vec![])
}

fn start_with_details(
    token: &[u8],
    activity_type: &str,
    input: Vec<Payload>,
    heartbeat_details: Vec<Payload>,
) -> ActivityTask {
    ActivityTask {
        task_token: token.to_vec(),
        variant: Some(activity_task::Variant::Start(Start {
            workflow_namespace: "default".to_owned(),
            workflow_type: "SomeWorkflow".to_owned(),
            workflow_execution: Some(WorkflowExecution {
                workflow_id: "wf-1".to_owned(),
                run_id: "run-1".to_owned(),
            }),
            activity_id: "1".to_owned(),
            activity_type: activity_type.to_owned(),
            input,
            heartbeat_details,
            attempt: 2,
            ..Default::default()
        })),
    }
}

async fn run(
    exec: &ActivityExecutor,
    task: ActivityTask,
    host: Arc<dyn ActivityHost>,
) -> ActivityTaskCompletion {
    match exec.dispatch(task, host).unwrap() {
        ActivityDispatch::Run(run) => run.await,
        other => panic!("expected Run, got {other:?}"),
    }
}

fn ok_payload(c: &ActivityTaskCompletion) -> Payload {
    match c.result.as_ref().and_then(|r| r.status.as_ref()) {
        Some(Status::Completed(s)) => s.result.clone().unwrap(),
        other => panic!("expected success, got {other:?}"),
    }
}

fn failed(c: &ActivityTaskCompletion) -> Failure {
    match c.result.as_ref().and_then(|r| r.status.as_ref()) {
        Some(Status::Failed(f)) => f.failure.clone().unwrap(),
        other => panic!("expected failure, got {other:?}"),
    }
}

/// (type, non_retryable) of an application failure.
fn app_info(f: &Failure) -> (String, bool) {
    match &f.failure_info {
        Some(FailureInfo::ApplicationFailureInfo(i)) => (i.r#type.clone(), i.non_retryable),
        other => panic!("expected application failure info, got {other:?}"),
    }
}

// ---- Tests -------------------------------------------------------------------------------------

#[test]
fn activities_are_registered_by_type_name() {
    let defs = ActivityDefinitions::from_registered().unwrap();
    for name in EXAMPLE_ACTIVITY_TYPES.into_iter().chain([
        "TestActivities::echo",
        "TestActivities::count_calls",
        "wait-for-cancel",
    ]) {
        assert!(defs.get(name).is_some(), "{name} missing from {defs:?}");
    }
    assert!(
        defs.get("Unregistered::hello").is_none(),
        "register = false"
    );
}

#[test]
fn registration_errors() {
    let mut defs = ActivityDefinitions::new();
    let err = defs
        .register_activity::<unregistered::Hello>(None)
        .unwrap_err();
    assert!(
        matches!(err, WorkerError::MissingActivityInstance { .. }),
        "{err}"
    );
    defs.register_activities(Unregistered {
        greeting: "hi".into(),
    })
    .unwrap();
    let err = defs
        .register_activities(Unregistered {
            greeting: "again".into(),
        })
        .unwrap_err();
    assert!(
        matches!(&err, WorkerError::DuplicateActivityType { activity_type } if activity_type == "Unregistered::hello"),
        "{err}"
    );
}

#[tokio::test]
async fn success_with_info_multi_args_instance_and_blocking() {
    let exec = executor();
    let host: Arc<dyn ActivityHost> = Arc::new(RecordingHost::default());
    let c = run(
        &exec,
        start(b"t1", "TestActivities::echo", vec![p("hi")]),
        host.clone(),
    )
    .await;
    assert_eq!(c.task_token, b"t1");
    assert_eq!(
        decode::<String>(&ok_payload(&c)),
        "hi (attempt 2, wf Some(\"wf-1\"))"
    );

    let c = run(
        &exec,
        start(b"t2", "TestActivities::add", vec![p(2u32), p(40u32)]),
        host.clone(),
    )
    .await;
    assert_eq!(decode::<u32>(&ok_payload(&c)), 42);

    let first = run(
        &exec,
        start(b"t3", "TestActivities::count_calls", vec![]),
        host.clone(),
    )
    .await;
    let second = run(
        &exec,
        start(b"t4", "TestActivities::count_calls", vec![]),
        host.clone(),
    )
    .await;
    assert_eq!(
        decode::<usize>(&ok_payload(&first)) + 1,
        decode::<usize>(&ok_payload(&second))
    );

    let c = run(
        &exec,
        start(b"t5", "TestActivities::blocking_double", vec![p(21u64)]),
        host,
    )
    .await;
    assert_eq!(decode::<u64>(&ok_payload(&c)), 42);
    assert_eq!(exec.running(), 0);
}

#[tokio::test]
async fn register_activities_macro_registers_an_instance() {
    let exec = executor();
    let c = run(
        &exec,
        start(b"m", "manual-prefix", vec![p("x")]),
        Arc::new(RecordingHost::default()),
    )
    .await;
    assert_eq!(decode::<String>(&ok_payload(&c)), "manual: x");
}

#[tokio::test]
async fn example_greet_activity() {
    let exec = executor();
    let c = run(
        &exec,
        start(b"g", "GreetingActivities::greet", vec![p("World")]),
        Arc::new(RecordingHost::default()),
    )
    .await;
    assert_eq!(decode::<String>(&ok_payload(&c)), "Hello, World!");
    let c = run(
        &exec,
        start(b"g2", "GreetingActivities::greet", vec![p(" ")]),
        Arc::new(RecordingHost::default()),
    )
    .await;
    assert!(app_info(&failed(&c)).1, "empty name is non-retryable");
}

#[tokio::test]
async fn errors_are_retryable_unless_marked_non_retryable() {
    let exec = executor();
    let host: Arc<dyn ActivityHost> = Arc::new(RecordingHost::default());
    let f = failed(
        &run(
            &exec,
            start(b"t", "TestActivities::fail_retryable", vec![]),
            host.clone(),
        )
        .await,
    );
    assert!(f.message.contains("database unavailable"), "{}", f.message);
    assert!(!app_info(&f).1);

    let f = failed(
        &run(
            &exec,
            start(b"t", "TestActivities::fail_permanently", vec![]),
            host,
        )
        .await,
    );
    assert_eq!(app_info(&f), ("ValidationError".to_owned(), true));
}

#[tokio::test]
async fn panic_is_a_retryable_failure_with_the_message() {
    let exec = executor();
    let f = failed(
        &run(
            &exec,
            start(b"t", "TestActivities::explode", vec![]),
            Arc::new(RecordingHost::default()),
        )
        .await,
    );
    assert!(f.message.contains("activity boom"), "{}", f.message);
    assert!(!app_info(&f).1, "panics are retryable");
    assert_eq!(exec.running(), 0);
}

#[tokio::test]
async fn unknown_activity_type_is_a_non_retryable_not_found_failure() {
    let exec = executor();
    let f = failed(
        &run(
            &exec,
            start(b"t", "NoSuchActivity", vec![]),
            Arc::new(RecordingHost::default()),
        )
        .await,
    );
    assert!(
        f.message.contains("NoSuchActivity is not registered"),
        "{}",
        f.message
    );
    assert!(
        f.message.contains("TestActivities::echo"),
        "lists available: {}",
        f.message
    );
    assert_eq!(app_info(&f), (ACTIVITY_NOT_FOUND_TYPE.to_owned(), true));
}

#[tokio::test]
async fn undecodable_input_is_a_failure() {
    let exec = executor();
    let f = failed(
        &run(
            &exec,
            start(b"t", "TestActivities::add", vec![p("x")]),
            Arc::new(RecordingHost::default()),
        )
        .await,
    );
    assert!(!f.message.is_empty());
}

#[tokio::test]
async fn heartbeats_carry_details_and_previous_details_are_visible() {
    let exec = executor();
    let host = Arc::new(RecordingHost::default());
    let c = run(
        &exec,
        start_with_details(
            b"hb",
            "TestActivities::heartbeat",
            vec![p(3u32)],
            vec![p(7u32)],
        ),
        host.clone(),
    )
    .await;
    assert_eq!(decode::<Option<u32>>(&ok_payload(&c)), Some(7));
    let beats = host.0.lock();
    assert_eq!(beats.len(), 3);
    for (i, beat) in beats.iter().enumerate() {
        assert_eq!(beat.task_token, b"hb");
        assert_eq!(decode::<u32>(&beat.details[0]), i as u32 + 1);
    }
}

#[tokio::test]
async fn heartbeats_through_a_closure_host() {
    let exec = executor();
    let seen = Arc::new(AtomicUsize::new(0));
    let seen2 = seen.clone();
    let host: Arc<dyn ActivityHost> = Arc::new(move |_hb: ActivityHeartbeat| {
        seen2.fetch_add(1, Ordering::SeqCst);
    });
    run(
        &exec,
        start(b"hb", "TestActivities::heartbeat", vec![p(2u32)]),
        host,
    )
    .await;
    assert_eq!(seen.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn cancel_task_reaches_the_running_activity() {
    let exec = executor();
    let ActivityDispatch::Run(run) = exec
        .dispatch(
            start(b"c1", "wait-for-cancel", vec![]),
            Arc::new(RecordingHost::default()),
        )
        .unwrap()
    else {
        panic!()
    };
    let handle = tokio::spawn(run);
    tokio::task::yield_now().await;
    assert_eq!(exec.running(), 1);

    let cancel = ActivityTask {
        task_token: b"c1".to_vec(),
        variant: Some(activity_task::Variant::Cancel(Cancel {
            reason: ActivityCancelReason::TimedOut as i32,
            details: None,
        })),
    };
    let dispatch = exec
        .dispatch(cancel, Arc::new(RecordingHost::default()))
        .unwrap();
    assert!(
        matches!(
            dispatch,
            ActivityDispatch::Cancel {
                delivered: true,
                ..
            }
        ),
        "{dispatch:?}"
    );

    let c = handle.await.unwrap();
    assert!(
        matches!(
            c.result.as_ref().and_then(|r| r.status.as_ref()),
            Some(Status::Cancelled(_))
        ),
        "{c:?}"
    );
    assert_eq!(exec.running(), 0);

    // A cancel for an attempt that is no longer running is reported, not an error.
    let late = ActivityTask {
        task_token: b"c1".to_vec(),
        variant: Some(activity_task::Variant::Cancel(Cancel::default())),
    };
    assert!(matches!(
        exec.dispatch(late, Arc::new(RecordingHost::default()))
            .unwrap(),
        ActivityDispatch::Cancel {
            delivered: false,
            ..
        }
    ));
}

#[tokio::test]
async fn cancel_all_signals_every_running_attempt() {
    let exec = executor();
    let mut handles = Vec::new();
    for token in [b"a".as_slice(), b"b"] {
        let ActivityDispatch::Run(run) = exec
            .dispatch(
                start(token, "wait-for-cancel", vec![]),
                Arc::new(RecordingHost::default()),
            )
            .unwrap()
        else {
            panic!()
        };
        handles.push(tokio::spawn(run));
    }
    tokio::task::yield_now().await;
    assert_eq!(exec.cancel_all(ActivityCancelReason::TimedOut), 2);
    for h in handles {
        let c = h.await.unwrap();
        assert!(matches!(
            c.result.and_then(|r| r.status),
            Some(Status::Cancelled(_))
        ));
    }
}

#[test]
fn task_without_variant_is_an_error() {
    let exec = executor();
    let err = exec
        .dispatch(
            ActivityTask {
                task_token: b"x".to_vec(),
                variant: None,
            },
            Arc::new(RecordingHost::default()),
        )
        .unwrap_err();
    assert!(
        matches!(err, WorkerError::EmptyActivityTask { .. }),
        "{err}"
    );
}
