//! A pool's availability state: which worker processes are ready, their free capacity, and the
//! bounded FIFO queue of executions waiting for one. A free slot is a permit of a fair
//! semaphore; whoever holds one takes a slot on the least-loaded live worker with a
//! compare-and-swap on that worker's load, so executions never queue behind a lock. The pool never starts or restarts
//! processes (their Starters do); workers join it after their handshake and leave it when they
//! stop, however they stop.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Instant;

use hourglass_proto::external::v1::{CancelRequest, execute_event::Event};
use parking_lot::{Mutex, RwLock};
use temporalio_common::protos::temporal::api::common::v1::Payload;
use tokio::sync::{Notify, Semaphore};
use tokio_util::sync::CancellationToken;

use super::config::ExternalPoolConfig;
use super::error::ExternalError;
use super::execution::{
    ExternalActivity, ExternalFailure, ExternalOutcome, PAYLOAD_TOO_LARGE_TYPE, POOL_CLOSED_TYPE,
    POOL_SATURATED_TYPE, WORKER_LOST_TYPE, failure_from_wire, payload_from_wire,
};
use super::handshake::WorkerClient;
use super::session::{SessionExecution, SessionLink};
pub use super::startup::StartupReport;

/// A connected, handshaken worker process.
#[derive(Debug)]
pub(crate) struct WorkerConn {
    pub(crate) id: String,
    pub(crate) pid: u32,
    pub(crate) client: WorkerClient,
    /// The worker's session stream, if it offers one (else one Execute RPC per execution).
    session: Option<SessionLink>,
    capacity: usize,
    /// Attempts running on it, with [`LEFT`] set once it has left the pool (one word, so a
    /// slot's return and the worker's leaving agree on who gives back the free permits).
    busy: AtomicUsize,
    /// When its process was spawned and when it joined the pool (handshake answered).
    pub(crate) spawned_at: Instant,
    pub(crate) joined_at: Instant,
}

/// The bit of [`WorkerConn::busy`] that says the worker has left the pool.
const LEFT: usize = 1 << (usize::BITS - 1);

impl WorkerConn {
    fn is_alive(&self) -> bool {
        self.busy.load(Ordering::Acquire) & LEFT == 0
    }

    /// Attempts running on it.
    fn load(&self) -> usize {
        self.busy.load(Ordering::Acquire) & !LEFT
    }

    /// Takes one of its free slots, unless it has none or has left.
    fn try_take(&self) -> bool {
        self.busy
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |b| {
                (b & LEFT == 0 && b < self.capacity).then_some(b + 1)
            })
            .is_ok()
    }
}

/// A handshaken worker about to join its pool.
pub(crate) struct Joining {
    /// Worker id (`<pool>-<index>`).
    pub(crate) id: String,
    /// Pid of its process (the process group leader).
    pub(crate) pid: u32,
    /// When its process was spawned.
    pub(crate) spawned_at: Instant,
    /// Its gRPC client.
    pub(crate) client: WorkerClient,
    /// Its session stream, if it offers one.
    pub(crate) session: Option<SessionLink>,
    /// Attempts it runs at once.
    pub(crate) capacity: usize,
    /// Activity types it reported.
    pub(crate) types: Vec<String>,
}

/// Which pool claimed which activity type, shared by all pools of one [`super::ExternalPools`].
pub(crate) type Claims = Arc<Mutex<HashMap<String, String>>>;

/// State of one pool shared by its workers (which join and leave) and by executions.
pub(crate) struct PoolShared {
    pub(crate) config: ExternalPoolConfig,
    pub(crate) run_id: String,
    pub(crate) marker: String,
    pub(crate) state_dir: PathBuf,
    types: RwLock<Option<BTreeSet<String>>>,
    claims: Claims,
    /// One permit per free slot on a live worker (fair: waiters are served in arrival order).
    /// It may briefly hold more permits than free slots (a worker left while its permits were
    /// taken), never fewer; a holder who then finds no slot waits again.
    free: Semaphore,
    waiting: AtomicUsize,
    peak_waiting: AtomicUsize,
    /// Woken whenever a slot frees up, a waiter leaves or a worker joins (shared by the pools
    /// of one [`super::ExternalPools`], for [`super::ExternalPools::wait_for_room`]).
    room: Arc<Notify>,
    workers: RwLock<BTreeMap<String, Arc<WorkerConn>>>,
    next_execution: AtomicU64,
    joins: AtomicU64,
    lost: AtomicU64,
    pub(crate) startup: Mutex<Option<StartupReport>>,
    /// The pool's cgroup v2 directory while it runs, if cgroups are in use.
    pub(crate) cgroup_dir: Mutex<Option<PathBuf>>,
    pub(crate) closed: CancellationToken,
}

