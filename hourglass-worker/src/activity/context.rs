//! What a running activity sees: info, heartbeats, cancellation.

use std::{
    collections::HashMap,
    fmt,
    sync::{Arc, OnceLock},
    time::{Duration, SystemTime},
};

use temporalio_common::{
    Priority, RetryPolicy,
    data_converters::{
        ActivitySerializationContext, DecodablePayloads, GenericPayloadConverter,
        PayloadConversionError, PayloadConverter, RawValue, SerializationContext,
        SerializationContextData, TemporalDeserializable, TemporalSerializable,
    },
    protos::{
        coresdk::{
            ActivityHeartbeat,
            activity_task::{self, ActivityCancelReason},
        },
        temporal::api::common::v1::Payload,
        utilities::TryIntoOrNone,
    },
};
use tokio_util::sync::CancellationToken;

/// Where a running activity's heartbeats go: the caller's link to the core
/// (`record_activity_heartbeat`). Like the core's call it is synchronous and fire-and-forget; the
/// core throttles heartbeats itself.
///
/// Any `Fn(ActivityHeartbeat) + Send + Sync + 'static` closure is an `ActivityHost`.
pub trait ActivityHost: Send + Sync + 'static {
    /// Records one heartbeat (task token + encoded details).
    fn record_heartbeat(&self, heartbeat: ActivityHeartbeat);
}

impl<F> ActivityHost for F
where
    F: Fn(ActivityHeartbeat) + Send + Sync + 'static,
{
    fn record_heartbeat(&self, heartbeat: ActivityHeartbeat) {
        self(heartbeat)
    }
}

/// Shared between a running activity's context and the executor that may cancel it.
#[derive(Default)]
pub(crate) struct CancelState {
    pub(crate) token: CancellationToken,
    pub(crate) reason: OnceLock<ActivityCancelReason>,
}

impl CancelState {
    pub(crate) fn cancel(&self, reason: ActivityCancelReason) {
        let _ = self.reason.set(reason);
        self.token.cancel();
    }
}

/// Context of one activity attempt: info, heartbeats (with details), cancellation.
///
/// Same methods as the official SDK's `ActivityContext` (except `client()`, which needs an
/// in-process core). Cheap to clone; `Send + Sync`.
#[derive(Clone)]
pub struct ActivityContext {
    host: Arc<dyn ActivityHost>,
    cancel: Arc<CancelState>,
    heartbeat_details: ActivityHeartbeatDetails,
    header_fields: HashMap<String, Payload>,
    payload_converter: PayloadConverter,
    info: ActivityInfo,
}

impl ActivityContext {
    pub(crate) fn new(
        host: Arc<dyn ActivityHost>,
        cancel: Arc<CancelState>,
        payload_converter: PayloadConverter,
        task_queue: String,
        task_token: Vec<u8>,
        start: activity_task::Start,
    ) -> (Self, Vec<Payload>) {
        let activity_task::Start {
            workflow_namespace,
            workflow_type,
            workflow_execution,
            activity_id,
            activity_type,
            header_fields,
            input,
            heartbeat_details,
            scheduled_time,
            current_attempt_scheduled_time,
            started_time,
            attempt,
            schedule_to_close_timeout,
            start_to_close_timeout,
            heartbeat_timeout,
            retry_policy,
            is_local,
            priority,
            run_id,
        } = start;
        let scheduled_time: Option<SystemTime> = scheduled_time.try_into_or_none();
        let started_time: Option<SystemTime> = started_time.try_into_or_none();
        let deadline = calculate_deadline(
            scheduled_time,
            started_time,
            start_to_close_timeout.try_into_or_none(),
            schedule_to_close_timeout.try_into_or_none(),
        );
        let (workflow_id, workflow_run_id) = workflow_execution
            .map(|we| (we.workflow_id, we.run_id))
            .unzip();
        let activity_run_id = (workflow_id.is_none() && !run_id.is_empty()).then_some(run_id);
        let ctx = Self {
            host,
            cancel,
            heartbeat_details: ActivityHeartbeatDetails::new(
                heartbeat_details,
                payload_converter.clone(),
            ),
            header_fields,
            payload_converter,
            info: ActivityInfo {
                task_token,
                task_queue,
                workflow_type: (!workflow_type.is_empty()).then_some(workflow_type),
                namespace: workflow_namespace,
                workflow_id,
                workflow_run_id,
                activity_id,
                activity_type,
                heartbeat_timeout: heartbeat_timeout.try_into_or_none(),
                scheduled_time,
                started_time,
                deadline,
                attempt,
                current_attempt_scheduled_time: current_attempt_scheduled_time.try_into_or_none(),
                retry_policy: retry_policy.map(Into::into),
                is_local,
                priority: priority.map(Into::into).unwrap_or_default(),
                activity_run_id,
            },
        };
        (ctx, input)
    }

    /// Completes when this activity is cancelled (by the core: workflow request, timeout,
    /// worker shutdown, ...). Activities should then return `ActivityError::cancelled()`.
    pub async fn cancelled(&self) {
        self.cancel.token.cancelled().await
    }

    /// True once this activity has been cancelled.
    pub fn is_cancelled(&self) -> bool {
        self.cancel.token.is_cancelled()
    }

    /// Why the activity was cancelled, once it has been.
    pub fn cancellation_reason(&self) -> Option<ActivityCancelReason> {
        self.cancel.reason.get().copied()
    }

    /// A token cancelled together with this activity (for `select!` or child tasks).
    pub fn cancellation_token(&self) -> CancellationToken {
        self.cancel.token.clone()
    }

