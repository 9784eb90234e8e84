//! A gRPC connection to a Temporal frontend (ours or a real cluster).

use crate::config::Connection;
use crate::error::CliError;
use std::time::Duration;
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

/// Connects to the frontend described by `conn`, failing within a few seconds when nothing
/// listens there.
pub async fn connect(conn: &Connection) -> Result<Client, CliError> {
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
    Ok(WorkflowServiceClient::with_interceptor(
        channel,
        Headers {
            namespace,
            authorization,
        },
    ))
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
    let tls = conn.tls.as_ref();
    let name = tls
        .and_then(|t| t.server_name.clone())
        .unwrap_or_else(|| host_of(&conn.address));
    let has = |needle: &str| text.contains(needle);
    let hint = if has("UnknownIssuer") || has("unknown issuer") {
        "the server's TLS certificate is not signed by a CA this client trusts (pass the CA that signed it with --tls-ca-path)".to_string()
    } else if has("NotValidForName") || has("not valid for name") {
        format!(
            "the server's TLS certificate is not valid for the name `{name}` (pass a name the certificate holds with --tls-server-name)"
        )
    } else if has("Expired") || has("expired") {
        "the server's TLS certificate has expired (or is not valid yet): renew it".to_string()
    } else if has("CertificateRequired") || has("certificate required") {
        "the server requires a client certificate: mutual TLS (pass --tls-cert-path and --tls-key-path)".to_string()
    } else if has("UnknownCA") || has("BadCertificate") || has("DecryptError") {
        "the server rejected this client's TLS certificate (it is not signed by the CA the server trusts)".to_string()
    } else if tls.is_some()
        && (has("InvalidContentType")
            || has("CorruptMessage")
            || has("corrupt message")
            || has("invalid content type"))
    {
        "the server does not speak TLS (connect without --tls, --tls-* and --api-key, or check --address)".to_string()
    } else if tls.is_none()
        && (has("frame with invalid size")
            || has("connection closed")
            || has("broken pipe")
            || has("h2 protocol error"))
    {
        "the connection was closed during the HTTP/2 handshake: if the server requires TLS, pass --tls (and --tls-ca-path for a private CA)".to_string()
    } else if has("Unauthenticated") || has("Request unauthenticated") {
        "the server refused the API key (pass the key it accepts with --api-key, or TEMPORAL_API_KEY)".to_string()
    } else {
        return format!(
            "{text} (is a server running there? start one with `hourglass server start-dev` or pass --address)"
        );
    };
    format!("{hint}; {text}")
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
