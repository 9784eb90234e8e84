//! A Worker: everything that serves one task queue, as its own small supervision tree.
//!
//! ```text
//! worker:<tq> (rest_for_one)
//! ├─ registration       registers the core worker with the BridgeHolder, owns the workflow
//! │                     evaluator and activity executor, publishes the WorkerHandle
//! └─ pollers (one_for_one)
//!    ├─ workflow_poll_loop
//!    └─ activity_poll_loop
//! ```
//!
//! Stopping a worker stops the poll loops first (reverse start order). Each loop, when told
//! to stop, initiates the core worker's shutdown and keeps polling until the core says
//! `ShutDown` — the official SDKs' drain — so everything in flight finishes. Only then does
//! the registration child unregister and finalize the core worker. If the core worker fails
//! (a poll error), the registration child exits abnormally and the Worker replaces the whole
//! registration.

use super::bridge_holder::{BridgeHolder, RegistrationId};
use super::config::SubsystemConfig;
use super::error::SubsystemError;
use super::names;
use super::poll_loop;
use super::worker_registry::{WorkerRegistry, worker_name};
use crate::activity::ActivityExecutor;
use crate::external::ExternalPools;
use crate::workflow::{RunInit, WorkflowEvaluator};
use hourglass_supervise::{
    ChildContext, ChildKind, ChildSpec, Exit, Restart, Shutdown, StartError, Strategy,
    SupervisorSpec,
};
use std::sync::Arc;

/// Everything the poll loops and in-flight tasks of one task queue need. Cheap to clone.
#[derive(Clone)]
pub struct WorkerHandle {
    inner: Arc<WorkerInner>,
}

struct WorkerInner {
    task_queue: String,
    registration: RegistrationId,
    holder: BridgeHolder,
    evaluator: WorkflowEvaluator,
    executor: ActivityExecutor,
    external_pools: Option<ExternalPools>,
}

impl WorkerHandle {
    /// The task queue served.
    pub fn task_queue(&self) -> &str {
        &self.inner.task_queue
    }

    /// The BridgeHolder registration this worker's work belongs to.
    pub fn registration(&self) -> RegistrationId {
        self.inner.registration
    }

    /// The BridgeHolder incarnation this worker registered with.
    pub fn holder(&self) -> &BridgeHolder {
        &self.inner.holder
    }

    /// The workflow evaluator (its own thread and run cache) of this worker.
    pub fn evaluator(&self) -> &WorkflowEvaluator {
        &self.inner.evaluator
    }

    /// The activity executor of this worker.
    pub fn executor(&self) -> &ActivityExecutor {
        &self.inner.executor
    }

    /// The external worker pools activity types no Rust activity claims are sent to.
    pub fn external_pools(&self) -> Option<&ExternalPools> {
        self.inner.external_pools.as_ref()
    }
}

/// The name under which the tree registry holds the WorkerHandle of `task_queue`'s current
/// registration (for the poll loops).
pub fn handle_name(task_queue: &str) -> String {
    format!("hourglass/worker/{task_queue}/handle")
}

/// The name under which the tree registry holds the pollers supervisor of `task_queue`.
pub fn pollers_name(task_queue: &str) -> String {
    format!("hourglass/worker/{task_queue}/pollers")
}

/// The child spec of the Worker for `task_queue` (a supervisor, permanent).
pub fn child_spec(task_queue: &str, config: Arc<SubsystemConfig>) -> ChildSpec {
    let pollers = SupervisorSpec::new("pollers")
        .strategy(Strategy::OneForOne)
        .register_as(pollers_name(task_queue))
        .intensity(config.max_restarts, config.max_restart_period)
        .child(poll_loop::workflow_child_spec(
            task_queue,
            config.drain_timeout,
        ))
        .child(poll_loop::activity_child_spec(
            task_queue,
            config.drain_timeout,
        ))
        .into_child_spec();
    SupervisorSpec::new(format!("worker:{task_queue}"))
        .strategy(Strategy::RestForOne)
        .intensity(config.max_restarts, config.max_restart_period)
        .child(registration_spec(task_queue, config))
        .child(pollers)
        .into_child_spec()
        .kind(ChildKind::Supervisor)
        .restart(Restart::Permanent)
}

fn registration_spec(task_queue: &str, config: Arc<SubsystemConfig>) -> ChildSpec {
    let task_queue = task_queue.to_string();
    ChildSpec::with_init("registration", move |ctx: ChildContext| {
        let task_queue = task_queue.clone();
        let config = config.clone();
        async move {
            let start_err = |e: &dyn std::fmt::Display| StartError::new(format!("{e}"));
            let holder: BridgeHolder = ctx
                .registry()
                .via(names::BRIDGE_HOLDER)
                .map_err(|e| start_err(&e))?;
            let workers: WorkerRegistry = ctx
                .registry()
                .via(names::WORKER_REGISTRY)
                .map_err(|e| start_err(&e))?;
            let registration = holder
                .register(config.worker_config(&task_queue))
                .await
                .map_err(|e| start_err(&e))?;
            // From here on the registration must not outlive this incarnation.
            let guard = Unregister {
                holder: holder.clone(),
                task_queue: task_queue.clone(),
                registration,
            };
            let evaluator = WorkflowEvaluator::spawn(
                config.workflows.clone(),
                RunInit::new(config.worker.namespace.clone(), task_queue.clone()),
            )
            .map_err(|e| start_err(&e))?;
            let executor = ActivityExecutor::new(config.activities.clone(), task_queue.clone());
            let handle = WorkerHandle {
                inner: Arc::new(WorkerInner {
                    task_queue: task_queue.clone(),
                    registration,
                    holder: holder.clone(),
                    evaluator,
                    executor,
                    external_pools: config.external_pools.clone(),
                }),
            };
            let failure = holder
                .failure_watch(&task_queue, registration)
                .ok_or_else(|| start_err(&"the registration vanished while starting"))?;
            ctx.register(handle_name(&task_queue), handle.clone())
                .map_err(|e| start_err(&e))?;
            // Registered in the WorkerRegistry for as long as this incarnation lives.
            let owner = workers.registry().owner();
            owner
                .register(worker_name(&task_queue), handle.clone())
                .map_err(|e| start_err(&e))?;
            tracing::info!(task_queue = %task_queue, registration, "worker started");
            Ok(async move {
                let _owner = owner;
                let mut failure = failure;
                let exit = tokio::select! {
                    _ = ctx.cancelled() => Exit::Shutdown,
                    changed = failure.wait_for(Option::is_some) => match changed {
                        Ok(reason) => Exit::error(format!(
                            "core worker for task queue `{}` failed: {}",
                            handle.task_queue(),
                            reason.clone().unwrap_or_default()
                        )),
                        Err(_) => Exit::error("bridge holder dropped the registration"),
                    },
                };
                drop(guard);
                exit
            })
        }
    })
    .restart(Restart::Permanent)
    .shutdown(Shutdown::Timeout(std::time::Duration::from_secs(5)))
}

/// Removes the registration from the holder when the registration child ends in any way.
struct Unregister {
    holder: BridgeHolder,
    task_queue: String,
    registration: RegistrationId,
}

impl Drop for Unregister {
    fn drop(&mut self) {
        match self.holder.unregister(&self.task_queue, self.registration) {
            Ok(()) => {}
            // The holder already dropped it (it ended, and reaps its registrations itself).
            Err(SubsystemError::WorkerNotRegistered { .. }) => {}
            Err(e) => {
                tracing::warn!(task_queue = %self.task_queue, error = %e, "unregister failed")
            }
        }
    }
}
