//! [`WorkflowHistory`]: one run's recorded history, loaded from Temporal's JSON format, from
//! protobuf bytes or from a server, and checked to be replayable.

use std::path::Path;

use hourglass_bridge::protos::temporal::api::{
    enums::v1::EventType,
    history::v1::{History, WorkflowExecutionStartedEventAttributes, history_event::Attributes},
};
use hourglass_devserver::proto_json;
use prost::Message;

use super::error::ReplayError;

/// One workflow run's history, ready to replay.
///
/// Construction guarantees the shape the core's replayer relies on: at least one event, the
/// first a `WorkflowExecutionStarted` naming a workflow type, event ids consecutive from 1,
/// and every `WorkflowTaskStarted` followed by its completion, failure or timeout (or by the
/// end of the history). Anything else is [`ReplayError::NotAHistory`].
#[derive(Debug, Clone, PartialEq)]
pub struct WorkflowHistory {
    workflow_id: String,
    history: History,
}

impl WorkflowHistory {
    /// A history of run events. The workflow id is taken from the started event (servers
    /// since Temporal 1.26 and the Hourglass dev server record it there); when it is absent,
    /// `replay-<original run id>` stands in — set the real one with
    /// [`WorkflowHistory::with_workflow_id`] if the workflow code reads its own id.
    pub fn new(history: History) -> Result<Self, ReplayError> {
        Self::checked(history, "the history")
    }

    fn checked(history: History, origin: &str) -> Result<Self, ReplayError> {
        let not = |reason: String| ReplayError::NotAHistory {
            origin: origin.to_owned(),
            reason,
        };
        let Some(first) = history.events.first() else {
            return Err(not("it has no events".into()));
        };
        let Some(Attributes::WorkflowExecutionStartedEventAttributes(started)) = &first.attributes
        else {
            return Err(not(format!(
                "its first event is {}, not WorkflowExecutionStarted",
                event_type_name(first.event_type)
            )));
        };
        if started
            .workflow_type
            .as_ref()
            .is_none_or(|t| t.name.is_empty())
        {
            return Err(not("its started event names no workflow type".into()));
        }
        if first.event_id != 1 {
            return Err(not(format!(
                "event ids must start at 1, the first is {}",
                first.event_id
            )));
        }
        for pair in history.events.windows(2) {
            let (event, next) = (&pair[0], &pair[1]);
            if next.event_id != event.event_id + 1 {
                return Err(not(format!(
                    "event {} is followed by event {}; ids must be consecutive",
                    event.event_id, next.event_id
                )));
            }
            if event.event_type == EventType::WorkflowTaskStarted as i32
                && !matches!(
                    next.event_type(),
                    EventType::WorkflowTaskCompleted
                        | EventType::WorkflowTaskFailed
                        | EventType::WorkflowTaskTimedOut
                        | EventType::WorkflowExecutionTerminated
                        | EventType::WorkflowExecutionTimedOut
                )
            {
                return Err(not(format!(
                    "WorkflowTaskStarted (event {}) is followed by {}, not by the task's \
                     completion, failure or timeout",
                    event.event_id,
                    event_type_name(next.event_type)
                )));
            }
        }
        let workflow_id = if started.workflow_id.is_empty() {
            format!("replay-{}", started.original_execution_run_id)
        } else {
            started.workflow_id.clone()
        };
        Ok(Self {
            workflow_id,
            history,
        })
    }

    /// Parses Temporal's JSON history format: the proto-JSON of
    /// `temporal.api.history.v1.History` (`{"events": [...]}`, camelCase fields, enum names,
    /// 64-bit integers as strings), as `temporal workflow show --output json`,
    /// `hourglass workflow show --output json` and the Temporal UI's download write it.
    /// Payloads in Temporal's JSON shorthand are accepted too.
    pub fn from_json(json: &str) -> Result<Self, ReplayError> {
        Self::from_json_with_origin(json, "JSON input")
    }

