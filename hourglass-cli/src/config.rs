//! `hourglass.toml` and how it combines with flags and environment variables.
//!
//! Precedence is flags > environment variables > `hourglass.toml` > built-in defaults.
//! Clap already resolves flags over environment variables; the file only fills what both
//! left unset. Unknown keys and values of the wrong type are errors naming the key.

use crate::args::{ConnectionArgs, LogFormat};
use crate::error::CliError;
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// The default address of the embedded dev server and of a local Temporal server.
pub const DEFAULT_ADDRESS: &str = "127.0.0.1:7233";
/// The default namespace.
pub const DEFAULT_NAMESPACE: &str = "default";
/// The name of the configuration file looked up in the current directory.
pub const CONFIG_FILE_NAME: &str = "hourglass.toml";

/// The contents of `hourglass.toml`. Every key is optional.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// Temporal frontend address.
    pub address: Option<String>,
    /// Temporal namespace.
    pub namespace: Option<String>,
    /// API key.
    pub api_key: Option<String>,
    /// Log format.
    pub log_format: Option<LogFormat>,
    /// TLS settings.
    #[serde(default)]
    pub tls: TlsFileConfig,
    /// Settings of `hourglass run`.
    #[serde(default)]
    pub run: RunFileConfig,
    /// External activity worker pools (`[[pools]]`), e.g. Python processes serving activity
    /// types no Rust activity claims.
    #[serde(default)]
    pub pools: Vec<hourglass_worker::external::ExternalPoolConfig>,
}

/// `[tls]` in `hourglass.toml`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsFileConfig {
    /// Use TLS.
    pub enabled: Option<bool>,
    /// Client certificate (PEM).
    pub cert_path: Option<PathBuf>,
    /// Client key (PEM).
    pub key_path: Option<PathBuf>,
    /// Server CA (PEM).
    pub ca_path: Option<PathBuf>,
    /// Server name for verification.
    pub server_name: Option<String>,
}

/// `[run]` in `hourglass.toml`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunFileConfig {
    /// Task queues to serve.
    pub task_queues: Option<Vec<String>>,
    /// Core library path or `linked`.
    pub core: Option<String>,
    /// Reload the core when its file changes.
    pub watch_core: Option<bool>,
    /// Threads of the core's own runtime (0 = half the cores).
    pub core_threads: Option<u32>,
    /// Data directory of the embedded dev server.
    pub data_dir: Option<PathBuf>,
    /// Keep the embedded dev server in memory.
    pub ephemeral: Option<bool>,
    /// Port of the embedded dev server.
    pub port: Option<u16>,
    /// Prometheus metrics address.
    pub metrics: Option<String>,
    /// Admin endpoint address.
    pub admin: Option<String>,
}

impl FileConfig {
    /// Loads the configuration: the explicit path (which must exist), else `hourglass.toml`
    /// in the current directory if present, else the empty configuration.
    pub fn load(explicit: Option<&Path>) -> Result<FileConfig, CliError> {
        let path = match explicit {
            Some(p) => p.to_path_buf(),
            None => {
                let p = PathBuf::from(CONFIG_FILE_NAME);
                if !p.exists() {
                    return Ok(FileConfig::default());
                }
                p
            }
        };
        let text = std::fs::read_to_string(&path).map_err(|source| CliError::ConfigRead {
            path: path.clone(),
            source,
        })?;
        Self::parse(&text, &path)
    }

    /// Parses configuration text; `path` is only used in error messages.
    pub fn parse(text: &str, path: &Path) -> Result<FileConfig, CliError> {
        toml::from_str(text).map_err(|e| CliError::ConfigParse {
            path: path.to_path_buf(),
            message: e.to_string().replace('\n', " ").trim().to_string(),
        })
    }
}

