//! Workflow tasks (Temporal: service/history/workflow/workflow_task_state_machine.go):
//! scheduling on the normal or the sticky queue, dispatch to a poller with the history it
//! needs, failure and timeout, and transient attempts.
//!
//! Guarantees, as Temporal's state machine gives them:
//! - A task with attempt > 1 is *transient*: its Scheduled/Started/Failed/TimedOut events are
//!   not written. The poller receives Scheduled+Started as an unpersisted suffix of the
//!   history; when it completes, Scheduled+Started+Completed are written together. If new
//!   events arrived before it started, it becomes a normal attempt-1 task again.
//! - A failed or timed-out task is rescheduled at once. From attempt 4 on, its start-to-close
//!   timeout grows by exponential backoff (5 s initial, doubling, at most 10 min).
//! - A failure or timeout while the execution is sticky clears stickiness and does not count
//!   as an attempt (the next task is attempt 1 on the normal queue).
use crate::history::limits::HistoryLimits;
use crate::prelude::*;

/// Temporal's `workflowTaskRetryBackoffMinAttempts`: attempts up to this use the plain timeout.
const BACKOFF_MIN_ATTEMPTS: i32 = 3;
/// Temporal's `workflowTaskRetryInitialInterval`.
const BACKOFF_INITIAL_MS: i64 = 5_000;
/// Temporal's `WorkflowTaskRetryMaxInterval` default.
const BACKOFF_MAX_MS: i64 = 10 * 60_000;

/// How a started workflow task ended without completing.
pub(crate) enum WftFailure {
    /// RespondWorkflowTaskFailed (or a completion the server rejected).
    Failed {
        cause: i32,
        failure: Box<Option<Failure>>,
        identity: String,
    },
    /// Its start-to-close timeout fired.
    TimedOut,
}

/// The start-to-close timeout of attempt `attempt` (Temporal's `getStartToCloseTimeout`).
pub(crate) fn wft_start_to_close_ms(default_ms: i64, attempt: i32) -> i64 {
    if attempt <= BACKOFF_MIN_ATTEMPTS {
        return default_ms;
    }
    let exp = (attempt - BACKOFF_MIN_ATTEMPTS - 1).clamp(0, 30) as u32;
    let backoff = BACKOFF_INITIAL_MS
        .saturating_mul(1i64 << exp)
        .min(BACKOFF_MAX_MS);
    default_ms.saturating_add(backoff)
}

impl Engine {
    /// RespondWorkflowTaskFailed.
    pub async fn fail_workflow_task(
        &self,
        req: ws::RespondWorkflowTaskFailedRequest,
    ) -> RpcResult<()> {
        let token = req.task_token.clone();
        self.with_token_workflow(&token, |g| {
            let (key, _) = g.started_wft(&req.task_token)?;
            g.fail_started_wft(
                &key,
                WftFailure::Failed {
                    cause: req.cause,
                    failure: Box::new(req.failure),
                    identity: req.identity,
                },
            );
            Ok(())
        })
        .await
    }
}

impl Exec {
    /// Writes the Scheduled and Started events of a transient task that is completing.
    pub(crate) fn write_transient_events(
        &mut self,
        w: &WorkflowTask,
        identity: &str,
        limits: &HistoryLimits,
    ) {
        let tq = self.st.task_queue.clone();
        self.add(A::WorkflowTaskScheduledEventAttributes(
            h::WorkflowTaskScheduledEventAttributes {
                task_queue: Some(task_queue(&tq)),
                start_to_close_timeout: dur(w.start_to_close(self.st.wft_timeout_ms)),
                attempt: w.attempt,
            },
        ));
        let size = self.st.history_size_bytes;
        self.add(started_attrs_for(
            w.scheduled_event_id,
            identity,
            size,
            &self.st,
            limits,
        ));
    }

