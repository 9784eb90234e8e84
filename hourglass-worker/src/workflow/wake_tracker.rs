//! Nondeterminism detection: notices wakes that do not come from the workflow SDK.
//!
//! Adapted from temporalio-sdk 1.1.1 `src/workflow_executor.rs` (`WakeTracker`, MIT, Copyright
//! (c) 2021 Temporal Technologies, Inc.), with one change: a wake that workflow code makes
//! synchronously, on the evaluating thread while the run is being polled, is a cooperative
//! yield, not nondeterminism. Combinators such as `futures::future::join_all` over more than 30
//! futures (which becomes a `FuturesOrdered`), `FuturesUnordered` and `select_all` wake their
//! own waker after a batch of polls and expect to be polled again; the official tracker flags
//! that and fails the task on every attempt, so such a workflow could never finish. The yield
//! depends only on the workflow's own code and state, so replaying it gives the same commands.
//! What stays nondeterminism is a wake from anywhere else: another thread (a tokio timer, a
//! channel fed by a thread) or any wake outside a poll.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    task::{Wake, Waker},
    thread::{self, ThreadId},
};

use temporalio_workflow::__private::sdk::is_sdk_wake;

/// Persists across polls of one run. Each poll gets a waker that sets the shared flags when it
/// is woken from outside an SDK wake scope.
pub(crate) struct WakeTracker {
    shared: Arc<Shared>,
}

struct Shared {
    /// A wake from another thread, or while the run was not being polled.
    non_sdk_wake_detected: AtomicBool,
    /// A wake by workflow code during a poll, on the polling thread: poll again.
    yielded: AtomicBool,
    /// Whether a poll of the run is under way (see [`WakeTracker::poll`]).
    polling: AtomicBool,
}

impl WakeTracker {
    pub(crate) fn new() -> Self {
        Self {
            shared: Arc::new(Shared {
                non_sdk_wake_detected: AtomicBool::new(false),
                yielded: AtomicBool::new(false),
                polling: AtomicBool::new(false),
            }),
        }
    }

    /// A waker for one poll on this thread that forwards to `parent` and records non-SDK wakes.
    pub(crate) fn new_per_poll_waker(&self, parent: &Waker) -> Waker {
        Waker::from(Arc::new(PerPollWakeTracker {
            shared: self.shared.clone(),
            polling_thread: thread::current().id(),
            parent_waker: parent.clone(),
        }))
    }

    /// Runs `poll` (one synchronous poll of the run) with in-poll wakes counted as yields.
    pub(crate) fn poll<T>(&self, poll: impl FnOnce() -> T) -> T {
        self.shared.polling.store(true, Ordering::Release);
        let out = poll();
        self.shared.polling.store(false, Ordering::Release);
        out
    }

    /// Whether a non-SDK wake happened since the last call (and clears the flag).
    pub(crate) fn take_non_sdk_wake(&self) -> bool {
        self.shared
            .non_sdk_wake_detected
            .swap(false, Ordering::AcqRel)
    }

    /// Whether workflow code yielded (woke itself during a poll) since the last call, so the
    /// run must be polled again (and clears the flag).
    pub(crate) fn take_yield(&self) -> bool {
        self.shared.yielded.swap(false, Ordering::AcqRel)
    }
}

struct PerPollWakeTracker {
    shared: Arc<Shared>,
    polling_thread: ThreadId,
    parent_waker: Waker,
}

impl Wake for PerPollWakeTracker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if !is_sdk_wake() {
            let in_poll = self.shared.polling.load(Ordering::Acquire)
                && thread::current().id() == self.polling_thread;
            let flag = if in_poll {
                &self.shared.yielded
            } else {
                &self.shared.non_sdk_wake_detected
            };
            flag.store(true, Ordering::Release);
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
        assert!(
            tracker.take_non_sdk_wake(),
            "a wake outside a poll is flagged"
        );
        assert!(!tracker.take_non_sdk_wake(), "flag is cleared by take");
        assert!(!tracker.take_yield());

        let cancellation = WorkflowCancellationToken::new();
        let mut cancelled = std::pin::pin!(cancellation.cancelled());
        let mut cx = Context::from_waker(&waker);
        assert!(cancelled.as_mut().poll(&mut cx).is_pending());
        cancellation.cancel();
        assert!(!tracker.take_non_sdk_wake(), "an SDK wake is not flagged");
    }

    #[test]
    fn a_wake_during_the_poll_on_the_polling_thread_is_a_yield() {
        let tracker = WakeTracker::new();
        let waker = tracker.new_per_poll_waker(Waker::noop());
        tracker.poll(|| waker.wake_by_ref());
        assert!(tracker.take_yield());
        assert!(!tracker.take_yield(), "cleared by take");
        assert!(
            !tracker.take_non_sdk_wake(),
            "a yield is not nondeterminism"
        );
    }

    #[test]
    fn a_wake_from_another_thread_during_the_poll_is_nondeterminism() {
        let tracker = WakeTracker::new();
        let waker = tracker.new_per_poll_waker(Waker::noop());
        tracker.poll(|| {
            let w = waker.clone();
            let joined = thread::spawn(move || w.wake()).join();
            assert!(joined.is_ok());
        });
        assert!(tracker.take_non_sdk_wake());
        assert!(!tracker.take_yield());
    }
}
