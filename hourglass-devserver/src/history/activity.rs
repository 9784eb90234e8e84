//! Activities: the ScheduleActivityTask / RequestCancelActivityTask commands, activity task
//! dispatch, heartbeats, completion/failure/cancellation (by token or id) and the activity timers
//! (Temporal: service/history's activity state machine).
use crate::history::activity_timeouts::normalize_schedule_activity;
use crate::prelude::*;

impl Engine {
    /// RecordActivityTaskHeartbeat: what the worker is told (cancel requested, paused, reset).
    pub async fn heartbeat(
        &self,
        token: &[u8],
        details: Option<Payloads>,
    ) -> RpcResult<HeartbeatReply> {
        self.with_token_workflow(token, |g| {
            let (key, sid) = g.started_activity(token)?;
            g.heartbeat(&key, sid, details)
        })
        .await
    }

    /// RecordActivityTaskHeartbeatById.
    pub async fn heartbeat_by_id(
        &self,
        ns: &str,
        wf: &str,
        run: &str,
        activity_id: &str,
        details: Option<Payloads>,
    ) -> RpcResult<HeartbeatReply> {
        self.with_workflow_local(ns, wf, |g| {
            let (key, sid) = g.activity_by_id(ns, wf, run, activity_id)?;
            g.heartbeat(&key, sid, details)
        })
        .await
    }

    /// Completes, fails or cancels an activity by task token.
    pub async fn finish_activity(
        &self,
        token: &[u8],
        identity: &str,
        result: ActivityResult,
    ) -> RpcResult<()> {
        self.with_token_workflow(token, |g| {
            let (key, sid) = g.started_activity(token)?;
            g.finish_activity(&key, sid, identity, result);
            Ok(())
        })
        .await
    }

    /// Completes, fails or cancels an activity by id.
    pub async fn finish_activity_by_id(
        &self,
        ns: &str,
        wf: &str,
        run: &str,
        activity_id: &str,
        identity: &str,
        result: ActivityResult,
    ) -> RpcResult<()> {
        self.with_workflow_local(ns, wf, |g| {
            let (key, sid) = g.activity_by_id(ns, wf, run, activity_id)?;
            g.finish_activity(&key, sid, identity, result);
            Ok(())
        })
        .await
    }
}

/// Whether a result event (completed, failed, timed out, canceled) of the activity
/// scheduled as `scheduled_event_id` is buffered.
fn has_buffered_activity_result(buffered: &[BufferedEvent], scheduled_event_id: i64) -> bool {
    buffered.iter().any(|b| {
        let Some(attrs) = HistoryEvent::decode(b.bytes.as_slice())
            .ok()
            .and_then(|e| e.attributes)
        else {
            return false;
        };
        let sid = match attrs {
            A::ActivityTaskCompletedEventAttributes(a) => a.scheduled_event_id,
            A::ActivityTaskFailedEventAttributes(a) => a.scheduled_event_id,
            A::ActivityTaskTimedOutEventAttributes(a) => a.scheduled_event_id,
            A::ActivityTaskCanceledEventAttributes(a) => a.scheduled_event_id,
            _ => return false,
        };
        sid == scheduled_event_id
    })
}

