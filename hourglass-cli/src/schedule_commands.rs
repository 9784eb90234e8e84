//! `hourglass schedule ...`: schedules, as the Temporal CLI's `temporal schedule` commands.

use crate::connection::Client;
use crate::error::CliError;
use crate::output::{
    CardField, field, field_opt, format_duration, print_card, print_json, print_table, proto_json,
    rfc3339, value_text,
};
use crate::payload_json::input_payloads;
use crate::schedule_args::{
    ScheduleCreateArgs, ScheduleIdArgs, ScheduleListArgs, ScheduleNoteArgs, ScheduleToggleArgs,
    ScheduleTriggerArgs,
};
use crate::workflow_commands::identity;
use serde_json::{Value, json};
use std::io::Write;
use temporalio_protos::temporal::api::common::v1::WorkflowType;
use temporalio_protos::temporal::api::enums::v1::{ScheduleOverlapPolicy, TaskQueueKind};
use temporalio_protos::temporal::api::schedule::v1::{
    CalendarSpec, IntervalSpec, Range, Schedule, ScheduleAction, SchedulePatch, SchedulePolicies,
    ScheduleSpec, ScheduleState, StructuredCalendarSpec, TriggerImmediatelyRequest,
    schedule_action,
};
use temporalio_protos::temporal::api::taskqueue::v1::TaskQueue;
use temporalio_protos::temporal::api::workflow::v1::NewWorkflowExecutionInfo;
use temporalio_protos::temporal::api::workflowservice::v1::*;

fn invalid(what: &str, message: impl Into<String>) -> CliError {
    CliError::InvalidValue {
        what: what.to_string(),
        message: message.into(),
    }
}

/// Parses a duration as the Temporal CLI accepts one: a sequence of `<number><unit>` with
/// units `ms`, `s`, `m`, `h`, `d` (e.g. `90m`, `1h30m`, `1.5s`).
pub fn parse_duration(what: &str, text: &str) -> Result<prost_wkt_types::Duration, CliError> {
    let bad = || {
        invalid(
            what,
            format!("`{text}` is not a duration (use e.g. 90s, 15m, 1h30m, 2d)"),
        )
    };
    let mut rest = text.trim();
    if rest.is_empty() {
        return Err(bad());
    }
    let mut total_ms: f64 = 0.0;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(bad)?;
        let number: f64 = rest[..num_len].parse().map_err(|_| bad())?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let factor = match &rest[..unit_len] {
            "ms" => 1.0,
            "s" => 1000.0,
            "m" => 60_000.0,
            "h" => 3_600_000.0,
            "d" => 86_400_000.0,
            _ => return Err(bad()),
        };
        total_ms += number * factor;
        rest = &rest[unit_len..];
    }
    let ms = total_ms.round() as i64;
    Ok(prost_wkt_types::Duration {
        seconds: ms / 1000,
        nanos: ((ms % 1000) * 1_000_000) as i32,
    })
}

pub(crate) fn parse_time(what: &str, text: &str) -> Result<prost_wkt_types::Timestamp, CliError> {
    let t = chrono::DateTime::parse_from_rfc3339(text).map_err(|e| {
        invalid(
            what,
            format!("`{text}` is not an RFC 3339 time ({e}), e.g. 2026-01-02T15:04:05Z"),
        )
    })?;
    Ok(prost_wkt_types::Timestamp {
        seconds: t.timestamp(),
        nanos: t.timestamp_subsec_nanos() as i32,
    })
}

/// Parses `--overlap-policy` (case-insensitive, as the Temporal CLI's names).
pub fn parse_overlap_policy(text: &str) -> Result<ScheduleOverlapPolicy, CliError> {
    use ScheduleOverlapPolicy as P;
    let all = [
        ("Skip", P::Skip),
        ("BufferOne", P::BufferOne),
        ("BufferAll", P::BufferAll),
        ("CancelOther", P::CancelOther),
        ("TerminateOther", P::TerminateOther),
        ("AllowAll", P::AllowAll),
    ];
    all.iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(text))
        .map(|(_, p)| *p)
        .ok_or_else(|| {
            invalid(
                "--overlap-policy",
                format!(
                    "unknown policy `{text}` (use one of Skip, BufferOne, BufferAll, CancelOther, TerminateOther, AllowAll)"
                ),
            )
        })
}

