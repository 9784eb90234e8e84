//! How values are shown: payloads decoded, timestamps, durations and enum names.
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use temporalio_protos::temporal::api::common::v1::{Payload, Payloads};
use temporalio_protos::temporal::api::failure::v1::Failure;

/// One payload as shown: JSON (pretty) for `json/plain`, text for `binary/null`, else its
/// encoding and base64 data.
pub(crate) fn payload(p: &Payload) -> String {
    let encoding = p
        .metadata
        .get("encoding")
        .map(|e| String::from_utf8_lossy(e).into_owned())
        .unwrap_or_default();
    match encoding.as_str() {
        "json/plain" => match serde_json::from_slice::<serde_json::Value>(&p.data) {
            Ok(v) => serde_json::to_string_pretty(&v).unwrap_or_default(),
            Err(_) => format!("(json/plain, not JSON) {}", STANDARD.encode(&p.data)),
        },
        "binary/null" => "null".to_string(),
        "" => format!("(no encoding) {}", STANDARD.encode(&p.data)),
        other => format!("({other}) {}", STANDARD.encode(&p.data)),
    }
}

/// Every payload of `ps`, one after another; `None` when there are none.
pub(crate) fn payloads(ps: Option<&Payloads>) -> Option<String> {
    let ps = ps?;
    if ps.payloads.is_empty() {
        return None;
    }
    Some(
        ps.payloads
            .iter()
            .map(payload)
            .collect::<Vec<_>>()
            .join("\n"),
    )
}

/// A failure's message chain: `message (type)` then its causes.
pub(crate) fn failure(f: &Failure) -> String {
    let mut out = Vec::new();
    let mut cur = Some(f);
    while let Some(f) = cur {
        let kind = match &f.failure_info {
            Some(info) => failure_kind(info),
            None => "Failure",
        };
        out.push(format!("{} ({kind})", f.message));
        cur = f.cause.as_deref();
    }
    out.join("\ncaused by: ")
}

fn failure_kind(
    info: &temporalio_protos::temporal::api::failure::v1::failure::FailureInfo,
) -> &'static str {
    use temporalio_protos::temporal::api::failure::v1::failure::FailureInfo as F;
    match info {
        F::ApplicationFailureInfo(_) => "ApplicationFailure",
        F::TimeoutFailureInfo(_) => "TimeoutFailure",
        F::CanceledFailureInfo(_) => "CanceledFailure",
        F::TerminatedFailureInfo(_) => "TerminatedFailure",
        F::ServerFailureInfo(_) => "ServerFailure",
        F::ResetWorkflowFailureInfo(_) => "ResetWorkflowFailure",
        F::ActivityFailureInfo(_) => "ActivityFailure",
        F::ChildWorkflowExecutionFailureInfo(_) => "ChildWorkflowFailure",
        F::NexusOperationExecutionFailureInfo(_) => "NexusOperationFailure",
        F::NexusHandlerFailureInfo(_) => "NexusHandlerFailure",
    }
}

/// Milliseconds since the epoch of a timestamp (0 when absent).
pub(crate) fn ms(t: Option<&prost_types::Timestamp>) -> i64 {
    t.map(|t| t.seconds * 1000 + i64::from(t.nanos) / 1_000_000)
        .unwrap_or(0)
}

/// A timestamp as `2026-12-07 11:02:03.456 UTC`, `""` when absent.
pub(crate) fn time(t: Option<&prost_types::Timestamp>) -> String {
    let Some(t) = t else { return String::new() };
    match chrono::DateTime::from_timestamp(t.seconds, t.nanos.max(0) as u32) {
        Some(d) => d.format("%Y-%m-%d %H:%M:%S%.3f UTC").to_string(),
        None => String::new(),
    }
}

/// A span in milliseconds as `850 ms`, `12.3 s`, `4m 05s`, `2h 03m`.
pub(crate) fn span(ms: i64) -> String {
    let ms = ms.max(0);
    if ms < 1000 {
        format!("{ms} ms")
    } else if ms < 60_000 {
        format!("{:.1} s", ms as f64 / 1000.0)
    } else if ms < 3_600_000 {
        format!("{}m {:02}s", ms / 60_000, (ms / 1000) % 60)
    } else {
        format!("{}h {:02}m", ms / 3_600_000, (ms / 60_000) % 60)
    }
}

/// A proto enum's name without its type prefix: `WORKFLOW_EXECUTION_STATUS_RUNNING` →
/// `Running`.
pub(crate) fn enum_name(full: &str, prefix: &str) -> String {
    let short = full.strip_prefix(prefix).unwrap_or(full);
    short
        .split('_')
        .map(|w| {
            let mut c = w.chars();
            match c.next() {
                Some(f) => f.to_uppercase().collect::<String>() + &c.as_str().to_lowercase(),
                None => String::new(),
            }
        })
        .collect()
}

/// A workflow execution status (`Running`, `Completed`, ...).
pub(crate) fn status(code: i32) -> String {
    use temporalio_protos::temporal::api::enums::v1::WorkflowExecutionStatus;
    match WorkflowExecutionStatus::try_from(code) {
        Ok(s) => enum_name(s.as_str_name(), "WORKFLOW_EXECUTION_STATUS_"),
        Err(_) => format!("Status{code}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn p(encoding: &str, data: &[u8]) -> Payload {
        Payload {
            metadata: HashMap::from([("encoding".to_string(), encoding.as_bytes().to_vec())]),
            data: data.to_vec(),
            ..Default::default()
        }
    }

    #[test]
    fn payloads_decode_by_encoding() {
        assert_eq!(payload(&p("json/plain", br#"{"a":1}"#)), "{\n  \"a\": 1\n}");
        assert_eq!(payload(&p("binary/null", b"")), "null");
        assert_eq!(payload(&p("binary/plain", b"hi")), "(binary/plain) aGk=");
        assert_eq!(
            payload(&p("json/plain", b"{nope")),
            "(json/plain, not JSON) e25vcGU="
        );
        assert_eq!(payloads(Some(&Payloads::default())), None);
    }

    #[test]
    fn times_spans_and_names() {
        let t = prost_types::Timestamp {
            seconds: 1_700_000_000,
            nanos: 5_000_000,
        };
        assert_eq!(time(Some(&t)), "2023-11-14 22:13:20.005 UTC");
        assert_eq!(ms(Some(&t)), 1_700_000_000_005);
        assert_eq!(time(None), "");
        assert_eq!(span(850), "850 ms");
        assert_eq!(span(12_340), "12.3 s");
        assert_eq!(span(245_000), "4m 05s");
        assert_eq!(status(1), "Running");
        assert_eq!(status(6), "ContinuedAsNew");
        assert_eq!(status(99), "Status99");
        assert_eq!(
            enum_name("EVENT_TYPE_ACTIVITY_TASK_SCHEDULED", "EVENT_TYPE_"),
            "ActivityTaskScheduled"
        );
    }
}
