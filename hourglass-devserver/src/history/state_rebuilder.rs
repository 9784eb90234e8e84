//! The state rebuilder, as Temporal's `ndc.StateRebuilder`: the mutable state of a run
//! rebuilt by applying a prefix of its history, event by event, from nothing. Reset uses
//! it to build the reset run from the base run's events up to the reset point.
use crate::history::activity::scheduled_activity;
use crate::history::properties::{merge_memo, merge_search_attributes};
use crate::prelude::*;

/// Milliseconds since the epoch of an event's time (0 when it has none).
fn event_ms(e: &HistoryEvent) -> i64 {
    e.event_time.as_ref().map_or(0, ts_ms)
}

/// The mutable state of a new run `run_id` that has exactly the history `events` (ids
/// 1..=N, starting with WorkflowExecutionStarted), created `now`: the workflow task,
/// activities, timers, children, updates, cancel request, memo, search attributes and
/// reset points the events leave; the run and execution deadlines start again from `now`,
/// as Temporal's `RefreshExpirationTimeoutTask`; stickiness and buffered events are gone.
/// `base` supplies what history does not carry (namespace, ids, type, task queue, start
/// request id, parent link). Returns
/// `None` when the first event is not WorkflowExecutionStarted.
pub(crate) fn rebuild(
    base: &Execution,
    events: &[HistoryEvent],
    run_id: &str,
    now: i64,
) -> Option<Execution> {
    let Some(A::WorkflowExecutionStartedEventAttributes(start)) =
        events.first().and_then(|e| e.attributes.as_ref())
    else {
        return None;
    };
    let run_timeout = dur_ms(&start.workflow_run_timeout);
    let exec_timeout = dur_ms(&start.workflow_execution_timeout);
    let exec_deadline = (exec_timeout > 0).then(|| now + exec_timeout);
    let run_deadline = (run_timeout > 0)
        .then(|| now + run_timeout)
        .map(|d| exec_deadline.map_or(d, |e| d.min(e)));
    // What history does not carry comes from the base run; everything else starts empty
    // and is built from the events.
    let mut st = Execution {
        namespace: base.namespace.clone(),
        workflow_id: base.workflow_id.clone(),
        run_id: run_id.to_string(),
        first_run_id: base.first_run_id.clone(),
        workflow_type: base.workflow_type.clone(),
        task_queue: base.task_queue.clone(),
        request_id: base.request_id.clone(),
        parent: base.parent.clone(),
        status: OPEN,
        start_ms: now,
        next_event_id: events.len() as i64 + 1,
        wft_timeout_ms: match dur_ms(&start.workflow_task_timeout) {
            0 => DEFAULT_WFT_TIMEOUT_MS,
            t => t,
        },
        run_deadline_ms: run_deadline,
        execution_deadline_ms: exec_deadline,
        memo: start.memo.clone(),
        search_attributes: start.search_attributes.clone(),
        history_size_bytes: events.iter().map(|e| e.encoded_len() as i64).sum(),
        next_wft_attempt: 1,
        ..Default::default()
    };
    for e in events {
        apply(&mut st, e);
    }
    Some(st)
}

/// Applies one event to the rebuilt state.
fn apply(st: &mut Execution, e: &HistoryEvent) {
    let Some(attrs) = e.attributes.as_ref() else {
        return;
    };
    let (id, at) = (e.event_id, event_ms(e));
    match attrs {
        A::WorkflowTaskScheduledEventAttributes(a) => {
            st.wft = Some(WorkflowTask {
                scheduled_event_id: id,
                started_event_id: None,
                attempt: a.attempt.max(1),
                scheduled_ms: at,
                started_ms: 0,
                timeout_ms: None,
                delivered_updates: vec![],
                speculative: false,
                start_to_close_ms: dur_ms(&a.start_to_close_timeout),
            });
        }
        A::WorkflowTaskStartedEventAttributes(_) => {
            if let Some(w) = st.wft.as_mut() {
                w.started_event_id = Some(id);
                w.started_ms = at;
            }
        }
        A::WorkflowTaskCompletedEventAttributes(a) => {
            st.last_completed_started_id = a.started_event_id;
            st.wft = None;
            let build_id = a
                .worker_version
                .as_ref()
                .map(|v| v.build_id.as_str())
                .unwrap_or_default();
            st.add_reset_point(&a.binary_checksum, build_id, id, at);
        }
        A::WorkflowTaskFailedEventAttributes(_) | A::WorkflowTaskTimedOutEventAttributes(_) => {
            st.wft = None;
        }
        A::WorkflowExecutionCancelRequestedEventAttributes(_) => st.cancel_requested = true,
        A::UpsertWorkflowSearchAttributesEventAttributes(a) => {
            if let Some(sa) = &a.search_attributes {
                merge_search_attributes(&mut st.search_attributes, sa);
            }
        }
        A::WorkflowPropertiesModifiedEventAttributes(a) => {
            if let Some(m) = &a.upserted_memo {
                merge_memo(&mut st.memo, m);
            }
        }
        _ => apply_pending(st, id, at, attrs),
    }
}

