//! What goes into and comes out of one external activity execution, and how it maps to the
//! Temporal core's activity protobufs.

use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hourglass_proto::external::v1 as wire;
use temporalio_common::protos::{
    coresdk::{activity_result::ActivityExecutionResult, activity_task},
    temporal::api::{
        common::v1::{Payload, Payloads},
        failure::v1::{ApplicationFailureInfo, CanceledFailureInfo, Failure, failure::FailureInfo},
    },
};

/// Failure type when the worker process running the attempt died or was killed (retryable).
pub const WORKER_LOST_TYPE: &str = "ExternalWorkerLost";
/// Failure type when the pool's wait queue is full (retryable).
pub const POOL_SATURATED_TYPE: &str = "ExternalPoolSaturated";
/// Failure type when no pool serves the activity type (non-retryable).
pub const NOT_SERVED_TYPE: &str = "NotFoundError";
/// Failure type when an input, heartbeat or result is over the pool's `max_payload_bytes`
/// (non-retryable).
pub const PAYLOAD_TOO_LARGE_TYPE: &str = "ExternalPayloadTooLarge";
/// Failure type when the pools were shut down while the attempt waited (retryable).
pub const POOL_CLOSED_TYPE: &str = "ExternalPoolClosed";

/// Information about the attempt sent to the worker (the worker-visible subset of the core's
/// `ActivityTask::Start`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ExternalActivityInfo {
    /// Task token of the attempt.
    pub task_token: Vec<u8>,
    /// Activity id.
    pub activity_id: String,
    /// Temporal activity type name.
    pub activity_type: String,
    /// Namespace.
    pub namespace: String,
    /// Task queue.
    pub task_queue: String,
    /// Workflow type of the caller (empty for standalone activities).
    pub workflow_type: String,
    /// Workflow id of the caller.
    pub workflow_id: String,
    /// Workflow run id of the caller.
    pub workflow_run_id: String,
    /// Attempt number (1-based).
    pub attempt: u32,
    /// Heartbeat timeout, if set.
    pub heartbeat_timeout: Option<Duration>,
    /// Start-to-close timeout, if set.
    pub start_to_close_timeout: Option<Duration>,
    /// Schedule-to-close timeout, if set.
    pub schedule_to_close_timeout: Option<Duration>,
    /// When the activity was scheduled.
    pub scheduled_time: Option<SystemTime>,
    /// When this attempt started.
    pub started_time: Option<SystemTime>,
    /// Whether it is a local activity.
    pub is_local: bool,
}

/// One execution request: info, input, the previous attempt's heartbeat details, headers.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ExternalActivity {
    /// About the attempt.
    pub info: ExternalActivityInfo,
    /// Input payloads.
    pub input: Vec<Payload>,
    /// Details of the last heartbeat of a previous attempt.
    pub heartbeat_details: Vec<Payload>,
    /// Header fields.
    pub headers: HashMap<String, Payload>,
}

/// An application failure (from the activity, or from the pool: see the `*_TYPE` constants).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ExternalFailure {
    /// Message.
    pub message: String,
    /// Error type name (e.g. the Python exception class).
    pub type_name: String,
    /// True if Temporal must not retry.
    pub non_retryable: bool,
    /// Details.
    pub details: Vec<Payload>,
    /// Stack trace from the worker, if any.
    pub stack_trace: String,
    /// Retry delay chosen by the activity.
    pub next_retry_delay: Option<Duration>,
}

impl ExternalFailure {
    /// A retryable failure raised by the pool itself (not by activity code).
    pub fn pool(type_name: &str, message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            type_name: type_name.to_string(),
            ..Self::default()
        }
    }
}

/// How an execution ended.
#[derive(Debug, Clone, PartialEq)]
pub enum ExternalOutcome {
    /// The activity returned this result.
    Completed(Payload),
    /// The activity (or the pool on its behalf) failed.
    Failed(ExternalFailure),
    /// The activity acknowledged cancellation (or was cancelled before it started).
    Cancelled {
        /// Details it reported.
        details: Vec<Payload>,
    },
}