    /// Reads and parses a JSON history file (see [`WorkflowHistory::from_json`]).
    pub fn from_json_file(path: impl AsRef<Path>) -> Result<Self, ReplayError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| ReplayError::ReadFile {
            path: path.to_owned(),
            source,
        })?;
        Self::from_json_with_origin(&text, &path.display().to_string())
    }

    fn from_json_with_origin(json: &str, origin: &str) -> Result<Self, ReplayError> {
        let value: serde_json::Value =
            serde_json::from_str(json).map_err(|source| ReplayError::InvalidJson {
                origin: origin.to_owned(),
                source,
            })?;
        if !value.is_object() {
            return Err(ReplayError::NotAHistory {
                origin: origin.to_owned(),
                reason: "it is not a JSON object with an `events` list".into(),
            });
        }
        // Standard payloads first (what the CLI and UI export); then Temporal's shorthand,
        // where payloads are plain JSON values; then older exports (PascalCase enum names,
        // extra fields), read as the official Python SDK reads them.
        let history = match proto_json::from_json_typed::<History>(value.clone(), false) {
            Ok(h) => h,
            Err(strict) => proto_json::from_json_typed::<History>(value.clone(), true)
                .or_else(|_| super::legacy_json::parse(value))
                .map_err(|_| ReplayError::NotAHistory {
                    origin: origin.to_owned(),
                    reason: strict.to_string(),
                })?,
        };
        Self::checked(history, origin)
    }

    /// Decodes a protobuf-encoded `temporal.api.history.v1.History`.
    pub fn from_proto(bytes: &[u8]) -> Result<Self, ReplayError> {
        let history = History::decode(bytes).map_err(|e| ReplayError::NotAHistory {
            origin: "protobuf input".into(),
            reason: format!("cannot decode temporal.api.history.v1.History: {e}"),
        })?;
        Self::checked(history, "protobuf input")
    }

    /// Replaces the workflow id the run is replayed under.
    pub fn with_workflow_id(mut self, workflow_id: impl Into<String>) -> Self {
        self.workflow_id = workflow_id.into();
        self
    }

    /// The workflow id the run is replayed under.
    pub fn workflow_id(&self) -> &str {
        &self.workflow_id
    }

    /// The run id recorded in the started event (`originalExecutionRunId`).
    pub fn run_id(&self) -> &str {
        match self.started() {
            Some(s) => &s.original_execution_run_id,
            None => "",
        }
    }

    /// The workflow type recorded in the started event.
    pub fn workflow_type(&self) -> &str {
        self.started()
            .and_then(|s| s.workflow_type.as_ref())
            .map(|t| t.name.as_str())
            .unwrap_or_default()
    }

    /// The recorded events.
    pub fn history(&self) -> &History {
        &self.history
    }

    /// The history as proto-JSON (Temporal's JSON history format, standard payloads).
    pub fn to_json(&self) -> Result<serde_json::Value, ReplayError> {
        proto_json::to_json(&self.history, false).map_err(|e| ReplayError::NotAHistory {
            origin: "the history".into(),
            reason: e.to_string(),
        })
    }

    /// The type name of event `event_id`, if the history has it.
    pub fn event_type_of(&self, event_id: i64) -> Option<String> {
        let index = usize::try_from(event_id.checked_sub(1)?).ok()?;
        self.history
            .events
            .get(index)
            .map(|e| event_type_name(e.event_type))
    }

    fn started(&self) -> Option<&WorkflowExecutionStartedEventAttributes> {
        match self.history.events.first()?.attributes.as_ref()? {
            Attributes::WorkflowExecutionStartedEventAttributes(s) => Some(s),
            _ => None,
        }
    }
}

