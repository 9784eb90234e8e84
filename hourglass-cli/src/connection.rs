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
        .map_err(|e| connect_err(error_chain(&e)))?;
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