impl ExternalOutcome {
    /// True if this is a failure Temporal will retry.
    pub fn is_retryable_failure(&self) -> bool {
        matches!(self, Self::Failed(f) if !f.non_retryable)
    }

    /// The failure's type name, if it is a failure.
    pub fn failure_type(&self) -> Option<&str> {
        match self {
            Self::Failed(f) => Some(&f.type_name),
            _ => None,
        }
    }

    /// The result to complete the core's activity task with.
    pub fn into_execution_result(self) -> ActivityExecutionResult {
        match self {
            Self::Completed(payload) => ActivityExecutionResult::ok(payload),
            Self::Failed(f) => {
                let mut info = ApplicationFailureInfo {
                    r#type: f.type_name,
                    non_retryable: f.non_retryable,
                    details: (!f.details.is_empty()).then_some(Payloads {
                        payloads: f.details,
                    }),
                    ..Default::default()
                };
                if let Some(delay) = f.next_retry_delay {
                    let mut d = info.next_retry_delay.take().unwrap_or_default();
                    d.seconds = delay.as_secs() as i64;
                    d.nanos = delay.subsec_nanos() as i32;
                    info.next_retry_delay = Some(d);
                }
                ActivityExecutionResult::fail(Failure {
                    message: f.message,
                    source: "hourglass-external".to_string(),
                    stack_trace: f.stack_trace,
                    failure_info: Some(FailureInfo::ApplicationFailureInfo(info)),
                    ..Default::default()
                })
            }
            Self::Cancelled { details } => ActivityExecutionResult::cancel(Failure {
                message: "Activity cancelled".to_string(),
                source: "hourglass-external".to_string(),
                failure_info: Some(FailureInfo::CanceledFailureInfo(CanceledFailureInfo {
                    details: (!details.is_empty()).then_some(Payloads { payloads: details }),
                    ..Default::default()
                })),
                ..Default::default()
            }),
        }
    }
}

fn duration_of(seconds: i64, nanos: i32) -> Option<Duration> {
    (seconds >= 0 && nanos >= 0).then(|| Duration::new(seconds as u64, nanos as u32))
}

fn time_of(seconds: i64, nanos: i32) -> Option<SystemTime> {
    duration_of(seconds, nanos).map(|d| UNIX_EPOCH + d)
}

impl ExternalActivity {
    /// Builds a request from the core's `ActivityTask::Start` (plus its task token and queue).
    pub fn from_start(task_queue: &str, task_token: Vec<u8>, start: activity_task::Start) -> Self {
        let (workflow_id, workflow_run_id) = start
            .workflow_execution
            .map(|we| (we.workflow_id, we.run_id))
            .unwrap_or_default();
        Self {
            info: ExternalActivityInfo {
                task_token,
                activity_id: start.activity_id,
                activity_type: start.activity_type,
                namespace: start.workflow_namespace,
                task_queue: task_queue.to_string(),
                workflow_type: start.workflow_type,
                workflow_id,
                workflow_run_id,
                attempt: start.attempt,
                heartbeat_timeout: start
                    .heartbeat_timeout
                    .and_then(|d| duration_of(d.seconds, d.nanos)),
                start_to_close_timeout: start
                    .start_to_close_timeout
                    .and_then(|d| duration_of(d.seconds, d.nanos)),
                schedule_to_close_timeout: start
                    .schedule_to_close_timeout
                    .and_then(|d| duration_of(d.seconds, d.nanos)),
                scheduled_time: start
                    .scheduled_time
                    .and_then(|t| time_of(t.seconds, t.nanos)),
                started_time: start.started_time.and_then(|t| time_of(t.seconds, t.nanos)),
                is_local: start.is_local,
            },
            input: start.input,
            heartbeat_details: start.heartbeat_details,
            headers: start.header_fields,
        }
    }

    /// Bytes of input and heartbeat details (data and metadata), as limited by
    /// `max_payload_bytes`.
    pub fn payload_bytes(&self) -> usize {
        let size = |p: &Payload| {
            p.data.len()
                + p.metadata
                    .iter()
                    .map(|(k, v)| k.len() + v.len())
                    .sum::<usize>()
        };
        self.input
            .iter()
            .chain(&self.heartbeat_details)
            .map(size)
            .sum()
    }