/// Parses one `--interval`: `every` or `every/offset`.
fn parse_interval(text: &str) -> Result<IntervalSpec, CliError> {
    let parts: Vec<&str> = text.split('/').collect();
    if parts.len() > 2 {
        return Err(invalid(
            "--interval",
            format!("`{text}` must be <duration> or <duration>/<offset>"),
        ));
    }
    Ok(IntervalSpec {
        interval: Some(parse_duration("--interval", parts[0])?),
        phase: parts
            .get(1)
            .map(|p| parse_duration("--interval", p))
            .transpose()?,
    })
}

/// Builds the schedule spec from `--calendar`, `--cron`, `--interval` and the time options.
fn build_spec(args: &ScheduleCreateArgs) -> Result<ScheduleSpec, CliError> {
    let mut calendar = Vec::new();
    for text in &args.calendar {
        let cal: CalendarSpec = crate::output::from_proto_json(text).map_err(|e| {
            invalid(
                "--calendar",
                format!(
                    "`{text}` is not a calendar spec in JSON ({e}); e.g. '{{\"dayOfWeek\":\"Fri\",\"hour\":\"17\",\"minute\":\"5\"}}'"
                ),
            )
        })?;
        calendar.push(cal);
    }
    let interval = args
        .interval
        .iter()
        .map(|i| parse_interval(i))
        .collect::<Result<Vec<_>, _>>()?;
    if calendar.is_empty() && interval.is_empty() && args.cron.is_empty() {
        return Err(invalid(
            "schedule spec",
            "give at least one of --calendar, --cron or --interval",
        ));
    }
    Ok(ScheduleSpec {
        calendar,
        cron_string: args.cron.clone(),
        interval,
        start_time: args
            .start_time
            .as_deref()
            .map(|t| parse_time("--start-time", t))
            .transpose()?,
        end_time: args
            .end_time
            .as_deref()
            .map(|t| parse_time("--end-time", t))
            .transpose()?,
        jitter: args
            .jitter
            .as_deref()
            .map(|j| parse_duration("--jitter", j))
            .transpose()?,
        timezone_name: args.time_zone.clone().unwrap_or_default(),
        ..Default::default()
    })
}

/// Builds the whole schedule of `schedule create`; every bad option is reported before
/// anything is sent.
pub fn build_schedule(args: &ScheduleCreateArgs) -> Result<Schedule, CliError> {
    if args.workflow_type.trim().is_empty() {
        return Err(invalid("--type", "must name a workflow type"));
    }
    let timeout =
        |what: &str, v: &Option<String>| v.as_deref().map(|t| parse_duration(what, t)).transpose();
    let start = NewWorkflowExecutionInfo {
        workflow_id: args
            .workflow_id
            .clone()
            .unwrap_or_else(|| args.id.schedule_id.clone()),
        workflow_type: Some(WorkflowType {
            name: args.workflow_type.clone(),
        }),
        task_queue: Some(TaskQueue {
            name: args.task_queue.clone(),
            kind: TaskQueueKind::Normal as i32,
            normal_name: String::new(),
        }),
        input: input_payloads(&args.input)?,
        workflow_execution_timeout: timeout("--execution-timeout", &args.execution_timeout)?,
        workflow_run_timeout: timeout("--run-timeout", &args.run_timeout)?,
        workflow_task_timeout: timeout("--task-timeout", &args.task_timeout)?,
        ..Default::default()
    };
    let remaining = args.remaining_actions.unwrap_or(0);
    if remaining < 0 {
        return Err(invalid("--remaining-actions", "must not be negative"));
    }
    Ok(Schedule {
        spec: Some(build_spec(args)?),
        action: Some(ScheduleAction {
            action: Some(schedule_action::Action::StartWorkflow(start)),
        }),
        policies: Some(SchedulePolicies {
            overlap_policy: parse_overlap_policy(&args.overlap_policy)? as i32,
            catchup_window: timeout("--catchup-window", &args.catchup_window)?,
            pause_on_failure: args.pause_on_failure,
            ..Default::default()
        }),
        state: Some(ScheduleState {
            notes: args.notes.clone().unwrap_or_default(),
            paused: args.paused,
            limited_actions: remaining > 0,
            remaining_actions: remaining,
        }),
    })
}

