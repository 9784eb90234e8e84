//! `hourglass workflow describe|list|count|show`: read-only views of executions, laid out as
//! the Temporal CLI's (`temporal workflow describe` cards, `show` event table, ...).

use crate::args::{CountArgs, DescribeArgs, ListArgs, ShowArgs};
use crate::connection::Client;
use crate::error::CliError;
use crate::output::{
    CardField, enum_text, field, field_opt, print_card, print_json, print_table, proto_json,
    rfc3339, value_text,
};
use crate::payload_json::payload_to_json;
use crate::workflow_commands::{
    execution, failure_message, for_each_history_event, history_events, not_found_or_rpc,
    status_name,
};
use serde_json::Value;
use std::collections::HashMap;
use std::io::Write;
use temporalio_protos::temporal::api::common::v1::Payload;
use temporalio_protos::temporal::api::enums::v1::{
    EventType, HistoryEventFilterType, ParentClosePolicy, PendingActivityState,
    WorkflowExecutionStatus,
};
use temporalio_protos::temporal::api::history::v1::history_event::Attributes;
use temporalio_protos::temporal::api::history::v1::{History, HistoryEvent};
use temporalio_protos::temporal::api::workflow::v1::{
    PendingActivityInfo, PendingChildExecutionInfo, WorkflowExecutionInfo,
};
use temporalio_protos::temporal::api::workflowservice::v1::*;

/// An event type as the Temporal CLI names it in text (`WorkflowExecutionStarted`).
pub fn event_type_text(t: i32) -> String {
    EventType::try_from(t)
        .map(|t| enum_text(t.as_str_name(), "EVENT_TYPE_"))
        .unwrap_or_else(|_| format!("Unknown({t})"))
}

/// A duration in milliseconds as Go's `time.Duration.String()` after truncation to 10 ms
/// (`1.23s`, `2m3.4s`, `1h0m0s`), as the Temporal CLI's `RunTime`.
fn go_duration(ms: i64) -> String {
    let ms = ms - ms % 10;
    let (h, m, s, frac) = (
        ms / 3_600_000,
        ms % 3_600_000 / 60_000,
        ms % 60_000 / 1000,
        ms % 1000,
    );
    let secs = if frac > 0 {
        format!("{s}.{}", format!("{frac:03}").trim_end_matches('0'))
    } else {
        s.to_string()
    };
    match (h, m) {
        (0, 0) if s == 0 && frac > 0 => format!("{frac}ms"),
        (0, 0) => format!("{secs}s"),
        (0, _) => format!("{m}m{secs}s"),
        _ => format!("{h}h{m}m{secs}s"),
    }
}

fn payload_map_text(map: &HashMap<String, Payload>) -> String {
    if map.is_empty() {
        return String::new();
    }
    let obj: serde_json::Map<String, Value> = map
        .iter()
        .map(|(k, p)| (k.clone(), payload_to_json(p)))
        .collect();
    Value::Object(obj).to_string()
}

/// The close event of a closed run.
async fn close_event(
    client: &mut Client,
    namespace: &str,
    workflow_id: &str,
    run_id: &str,
) -> Result<Option<HistoryEvent>, CliError> {
    let resp = client
        .get_workflow_execution_history(GetWorkflowExecutionHistoryRequest {
            namespace: namespace.to_string(),
            execution: execution(workflow_id, Some(run_id)),
            history_event_filter_type: HistoryEventFilterType::CloseEvent as i32,
            ..Default::default()
        })
        .await
        .map_err(|s| CliError::rpc("get close event", s))?
        .into_inner();
    Ok(resp.history.and_then(|h| h.events.into_iter().last()))
}

