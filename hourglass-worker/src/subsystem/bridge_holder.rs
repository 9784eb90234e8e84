//! Child 2 of the Subsystem: the BridgeHolder. It owns every core worker handle of this
//! process; everything else reaches the core through it, by task queue.
//!
//! Guarantees:
//! - A call for a task queue without a *current* registration returns
//!   [`SubsystemError::WorkerNotRegistered`]. Registrations carry an id, so work dispatched
//!   under an older registration (for example by an in-flight task that outlived a cascade)
//!   is refused even when a new worker for the same task queue exists.
//! - At most one core poll per kind runs for a registration. A poll whose caller went away
//!   (a killed poll loop) keeps its result for the next caller, so no activation is lost.
//! - Completions are not serialised: the core accepts concurrent workflow completions (each
//!   run has at most one activation outstanding, so per-run order is given), and the official
//!   Rust SDK completes concurrently too. Serialising them would put one
//!   `RespondWorkflowTaskCompleted` round trip at a time on the critical path.
//! - When the holder ends — shutdown, crash or abort — its registrations are dropped at once
//!   and each orphaned core worker is *reaped* in the background: shutdown is initiated,
//!   activations it handed out and never got back are failed (so the server reschedules them
//!   immediately instead of after a task timeout), its queues are drained and it is
//!   finalized. Nothing is left polling. This holds after a core reload too: the reaper
//!   winds the old worker down in the library copy that issued it
//!   ([`Worker::for_retirement`]). A worker that does not drain within the drain timeout is
//!   dropped and counted in `hourglass_orphaned_workers_abandoned_total`.

use super::error::SubsystemError;
use super::names;
use super::poll_slot::PollSlot;
use super::runtime::RuntimeHandle;
use super::worker_reaper::{
    ANNOUNCE_TIMEOUT, OrphanTally, Reaper, fail_outstanding, initiate, reap, stop_polling,
};
use hourglass_bridge::config::WorkerConfig;
use hourglass_bridge::{BridgeError, Worker};
use hourglass_supervise::{ChildContext, ChildSpec, Exit, Restart, Shutdown, StartError};
use parking_lot::Mutex;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;
use temporalio_common::protos::coresdk::activity_task::{ActivityTask, activity_task};
use temporalio_common::protos::coresdk::workflow_activation::WorkflowActivation;
use temporalio_common::protos::coresdk::workflow_completion::WorkflowActivationCompletion;
use temporalio_common::protos::coresdk::{ActivityHeartbeat, ActivityTaskCompletion};
use tokio::sync::{Notify, watch};

/// Identifies one registration of a task queue with one BridgeHolder incarnation.
pub type RegistrationId = u64;

static NEXT_REGISTRATION: AtomicU64 = AtomicU64::new(1);

/// The message of failures the holder sends for work whose worker was replaced.
pub const WORKER_REPLACED: &str = "hourglass: the worker that held this task was replaced";

/// Handle to the current BridgeHolder (published under [`names::BRIDGE_HOLDER`]). Cheap to
/// clone; a clone kept past the holder's end answers every call with `WorkerNotRegistered`.
#[derive(Clone)]
pub struct BridgeHolder {
    inner: Arc<HolderInner>,
}

struct HolderInner {
    runtime: RuntimeHandle,
    alive: AtomicBool,
    registrations: Mutex<HashMap<String, Arc<Registration>>>,
    registering: Mutex<HashSet<String>>,
    crash: Mutex<Option<String>>,
    crash_signal: Notify,
    reaper: Reaper,
    /// Per task queue: whether the last unregistered worker has stopped polling. A new
    /// registration waits for it, because the core allows one live worker per task queue
    /// and client, and an orphan still polling would take tasks it can no longer run.
    stopping: Mutex<HashMap<String, watch::Receiver<bool>>>,
}

pub(super) struct Registration {
    pub(super) id: RegistrationId,
    pub(super) task_queue: String,
    pub(super) worker: Worker,
    pub(super) workflow_poll: PollSlot<WorkflowActivation>,
    pub(super) activity_poll: PollSlot<ActivityTask>,
    pub(super) outstanding_runs: Mutex<HashSet<String>>,
    pub(super) outstanding_activities: Mutex<HashSet<Vec<u8>>>,
    pub(super) shutdown_initiated: AtomicBool,
    /// Set once the core worker's shutdown was announced (if possible) and initiated.
    pub(super) stopped_polling: tokio::sync::OnceCell<()>,
    pub(super) failure: watch::Sender<Option<String>>,
}

