//! Errors of external activity pools.

use std::path::PathBuf;

/// Why an external pool could not be configured or started, or a worker could not join it.
///
/// Failures of an *execution* are not errors here: they are [`super::ExternalOutcome::Failed`]
/// values that become activity failures for Temporal.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ExternalError {
    /// A pool's configuration is invalid.
    #[error("external pool `{pool}`: invalid configuration: {reason}")]
    InvalidConfig {
        /// The pool's name.
        pool: String,
        /// What is wrong.
        reason: String,
    },
    /// Two pools have the same name.
    #[error("external pool name `{0}` is used by more than one pool")]
    DuplicatePool(String),
    /// The state directory (run markers, locks, ready files) cannot be used.
    #[error("external pool `{pool}`: state directory {}: {reason}", path.display())]
    StateDir {
        /// The pool's name.
        pool: String,
        /// The path that failed.
        path: PathBuf,
        /// The OS error.
        reason: String,
    },
    /// Another live Hourglass holds this pool's lock in the same state directory.
    #[error(
        "external pool `{pool}` is already running in another process (lock {} is held); \
         use another state directory or stop that process",
        lock.display()
    )]
    PoolInUse {
        /// The pool's name.
        pool: String,
        /// The lock file.
        lock: PathBuf,
    },
    /// A worker process did not report a usable port.
    #[error("external worker `{worker}`: ready file {}: {reason}", path.display())]
    ReadyFile {
        /// The worker id.
        worker: String,
        /// The ready file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// Connecting to a worker's gRPC server failed.
    #[error("external worker `{worker}`: cannot connect to 127.0.0.1:{port}: {reason}")]
    Connect {
        /// The worker id.
        worker: String,
        /// The port it reported.
        port: u16,
        /// The transport error.
        reason: String,
    },
    /// The handshake failed or its answer is unacceptable.
    #[error("external worker `{worker}`: handshake failed: {reason}")]
    Handshake {
        /// The worker id.
        worker: String,
        /// Why.
        reason: String,
    },
    /// Two pools serve the same activity type.
    #[error(
        "activity type `{activity_type}` is served by both external pool `{first}` and `{second}`"
    )]
    TypeConflict {
        /// The activity type.
        activity_type: String,
        /// The pool that claimed it first.
        first: String,
        /// The pool that claimed it second.
        second: String,
    },
    /// The pools' supervisor could not start (the message names the pool, the worker and the
    /// cause, e.g. a command that does not exist or a process that exited before it was ready).
    #[error("external pools failed to start: {0}")]
    Start(String),
}
