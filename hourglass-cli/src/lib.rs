//! The `hourglass` command line, as a library so that a user's own binary can be the
//! `hourglass` command with the user's workflows and activities linked in:
//!
//! ```no_run
//! // Workflows and activities defined in this crate (with `#[hourglass_worker::register]` /
//! // `#[hourglass_worker::activities]`) are found by type name; nothing else to list.
//! fn main() -> std::process::ExitCode {
//!     hourglass_cli::main()
//! }
//! ```

pub mod admin;
pub mod args;
pub mod batch_args;
pub mod batch_commands;
pub mod config;
pub mod connection;
pub mod error;
pub mod exit_log;
pub mod logging;
pub mod operator_commands;
pub mod output;
pub mod payload_json;
pub mod run;
pub mod schedule_args;
pub mod schedule_commands;
pub mod schedule_times;
pub mod ui_tree;
pub mod workflow_commands;
pub mod workflow_replay;
pub mod workflow_reset;
pub mod workflow_update;
pub mod workflow_view;

use args::{Cli, Command, LogFormat, WorkflowCommand};
use clap::Parser;
use config::{Connection, DEFAULT_ADDRESS, FileConfig};
use error::CliError;
use std::process::ExitCode;

/// The `hourglass` command: parses the process's arguments, runs the command, prints any
/// error as one line on stderr and returns the exit code (0 on success).
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("hourglass: error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run_cli(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("hourglass: error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Runs one parsed command.
pub async fn run_cli(cli: Cli) -> Result<(), CliError> {
    let file = FileConfig::load(cli.config.as_deref())?;
    logging::init(
        cli.log_format
            .or(file.log_format)
            .unwrap_or(LogFormat::Pretty),
        cli.log_level,
    );
    match cli.command {
        Command::Workflow(cmd) => workflow(cmd, &file).await,
        Command::Schedule(cmd) => schedule(cmd, &file).await,
        Command::Operator(cmd) => operator(cmd, &file).await,
        Command::Batch(cmd) => batch(cmd, &file).await,
        Command::Run(args) => run::cmd_run(args, &file).await,
        Command::Server(args::ServerCommand::StartDev(args)) => run::cmd_start_dev(args).await,
        Command::Tree(args) => {
            let admin = args.admin.clone().unwrap_or_else(|| {
                file.run
                    .admin
                    .clone()
                    .unwrap_or_else(|| admin::DEFAULT_ADMIN.to_string())
            });
            admin::cmd_tree(&admin, args.json, &mut std::io::stdout().lock()).await
        }
    }
}

async fn workflow(cmd: WorkflowCommand, file: &FileConfig) -> Result<(), CliError> {
    use WorkflowCommand as W;
    let conn = Connection::resolve(cmd.connection(), file, DEFAULT_ADDRESS)?;
    if let W::Replay(a) = &cmd {
        // Connects only for histories on the server; `--file` replays offline.
        return workflow_replay::cmd_replay(a, &conn, &mut std::io::stdout().lock()).await;
    }
    // Bad input is reported before anything touches the server.
    match &cmd {
        W::Start(a) | W::Execute(a) => drop(payload_json::input_payloads(&a.input)?),
        W::Signal(a) => drop(payload_json::input_payloads(&a.input)?),
        W::Reset(a) => workflow_reset::check_args(a)?,
        W::Query(a) => drop(payload_json::input_payloads(&a.input)?),
        W::Update(args::UpdateCommand::Execute(a)) => drop(payload_json::input_payloads(&a.input)?),
        W::Update(args::UpdateCommand::Start(a)) => {
            drop(payload_json::input_payloads(&a.starting.input)?)
        }
        _ => {}
    }
    let mut client = connection::connect(&conn).await?;
    let ns = conn.namespace.as_str();
    let mut out = std::io::stdout().lock();
    use workflow_commands as wc;
    use workflow_view as wv;
    match &cmd {
        W::Start(a) => wc::cmd_start(&mut client, ns, a, &mut out).await,
        W::Execute(a) => wc::cmd_execute(&mut client, ns, a, &mut out).await,
        W::Result(a) => wc::cmd_result(&mut client, ns, a, &mut out).await,
        W::Signal(a) => wc::cmd_signal(&mut client, ns, a, &mut out).await,
        W::Query(a) => wc::cmd_query(&mut client, ns, a, &mut out).await,
        W::Cancel(a) => wc::cmd_cancel(&mut client, ns, a, &mut out).await,
        W::Terminate(a) => wc::cmd_terminate(&mut client, ns, a, &mut out).await,
        W::Delete(a) => wc::cmd_delete(&mut client, ns, a, &mut out).await,
        W::Describe(a) => wv::cmd_describe(&mut client, ns, a, &mut out).await,
        W::List(a) => wv::cmd_list(&mut client, ns, a, &mut out).await,
        W::Count(a) => wv::cmd_count(&mut client, ns, a, &mut out).await,
        W::Show(a) => wv::cmd_show(&mut client, ns, a, &mut out).await,
        W::Reset(a) => workflow_reset::cmd_reset(&mut client, ns, a, &mut out).await,
        W::Replay(a) => workflow_replay::cmd_replay(a, &conn, &mut out).await,
        W::Update(u) => {
            use args::UpdateCommand as U;
            use workflow_update as wu;
            match u {
                U::Execute(a) => wu::cmd_execute(&mut client, ns, a, &mut out).await,
                U::Start(a) => wu::cmd_start(&mut client, ns, a, &mut out).await,
                U::Result(a) => wu::cmd_result(&mut client, ns, a, &mut out).await,
                U::Describe(a) => wu::cmd_describe(&mut client, ns, a, &mut out).await,
            }
        }
    }
}

async fn schedule(cmd: schedule_args::ScheduleCommand, file: &FileConfig) -> Result<(), CliError> {
    use schedule_args::ScheduleCommand as S;
    use schedule_commands as sc;
    let conn = Connection::resolve(cmd.connection(), file, DEFAULT_ADDRESS)?;
    // Bad input is reported before anything touches the server.
    match &cmd {
        S::Create(a) | S::Update(a) => drop(sc::build_schedule(a)?),
        S::Trigger(a) => drop(
            a.overlap_policy
                .as_deref()
                .map(sc::parse_overlap_policy)
                .transpose()?,
        ),
        S::Backfill(a) => {
            schedule_times::parse_range(a)?;
            sc::parse_overlap_policy(&a.overlap_policy)?;
        }
        S::ListMatchingTimes(a) => drop(schedule_times::parse_range(a)?),
        _ => {}
    }
    let mut client = connection::connect(&conn).await?;
    let ns = conn.namespace.as_str();
    let mut out = std::io::stdout().lock();
    match &cmd {
        S::Create(a) => sc::cmd_create(&mut client, ns, a, &mut out).await,
        S::Update(a) => sc::cmd_update(&mut client, ns, a, &mut out).await,
        S::List(a) => sc::cmd_list(&mut client, ns, a, &mut out).await,
        S::Describe(a) => sc::cmd_describe(&mut client, ns, a, &mut out).await,
        S::Trigger(a) => sc::cmd_trigger(&mut client, ns, a, &mut out).await,
        S::Toggle(a) => sc::cmd_toggle(&mut client, ns, a, &mut out).await,
        S::Pause(a) => sc::cmd_pause(&mut client, ns, a, true, &mut out).await,
        S::Unpause(a) => sc::cmd_pause(&mut client, ns, a, false, &mut out).await,
        S::Delete(a) => sc::cmd_delete(&mut client, ns, a, &mut out).await,
        S::Backfill(a) => schedule_times::cmd_backfill(&mut client, ns, a, &mut out).await,
        S::ListMatchingTimes(a) => {
            schedule_times::cmd_list_matching_times(&mut client, ns, a, &mut out).await
        }
    }
}

async fn batch(cmd: batch_args::BatchCommand, file: &FileConfig) -> Result<(), CliError> {
    use batch_args::BatchCommand as B;
    let conn = Connection::resolve(cmd.connection(), file, DEFAULT_ADDRESS)?;
    let mut client = connection::connect(&conn).await?;
    let ns = conn.namespace.as_str();
    let mut out = std::io::stdout().lock();
    match &cmd {
        B::Describe(a) => batch_commands::cmd_describe(&mut client, ns, a, &mut out).await,
        B::List(a) => batch_commands::cmd_list(&mut client, ns, a, &mut out).await,
        B::Terminate(a) => batch_commands::cmd_terminate(&mut client, ns, a, &mut out).await,
    }
}

async fn operator(
    cmd: operator_commands::OperatorCommand,
    file: &FileConfig,
) -> Result<(), CliError> {
    use operator_commands::{self as oc, OperatorCommand as O, SearchAttributeCommand as SA};
    let conn = Connection::resolve(cmd.connection(), file, DEFAULT_ADDRESS)?;
    if let O::SearchAttribute(SA::Create(a)) = &cmd {
        oc::create_pairs(a)?;
    }
    let mut client = connection::connect_operator(&conn).await?;
    let ns = conn.namespace.as_str();
    let mut out = std::io::stdout().lock();
    match &cmd {
        O::SearchAttribute(SA::Create(a)) => oc::cmd_create(&mut client, ns, a, &mut out).await,
        O::SearchAttribute(SA::List(a)) => oc::cmd_list(&mut client, ns, a, &mut out).await,
        O::SearchAttribute(SA::Remove(a)) => oc::cmd_remove(&mut client, ns, a, &mut out).await,
    }
}
