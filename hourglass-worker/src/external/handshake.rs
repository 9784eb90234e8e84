//! Reading a worker's ready file, connecting to it and checking its handshake.

use std::path::Path;
use std::time::Duration;

use hourglass_proto::external::v1::{
    HandshakeRequest, HandshakeResponse, ProtocolVersion,
    external_worker_client::ExternalWorkerClient,
};
use tonic::transport::{Channel, Endpoint};

use super::error::ExternalError;

/// The protocol version Hourglass speaks.
pub const PROTOCOL_VERSION: u32 = ProtocolVersion::ProtocolVersion1 as u32;

/// Largest message accepted from or sent to a worker (64 MiB).
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024 * 1024;

/// The gRPC client type used for workers.
pub type WorkerClient = ExternalWorkerClient<Channel>;

/// Parses the ready file (`port=<port>`).
pub fn read_port(worker: &str, path: &Path) -> Result<u16, ExternalError> {
    let bad = |reason: String| ExternalError::ReadyFile {
        worker: worker.to_string(),
        path: path.to_path_buf(),
        reason,
    };
    let text = std::fs::read_to_string(path).map_err(|e| bad(e.to_string()))?;
    let port = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("port="))
        .ok_or_else(|| bad(format!("no `port=<port>` line in {text:?}")))?;
    match port.trim().parse::<u16>() {
        Ok(0) | Err(_) => Err(bad(format!("invalid port {port:?}"))),
        Ok(p) => Ok(p),
    }
}

/// Connects to `127.0.0.1:port`.
pub async fn connect(
    worker: &str,
    port: u16,
    timeout: Duration,
) -> Result<WorkerClient, ExternalError> {
    let err = |reason: String| ExternalError::Connect {
        worker: worker.to_string(),
        port,
        reason,
    };
    let endpoint = Endpoint::from_shared(format!("http://127.0.0.1:{port}"))
        .map_err(|e| err(e.to_string()))?
        .connect_timeout(timeout)
        .tcp_nodelay(true);
    let channel = endpoint
        .connect()
        .await
        .map_err(|e| err(format!("{e:?}")))?;
    Ok(ExternalWorkerClient::new(channel)
        .max_decoding_message_size(MAX_MESSAGE_BYTES)
        .max_encoding_message_size(MAX_MESSAGE_BYTES))
}

/// Calls Handshake and checks the answer: protocol version, run marker, a non-empty list of
/// activity types.
pub async fn handshake(
    client: &mut WorkerClient,
    worker: &str,
    run_marker: &str,
    timeout: Duration,
) -> Result<HandshakeResponse, ExternalError> {
    let err = |reason: String| ExternalError::Handshake {
        worker: worker.to_string(),
        reason,
    };
    let request = HandshakeRequest {
        protocol_version: PROTOCOL_VERSION,
        run_marker: run_marker.to_string(),
        worker_id: worker.to_string(),
    };
    let response = tokio::time::timeout(timeout, client.handshake(request))
        .await
        .map_err(|_| err(format!("no answer within {timeout:?}")))?
        .map_err(|s| err(format!("{}: {}", s.code(), s.message())))?
        .into_inner();
    check(worker, run_marker, response)
}

/// Validates a handshake answer.
pub fn check(
    worker: &str,
    run_marker: &str,
    response: HandshakeResponse,
) -> Result<HandshakeResponse, ExternalError> {
    let err = |reason: String| ExternalError::Handshake {
        worker: worker.to_string(),
        reason,
    };
    if response.protocol_version == 0 || response.protocol_version > PROTOCOL_VERSION {
        return Err(err(format!(
            "worker speaks protocol version {}, Hourglass speaks {PROTOCOL_VERSION}",
            response.protocol_version
        )));
    }
    if response.run_marker != run_marker {
        return Err(err(format!(
            "worker reports run marker {:?}, expected {run_marker:?} (is another process listening on its port?)",
            response.run_marker
        )));
    }
    if response.activity_types.is_empty() {
        return Err(err("worker serves no activity types".into()));
    }
    if let Some(t) = response.activity_types.iter().find(|t| t.is_empty()) {
        return Err(err(format!(
            "worker reports an empty activity type name ({t:?})"
        )));
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer() -> HandshakeResponse {
        HandshakeResponse {
            protocol_version: 1,
            activity_types: vec!["Echo".into()],
            max_concurrent: 1,
            run_marker: "p:r".into(),
            pid: 1,
            sdk: String::new(),
            session: false,
        }
    }

    #[test]
    fn rejects_bad_answers() {
        assert!(check("w", "p:r", answer()).is_ok());
        let cases = [
            (
                HandshakeResponse {
                    protocol_version: 2,
                    ..answer()
                },
                "protocol version",
            ),
            (
                HandshakeResponse {
                    protocol_version: 0,
                    ..answer()
                },
                "protocol version",
            ),
            (
                HandshakeResponse {
                    run_marker: "p:other".into(),
                    ..answer()
                },
                "run marker",
            ),
            (
                HandshakeResponse {
                    activity_types: vec![],
                    ..answer()
                },
                "no activity types",
            ),
        ];
        for (response, needle) in cases {
            let e = check("w", "p:r", response).unwrap_err().to_string();
            assert!(e.contains(needle), "{e}");
        }
    }

    #[test]
    fn ready_file_errors_are_clear() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ready");
        assert!(
            read_port("w", &path)
                .unwrap_err()
                .to_string()
                .contains("ready file")
        );
        std::fs::write(&path, "hello").unwrap();
        assert!(
            read_port("w", &path)
                .unwrap_err()
                .to_string()
                .contains("no `port=<port>`")
        );
        std::fs::write(&path, "port=0\n").unwrap();
        assert!(
            read_port("w", &path)
                .unwrap_err()
                .to_string()
                .contains("invalid port")
        );
        std::fs::write(&path, "port=4242\n").unwrap();
        assert_eq!(read_port("w", &path).unwrap(), 4242);
    }
}
