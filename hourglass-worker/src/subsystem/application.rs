//! The Application: the root of the tree, and [`Hourglass`], the handle users hold.

use super::bridge_holder::{self, BridgeHolder};
use super::config::SubsystemConfig;
use super::error::SubsystemError;
use super::names;
use super::runtime;
use super::task_queue_worker::{self, pollers_name};
use super::worker_launcher;
use super::worker_reaper::{OrphanTally, OrphanedWorkers};
use super::worker_registry::{self, WorkerRegistry};
use hourglass_supervise::{
    DynamicSupervisorHandle, DynamicSupervisorSpec, Exit, Registry, Strategy, SupervisorHandle,
    SupervisorSnapshot, SupervisorSpec,
};
use std::sync::Arc;

/// A running Hourglass application. Dropping it does not stop the tree; call
/// [`Hourglass::shutdown`] for a graceful stop (workers drain as the official SDKs do).
pub struct Hourglass {
    app: SupervisorHandle,
    registry: Registry,
    config: Arc<SubsystemConfig>,
    orphans: Arc<OrphanTally>,
}

impl Hourglass {
    /// Starts the whole tree. Returns once the core runtime is up, the client is connected
    /// and every configured task queue has a registered, validated worker whose poll loops run;
    /// any failure on the way is an error and nothing is left running.
    pub async fn start(config: SubsystemConfig) -> Result<Hourglass, SubsystemError> {
        if config.worker.namespace.trim().is_empty() {
            return Err(SubsystemError::Config(
                "the namespace must not be empty".into(),
            ));
        }
        if config.task_queues.iter().any(|tq| tq.trim().is_empty()) {
            return Err(SubsystemError::Config(
                "task queue names must not be empty".into(),
            ));
        }
        let config = Arc::new(config);
        let registry = Registry::new();
        let orphans = Arc::new(OrphanTally::default());
        let subsystem = SupervisorSpec::new("subsystem")
            .strategy(Strategy::RestForOne)
            .intensity(config.max_restarts, config.max_restart_period)
            .register_as(names::SUBSYSTEM)
            .child(runtime::child_spec(
                config.core.clone(),
                config.runtime.clone(),
                config.client.clone(),
            ))
            .child(bridge_holder::child_spec(
                config.drain_timeout,
                orphans.clone(),
            ))
            .child(worker_registry::child_spec())
            .child(
                DynamicSupervisorSpec::new("worker_supervisor")
                    .intensity(config.max_restarts, config.max_restart_period)
                    .register_as(names::WORKER_SUPERVISOR)
                    .into_child_spec(),
            )
            .child(worker_launcher::child_spec(config.clone()))
            .into_child_spec();
        let mut app = SupervisorSpec::new(names::APPLICATION)
            .strategy(Strategy::OneForOne)
            .intensity(config.max_restarts, config.max_restart_period)
            .registry(registry.clone())
            .child(
                DynamicSupervisorSpec::new("workflow_evaluator")
                    .register_as(names::WORKFLOW_EVALUATOR)
                    .into_child_spec(),
            )
            .child(
                DynamicSupervisorSpec::new("activity_executor")
                    .register_as(names::ACTIVITY_EXECUTOR)
                    .into_child_spec(),
            );
        if let Some(pools) = &config.external_pools {
            app = app.child(pools.child_spec());
        }
        let app = app.child(subsystem).start().await?;
        tracing::info!(task_queues = ?config.task_queues, "hourglass started");
        Ok(Hourglass {
            app,
            registry,
            config,
            orphans,
        })
    }

    /// The external activity pools, if configured.
    pub fn external_pools(&self) -> Option<&crate::external::ExternalPools> {
        self.config.external_pools.as_ref()
    }

    /// The tree's registry (every component's handle is published there by name).
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The root supervisor.
    pub fn supervisor(&self) -> &SupervisorHandle {
        &self.app
    }

