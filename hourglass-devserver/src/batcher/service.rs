//! StartBatchOperation, DescribeBatchOperation, ListBatchOperations and
//! StopBatchOperation on the engine, answered as Temporal's frontend answers them through
//! the batch job's workflow: a job id is a workflow id (a duplicate is AlreadyExists), a
//! namespace runs at most `frontend.MaxConcurrentBatchOperationPerNamespace` jobs at once,
//! and stopping a job terminates it (its state is then FAILED, as Temporal reports a
//! terminated batch workflow). The request checks are the frontend's
//! (`frontend::batch_service`).
use super::{BatchJobRec, Progress, runner, validate};
use crate::prelude::*;

/// Temporal's `visibility.maxPageSize` default: the largest ListBatchOperations page.
const MAX_PAGE_SIZE: usize = 1000;

impl Engine {
    /// StartBatchOperation: records the job and starts its task.
    pub(crate) async fn start_batch_operation(
        self: &Arc<Self>,
        req: ws::StartBatchOperationRequest,
    ) -> RpcResult<()> {
        let now = self.now_ms();
        let rec = self.with(|g| g.create_batch_job(req, now)).await?;
        tracing::info!(
            namespace = %rec.namespace,
            job_id = %rec.job_id,
            operation = %rec.operation,
            query = %rec.request.visibility_query,
            executions = validate::executions_of(&rec.request).len(),
            "batch job started"
        );
        runner::spawn(self.clone(), rec.key());
        Ok(())
    }

    /// DescribeBatchOperation.
    pub(crate) async fn describe_batch_operation(
        &self,
        req: ws::DescribeBatchOperationRequest,
    ) -> RpcResult<ws::DescribeBatchOperationResponse> {
        self.with(|g| {
            g.namespace(&req.namespace)?;
            g.globals()
                .batch_jobs
                .get(&(req.namespace.clone(), req.job_id.clone()))
                .map(BatchJobRec::describe)
                .ok_or_else(|| job_not_found(&req.job_id))
        })
        .await
    }

    /// ListBatchOperations: the namespace's jobs in visibility order (running first, then
    /// by close time and start time, newest first).
    pub(crate) async fn list_batch_operations(
        &self,
        req: ws::ListBatchOperationsRequest,
    ) -> RpcResult<ws::ListBatchOperationsResponse> {
        let size = match usize::try_from(req.page_size) {
            Ok(n) if n > 0 && n <= MAX_PAGE_SIZE => n,
            _ => MAX_PAGE_SIZE,
        };
        let from = page_offset(&req.next_page_token);
        self.with(|g| {
            g.namespace(&req.namespace)?;
            let mut jobs: Vec<&BatchJobRec> = g
                .globals()
                .batch_jobs
                .values()
                .filter(|j| j.namespace == req.namespace)
                .collect();
            jobs.sort_by_key(|j| {
                (
                    std::cmp::Reverse(j.close_ms.unwrap_or(i64::MAX)),
                    std::cmp::Reverse(j.start_ms),
                    j.run_id.clone(),
                )
            });
            let next = if jobs.len() > from + size {
                ((from + size) as u64).to_be_bytes().to_vec()
            } else {
                vec![]
            };
            Ok(ws::ListBatchOperationsResponse {
                operation_info: jobs
                    .iter()
                    .skip(from)
                    .take(size)
                    .map(|j| j.info())
                    .collect(),
                next_page_token: next,
            })
        })
        .await
    }

