//! Output of the client commands: `--output text` (cards and tables laid out as the Temporal
//! CLI's) and `--output json` (Temporal's proto-JSON: camelCase field names, enum value
//! names, RFC 3339 timestamps, 64-bit integers as strings).
//!
//! Proto-JSON is the dev server's ([`hourglass_devserver::proto_json`], Temporal's own rules
//! read through the API descriptors). As in the Temporal CLI, payloads are shown in
//! "shorthand" (a `json/plain` payload as its JSON value, a `Payloads` list as an array)
//! except where a replayable history is wanted.

use crate::error::CliError;
use serde_json::Value;
use std::io::Write;

/// Output format of a client command, as the Temporal CLI's `--output`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    /// Human-readable cards and tables.
    #[default]
    Text,
    /// Temporal proto-JSON (camelCase field names), indented.
    Json,
}

impl OutputFormat {
    /// Whether JSON was asked for.
    pub fn is_json(self) -> bool {
        self == OutputFormat::Json
    }
}

/// The `--output`/`-o` option every client command takes.
#[derive(Debug, Clone, Copy, Default, clap::Args)]
pub struct OutputArgs {
    /// Output format: `text` or `json` (Temporal proto-JSON).
    #[arg(long, short = 'o', value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,
}

/// A Temporal API message as proto-JSON, as the dev server's HTTP API writes it. With
/// `shorthand`, payloads are written as their JSON values where Temporal's shorthand applies.
pub fn proto_json<M: prost::Message + prost::Name>(
    msg: &M,
    shorthand: bool,
) -> Result<Value, CliError> {
    hourglass_devserver::proto_json::to_json(msg, shorthand)
        .map_err(|e| CliError::Json(format!("cannot render {} as JSON: {e}", M::full_name())))
}

/// Parses proto-JSON text (camelCase or snake_case field names) as a Temporal API message;
/// unknown fields are an error. The error is the parser's message.
pub fn from_proto_json<M: prost::Message + prost::Name + Default>(text: &str) -> Result<M, String> {
    let value: Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
    hourglass_devserver::proto_json::from_json_typed(value, false).map_err(|e| e.to_string())
}

/// Prints a JSON value indented, as the Temporal CLI does, followed by a newline.
pub fn print_json(out: &mut impl Write, value: &Value) -> Result<(), CliError> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| CliError::Json(format!("cannot render JSON: {e}")))?;
    writeln!(out, "{text}")?;
    Ok(())
}

/// Prints a "card": one `Name  Value` line per field, names aligned, indented by two
/// spaces, as the Temporal CLI prints a single structure. Fields with an empty value are
/// left out when `omit_empty` is set for them.
pub fn print_card(out: &mut impl Write, fields: &[CardField]) -> Result<(), CliError> {
    let shown: Vec<&CardField> = fields
        .iter()
        .filter(|f| !(f.omit_empty && f.value.is_empty()))
        .collect();
    let width = shown.iter().map(|f| f.name.len()).max().unwrap_or(0);
    for f in shown {
        let line = format!("  {:<width$}  {}", f.name, f.value);
        writeln!(out, "{}", line.trim_end())?;
    }
    Ok(())
}

/// One line of a card.
#[derive(Debug, Clone)]
pub struct CardField {
    /// The field's name.
    pub name: &'static str,
    /// Its text.
    pub value: String,
    /// Leave the line out when the value is empty.
    pub omit_empty: bool,
}

/// A field always shown.
pub fn field(name: &'static str, value: impl ToString) -> CardField {
    CardField {
        name,
        value: value.to_string(),
        omit_empty: false,
    }
}

/// A field shown only when it is not empty.
pub fn field_opt(name: &'static str, value: impl ToString) -> CardField {
    CardField {
        name,
        value: value.to_string(),
        omit_empty: true,
    }
}

