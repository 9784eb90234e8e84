//! Errors of the supervised subsystem.

use hourglass_bridge::BridgeError;

/// Failures of the subsystem's plumbing: registrations, the bridge, supervision.
///
/// [`SubsystemError::WorkerNotRegistered`] is the expected answer to any call for a task queue
/// the current BridgeHolder does not own — including calls from in-flight tasks that outlived a
/// cascade. Callers log it and end normally; the server redelivers the work.
#[derive(Debug, thiserror::Error)]
pub enum SubsystemError {
    /// No (current) registration for this task queue.
    #[error("no worker is registered for task queue `{task_queue}`")]
    WorkerNotRegistered {
        /// The task queue.
        task_queue: String,
    },
    /// A worker for this task queue is already registered (or being registered).
    #[error("a worker for task queue `{task_queue}` is already registered")]
    AlreadyRegistered {
        /// The task queue.
        task_queue: String,
    },
    /// The core worker for this task queue has shut down (polls are drained).
    #[error("the core worker for task queue `{task_queue}` has shut down")]
    ShutDown {
        /// The task queue.
        task_queue: String,
    },
    /// A subsystem component is not running (it is restarting, or the tree is stopping).
    #[error("{component} is not running")]
    NotRunning {
        /// The component's registry name.
        component: &'static str,
    },
    /// The bridge reported an error.
    #[error("{operation} for task queue `{task_queue}`: {source}")]
    Bridge {
        /// What was being done.
        operation: &'static str,
        /// The task queue (empty for runtime-level calls).
        task_queue: String,
        /// The bridge's error.
        #[source]
        source: BridgeError,
    },
    /// Starting or talking to a supervisor failed.
    #[error("supervision: {0}")]
    Supervise(#[from] hourglass_supervise::SuperviseError),
    /// The workflow/activity execution layer failed.
    #[error(transparent)]
    Worker(#[from] crate::WorkerError),
    /// The configuration is invalid.
    #[error("invalid configuration: {0}")]
    Config(String),
}

impl SubsystemError {
    /// Whether the underlying bridge error means the core library was reloaded.
    pub fn is_reloaded(&self) -> bool {
        matches!(self, SubsystemError::Bridge { source, .. } if source.is_reloaded())
    }
}
