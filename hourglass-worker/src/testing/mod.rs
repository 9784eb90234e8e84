//! Testing workflows: [`TestEnvironment`] runs an in-memory dev server, the Hourglass
//! subsystem (the real core, the real poll loops and evaluators) serving the workflows and
//! activities registered in the test binary, and an official Temporal client — in one call,
//! torn down on drop. [`TestEnvironment::start_time_skipping`] runs the server on a virtual
//! clock instead, so timers of days fire in moments ([`TestEnvironment::sleep`],
//! [`TestEnvironment::now`]).
//!
//! ```
//! use hourglass_worker::examples::{CounterWorkflow, GreetingWorkflow};
//! use hourglass_worker::testing::TestEnvironment;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), hourglass_worker::testing::TestEnvError> {
//! let env = TestEnvironment::start().await?;
//!
//! let greeting = env
//!     .execute_workflow(GreetingWorkflow::run, "World".to_string(), "greet-1")
//!     .await?;
//! assert_eq!(greeting, "Hello, World!");
//!
//! env.start_workflow(CounterWorkflow::run, (), "counter-1").await?;
//! env.signal("counter-1", CounterWorkflow::add, 2).await?;
//! assert_eq!(env.update("counter-1", CounterWorkflow::add_and_get, 3).await?, 5);
//! assert_eq!(env.query("counter-1", CounterWorkflow::count, ()).await?, 5);
//! env.signal("counter-1", CounterWorkflow::finish, ()).await?;
//! assert_eq!(env.result::<CounterWorkflow>("counter-1").await?, 5);
//! env.shutdown().await; // or just drop it
//! # Ok(())
//! # }
//! ```
//!
//! Activities can be replaced by type name (a workflow calling them cannot tell):
//!
//! ```
//! use hourglass_worker::examples::GreetingWorkflow;
//! use hourglass_worker::testing::TestEnvironment;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), hourglass_worker::testing::TestEnvError> {
//! let env = TestEnvironment::builder()
//!     .mock_activity("GreetingActivities::greet", |_ctx, name: String| async move {
//!         Ok(format!("Mocked, {name}!"))
//!     })
//!     .start()
//!     .await?;
//! let greeting = env
//!     .execute_workflow(GreetingWorkflow::run, "World".to_string(), "greet-mocked")
//!     .await?;
//! assert_eq!(greeting, "Mocked, World!");
//! # Ok(())
//! # }
//! ```

mod background;
mod clock;
mod error;
mod mock;

use std::future::Future;

use hourglass_bridge::Core;
use serde::{Serialize, de::DeserializeOwned};
use temporalio_client::{
    Client, ClientOptions, ConnectionOptions, WorkflowExecuteUpdateOptions,
    WorkflowGetResultOptions, WorkflowHandle, WorkflowQueryOptions, WorkflowSignalOptions,
    WorkflowStartOptions,
};
use temporalio_common::{
    HasWorkflowDefinition, QueryDefinition, SignalDefinition, UpdateDefinition, WorkflowDefinition,
};

pub use error::TestEnvError;

use crate::activity::{ActivityContext, ActivityDefinitions, ActivityError, ActivityInvocation};
use background::{Background, Setup};
use clock::Clock;

/// The task queue a [`TestEnvironment`]'s worker serves unless the builder names another.
pub const TEST_TASK_QUEUE: &str = "hourglass-test";
/// The namespace of a [`TestEnvironment`] unless the builder names another.
pub const TEST_NAMESPACE: &str = "default";

/// A dev server in memory on a free loopback port, Hourglass serving the registered
/// workflows and activities on [`TestEnvironment::task_queue`], and a client.
///
/// Each environment is independent (its own server, so workflow ids never collide between
/// tests). Dropping it stops the workers (they drain as in production), then the server,
/// and blocks the dropping thread until both are down; [`TestEnvironment::shutdown`] does the
/// same without blocking.
pub struct TestEnvironment {
    /// Taken (closing the connections) just before the server stops, so its graceful stop
    /// does not wait on them; present at every other time.
    connections: Option<Connections>,
    url: String,
    namespace: String,
    task_queue: String,
    time_skipping: bool,
    background: Background,
}

/// The environment's connections to its server.
pub(crate) struct Connections {
    client: Client,
    clock: Clock,
}