/// Fully resolved connection settings. `Debug` never shows the API key.
#[derive(Clone, PartialEq, Eq)]
pub struct Connection {
    /// `http://host:port` or `https://host:port`.
    pub url: String,
    /// The address as given (for messages).
    pub address: String,
    /// Namespace.
    pub namespace: String,
    /// TLS, when enabled.
    pub tls: Option<Tls>,
    /// API key, when given.
    pub api_key: Option<String>,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("url", &self.url)
            .field("address", &self.address)
            .field("namespace", &self.namespace)
            .field("tls", &self.tls)
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// Resolved TLS settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tls {
    /// Client certificate (PEM).
    pub cert_path: Option<PathBuf>,
    /// Client key (PEM).
    pub key_path: Option<PathBuf>,
    /// Server CA (PEM).
    pub ca_path: Option<PathBuf>,
    /// Server name for verification.
    pub server_name: Option<String>,
}

impl Connection {
    /// Combines flags/env with the file. `default_address` is used when neither sets one.
    pub fn resolve(
        args: &ConnectionArgs,
        file: &FileConfig,
        default_address: &str,
    ) -> Result<Connection, CliError> {
        let address = args
            .address
            .clone()
            .or_else(|| file.address.clone())
            .unwrap_or_else(|| default_address.to_string());
        let namespace = args
            .namespace
            .clone()
            .or_else(|| file.namespace.clone())
            .unwrap_or_else(|| DEFAULT_NAMESPACE.to_string());
        if namespace.trim().is_empty() {
            return Err(CliError::InvalidValue {
                what: "--namespace".into(),
                message: "must not be empty".into(),
            });
        }
        let api_key = args.api_key.clone().or_else(|| file.api_key.clone());
        let tls_files = Tls {
            cert_path: args
                .tls_cert_path
                .clone()
                .or_else(|| file.tls.cert_path.clone()),
            key_path: args
                .tls_key_path
                .clone()
                .or_else(|| file.tls.key_path.clone()),
            ca_path: args
                .tls_ca_path
                .clone()
                .or_else(|| file.tls.ca_path.clone()),
            server_name: args
                .tls_server_name
                .clone()
                .or_else(|| file.tls.server_name.clone()),
        };
        if tls_files.cert_path.is_some() != tls_files.key_path.is_some() {
            return Err(CliError::InvalidValue {
                what: "--tls-cert-path/--tls-key-path".into(),
                message: "a client certificate and key must be given together".into(),
            });
        }
        let implied = tls_files != Tls::default() || api_key.is_some();
        let explicit_scheme = address.split_once("://").map(|(s, _)| s.to_string());
        let tls_enabled = args
            .tls
            .or(file.tls.enabled)
            .unwrap_or(implied || explicit_scheme.as_deref() == Some("https"));
        let host_port = match address.split_once("://") {
            Some((scheme, rest)) if scheme == "http" || scheme == "https" => rest.to_string(),
            Some((scheme, _)) => {
                return Err(CliError::InvalidValue {
                    what: "--address".into(),
                    message: format!("unsupported scheme `{scheme}`; use host:port"),
                });
            }
            None => address.clone(),
        };
        let host_port = host_port.trim_end_matches('/').to_string();
        validate_host_port(&host_port)?;
        let scheme = if tls_enabled { "https" } else { "http" };
        Ok(Connection {
            url: format!("{scheme}://{host_port}"),
            address,
            namespace,
            tls: tls_enabled.then_some(tls_files),
            api_key,
        })
    }
}

