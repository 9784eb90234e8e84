//! Command-line arguments. Flag names follow the Temporal CLI where one exists
//! (`--address`, `--namespace`, `--task-queue`, `--tls-*`, `--api-key`), and so do the
//! environment variables (`TEMPORAL_ADDRESS`, `TEMPORAL_NAMESPACE`, ...).

pub use crate::batch_args::SingleOrBatchArgs;
pub use crate::output::{OutputArgs, OutputFormat};
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// `hourglass`: a fault-tolerant Temporal worker runtime.
#[derive(Debug, Parser)]
#[command(name = "hourglass", version, about, propagate_version = true)]
pub struct Cli {
    /// Configuration file. Defaults to `hourglass.toml` in the current directory when it exists.
    #[arg(long, global = true, env = "HOURGLASS_CONFIG")]
    pub config: Option<PathBuf>,
    /// Log format for stderr (`RUST_LOG` sets the filter).
    #[arg(long, global = true, value_enum, env = "HOURGLASS_LOG_FORMAT")]
    pub log_format: Option<LogFormat>,
    /// Log level for stderr when `RUST_LOG` is not set, as the Temporal CLI's `--log-level`.
    #[arg(long, global = true, value_enum)]
    pub log_level: Option<LogLevel>,
    /// The command to run.
    #[command(subcommand)]
    pub command: Command,
}

/// Log output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable, coloured when stderr is a terminal.
    Pretty,
    /// One JSON object per line.
    Json,
}

/// Log levels, named as the Temporal CLI's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogLevel {
    /// Everything down to debug.
    Debug,
    /// Informational and above.
    Info,
    /// Warnings and errors.
    Warn,
    /// Errors only.
    Error,
    /// Nothing.
    Never,
}

impl LogLevel {
    /// The `tracing` filter directive of the level.
    pub fn directive(self) -> &'static str {
        match self {
            LogLevel::Debug => "debug",
            LogLevel::Info => "info",
            LogLevel::Warn => "warn",
            LogLevel::Error => "error",
            LogLevel::Never => "off",
        }
    }
}

/// Top-level commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the supervised worker subsystem (on the embedded dev server unless --address is given).
    Run(RunArgs),
    /// Dev-server commands.
    #[command(subcommand)]
    Server(ServerCommand),
    /// Workflow client commands.
    #[command(subcommand)]
    Workflow(WorkflowCommand),
    /// Schedule client commands, named as in the Temporal CLI.
    #[command(subcommand)]
    Schedule(crate::schedule_args::ScheduleCommand),
    /// Operator commands (search attributes), named as in the Temporal CLI.
    #[command(subcommand)]
    Operator(crate::operator_commands::OperatorCommand),
    /// Batch job commands (describe, list, terminate), named as in the Temporal CLI.
    #[command(subcommand)]
    Batch(crate::batch_args::BatchCommand),
    /// Print the live supervision tree of a running `hourglass run`.
    Tree(TreeArgs),
}

/// Connection options shared by every command that talks to a Temporal server.
#[derive(Debug, Clone, Default, Args)]
pub struct ConnectionArgs {
    /// Temporal frontend address, `host:port` (or a URL).
    #[arg(long, env = "TEMPORAL_ADDRESS")]
    pub address: Option<String>,
    /// Temporal namespace.
    #[arg(long, short = 'n', env = "TEMPORAL_NAMESPACE")]
    pub namespace: Option<String>,
    /// Connect with TLS (implied by any other --tls-* option).
    #[arg(long, env = "TEMPORAL_TLS")]
    pub tls: Option<bool>,
    /// Client certificate (PEM) for mutual TLS.
    #[arg(long, env = "TEMPORAL_TLS_CLIENT_CERT_PATH")]
    pub tls_cert_path: Option<PathBuf>,
    /// Client private key (PEM) for mutual TLS.
    #[arg(long, env = "TEMPORAL_TLS_CLIENT_KEY_PATH")]
    pub tls_key_path: Option<PathBuf>,
    /// Server CA certificate (PEM).
    #[arg(long, env = "TEMPORAL_TLS_SERVER_CA_CERT_PATH")]
    pub tls_ca_path: Option<PathBuf>,
    /// Server name to verify the server certificate against.
    #[arg(long, env = "TEMPORAL_TLS_SERVER_NAME")]
    pub tls_server_name: Option<String>,
    /// API key, sent as a bearer token (implies TLS unless --tls=false).
    #[arg(long, env = "TEMPORAL_API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,
}

