//! `hourglass workflow ...`: client commands named as in the Temporal CLI.

use crate::args::{ExecutionArgs, QueryArgs, SignalArgs, SingleOrBatchArgs, StartArgs};
use crate::batch_commands::{SingleAllows, Target, single_or_batch, start_batch_job};
use crate::connection::Client;
use crate::error::CliError;
use crate::output::{field, print_card, print_json, proto_json};
use crate::payload_json::{input_payloads, payloads_to_json};
use serde_json::{Value, json};
use std::io::{IsTerminal, Write};
use temporalio_protos::temporal::api::batch::v1::{
    BatchOperationCancellation, BatchOperationDeletion, BatchOperationSignal,
    BatchOperationTermination,
};
use temporalio_protos::temporal::api::common::v1::{WorkflowExecution, WorkflowType};
use temporalio_protos::temporal::api::enums::v1::{
    HistoryEventFilterType, TaskQueueKind, WorkflowExecutionStatus,
};
use temporalio_protos::temporal::api::failure::v1::Failure;
use temporalio_protos::temporal::api::history::v1::HistoryEvent;
use temporalio_protos::temporal::api::history::v1::history_event::Attributes;
use temporalio_protos::temporal::api::query::v1::WorkflowQuery;
use temporalio_protos::temporal::api::taskqueue::v1::TaskQueue;
use temporalio_protos::temporal::api::workflowservice::v1::start_batch_operation_request::Operation;
use temporalio_protos::temporal::api::workflowservice::v1::*;

/// The identity this CLI reports to the server.
pub fn identity() -> String {
    format!("{}@hourglass-cli", std::process::id())
}

/// A `WorkflowExecution` reference (an empty run id means the latest run).
pub fn execution(wf: &str, run: Option<&str>) -> Option<WorkflowExecution> {
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

/// Waits for the workflow's close event, following continue-as-new runs; returns the event
/// and the run it closed.
pub async fn final_close_event(
    client: &mut Client,
    namespace: &str,
    workflow_id: &str,
    run_id: Option<&str>,
) -> Result<(HistoryEvent, String), CliError> {
    let mut run_id = run_id.unwrap_or_default().to_string();
    loop {
        let event = wait_close_event(client, namespace, workflow_id, &run_id).await?;
        if let Some(Attributes::WorkflowExecutionContinuedAsNewEventAttributes(a)) =
            &event.attributes
        {
            run_id = a.new_execution_run_id.clone();
            continue;
        }
        return Ok((event, run_id));
    }
}

/// The result of a close event as JSON; any ending other than completion is an error
/// saying how it ended.
pub fn close_outcome(workflow_id: &str, event: &HistoryEvent) -> Result<Value, CliError> {
    let outcome = match &event.attributes {
        Some(Attributes::WorkflowExecutionCompletedEventAttributes(a)) => {
            return Ok(payloads_to_json(a.result.as_ref()));
        }
        Some(Attributes::WorkflowExecutionFailedEventAttributes(a)) => {
            format!("failed: {}", failure_message(a.failure.as_ref()))
        }
        Some(Attributes::WorkflowExecutionCanceledEventAttributes(_)) => "was canceled".to_string(),
        Some(Attributes::WorkflowExecutionTerminatedEventAttributes(a)) => {
            format!("was terminated: {}", a.reason)
        }
        Some(Attributes::WorkflowExecutionTimedOutEventAttributes(_)) => "timed out".to_string(),
        other => format!("closed with an unexpected event: {other:?}"),
    };
    Err(CliError::WorkflowDidNotComplete {
        workflow_id: workflow_id.to_string(),
        outcome,
    })
}

/// Waits for the workflow's result (following continue-as-new runs) as JSON.
pub async fn result(
    client: &mut Client,
    namespace: &str,
    workflow_id: &str,
    run_id: Option<&str>,
) -> Result<Value, CliError> {
    let (event, _) = final_close_event(client, namespace, workflow_id, run_id).await?;
    close_outcome(workflow_id, &event)
}

/// The status word of a close event, as the Temporal CLI's JSON result.
fn close_status(event: &HistoryEvent) -> &'static str {
    match &event.attributes {
        Some(Attributes::WorkflowExecutionCompletedEventAttributes(_)) => "COMPLETED",
        Some(Attributes::WorkflowExecutionFailedEventAttributes(_)) => "FAILED",
        Some(Attributes::WorkflowExecutionTimedOutEventAttributes(_)) => "TIMEOUT",
        Some(Attributes::WorkflowExecutionCanceledEventAttributes(_)) => "CANCELED",
        Some(Attributes::WorkflowExecutionTerminatedEventAttributes(_)) => "TERMINATED",
        _ => "<unknown>",
    }
}

