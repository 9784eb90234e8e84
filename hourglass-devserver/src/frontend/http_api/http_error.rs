//! The HTTP side of answers: which JSON format a request asked for (grpc-gateway's
//! marshaler choice over Temporal's four marshalers), JSON responses, and gRPC statuses
//! as Temporal's error JSON with grpc-gateway's HTTP status codes.
use super::proto_json;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tonic::{Code, Status};

/// How JSON is read or written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct JsonFormat {
    /// Payloads in shorthand.
    pub(crate) shorthand: bool,
    /// Indented.
    pub(crate) pretty: bool,
}

/// The default marshaler (`*`): shorthand, compact.
const DEFAULT: JsonFormat = JsonFormat {
    shorthand: true,
    pretty: false,
};

/// The marshaler registered for a media type (Temporal's `newTemporalProtoMarshaler`).
fn registered(media_type: &str) -> Option<JsonFormat> {
    let (shorthand, pretty) = match media_type {
        "application/json+pretty" => (true, true),
        "application/json+pretty+no-payload-shorthand" => (false, true),
        "application/json+no-payload-shorthand" => (false, false),
        _ => return None,
    };
    Some(JsonFormat { shorthand, pretty })
}

impl JsonFormat {
    /// The (input, output) formats of a request: input by its `Content-Type`, output by
    /// its `Accept` (which `?pretty` / `?noPayloadShorthand` replace), else as the input.
    pub(crate) fn of(headers: &http::HeaderMap, query: Option<&str>) -> (Self, Self) {
        let input = headers
            .get_all(http::header::CONTENT_TYPE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(|v| registered(v.split(';').next().unwrap_or("").trim()))
            .unwrap_or(DEFAULT);
        let mut suffix = String::new();
        let params: Vec<String> = form_urlencoded::parse(query.unwrap_or("").as_bytes())
            .map(|(k, _)| k.into_owned())
            .collect();
        if params.iter().any(|k| k == "pretty") {
            suffix.push_str("+pretty");
        }
        if params.iter().any(|k| k == "noPayloadShorthand") {
            suffix.push_str("+no-payload-shorthand");
        }
        let output = if suffix.is_empty() {
            headers
                .get_all(http::header::ACCEPT)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .find_map(registered)
        } else {
            registered(&format!("application/json{suffix}"))
        };
        (input, output.unwrap_or(input))
    }

    fn content_type(self) -> &'static str {
        match (self.pretty, self.shorthand) {
            (false, true) => "application/json",
            (true, true) => "application/json+pretty",
            (true, false) => "application/json+pretty+no-payload-shorthand",
            (false, false) => "application/json+no-payload-shorthand",
        }
    }
}

/// A JSON answer.
pub(crate) fn json_response(
    status: http::StatusCode,
    value: &Value,
    format: JsonFormat,
) -> Response {
    let text = if format.pretty {
        serde_json::to_string_pretty(value)
    } else {
        serde_json::to_string(value)
    };
    let text = text.unwrap_or_else(|e| {
        json!({"code": 13, "message": format!("failed to marshal the answer: {e}")}).to_string()
    });
    (
        status,
        [(http::header::CONTENT_TYPE, format.content_type())],
        text,
    )
        .into_response()
}

/// A gRPC status as Temporal's HTTP API answers it.
pub(crate) fn status_response(status: &Status, format: JsonFormat) -> Response {
    json_response(
        http_status(status.code()),
        &status_json(status, format),
        format,
    )
}

/// The `google.rpc.Status` JSON of a status: its details, with their `@type`, when the
/// RPC attached them; else the code and message.
pub(crate) fn status_json(status: &Status, format: JsonFormat) -> Value {
    if !status.details().is_empty()
        && let Ok(desc) = proto_json::message_descriptor("google.rpc.Status")
        && let Ok(v) = proto_json::bytes_to_json(&desc, status.details(), format.shorthand)
    {
        return v;
    }
    let mut v = json!({ "code": status.code() as i32 });
    if !status.message().is_empty() {
        v["message"] = Value::String(status.message().to_string());
    }
    v
}

/// grpc-gateway's `HTTPStatusFromCode`.
pub(crate) fn http_status(code: Code) -> http::StatusCode {
    use http::StatusCode as S;
    match code {
        Code::Ok => S::OK,
        Code::Cancelled => S::from_u16(499).unwrap_or(S::BAD_REQUEST),
        Code::Unknown | Code::Internal | Code::DataLoss => S::INTERNAL_SERVER_ERROR,
        Code::InvalidArgument | Code::FailedPrecondition | Code::OutOfRange => S::BAD_REQUEST,
        Code::DeadlineExceeded => S::GATEWAY_TIMEOUT,
        Code::NotFound => S::NOT_FOUND,
        Code::AlreadyExists | Code::Aborted => S::CONFLICT,
        Code::PermissionDenied => S::FORBIDDEN,
        Code::Unauthenticated => S::UNAUTHORIZED,
        Code::ResourceExhausted => S::TOO_MANY_REQUESTS,
        Code::Unimplemented => S::NOT_IMPLEMENTED,
        Code::Unavailable => S::SERVICE_UNAVAILABLE,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> http::HeaderMap {
        let mut h = http::HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, http::HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn formats_follow_content_type_accept_and_query() {
        let (i, o) = JsonFormat::of(&headers(&[]), None);
        assert_eq!((i, o), (DEFAULT, DEFAULT));
        let long = headers(&[(
            "content-type",
            "application/json+no-payload-shorthand; charset=utf-8",
        )]);
        let (i, o) = JsonFormat::of(&long, None);
        assert!(!i.shorthand && !o.shorthand && !o.pretty);
        let accept = headers(&[("accept", "application/json+pretty")]);
        let (i, o) = JsonFormat::of(&accept, None);
        assert!(i.shorthand && o.pretty && o.shorthand);
        let (_, o) = JsonFormat::of(&headers(&[]), Some("pretty&noPayloadShorthand"));
        assert!(o.pretty && !o.shorthand);
    }

    #[test]
    fn statuses_map_to_grpc_gateway_codes_and_keep_their_details() {
        assert_eq!(http_status(Code::AlreadyExists).as_u16(), 409);
        assert_eq!(http_status(Code::Unimplemented).as_u16(), 501);
        assert_eq!(http_status(Code::Cancelled).as_u16(), 499);
        let plain = status_json(&Status::not_found("gone"), DEFAULT);
        assert_eq!(plain, json!({"code": 5, "message": "gone"}));
        let started = crate::status::already_started("w", "req-1", "run-1");
        let v = status_json(&started, DEFAULT);
        assert_eq!(v["code"], 6);
        assert_eq!(
            v["details"][0]["@type"],
            "type.googleapis.com/temporal.api.errordetails.v1.WorkflowExecutionAlreadyStartedFailure"
        );
        assert_eq!(v["details"][0]["runId"], "run-1");
    }
}