fn validate_host_port(host_port: &str) -> Result<(), CliError> {
    let bad = |message: &str| CliError::InvalidValue {
        what: "--address".into(),
        message: format!("`{host_port}`: {message}; expected host:port such as 127.0.0.1:7233"),
    };
    let (host, port) = host_port
        .rsplit_once(':')
        .ok_or_else(|| bad("missing port"))?;
    if host.is_empty() {
        return Err(bad("missing host"));
    }
    port.parse::<u16>()
        .map_err(|_| bad("port is not a number"))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args() -> ConnectionArgs {
        ConnectionArgs::default()
    }

    #[test]
    fn debug_output_never_shows_the_api_key() {
        let mut a = args();
        a.api_key = Some("k-secret-123".into());
        let c = Connection::resolve(&a, &FileConfig::default(), DEFAULT_ADDRESS).unwrap();
        assert_eq!(c.api_key.as_deref(), Some("k-secret-123"));
        let shown = format!("{c:?}");
        assert!(!shown.contains("k-secret-123"), "{shown}");
        assert!(shown.contains("<redacted>"), "{shown}");
    }

    #[test]
    fn flags_win_over_file_and_file_over_defaults() {
        let file = FileConfig::parse(
            "address = \"10.0.0.1:7233\"\nnamespace = \"filens\"\n",
            Path::new("h.toml"),
        )
        .unwrap();
        let c = Connection::resolve(&args(), &file, DEFAULT_ADDRESS).unwrap();
        assert_eq!(c.url, "http://10.0.0.1:7233");
        assert_eq!(c.namespace, "filens");
        let mut a = args();
        a.address = Some("127.0.0.1:9999".into());
        a.namespace = Some("flagns".into());
        let c = Connection::resolve(&a, &file, DEFAULT_ADDRESS).unwrap();
        assert_eq!(c.url, "http://127.0.0.1:9999");
        assert_eq!(c.namespace, "flagns");
        let c = Connection::resolve(&args(), &FileConfig::default(), DEFAULT_ADDRESS).unwrap();
        assert_eq!(c.url, "http://127.0.0.1:7233");
        assert_eq!(c.namespace, "default");
    }

    #[test]
    fn unknown_keys_and_bad_values_are_errors_naming_the_key() {
        let err = FileConfig::parse("adress = \"x\"\n", Path::new("h.toml")).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("adress"), "{msg}");
        let err = FileConfig::parse("[run]\nport = \"seven\"\n", Path::new("h.toml")).unwrap_err();
        assert!(err.to_string().contains("port"), "{err}");
        let err = FileConfig::parse("[run]\nwatch_core = 3\n", Path::new("h.toml")).unwrap_err();
        assert!(err.to_string().contains("h.toml"), "{err}");
        let err = FileConfig::parse("[run]\ncore_threads = -1\n", Path::new("h.toml")).unwrap_err();
        assert!(err.to_string().contains("core_threads"), "{err}");
    }

    #[test]
    fn core_threads_are_read_from_the_run_table() {
        let file = FileConfig::parse("[run]\ncore_threads = 2\n", Path::new("h.toml")).unwrap();
        assert_eq!(file.run.core_threads, Some(2));
        assert_eq!(FileConfig::default().run.core_threads, None);
    }

    #[test]
    fn api_key_implies_tls_and_bad_addresses_are_rejected() {
        let mut a = args();
        a.api_key = Some("k".into());
        a.address = Some("cloud.example:7233".into());
        let c = Connection::resolve(&a, &FileConfig::default(), DEFAULT_ADDRESS).unwrap();
        assert_eq!(c.url, "https://cloud.example:7233");
        assert!(c.tls.is_some());
        a.tls = Some(false);
        let c = Connection::resolve(&a, &FileConfig::default(), DEFAULT_ADDRESS).unwrap();
        assert_eq!(c.url, "http://cloud.example:7233");

        for bad in ["nohost", ":7233", "host:port", "ftp://h:1"] {
            let mut a = args();
            a.address = Some(bad.into());
            let err = Connection::resolve(&a, &FileConfig::default(), DEFAULT_ADDRESS);
            assert!(err.is_err(), "{bad} accepted");
        }
        let mut a = args();
        a.tls_cert_path = Some("c.pem".into());
        assert!(Connection::resolve(&a, &FileConfig::default(), DEFAULT_ADDRESS).is_err());
    }

    #[test]
    fn pools_are_read_from_the_file_and_checked() {
        let file = FileConfig::parse(
            "[[pools]]\nname = \"py\"\ncommand = \"python3\"\nargs = [\"-m\", \"w\"]\nsize = 2\n",
            Path::new("h.toml"),
        )
        .unwrap();
        assert_eq!(file.pools.len(), 1);
        assert_eq!(file.pools[0].size, 2);
        let err = FileConfig::parse(
            "[[pools]]\nname = \"py\"\ncommand = \"python3\"\nsizee = 2\n",
            Path::new("h.toml"),
        )
        .unwrap_err();
        assert!(err.to_string().contains("sizee"), "{err}");
    }

    #[test]
    fn missing_explicit_config_file_is_an_error() {
        let err = FileConfig::load(Some(Path::new("/nonexistent/hourglass.toml"))).unwrap_err();
        assert!(err.to_string().contains("/nonexistent/hourglass.toml"));
    }
}
