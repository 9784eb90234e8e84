//! Building history events the way real Temporal writes them.
use prost_wkt_types::{Duration, Timestamp};
use temporalio_protos::temporal::api::{
    enums::v1::{EventType, TaskQueueKind},
    history::v1::{HistoryEvent, history_event::Attributes},
    taskqueue::v1::TaskQueue,
};

/// The event type matching an attributes variant.
pub fn event_type(a: &Attributes) -> EventType {
    match a {
        Attributes::WorkflowExecutionStartedEventAttributes(_) => {
            EventType::WorkflowExecutionStarted
        }
        Attributes::WorkflowExecutionCompletedEventAttributes(_) => {
            EventType::WorkflowExecutionCompleted
        }
        Attributes::WorkflowExecutionFailedEventAttributes(_) => EventType::WorkflowExecutionFailed,
        Attributes::WorkflowExecutionTimedOutEventAttributes(_) => {
            EventType::WorkflowExecutionTimedOut
        }
        Attributes::WorkflowTaskScheduledEventAttributes(_) => EventType::WorkflowTaskScheduled,
        Attributes::WorkflowTaskStartedEventAttributes(_) => EventType::WorkflowTaskStarted,
        Attributes::WorkflowTaskCompletedEventAttributes(_) => EventType::WorkflowTaskCompleted,
        Attributes::WorkflowTaskTimedOutEventAttributes(_) => EventType::WorkflowTaskTimedOut,
        Attributes::WorkflowTaskFailedEventAttributes(_) => EventType::WorkflowTaskFailed,
        Attributes::ActivityTaskScheduledEventAttributes(_) => EventType::ActivityTaskScheduled,
        Attributes::ActivityTaskStartedEventAttributes(_) => EventType::ActivityTaskStarted,
        Attributes::ActivityTaskCompletedEventAttributes(_) => EventType::ActivityTaskCompleted,
        Attributes::ActivityTaskFailedEventAttributes(_) => EventType::ActivityTaskFailed,
        Attributes::ActivityTaskTimedOutEventAttributes(_) => EventType::ActivityTaskTimedOut,
        Attributes::TimerStartedEventAttributes(_) => EventType::TimerStarted,
        Attributes::TimerFiredEventAttributes(_) => EventType::TimerFired,
        Attributes::ActivityTaskCancelRequestedEventAttributes(_) => {
            EventType::ActivityTaskCancelRequested
        }
        Attributes::ActivityTaskCanceledEventAttributes(_) => EventType::ActivityTaskCanceled,
        Attributes::TimerCanceledEventAttributes(_) => EventType::TimerCanceled,
        Attributes::MarkerRecordedEventAttributes(_) => EventType::MarkerRecorded,
        Attributes::WorkflowExecutionSignaledEventAttributes(_) => {
            EventType::WorkflowExecutionSignaled
        }
        Attributes::WorkflowExecutionTerminatedEventAttributes(_) => {
            EventType::WorkflowExecutionTerminated
        }
        Attributes::WorkflowExecutionCancelRequestedEventAttributes(_) => {
            EventType::WorkflowExecutionCancelRequested
        }
        Attributes::WorkflowExecutionCanceledEventAttributes(_) => {
            EventType::WorkflowExecutionCanceled
        }
        Attributes::RequestCancelExternalWorkflowExecutionInitiatedEventAttributes(_) => {
            EventType::RequestCancelExternalWorkflowExecutionInitiated
        }
        Attributes::RequestCancelExternalWorkflowExecutionFailedEventAttributes(_) => {
            EventType::RequestCancelExternalWorkflowExecutionFailed
        }
        Attributes::ExternalWorkflowExecutionCancelRequestedEventAttributes(_) => {
            EventType::ExternalWorkflowExecutionCancelRequested
        }
        Attributes::WorkflowExecutionContinuedAsNewEventAttributes(_) => {
            EventType::WorkflowExecutionContinuedAsNew
        }
        Attributes::StartChildWorkflowExecutionInitiatedEventAttributes(_) => {
            EventType::StartChildWorkflowExecutionInitiated
        }
        Attributes::StartChildWorkflowExecutionFailedEventAttributes(_) => {
            EventType::StartChildWorkflowExecutionFailed
        }
        Attributes::ChildWorkflowExecutionStartedEventAttributes(_) => {
            EventType::ChildWorkflowExecutionStarted
        }
        Attributes::ChildWorkflowExecutionCompletedEventAttributes(_) => {
            EventType::ChildWorkflowExecutionCompleted
        }
        Attributes::ChildWorkflowExecutionFailedEventAttributes(_) => {
            EventType::ChildWorkflowExecutionFailed
        }
        Attributes::ChildWorkflowExecutionCanceledEventAttributes(_) => {
            EventType::ChildWorkflowExecutionCanceled
        }
        Attributes::ChildWorkflowExecutionTimedOutEventAttributes(_) => {
            EventType::ChildWorkflowExecutionTimedOut
        }
        Attributes::ChildWorkflowExecutionTerminatedEventAttributes(_) => {
            EventType::ChildWorkflowExecutionTerminated
        }
        Attributes::SignalExternalWorkflowExecutionInitiatedEventAttributes(_) => {
            EventType::SignalExternalWorkflowExecutionInitiated
        }
        Attributes::SignalExternalWorkflowExecutionFailedEventAttributes(_) => {
            EventType::SignalExternalWorkflowExecutionFailed
        }
        Attributes::ExternalWorkflowExecutionSignaledEventAttributes(_) => {
            EventType::ExternalWorkflowExecutionSignaled
        }
        Attributes::UpsertWorkflowSearchAttributesEventAttributes(_) => {
            EventType::UpsertWorkflowSearchAttributes
        }
        Attributes::WorkflowExecutionUpdateAcceptedEventAttributes(_) => {
            EventType::WorkflowExecutionUpdateAccepted
        }
        Attributes::WorkflowExecutionUpdateRejectedEventAttributes(_) => {
            EventType::WorkflowExecutionUpdateRejected
        }
        Attributes::WorkflowExecutionUpdateCompletedEventAttributes(_) => {
            EventType::WorkflowExecutionUpdateCompleted
        }
        Attributes::WorkflowPropertiesModifiedExternallyEventAttributes(_) => {
            EventType::WorkflowPropertiesModifiedExternally
        }
        Attributes::ActivityPropertiesModifiedExternallyEventAttributes(_) => {
            EventType::ActivityPropertiesModifiedExternally
        }
        Attributes::WorkflowPropertiesModifiedEventAttributes(_) => {
            EventType::WorkflowPropertiesModified
        }
        Attributes::WorkflowExecutionUpdateAdmittedEventAttributes(_) => {
            EventType::WorkflowExecutionUpdateAdmitted
        }
        Attributes::NexusOperationScheduledEventAttributes(_) => EventType::NexusOperationScheduled,
        Attributes::NexusOperationStartedEventAttributes(_) => EventType::NexusOperationStarted,
        Attributes::NexusOperationCompletedEventAttributes(_) => EventType::NexusOperationCompleted,
        Attributes::NexusOperationFailedEventAttributes(_) => EventType::NexusOperationFailed,
        Attributes::NexusOperationCanceledEventAttributes(_) => EventType::NexusOperationCanceled,
        Attributes::NexusOperationTimedOutEventAttributes(_) => EventType::NexusOperationTimedOut,
        Attributes::NexusOperationCancelRequestedEventAttributes(_) => {
            EventType::NexusOperationCancelRequested
        }
        Attributes::WorkflowExecutionOptionsUpdatedEventAttributes(_) => {
            EventType::WorkflowExecutionOptionsUpdated
        }
        Attributes::NexusOperationCancelRequestCompletedEventAttributes(_) => {
            EventType::NexusOperationCancelRequestCompleted
        }
        Attributes::NexusOperationCancelRequestFailedEventAttributes(_) => {
            EventType::NexusOperationCancelRequestFailed
        }
        Attributes::WorkflowExecutionPausedEventAttributes(_) => EventType::WorkflowExecutionPaused,
        Attributes::WorkflowExecutionUnpausedEventAttributes(_) => {
            EventType::WorkflowExecutionUnpaused
        }
        Attributes::WorkflowExecutionTimeSkippingTransitionedEventAttributes(_) => {
            EventType::WorkflowExecutionTimeSkippingTransitioned
        }
    }
}

