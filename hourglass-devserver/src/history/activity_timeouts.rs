//! Temporal's validation and normalisation of a `ScheduleActivityTask` command, as a pure
//! function: [`normalize_schedule_activity`].
//!
//! It follows temporalio/temporal's `CommandAttrValidator.ValidateActivityScheduleAttributes`
//! (service/history/api/command_attr_validator.go) and the shared
//! `ValidateAndNormalizeEmbeddedActivity` (chasm/lib/activity/validator.go), check for check
//! and in the same order, with the same `InvalidArgument` messages:
//!
//! 1. the task queue (`tqid.NormalizeAndValidateUserDefined`: set, not empty, at most 1000
//!    bytes, no `/_sys/` prefix, no internal per-namespace queue unless the workflow's is one;
//!    an unspecified kind becomes `Normal`);
//! 2. activity id and type set; the retry policy (`retrypolicy.EnsureDefaults` with the
//!    default activity retry settings, then `retrypolicy.Validate`); id and type at most 1000
//!    bytes; the priority;
//! 3. the timeouts (`validateAndNormalizeTimeouts`): each one non-negative with consistent
//!    signs and capped at 100 years; then
//!    - schedule-to-close set: a missing schedule-to-start or start-to-close becomes
//!      schedule-to-close, a set one is capped by it;
//!    - else start-to-close set: schedule-to-close becomes the run timeout, and so does a
//!      missing schedule-to-start;
//!    - else the command is rejected;
//!    - with a run timeout, no timeout exceeds it; the heartbeat timeout never exceeds
//!      start-to-close.
//!
//! The result carries every timeout as a present duration, zero meaning "no limit": that is
//! what Temporal writes into `ActivityTaskScheduledEventAttributes` and sends in
//! `PollActivityTaskQueueResponse` (the official TypeScript SDK rejects an activity task
//! whose `schedule_to_close_timeout` is absent).
use prost_wkt_types::Duration;
use temporalio_protos::temporal::api::{
    command::v1::ScheduleActivityTaskCommandAttributes,
    common::v1::{Priority, RetryPolicy},
    enums::v1::{TaskQueueKind, TimeoutType},
    taskqueue::v1::TaskQueue,
};

/// Temporal's default `limit.maxIDLength` (activity id, type and task queue name, in bytes).
pub const MAX_ID_LENGTH: usize = 1000;

/// Temporal caps every duration at 100 years (`timestamp.maxAllowedDuration`), in seconds.
const MAX_SECONDS: i64 = 100 * 365 * 24 * 3600;

/// The default activity retry settings (`retrypolicy.DefaultDefaultRetrySettings`).
const DEFAULT_INITIAL_INTERVAL_SECONDS: i64 = 1;
const DEFAULT_MAXIMUM_INTERVAL_COEFFICIENT: i64 = 100;
const DEFAULT_BACKOFF_COEFFICIENT: f64 = 2.0;
const DEFAULT_MAXIMUM_ATTEMPTS: i32 = 0;

const RESERVED_TASK_QUEUE_PREFIX: &str = "/_sys/";
const INTERNAL_PER_NS_TASK_QUEUE_PREFIX: &str = "temporal-sys-per-ns-";
const WORKER_CONTROLLER_PER_NS_TASK_QUEUE: &str = "temporal-sys-worker-controller-per-ns-tq";
const FAIRNESS_KEY_MAX_LENGTH: usize = 64;
const TIMEOUT_FAILURE_TYPE_PREFIX: &str = "TemporalTimeout:";

/// A `ScheduleActivityTask` command's attributes after Temporal's normalisation: what the
/// scheduled event records and the activity task carries.
#[derive(Debug, Clone, PartialEq)]
pub struct NormalizedActivity {
    /// The task queue, with its kind defaulted to `Normal`.
    pub task_queue: TaskQueue,
    /// Schedule-to-close timeout; zero means no limit.
    pub schedule_to_close: Duration,
    /// Schedule-to-start timeout (per attempt); zero means no limit.
    pub schedule_to_start: Duration,
    /// Start-to-close timeout (per attempt); zero means no limit.
    pub start_to_close: Duration,
    /// Heartbeat timeout; zero means no heartbeat is required.
    pub heartbeat: Duration,
    /// The retry policy with Temporal's defaults filled in.
    pub retry_policy: RetryPolicy,
}

