//! Building workflow histories by hand, for offline replay tests through a [`crate::Replayer`].
//!
//! The result is a real `temporal.api.history.v1.History`; the core replays it with its
//! normal state machines, so a workflow that issues different commands than the history
//! recorded is detected as nondeterministic.

use crate::protos::temporal::api::common::v1::WorkflowType;
use crate::protos::temporal::api::enums::v1::{EventType, TaskQueueKind};
use crate::protos::temporal::api::history::v1::history_event::Attributes;
use crate::protos::temporal::api::history::v1::{
    History, HistoryEvent, TimerFiredEventAttributes, TimerStartedEventAttributes,
    WorkflowExecutionCompletedEventAttributes, WorkflowExecutionStartedEventAttributes,
    WorkflowTaskCompletedEventAttributes, WorkflowTaskScheduledEventAttributes,
    WorkflowTaskStartedEventAttributes,
};
use crate::protos::temporal::api::taskqueue::v1::TaskQueue;
use std::time::{Duration, SystemTime};

/// Appends events with consecutive ids, tracking the ids later events refer to.
#[derive(Debug, Clone)]
pub struct HistoryBuilder {
    events: Vec<HistoryEvent>,
    wft_scheduled: i64,
    wft_completed: i64,
}

impl HistoryBuilder {
    /// Starts a history with `WorkflowExecutionStarted` for `workflow_type` on `task_queue`.
    pub fn new(workflow_type: &str, task_queue: &str, run_id: &str) -> Self {
        let mut b = Self {
            events: Vec::new(),
            wft_scheduled: 0,
            wft_completed: 0,
        };
        b.push(
            EventType::WorkflowExecutionStarted,
            Attributes::WorkflowExecutionStartedEventAttributes(
                WorkflowExecutionStartedEventAttributes {
                    workflow_type: Some(WorkflowType {
                        name: workflow_type.to_owned(),
                    }),
                    task_queue: Some(TaskQueue {
                        name: task_queue.to_owned(),
                        kind: TaskQueueKind::Normal as i32,
                        normal_name: String::new(),
                    }),
                    original_execution_run_id: run_id.to_owned(),
                    first_execution_run_id: run_id.to_owned(),
                    workflow_task_timeout: Duration::from_secs(10).try_into().ok(),
                    ..Default::default()
                },
            ),
        );
        b
    }

    fn push(&mut self, event_type: EventType, attributes: Attributes) -> i64 {
        let event_id = self.events.len() as i64 + 1;
        self.events.push(HistoryEvent {
            event_id,
            event_type: event_type as i32,
            event_time: Some(SystemTime::now().into()),
            attributes: Some(attributes),
            ..Default::default()
        });
        event_id
    }

    /// Adds `WorkflowTaskScheduled` + `WorkflowTaskStarted`.
    pub fn workflow_task_scheduled_and_started(&mut self) -> &mut Self {
        self.wft_scheduled = self.push(
            EventType::WorkflowTaskScheduled,
            Attributes::WorkflowTaskScheduledEventAttributes(
                WorkflowTaskScheduledEventAttributes::default(),
            ),
        );
        let history_size_bytes = (self.events.len() as i64 + 1) * 10;
        self.push(
            EventType::WorkflowTaskStarted,
            Attributes::WorkflowTaskStartedEventAttributes(WorkflowTaskStartedEventAttributes {
                scheduled_event_id: self.wft_scheduled,
                history_size_bytes,
                ..Default::default()
            }),
        );
        self
    }

    /// Adds a full workflow task: scheduled, started, completed.
    pub fn workflow_task(&mut self) -> &mut Self {
        self.workflow_task_scheduled_and_started();
        self.wft_completed = self.push(
            EventType::WorkflowTaskCompleted,
            Attributes::WorkflowTaskCompletedEventAttributes(
                WorkflowTaskCompletedEventAttributes {
                    scheduled_event_id: self.wft_scheduled,
                    ..Default::default()
                },
            ),
        );
        self
    }

    /// Adds `TimerStarted` (timer ids are the workflow's `StartTimer.seq` as a string) and
    /// returns its event id.
    pub fn timer_started(&mut self, timer_id: &str, fire_after: Duration) -> i64 {
        self.push(
            EventType::TimerStarted,
            Attributes::TimerStartedEventAttributes(TimerStartedEventAttributes {
                timer_id: timer_id.to_owned(),
                start_to_fire_timeout: fire_after.try_into().ok(),
                workflow_task_completed_event_id: self.wft_completed,
            }),
        )
    }

    /// Adds `TimerFired` for the timer started at `started_event_id`.
    pub fn timer_fired(&mut self, timer_id: &str, started_event_id: i64) -> &mut Self {
        self.push(
            EventType::TimerFired,
            Attributes::TimerFiredEventAttributes(TimerFiredEventAttributes {
                timer_id: timer_id.to_owned(),
                started_event_id,
            }),
        );
        self
    }

    /// Adds `WorkflowExecutionCompleted`.
    pub fn workflow_execution_completed(&mut self) -> &mut Self {
        let wft_completed = self.wft_completed;
        self.push(
            EventType::WorkflowExecutionCompleted,
            Attributes::WorkflowExecutionCompletedEventAttributes(
                WorkflowExecutionCompletedEventAttributes {
                    workflow_task_completed_event_id: wft_completed,
                    ..Default::default()
                },
            ),
        );
        self
    }

    /// The finished history.
    pub fn build(&self) -> History {
        History {
            events: self.events.clone(),
        }
    }

    /// The history of a workflow that starts `timers` timers one after the other (timer `k`
    /// has id/seq `k`, 1-based, and fires after one second) and then completes. Replaying it
    /// yields `timers + 1` activations (initialize, then one per fired timer) before the
    /// replay-finished eviction.
    pub fn sequential_timers(
        workflow_type: &str,
        task_queue: &str,
        run_id: &str,
        timers: u32,
    ) -> History {
        let mut b = Self::new(workflow_type, task_queue, run_id);
        b.workflow_task();
        for k in 1..=timers {
            let id = k.to_string();
            let started = b.timer_started(&id, Duration::from_secs(1));
            b.timer_fired(&id, started);
            b.workflow_task();
        }
        b.workflow_execution_completed();
        b.build()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_consecutive_and_references_resolve() {
        let h = HistoryBuilder::sequential_timers("wf", "tq", "run", 2);
        for (i, e) in h.events.iter().enumerate() {
            assert_eq!(e.event_id, i as i64 + 1);
        }
        // started, 3 per wft * 3 wfts, 2 per timer * 2, completed
        assert_eq!(h.events.len(), 1 + 9 + 4 + 1);
        let Some(Attributes::TimerFiredEventAttributes(f)) = &h.events[5].attributes else {
            panic!("event 6 should be TimerFired: {:?}", h.events[5]);
        };
        assert_eq!(f.started_event_id, 5);
    }
}
