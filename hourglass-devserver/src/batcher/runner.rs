//! A batch job's task, as Temporal's `BatchActivityWithProtobuf`: it takes the count
//! estimate once, then pages through the matching executions 1,000 at a time (an explicit
//! list is one page), applying the operation to up to `worker.batcherConcurrency` of them
//! at once, no faster than the job's rate. A failed execution is tried again, up to 50
//! attempts, unless the error cannot change; then it counts as a failure. After each page
//! the heartbeat (page token, successes, failures) is persisted, and once every page is
//! done the job completes. A job stopped by StopBatchOperation, or interrupted by the
//! server stopping, leaves its record as it is: a restarted server resumes it from the
//! last persisted page.
use super::operations::{self, OperationError};
use crate::prelude::*;
use futures::StreamExt;
use std::time::Duration;

/// `pageSize`: executions per list page.
const PAGE_SIZE: i32 = 1000;
/// `defaultAttemptsOnRetryableError`: attempts per execution.
const ATTEMPTS: u32 = 50;
/// `batchActivityRetryPolicy`: backoff between attempts of a page that could not be read.
const RETRY_INITIAL: Duration = Duration::from_secs(10);
const RETRY_MAX: Duration = Duration::from_secs(300);

/// Why a job's task stopped before its end.
#[derive(Debug, thiserror::Error)]
enum Interrupted {
    /// The job is no longer running (stopped by StopBatchOperation).
    #[error("the job was stopped")]
    Stopped,
    /// The server is shutting down.
    #[error("the server is stopping")]
    Closing,
    /// The job failed for good (the query is not valid, say).
    #[error("{0}")]
    Failed(String),
}

/// What the task needs of its job, read once at its start.
struct Job {
    key: BatchJobKey,
    request: ws::StartBatchOperationRequest,
    progress: super::Progress,
    stop: Arc<Notify>,
    pacer: Pacer,
    concurrency: usize,
}

/// Spaces operations `1 / rps` apart (Temporal's rate limiter for a job).
struct Pacer {
    interval: Duration,
    next: tokio::sync::Mutex<Instant>,
}

impl Pacer {
    /// The job's rate: what the request asks, capped at (and defaulting to) `max_rps`.
    fn new(requested: f32, max_rps: f64) -> Self {
        let requested = f64::from(requested);
        let rps = if requested <= 0.0 || requested > max_rps {
            max_rps
        } else {
            requested
        };
        Self {
            interval: Duration::try_from_secs_f64(1.0 / rps.max(1e-6))
                .unwrap_or(Duration::from_secs(1)),
            next: tokio::sync::Mutex::new(Instant::now()),
        }
    }

    /// Waits for the next slot.
    async fn wait(&self) {
        let at = {
            let mut next = self.next.lock().await;
            let at = (*next).max(Instant::now());
            *next = at + self.interval;
            at
        };
        tokio::time::sleep_until(at).await;
    }
}

/// Starts the task of a running job.
pub(crate) fn spawn(engine: Arc<Engine>, key: BatchJobKey) {
    tokio::spawn(async move {
        let Some(job) = load(&engine, &key) else {
            return;
        };
        match run(&engine, job).await {
            Ok(()) | Err(Interrupted::Stopped) => {}
            Err(Interrupted::Closing) => {
                tracing::info!(namespace = %key.0, job_id = %key.1, "batch job interrupted by shutdown; it resumes at the next start");
            }
            Err(Interrupted::Failed(why)) => finish(&engine, &key, Err(why)).await,
        }
        engine.shared.globals.lock().batch_stops.remove(&key);
    });
}

fn load(engine: &Engine, key: &BatchJobKey) -> Option<Job> {
    // Only the job's record is read: no history shard is involved.
    let mut g = engine.shared.globals.lock();
    let g = &mut *g;
    let rec = g.batch_jobs.get(key).filter(|j| j.is_running())?;
    let stop = g.batch_stops.entry(key.clone()).or_default().clone();
    Some(Job {
        key: key.clone(),
        request: rec.request.clone(),
        progress: rec.progress.clone(),
        stop,
        pacer: Pacer::new(rec.request.max_operations_per_second, g.batcher.rps),
        concurrency: g.batcher.concurrency.max(1),
    })
}

async fn run(engine: &Engine, mut job: Job) -> Result<(), Interrupted> {
    let query = super::validate::adjusted_query(&job.request);
    let explicit = super::validate::workflow_targets(&job.request);
    if !job.progress.recorded {
        job.progress.total_estimate = if query.is_empty() {
            explicit.len() as i64
        } else {
            let count = retrying(engine, &job, || {
                engine.count(ws::CountWorkflowExecutionsRequest {
                    namespace: job.request.namespace.clone(),
                    query: query.clone(),
                })
            })
            .await?;
            count.count
        };
        job.progress.recorded = true;
        checkpoint(engine, &job).await?;
    }
    loop {
        let (targets, next) = if query.is_empty() {
            (explicit.clone(), vec![])
        } else {
            let page = retrying(engine, &job, || {
                engine.list(ws::ListWorkflowExecutionsRequest {
                    namespace: job.request.namespace.clone(),
                    page_size: PAGE_SIZE,
                    next_page_token: job.progress.page_token.clone(),
                    query: query.clone(),
                })
            })
            .await?;
            let targets = page
                .executions
                .into_iter()
                .filter_map(|e| e.execution)
                .collect();
            (targets, page.next_page_token)
        };
        let (success, errors) = process_page(engine, &job, targets).await?;
        job.progress.success_count += success;
        job.progress.error_count += errors;
        job.progress.current_page += 1;
        job.progress.page_token = next;
        if job.progress.page_token.is_empty() {
            break;
        }
        checkpoint(engine, &job).await?;
    }
    let progress = job.progress.clone();
    let now = engine.now_ms();
    let done = engine
        .with(|g| {
            Ok(g.update_running_job(&job.key, |j| {
                j.progress = progress;
                j.status = WorkflowExecutionStatus::Completed as i32;
                j.close_ms = Some(now);
            }))
        })
        .await
        .map_err(|_| Interrupted::Closing)?;
    if done {
        tracing::info!(
            namespace = %job.key.0,
            job_id = %job.key.1,
            succeeded = job.progress.success_count,
            failed = job.progress.error_count,
            "batch job completed"
        );
    }
    Ok(())
}

