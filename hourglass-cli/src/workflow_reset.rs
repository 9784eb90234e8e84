//! `hourglass workflow reset`: ResetWorkflowExecution, with the reset point given by
//! `--event-id` or resolved from the history by `--type` exactly as the Temporal CLI does;
//! with `--query` instead of `--workflow-id`, a batch reset job (StartBatchOperation).

use crate::args::{ExecutionArgs, ResetArgs};
use crate::batch_commands::{confirm_batch, start_batch_job};
use crate::connection::Client;
use crate::error::CliError;
use crate::output::{print_json, proto_json};
use crate::workflow_commands::{execution, history_events, identity, not_found_or_rpc};
use std::io::Write;
use temporalio_protos::temporal::api::batch::v1::BatchOperationReset;
use temporalio_protos::temporal::api::common::v1::{ResetOptions, reset_options::Target};
use temporalio_protos::temporal::api::enums::v1::{
    EventType, ResetReapplyExcludeType, ResetReapplyType,
};
use temporalio_protos::temporal::api::history::v1::HistoryEvent;
use temporalio_protos::temporal::api::history::v1::history_event::Attributes;
use temporalio_protos::temporal::api::workflowservice::v1::start_batch_operation_request::Operation;
use temporalio_protos::temporal::api::workflowservice::v1::{
    ResetWorkflowExecutionRequest, StartBatchOperationRequest,
};

fn invalid(what: &str, message: impl Into<String>) -> CliError {
    CliError::InvalidValue {
        what: what.into(),
        message: message.into(),
    }
}

/// The kinds of reset point `--type` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResetType {
    /// The first workflow task completed of the run.
    FirstWorkflowTask,
    /// The last workflow task completed of the run.
    LastWorkflowTask,
    /// The last workflow task completed of the run this one continued from.
    LastContinuedAsNew,
}

/// Parses `--type` (case-insensitive).
pub fn parse_reset_type(text: &str) -> Result<ResetType, CliError> {
    let all = [
        ("FirstWorkflowTask", ResetType::FirstWorkflowTask),
        ("LastWorkflowTask", ResetType::LastWorkflowTask),
        ("LastContinuedAsNew", ResetType::LastContinuedAsNew),
    ];
    if text.eq_ignore_ascii_case("BuildId") {
        return Err(invalid(
            "--type",
            "BuildId resets are batch resets: select the workflows with --query, or use FirstWorkflowTask, LastWorkflowTask, LastContinuedAsNew or --event-id",
        ));
    }
    all.iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(text))
        .map(|(_, t)| *t)
        .ok_or_else(|| {
            invalid(
                "--type",
                format!(
                    "unknown reset type `{text}` (use FirstWorkflowTask, LastWorkflowTask or LastContinuedAsNew)"
                ),
            )
        })
}

/// The reset target of a batch reset's `--type` (FirstWorkflowTask, LastWorkflowTask or
/// BuildId, which needs `--build-id`), as the Temporal CLI's `batchResetOptions`.
pub fn batch_target(args: &ResetArgs) -> Result<Target, CliError> {
    let text = args
        .reset_type
        .as_deref()
        .ok_or_else(|| invalid("--type", "must specify reset type"))?;
    if text.eq_ignore_ascii_case("BuildId") {
        return match args.build_id.as_deref() {
            Some(b) if !b.is_empty() => Ok(Target::BuildId(b.to_string())),
            _ => Err(invalid(
                "--build-id",
                "must specify build Id for BuildId based batch reset",
            )),
        };
    }
    match parse_reset_type(text)? {
        ResetType::FirstWorkflowTask => Ok(Target::FirstWorkflowTask(())),
        ResetType::LastWorkflowTask => Ok(Target::LastWorkflowTask(())),
        ResetType::LastContinuedAsNew => Err(invalid(
            "--type",
            "LastContinuedAsNew cannot reset a batch; use FirstWorkflowTask, LastWorkflowTask or BuildId",
        )),
    }
}

/// Checks the flags before anything touches the server: a single reset's `--type`, or a
/// batch reset's (no `--run-id` or `--event-id` with `--query`).
pub fn check_args(args: &ResetArgs) -> Result<(), CliError> {
    reapply(args)?;
    if args.workflow_id.is_some() {
        args.reset_type
            .as_deref()
            .map(parse_reset_type)
            .transpose()?;
        return Ok(());
    }
    if args.query.as_deref().is_none_or(str::is_empty) {
        return Err(invalid(
            "--workflow-id/--query",
            "must set either workflow ID or query",
        ));
    }
    batch_target(args)?;
    if args.run_id.is_some() {
        return Err(invalid("--run-id", "must not specify run Id"));
    }
    if args.event_id.is_some() {
        return Err(invalid("--event-id", "must not specify event Id"));
    }
    Ok(())
}