/// Why Temporal rejects a `ScheduleActivityTask` command. Each message is Temporal's own
/// (the server answers `InvalidArgument` with it).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ScheduleActivityError {
    /// The command has no task queue.
    #[error("taskQueue is not set")]
    TaskQueueNotSet,
    /// The task queue's name is empty.
    #[error("missing task queue name")]
    MissingTaskQueueName,
    /// The task queue's name is longer than [`MAX_ID_LENGTH`] bytes.
    #[error("taskQueue length exceeds limit")]
    TaskQueueTooLong,
    /// The task queue's name starts with `/_sys/`.
    #[error("task queue name cannot start with reserved prefix /_sys/")]
    ReservedTaskQueue,
    /// The task queue is an internal per-namespace queue and the workflow's is not.
    #[error("cannot use internal per-namespace task queue:{task_queue}{}", in_parent(.workflow_task_queue))]
    InternalTaskQueue {
        /// The requested task queue.
        task_queue: String,
        /// The workflow's task queue.
        workflow_task_queue: String,
    },
    /// The activity id is empty.
    #[error("activityId is not set")]
    ActivityIdNotSet,
    /// The activity type is empty.
    #[error("activityType is not set")]
    ActivityTypeNotSet,
    /// The activity id is longer than [`MAX_ID_LENGTH`] bytes.
    #[error("activityId exceeds length limit. Length={0} Limit={MAX_ID_LENGTH}")]
    ActivityIdTooLong(usize),
    /// The activity type is longer than [`MAX_ID_LENGTH`] bytes.
    #[error("activityType exceeds length limit. Length={0} Limit={MAX_ID_LENGTH}")]
    ActivityTypeTooLong(usize),
    /// A retry policy interval is negative or has mismatched signs.
    #[error("invalid {field} set on retry policy: {problem}")]
    RetryInterval {
        /// `InitialInterval` or `MaximumInterval`.
        field: &'static str,
        /// What is wrong with it.
        problem: DurationProblem,
    },
    /// The retry policy's backoff coefficient is below 1.
    #[error("BackoffCoefficient cannot be less than 1 on retry policy.")]
    BackoffBelowOne,
    /// The retry policy's maximum interval is below its initial interval.
    #[error("MaximumInterval cannot be less than InitialInterval on retry policy.")]
    MaximumBelowInitial,
    /// The retry policy's maximum attempts are negative.
    #[error("MaximumAttempts cannot be negative on retry policy.")]
    NegativeMaximumAttempts,
    /// A `TemporalTimeout:` non-retryable error type names no timeout type.
    #[error("Invalid timeout type value: {0}.")]
    InvalidTimeoutType(String),
    /// The priority is invalid.
    #[error("invalid priorities: {0}")]
    Priority(&'static str),
    /// A timeout is negative or has mismatched signs.
    #[error("invalid {field}: {problem}")]
    Timeout {
        /// `ScheduleToCloseTimeout`, `ScheduleToStartTimeout`, `StartToCloseTimeout` or
        /// `HeartbeatTimeout`.
        field: &'static str,
        /// What is wrong with it.
        problem: DurationProblem,
    },
    /// Neither start-to-close nor schedule-to-close is set.
    #[error(
        "a valid StartToCloseTimeout or ScheduleToCloseTimeout must be set on the activity. ActivityId={activity_id} ActivityType={activity_type}"
    )]
    NoCloseTimeout {
        /// The activity id.
        activity_id: String,
        /// The activity type.
        activity_type: String,
    },
}