/// Records the heartbeat; `Stopped` when the job is no longer running.
async fn checkpoint(engine: &Engine, job: &Job) -> Result<(), Interrupted> {
    let progress = job.progress.clone();
    let running = engine
        .with(|g| Ok(g.update_running_job(&job.key, |j| j.progress = progress)))
        .await
        .map_err(|_| Interrupted::Closing)?;
    if running {
        Ok(())
    } else {
        Err(Interrupted::Stopped)
    }
}

/// Fails the job (its workflow fails with the activity's error).
async fn finish(engine: &Engine, key: &BatchJobKey, result: Result<(), String>) {
    let why = result.err().unwrap_or_default();
    let now = engine.now_ms();
    let failed = engine
        .with(|g| {
            Ok(g.update_running_job(key, |j| {
                j.status = WorkflowExecutionStatus::Failed as i32;
                j.close_ms = Some(now);
                j.close_reason = why.clone();
            }))
        })
        .await
        .unwrap_or(false);
    if failed {
        tracing::warn!(namespace = %key.0, job_id = %key.1, error = %why, "batch job failed");
    }
}

/// Runs a visibility call as the activity would: an InvalidArgument fails the job, any
/// other error is tried again with the activity's backoff.
async fn retrying<T, F, Fut>(engine: &Engine, job: &Job, call: F) -> Result<T, Interrupted>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = RpcResult<T>>,
{
    let mut backoff = RETRY_INITIAL;
    loop {
        match call().await {
            Ok(v) => return Ok(v),
            Err(s) if s.code() == tonic::Code::InvalidArgument => {
                return Err(Interrupted::Failed(s.message().to_string()));
            }
            Err(s) => {
                tracing::warn!(job_id = %job.key.1, error = %s.message(), "batch job could not read its executions; retrying");
                pause(engine, job, backoff).await?;
                backoff = backoff.mul_f64(1.7).min(RETRY_MAX);
            }
        }
    }
}

/// Sleeps `d`, cut short when the job is stopped or the server stops.
async fn pause(engine: &Engine, job: &Job, d: Duration) -> Result<(), Interrupted> {
    tokio::select! {
        _ = tokio::time::sleep(d) => still_running(engine, job),
        _ = job.stop.notified() => Err(Interrupted::Stopped),
        _ = engine.closed() => Err(Interrupted::Closing),
    }
}

fn still_running(engine: &Engine, job: &Job) -> Result<(), Interrupted> {
    match engine.shared.globals.lock().batch_jobs.get(&job.key) {
        Some(j) if j.is_running() => Ok(()),
        _ => Err(Interrupted::Stopped),
    }
}

/// Applies the operation to one page; answers its (successes, failures).
async fn process_page(
    engine: &Engine,
    job: &Job,
    targets: Vec<WorkflowExecution>,
) -> Result<(i64, i64), Interrupted> {
    let work = futures::stream::iter(targets)
        .map(|exec| one_execution(engine, job, exec))
        .buffer_unordered(job.concurrency);
    let page = async {
        let mut work = std::pin::pin!(work);
        let (mut ok, mut failed) = (0, 0);
        while let Some(outcome) = work.next().await {
            match outcome? {
                true => ok += 1,
                false => failed += 1,
            }
        }
        Ok::<_, Interrupted>((ok, failed))
    };
    tokio::select! {
        r = page => r,
        _ = job.stop.notified() => Err(Interrupted::Stopped),
        _ = engine.closed() => Err(Interrupted::Closing),
    }
}

/// `processTaskWithRetries`: true when the operation succeeded on `exec`.
async fn one_execution(
    engine: &Engine,
    job: &Job,
    exec: WorkflowExecution,
) -> Result<bool, Interrupted> {
    let mut attempt = 1;
    loop {
        job.pacer.wait().await;
        still_running(engine, job)?;
        match operations::apply(engine, &job.request, exec.clone()).await {
            Ok(()) => return Ok(true),
            Err(OperationError::Rpc(s))
                if s.code() == tonic::Code::Unavailable && is_closing(engine) =>
            {
                return Err(Interrupted::Closing);
            }
            Err(e) => {
                tracing::debug!(job_id = %job.key.1, workflow_id = %exec.workflow_id, attempt, error = %e, "batch operation failed on an execution");
                if !e.retryable() || attempt >= ATTEMPTS {
                    return Ok(false);
                }
                attempt += 1;
            }
        }
    }
}

fn is_closing(engine: &Engine) -> bool {
    *engine.closing.borrow()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rate_is_the_requested_one_capped_at_the_servers() {
        assert_eq!(Pacer::new(0.0, 50.0).interval, Duration::from_millis(20));
        assert_eq!(Pacer::new(2.0, 50.0).interval, Duration::from_millis(500));
        assert_eq!(Pacer::new(500.0, 50.0).interval, Duration::from_millis(20));
    }
}
