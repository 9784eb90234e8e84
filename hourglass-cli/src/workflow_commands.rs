//! `hourglass workflow ...`: client commands named as in the Temporal CLI.

use crate::args::{ExecutionArgs, ListArgs, QueryArgs, SignalArgs, StartArgs, TerminateArgs};
use crate::connection::Client;
use crate::error::CliError;
use crate::payload_json::{input_payloads, payloads_to_json};
use std::io::Write;
use temporalio_protos::temporal::api::common::v1::{WorkflowExecution, WorkflowType};
use temporalio_protos::temporal::api::enums::v1::{
    EventType, HistoryEventFilterType, TaskQueueKind, WorkflowExecutionStatus,
};
use temporalio_protos::temporal::api::failure::v1::Failure;
use temporalio_protos::temporal::api::history::v1::HistoryEvent;
use temporalio_protos::temporal::api::history::v1::history_event::Attributes;
use temporalio_protos::temporal::api::query::v1::WorkflowQuery;
use temporalio_protos::temporal::api::taskqueue::v1::TaskQueue;
use temporalio_protos::temporal::api::workflowservice::v1::*;

/// The identity this CLI reports to the server.
pub fn identity() -> String {
    format!("{}@hourglass-cli", std::process::id())
}

fn execution(wf: &str, run: Option<&str>) -> Option<WorkflowExecution> {
    Some(WorkflowExecution {
        workflow_id: wf.to_string(),
        run_id: run.unwrap_or_default().to_string(),
    })
}

/// Starts a workflow; returns `(workflow_id, run_id)`.
pub async fn start(
    client: &mut Client,
    namespace: &str,
    args: &StartArgs,
) -> Result<(String, String), CliError> {
    if args.workflow_type.trim().is_empty() {
        return Err(CliError::InvalidValue {
            what: "--type".into(),
            message: "must name a workflow type".into(),
        });
    }
    let workflow_id = args
        .workflow_id
        .clone()
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let input = input_payloads(&args.input)?;
    let req = StartWorkflowExecutionRequest {
        namespace: namespace.to_string(),
        workflow_id: workflow_id.clone(),
        workflow_type: Some(WorkflowType {
            name: args.workflow_type.clone(),
        }),
        task_queue: Some(TaskQueue {
            name: args.task_queue.clone(),
            kind: TaskQueueKind::Normal as i32,
            normal_name: String::new(),
        }),
        input,
        workflow_execution_timeout: args.execution_timeout.map(duration),
        identity: identity(),
        request_id: uuid::Uuid::new_v4().to_string(),
        ..Default::default()
    };
    let resp = client
        .start_workflow_execution(req)
        .await
        .map_err(|s| CliError::rpc("start workflow", s))?
        .into_inner();
    Ok((workflow_id, resp.run_id))
}

fn duration(secs: u64) -> prost_wkt_types::Duration {
    prost_wkt_types::Duration {
        seconds: i64::try_from(secs).unwrap_or(i64::MAX),
        nanos: 0,
    }
}

/// Waits for the workflow's close event, following continue-as-new runs, and returns the
/// result as JSON. Any ending other than completion is an error saying how it ended.
pub async fn result(
    client: &mut Client,
    namespace: &str,
    workflow_id: &str,
    run_id: Option<&str>,
) -> Result<serde_json::Value, CliError> {
    let mut run_id = run_id.unwrap_or_default().to_string();
    loop {
        let event = wait_close_event(client, namespace, workflow_id, &run_id).await?;
        let outcome = match event.attributes {
            Some(Attributes::WorkflowExecutionCompletedEventAttributes(a)) => {
                return Ok(payloads_to_json(a.result.as_ref()));
            }
            Some(Attributes::WorkflowExecutionContinuedAsNewEventAttributes(a)) => {
                run_id = a.new_execution_run_id;
                continue;
            }
            Some(Attributes::WorkflowExecutionFailedEventAttributes(a)) => {
                format!("failed: {}", failure_message(a.failure.as_ref()))
            }
            Some(Attributes::WorkflowExecutionCanceledEventAttributes(_)) => {
                "was canceled".to_string()
            }
            Some(Attributes::WorkflowExecutionTerminatedEventAttributes(a)) => {
                format!("was terminated: {}", a.reason)
            }
            Some(Attributes::WorkflowExecutionTimedOutEventAttributes(_)) => {
                "timed out".to_string()
            }
            other => format!("closed with an unexpected event: {other:?}"),
        };
        return Err(CliError::WorkflowDidNotComplete {
            workflow_id: workflow_id.to_string(),
            outcome,
        });
    }
}

