//! Workflow retries, as Temporal's service/history/workflow/retry.go: a run that fails (the
//! FailWorkflowExecution command) or times out (its run timeout) is retried as a new run of
//! the same chain when its retry policy allows another attempt — `getBackoffInterval`:
//! retryable failure, attempts left, the backoff (or the failure's next retry delay) within
//! the maximum interval and before the execution expires. The failed run closes with the new
//! run's id and retry state; the new run (initiator Retry, attempt + 1, the failure as its
//! continued failure) starts its first workflow task after the backoff
//! (`SetupNewWorkflowForRetryOrCron`).
use crate::history::retry::is_retryable;
use crate::prelude::*;

/// A retry decision: the retry state to record, and the backoff when the run is retried.
pub(crate) struct WorkflowRetry {
    pub(crate) state: RetryState,
    pub(crate) backoff_ms: Option<i64>,
}

/// `getBackoffInterval` for a run whose start event is `started`, at attempt `attempt`.
fn backoff_interval(
    started: &h::WorkflowExecutionStartedEventAttributes,
    expiration_ms: Option<i64>,
    failure: &Failure,
    timeout: Option<TimeoutType>,
    now: i64,
) -> WorkflowRetry {
    let no = |state| WorkflowRetry {
        state,
        backoff_ms: None,
    };
    let Some(rp) = &started.retry_policy else {
        return no(RetryState::RetryPolicyNotSet);
    };
    if !is_retryable(Some(failure), timeout, &rp.non_retryable_error_types) {
        return no(RetryState::NonRetryableFailure);
    }
    let attempt = started.attempt.max(1);
    if rp.maximum_attempts > 0 && attempt >= rp.maximum_attempts {
        return no(RetryState::MaximumAttemptsReached);
    }
    let next_retry_delay = match &failure.failure_info {
        Some(FailureInfo::ApplicationFailureInfo(a)) => a.next_retry_delay.as_ref(),
        _ => None,
    };
    let mut interval = match next_retry_delay {
        Some(d) => dur_ms(&Some(*d)),
        None => {
            let initial = dur_ms(&rp.initial_interval) as f64;
            (initial * rp.backoff_coefficient.powi(attempt - 1)) as i64
        }
    };
    let max = dur_ms(&rp.maximum_interval);
    if max == 0 && interval <= 0 {
        return no(RetryState::Timeout);
    }
    if max != 0 && (interval <= 0 || interval > max) {
        interval = max;
    }
    if expiration_ms.is_some_and(|exp| now + interval > exp) {
        return no(RetryState::Timeout);
    }
    WorkflowRetry {
        state: RetryState::InProgress,
        backoff_ms: Some(interval),
    }
}