fn in_parent(workflow_task_queue: &str) -> String {
    if workflow_task_queue.is_empty() {
        String::new()
    } else {
        format!(" (in parent component task queue: {workflow_task_queue})")
    }
}

/// What is wrong with a duration (Temporal's `timestamp.ValidateAndCapProtoDuration`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DurationProblem {
    /// Seconds and nanos have different signs.
    #[error("duration has seconds and nanos with different signs")]
    MismatchedSigns,
    /// The duration is negative.
    #[error("negative duration")]
    Negative,
}

/// Validates an optional duration and caps it at 100 years; `None` stays `None`.
pub(crate) fn validate_and_cap(d: &Option<Duration>) -> Result<Option<Duration>, DurationProblem> {
    let Some(d) = d else { return Ok(None) };
    if (d.seconds > 0 && d.nanos < 0) || (d.seconds < 0 && d.nanos > 0) {
        return Err(DurationProblem::MismatchedSigns);
    }
    if nanos(d) < 0 {
        return Err(DurationProblem::Negative);
    }
    if nanos(d) > i128::from(MAX_SECONDS) * 1_000_000_000 {
        return Ok(Some(Duration {
            seconds: MAX_SECONDS,
            nanos: 0,
        }));
    }
    Ok(Some(*d))
}

fn nanos(d: &Duration) -> i128 {
    i128::from(d.seconds) * 1_000_000_000 + i128::from(d.nanos)
}

fn value(d: &Option<Duration>) -> i128 {
    d.as_ref().map_or(0, nanos)
}

/// The shorter of two durations (absent counts as zero), always present
/// (`timestamp.MinDurationPtr`).
fn min_present(a: &Option<Duration>, b: &Option<Duration>) -> Duration {
    if value(a) <= value(b) {
        a.unwrap_or_default()
    } else {
        b.unwrap_or_default()
    }
}

/// Validates and normalises a `ScheduleActivityTask` command exactly as Temporal does.
///
/// `run_timeout` is the run's workflow run timeout as Temporal records it
/// (`executionInfo.WorkflowRunTimeout`: the run timeout, else the execution timeout; absent or
/// zero for none) and `workflow_task_queue` the run's task queue. The returned timeouts are
/// all present; the first rule the command breaks is returned as an error.
pub fn normalize_schedule_activity(
    attrs: &ScheduleActivityTaskCommandAttributes,
    run_timeout: &Option<Duration>,
    workflow_task_queue: &str,
) -> Result<NormalizedActivity, ScheduleActivityError> {
    let task_queue = normalize_task_queue(attrs.task_queue.as_ref(), workflow_task_queue)?;
    let activity_id = attrs.activity_id.as_str();
    let activity_type = attrs.activity_type.as_ref().map_or("", |t| t.name.as_str());
    if activity_id.is_empty() {
        return Err(ScheduleActivityError::ActivityIdNotSet);
    }
    if activity_type.is_empty() {
        return Err(ScheduleActivityError::ActivityTypeNotSet);
    }
    let retry_policy = normalize_retry_policy(attrs.retry_policy.clone().unwrap_or_default())?;
    if activity_id.len() > MAX_ID_LENGTH {
        return Err(ScheduleActivityError::ActivityIdTooLong(activity_id.len()));
    }
    if activity_type.len() > MAX_ID_LENGTH {
        return Err(ScheduleActivityError::ActivityTypeTooLong(
            activity_type.len(),
        ));
    }
    validate_priority(attrs.priority.as_ref())?;
    let t = normalize_timeouts(attrs, run_timeout, activity_id, activity_type)?;
    Ok(NormalizedActivity {
        task_queue,
        schedule_to_close: t.schedule_to_close,
        schedule_to_start: t.schedule_to_start,
        start_to_close: t.start_to_close,
        heartbeat: t.heartbeat,
        retry_policy,
    })
}

