//! The crate's error type.
use std::path::PathBuf;

/// Everything that can go wrong starting or running the dev server.
#[derive(Debug, thiserror::Error)]
pub enum DevServerError {
    /// The SQLite database could not be opened, created or migrated.
    #[error("cannot open database {path}: {source}")]
    OpenDatabase {
        /// The database path (or `:memory:`).
        path: PathBuf,
        /// The underlying SQLite error.
        source: rusqlite::Error,
    },
    /// A read or write of the database failed while serving.
    #[error("database error: {0}")]
    Database(#[from] rusqlite::Error),
    /// Stored state could not be decoded (corrupted or written by an incompatible version).
    #[error("corrupt stored state for {what}: {detail}")]
    Corrupt {
        /// Which record.
        what: String,
        /// What was wrong.
        detail: String,
    },
    /// The listen address could not be bound (port in use, permission, ...).
    #[error("cannot bind {addr}: {source}")]
    Bind {
        /// The requested address.
        addr: std::net::SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
    /// A setting given to the server is not usable (the message says which and why).
    #[error("invalid dev server setting: {0}")]
    Config(String),
    /// A file the server was pointed at (certificate, key, key file) cannot be read.
    #[error("cannot read {what} {path}: {source}")]
    ReadFile {
        /// What the file is for.
        what: &'static str,
        /// The path given.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The TLS certificate, key or client CA is not usable.
    #[error("TLS setup failed: {0}")]
    Tls(String),
    /// The gRPC server failed.
    #[error("gRPC server error: {0}")]
    Transport(#[from] tonic::transport::Error),
}

/// Result alias for this crate.
pub type Result<T, E = DevServerError> = std::result::Result<T, E>;