/// Prints the Temporal CLI's JSON result object (`workflowId`, `runId`, `status`,
/// `closeEvent`, `result`, ...), then fails as the text form would if the workflow did not
/// complete.
fn print_json_result(
    namespace: &str,
    start: Option<&StartArgs>,
    workflow_id: &str,
    (event, run): (HistoryEvent, String),
    out: &mut impl Write,
) -> Result<(), CliError> {
    let outcome = close_outcome(workflow_id, &event);
    let mut v = json!({"workflowId": workflow_id, "runId": run});
    if let Some(a) = start {
        v["type"] = json!(a.workflow_type);
        v["namespace"] = json!(namespace);
        v["taskQueue"] = json!(a.task_queue);
    } else {
        v["namespace"] = json!(namespace);
    }
    v["status"] = json!(close_status(&event));
    v["closeEvent"] = proto_json(&event, true)?;
    if let Ok(result) = &outcome {
        v["result"] = result.clone();
    }
    print_json(out, &v)?;
    outcome.map(drop)
}

/// The message chain of a failure, causes joined by ": ".
pub fn failure_message(f: Option<&Failure>) -> String {
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
    if args.output.output.is_json() {
        return print_json(
            out,
            &json!({
                "workflowId": wid,
                "runId": rid,
                "type": args.workflow_type,
                "namespace": namespace,
                "taskQueue": args.task_queue,
            }),
        );
    }
    writeln!(out, "Started workflow {wid}")?;
    print_card(
        out,
        &[
            field("WorkflowId", &wid),
            field("RunId", &rid),
            field("Type", &args.workflow_type),
            field("Namespace", namespace),
            field("TaskQueue", &args.task_queue),
        ],
    )
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
    let closed = tokio::select! {
        r = final_close_event(client, namespace, &wid, Some(&rid)) => r?,
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
    if args.output.output.is_json() {
        return print_json_result(namespace, Some(args), &wid, closed, out);
    }
    let value = close_outcome(&wid, &closed.0)?;
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
pub async fn history_events(
    client: &mut Client,
    namespace: &str,
    workflow_id: &str,
    run_id: Option<&str>,
) -> Result<Vec<HistoryEvent>, CliError> {
    let mut events = Vec::new();
    for_each_history_event(client, namespace, workflow_id, run_id, false, |e| {
        events.push(e.clone());
        Ok(())
    })
    .await?;
    Ok(events)
}

/// Calls `f` on each event of a run's history, page by page; with `follow`, long-polls for
/// new events (Temporal's `wait_new_event`) until the run closes.
pub async fn for_each_history_event(
    client: &mut Client,
    namespace: &str,
    workflow_id: &str,
    run_id: Option<&str>,
    follow: bool,
    mut f: impl FnMut(&HistoryEvent) -> Result<(), CliError>,
) -> Result<(), CliError> {
    let mut page_token = Vec::new();
    loop {
        let resp = client
            .get_workflow_execution_history(GetWorkflowExecutionHistoryRequest {
                namespace: namespace.to_string(),
                execution: execution(workflow_id, run_id),
                next_page_token: page_token,
                wait_new_event: follow,
                ..Default::default()
            })
            .await
            .map_err(|s| CliError::rpc("get workflow history", s))?
            .into_inner();
        for event in resp.history.map(|h| h.events).unwrap_or_default() {
            f(&event)?;
        }
        if resp.next_page_token.is_empty() {
            return Ok(());
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
    let closed =
        final_close_event(client, namespace, &args.workflow_id, args.run_id.as_deref()).await?;
    if args.output.output.is_json() {
        return print_json_result(namespace, None, &args.workflow_id, closed, out);
    }
    let value = close_outcome(&args.workflow_id, &closed.0)?;
    writeln!(out, "{value}")?;
    Ok(())
}

/// `workflow signal`: one workflow, or a batch job over `--query`.
pub async fn cmd_signal(
    client: &mut Client,
    namespace: &str,
    args: &SignalArgs,
    out: &mut impl Write,
) -> Result<(), CliError> {
    let input = input_payloads(&args.input)?;
    let e = match single_or_batch(client, namespace, &args.target, SingleAllows::default()).await? {
        Target::Single(e) => *e,
        Target::Batch(mut req) => {
            req.operation = Some(Operation::SignalOperation(BatchOperationSignal {
                signal: args.name.clone(),
                input,
                header: None,
                identity: identity(),
            }));
            return start_batch_job(client, *req, args.target.output.output.is_json(), out).await;
        }
    };
    client
        .signal_workflow_execution(SignalWorkflowExecutionRequest {
            namespace: namespace.to_string(),
            workflow_execution: execution(&e.workflow_id, e.run_id.as_deref()),
            signal_name: args.name.clone(),
            input,
            identity: identity(),
            request_id: uuid::Uuid::new_v4().to_string(),
            ..Default::default()
        })
        .await
        .map_err(|s| CliError::rpc("signal workflow", s))?;
    if e.output.output.is_json() {
        return print_json(out, &done_json(&e, json!({"signalName": args.name})));
    }
    writeln!(out, "Signal {} sent to {}", args.name, e.workflow_id)?;
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
    if args.execution.output.output.is_json() {
        return print_json(out, &proto_json(&resp, true)?);
    }
    writeln!(out, "{}", payloads_to_json(resp.query_result.as_ref()))?;
    Ok(())
}

/// `workflow cancel`: one workflow, or a batch job over `--query`.
pub async fn cmd_cancel(
    client: &mut Client,
    namespace: &str,
    target: &SingleOrBatchArgs,
    out: &mut impl Write,
) -> Result<(), CliError> {
    let args = &match single_or_batch(client, namespace, target, SingleAllows::default()).await? {
        Target::Single(e) => *e,
        Target::Batch(mut req) => {
            req.operation = Some(Operation::CancellationOperation(
                BatchOperationCancellation {
                    identity: identity(),
                },
            ));
            return start_batch_job(client, *req, target.output.output.is_json(), out).await;
        }
    };
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
    if args.output.output.is_json() {
        return print_json(out, &done_json(args, json!({"cancelRequested": true})));
    }
    writeln!(out, "Cancellation requested for {}", args.workflow_id)?;
    Ok(())
}

/// `workflow terminate`: one workflow, or a batch job over `--query`.
pub async fn cmd_terminate(
    client: &mut Client,
    namespace: &str,
    args: &SingleOrBatchArgs,
    out: &mut impl Write,
) -> Result<(), CliError> {
    let allows = SingleAllows {
        reason: true,
        yes: false,
    };
    let e = match single_or_batch(client, namespace, args, allows).await? {
        Target::Single(e) => *e,
        Target::Batch(mut req) => {
            req.operation = Some(Operation::TerminationOperation(BatchOperationTermination {
                details: None,
                identity: identity(),
            }));
            return start_batch_job(client, *req, args.output.output.is_json(), out).await;
        }
    };
    client
        .terminate_workflow_execution(TerminateWorkflowExecutionRequest {
            namespace: namespace.to_string(),
            workflow_execution: execution(&e.workflow_id, e.run_id.as_deref()),
            reason: args.reason.clone().unwrap_or_default(),
            identity: identity(),
            ..Default::default()
        })
        .await
        .map_err(|s| CliError::rpc("terminate workflow", s))?;
    if e.output.output.is_json() {
        return print_json(out, &done_json(&e, json!({"terminated": true})));
    }
    writeln!(out, "Terminated {}", e.workflow_id)?;
    Ok(())
}

/// The JSON a command without a response of its own prints: the execution it acted on plus
/// `extra`'s fields.
fn done_json(args: &ExecutionArgs, extra: Value) -> Value {
    let mut v = json!({"workflowId": args.workflow_id});
    if let Some(run) = &args.run_id {
        v["runId"] = json!(run);
    }
    if let (Value::Object(v), Value::Object(extra)) = (&mut v, extra) {
        v.extend(extra);
    }
    v
}

/// Asks `question` on the terminal unless `yes`; without a terminal, `--yes` is required
/// (the error names `action`).
pub fn confirm(question: &str, action: &str, yes: bool) -> Result<(), CliError> {
    if yes {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        return Err(CliError::NotConfirmed(format!(
            "refusing to {action} without confirmation: pass --yes (stdin is not a terminal)"
        )));
    }
    eprint!("{question} ");
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer)?;
    if matches!(answer.trim(), "y" | "Y" | "yes" | "Yes") {
        Ok(())
    } else {
        Err(CliError::NotConfirmed("user denied confirmation".into()))
    }
}

/// `workflow delete`: deletes the execution (the server terminates it first if running),
/// or starts a batch job deleting every workflow `--query` matches.
pub async fn cmd_delete(
    client: &mut Client,
    namespace: &str,
    args: &SingleOrBatchArgs,
    out: &mut impl Write,
) -> Result<(), CliError> {
    let allows = SingleAllows {
        reason: false,
        yes: true,
    };
    let e = &match single_or_batch(client, namespace, args, allows).await? {
        Target::Single(e) => *e,
        Target::Batch(mut req) => {
            req.operation = Some(Operation::DeletionOperation(BatchOperationDeletion {
                identity: identity(),
            }));
            return start_batch_job(client, *req, args.output.output.is_json(), out).await;
        }
    };
    let mut question = format!("Delete Workflow {:?}", e.workflow_id);
    if let Some(run) = &e.run_id {
        question.push_str(&format!(" with Run ID {run:?}"));
    }
    let action = format!("delete workflow {}", e.workflow_id);
    confirm(&format!("{question}? y/N"), &action, args.yes)?;
    client
        .delete_workflow_execution(DeleteWorkflowExecutionRequest {
            namespace: namespace.to_string(),
            workflow_execution: execution(&e.workflow_id, e.run_id.as_deref()),
        })
        .await
        .map_err(|s| not_found_or_rpc("delete workflow", &e.workflow_id, s))?;
    if e.output.output.is_json() {
        return print_json(out, &done_json(e, json!({"deleted": true})));
    }
    writeln!(out, "Delete workflow succeeded")?;
    Ok(())
}

/// NotFound as "workflow execution `id` not found", anything else as [`CliError::Rpc`].
pub fn not_found_or_rpc(operation: &'static str, workflow_id: &str, s: tonic::Status) -> CliError {
    let hint = " (check --workflow-id, --run-id and --namespace)".into();
    CliError::not_found_or_rpc(operation, s, "workflow execution", workflow_id, hint)
}

/// A workflow status in the Temporal CLI's text form (`Running`, `Completed`, ...).
pub fn status_name(status: i32) -> String {
    WorkflowExecutionStatus::try_from(status)
        .map(|s| crate::output::enum_text(s.as_str_name(), "WORKFLOW_EXECUTION_STATUS_"))
        .unwrap_or_else(|_| format!("Unknown({status})"))
}
