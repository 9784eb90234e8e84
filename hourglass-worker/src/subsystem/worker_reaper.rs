//! Reaping the core workers a BridgeHolder orphans (by a crash, a stop or a core reload):
//! shutdown announced and initiated, work handed out and never returned failed back to the
//! server, queues drained, the worker finalized, and the outcome counted.

use super::bridge_holder::{Registration, WORKER_REPLACED};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use temporalio_common::protos::coresdk::ActivityTaskCompletion;
use temporalio_common::protos::coresdk::activity_result::ActivityExecutionResult;
use temporalio_common::protos::coresdk::activity_task::activity_task;
use temporalio_common::protos::coresdk::workflow_completion::WorkflowActivationCompletion;
use temporalio_common::protos::temporal::api::failure::v1::Failure;

/// What becomes of the core workers an application's holders orphan (by a crash, a stop or
/// a core reload): counted once their reaper is done, which is after the cascade healed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OrphanedWorkers {
    /// Drained (outstanding work failed back to the server) and finalized.
    pub finalized: u64,
    /// Dropped without finalizing: the drain timed out or finalizing failed.
    pub abandoned: u64,
}

/// The per-application tally behind [`OrphanedWorkers`], shared by every holder incarnation.
#[derive(Debug, Default)]
pub struct OrphanTally {
    finalized: AtomicU64,
    abandoned: AtomicU64,
}

impl OrphanTally {
    /// The counts so far.
    pub fn snapshot(&self) -> OrphanedWorkers {
        OrphanedWorkers {
            finalized: self.finalized.load(Ordering::Acquire),
            abandoned: self.abandoned.load(Ordering::Acquire),
        }
    }

    fn finalized(&self) {
        self.finalized.fetch_add(1, Ordering::AcqRel);
        super::metrics::inc(&super::metrics::ORPHANS_FINALIZED);
    }

    fn abandoned(&self) {
        self.abandoned.fetch_add(1, Ordering::AcqRel);
        super::metrics::inc(&super::metrics::ORPHANS_ABANDONED);
    }
}

/// How orphaned core workers are wound down: the drain bound and where outcomes are counted.
#[derive(Clone)]
pub(super) struct Reaper {
    pub(super) drain_timeout: Duration,
    pub(super) tally: Arc<OrphanTally>,
}

/// Fails everything the registration handed out and never got back, so the server
/// reschedules it at once (instead of after a task timeout).
pub(super) async fn fail_outstanding(reg: &Registration) {
    let runs: Vec<String> = reg.outstanding_runs.lock().drain().collect();
    for run_id in runs {
        fail_activation(reg, run_id).await;
    }
    let tokens: Vec<Vec<u8>> = reg.outstanding_activities.lock().drain().collect();
    for token in tokens {
        fail_activity(reg, token).await;
    }
}

/// How long a closing holder waits for the server to acknowledge its workers' shutdowns.
pub(super) const ANNOUNCE_TIMEOUT: Duration = Duration::from_secs(1);

/// Announces the core worker's shutdown to the server (bounded by [`ANNOUNCE_TIMEOUT`]), so
/// it hands the worker no more tasks, then initiates it — once per registration, however
/// many callers; all of them return after it is done. Announcing first matters: the core
/// drops a task the server hands it after its shutdown was initiated, and that task then
/// waits out its timeout on the server.
pub(super) async fn stop_polling(reg: &Registration) {
    reg.stopped_polling
        .get_or_init(|| async {
            if !reg.shutdown_initiated.swap(true, Ordering::AcqRel) {
                tracing::info!(task_queue = %reg.task_queue, registration = reg.id, "initiating worker shutdown");
            }
            let retiring = reg.worker.for_retirement();
            match tokio::time::timeout(ANNOUNCE_TIMEOUT, retiring.announce_shutdown()).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    tracing::debug!(task_queue = %reg.task_queue, error = %e, "announcing the worker's shutdown failed");
                }
                Err(_) => {
                    tracing::warn!(task_queue = %reg.task_queue, "announcing the worker's shutdown timed out");
                }
            }
            initiate(reg);
        })
        .await;
}

