//! Older JSON history exports (tctl, earlier Temporal UI versions): enum values in PascalCase
//! without their prefix (`"eventType": "WorkflowExecutionStarted"`) and fields the proto does
//! not know. Normalised the way the official Python SDK's `WorkflowHistory.from_json` does,
//! field for field, so a history either SDK accepts, Hourglass accepts too.

use hourglass_bridge::protos::temporal::api::history::v1::History;
use hourglass_devserver::proto_json;
use prost_reflect::{DeserializeOptions, DynamicMessage};
use serde_json::Value;

/// Parses `value` after fixing legacy enum names, ignoring unknown fields.
/// Only an object with an `events` list qualifies.
pub(crate) fn parse(mut value: Value) -> Result<History, String> {
    let Some(Value::Array(events)) = value.get_mut("events") else {
        return Err("no `events` list".into());
    };
    events.iter_mut().for_each(fix_event);
    let desc = proto_json::message_descriptor("temporal.api.history.v1.History")
        .map_err(|e| e.to_string())?;
    DynamicMessage::deserialize_with_options(
        desc,
        value,
        &DeserializeOptions::new().deny_unknown_fields(false),
    )
    .map_err(|e| e.to_string())?
    .transcode_to::<History>()
    .map_err(|e| e.to_string())
}

fn fix_event(event: &mut Value) {
    const FIXES: &[(&str, &[&str])] = &[
        (
            "CANCEL_EXTERNAL_WORKFLOW_EXECUTION_FAILED_CAUSE",
            &[
                "requestCancelExternalWorkflowExecutionFailedEventAttributes",
                "cause",
            ],
        ),
        ("CONTINUE_AS_NEW_INITIATOR", &["*", "initiator"]),
        ("EVENT_TYPE", &["eventType"]),
        (
            "PARENT_CLOSE_POLICY",
            &[
                "startChildWorkflowExecutionInitiatedEventAttributes",
                "parentClosePolicy",
            ],
        ),
        ("RETRY_STATE", &["*", "retryState"]),
        (
            "SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_FAILED_CAUSE",
            &[
                "signalExternalWorkflowExecutionFailedEventAttributes",
                "cause",
            ],
        ),
        (
            "START_CHILD_WORKFLOW_EXECUTION_FAILED_CAUSE",
            &["startChildWorkflowExecutionFailedEventAttributes", "cause"],
        ),
        ("TASK_QUEUE_KIND", &["*", "taskQueue", "kind"]),
        (
            "TIMEOUT_TYPE",
            &["workflowTaskTimedOutEventAttributes", "timeoutType"],
        ),
        (
            "WORKFLOW_ID_REUSE_POLICY",
            &[
                "startChildWorkflowExecutionInitiatedEventAttributes",
                "workflowIdReusePolicy",
            ],
        ),
        (
            "WORKFLOW_TASK_FAILED_CAUSE",
            &["workflowTaskFailedEventAttributes", "cause"],
        ),
    ];
    for (prefix, path) in FIXES {
        fix_enum(prefix, event, path);
    }
    fix_failure(event, &["*", "failure"]);
    fix_failure(
        event,
        &["activityTaskStartedEventAttributes", "lastFailure"],
    );
    fix_failure(
        event,
        &[
            "workflowExecutionStartedEventAttributes",
            "continuedFailure",
        ],
    );
}

/// `WorkflowExecutionStarted` → `EVENT_TYPE_WORKFLOW_EXECUTION_STARTED` for prefix
/// `EVENT_TYPE`: an underscore before every run of capitals, upper-cased, prefixed.
fn legacy_name(prefix: &str, name: &str) -> String {
    let mut out = String::from(prefix);
    let mut in_capitals = false;
    for c in name.chars() {
        let capital = c.is_ascii_uppercase();
        if capital && !in_capitals {
            out.push('_');
        }
        in_capitals = capital;
        out.push(c.to_ascii_uppercase());
    }
    out
}

