//! Activity retry decisions: retry policy, non-retryable failures and backoff (Temporal: common/backoff).
use crate::prelude::*;

/// Decides whether a failed attempt is retried: `(retry_state, Some(delay_ms))` to retry.
pub(crate) fn retry_decision(
    act: &Activity,
    failure: Option<&Failure>,
    timeout: Option<TimeoutType>,
    now: i64,
) -> (RetryState, Option<i64>) {
    let non_retryable = &act.retry_policy.non_retryable_error_types;
    if !is_retryable(failure, timeout, non_retryable) {
        // Schedule-to-start and schedule-to-close timeouts end the activity without a retry
        // decision at all (RetryState Timeout); everything else refused is non-retryable.
        let state = if matches!(
            timeout,
            Some(TimeoutType::ScheduleToClose | TimeoutType::ScheduleToStart)
        ) {
            RetryState::Timeout
        } else {
            RetryState::NonRetryableFailure
        };
        return (state, None);
    }
    let app: Option<&ApplicationFailureInfo> = failure.and_then(|f| match &f.failure_info {
        Some(FailureInfo::ApplicationFailureInfo(a)) => Some(a),
        _ => None,
    });
    let rp = &act.retry_policy;
    if rp.maximum_attempts > 0 && act.attempt >= rp.maximum_attempts {
        return (RetryState::MaximumAttemptsReached, None);
    }
    let initial = dur_ms(&rp.initial_interval).max(1) as f64;
    let max = dur_ms(&rp.maximum_interval).max(1) as f64;
    let mut delay =
        (initial * rp.backoff_coefficient.max(1.0).powi(act.attempt - 1)).min(max) as i64;
    if let Some(a) = app
        && a.next_retry_delay.is_some()
    {
        delay = dur_ms(&a.next_retry_delay);
    }
    if act.schedule_to_close_ms > 0
        && now + delay >= act.first_scheduled_ms + act.schedule_to_close_ms
    {
        return (RetryState::Timeout, None);
    }
    (RetryState::InProgress, Some(delay))
}

