//! The server's clock (Temporal's `clock.TimeSource`): wall time, or — in time-skipping
//! mode — a virtual clock with the semantics of Temporal's test server
//! (sdk-java `SelfAdvancingTimerImpl` and `TestService`):
//!
//! - Virtual time runs with wall time, and jumps forward to the next due timer whenever
//!   skipping is unlocked: no external lock (LockTimeSkipping) is held and no work is
//!   outstanding (the engine says whether a workflow task, activity, child start or query
//!   is pending). With no timer at all, time only runs with the wall clock.
//! - It never goes backwards; `Sleep` / `SleepUntil` wait for virtual time to reach their
//!   deadline, and take part in the jump like any timer.
//! - Time skipping starts locked unless enabled at start (as `--enable-time-skipping`):
//!   one external lock is held from the start.
//! - As in the Java server, locks form one counter: outstanding work counts as locks, and
//!   an UnlockTimeSkipping may release the lock of outstanding work (an activity that calls
//!   `env.sleep()` lets time run past its own heartbeat timeout). Only an unlock that would
//!   take the counter below zero is refused.
use parking_lot::Mutex;
use std::collections::BTreeMap;
use tokio::sync::oneshot;

/// Wall-clock milliseconds since the Unix epoch.
pub(crate) fn wall_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// The clock. Cheap to read; shared by the engine and the TestService.
#[derive(Debug, Default)]
pub(crate) struct TimeSource {
    /// `None`: wall time, no skipping.
    skipping: Option<Mutex<Virtual>>,
}

#[derive(Debug, Default)]
struct Virtual {
    /// Virtual minus wall time.
    offset_ms: i64,
    /// Locks taken with LockTimeSkipping (and the initial one) minus unlocks; below zero
    /// when an unlock released the lock of outstanding work.
    external_locks: i64,
    /// Sleep / SleepUntil callers by deadline, and whether waking takes an external lock
    /// (UnlockTimeSkippingWithSleep), atomically with the wake.
    sleepers: BTreeMap<(i64, u64), (oneshot::Sender<()>, bool)>,
    sleeper_seq: u64,
}

/// LockTimeSkipping / UnlockTimeSkipping errors.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(crate) enum TimeSkippingError {
    /// The server does not skip time.
    #[error("time skipping is not enabled on this server (start it with --time-skipping)")]
    NotEnabled,
    /// More unlocks than locks.
    #[error("Unbalanced lock and unlock calls: time skipping is not locked")]
    Unbalanced,
}

impl Virtual {
    fn release(&mut self, outstanding: i64) -> Result<(), TimeSkippingError> {
        if self.external_locks + outstanding <= 0 {
            return Err(TimeSkippingError::Unbalanced);
        }
        self.external_locks -= 1;
        Ok(())
    }
}

impl TimeSource {
    /// Wall time.
    pub(crate) fn wall() -> Self {
        Self::default()
    }

    /// A virtual clock starting at wall time; `locked` holds one external lock from the
    /// start (Temporal's test server without `--enable-time-skipping`).
    pub(crate) fn skipping(locked: bool) -> Self {
        Self {
            skipping: Some(Mutex::new(Virtual {
                external_locks: i64::from(locked),
                ..Virtual::default()
            })),
        }
    }

    /// Whether this clock skips time.
    pub(crate) fn is_skipping(&self) -> bool {
        self.skipping.is_some()
    }

    /// Now, in milliseconds since the Unix epoch (virtual when skipping).
    pub(crate) fn now_ms(&self) -> i64 {
        let offset = self.skipping.as_ref().map_or(0, |v| v.lock().offset_ms);
        wall_ms() + offset
    }

    /// Takes one external lock: no skipping until it is released.
    pub(crate) fn lock(&self) -> Result<(), TimeSkippingError> {
        let v = self
            .skipping
            .as_ref()
            .ok_or(TimeSkippingError::NotEnabled)?;
        v.lock().external_locks += 1;
        tracing::debug!("time skipping locked");
        Ok(())
    }

    /// Releases one lock; `outstanding` is how many locks outstanding work holds now.
    pub(crate) fn unlock(&self, outstanding: i64) -> Result<(), TimeSkippingError> {
        let v = self
            .skipping
            .as_ref()
            .ok_or(TimeSkippingError::NotEnabled)?;
        let mut v = v.lock();
        v.release(outstanding)?;
        tracing::debug!(
            locks = v.external_locks,
            outstanding,
            "time skipping unlocked"
        );
        Ok(())
    }

    /// Whether the counter (external locks plus `outstanding` work) holds time.
    pub(crate) fn locked(&self, outstanding: i64) -> bool {
        self.skipping
            .as_ref()
            .is_some_and(|v| v.lock().external_locks + outstanding > 0)
    }

