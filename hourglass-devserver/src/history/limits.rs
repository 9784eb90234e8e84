//! Per-execution history limits, as Temporal's `workflow.ContextImpl` enforces them before it
//! persists a transaction (`enforceHistorySizeCheck`, `enforceHistoryCountCheck`): a running
//! workflow whose history is over the error limit is terminated by the history service with
//! the limit as the reason, and the request that grew it fails with InvalidArgument naming
//! that reason. Over the warn limit, a warning is logged once per execution.
use crate::prelude::*;

/// Temporal's `common.FailureReasonHistorySizeExceedsLimit`.
pub const HISTORY_SIZE_EXCEEDS_LIMIT: &str = "Workflow history size exceeds limit.";
/// Temporal's `common.FailureReasonHistoryCountExceedsLimit`.
pub const HISTORY_COUNT_EXCEEDS_LIMIT: &str = "Workflow history count exceeds limit.";
/// Temporal's `consts.IdentityHistoryService`: who terminates an execution over a limit.
pub const HISTORY_SERVICE_IDENTITY: &str = "history-service";

/// The limits on one execution's history. The defaults are Temporal's dynamic-config
/// defaults (`limit.historySize.error` 50 MiB / `.warn` 10 MiB / `.suggestContinueAsNew`
/// 4 MiB, `limit.historyCount.error` 51,200 / `.warn` 10,240 / `.suggestContinueAsNew` 4,096).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HistoryLimits {
    /// History size in bytes above which a running workflow is terminated.
    pub size_error: i64,
    /// History size in bytes above which a warning is logged.
    pub size_warn: i64,
    /// Event count above which a running workflow is terminated.
    pub count_error: i64,
    /// Event count above which a warning is logged.
    pub count_warn: i64,
    /// History size in bytes from which workflow tasks suggest continue-as-new.
    pub size_suggest_continue_as_new: i64,
    /// Event count from which workflow tasks suggest continue-as-new.
    pub count_suggest_continue_as_new: i64,
}

impl Default for HistoryLimits {
    fn default() -> Self {
        Self {
            size_error: 50 * 1024 * 1024,
            size_warn: 10 * 1024 * 1024,
            count_error: 50 * 1024,
            count_warn: 10 * 1024,
            size_suggest_continue_as_new: 4 * 1024 * 1024,
            count_suggest_continue_as_new: 4 * 1024,
        }
    }
}

/// What a history of `count` events and `size` bytes breaches, if anything: the reason
/// Temporal terminates with (size is checked first, as Temporal does).
pub(crate) fn breach(limits: &HistoryLimits, count: i64, size: i64) -> Option<&'static str> {
    if size > limits.size_error {
        Some(HISTORY_SIZE_EXCEEDS_LIMIT)
    } else if count > limits.count_error {
        Some(HISTORY_COUNT_EXCEEDS_LIMIT)
    } else {
        None
    }
}

impl Inner<'_> {
    /// Terminates every changed, running execution whose history is over a limit; returns
    /// the error for the request that caused it (the last one when several did).
    pub(crate) fn enforce_history_limits(&mut self) -> Option<Status> {
        let limits = *self.s.history_limits.lock();
        let mut over = vec![];
        for key in &self.dirty {
            let Some(ex) = self.execs.get_mut(key) else {
                continue;
            };
            let count = ex.st.next_event_id - 1;
            let size = ex.st.history_size_bytes;
            if !ex.limit_warned && (count > limits.count_warn || size > limits.size_warn) {
                ex.limit_warned = true;
                tracing::warn!(
                    workflow_id = %key.workflow_id,
                    events = count,
                    bytes = size,
                    "history exceeds the warn limit"
                );
            }
            if ex.st.is_open()
                && let Some(reason) = breach(&limits, count, size)
            {
                over.push((key.clone(), reason, count, size));
            }
        }
        let mut err = None;
        for (key, reason, count, size) in over {
            tracing::warn!(
                workflow_id = %key.workflow_id,
                events = count,
                bytes = size,
                reason,
                "history over its error limit: terminating the workflow"
            );
            self.terminate(&key, reason, None, HISTORY_SERVICE_IDENTITY);
            err = Some(Status::invalid_argument(reason));
        }
        err
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_is_checked_before_count_and_limits_are_exclusive() {
        let l = HistoryLimits {
            size_error: 100,
            size_warn: 10,
            count_error: 5,
            count_warn: 2,
            ..HistoryLimits::default()
        };
        assert_eq!(breach(&l, 5, 100), None, "at the limit is allowed");
        assert_eq!(breach(&l, 6, 100), Some(HISTORY_COUNT_EXCEEDS_LIMIT));
        assert_eq!(breach(&l, 6, 101), Some(HISTORY_SIZE_EXCEEDS_LIMIT));
        let d = HistoryLimits::default();
        assert_eq!((d.count_error, d.size_error), (51_200, 52_428_800));
    }
}