impl Inner<'_> {
    /// The ScheduleActivityTask command.
    pub(crate) fn schedule_activity_task_command(
        &mut self,
        key: &ExecKey,
        a: cmd::ScheduleActivityTaskCommandAttributes,
        cx: &mut CmdCtx<'_>,
    ) -> RpcResult<()> {
        let now = cx.now;
        let completed_id = cx.completed_id;
        let ex = self.exec_mut(key)?;
        // Temporal passes the run's configured run timeout (not the time left).
        let run_timeout = dur(ex.st.run_deadline_ms.map_or(0, |d| d - ex.st.start_ms));
        let n = normalize_schedule_activity(&a, &run_timeout, &ex.st.task_queue)
            .map_err(|e| status::invalid(e.to_string()))?;
        let tq = n.task_queue.name.clone();
        let ms = |d: &prost_wkt_types::Duration| dur_ms(&Some(*d));
        let (s2c, s2s) = (ms(&n.schedule_to_close), ms(&n.schedule_to_start));
        let rp = n.retry_policy.clone();
        let scheduled = h::ActivityTaskScheduledEventAttributes {
            activity_id: a.activity_id.clone(),
            activity_type: a.activity_type.clone(),
            task_queue: Some(n.task_queue),
            header: a.header,
            input: a.input,
            schedule_to_close_timeout: Some(n.schedule_to_close),
            schedule_to_start_timeout: Some(n.schedule_to_start),
            start_to_close_timeout: Some(n.start_to_close),
            heartbeat_timeout: Some(n.heartbeat),
            workflow_task_completed_event_id: completed_id,
            retry_policy: Some(rp),
            use_workflow_build_id: a.use_workflow_build_id,
            priority: a.priority,
        };
        let sid = ex.st.next_event_id;
        let activity = scheduled_activity(sid, now, &scheduled);
        ex.add(A::ActivityTaskScheduledEventAttributes(scheduled));
        ex.st.activities.insert(sid, activity);
        self.push_task(
            QueueKey {
                namespace: key.namespace.clone(),
                name: tq,
                activity: true,
            },
            Task::Activity {
                key: key.clone(),
                scheduled_event_id: sid,
                attempt: 1,
            },
        );
        if s2s > 0 {
            self.arm(now + s2s, act_timer(key, sid, 1, ActTimer::ScheduleToStart));
        }
        if s2c > 0 {
            self.arm(now + s2c, act_timer(key, sid, 0, ActTimer::ScheduleToClose));
        }
        Ok(())
    }

    /// The RequestCancelActivityTask command.
    pub(crate) fn request_cancel_activity_task_command(
        &mut self,
        key: &ExecKey,
        a: cmd::RequestCancelActivityTaskCommandAttributes,
        cx: &mut CmdCtx<'_>,
    ) -> RpcResult<()> {
        let completed_id = cx.completed_id;
        let identity = cx.identity;
        let ex = self.exec_mut(key)?;
        let sid = a.scheduled_event_id;
        let Some(act) = ex.st.activities.get(&sid).cloned() else {
            // Temporal's AddActivityTaskCancelRequestedEvent: an activity whose result is
            // buffered (it finished while this task ran) still gets the request recorded,
            // before its result; one whose result is in history has nothing to cancel.
            if has_buffered_activity_result(&ex.st.buffered, sid) {
                ex.add(A::ActivityTaskCancelRequestedEventAttributes(
                    h::ActivityTaskCancelRequestedEventAttributes {
                        scheduled_event_id: sid,
                        workflow_task_completed_event_id: completed_id,
                    },
                ));
            }
            return Ok(());
        };
        let crid = ex.add(A::ActivityTaskCancelRequestedEventAttributes(
            h::ActivityTaskCancelRequestedEventAttributes {
                scheduled_event_id: sid,
                workflow_task_completed_event_id: completed_id,
            },
        ));
        if act.started_ms.is_none() {
            ex.st.activities.remove(&sid);
            ex.add(A::ActivityTaskCanceledEventAttributes(
                h::ActivityTaskCanceledEventAttributes {
                    latest_cancel_requested_event_id: crid,
                    scheduled_event_id: sid,
                    started_event_id: 0,
                    identity: identity.to_string(),
                    ..Default::default()
                },
            ));
            cx.eff.need_wft = true;
        } else if let Some(a) = ex.st.activities.get_mut(&sid) {
            a.cancel_requested = true;
            a.cancel_requested_event_id = crid;
        }
        Ok(())
    }

    /// Starts an activity task taken off a queue; None when it is stale (the attempt
    /// moved on, it started already, or it is paused).
    pub(crate) fn start_activity_task(
        &mut self,
        task: Task,
        _qk: &QueueKey,
        identity: &str,
    ) -> Option<ws::PollActivityTaskQueueResponse> {
        let Task::Activity {
            key,
            scheduled_event_id: sid,
            attempt,
        } = task
        else {
            return None;
        };
        let now = self.now_ms();
        let ex = self.execs.get_mut(&key)?;
        if !ex.st.is_open() {
            return None;
        }
        let act = ex.st.activities.get_mut(&sid)?;
        // A paused activity's task is dropped; unpausing dispatches it again.
        if act.attempt != attempt || act.started_ms.is_some() || act.paused.is_some() {
            return None;
        }
        act.started_ms = Some(now);
        act.started_identity = identity.to_string();
        act.last_heartbeat_ms = None;
        let act = act.clone();
        let sched = ex
            .events
            .get((sid - 1) as usize)
            .and_then(|e| match &e.attributes {
                Some(A::ActivityTaskScheduledEventAttributes(s)) => Some(s.clone()),
                _ => None,
            });
        let sched = sched.unwrap_or_default();
        let resp = ws::PollActivityTaskQueueResponse {
            task_token: TaskToken::Activity {
                key: key.clone(),
                scheduled_event_id: sid,
                attempt,
            }
            .encode(),
            workflow_namespace: key.namespace.clone(),
            workflow_type: Some(WorkflowType {
                name: ex.st.workflow_type.clone(),
            }),
            workflow_execution: Some(exec_of(&key)),
            activity_type: sched.activity_type,
            activity_id: act.activity_id.clone(),
            header: sched.header,
            input: sched.input,
            heartbeat_details: act.heartbeat_details.clone(),
            scheduled_time: Some(ts(act.first_scheduled_ms)),
            current_attempt_scheduled_time: Some(ts(act.attempt_scheduled_ms)),
            started_time: Some(ts(now)),
            attempt,
            // As Temporal: the scheduled event's normalised values, always present.
            schedule_to_close_timeout: Some(sched.schedule_to_close_timeout.unwrap_or_default()),
            start_to_close_timeout: Some(sched.start_to_close_timeout.unwrap_or_default()),
            heartbeat_timeout: Some(sched.heartbeat_timeout.unwrap_or_default()),
            retry_policy: Some(act.retry_policy.clone()),
            priority: sched.priority,
            ..Default::default()
        };
        self.dirty.insert(key.clone());
        self.arm(
            now + act.start_to_close_ms,
            act_timer(&key, sid, attempt, ActTimer::StartToClose),
        );
        if act.heartbeat_ms > 0 {
            self.arm(
                now + act.heartbeat_ms,
                act_timer(&key, sid, attempt, ActTimer::Heartbeat),
            );
        }
        Some(resp)
    }

    pub(crate) fn started_activity(&self, token: &[u8]) -> RpcResult<(ExecKey, i64)> {
        let Some(TaskToken::Activity {
            key,
            scheduled_event_id,
            attempt,
        }) = TaskToken::decode(token)
        else {
            return Err(status::invalid("malformed activity task token"));
        };
        let ex = self
            .execs
            .get(&key)
            .ok_or_else(|| status::not_found("workflow execution not found"))?;
        match ex.st.activities.get(&scheduled_event_id) {
            Some(a) if ex.st.is_open() && a.attempt == attempt && a.started_ms.is_some() => {
                Ok((key, scheduled_event_id))
            }
            _ => Err(status::not_found("activity task not found")),
        }
    }

    pub(crate) fn activity_by_id(
        &mut self,
        ns: &str,
        wf: &str,
        run: &str,
        activity_id: &str,
    ) -> RpcResult<(ExecKey, i64)> {
        let key = self.resolve(
            ns,
            &Some(WorkflowExecution {
                workflow_id: wf.to_string(),
                run_id: run.to_string(),
            }),
        )?;
        let ex = self
            .execs
            .get(&key)
            .ok_or_else(|| status::not_found("workflow execution not found"))?;
        ex.st
            .activities
            .values()
            .find(|a| a.activity_id == activity_id)
            .map(|a| (key.clone(), a.scheduled_event_id))
            .ok_or_else(|| status::not_found(format!("activity {activity_id} not found")))
    }

    pub(crate) fn heartbeat(
        &mut self,
        key: &ExecKey,
        sid: i64,
        details: Option<Payloads>,
    ) -> RpcResult<HeartbeatReply> {
        let ex = self
            .execs
            .get_mut(key)
            .ok_or_else(|| status::not_found("workflow execution not found"))?;
        let a = ex
            .st
            .activities
            .get_mut(&sid)
            .ok_or_else(|| status::not_found("activity task not found"))?;
        a.last_heartbeat_ms = Some(ex.time.now_ms());
        if details.is_some() {
            a.heartbeat_details = details;
        }
        let reply = HeartbeatReply {
            cancel_requested: a.cancel_requested,
            activity_paused: a.paused.is_some(),
            activity_reset: a.reset,
        };
        self.dirty.insert(key.clone());
        Ok(reply)
    }

    pub(crate) fn finish_activity(
        &mut self,
        key: &ExecKey,
        sid: i64,
        identity: &str,
        result: ActivityResult,
    ) {
        let Some(ex) = self.execs.get_mut(key) else {
            return;
        };
        let Some(act) = ex.st.activities.get(&sid).cloned() else {
            return;
        };
        match result {
            ActivityResult::Completed(r) => {
                ex.st.activities.remove(&sid);
                ex.add_activity_result(
                    Some(activity_started(&act, identity)),
                    A::ActivityTaskCompletedEventAttributes(
                        h::ActivityTaskCompletedEventAttributes {
                            result: r,
                            scheduled_event_id: sid,
                            identity: identity.to_string(),
                            ..Default::default()
                        },
                    ),
                );
                self.ensure_wft(key);
            }
            ActivityResult::Canceled(details) => {
                ex.st.activities.remove(&sid);
                ex.add_activity_result(
                    Some(activity_started(&act, identity)),
                    A::ActivityTaskCanceledEventAttributes(
                        h::ActivityTaskCanceledEventAttributes {
                            details,
                            latest_cancel_requested_event_id: act.cancel_requested_event_id,
                            scheduled_event_id: sid,
                            identity: identity.to_string(),
                            ..Default::default()
                        },
                    ),
                );
                self.ensure_wft(key);
            }
            ActivityResult::Failed(f) => self.activity_attempt_failed(key, sid, *f, None, identity),
        }
    }

    /// An attempt failed or timed out: retry per the policy or record the final failure.
    pub(crate) fn activity_attempt_failed(
        &mut self,
        key: &ExecKey,
        sid: i64,
        failure: Option<Failure>,
        timeout: Option<TimeoutType>,
        identity: &str,
    ) {
        let now = self.now_ms();
        let Some(ex) = self.execs.get_mut(key) else {
            return;
        };
        let Some(act) = ex.st.activities.get(&sid).cloned() else {
            return;
        };
        // ResetActivity while it ran set the attempt count back to 1 (Temporal's
        // `ResetActivity`): the retry is decided, and numbered, from there.
        let mut counted = act.clone();
        if counted.reset {
            counted.attempt = 1;
        }
        let (retry_state, delay) = retry_decision(&counted, failure.as_ref(), timeout, now);
        if let Some(delay) = delay {
            let Some(a) = ex.st.activities.get_mut(&sid) else {
                return;
            };
            if std::mem::take(&mut a.reset) {
                a.attempt = 1;
                if std::mem::take(&mut a.reset_heartbeats) {
                    a.heartbeat_details = None;
                }
            }
            a.attempt += 1;
            a.started_ms = None;
            // Temporal's RetryActivity keeps the attempt's failure, for a timeout the server's
            // timeout failure, as the next attempt's last failure.
            a.last_failure = failure.or_else(|| timeout.map(server_timeout_failure));
            a.attempt_scheduled_ms = now + delay;
            a.last_heartbeat_ms = None;
            let attempt = a.attempt;
            tracing::debug!(workflow_id = %key.workflow_id, activity = %a.activity_id, attempt, delay, "activity retry scheduled");
            self.dirty.insert(key.clone());
            self.arm(now + delay, act_timer(key, sid, attempt, ActTimer::Retry));
            return;
        }
        ex.st.activities.remove(&sid);
        let started = act.started_ms.map(|_| activity_started(&act, identity));
        let result = match timeout {
            Some(tt) => {
                let mut f = server_timeout_failure(tt);
                if let Some(FailureInfo::TimeoutFailureInfo(info)) = f.failure_info.as_mut() {
                    info.last_heartbeat_details = act.heartbeat_details.clone();
                }
                f.cause = act.last_failure.clone().map(Box::new);
                A::ActivityTaskTimedOutEventAttributes(h::ActivityTaskTimedOutEventAttributes {
                    failure: Some(f),
                    scheduled_event_id: sid,
                    started_event_id: 0,
                    retry_state: retry_state as i32,
                })
            }
            None => A::ActivityTaskFailedEventAttributes(h::ActivityTaskFailedEventAttributes {
                failure,
                scheduled_event_id: sid,
                identity: identity.to_string(),
                retry_state: retry_state as i32,
                ..Default::default()
            }),
        };
        ex.add_activity_result(started, result);
        self.ensure_wft(key);
    }

    /// One of an activity's timers fired (retry backoff or a timeout).
    pub(crate) fn fire_activity_timer(
        &mut self,
        key: ExecKey,
        sid: i64,
        attempt: i32,
        kind: ActTimer,
        now: i64,
    ) {
        let Some(ex) = self.execs.get_mut(&key) else {
            return;
        };
        if !ex.st.is_open() {
            return;
        }
        let Some(act) = ex.st.activities.get(&sid).cloned() else {
            return;
        };
        if kind != ActTimer::ScheduleToClose && act.attempt != attempt {
            return;
        }
        // A paused activity is neither dispatched nor timed out before it starts.
        if act.paused.is_some() && matches!(kind, ActTimer::Retry | ActTimer::ScheduleToStart) {
            return;
        }
        match kind {
            ActTimer::Retry => {
                let tq = act.task_queue.clone();
                self.push_task(
                    QueueKey {
                        namespace: key.namespace.clone(),
                        name: tq,
                        activity: true,
                    },
                    Task::Activity {
                        key: key.clone(),
                        scheduled_event_id: sid,
                        attempt,
                    },
                );
                if act.schedule_to_start_ms > 0 {
                    self.arm(
                        now + act.schedule_to_start_ms,
                        act_timer(&key, sid, attempt, ActTimer::ScheduleToStart),
                    );
                }
            }
            ActTimer::ScheduleToStart => {
                if act.started_ms.is_none()
                    && act.attempt_scheduled_ms + act.schedule_to_start_ms <= now
                {
                    self.activity_attempt_failed(
                        &key,
                        sid,
                        None,
                        Some(TimeoutType::ScheduleToStart),
                        "",
                    );
                }
            }
            ActTimer::ScheduleToClose => {
                if act.first_scheduled_ms + act.schedule_to_close_ms <= now {
                    self.activity_attempt_failed(
                        &key,
                        sid,
                        None,
                        Some(TimeoutType::ScheduleToClose),
                        "",
                    );
                }
            }
            ActTimer::StartToClose => {
                if let Some(s) = act.started_ms
                    && s + act.start_to_close_ms <= now
                {
                    self.activity_attempt_failed(
                        &key,
                        sid,
                        None,
                        Some(TimeoutType::StartToClose),
                        "",
                    );
                }
            }
            ActTimer::Heartbeat => {
                let Some(s) = act.started_ms else { return };
                let last = act.last_heartbeat_ms.unwrap_or(s);
                if last + act.heartbeat_ms <= now {
                    self.activity_attempt_failed(&key, sid, None, Some(TimeoutType::Heartbeat), "");
                } else {
                    self.arm(
                        last + act.heartbeat_ms,
                        act_timer(&key, sid, attempt, ActTimer::Heartbeat),
                    );
                }
            }
        }
    }
}