impl Connections {
    /// Connects the client (and the TestService under time skipping) to `url`.
    pub(crate) async fn open(
        url: &str,
        namespace: &str,
        time_skipping: bool,
    ) -> Result<Connections, TestEnvError> {
        let client = connect(url, namespace).await?;
        let clock = if time_skipping {
            Clock::skipping(url).await?
        } else {
            Clock::Wall
        };
        Ok(Connections { client, clock })
    }
}

impl std::fmt::Debug for TestEnvironment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestEnvironment")
            .field("url", &self.url)
            .field("namespace", &self.namespace)
            .field("task_queue", &self.task_queue)
            .field("time_skipping", &self.time_skipping)
            .finish_non_exhaustive()
    }
}

/// Configures a [`TestEnvironment`]: core, task queue, activity mocks.
pub struct TestEnvironmentBuilder {
    core: Option<Core>,
    namespace: String,
    task_queue: String,
    time_skipping: bool,
    mocks: Vec<(String, ActivityInvocation)>,
}

impl std::fmt::Debug for TestEnvironmentBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mocks: Vec<&str> = self.mocks.iter().map(|(t, _)| t.as_str()).collect();
        f.debug_struct("TestEnvironmentBuilder")
            .field("namespace", &self.namespace)
            .field("task_queue", &self.task_queue)
            .field("time_skipping", &self.time_skipping)
            .field("mocks", &mocks)
            .finish_non_exhaustive()
    }
}

impl TestEnvironmentBuilder {
    /// The core to run on (a loaded `libhourglass_core.so`); the compiled-in core when not set.
    pub fn core(mut self, core: Core) -> Self {
        self.core = Some(core);
        self
    }

    /// The namespace the server creates and the client and workers use.
    pub fn namespace(mut self, namespace: impl Into<String>) -> Self {
        self.namespace = namespace.into();
        self
    }

    /// The task queue the worker serves and the helpers start workflows on.
    pub fn task_queue(mut self, task_queue: impl Into<String>) -> Self {
        self.task_queue = task_queue.into();
        self
    }

    /// Runs the server on a virtual clock (see [`TestEnvironment::start_time_skipping`]).
    pub fn time_skipping(mut self) -> Self {
        self.time_skipping = true;
        self
    }

    /// Serves activity type `activity_type` with `f` instead of its registered implementation
    /// (or in addition to the registered types, if none has that name). The first argument
    /// is decoded from JSON (`null` when the activity got none) and the result encoded as
    /// JSON; a panic in `f` is an activity failure. A later mock of the same type wins.
    pub fn mock_activity<I, O, F, Fut>(mut self, activity_type: &str, f: F) -> Self
    where
        I: DeserializeOwned + 'static,
        O: Serialize + 'static,
        F: Fn(ActivityContext, I) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<O, ActivityError>> + Send + 'static,
    {
        self.mocks.retain(|(t, _)| t != activity_type);
        self.mocks
            .push((activity_type.to_owned(), mock::invocation(activity_type, f)));
        self
    }

    /// Starts the environment. Returns once the server listens, the workers poll and the
    /// client is connected; on any error nothing is left running.
    pub async fn start(self) -> Result<TestEnvironment, TestEnvError> {
        let activities = mock::with_mocks(&ActivityDefinitions::from_registered()?, &self.mocks)?;
        let (background, url, connections) = Background::start(Setup {
            core: self.core.unwrap_or_else(Core::linked),
            namespace: self.namespace.clone(),
            task_queue: self.task_queue.clone(),
            activities,
            time_skipping: self.time_skipping,
        })
        .await?;
        Ok(TestEnvironment {
            connections: Some(connections),
            url,
            namespace: self.namespace,
            task_queue: self.task_queue,
            time_skipping: self.time_skipping,
            background,
        })
    }
}

async fn connect(url: &str, namespace: &str) -> Result<Client, TestEnvError> {
    let connect_err = |source| TestEnvError::Connect {
        url: url.to_owned(),
        source: Box::new(source),
    };
    let target = temporalio_client::Url::parse(url).map_err(|e| {
        connect_err(
            temporalio_client::errors::ClientConnectError::InvalidConfig(format!(
                "bad server URL: {e}"
            )),
        )
    })?;
    let connection = ConnectionOptions::new(target)
        .identity(format!("hourglass-test-env@{}", std::process::id()))
        .build();
    Client::connect(connection, ClientOptions::new(namespace).build())
        .await
        .map_err(connect_err)
}

