//! Batch operations, as Temporal's batcher keeps them (`service/worker/batcher`): a job
//! applies one operation — terminate, cancel, signal, delete, reset, unpause or reset
//! activities — to every workflow a visibility query selects, or to an explicit list of
//! executions.
//!
//! In Temporal a job is a system workflow (id = the job id, `TemporalNamespaceDivision =
//! 'TemporalBatcher'`) whose one activity pages through the executions and heartbeats its
//! progress. Here a job is a server-side task ([`runner`]) over a record that lives in the
//! engine and in the store's `batch_jobs` table: the record holds the request, the job's
//! status as its workflow's status (Running, Completed, Failed, Terminated) and the
//! activity's heartbeat ([`Progress`]: page token, page number, the count estimate, the
//! successes and failures of the pages done). A job interrupted by a restart resumes from
//! its last completed page, as Temporal's activity resumes from its last heartbeat.
//!
//! Every operation goes through the engine's own request paths ([`operations`]), so each
//! follows the rules of the RPC it stands for. The WorkflowService RPCs are in [`service`];
//! their request validation (`ValidateBatchOperation`) is in [`validate`].
pub(crate) mod operations;
pub(crate) mod runner;
pub(crate) mod service;
pub(crate) mod validate;

use crate::persistence::proto_serde::pb;
use crate::prelude::*;
use temporalio_protos::temporal::api::enums::v1::{BatchOperationState, BatchOperationType};

/// The batcher's limits, with Temporal's dynamic-config defaults.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BatcherSettings {
    /// `frontend.MaxConcurrentBatchOperationPerNamespace` (1): running jobs per namespace.
    pub max_concurrent_per_namespace: usize,
    /// `worker.batcherRPS` (50): the most operations per second a job makes, and its rate
    /// when the request names none.
    pub rps: f64,
    /// `worker.batcherConcurrency` (5): operations a job has in flight at once.
    pub concurrency: usize,
}

impl Default for BatcherSettings {
    fn default() -> Self {
        Self {
            max_concurrent_per_namespace: 1,
            rps: 50.0,
            concurrency: 5,
        }
    }
}

/// A job's heartbeat, Temporal's `HeartBeatDetails`: where to resume and what the pages
/// done so far did.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Progress {
    /// The list page token of the first page not yet done (empty: the first page).
    pub(crate) page_token: Vec<u8>,
    /// Pages done.
    pub(crate) current_page: i64,
    /// The count of matching executions when the job started (an estimate).
    pub(crate) total_estimate: i64,
    /// Executions the operation succeeded on, in the pages done.
    pub(crate) success_count: i64,
    /// Executions it gave up on, in the pages done.
    pub(crate) error_count: i64,
    /// Whether a heartbeat was recorded (the estimate is taken once, at the first start).
    pub(crate) recorded: bool,
}

/// A batch job's whole state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct BatchJobRec {
    pub(crate) namespace: String,
    pub(crate) job_id: String,
    /// The run id of the job's workflow in Temporal (named in AlreadyExists errors).
    pub(crate) run_id: String,
    /// The request as started.
    #[serde(with = "pb")]
    pub(crate) request: ws::StartBatchOperationRequest,
    /// Temporal's memo string for the operation (`terminate`, `signal`, ...).
    pub(crate) operation: String,
    /// The operation's identity (Temporal's `BatcherUser` search attribute).
    pub(crate) identity: String,
    pub(crate) start_ms: i64,
    /// The job workflow's status: Running, Completed, Failed or Terminated.
    pub(crate) status: i32,
    pub(crate) close_ms: Option<i64>,
    pub(crate) progress: Progress,
    /// Why the job failed, or who stopped it and why.
    pub(crate) close_reason: String,
}

/// A batch job's key: namespace and job id.
pub(crate) type BatchJobKey = (String, String);

impl BatchJobRec {
    /// The key in [`Inner::batch_jobs`].
    pub(crate) fn key(&self) -> BatchJobKey {
        (self.namespace.clone(), self.job_id.clone())
    }

    /// Whether the job is still running.
    pub(crate) fn is_running(&self) -> bool {
        self.status == WorkflowExecutionStatus::Running as i32
    }

    /// `getBatchOperationState`: Running, Completed, or Failed for any other ending.
    pub(crate) fn state(&self) -> BatchOperationState {
        match WorkflowExecutionStatus::try_from(self.status) {
            Ok(WorkflowExecutionStatus::Running) => BatchOperationState::Running,
            Ok(WorkflowExecutionStatus::Completed) => BatchOperationState::Completed,
            _ => BatchOperationState::Failed,
        }
    }

    /// `batchOperationTypeFromString`: the operation as DescribeBatchOperation and
    /// ListBatchOperations report it (the non-deprecated `*_WORKFLOW` values).
    pub(crate) fn operation_type(&self) -> BatchOperationType {
        validate::operation_type_from_memo(&self.operation)
    }