/// Applies an event about an activity, timer, child or update.
fn apply_pending(st: &mut Execution, id: i64, at: i64, attrs: &A) {
    match attrs {
        A::ActivityTaskScheduledEventAttributes(a) => {
            st.activities.insert(id, scheduled_activity(id, at, a));
        }
        A::ActivityTaskStartedEventAttributes(a) => {
            if let Some(act) = st.activities.get_mut(&a.scheduled_event_id) {
                act.started_ms = Some(at);
                act.attempt = a.attempt.max(1);
                act.started_identity = a.identity.clone();
                act.last_failure = a.last_failure.clone();
            }
        }
        A::ActivityTaskCancelRequestedEventAttributes(a) => {
            if let Some(act) = st.activities.get_mut(&a.scheduled_event_id) {
                act.cancel_requested = true;
                act.cancel_requested_event_id = id;
            }
        }
        A::ActivityTaskCompletedEventAttributes(a) => {
            _ = st.activities.remove(&a.scheduled_event_id)
        }
        A::ActivityTaskFailedEventAttributes(a) => _ = st.activities.remove(&a.scheduled_event_id),
        A::ActivityTaskTimedOutEventAttributes(a) => {
            _ = st.activities.remove(&a.scheduled_event_id)
        }
        A::ActivityTaskCanceledEventAttributes(a) => {
            _ = st.activities.remove(&a.scheduled_event_id)
        }
        A::TimerStartedEventAttributes(a) => {
            let fire_ms = at + dur_ms(&a.start_to_fire_timeout).max(1);
            st.timers.insert(
                a.timer_id.clone(),
                Timer {
                    started_event_id: id,
                    fire_ms,
                },
            );
        }
        A::TimerFiredEventAttributes(a) => _ = st.timers.remove(&a.timer_id),
        A::TimerCanceledEventAttributes(a) => _ = st.timers.remove(&a.timer_id),
        A::StartChildWorkflowExecutionInitiatedEventAttributes(a) => {
            let namespace = if a.namespace.is_empty() {
                st.namespace.clone()
            } else {
                a.namespace.clone()
            };
            st.children.insert(
                id,
                Child {
                    namespace,
                    workflow_id: a.workflow_id.clone(),
                    run_id: String::new(),
                    workflow_type: a
                        .workflow_type
                        .as_ref()
                        .map(|t| t.name.clone())
                        .unwrap_or_default(),
                    started_event_id: 0,
                    parent_close_policy: a.parent_close_policy,
                },
            );
        }
        A::ChildWorkflowExecutionStartedEventAttributes(a) => {
            if let Some(c) = st.children.get_mut(&a.initiated_event_id) {
                c.run_id = a
                    .workflow_execution
                    .as_ref()
                    .map(|w| w.run_id.clone())
                    .unwrap_or_default();
                c.started_event_id = id;
            }
        }
        A::StartChildWorkflowExecutionFailedEventAttributes(a) => {
            _ = st.children.remove(&a.initiated_event_id)
        }
        A::ChildWorkflowExecutionCompletedEventAttributes(a) => {
            _ = st.children.remove(&a.initiated_event_id)
        }
        A::ChildWorkflowExecutionFailedEventAttributes(a) => {
            _ = st.children.remove(&a.initiated_event_id)
        }
        A::ChildWorkflowExecutionCanceledEventAttributes(a) => {
            _ = st.children.remove(&a.initiated_event_id)
        }
        A::ChildWorkflowExecutionTimedOutEventAttributes(a) => {
            _ = st.children.remove(&a.initiated_event_id)
        }
        A::ChildWorkflowExecutionTerminatedEventAttributes(a) => {
            _ = st.children.remove(&a.initiated_event_id)
        }
        A::WorkflowExecutionUpdateAdmittedEventAttributes(a) => {
            if let Some(request) = a.request.clone() {
                let (update_id, update) = Update::admitted_in_history(request, id);
                st.updates.insert(update_id, update);
            }
        }
        A::WorkflowExecutionUpdateAcceptedEventAttributes(a) => {
            // Without a request, the update's UpdateAdmitted event came first.
            if let Some(u) = st.updates.get_mut(&a.protocol_instance_id) {
                u.stage = UpdateWorkflowExecutionLifecycleStage::Accepted as i32;
                u.accepted_event_id = id;
            } else if let Some(request) = a.accepted_request.clone() {
                st.updates.insert(
                    a.protocol_instance_id.clone(),
                    Update {
                        request,
                        stage: UpdateWorkflowExecutionLifecycleStage::Accepted as i32,
                        accepted_event_id: id,
                        ..Default::default()
                    },
                );
            }
        }
        A::WorkflowExecutionUpdateCompletedEventAttributes(a) => {
            let update_id = a
                .meta
                .as_ref()
                .map(|m| m.update_id.clone())
                .unwrap_or_default();
            if let Some(u) = st.updates.get_mut(&update_id) {
                u.stage = UpdateWorkflowExecutionLifecycleStage::Completed as i32;
                u.outcome = a.outcome.clone();
                u.completed_event_id = id;
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use temporalio_protos::temporal::api::common::v1::Payload;

    fn ev(id: i64, at: i64, a: A) -> HistoryEvent {
        event(id, at, a)
    }

    fn keyword(v: &str) -> SearchAttributes {
        let mut sa = SearchAttributes::default();
        sa.indexed_fields.insert(
            "K".into(),
            Payload {
                data: format!("\"{v}\"").into_bytes(),
                ..Default::default()
            },
        );
        sa
    }

    #[test]
    fn a_prefix_leaves_its_pending_work_and_deadlines_restart() {
        let start = h::WorkflowExecutionStartedEventAttributes {
            workflow_run_timeout: dur(60_000),
            search_attributes: Some(keyword("start")),
            ..Default::default()
        };
        let events = vec![
            ev(1, 1_000, A::WorkflowExecutionStartedEventAttributes(start)),
            ev(
                2,
                1_000,
                A::WorkflowTaskScheduledEventAttributes(Default::default()),
            ),
            ev(
                3,
                1_001,
                A::WorkflowTaskStartedEventAttributes(Default::default()),
            ),
            ev(
                4,
                1_002,
                A::WorkflowTaskCompletedEventAttributes(h::WorkflowTaskCompletedEventAttributes {
                    scheduled_event_id: 2,
                    started_event_id: 3,
                    ..Default::default()
                }),
            ),
            ev(
                5,
                1_002,
                A::ActivityTaskScheduledEventAttributes(h::ActivityTaskScheduledEventAttributes {
                    activity_id: "a1".into(),
                    start_to_close_timeout: dur(5_000),
                    ..Default::default()
                }),
            ),
            ev(
                6,
                1_002,
                A::TimerStartedEventAttributes(h::TimerStartedEventAttributes {
                    timer_id: "t1".into(),
                    start_to_fire_timeout: dur(30_000),
                    ..Default::default()
                }),
            ),
            ev(
                7,
                1_002,
                A::StartChildWorkflowExecutionInitiatedEventAttributes(
                    h::StartChildWorkflowExecutionInitiatedEventAttributes {
                        workflow_id: "child".into(),
                        ..Default::default()
                    },
                ),
            ),
            ev(
                8,
                1_003,
                A::ChildWorkflowExecutionStartedEventAttributes(
                    h::ChildWorkflowExecutionStartedEventAttributes {
                        initiated_event_id: 7,
                        workflow_execution: Some(WorkflowExecution {
                            workflow_id: "child".into(),
                            run_id: "cr".into(),
                        }),
                        ..Default::default()
                    },
                ),
            ),
            ev(
                9,
                1_002,
                A::UpsertWorkflowSearchAttributesEventAttributes(
                    h::UpsertWorkflowSearchAttributesEventAttributes {
                        search_attributes: Some(keyword("upserted")),
                        ..Default::default()
                    },
                ),
            ),
            ev(
                10,
                1_004,
                A::TimerStartedEventAttributes(h::TimerStartedEventAttributes {
                    timer_id: "t2".into(),
                    start_to_fire_timeout: dur(1_000),
                    ..Default::default()
                }),
            ),
            ev(
                11,
                2_004,
                A::TimerFiredEventAttributes(h::TimerFiredEventAttributes {
                    timer_id: "t2".into(),
                    started_event_id: 10,
                }),
            ),
            ev(
                12,
                2_004,
                A::WorkflowTaskScheduledEventAttributes(Default::default()),
            ),
        ];
        let base = Execution {
            namespace: "default".into(),
            workflow_id: "w".into(),
            run_id: "base".into(),
            reset_run_id: "older-reset".into(),
            sticky_task_queue: "sticky".into(),
            ..Default::default()
        };
        let st =
            rebuild(&base, &events, "new", 10_000).expect("starts with WorkflowExecutionStarted");
        assert_eq!(
            (st.run_id.as_str(), st.next_event_id, st.start_ms),
            ("new", 13, 10_000)
        );
        assert_eq!(
            st.wft
                .as_ref()
                .map(|w| (w.scheduled_event_id, w.started_event_id)),
            Some((12, None))
        );
        assert_eq!(st.last_completed_started_id, 3);
        assert_eq!(st.activities.keys().copied().collect::<Vec<_>>(), vec![5]);
        assert_eq!(st.activities[&5].start_to_close_ms, 5_000);
        assert_eq!(
            st.timers.keys().cloned().collect::<Vec<_>>(),
            vec!["t1".to_string()]
        );
        assert_eq!(st.timers["t1"].fire_ms, 31_002);
        assert_eq!(st.children[&7].run_id, "cr");
        let k = &st.search_attributes.as_ref().unwrap().indexed_fields["K"];
        assert_eq!(k.data, b"\"upserted\"");
        assert_eq!(st.run_deadline_ms, Some(70_000));
        assert_eq!(
            (st.reset_run_id.as_str(), st.sticky_task_queue.as_str()),
            ("", "")
        );
        assert!(rebuild(&base, &events[1..], "new", 0).is_none());
    }
}
