//! [`ExternalPools`]: the pools of one Hourglass instance, their supervision tree, and the
//! execution API the activity layer calls for activity types no Rust activity claims.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use hourglass_supervise::{
    ChildSpec, DynamicSupervisorSpec, Exit, Shutdown, StartError, Strategy, SupervisorHandle,
    SupervisorSpec,
};
use parking_lot::Mutex;
use temporalio_common::protos::{
    coresdk::{ActivityTaskCompletion, activity_result::ActivityExecutionResult, activity_task},
    temporal::api::common::v1::Payload,
};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::config::ExternalPoolConfig;
use super::error::ExternalError;
use super::execution::{ExternalActivity, ExternalFailure, ExternalOutcome, NOT_SERVED_TYPE};
use super::fork_server;
use super::leftovers::claim_pool;
use super::pool::{Admission, PoolShared, PoolStats};
use super::startup::populator_spec;

/// Id of the supervisor [`ExternalPools::child_spec`] returns.
pub const EXTERNAL_POOLS_ID: &str = "external_pools";

/// The external activity pools of one Hourglass instance. Cheap to clone (shared state).
///
/// Supervision tree ([`ExternalPools::child_spec`] / [`ExternalPools::start`]):
///
/// ```text
/// external_pools                  one_for_one
/// └─ external_pool/<name>         rest_for_one, per pool
///    ├─ run_marker                holds the pool's state lock; kills a previous run's leftovers
///    ├─ fork_server               with `fork_server = true`: the process workers are forked from
///    ├─ workers                   DynamicSupervisor
///    │  └─ starter/<name>-<i>     Starter (permanent) → process_worker (transient) → OS process
///    └─ populator                 starts `size` Starters concurrently, retries failed ones, ends
/// ```
///
/// Guarantees: workers start concurrently (`startup_concurrency` at a time); the pool is ready
/// when the tree has started (every process answered its handshake or failed to start, and at
/// least one is up, so [`serves`](Self::serves) knows the activity types; the
/// [`StartupReport`](super::StartupReport) in [`stats`](Self::stats) says how many came up and
/// why others did not, and those are retried in the background); a pool where no worker came
/// up fails to start, stops whatever was started and names the cause; executions only go to handshaken, live workers;
/// restarts are bounded by each level's intensity.
#[derive(Clone)]
pub struct ExternalPools {
    pools: Arc<Vec<Arc<PoolShared>>>,
    room: Arc<Notify>,
    running: Arc<Mutex<HashMap<Vec<u8>, CancellationToken>>>,
    max_restarts: u32,
    period: Duration,
}

impl std::fmt::Debug for ExternalPools {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExternalPools")
            .field(
                "pools",
                &self.pools.iter().map(|p| p.name()).collect::<Vec<_>>(),
            )
            .finish()
    }
}

/// A running top-level tree started by [`ExternalPools::start`].
#[derive(Debug, Clone)]
pub struct RunningPools {
    /// The pools (serves / execute).
    pub pools: ExternalPools,
    /// The `external_pools` supervisor.
    pub supervisor: SupervisorHandle,
}

impl RunningPools {
    /// Fails waiting executions, then stops every process (SIGTERM → grace → SIGKILL).
    pub async fn shutdown(&self) -> Exit {
        self.pools.close();
        self.supervisor.shutdown().await
    }
}

impl ExternalPools {
    /// Validates `configs` (names unique, fields valid). `state_dir` holds the pools' locks, run
    /// markers and ready files (e.g. `<data dir>/`); it is created when a pool starts. Each call
    /// gets a fresh run id per pool.
    pub fn new(
        configs: Vec<ExternalPoolConfig>,
        state_dir: impl Into<PathBuf>,
    ) -> Result<Self, ExternalError> {
        let state_dir = state_dir.into();
        let mut seen = std::collections::HashSet::new();
        for c in &configs {
            c.validate()?;
            if !seen.insert(c.name.clone()) {
                return Err(ExternalError::DuplicatePool(c.name.clone()));
            }
        }
        let claims = Arc::new(Mutex::new(HashMap::new()));
        let room = Arc::new(Notify::new());
        let pools = configs
            .into_iter()
            .map(|c| {
                let run_id = uuid::Uuid::new_v4().simple().to_string();
                PoolShared::new(c, run_id, state_dir.clone(), claims.clone(), room.clone())
            })
            .collect();
        Ok(Self {
            room,
            pools: Arc::new(pools),
            running: Arc::default(),
            max_restarts: 3,
            period: Duration::from_secs(5),
        })
    }

    /// Sets the restart intensity of the top `external_pools` supervisor (default 3 in 5 s):
    /// a pool that escalates more often makes the whole tree escalate to its parent.
    pub fn intensity(mut self, max_restarts: u32, period: Duration) -> Self {
        self.max_restarts = max_restarts;
        self.period = period;
        self
    }

    /// The whole tree as a child of the caller's supervisor (a `Permanent` supervisor child
    /// with id [`EXTERNAL_POOLS_ID`]). Its start phase returns once every worker is ready.
    pub fn child_spec(&self) -> ChildSpec {
        self.supervisor_spec().into_child_spec()
    }

