//! The error type of the test environment.

use hourglass_devserver::DevServerError;
use temporalio_client::errors::{
    ClientConnectError, WorkflowGetResultError, WorkflowInteractionError, WorkflowQueryError,
    WorkflowStartError, WorkflowUpdateError,
};

use crate::subsystem::SubsystemError;

/// Why a [`TestEnvironment`](super::TestEnvironment) could not start, or why one of its
/// helpers failed (each names the workflow and the call).
#[derive(Debug, thiserror::Error)]
pub enum TestEnvError {
    /// The OS refused to start the environment's thread.
    #[error("test environment: cannot start its thread: {0}")]
    Thread(#[source] std::io::Error),
    /// The environment's async runtime could not be built.
    #[error("test environment: cannot start its async runtime: {0}")]
    Runtime(#[source] std::io::Error),
    /// The in-memory dev server did not start.
    #[error("test environment: the dev server did not start: {0}")]
    Server(#[source] DevServerError),
    /// The Hourglass subsystem (core runtime, client, workers) did not start.
    #[error("test environment: Hourglass did not start: {0}")]
    Subsystem(#[source] SubsystemError),
    /// The registrations are broken (a duplicate type name).
    #[error("test environment: {0}")]
    Worker(#[from] crate::WorkerError),
    /// The environment's client could not connect to its server.
    #[error("test environment: the client cannot connect to {url}: {source}")]
    Connect {
        /// The server's URL.
        url: String,
        /// The client's error.
        #[source]
        source: Box<ClientConnectError>,
    },
    /// The environment's thread ended before it was ready (it panicked).
    #[error("test environment: its thread ended before the environment was ready")]
    Gone,
    /// Starting a workflow failed.
    #[error("starting workflow `{workflow_id}` failed: {source}")]
    Start {
        /// The workflow id.
        workflow_id: String,
        /// The client's error.
        #[source]
        source: Box<WorkflowStartError>,
    },
    /// A workflow failed, was cancelled, terminated or timed out, or its result could not be
    /// read.
    #[error("workflow `{workflow_id}` did not complete: {source}")]
    Result {
        /// The workflow id.
        workflow_id: String,
        /// The client's error.
        #[source]
        source: Box<WorkflowGetResultError>,
    },
    /// Sending a signal failed.
    #[error("signal `{name}` to workflow `{workflow_id}` failed: {source}")]
    Signal {
        /// The workflow id.
        workflow_id: String,
        /// The signal name.
        name: String,
        /// The client's error.
        #[source]
        source: Box<WorkflowInteractionError>,
    },
    /// A query failed or was rejected.
    #[error("query `{name}` of workflow `{workflow_id}` failed: {source}")]
    Query {
        /// The workflow id.
        workflow_id: String,
        /// The query name.
        name: String,
        /// The client's error.
        #[source]
        source: Box<WorkflowQueryError>,
    },
    /// An update failed or was rejected.
    #[error("update `{name}` of workflow `{workflow_id}` failed: {source}")]
    Update {
        /// The workflow id.
        workflow_id: String,
        /// The update name.
        name: String,
        /// The client's error.
        #[source]
        source: Box<WorkflowUpdateError>,
    },
    /// A TestService call of a time-skipping environment failed.
    #[error("time skipping: {call} failed: {status}")]
    TimeSkipping {
        /// The TestService call.
        call: &'static str,
        /// The server's answer.
        status: Box<tonic::Status>,
    },
}