/// `hourglass run`.
#[derive(Debug, Clone, Default, Args)]
pub struct RunArgs {
    /// Connection to an existing Temporal server; without --address the embedded dev server starts.
    #[command(flatten)]
    pub connection: ConnectionArgs,
    /// Task queue to serve (repeatable). Defaults to `default`.
    #[arg(long = "task-queue", short = 't')]
    pub task_queues: Vec<String>,
    /// The core library: a path to `libhourglass_core.so`, or `linked` for the compiled-in core.
    #[arg(long, env = "HOURGLASS_CORE_LIB")]
    pub core: Option<String>,
    /// Reload the core library when its file changes.
    #[arg(long)]
    pub watch_core: bool,
    /// Threads of the core's own runtime (0 = half the CPU cores, at least 1; at most 1024).
    /// The rest of the machine is left to workflow and activity code.
    #[arg(long)]
    pub core_threads: Option<u32>,
    /// Directory for the embedded dev server's database.
    #[arg(long, env = "HOURGLASS_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Keep the embedded dev server's state in memory only.
    #[arg(long)]
    pub ephemeral: bool,
    /// Port of the embedded dev server.
    #[arg(long)]
    pub port: Option<u16>,
    /// Serve Prometheus metrics on this address (e.g. 127.0.0.1:9464).
    #[arg(long)]
    pub metrics: Option<String>,
    /// Loopback address of the admin endpoint `hourglass tree` reads.
    #[arg(long)]
    pub admin: Option<String>,
    /// Port of the Web UI (default: the gRPC port + 1000, as `temporal server start-dev`).
    #[arg(long)]
    pub ui_port: Option<u16>,
    /// Do not serve the Web UI.
    #[arg(long, conflicts_with = "ui_port")]
    pub headless: bool,
    /// Port of Temporal's HTTP API (default: a free port, printed at start-up).
    #[arg(long)]
    pub http_port: Option<u16>,
}

/// `hourglass server ...`.
#[derive(Debug, Subcommand)]
pub enum ServerCommand {
    /// Run only the embedded dev server, for the official SDKs and CLIs to use.
    StartDev(StartDevArgs),
}

/// `hourglass server start-dev`.
#[derive(Debug, Clone, Default, Args)]
pub struct StartDevArgs {
    /// Port to listen on (127.0.0.1).
    #[arg(long, short = 'p')]
    pub port: Option<u16>,
    /// IP to bind (loopback by default).
    #[arg(long)]
    pub ip: Option<String>,
    /// SQLite database file (created if missing). Without it state is kept in memory.
    #[arg(long = "db-filename", short = 'f')]
    pub db_filename: Option<PathBuf>,
    /// The namespace that exists from the start (default `default`); others can be
    /// registered through the API.
    #[arg(long, short = 'n')]
    pub namespace: Option<String>,
    /// Serve TLS with this certificate chain (PEM); needs --tls-key-path.
    #[arg(long)]
    pub tls_cert_path: Option<PathBuf>,
    /// Private key (PEM) of --tls-cert-path.
    #[arg(long)]
    pub tls_key_path: Option<PathBuf>,
    /// Require client certificates signed by this CA (PEM): mutual TLS.
    #[arg(long)]
    pub tls_client_ca_path: Option<PathBuf>,
    /// Refuse every request without `authorization: Bearer KEY` (repeatable).
    #[arg(long = "api-key", hide_env_values = true)]
    pub api_keys: Vec<String>,
    /// File of accepted API keys, one per line (`#` starts a comment line).
    #[arg(long)]
    pub api_key_file: Option<PathBuf>,
    /// A Temporal dynamic-config value, KEY=JSON (repeatable), e.g.
    /// `limit.historyCount.suggestContinueAsNew=50`. The history limits
    /// (`limit.history{Size,Count}.{error,warn,suggestContinueAsNew}`) and the batcher's
    /// limits (`frontend.MaxConcurrentBatchOperationPerNamespace`, `worker.batcherRPS`,
    /// `worker.batcherConcurrency`) are applied; other keys are accepted and ignored with a
    /// warning.
    #[arg(long = "dynamic-config-value")]
    pub dynamic_config_values: Vec<String>,
    /// Register a custom search attribute NAME=TYPE in the namespace (repeatable); TYPE is
    /// Text, Keyword, Int, Double, Bool, Datetime or KeywordList.
    #[arg(long = "search-attribute")]
    pub search_attributes: Vec<String>,
    /// Port of the Web UI (default: the gRPC port + 1000, as `temporal server start-dev`).
    #[arg(long)]
    pub ui_port: Option<u16>,
    /// Do not serve the Web UI.
    #[arg(long, conflicts_with = "ui_port")]
    pub headless: bool,
    /// Port of Temporal's HTTP API (default: a free port, printed at start-up).
    #[arg(long)]
    pub http_port: Option<u16>,
    /// Run on a virtual clock with Temporal's test-server rules: time jumps to the next
    /// timer whenever no workflow task, activity or query is outstanding, and Temporal's
    /// TestService (LockTimeSkipping, Sleep, GetCurrentTime, ...) is served.
    #[arg(long)]
    pub time_skipping: bool,
}

