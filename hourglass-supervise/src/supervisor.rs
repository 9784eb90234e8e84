//! Static supervisors (OTP `supervisor`): a fixed, ordered list of children and a strategy.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::child::{ChildKind, ChildSpec, Restart};
use crate::context::ChildContext;
use crate::engine::{Engine, Mode, Request, Target};
use crate::error::{StartError, SuperviseError};
use crate::exit::Exit;
use crate::handle::{HandleCore, ShutdownOnDrop};
use crate::intensity::IntensityLimit;
use crate::registry::Registry;
use crate::snapshot::{ChildCounts, ChildInfo, ChildRef, SupervisorSnapshot};

/// Which children are restarted when one of them must be restarted (OTP strategies).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    /// Only the child that exited.
    OneForOne,
    /// All children: the others are stopped in reverse start order, then all are started in
    /// start order (temporary children are stopped and dropped, not restarted).
    OneForAll,
    /// The child and every child started after it (stopped in reverse order, then restarted in
    /// order; temporary ones dropped).
    RestForOne,
}

/// Specification of a static supervisor.
#[derive(Clone)]
pub struct SupervisorSpec {
    id: String,
    strategy: Strategy,
    limit: IntensityLimit,
    children: Vec<ChildSpec>,
    registry: Option<Registry>,
    register_as: Option<String>,
}

impl fmt::Debug for SupervisorSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SupervisorSpec")
            .field("id", &self.id)
            .field("strategy", &self.strategy)
            .field("limit", &self.limit)
            .field("children", &self.children)
            .field("register_as", &self.register_as)
            .finish()
    }
}

impl SupervisorSpec {
    /// A one_for_one supervisor with intensity 3 restarts in 5 s and no children yet.
    pub fn new(id: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            strategy: Strategy::OneForOne,
            limit: IntensityLimit::default(),
            children: Vec::new(),
            registry: None,
            register_as: None,
        }
    }

    /// Sets the restart strategy.
    pub fn strategy(mut self, strategy: Strategy) -> Self {
        self.strategy = strategy;
        self
    }

    /// Sets the restart intensity: more than `max_restarts` within `period` escalates.
    pub fn intensity(mut self, max_restarts: u32, period: Duration) -> Self {
        self.limit = IntensityLimit {
            max_restarts,
            period,
        };
        self
    }

    /// Appends a child (children start in the order they are added).
    pub fn child(mut self, child: ChildSpec) -> Self {
        self.children.push(child);
        self
    }

    /// Appends several children.
    pub fn children(mut self, children: impl IntoIterator<Item = ChildSpec>) -> Self {
        self.children.extend(children);
        self
    }

    /// Uses `registry` for this tree (default: a new one at top level; the parent's when nested).
    pub fn registry(mut self, registry: Registry) -> Self {
        self.registry = Some(registry);
        self
    }

    /// Registers the supervisor's [`SupervisorHandle`] under `name` in its registry while it
    /// runs (via-style addressing: `registry.via::<SupervisorHandle>(name)`).
    pub fn register_as(mut self, name: impl Into<String>) -> Self {
        self.register_as = Some(name.into());
        self
    }

    fn validate(&self) -> Result<(), SuperviseError> {
        for (i, c) in self.children.iter().enumerate() {
            if self.children[..i].iter().any(|o| o.id == c.id) {
                return Err(SuperviseError::InvalidSpec {
                    supervisor: self.id.clone(),
                    reason: format!("duplicate child id `{}`", c.id),
                });
            }
        }
        Ok(())
    }

    fn engine(
        self,
        registry: Registry,
        shutdown: tokio_util::sync::CancellationToken,
    ) -> (Engine, Option<String>) {
        let mut engine = Engine::new(
            Arc::from(self.id.as_str()),
            Mode::Static(self.strategy),
            self.limit,
            registry,
            shutdown,
        );
        for c in self.children {
            engine.add_static(c);
        }
        (engine, self.register_as)
    }

    /// Starts the supervisor as a top-level task: all children are started in order first; if
    /// one fails to start, those already started are stopped and the error names the child.
    pub async fn start(self) -> Result<SupervisorHandle, SuperviseError> {
        self.validate()?;
        let registry = self.registry.clone().unwrap_or_default();
        let (mut engine, register_as) =
            self.engine(registry.clone(), tokio_util::sync::CancellationToken::new());
        engine.init().await?;
        let (core, done_tx) = HandleCore::for_engine(&engine);
        let handle = SupervisorHandle { core };
        if let Some(name) = register_as {
            let owner = registry.owner();
            if let Err(e) = owner.register(name, handle.clone()) {
                engine.terminate_all().await;
                return Err(SuperviseError::Register {
                    supervisor: engine.id.to_string(),
                    error: e,
                });
            }
            engine.owner = Some(owner);
        }
        tokio::spawn(async move {
            let exit = engine.run().await;
            let _ = done_tx.send(Some(exit));
        });
        Ok(handle)
    }

    /// This supervisor as a child of another supervisor: kind `Supervisor`, restart
    /// `Permanent`, shutdown `Infinity` (all overridable on the returned spec). Reaching its
    /// restart intensity makes it exit with [`Exit::Escalated`], an abnormal exit for the parent.
    pub fn into_child_spec(self) -> ChildSpec {
        let id = self.id.clone();
        let spec = self;
        ChildSpec::from_start_fn(
            id,
            Arc::new(move |ctx: ChildContext| {
                let spec = spec.clone();
                Box::pin(async move {
                    spec.validate().map_err(StartError::new)?;
                    let registry = spec
                        .registry
                        .clone()
                        .unwrap_or_else(|| ctx.registry().clone());
                    let (mut engine, register_as) =
                        spec.engine(registry, ctx.shutdown_token().clone());
                    engine.init().await.map_err(StartError::new)?;
                    let (core, done_tx) = HandleCore::for_engine(&engine);
                    let handle = SupervisorHandle { core };
                    if let Some(name) = register_as
                        && let Err(e) = ctx.register(name, handle.clone())
                    {
                        engine.terminate_all().await;
                        return Err(StartError::new(e));
                    }
                    Ok(crate::handle::run_nested(engine, &ctx, done_tx))
                })
            }),
        )
        .kind(ChildKind::Supervisor)
        .restart(Restart::Permanent)
    }
}

