//! A throw-away PKI for TLS tests, generated with `rcgen` into a directory: a CA, a server
//! certificate for `localhost` and `127.0.0.1`, a client certificate, an expired server
//! certificate, and a second CA with its own client certificate (for "wrong CA" cases).
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose, date_time_ymd,
};
use std::path::{Path, PathBuf};

/// Why the PKI could not be made.
#[derive(Debug, thiserror::Error)]
pub enum CertError {
    /// Key or certificate generation failed.
    #[error("cannot generate a test certificate: {0}")]
    Generate(#[from] rcgen::Error),
    /// A PEM file could not be written.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
}

/// A certificate and its key, as PEM files.
#[derive(Debug, Clone)]
pub struct CertFiles {
    /// The certificate (PEM).
    pub cert: PathBuf,
    /// Its private key (PEM).
    pub key: PathBuf,
}

/// The generated files.
#[derive(Debug, Clone)]
pub struct TestPki {
    /// The CA that signed `server`, `client` and `expired_server`.
    pub ca: PathBuf,
    /// Valid for `localhost` and `127.0.0.1`, server authentication.
    pub server: CertFiles,
    /// Signed by `ca`, client authentication.
    pub client: CertFiles,
    /// Like `server`, but valid only in 2020.
    pub expired_server: CertFiles,
    /// A CA that signed nothing the server uses.
    pub other_ca: PathBuf,
    /// A client certificate signed by `other_ca`.
    pub other_client: CertFiles,
}

fn ca(name: &str) -> Result<CertifiedIssuer<'static, KeyPair>, CertError> {
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    Ok(CertifiedIssuer::self_signed(params, KeyPair::generate()?)?)
}

fn leaf(
    issuer: &CertifiedIssuer<'static, KeyPair>,
    names: &[&str],
    usage: ExtendedKeyUsagePurpose,
    expired: bool,
) -> Result<(String, String), CertError> {
    let mut params =
        CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())?;
    params.distinguished_name.push(
        DnType::CommonName,
        names.first().copied().unwrap_or("client"),
    );
    params.extended_key_usages = vec![usage];
    if expired {
        params.not_before = date_time_ymd(2020, 1, 1);
        params.not_after = date_time_ymd(2021, 1, 1);
    }
    let key = KeyPair::generate()?;
    let cert = params.signed_by(&key, issuer)?;
    Ok((cert.pem(), key.serialize_pem()))
}

fn write(dir: &Path, name: &str, text: &str) -> Result<PathBuf, CertError> {
    let path = dir.join(name);
    std::fs::write(&path, text).map_err(|source| CertError::Write {
        path: path.clone(),
        source,
    })?;
    Ok(path)
}

fn write_pair(dir: &Path, name: &str, pair: (String, String)) -> Result<CertFiles, CertError> {
    Ok(CertFiles {
        cert: write(dir, &format!("{name}.pem"), &pair.0)?,
        key: write(dir, &format!("{name}.key"), &pair.1)?,
    })
}

impl TestPki {
    /// Generates every certificate into `dir`.
    pub fn generate(dir: &Path) -> Result<TestPki, CertError> {
        let root = ca("hourglass test CA")?;
        let other = ca("another CA")?;
        let server_names = ["localhost", "127.0.0.1"];
        Ok(TestPki {
            ca: write(dir, "ca.pem", &root.pem())?,
            server: write_pair(
                dir,
                "server",
                leaf(
                    &root,
                    &server_names,
                    ExtendedKeyUsagePurpose::ServerAuth,
                    false,
                )?,
            )?,
            client: write_pair(
                dir,
                "client",
                leaf(
                    &root,
                    &["client"],
                    ExtendedKeyUsagePurpose::ClientAuth,
                    false,
                )?,
            )?,
            expired_server: write_pair(
                dir,
                "expired",
                leaf(
                    &root,
                    &server_names,
                    ExtendedKeyUsagePurpose::ServerAuth,
                    true,
                )?,
            )?,
            other_ca: write(dir, "other-ca.pem", &other.pem())?,
            other_client: write_pair(
                dir,
                "other-client",
                leaf(
                    &other,
                    &["intruder"],
                    ExtendedKeyUsagePurpose::ClientAuth,
                    false,
                )?,
            )?,
        })
    }
}