    /// StopBatchOperation: terminates the job's workflow (NotFound when it is unknown or
    /// already closed, as TerminateWorkflowExecution answers).
    pub(crate) async fn stop_batch_operation(
        &self,
        req: ws::StopBatchOperationRequest,
    ) -> RpcResult<()> {
        let now = self.now_ms();
        self.with(|g| {
            g.namespace(&req.namespace)?;
            let key = (req.namespace.clone(), req.job_id.clone());
            match g.globals().batch_jobs.get(&key) {
                None => return Err(job_not_found(&req.job_id)),
                Some(j) if !j.is_running() => {
                    return Err(status::not_found("workflow execution already completed"));
                }
                Some(_) => {}
            }
            g.update_running_job(&key, |j| {
                j.status = WorkflowExecutionStatus::Terminated as i32;
                j.close_ms = Some(now);
                j.close_reason = format!("terminated by {:?}: {}", req.identity, req.reason);
            });
            if let Some(stop) = g.globals().batch_stops.remove(&key) {
                stop.notify_one();
            }
            Ok(())
        })
        .await?;
        tracing::info!(
            namespace = %req.namespace,
            job_id = %req.job_id,
            reason = %req.reason,
            identity = %req.identity,
            "batch job stopped"
        );
        Ok(())
    }

    /// Starts the task of every job still running in the store (at start-up): Temporal
    /// retries a batch activity from its last heartbeat after a restart.
    pub(crate) fn resume_batch_jobs(self: &Arc<Self>) {
        let keys: Vec<BatchJobKey> = self
            .shared
            .globals
            .lock()
            .batch_jobs
            .values()
            .filter(|j| j.is_running())
            .map(BatchJobRec::key)
            .collect();
        for key in keys {
            tracing::info!(namespace = %key.0, job_id = %key.1, "batch job resumed");
            runner::spawn(self.clone(), key);
        }
    }

    /// Sets the batcher's limits (dynamic config `worker.batcher*` and
    /// `frontend.MaxConcurrentBatchOperationPerNamespace`).
    pub(crate) fn set_batcher_settings(&self, settings: BatcherSettings) {
        tracing::info!(?settings, "batcher settings set");
        self.shared.globals.lock().batcher = settings;
    }
}

/// NotFound for an unknown job, as DescribeWorkflowExecution answers for its workflow id.
fn job_not_found(job_id: &str) -> Status {
    status::not_found(format!(
        "workflow execution not found for workflow id {job_id}"
    ))
}

impl Inner<'_> {
    /// The job `req` starts, stored: AlreadyExists when its id names a job or a workflow
    /// of the namespace, ResourceExhausted over the namespace's concurrent-job limit.
    fn create_batch_job(
        &mut self,
        req: ws::StartBatchOperationRequest,
        now: i64,
    ) -> RpcResult<BatchJobRec> {
        self.namespace(&req.namespace)?;
        let key = (req.namespace.clone(), req.job_id.clone());
        if let Some(j) = self.globals().batch_jobs.get(&key) {
            return Err(if j.is_running() {
                status::already_started(&j.job_id, "", &j.run_id)
            } else {
                status::already_finished_reject_duplicate(&j.job_id, "", &j.run_id)
            });
        }
        if let Some(run) = self.execs.current(&key.0, &key.1) {
            let run = run.clone();
            let open = self.current_key(&key.0, &key.1).is_some_and(|k| {
                self.fault_in(&k) && self.execs.get(&k).is_some_and(|e| e.st.is_open())
            });
            return Err(if open {
                status::already_started(&req.job_id, "", &run)
            } else {
                status::already_finished_reject_duplicate(&req.job_id, "", &run)
            });
        }
        if self.running_batch_jobs(&req.namespace)
            >= self.globals().batcher.max_concurrent_per_namespace
        {
            return Err(status::concurrent_limit(
                "Max concurrent batch operations is reached",
            ));
        }
        let Some(op) = &req.operation else {
            return Err(status::invalid("Batch operation is not set on request."));
        };
        let (memo, identity) = validate::memo_type_and_identity(op);
        let rec = BatchJobRec {
            namespace: req.namespace.clone(),
            job_id: req.job_id.clone(),
            run_id: new_id(),
            operation: memo.to_string(),
            identity,
            start_ms: now,
            status: WorkflowExecutionStatus::Running as i32,
            close_ms: None,
            progress: Progress::default(),
            close_reason: String::new(),
            request: req,
        };
        self.put_batch_job(rec.clone());
        Ok(rec)
    }
}