impl Inner<'_> {
    /// Whether the open run `key` that ends with `failure` is retried (`timeout`: it ended by
    /// its run timeout).
    pub(crate) fn workflow_retry(
        &self,
        key: &ExecKey,
        failure: &Failure,
        timeout: Option<TimeoutType>,
    ) -> WorkflowRetry {
        let Some(ex) = self.execs.get(key) else {
            return WorkflowRetry {
                state: RetryState::RetryPolicyNotSet,
                backoff_ms: None,
            };
        };
        match started_attrs(ex) {
            Some(started) => backoff_interval(
                &started,
                ex.st.execution_deadline_ms,
                failure,
                timeout,
                self.now_ms(),
            ),
            None => WorkflowRetry {
                state: RetryState::RetryPolicyNotSet,
                backoff_ms: None,
            },
        }
    }

    /// Starts the next attempt of the closed run `key` as `new_run_id`, after `backoff_ms`.
    pub(crate) fn start_workflow_retry(
        &mut self,
        key: &ExecKey,
        new_run_id: String,
        backoff_ms: i64,
        failure: Failure,
    ) {
        let Some(ex) = self.execs.get(key) else {
            return;
        };
        let Some(started) = started_attrs(ex) else {
            return;
        };
        let run = NewRun {
            namespace: key.namespace.clone(),
            workflow_id: key.workflow_id.clone(),
            run_id: new_run_id,
            first_run_id: ex.st.first_run_id.clone(),
            workflow_type: ex.st.workflow_type.clone(),
            task_queue: ex.st.task_queue.clone(),
            input: started.input,
            execution_timeout_ms: dur_ms(&started.workflow_execution_timeout),
            run_timeout_ms: dur_ms(&started.workflow_run_timeout),
            wft_timeout_ms: ex.st.wft_timeout_ms,
            identity: started.identity,
            request_id: new_id(),
            retry_policy: started.retry_policy,
            memo: ex.st.memo.clone(),
            search_attributes: ex.st.search_attributes.clone(),
            header: started.header,
            parent: ex.st.parent.clone(),
            continued_execution_run_id: key.run_id.clone(),
            initiator: ContinueAsNewInitiator::Retry as i32,
            continued_failure: Some(failure),
            execution_deadline_ms: ex.st.execution_deadline_ms,
            start_delay_ms: backoff_ms,
            attempt: started.attempt.max(1) + 1,
            priority: started.priority,
            prev_auto_reset_points: ex.st.auto_reset_points.clone(),
            ..Default::default()
        };
        tracing::info!(workflow_id = %key.workflow_id, failed_run_id = %key.run_id, attempt = run.attempt, backoff_ms, "workflow retried");
        let parent = run.parent.clone();
        let next = self.create_run(run);
        if let Some(p) = parent {
            self.follow_chain_in_parent(&p, &next);
        }
    }

    /// A parent keeps tracking its child's chain under the chain's new run id.
    pub(crate) fn follow_chain_in_parent(&mut self, p: &Parent, next: &ExecKey) {
        let pk = ExecKey {
            namespace: p.namespace.clone(),
            workflow_id: p.workflow_id.clone(),
            run_id: p.run_id.clone(),
        };
        if let Some(c) = self
            .execs
            .get_mut(&pk)
            .and_then(|pe| pe.st.children.get_mut(&p.initiated_event_id))
        {
            c.run_id = next.run_id.clone();
            self.dirty.insert(pk);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost_wkt_types::Duration;

    fn started(attempt: i32, max_attempts: i32) -> h::WorkflowExecutionStartedEventAttributes {
        h::WorkflowExecutionStartedEventAttributes {
            attempt,
            retry_policy: Some(RetryPolicy {
                initial_interval: Some(Duration {
                    seconds: 1,
                    nanos: 0,
                }),
                backoff_coefficient: 2.0,
                maximum_interval: Some(Duration {
                    seconds: 3,
                    nanos: 0,
                }),
                maximum_attempts: max_attempts,
                non_retryable_error_types: vec!["Fatal".into()],
            }),
            ..Default::default()
        }
    }

    fn app_failure(ty: &str) -> Failure {
        Failure {
            message: "boom".into(),
            failure_info: Some(FailureInfo::ApplicationFailureInfo(
                ApplicationFailureInfo {
                    r#type: ty.into(),
                    ..Default::default()
                },
            )),
            ..Default::default()
        }
    }

    #[test]
    fn the_backoff_grows_to_the_maximum_interval_and_attempts_run_out() {
        let f = app_failure("Oops");
        let at = |attempt| backoff_interval(&started(attempt, 4), None, &f, None, 0);
        assert_eq!(at(1).backoff_ms, Some(1_000));
        assert_eq!(at(2).backoff_ms, Some(2_000));
        assert_eq!(at(3).backoff_ms, Some(3_000), "capped");
        assert_eq!(at(3).state, RetryState::InProgress);
        let last = at(4);
        assert_eq!(last.state, RetryState::MaximumAttemptsReached);
        assert_eq!(last.backoff_ms, None);
    }

    #[test]
    fn no_policy_a_non_retryable_failure_and_expiry_are_not_retried() {
        let f = app_failure("Oops");
        let none = h::WorkflowExecutionStartedEventAttributes::default();
        assert_eq!(
            backoff_interval(&none, None, &f, None, 0).state,
            RetryState::RetryPolicyNotSet
        );
        assert_eq!(
            backoff_interval(&started(1, 0), None, &app_failure("Fatal"), None, 0).state,
            RetryState::NonRetryableFailure
        );
        assert_eq!(
            backoff_interval(&started(1, 0), Some(500), &f, None, 0).state,
            RetryState::Timeout,
            "the next attempt would start after the execution expires"
        );
        let timeout = crate::history::activity::server_timeout_failure(TimeoutType::StartToClose);
        let r = backoff_interval(
            &started(1, 0),
            None,
            &timeout,
            Some(TimeoutType::StartToClose),
            0,
        );
        assert_eq!(r.backoff_ms, Some(1_000), "a run timeout is retried");
    }
}
