//! JSON on the command line ↔ Temporal payloads, with the `json/plain` encoding the official
//! SDKs use for their default data converter.

use crate::args::InputArgs;
use crate::error::CliError;
use std::collections::HashMap;
use temporalio_protos::temporal::api::common::v1::{Payload, Payloads};

const ENCODING_KEY: &str = "encoding";
const JSON_PLAIN: &[u8] = b"json/plain";
const BINARY_NULL: &[u8] = b"binary/null";
const BINARY_PLAIN: &[u8] = b"binary/plain";

/// Encodes one JSON value as a `json/plain` payload. The text must be valid JSON.
pub fn json_payload(text: &str) -> Result<Payload, CliError> {
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|source| CliError::BadJsonInput { source })?;
    Ok(Payload {
        metadata: HashMap::from([(ENCODING_KEY.to_string(), JSON_PLAIN.to_vec())]),
        data: serde_json::to_vec(&value).map_err(|source| CliError::BadJsonInput { source })?,
        ..Default::default()
    })
}

/// Turns `--input` (repeatable) / `--input-file` into payloads; `None` when there is no input.
pub fn input_payloads(input: &InputArgs) -> Result<Option<Payloads>, CliError> {
    let mut payloads = Vec::new();
    for text in &input.input {
        payloads.push(json_payload(text)?);
    }
    if let Some(path) = &input.input_file {
        let text = std::fs::read_to_string(path).map_err(|source| CliError::FileRead {
            what: "input file",
            path: path.clone(),
            source,
        })?;
        payloads.push(json_payload(&text)?);
    }
    Ok((!payloads.is_empty()).then_some(Payloads { payloads }))
}

/// Renders one payload as JSON text: `json/plain` as its JSON, `binary/null` as `null`, other
/// encodings as an object naming the encoding with the data as hex.
pub fn payload_to_json(payload: &Payload) -> serde_json::Value {
    let encoding = payload
        .metadata
        .get(ENCODING_KEY)
        .map(Vec::as_slice)
        .unwrap_or_default();
    if encoding == JSON_PLAIN
        && let Ok(v) = serde_json::from_slice(&payload.data)
    {
        return v;
    }
    if encoding == BINARY_NULL {
        return serde_json::Value::Null;
    }
    if encoding == BINARY_PLAIN
        && let Ok(s) = std::str::from_utf8(&payload.data)
    {
        return serde_json::Value::String(s.to_string());
    }
    let hex: String = payload.data.iter().map(|b| format!("{b:02x}")).collect();
    serde_json::json!({
        "encoding": String::from_utf8_lossy(encoding),
        "data_hex": hex,
    })
}

/// Renders payloads: nothing → `null`, one → that value, several → an array.
pub fn payloads_to_json(payloads: Option<&Payloads>) -> serde_json::Value {
    match payloads.map(|p| p.payloads.as_slice()).unwrap_or_default() {
        [] => serde_json::Value::Null,
        [one] => payload_to_json(one),
        many => serde_json::Value::Array(many.iter().map(payload_to_json).collect()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_round_trips_through_payloads() {
        let p = json_payload(r#"{"name": "World", "n": [1, 2]}"#).unwrap();
        assert_eq!(p.metadata[ENCODING_KEY], JSON_PLAIN);
        assert_eq!(
            payload_to_json(&p),
            serde_json::json!({"name": "World", "n": [1, 2]})
        );
        let input = InputArgs {
            input: vec!["\"a\"".into(), "2".into()],
            input_file: None,
        };
        let ps = input_payloads(&input).unwrap().unwrap();
        assert_eq!(payloads_to_json(Some(&ps)), serde_json::json!(["a", 2]));
        assert_eq!(payloads_to_json(None), serde_json::Value::Null);
    }

    #[test]
    fn bad_json_is_a_clear_error() {
        let err = json_payload("{not json").unwrap_err();
        assert!(err.to_string().contains("not valid JSON"), "{err}");
        let err = input_payloads(&InputArgs {
            input: vec![],
            input_file: Some("/nonexistent/input.json".into()),
        })
        .unwrap_err();
        assert!(err.to_string().contains("/nonexistent/input.json"), "{err}");
    }

    #[test]
    fn non_json_encodings_render_without_loss() {
        let p = Payload {
            metadata: HashMap::from([(ENCODING_KEY.to_string(), b"binary/protobuf".to_vec())]),
            data: vec![0xde, 0xad],
            ..Default::default()
        };
        assert_eq!(
            payload_to_json(&p),
            serde_json::json!({"encoding": "binary/protobuf", "data_hex": "dead"})
        );
    }
}
