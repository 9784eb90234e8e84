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
pub mod config;
pub mod connection;
pub mod error;
pub mod logging;
pub mod payload_json;
pub mod run;
pub mod workflow_commands;

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
    );
    match cli.command {
        Command::Workflow(cmd) => workflow(cmd, &file).await,
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
    let conn_args = match &cmd {
        W::Start(a) | W::Execute(a) => &a.connection,
        W::Result(a) | W::Cancel(a) | W::Describe(a) | W::Show(a) => &a.connection,
        W::Signal(a) => &a.execution.connection,
        W::Query(a) => &a.execution.connection,
        W::Terminate(a) => &a.execution.connection,
        W::List(a) => &a.connection,
    };
    let conn = Connection::resolve(conn_args, file, DEFAULT_ADDRESS)?;
    // Bad input is reported before anything touches the server.
    match &cmd {
        W::Start(a) | W::Execute(a) => drop(payload_json::input_payloads(&a.input)?),
        W::Signal(a) => drop(payload_json::input_payloads(&a.input)?),
        W::Query(a) => drop(payload_json::input_payloads(&a.input)?),
        _ => {}
    }
    let mut client = connection::connect(&conn).await?;
    let ns = conn.namespace.as_str();
    let mut out = std::io::stdout().lock();
    use workflow_commands as wc;
    match &cmd {
        W::Start(a) => wc::cmd_start(&mut client, ns, a, &mut out).await,
        W::Execute(a) => wc::cmd_execute(&mut client, ns, a, &mut out).await,
        W::Result(a) => wc::cmd_result(&mut client, ns, a, &mut out).await,
        W::Signal(a) => wc::cmd_signal(&mut client, ns, a, &mut out).await,
        W::Query(a) => wc::cmd_query(&mut client, ns, a, &mut out).await,
        W::Cancel(a) => wc::cmd_cancel(&mut client, ns, a, &mut out).await,
        W::Terminate(a) => wc::cmd_terminate(&mut client, ns, a, &mut out).await,
        W::Describe(a) => wc::cmd_describe(&mut client, ns, a, &mut out).await,
        W::List(a) => wc::cmd_list(&mut client, ns, a, &mut out).await,
        W::Show(a) => wc::cmd_show(&mut client, ns, a, &mut out).await,
    }
}