/// A snapshot of one pool's availability.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolStats {
    /// Pool name.
    pub name: String,
    /// Current run marker (`<pool>:<run id>`).
    pub run_marker: String,
    /// Activity types served (empty until the first handshake).
    pub activity_types: Vec<String>,
    /// Worker ids and OS pids of the processes currently joined.
    pub workers: Vec<(String, u32)>,
    /// Free execution slots.
    pub idle_slots: usize,
    /// Executions waiting for a slot.
    pub waiting: usize,
    /// The most executions that ever waited beyond the free slots at once (at most `max_queue`
    /// for tasks from the core, which are not polled while the queue is full).
    pub peak_waiting: usize,
    /// Handshakes completed so far (the configured size at start; one more per restart).
    pub joins: u64,
    /// Executions failed because their worker process died.
    pub lost_executions: u64,
    /// How the pool's start went (`None` until it is ready).
    pub startup: Option<StartupReport>,
}

/// Removes a worker from the pool when its session ends (however it ends).
pub(crate) struct Membership {
    pool: Arc<PoolShared>,
    conn: Arc<WorkerConn>,
}

impl Drop for Membership {
    fn drop(&mut self) {
        let before = self.conn.busy.fetch_or(LEFT, Ordering::AcqRel);
        if before & LEFT == 0 {
            // Its free slots go; its busy ones give nothing back when they end.
            let idle = self.conn.capacity.saturating_sub(before);
            self.pool.free.forget_permits(idle);
        }
        let mut workers = self.pool.workers.write();
        if workers
            .get(&self.conn.id)
            .is_some_and(|c| Arc::ptr_eq(c, &self.conn))
        {
            workers.remove(&self.conn.id);
        }
        tracing::info!(pool = %self.pool.config.name, worker = %self.conn.id, pid = self.conn.pid, "external worker left the pool");
    }
}

/// A reserved execution slot on a worker; freed on drop (a permit again if the worker lives).
struct Slot {
    pool: Arc<PoolShared>,
    conn: Arc<WorkerConn>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let before = self.conn.busy.fetch_sub(1, Ordering::AcqRel);
        if before & LEFT == 0 && !self.pool.closed.is_cancelled() {
            self.pool.free.add_permits(1);
        }
        self.pool.room.notify_waiters();
    }
}

/// Counts an execution as waiting for a slot while it lives (from the moment its task was
/// taken from the core, so the poll gate sees it at once).
pub(crate) struct Waiting(Arc<PoolShared>);

/// How an execution enters a pool's wait queue.
pub(crate) enum Admission {
    /// Refused with `ExternalPoolSaturated` when `max_queue` executions already wait.
    RefuseWhenFull,
    /// Waits however full the queue is (tasks from the core; polling is held back instead),
    /// counted as waiting since `Waiting` was taken, if it was.
    Wait(Option<Waiting>),
}

impl Drop for Waiting {
    fn drop(&mut self) {
        self.0.waiting.fetch_sub(1, Ordering::AcqRel);
        self.0.room.notify_waiters();
    }
}

enum Acquire {
    Slot(Slot),
    Done(ExternalOutcome),
}

impl PoolShared {
    pub(crate) fn new(
        config: ExternalPoolConfig,
        run_id: String,
        state_dir: PathBuf,
        claims: Claims,
        room: Arc<Notify>,
    ) -> Arc<Self> {
        Arc::new(Self {
            marker: super::leftovers::run_marker(&config.name, &run_id),
            config,
            run_id,
            state_dir,
            types: RwLock::new(None),
            claims,
            free: Semaphore::new(0),
            waiting: AtomicUsize::new(0),
            peak_waiting: AtomicUsize::new(0),
            room,
            workers: RwLock::new(BTreeMap::new()),
            next_execution: AtomicU64::new(1),
            joins: AtomicU64::new(0),
            lost: AtomicU64::new(0),
            startup: Mutex::new(None),
            cgroup_dir: Mutex::new(None),
            closed: CancellationToken::new(),
        })
    }

    pub(crate) fn name(&self) -> &str {
        &self.config.name
    }

