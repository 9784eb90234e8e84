//! Calling the gRPC services in process, as Temporal's `inlineClientConn` does: the
//! request goes through the same tower stack as a remote gRPC call (the API-key check,
//! then the generated service), framed as gRPC, and the status comes back from the
//! trailers.
use crate::frontend::authorization::ApiKeys;
use bytes::{BufMut, Bytes, BytesMut};
use http_body_util::{BodyExt, Full};
use tonic::Status;
use tonic::service::Routes;
use tonic::service::interceptor::InterceptedService;
use tower::ServiceExt;

/// The gRPC services behind the API-key check.
pub(crate) type Grpc = InterceptedService<Routes, ApiKeys>;

/// Request headers passed on to the RPC as metadata (Temporal's default forwarded headers).
const FORWARDED: [&str; 5] = [
    "authorization",
    "authorization-extras",
    "x-forwarded-for",
    "client-name",
    "client-version",
];

/// What Temporal's HTTP API sets as `client-name` when the caller did not.
const CLIENT_NAME: &str = "temporal-server-http";

/// Calls the RPC at `path` (`/package.Service/Method`) with an encoded request message;
/// answers the encoded response message or the RPC's status.
pub(crate) async fn call(
    grpc: &Grpc,
    path: &str,
    message: &[u8],
    headers: &http::HeaderMap,
) -> Result<Bytes, Status> {
    let len = u32::try_from(message.len())
        .map_err(|_| Status::resource_exhausted("request message over 4 GiB"))?;
    let mut frame = BytesMut::with_capacity(5 + message.len());
    frame.put_u8(0);
    frame.put_u32(len);
    frame.put_slice(message);
    let mut request = http::Request::builder()
        .method(http::Method::POST)
        .uri(path)
        .version(http::Version::HTTP_2)
        .header(http::header::CONTENT_TYPE, "application/grpc")
        .header(http::header::TE, "trailers");
    for name in FORWARDED {
        for value in headers.get_all(name) {
            request = request.header(name, value);
        }
    }
    if !headers.contains_key("client-name") {
        request = request.header("client-name", CLIENT_NAME);
    }
    let request = request
        .body(tonic::body::Body::new(Full::new(frame.freeze())))
        .map_err(|e| Status::internal(format!("cannot build the inline gRPC request: {e}")))?;
    let response = match grpc.clone().oneshot(request).await {
        Ok(r) => r,
        Err(never) => match never {},
    };
    // A trailers-only answer (an error before any message) has the status in its headers.
    if let Some(status) = Status::from_header_map(response.headers())
        && status.code() != tonic::Code::Ok
    {
        return Err(status);
    }
    let collected = response
        .into_body()
        .collect()
        .await
        .map_err(|e| Status::internal(format!("inline gRPC response: {e}")))?;
    if let Some(trailers) = collected.trailers()
        && let Some(status) = Status::from_header_map(trailers)
        && status.code() != tonic::Code::Ok
    {
        return Err(status);
    }
    unframe(collected.to_bytes())
}

/// The message of a single uncompressed gRPC frame.
fn unframe(body: Bytes) -> Result<Bytes, Status> {
    if body.len() < 5 {
        return Err(Status::internal("inline gRPC response has no message"));
    }
    if body[0] != 0 {
        return Err(Status::internal("inline gRPC response is compressed"));
    }
    let len = u32::from_be_bytes([body[1], body[2], body[3], body[4]]) as usize;
    if body.len() < 5 + len {
        return Err(Status::internal("inline gRPC response is truncated"));
    }
    Ok(body.slice(5..5 + len))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frame_yields_its_message_and_bad_frames_are_errors() {
        let ok = Bytes::from_static(&[0, 0, 0, 0, 2, 7, 8]);
        assert_eq!(unframe(ok).unwrap().as_ref(), &[7, 8]);
        assert!(unframe(Bytes::from_static(&[0, 0])).is_err());
        assert!(unframe(Bytes::from_static(&[1, 0, 0, 0, 0])).is_err());
        assert!(unframe(Bytes::from_static(&[0, 0, 0, 0, 9, 1])).is_err());
    }
}