    /// The unpersisted Scheduled(+Started) suffix of a transient task, as the poller sees it.
    fn transient_suffix(
        &self,
        w: &WorkflowTask,
        identity: &str,
        limits: &HistoryLimits,
    ) -> Vec<HistoryEvent> {
        let tq = self.st.task_queue.clone();
        let scheduled = event(
            w.scheduled_event_id,
            w.scheduled_ms,
            A::WorkflowTaskScheduledEventAttributes(h::WorkflowTaskScheduledEventAttributes {
                task_queue: Some(task_queue(&tq)),
                start_to_close_timeout: dur(w.start_to_close(self.st.wft_timeout_ms)),
                attempt: w.attempt,
            }),
        );
        let started = event(
            w.scheduled_event_id + 1,
            w.started_ms,
            started_attrs_for(
                w.scheduled_event_id,
                identity,
                self.st.history_size_bytes,
                &self.st,
                limits,
            ),
        );
        vec![scheduled, started]
    }
}

/// WorkflowTaskStarted attributes, with Temporal's history-size hints.
fn started_attrs_for(
    sid: i64,
    identity: &str,
    size: i64,
    st: &Execution,
    limits: &HistoryLimits,
) -> A {
    let mut reasons = vec![];
    if size >= limits.size_suggest_continue_as_new {
        reasons.push(
            temporalio_protos::temporal::api::enums::v1::SuggestContinueAsNewReason::HistorySizeTooLarge
                as i32,
        );
    }
    if st.next_event_id >= limits.count_suggest_continue_as_new {
        reasons.push(
            temporalio_protos::temporal::api::enums::v1::SuggestContinueAsNewReason::TooManyHistoryEvents
                as i32,
        );
    }
    A::WorkflowTaskStartedEventAttributes(h::WorkflowTaskStartedEventAttributes {
        scheduled_event_id: sid,
        identity: identity.to_string(),
        request_id: new_id(),
        history_size_bytes: size,
        suggest_continue_as_new: !reasons.is_empty(),
        suggest_continue_as_new_reasons: reasons,
        ..Default::default()
    })
}