/// Turns a NotFound answer into "schedule `id` not found", other errors into [`CliError::Rpc`].
pub(crate) fn schedule_rpc(operation: &'static str, id: &str, status: tonic::Status) -> CliError {
    let hint = " (see `hourglass schedule list` for the schedule ids)".into();
    CliError::not_found_or_rpc(operation, status, "schedule", id, hint)
}

/// `schedule create`.
pub async fn cmd_create(
    client: &mut Client,
    namespace: &str,
    args: &ScheduleCreateArgs,
    out: &mut impl Write,
) -> Result<(), CliError> {
    let schedule = build_schedule(args)?;
    let resp = client
        .create_schedule(CreateScheduleRequest {
            namespace: namespace.to_string(),
            schedule_id: args.id.schedule_id.clone(),
            schedule: Some(schedule),
            identity: identity(),
            request_id: uuid::Uuid::new_v4().to_string(),
            ..Default::default()
        })
        .await
        .map_err(|s| CliError::rpc("create schedule", s))?
        .into_inner();
    if args.id.output.output.is_json() {
        let mut v = proto_json(&resp, true)?;
        v["scheduleId"] = json!(args.id.schedule_id);
        return print_json(out, &v);
    }
    writeln!(out, "Schedule created")?;
    Ok(())
}

/// `schedule update`: replaces the schedule's configuration with the one given.
pub async fn cmd_update(
    client: &mut Client,
    namespace: &str,
    args: &ScheduleCreateArgs,
    out: &mut impl Write,
) -> Result<(), CliError> {
    let schedule = build_schedule(args)?;
    let id = &args.id.schedule_id;
    client
        .update_schedule(UpdateScheduleRequest {
            namespace: namespace.to_string(),
            schedule_id: id.clone(),
            schedule: Some(schedule),
            identity: identity(),
            request_id: uuid::Uuid::new_v4().to_string(),
            ..Default::default()
        })
        .await
        .map_err(|s| schedule_rpc("update schedule", id, s))?;
    done(out, &args.id, "Schedule updated")
}

/// Describes a schedule (NotFound becomes a one-line "not found").
async fn describe(
    client: &mut Client,
    namespace: &str,
    id: &str,
) -> Result<DescribeScheduleResponse, CliError> {
    Ok(client
        .describe_schedule(DescribeScheduleRequest {
            namespace: namespace.to_string(),
            schedule_id: id.to_string(),
        })
        .await
        .map_err(|s| schedule_rpc("describe schedule", id, s))?
        .into_inner())
}

