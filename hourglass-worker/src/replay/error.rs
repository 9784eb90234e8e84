//! The error type of the replayer.

use std::path::PathBuf;

use hourglass_bridge::BridgeError;

/// Why a history could not be loaded or did not replay cleanly.
///
/// Loading errors ([`ReplayError::ReadFile`], [`ReplayError::InvalidJson`],
/// [`ReplayError::NotAHistory`], [`ReplayError::Fetch`]) say which input was bad; replay
/// errors ([`ReplayError::Nondeterminism`], [`ReplayError::WorkflowTaskFailed`],
/// [`ReplayError::UnknownWorkflowType`]) say which workflow run failed and why.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// A history file could not be read.
    #[error("cannot read history file {}: {source}", path.display())]
    ReadFile {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The input is not JSON at all.
    #[error("{origin} is not valid JSON: {source}")]
    InvalidJson {
        /// Where the input came from (a file path, or `JSON input`).
        origin: String,
        /// The parser's error (with line and column).
        #[source]
        source: serde_json::Error,
    },
    /// The input is JSON or protobuf, but not a replayable `temporal.api.history.v1.History`.
    #[error("{origin} is not a workflow history: {reason}")]
    NotAHistory {
        /// Where the input came from.
        origin: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Fetching a history from the server failed.
    #[error("cannot fetch the history of workflow `{workflow_id}`{}: {status}", run_suffix(.run_id))]
    Fetch {
        /// The workflow id asked for.
        workflow_id: String,
        /// The run id asked for (empty: the latest run).
        run_id: String,
        /// The server's answer.
        status: Box<tonic::Status>,
    },
    /// Listing workflows on the server failed.
    #[error("cannot list workflows matching `{query}`: {status}")]
    List {
        /// The visibility query.
        query: String,
        /// The server's answer.
        status: Box<tonic::Status>,
    },
    /// The history's workflow type is not among the replayer's workflows.
    #[error(
        "workflow `{workflow_id}` has type `{workflow_type}`, which is not registered \
         (registered: [{}])", registered.join(", ")
    )]
    UnknownWorkflowType {
        /// The workflow id of the history.
        workflow_id: String,
        /// The workflow type the history names.
        workflow_type: String,
        /// The workflow types the replayer knows, sorted.
        registered: Vec<String>,
    },
    /// The workflow code issued commands that do not match the recorded events.
    #[error("{0}")]
    Nondeterminism(Box<Nondeterminism>),
    /// The workflow code failed a workflow task during replay (a panic, undecodable input, ...).
    #[error(
        "workflow `{workflow_id}` (run {run_id}) failed a workflow task during replay: {message}"
    )]
    WorkflowTaskFailed {
        /// The workflow id of the history.
        workflow_id: String,
        /// The run id of the history.
        run_id: String,
        /// The failure message.
        message: String,
    },
    /// The core library failed (it could not create the replayer, poll, complete, ...).
    #[error("replay: {operation}: {source}")]
    Core {
        /// What was being done.
        operation: &'static str,
        /// The bridge's error.
        #[source]
        source: BridgeError,
    },
    /// The workflow registrations are broken (a duplicate type name) or the evaluator could
    /// not start.
    #[error(transparent)]
    Worker(#[from] crate::WorkerError),
}

fn run_suffix(run_id: &str) -> String {
    if run_id.is_empty() {
        String::new()
    } else {
        format!(" (run {run_id})")
    }
}

/// A nondeterminism error: where in the history the workflow code diverged, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Nondeterminism {
    /// The workflow id of the history.
    pub workflow_id: String,
    /// The run id of the history.
    pub run_id: String,
    /// The id of the recorded event the workflow's commands did not match, when the core's
    /// message names one.
    pub event_id: Option<i64>,
    /// The type of that event in the history (e.g. `TimerStarted`), when known.
    pub event_type: Option<String>,
    /// The core's description of the mismatch (which command met which event).
    pub message: String,
}

impl std::fmt::Display for Nondeterminism {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "nondeterminism in workflow `{}` (run {})",
            self.workflow_id, self.run_id
        )?;
        match (&self.event_id, &self.event_type) {
            (Some(id), Some(t)) => write!(f, " at event {id} ({t})")?,
            (Some(id), None) => write!(f, " at event {id}")?,
            _ => {}
        }
        write!(f, ": {}", self.message)
    }
}

impl ReplayError {
    /// The nondeterminism details, if this is a nondeterminism error.
    pub fn nondeterminism(&self) -> Option<&Nondeterminism> {
        match self {
            ReplayError::Nondeterminism(n) => Some(n),
            _ => None,
        }
    }

    /// True for errors about one replayed run (nondeterminism, a failed workflow task, an
    /// unknown type), as opposed to unreadable input or a broken core.
    pub fn is_replay_failure(&self) -> bool {
        matches!(
            self,
            ReplayError::Nondeterminism(_)
                | ReplayError::WorkflowTaskFailed { .. }
                | ReplayError::UnknownWorkflowType { .. }
        )
    }
}
