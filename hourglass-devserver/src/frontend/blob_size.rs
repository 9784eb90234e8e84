//! Temporal's per-blob size limits (`limit.blobSize.*`, `limit.memoSize.*`) and what the
//! frontend does when a payload is over them (`common.CheckEventBlobSizeLimit` and its call
//! sites in service/frontend/workflow_handler.go):
//!
//! - a blob over the warning limit (512 KiB; memo 2 KiB) is logged;
//! - a blob over the error limit (2 MiB) is refused with `InvalidArgument("Blob data size
//!   exceeds limit.")` (memo: "Memo size exceeds limit.") before anything is written;
//! - except on activity completions, where Temporal records the oversized answer as a
//!   non-retryable server failure of the activity instead (so the workflow learns why), and
//!   an oversized failure is truncated and wrapped.
use crate::history::activity::ActivityResult;
use prost::Message;
use temporalio_protos::temporal::api::common::v1::Payloads;
use temporalio_protos::temporal::api::failure::v1::{
    ApplicationFailureInfo, Failure, ServerFailureInfo, failure::FailureInfo,
};
use tonic::Status;

/// `limit.blobSize.error`: the largest payload blob accepted, in bytes.
pub const BLOB_SIZE_LIMIT_ERROR: usize = 2 * 1024 * 1024;
/// `limit.blobSize.warn`: a blob larger than this is logged.
pub const BLOB_SIZE_LIMIT_WARN: usize = 512 * 1024;
/// `limit.memoSize.error`.
pub const MEMO_SIZE_LIMIT_ERROR: usize = 2 * 1024 * 1024;
/// `limit.memoSize.warn`.
pub const MEMO_SIZE_LIMIT_WARN: usize = 2 * 1024;

/// `common.FailureReasonCompleteResultExceedsLimit`.
pub const COMPLETE_RESULT_EXCEEDS_LIMIT: &str = "Complete result exceeds size limit.";
/// `common.FailureReasonFailureExceedsLimit`.
pub const FAILURE_EXCEEDS_LIMIT: &str = "Failure exceeds size limit.";
/// `common.FailureReasonCancelDetailsExceedsLimit`.
pub const CANCEL_DETAILS_EXCEEDS_LIMIT: &str = "Cancel details exceed size limit.";
/// `common.FailureReasonHeartbeatExceedsLimit`.
pub const HEARTBEAT_EXCEEDS_LIMIT: &str = "Heartbeat details exceed size limit.";

/// Where an oversized blob was seen, for the log line.
pub struct BlobSite<'a> {
    /// The RPC (`StartWorkflowExecution`, `SignalWorkflowExecution`, …).
    pub operation: &'a str,
    /// The namespace.
    pub namespace: &'a str,
    /// The workflow id, when known.
    pub workflow_id: &'a str,
}

/// Whether a blob of `size` bytes is over `error_limit`; logs one over `warn_limit`.
pub fn exceeds(size: usize, warn_limit: usize, error_limit: usize, site: &BlobSite<'_>) -> bool {
    if size <= warn_limit {
        return false;
    }
    tracing::warn!(
        operation = site.operation,
        namespace = site.namespace,
        workflow_id = site.workflow_id,
        size,
        warn_limit,
        error_limit,
        "blob data size exceeds the warning limit"
    );
    size > error_limit
}

/// Refuses a payload blob over the error limit, as Temporal's frontend does.
pub fn check_blob<M: Message>(blob: Option<&M>, site: &BlobSite<'_>) -> Result<(), Status> {
    let size = blob.map_or(0, Message::encoded_len);
    if exceeds(size, BLOB_SIZE_LIMIT_WARN, BLOB_SIZE_LIMIT_ERROR, site) {
        return Err(Status::invalid_argument("Blob data size exceeds limit."));
    }
    Ok(())
}

/// Refuses a memo over the memo limit (history's `ValidateStart`).
pub fn check_memo<M: Message>(memo: Option<&M>, site: &BlobSite<'_>) -> Result<(), Status> {
    let size = memo.map_or(0, Message::encoded_len);
    if exceeds(size, MEMO_SIZE_LIMIT_WARN, MEMO_SIZE_LIMIT_ERROR, site) {
        return Err(Status::invalid_argument("Memo size exceeds limit."));
    }
    Ok(())
}

