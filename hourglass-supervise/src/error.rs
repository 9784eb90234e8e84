//! Error types of the supervision layer.

use std::fmt;

/// Why a child failed to start (its start function returned an error or panicked).
///
/// Cloneable so it can be both logged and returned to a caller.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct StartError {
    message: String,
}

impl StartError {
    /// A start error carrying `message` (shown verbatim in logs and errors).
    pub fn new(message: impl fmt::Display) -> Self {
        Self {
            message: message.to_string(),
        }
    }

    /// The message describing why the start failed.
    pub fn message(&self) -> &str {
        &self.message
    }
}

/// Errors returned by supervisor and dynamic-supervisor handles.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SuperviseError {
    /// A child's start function failed, so the child (or the whole supervisor at init) did not start.
    #[error("child `{child}` of supervisor `{supervisor}` failed to start: {reason}")]
    StartFailed {
        /// Supervisor id.
        supervisor: String,
        /// Child id.
        child: String,
        /// Why it failed.
        reason: StartError,
    },
    /// The supervisor has exited; the handle can no longer reach it.
    #[error("supervisor `{0}` is not running")]
    NotRunning(String),
    /// No child with that id (or child reference) exists.
    #[error("supervisor `{supervisor}` has no child `{child}`")]
    NoSuchChild {
        /// Supervisor id.
        supervisor: String,
        /// The id or reference that was asked for.
        child: String,
    },
    /// A static supervisor already has a child with that id.
    #[error("supervisor `{supervisor}` already has a child with id `{child}`")]
    DuplicateChild {
        /// Supervisor id.
        supervisor: String,
        /// The duplicated child id.
        child: String,
    },
    /// A dynamic supervisor is at its `max_children` limit.
    #[error("dynamic supervisor `{supervisor}` already has max_children ({max}) children")]
    MaxChildren {
        /// Supervisor id.
        supervisor: String,
        /// The configured limit.
        max: usize,
    },
    /// The child is running (or restarting), so it cannot be restarted or deleted.
    #[error("child `{child}` of supervisor `{supervisor}` is running; terminate it first")]
    ChildRunning {
        /// Supervisor id.
        supervisor: String,
        /// Child id.
        child: String,
    },
    /// The supervisor could not register itself under its `register_as` name.
    #[error("supervisor `{supervisor}` could not register its name: {error}")]
    Register {
        /// Supervisor id.
        supervisor: String,
        /// Why registration failed.
        error: RegistryError,
    },
    /// A supervisor specification is invalid (e.g. duplicate child ids).
    #[error("invalid specification for supervisor `{supervisor}`: {reason}")]
    InvalidSpec {
        /// Supervisor id.
        supervisor: String,
        /// What is wrong.
        reason: String,
    },
}

/// Errors of the [`Registry`](crate::Registry).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegistryError {
    /// The name is already registered by a live owner (names are unique).
    #[error("name `{0}` is already registered")]
    AlreadyRegistered(String),
    /// The owner (child incarnation) has already exited, so it can no longer register names.
    #[error("cannot register `{0}`: the owning incarnation has exited")]
    OwnerGone(String),
    /// No entry under that name.
    #[error("no process registered under `{0}`")]
    NotFound(String),
    /// An entry exists but holds a value of another type.
    #[error("name `{name}` is registered with a value that is not a `{expected}`")]
    WrongType {
        /// The name looked up.
        name: String,
        /// The requested type.
        expected: &'static str,
    },
}