/// What a heartbeat answers the worker (RecordActivityTaskHeartbeatResponse).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HeartbeatReply {
    /// The workflow requested cancellation.
    pub cancel_requested: bool,
    /// PauseActivity paused it: the worker should stop this attempt.
    pub activity_paused: bool,
    /// ResetActivity reset it: the worker should stop this attempt.
    pub activity_reset: bool,
}

/// How an activity attempt ended, as reported by a worker.
pub enum ActivityResult {
    /// Completed with a result.
    Completed(Option<Payloads>),
    /// Failed (may be retried).
    Failed(Box<Option<Failure>>),
    /// Canceled after a cancel request.
    Canceled(Option<Payloads>),
}

/// The pending activity an ActivityTaskScheduled event describes, at attempt 1.
pub(crate) fn scheduled_activity(
    id: i64,
    at: i64,
    a: &h::ActivityTaskScheduledEventAttributes,
) -> Activity {
    Activity {
        scheduled_event_id: id,
        activity_id: a.activity_id.clone(),
        activity_type: a
            .activity_type
            .as_ref()
            .map(|t| t.name.clone())
            .unwrap_or_default(),
        task_queue: a
            .task_queue
            .as_ref()
            .map(|t| t.name.clone())
            .unwrap_or_default(),
        attempt: 1,
        first_scheduled_ms: at,
        attempt_scheduled_ms: at,
        started_ms: None,
        started_identity: String::new(),
        last_heartbeat_ms: None,
        heartbeat_details: None,
        cancel_requested: false,
        cancel_requested_event_id: 0,
        retry_policy: a.retry_policy.clone().unwrap_or_default(),
        schedule_to_close_ms: dur_ms(&a.schedule_to_close_timeout),
        schedule_to_start_ms: dur_ms(&a.schedule_to_start_timeout),
        start_to_close_ms: dur_ms(&a.start_to_close_timeout),
        heartbeat_ms: dur_ms(&a.heartbeat_timeout),
        last_failure: None,
        paused: None,
        reset: false,
        reset_heartbeats: false,
    }
}