/// `workflow describe`: execution info, then pending activities and children of a running
/// execution, or the result of a closed one.
pub async fn cmd_describe(
    client: &mut Client,
    namespace: &str,
    describe: &DescribeArgs,
    out: &mut impl Write,
) -> Result<(), CliError> {
    let args = &describe.execution;
    let resp = client
        .describe_workflow_execution(DescribeWorkflowExecutionRequest {
            namespace: namespace.to_string(),
            execution: execution(&args.workflow_id, args.run_id.as_deref()),
        })
        .await
        .map_err(|s| not_found_or_rpc("describe workflow", &args.workflow_id, s))?
        .into_inner();
    let info = resp.workflow_execution_info.clone().unwrap_or_default();
    if describe.reset_points {
        return print_reset_points(out, &info, args.output.output.is_json());
    }
    let exec = info.execution.clone().unwrap_or_default();
    let running = info.status == WorkflowExecutionStatus::Running as i32;
    let closed = if running {
        None
    } else {
        close_event(client, namespace, &exec.workflow_id, &exec.run_id).await?
    };
    if args.output.output.is_json() {
        let mut v = proto_json(&resp, true)?;
        if let Some(event) = &closed {
            v["closeEvent"] = proto_json(event, true)?;
            if let Some(Attributes::WorkflowExecutionCompletedEventAttributes(a)) =
                &event.attributes
            {
                v["result"] = crate::payload_json::payloads_to_json(a.result.as_ref());
            }
        }
        return print_json(out, &v);
    }
    print_execution_info(out, namespace, &info)?;
    if let Some(ext) = &resp.workflow_extended_info {
        writeln!(out, "Extended Execution Info:")?;
        print_card(
            out,
            &[
                field("CancelRequested", ext.cancel_requested),
                field_opt(
                    "ExecutionExpirationTime",
                    rfc3339(ext.execution_expiration_time.as_ref()),
                ),
                field_opt(
                    "RunExpirationTime",
                    rfc3339(ext.run_expiration_time.as_ref()),
                ),
                field_opt("LastResetTime", rfc3339(ext.last_reset_time.as_ref())),
                field_opt(
                    "OriginalStartTime",
                    rfc3339(ext.original_start_time.as_ref()),
                ),
            ],
        )?;
    }
    if running {
        print_pending(out, &resp.pending_activities, &resp.pending_children)?;
        writeln!(
            out,
            "Pending Nexus Operations: {}",
            resp.pending_nexus_operations.len()
        )?;
    } else if let Some(event) = &closed {
        writeln!(out)?;
        let ms = |t: &Option<prost_wkt_types::Timestamp>| {
            t.as_ref()
                .map(|t| t.seconds * 1000 + i64::from(t.nanos / 1_000_000))
        };
        let run_time = match (ms(&info.start_time), ms(&info.close_time)) {
            (Some(s), Some(c)) if c > s => Some(c - s),
            _ => None,
        };
        print_text_result(out, event, run_time)?;
    }
    Ok(())
}

/// The "Execution Info:" card (with the Temporal CLI's field names, plus `Status`).
fn print_execution_info(
    out: &mut impl Write,
    namespace: &str,
    info: &WorkflowExecutionInfo,
) -> Result<(), CliError> {
    let exec = info.execution.clone().unwrap_or_default();
    // Deprecated in the API, still shown (empty when unversioned) by the Temporal CLI.
    #[allow(deprecated)]
    let build_id = info.assigned_build_id.clone();
    writeln!(out, "Execution Info:")?;
    let parent = info.parent_execution.clone().unwrap_or_default();
    let root = info.root_execution.clone().unwrap_or_default();
    print_card(
        out,
        &[
            field("WorkflowId", &exec.workflow_id),
            field("RunId", &exec.run_id),
            field(
                "Type",
                info.r#type.as_ref().map(|t| t.name.as_str()).unwrap_or(""),
            ),
            field("Status", status_name(info.status)),
            field("Namespace", namespace),
            field("TaskQueue", &info.task_queue),
            field("AssignedBuildId", build_id),
            field("StartTime", rfc3339(info.start_time.as_ref())),
            field_opt("CloseTime", rfc3339(info.close_time.as_ref())),
            field_opt("ExecutionTime", rfc3339(info.execution_time.as_ref())),
            field_opt(
                "Memo",
                payload_map_text(&info.memo.clone().unwrap_or_default().fields),
            ),
            field_opt(
                "SearchAttributes",
                payload_map_text(
                    &info
                        .search_attributes
                        .clone()
                        .unwrap_or_default()
                        .indexed_fields,
                ),
            ),
            field("StateTransitionCount", info.state_transition_count),
            field("HistoryLength", info.history_length),
            field("HistorySize", info.history_size_bytes),
            field_opt("ParentWorkflowId", &parent.workflow_id),
            field_opt("ParentRunId", &parent.run_id),
            field_opt("RootWorkflowId", &root.workflow_id),
            field_opt("RootRunId", &root.run_id),
        ],
    )?;
    Ok(())
}

