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
