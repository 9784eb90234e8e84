//! `hourglass workflow replay`: replays recorded histories against the workflows linked into
//! this binary (the built-in examples for the stock `hourglass`; a user's own workflows when
//! their binary calls [`crate::main`]) — the nondeterminism check to run in CI before a
//! deploy. Exits non-zero on the first history that does not replay, naming the event.

use crate::args::ConnectionArgs;
use crate::config::Connection;
use crate::connection;
use crate::error::CliError;
use crate::run::CoreChoice;
use clap::{ArgGroup, Args};
use hourglass_worker::replay::{ReplayError, ReplaySession, Replayer, WorkflowHistory, server};
use std::io::Write;
use std::path::PathBuf;

/// Arguments of `workflow replay`: exactly one of `--workflow-id`, `--file`, `--query`.
#[derive(Debug, Clone, Args)]
#[command(group(ArgGroup::new("source").required(true).args(["workflow_id", "file", "query"])))]
pub struct ReplayArgs {
    /// Connection options (for --workflow-id and --query).
    #[command(flatten)]
    pub connection: ConnectionArgs,
    /// Fetch this workflow's history from the server and replay it.
    #[arg(long, short = 'w')]
    pub workflow_id: Option<String>,
    /// Run id (latest run when omitted); with --workflow-id.
    #[arg(long, short = 'r', requires = "workflow_id")]
    pub run_id: Option<String>,
    /// A history in Temporal's JSON format (`temporal workflow show --output json`,
    /// `hourglass workflow show --output json`, the UI's download); repeatable.
    #[arg(long, short = 'f')]
    pub file: Vec<PathBuf>,
    /// Replay every workflow execution matching this visibility query (e.g.
    /// `WorkflowType = 'GreetingWorkflow'`).
    #[arg(long, short = 'q')]
    pub query: Option<String>,
    /// The core library: a path to `libhourglass_core.so`, or `linked` for the compiled-in core.
    #[arg(long, env = "HOURGLASS_CORE_LIB")]
    pub core: Option<String>,
}

/// Replays the histories `args` names, printing one line per history; the first one that
/// fails to replay ends the command with an error naming the workflow, the event and the
/// mismatch.
pub async fn cmd_replay(
    args: &ReplayArgs,
    conn: &Connection,
    out: &mut impl Write,
) -> Result<(), CliError> {
    // Files are read and checked before the core is loaded or anything is replayed.
    let files = args
        .file
        .iter()
        .map(WorkflowHistory::from_json_file)
        .collect::<Result<Vec<_>, _>>()
        .map_err(input_error)?;
    let core = CoreChoice::resolve(args.core.as_deref()).load()?;
    let replayer = Replayer::new(&core).map_err(input_error)?;
    let mut session = replayer.session().map_err(input_error)?;
    let result = replay_sources(args, conn, files, &mut session, out).await;
    let replayed = session.replayed();
    let finished = session.finish().await.map_err(input_error);
    let n = result?;
    finished?;
    writeln!(
        out,
        "Replayed {n} workflow histor{}: no nondeterminism",
        if n == 1 { "y" } else { "ies" }
    )?;
    tracing::info!(replayed, "workflow replay finished");
    Ok(())
}

async fn replay_sources(
    args: &ReplayArgs,
    conn: &Connection,
    files: Vec<WorkflowHistory>,
    session: &mut ReplaySession,
    out: &mut impl Write,
) -> Result<usize, CliError> {
    let mut n = 0;
    for history in &files {
        replay_one(session, history, out).await?;
        n += 1;
    }
    if args.workflow_id.is_none() && args.query.is_none() {
        return Ok(n);
    }
    let mut client = connection::connect(conn).await?;
    let ns = conn.namespace.as_str();
    if let Some(workflow_id) = &args.workflow_id {
        let history = server::fetch_history(&mut client, ns, workflow_id, args.run_id.as_deref())
            .await
            .map_err(input_error)?;
        replay_one(session, &history, out).await?;
        n += 1;
    }
    if let Some(query) = &args.query {
        let executions = server::list_workflows(&mut client, ns, query)
            .await
            .map_err(input_error)?;
        if executions.is_empty() {
            return Err(CliError::NotFound {
                what: "workflow execution matching",
                id: query.clone(),
                hint: " (check --query and --namespace)".into(),
            });
        }
        for e in executions {
            let history = server::fetch_history(&mut client, ns, &e.workflow_id, Some(&e.run_id))
                .await
                .map_err(input_error)?;
            replay_one(session, &history, out).await?;
            n += 1;
        }
    }
    Ok(n)
}

async fn replay_one(
    session: &mut ReplaySession,
    history: &WorkflowHistory,
    out: &mut impl Write,
) -> Result<(), CliError> {
    let label = format!(
        "{} (run {}, {})",
        history.workflow_id(),
        history.run_id(),
        history.workflow_type()
    );
    match session.replay(history).await {
        Ok(()) => {
            writeln!(out, "ok      {label}")?;
            Ok(())
        }
        Err(e) if e.is_replay_failure() => {
            writeln!(out, "FAILED  {label}")?;
            if let Some(nd) = e.nondeterminism() {
                if let Some(id) = nd.event_id {
                    let event_type = nd.event_type.as_deref().unwrap_or("unknown type");
                    writeln!(out, "  event:    {id} ({event_type})")?;
                }
                writeln!(out, "  mismatch: {}", nd.message)?;
            }
            Err(CliError::Run(format!("replay failed: {e}")))
        }
        Err(e) => Err(input_error(e)),
    }
}

/// Unreadable input or a broken core, as one CLI error line.
fn input_error(e: ReplayError) -> CliError {
    CliError::Run(e.to_string())
}