/// `workflow reset --query`: a batch job resetting every matching workflow.
async fn batch_reset(
    client: &mut Client,
    namespace: &str,
    args: &ResetArgs,
    out: &mut impl Write,
) -> Result<(), CliError> {
    check_args(args)?;
    let query = args.query.clone().unwrap_or_default();
    let (reapply_type, excludes) = reapply(args)?;
    // `reset_reapply_type` is deprecated in the API but still honoured, and the Temporal
    // CLI still sends it.
    #[allow(deprecated)]
    let options = ResetOptions {
        target: Some(batch_target(args)?),
        reset_reapply_type: reapply_type as i32,
        reset_reapply_exclude_types: excludes,
        ..Default::default()
    };
    confirm_batch(client, namespace, &query, args.yes).await?;
    let req = StartBatchOperationRequest {
        namespace: namespace.to_string(),
        job_id: uuid::Uuid::new_v4().to_string(),
        visibility_query: query,
        reason: args.reason.clone(),
        operation: Some(Operation::ResetOperation(BatchOperationReset {
            identity: identity(),
            options: Some(options),
            ..Default::default()
        })),
        ..Default::default()
    };
    start_batch_job(client, req, args.output.output.is_json(), out).await
}

/// `--reapply-type` and `--reapply-exclude` as the request's enums, with the Temporal CLI's
/// rules (`--reapply-type` other than All cannot be combined with `--reapply-exclude`).
pub fn reapply(args: &ResetArgs) -> Result<(ResetReapplyType, Vec<i32>), CliError> {
    let mut excludes = Vec::new();
    for e in &args.reapply_exclude {
        let all = [
            ("Signal", ResetReapplyExcludeType::Signal),
            ("Update", ResetReapplyExcludeType::Update),
            ("Nexus", ResetReapplyExcludeType::Nexus),
        ];
        if e.eq_ignore_ascii_case("All") {
            excludes = all.iter().map(|(_, t)| *t as i32).collect();
            break;
        }
        let t = all
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(e))
            .ok_or_else(|| {
                invalid(
                    "--reapply-exclude",
                    format!("unknown event type `{e}` (use All, Signal or Update)"),
                )
            })?;
        excludes.push(t.1 as i32);
    }
    let kind = match args.reapply_type.to_ascii_lowercase().as_str() {
        "all" => ResetReapplyType::AllEligible,
        other if !args.reapply_exclude.is_empty() => {
            return Err(invalid(
                "--reapply-type",
                format!("`{other}` cannot be used with --reapply-exclude; use --reapply-exclude"),
            ));
        }
        "signal" => ResetReapplyType::Signal,
        "none" => ResetReapplyType::None,
        _ => {
            return Err(invalid(
                "--reapply-type",
                format!(
                    "unknown value `{}` (use All, Signal or None)",
                    args.reapply_type
                ),
            ));
        }
    };
    Ok((kind, excludes))
}

fn is(event: &HistoryEvent, t: EventType) -> bool {
    event.event_type == t as i32
}

/// The event id of `kind` in `events` (one run's history), as the Temporal CLI picks it:
/// the first or last WorkflowTaskCompleted, falling back to the first WorkflowTaskScheduled
/// + 1 when no task has completed yet.
pub fn reset_event_id(events: &[HistoryEvent], kind: ResetType) -> Option<i64> {
    let completed = events
        .iter()
        .filter(|e| is(e, EventType::WorkflowTaskCompleted));
    let found = match kind {
        ResetType::FirstWorkflowTask => completed.map(|e| e.event_id).next(),
        ResetType::LastWorkflowTask | ResetType::LastContinuedAsNew => {
            completed.map(|e| e.event_id).next_back()
        }
    };
    found.or_else(|| {
        (kind != ResetType::LastContinuedAsNew)
            .then(|| {
                events
                    .iter()
                    .find(|e| is(e, EventType::WorkflowTaskScheduled))
                    .map(|e| e.event_id + 1)
            })
            .flatten()
    })
}

/// One run's history; NotFound becomes "workflow execution `id` not found".
async fn run_history(
    client: &mut Client,
    namespace: &str,
    workflow_id: &str,
    run_id: Option<&str>,
) -> Result<Vec<HistoryEvent>, CliError> {
    history_events(client, namespace, workflow_id, run_id)
        .await
        .map_err(|err| match err {
            CliError::Rpc { code, .. } if code == "NotFound" => CliError::NotFound {
                what: "workflow execution",
                id: workflow_id.to_string(),
                hint: " (check --workflow-id, --run-id and --namespace)".into(),
            },
            other => other,
        })
}

