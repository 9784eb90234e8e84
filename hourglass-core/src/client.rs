//! Client connections to a Temporal frontend.

use crate::error::CoreError;
use crate::runtime::RuntimeEntry;
use hourglass_proto::bridge::v1::ClientConfig;
use parking_lot::Mutex;
use std::sync::Arc;
use std::time::Duration;
use temporalio_client::{ClientTlsOptions, Connection, ConnectionOptions, TlsOptions};
use url::Url;

/// Default connect timeout when the config leaves it at 0.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A live client connection, bound to the runtime it was created on.
pub struct ClientEntry {
    /// The runtime the connection's tasks run on.
    pub runtime: Arc<RuntimeEntry>,
    /// The connection (cheap to clone).
    pub connection: Mutex<Connection>,
}

/// Validated connection options plus what the caller needs to report errors.
pub struct PreparedConnect {
    /// Options for `Connection::connect`.
    pub options: ConnectionOptions,
    /// Target URL as given (for messages).
    pub target: String,
    /// Overall deadline of the connect attempt.
    pub timeout: Duration,
}

/// Checks a client configuration and turns it into connection options.
pub fn prepare(config: ClientConfig) -> Result<PreparedConnect, CoreError> {
    if config.target_url.is_empty() {
        return Err(CoreError::InvalidArgument(
            "client config: target_url must not be empty".into(),
        ));
    }
    if config.identity.trim().is_empty() {
        return Err(CoreError::InvalidArgument(
            "client config: identity must not be empty (the core rejects workers without one)"
                .into(),
        ));
    }
    let url = Url::parse(&config.target_url).map_err(|e| {
        CoreError::InvalidArgument(format!(
            "client config: target_url {:?} is not a URL: {e}",
            config.target_url
        ))
    })?;
    if url.host_str().is_none() {
        return Err(CoreError::InvalidArgument(format!(
            "client config: target_url {:?} has no host",
            config.target_url
        )));
    }
    let timeout = match config.connect_timeout_millis {
        0 => DEFAULT_CONNECT_TIMEOUT,
        ms => Duration::from_millis(ms),
    };
    let tls = match config.tls {
        None => None,
        Some(t) => {
            let client_tls_options =
                match (t.client_cert.is_empty(), t.client_private_key.is_empty()) {
                    (true, true) => None,
                    (false, false) => Some(
                        ClientTlsOptions::builder()
                            .client_cert(t.client_cert)
                            .client_private_key(t.client_private_key)
                            .build(),
                    ),
                    _ => {
                        return Err(CoreError::InvalidArgument(
                        "client config: tls client_cert and client_private_key must be set together"
                            .into(),
                    ));
                    }
                };
            Some(
                TlsOptions::builder()
                    .maybe_server_root_ca_cert(
                        (!t.server_root_ca_cert.is_empty()).then_some(t.server_root_ca_cert),
                    )
                    .maybe_domain((!t.domain.is_empty()).then_some(t.domain))
                    .maybe_client_tls_options(client_tls_options)
                    .build(),
            )
        }
    };
    let version = if config.client_version.is_empty() {
        env!("CARGO_PKG_VERSION").to_owned()
    } else {
        config.client_version
    };
    let options = ConnectionOptions::new(url)
        .identity(config.identity)
        .client_name("hourglass".to_owned())
        .client_version(version)
        .connect_timeout(timeout)
        .maybe_tls_options(tls)
        .maybe_api_key((!config.api_key.is_empty()).then_some(config.api_key))
        .maybe_headers((!config.headers.is_empty()).then_some(config.headers.into_iter().collect()))
        .build();
    Ok(PreparedConnect {
        options,
        target: config.target_url,
        timeout,
    })
}

/// Connects; fails with [`CoreError::Connect`] on any connection error or when `timeout`
/// passes first.
pub async fn connect(prepared: PreparedConnect) -> Result<Connection, CoreError> {
    let PreparedConnect {
        options,
        target,
        timeout,
    } = prepared;
    match tokio::time::timeout(timeout, Connection::connect(options)).await {
        Ok(Ok(c)) => {
            tracing::info!(%target, "hourglass-core client connected");
            Ok(c)
        }
        Ok(Err(e)) => Err(CoreError::Connect {
            target,
            message: e.to_string(),
        }),
        Err(_) => Err(CoreError::Connect {
            target,
            message: format!("timed out after {timeout:?}"),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> ClientConfig {
        ClientConfig {
            target_url: "http://127.0.0.1:7233".into(),
            identity: "me@host".into(),
            ..Default::default()
        }
    }

    #[test]
    fn valid_config_prepares() {
        let p = prepare(cfg()).unwrap();
        assert_eq!(p.timeout, DEFAULT_CONNECT_TIMEOUT);
        assert_eq!(p.target, "http://127.0.0.1:7233");
    }

    #[test]
    fn empty_identity_is_rejected() {
        let e = prepare(ClientConfig {
            identity: " ".into(),
            ..cfg()
        })
        .err()
        .unwrap();
        assert!(e.to_string().contains("identity"), "{e}");
    }

    #[test]
    fn bad_urls_are_rejected() {
        for bad in ["", "not a url", "unix:/tmp/x"] {
            let e = prepare(ClientConfig {
                target_url: bad.into(),
                ..cfg()
            })
            .err()
            .unwrap();
            assert!(matches!(e, CoreError::InvalidArgument(_)), "{bad}: {e}");
        }
    }

    #[test]
    fn half_mtls_is_rejected() {
        let e = prepare(ClientConfig {
            tls: Some(hourglass_proto::bridge::v1::TlsConfig {
                client_cert: b"cert".to_vec(),
                ..Default::default()
            }),
            ..cfg()
        })
        .err()
        .unwrap();
        assert!(e.to_string().contains("together"), "{e}");
    }
}