    fn supervisor_spec(&self) -> SupervisorSpec {
        SupervisorSpec::new(EXTERNAL_POOLS_ID)
            .strategy(Strategy::OneForOne)
            .intensity(self.max_restarts, self.period)
            .children(self.pools.iter().map(pool_spec))
    }

    /// Starts the tree as a top-level supervisor; returns once every worker is ready, or a
    /// clear error (having stopped everything it started).
    pub async fn start(&self) -> Result<RunningPools, ExternalError> {
        let supervisor = self
            .supervisor_spec()
            .start()
            .await
            .map_err(|e| ExternalError::Start(e.to_string()))?;
        Ok(RunningPools {
            pools: self.clone(),
            supervisor,
        })
    }

    /// True if a pool serves `activity_type` (as reported by its workers' handshake).
    pub fn serves(&self, activity_type: &str) -> bool {
        self.pools.iter().any(|p| p.serves(activity_type))
    }

    /// Every activity type served, sorted.
    pub fn activity_types(&self) -> Vec<String> {
        let mut all: Vec<String> = self.pools.iter().flat_map(|p| p.activity_types()).collect();
        all.sort();
        all
    }

    /// Availability snapshots, one per pool in configuration order.
    pub fn stats(&self) -> Vec<PoolStats> {
        self.pools.iter().map(|p| p.stats()).collect()
    }

    /// Per-pool gauges and counters in Prometheus text format (`hourglass_external_pool_*`:
    /// workers, size, idle slots, waiting, joins, lost executions, start failures).
    pub fn prometheus_text(&self) -> String {
        super::metrics::prometheus_text(&self.stats())
    }

    /// Fails every waiting and future execution with a retryable failure (used at shutdown).
    pub fn close(&self) {
        for p in self.pools.iter() {
            p.closed.cancel();
        }
        self.room.notify_waiters();
    }

    /// True if every pool could take one more execution without its wait queue going over
    /// `max_queue` (see [`wait_for_room`](Self::wait_for_room)).
    pub fn has_room(&self) -> bool {
        self.pools.iter().all(|p| p.has_room())
    }

    /// Waits until [`has_room`](Self::has_room). The activity poll loop calls this before each
    /// poll, so that while a pool's queue is full no activity task is taken from Temporal: the
    /// task waits on the server (its schedule-to-start clock running) instead of failing here —
    /// the way a Temporal worker with no free slot behaves. The activity type of a task is only
    /// known once polled, so one full pool holds back polling for the whole task queue.
    pub async fn wait_for_room(&self) {
        loop {
            let notified = self.room.notified();
            tokio::pin!(notified);
            // Registered before the check, so a wake-up between the check and the wait counts.
            notified.as_mut().enable();
            if self.has_room() {
                return;
            }
            notified.await;
        }
    }

    /// Executes `activity` on a worker of the pool serving its type, refusing it when the
    /// pool's queue is full.
    pub async fn execute(
        &self,
        activity: ExternalActivity,
        cancel: CancellationToken,
        heartbeat: impl Fn(Vec<Payload>) + Send + Sync,
    ) -> ExternalOutcome {
        self.execute_inner(activity, cancel, heartbeat, Admission::RefuseWhenFull)
            .await
    }

    /// Executes `activity` on a worker of the pool serving its type.
    ///
    /// Waits (FIFO, bounded by the pool's `max_queue`) for a free worker. Heartbeat details
    /// from the worker are passed to `heartbeat` in order as they arrive (forward them to the
    /// core's `record_activity_heartbeat`). Cancelling `cancel` sends Cancel to the worker (or
    /// ends the wait); the outcome is then usually [`ExternalOutcome::Cancelled`]. Never panics
    /// and never errors: infrastructure problems are failures — retryable when the worker died
    /// (`ExternalWorkerLost`), the queue is full (`ExternalPoolSaturated`) or the pools were
    /// closed (`ExternalPoolClosed`); non-retryable when no pool serves the type
    /// (`NotFoundError`); non-retryable when the input is over `max_payload_bytes`
    /// (`ExternalPayloadTooLarge`). With [`Admission::Wait`] (tasks from the core, see
    /// [`wait_for_room`](Self::wait_for_room)) a full queue is waited in, not refused.
    async fn execute_inner(
        &self,
        activity: ExternalActivity,
        cancel: CancellationToken,
        heartbeat: impl Fn(Vec<Payload>) + Send + Sync,
        admission: Admission,
    ) -> ExternalOutcome {
        let activity_type = &activity.info.activity_type;
        let Some(pool) = self.pools.iter().find(|p| p.serves(activity_type)) else {
            let mut failure = ExternalFailure::pool(
                NOT_SERVED_TYPE,
                format!(
                    "Activity {activity_type} is not served by any external pool, available activities: {}",
                    self.activity_types().join(", ")
                ),
            );
            failure.non_retryable = true;
            return ExternalOutcome::Failed(failure);
        };
        pool.execute(&activity, &cancel, &heartbeat, admission)
            .await
    }

