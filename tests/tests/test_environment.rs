//! `hourglass_worker::testing::TestEnvironment` with the loaded core library: workflows and
//! activities registered in this binary run on it, activities are mocked by type name,
//! helpers signal / query / update, failures are typed, and everything stops on drop.

use hourglass_bridge::Core;
use hourglass_worker::activity::{ActivityContext, ActivityError, ApplicationFailure};
use hourglass_worker::examples::{CounterWorkflow, GreetingWorkflow, ParentWorkflow};
use hourglass_worker::testing::{TestEnvError, TestEnvironment};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;
use temporalio_common::RetryPolicy;
use temporalio_workflow::{
    ActivityOptions, WorkflowContext, WorkflowResult, workflow, workflow_methods,
};

/// Activities of this test binary.
pub struct Shipping;

#[hourglass_worker::activities]
impl Shipping {
    /// The real implementation the tests mock away.
    #[activity]
    pub async fn ship(_ctx: ActivityContext, order: String) -> Result<String, ActivityError> {
        Ok(format!("shipped {order} for real"))
    }
}

/// Ships an order, at most two attempts.
#[hourglass_worker::register]
#[workflow]
#[derive(Default)]
pub struct OrderWorkflow;

#[workflow_methods]
impl OrderWorkflow {
    #[run]
    pub async fn run(ctx: &mut WorkflowContext<Self>, order: String) -> WorkflowResult<String> {
        let options = ActivityOptions::with_start_to_close_timeout(Duration::from_secs(10))
            .retry_policy(
                RetryPolicy::builder()
                    .initial_interval(Duration::from_millis(50))
                    .maximum_attempts(2)
                    .build(),
            )
            .build();
        Ok(ctx.execute_activity(Shipping::ship, order, options).await?)
    }
}

fn core() -> Core {
    Core::load(hourglass_tests::core_lib::core_library()).expect("the core library loads")
}