fn failure_message(f: Option<&Failure>) -> String {
    let mut parts = Vec::new();
    let mut cur = f;
    while let Some(f) = cur {
        parts.push(f.message.clone());
        cur = f.cause.as_deref();
    }
    if parts.is_empty() {
        "no failure details".into()
    } else {
        parts.join(": ")
    }
}

async fn wait_close_event(
    client: &mut Client,
    namespace: &str,
    workflow_id: &str,
    run_id: &str,
) -> Result<HistoryEvent, CliError> {
    let mut page_token = Vec::new();
    loop {
        let resp = client
            .get_workflow_execution_history(GetWorkflowExecutionHistoryRequest {
                namespace: namespace.to_string(),
                execution: execution(workflow_id, Some(run_id)),
                wait_new_event: true,
                history_event_filter_type: HistoryEventFilterType::CloseEvent as i32,
                next_page_token: page_token.clone(),
                ..Default::default()
            })
            .await
            .map_err(|s| CliError::rpc("wait for workflow result", s))?
            .into_inner();
        if let Some(event) = resp.history.and_then(|h| h.events.into_iter().last()) {
            return Ok(event);
        }
        // An empty page with a token means the long poll timed out on the server: ask again.
        page_token = resp.next_page_token;
    }
}

/// `workflow start`.
pub async fn cmd_start(
    client: &mut Client,
    namespace: &str,
    args: &StartArgs,
    out: &mut impl Write,
) -> Result<(), CliError> {
    let (wid, rid) = start(client, namespace, args).await?;
    writeln!(out, "Started workflow {wid}")?;
    writeln!(out, "  WorkflowId  {wid}")?;
    writeln!(out, "  RunId       {rid}")?;
    writeln!(out, "  Type        {}", args.workflow_type)?;
    writeln!(out, "  TaskQueue   {}", args.task_queue)?;
    Ok(())
}

/// `workflow execute`: start, then print the result as JSON. If no worker of the task queue
/// knows the workflow type, the workflow is terminated again (it could never progress) and
/// the command fails saying so, instead of waiting forever.
pub async fn cmd_execute(
    client: &mut Client,
    namespace: &str,
    args: &StartArgs,
    out: &mut impl Write,
) -> Result<(), CliError> {
    let (wid, rid) = start(client, namespace, args).await?;
    let mut watcher = client.clone();
    let value = tokio::select! {
        r = result(client, namespace, &wid, Some(&rid)) => r?,
        message = unknown_type_failure(&mut watcher, namespace, &wid, &rid) => {
            let message = message?;
            let _ = client
                .terminate_workflow_execution(TerminateWorkflowExecutionRequest {
                    namespace: namespace.to_string(),
                    workflow_execution: execution(&wid, Some(&rid)),
                    reason: format!("hourglass workflow execute: {message}"),
                    identity: identity(),
                    ..Default::default()
                })
                .await;
            return Err(CliError::WorkflowDidNotComplete {
                workflow_id: wid,
                outcome: format!(
                    "cannot run on task queue `{}`: {message} (check --type and --task-queue); it was terminated",
                    args.task_queue
                ),
            });
        }
    };
    writeln!(out, "{value}")?;
    Ok(())
}

/// Resolves with the failure message once the run's history shows a workflow task that failed
/// because the worker does not know the workflow type.
async fn unknown_type_failure(
    client: &mut Client,
    namespace: &str,
    workflow_id: &str,
    run_id: &str,
) -> Result<String, CliError> {
    loop {
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        for event in history_events(client, namespace, workflow_id, Some(run_id)).await? {
            if let Some(Attributes::WorkflowTaskFailedEventAttributes(a)) = &event.attributes {
                let message = failure_message(a.failure.as_ref());
                let lower = message.to_lowercase();
                if lower.contains("workflow type")
                    && (lower.contains("not found") || lower.contains("not registered"))
                {
                    return Ok(message);
                }
            }
        }
    }
}

