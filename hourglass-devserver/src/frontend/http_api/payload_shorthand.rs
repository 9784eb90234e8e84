//! Temporal's payload shorthand (api-go `internal/temporalcommonv1/payload_json.go`), on
//! proto-JSON trees walked with their message descriptors, so only real `Payload` and
//! `Payloads` fields are touched.
//!
//! Writing: a `Payload` whose metadata is exactly `encoding: json/plain` is written as its
//! JSON value; `json/protobuf` with a `messageType` (and nothing else) as its JSON object
//! plus `"_protoMessageType"`; `binary/null` as `{"metadata":{"encoding":"YmluYXJ5L251bGw="}}`.
//! A `Payloads` whose every payload has a shorthand is written as the array of them. Any
//! other payload keeps the standard `{"metadata": {...}, "data": "..."}` form (and so does
//! its whole `Payloads`).
//!
//! Reading: a `Payloads` given as an array has one payload per element; a `Payload` given
//! as a standard object (exactly `metadata` and `data`, all base64) is taken as is, an
//! object with `_protoMessageType` becomes `json/protobuf`, `null` becomes `binary/null`,
//! and any other JSON value becomes a `json/plain` payload of that value.
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use prost_reflect::{Kind, MessageDescriptor};
use serde_json::{Map, Value, json};

const PAYLOAD: &str = "temporal.api.common.v1.Payload";
const PAYLOADS: &str = "temporal.api.common.v1.Payloads";
const MESSAGE_TYPE_KEY: &str = "_protoMessageType";
/// base64 of `binary/null`, as Temporal writes a null payload's encoding.
const BINARY_NULL_BASE64: &str = "YmluYXJ5L251bGw=";

/// Rewrites the payloads of a proto-JSON tree of message `desc` into shorthand.
pub(crate) fn to_shorthand(value: &mut Value, desc: &MessageDescriptor) {
    match desc.full_name() {
        PAYLOAD => {
            if let Some(short) = value.as_object().and_then(payload_shorthand) {
                *value = short;
            }
        }
        PAYLOADS => {
            let items = value
                .get("payloads")
                .and_then(Value::as_array)
                .map(|items| {
                    items
                        .iter()
                        .map(|p| p.as_object().and_then(payload_shorthand))
                        .collect::<Option<Vec<_>>>()
                });
            match items {
                Some(Some(shorts)) => *value = Value::Array(shorts),
                // An empty Payloads is `{}` in proto-JSON and `[]` in shorthand.
                None if value.as_object().is_some_and(Map::is_empty) => *value = json!([]),
                _ => {}
            }
        }
        _ => walk_fields(value, desc, &mut |v, d| to_shorthand(v, d)),
    }
}

/// Rewrites the shorthand payloads of a JSON tree of message `desc` into proto-JSON.
pub(crate) fn from_shorthand(value: &mut Value, desc: &MessageDescriptor) {
    match desc.full_name() {
        PAYLOAD => *value = payload_from_value(std::mem::take(value)),
        PAYLOADS => match value {
            Value::Array(items) => {
                let payloads: Vec<Value> = items.drain(..).map(payload_from_value).collect();
                *value = json!({ "payloads": payloads });
            }
            Value::Null => *value = json!({}),
            _ => walk_fields(value, desc, &mut |v, d| from_shorthand(v, d)),
        },
        _ => walk_fields(value, desc, &mut |v, d| from_shorthand(v, d)),
    }
}

/// Calls `f` on every message-typed value directly inside the object `value` of message
/// `desc`: singular fields, list elements and map values. Well-known types
/// (`google.protobuf.*`) have their own JSON forms and are not entered.
fn walk_fields(
    value: &mut Value,
    desc: &MessageDescriptor,
    f: &mut dyn FnMut(&mut Value, &MessageDescriptor),
) {
    if desc.package_name() == "google.protobuf" {
        return;
    }
    let Value::Object(map) = value else { return };
    for (key, v) in map.iter_mut() {
        let field = desc
            .get_field_by_json_name(key)
            .or_else(|| desc.get_field_by_name(key));
        let Some(field) = field else { continue };
        let Kind::Message(m) = field.kind() else {
            continue;
        };
        if field.is_map() {
            let Some(value_field) = m.map_entry_value_field().kind().as_message().cloned() else {
                continue;
            };
            if let Value::Object(entries) = v {
                entries.values_mut().for_each(|e| f(e, &value_field));
            }
        } else if field.is_list() {
            if let Value::Array(items) = v {
                items.iter_mut().for_each(|e| f(e, &m));
            }
        } else {
            f(v, &m);
        }
    }
}

/// The shorthand of one proto-JSON payload object, if its encoding has one.
fn payload_shorthand(map: &Map<String, Value>) -> Option<Value> {
    let metadata = map.get("metadata").and_then(Value::as_object);
    let meta = |k: &str| -> Option<Vec<u8>> {
        metadata?
            .get(k)
            .and_then(Value::as_str)
            .and_then(decode_bytes)
    };
    let data = || match map.get("data") {
        Some(d) => d.as_str().and_then(decode_bytes),
        None => Some(Vec::new()),
    };
    let keys = metadata.map_or(0, Map::len);
    match meta("encoding")?.as_slice() {
        b"binary/null" => Some(json!({ "metadata": { "encoding": BINARY_NULL_BASE64 } })),
        b"json/plain" if keys == 1 => serde_json::from_slice(&data()?).ok(),
        b"json/protobuf" if keys == 2 => {
            let message_type = String::from_utf8(meta("messageType")?).ok()?;
            let mut object: Map<String, Value> = serde_json::from_slice(&data()?).ok()?;
            object.insert(MESSAGE_TYPE_KEY.into(), Value::String(message_type));
            Some(Value::Object(object))
        }
        _ => None,
    }
}