/// Resolves `--type` to `(run id to reset, event id)`.
async fn resolve(
    client: &mut Client,
    namespace: &str,
    e: &ExecutionArgs,
    kind: ResetType,
) -> Result<(Option<String>, i64), CliError> {
    let events = run_history(client, namespace, &e.workflow_id, e.run_id.as_deref()).await?;
    let (run, events) = if kind == ResetType::LastContinuedAsNew {
        let previous = match events.first().and_then(|ev| ev.attributes.as_ref()) {
            Some(Attributes::WorkflowExecutionStartedEventAttributes(a))
                if !a.continued_execution_run_id.is_empty() =>
            {
                a.continued_execution_run_id.clone()
            }
            _ => {
                return Err(invalid(
                    "--type",
                    "cannot use LastContinuedAsNew for workflow; workflow was not continued from another",
                ));
            }
        };
        let events = run_history(client, namespace, &e.workflow_id, Some(&previous)).await?;
        (Some(previous), events)
    } else {
        (e.run_id.clone(), events)
    };
    let id = reset_event_id(&events, kind).ok_or_else(|| {
        invalid(
            "--type",
            "unable to find any scheduled or completed workflow task to reset to",
        )
    })?;
    Ok((run, id))
}

/// `workflow reset`.
pub async fn cmd_reset(
    client: &mut Client,
    namespace: &str,
    args: &ResetArgs,
    out: &mut impl Write,
) -> Result<(), CliError> {
    let Some(e) = &args.execution() else {
        return batch_reset(client, namespace, args, out).await;
    };
    let kind = args
        .reset_type
        .as_deref()
        .map(parse_reset_type)
        .transpose()?;
    let (reapply_type, excludes) = reapply(args)?;
    let (run, event_id) = match (kind, args.event_id) {
        (Some(_), Some(_)) => {
            return Err(invalid("--event-id/--type", "give only one of them"));
        }
        (None, None) => {
            return Err(invalid(
                "--event-id/--type",
                "must specify either valid event id or reset type",
            ));
        }
        (None, Some(id)) if id <= 0 => {
            return Err(invalid("--event-id", "must be a positive event id"));
        }
        (None, Some(id)) => (e.run_id.clone(), id),
        (Some(kind), None) => resolve(client, namespace, e, kind).await?,
    };
    if !e.output.output.is_json() {
        writeln!(
            out,
            "Resetting workflow {} to event ID {event_id}",
            e.workflow_id
        )?;
    }
    let user = std::env::var("USER").unwrap_or_else(|_| "<unknown-user>".into());
    // `reset_reapply_type` is deprecated in the API but still honoured, and the Temporal
    // CLI still sends it.
    #[allow(deprecated)]
    let req = ResetWorkflowExecutionRequest {
        namespace: namespace.to_string(),
        workflow_execution: execution(&e.workflow_id, run.as_deref()),
        reason: format!("{user}: {}", args.reason),
        workflow_task_finish_event_id: event_id,
        request_id: uuid::Uuid::new_v4().to_string(),
        reset_reapply_type: reapply_type as i32,
        reset_reapply_exclude_types: excludes,
        identity: identity(),
        ..Default::default()
    };
    let resp = client
        .reset_workflow_execution(req)
        .await
        .map_err(|s| not_found_or_rpc("reset workflow", &e.workflow_id, s))?
        .into_inner();
    if e.output.output.is_json() {
        return print_json(out, &proto_json(&resp, true)?);
    }
    writeln!(out, "New run ID: {}", resp.run_id)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(id: i64, t: EventType) -> HistoryEvent {
        HistoryEvent {
            event_id: id,
            event_type: t as i32,
            ..Default::default()
        }
    }

    #[test]
    fn reset_points_are_picked_as_the_temporal_cli_picks_them() {
        use EventType as E;
        let events = vec![
            ev(1, E::WorkflowExecutionStarted),
            ev(2, E::WorkflowTaskScheduled),
            ev(3, E::WorkflowTaskStarted),
            ev(4, E::WorkflowTaskCompleted),
            ev(5, E::WorkflowExecutionSignaled),
            ev(6, E::WorkflowTaskScheduled),
            ev(7, E::WorkflowTaskStarted),
            ev(8, E::WorkflowTaskCompleted),
        ];
        assert_eq!(
            reset_event_id(&events, ResetType::FirstWorkflowTask),
            Some(4)
        );
        assert_eq!(
            reset_event_id(&events, ResetType::LastWorkflowTask),
            Some(8)
        );
        assert_eq!(
            reset_event_id(&events[..3], ResetType::LastWorkflowTask),
            Some(3)
        );
        assert_eq!(
            reset_event_id(&events[..1], ResetType::FirstWorkflowTask),
            None
        );
    }

    #[test]
    fn bad_reset_types_are_named() {
        assert_eq!(
            parse_reset_type("lastworkflowtask").unwrap(),
            ResetType::LastWorkflowTask
        );
        let err = parse_reset_type("Yesterday").unwrap_err().to_string();
        assert!(
            err.contains("Yesterday") && err.contains("FirstWorkflowTask"),
            "{err}"
        );
        assert!(
            parse_reset_type("BuildId")
                .unwrap_err()
                .to_string()
                .contains("batch")
        );
    }
}
