//! When a time-skipping server jumps its clock: as Temporal's test server, only when its
//! lock counter is at zero — outstanding work (a workflow task scheduled or running, an
//! activity scheduled or running but not backing off before a retry, a query waiting for
//! its task) holds one lock each, LockTimeSkipping callers one each —; then virtual time
//! jumps to the next timer, sleeper or schedule action.
use crate::prelude::*;

impl Inner<'_> {
    /// How many locks outstanding work holds: one per workflow task scheduled, running
    /// or about to be retried, per activity scheduled or running (not backing off before
    /// a retry), and per query waiting for its task. Time must not skip past a worker
    /// that is about to act.
    pub(crate) fn outstanding_work(&self) -> i64 {
        let now = self.now_ms();
        let per_run: usize = self
            .execs
            .values()
            .filter(|ex| ex.st.is_open())
            .map(|ex| {
                let wft = usize::from(ex.st.wft.is_some() || ex.st.wft_retry_at_ms.is_some());
                let activities = ex
                    .st
                    .activities
                    .values()
                    .filter(|a| {
                        a.started_ms.is_some()
                            || (a.paused.is_none() && a.attempt_scheduled_ms <= now)
                    })
                    .count();
                wft + activities
            })
            .sum();
        i64::try_from(per_run + self.s.queries.lock().len()).unwrap_or(i64::MAX)
    }

    /// The virtual time to jump to, if the clock may skip now: the earliest of the next
    /// timer of an open run, the next sleeper and the next schedule action, when it is in
    /// the future. (Retention never fires on a skipping clock: the test server keeps runs.)
    pub(crate) fn time_skip_target(&mut self) -> Option<i64> {
        if !self.s.time.is_skipping() || self.s.time.locked(self.outstanding_work()) {
            return None;
        }
        let timer = self
            .s
            .timers
            .lock()
            .due
            .iter()
            .find(|(_, t)| self.timer_of_open_run(t))
            .map(|(&(at, _), _)| at);
        let schedule = self.next_schedule_action_ms();
        let target = [timer, self.s.time.next_sleeper(), schedule]
            .into_iter()
            .flatten()
            .min()?;
        (target > self.now_ms()).then_some(target)
    }

    /// Whether a timer task belongs to a run still open: the timers a closed run leaves
    /// behind (a user timer, a timeout) and retention are not worth a jump.
    fn timer_of_open_run(&self, t: &TimerTask) -> bool {
        !matches!(t, TimerTask::Retention { .. })
            && self.execs.get(t.key()).is_some_and(|ex| ex.st.is_open())
    }

    /// When the next schedule action is due (unpaused schedules with actions left).
    fn next_schedule_action_ms(&mut self) -> Option<i64> {
        self.globals()
            .schedules
            .values()
            .filter_map(ScheduleRec::next_action_ms)
            .min()
    }
}