    /// A snapshot of the whole tree (ids, strategies, states, restart counts).
    pub async fn snapshot(&self) -> Result<SupervisorSnapshot, SubsystemError> {
        Ok(self.app.snapshot().await?)
    }

    /// The current BridgeHolder, if one is running.
    pub fn bridge_holder(&self) -> Option<BridgeHolder> {
        self.registry.lookup(names::BRIDGE_HOLDER)
    }

    /// What became of the core workers this application's holders orphaned (by a crash, a
    /// stop or a core reload): finalized after their outstanding work was failed back, or
    /// abandoned after the drain timeout. Counted when each reaper is done.
    pub fn orphaned_workers(&self) -> OrphanedWorkers {
        self.orphans.snapshot()
    }

    /// The current WorkerRegistry, if one is running.
    pub fn worker_registry(&self) -> Option<WorkerRegistry> {
        self.registry.lookup(names::WORKER_REGISTRY)
    }

    /// Task queues that currently have a registered worker.
    pub fn task_queues(&self) -> Vec<String> {
        self.worker_registry()
            .map(|w| w.task_queues())
            .unwrap_or_default()
    }

    fn worker_supervisor(&self) -> Result<DynamicSupervisorHandle, SubsystemError> {
        self.registry
            .lookup(names::WORKER_SUPERVISOR)
            .ok_or(SubsystemError::NotRunning {
                component: names::WORKER_SUPERVISOR,
            })
    }

    /// Starts a worker for another task queue (under the current Worker.Supervisor). Like
    /// the original, such a worker is not re-created by a cascade; configure task queues in
    /// [`SubsystemConfig::task_queues`] for that.
    pub async fn start_worker(&self, task_queue: &str) -> Result<(), SubsystemError> {
        if task_queue.trim().is_empty() {
            return Err(SubsystemError::Config(
                "task queue names must not be empty".into(),
            ));
        }
        self.worker_supervisor()?
            .start_child(task_queue_worker::child_spec(
                task_queue,
                self.config.clone(),
            ))
            .await?;
        Ok(())
    }

    /// Stops the worker of `task_queue` gracefully (its loops drain, then it unregisters).
    pub async fn stop_worker(&self, task_queue: &str) -> Result<(), SubsystemError> {
        let sup = self.worker_supervisor()?;
        let id = format!("worker:{task_queue}");
        let child = sup
            .which_children()
            .await?
            .into_iter()
            .find(|c| c.id == id)
            .ok_or_else(|| SubsystemError::WorkerNotRegistered {
                task_queue: task_queue.to_string(),
            })?;
        sup.terminate_child(child.child).await?;
        Ok(())
    }

    /// Kills one poll loop of `task_queue` (`"workflow_poll_loop"` or `"activity_poll_loop"`)
    /// as a crash would; its supervisor restarts it. For chaos tests and the admin endpoint.
    pub async fn kill_poll_loop(
        &self,
        task_queue: &str,
        poll_loop: &str,
    ) -> Result<bool, SubsystemError> {
        let pollers: SupervisorHandle = self
            .registry
            .lookup(&pollers_name(task_queue))
            .ok_or_else(|| SubsystemError::WorkerNotRegistered {
                task_queue: task_queue.to_string(),
            })?;
        Ok(pollers.kill_child(poll_loop).await?)
    }

    /// Makes the current BridgeHolder crash; the Subsystem cascades and heals. For chaos tests
    /// and the admin endpoint. Returns false when no holder is running.
    pub fn crash_bridge_holder(&self, reason: &str) -> bool {
        match self.bridge_holder() {
            Some(h) => {
                h.crash(reason);
                true
            }
            None => false,
        }
    }

    /// Stops everything gracefully: workers drain, in-flight work finishes, then the
    /// core runtime stops. Returns the root's exit reason.
    pub async fn shutdown(&self) -> Exit {
        tracing::info!("hourglass shutting down");
        self.app.shutdown().await
    }

    /// Resolves when the tree has stopped (after a shutdown, or after escalation).
    pub async fn wait(&self) -> Exit {
        self.app.wait().await
    }
}
