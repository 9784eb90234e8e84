//! Conformance scenarios driven by the official Rust SDK (client + core worker) against a
//! freshly started dev server; a batch job over SDK-run workflows in `batch/rust_sdk.rs`.
#[path = "batch/rust_sdk.rs"]
mod batch_rust_sdk;
#[path = "batch/support.rs"]
mod batch_support;
use hourglass_devserver::{Database, DevServer, RunningServer};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use temporalio_client::errors::{WorkflowStartError, WorkflowUpdateWithStartError};
use temporalio_client::{
    Client, ClientOptions, Connection, ConnectionOptions, RetryPolicy,
    WorkflowExecuteUpdateOptions, WorkflowGetResultOptions, WorkflowIdConflictPolicy,
    WorkflowQueryOptions, WorkflowSignalOptions, WorkflowStartOptions,
    WorkflowUpdateWithStartOptions,
};
use temporalio_macros::{activities, workflow, workflow_methods};
use temporalio_sdk::{
    ActivityOptions, ApplicationFailure, ChildWorkflowOptions, ContinueAsNewOptions, Runtime,
    SyncWorkflowContext, Worker, WorkerOptions, WorkflowContext, WorkflowContextView,
    WorkflowResult,
    activities::{ActivityContext, ActivityError},
};

pub struct Acts {
    attempts: Arc<AtomicUsize>,
}

#[activities]
impl Acts {
    #[activity]
    pub async fn greet(_ctx: ActivityContext, name: String) -> Result<String, ActivityError> {
        Ok(format!("Hello, {name}!"))
    }

    /// Fails twice, then succeeds.
    #[activity]
    pub async fn flaky(
        self: Arc<Self>,
        ctx: ActivityContext,
        _x: (),
    ) -> Result<u32, ActivityError> {
        self.attempts.fetch_add(1, Ordering::SeqCst);
        let attempt = ctx.info().attempt;
        if attempt < 3 {
            return Err(anyhow::anyhow!("transient failure {attempt}").into());
        }
        Ok(attempt)
    }
}

#[workflow]
#[derive(Default)]
pub struct HelloWf;

#[workflow_methods]
impl HelloWf {
    #[run]
    pub async fn run(ctx: &mut WorkflowContext<Self>, name: String) -> WorkflowResult<String> {
        let g = ctx
            .execute_activity(
                Acts::greet,
                name,
                ActivityOptions::start_to_close_timeout(Duration::from_secs(10)),
            )
            .await?;
        ctx.timer(Duration::from_millis(300)).await;
        Ok(g)
    }
}

#[workflow]
#[derive(Default)]
pub struct RetryWf;

#[workflow_methods]
impl RetryWf {
    #[run]
    pub async fn run(ctx: &mut WorkflowContext<Self>, _x: ()) -> WorkflowResult<u32> {
        let rp = RetryPolicy::builder()
            .initial_interval(Duration::from_millis(100))
            .backoff_coefficient(1.0)
            .build();
        let opts = ActivityOptions::with_start_to_close_timeout(Duration::from_secs(10))
            .retry_policy(rp)
            .build();
        Ok(ctx.execute_activity(Acts::flaky, (), opts).await?)
    }
}

#[workflow]
#[derive(Default)]
pub struct CounterWf {
    counter: i32,
}

#[workflow_methods]
impl CounterWf {
    #[run]
    pub async fn run(ctx: &mut WorkflowContext<Self>, target: i32) -> WorkflowResult<i32> {
        ctx.wait_condition(|s| s.counter >= target).await?;
        Ok(ctx.state(|s| s.counter))
    }

    #[signal]
    pub fn increment(&mut self, _ctx: &mut SyncWorkflowContext<Self>, amount: i32) {
        self.counter += amount;
    }

    #[query]
    pub fn get_counter(&self, _ctx: &WorkflowContextView) -> i32 {
        self.counter
    }

    #[update]
    pub fn set_counter(&mut self, _ctx: &mut SyncWorkflowContext<Self>, value: i32) -> i32 {
        let old = self.counter;
        self.counter = value;
        old
    }
}

#[workflow]
#[derive(Default)]
pub struct ParentWf;

