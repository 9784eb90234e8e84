//! Forwarding of the core's log records to a host callback.

use hourglass_proto::abi::{HgBytes, HgLogCallback};
use std::ffi::c_void;
use temporalio_common::telemetry::{CoreLog, CoreLogConsumer};

/// A [`CoreLogConsumer`] that hands every record to the host's log callback.
pub struct HostLogForwarder {
    cb: HgLogCallback,
    user_data: *mut c_void,
}

// SAFETY: the host promises (ABI contract of `HgLogCallback`) that the callback and its
// user data may be used from any thread, concurrently.
unsafe impl Send for HostLogForwarder {}
// SAFETY: as above; the forwarder holds no interior state.
unsafe impl Sync for HostLogForwarder {}

impl std::fmt::Debug for HostLogForwarder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostLogForwarder").finish_non_exhaustive()
    }
}

impl HostLogForwarder {
    /// Wraps a host callback.
    pub fn new(cb: HgLogCallback, user_data: *mut c_void) -> Self {
        Self { cb, user_data }
    }
}

/// Maps a `tracing` level to the ABI's level number (1 = error .. 5 = trace).
pub fn level_number(level: tracing::Level) -> u32 {
    match level {
        tracing::Level::ERROR => 1,
        tracing::Level::WARN => 2,
        tracing::Level::INFO => 3,
        tracing::Level::DEBUG => 4,
        tracing::Level::TRACE => 5,
    }
}

impl CoreLogConsumer for HostLogForwarder {
    fn on_log(&self, log: CoreLog) {
        let fields = serde_json::to_vec(&log.fields).unwrap_or_else(|_| b"{}".to_vec());
        // SAFETY: the host registered this callback for log records; every byte view is
        // valid for the duration of the call.
        unsafe {
            (self.cb)(
                self.user_data,
                level_number(log.level),
                HgBytes::from_slice(log.target.as_bytes()),
                HgBytes::from_slice(log.message.as_bytes()),
                HgBytes::from_slice(&fields),
            )
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_are_ordered() {
        assert_eq!(level_number(tracing::Level::ERROR), 1);
        assert_eq!(level_number(tracing::Level::TRACE), 5);
    }
}
