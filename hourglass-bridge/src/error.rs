//! The bridge's error type.

use hourglass_proto::abi;
use std::path::PathBuf;

/// Every failure of the bridge: loading the library, reload detection, and every error status
/// the core can report (one variant per ABI status code).
#[derive(Debug, thiserror::Error)]
pub enum BridgeError {
    /// The library file does not exist.
    #[error("core library not found at {}", path.display())]
    LibraryNotFound {
        /// The path that was tried.
        path: PathBuf,
    },
    /// The file exists but the dynamic loader refused it (not a shared library, wrong
    /// architecture, unresolved dependencies ...).
    #[error("{} is not a loadable library: {message}", path.display())]
    NotALibrary {
        /// The file.
        path: PathBuf,
        /// The loader's message.
        message: String,
    },
    /// The library implements another ABI version.
    #[error("core library {} implements ABI version {found}, this bridge requires {expected}", path.display())]
    AbiMismatch {
        /// The file.
        path: PathBuf,
        /// The version this bridge speaks.
        expected: u32,
        /// The version the library reported.
        found: u32,
    },
    /// The library lacks a required symbol.
    #[error("core library {} lacks the symbol `{symbol}`", path.display())]
    MissingSymbol {
        /// The file.
        path: PathBuf,
        /// The missing symbol.
        symbol: &'static str,
    },
    /// Preparing the private copy of the library failed.
    #[error("copying core library {} to {}: {source}", from.display(), to.display())]
    Copy {
        /// The library.
        from: PathBuf,
        /// The copy's path.
        to: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The handle was issued by an older load of the core; the core has been reloaded since.
    #[error(
        "the core was reloaded: handle from generation {handle_generation}, current generation {current}"
    )]
    Reloaded {
        /// Generation of the handle.
        handle_generation: u64,
        /// Current generation.
        current: u64,
    },
    /// Reload was requested on a linked core (which has no file to reload).
    #[error("reload is not supported for a linked core")]
    ReloadUnsupported,
    /// The file watcher could not be set up.
    #[error("watching {}: {message}", path.display())]
    Watch {
        /// The watched file.
        path: PathBuf,
        /// The watcher's error.
        message: String,
    },
    /// The core rejected the handle (freed, stale, wrong kind, forged).
    #[error("{0}")]
    InvalidHandle(String),
    /// The core rejected an argument.
    #[error("{0}")]
    InvalidArgument(String),
    /// Protobuf bytes were malformed (input to the core).
    #[error("{0}")]
    Malformed(String),
    /// The worker has shut down: polls return this once draining is complete.
    #[error("worker has shut down")]
    ShutDown,
    /// Connecting to the server failed.
    #[error("{0}")]
    Connect(String),
    /// The Temporal core reported an error.
    #[error("{0}")]
    Core(String),
    /// The core panicked; the panic was contained.
    #[error("{0}")]
    Panic(String),
    /// The operation conflicts with one in progress (concurrent poll, finalize while busy).
    #[error("{0}")]
    Busy(String),
    /// The operation was dropped before completing (its runtime shut down).
    #[error("{0}")]
    Cancelled(String),
    /// A result from the core could not be decoded.
    #[error("decoding {what} returned by the core: {source}")]
    Decode {
        /// The expected message.
        what: &'static str,
        /// The decoder's complaint.
        source: prost::DecodeError,
    },
    /// The core returned a status this bridge does not know.
    #[error("unknown status {status} from the core: {message}")]
    UnknownStatus {
        /// The status code.
        status: u32,
        /// The accompanying message.
        message: String,
    },
}

impl BridgeError {
    /// Maps an ABI error status and its message to a variant.
    pub fn from_status(status: u32, message: String) -> Self {
        match status {
            abi::STATUS_INVALID_HANDLE => BridgeError::InvalidHandle(message),
            abi::STATUS_INVALID_ARGUMENT => BridgeError::InvalidArgument(message),
            abi::STATUS_MALFORMED => BridgeError::Malformed(message),
            abi::STATUS_SHUT_DOWN => BridgeError::ShutDown,
            abi::STATUS_CONNECT => BridgeError::Connect(message),
            abi::STATUS_CORE => BridgeError::Core(message),
            abi::STATUS_PANIC => BridgeError::Panic(message),
            abi::STATUS_BUSY => BridgeError::Busy(message),
            abi::STATUS_CANCELLED => BridgeError::Cancelled(message),
            status => BridgeError::UnknownStatus { status, message },
        }
    }

    /// Whether this error means the handle's library generation is gone (a reload happened).
    pub fn is_reloaded(&self) -> bool {
        matches!(self, BridgeError::Reloaded { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_maps_to_its_own_variant() {
        let all = [
            abi::STATUS_INVALID_HANDLE,
            abi::STATUS_INVALID_ARGUMENT,
            abi::STATUS_MALFORMED,
            abi::STATUS_SHUT_DOWN,
            abi::STATUS_CONNECT,
            abi::STATUS_CORE,
            abi::STATUS_PANIC,
            abi::STATUS_BUSY,
            abi::STATUS_CANCELLED,
            999,
        ];
        let names: std::collections::HashSet<_> = all
            .iter()
            .map(|s| {
                let e = BridgeError::from_status(*s, "m".into());
                format!("{e:?}")
                    .split('(')
                    .next()
                    .unwrap()
                    .split(' ')
                    .next()
                    .unwrap()
                    .to_owned()
            })
            .collect();
        assert_eq!(names.len(), all.len());
    }
}
