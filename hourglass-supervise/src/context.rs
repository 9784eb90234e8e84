//! What a running child receives: its identity, a shutdown signal and registry access.

use std::fmt;
use std::sync::{Arc, OnceLock};

use tokio::sync::mpsc;
use tokio_util::sync::{CancellationToken, WaitForCancellationFuture};

use crate::engine::Request;
use crate::error::RegistryError;
use crate::registry::{OwnerCore, Registry};

pub(crate) struct ContextInner {
    pub(crate) id: Arc<str>,
    pub(crate) supervisor: Arc<str>,
    pub(crate) incarnation: u64,
    pub(crate) restarts: u64,
    pub(crate) shutdown: CancellationToken,
    pub(crate) registry: Registry,
    pub(crate) owner: OwnerCore,
    /// Set by a nested supervisor running as this child, for tree snapshots.
    pub(crate) nested: OnceLock<mpsc::UnboundedSender<Request>>,
    /// The OS process this incarnation runs as (0: none reported), for tree snapshots.
    pub(crate) os_pid: std::sync::atomic::AtomicU32,
}

/// Handed to each child incarnation. Cheap to clone.
///
/// Guarantees: the shutdown signal fires when the supervisor wants the child to stop (the child
/// should then return, typically [`Exit::Shutdown`](crate::Exit::Shutdown)); names registered
/// through [`ChildContext::register`] belong to this incarnation and are removed atomically when
/// it ends (return, panic or abort), before the supervisor handles the exit.
#[derive(Clone)]
pub struct ChildContext {
    pub(crate) inner: Arc<ContextInner>,
}

impl fmt::Debug for ChildContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChildContext")
            .field("id", &self.inner.id)
            .field("supervisor", &self.inner.supervisor)
            .field("incarnation", &self.inner.incarnation)
            .field("restarts", &self.inner.restarts)
            .finish()
    }
}

impl ChildContext {
    /// The child's id from its spec.
    pub fn id(&self) -> &str {
        &self.inner.id
    }

    /// Reports the OS process this incarnation runs as (a process child's pid), shown as
    /// [`ChildSnapshot::os_pid`](crate::ChildSnapshot::os_pid) while it runs.
    pub fn set_os_pid(&self, pid: u32) {
        self.inner
            .os_pid
            .store(pid, std::sync::atomic::Ordering::Release);
    }

    /// The id of the supervising supervisor.
    pub fn supervisor_id(&self) -> &str {
        &self.inner.supervisor
    }

    /// A number unique among this supervisor's incarnations (increases with every start).
    pub fn incarnation(&self) -> u64 {
        self.inner.incarnation
    }

    /// How many times this child has been restarted before this incarnation (0 for the first).
    pub fn restart_count(&self) -> u64 {
        self.inner.restarts
    }

    /// The shutdown signal (cancelled when the supervisor stops this child).
    pub fn shutdown_token(&self) -> &CancellationToken {
        &self.inner.shutdown
    }

    /// Resolves when shutdown has been requested.
    pub fn cancelled(&self) -> WaitForCancellationFuture<'_> {
        self.inner.shutdown.cancelled()
    }

    /// True once shutdown has been requested.
    pub fn is_shutdown_requested(&self) -> bool {
        self.inner.shutdown.is_cancelled()
    }

    /// The registry shared by this supervision tree.
    pub fn registry(&self) -> &Registry {
        &self.inner.registry
    }

    /// Registers `value` under the unique `name` for the life of this incarnation.
    pub fn register<V: Send + Sync + 'static>(
        &self,
        name: impl Into<String>,
        value: V,
    ) -> Result<(), RegistryError> {
        self.inner
            .registry
            .register_for(&self.inner.owner, name.into(), Arc::new(value))
    }

    /// Removes `name` if this incarnation registered it; returns whether it did.
    pub fn unregister(&self, name: &str) -> bool {
        self.inner.registry.unregister_for(&self.inner.owner, name)
    }
}

/// Held by the child's task: ending the incarnation releases its registry names.
pub(crate) struct IncarnationGuard(pub(crate) Arc<ContextInner>);

impl Drop for IncarnationGuard {
    fn drop(&mut self) {
        self.0.registry.release(&self.0.owner);
    }
}
