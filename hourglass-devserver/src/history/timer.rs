//! User timers: the StartTimer / CancelTimer commands and TimerFired.
use crate::prelude::*;

/// Removes the buffered TimerFired of `timer_id`, returning its timer's started event id.
pub(crate) fn take_buffered_timer_fired(
    buffered: &mut Vec<BufferedEvent>,
    timer_id: &str,
) -> Option<i64> {
    let (index, started_event_id) = buffered.iter().enumerate().find_map(|(i, b)| {
        match HistoryEvent::decode(b.bytes.as_slice()).ok()?.attributes? {
            A::TimerFiredEventAttributes(f) if f.timer_id == timer_id => {
                Some((i, f.started_event_id))
            }
            _ => None,
        }
    })?;
    buffered.remove(index);
    Some(started_event_id)
}

impl Inner<'_> {
    /// The StartTimer command.
    pub(crate) fn start_timer_command(
        &mut self,
        key: &ExecKey,
        a: cmd::StartTimerCommandAttributes,
        cx: &mut CmdCtx<'_>,
    ) -> RpcResult<()> {
        let now = cx.now;
        let completed_id = cx.completed_id;
        let ex = self.exec_mut(key)?;
        let ms = dur_ms(&a.start_to_fire_timeout).max(1);
        if a.timer_id.is_empty() {
            return Err(status::invalid("StartTimer: timer id is required"));
        }
        let id = ex.add(A::TimerStartedEventAttributes(
            h::TimerStartedEventAttributes {
                timer_id: a.timer_id.clone(),
                start_to_fire_timeout: a.start_to_fire_timeout,
                workflow_task_completed_event_id: completed_id,
            },
        ));
        ex.st.timers.insert(
            a.timer_id.clone(),
            Timer {
                started_event_id: id,
                fire_ms: now + ms,
            },
        );
        self.arm(
            now + ms,
            TimerTask::User {
                key: key.clone(),
                timer_id: a.timer_id,
                started_event_id: id,
            },
        );
        Ok(())
    }

    /// The CancelTimer command.
    pub(crate) fn cancel_timer_command(
        &mut self,
        key: &ExecKey,
        a: cmd::CancelTimerCommandAttributes,
        cx: &mut CmdCtx<'_>,
    ) -> RpcResult<()> {
        let completed_id = cx.completed_id;
        let identity = cx.identity;
        let ex = self.exec_mut(key)?;
        // Temporal's AddTimerCanceledEvent: a timer that fired while this task ran has its
        // TimerFired buffered; the cancel takes that event out and is recorded instead, so
        // the history follows the worker's commands.
        let started_event_id = match ex.st.timers.remove(&a.timer_id) {
            Some(t) => Some(t.started_event_id),
            None => take_buffered_timer_fired(&mut ex.st.buffered, &a.timer_id),
        };
        if let Some(started_event_id) = started_event_id {
            ex.add(A::TimerCanceledEventAttributes(
                h::TimerCanceledEventAttributes {
                    timer_id: a.timer_id,
                    started_event_id,
                    workflow_task_completed_event_id: completed_id,
                    identity: identity.to_string(),
                },
            ));
        }
        Ok(())
    }

    /// A user timer fired.
    pub(crate) fn fire_user_timer(
        &mut self,
        key: ExecKey,
        timer_id: String,
        started_event_id: i64,
    ) {
        let Some(ex) = self.execs.get_mut(&key) else {
            return;
        };
        if !ex.st.is_open()
            || ex
                .st
                .timers
                .get(&timer_id)
                .is_none_or(|t| t.started_event_id != started_event_id)
        {
            return;
        }
        ex.st.timers.remove(&timer_id);
        ex.add_or_buffer(A::TimerFiredEventAttributes(h::TimerFiredEventAttributes {
            timer_id,
            started_event_id,
        }));
        self.ensure_wft(&key);
    }
}