fn print_pending(
    out: &mut impl Write,
    activities: &[PendingActivityInfo],
    children: &[PendingChildExecutionInfo],
) -> Result<(), CliError> {
    writeln!(out)?;
    writeln!(out, "Pending Activities: {}", activities.len())?;
    if !activities.is_empty() {
        writeln!(out)?;
        for (i, a) in activities.iter().enumerate() {
            if i > 0 {
                writeln!(out)?;
            }
            print_card(out, &activity_fields(a)?)?;
        }
        writeln!(out)?;
    }
    writeln!(out, "Pending Child Workflows: {}", children.len())?;
    if !children.is_empty() {
        writeln!(out)?;
        for (i, c) in children.iter().enumerate() {
            if i > 0 {
                writeln!(out)?;
            }
            let policy = ParentClosePolicy::try_from(c.parent_close_policy)
                .map(|p| enum_text(p.as_str_name(), "PARENT_CLOSE_POLICY_"))
                .unwrap_or_default();
            print_card(
                out,
                &[
                    field("WorkflowId", &c.workflow_id),
                    field("RunId", &c.run_id),
                    field("WorkflowTypeName", &c.workflow_type_name),
                    field("InitiatedId", c.initiated_id),
                    field("ParentClosePolicy", policy),
                ],
            )?;
        }
    }
    Ok(())
}

/// The card of one pending activity, with the Temporal CLI's field names.
fn activity_fields(a: &PendingActivityInfo) -> Result<Vec<CardField>, CliError> {
    let state = PendingActivityState::try_from(a.state)
        .map(|s| enum_text(s.as_str_name(), "PENDING_ACTIVITY_STATE_"))
        .unwrap_or_default();
    let failure = match &a.last_failure {
        Some(f) => proto_json(f, true)?.to_string(),
        None => String::new(),
    };
    let details = a
        .heartbeat_details
        .as_ref()
        .filter(|d| !d.payloads.is_empty())
        .map(|d| {
            let items: Vec<String> = d
                .payloads
                .iter()
                .map(|p| payload_to_json(p).to_string())
                .collect();
            format!("[{}]", items.join(", "))
        })
        .unwrap_or_default();
    Ok(vec![
        field("ActivityId", &a.activity_id),
        field(
            "Type",
            a.activity_type
                .as_ref()
                .map(|t| t.name.as_str())
                .unwrap_or(""),
        ),
        field("State", state),
        field("Attempt", a.attempt),
        field("MaximumAttempts", a.maximum_attempts),
        field("ScheduledTime", rfc3339(a.scheduled_time.as_ref())),
        field_opt("LastStartedTime", rfc3339(a.last_started_time.as_ref())),
        field_opt("LastHeartbeatTime", rfc3339(a.last_heartbeat_time.as_ref())),
        field_opt("ExpirationTime", rfc3339(a.expiration_time.as_ref())),
        field_opt("LastFailure", failure),
        field_opt("LastWorkerIdentity", &a.last_worker_identity),
        field_opt("LastHeartbeatDetails", details),
    ])
}

/// The "Results:" card of a closed execution, as the Temporal CLI prints it.
fn print_text_result(
    out: &mut impl Write,
    event: &HistoryEvent,
    run_time: Option<i64>,
) -> Result<(), CliError> {
    let (status, result, encoding, failure) = match &event.attributes {
        Some(Attributes::WorkflowExecutionCompletedEventAttributes(a)) => {
            let payloads = a.result.clone().unwrap_or_default();
            let encoding = payloads
                .payloads
                .first()
                .and_then(|p| p.metadata.get("encoding"))
                .map(|e| String::from_utf8_lossy(e).to_string())
                .unwrap_or_default();
            let value = crate::payload_json::payloads_to_json(Some(&payloads));
            ("COMPLETED", value.to_string(), encoding, String::new())
        }
        Some(Attributes::WorkflowExecutionFailedEventAttributes(a)) => (
            "FAILED",
            String::new(),
            String::new(),
            failure_message(a.failure.as_ref()),
        ),
        Some(Attributes::WorkflowExecutionTimedOutEventAttributes(_)) => {
            ("TIMEOUT", String::new(), String::new(), String::new())
        }
        Some(Attributes::WorkflowExecutionCanceledEventAttributes(_)) => {
            ("CANCELED", String::new(), String::new(), String::new())
        }
        Some(Attributes::WorkflowExecutionTerminatedEventAttributes(a)) => {
            ("TERMINATED", String::new(), String::new(), a.reason.clone())
        }
        _ => return Ok(()),
    };
    writeln!(out, "Results:")?;
    print_card(
        out,
        &[
            field_opt("RunTime", run_time.map(go_duration).unwrap_or_default()),
            field("Status", status),
            field_opt("Result", result),
            field_opt("ResultEncoding", encoding),
            field_opt("Failure", failure),
        ],
    )
}