/// `hourglass tree`.
#[derive(Debug, Clone, Args)]
pub struct TreeArgs {
    /// Admin endpoint of the running `hourglass run`.
    #[arg(long)]
    pub admin: Option<String>,
    /// Print JSON instead of the indented tree.
    #[arg(long)]
    pub json: bool,
}

/// `hourglass workflow ...`, named as in the Temporal CLI.
#[derive(Debug, Subcommand)]
pub enum WorkflowCommand {
    /// Start a workflow and print its ids.
    Start(StartArgs),
    /// Start a workflow and wait for its result.
    Execute(StartArgs),
    /// Wait for a workflow's result.
    Result(ExecutionArgs),
    /// Send a signal to a workflow, or to every workflow a query matches (a batch job).
    Signal(SignalArgs),
    /// Query a workflow.
    Query(QueryArgs),
    /// Request cancellation of a workflow, or of every workflow a query matches (a batch job).
    Cancel(SingleOrBatchArgs),
    /// Terminate a workflow, or every workflow a query matches (a batch job).
    Terminate(SingleOrBatchArgs),
    /// Describe a workflow execution: its info, pending activities and children, result.
    Describe(DescribeArgs),
    /// List workflow executions.
    List(ListArgs),
    /// Count workflow executions (optionally grouped: `GROUP BY ExecutionStatus`).
    Count(CountArgs),
    /// Show a workflow's event history.
    Show(ShowArgs),
    /// Send and interact with updates.
    #[command(subcommand)]
    Update(UpdateCommand),
    /// Delete a workflow execution and its history (a running one is terminated first), or
    /// every workflow a query matches (a batch job).
    Delete(SingleOrBatchArgs),
    /// Reset a workflow execution to a workflow task of its history, as a new run (or every
    /// workflow a query matches, as a batch job).
    Reset(ResetArgs),
    /// Replay histories against the workflows in this binary; fails on nondeterminism.
    Replay(crate::workflow_replay::ReplayArgs),
}

impl WorkflowCommand {
    /// The connection options of the command.
    pub fn connection(&self) -> &ConnectionArgs {
        use WorkflowCommand as W;
        match self {
            W::Start(a) | W::Execute(a) => &a.connection,
            W::Result(a) => &a.connection,
            W::Cancel(a) | W::Terminate(a) | W::Delete(a) => &a.connection,
            W::Describe(a) => &a.execution.connection,
            W::Signal(a) => &a.target.connection,
            W::Query(a) => &a.execution.connection,
            W::List(a) => &a.connection,
            W::Count(a) => &a.connection,
            W::Show(a) => &a.execution.connection,
            W::Update(u) => u.connection(),
            W::Reset(a) => &a.connection,
            W::Replay(a) => &a.connection,
        }
    }
}

/// JSON input arguments.
#[derive(Debug, Clone, Default, Args)]
pub struct InputArgs {
    /// JSON input; repeat for several arguments.
    #[arg(long, short = 'i')]
    pub input: Vec<String>,
    /// File holding one JSON value as the input.
    #[arg(long)]
    pub input_file: Option<PathBuf>,
}

/// Arguments of `workflow start` / `workflow execute`.
#[derive(Debug, Clone, Args)]
pub struct StartArgs {
    /// Connection options.
    #[command(flatten)]
    pub connection: ConnectionArgs,
    /// Workflow type name.
    #[arg(long = "type")]
    pub workflow_type: String,
    /// Task queue.
    #[arg(long, short = 't', default_value = "default")]
    pub task_queue: String,
    /// Workflow id (random when omitted).
    #[arg(long, short = 'w')]
    pub workflow_id: Option<String>,
    /// Input.
    #[command(flatten)]
    pub input: InputArgs,
    /// Workflow execution timeout in seconds.
    #[arg(long)]
    pub execution_timeout: Option<u64>,
    /// Output format.
    #[command(flatten)]
    pub output: OutputArgs,
}

