//! A gRPC connection to a Temporal frontend (ours or a real cluster).

use crate::config::Connection;
use crate::error::CliError;
use std::time::Duration;
use temporalio_protos::temporal::api::operatorservice::v1::operator_service_client::OperatorServiceClient;
use temporalio_protos::temporal::api::workflowservice::v1::GetSystemInfoRequest;
use temporalio_protos::temporal::api::workflowservice::v1::workflow_service_client::WorkflowServiceClient;
use tonic::metadata::MetadataValue;
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};

/// The WorkflowService client type the CLI uses.
pub type Client = WorkflowServiceClient<InterceptedService<Channel, Headers>>;

/// Adds the headers Temporal frontends expect on every call: the namespace and, when
/// configured, the API key as a bearer token.
#[derive(Clone)]
pub struct Headers {
    namespace: MetadataValue<tonic::metadata::Ascii>,
    authorization: Option<MetadataValue<tonic::metadata::Ascii>>,
}

impl Interceptor for Headers {
    fn call(&mut self, mut req: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        req.metadata_mut()
            .insert("temporal-namespace", self.namespace.clone());
        if let Some(auth) = &self.authorization {
            req.metadata_mut().insert("authorization", auth.clone());
        }
        Ok(req)
    }
}

/// The OperatorService client type the CLI uses (search attributes, on the same port).
pub type OperatorClient = OperatorServiceClient<InterceptedService<Channel, Headers>>;

/// Connects to the frontend described by `conn` for OperatorService calls, checking the
/// connection as [`connect`] does.
pub async fn connect_operator(conn: &Connection) -> Result<OperatorClient, CliError> {
    let (channel, headers) = channel(conn).await?;
    let mut check = WorkflowServiceClient::with_interceptor(channel.clone(), headers.clone());
    check_connection(&mut check, conn).await?;
    Ok(OperatorServiceClient::with_interceptor(channel, headers))
}

/// Connects to the frontend described by `conn`, failing within a few seconds when nothing
/// listens there.
pub async fn connect(conn: &Connection) -> Result<Client, CliError> {
    let (channel, headers) = channel(conn).await?;
    let mut client = WorkflowServiceClient::with_interceptor(channel, headers);
    check_connection(&mut client, conn).await?;
    Ok(client)
}

/// Opens the channel to `conn` and builds the headers every call carries.
async fn channel(conn: &Connection) -> Result<(Channel, Headers), CliError> {
    let connect_err = |message: String| CliError::Connect {
        address: conn.address.clone(),
        message,
    };
    let mut endpoint = Endpoint::from_shared(conn.url.clone())
        .map_err(|e| connect_err(e.to_string()))?
        .connect_timeout(Duration::from_secs(5))
        .tcp_nodelay(true);
    if let Some(tls) = &conn.tls {
        let mut cfg = ClientTlsConfig::new().with_native_roots();
        if let Some(ca) = &tls.ca_path {
            let pem = read(ca, "TLS server CA certificate")?;
            cfg = cfg.ca_certificate(Certificate::from_pem(pem));
        }
        if let (Some(cert), Some(key)) = (&tls.cert_path, &tls.key_path) {
            let cert = read(cert, "TLS client certificate")?;
            let key = read(key, "TLS client key")?;
            cfg = cfg.identity(Identity::from_pem(cert, key));
        }
        if let Some(name) = &tls.server_name {
            cfg = cfg.domain_name(name.clone());
        }
        endpoint = endpoint
            .tls_config(cfg)
            .map_err(|e| connect_err(format!("TLS configuration: {e}")))?;
    }
    let channel = endpoint
        .connect()
        .await
        .map_err(|e| connect_err(explain_transport_error(&error_chain(&e), conn)))?;
    let namespace = conn.namespace.parse().map_err(|_| CliError::InvalidValue {
        what: "--namespace".into(),
        message: "must be ASCII".into(),
    })?;
    let authorization = match &conn.api_key {
        Some(key) => Some(
            format!("Bearer {key}")
                .parse()
                .map_err(|_| CliError::InvalidValue {
                    what: "--api-key".into(),
                    message: "must be ASCII".into(),
                })?,
        ),
        None => None,
    };
    Ok((
        channel,
        Headers {
            namespace,
            authorization,
        },
    ))
}

