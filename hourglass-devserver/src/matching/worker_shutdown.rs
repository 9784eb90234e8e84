//! Graceful poll completion on worker shutdown, as Temporal's matching service does when a
//! namespace advertises `worker_poll_complete_on_shutdown`.
//!
//! A worker that sees that capability does not cancel its open long polls when it shuts down
//! (a poll cancelled just as the server handed it a task loses that task until its timeout).
//! Instead it calls `ShutdownWorker` with its `worker_instance_key`, and the server answers
//! every open poll carrying that key with an empty response — and any later poll with that
//! key at once. Guarantees:
//! - After [`ShutDownWorkers::shut_down`] returns, [`ShutDownWorkers::is_shut_down`] is true
//!   for the key, and every receiver from [`ShutDownWorkers::subscribe`] sees a change, so
//!   waiting polls re-check promptly.
//! - An empty key (a worker that sends none) is never shut down: its polls run to their
//!   timeout as before.
//! - Keys are forgotten [`FORGET_AFTER`] after their shutdown, so the set stays small.

use parking_lot::Mutex;
use std::collections::HashMap;
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;

/// How long a shut-down worker instance key is remembered.
pub const FORGET_AFTER: Duration = Duration::from_secs(5 * 60);

/// The worker instance keys whose workers have shut down.
#[derive(Debug)]
pub struct ShutDownWorkers {
    keys: Mutex<HashMap<String, Instant>>,
    changed: watch::Sender<u64>,
}

impl Default for ShutDownWorkers {
    fn default() -> Self {
        Self::new()
    }
}

impl ShutDownWorkers {
    /// An empty set.
    pub fn new() -> Self {
        Self {
            keys: Mutex::new(HashMap::new()),
            changed: watch::Sender::new(0),
        }
    }

    /// Records that the worker with `key` shut down and wakes every waiting poll. Returns
    /// false (and records nothing) for an empty key.
    pub fn shut_down(&self, key: &str, now: Instant) -> bool {
        if key.is_empty() {
            return false;
        }
        {
            let mut keys = self.keys.lock();
            keys.retain(|_, at| now.saturating_duration_since(*at) < FORGET_AFTER);
            keys.insert(key.to_string(), now);
        }
        self.changed.send_modify(|n| *n = n.wrapping_add(1));
        true
    }

    /// Whether polls carrying `key` must be answered empty at once.
    pub fn is_shut_down(&self, key: &str) -> bool {
        !key.is_empty() && self.keys.lock().contains_key(key)
    }

    /// A receiver that changes whenever a worker shuts down.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_shut_down_key_is_affected_and_empty_keys_never_are() {
        let w = ShutDownWorkers::new();
        let now = Instant::now();
        assert!(!w.shut_down("", now));
        assert!(!w.is_shut_down(""));
        assert!(w.shut_down("a", now));
        assert!(w.is_shut_down("a"));
        assert!(!w.is_shut_down("b"));
    }

    #[tokio::test]
    async fn a_shutdown_wakes_subscribers() {
        let w = ShutDownWorkers::new();
        let mut rx = w.subscribe();
        w.shut_down("k", Instant::now());
        tokio::time::timeout(Duration::from_secs(5), rx.changed())
            .await
            .expect("woken")
            .expect("sender alive");
    }

    #[test]
    fn keys_are_forgotten_after_a_while() {
        let w = ShutDownWorkers::new();
        let t0 = Instant::now();
        w.shut_down("old", t0);
        w.shut_down("new", t0 + FORGET_AFTER);
        assert!(!w.is_shut_down("old"));
        assert!(w.is_shut_down("new"));
    }
}