#[workflow_methods]
impl ParentWf {
    #[run]
    pub async fn run(ctx: &mut WorkflowContext<Self>, name: String) -> WorkflowResult<String> {
        let child = ctx
            .start_child_workflow(
                HelloWf::run,
                name,
                ChildWorkflowOptions::builder()
                    .workflow_id(format!("{}-child", ctx.workflow_id()))
                    .build(),
            )
            .await?;
        let r = child.result().await?;
        Ok(format!("child said: {r}"))
    }
}

#[workflow]
#[derive(Default)]
pub struct LoopWf;

#[workflow_methods]
impl LoopWf {
    #[run]
    pub async fn run(ctx: &mut WorkflowContext<Self>, n: u32) -> WorkflowResult<u32> {
        if n < 3 {
            ctx.continue_as_new(n + 1, ContinueAsNewOptions::default())?;
        }
        Ok(n)
    }
}

#[workflow]
#[derive(Default)]
pub struct FailWf;

#[workflow_methods]
impl FailWf {
    #[run]
    pub async fn run(_ctx: &mut WorkflowContext<Self>, _x: ()) -> WorkflowResult<()> {
        Err(ApplicationFailure::new("workflow says no").into())
    }
}

async fn start(tq: &str) -> (RunningServer, Client, Worker, Arc<AtomicUsize>) {
    let server = DevServer::builder()
        .port(0)
        .database(Database::InMemory)
        .start()
        .await
        .unwrap();
    let url = url::Url::parse(&server.url()).unwrap();
    let conn = Connection::connect(
        ConnectionOptions::new(url)
            .identity("rust-sdk-test@localhost")
            .build(),
    )
    .await
    .unwrap();
    let client = Client::new(conn, ClientOptions::new("default").build()).unwrap();
    let attempts = Arc::new(AtomicUsize::new(0));
    let opts = WorkerOptions::new(tq)
        .register_activities(Acts {
            attempts: attempts.clone(),
        })
        .register_workflow::<HelloWf>()
        .unwrap()
        .register_workflow::<RetryWf>()
        .unwrap()
        .register_workflow::<CounterWf>()
        .unwrap()
        .register_workflow::<ParentWf>()
        .unwrap()
        .register_workflow::<LoopWf>()
        .unwrap()
        .register_workflow::<FailWf>()
        .unwrap()
        .build();
    let runtime = Runtime::from_current_tokio(Default::default()).unwrap();
    let worker = Worker::new(&runtime, client.clone(), opts).unwrap();
    (server, client, worker, attempts)
}

/// `f`'s output, failing the test when it takes over 30 s (a workflow's result).
pub(crate) async fn within_30s<F: std::future::Future>(f: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(30), f)
        .await
        .expect("no answer within 30 s")
}

