//! Poller scaling decisions: the hints a Temporal server attaches to poll responses so that
//! SDK workers using poller autoscaling (the default when a namespace advertises
//! `poller_autoscaling_auto_enroll`) grow their number of concurrent polls while a backlog
//! builds up and shrink it when polls sit idle.
//!
//! The rules are those of Temporal's matching service, with its default settings:
//! - a poll that waited at least [`SCALE_DOWN_WAIT`] before it got a task suggests one poll
//!   fewer;
//! - otherwise, if the queue still holds a task older than [`BACKLOG_AGE_SCALE_UP`], it
//!   suggests one poll more;
//! - decisions are rate limited to [`DECISIONS_PER_SECOND`] per recent poller identity, so
//!   the poller count does not spike.
use std::collections::HashMap;
use std::time::Duration;
use temporalio_protos::temporal::api::taskqueue::v1::PollerScalingDecision;
use tokio::time::Instant;

/// A poll that waited this long for its task suggests scaling down.
pub const SCALE_DOWN_WAIT: Duration = Duration::from_secs(1);
/// A backlog whose oldest task is older than this suggests scaling up.
pub const BACKLOG_AGE_SCALE_UP: Duration = Duration::from_millis(200);
/// Scale decisions allowed per second, per recent poller identity.
pub const DECISIONS_PER_SECOND: f64 = 10.0;
/// How long a poller identity counts as recent.
const POLLER_MEMORY: Duration = Duration::from_secs(300);

/// One task queue's scaling state: recent poller identities and the decision budget.
#[derive(Debug)]
pub struct PollerScaling {
    pollers: HashMap<String, Instant>,
    /// Token bucket in decisions; refilled at `DECISIONS_PER_SECOND × recent pollers`.
    tokens: f64,
    refilled: Instant,
}

impl PollerScaling {
    /// A fresh state with a full budget of one second's decisions.
    pub fn new(now: Instant) -> Self {
        Self {
            pollers: HashMap::new(),
            tokens: DECISIONS_PER_SECOND,
            refilled: now,
        }
    }

    /// Records that `identity` polled this queue.
    pub fn saw_poller(&mut self, identity: &str, now: Instant) {
        match self.pollers.get_mut(identity) {
            Some(t) => *t = now,
            None => {
                self.pollers
                    .retain(|_, t| now.saturating_duration_since(*t) < POLLER_MEMORY);
                self.pollers.insert(identity.to_string(), now);
            }
        }
    }

    /// The decision for a poll that started at `poll_started` and got a task at `now`,
    /// leaving `backlog` tasks queued, the oldest enqueued at `oldest` (if any).
    pub fn decide(
        &mut self,
        poll_started: Instant,
        now: Instant,
        backlog: usize,
        oldest: Option<Instant>,
    ) -> Option<PollerScalingDecision> {
        if now.saturating_duration_since(poll_started) >= SCALE_DOWN_WAIT {
            return Some(PollerScalingDecision {
                poll_request_delta_suggestion: -1,
            });
        }
        let recent = self.pollers.len().max(1) as f64;
        let rate = DECISIONS_PER_SECOND * recent;
        let elapsed = now.saturating_duration_since(self.refilled).as_secs_f64();
        self.tokens = (self.tokens + elapsed * rate).min(rate);
        self.refilled = now;
        if self.tokens < 1.0 {
            return None;
        }
        let aged = oldest.is_some_and(|t| now.saturating_duration_since(t) > BACKLOG_AGE_SCALE_UP);
        if backlog > 0 && aged {
            self.tokens -= 1.0;
            return Some(PollerScalingDecision {
                poll_request_delta_suggestion: 1,
            });
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delta(d: Option<PollerScalingDecision>) -> Option<i32> {
        d.map(|d| d.poll_request_delta_suggestion)
    }

    #[test]
    fn idle_poll_suggests_scaling_down() {
        let t0 = Instant::now();
        let mut s = PollerScaling::new(t0);
        let now = t0 + SCALE_DOWN_WAIT;
        assert_eq!(delta(s.decide(t0, now, 0, None)), Some(-1));
        // Even with a backlog: the poller waited, so there are too many.
        assert_eq!(delta(s.decide(t0, now, 5, Some(t0))), Some(-1));
    }

    #[test]
    fn aged_backlog_suggests_scaling_up_and_a_fresh_one_does_not() {
        let t0 = Instant::now();
        let mut s = PollerScaling::new(t0);
        let now = t0 + Duration::from_millis(500);
        assert_eq!(delta(s.decide(now, now, 3, Some(t0))), Some(1));
        let young = now - Duration::from_millis(50);
        assert_eq!(delta(s.decide(now, now, 3, Some(young))), None);
        assert_eq!(delta(s.decide(now, now, 0, None)), None);
    }

    #[test]
    fn decisions_are_rate_limited_per_recent_poller() {
        let t0 = Instant::now();
        let mut s = PollerScaling::new(t0);
        s.saw_poller("w1", t0);
        let now = t0 + Duration::from_secs(1);
        let ups = (0..100)
            .filter(|_| delta(s.decide(now, now, 10, Some(t0))) == Some(1))
            .count();
        assert_eq!(ups, DECISIONS_PER_SECOND as usize);
        // A tenth of a second later, one more decision is allowed for one poller...
        let later = now + Duration::from_millis(100);
        assert_eq!(delta(s.decide(later, later, 10, Some(t0))), Some(1));
        assert_eq!(delta(s.decide(later, later, 10, Some(t0))), None);
        // ...and twice the budget once a second identity polls too.
        s.saw_poller("w2", later);
        let after = later + Duration::from_millis(100);
        let ups = (0..100)
            .filter(|_| delta(s.decide(after, after, 10, Some(t0))) == Some(1))
            .count();
        assert_eq!(ups, 2);
    }

    #[test]
    fn pollers_are_forgotten_after_a_while() {
        let t0 = Instant::now();
        let mut s = PollerScaling::new(t0);
        s.saw_poller("old", t0);
        s.saw_poller("new", t0 + POLLER_MEMORY);
        assert_eq!(s.pollers.len(), 1);
    }
}
