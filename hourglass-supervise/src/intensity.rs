//! Restart intensity: OTP's sliding window of restart timestamps.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::time::Instant;

/// Restart intensity limit: at most `max_restarts` restarts within any `period`.
///
/// As in OTP, a restart is recorded *before* it is attempted, and the limit is exceeded when the
/// number of restarts inside the window becomes greater than `max_restarts`. Default: 3 in 5 s.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IntensityLimit {
    /// Maximum restarts allowed inside `period`.
    pub max_restarts: u32,
    /// Length of the sliding window.
    pub period: Duration,
}

impl Default for IntensityLimit {
    fn default() -> Self {
        Self {
            max_restarts: 3,
            period: Duration::from_secs(5),
        }
    }
}

/// The restart history of one supervisor.
#[derive(Debug)]
pub(crate) struct Intensity {
    limit: IntensityLimit,
    stamps: VecDeque<Instant>,
}

impl Intensity {
    pub(crate) fn new(limit: IntensityLimit) -> Self {
        Self {
            limit,
            stamps: VecDeque::new(),
        }
    }

    /// Records a restart at `now`; returns false if the limit is now exceeded.
    pub(crate) fn add_restart(&mut self, now: Instant) -> bool {
        while let Some(&oldest) = self.stamps.front() {
            if now.duration_since(oldest) >= self.limit.period {
                self.stamps.pop_front();
            } else {
                break;
            }
        }
        self.stamps.push_back(now);
        self.stamps.len() <= self.limit.max_restarts as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_counts_before_restart_and_slides() {
        let t0 = Instant::now();
        let mut i = Intensity::new(IntensityLimit {
            max_restarts: 2,
            period: Duration::from_secs(5),
        });
        assert!(i.add_restart(t0));
        assert!(i.add_restart(t0 + Duration::from_secs(1)));
        // third inside 5 s exceeds
        assert!(!i.add_restart(t0 + Duration::from_secs(2)));

        let mut i = Intensity::new(IntensityLimit {
            max_restarts: 2,
            period: Duration::from_secs(5),
        });
        assert!(i.add_restart(t0));
        assert!(i.add_restart(t0 + Duration::from_secs(3)));
        // the first has slid out of the window
        assert!(i.add_restart(t0 + Duration::from_secs(6)));
        assert!(!i.add_restart(t0 + Duration::from_secs(7)));
    }

    #[test]
    fn zero_intensity_never_restarts() {
        let mut i = Intensity::new(IntensityLimit {
            max_restarts: 0,
            period: Duration::from_secs(5),
        });
        assert!(!i.add_restart(Instant::now()));
    }
}