/// `schedule describe`.
pub async fn cmd_describe(
    client: &mut Client,
    namespace: &str,
    args: &ScheduleIdArgs,
    out: &mut impl Write,
) -> Result<(), CliError> {
    let resp = describe(client, namespace, &args.schedule_id).await?;
    if args.output.output.is_json() {
        return print_json(out, &proto_json(&resp, false)?);
    }
    let schedule = resp.schedule.clone().unwrap_or_default();
    let spec = schedule.spec.clone().unwrap_or_default();
    let policies = schedule.policies.unwrap_or_default();
    let state = schedule.state.clone().unwrap_or_default();
    let info = resp.info.clone().unwrap_or_default();
    let action = match &schedule.action {
        Some(a) => value_text(&proto_json(a, true)?),
        None => String::new(),
    };
    let mut fields = vec![
        field("ScheduleId", &args.schedule_id),
        field("Action", action),
    ];
    fields.extend(spec_fields(&spec));
    fields.extend([
        field(
            "OverlapPolicy",
            crate::output::enum_text(
                policy_name(policies.overlap_policy),
                "SCHEDULE_OVERLAP_POLICY_",
            ),
        ),
        field(
            "CatchupWindow",
            format_duration(policies.catchup_window.as_ref()),
        ),
        field("PauseOnFailure", policies.pause_on_failure),
        field_opt("Notes", &state.notes),
        field("Paused", state.paused),
        field_opt(
            "LimitedActions",
            if state.limited_actions { "true" } else { "" },
        ),
        field_opt(
            "RemainingActions",
            if state.limited_actions {
                state.remaining_actions.to_string()
            } else {
                String::new()
            },
        ),
        field("NextRunTime", rfc3339(info.future_action_times.first())),
        field(
            "LastRunTime",
            rfc3339(
                info.recent_actions
                    .last()
                    .and_then(|a| a.schedule_time.as_ref()),
            ),
        ),
        field(
            "RunningWorkflows",
            format!(
                "[{}]",
                info.running_workflows
                    .iter()
                    .map(|w| w.workflow_id.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ),
        field_opt("CreatedAt", rfc3339(info.create_time.as_ref())),
        field_opt("LastUpdateAt", rfc3339(info.update_time.as_ref())),
        field(
            "ActionCounts",
            json!({
                "Total": info.action_count,
                "MissedCatchupWindow": info.missed_catchup_window,
                "SkippedOverlap": info.overlap_skipped,
            }),
        ),
    ]);
    print_card(out, &fields)
}

fn policy_name(p: i32) -> &'static str {
    ScheduleOverlapPolicy::try_from(p)
        .map(|p| p.as_str_name())
        .unwrap_or("SCHEDULE_OVERLAP_POLICY_UNSPECIFIED")
}

/// The spec lines of a schedule card: calendars as Temporal's CalendarSpec JSON, intervals
/// as `{"every": ..., "offset": ...}`.
fn spec_fields(spec: &ScheduleSpec) -> Vec<CardField> {
    let list = |items: Vec<Value>| {
        if items.is_empty() {
            String::new()
        } else {
            format!(
                "[{}]",
                items
                    .iter()
                    .map(Value::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        }
    };
    let mut items: Vec<Value> = spec.structured_calendar.iter().map(calendar_json).collect();
    items.extend(
        spec.calendar
            .iter()
            .map(|c| crate::output::proto_json(c, false).unwrap_or(Value::Null)),
    );
    items.extend(spec.cron_string.iter().map(|c| json!(c)));
    for iv in &spec.interval {
        let mut v = json!({"every": format_duration(iv.interval.as_ref())});
        if iv
            .phase
            .as_ref()
            .is_some_and(|p| p.seconds > 0 || p.nanos > 0)
        {
            v["offset"] = json!(format_duration(iv.phase.as_ref()));
        }
        items.push(v);
    }
    let skip: Vec<Value> = spec
        .exclude_structured_calendar
        .iter()
        .map(calendar_json)
        .collect();
    vec![
        field_opt("Spec", list(items)),
        field_opt("SkipSpec", list(skip)),
        field_opt("StartAt", rfc3339(spec.start_time.as_ref())),
        field_opt("EndAt", rfc3339(spec.end_time.as_ref())),
        field_opt(
            "Jitter",
            spec.jitter
                .as_ref()
                .filter(|j| j.seconds > 0 || j.nanos > 0)
                .map(|j| format_duration(Some(j)))
                .unwrap_or_default(),
        ),
        field_opt("TimeZoneName", &spec.timezone_name),
    ]
}

/// A structured calendar as the Temporal CLI shows one: each field's ranges as
/// `start[-end][/step]`, comma-separated; empty fields left out.
fn calendar_json(cal: &StructuredCalendarSpec) -> Value {
    let ranges = |rs: &[Range]| {
        rs.iter()
            .map(|r| {
                let mut s = r.start.to_string();
                if r.end > r.start {
                    s.push_str(&format!("-{}", r.end));
                }
                if r.step > 1 {
                    s.push_str(&format!("/{}", r.step));
                }
                s
            })
            .collect::<Vec<_>>()
            .join(",")
    };
    let mut v = serde_json::Map::new();
    for (name, rs) in [
        ("second", &cal.second),
        ("minute", &cal.minute),
        ("hour", &cal.hour),
        ("dayOfMonth", &cal.day_of_month),
        ("month", &cal.month),
        ("year", &cal.year),
        ("dayOfWeek", &cal.day_of_week),
    ] {
        let text = ranges(rs);
        if !text.is_empty() {
            v.insert(name.into(), json!(text));
        }
    }
    if !cal.comment.is_empty() {
        v.insert("comment".into(), json!(cal.comment));
    }
    Value::Object(v)
}

/// `schedule list`.
pub async fn cmd_list(
    client: &mut Client,
    namespace: &str,
    args: &ScheduleListArgs,
    out: &mut impl Write,
) -> Result<(), CliError> {
    let mut entries = Vec::new();
    let mut token = Vec::new();
    loop {
        let resp = client
            .list_schedules(ListSchedulesRequest {
                namespace: namespace.to_string(),
                maximum_page_size: 100,
                next_page_token: token,
                query: args.query.clone().unwrap_or_default(),
            })
            .await
            .map_err(|s| CliError::rpc("list schedules", s))?
            .into_inner();
        entries.extend(resp.schedules);
        if resp.next_page_token.is_empty() {
            break;
        }
        token = resp.next_page_token;
    }
    if args.output.output.is_json() {
        let items = entries
            .iter()
            .map(|e| proto_json(e, false))
            .collect::<Result<Vec<_>, _>>()?;
        return print_json(out, &Value::Array(items));
    }
    let long = args.long || args.really_long;
    let mut headers = vec!["ScheduleId", "Action"];
    if long {
        headers.extend(["Spec", "Notes"]);
    }
    headers.extend(["Paused", "NextRunTime", "LastRunTime"]);
    let rows: Vec<Vec<String>> = entries
        .iter()
        .map(|e| {
            let info = e.info.clone().unwrap_or_default();
            let mut row = vec![
                e.schedule_id.clone(),
                json!({"Workflow": info.workflow_type.map(|t| t.name).unwrap_or_default()})
                    .to_string(),
            ];
            if long {
                let spec = info.spec.clone().unwrap_or_default();
                let spec_text = spec_fields(&spec)
                    .into_iter()
                    .find(|f| f.name == "Spec")
                    .map(|f| f.value)
                    .unwrap_or_default();
                row.extend([spec_text, info.notes.clone()]);
            }
            row.extend([
                info.paused.to_string(),
                rfc3339(info.future_action_times.first()),
                rfc3339(
                    info.recent_actions
                        .last()
                        .and_then(|a| a.schedule_time.as_ref()),
                ),
            ]);
            row
        })
        .collect();
    print_table(out, &headers, &rows, true)
}

pub(crate) async fn patch(
    client: &mut Client,
    namespace: &str,
    id: &str,
    patch: SchedulePatch,
    operation: &'static str,
) -> Result<(), CliError> {
    client
        .patch_schedule(PatchScheduleRequest {
            namespace: namespace.to_string(),
            schedule_id: id.to_string(),
            patch: Some(patch),
            identity: identity(),
            request_id: uuid::Uuid::new_v4().to_string(),
        })
        .await
        .map_err(|s| schedule_rpc(operation, id, s))?;
    Ok(())
}

pub(crate) fn done(
    out: &mut impl Write,
    args: &ScheduleIdArgs,
    text: &str,
) -> Result<(), CliError> {
    if args.output.output.is_json() {
        print_json(out, &json!({"scheduleId": args.schedule_id}))
    } else {
        writeln!(out, "{text}")?;
        Ok(())
    }
}

/// `schedule trigger`.
pub async fn cmd_trigger(
    client: &mut Client,
    namespace: &str,
    args: &ScheduleTriggerArgs,
    out: &mut impl Write,
) -> Result<(), CliError> {
    let overlap_policy = match &args.overlap_policy {
        Some(p) => parse_overlap_policy(p)? as i32,
        None => ScheduleOverlapPolicy::Unspecified as i32,
    };
    let trigger = TriggerImmediatelyRequest {
        overlap_policy,
        scheduled_time: None,
    };
    let p = SchedulePatch {
        trigger_immediately: Some(trigger),
        ..Default::default()
    };
    patch(
        client,
        namespace,
        &args.id.schedule_id,
        p,
        "trigger schedule",
    )
    .await?;
    done(out, &args.id, "Trigger request sent")
}

/// `schedule toggle`, and `schedule pause` / `unpause` (`pause` says which).
pub async fn cmd_toggle(
    client: &mut Client,
    namespace: &str,
    args: &ScheduleToggleArgs,
    out: &mut impl Write,
) -> Result<(), CliError> {
    if args.pause == args.unpause {
        return Err(invalid(
            "schedule toggle",
            "exactly one of --pause or --unpause is required",
        ));
    }
    let p = if args.pause {
        SchedulePatch {
            pause: args.reason.clone(),
            ..Default::default()
        }
    } else {
        SchedulePatch {
            unpause: args.reason.clone(),
            ..Default::default()
        }
    };
    let op = if args.pause {
        "pause schedule"
    } else {
        "unpause schedule"
    };
    patch(client, namespace, &args.id.schedule_id, p, op).await?;
    let text = if args.pause {
        "Schedule paused"
    } else {
        "Schedule unpaused"
    };
    done(out, &args.id, text)
}

/// `schedule pause` / `schedule unpause`, as `toggle --pause` / `--unpause`.
pub async fn cmd_pause(
    client: &mut Client,
    namespace: &str,
    args: &ScheduleNoteArgs,
    pause: bool,
    out: &mut impl Write,
) -> Result<(), CliError> {
    let toggle = ScheduleToggleArgs {
        id: args.id.clone(),
        pause,
        unpause: !pause,
        reason: args.reason.clone(),
    };
    cmd_toggle(client, namespace, &toggle, out).await
}

/// `schedule delete`.
pub async fn cmd_delete(
    client: &mut Client,
    namespace: &str,
    args: &ScheduleIdArgs,
    out: &mut impl Write,
) -> Result<(), CliError> {
    client
        .delete_schedule(DeleteScheduleRequest {
            namespace: namespace.to_string(),
            schedule_id: args.schedule_id.clone(),
            identity: identity(),
        })
        .await
        .map_err(|s| schedule_rpc("delete schedule", &args.schedule_id, s))?;
    done(out, args, "Schedule deleted")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_as_the_temporal_cli_accepts_them() {
        let d = |t| parse_duration("--x", t).map(|d| (d.seconds, d.nanos));
        assert_eq!(d("90m").unwrap(), (5400, 0));
        assert_eq!(d("1h30m").unwrap(), (5400, 0));
        assert_eq!(d("1.5s").unwrap(), (1, 500_000_000));
        assert_eq!(d("2d").unwrap(), (172_800, 0));
        for bad in ["", "10", "5 minutes", "1x"] {
            let err = d(bad).unwrap_err().to_string();
            assert!(
                err.contains("--x") && err.contains("not a duration"),
                "{err}"
            );
        }
    }

    #[test]
    fn overlap_policies_are_case_insensitive_and_unknown_ones_are_named() {
        assert_eq!(
            parse_overlap_policy("bufferone").unwrap(),
            ScheduleOverlapPolicy::BufferOne
        );
        let err = parse_overlap_policy("Sometimes").unwrap_err().to_string();
        assert!(
            err.contains("Sometimes") && err.contains("AllowAll"),
            "{err}"
        );
    }

    #[test]
    fn calendars_render_like_the_temporal_cli() {
        let cal = StructuredCalendarSpec {
            hour: vec![Range {
                start: 9,
                end: 17,
                step: 2,
            }],
            minute: vec![Range {
                start: 5,
                end: 0,
                step: 1,
            }],
            ..Default::default()
        };
        assert_eq!(
            calendar_json(&cal),
            json!({"hour": "9-17/2", "minute": "5"})
        );
    }
}