/// Initiates the core worker's shutdown. This also releases its slot in the client's worker
/// set, so a new worker for the same task queue can be created right after.
pub(super) fn initiate(reg: &Registration) {
    reg.shutdown_initiated.store(true, Ordering::Release);
    if let Err(e) = reg.worker.for_retirement().initiate_shutdown() {
        tracing::debug!(task_queue = %reg.task_queue, error = %e, "reaper: initiate shutdown failed");
    }
    // Whoever stops the worker's polling later finds it done.
    let _ = reg.stopped_polling.set(());
}

/// How often a reaper fails back work that became outstanding after it started.
const OUTSTANDING_SWEEP: Duration = Duration::from_millis(50);

/// Finishes an orphaned registration's core worker without losing work: whatever is still
/// outstanding is failed back, its queues are drained (evictions answered, anything new failed
/// back), then it is finalized. Shutdown must have been initiated already.
pub(super) async fn reap(reg: Arc<Registration>, reaper: Reaper) {
    let tq = reg.task_queue.clone();
    tracing::info!(task_queue = %tq, registration = reg.id, "reaping orphaned core worker");
    fail_outstanding(&reg).await;
    let drain = async {
        let wf = async {
            loop {
                let worker = reg.worker.for_retirement();
                match reg
                    .workflow_poll
                    .poll(move || async move { worker.poll_workflow_activation().await })
                    .await
                {
                    Ok(act) if act.is_only_eviction() => {
                        let _ = reg
                            .worker
                            .for_retirement()
                            .complete_workflow_activation(&WorkflowActivationCompletion::empty(
                                act.run_id,
                            ))
                            .await;
                    }
                    Ok(act) => fail_activation(&reg, act.run_id).await,
                    // A poll a loop started after a reload left in the slot; ours reach
                    // the old library.
                    Err(e) if e.is_reloaded() => continue,
                    Err(_) => break,
                }
            }
        };
        let act = async {
            loop {
                let worker = reg.worker.for_retirement();
                match reg
                    .activity_poll
                    .poll(move || async move { worker.poll_activity_task().await })
                    .await
                {
                    Ok(task) => {
                        if matches!(task.variant, Some(activity_task::Variant::Start(_))) {
                            fail_activity(&reg, task.task_token).await;
                        }
                    }
                    // A poll a loop started after a reload left in the slot; ours reach
                    // the old library.
                    Err(e) if e.is_reloaded() => continue,
                    Err(_) => break,
                }
            }
        };
        // Work handed out just before the registration was orphaned can reach the
        // outstanding sets after the first sweep: keep sweeping until both queues drained.
        let sweep = async {
            loop {
                tokio::time::sleep(OUTSTANDING_SWEEP).await;
                fail_outstanding(&reg).await;
            }
        };
        tokio::select! {
            _ = async { tokio::join!(wf, act) } => {}
            _ = sweep => {}
        }
    };
    if tokio::time::timeout(reaper.drain_timeout, drain)
        .await
        .is_err()
    {
        reaper.tally.abandoned();
        tracing::warn!(task_queue = %tq, registration = reg.id, "reaper: core worker did not drain in time; dropping it");
        return;
    }
    match reg.worker.for_retirement().finalize_shutdown().await {
        Ok(()) => {
            reaper.tally.finalized();
            tracing::info!(task_queue = %tq, registration = reg.id, "orphaned core worker reaped");
        }
        Err(e) => {
            reaper.tally.abandoned();
            tracing::warn!(task_queue = %tq, registration = reg.id, error = %e, "reaper: finalizing the orphaned core worker failed; dropping it");
        }
    }
}

pub(super) async fn fail_activation(reg: &Registration, run_id: String) {
    let completion = WorkflowActivationCompletion::fail(
        run_id,
        Failure::application_failure(WORKER_REPLACED.to_string(), false),
        None,
    );
    let _ = reg
        .worker
        .for_retirement()
        .complete_workflow_activation(&completion)
        .await;
}

pub(super) async fn fail_activity(reg: &Registration, task_token: Vec<u8>) {
    let completion = ActivityTaskCompletion {
        task_token,
        result: Some(ActivityExecutionResult::fail(Failure::application_failure(
            WORKER_REPLACED.to_string(),
            false,
        ))),
    };
    let _ = reg
        .worker
        .for_retirement()
        .complete_activity_task(&completion)
        .await;
}
