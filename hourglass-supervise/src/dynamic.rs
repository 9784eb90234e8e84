//! Dynamic supervisors (Elixir `DynamicSupervisor`): one_for_one, children added at run time.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::child::{ChildKind, ChildSpec, Restart};
use crate::context::ChildContext;
use crate::engine::{Engine, Mode, Request, Target};
use crate::error::{StartError, SuperviseError};
use crate::exit::Exit;
use crate::handle::{HandleCore, ShutdownOnDrop};
use crate::intensity::IntensityLimit;
use crate::registry::Registry;
use crate::snapshot::{ChildCounts, ChildInfo, ChildRef, SupervisorSnapshot};

/// Specification of a dynamic supervisor.
///
/// Guarantees: children are independent (one_for_one); a child that will not be restarted
/// (temporary, transient after a normal exit, or terminated) is dropped from the state, so
/// memory does not grow with churn; on shutdown all children are signalled at once and each is
/// killed when its own timeout expires.
#[derive(Clone, Debug)]
pub struct DynamicSupervisorSpec {
    id: String,
    limit: IntensityLimit,
    max_children: Option<usize>,
    concurrent_starts: bool,
    registry: Option<Registry>,
    register_as: Option<String>,
}

impl DynamicSupervisorSpec {
    /// Unlimited children, intensity 3 restarts in 5 s.
    pub fn new(id: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            limit: IntensityLimit::default(),
            max_children: None,
            concurrent_starts: false,
            registry: None,
            register_as: None,
        }
    }

    /// Sets the restart intensity.
    pub fn intensity(mut self, max_restarts: u32, period: Duration) -> Self {
        self.limit = IntensityLimit {
            max_restarts,
            period,
        };
        self
    }

    /// Refuses `start_child` once this many children exist.
    pub fn max_children(mut self, max: usize) -> Self {
        self.max_children = Some(max);
        self
    }

    /// Runs the start phases of `start_child` concurrently instead of one at a time inside the
    /// supervisor's loop (default off, as in OTP).
    ///
    /// A child is then *starting* (reported as `Restarting` by `which_children`) until its start
    /// phase ends; the caller of `start_child` gets its answer then, while other requests —
    /// further starts included — are served meanwhile. Bound the number of starts under way on
    /// the caller's side. A child terminated while starting (or at shutdown) is signalled through
    /// its context and waited for per its shutdown mode. Restarts still run inside the loop.
    pub fn concurrent_starts(mut self, enabled: bool) -> Self {
        self.concurrent_starts = enabled;
        self
    }

    /// Uses `registry` (default: new at top level, the parent's when nested).
    pub fn registry(mut self, registry: Registry) -> Self {
        self.registry = Some(registry);
        self
    }

    /// Registers the [`DynamicSupervisorHandle`] under `name` while the supervisor runs.
    pub fn register_as(mut self, name: impl Into<String>) -> Self {
        self.register_as = Some(name.into());
        self
    }

    fn engine(&self, registry: Registry, shutdown: CancellationToken) -> Engine {
        Engine::new(
            Arc::from(self.id.as_str()),
            Mode::Dynamic {
                max_children: self.max_children,
                concurrent_starts: self.concurrent_starts,
            },
            self.limit,
            registry,
            shutdown,
        )
    }

    /// Starts the dynamic supervisor as a top-level task.
    pub async fn start(self) -> Result<DynamicSupervisorHandle, SuperviseError> {
        let registry = self.registry.clone().unwrap_or_default();
        let mut engine = self.engine(registry.clone(), CancellationToken::new());
        tracing::info!(supervisor = %self.id, "dynamic supervisor starting");
        let (core, done_tx) = HandleCore::for_engine(&engine);
        let handle = DynamicSupervisorHandle { core };
        if let Some(name) = self.register_as {
            let owner = registry.owner();
            owner
                .register(name, handle.clone())
                .map_err(|error| SuperviseError::Register {
                    supervisor: self.id.clone(),
                    error,
                })?;
            engine.owner = Some(owner);
        }
        tokio::spawn(async move {
            let exit = engine.run().await;
            let _ = done_tx.send(Some(exit));
        });
        Ok(handle)
    }

    /// This dynamic supervisor as a child (kind `Supervisor`, `Permanent`, shutdown
    /// `Infinity`). Use [`register_as`](Self::register_as) to reach its handle.
    pub fn into_child_spec(self) -> ChildSpec {
        let id = self.id.clone();
        let spec = self;
        ChildSpec::from_start_fn(
            id,
            Arc::new(move |ctx: ChildContext| {
                let spec = spec.clone();
                Box::pin(async move {
                    let registry = spec
                        .registry
                        .clone()
                        .unwrap_or_else(|| ctx.registry().clone());
                    let engine = spec.engine(registry, ctx.shutdown_token().clone());
                    let (core, done_tx) = HandleCore::for_engine(&engine);
                    let handle = DynamicSupervisorHandle { core };
                    if let Some(name) = spec.register_as {
                        ctx.register(name, handle.clone())
                            .map_err(StartError::new)?;
                    }
                    Ok(crate::handle::run_nested(engine, &ctx, done_tx))
                })
            }),
        )
        .kind(ChildKind::Supervisor)
        .restart(Restart::Permanent)
    }
}