/// Every event of a run's history, following pagination.
async fn history_events(
    client: &mut Client,
    namespace: &str,
    workflow_id: &str,
    run_id: Option<&str>,
) -> Result<Vec<HistoryEvent>, CliError> {
    let mut events = Vec::new();
    let mut page_token = Vec::new();
    loop {
        let resp = client
            .get_workflow_execution_history(GetWorkflowExecutionHistoryRequest {
                namespace: namespace.to_string(),
                execution: execution(workflow_id, run_id),
                next_page_token: page_token,
                ..Default::default()
            })
            .await
            .map_err(|s| CliError::rpc("get workflow history", s))?
            .into_inner();
        events.extend(resp.history.map(|h| h.events).unwrap_or_default());
        if resp.next_page_token.is_empty() {
            return Ok(events);
        }
        page_token = resp.next_page_token;
    }
}

/// `workflow result`.
pub async fn cmd_result(
    client: &mut Client,
    namespace: &str,
    args: &ExecutionArgs,
    out: &mut impl Write,
) -> Result<(), CliError> {
    let value = result(client, namespace, &args.workflow_id, args.run_id.as_deref()).await?;
    writeln!(out, "{value}")?;
    Ok(())
}

/// `workflow signal`.
pub async fn cmd_signal(
    client: &mut Client,
    namespace: &str,
    args: &SignalArgs,
    out: &mut impl Write,
) -> Result<(), CliError> {
    client
        .signal_workflow_execution(SignalWorkflowExecutionRequest {
            namespace: namespace.to_string(),
            workflow_execution: execution(
                &args.execution.workflow_id,
                args.execution.run_id.as_deref(),
            ),
            signal_name: args.name.clone(),
            input: input_payloads(&args.input)?,
            identity: identity(),
            request_id: uuid::Uuid::new_v4().to_string(),
            ..Default::default()
        })
        .await
        .map_err(|s| CliError::rpc("signal workflow", s))?;
    writeln!(
        out,
        "Signal {} sent to {}",
        args.name, args.execution.workflow_id
    )?;
    Ok(())
}

/// `workflow query`: prints the query result as JSON.
pub async fn cmd_query(
    client: &mut Client,
    namespace: &str,
    args: &QueryArgs,
    out: &mut impl Write,
) -> Result<(), CliError> {
    let resp = client
        .query_workflow(QueryWorkflowRequest {
            namespace: namespace.to_string(),
            execution: execution(
                &args.execution.workflow_id,
                args.execution.run_id.as_deref(),
            ),
            query: Some(WorkflowQuery {
                query_type: args.name.clone(),
                query_args: input_payloads(&args.input)?,
                header: None,
            }),
            ..Default::default()
        })
        .await
        .map_err(|s| CliError::rpc("query workflow", s))?
        .into_inner();
    if let Some(rejected) = resp.query_rejected {
        return Err(CliError::QueryRejected {
            status: status_name(rejected.status),
        });
    }
    writeln!(out, "{}", payloads_to_json(resp.query_result.as_ref()))?;
    Ok(())
}

/// `workflow cancel`.
pub async fn cmd_cancel(
    client: &mut Client,
    namespace: &str,
    args: &ExecutionArgs,
    out: &mut impl Write,
) -> Result<(), CliError> {
    client
        .request_cancel_workflow_execution(RequestCancelWorkflowExecutionRequest {
            namespace: namespace.to_string(),
            workflow_execution: execution(&args.workflow_id, args.run_id.as_deref()),
            identity: identity(),
            request_id: uuid::Uuid::new_v4().to_string(),
            ..Default::default()
        })
        .await
        .map_err(|s| CliError::rpc("cancel workflow", s))?;
    writeln!(out, "Cancellation requested for {}", args.workflow_id)?;
    Ok(())
}

/// `workflow terminate`.
pub async fn cmd_terminate(
    client: &mut Client,
    namespace: &str,
    args: &TerminateArgs,
    out: &mut impl Write,
) -> Result<(), CliError> {
    client
        .terminate_workflow_execution(TerminateWorkflowExecutionRequest {
            namespace: namespace.to_string(),
            workflow_execution: execution(
                &args.execution.workflow_id,
                args.execution.run_id.as_deref(),
            ),
            reason: args.reason.clone().unwrap_or_default(),
            identity: identity(),
            ..Default::default()
        })
        .await
        .map_err(|s| CliError::rpc("terminate workflow", s))?;
    writeln!(out, "Terminated {}", args.execution.workflow_id)?;
    Ok(())
}