    /// Heartbeat details recorded by the previous attempt (for resuming after a retry).
    pub fn heartbeat_details(&self) -> &ActivityHeartbeatDetails {
        &self.heartbeat_details
    }

    /// Records a heartbeat with typed progress details. Errors only if the details cannot be
    /// encoded. Local activities do not heartbeat (as in the official SDK): a no-op for them.
    pub async fn record_heartbeat<T>(&self, details: T) -> Result<(), PayloadConversionError>
    where
        T: TemporalSerializable + 'static,
    {
        if self.info.is_local {
            return Ok(());
        }
        let context_data = SerializationContextData::Activity(ActivitySerializationContext::new());
        let context = SerializationContext::new(&context_data, &self.payload_converter);
        let details = self.payload_converter.to_payloads(&context, &details)?;
        self.host.record_heartbeat(ActivityHeartbeat {
            task_token: self.info.task_token.clone(),
            details,
        });
        Ok(())
    }

    /// Information about this attempt.
    pub fn info(&self) -> &ActivityInfo {
        &self.info
    }

    /// Headers attached to this activity.
    pub fn headers(&self) -> &HashMap<String, Payload> {
        &self.header_fields
    }
}

impl fmt::Debug for ActivityContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ActivityContext")
            .field("info", &self.info)
            .field("cancelled", &self.is_cancelled())
            .finish()
    }
}

/// Heartbeat details supplied by the previous attempt.
#[derive(Clone, Debug)]
pub struct ActivityHeartbeatDetails {
    payloads: DecodablePayloads,
}

impl ActivityHeartbeatDetails {
    fn new(payloads: Vec<Payload>, payload_converter: PayloadConverter) -> Self {
        Self {
            payloads: DecodablePayloads::new(
                payloads,
                payload_converter,
                SerializationContextData::Activity(ActivitySerializationContext::new()),
            ),
        }
    }

    /// The previous details decoded as `T`, or `None` when there are none.
    pub fn deserialize<T: TemporalDeserializable + 'static>(
        &self,
    ) -> Result<Option<T>, PayloadConversionError> {
        if self.payloads.raw().is_empty() {
            Ok(None)
        } else {
            self.payloads.deserialize().map(Some)
        }
    }

    /// The raw payloads.
    pub fn raw(&self) -> &[Payload] {
        self.payloads.raw()
    }

    /// The raw payloads, consumed.
    pub fn into_raw(self) -> RawValue {
        self.payloads.into_raw()
    }
}

/// Information about one activity attempt (as in the official SDK).
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ActivityInfo {
    /// Opaque token of this activity task.
    pub task_token: Vec<u8>,
    /// Type of the workflow that scheduled the activity (None for standalone activities).
    pub workflow_type: Option<String>,
    /// Namespace.
    pub namespace: String,
    /// Workflow id of the scheduling workflow (None for standalone activities).
    pub workflow_id: Option<String>,
    /// Run id of the scheduling workflow (None for standalone activities).
    pub workflow_run_id: Option<String>,
    /// Activity id.
    pub activity_id: String,
    /// Activity type name.
    pub activity_type: String,
    /// Task queue the task was polled from.
    pub task_queue: String,
    /// Heartbeat timeout, if any.
    pub heartbeat_timeout: Option<Duration>,
    /// When the activity was scheduled.
    pub scheduled_time: Option<SystemTime>,
    /// When this attempt started.
    pub started_time: Option<SystemTime>,
    /// When this attempt times out (min of start-to-close and schedule-to-close).
    pub deadline: Option<SystemTime>,
    /// Attempt number, from 1.
    pub attempt: u32,
    /// When this attempt was scheduled.
    pub current_attempt_scheduled_time: Option<SystemTime>,
    /// Retry policy.
    pub retry_policy: Option<RetryPolicy>,
    /// Whether this is a local activity.
    pub is_local: bool,
    /// Priority.
    pub priority: Priority,
    /// Run id of a standalone activity.
    pub activity_run_id: Option<String>,
}

/// Deadline of an attempt; port of the official SDK's `calculate_deadline` (itself a port of
/// sdk-go's): the earlier of start-to-close and schedule-to-close.
fn calculate_deadline(
    scheduled: Option<SystemTime>,
    started: Option<SystemTime>,
    start_to_close: Option<Duration>,
    schedule_to_close: Option<Duration>,
) -> Option<SystemTime> {
    let (scheduled, started, start_to_close, schedule_to_close) =
        (scheduled?, started?, start_to_close?, schedule_to_close?);
    let start_to_close_deadline = started.checked_add(start_to_close)?;
    if schedule_to_close > Duration::ZERO {
        let schedule_to_close_deadline = scheduled.checked_add(schedule_to_close)?;
        Some(start_to_close_deadline.min(schedule_to_close_deadline))
    } else {
        Some(start_to_close_deadline)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadline_is_the_earlier_timeout() {
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1000);
        let started = t0 + Duration::from_secs(5);
        assert_eq!(
            calculate_deadline(
                Some(t0),
                Some(started),
                Some(Duration::from_secs(60)),
                Some(Duration::from_secs(10))
            ),
            Some(t0 + Duration::from_secs(10))
        );
        assert_eq!(
            calculate_deadline(
                Some(t0),
                Some(started),
                Some(Duration::from_secs(60)),
                Some(Duration::ZERO)
            ),
            Some(started + Duration::from_secs(60))
        );
        assert_eq!(calculate_deadline(None, Some(started), None, None), None);
    }

    #[test]
    fn empty_heartbeat_details_decode_to_none() {
        let details = ActivityHeartbeatDetails::new(Vec::new(), PayloadConverter::default());
        assert_eq!(details.deserialize::<String>().unwrap(), None);
    }
}