pub(crate) fn normalize_task_queue(
    tq: Option<&TaskQueue>,
    workflow_task_queue: &str,
) -> Result<TaskQueue, ScheduleActivityError> {
    let mut tq = tq.cloned().ok_or(ScheduleActivityError::TaskQueueNotSet)?;
    if tq.kind == TaskQueueKind::Unspecified as i32 {
        tq.kind = TaskQueueKind::Normal as i32;
    }
    if tq.name.is_empty() {
        return Err(ScheduleActivityError::MissingTaskQueueName);
    }
    if tq.name.len() > MAX_ID_LENGTH {
        return Err(ScheduleActivityError::TaskQueueTooLong);
    }
    if tq.name.starts_with(RESERVED_TASK_QUEUE_PREFIX) {
        return Err(ScheduleActivityError::ReservedTaskQueue);
    }
    if tq.kind == TaskQueueKind::Sticky as i32 && tq.normal_name.len() > MAX_ID_LENGTH {
        return Err(ScheduleActivityError::TaskQueueTooLong);
    }
    let internal = |n: &str| {
        n.starts_with(INTERNAL_PER_NS_TASK_QUEUE_PREFIX) || n == WORKER_CONTROLLER_PER_NS_TASK_QUEUE
    };
    if internal(&tq.name) && !internal(workflow_task_queue) {
        return Err(ScheduleActivityError::InternalTaskQueue {
            task_queue: tq.name,
            workflow_task_queue: workflow_task_queue.to_string(),
        });
    }
    Ok(tq)
}

/// `retrypolicy.EnsureDefaults` with the default activity settings, then
/// `retrypolicy.Validate`.
pub(crate) fn normalize_retry_policy(
    mut rp: RetryPolicy,
) -> Result<RetryPolicy, ScheduleActivityError> {
    if rp.maximum_attempts == 0 {
        rp.maximum_attempts = DEFAULT_MAXIMUM_ATTEMPTS;
    }
    if value(&rp.initial_interval) == 0 {
        rp.initial_interval = Some(Duration {
            seconds: DEFAULT_INITIAL_INTERVAL_SECONDS,
            nanos: 0,
        });
    }
    if value(&rp.maximum_interval) == 0 {
        let max = value(&rp.initial_interval) * i128::from(DEFAULT_MAXIMUM_INTERVAL_COEFFICIENT);
        rp.maximum_interval = Some(from_nanos(max));
    }
    if rp.backoff_coefficient == 0.0 {
        rp.backoff_coefficient = DEFAULT_BACKOFF_COEFFICIENT;
    }
    if rp.maximum_attempts == 1 {
        // One attempt disables retries; Temporal validates nothing else.
        return Ok(rp);
    }
    let interval = |field, d: &Option<Duration>| {
        validate_and_cap(d)
            .map_err(|problem| ScheduleActivityError::RetryInterval { field, problem })
    };
    rp.initial_interval = interval("InitialInterval", &rp.initial_interval)?;
    if rp.backoff_coefficient < 1.0 {
        return Err(ScheduleActivityError::BackoffBelowOne);
    }
    rp.maximum_interval = interval("MaximumInterval", &rp.maximum_interval)?;
    let max = value(&rp.maximum_interval);
    if max > 0 && max < value(&rp.initial_interval) {
        return Err(ScheduleActivityError::MaximumBelowInitial);
    }
    if rp.maximum_attempts < 0 {
        return Err(ScheduleActivityError::NegativeMaximumAttempts);
    }
    for t in &rp.non_retryable_error_types {
        if let Some(name) = t.strip_prefix(TIMEOUT_FAILURE_TYPE_PREFIX)
            && timeout_type_from_string(name).is_none_or(|t| t == TimeoutType::Unspecified)
        {
            return Err(ScheduleActivityError::InvalidTimeoutType(name.to_string()));
        }
    }
    Ok(rp)
}