/// Whether a blob is over the error limit (logging it when over the warning limit), for the
/// activity paths that turn an oversized answer into a failure rather than an error.
pub fn blob_over_limit<M: Message>(blob: Option<&M>, site: &BlobSite<'_>) -> bool {
    let size = blob.map_or(0, Message::encoded_len);
    exceeds(size, BLOB_SIZE_LIMIT_WARN, BLOB_SIZE_LIMIT_ERROR, site)
}

/// What Temporal records for an activity's completion: the result, or — when the result is
/// over the limit — a non-retryable failure saying so.
pub fn activity_completed(result: Option<Payloads>, site: &BlobSite<'_>) -> ActivityResult {
    if blob_over_limit(result.as_ref(), site) {
        return ActivityResult::Failed(Box::new(Some(server_failure(
            COMPLETE_RESULT_EXCEEDS_LIMIT,
            true,
        ))));
    }
    ActivityResult::Completed(result)
}

/// What Temporal records for an activity's cancellation: the details, or a non-retryable
/// failure when they are over the limit.
pub fn activity_canceled(details: Option<Payloads>, site: &BlobSite<'_>) -> ActivityResult {
    if blob_over_limit(details.as_ref(), site) {
        return ActivityResult::Failed(Box::new(Some(server_failure(
            CANCEL_DETAILS_EXCEEDS_LIMIT,
            true,
        ))));
    }
    ActivityResult::Canceled(details)
}

/// What Temporal records for an activity's failure, and the failures it reports back in the
/// response: oversized last-heartbeat details are dropped (reported as a heartbeat failure),
/// an oversized failure is replaced by [`oversized_failure`].
pub fn activity_failed(
    failure: Option<Failure>,
    heartbeat: &mut Option<Payloads>,
    site: &BlobSite<'_>,
) -> (ActivityResult, Vec<Failure>) {
    let mut reported = Vec::new();
    if heartbeat.is_some() && blob_over_limit(heartbeat.as_ref(), site) {
        reported.push(server_failure(HEARTBEAT_EXCEEDS_LIMIT, true));
        *heartbeat = None;
    }
    let failure = match failure {
        Some(f) if blob_over_limit(Some(&f), site) => {
            let f = oversized_failure(&f);
            reported.push(f.clone());
            Some(f)
        }
        f => f,
    };
    (ActivityResult::Failed(Box::new(failure)), reported)
}

/// Temporal's `failure.NewServerFailure`.
pub fn server_failure(message: &str, non_retryable: bool) -> Failure {
    Failure {
        message: message.to_string(),
        failure_info: Some(FailureInfo::ServerFailureInfo(ServerFailureInfo {
            non_retryable,
        })),
        ..Default::default()
    }
}

/// An oversized activity failure as Temporal records it: a non-retryable server failure
/// whose cause is the original truncated to the warning limit.
pub fn oversized_failure(original: &Failure) -> Failure {
    let mut f = server_failure(FAILURE_EXCEEDS_LIMIT, true);
    f.cause = Some(Box::new(truncate(original, BLOB_SIZE_LIMIT_WARN)));
    f
}

/// Temporal's `failure.Truncate`: keeps the failure info kind (application: type and
/// non-retryable; server: non-retryable), source, message and stack trace in that order of
/// importance within `max_size` bytes, and causes down to 20 levels while room is left.
pub fn truncate(f: &Failure, max_size: usize) -> Failure {
    truncate_with_depth(f, max_size as i64, 20)
}

