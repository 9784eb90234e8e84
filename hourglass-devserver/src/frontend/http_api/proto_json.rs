//! Temporal's proto-JSON: protobuf's canonical JSON mapping (lowerCamelCase field names,
//! enum value names, 64-bit integers as strings, RFC 3339 timestamps, base64 bytes) as
//! Temporal's `temporalproto` marshals it, with its payload shorthand (see
//! [`super::payload_shorthand`]). Messages are read and written through the Temporal API
//! descriptors that `temporalio-protos` compiles, so every message of the API is covered.
use super::payload_shorthand;
use prost_reflect::{
    DescriptorPool, DeserializeOptions, DynamicMessage, MessageDescriptor, ReflectMessage,
    SerializeOptions,
};
use serde_json::Value;
use std::sync::OnceLock;

/// The Temporal API's services and messages with their options (see `build.rs`).
static DESCRIPTORS: &[u8] = include_bytes!(env!("HOURGLASS_HTTP_API_DESCRIPTORS"));

/// Why a message could not be converted.
#[derive(Debug, thiserror::Error)]
pub enum ProtoJsonError {
    /// The compiled-in descriptors could not be read (a broken build).
    #[error("cannot load the Temporal API descriptors: {0}")]
    Descriptors(String),
    /// No message of that name in the Temporal API.
    #[error("no descriptor for message {0}")]
    UnknownMessage(String),
    /// The JSON does not describe the message (unknown field, wrong type, bad base64, ...).
    #[error("{0}")]
    Invalid(String),
    /// The bytes are not an encoding of the message.
    #[error("cannot decode {message}: {detail}")]
    Decode {
        /// The message's full name.
        message: String,
        /// The decoder's message.
        detail: String,
    },
}

/// The Temporal API descriptors (WorkflowService, OperatorService and every message they use).
pub fn pool() -> Result<&'static DescriptorPool, ProtoJsonError> {
    static POOL: OnceLock<Result<DescriptorPool, String>> = OnceLock::new();
    POOL.get_or_init(|| DescriptorPool::decode(DESCRIPTORS).map_err(|e| e.to_string()))
        .as_ref()
        .map_err(|e| ProtoJsonError::Descriptors(e.clone()))
}

/// The descriptor of a message by its full name (`temporal.api.common.v1.Payload`).
pub fn message_descriptor(full_name: &str) -> Result<MessageDescriptor, ProtoJsonError> {
    pool()?
        .get_message_by_name(full_name)
        .ok_or_else(|| ProtoJsonError::UnknownMessage(full_name.to_string()))
}

/// A Temporal API message as proto-JSON. With `shorthand`, payloads are written as their
/// JSON values where Temporal's shorthand applies (the HTTP API's default).
pub fn to_json<M: prost::Message + prost::Name>(
    msg: &M,
    shorthand: bool,
) -> Result<Value, ProtoJsonError> {
    let desc = message_descriptor(&M::full_name())?;
    let dynamic = DynamicMessage::decode(desc, msg.encode_to_vec().as_slice()).map_err(|e| {
        ProtoJsonError::Decode {
            message: M::full_name(),
            detail: e.to_string(),
        }
    })?;
    dynamic_to_json(&dynamic, shorthand)
}

/// A message given as bytes (its protobuf encoding) as proto-JSON.
pub fn bytes_to_json(
    desc: &MessageDescriptor,
    bytes: &[u8],
    shorthand: bool,
) -> Result<Value, ProtoJsonError> {
    let dynamic =
        DynamicMessage::decode(desc.clone(), bytes).map_err(|e| ProtoJsonError::Decode {
            message: desc.full_name().to_string(),
            detail: e.to_string(),
        })?;
    dynamic_to_json(&dynamic, shorthand)
}

/// A dynamic message as proto-JSON.
pub fn dynamic_to_json(msg: &DynamicMessage, shorthand: bool) -> Result<Value, ProtoJsonError> {
    let mut value = msg
        .serialize_with_options(serde_json::value::Serializer, &SerializeOptions::new())
        .map_err(|e| ProtoJsonError::Invalid(e.to_string()))?;
    if shorthand {
        payload_shorthand::to_shorthand(&mut value, &msg.descriptor());
    }
    Ok(value)
}

/// Parses proto-JSON (camelCase or proto field names; enums by name or number) as the
/// message `desc` describes. With `shorthand`, payloads may be given as plain JSON values.
/// Unknown fields are an error, as in Temporal's unmarshaler.
pub fn from_json(
    desc: &MessageDescriptor,
    mut value: Value,
    shorthand: bool,
) -> Result<DynamicMessage, ProtoJsonError> {
    if shorthand {
        payload_shorthand::from_shorthand(&mut value, desc);
    }
    DynamicMessage::deserialize_with_options(desc.clone(), value, &DeserializeOptions::new())
        .map_err(|e| ProtoJsonError::Invalid(e.to_string()))
}

/// Parses proto-JSON as a typed Temporal API message (see [`from_json`]).
pub fn from_json_typed<M: prost::Message + prost::Name + Default>(
    value: Value,
    shorthand: bool,
) -> Result<M, ProtoJsonError> {
    let desc = message_descriptor(&M::full_name())?;
    from_json(&desc, value, shorthand)?
        .transcode_to::<M>()
        .map_err(|e| ProtoJsonError::Decode {
            message: M::full_name(),
            detail: e.to_string(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use temporalio_protos::temporal::api::common::v1::{Payload, Payloads, WorkflowExecution};
    use temporalio_protos::temporal::api::history::v1::HistoryEvent;

    #[test]
    fn messages_use_camel_case_enum_names_and_string_int64() {
        let ev = HistoryEvent {
            event_id: 7,
            event_type: 1,
            ..Default::default()
        };
        let v = to_json(&ev, true).unwrap();
        assert_eq!(v["eventId"], json!("7"));
        assert_eq!(
            v["eventType"],
            json!("EVENT_TYPE_WORKFLOW_EXECUTION_STARTED")
        );
    }

    #[test]
    fn json_in_either_field_naming_parses_and_unknown_fields_are_refused() {
        let e: WorkflowExecution =
            from_json_typed(json!({"workflowId": "a", "run_id": "b"}), true).unwrap();
        assert_eq!((e.workflow_id.as_str(), e.run_id.as_str()), ("a", "b"));
        let err = from_json_typed::<WorkflowExecution>(json!({"nope": 1}), true).unwrap_err();
        assert!(err.to_string().contains("nope"), "{err}");
    }

    #[test]
    fn payloads_round_trip_through_shorthand() {
        let p = Payloads {
            payloads: vec![Payload {
                metadata: [("encoding".to_string(), b"json/plain".to_vec())].into(),
                data: br#"{"a":1}"#.to_vec(),
                ..Default::default()
            }],
        };
        let v = to_json(&p, true).unwrap();
        assert_eq!(v, json!([{"a": 1}]));
        let back: Payloads = from_json_typed(v, true).unwrap();
        assert_eq!(back, p);
        let long = to_json(&p, false).unwrap();
        assert_eq!(long["payloads"][0]["data"], json!("eyJhIjoxfQ=="));
    }
}
