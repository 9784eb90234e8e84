//! The CLI's error type: every variant renders as one line that names the fix.

use std::path::PathBuf;

/// Everything that can make an `hourglass` command fail. `Display` is a single line meant
/// for a human, naming what went wrong and what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The configuration file could not be read.
    #[error("cannot read config file {path}: {source} (fix the path or pass --config)")]
    ConfigRead {
        /// The file that could not be read.
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },
    /// The configuration file is not valid TOML or has unknown keys / bad values.
    #[error("bad config file {path}: {message}")]
    ConfigParse {
        /// The file that failed to parse.
        path: PathBuf,
        /// What is wrong, with line and column where known.
        message: String,
    },
    /// A value given on the command line, in the environment or in the config is invalid.
    #[error("invalid value for {what}: {message}")]
    InvalidValue {
        /// Which option was wrong.
        what: String,
        /// What is wrong with it.
        message: String,
    },
    /// `--input` (or an input file) is not valid JSON.
    #[error(
        "input is not valid JSON ({source}); pass JSON such as --input '\"World\"' or --input '{{\"k\": 1}}'"
    )]
    BadJsonInput {
        /// The JSON parse error.
        source: serde_json::Error,
    },
    /// The Temporal server could not be reached (or refused the TLS handshake); the
    /// message says why and what to change.
    #[error("cannot connect to Temporal at {address}: {message}")]
    Connect {
        /// The address that was tried.
        address: String,
        /// The transport error.
        message: String,
    },
    /// The server answered a request with an error status.
    #[error("{operation} failed: {status_message} ({code})")]
    Rpc {
        /// The operation that failed (e.g. "start workflow").
        operation: &'static str,
        /// The gRPC status code name.
        code: String,
        /// The server's message.
        status_message: String,
    },
    /// A workflow ended in a state other than completed.
    #[error("workflow {workflow_id} {outcome}")]
    WorkflowDidNotComplete {
        /// The workflow id.
        workflow_id: String,
        /// What happened (failed with ..., was terminated, timed out, ...).
        outcome: String,
    },
    /// A file needed by the command could not be read.
    #[error("cannot read {what} {path}: {source}")]
    FileRead {
        /// What the file is for.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },
    /// Writing the command's output failed.
    #[error("cannot write output: {0}")]
    Output(#[from] std::io::Error),
    /// The query was rejected by the workflow.
    #[error("query rejected: workflow status is {status}")]
    QueryRejected {
        /// The workflow status that caused the rejection.
        status: String,
    },
    /// Rendering JSON output failed.
    #[error("cannot print JSON output: {0}")]
    Json(String),
    /// The server does not know the thing the command names.
    #[error("{what} `{id}` not found{hint}")]
    NotFound {
        /// What was looked for ("schedule", "workflow execution").
        what: &'static str,
        /// The id given.
        id: String,
        /// What to do about it, starting with " (".
        hint: String,
    },
    /// An update was rejected or failed in the workflow.
    #[error("update {update_id} failed: {message}")]
    UpdateFailed {
        /// The update id.
        update_id: String,
        /// The failure message chain.
        message: String,
    },
    /// A destructive command was run without `--yes` where nobody can answer the prompt,
    /// or the prompt was answered no.
    #[error("{0}")]
    NotConfirmed(String),
    /// Anything the running subsystem reports (server start, worker, core library).
    #[error("{0}")]
    Run(String),
}

impl CliError {
    /// Builds an [`CliError::Rpc`] from a gRPC status.
    pub fn rpc(operation: &'static str, status: tonic::Status) -> Self {
        CliError::Rpc {
            operation,
            code: format!("{:?}", status.code()),
            status_message: status.message().to_string(),
        }
    }

    /// A NotFound status as [`CliError::NotFound`] (`what` `id`, then `hint`), any other as
    /// [`CliError::Rpc`].
    pub fn not_found_or_rpc(
        operation: &'static str,
        status: tonic::Status,
        what: &'static str,
        id: &str,
        hint: String,
    ) -> Self {
        if status.code() == tonic::Code::NotFound {
            CliError::NotFound {
                what,
                id: id.to_string(),
                hint,
            }
        } else {
            CliError::rpc(operation, status)
        }
    }
}