fn truncate_with_depth(f: &Failure, mut max_size: i64, max_depth: u32) -> Failure {
    let trunc = |s: &str, max_size: &mut i64| -> String {
        let s = truncate_utf8(s, (*max_size).max(0) as usize).to_string();
        *max_size -= s.len() as i64;
        if !s.is_empty() {
            *max_size -= 4; // proto overhead
        }
        s
    };
    let mut out = Failure::default();
    match &f.failure_info {
        Some(FailureInfo::ApplicationFailureInfo(i)) => {
            let ty = trunc(&i.r#type, &mut max_size);
            out.failure_info = Some(FailureInfo::ApplicationFailureInfo(
                ApplicationFailureInfo {
                    non_retryable: i.non_retryable,
                    r#type: ty,
                    ..Default::default()
                },
            ));
            max_size -= 8;
        }
        Some(FailureInfo::ServerFailureInfo(i)) => {
            out.failure_info = Some(FailureInfo::ServerFailureInfo(ServerFailureInfo {
                non_retryable: i.non_retryable,
            }));
            max_size -= 4;
        }
        _ => {}
    }
    out.source = trunc(&f.source, &mut max_size);
    out.message = trunc(&f.message, &mut max_size);
    out.stack_trace = trunc(&f.stack_trace, &mut max_size);
    if let Some(cause) = &f.cause
        && max_size > 4
        && max_depth > 0
    {
        out.cause = Some(Box::new(truncate_with_depth(
            cause,
            max_size - 4,
            max_depth - 1,
        )));
    }
    out
}

/// The longest prefix of `s` of at most `max` bytes that ends on a character boundary.
fn truncate_utf8(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
mod tests {
    use super::*;
    use temporalio_protos::temporal::api::common::v1::Payload;

    fn site() -> BlobSite<'static> {
        BlobSite {
            operation: "Test",
            namespace: "default",
            workflow_id: "wf",
        }
    }

    fn payloads(n: usize) -> Payloads {
        Payloads {
            payloads: vec![Payload {
                data: vec![7; n],
                ..Default::default()
            }],
        }
    }

    #[test]
    fn blobs_at_or_under_the_limit_pass_and_over_it_are_refused() {
        assert!(check_blob(Some(&payloads(1024)), &site()).is_ok());
        assert!(check_blob(None::<&Payloads>, &site()).is_ok());
        assert!(check_blob(Some(&payloads(BLOB_SIZE_LIMIT_ERROR - 16)), &site()).is_ok());
        let err = check_blob(Some(&payloads(BLOB_SIZE_LIMIT_ERROR)), &site()).unwrap_err();
        assert_eq!(err.code(), tonic::Code::InvalidArgument);
        assert_eq!(err.message(), "Blob data size exceeds limit.");
        assert!(blob_over_limit(
            Some(&payloads(BLOB_SIZE_LIMIT_ERROR)),
            &site()
        ));
        assert!(!blob_over_limit(Some(&payloads(10)), &site()));
    }

    #[test]
    fn memo_has_its_own_message() {
        let err = check_memo(Some(&payloads(MEMO_SIZE_LIMIT_ERROR)), &site()).unwrap_err();
        assert_eq!(err.message(), "Memo size exceeds limit.");
    }

    #[test]
    fn truncate_keeps_kind_and_cuts_on_char_boundaries() {
        let f = Failure {
            message: "é".repeat(100),
            stack_trace: "x".repeat(1000),
            failure_info: Some(FailureInfo::ApplicationFailureInfo(
                ApplicationFailureInfo {
                    r#type: "Boom".into(),
                    non_retryable: true,
                    ..Default::default()
                },
            )),
            cause: Some(Box::new(Failure {
                message: "inner".into(),
                ..Default::default()
            })),
            ..Default::default()
        };
        let t = truncate(&f, 101);
        let Some(FailureInfo::ApplicationFailureInfo(i)) = &t.failure_info else {
            panic!("application info kept: {t:?}");
        };
        assert!(i.non_retryable);
        assert_eq!(i.r#type, "Boom");
        // 101 - 4 - 4 (type) - 8 = 85 bytes left for the message: 42 two-byte chars.
        assert_eq!(t.message.chars().count(), 42);
        assert!(t.stack_trace.is_empty(), "no room left for the stack trace");
        let big = truncate(&f, 100_000);
        assert_eq!(big.message, f.message);
        assert_eq!(big.cause.map(|c| c.message), Some("inner".to_string()));
    }

    #[test]
    fn oversized_failure_wraps_the_original() {
        let f = Failure {
            message: "m".repeat(BLOB_SIZE_LIMIT_ERROR + 1),
            ..Default::default()
        };
        let o = oversized_failure(&f);
        assert_eq!(o.message, FAILURE_EXCEEDS_LIMIT);
        assert!(matches!(
            o.failure_info,
            Some(FailureInfo::ServerFailureInfo(ServerFailureInfo {
                non_retryable: true
            }))
        ));
        assert!(o.encoded_len() < BLOB_SIZE_LIMIT_ERROR);
        let cause = o.cause.expect("cause kept");
        assert!(cause.message.len() <= BLOB_SIZE_LIMIT_WARN);
    }
}
