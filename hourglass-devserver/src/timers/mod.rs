//! The durable timer queue: user timers, workflow-task and activity timeouts, retry backoffs and run timeouts, ordered by due time.
use crate::prelude::*;

pub(crate) mod time_skipping;
pub(crate) mod time_source;

#[derive(Debug, Clone)]
pub(crate) enum TimerTask {
    User {
        key: ExecKey,
        timer_id: String,
        started_event_id: i64,
    },
    WftTimeout {
        key: ExecKey,
        scheduled_event_id: i64,
    },
    WftRetry {
        key: ExecKey,
    },
    /// A workflow task on a sticky queue was not started in time.
    StickyTimeout {
        key: ExecKey,
        scheduled_event_id: i64,
    },
    Activity {
        key: ExecKey,
        scheduled_event_id: i64,
        attempt: i32,
        kind: ActTimer,
    },
    RunTimeout {
        key: ExecKey,
    },
    /// A closed run's retention passed (Temporal's DeleteHistoryEventTask).
    Retention {
        key: ExecKey,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ActTimer {
    ScheduleToStart,
    StartToClose,
    Heartbeat,
    ScheduleToClose,
    Retry,
}

impl Engine {
    /// Runs durable timers until `stop` is notified. On a time-skipping server it also
    /// wakes TestService sleepers, and jumps the clock when nothing is outstanding.
    pub async fn run_timers(self: Arc<Self>, stop: Arc<Notify>) {
        loop {
            self.fire_due_timers();
            if self.advance_schedules_and_clock() {
                // The clock moved: fire what came due before waiting on anything.
                continue;
            }
            let wait = self
                .next_wake()
                .map(|at| at.saturating_sub(self.now_ms()).clamp(1, 1000))
                .unwrap_or(1000);
            tokio::select! {
                _ = stop.notified() => return,
                _ = self.timer_notify.notified() => {}
                _ = tokio::time::sleep(std::time::Duration::from_millis(wait as u64)) => {}
            }
        }
    }
}

impl Engine {
    /// Fires every timer task whose time has come, each under its workflow's shard (every
    /// shard when the workflow reaches others, see `Inner::workflow_is_local`), as
    /// Temporal's timer queue processor runs a task against its execution's mutable state.
    fn fire_due_timers(&self) {
        let now = self.now_ms();
        loop {
            let due = {
                let mut timers = self.shared.timers.lock();
                match timers.due.first_key_value() {
                    Some((&(at, seq), _)) if at <= now => timers.due.remove(&(at, seq)),
                    _ => None,
                }
            };
            let Some(t) = due else { break };
            let key = t.key().clone();
            let g = self.lock_local(&key.namespace, &key.workflow_id);
            if let Err(e) = self.apply(g, |g| {
                g.fire(t);
                Ok(())
            }) {
                tracing::error!(error = %e.message(), workflow_id = %key.workflow_id, "persisting a timer's effects failed");
            }
        }
    }
}

impl Engine {
    /// Advances the schedules that are due and, on a skipping clock, wakes TestService
    /// sleepers and jumps the clock when nothing is outstanding. Every shard is held only
    /// when there is such work (a schedule starts workflows). True when the clock moved.
    fn advance_schedules_and_clock(&self) -> bool {
        let now = self.now_ms();
        let due = (self.shared.globals.lock().schedule_wakes.values()).any(|&at| at <= now);
        if !due && !self.time.is_skipping() {
            return false;
        }
        let skipped = {
            let mut g = self.lock_all();
            g.run_schedules();
            if let Err(e) = g.commit() {
                tracing::error!(error = %e.message(), "persisting schedule effects failed");
            }
            let skipped = g.time_skip_target().is_some_and(|at| g.s.time.skip_to(at));
            g.s.time.wake_sleepers();
            skipped
        };
        self.evict_closed();
        skipped
    }

    /// When the timer loop next has work: the earliest timer, TestService sleeper or
    /// schedule wake.
    fn next_wake(&self) -> Option<i64> {
        let timer = (self.shared.timers.lock().due.first_key_value()).map(|(&(at, _), _)| at);
        let schedule = self
            .shared
            .globals
            .lock()
            .schedule_wakes
            .values()
            .min()
            .copied();
        timer
            .into_iter()
            .chain(self.time.next_sleeper())
            .chain(schedule)
            .min()
    }
}

impl TimerTask {
    /// The run the timer belongs to.
    pub(crate) fn key(&self) -> &ExecKey {
        match self {
            TimerTask::User { key, .. }
            | TimerTask::WftTimeout { key, .. }
            | TimerTask::WftRetry { key }
            | TimerTask::StickyTimeout { key, .. }
            | TimerTask::Activity { key, .. }
            | TimerTask::RunTimeout { key }
            | TimerTask::Retention { key } => key,
        }
    }
}

impl Inner<'_> {
    pub(crate) fn arm(&mut self, at_ms: i64, t: TimerTask) {
        // Wake the timer loop only when this timer becomes the earliest one.
        let earliest = {
            let mut timers = self.s.timers.lock();
            let earliest = timers
                .due
                .first_key_value()
                .is_none_or(|(&(at, _), _)| at_ms < at);
            timers.seq += 1;
            let seq = timers.seq;
            timers.due.insert((at_ms, seq), t);
            earliest
        };
        if earliest {
            self.s.timer_notify.notify_one();
        }
    }

    /// Fires one due timer task.
    pub(crate) fn fire(&mut self, t: TimerTask) {
        let now = self.now_ms();
        match t {
            TimerTask::User {
                key,
                timer_id,
                started_event_id,
            } => self.fire_user_timer(key, timer_id, started_event_id),
            TimerTask::WftTimeout {
                key,
                scheduled_event_id,
            } => self.workflow_task_timed_out(key, scheduled_event_id),
            TimerTask::WftRetry { key } => self.workflow_task_retry_due(key, now),
            TimerTask::StickyTimeout {
                key,
                scheduled_event_id,
            } => self.sticky_schedule_to_start_timed_out(key, scheduled_event_id),
            TimerTask::RunTimeout { key } => self.run_timed_out(key, now),
            // Temporal's test server keeps every run: on a skipping clock, where a jump
            // can pass a retention period in an instant, closed runs stay.
            TimerTask::Retention { .. } if self.s.time.is_skipping() => {}
            TimerTask::Retention { key } => self.retention_due(key),
            TimerTask::Activity {
                key,
                scheduled_event_id,
                attempt,
                kind,
            } => self.fire_activity_timer(key, scheduled_event_id, attempt, kind, now),
        }
    }
}