    /// [`execute`](Self::execute) for the core's activity task `Start`, returning the result to
    /// complete the task with.
    pub async fn execute_task(
        &self,
        task_queue: &str,
        task_token: Vec<u8>,
        start: activity_task::Start,
        cancel: CancellationToken,
        heartbeat: impl Fn(Vec<Payload>) + Send + Sync,
    ) -> ActivityExecutionResult {
        let activity = ExternalActivity::from_start(task_queue, task_token, start);
        self.execute_inner(activity, cancel, heartbeat, Admission::Wait(None))
            .await
            .into_execution_result()
    }
}

impl ExternalPools {
    /// Starts the core's activity task (`task_token` + `Start`) on a pool and returns the
    /// future of its completion (drive it, then send the completion to the core). While it
    /// runs, [`cancel_task`](Self::cancel_task) with the same token cancels it, so a core
    /// `Cancel` task can be routed here like [`crate::activity::ActivityExecutor::dispatch`]
    /// does for Rust activities. Dropping the future abandons the attempt (the worker is told
    /// through the closed stream).
    pub fn run_task(
        &self,
        task_queue: &str,
        task_token: Vec<u8>,
        start: activity_task::Start,
        heartbeat: impl Fn(Vec<Payload>) + Send + Sync + 'static,
    ) -> impl std::future::Future<Output = ActivityTaskCompletion> + Send + 'static {
        let cancel = CancellationToken::new();
        self.running
            .lock()
            .insert(task_token.clone(), cancel.clone());
        let guard = RunningTask {
            running: self.running.clone(),
            task_token: task_token.clone(),
        };
        let activity = ExternalActivity::from_start(task_queue, task_token.clone(), start);
        // Counted as waiting before this returns, so the poll loop's next room check sees it.
        let waiting = self
            .pools
            .iter()
            .find(|p| p.serves(&activity.info.activity_type))
            .map(|p| p.admit());
        let pools = self.clone();
        async move {
            let _guard = guard;
            let result = pools
                .execute_inner(activity, cancel, heartbeat, Admission::Wait(waiting))
                .await
                .into_execution_result();
            ActivityTaskCompletion {
                task_token,
                result: Some(result),
            }
        }
    }

    /// Cancels the task started by [`run_task`](Self::run_task) with `task_token`; false if
    /// none runs (it already finished, or it is not an external task).
    pub fn cancel_task(&self, task_token: &[u8]) -> bool {
        match self.running.lock().get(task_token) {
            Some(token) => {
                token.cancel();
                true
            }
            None => false,
        }
    }

    /// Number of tasks started by [`run_task`](Self::run_task) and not yet finished.
    pub fn running_tasks(&self) -> usize {
        self.running.lock().len()
    }
}

/// Forgets a running task's cancellation token however its future ends.
struct RunningTask {
    running: Arc<Mutex<HashMap<Vec<u8>, CancellationToken>>>,
    task_token: Vec<u8>,
}

impl Drop for RunningTask {
    fn drop(&mut self) {
        self.running.lock().remove(&self.task_token);
    }
}

fn pool_spec(pool: &Arc<PoolShared>) -> ChildSpec {
    let cfg = &pool.config;
    let name = cfg.name.clone();
    let workers_name = format!("hourglass.external/{name}/{}/workers", pool.run_id);

    let marker_pool = pool.clone();
    let run_marker = ChildSpec::with_init("run_marker", move |ctx| {
        let pool = marker_pool.clone();
        async move {
            let (state_dir, name, run_id, cgroups) = (
                pool.state_dir.clone(),
                pool.name().to_string(),
                pool.run_id.clone(),
                pool.config.cgroups,
            );
            let (lock, _killed) = tokio::task::spawn_blocking(move || {
                claim_pool(&state_dir, &name, &run_id, cgroups)
            })
            .await
            .map_err(|e| StartError::new(format!("state directory task failed: {e}")))?
            .map_err(StartError::new)?;
            *pool.cgroup_dir.lock() = lock.cgroup().map(Path::to_path_buf);
            Ok(async move {
                let _lock = lock;
                ctx.cancelled().await;
                Exit::Shutdown
            })
        }
    })
    .shutdown(Shutdown::Timeout(Duration::from_secs(1)));

    let workers = DynamicSupervisorSpec::new("workers")
        .intensity(cfg.intensity.max_restarts, cfg.intensity.period)
        .concurrent_starts(true)
        .register_as(workers_name.clone())
        .into_child_spec();

    let populator = populator_spec(pool.clone(), workers_name);

    let mut spec = SupervisorSpec::new(format!("external_pool/{name}"))
        .strategy(Strategy::RestForOne)
        .intensity(cfg.intensity.max_restarts, cfg.intensity.period)
        .child(run_marker);
    if let Some(server) = fork_server::server_spec(pool) {
        spec = spec.child(server);
    }
    spec.child(workers).child(populator).into_child_spec()
}