/// Whether a failed attempt may be retried, as Temporal's `retrypolicy.IsRetryableFailure`:
/// only start-to-close and heartbeat timeouts retry (unless `TemporalTimeout:<Type>` is listed
/// as non-retryable); cancellations, terminations and non-retryable server or application
/// failures do not; an application failure whose type is listed does not; anything else does.
pub(crate) fn is_retryable(
    failure: Option<&Failure>,
    timeout: Option<TimeoutType>,
    non_retryable_types: &[String],
) -> bool {
    if let Some(t) = timeout {
        let name = match t {
            TimeoutType::StartToClose => "StartToClose",
            TimeoutType::Heartbeat => "Heartbeat",
            _ => return false,
        };
        let listed = format!("TemporalTimeout:{name}");
        return !non_retryable_types.iter().any(|t| t == &listed);
    }
    match failure.and_then(|f| f.failure_info.as_ref()) {
        Some(FailureInfo::TerminatedFailureInfo(_) | FailureInfo::CanceledFailureInfo(_)) => false,
        Some(FailureInfo::ServerFailureInfo(s)) => !s.non_retryable,
        Some(FailureInfo::ApplicationFailureInfo(a)) => {
            !a.non_retryable && !non_retryable_types.iter().any(|t| t == &a.r#type)
        }
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn act(attempt: i32, max_attempts: i32, s2c_ms: i64) -> Activity {
        Activity {
            scheduled_event_id: 5,
            activity_id: "a".into(),
            activity_type: "T".into(),
            task_queue: "q".into(),
            attempt,
            first_scheduled_ms: 0,
            attempt_scheduled_ms: 0,
            started_ms: Some(0),
            started_identity: String::new(),
            last_heartbeat_ms: None,
            heartbeat_details: None,
            cancel_requested: false,
            cancel_requested_event_id: 0,
            retry_policy: RetryPolicy {
                initial_interval: dur(1000),
                backoff_coefficient: 2.0,
                maximum_interval: dur(5000),
                maximum_attempts: max_attempts,
                non_retryable_error_types: vec!["Fatal".into()],
            },
            schedule_to_close_ms: s2c_ms,
            schedule_to_start_ms: 0,
            start_to_close_ms: 1000,
            heartbeat_ms: 0,
            last_failure: None,
            paused: None,
            reset: false,
            reset_heartbeats: false,
        }
    }

    fn app_failure(ty: &str, non_retryable: bool) -> Failure {
        Failure {
            message: "x".into(),
            failure_info: Some(FailureInfo::ApplicationFailureInfo(
                ApplicationFailureInfo {
                    r#type: ty.into(),
                    non_retryable,
                    ..Default::default()
                },
            )),
            ..Default::default()
        }
    }

    #[test]
    fn retry_backoff_grows_and_caps() {
        let f = app_failure("Oops", false);
        assert_eq!(
            retry_decision(&act(1, 0, 0), Some(&f), None, 0),
            (RetryState::InProgress, Some(1000))
        );
        assert_eq!(
            retry_decision(&act(2, 0, 0), Some(&f), None, 0),
            (RetryState::InProgress, Some(2000))
        );
        assert_eq!(
            retry_decision(&act(5, 0, 0), Some(&f), None, 0),
            (RetryState::InProgress, Some(5000))
        );
    }

    #[test]
    fn retry_stops_for_attempts_types_and_deadlines() {
        let f = app_failure("Oops", false);
        assert_eq!(
            retry_decision(&act(3, 3, 0), Some(&f), None, 0).0,
            RetryState::MaximumAttemptsReached
        );
        assert_eq!(
            retry_decision(&act(1, 0, 0), Some(&app_failure("Fatal", false)), None, 0).0,
            RetryState::NonRetryableFailure
        );
        assert_eq!(
            retry_decision(&act(1, 0, 0), Some(&app_failure("Oops", true)), None, 0).0,
            RetryState::NonRetryableFailure
        );
        // The next attempt would start after the schedule-to-close deadline.
        assert_eq!(
            retry_decision(&act(1, 0, 500), Some(&f), None, 0).0,
            RetryState::Timeout
        );
        assert_eq!(
            retry_decision(&act(1, 0, 0), None, Some(TimeoutType::ScheduleToStart), 0).0,
            RetryState::Timeout
        );
        // Start-to-close timeouts are retried.
        assert_eq!(
            retry_decision(&act(1, 0, 0), None, Some(TimeoutType::StartToClose), 0),
            (RetryState::InProgress, Some(1000))
        );
    }

    #[test]
    fn server_cancel_and_listed_timeout_failures_follow_temporals_rule() {
        use temporalio_protos::temporal::api::failure::v1::ServerFailureInfo;
        let server = |non_retryable| Failure {
            failure_info: Some(FailureInfo::ServerFailureInfo(ServerFailureInfo {
                non_retryable,
            })),
            ..Default::default()
        };
        assert!(!is_retryable(Some(&server(true)), None, &[]));
        assert!(is_retryable(Some(&server(false)), None, &[]));
        let canceled = Failure {
            failure_info: Some(FailureInfo::CanceledFailureInfo(Default::default())),
            ..Default::default()
        };
        assert!(!is_retryable(Some(&canceled), None, &[]));
        let listed = vec!["TemporalTimeout:Heartbeat".to_string()];
        assert!(!is_retryable(None, Some(TimeoutType::Heartbeat), &listed));
        assert!(is_retryable(None, Some(TimeoutType::StartToClose), &listed));
        assert!(!is_retryable(None, Some(TimeoutType::ScheduleToClose), &[]));
        assert_eq!(
            retry_decision(&act(1, 0, 0), Some(&server(true)), None, 0).0,
            RetryState::NonRetryableFailure
        );
    }
}
