//! Start-up recovery: puts each loaded run's pending tasks back on their queues and re-arms its timers.
use crate::prelude::*;

impl Inner<'_> {
    /// Start-up: finds every workflow id's current run from the store's index, loads the
    /// open runs only (with their histories), puts their tasks back on their queues and
    /// re-arms their timers, and arms the retention timers of closed runs without loading
    /// them. Returns how many runs were loaded.
    pub(crate) fn recover(&mut self) -> crate::error::Result<usize> {
        let Some(store) = self.store.as_ref() else {
            return Ok(0);
        };
        let index = store.load_index()?;
        let open = store.load_open_executions()?;
        let mut latest: HashMap<(String, String), (bool, i64, String)> = HashMap::new();
        for row in &index {
            let cand = (row.open, row.start_ms, row.key.run_id.clone());
            let e = latest
                .entry((row.key.namespace.clone(), row.key.workflow_id.clone()))
                .or_insert(cand.clone());
            // Open beats closed, then the latest start; run ids (UUID v7) break ties.
            if cand > *e {
                *e = cand;
            }
        }
        for ((ns, wf), (_, _, run)) in latest {
            self.execs.set_current(&ns, &wf, run);
        }
        let count = open.len();
        let mut keys = Vec::with_capacity(count);
        for se in open {
            let key = se.state.key();
            self.execs.insert(
                key.clone(),
                Exec::new(se.state, se.events, self.s.time.clone()),
            );
            keys.push(key);
        }
        for key in &keys {
            self.rearm(key);
        }
        for row in index.into_iter().filter(|r| !r.open) {
            if let Some(close_ms) = row.close_ms {
                self.arm_retention_at(&row.key, close_ms);
            }
        }
        Ok(count)
    }

    /// After loading from disk: puts every pending task back on its queue and re-arms timers.
    pub(crate) fn rearm(&mut self, key: &ExecKey) {
        let Some(ex) = self.execs.get(key) else {
            return;
        };
        if !ex.st.is_open() {
            return;
        }
        let st = ex.st.clone();
        let now = self.now_ms();
        match &st.wft {
            Some(w) if w.started_event_id.is_none() => self.push_task(
                QueueKey {
                    namespace: key.namespace.clone(),
                    name: st.task_queue.clone(),
                    activity: false,
                },
                Task::Wft {
                    key: key.clone(),
                    scheduled_event_id: w.scheduled_event_id,
                },
            ),
            Some(w) => self.arm(
                w.timeout_ms.unwrap_or(now),
                TimerTask::WftTimeout {
                    key: key.clone(),
                    scheduled_event_id: w.scheduled_event_id,
                },
            ),
            None => match st.wft_retry_at_ms {
                Some(at) => self.arm(at, TimerTask::WftRetry { key: key.clone() }),
                None if !st.buffered.is_empty() => {
                    if let Some(ex) = self.execs.get_mut(key) {
                        ex.flush();
                    }
                    self.ensure_wft(key);
                }
                None => {}
            },
        }
        for (sid, a) in &st.activities {
            let sid = *sid;
            if let Some(s) = a.started_ms {
                self.arm(
                    s + a.start_to_close_ms,
                    act_timer(key, sid, a.attempt, ActTimer::StartToClose),
                );
                if a.heartbeat_ms > 0 {
                    let last = a.last_heartbeat_ms.unwrap_or(s);
                    self.arm(
                        last + a.heartbeat_ms,
                        act_timer(key, sid, a.attempt, ActTimer::Heartbeat),
                    );
                }
            } else if a.attempt_scheduled_ms > now {
                self.arm(
                    a.attempt_scheduled_ms,
                    act_timer(key, sid, a.attempt, ActTimer::Retry),
                );
            } else {
                self.push_task(
                    QueueKey {
                        namespace: key.namespace.clone(),
                        name: a.task_queue.clone(),
                        activity: true,
                    },
                    Task::Activity {
                        key: key.clone(),
                        scheduled_event_id: sid,
                        attempt: a.attempt,
                    },
                );
                if a.schedule_to_start_ms > 0 {
                    self.arm(
                        a.attempt_scheduled_ms + a.schedule_to_start_ms,
                        act_timer(key, sid, a.attempt, ActTimer::ScheduleToStart),
                    );
                }
            }
            if a.schedule_to_close_ms > 0 {
                self.arm(
                    a.first_scheduled_ms + a.schedule_to_close_ms,
                    act_timer(key, sid, 0, ActTimer::ScheduleToClose),
                );
            }
        }
        for (id, t) in &st.timers {
            self.arm(
                t.fire_ms,
                TimerTask::User {
                    key: key.clone(),
                    timer_id: id.clone(),
                    started_event_id: t.started_event_id,
                },
            );
        }
        if let Some(d) = st.run_deadline_ms {
            self.arm(d, TimerTask::RunTimeout { key: key.clone() });
        }
    }
}