impl TestEnvironment {
    /// Starts an environment with the defaults: the compiled-in core, namespace
    /// [`TEST_NAMESPACE`], task queue [`TEST_TASK_QUEUE`], no mocks.
    pub async fn start() -> Result<TestEnvironment, TestEnvError> {
        Self::builder().start().await
    }

    /// Starts an environment whose server runs on a virtual clock with Temporal's test-server
    /// semantics: while a helper waits on a workflow's result ([`Self::execute_workflow`],
    /// [`Self::result`]) or in [`Self::sleep`], time jumps to the next timer whenever no
    /// workflow task or activity is outstanding, so a workflow sleeping 30 days completes in
    /// moments; otherwise time runs with the wall clock. Event times in histories, timeouts
    /// and retry backoffs are virtual.
    ///
    /// ```
    /// use hourglass_worker::examples::TimerWorkflow;
    /// use hourglass_worker::testing::TestEnvironment;
    /// use std::time::Duration;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), hourglass_worker::testing::TestEnvError> {
    /// let env = TestEnvironment::start_time_skipping().await?;
    /// let before = env.now().await?;
    /// let thirty_days = 30 * 24 * 3600;
    /// let done = env
    ///     .execute_workflow(TimerWorkflow::run, thirty_days, "sleepy")
    ///     .await?;
    /// assert_eq!(done, format!("timer of {thirty_days}s fired"));
    /// let elapsed = env.now().await?.duration_since(before).unwrap_or_default();
    /// assert!(elapsed >= Duration::from_secs(thirty_days));
    ///
    /// env.sleep(Duration::from_secs(3600)).await?; // an hour, at once
    /// # Ok(())
    /// # }
    /// ```
    pub async fn start_time_skipping() -> Result<TestEnvironment, TestEnvError> {
        Self::builder().time_skipping().start().await
    }

    /// A builder for an environment with other settings or mocked activities.
    pub fn builder() -> TestEnvironmentBuilder {
        TestEnvironmentBuilder {
            core: None,
            namespace: TEST_NAMESPACE.to_owned(),
            task_queue: TEST_TASK_QUEUE.to_owned(),
            time_skipping: false,
            mocks: Vec::new(),
        }
    }

    fn connections(&self) -> &Connections {
        match &self.connections {
            Some(c) => c,
            // Taken only by `shutdown(self)` and `drop`, after which `self` is gone.
            None => unreachable!("test environment used after it was stopped"),
        }
    }

    /// The official Temporal client, connected to this environment's server.
    pub fn client(&self) -> &Client {
        &self.connections().client
    }

    /// The server's URL (`http://127.0.0.1:<port>`), for other clients (another SDK, the CLI).
    pub fn server_url(&self) -> &str {
        &self.url
    }

    /// The namespace the client and workers use.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// The task queue the worker serves.
    pub fn task_queue(&self) -> &str {
        &self.task_queue
    }

    /// Starts a workflow on the environment's task queue under `workflow_id`.
    pub async fn start_workflow<W>(
        &self,
        workflow: W,
        input: W::Input,
        workflow_id: &str,
    ) -> Result<WorkflowHandle<Client, W>, TestEnvError>
    where
        W: HasWorkflowDefinition,
        W::Input: Send,
    {
        let options = WorkflowStartOptions::new(self.task_queue.clone(), workflow_id).build();
        self.client()
            .start_workflow(workflow, input, options)
            .await
            .map_err(|e| TestEnvError::Start {
                workflow_id: workflow_id.to_owned(),
                source: Box::new(e),
            })
    }

    /// Starts a workflow and waits for its result; a failed, cancelled, terminated or timed
    /// out workflow is [`TestEnvError::Result`].
    pub async fn execute_workflow<W>(
        &self,
        workflow: W,
        input: W::Input,
        workflow_id: &str,
    ) -> Result<W::Output, TestEnvError>
    where
        W: HasWorkflowDefinition,
        W::Input: Send,
    {
        let handle = self.start_workflow(workflow, input, workflow_id).await?;
        self.connections()
            .clock
            .unlocked(handle.get_result(WorkflowGetResultOptions::default()))
            .await?
            .map_err(|e| result_err(workflow_id, e))
    }

