//! JSON payloads (`encoding: json/plain`), through `temporalio-common`'s default payload
//! converter, so values round-trip exactly as with the official SDKs.

use serde::{Serialize, de::DeserializeOwned};
use temporalio_common::{
    data_converters::{
        GenericPayloadConverter, PayloadConverter, SerializationContext, SerializationContextData,
        WorkflowSerializationContext,
    },
    protos::temporal::api::common::v1::Payload,
};

use crate::error::WorkerError;

/// The `encoding` metadata value of JSON payloads.
pub const JSON_ENCODING: &str = "json/plain";

fn with_context<R>(f: impl FnOnce(&PayloadConverter, &SerializationContext<'_>) -> R) -> R {
    let converter = PayloadConverter::default();
    let data = SerializationContextData::Workflow(WorkflowSerializationContext::new());
    let context = SerializationContext::new(&data, &converter);
    f(&converter, &context)
}

/// Encodes `value` as a payload with the default converter (JSON for ordinary serde types).
pub fn to_payload<T: Serialize + 'static>(value: &T) -> Result<Payload, WorkerError> {
    with_context(|c, ctx| c.to_payload(ctx, value)).map_err(|e| WorkerError::Payload {
        context: format!("encoding {}", std::any::type_name::<T>()),
        message: e.to_string(),
    })
}

/// Decodes a payload produced by the default converter (or any SDK's JSON converter).
pub fn from_payload<T: DeserializeOwned + 'static>(payload: &Payload) -> Result<T, WorkerError> {
    with_context(|c, ctx| c.from_payload(ctx, payload.clone())).map_err(|e| WorkerError::Payload {
        context: format!("decoding {}", std::any::type_name::<T>()),
        message: e.to_string(),
    })
}

/// Encodes JSON text (e.g. a CLI `--input`) as a `json/plain` payload. Errors on invalid JSON,
/// naming the problem.
pub fn json_text_to_payload(json: &str) -> Result<Payload, WorkerError> {
    let value: serde_json::Value =
        serde_json::from_str(json).map_err(|e| WorkerError::Payload {
            context: "parsing JSON input".to_owned(),
            message: e.to_string(),
        })?;
    to_payload(&value)
}

/// Renders a payload as JSON text when it is `json/plain`; otherwise describes it (encoding and
/// size) without failing, so that callers can always show something.
pub fn payload_to_display(payload: &Payload) -> String {
    let encoding = payload
        .metadata
        .get("encoding")
        .map(|e| String::from_utf8_lossy(e).into_owned())
        .unwrap_or_default();
    if encoding == JSON_ENCODING
        && let Ok(text) = std::str::from_utf8(&payload.data)
    {
        return text.to_owned();
    }
    format!("<{} bytes, encoding {encoding:?}>", payload.data.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize, serde::Deserialize, Debug, PartialEq)]
    struct Order {
        id: u32,
        items: Vec<String>,
    }

    #[test]
    fn json_round_trip_with_json_plain_encoding() {
        let order = Order {
            id: 7,
            items: vec!["tea".into()],
        };
        let payload = to_payload(&order).unwrap();
        assert_eq!(
            payload.metadata.get("encoding").map(Vec::as_slice),
            Some(JSON_ENCODING.as_bytes())
        );
        assert_eq!(payload.data, br#"{"id":7,"items":["tea"]}"#);
        assert_eq!(from_payload::<Order>(&payload).unwrap(), order);
        assert_eq!(payload_to_display(&payload), r#"{"id":7,"items":["tea"]}"#);
    }

    #[test]
    fn json_text_input() {
        let p = json_text_to_payload(r#""World""#).unwrap();
        assert_eq!(from_payload::<String>(&p).unwrap(), "World");
    }

    #[test]
    fn invalid_json_text_is_a_clear_error() {
        let err = json_text_to_payload("{not json").unwrap_err();
        assert!(err.to_string().contains("parsing JSON input"), "{err}");
    }

    #[test]
    fn wrong_type_is_a_clear_error() {
        let p = to_payload(&"text").unwrap();
        let err = from_payload::<u64>(&p).unwrap_err();
        assert!(err.to_string().contains("decoding u64"), "{err}");
    }
}