/// A handle to a running static supervisor. Cheap to clone; dropping it does not stop the
/// supervisor.
#[derive(Clone)]
pub struct SupervisorHandle {
    pub(crate) core: HandleCore,
}

impl fmt::Debug for SupervisorHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SupervisorHandle")
            .field("id", &self.core.id)
            .finish()
    }
}

impl SupervisorHandle {
    /// The supervisor's id.
    pub fn id(&self) -> &str {
        &self.core.id
    }

    /// All children in start order with their state and restart counts.
    pub async fn which_children(&self) -> Result<Vec<ChildInfo>, SuperviseError> {
        self.core.which_children().await
    }

    /// Counts of children (specs, active, supervisors, workers).
    pub async fn count_children(&self) -> Result<ChildCounts, SuperviseError> {
        self.core.count_children().await
    }

    /// The recursive tree snapshot (nested supervisors included).
    pub async fn snapshot(&self) -> Result<SupervisorSnapshot, SuperviseError> {
        self.core.snapshot().await
    }

    /// Adds and starts a child at the end of the start order (its id must be unique).
    pub async fn start_child(&self, spec: ChildSpec) -> Result<ChildRef, SuperviseError> {
        self.core.call(|r| Request::StartChild(spec, r)).await?
    }

    /// Stops the child per its shutdown mode; it is kept (terminated) unless temporary.
    pub async fn terminate_child(&self, id: &str) -> Result<(), SuperviseError> {
        self.core
            .call(|r| Request::TerminateChild(Target::Id(id.to_string()), r))
            .await?
    }

    /// Kills the running child `id`: aborts its task, like OTP's `exit(Pid, kill)`. Its exit
    /// reason is [`Exit::Killed`] (abnormal), so it is restarted according to its restart type
    /// and the restart counts toward intensity. Returns whether an incarnation was running.
    pub async fn kill_child(&self, id: &str) -> Result<bool, SuperviseError> {
        self.core
            .call(|r| Request::KillChild(Target::Id(id.to_string()), r))
            .await?
    }

    /// Starts a terminated child again.
    pub async fn restart_child(&self, id: &str) -> Result<ChildRef, SuperviseError> {
        self.core
            .call(|r| Request::RestartChild(id.to_string(), r))
            .await?
    }

    /// Removes a terminated child's spec.
    pub async fn delete_child(&self, id: &str) -> Result<(), SuperviseError> {
        self.core
            .call(|r| Request::DeleteChild(id.to_string(), r))
            .await?
    }

    /// Stops all children in reverse start order, then the supervisor; returns its exit.
    pub async fn shutdown(&self) -> Exit {
        self.core.shutdown().await
    }

    /// Waits until the supervisor exits (shutdown or escalation) and returns its exit reason.
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