    /// Waits for the result of workflow `workflow_id` (typed by its run method's workflow,
    /// e.g. `env.result::<CounterWorkflow>("id")`).
    pub async fn result<W>(
        &self,
        workflow_id: &str,
    ) -> Result<<W as WorkflowDefinition>::Output, TestEnvError>
    where
        W: HasWorkflowDefinition,
    {
        let handle = self.client().get_workflow_handle::<W>(workflow_id);
        self.connections()
            .clock
            .unlocked(handle.get_result(WorkflowGetResultOptions::default()))
            .await?
            .map_err(|e| result_err(workflow_id, e))
    }

    /// Sends signal `signal` (e.g. `CounterWorkflow::add`) to workflow `workflow_id`.
    pub async fn signal<S>(
        &self,
        workflow_id: &str,
        signal: S,
        input: S::Input,
    ) -> Result<(), TestEnvError>
    where
        S: SignalDefinition,
        S::Workflow: HasWorkflowDefinition<Run = S::Workflow>,
        S::Input: Send,
    {
        let name = signal.name().to_owned();
        self.client()
            .get_workflow_handle::<S::Workflow>(workflow_id)
            .signal(signal, input, WorkflowSignalOptions::default())
            .await
            .map_err(|e| TestEnvError::Signal {
                workflow_id: workflow_id.to_owned(),
                name,
                source: Box::new(e),
            })
    }

    /// Runs query `query` (e.g. `CounterWorkflow::count`) on workflow `workflow_id`.
    pub async fn query<Q>(
        &self,
        workflow_id: &str,
        query: Q,
        input: Q::Input,
    ) -> Result<Q::Output, TestEnvError>
    where
        Q: QueryDefinition,
        Q::Workflow: HasWorkflowDefinition<Run = Q::Workflow>,
        Q::Input: Send,
    {
        let name = query.name().to_owned();
        self.client()
            .get_workflow_handle::<Q::Workflow>(workflow_id)
            .query(query, input, WorkflowQueryOptions::default())
            .await
            .map_err(|e| TestEnvError::Query {
                workflow_id: workflow_id.to_owned(),
                name,
                source: Box::new(e),
            })
    }

    /// Runs update `update` (e.g. `CounterWorkflow::add_and_get`) on workflow `workflow_id`
    /// and waits for its result.
    pub async fn update<U>(
        &self,
        workflow_id: &str,
        update: U,
        input: U::Input,
    ) -> Result<U::Output, TestEnvError>
    where
        U: UpdateDefinition,
        U::Workflow: HasWorkflowDefinition<Run = U::Workflow>,
        U::Input: Send,
    {
        let name = update.name().to_owned();
        self.client()
            .get_workflow_handle::<U::Workflow>(workflow_id)
            .execute_update(update, input, WorkflowExecuteUpdateOptions::default())
            .await
            .map_err(|e| TestEnvError::Update {
                workflow_id: workflow_id.to_owned(),
                name,
                source: Box::new(e),
            })
    }

    /// True if the server runs on a virtual clock ([`Self::start_time_skipping`]).
    pub fn is_time_skipping(&self) -> bool {
        self.time_skipping
    }

    /// The server's current time: virtual under time skipping, else the wall clock.
    pub async fn now(&self) -> Result<std::time::SystemTime, TestEnvError> {
        self.connections().clock.now().await
    }

    /// Lets `duration` pass for the workflows: under time skipping the server's clock
    /// advances (skipping to each timer on the way once nothing is outstanding) and this
    /// returns when it reached `now + duration`; otherwise it sleeps on the wall clock.
    pub async fn sleep(&self, duration: std::time::Duration) -> Result<(), TestEnvError> {
        self.connections().clock.sleep(duration).await
    }

    /// Stops the workers (draining), then the server, without blocking the caller's runtime.
    pub async fn shutdown(mut self) {
        self.connections = None;
        self.background.stop().await;
    }
}

fn result_err(
    workflow_id: &str,
    e: temporalio_client::errors::WorkflowGetResultError,
) -> TestEnvError {
    TestEnvError::Result {
        workflow_id: workflow_id.to_owned(),
        source: Box::new(e),
    }
}

impl Drop for TestEnvironment {
    fn drop(&mut self) {
        // A no-op after shutdown(); otherwise blocks until the workers and server are down.
        self.connections = None;
        self.background.stop_blocking();
    }
}