impl Inner<'_> {
    /// Schedules a workflow task if the run is open and has none: on the execution's sticky
    /// queue when it is sticky and that queue has a poller, else on the normal queue.
    pub(crate) fn schedule_wft(&mut self, key: &ExecKey) {
        self.schedule_wft_of(key, false);
    }

    /// Schedules a workflow task as [`Self::schedule_wft`]; `speculative` asks for a
    /// speculative one (granted only for an attempt-1 task with no new events to deliver).
    pub(crate) fn schedule_wft_of(&mut self, key: &ExecKey, speculative: bool) {
        let sticky = match self.execs.get(key) {
            Some(ex) if ex.st.is_open() && ex.st.wft.is_none() => ex.st.sticky_task_queue.clone(),
            _ => return,
        };
        let to_sticky = !sticky.is_empty() && self.sticky_queue_available(&key.namespace, &sticky);
        let Some(ex) = self.execs.get_mut(key) else {
            return;
        };
        let mut attempt = ex.st.next_wft_attempt.max(1);
        let mut speculative = speculative && attempt == 1;
        if ex.flush() {
            // New events while the task was failing: it is a normal task again.
            attempt = 1;
            speculative = false;
        }
        ex.st.next_wft_attempt = attempt;
        ex.st.wft_retry_at_ms = None;
        let normal = ex.st.task_queue.clone();
        let timeout = wft_start_to_close_ms(ex.st.wft_timeout_ms, attempt);
        let now = ex.time.now_ms();
        let id = if attempt > 1 || speculative {
            ex.st.next_event_id
        } else {
            let tq = if to_sticky {
                temporalio_protos::temporal::api::taskqueue::v1::TaskQueue {
                    name: sticky.clone(),
                    kind: TaskQueueKind::Sticky as i32,
                    normal_name: normal.clone(),
                }
            } else {
                task_queue(&normal)
            };
            ex.add(A::WorkflowTaskScheduledEventAttributes(
                h::WorkflowTaskScheduledEventAttributes {
                    task_queue: Some(tq),
                    start_to_close_timeout: dur(timeout),
                    attempt,
                },
            ))
        };
        ex.st.wft = Some(WorkflowTask {
            scheduled_event_id: id,
            started_event_id: None,
            attempt,
            scheduled_ms: now,
            started_ms: 0,
            timeout_ms: None,
            delivered_updates: vec![],
            start_to_close_ms: timeout,
            speculative,
        });
        let sticky_timeout = ex.st.sticky_schedule_to_start_ms;
        self.dirty.insert(key.clone());
        let queue = if to_sticky { sticky } else { normal };
        self.push_task(
            QueueKey {
                namespace: key.namespace.clone(),
                name: queue,
                activity: false,
            },
            Task::Wft {
                key: key.clone(),
                scheduled_event_id: id,
            },
        );
        if to_sticky && sticky_timeout > 0 {
            self.arm(
                now + sticky_timeout,
                TimerTask::StickyTimeout {
                    key: key.clone(),
                    scheduled_event_id: id,
                },
            );
        }
    }

    /// Marks the run changed and schedules a workflow task if it needs one.
    pub(crate) fn ensure_wft(&mut self, key: &ExecKey) {
        self.dirty.insert(key.clone());
        self.schedule_wft(key);
    }

    /// Starts a task taken off a workflow queue (a workflow task or a legacy query); None
    /// when it is stale.
    pub(crate) fn start_workflow_task(
        &mut self,
        task: Task,
        qk: &QueueKey,
        identity: &str,
    ) -> Option<ws::PollWorkflowTaskQueueResponse> {
        match task {
            Task::Wft {
                key,
                scheduled_event_id,
            } => {
                let r = self.start_wft(&key, scheduled_event_id, identity, qk)?;
                tracing::debug!(workflow_id = %key.workflow_id, attempt = r.attempt, identity, queue = %qk.name, "workflow task started");
                Some(r)
            }
            Task::Query { id } => self.take_query_task(id),
            Task::Activity { .. } => None,
        }
    }

    /// Starts the scheduled workflow task `sid` for a poll of `qk`. A sticky poll gets the
    /// events after the last completed task; a normal poll of a sticky execution clears its
    /// stickiness and gets the full history; a poll of a sticky queue the execution is no
    /// longer sticky to is refused (the task is skipped).
    pub(crate) fn start_wft(
        &mut self,
        key: &ExecKey,
        sid: i64,
        identity: &str,
        qk: &QueueKey,
    ) -> Option<ws::PollWorkflowTaskQueueResponse> {
        let limits = *self.s.history_limits.lock();
        let ex = self.execs.get_mut(key)?;
        if !ex.st.is_open() {
            return None;
        }
        let w = ex.st.wft.clone()?;
        if w.scheduled_event_id != sid || w.started_event_id.is_some() {
            return None;
        }
        let from_sticky = !ex.st.sticky_task_queue.is_empty() && qk.name == ex.st.sticky_task_queue;
        if !from_sticky && qk.name != ex.st.task_queue {
            return None;
        }
        if !from_sticky && !ex.st.sticky_task_queue.is_empty() {
            tracing::debug!(workflow_id = %key.workflow_id, "normal poller took a sticky execution's task; stickiness cleared");
            ex.st.set_sticky(None);
        }
        let mut w = w;
        if w.unwritten() && w.scheduled_event_id != ex.st.next_event_id {
            // New events since the transient or speculative task was scheduled: it becomes
            // a normal one.
            w.attempt = 1;
            w.speculative = false;
            w.start_to_close_ms = ex.st.wft_timeout_ms;
            let tq = ex.st.task_queue.clone();
            w.scheduled_event_id = ex.add(A::WorkflowTaskScheduledEventAttributes(
                h::WorkflowTaskScheduledEventAttributes {
                    task_queue: Some(task_queue(&tq)),
                    start_to_close_timeout: dur(w.start_to_close_ms),
                    attempt: 1,
                },
            ));
            ex.st.next_wft_attempt = 1;
        }
        let now = ex.time.now_ms();
        w.started_ms = now;
        let started_id = if w.unwritten() {
            w.scheduled_event_id + 1
        } else {
            let size = ex.st.history_size_bytes;
            ex.add(started_attrs_for(
                w.scheduled_event_id,
                identity,
                size,
                &ex.st,
                &limits,
            ))
        };
        let timeout_at = now + w.start_to_close(ex.st.wft_timeout_ms);
        let (messages, delivered) = admitted_update_messages(ex, started_id - 1);
        let pending: Vec<String> = ex.pending_queries.drain(..).collect();
        let first = if from_sticky {
            ex.st.last_completed_started_id.max(0) as usize
        } else {
            0
        };
        let mut events: Vec<HistoryEvent> = ex.events.get(first..).unwrap_or_default().to_vec();
        if w.unwritten() {
            events.extend(ex.transient_suffix(&w, identity, &limits));
        }
        self.s
            .events_delivered
            .fetch_add(events.len() as u64, std::sync::atomic::Ordering::Relaxed);
        w.started_event_id = Some(started_id);
        w.timeout_ms = Some(timeout_at);
        w.delivered_updates = delivered;
        let resp = ws::PollWorkflowTaskQueueResponse {
            task_token: TaskToken::Workflow {
                key: key.clone(),
                scheduled_event_id: w.scheduled_event_id,
                attempt: w.attempt,
            }
            .encode(),
            workflow_execution: Some(exec_of(key)),
            workflow_type: Some(WorkflowType {
                name: ex.st.workflow_type.clone(),
            }),
            previous_started_event_id: ex.st.last_completed_started_id,
            started_event_id: started_id,
            attempt: w.attempt,
            history: Some(History { events }),
            workflow_execution_task_queue: Some(task_queue(&ex.st.task_queue)),
            scheduled_time: Some(ts(w.scheduled_ms)),
            started_time: Some(ts(now)),
            messages,
            ..Default::default()
        };
        let scheduled_event_id = w.scheduled_event_id;
        ex.st.wft = Some(w);
        ex.attached_queries = pending.clone();
        let mut resp = resp;
        for q in &pending {
            if let Some(pq) = self.s.queries.lock().get(q) {
                resp.queries.insert(q.clone(), pq.query.clone());
            }
        }
        self.dirty.insert(key.clone());
        self.arm(
            timeout_at,
            TimerTask::WftTimeout {
                key: key.clone(),
                scheduled_event_id,
            },
        );
        Some(resp)
    }

    /// Validates a workflow task token against the started task; returns (key, scheduled id).
    pub(crate) fn started_wft(&self, token: &[u8]) -> RpcResult<(ExecKey, i64)> {
        let Some(TaskToken::Workflow {
            key,
            scheduled_event_id,
            ..
        }) = TaskToken::decode(token)
        else {
            return Err(status::invalid("malformed workflow task token"));
        };
        let ex = self
            .execs
            .get(&key)
            .ok_or_else(|| status::not_found("workflow execution not found"))?;
        if !ex.st.is_open() {
            return Err(status::not_found("workflow execution already completed"));
        }
        match &ex.st.wft {
            Some(w)
                if w.scheduled_event_id == scheduled_event_id && w.started_event_id.is_some() =>
            {
                Ok((key, scheduled_event_id))
            }
            _ => Err(status::not_found("Workflow task not found.")),
        }
    }

    /// Ends the started workflow task without completion (Temporal's `failWorkflowTask`) and
    /// schedules the next attempt at once.
    pub(crate) fn fail_started_wft(&mut self, key: &ExecKey, how: WftFailure) {
        let limits = *self.s.history_limits.lock();
        let Some(ex) = self.execs.get_mut(key) else {
            return;
        };
        let Some(w) = ex.st.wft.take() else { return };
        let started = w.started_event_id.unwrap_or(0);
        if w.speculative {
            // A speculative task that fails is written first, as Temporal does.
            let identity = match &how {
                WftFailure::Failed { identity, .. } => identity.clone(),
                WftFailure::TimedOut => String::new(),
            };
            ex.write_transient_events(&w, &identity, &limits);
        }
        let transient = w.attempt > 1;
        let timed_out = matches!(how, WftFailure::TimedOut);
        if !transient {
            ex.add(match how {
                WftFailure::Failed {
                    cause,
                    failure,
                    identity,
                } => A::WorkflowTaskFailedEventAttributes(h::WorkflowTaskFailedEventAttributes {
                    scheduled_event_id: w.scheduled_event_id,
                    started_event_id: started,
                    cause,
                    failure: *failure,
                    identity,
                    ..Default::default()
                }),
                WftFailure::TimedOut => {
                    A::WorkflowTaskTimedOutEventAttributes(h::WorkflowTaskTimedOutEventAttributes {
                        scheduled_event_id: w.scheduled_event_id,
                        started_event_id: started,
                        timeout_type: TimeoutType::StartToClose as i32,
                    })
                }
            });
        }
        let was_sticky = !ex.st.sticky_task_queue.is_empty();
        ex.st.next_wft_attempt = if was_sticky {
            ex.st.set_sticky(None);
            1
        } else {
            w.attempt + 1
        };
        if timed_out {
            tracing::info!(workflow_id = %key.workflow_id, attempt = w.attempt, "workflow task timed out");
        } else {
            tracing::debug!(workflow_id = %key.workflow_id, attempt = w.attempt, "workflow task failed");
        }
        self.requeue_attached_queries(key);
        self.ensure_wft(key);
    }

    /// A started workflow task ran past its start-to-close timeout.
    pub(crate) fn workflow_task_timed_out(&mut self, key: ExecKey, scheduled_event_id: i64) {
        let Some(ex) = self.execs.get(&key) else {
            return;
        };
        let current = ex.st.wft.as_ref().is_some_and(|w| {
            w.scheduled_event_id == scheduled_event_id && w.started_event_id.is_some()
        });
        if ex.st.is_open() && current {
            self.fail_started_wft(&key, WftFailure::TimedOut);
        }
    }

    /// A delayed first workflow task (the start delay) is due.
    pub(crate) fn workflow_task_retry_due(&mut self, key: ExecKey, now: i64) {
        let due = self
            .execs
            .get(&key)
            .and_then(|e| e.st.wft_retry_at_ms)
            .is_some_and(|at| at <= now);
        if due {
            self.ensure_wft(&key);
        }
    }
}