    /// A receiver that resolves once virtual time reaches `at_ms` (at once if it has).
    /// `unlock_first` (with the outstanding work's lock count) releases a lock when the
    /// sleeper is registered and takes one again when it wakes (Temporal's
    /// UnlockTimeSkippingWithSleep), both under the clock's lock so no jump falls between.
    pub(crate) fn sleep_until(
        &self,
        at_ms: i64,
        unlock_first: Option<i64>,
    ) -> Result<oneshot::Receiver<()>, TimeSkippingError> {
        let v = self
            .skipping
            .as_ref()
            .ok_or(TimeSkippingError::NotEnabled)?;
        let (tx, rx) = oneshot::channel();
        let mut g = v.lock();
        if let Some(outstanding) = unlock_first {
            g.release(outstanding)?;
        }
        g.sleeper_seq += 1;
        let seq = g.sleeper_seq;
        g.sleepers
            .insert((at_ms, seq), (tx, unlock_first.is_some()));
        Ok(rx)
    }

    /// The earliest sleeper's deadline.
    pub(crate) fn next_sleeper(&self) -> Option<i64> {
        let v = self.skipping.as_ref()?;
        v.lock().sleepers.first_key_value().map(|(&(at, _), _)| at)
    }

    /// Wakes every sleeper whose deadline has come.
    pub(crate) fn wake_sleepers(&self) {
        let Some(v) = self.skipping.as_ref() else {
            return;
        };
        let now = wall_ms();
        let mut g = v.lock();
        let virtual_now = now + g.offset_ms;
        while let Some(entry) = g.sleepers.first_entry() {
            if entry.key().0 > virtual_now {
                break;
            }
            let (tx, relock) = entry.remove();
            if relock {
                g.external_locks += 1;
            }
            // A sleeper that went away (its RPC was cancelled) just drops its sender.
            let _ = tx.send(());
        }
    }

    /// Moves virtual time forward to `at_ms` (never backwards). Answers whether it moved.
    pub(crate) fn skip_to(&self, at_ms: i64) -> bool {
        let Some(v) = self.skipping.as_ref() else {
            return false;
        };
        let mut g = v.lock();
        let now = wall_ms() + g.offset_ms;
        if at_ms <= now {
            return false;
        }
        g.offset_ms += at_ms - now;
        tracing::debug!(to_ms = at_ms, skipped_ms = at_ms - now, "time skipped");
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wall_time_cannot_be_locked_or_skipped() {
        let t = TimeSource::wall();
        assert_eq!(t.lock(), Err(TimeSkippingError::NotEnabled));
        assert!(!t.locked(5), "wall time is never held");
        assert!(!t.skip_to(wall_ms() + 10_000));
        assert!((t.now_ms() - wall_ms()).abs() < 1_000);
    }

    #[test]
    fn virtual_time_only_moves_forward_and_locks_balance() {
        let t = TimeSource::skipping(true);
        assert!(t.locked(0));
        t.unlock(0).unwrap();
        assert!(!t.locked(0));
        assert_eq!(t.unlock(0), Err(TimeSkippingError::Unbalanced));
        // An unlock may release the lock outstanding work holds, and no more.
        t.unlock(1).unwrap();
        assert!(!t.locked(1));
        assert_eq!(t.unlock(1), Err(TimeSkippingError::Unbalanced));
        let day = 86_400_000;
        let target = t.now_ms() + 30 * day;
        assert!(t.skip_to(target));
        assert!(t.now_ms() >= target);
        assert!(!t.skip_to(target - day), "never backwards");
    }

    #[tokio::test]
    async fn sleepers_wake_when_virtual_time_reaches_them() {
        let t = TimeSource::skipping(false);
        let at = t.now_ms() + 3_600_000;
        let mut rx = t.sleep_until(at, None).unwrap();
        t.wake_sleepers();
        assert!(rx.try_recv().is_err(), "not yet");
        assert_eq!(t.next_sleeper(), Some(at));
        t.skip_to(at);
        t.wake_sleepers();
        assert!(rx.await.is_ok());
        assert_eq!(t.next_sleeper(), None);
    }

    #[tokio::test]
    async fn unlock_with_sleep_holds_the_lock_again_when_it_wakes() {
        let t = TimeSource::skipping(true);
        let at = t.now_ms() + 60_000;
        let rx = t.sleep_until(at, Some(0)).unwrap();
        assert!(!t.locked(0), "unlocked while sleeping");
        t.skip_to(at);
        t.wake_sleepers();
        rx.await.unwrap();
        assert!(t.locked(0), "locked again on waking");
        let none = TimeSource::skipping(false);
        assert_eq!(
            none.sleep_until(at, Some(0)).err(),
            Some(TimeSkippingError::Unbalanced)
        );
    }
}
