//! Arguments of `hourglass schedule ...`, with the Temporal CLI's flag names.

use crate::args::{ConnectionArgs, InputArgs, OutputArgs};
use clap::{Args, Subcommand};

/// `hourglass schedule ...`.
#[derive(Debug, Subcommand)]
pub enum ScheduleCommand {
    /// Create a schedule that starts a workflow at the times given.
    Create(Box<ScheduleCreateArgs>),
    /// Replace a schedule's whole configuration (options not given are reset to defaults).
    Update(Box<ScheduleCreateArgs>),
    /// List the namespace's schedules.
    List(ScheduleListArgs),
    /// Show a schedule's configuration and state.
    Describe(ScheduleIdArgs),
    /// Start the schedule's workflow now.
    Trigger(ScheduleTriggerArgs),
    /// Pause or unpause a schedule (`--pause` / `--unpause`).
    Toggle(ScheduleToggleArgs),
    /// Pause a schedule (`toggle --pause`).
    Pause(ScheduleNoteArgs),
    /// Unpause a schedule (`toggle --unpause`).
    Unpause(ScheduleNoteArgs),
    /// Delete a schedule (the workflows it started keep running).
    Delete(ScheduleIdArgs),
    /// Run the actions the schedule would have taken in a time range (past or future).
    Backfill(ScheduleRangeArgs),
    /// List the times the schedule's spec matches in a time range, without acting.
    ListMatchingTimes(ScheduleRangeArgs),
}

impl ScheduleCommand {
    /// The connection options of the command.
    pub fn connection(&self) -> &ConnectionArgs {
        use ScheduleCommand as S;
        match self {
            S::Create(a) | S::Update(a) => &a.id.connection,
            S::List(a) => &a.connection,
            S::Describe(a) | S::Delete(a) => &a.connection,
            S::Trigger(a) => &a.id.connection,
            S::Toggle(a) => &a.id.connection,
            S::Pause(a) | S::Unpause(a) => &a.id.connection,
            S::Backfill(a) | S::ListMatchingTimes(a) => &a.id.connection,
        }
    }
}

/// Arguments naming one schedule.
#[derive(Debug, Clone, Args)]
pub struct ScheduleIdArgs {
    /// Connection options.
    #[command(flatten)]
    pub connection: ConnectionArgs,
    /// Schedule id.
    #[arg(long, short = 's')]
    pub schedule_id: String,
    /// Output format.
    #[command(flatten)]
    pub output: OutputArgs,
}

/// Arguments of `schedule create` and `schedule update`.
#[derive(Debug, Clone, Args)]
pub struct ScheduleCreateArgs {
    /// The schedule.
    #[command(flatten)]
    pub id: ScheduleIdArgs,
    /// Calendar specification in JSON (repeatable), e.g. `{"dayOfWeek":"Fri","hour":"17","minute":"5"}`.
    #[arg(long)]
    pub calendar: Vec<String>,
    /// Cron string (repeatable), e.g. `30 12 * * Fri` or `@every 1h`.
    #[arg(long)]
    pub cron: Vec<String>,
    /// Interval (repeatable), e.g. `90m`, or `60m/15m` with a phase offset.
    #[arg(long)]
    pub interval: Vec<String>,
    /// Maximum catch-up time for when the server was unavailable, e.g. `10m`.
    #[arg(long)]
    pub catchup_window: Option<String>,
    /// Schedule start time (RFC 3339).
    #[arg(long)]
    pub start_time: Option<String>,
    /// Schedule end time (RFC 3339).
    #[arg(long)]
    pub end_time: Option<String>,
    /// Vary each start time randomly by up to this much, e.g. `30s`.
    #[arg(long)]
    pub jitter: Option<String>,
    /// Initial notes.
    #[arg(long, alias = "note")]
    pub notes: Option<String>,
    /// Create the schedule paused.
    #[arg(long)]
    pub paused: bool,
    /// Pause the schedule after a workflow failure.
    #[arg(long)]
    pub pause_on_failure: bool,
    /// Total number of actions allowed (0: unlimited).
    #[arg(long)]
    pub remaining_actions: Option<i64>,
    /// Time zone for the calendar specs (IANA name).
    #[arg(long)]
    pub time_zone: Option<String>,
    /// Policy for overlapping runs: Skip, BufferOne, BufferAll, CancelOther,
    /// TerminateOther or AllowAll.
    #[arg(long, default_value = "Skip")]
    pub overlap_policy: String,
    /// Workflow id of the started workflows (the schedule id when omitted); the server
    /// appends the scheduled time.
    #[arg(long, short = 'w')]
    pub workflow_id: Option<String>,
    /// Workflow type name.
    #[arg(long = "type", alias = "name", alias = "workflow-type")]
    pub workflow_type: String,
    /// Task queue of the workflows.
    #[arg(long, short = 't')]
    pub task_queue: String,
    /// Workflow run timeout, e.g. `1h`.
    #[arg(long)]
    pub run_timeout: Option<String>,
    /// Workflow execution timeout, e.g. `1h`.
    #[arg(long)]
    pub execution_timeout: Option<String>,
    /// Workflow task timeout, e.g. `10s`.
    #[arg(long)]
    pub task_timeout: Option<String>,
    /// Workflow input.
    #[command(flatten)]
    pub input: InputArgs,
}