/// Go's `enumspb.TimeoutTypeFromString`: the short name (`StartToClose`) or the full one
/// (`TIMEOUT_TYPE_START_TO_CLOSE`).
fn timeout_type_from_string(s: &str) -> Option<TimeoutType> {
    TimeoutType::from_str_name(s).or(match s {
        "Unspecified" => Some(TimeoutType::Unspecified),
        "StartToClose" => Some(TimeoutType::StartToClose),
        "ScheduleToStart" => Some(TimeoutType::ScheduleToStart),
        "ScheduleToClose" => Some(TimeoutType::ScheduleToClose),
        "Heartbeat" => Some(TimeoutType::Heartbeat),
        _ => None,
    })
}

fn from_nanos(n: i128) -> Duration {
    let n = n.clamp(0, i128::from(MAX_SECONDS) * 1_000_000_000);
    Duration {
        seconds: (n / 1_000_000_000) as i64,
        nanos: (n % 1_000_000_000) as i32,
    }
}

/// `priorities.Validate`.
fn validate_priority(p: Option<&Priority>) -> Result<(), ScheduleActivityError> {
    let Some(p) = p else { return Ok(()) };
    if p.priority_key < 0 {
        Err(ScheduleActivityError::Priority(
            "priority key can't be negative",
        ))
    } else if p.fairness_key.len() > FAIRNESS_KEY_MAX_LENGTH {
        Err(ScheduleActivityError::Priority(
            "fairness key length exceeds limit",
        ))
    } else if p.fairness_weight < 0.0 {
        Err(ScheduleActivityError::Priority("must be greater than zero"))
    } else {
        Ok(())
    }
}

struct Timeouts {
    schedule_to_close: Duration,
    schedule_to_start: Duration,
    start_to_close: Duration,
    heartbeat: Duration,
}

/// `validateAndNormalizeTimeouts`.
fn normalize_timeouts(
    attrs: &ScheduleActivityTaskCommandAttributes,
    run_timeout: &Option<Duration>,
    activity_id: &str,
    activity_type: &str,
) -> Result<Timeouts, ScheduleActivityError> {
    let check = |field, d: &Option<Duration>| {
        validate_and_cap(d).map_err(|problem| ScheduleActivityError::Timeout { field, problem })
    };
    let mut s2c = check("ScheduleToCloseTimeout", &attrs.schedule_to_close_timeout)?;
    let mut s2s = check("ScheduleToStartTimeout", &attrs.schedule_to_start_timeout)?;
    let mut st2c = check("StartToCloseTimeout", &attrs.start_to_close_timeout)?;
    let mut hb = check("HeartbeatTimeout", &attrs.heartbeat_timeout)?;
    // A nil run timeout is treated as zero (and then written into the attributes as such).
    let run = Some(run_timeout.unwrap_or_default());
    let s2s_set = value(&s2s) > 0;
    if value(&s2c) > 0 {
        s2s = Some(if s2s_set {
            min_present(&s2s, &s2c)
        } else {
            s2c.unwrap_or_default()
        });
        st2c = Some(if value(&st2c) > 0 {
            min_present(&st2c, &s2c)
        } else {
            s2c.unwrap_or_default()
        });
    } else if value(&st2c) > 0 {
        s2c = run;
        if !s2s_set {
            s2s = run;
        }
    } else {
        return Err(ScheduleActivityError::NoCloseTimeout {
            activity_id: activity_id.to_string(),
            activity_type: activity_type.to_string(),
        });
    }
    let run_value = value(&run);
    if run_value > 0 {
        for t in [&mut s2c, &mut s2s, &mut st2c, &mut hb] {
            if value(t) > run_value {
                *t = run;
            }
        }
    }
    let heartbeat = min_present(&hb, &st2c);
    Ok(Timeouts {
        schedule_to_close: s2c.unwrap_or_default(),
        schedule_to_start: s2s.unwrap_or_default(),
        start_to_close: st2c.unwrap_or_default(),
        heartbeat,
    })
}

#[cfg(test)]
#[path = "activity_timeouts_tests.rs"]
mod tests;
