//! TLS and mutual TLS on the frontend port (Temporal's `tls.frontend` server settings):
//! a certificate and key the server presents, and optionally the CA client certificates
//! must chain to, in which case a client without such a certificate cannot connect.
use crate::error::{DevServerError, Result};
use std::path::{Path, PathBuf};
use tonic::transport::{Certificate, Identity, ServerTlsConfig};

/// PEM files of the server's TLS settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerTls {
    /// The server's certificate chain (PEM).
    pub cert_path: PathBuf,
    /// The server certificate's private key (PEM).
    pub key_path: PathBuf,
    /// With it, clients must present a certificate signed by this CA (mutual TLS).
    pub client_ca_path: Option<PathBuf>,
}

impl ServerTls {
    /// TLS with this certificate and key; no client certificate asked for.
    pub fn new(cert_path: impl Into<PathBuf>, key_path: impl Into<PathBuf>) -> Self {
        ServerTls {
            cert_path: cert_path.into(),
            key_path: key_path.into(),
            client_ca_path: None,
        }
    }

    /// Requires client certificates signed by the CA in this file (mutual TLS).
    pub fn client_ca(mut self, path: impl Into<PathBuf>) -> Self {
        self.client_ca_path = Some(path.into());
        self
    }

    /// Reads the files and checks them; an unreadable file or a PEM that holds no usable
    /// certificate or key is an error naming the file.
    pub(crate) fn load(&self) -> Result<ServerTlsConfig> {
        let cert = read_pem(&self.cert_path, "TLS certificate", "CERTIFICATE")?;
        let key = read_pem(&self.key_path, "TLS key", "PRIVATE KEY")?;
        let mut cfg = ServerTlsConfig::new().identity(Identity::from_pem(cert, key));
        if let Some(ca) = &self.client_ca_path {
            let ca = read_pem(ca, "TLS client CA certificate", "CERTIFICATE")?;
            cfg = cfg.client_ca_root(Certificate::from_pem(ca));
        }
        Ok(cfg)
    }
}

/// Reads a PEM file and checks it holds a block of the expected kind, so a swapped or
/// empty file is reported by name instead of as a handshake failure later.
fn read_pem(path: &Path, what: &'static str, label: &str) -> Result<Vec<u8>> {
    let bytes = std::fs::read(path).map_err(|source| DevServerError::ReadFile {
        what,
        path: path.to_path_buf(),
        source,
    })?;
    let text = String::from_utf8_lossy(&bytes);
    let has_block = text
        .lines()
        .any(|l| l.starts_with("-----BEGIN ") && l.trim_end().ends_with(&format!("{label}-----")));
    if !has_block {
        return Err(DevServerError::Tls(format!(
            "{what} {} is not a PEM file holding a {label} block",
            path.display()
        )));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_and_wrong_files_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let cert = dir.path().join("cert.pem");
        let key = dir.path().join("key.pem");
        let err = ServerTls::new(&cert, &key).load().unwrap_err().to_string();
        assert!(
            err.contains("TLS certificate") && err.contains("cert.pem"),
            "{err}"
        );
        std::fs::write(&cert, "not a certificate").unwrap();
        std::fs::write(
            &key,
            "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
        )
        .unwrap();
        let err = ServerTls::new(&cert, &key).load().unwrap_err().to_string();
        assert!(
            err.contains("not a PEM file holding a CERTIFICATE"),
            "{err}"
        );
        // A key file given as the certificate: the labels tell them apart.
        let err = ServerTls::new(&key, &key).load().unwrap_err().to_string();
        assert!(err.contains("CERTIFICATE block"), "{err}");
    }
}