fn status_name(status: i32) -> String {
    WorkflowExecutionStatus::try_from(status)
        .map(|s| {
            s.as_str_name()
                .trim_start_matches("WORKFLOW_EXECUTION_STATUS_")
                .to_string()
        })
        .unwrap_or_else(|_| format!("UNKNOWN({status})"))
}

fn timestamp(ts: Option<&prost_wkt_types::Timestamp>) -> String {
    ts.map(|t| format!("{}.{:03}", t.seconds, t.nanos / 1_000_000))
        .unwrap_or_else(|| "-".into())
}

/// `workflow describe`.
pub async fn cmd_describe(
    client: &mut Client,
    namespace: &str,
    args: &ExecutionArgs,
    out: &mut impl Write,
) -> Result<(), CliError> {
    let resp = client
        .describe_workflow_execution(DescribeWorkflowExecutionRequest {
            namespace: namespace.to_string(),
            execution: execution(&args.workflow_id, args.run_id.as_deref()),
        })
        .await
        .map_err(|s| CliError::rpc("describe workflow", s))?
        .into_inner();
    let info = resp.workflow_execution_info.unwrap_or_default();
    let exec = info.execution.unwrap_or_default();
    writeln!(out, "WorkflowId      {}", exec.workflow_id)?;
    writeln!(out, "RunId           {}", exec.run_id)?;
    writeln!(
        out,
        "Type            {}",
        info.r#type.map(|t| t.name).unwrap_or_default()
    )?;
    writeln!(out, "Status          {}", status_name(info.status))?;
    writeln!(out, "TaskQueue       {}", info.task_queue)?;
    writeln!(
        out,
        "StartTime       {}",
        timestamp(info.start_time.as_ref())
    )?;
    writeln!(
        out,
        "CloseTime       {}",
        timestamp(info.close_time.as_ref())
    )?;
    writeln!(out, "HistoryLength   {}", info.history_length)?;
    for a in &resp.pending_activities {
        writeln!(
            out,
            "PendingActivity {} {} attempt {}",
            a.activity_id,
            a.activity_type
                .as_ref()
                .map(|t| t.name.as_str())
                .unwrap_or(""),
            a.attempt
        )?;
    }
    for c in &resp.pending_children {
        writeln!(
            out,
            "PendingChild    {} {}",
            c.workflow_id, c.workflow_type_name
        )?;
    }
    Ok(())
}

/// `workflow list`.
pub async fn cmd_list(
    client: &mut Client,
    namespace: &str,
    args: &ListArgs,
    out: &mut impl Write,
) -> Result<(), CliError> {
    let mut page_token = Vec::new();
    let mut printed = 0usize;
    writeln!(
        out,
        "{:<10} {:<40} {:<24} {:<36}",
        "STATUS", "WORKFLOW ID", "TYPE", "RUN ID"
    )?;
    loop {
        let resp = client
            .list_workflow_executions(ListWorkflowExecutionsRequest {
                namespace: namespace.to_string(),
                page_size: 100,
                next_page_token: page_token,
                query: args.query.clone().unwrap_or_default(),
            })
            .await
            .map_err(|s| CliError::rpc("list workflows", s))?
            .into_inner();
        for info in resp.executions {
            if printed >= args.limit {
                return Ok(());
            }
            let exec = info.execution.unwrap_or_default();
            writeln!(
                out,
                "{:<10} {:<40} {:<24} {:<36}",
                status_name(info.status),
                exec.workflow_id,
                info.r#type.map(|t| t.name).unwrap_or_default(),
                exec.run_id
            )?;
            printed += 1;
        }
        if resp.next_page_token.is_empty() {
            return Ok(());
        }
        page_token = resp.next_page_token;
    }
}

/// `workflow show`: the event history, one event per line.
pub async fn cmd_show(
    client: &mut Client,
    namespace: &str,
    args: &ExecutionArgs,
    out: &mut impl Write,
) -> Result<(), CliError> {
    for event in
        history_events(client, namespace, &args.workflow_id, args.run_id.as_deref()).await?
    {
        let name = EventType::try_from(event.event_type)
            .map(|t| {
                t.as_str_name()
                    .trim_start_matches("EVENT_TYPE_")
                    .to_string()
            })
            .unwrap_or_else(|_| format!("UNKNOWN({})", event.event_type));
        writeln!(
            out,
            "{:>5}  {}  {}",
            event.event_id,
            timestamp(event.event_time.as_ref()),
            name
        )?;
    }
    Ok(())
}
