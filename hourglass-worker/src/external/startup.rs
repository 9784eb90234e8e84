//! Starting a pool's workers: `startup_concurrency` processes at a time, each ready when its
//! handshake answers (the `workers` DynamicSupervisor runs start phases concurrently). A worker
//! that fails to start holds up no other; the pool is ready once every worker is up or has
//! failed, and reports how many came up and why the others did not ([`StartupReport`]). It fails
//! to start only if no worker came up. Workers that failed are retried in the background with a
//! doubling delay (1 s up to 60 s) until they are up or the pool stops.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use hourglass_supervise::{ChildSpec, DynamicSupervisorHandle, Exit, Restart, StartError, Starter};

use super::pool::PoolShared;
use super::process_worker::{starter_spec, worker_id};

/// First delay before failed workers are tried again; it doubles up to [`MAX_RETRY_DELAY`].
const FIRST_RETRY_DELAY: Duration = Duration::from_secs(1);
/// Longest delay between retries of failed workers.
const MAX_RETRY_DELAY: Duration = Duration::from_secs(60);

/// How a pool's start went: which workers came up (with their timings) and why others did not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartupReport {
    /// The configured number of workers.
    pub size: usize,
    /// Workers up when the pool reported ready, plus those a background retry brought up since.
    pub started: usize,
    /// Time from the start of the pool's start to its readiness.
    pub elapsed: Duration,
    /// Workers that came up, in index order.
    pub workers: Vec<WorkerStartup>,
    /// Workers not up (yet), with the last reason, in index order.
    pub failures: Vec<WorkerStartFailure>,
}

/// One worker that came up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerStartup {
    /// Worker id (`<pool>-<index>`).
    pub worker: String,
    /// OS pid of its process.
    pub pid: u32,
    /// When its process was spawned, from the start of its start attempt.
    pub spawned_after: Duration,
    /// When its handshake answered and it joined the pool, from the same instant.
    pub ready_after: Duration,
}

/// One worker that did not come up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerStartFailure {
    /// Worker id (`<pool>-<index>`).
    pub worker: String,
    /// Why (the start error, naming the command and the cause).
    pub reason: String,
}

type Attempt = (usize, String, Result<WorkerStartup, String>);

/// Starts the Starters of `indexes`, at most `startup_concurrency` at once. Timings are
/// measured from `began`. A worker whose Starter already runs (a restarted populator) counts
/// as up.
async fn start_workers(
    pool: &Arc<PoolShared>,
    workers: &DynamicSupervisorHandle,
    indexes: Vec<usize>,
    began: Instant,
) -> Vec<Attempt> {
    let limit = pool.config.startup_concurrency.max(1);
    let mut results: Vec<Attempt> = futures::stream::iter(indexes)
        .map(|index| {
            let (pool, workers) = (pool.clone(), workers.clone());
            async move {
                let id = worker_id(pool.name(), index);
                let running = Starter::lookup(workers.registry(), &id).is_some();
                let started = if running {
                    Ok(())
                } else {
                    workers
                        .start_child(starter_spec(&pool, index))
                        .await
                        .map(|_| ())
                        .map_err(|e| e.to_string())
                };
                let result = started.and_then(|()| match pool.worker_times(&id) {
                    Some((pid, spawned, joined)) => Ok(WorkerStartup {
                        worker: id.clone(),
                        pid,
                        spawned_after: spawned.saturating_duration_since(began),
                        ready_after: joined.saturating_duration_since(began),
                    }),
                    None => Err(format!(
                        "external worker `{id}` started but is not in the pool (it stopped at once)"
                    )),
                });
                (index, id, result)
            }
        })
        .buffer_unordered(limit)
        .collect()
        .await;
    results.sort_by_key(|(index, _, _)| *index);
    results
}

/// Folds `attempts` into `report`; returns the indexes still missing.
fn record(report: &mut StartupReport, attempts: Vec<Attempt>) -> Vec<usize> {
    let mut missing = Vec::new();
    for (index, worker, result) in attempts {
        report.failures.retain(|f| f.worker != worker);
        match result {
            Ok(up) => report.workers.push(up),
            Err(reason) => {
                missing.push(index);
                report.failures.push(WorkerStartFailure { worker, reason });
            }
        }
    }
    report.workers.sort_by(|a, b| a.worker.cmp(&b.worker));
    report.failures.sort_by(|a, b| a.worker.cmp(&b.worker));
    report.started = report.workers.len();
    missing
}

/// The `populator` child of a pool: starts its workers (see the module docs), then retries
/// the failed ones until all are up. `workers_name` is the registry name of the pool's
/// `workers` DynamicSupervisor.
pub(crate) fn populator_spec(pool: Arc<PoolShared>, workers_name: String) -> ChildSpec {
    ChildSpec::with_init("populator", move |ctx| {
        let pool = pool.clone();
        let workers_name = workers_name.clone();
        async move {
            let workers: DynamicSupervisorHandle =
                ctx.registry().via(&workers_name).map_err(StartError::new)?;
            let size = pool.config.size;
            let began = Instant::now();
            let attempts = start_workers(&pool, &workers, (0..size).collect(), began).await;
            let mut report = StartupReport {
                size,
                started: 0,
                elapsed: Duration::ZERO,
                workers: Vec::new(),
                failures: Vec::new(),
            };
            let mut missing = record(&mut report, attempts);
            report.elapsed = began.elapsed();
            if report.started == 0 {
                let first = report
                    .failures
                    .first()
                    .map(|f| f.reason.clone())
                    .unwrap_or_default();
                return Err(StartError::new(format!(
                    "no worker of external pool `{}` started ({size} tried); first failure: {first}",
                    pool.name()
                )));
            }
            for f in &report.failures {
                tracing::warn!(pool = %pool.name(), worker = %f.worker, reason = %f.reason, "external worker failed to start; will retry in the background");
            }
            tracing::info!(
                pool = %pool.name(),
                size,
                started = report.started,
                failed = report.failures.len(),
                elapsed_ms = report.elapsed.as_millis() as u64,
                types = ?pool.activity_types(),
                "external pool ready"
            );
            *pool.startup.lock() = Some(report);
            Ok(async move {
                let mut delay = FIRST_RETRY_DELAY;
                while !missing.is_empty() {
                    tokio::select! {
                        _ = ctx.cancelled() => return Exit::Shutdown,
                        _ = tokio::time::sleep(delay) => {}
                    }
                    let attempts = tokio::select! {
                        _ = ctx.cancelled() => return Exit::Shutdown,
                        a = start_workers(&pool, &workers, missing.clone(), Instant::now()) => a,
                    };
                    let mut guard = pool.startup.lock();
                    let Some(report) = guard.as_mut() else {
                        break;
                    };
                    missing = record(report, attempts);
                    tracing::info!(pool = %pool.name(), started = report.started, missing = missing.len(), "external pool retried its failed workers");
                    delay = (delay * 2).min(MAX_RETRY_DELAY);
                }
                Exit::Normal
            })
        }
    })
    .restart(Restart::Transient)
}