/// One payload read from the JSON a caller sent (see the module comment).
fn payload_from_value(value: Value) -> Value {
    match value {
        Value::Null => binary_null(),
        Value::Object(mut map) => {
            if let Some(standard) = standard_payload(&map) {
                return standard;
            }
            match map.remove(MESSAGE_TYPE_KEY) {
                Some(Value::String(message_type)) => encoded(
                    &[
                        ("encoding", b"json/protobuf"),
                        ("messageType", message_type.as_bytes()),
                    ],
                    &Value::Object(map),
                ),
                // Temporal refuses a non-string message type; as JSON it is refused by
                // the Payload parser below (an unknown field).
                Some(other) => {
                    map.insert(MESSAGE_TYPE_KEY.into(), other);
                    Value::Object(map)
                }
                None => encoded(&[("encoding", b"json/plain")], &Value::Object(map)),
            }
        }
        other => encoded(&[("encoding", b"json/plain")], &other),
    }
}

/// The payload itself when `map` is a payload in the standard form, re-encoded in
/// standard base64 (callers may use URL-safe or unpadded base64, as Go's decoder allows).
fn standard_payload(map: &Map<String, Value>) -> Option<Value> {
    let metadata = map.get("metadata")?.as_object()?;
    let encoding = metadata.get("encoding")?;
    let data = map.get("data");
    if data.is_none() && encoding.as_str() == Some(BINARY_NULL_BASE64) {
        return Some(binary_null());
    }
    if map.len() != 2 {
        return None;
    }
    let data = decode_bytes(data?.as_str()?)?;
    let mut meta = Map::new();
    for (k, v) in metadata {
        meta.insert(
            k.clone(),
            Value::String(STANDARD.encode(decode_bytes(v.as_str()?)?)),
        );
    }
    Some(json!({ "metadata": meta, "data": STANDARD.encode(data) }))
}

fn binary_null() -> Value {
    json!({ "metadata": { "encoding": BINARY_NULL_BASE64 } })
}

/// A standard payload object with this metadata and `value` (compact JSON) as its data.
fn encoded(metadata: &[(&str, &[u8])], value: &Value) -> Value {
    let meta: Map<String, Value> = metadata
        .iter()
        .map(|(k, v)| (k.to_string(), Value::String(STANDARD.encode(v))))
        .collect();
    json!({ "metadata": meta, "data": STANDARD.encode(value.to_string()) })
}

/// base64 as Go's decoder in api-go takes it: URL-safe when it has `-` or `_`, unpadded
/// when its length is not a multiple of four.
fn decode_bytes(s: &str) -> Option<Vec<u8>> {
    let url = s.contains(['-', '_']);
    let padded = s.len().is_multiple_of(4);
    let engine = match (url, padded) {
        (false, true) => &STANDARD,
        (false, false) => &STANDARD_NO_PAD,
        (true, true) => &URL_SAFE,
        (true, false) => &URL_SAFE_NO_PAD,
    };
    engine.decode(s).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frontend::http_api::proto_json::message_descriptor;

    fn desc(name: &str) -> MessageDescriptor {
        message_descriptor(name).unwrap()
    }

    #[test]
    fn only_payload_fields_are_rewritten() {
        let sig = desc("temporal.api.workflowservice.v1.SignalWorkflowExecutionRequest");
        let mut v = json!({"input": [{"a": 1}, "x", null], "identity": "me"});
        from_shorthand(&mut v, &sig);
        assert_eq!(v["identity"], json!("me"));
        let p = &v["input"]["payloads"];
        assert_eq!(p[0]["metadata"]["encoding"], json!("anNvbi9wbGFpbg=="));
        assert_eq!(p[1]["data"], json!(STANDARD.encode("\"x\"")));
        assert_eq!(p[2], binary_null());
        to_shorthand(&mut v, &sig);
        assert_eq!(v["input"], json!([{"a": 1}, "x", binary_null()]));
    }

    #[test]
    fn a_payload_without_shorthand_keeps_its_payloads_standard() {
        let p = desc(PAYLOADS);
        let bin =
            json!({"metadata": {"encoding": STANDARD.encode("binary/plain")}, "data": "AAE="});
        let mut v = json!({"payloads": [bin.clone(), {"metadata": {"encoding": "anNvbi9wbGFpbg=="}, "data": "MQ=="}]});
        to_shorthand(&mut v, &p);
        assert_eq!(v["payloads"][0], bin);
    }

    #[test]
    fn proto_message_payloads_carry_their_type() {
        let p = desc(PAYLOAD);
        let mut v = json!({"x": 1, "_protoMessageType": "foo.Bar"});
        from_shorthand(&mut v, &p);
        let meta = &v["metadata"];
        assert_eq!(meta["messageType"], json!(STANDARD.encode("foo.Bar")));
        to_shorthand(&mut v, &p);
        assert_eq!(v, json!({"x": 1, "_protoMessageType": "foo.Bar"}));
    }

    #[test]
    fn standard_payloads_in_url_safe_base64_are_read() {
        let mut v = json!({"metadata": {"encoding": "anNvbi9wbGFpbg"}, "data": "MQ"});
        from_shorthand(&mut v, &desc(PAYLOAD));
        assert_eq!(v["data"], json!("MQ=="));
    }

    #[test]
    fn maps_of_payloads_are_entered() {
        let memo = desc("temporal.api.common.v1.Memo");
        let mut v = json!({"fields": {"k": {"a": true}}});
        from_shorthand(&mut v, &memo);
        assert!(v["fields"]["k"]["data"].is_string(), "{v}");
        to_shorthand(&mut v, &memo);
        assert_eq!(v, json!({"fields": {"k": {"a": true}}}));
    }
}