async fn check_connection(client: &mut Client, conn: &Connection) -> Result<(), CliError> {
    let connect_err = |message: String| CliError::Connect {
        address: conn.address.clone(),
        message,
    };
    // A TLS 1.3 server checks the client certificate (and the frontend the API key) only
    // after the handshake, so ask once here, as Temporal's SDK clients do, and say why a
    // refusal happened before any command runs.
    match client.get_system_info(GetSystemInfoRequest {}).await {
        Ok(_) => Ok(()),
        Err(status) if status.code() == tonic::Code::Unimplemented => Ok(()),
        Err(status) => Err(connect_err(explain_transport_error(
            &status_chain(&status),
            conn,
        ))),
    }
}

/// A status as one line: the server's message and code, then the transport errors under it.
pub fn status_chain(status: &tonic::Status) -> String {
    let mut out = format!("{} ({:?})", status.message(), status.code());
    if let Some(source) = std::error::Error::source(status) {
        let chain = error_chain(source);
        if !status.message().ends_with(&chain) {
            out.push_str(": ");
            out.push_str(&chain);
        }
    }
    out
}

fn read(path: &std::path::Path, what: &'static str) -> Result<Vec<u8>, CliError> {
    std::fs::read(path).map_err(|source| CliError::FileRead {
        what,
        path: path.to_path_buf(),
        source,
    })
}

/// Joins an error with its sources, so "transport error" says what actually failed.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    let mut last = out.clone();
    while let Some(s) = cur {
        let text = s.to_string();
        // tonic repeats the same message at several levels; say it once.
        if text != last && !last.ends_with(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        last = text;
        cur = s.source();
    }
    out
}

/// Turns a transport failure into the one line a user can act on: TLS verification errors
/// (unknown CA, wrong name, expired certificate), a refused or missing client certificate,
/// a refused API key, and TLS spoken to a plaintext server or the other way round; anything
/// else is taken for a server that is not there.
pub fn explain_transport_error(text: &str, conn: &Connection) -> String {
    match hint(text, conn) {
        Some(hint) => format!("{hint}; {text}"),
        None => format!(
            "{text} (is a server running there? start one with `hourglass server start-dev` or pass --address)"
        ),
    }
}

fn hint(text: &str, conn: &Connection) -> Option<String> {
    let tls = conn.tls.as_ref();
    let has = |needle: &str| text.contains(needle);
    let has_any = |needles: &[&str]| needles.iter().any(|n| text.contains(n));
    if has_any(&["UnknownIssuer", "unknown issuer"]) {
        return Some("the server's TLS certificate is not signed by a CA this client trusts (pass the CA that signed it with --tls-ca-path)".into());
    }
    if has_any(&["NotValidForName", "not valid for name"]) {
        let name = tls
            .and_then(|t| t.server_name.clone())
            .unwrap_or_else(|| host_of(&conn.address));
        return Some(format!(
            "the server's TLS certificate is not valid for the name `{name}` (pass a name the certificate holds with --tls-server-name)"
        ));
    }
    if has_any(&["Expired", "expired"]) {
        return Some(
            "the server's TLS certificate has expired (or is not valid yet): renew it".into(),
        );
    }
    let client_cert = tls.is_some_and(|t| t.cert_path.is_some());
    let required = "the server requires a client certificate: mutual TLS (pass --tls-cert-path and --tls-key-path)";
    let rejected = "the server rejected this client's TLS certificate (it is not signed by the CA the server trusts)";
    if has_any(&["CertificateRequired", "certificate required"]) {
        return Some(required.into());
    }
    if has_any(&["UnknownCA", "BadCertificate", "DecryptError"]) {
        return Some(rejected.into());
    }
    if has("Unauthenticated") {
        return Some("the server refused the API key (pass the key it accepts with --api-key, or TEMPORAL_API_KEY)".into());
    }
    let corrupt = [
        "InvalidContentType",
        "CorruptMessage",
        "corrupt message",
        "invalid content type",
    ];
    let closed = ["connection closed", "broken pipe"];
    match tls {
        Some(_) if has_any(&corrupt) => Some(
            "the server does not speak TLS (connect without --tls, --tls-* and --api-key, or check --address)".into(),
        ),
        // A TLS 1.3 server checks the client's certificate after the client has finished
        // its side of the handshake, and may close the connection before its alert is read.
        Some(_) if has_any(&closed) => Some(format!(
            "the server closed the connection after the TLS handshake: {}",
            if client_cert { rejected } else { required }
        )),
        Some(_) if has("connection was not ready") => Some(format!(
            "the server closed the connection during the TLS handshake: it does not speak TLS, or {}",
            if client_cert { "it rejected this client's TLS certificate" } else { "it requires a client certificate (mutual TLS: pass --tls-cert-path and --tls-key-path)" }
        )),
        None if has_any(&["frame with invalid size", "h2 protocol error", "connection was not ready"])
            || has_any(&closed) =>
        {
            Some("the connection was closed during the HTTP/2 handshake: if the server requires TLS, pass --tls (and --tls-ca-path for a private CA)".into())
        }
        _ => None,
    }
}