pub(crate) fn act_timer(key: &ExecKey, sid: i64, attempt: i32, kind: ActTimer) -> TimerTask {
    TimerTask::Activity {
        key: key.clone(),
        scheduled_event_id: sid,
        attempt,
        kind,
    }
}

pub(crate) fn activity_started(act: &Activity, identity: &str) -> A {
    A::ActivityTaskStartedEventAttributes(h::ActivityTaskStartedEventAttributes {
        scheduled_event_id: act.scheduled_event_id,
        identity: if act.started_identity.is_empty() {
            identity.to_string()
        } else {
            act.started_identity.clone()
        },
        request_id: new_id(),
        attempt: act.attempt,
        last_failure: act.last_failure.clone(),
        ..Default::default()
    })
}

/// The failure Temporal's timer queue records for an activity attempt that timed out
/// (`failure.NewTimeoutFailure`: message `activity <type> timeout`, source `Server`).
pub(crate) fn server_timeout_failure(tt: TimeoutType) -> Failure {
    Failure {
        message: format!("activity {} timeout", timeout_name(tt)),
        source: "Server".to_string(),
        failure_info: Some(FailureInfo::TimeoutFailureInfo(TimeoutFailureInfo {
            timeout_type: tt as i32,
            last_heartbeat_details: None,
        })),
        ..Default::default()
    }
}

pub(crate) fn timeout_name(t: TimeoutType) -> &'static str {
    match t {
        TimeoutType::StartToClose => "StartToClose",
        TimeoutType::ScheduleToStart => "ScheduleToStart",
        TimeoutType::ScheduleToClose => "ScheduleToClose",
        TimeoutType::Heartbeat => "Heartbeat",
        TimeoutType::Unspecified => "Unspecified",
    }
}
