//! Arguments of the batch commands, with the Temporal CLI's flag names: the workflow
//! commands that act on one workflow (`--workflow-id`) or start a batch job over a query
//! (`--query`), and `hourglass batch describe|list|terminate`.

use crate::args::{ConnectionArgs, ExecutionArgs, OutputArgs};
use clap::{Args, Subcommand};

/// One workflow or a batch over a query: the Temporal CLI's `SingleWorkflowOrBatchOptions`.
#[derive(Debug, Clone, Args)]
pub struct SingleOrBatchArgs {
    /// Connection options.
    #[command(flatten)]
    pub connection: ConnectionArgs,
    /// Workflow ID. You must set either --workflow-id or --query.
    #[arg(long, short = 'w')]
    pub workflow_id: Option<String>,
    /// Run ID. Only use with --workflow-id. Cannot use with --query.
    #[arg(long, short = 'r')]
    pub run_id: Option<String>,
    /// List filter selecting the workflows of a batch job, e.g. `WorkflowType = 'Greeting'`.
    /// You must set either --workflow-id or --query.
    #[arg(long, short = 'q')]
    pub query: Option<String>,
    /// Reason for the batch operation (terminate: also for one workflow). Defaults to a
    /// message naming the current user.
    #[arg(long)]
    pub reason: Option<String>,
    /// Don't prompt to confirm the batch (needed when stdin is not a terminal).
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Limit the batch's operations per second. Only allowed with --query.
    #[arg(long)]
    pub rps: Option<f32>,
    /// Output format.
    #[command(flatten)]
    pub output: OutputArgs,
}

impl SingleOrBatchArgs {
    /// The one execution `--workflow-id` names, as the single-workflow commands take it.
    pub fn execution(&self) -> Option<ExecutionArgs> {
        Some(ExecutionArgs {
            connection: self.connection.clone(),
            workflow_id: self.workflow_id.clone()?,
            run_id: self.run_id.clone(),
            output: self.output,
        })
    }
}

/// `hourglass batch ...`, as the Temporal CLI's `temporal batch`.
#[derive(Debug, Subcommand)]
pub enum BatchCommand {
    /// Show a batch job's state and progress.
    Describe(BatchJobArgs),
    /// List the namespace's batch jobs.
    List(BatchListArgs),
    /// Stop a running batch job (its state becomes Failed).
    Terminate(BatchTerminateArgs),
}

impl BatchCommand {
    /// The connection options of the command.
    pub fn connection(&self) -> &ConnectionArgs {
        match self {
            BatchCommand::Describe(a) => &a.connection,
            BatchCommand::List(a) => &a.connection,
            BatchCommand::Terminate(a) => &a.job.connection,
        }
    }
}

/// Arguments naming one batch job.
#[derive(Debug, Clone, Args)]
pub struct BatchJobArgs {
    /// Connection options.
    #[command(flatten)]
    pub connection: ConnectionArgs,
    /// Batch job ID.
    #[arg(long)]
    pub job_id: String,
    /// Output format.
    #[command(flatten)]
    pub output: OutputArgs,
}

/// Arguments of `batch list`.
#[derive(Debug, Clone, Args)]
pub struct BatchListArgs {
    /// Connection options.
    #[command(flatten)]
    pub connection: ConnectionArgs,
    /// Maximum number of batch jobs to display (0: all).
    #[arg(long, default_value_t = 0)]
    pub limit: usize,
    /// Output format.
    #[command(flatten)]
    pub output: OutputArgs,
}

/// Arguments of `batch terminate`.
#[derive(Debug, Clone, Args)]
pub struct BatchTerminateArgs {
    /// The job.
    #[command(flatten)]
    pub job: BatchJobArgs,
    /// Reason for terminating the batch job.
    #[arg(long)]
    pub reason: String,
}