impl BridgeHolder {
    fn new(runtime: RuntimeHandle, reaper: Reaper) -> Self {
        Self {
            inner: Arc::new(HolderInner {
                runtime,
                alive: AtomicBool::new(true),
                registrations: Mutex::new(HashMap::new()),
                registering: Mutex::new(HashSet::new()),
                crash: Mutex::new(None),
                crash_signal: Notify::new(),
                reaper,
                stopping: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// Whether this holder incarnation is still running.
    pub fn is_alive(&self) -> bool {
        self.inner.alive.load(Ordering::Acquire)
    }

    /// Creates and validates a core worker for `config.task_queue` and registers it.
    /// Fails with `AlreadyRegistered` if that task queue has a registration (or one is being
    /// made), or with the bridge's error (the server cannot be reached, bad config, reload).
    pub async fn register(&self, config: WorkerConfig) -> Result<RegistrationId, SubsystemError> {
        let tq = config.task_queue.clone();
        if !self.is_alive() {
            return Err(SubsystemError::NotRunning {
                component: names::BRIDGE_HOLDER,
            });
        }
        {
            let regs = self.inner.registrations.lock();
            let mut registering = self.inner.registering.lock();
            if regs.contains_key(&tq) || !registering.insert(tq.clone()) {
                return Err(SubsystemError::AlreadyRegistered { task_queue: tq });
            }
        }
        let stopping = self.inner.stopping.lock().get(&tq).cloned();
        if let Some(mut stopped) = stopping {
            // Bounded: announcing is bounded, and a reaper that died counts as done.
            let _ =
                tokio::time::timeout(ANNOUNCE_TIMEOUT * 2, stopped.wait_for(|stopped| *stopped))
                    .await;
        }
        let result = self.create_worker(&config).await;
        self.inner.registering.lock().remove(&tq);
        let worker = result?;
        let id = NEXT_REGISTRATION.fetch_add(1, Ordering::Relaxed);
        let registration = Arc::new(Registration {
            id,
            task_queue: tq.clone(),
            worker,
            workflow_poll: PollSlot::new(),
            activity_poll: PollSlot::new(),
            outstanding_runs: Mutex::new(HashSet::new()),
            outstanding_activities: Mutex::new(HashSet::new()),
            shutdown_initiated: AtomicBool::new(false),
            stopped_polling: tokio::sync::OnceCell::new(),
            failure: watch::channel(None).0,
        });
        {
            let mut regs = self.inner.registrations.lock();
            if !self.is_alive() {
                drop(regs);
                // The holder ended while we were validating: this worker is an orphan already.
                initiate(&registration);
                tokio::spawn(reap(registration, self.inner.reaper.clone()));
                return Err(SubsystemError::NotRunning {
                    component: names::BRIDGE_HOLDER,
                });
            }
            regs.insert(tq.clone(), registration);
        }
        tracing::info!(task_queue = %tq, registration = id, "worker registered");
        Ok(id)
    }

    async fn create_worker(&self, config: &WorkerConfig) -> Result<Worker, SubsystemError> {
        let tq = &config.task_queue;
        let worker = self
            .inner
            .runtime
            .client()
            .new_worker(config)
            .map_err(|e| self.bridge_error("create worker", tq, e))?;
        worker
            .validate()
            .await
            .map_err(|e| self.bridge_error("validate worker", tq, e))?;
        Ok(worker)
    }

    /// The id of the current registration of `task_queue`, if any.
    pub fn registration_id(&self, task_queue: &str) -> Option<RegistrationId> {
        if !self.is_alive() {
            return None;
        }
        self.inner
            .registrations
            .lock()
            .get(task_queue)
            .map(|r| r.id)
    }

    /// Task queues with a current registration.
    pub fn task_queues(&self) -> Vec<String> {
        let mut v: Vec<String> = self.inner.registrations.lock().keys().cloned().collect();
        v.sort();
        v
    }

    fn get(
        &self,
        task_queue: &str,
        id: RegistrationId,
    ) -> Result<Arc<Registration>, SubsystemError> {
        let not_registered = || SubsystemError::WorkerNotRegistered {
            task_queue: task_queue.to_string(),
        };
        if !self.is_alive() {
            return Err(not_registered());
        }
        match self.inner.registrations.lock().get(task_queue) {
            Some(r) if r.id == id => Ok(r.clone()),
            _ => Err(not_registered()),
        }
    }

    fn bridge_error(
        &self,
        operation: &'static str,
        task_queue: &str,
        source: BridgeError,
    ) -> SubsystemError {
        if source.is_reloaded() {
            tracing::warn!(
                task_queue,
                operation,
                "core reload detected by the bridge holder"
            );
            self.inner.runtime.report_reloaded();
        }
        SubsystemError::Bridge {
            operation,
            task_queue: task_queue.to_string(),
            source,
        }
    }

    fn poll_error(
        &self,
        reg: &Registration,
        operation: &'static str,
        e: BridgeError,
    ) -> SubsystemError {
        match e {
            BridgeError::ShutDown => SubsystemError::ShutDown {
                task_queue: reg.task_queue.clone(),
            },
            e => {
                // The core shuts a worker down after a poll error; its registration must be
                // replaced, which the worker's registration child does when this fires.
                if !matches!(e, BridgeError::Busy(_)) {
                    reg.failure.send_replace(Some(format!("{operation}: {e}")));
                }
                self.bridge_error(operation, &reg.task_queue, e)
            }
        }
    }

    /// Polls the next workflow activation of the registration.
    pub async fn poll_workflow_activation(
        &self,
        task_queue: &str,
        id: RegistrationId,
    ) -> Result<WorkflowActivation, SubsystemError> {
        let reg = self.get(task_queue, id)?;
        let worker = reg.worker.clone();
        let activation = reg
            .workflow_poll
            .poll(move || async move { worker.poll_workflow_activation().await })
            .await
            .map_err(|e| self.poll_error(&reg, "poll workflow activation", e))?;
        reg.outstanding_runs
            .lock()
            .insert(activation.run_id.clone());
        Ok(activation)
    }

    /// Polls the next activity task (start or cancel) of the registration.
    pub async fn poll_activity_task(
        &self,
        task_queue: &str,
        id: RegistrationId,
    ) -> Result<ActivityTask, SubsystemError> {
        let reg = self.get(task_queue, id)?;
        let worker = reg.worker.clone();
        let task = reg
            .activity_poll
            .poll(move || async move { worker.poll_activity_task().await })
            .await
            .map_err(|e| self.poll_error(&reg, "poll activity task", e))?;
        if matches!(task.variant, Some(activity_task::Variant::Start(_))) {
            reg.outstanding_activities
                .lock()
                .insert(task.task_token.clone());
        }
        Ok(task)
    }

    /// Sends a workflow activation completion.
    pub async fn complete_workflow_activation(
        &self,
        task_queue: &str,
        id: RegistrationId,
        completion: WorkflowActivationCompletion,
    ) -> Result<(), SubsystemError> {
        let reg = self.get(task_queue, id)?;
        let result = complete_outstanding(
            &reg.outstanding_runs,
            &completion.run_id,
            reg.worker.complete_workflow_activation(&completion),
        )
        .await;
        result.map_err(|e| self.bridge_error("complete workflow activation", task_queue, e))
    }

    /// Sends an activity task completion.
    pub async fn complete_activity_task(
        &self,
        task_queue: &str,
        id: RegistrationId,
        completion: ActivityTaskCompletion,
    ) -> Result<(), SubsystemError> {
        let reg = self.get(task_queue, id)?;
        let result = complete_outstanding(
            &reg.outstanding_activities,
            &completion.task_token,
            reg.worker.complete_activity_task(&completion),
        )
        .await;
        result.map_err(|e| self.bridge_error("complete activity task", task_queue, e))
    }

    /// Records an activity heartbeat (throttled by the core).
    pub fn record_activity_heartbeat(
        &self,
        task_queue: &str,
        id: RegistrationId,
        heartbeat: ActivityHeartbeat,
    ) -> Result<(), SubsystemError> {
        let reg = self.get(task_queue, id)?;
        reg.worker
            .record_activity_heartbeat(&heartbeat)
            .map_err(|e| self.bridge_error("record activity heartbeat", task_queue, e))
    }

    /// Asks the core to evict a cached run (it then sends an eviction activation).
    pub fn request_workflow_eviction(
        &self,
        task_queue: &str,
        id: RegistrationId,
        run_id: &str,
    ) -> Result<(), SubsystemError> {
        let reg = self.get(task_queue, id)?;
        reg.worker
            .request_workflow_eviction(run_id)
            .map_err(|e| self.bridge_error("request workflow eviction", task_queue, e))
    }

    /// Starts the graceful shutdown of the registration's core worker: its shutdown is
    /// announced to the server (which then hands it no more tasks), then initiated; polls
    /// keep returning work until everything outstanding is finished, then return `ShutDown`.
    /// Idempotent: concurrent callers share one announcement and return once it is done.
    /// After a core reload it fails with the reload (the holder's reaper winds the old
    /// worker down).
    pub async fn initiate_shutdown(
        &self,
        task_queue: &str,
        id: RegistrationId,
    ) -> Result<(), SubsystemError> {
        let reg = self.get(task_queue, id)?;
        if reg.worker.is_stale() {
            // Fails with the reload, without side effects.
            return reg
                .worker
                .initiate_shutdown()
                .map_err(|e| self.bridge_error("initiate worker shutdown", task_queue, e));
        }
        stop_polling(&reg).await;
        Ok(())
    }

    /// Removes the registration and finalizes its core worker. Call after both poll loops
    /// have seen `ShutDown`. Errors of the final step are logged, as the official SDKs do.
    pub fn unregister(&self, task_queue: &str, id: RegistrationId) -> Result<(), SubsystemError> {
        let reg = {
            let mut regs = self.inner.registrations.lock();
            match regs.get(task_queue) {
                Some(r) if r.id == id => regs.remove(task_queue),
                _ => None,
            }
        };
        let Some(reg) = reg else {
            return Err(SubsystemError::WorkerNotRegistered {
                task_queue: task_queue.to_string(),
            });
        };
        tracing::info!(task_queue, registration = id, "worker unregistered");
        // Stop the worker polling (announced first, so the server hands it nothing more) —
        // a replacement registering meanwhile waits for that — then reap what may still be
        // outstanding (a drain that timed out) so nothing is left polling.
        match tokio::runtime::Handle::try_current() {
            Ok(rt) => {
                let (stopped, stopping) = watch::channel(false);
                self.inner
                    .stopping
                    .lock()
                    .insert(task_queue.to_string(), stopping);
                let reaper = self.inner.reaper.clone();
                rt.spawn(async move {
                    stop_polling(&reg).await;
                    stopped.send_replace(true);
                    reap(reg, reaper).await;
                });
            }
            Err(_) => initiate(&reg),
        }
        Ok(())
    }

    /// Whether shutdown of the registration was initiated through this holder (so a
    /// `ShutDown` from a poll is the expected end of draining, not a failure).
    pub fn shutdown_initiated(&self, task_queue: &str, id: RegistrationId) -> bool {
        self.get(task_queue, id)
            .map(|r| r.shutdown_initiated.load(Ordering::Acquire))
            .unwrap_or(false)
    }

    /// Marks the registration's core worker as failed; its registration child then replaces
    /// it.
    pub fn report_failure(&self, task_queue: &str, id: RegistrationId, reason: impl Into<String>) {
        if let Ok(reg) = self.get(task_queue, id) {
            reg.failure.send_replace(Some(reason.into()));
        }
    }

    /// Resolves with a reason when the registration's core worker failed (a poll error) and
    /// must be replaced; `None` if the registration is gone.
    pub fn failure_watch(
        &self,
        task_queue: &str,
        id: RegistrationId,
    ) -> Option<watch::Receiver<Option<String>>> {
        self.get(task_queue, id).ok().map(|r| r.failure.subscribe())
    }

    /// Makes the holder exit abnormally with `reason`, as if it had crashed: the Subsystem
    /// then cascades. For chaos tests and the admin endpoint.
    pub fn crash(&self, reason: impl Into<String>) {
        *self.inner.crash.lock() = Some(reason.into());
        self.inner.crash_signal.notify_one();
    }

    /// Takes every registration away (the holder refuses every call from then on); `None`
    /// if it was closed already.
    fn take_registrations(&self) -> Option<Vec<Arc<Registration>>> {
        if !self.inner.alive.swap(false, Ordering::AcqRel) {
            return None;
        }
        let regs: Vec<Arc<Registration>> = self
            .inner
            .registrations
            .lock()
            .drain()
            .map(|(_, r)| r)
            .collect();
        tracing::info!(orphaned_workers = regs.len(), "bridge holder closed");
        Some(regs)
    }

    /// Ends this incarnation from its own task: initiates each core worker's shutdown — so
    /// the replacement holder can register the same task queues at once, and the orphans
    /// stop taking new tasks — then fails back what each one handed out (bounded by a short
    /// timeout) and leaves draining and finalizing to background reapers.
    ///
    /// Shutdown comes first because a failed-back workflow task is retried at once: an
    /// orphan still polling would take the retry itself, rather than the replacement. And
    /// before initiating, each shutdown is announced to the server (bounded by a short
    /// timeout), so no task reaches an orphan whose core would drop it for being shut down.
    async fn close_gracefully(&self) {
        let Some(regs) = self.take_registrations() else {
            return;
        };
        futures::future::join_all(regs.iter().map(|r| stop_polling(r))).await;
        let fail_all = futures::future::join_all(regs.iter().map(|r| fail_outstanding(r)));
        if tokio::time::timeout(Duration::from_secs(2), fail_all)
            .await
            .is_err()
        {
            tracing::warn!("bridge holder: failing outstanding work timed out; reapers retry");
        }
        for reg in regs {
            tokio::spawn(reap(reg, self.inner.reaper.clone()));
        }
    }

    /// Ends this incarnation when its task was aborted or panicked (nothing can be awaited):
    /// initiates every core worker's shutdown at once and reaps them in the background.
    fn close(&self) {
        let Some(regs) = self.take_registrations() else {
            return;
        };
        for reg in regs {
            initiate(&reg);
            // The holder may be ending because the host runtime is going away.
            if let Ok(rt) = tokio::runtime::Handle::try_current() {
                rt.spawn(reap(reg, self.inner.reaper.clone()));
            }
        }
    }
}

/// Closes the holder when the child's task ends in any way (return, panic, abort).
struct CloseOnDrop(BridgeHolder);

impl Drop for CloseOnDrop {
    fn drop(&mut self) {
        self.0.close();
    }
}

/// Runs `completion` of the work `key` with `key` taken out of `outstanding` while it is under
/// way, so a reaper sweeping the set never completes the same work a second time. A completion
/// refused because the core was reloaded never reached the core: `key` goes back, for the
/// reaper to fail back through the old library.
async fn complete_outstanding<K: Eq + std::hash::Hash + Clone>(
    outstanding: &Mutex<HashSet<K>>,
    key: &K,
    completion: impl Future<Output = Result<(), BridgeError>>,
) -> Result<(), BridgeError> {
    let was_outstanding = outstanding.lock().remove(key);
    let result = completion.await;
    if was_outstanding && matches!(&result, Err(e) if e.is_reloaded()) {
        outstanding.lock().insert(key.clone());
    }
    result
}

/// The BridgeHolder child spec: permanent, started after the Runtime (whose handles it uses).
/// Orphaned core workers get `drain_timeout` to drain; their outcomes go to `tally`.
pub fn child_spec(drain_timeout: Duration, tally: Arc<OrphanTally>) -> ChildSpec {
    ChildSpec::with_init("bridge_holder", move |ctx: ChildContext| {
        let tally = tally.clone();
        async move {
            let runtime: RuntimeHandle = ctx
                .registry()
                .via(names::RUNTIME)
                .map_err(|e| StartError::new(format!("bridge holder needs the runtime: {e}")))?;
            let reaper = Reaper {
                drain_timeout,
                tally,
            };
            let holder = BridgeHolder::new(runtime, reaper);
            ctx.register(names::BRIDGE_HOLDER, holder.clone())
                .map_err(|e| StartError::new(e.to_string()))?;
            tracing::info!("bridge holder started");
            Ok(async move {
                let guard = CloseOnDrop(holder.clone());
                let exit = tokio::select! {
                    _ = ctx.cancelled() => Exit::Shutdown,
                    _ = holder.inner.crash_signal.notified() => {
                        let reason = holder.inner.crash.lock().take().unwrap_or_default();
                        Exit::error(format!("bridge holder crashed: {reason}"))
                    }
                };
                holder.close_gracefully().await;
                drop(guard);
                tracing::info!(reason = %exit, "bridge holder exiting");
                exit
            })
        }
    })
    .restart(Restart::Permanent)
    .shutdown(Shutdown::Timeout(Duration::from_secs(5)))
}