/// `workflow list`: a Status / WorkflowId / Type / StartTime table, or a JSON array of
/// executions.
pub async fn cmd_list(
    client: &mut Client,
    namespace: &str,
    args: &ListArgs,
    out: &mut impl Write,
) -> Result<(), CliError> {
    let mut page_token = Vec::new();
    let mut executions = Vec::new();
    while executions.len() < args.limit {
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
        executions.extend(resp.executions);
        if resp.next_page_token.is_empty() {
            break;
        }
        page_token = resp.next_page_token;
    }
    executions.truncate(args.limit);
    if args.output.output.is_json() {
        let items = executions
            .iter()
            .map(|e| proto_json(e, true))
            .collect::<Result<Vec<_>, _>>()?;
        return print_json(out, &Value::Array(items));
    }
    let rows: Vec<Vec<String>> = executions
        .into_iter()
        .map(|info| {
            vec![
                status_name(info.status),
                info.execution.map(|e| e.workflow_id).unwrap_or_default(),
                info.r#type.map(|t| t.name).unwrap_or_default(),
                rfc3339(info.start_time.as_ref()),
            ]
        })
        .collect();
    print_table(
        out,
        &["Status", "WorkflowId", "Type", "StartTime"],
        &rows,
        true,
    )
}

/// `workflow count`: `Total: N`, then `Group total: N, values: ...` per group of a
/// `GROUP BY` query.
pub async fn cmd_count(
    client: &mut Client,
    namespace: &str,
    args: &CountArgs,
    out: &mut impl Write,
) -> Result<(), CliError> {
    let mut resp = client
        .count_workflow_executions(CountWorkflowExecutionsRequest {
            namespace: namespace.to_string(),
            query: args.query.clone().unwrap_or_default(),
        })
        .await
        .map_err(|s| CliError::rpc("count workflows", s))?
        .into_inner();
    if args.output.output.is_json() {
        for g in &mut resp.groups {
            for p in &mut g.group_values {
                p.metadata.remove("type");
            }
        }
        return print_json(out, &proto_json(&resp, true)?);
    }
    writeln!(out, "Total: {}", resp.count)?;
    for g in &resp.groups {
        let values: Vec<String> = g
            .group_values
            .iter()
            .map(|p| value_text(&payload_to_json(p)))
            .collect();
        writeln!(
            out,
            "Group total: {}, values: {}",
            g.count,
            values.join(", ")
        )?;
    }
    Ok(())
}

/// `workflow show`: the history as the Temporal CLI's `Progress:` table (following
/// continue-as-new runs) then the result, or `--detailed` sections of every event's fields;
/// with `-o json` the run's history as replayable proto-JSON (`{"events": [...]}`).
pub async fn cmd_show(
    client: &mut Client,
    namespace: &str,
    args: &ShowArgs,
    out: &mut impl Write,
) -> Result<(), CliError> {
    let e = &args.execution;
    let not_found = |err| match err {
        CliError::Rpc { code, .. } if code == "NotFound" => CliError::NotFound {
            what: "workflow execution",
            id: e.workflow_id.clone(),
            hint: " (check --workflow-id, --run-id and --namespace)".into(),
        },
        other => other,
    };
    if e.output.output.is_json() {
        let events = history_events(client, namespace, &e.workflow_id, e.run_id.as_deref())
            .await
            .map_err(not_found)?;
        return print_json(out, &proto_json(&History { events }, false)?);
    }
    if !args.detailed {
        writeln!(out, "Progress:")?;
    }
    let mut first = true;
    let mut close = None;
    let mut run = e.run_id.clone();
    loop {
        let mut next_run = None;
        // Each event is printed as it arrives, so `--follow` shows the run live.
        let print = |event: &HistoryEvent| -> Result<(), CliError> {
            if args.detailed {
                if !first {
                    writeln!(out)?;
                }
                print_event_section(out, event)?;
            } else {
                if first {
                    writeln!(out, "  {:>3}  {:<20}  Type", "ID", "Time")?;
                }
                writeln!(
                    out,
                    "  {:>3}  {:<20}  {}",
                    event.event_id,
                    rfc3339(event.event_time.as_ref()),
                    event_type_text(event.event_type)
                )?;
            }
            out.flush()?;
            first = false;
            match &event.attributes {
                Some(Attributes::WorkflowExecutionContinuedAsNewEventAttributes(a))
                    if !args.detailed =>
                {
                    next_run = Some(a.new_execution_run_id.clone());
                }
                Some(
                    Attributes::WorkflowExecutionCompletedEventAttributes(_)
                    | Attributes::WorkflowExecutionFailedEventAttributes(_)
                    | Attributes::WorkflowExecutionTimedOutEventAttributes(_)
                    | Attributes::WorkflowExecutionCanceledEventAttributes(_),
                ) => close = Some(event.clone()),
                _ => {}
            }
            Ok(())
        };
        for_each_history_event(
            client,
            namespace,
            &e.workflow_id,
            run.as_deref(),
            args.follow,
            print,
        )
        .await
        .map_err(not_found)?;
        match next_run {
            Some(next) => run = Some(next),
            None => break,
        }
    }
    if !args.detailed {
        writeln!(out)?;
        if let Some(event) = &close {
            print_text_result(out, event, None)?;
        }
    }
    Ok(())
}