/// A handle to a running dynamic supervisor. Cheap to clone.
#[derive(Clone)]
pub struct DynamicSupervisorHandle {
    pub(crate) core: HandleCore,
}

impl fmt::Debug for DynamicSupervisorHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DynamicSupervisorHandle")
            .field("id", &self.core.id)
            .finish()
    }
}

impl DynamicSupervisorHandle {
    /// The supervisor's id.
    pub fn id(&self) -> &str {
        &self.core.id
    }

    /// Starts a child; returns its reference once its start phase succeeded. Fails with
    /// `MaxChildren` at the limit, or `StartFailed` (the child is not kept).
    pub async fn start_child(&self, spec: ChildSpec) -> Result<ChildRef, SuperviseError> {
        self.core.call(|r| Request::StartChild(spec, r)).await?
    }

    /// Queues a start of `spec` and returns at once, like a `cast`: the request is queued
    /// before this returns, so detached starts from one caller are handled in call order.
    /// The returned future resolves to what [`Self::start_child`] would have returned; it
    /// may be dropped, and the start still happens. A refused start (limit reached,
    /// supervisor gone) drops `spec`, so a child that owns work must release that work in
    /// its spec's `Drop`.
    pub fn start_child_detached(
        &self,
        spec: ChildSpec,
    ) -> impl Future<Output = Result<ChildRef, SuperviseError>> + Send + 'static {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let sent = self.core.send(Request::StartChild(spec, tx));
        let id = self.core.id.to_string();
        async move {
            sent?;
            rx.await
                .map_err(|_| SuperviseError::NotRunning(id))
                .and_then(|r| r)
        }
    }

    /// Stops the child per its shutdown mode and forgets it.
    pub async fn terminate_child(&self, child: ChildRef) -> Result<(), SuperviseError> {
        self.core
            .call(|r| Request::TerminateChild(Target::Ref(child), r))
            .await?
    }

    /// Kills the running child: aborts its task, like OTP's `exit(Pid, kill)`. Its exit reason
    /// is [`Exit::Killed`](crate::Exit::Killed), handled like any abnormal exit (restart per
    /// restart type, counted toward intensity). Returns whether it was running.
    pub async fn kill_child(&self, child: ChildRef) -> Result<bool, SuperviseError> {
        self.core
            .call(|r| Request::KillChild(Target::Ref(child), r))
            .await?
    }

    /// All children in start order.
    pub async fn which_children(&self) -> Result<Vec<ChildInfo>, SuperviseError> {
        self.core.which_children().await
    }

    /// Counts of children.
    pub async fn count_children(&self) -> Result<ChildCounts, SuperviseError> {
        self.core.count_children().await
    }

    /// The recursive tree snapshot.
    pub async fn snapshot(&self) -> Result<SupervisorSnapshot, SuperviseError> {
        self.core.snapshot().await
    }

    /// Stops all children concurrently, then the supervisor; returns its exit.
    pub async fn shutdown(&self) -> Exit {
        self.core.shutdown().await
    }

    /// Waits for the supervisor to exit.
    pub async fn wait(&self) -> Exit {
        self.core.wait().await
    }

    /// True while the supervisor runs.
    pub fn is_running(&self) -> bool {
        self.core.is_running()
    }

    /// The registry this supervisor's children register in.
    pub fn registry(&self) -> &Registry {
        &self.core.registry
    }

    /// A guard that requests this supervisor's shutdown when dropped.
    pub fn shutdown_on_drop(&self) -> ShutdownOnDrop {
        self.core.shutdown_on_drop()
    }
}