/// `TimerStarted` for the event type number of `TimerStarted`, `EventType(n)` if unknown.
pub(crate) fn event_type_name(event_type: i32) -> String {
    match EventType::try_from(event_type) {
        Ok(t) => format!("{t:?}"),
        Err(_) => format!("EventType({event_type})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn started_event(id: &str) -> serde_json::Value {
        json!({
            "eventId": id,
            "eventType": "EVENT_TYPE_WORKFLOW_EXECUTION_STARTED",
            "workflowExecutionStartedEventAttributes": {
                "workflowType": {"name": "TimerWorkflow"},
                "taskQueue": {"name": "tq"},
                "originalExecutionRunId": "run-1",
                "workflowId": "wf-1"
            }
        })
    }

    fn wft_started(id: &str) -> serde_json::Value {
        json!({
            "eventId": id,
            "eventType": "EVENT_TYPE_WORKFLOW_TASK_STARTED",
            "workflowTaskStartedEventAttributes": {"scheduledEventId": "2"}
        })
    }

    fn not_a_history(json: serde_json::Value) -> String {
        match WorkflowHistory::from_json(&json.to_string()) {
            Err(ReplayError::NotAHistory { reason, origin }) => {
                assert_eq!(origin, "JSON input");
                reason
            }
            other => panic!("expected NotAHistory for {json}, got {other:?}"),
        }
    }

    #[test]
    fn temporal_json_parses_with_the_workflow_id_from_the_started_event() {
        let h = WorkflowHistory::from_json(&json!({"events": [started_event("1")]}).to_string())
            .unwrap();
        assert_eq!(h.workflow_id(), "wf-1");
        assert_eq!(h.run_id(), "run-1");
        assert_eq!(h.workflow_type(), "TimerWorkflow");
        assert_eq!(
            h.event_type_of(1).as_deref(),
            Some("WorkflowExecutionStarted")
        );
        assert_eq!(h.event_type_of(2), None);
        assert_eq!(h.event_type_of(0), None);
        assert_eq!(h.clone().with_workflow_id("other").workflow_id(), "other");
        let back = WorkflowHistory::from_json(&h.to_json().unwrap().to_string()).unwrap();
        assert_eq!(back, h);
    }

    #[test]
    fn payload_shorthand_is_accepted() {
        let mut started = started_event("1");
        started["workflowExecutionStartedEventAttributes"]["input"] = json!({"payloads": [5]});
        let h = WorkflowHistory::from_json(&json!({"events": [started]}).to_string()).unwrap();
        let Some(Attributes::WorkflowExecutionStartedEventAttributes(a)) =
            &h.history().events[0].attributes
        else {
            panic!("started attributes");
        };
        let payload = &a.input.as_ref().unwrap().payloads[0];
        assert_eq!(payload.data, b"5");
    }

    #[test]
    fn unreadable_files_and_bad_json_are_typed_errors() {
        let missing = std::path::Path::new("/nonexistent/hourglass/history.json");
        match WorkflowHistory::from_json_file(missing) {
            Err(ReplayError::ReadFile { path, .. }) => assert_eq!(path, missing),
            other => panic!("expected ReadFile, got {other:?}"),
        }
        let err = WorkflowHistory::from_json("{\"events\": [").unwrap_err();
        assert!(matches!(err, ReplayError::InvalidJson { .. }), "{err}");
        assert!(err.to_string().contains("line 1"), "{err}");
    }

    #[test]
    fn json_that_is_not_a_history_says_why() {
        assert!(not_a_history(json!([1, 2])).contains("JSON object"));
        assert!(not_a_history(json!({"foo": 1})).contains("foo"));
        assert!(not_a_history(json!({"events": []})).contains("no events"));
        let timer_fired = json!({"eventId": "1", "eventType": "EVENT_TYPE_TIMER_FIRED",
            "timerFiredEventAttributes": {"timerId": "1"}});
        assert!(not_a_history(json!({"events": [timer_fired]})).contains("TimerFired"));
        assert!(not_a_history(json!({"events": [started_event("3")]})).contains("start at 1"));
        let gap = json!({"events": [started_event("1"), wft_started("3")]});
        assert!(not_a_history(gap).contains("consecutive"));
        let dangling =
            json!({"events": [started_event("1"), wft_started("2"), started_event("3")]});
        assert!(not_a_history(dangling).contains("WorkflowTaskStarted"));
        let mut untyped = started_event("1");
        untyped["workflowExecutionStartedEventAttributes"]["workflowType"] = json!({});
        assert!(not_a_history(json!({"events": [untyped]})).contains("workflow type"));
    }

    #[test]
    fn protobuf_input_is_decoded_and_checked() {
        let err = WorkflowHistory::from_proto(&[0x0a, 0xff, 0xff]).unwrap_err();
        assert!(matches!(err, ReplayError::NotAHistory { .. }), "{err}");
        let err = WorkflowHistory::from_proto(&[]).unwrap_err();
        assert!(err.to_string().contains("no events"), "{err}");
        let h = WorkflowHistory::from_json(&json!({"events": [started_event("1")]}).to_string())
            .unwrap();
        let bytes = h.history().encode_to_vec();
        assert_eq!(WorkflowHistory::from_proto(&bytes).unwrap(), h);
    }
}