    /// True if this pool's workers serve `activity_type` (known after the first handshake).
    pub(crate) fn serves(&self, activity_type: &str) -> bool {
        self.types
            .read()
            .as_ref()
            .is_some_and(|t| t.contains(activity_type))
    }

    pub(crate) fn activity_types(&self) -> Vec<String> {
        self.types
            .read()
            .as_ref()
            .map(|t| t.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Adds a handshaken worker with `capacity` slots. The first worker fixes the pool's
    /// activity types (claimed against the other pools); later ones must report the same set.
    pub(crate) fn join(self: &Arc<Self>, worker: Joining) -> Result<Membership, ExternalError> {
        let Joining {
            id,
            pid,
            spawned_at,
            client,
            session,
            capacity,
            types,
        } = worker;
        let reported: BTreeSet<String> = types.into_iter().collect();
        {
            let mut current = self.types.write();
            match current.as_ref() {
                Some(existing) if *existing != reported => {
                    return Err(ExternalError::Handshake {
                        worker: id,
                        reason: format!(
                            "worker serves {:?} but the pool's other workers serve {:?}; every \
                             process of a pool must serve the same activity types",
                            reported, existing
                        ),
                    });
                }
                Some(_) => {}
                None => {
                    let mut claims = self.claims.lock();
                    for t in &reported {
                        if let Some(other) = claims.get(t)
                            && other != self.name()
                        {
                            return Err(ExternalError::TypeConflict {
                                activity_type: t.clone(),
                                first: other.clone(),
                                second: self.name().to_string(),
                            });
                        }
                    }
                    for t in &reported {
                        claims.insert(t.clone(), self.name().to_string());
                    }
                    *current = Some(reported);
                }
            }
        }
        let conn = Arc::new(WorkerConn {
            id: id.clone(),
            pid,
            client,
            session,
            capacity: capacity.max(1),
            busy: AtomicUsize::new(0),
            spawned_at,
            joined_at: Instant::now(),
        });
        self.workers.write().insert(id.clone(), conn.clone());
        self.joins.fetch_add(1, Ordering::Relaxed);
        self.free.add_permits(conn.capacity);
        self.room.notify_waiters();
        tracing::info!(pool = %self.name(), worker = %id, pid, capacity, "external worker joined the pool");
        Ok(Membership {
            pool: self.clone(),
            conn,
        })
    }

    /// Pid, spawn time and join time of the joined worker `id`.
    pub(crate) fn worker_times(&self, id: &str) -> Option<(u32, Instant, Instant)> {
        self.workers
            .read()
            .get(id)
            .map(|c| (c.pid, c.spawned_at, c.joined_at))
    }

    /// Free slots on live workers.
    fn idle(&self) -> usize {
        self.workers
            .read()
            .values()
            .filter(|c| c.is_alive())
            .map(|c| c.capacity.saturating_sub(c.load()))
            .sum()
    }

    pub(crate) fn stats(&self) -> PoolStats {
        let idle_slots = self.idle();
        PoolStats {
            name: self.name().to_string(),
            run_marker: self.marker.clone(),
            activity_types: self.activity_types(),
            workers: self
                .workers
                .read()
                .values()
                .map(|c| (c.id.clone(), c.pid))
                .collect(),
            idle_slots,
            waiting: self.waiting.load(Ordering::Acquire),
            peak_waiting: self.peak_waiting.load(Ordering::Relaxed),
            joins: self.joins.load(Ordering::Relaxed),
            lost_executions: self.lost.load(Ordering::Relaxed),
            startup: self.startup.lock().clone(),
        }
    }

    /// True if one more execution would not make more than `max_queue` wait beyond the free
    /// slots (or the pool is closed, so it would not wait).
    pub(crate) fn has_room(&self) -> bool {
        self.closed.is_cancelled()
            || self.waiting.load(Ordering::Acquire) < self.config.max_queue + self.idle()
    }

    /// Counts one execution as waiting from now on (see [`Admission::Wait`]).
    pub(crate) fn admit(self: &Arc<Self>) -> Waiting {
        self.waiting.fetch_add(1, Ordering::AcqRel);
        Waiting(self.clone())
    }

    /// Waits (FIFO) for a free slot on a live worker. With `refuse_when_full`, refuses when
    /// `max_queue` executions already wait; without, waits anyway (tasks from the core, whose
    /// polling is held back while the queue is full, so at most a poll's worth can be extra).
    async fn acquire(
        self: &Arc<Self>,
        cancel: &CancellationToken,
        admission: Admission,
    ) -> Acquire {
        let (refuse_when_full, _waiting) = match admission {
            Admission::RefuseWhenFull => (true, self.admit()),
            Admission::Wait(Some(waiting)) => (false, waiting),
            Admission::Wait(None) => (false, self.admit()),
        };
        // Others waiting besides this one.
        let waiting = self.waiting.load(Ordering::Acquire).saturating_sub(1);
        if refuse_when_full && waiting >= self.config.max_queue + self.idle() {
            return Acquire::Done(ExternalOutcome::Failed(ExternalFailure::pool(
                POOL_SATURATED_TYPE,
                format!(
                    "external pool `{}` is saturated: {waiting} executions already wait (max_queue = {})",
                    self.name(),
                    self.config.max_queue
                ),
            )));
        }
        self.peak_waiting
            .fetch_max((waiting + 1).saturating_sub(self.idle()), Ordering::Relaxed);
        loop {
            // The semaphore is fair: waiters get slots in arrival order.
            let permit = tokio::select! {
                permit = self.free.acquire() => permit,
                _ = cancel.cancelled() => return Acquire::Done(ExternalOutcome::Cancelled { details: vec![] }),
                _ = self.closed.cancelled() => return Acquire::Done(self.closed_failure()),
            };
            let Ok(permit) = permit else {
                return Acquire::Done(self.closed_failure());
            };
            // The slot now carries the permit: its drop adds one back if the worker lives.
            permit.forget();
            if let Some(conn) = self.take_least_loaded() {
                return Acquire::Slot(Slot {
                    pool: self.clone(),
                    conn,
                });
            }
            // The permit was one of a worker that left meanwhile: wait for another.
        }
    }

    /// Takes a slot on the live worker with the smallest share of its capacity in use (the
    /// first in id order among equals); `None` if no worker has a free slot.
    fn take_least_loaded(&self) -> Option<Arc<WorkerConn>> {
        loop {
            let best = self
                .workers
                .read()
                .values()
                .filter(|c| c.is_alive() && c.load() < c.capacity)
                .min_by(|a, b| (a.load() * b.capacity).cmp(&(b.load() * a.capacity)))
                .cloned()?;
            if best.try_take() {
                return Some(best);
            }
            // Another execution took its last slot first: look again.
        }
    }

    fn closed_failure(&self) -> ExternalOutcome {
        ExternalOutcome::Failed(ExternalFailure::pool(
            POOL_CLOSED_TYPE,
            format!("external pool `{}` was shut down", self.name()),
        ))
    }

    /// Runs one execution on a free worker: heartbeats go to `heartbeat` as they arrive;
    /// `cancel` sends Cancel to the worker (or ends the wait for a slot). A worker that dies
    /// during the execution yields a retryable failure of type [`WORKER_LOST_TYPE`].
    pub(crate) async fn execute(
        self: &Arc<Self>,
        activity: &ExternalActivity,
        cancel: &CancellationToken,
        heartbeat: &(dyn Fn(Vec<Payload>) + Send + Sync),
        admission: Admission,
    ) -> ExternalOutcome {
        let size = activity.payload_bytes();
        if size > self.config.max_payload_bytes {
            return ExternalOutcome::Failed(payload_too_large(format!(
                "the input of activity {} is {size} bytes, over external pool `{}`'s limit of {} \
                 bytes (`max_payload_bytes`); pass a reference (a path, a URL) instead of the data",
                activity.info.activity_type,
                self.name(),
                self.config.max_payload_bytes
            )));
        }
        let slot = match self.acquire(cancel, admission).await {
            Acquire::Slot(slot) => slot,
            Acquire::Done(outcome) => return outcome,
        };
        let conn = slot.conn.clone();
        let execution_id = format!(
            "{}-{}",
            self.run_id,
            self.next_execution.fetch_add(1, Ordering::Relaxed)
        );
        let lost = |why: String| {
            self.lost.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(pool = %self.name(), worker = %conn.id, pid = conn.pid, activity_type = %activity.info.activity_type, "{why}");
            ExternalOutcome::Failed(ExternalFailure::pool(WORKER_LOST_TYPE, why))
        };
        let request = activity.to_wire(execution_id.clone());
        let mut source = match &conn.session {
            Some(link) => match link.start(request) {
                Some(execution) => Source::Session(execution),
                None => {
                    return lost(format!(
                        "external worker `{}` (pid {}) could not start the activity: its session is closed",
                        conn.id, conn.pid
                    ));
                }
            },
            None => {
                let mut client = conn.client.clone();
                let started = tokio::select! {
                    r = client.execute(request) => r,
                    _ = cancel.cancelled() => return ExternalOutcome::Cancelled { details: vec![] },
                };
                match started {
                    Ok(response) => Source::Stream(response.into_inner()),
                    Err(status) => {
                        return lost(format!(
                            "external worker `{}` (pid {}) could not start the activity: {}: {}",
                            conn.id,
                            conn.pid,
                            status.code(),
                            status.message()
                        ));
                    }
                }
            }
        };
        let mut cancel_sent = false;
        loop {
            let message = tokio::select! {
                m = source.next() => m,
                _ = cancel.cancelled(), if !cancel_sent => {
                    cancel_sent = true;
                    source.cancel(&conn, &execution_id);
                    continue;
                }
            };
            match message {
                Ok(Some(event)) => match event.event {
                    Some(Event::Heartbeat(hb)) => {
                        heartbeat(hb.details.into_iter().map(payload_from_wire).collect())
                    }
                    Some(Event::Completed(done)) => {
                        return ExternalOutcome::Completed(
                            done.result.map(payload_from_wire).unwrap_or_default(),
                        );
                    }
                    Some(Event::Failed(f)) => return ExternalOutcome::Failed(failure_from_wire(f)),
                    Some(Event::Cancelled(c)) => {
                        return ExternalOutcome::Cancelled {
                            details: c.details.into_iter().map(payload_from_wire).collect(),
                        };
                    }
                    None => {}
                },
                Ok(None) => {
                    return lost(format!(
                        "external worker `{}` (pid {}) ended the execution without a result",
                        conn.id, conn.pid
                    ));
                }
                Err(status) if is_size_error(&status) => {
                    return ExternalOutcome::Failed(payload_too_large(format!(
                        "a message from external worker `{}` for activity {} is over the limit \
                         (`max_payload_bytes` = {}): {}",
                        conn.id,
                        activity.info.activity_type,
                        self.config.max_payload_bytes,
                        status.message()
                    )));
                }
                Err(status) => {
                    return lost(format!(
                        "external worker `{}` (pid {}) was lost during the activity: {}: {}",
                        conn.id,
                        conn.pid,
                        status.code(),
                        status.message()
                    ));
                }
            }
        }
    }
}

/// A non-retryable failure for a payload over the limit (retrying cannot make it smaller).
fn payload_too_large(message: String) -> ExternalFailure {
    let mut failure = ExternalFailure::pool(PAYLOAD_TOO_LARGE_TYPE, message);
    failure.non_retryable = true;
    failure
}

/// True for gRPC statuses that mean a message was over a size limit.
fn is_size_error(status: &tonic::Status) -> bool {
    matches!(
        status.code(),
        tonic::Code::ResourceExhausted | tonic::Code::OutOfRange
    ) && status.message().to_ascii_lowercase().contains("message")
}

/// Where an execution's events come from: the worker's session, or its own Execute stream.
enum Source<'a> {
    Session(SessionExecution<'a>),
    Stream(tonic::Streaming<hourglass_proto::external::v1::ExecuteEvent>),
}

impl Source<'_> {
    async fn next(
        &mut self,
    ) -> Result<Option<hourglass_proto::external::v1::ExecuteEvent>, tonic::Status> {
        match self {
            Source::Session(execution) => execution
                .next()
                .await
                .map(Some)
                .ok_or_else(|| tonic::Status::unavailable("the worker's session stream broke")),
            Source::Stream(stream) => stream.message().await,
        }
    }

    fn cancel(&self, conn: &WorkerConn, execution_id: &str) {
        match self {
            Source::Session(execution) => execution.cancel("cancelled"),
            Source::Stream(_) => {
                let mut client = conn.client.clone();
                let request = CancelRequest {
                    execution_id: execution_id.to_string(),
                    reason: "cancelled".into(),
                };
                let worker = conn.id.clone();
                // Sent concurrently: the stream keeps delivering until the worker answers.
                tokio::spawn(async move {
                    if let Err(status) = client.cancel(request).await {
                        tracing::warn!(worker = %worker, error = %status, "cancel request to external worker failed");
                    }
                });
            }
        }
    }
}

#[cfg(test)]
#[path = "pool_tests.rs"]
mod tests;