/// `describe --reset-points`: the Temporal CLI's `Auto Reset Points: N` and one card per
/// point (BinaryChecksum, CreateTime, RunId, EventId), or a JSON list of the same fields.
// The Temporal CLI still prints the deprecated binary checksum.
#[allow(deprecated)]
fn print_reset_points(
    out: &mut impl Write,
    info: &WorkflowExecutionInfo,
    json: bool,
) -> Result<(), CliError> {
    let points = info
        .auto_reset_points
        .as_ref()
        .map(|p| p.points.as_slice())
        .unwrap_or_default();
    if json {
        let list: Vec<Value> = points
            .iter()
            .map(|p| {
                serde_json::json!({
                    "BinaryChecksum": p.binary_checksum,
                    "CreateTime": rfc3339(p.create_time.as_ref()),
                    "RunId": p.run_id,
                    "EventId": p.first_workflow_task_completed_id,
                })
            })
            .collect();
        return print_json(out, &Value::Array(list));
    }
    writeln!(out, "Auto Reset Points: {}", points.len())?;
    for (i, p) in points.iter().enumerate() {
        if i > 0 {
            writeln!(out)?;
        }
        print_card(
            out,
            &[
                field("BinaryChecksum", &p.binary_checksum),
                field("CreateTime", rfc3339(p.create_time.as_ref())),
                field("RunId", &p.run_id),
                field("EventId", p.first_workflow_task_completed_id),
            ],
        )?;
    }
    Ok(())
}

/// One `--detailed` event: a heading, then every field as `path: value`, sorted, with the
/// attributes' fields lifted to the top level (as the Temporal CLI does).
fn print_event_section(out: &mut impl Write, event: &HistoryEvent) -> Result<(), CliError> {
    writeln!(
        out,
        "--------------- [{}] {} ---------------",
        event.event_id,
        event_type_text(event.event_type)
    )?;
    let Value::Object(mut map) = proto_json(event, true)? else {
        return Ok(());
    };
    map.remove("eventId");
    map.remove("eventType");
    let attr_keys: Vec<String> = map
        .keys()
        .filter(|k| k.ends_with("Attributes"))
        .cloned()
        .collect();
    for k in attr_keys {
        if let Some(Value::Object(sub)) = map.remove(&k) {
            map.extend(sub);
        }
    }
    let mut fields = Vec::new();
    flatten("", &Value::Object(map), &mut fields);
    fields.sort();
    for (path, value) in fields {
        writeln!(out, "{path}: {value}")?;
    }
    Ok(())
}

fn flatten(path: &str, value: &Value, to: &mut Vec<(String, String)>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                flatten(&p, v, to);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                flatten(&format!("{path}[{i}]"), v, to);
            }
        }
        other => to.push((path.to_string(), value_text(other))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn run_time_is_formatted_as_go_durations() {
        assert_eq!(go_duration(1234), "1.23s");
        assert_eq!(go_duration(123_456), "2m3.45s");
        assert_eq!(go_duration(3_600_000), "1h0m0s");
        assert_eq!(go_duration(2000), "2s");
        assert_eq!(go_duration(40), "40ms");
    }

    #[test]
    fn detailed_fields_are_flattened_with_paths() {
        let mut to = Vec::new();
        flatten("", &json!({"a": {"b": [1, "x"]}, "c": true}), &mut to);
        to.sort();
        assert_eq!(
            to,
            vec![
                ("a.b[0]".to_string(), "1".to_string()),
                ("a.b[1]".to_string(), "x".to_string()),
                ("c".to_string(), "true".to_string()),
            ]
        );
    }
}