/// A new event (id assigned by the caller).
pub fn event(event_id: i64, time_ms: i64, attrs: Attributes) -> HistoryEvent {
    HistoryEvent {
        event_id,
        event_time: Some(ts(time_ms)),
        event_type: event_type(&attrs) as i32,
        task_id: event_id,
        attributes: Some(attrs),
        ..Default::default()
    }
}

/// A protobuf timestamp from epoch milliseconds.
pub fn ts(ms: i64) -> Timestamp {
    Timestamp {
        seconds: ms.div_euclid(1000),
        nanos: (ms.rem_euclid(1000) * 1_000_000) as i32,
    }
}

/// Milliseconds since the epoch of a protobuf timestamp (saturating).
pub fn ts_ms(t: &Timestamp) -> i64 {
    t.seconds
        .saturating_mul(1000)
        .saturating_add(i64::from(t.nanos / 1_000_000))
}

/// The longest duration honoured (ten years), so deadline arithmetic cannot overflow.
pub const MAX_DURATION_MS: i64 = 10 * 365 * 24 * 3600 * 1000;

/// Milliseconds of an optional protobuf duration (0 when absent or negative, capped at
/// [`MAX_DURATION_MS`]).
pub fn dur_ms(d: &Option<Duration>) -> i64 {
    d.as_ref()
        .map(|d| {
            d.seconds
                .saturating_mul(1000)
                .saturating_add(i64::from(d.nanos) / 1_000_000)
                .clamp(0, MAX_DURATION_MS)
        })
        .unwrap_or(0)
}

/// A protobuf duration from milliseconds; `None` for 0 (meaning "unlimited").
pub fn dur(ms: i64) -> Option<Duration> {
    (ms > 0).then(|| Duration {
        seconds: ms / 1000,
        nanos: ((ms % 1000) * 1_000_000) as i32,
    })
}

/// A normal task queue message.
pub fn task_queue(name: &str) -> TaskQueue {
    TaskQueue {
        name: name.to_string(),
        kind: TaskQueueKind::Normal as i32,
        normal_name: String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_clamped_and_roundtrip() {
        assert_eq!(dur_ms(&dur(1500)), 1500);
        assert_eq!(dur_ms(&None), 0);
        assert_eq!(
            dur_ms(&Some(Duration {
                seconds: i64::MAX,
                nanos: 999_999_999
            })),
            MAX_DURATION_MS
        );
        assert_eq!(
            dur_ms(&Some(Duration {
                seconds: -5,
                nanos: 0
            })),
            0
        );
        assert_eq!(dur(0), None);
        let t = ts(1_234_567);
        assert_eq!((t.seconds, t.nanos), (1234, 567_000_000));
    }
}