/// The host part of `host:port` (for the default TLS server name).
fn host_of(address: &str) -> String {
    let a = address
        .trim_start_matches("https://")
        .trim_start_matches("http://");
    match a.rsplit_once(':') {
        Some((host, _)) => host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string(),
        None => a.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Tls;

    fn conn(tls: Option<Tls>) -> Connection {
        Connection {
            url: "https://127.0.0.1:7233".into(),
            address: "127.0.0.1:7233".into(),
            namespace: "default".into(),
            tls,
            api_key: None,
        }
    }

    fn tls(cert: bool) -> Option<Tls> {
        Some(Tls {
            cert_path: cert.then(|| "client.pem".into()),
            key_path: cert.then(|| "client.key".into()),
            ca_path: Some("ca.pem".into()),
            server_name: None,
        })
    }

    // Texts as tonic / rustls / hyper print them (seen in tests/tls.rs runs).
    #[test]
    fn a_closed_connection_after_the_handshake_names_the_client_certificate() {
        let closed = "operation was canceled (Cancelled): transport error: operation was canceled: connection closed";
        let pipe = "transport error (Unknown): transport error: connection error: stream closed because of a broken pipe";
        for text in [closed, pipe] {
            assert!(
                explain_transport_error(text, &conn(tls(false)))
                    .starts_with("the server closed the connection after the TLS handshake: the server requires a client certificate"),
                "{text}"
            );
            assert!(
                explain_transport_error(text, &conn(tls(true)))
                    .contains("rejected this client's TLS certificate"),
                "{text}"
            );
        }
        let alert = "transport error (Unknown): transport error: connection error: received fatal alert: CertificateRequired";
        assert!(
            explain_transport_error(alert, &conn(tls(false)))
                .starts_with("the server requires a client certificate")
        );
    }

    #[test]
    fn plaintext_and_tls_mismatches_are_named_both_ways() {
        let tls_to_plain = "transport error: received corrupt message of type InvalidContentType";
        assert!(
            explain_transport_error(tls_to_plain, &conn(tls(false)))
                .starts_with("the server does not speak TLS")
        );
        let not_ready = "operation was canceled (Cancelled): transport error: operation was canceled: connection was not ready";
        assert!(
            explain_transport_error(not_ready, &conn(tls(false)))
                .contains("it does not speak TLS, or it requires a client certificate")
        );
        let plain_to_tls = "h2 protocol error: http2 error (Internal): transport error: http2 error: connection error detected: frame with invalid size";
        assert!(
            explain_transport_error(plain_to_tls, &conn(None))
                .contains("if the server requires TLS, pass --tls")
        );
    }

    #[test]
    fn verification_failures_and_a_refused_key_have_their_own_hint() {
        let c = conn(tls(true));
        for (text, hint) in [
            (
                "invalid peer certificate: UnknownIssuer",
                "not signed by a CA this client trusts",
            ),
            (
                "invalid peer certificate: certificate not valid for name \"x\"",
                "not valid for the name `127.0.0.1`",
            ),
            (
                "invalid peer certificate: certificate expired: …",
                "has expired",
            ),
            (
                "received fatal alert: UnknownCA",
                "rejected this client's TLS certificate",
            ),
            (
                "Request unauthenticated: the API key is not valid for this server (Unauthenticated)",
                "refused the API key",
            ),
        ] {
            let line = explain_transport_error(text, &c);
            assert!(line.contains(hint), "{line}");
            assert!(line.ends_with(text), "{line}");
        }
        let nothing = explain_transport_error("tcp connect error: Connection refused", &conn(None));
        assert!(nothing.contains("is a server running there?"), "{nothing}");
    }
}