/// Arguments of `schedule list`.
#[derive(Debug, Clone, Args)]
pub struct ScheduleListArgs {
    /// Connection options.
    #[command(flatten)]
    pub connection: ConnectionArgs,
    /// Also show each schedule's spec and notes.
    #[arg(long, short = 'l')]
    pub long: bool,
    /// Show everything (implies --long).
    #[arg(long)]
    pub really_long: bool,
    /// Visibility query over schedules.
    #[arg(long, short = 'q')]
    pub query: Option<String>,
    /// Output format.
    #[command(flatten)]
    pub output: OutputArgs,
}

/// Arguments of `schedule trigger`.
#[derive(Debug, Clone, Args)]
pub struct ScheduleTriggerArgs {
    /// The schedule.
    #[command(flatten)]
    pub id: ScheduleIdArgs,
    /// Overlap policy for this run (the schedule's own when omitted).
    #[arg(long)]
    pub overlap_policy: Option<String>,
}

/// Arguments of `schedule toggle`.
#[derive(Debug, Clone, Args)]
pub struct ScheduleToggleArgs {
    /// The schedule.
    #[command(flatten)]
    pub id: ScheduleIdArgs,
    /// Pause the schedule.
    #[arg(long)]
    pub pause: bool,
    /// Unpause the schedule.
    #[arg(long)]
    pub unpause: bool,
    /// Reason, recorded in the schedule's notes.
    #[arg(long, default_value = "(no reason provided)")]
    pub reason: String,
}

/// Arguments of `schedule pause` / `schedule unpause`.
#[derive(Debug, Clone, Args)]
pub struct ScheduleNoteArgs {
    /// The schedule.
    #[command(flatten)]
    pub id: ScheduleIdArgs,
    /// Reason, recorded in the schedule's notes.
    #[arg(long, alias = "note", default_value = "(no reason provided)")]
    pub reason: String,
}

/// Arguments of `schedule backfill` and `schedule list-matching-times`.
#[derive(Debug, Clone, Args)]
pub struct ScheduleRangeArgs {
    /// The schedule.
    #[command(flatten)]
    pub id: ScheduleIdArgs,
    /// Start of the time range (RFC 3339).
    #[arg(long)]
    pub start_time: String,
    /// End of the time range (RFC 3339).
    #[arg(long)]
    pub end_time: String,
    /// Backfill only: policy for runs that overlap (Skip, BufferOne, BufferAll,
    /// CancelOther, TerminateOther or AllowAll).
    #[arg(long, default_value = "Skip")]
    pub overlap_policy: String,
}
