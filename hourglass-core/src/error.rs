//! The core's error type and its mapping onto ABI status codes.

use hourglass_proto::abi;

/// Every failure an export can report. Each variant maps to one ABI status code
/// ([`CoreError::status`]); the `Display` text is the message handed to the caller.
#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    /// The handle is 0, freed, of another kind, or from another loaded instance.
    #[error("invalid handle {handle:#018x}: {reason}")]
    InvalidHandle {
        /// The handle as passed.
        handle: u64,
        /// Why it was rejected.
        reason: &'static str,
    },
    /// An argument is invalid (empty identity, empty task queue, bad URL, null pointer ...).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// Protobuf bytes could not be decoded.
    #[error("malformed {what} protobuf: {source}")]
    Malformed {
        /// Which message was expected.
        what: &'static str,
        /// The decoder's complaint.
        source: prost::DecodeError,
    },
    /// The worker has shut down (or was finalized).
    #[error("worker has shut down")]
    ShutDown,
    /// Connecting to the server failed.
    #[error("connecting to {target} failed: {message}")]
    Connect {
        /// The target URL.
        target: String,
        /// The connection error.
        message: String,
    },
    /// The Temporal core reported an error.
    #[error("{0}")]
    Core(String),
    /// The core panicked; the panic was caught.
    #[error("panic in hourglass-core: {0}")]
    Panic(String),
    /// The operation conflicts with one already in progress.
    #[error("busy: {0}")]
    Busy(String),
    /// The operation was dropped before completing (its runtime shut down).
    #[error("cancelled: {0}")]
    Cancelled(String),
}

impl CoreError {
    /// The ABI status code of this error.
    pub fn status(&self) -> u32 {
        match self {
            CoreError::InvalidHandle { .. } => abi::STATUS_INVALID_HANDLE,
            CoreError::InvalidArgument(_) => abi::STATUS_INVALID_ARGUMENT,
            CoreError::Malformed { .. } => abi::STATUS_MALFORMED,
            CoreError::ShutDown => abi::STATUS_SHUT_DOWN,
            CoreError::Connect { .. } => abi::STATUS_CONNECT,
            CoreError::Core(_) => abi::STATUS_CORE,
            CoreError::Panic(_) => abi::STATUS_PANIC,
            CoreError::Busy(_) => abi::STATUS_BUSY,
            CoreError::Cancelled(_) => abi::STATUS_CANCELLED,
        }
    }

    /// Turns a caught panic payload into a [`CoreError::Panic`].
    pub fn from_panic(payload: Box<dyn std::any::Any + Send>) -> Self {
        let msg = if let Some(s) = payload.downcast_ref::<&'static str>() {
            (*s).to_owned()
        } else if let Some(s) = payload.downcast_ref::<String>() {
            s.clone()
        } else {
            "non-string panic payload".to_owned()
        };
        CoreError::Panic(msg)
    }

    /// Decodes a protobuf message, mapping failures to [`CoreError::Malformed`].
    pub fn decode<M: prost::Message + Default>(
        what: &'static str,
        bytes: &[u8],
    ) -> Result<M, CoreError> {
        M::decode(bytes).map_err(|source| CoreError::Malformed { what, source })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_distinct() {
        let errs = [
            CoreError::InvalidHandle {
                handle: 1,
                reason: "x",
            },
            CoreError::InvalidArgument("x".into()),
            CoreError::decode::<hourglass_proto::bridge::v1::WorkerConfig>("w", &[0xff])
                .err()
                .unwrap(),
            CoreError::ShutDown,
            CoreError::Connect {
                target: "t".into(),
                message: "m".into(),
            },
            CoreError::Core("x".into()),
            CoreError::Panic("x".into()),
            CoreError::Busy("x".into()),
            CoreError::Cancelled("x".into()),
        ];
        let mut codes: Vec<u32> = errs.iter().map(|e| e.status()).collect();
        assert!(!codes.contains(&abi::STATUS_OK));
        codes.sort();
        codes.dedup();
        assert_eq!(codes.len(), errs.len());
    }

    #[test]
    fn panic_payloads_become_messages() {
        let e = CoreError::from_panic(Box::new("boom"));
        assert_eq!(e.to_string(), "panic in hourglass-core: boom");
        let e = CoreError::from_panic(Box::new(String::from("bang")));
        assert_eq!(e.to_string(), "panic in hourglass-core: bang");
        let e = CoreError::from_panic(Box::new(17u8));
        assert!(e.to_string().contains("non-string"));
    }
}