    pub(crate) fn to_wire(&self, execution_id: String) -> wire::ExecuteRequest {
        let ms = |d: Option<Duration>| d.map(|d| d.as_millis() as u64).unwrap_or(0);
        let epoch_ms = |t: Option<SystemTime>| {
            t.and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                .map(|d| d.as_millis() as u64)
                .unwrap_or(0)
        };
        let i = &self.info;
        wire::ExecuteRequest {
            execution_id,
            info: Some(wire::ActivityInfo {
                task_token: i.task_token.clone(),
                activity_id: i.activity_id.clone(),
                activity_type: i.activity_type.clone(),
                namespace: i.namespace.clone(),
                task_queue: i.task_queue.clone(),
                workflow_type: i.workflow_type.clone(),
                workflow_id: i.workflow_id.clone(),
                workflow_run_id: i.workflow_run_id.clone(),
                attempt: i.attempt,
                heartbeat_timeout_ms: ms(i.heartbeat_timeout),
                start_to_close_timeout_ms: ms(i.start_to_close_timeout),
                schedule_to_close_timeout_ms: ms(i.schedule_to_close_timeout),
                scheduled_time_ms: epoch_ms(i.scheduled_time),
                started_time_ms: epoch_ms(i.started_time),
                is_local: i.is_local,
            }),
            input: self.input.iter().map(payload_to_wire).collect(),
            heartbeat_details: self.heartbeat_details.iter().map(payload_to_wire).collect(),
            headers: self
                .headers
                .iter()
                .map(|(k, v)| (k.clone(), payload_to_wire(v)))
                .collect(),
        }
    }
}

/// Converts a Temporal payload to the wire form.
pub fn payload_to_wire(p: &Payload) -> wire::Payload {
    wire::Payload {
        metadata: p.metadata.clone(),
        data: p.data.clone(),
    }
}

/// Converts a wire payload to a Temporal payload.
pub fn payload_from_wire(p: wire::Payload) -> Payload {
    Payload {
        metadata: p.metadata,
        data: p.data,
        ..Default::default()
    }
}

pub(crate) fn failure_from_wire(f: wire::Failure) -> ExternalFailure {
    ExternalFailure {
        message: f.message,
        type_name: f.r#type,
        non_retryable: f.non_retryable,
        details: f.details.into_iter().map(payload_from_wire).collect(),
        stack_trace: f.stack_trace,
        next_retry_delay: (f.next_retry_delay_ms > 0)
            .then(|| Duration::from_millis(f.next_retry_delay_ms)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use temporalio_common::protos::coresdk::activity_result::activity_execution_result::Status;

    #[test]
    fn failures_map_to_application_failures() {
        let result = ExternalOutcome::Failed(ExternalFailure {
            message: "boom".into(),
            type_name: "ValueError".into(),
            non_retryable: true,
            next_retry_delay: Some(Duration::from_millis(1500)),
            ..Default::default()
        })
        .into_execution_result();
        let Some(Status::Failed(f)) = result.status else {
            panic!("not a failure: {result:?}")
        };
        let failure = f.failure.unwrap();
        assert_eq!(failure.message, "boom");
        let Some(FailureInfo::ApplicationFailureInfo(info)) = failure.failure_info else {
            panic!("no application info")
        };
        assert_eq!(info.r#type, "ValueError");
        assert!(info.non_retryable);
        let d = info.next_retry_delay.unwrap();
        assert_eq!((d.seconds, d.nanos), (1, 500_000_000));
    }

    #[test]
    fn cancellation_and_success_map() {
        let r = ExternalOutcome::Cancelled { details: vec![] }.into_execution_result();
        assert!(r.is_cancelled());
        let r = ExternalOutcome::Completed(Payload::default()).into_execution_result();
        assert!(matches!(r.status, Some(Status::Completed(_))));
        assert!(
            ExternalOutcome::Failed(ExternalFailure::pool(WORKER_LOST_TYPE, "x"))
                .is_retryable_failure()
        );
    }
}
