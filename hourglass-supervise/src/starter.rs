//! The Starter pattern (Snakepit's `Worker.Starter`): a permanent one-child supervisor wrapping
//! a transient worker that owns an external resource.
//!
//! ```text
//! DynamicSupervisor (pool)
//! └── Starter (supervisor, permanent)   registered as Starter::via_name(worker_id)
//!     └── worker (transient)            e.g. owns an OS process
//! ```
//!
//! The starter restarts a crashed worker by itself, so the pool only tracks availability;
//! terminating the starter stops the worker (and its resource) atomically.

use std::time::Duration;

use crate::child::{ChildSpec, Restart};
use crate::registry::Registry;
use crate::supervisor::{Strategy, SupervisorHandle, SupervisorSpec};

/// Builder for a starter supervisor around one worker.
#[derive(Debug, Clone)]
pub struct Starter {
    worker_id: String,
    worker: ChildSpec,
    max_restarts: u32,
    period: Duration,
}

impl Starter {
    /// A starter for `worker` (which is forced to `Transient`). Intensity: 3 restarts in 5 s.
    pub fn new(worker_id: impl Into<String>, worker: ChildSpec) -> Self {
        Self {
            worker_id: worker_id.into(),
            worker: worker.restart(Restart::Transient),
            max_restarts: 3,
            period: Duration::from_secs(5),
        }
    }

    /// Sets the starter's restart intensity (exceeding it escalates to the pool).
    pub fn intensity(mut self, max_restarts: u32, period: Duration) -> Self {
        self.max_restarts = max_restarts;
        self.period = period;
        self
    }

    /// The registry name under which the starter's [`SupervisorHandle`] is registered.
    pub fn via_name(worker_id: &str) -> String {
        format!("hourglass.starter/{worker_id}")
    }

    /// Looks up the running starter of `worker_id`.
    pub fn lookup(registry: &Registry, worker_id: &str) -> Option<SupervisorHandle> {
        registry.lookup(&Self::via_name(worker_id))
    }

    /// The starter as a `Permanent` supervisor child spec with id `starter/<worker_id>`.
    pub fn child_spec(self) -> ChildSpec {
        SupervisorSpec::new(format!("starter/{}", self.worker_id))
            .strategy(Strategy::OneForOne)
            .intensity(self.max_restarts, self.period)
            .register_as(Self::via_name(&self.worker_id))
            .child(self.worker)
            .into_child_spec()
            .restart(Restart::Permanent)
    }
}