/// Rewrites the string at `path` under `parent` (`*` = every object child; lists are
/// walked) unless it already has the prefix.
fn fix_enum(prefix: &str, parent: &mut Value, path: &[&str]) {
    let Some((first, rest)) = path.split_first() else {
        return;
    };
    let Value::Object(map) = parent else {
        return;
    };
    if *first == "*" {
        for child in map.values_mut().filter(|v| v.is_object()) {
            fix_enum(prefix, child, rest);
        }
        return;
    }
    let Some(child) = map.get_mut(*first) else {
        return;
    };
    match child {
        Value::String(s) if rest.is_empty() && !s.starts_with(prefix) => {
            *s = legacy_name(prefix, s);
        }
        Value::Object(_) if !rest.is_empty() => fix_enum(prefix, child, rest),
        Value::Array(items) if !rest.is_empty() => {
            for item in items.iter_mut().filter(|v| v.is_object()) {
                fix_enum(prefix, item, rest);
            }
        }
        _ => {}
    }
}

/// The failure's own enums, then its causes, recursively.
fn fix_failure(parent: &mut Value, path: &[&str]) {
    let mut timeout_path = path.to_vec();
    timeout_path.extend(["timeoutFailureInfo", "timeoutType"]);
    fix_enum("TIMEOUT_TYPE", parent, &timeout_path);
    let mut retry_path = path.to_vec();
    retry_path.extend(["*", "retryState"]);
    fix_enum("RETRY_STATE", parent, &retry_path);
    for failure in failures_at(parent, path) {
        fix_failure(failure, &["cause"]);
    }
}

/// The objects at `path` under `parent` (`*` = every object child).
fn failures_at<'a>(parent: &'a mut Value, path: &[&str]) -> Vec<&'a mut Value> {
    let mut parents = vec![parent];
    for attr in path {
        let mut next = Vec::new();
        for p in parents {
            let Value::Object(map) = p else { continue };
            if *attr == "*" {
                next.extend(map.values_mut().filter(|v| v.is_object()));
            } else if let Some(child) = map.get_mut(*attr).filter(|v| v.is_object()) {
                next.push(child);
            }
        }
        if next.is_empty() {
            return next;
        }
        parents = next;
    }
    parents
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_follow_the_python_sdk() {
        assert_eq!(
            legacy_name("EVENT_TYPE", "WorkflowExecutionStarted"),
            "EVENT_TYPE_WORKFLOW_EXECUTION_STARTED"
        );
        assert_eq!(
            legacy_name("TASK_QUEUE_KIND", "Normal"),
            "TASK_QUEUE_KIND_NORMAL"
        );
        assert_eq!(legacy_name("X", "ABCDef"), "X_ABCDEF");
    }

    #[test]
    fn a_legacy_export_with_unknown_fields_parses() {
        let legacy = json!({"events": [{
            "eventId": "1",
            "eventTime": "2024-01-01T00:00:00Z",
            "eventType": "WorkflowExecutionStarted",
            "uiOnlyField": {"anything": true},
            "workflowExecutionStartedEventAttributes": {
                "workflowType": {"name": "TimerWorkflow"},
                "taskQueue": {"name": "tq", "kind": "Normal"},
                "continuedFailure": {
                    "message": "m",
                    "timeoutFailureInfo": {"timeoutType": "StartToClose"},
                    "cause": {"message": "c", "timeoutFailureInfo": {"timeoutType": "Heartbeat"}}
                }
            }
        }]});
        let history = parse(legacy).unwrap();
        let event = &history.events[0];
        assert_eq!(event.event_type, 1);
        let Some(
            hourglass_bridge::protos::temporal::api::history::v1::history_event::Attributes::WorkflowExecutionStartedEventAttributes(a),
        ) = &event.attributes
        else {
            panic!("started attributes");
        };
        assert_eq!(a.task_queue.as_ref().map(|t| t.kind), Some(1));
        let failure = a.continued_failure.as_ref().unwrap();
        let cause = failure.cause.as_ref().unwrap();
        assert_eq!(cause.message, "c");
    }
}
