//! The `hourglass` command line.

mod admin;
mod args;
mod config;
mod connection;
mod error;
mod logging;
mod payload_json;
mod run;
mod workflow_commands;

use args::{Cli, Command, LogFormat, WorkflowCommand};
use clap::Parser;
use config::{Connection, DEFAULT_ADDRESS, FileConfig};
use error::CliError;
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("hourglass: error: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<(), CliError> {
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