/// Prints a table: a header row then one row per entry, columns as wide as their widest
/// cell, each preceded by two spaces, as the Temporal CLI's tables.
pub fn print_table(
    out: &mut impl Write,
    headers: &[&str],
    rows: &[Vec<String>],
    header: bool,
) -> Result<(), CliError> {
    let widths: Vec<usize> = headers
        .iter()
        .enumerate()
        .map(|(i, h)| {
            rows.iter()
                .filter_map(|r| r.get(i).map(|c| c.chars().count()))
                .chain([h.len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: Vec<&str>| -> String {
        let mut s = String::new();
        for (i, cell) in cells.iter().enumerate() {
            s.push_str("  ");
            if i + 1 == cells.len() {
                s.push_str(cell);
            } else {
                s.push_str(&format!("{cell:<w$}", w = widths[i]));
            }
        }
        s
    };
    if header {
        writeln!(out, "{}", line(headers.to_vec()))?;
    }
    for row in rows {
        writeln!(out, "{}", line(row.iter().map(String::as_str).collect()))?;
    }
    Ok(())
}

/// A protobuf timestamp as RFC 3339 in UTC with whole seconds (as Go's `time.RFC3339`);
/// empty when unset.
pub fn rfc3339(ts: Option<&prost_wkt_types::Timestamp>) -> String {
    ts.and_then(|t| chrono::DateTime::from_timestamp(t.seconds, 0))
        .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default()
}

/// A protobuf duration as the Temporal CLI formats one (`1h 30m 0s`, `10s`, `2d 0h 0m 0s`);
/// empty when unset.
pub fn format_duration(d: Option<&prost_wkt_types::Duration>) -> String {
    let Some(d) = d else {
        return String::new();
    };
    let total_ms = d.seconds * 1000 + i64::from(d.nanos / 1_000_000);
    let (days, rest) = (total_ms / 86_400_000, total_ms % 86_400_000);
    let (h, m, s, ms) = (
        rest / 3_600_000,
        rest % 3_600_000 / 60_000,
        rest % 60_000 / 1000,
        rest % 1000,
    );
    let secs = if ms > 0 {
        format!("{}s", format!("{s}.{ms:03}").trim_end_matches('0'))
    } else {
        format!("{s}s")
    };
    if days > 0 {
        format!("{days}d {h}h {m}m {secs}")
    } else if h > 0 {
        format!("{h}h {m}m {secs}")
    } else if m > 0 {
        format!("{m}m {secs}")
    } else {
        secs
    }
}

/// A protobuf enum value name in the Temporal CLI's text form: the type prefix removed and
/// the rest in PascalCase (`WORKFLOW_EXECUTION_STATUS_RUNNING` → `Running`).
pub fn enum_text(name: &str, prefix: &str) -> String {
    name.strip_prefix(prefix)
        .unwrap_or(name)
        .split('_')
        .filter(|w| !w.is_empty())
        .map(|w| {
            let lower = w.to_lowercase();
            let mut chars = lower.chars();
            chars
                .next()
                .map(|c| c.to_uppercase().chain(chars).collect::<String>())
                .unwrap_or_default()
        })
        .collect()
}

/// A JSON value as a card or table cell: strings bare, everything else as compact JSON.
pub fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use temporalio_protos::temporal::api::common::v1::{Payload, Payloads, WorkflowExecution};
    use temporalio_protos::temporal::api::history::v1::{History, HistoryEvent};

    #[test]
    fn proto_json_uses_camel_case_enum_names_and_string_int64() {
        let event = HistoryEvent {
            event_id: 7,
            event_type: 1,
            event_time: Some(prost_wkt_types::Timestamp {
                seconds: 0,
                nanos: 0,
            }),
            ..Default::default()
        };
        let v = proto_json(
            &History {
                events: vec![event],
            },
            false,
        )
        .unwrap();
        assert_eq!(v["events"][0]["eventId"], "7");
        assert_eq!(
            v["events"][0]["eventType"],
            "EVENT_TYPE_WORKFLOW_EXECUTION_STARTED"
        );
        assert_eq!(v["events"][0]["eventTime"], "1970-01-01T00:00:00Z");
        let v = proto_json(
            &WorkflowExecution {
                workflow_id: "w".into(),
                run_id: String::new(),
            },
            false,
        )
        .unwrap();
        assert_eq!(v, serde_json::json!({"workflowId": "w"}));
    }

    #[test]
    fn payloads_are_shown_in_shorthand_only_when_asked() {
        let p = crate::payload_json::json_payload(r#"{"a": 1}"#).unwrap();
        let other = Payload {
            metadata: [("encoding".to_string(), b"binary/protobuf".to_vec())].into(),
            data: vec![1],
            ..Default::default()
        };
        let json_only = Payloads {
            payloads: vec![p.clone()],
        };
        let short = proto_json(&json_only, true).unwrap();
        assert_eq!(short, serde_json::json!([{"a": 1}]));
        let long = proto_json(&json_only, false).unwrap();
        assert!(long["payloads"][0]["data"].is_string(), "{long}");
        // As in Temporal: one payload without a shorthand keeps the whole list standard.
        let mixed = Payloads {
            payloads: vec![p, other],
        };
        let v = proto_json(&mixed, true).unwrap();
        assert_eq!(v["payloads"][1]["data"], "AQ==");
    }

    #[test]
    fn text_helpers_match_the_temporal_cli() {
        assert_eq!(
            enum_text(
                "WORKFLOW_EXECUTION_STATUS_RUNNING",
                "WORKFLOW_EXECUTION_STATUS_"
            ),
            "Running"
        );
        assert_eq!(
            enum_text("EVENT_TYPE_WORKFLOW_TASK_COMPLETED", "EVENT_TYPE_"),
            "WorkflowTaskCompleted"
        );
        let d = |seconds| format_duration(Some(&prost_wkt_types::Duration { seconds, nanos: 0 }));
        assert_eq!(d(10), "10s");
        assert_eq!(d(5400), "1h 30m 0s");
        assert_eq!(d(2 * 86400), "2d 0h 0m 0s");
        assert_eq!(
            rfc3339(Some(&prost_wkt_types::Timestamp {
                seconds: 1_700_000_000,
                nanos: 5
            })),
            "2023-11-14T22:13:20Z"
        );
        let mut out = Vec::new();
        print_card(
            &mut out,
            &[
                field("A", "1"),
                field_opt("Empty", ""),
                field("Longer", "x"),
            ],
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "  A       1\n  Longer  x\n"
        );
    }
}