/// Arguments naming one execution.
#[derive(Debug, Clone, Args)]
pub struct ExecutionArgs {
    /// Connection options.
    #[command(flatten)]
    pub connection: ConnectionArgs,
    /// Workflow id.
    #[arg(long, short = 'w')]
    pub workflow_id: String,
    /// Run id (latest run when omitted).
    #[arg(long, short = 'r')]
    pub run_id: Option<String>,
    /// Output format.
    #[command(flatten)]
    pub output: OutputArgs,
}

/// Arguments of `workflow signal`.
#[derive(Debug, Clone, Args)]
pub struct SignalArgs {
    /// The execution, or the query of a batch job.
    #[command(flatten)]
    pub target: SingleOrBatchArgs,
    /// Signal name.
    #[arg(long, alias = "type")]
    pub name: String,
    /// Input.
    #[command(flatten)]
    pub input: InputArgs,
}

/// Arguments of `workflow query`.
#[derive(Debug, Clone, Args)]
pub struct QueryArgs {
    /// The execution.
    #[command(flatten)]
    pub execution: ExecutionArgs,
    /// Query name.
    #[arg(long = "name", alias = "type")]
    pub name: String,
    /// Input.
    #[command(flatten)]
    pub input: InputArgs,
}

/// Arguments of `workflow list`.
#[derive(Debug, Clone, Args)]
pub struct ListArgs {
    /// Connection options.
    #[command(flatten)]
    pub connection: ConnectionArgs,
    /// Visibility query, e.g. `WorkflowType = 'Greeting' AND ExecutionStatus = 'Running'`.
    #[arg(long, short = 'q')]
    pub query: Option<String>,
    /// Maximum number of executions to print.
    #[arg(long, default_value_t = 100)]
    pub limit: usize,
    /// Output format.
    #[command(flatten)]
    pub output: OutputArgs,
}

/// Arguments of `workflow count`.
#[derive(Debug, Clone, Args)]
pub struct CountArgs {
    /// Connection options.
    #[command(flatten)]
    pub connection: ConnectionArgs,
    /// Visibility query; `... GROUP BY ExecutionStatus` counts per status.
    #[arg(long, short = 'q')]
    pub query: Option<String>,
    /// Output format.
    #[command(flatten)]
    pub output: OutputArgs,
}

/// Arguments of `workflow show`.
#[derive(Debug, Clone, Args)]
pub struct ShowArgs {
    /// The execution.
    #[command(flatten)]
    pub execution: ExecutionArgs,
    /// Print each event as a section with all its fields instead of a table row.
    #[arg(long)]
    pub detailed: bool,
    /// Follow the execution: print new events as they happen, until it closes (text
    /// output only, as the Temporal CLI).
    #[arg(long, short = 'f')]
    pub follow: bool,
}

/// Arguments of `workflow describe`.
#[derive(Debug, Clone, Args)]
pub struct DescribeArgs {
    /// The execution.
    #[command(flatten)]
    pub execution: ExecutionArgs,
    /// Show only the execution's auto-reset points.
    #[arg(long)]
    pub reset_points: bool,
}

/// Arguments of `workflow reset`.
#[derive(Debug, Clone, Args)]
pub struct ResetArgs {
    /// Connection options.
    #[command(flatten)]
    pub connection: ConnectionArgs,
    /// Workflow ID. Required unless --query starts a batch reset.
    #[arg(long, short = 'w')]
    pub workflow_id: Option<String>,
    /// Run ID (the latest run when omitted). Not with --query.
    #[arg(long, short = 'r')]
    pub run_id: Option<String>,
    /// List filter selecting the workflows of a batch reset (needs --type FirstWorkflowTask,
    /// LastWorkflowTask or BuildId).
    #[arg(long, short = 'q')]
    pub query: Option<String>,
    /// Don't prompt to confirm the batch reset. Only allowed with --query.
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// A build ID, with `--type BuildId`: resets to the first workflow task it processed.
    #[arg(long)]
    pub build_id: Option<String>,
    /// Output format.
    #[command(flatten)]
    pub output: OutputArgs,
    /// Event id to reset to: a `WorkflowTaskCompleted` (or failed / timed out) event.
    #[arg(long, short = 'e')]
    pub event_id: Option<i64>,
    /// Reset point by kind: FirstWorkflowTask, LastWorkflowTask or LastContinuedAsNew
    /// (BuildId with --query).
    #[arg(long = "type", short = 't')]
    pub reset_type: Option<String>,
    /// Reason for the reset (recorded in history).
    #[arg(long)]
    pub reason: String,
    /// Events to re-apply after the reset point: All, Signal or None (deprecated in the
    /// Temporal CLI in favour of --reapply-exclude).
    #[arg(long, default_value = "All")]
    pub reapply_type: String,
    /// Event types not to re-apply: All, Signal, Update (repeatable).
    #[arg(long)]
    pub reapply_exclude: Vec<String>,
}