/// Runs `scenarios` while the worker runs on this task (its future is not `Send`), then
/// shuts the worker and the server down; re-raises a scenario panic.
async fn drive<F>(tq: &str, scenarios: impl FnOnce(Client, Arc<AtomicUsize>) -> F)
where
    F: std::future::Future<Output = ()> + Send + 'static,
{
    use futures::FutureExt;
    let (server, client, mut worker, attempts) = start(tq).await;
    let shutdown = worker.shutdown_handle();
    let fut = scenarios(client, attempts);
    let task = tokio::spawn(async move {
        let r = std::panic::AssertUnwindSafe(fut).catch_unwind().await;
        shutdown();
        r
    });
    tokio::time::timeout(Duration::from_secs(120), worker.run())
        .await
        .unwrap()
        .unwrap();
    let r = task.await.unwrap();
    server.shutdown().await.unwrap();
    if let Err(p) = r {
        std::panic::resume_unwind(p);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_sdk_scenarios() {
    drive("rust-sdk", |c, attempts| async move {
        scenarios(c, attempts).await
    })
    .await;
}

/// Update-with-start through the official Rust SDK client (ExecuteMultiOperation): the
/// first call starts the workflow and delivers the update in one request; FAIL on the
/// running workflow refuses the start as already started; USE_EXISTING attaches the update
/// to the running workflow.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_sdk_update_with_start() {
    drive("rust-sdk-uws", |c, _| async move {
        let opts =
            |policy| WorkflowUpdateWithStartOptions::new("rust-sdk-uws", "uws-1", policy).build();
        let set = |value, policy| {
            let c = c.clone();
            async move {
                c.execute_update_with_start_workflow(
                    CounterWf::run,
                    10,
                    CounterWf::set_counter,
                    value,
                    opts(policy),
                )
                .await
            }
        };
        assert_eq!(
            set(3, WorkflowIdConflictPolicy::UseExisting).await.unwrap(),
            0
        );
        let err = set(4, WorkflowIdConflictPolicy::Fail)
            .await
            .expect_err("FAIL on a running workflow");
        assert!(
            matches!(
                err,
                WorkflowUpdateWithStartError::Start(WorkflowStartError::AlreadyStarted { .. })
            ),
            "{err:?}"
        );
        assert_eq!(
            set(10, WorkflowIdConflictPolicy::UseExisting)
                .await
                .unwrap(),
            3
        );
        let h = c.get_workflow_handle::<CounterWf>("uws-1");
        let r = within_30s(h.get_result(WorkflowGetResultOptions::default()))
            .await
            .unwrap();
        assert_eq!(
            r, 10,
            "the update reached the workflow the first call started"
        );
    })
    .await;
}

async fn scenarios(c: Client, attempts: Arc<AtomicUsize>) {
    let c = &c;
    // Hello activity + durable timer.
    let h = c
        .start_workflow(
            HelloWf::run,
            "Rust".to_string(),
            WorkflowStartOptions::new("rust-sdk", "hello-1").build(),
        )
        .await
        .unwrap();
    let r = within_30s(h.get_result(WorkflowGetResultOptions::default()))
        .await
        .unwrap();
    assert_eq!(r, "Hello, Rust!");

    // Activity retried after failures.
    let h = c
        .start_workflow(
            RetryWf::run,
            (),
            WorkflowStartOptions::new("rust-sdk", "retry-1").build(),
        )
        .await
        .unwrap();
    let r = within_30s(h.get_result(WorkflowGetResultOptions::default()))
        .await
        .unwrap();
    assert_eq!(r, 3);
    assert_eq!(attempts.load(Ordering::SeqCst), 3);

    // Signal, query, update.
    let h = c
        .start_workflow(
            CounterWf::run,
            10,
            WorkflowStartOptions::new("rust-sdk", "counter-1").build(),
        )
        .await
        .unwrap();
    h.signal(CounterWf::increment, 5, WorkflowSignalOptions::default())
        .await
        .unwrap();
    let mut seen = 0;
    for _ in 0..50 {
        seen = h
            .query(CounterWf::get_counter, (), WorkflowQueryOptions::default())
            .await
            .unwrap();
        if seen == 5 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(seen, 5);
    let old = h
        .execute_update(
            CounterWf::set_counter,
            10,
            WorkflowExecuteUpdateOptions::default(),
        )
        .await
        .unwrap();
    assert_eq!(old, 5);
    let r = within_30s(h.get_result(WorkflowGetResultOptions::default()))
        .await
        .unwrap();
    assert_eq!(r, 10);

    // Child workflow.
    let h = c
        .start_workflow(
            ParentWf::run,
            "kid".to_string(),
            WorkflowStartOptions::new("rust-sdk", "parent-1").build(),
        )
        .await
        .unwrap();
    let r = within_30s(h.get_result(WorkflowGetResultOptions::default()))
        .await
        .unwrap();
    assert_eq!(r, "child said: Hello, kid!");

    // Continue-as-new: the result follows the chain.
    let h = c
        .start_workflow(
            LoopWf::run,
            0,
            WorkflowStartOptions::new("rust-sdk", "loop-1").build(),
        )
        .await
        .unwrap();
    let r = within_30s(h.get_result(WorkflowGetResultOptions::default()))
        .await
        .unwrap();
    assert_eq!(r, 3);

    // Workflow failure surfaces to the client.
    let h = c
        .start_workflow(
            FailWf::run,
            (),
            WorkflowStartOptions::new("rust-sdk", "fail-1").build(),
        )
        .await
        .unwrap();
    let r = within_30s(h.get_result(WorkflowGetResultOptions::default())).await;
    let err = r.expect_err("workflow must fail");
    assert!(format!("{err:?}").contains("workflow says no"), "{err:?}");
}
