//! Nondeterminism detection: notices wakes that do not come from the workflow SDK.
//!
//! Adapted from temporalio-sdk 1.1.1 `src/workflow_executor.rs` (`WakeTracker`, MIT, Copyright
//! (c) 2021 Temporal Technologies, Inc.).

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    task::{Wake, Waker},
};

use temporalio_workflow::__private::sdk::is_sdk_wake;

/// Persists across polls of one run. Each poll gets a waker that sets the shared flag when it is
/// woken from outside an SDK wake scope (tokio timers, channels, other threads, ...).
pub(crate) struct WakeTracker {
    non_sdk_wake_detected: Arc<AtomicBool>,
}

impl WakeTracker {
    pub(crate) fn new() -> Self {
        Self {
            non_sdk_wake_detected: Arc::new(AtomicBool::new(false)),
        }
    }

    /// A waker for one poll that forwards to `parent` and records non-SDK wakes.
    pub(crate) fn new_per_poll_waker(&self, parent: &Waker) -> Waker {
        Waker::from(Arc::new(PerPollWakeTracker {
            non_sdk_wake_detected: self.non_sdk_wake_detected.clone(),
            parent_waker: parent.clone(),
        }))
    }

    /// Whether a non-SDK wake happened since the last call (and clears the flag).
    pub(crate) fn take_non_sdk_wake(&self) -> bool {
        self.non_sdk_wake_detected.swap(false, Ordering::AcqRel)
    }
}

struct PerPollWakeTracker {
    non_sdk_wake_detected: Arc<AtomicBool>,
    parent_waker: Waker,
}

impl Wake for PerPollWakeTracker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if !is_sdk_wake() {
            self.non_sdk_wake_detected.store(true, Ordering::Release);
        }
        self.parent_waker.wake_by_ref();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::{future::Future, task::Context};
    use temporalio_workflow::WorkflowCancellationToken;

    #[test]
    fn distinguishes_sdk_wakes_from_others() {
        let tracker = WakeTracker::new();
        let waker = tracker.new_per_poll_waker(Waker::noop());
        waker.wake_by_ref();
        assert!(tracker.take_non_sdk_wake());
        assert!(!tracker.take_non_sdk_wake(), "flag is cleared by take");

        let cancellation = WorkflowCancellationToken::new();
        let mut cancelled = std::pin::pin!(cancellation.cancelled());
        let mut cx = Context::from_waker(&waker);
        assert!(cancelled.as_mut().poll(&mut cx).is_pending());
        cancellation.cancel();
        assert!(!tracker.take_non_sdk_wake(), "an SDK wake is not flagged");
    }
}