impl ResetArgs {
    /// The one execution `--workflow-id` names (None for a batch reset).
    pub fn execution(&self) -> Option<ExecutionArgs> {
        Some(ExecutionArgs {
            connection: self.connection.clone(),
            workflow_id: self.workflow_id.clone()?,
            run_id: self.run_id.clone(),
            output: self.output,
        })
    }
}

/// `hourglass workflow update ...`.
#[derive(Debug, Subcommand)]
pub enum UpdateCommand {
    /// Send an update and wait for it to complete; prints its result.
    Execute(UpdateStartingArgs),
    /// Send an update and wait until it is accepted (or rejected).
    Start(UpdateStartArgs),
    /// Wait for an update to complete and print its result.
    Result(UpdateTargetArgs),
    /// Show an update's stage, and its outcome once it has one.
    Describe(UpdateTargetArgs),
}

impl UpdateCommand {
    /// The connection options of the command.
    pub fn connection(&self) -> &ConnectionArgs {
        match self {
            UpdateCommand::Execute(a) => &a.connection,
            UpdateCommand::Start(a) => &a.starting.connection,
            UpdateCommand::Result(a) | UpdateCommand::Describe(a) => &a.connection,
        }
    }
}

/// Arguments that start an update.
#[derive(Debug, Clone, Args)]
pub struct UpdateStartingArgs {
    /// Connection options.
    #[command(flatten)]
    pub connection: ConnectionArgs,
    /// Update handler name.
    #[arg(long, alias = "type")]
    pub name: String,
    /// Workflow id.
    #[arg(long, short = 'w')]
    pub workflow_id: String,
    /// Run id (the current run when omitted).
    #[arg(long, short = 'r')]
    pub run_id: Option<String>,
    /// Update id (a random UUID when omitted).
    #[arg(long)]
    pub update_id: Option<String>,
    /// Send the update to the last run of the chain started with this run id.
    #[arg(long)]
    pub first_execution_run_id: Option<String>,
    /// Input.
    #[command(flatten)]
    pub input: InputArgs,
    /// Output format.
    #[command(flatten)]
    pub output: OutputArgs,
}

/// Arguments of `workflow update start`.
#[derive(Debug, Clone, Args)]
pub struct UpdateStartArgs {
    /// The update to send.
    #[command(flatten)]
    pub starting: UpdateStartingArgs,
    /// Stage to wait for; the only one is `accepted`.
    #[arg(long)]
    pub wait_for_stage: String,
}

/// Arguments naming one update.
#[derive(Debug, Clone, Args)]
pub struct UpdateTargetArgs {
    /// Connection options.
    #[command(flatten)]
    pub connection: ConnectionArgs,
    /// Workflow id.
    #[arg(long, short = 'w')]
    pub workflow_id: String,
    /// Update id.
    #[arg(long)]
    pub update_id: String,
    /// Run id (the current run when omitted).
    #[arg(long, short = 'r')]
    pub run_id: Option<String>,
    /// Output format.
    #[command(flatten)]
    pub output: OutputArgs,
}

impl RunArgs {
    /// The Web UI and HTTP API flags.
    pub fn http_flags(&self) -> crate::run::HttpFlags {
        crate::run::HttpFlags {
            ui_port: self.ui_port,
            headless: self.headless,
            http_port: self.http_port,
        }
    }
}

impl StartDevArgs {
    /// The Web UI and HTTP API flags.
    pub fn http_flags(&self) -> crate::run::HttpFlags {
        crate::run::HttpFlags {
            ui_port: self.ui_port,
            headless: self.headless,
            http_port: self.http_port,
        }
    }
}
