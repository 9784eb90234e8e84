//! Child 3 of the Subsystem: the WorkerRegistry, a `via` registry from task queue to the
//! [`WorkerHandle`](super::task_queue_worker::WorkerHandle) of the worker serving it.
//!
//! Each incarnation is a fresh [`Registry`]: when it dies, every name in it dies too, and the
//! `rest_for_one` Subsystem restarts the Worker.Supervisor so every worker registers again.

use super::names;
use hourglass_supervise::{ChildContext, ChildSpec, Exit, Registry, Restart, Shutdown, StartError};
use std::time::Duration;

/// The name a worker registers under in the WorkerRegistry.
pub fn worker_name(task_queue: &str) -> String {
    format!("worker/{task_queue}")
}

/// Handle to the current WorkerRegistry (published under [`names::WORKER_REGISTRY`]).
#[derive(Clone)]
pub struct WorkerRegistry {
    registry: Registry,
}

impl WorkerRegistry {
    /// The registry itself.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The worker serving `task_queue`, if one is registered.
    pub fn lookup(&self, task_queue: &str) -> Option<super::task_queue_worker::WorkerHandle> {
        self.registry.lookup(&worker_name(task_queue))
    }

    /// Task queues with a registered worker, sorted.
    pub fn task_queues(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .registry
            .names()
            .into_iter()
            .filter_map(|n| n.strip_prefix("worker/").map(str::to_string))
            .collect();
        v.sort();
        v
    }
}

/// The WorkerRegistry child spec (permanent).
pub fn child_spec() -> ChildSpec {
    ChildSpec::with_init("worker_registry", |ctx: ChildContext| async move {
        let handle = WorkerRegistry {
            registry: Registry::new(),
        };
        ctx.register(names::WORKER_REGISTRY, handle)
            .map_err(|e| StartError::new(e.to_string()))?;
        Ok(async move {
            ctx.cancelled().await;
            Exit::Shutdown
        })
    })
    .restart(Restart::Permanent)
    .shutdown(Shutdown::Timeout(Duration::from_secs(5)))
}