#[tokio::test]
async fn registered_workflows_run_and_helpers_signal_query_update() {
    let env = TestEnvironment::builder()
        .core(core())
        .start()
        .await
        .unwrap();
    assert_eq!(
        env.execute_workflow(OrderWorkflow::run, "o-1".to_string(), "order-1")
            .await
            .unwrap(),
        "shipped o-1 for real"
    );
    assert_eq!(
        env.execute_workflow(ParentWorkflow::run, "Kid".to_string(), "parent-1")
            .await
            .unwrap(),
        "child said: Hello, Kid!"
    );
    env.start_workflow(CounterWorkflow::run, (), "counter-1")
        .await
        .unwrap();
    env.signal("counter-1", CounterWorkflow::add, 4)
        .await
        .unwrap();
    assert_eq!(
        env.update("counter-1", CounterWorkflow::add_and_get, 1)
            .await
            .unwrap(),
        5
    );
    assert_eq!(
        env.query("counter-1", CounterWorkflow::count, ())
            .await
            .unwrap(),
        5
    );
    // A second start under the id of a running workflow is a typed error naming the id.
    let Err(err) = env
        .start_workflow(CounterWorkflow::run, (), "counter-1")
        .await
    else {
        panic!("a second start of the running counter-1 succeeded");
    };
    assert!(
        matches!(&err, TestEnvError::Start { workflow_id, .. } if workflow_id == "counter-1"),
        "{err}"
    );
    env.signal("counter-1", CounterWorkflow::finish, ())
        .await
        .unwrap();
    assert_eq!(env.result::<CounterWorkflow>("counter-1").await.unwrap(), 5);

    let err = env
        .query("no-such-workflow", CounterWorkflow::count, ())
        .await
        .unwrap_err();
    assert!(
        matches!(err, TestEnvError::Query { ref name, .. } if name == "count"),
        "{err}"
    );
    env.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn activities_are_mocked_by_type_name() {
    let calls = Arc::new(AtomicU32::new(0));
    let seen = calls.clone();
    let env = TestEnvironment::builder()
        .core(core())
        .task_queue("mocked")
        .mock_activity(
            "Shipping::ship",
            move |ctx: ActivityContext, order: String| {
                let seen = seen.clone();
                async move {
                    let n = seen.fetch_add(1, Ordering::SeqCst) + 1;
                    if order == "flaky" && ctx.info().attempt == 1 {
                        return Err(ApplicationFailure::new(anyhow::anyhow!("carrier down")).into());
                    }
                    if order == "broken" {
                        return Err(ApplicationFailure::non_retryable(anyhow::anyhow!(
                            "no such order"
                        ))
                        .into());
                    }
                    Ok(format!("mock shipped {order} (call {n})"))
                }
            },
        )
        .mock_activity(
            "GreetingActivities::greet",
            |_ctx, name: String| async move { Ok(format!("Howdy, {name}!")) },
        )
        .start()
        .await
        .unwrap();
    assert_eq!(env.task_queue(), "mocked");
    assert_eq!(
        env.execute_workflow(OrderWorkflow::run, "o-2".to_string(), "order-2")
            .await
            .unwrap(),
        "mock shipped o-2 (call 1)"
    );
    // Retries reach the mock again, with the attempt number in its context.
    assert_eq!(
        env.execute_workflow(OrderWorkflow::run, "flaky".to_string(), "order-flaky")
            .await
            .unwrap(),
        "mock shipped flaky (call 3)"
    );
    let err = env
        .execute_workflow(OrderWorkflow::run, "broken".to_string(), "order-broken")
        .await
        .unwrap_err();
    assert!(
        matches!(&err, TestEnvError::Result { workflow_id, .. } if workflow_id == "order-broken"),
        "{err}"
    );
    assert_eq!(calls.load(Ordering::SeqCst), 4);
    // A registered activity mocked too; the workflow cannot tell.
    assert_eq!(
        env.execute_workflow(GreetingWorkflow::run, "Tex".to_string(), "greet-1")
            .await
            .unwrap(),
        "Howdy, Tex!"
    );
}

#[tokio::test]
async fn dropping_the_environment_stops_the_server() {
    let env = TestEnvironment::builder()
        .core(core())
        .start()
        .await
        .unwrap();
    let url = env.server_url().to_string();
    let addr = url.trim_start_matches("http://").to_string();
    assert!(
        std::net::TcpStream::connect(&addr).is_ok(),
        "listening at {addr}"
    );
    assert_eq!(
        env.execute_workflow(GreetingWorkflow::run, "Drop".to_string(), "greet-drop")
            .await
            .unwrap(),
        "Hello, Drop!"
    );
    drop(env);
    assert!(
        std::net::TcpStream::connect(&addr).is_err(),
        "nothing listens at {addr} after drop"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn environments_are_independent() {
    let (a, b) = tokio::join!(
        TestEnvironment::builder().core(core()).start(),
        TestEnvironment::builder().core(core()).start()
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_ne!(a.server_url(), b.server_url());
    // The same workflow id in both: each server has its own.
    let (ra, rb) = tokio::join!(
        a.execute_workflow(GreetingWorkflow::run, "A".to_string(), "same-id"),
        b.execute_workflow(GreetingWorkflow::run, "B".to_string(), "same-id")
    );
    assert_eq!(ra.unwrap(), "Hello, A!");
    assert_eq!(rb.unwrap(), "Hello, B!");
    a.shutdown().await;
    b.shutdown().await;
}

mod time_skipping {
    use super::*;
    use hourglass_bridge::protos::temporal::api::enums::v1::EventType;
    use hourglass_bridge::protos::temporal::api::history::v1::HistoryEvent;
    use hourglass_bridge::protos::temporal::api::workflowservice::v1::workflow_service_client::WorkflowServiceClient;
    use hourglass_worker::examples::TimerWorkflow;
    use hourglass_worker::replay::server::fetch_history;
    use std::time::{Instant, SystemTime};

    const THIRTY_DAYS: u64 = 30 * 24 * 3600;

    fn seconds(e: &HistoryEvent) -> i64 {
        e.event_time.as_ref().map(|t| t.seconds).unwrap_or_default()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_thirty_day_timer_fires_at_once_and_the_history_shows_thirty_virtual_days() {
        let env = TestEnvironment::builder()
            .core(core())
            .time_skipping()
            .start()
            .await
            .unwrap();
        assert!(env.is_time_skipping());
        let wall = Instant::now();
        let before = env.now().await.unwrap();
        let done = env
            .execute_workflow(TimerWorkflow::run, THIRTY_DAYS, "thirty-days")
            .await
            .unwrap();
        assert_eq!(done, format!("timer of {THIRTY_DAYS}s fired"));
        let virtual_elapsed = env.now().await.unwrap().duration_since(before).unwrap();
        assert!(
            virtual_elapsed >= Duration::from_secs(THIRTY_DAYS),
            "{virtual_elapsed:?}"
        );
        // A correctness bound, not a benchmark: thirty days did not pass on the wall clock.
        assert!(
            wall.elapsed() < Duration::from_secs(60),
            "{:?}",
            wall.elapsed()
        );

        let mut grpc = WorkflowServiceClient::connect(env.server_url().to_string())
            .await
            .unwrap();
        let history = fetch_history(&mut grpc, "default", "thirty-days", None)
            .await
            .unwrap();
        let events = &history.history().events;
        let started = events
            .iter()
            .find(|e| e.event_type == EventType::TimerStarted as i32)
            .unwrap();
        let fired = events
            .iter()
            .find(|e| e.event_type == EventType::TimerFired as i32)
            .unwrap();
        let recorded = seconds(fired) - seconds(started);
        assert!(
            recorded >= THIRTY_DAYS as i64,
            "history shows {recorded}s between the timer events"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn time_is_locked_until_a_helper_waits_and_sleep_advances_it() {
        let env = TestEnvironment::builder()
            .core(core())
            .time_skipping()
            .start()
            .await
            .unwrap();
        let t0 = env.now().await.unwrap();
        env.start_workflow(TimerWorkflow::run, 3600, "hour")
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(500)).await;
        // Nobody waits: the timer holds, time runs with the wall clock.
        let t1 = env.now().await.unwrap();
        assert!(
            t1.duration_since(t0).unwrap() < Duration::from_secs(600),
            "locked"
        );
        env.sleep(Duration::from_secs(2 * 3600)).await.unwrap();
        let t2 = env.now().await.unwrap();
        assert!(t2.duration_since(t1).unwrap() >= Duration::from_secs(2 * 3600));
        // The hour passed during the sleep; the result is there.
        assert_eq!(
            env.result::<TimerWorkflow>("hour").await.unwrap(),
            "timer of 3600s fired"
        );
        // Concurrent waiters keep the server's lock balanced.
        let (a, b) = tokio::join!(
            env.execute_workflow(TimerWorkflow::run, 7200, "two-hours"),
            env.execute_workflow(TimerWorkflow::run, 60, "minute")
        );
        assert_eq!(a.unwrap(), "timer of 7200s fired");
        assert_eq!(b.unwrap(), "timer of 60s fired");
        let t3 = env.now().await.unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
        let t4 = env.now().await.unwrap();
        assert!(
            t4.duration_since(t3).unwrap() < Duration::from_secs(60),
            "locked again"
        );
    }

    #[tokio::test]
    async fn without_time_skipping_the_clock_is_the_wall_clock() {
        let env = TestEnvironment::builder()
            .core(core())
            .start()
            .await
            .unwrap();
        assert!(!env.is_time_skipping());
        let now = env.now().await.unwrap();
        let wall = SystemTime::now();
        let skew = wall.duration_since(now).unwrap_or_else(|e| e.duration());
        assert!(skew < Duration::from_secs(5), "{skew:?}");
        let wall = Instant::now();
        env.sleep(Duration::from_millis(300)).await.unwrap();
        assert!(wall.elapsed() >= Duration::from_millis(300));
        assert_eq!(
            env.execute_workflow(TimerWorkflow::run, 1, "one-second")
                .await
                .unwrap(),
            "timer of 1s fired"
        );
        env.shutdown().await;
    }
}