    /// DescribeBatchOperation's answer, counts as Temporal reports them: a completed job's
    /// from its final stats, a running one's from its heartbeat, none for a job that
    /// failed or was stopped (its workflow has no pending activity any more).
    pub(crate) fn describe(&self) -> ws::DescribeBatchOperationResponse {
        let p = &self.progress;
        let (total, complete, failure) = match self.state() {
            BatchOperationState::Completed => (
                p.success_count + p.error_count,
                p.success_count,
                p.error_count,
            ),
            BatchOperationState::Running => (p.total_estimate, p.success_count, p.error_count),
            _ => (0, 0, 0),
        };
        ws::DescribeBatchOperationResponse {
            operation_type: self.operation_type() as i32,
            job_id: self.job_id.clone(),
            state: self.state() as i32,
            start_time: Some(ts(self.start_ms)),
            close_time: self.close_ms.map(ts),
            total_operation_count: total,
            complete_operation_count: complete,
            failure_operation_count: failure,
            identity: self.identity.clone(),
            reason: self.request.reason.clone(),
            query: self.request.visibility_query.clone(),
            executions: validate::executions_of(&self.request),
        }
    }

    /// The job's line in ListBatchOperations.
    pub(crate) fn info(&self) -> temporalio_protos::temporal::api::batch::v1::BatchOperationInfo {
        temporalio_protos::temporal::api::batch::v1::BatchOperationInfo {
            job_id: self.job_id.clone(),
            state: self.state() as i32,
            start_time: Some(ts(self.start_ms)),
            close_time: self.close_ms.map(ts),
            operation_type: self.operation_type() as i32,
        }
    }
}

impl Inner<'_> {
    /// Stores a batch job (new or changed) and queues it for the writer.
    pub(crate) fn put_batch_job(&mut self, rec: BatchJobRec) {
        let key = rec.key();
        self.globals().batch_jobs.insert(key.clone(), rec);
        self.globals().dirty_batch_jobs.insert(key);
    }

    /// Changes a running job with `f` and queues it for the writer; false (and nothing
    /// changed) when the job is gone or no longer running.
    pub(crate) fn update_running_job(
        &mut self,
        key: &BatchJobKey,
        f: impl FnOnce(&mut BatchJobRec),
    ) -> bool {
        match self.globals().batch_jobs.get_mut(key) {
            Some(job) if job.is_running() => {
                f(job);
                self.globals().dirty_batch_jobs.insert(key.clone());
                true
            }
            _ => false,
        }
    }

    /// The pending batch-job writes: `(namespace, job id, JSON)`, None for a deleted one.
    pub(crate) fn take_batch_job_writes(&mut self) -> Vec<(String, String, Option<String>)> {
        let keys: Vec<BatchJobKey> = self.globals().dirty_batch_jobs.drain().collect();
        keys.into_iter()
            .map(|(ns, id)| {
                let json = self
                    .globals()
                    .batch_jobs
                    .get(&(ns.clone(), id.clone()))
                    .and_then(|r| serde_json::to_string(r).ok());
                (ns, id, json)
            })
            .collect()
    }

    /// Loads the stored batch jobs (at start-up).
    pub(crate) fn load_batch_jobs(&mut self) -> crate::error::Result<usize> {
        let rows = match &self.store {
            Some(s) => s.load_batch_jobs()?,
            None => return Ok(0),
        };
        for (ns, id, data) in rows {
            let rec: BatchJobRec =
                serde_json::from_str(&data).map_err(|e| crate::error::DevServerError::Corrupt {
                    what: format!("batch job {ns}/{id}"),
                    detail: e.to_string(),
                })?;
            self.globals().batch_jobs.insert((ns, id), rec);
        }
        Ok(self.globals().batch_jobs.len())
    }

    /// The running jobs of a namespace (Temporal counts `OpenBatchOperationQuery`).
    pub(crate) fn running_batch_jobs(&mut self, namespace: &str) -> usize {
        self.globals()
            .batch_jobs
            .values()
            .filter(|j| j.namespace == namespace && j.is_running())
            .count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(status: WorkflowExecutionStatus) -> BatchJobRec {
        BatchJobRec {
            namespace: "default".into(),
            job_id: "j".into(),
            run_id: new_id(),
            request: ws::StartBatchOperationRequest {
                reason: "why".into(),
                visibility_query: "WorkflowType = 'W'".into(),
                ..Default::default()
            },
            operation: "terminate".into(),
            identity: "me".into(),
            start_ms: 1_000,
            status: status as i32,
            close_ms: None,
            progress: Progress {
                total_estimate: 10,
                success_count: 4,
                error_count: 1,
                recorded: true,
                ..Default::default()
            },
            close_reason: String::new(),
        }
    }

    #[test]
    fn counts_are_reported_as_temporal_reports_them_in_each_state() {
        let running = job(WorkflowExecutionStatus::Running).describe();
        assert_eq!(running.state, BatchOperationState::Running as i32);
        assert_eq!(
            (
                running.total_operation_count,
                running.complete_operation_count,
                running.failure_operation_count
            ),
            (10, 4, 1)
        );
        assert_eq!(
            running.operation_type,
            BatchOperationType::TerminateWorkflow as i32
        );
        let done = job(WorkflowExecutionStatus::Completed).describe();
        assert_eq!(done.state, BatchOperationState::Completed as i32);
        assert_eq!(done.total_operation_count, 5, "successes + failures");
        let stopped = job(WorkflowExecutionStatus::Terminated).describe();
        assert_eq!(stopped.state, BatchOperationState::Failed as i32);
        assert_eq!(stopped.total_operation_count, 0);
        assert_eq!(stopped.reason, "why");
        assert_eq!(stopped.query, "WorkflowType = 'W'");
    }

    #[test]
    fn a_record_survives_its_json_form() {
        let rec = job(WorkflowExecutionStatus::Running);
        let text = serde_json::to_string(&rec).unwrap();
        let back: BatchJobRec = serde_json::from_str(&text).unwrap();
        assert_eq!(back, rec);
    }
}