/// The protocol messages of the updates admitted but not yet delivered, and their ids.
fn admitted_update_messages(
    ex: &Exec,
    sequencing_event_id: i64,
) -> (Vec<ProtocolMessage>, Vec<String>) {
    let mut messages = vec![];
    let mut delivered = vec![];
    for (id, u) in &ex.st.updates {
        if u.awaits_delivery() {
            messages.push(ProtocolMessage {
                id: format!("{id}/request"),
                protocol_instance_id: id.clone(),
                body: Some(prost_wkt_types::Any {
                    type_url: "type.googleapis.com/temporal.api.update.v1.Request".into(),
                    value: u.request.encode_to_vec(),
                }),
                sequencing_id: Some(SequencingId::EventId(sequencing_event_id)),
            });
            delivered.push(id.clone());
        }
    }
    (messages, delivered)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_to_close_grows_from_the_fourth_attempt_and_caps() {
        assert_eq!(wft_start_to_close_ms(10_000, 1), 10_000);
        assert_eq!(wft_start_to_close_ms(10_000, 3), 10_000);
        assert_eq!(wft_start_to_close_ms(10_000, 4), 15_000);
        assert_eq!(wft_start_to_close_ms(10_000, 5), 20_000);
        assert_eq!(wft_start_to_close_ms(10_000, 6), 30_000);
        assert_eq!(wft_start_to_close_ms(10_000, 100), 10_000 + BACKOFF_MAX_MS);
    }
}
