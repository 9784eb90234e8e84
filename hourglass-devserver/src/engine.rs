//! The engine: the state every service works on. Executions live in history shards, each
//! behind its own lock, so requests for workflows of different shards do not wait on each
//! other; task queues, timers, namespaces and the writer's sequence are shared behind short
//! leaf locks. Each request's changes are committed as one batch through the group-commit
//! writer and answered once durable. Long polls wait on `watch` channels bumped under the
//! queue's lock, so no wake-up is ever lost.
use crate::prelude::*;

pub(crate) type RpcResult<T> = std::result::Result<T, Status>;

pub(crate) const OPEN: i32 = WorkflowExecutionStatus::Running as i32;

pub(crate) const DEFAULT_WFT_TIMEOUT_MS: i64 = 10_000;

pub(crate) use crate::history::shard::{HISTORY_SHARDS, Shard, Shards};
use parking_lot::RwLock;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// What the engine shares besides the executions, each part behind its own short-held lock
/// (taken after any history shard, never while another of these is held): matching's task
/// queues, the timer queue, namespaces, pending queries, the writer's sequence, the
/// closed-run cache and the engine-wide settings.
pub(crate) struct Shared {
    /// False in memory: changes are never queued for a writer.
    pub(crate) persistent: bool,
    pub(crate) writer: Mutex<WriterHandle>,
    pub(crate) namespaces: RwLock<BTreeMap<String, Arc<NamespaceRec>>>,
    pub(crate) queues: Mutex<HashMap<QueueKey, Queue>>,
    pub(crate) timers: Mutex<TimerQueue>,
    pub(crate) timer_notify: Arc<Notify>,
    pub(crate) queries: Mutex<HashMap<String, PendingQuery>>,
    /// A read-only connection closed runs are read through when not in memory.
    pub(crate) reader: Option<Mutex<Store>>,
    /// Closed runs in memory, oldest first (see `history::cache`).
    pub(crate) closed_cache: Mutex<VecDeque<ExecKey>>,
    /// How many closed runs stay in memory (see `history::cache`).
    pub(crate) closed_cache_capacity: AtomicUsize,
    pub(crate) history_limits: Mutex<crate::history::limits::HistoryLimits>,
    /// The address the frontend listens on: the owner of every task-queue partition.
    pub(crate) host_address: Mutex<String>,
    /// The clock every event time, deadline and timer is read from (virtual when the
    /// server skips time).
    pub(crate) time: Arc<TimeSource>,
    /// Up to how long after its retention a closed run is deleted (see `history::retention`).
    pub(crate) retention_jitter_ms: i64,
    /// History events sent to workers in workflow task poll responses since start.
    pub(crate) events_delivered: AtomicU64,
    /// Schedules and batch jobs (taken by a request when it first touches them).
    pub(crate) globals: Mutex<Globals>,
}

/// The writer's queue and the sequence number of the last batch queued to it; batches are
/// numbered and queued under this one lock, so the writer sees them in order.
pub(crate) struct WriterHandle {
    pub(crate) seq: u64,
    pub(crate) sender: Option<std::sync::mpsc::Sender<(u64, Batch)>>,
}

/// The timer queue, ordered by due time then arming order.
#[derive(Default)]
pub(crate) struct TimerQueue {
    pub(crate) due: BTreeMap<(i64, u64), TimerTask>,
    pub(crate) seq: u64,
}

/// Schedules and batch jobs: engine-wide records not tied to one execution.
pub(crate) struct Globals {
    /// Every schedule by (namespace, schedule id).
    pub(crate) schedules: BTreeMap<ScheduleKey, ScheduleRec>,
    /// Schedules changed (or deleted) since the last commit.
    pub(crate) dirty_schedules: HashSet<ScheduleKey>,
    /// When the timer loop next advances each schedule (see `ScheduleRec::next_wake_ms`).
    pub(crate) schedule_wakes: HashMap<ScheduleKey, i64>,
    /// Every batch job by (namespace, job id) (see `batcher`).
    pub(crate) batch_jobs: BTreeMap<BatchJobKey, BatchJobRec>,
    /// Wakes a running job's task when StopBatchOperation stops it.
    pub(crate) batch_stops: HashMap<BatchJobKey, Arc<Notify>>,
    /// Batch jobs changed since the last commit.
    pub(crate) dirty_batch_jobs: HashSet<BatchJobKey>,
    /// The batcher's limits (Temporal's dynamic config `worker.batcher*`).
    pub(crate) batcher: BatcherSettings,
}

/// One request's view of the state: the history shards it holds (one, or all of them) and
/// the changes it made, committed together by [`Inner::commit`].
pub(crate) struct Inner<'a> {
    /// The executions of the held shards.
    pub(crate) execs: Shards<'a>,
    pub(crate) s: &'a Shared,
    /// The store while the engine opens (recovery reads it); None afterwards.
    pub(crate) store: Option<&'a Store>,
    /// Runs this request changed.
    pub(crate) dirty: HashSet<ExecKey>,
    pub(crate) dirty_ns: Vec<(String, String)>,
    /// Runs deleted by retention, to be deleted from the store by this commit.
    pub(crate) deleted: Vec<ExecKey>,
    /// The history-limit error of this commit, for the request that caused it.
    pub(crate) limit_error: Option<Status>,
    globals: Option<parking_lot::MutexGuard<'a, Globals>>,
}

/// A request's result with the commit to wait for and the history-limit error it caused.
pub(crate) struct Applied<T> {
    result: RpcResult<T>,
    seq: u64,
    limit_error: Option<Status>,
}

/// The dev server's engine. Cheap to share behind an `Arc`.
pub struct Engine {
    /// The history shards: every execution lives in the one its (namespace, workflow id)
    /// hashes to, as in Temporal's `WorkflowIDToHistoryShard`.
    pub(crate) shards: Box<[Mutex<Shard>]>,
    pub(crate) shared: Shared,
    pub(crate) timer_notify: Arc<Notify>,
    pub(crate) closing: watch::Sender<bool>,
    pub(crate) durable: Arc<watch::Sender<Durable>>,
    pub(crate) shut_down_workers: ShutDownWorkers,
    /// The server's clock (the same one `Shared` holds).
    pub(crate) time: Arc<TimeSource>,
    /// A read-only connection lists and counts read closed runs through, outside the
    /// history shards (None in memory, where every run is in a shard).
    pub(crate) visibility_reader: Option<Arc<Mutex<Store>>>,
}

impl Engine {
    /// Now, in milliseconds since the Unix epoch, on the server's clock.
    pub(crate) fn now_ms(&self) -> i64 {
        self.time.now_ms()
    }

    /// Opens the store, loads all state, and rebuilds queues and timers.
    #[cfg(test)]
    pub fn open(db: &Database, default_namespace: &str) -> crate::error::Result<Arc<Self>> {
        Self::open_with_clock(
            db,
            default_namespace,
            Arc::new(TimeSource::wall()),
            crate::history::retention::DEFAULT_RETENTION_JITTER,
        )
    }

    /// [`Self::open`] on a given clock (a virtual one for time skipping), deleting closed
    /// runs up to `retention_jitter` after their retention.
    pub(crate) fn open_with_clock(
        db: &Database,
        default_namespace: &str,
        time: Arc<TimeSource>,
        retention_jitter: std::time::Duration,
    ) -> crate::error::Result<Arc<Self>> {
        // In memory nothing is written anywhere: the state in the shards is all there is.
        let store = match db {
            Database::Path(_) => Some(Store::open(db)?),
            Database::InMemory => None,
        };
        let (reader, visibility_reader) = match db {
            Database::Path(path) => (
                Some(Mutex::new(Store::open_reader(path)?)),
                Some(Arc::new(Mutex::new(Store::open_reader(path)?))),
            ),
            Database::InMemory => (None, None),
        };
        let timer_notify = Arc::new(Notify::new());
        let durable = Arc::new(watch::Sender::new(Durable::default()));
        let engine = Self {
            shards: (0..HISTORY_SHARDS)
                .map(|_| Mutex::new(Shard::default()))
                .collect(),
            shared: Shared {
                persistent: matches!(db, Database::Path(_)),
                writer: Mutex::new(WriterHandle {
                    seq: 0,
                    sender: None,
                }),
                namespaces: RwLock::new(BTreeMap::new()),
                queues: Mutex::new(HashMap::new()),
                timers: Mutex::new(TimerQueue::default()),
                timer_notify: timer_notify.clone(),
                queries: Mutex::new(HashMap::new()),
                reader,
                closed_cache: Mutex::new(VecDeque::new()),
                closed_cache_capacity: AtomicUsize::new(
                    crate::history::cache::CLOSED_CACHE_CAPACITY,
                ),
                history_limits: Mutex::new(Default::default()),
                host_address: Mutex::new(String::new()),
                time: time.clone(),
                retention_jitter_ms: i64::try_from(retention_jitter.as_millis())
                    .unwrap_or(i64::MAX),
                events_delivered: AtomicU64::new(0),
                globals: Mutex::new(Globals {
                    schedules: BTreeMap::new(),
                    dirty_schedules: HashSet::new(),
                    schedule_wakes: HashMap::new(),
                    batch_jobs: BTreeMap::new(),
                    batch_stops: HashMap::new(),
                    dirty_batch_jobs: HashSet::new(),
                    batcher: BatcherSettings::default(),
                }),
            },
            timer_notify,
            closing: watch::Sender::new(false),
            durable: durable.clone(),
            shut_down_workers: ShutDownWorkers::new(),
            time,
            visibility_reader,
        };
        let (count, schedules, batch_jobs, initial) = {
            let mut g = engine.lock_all();
            g.store = store.as_ref();
            g.load_namespaces(default_namespace)?;
            let count = g.recover()?;
            let schedules = g.load_schedules()?;
            let batch_jobs = g.load_batch_jobs()?;
            (count, schedules, batch_jobs, g.take_batch())
        };
        if let Some(mut store) = store {
            store.write_batches(std::slice::from_ref(&initial))?;
            let (tx, rx) = std::sync::mpsc::channel();
            engine.shared.writer.lock().sender = Some(tx);
            std::thread::Builder::new()
                .name("devserver-writer".into())
                .spawn(move || writer_loop(store, rx, durable))
                .map_err(|e| crate::error::DevServerError::Corrupt {
                    what: "writer thread".into(),
                    detail: e.to_string(),
                })?;
        }
        tracing::info!(
            executions = count,
            schedules,
            batch_jobs,
            shards = HISTORY_SHARDS,
            "dev server state loaded"
        );
        Ok(Arc::new(engine))
    }

    /// Ends every long poll (they answer `Unavailable`) so a graceful shutdown is quick.
    pub fn close(&self) {
        self.closing.send_replace(true);
    }

    /// Resolves once [`Self::close`] was called.
    pub async fn closed(&self) {
        let mut rx = self.closing.subscribe();
        let _ = rx.wait_for(|v| *v).await;
    }

    /// A view holding every history shard, in index order (the order every multi-shard
    /// holder takes them in, so two never wait on each other).
    pub(crate) fn lock_all(&self) -> Inner<'_> {
        self.view(Shards::all(&self.shards))
    }

    /// [`Self::lock_all`], giving up when a shard stays held for `timeout`.
    #[cfg(test)]
    pub(crate) fn try_lock_all_for(&self, timeout: std::time::Duration) -> Option<Inner<'_>> {
        Shards::try_all_for(&self.shards, timeout).map(|s| self.view(s))
    }

    /// A view holding only the shard of (`namespace`, `workflow_id`): requests for
    /// workflows of other shards run beside it.
    pub(crate) fn lock_workflow(&self, namespace: &str, workflow_id: &str) -> Inner<'_> {
        self.view(Shards::one(&self.shards, namespace, workflow_id))
    }

    fn view<'a>(&'a self, execs: Shards<'a>) -> Inner<'a> {
        Inner {
            execs,
            s: &self.shared,
            store: None,
            dirty: HashSet::new(),
            dirty_ns: vec![],
            deleted: vec![],
            limit_error: None,
            globals: None,
        }
    }

    /// Runs `f` on a view holding every shard (what touches several workflows, or the
    /// engine as a whole), queues its changes for the writer, and answers once they are
    /// durable.
    pub(crate) async fn with<T>(&self, f: impl FnOnce(&mut Inner) -> RpcResult<T>) -> RpcResult<T> {
        let applied = self.apply(self.lock_all(), f);
        self.answer(applied).await
    }

    /// [`Self::with`] holding only the shard of one workflow: for requests that touch that
    /// workflow's runs alone.
    pub(crate) async fn with_workflow<T>(
        &self,
        namespace: &str,
        workflow_id: &str,
        f: impl FnOnce(&mut Inner) -> RpcResult<T>,
    ) -> RpcResult<T> {
        let applied = self.apply(self.lock_workflow(namespace, workflow_id), f);
        self.answer(applied).await
    }

    /// [`Self::with_workflow`] when `local` says, looking at that workflow's shard, that the
    /// request stays within it; otherwise [`Self::with`] (the shard is let go first, and
    /// `f` sees the state as it is once every shard is held).
    pub(crate) async fn with_workflow_if<T>(
        &self,
        namespace: &str,
        workflow_id: &str,
        local: impl FnOnce(&Inner) -> bool,
        f: impl FnOnce(&mut Inner) -> RpcResult<T>,
    ) -> RpcResult<T> {
        let applied = self.apply(self.lock_if(namespace, workflow_id, local), f);
        self.answer(applied).await
    }

    /// The shard of (`namespace`, `workflow_id`) when `local` says, looking at it, that the
    /// request stays within it; otherwise (the shard let go first) every shard.
    fn lock_if(
        &self,
        namespace: &str,
        workflow_id: &str,
        local: impl FnOnce(&Inner) -> bool,
    ) -> Inner<'_> {
        let g = self.lock_workflow(namespace, workflow_id);
        if local(&g) {
            return g;
        }
        drop(g);
        self.lock_all()
    }

    /// [`Self::lock_if`] the workflow stays within its shard (see
    /// [`Inner::workflow_is_local`]).
    pub(crate) fn lock_local(&self, namespace: &str, workflow_id: &str) -> Inner<'_> {
        self.lock_if(namespace, workflow_id, |g| {
            g.workflow_is_local(namespace, workflow_id)
        })
    }

    /// Runs `f` on the view and commits its changes; the shards are let go on return.
    pub(crate) fn apply<T>(
        &self,
        mut g: Inner<'_>,
        f: impl FnOnce(&mut Inner) -> RpcResult<T>,
    ) -> RpcResult<Applied<T>> {
        let r = f(&mut g);
        let seq = g.commit()?;
        let limit_error = g.limit_error.take();
        drop(g);
        self.evict_closed();
        Ok(Applied {
            result: r,
            seq,
            limit_error,
        })
    }

    /// The answer of an applied request, once its changes are durable.
    async fn answer<T>(&self, applied: RpcResult<Applied<T>>) -> RpcResult<T> {
        let applied = applied?;
        self.wait_durable(applied.seq).await?;
        match applied.limit_error {
            Some(e) => Err(e),
            None => applied.result,
        }
    }

    /// Sets how long closed runs of `namespace` are kept (runs closing from now on).
    pub fn set_retention(&self, namespace: &str, retention: std::time::Duration) {
        let ms = i64::try_from(retention.as_millis()).unwrap_or(i64::MAX);
        let mut g = self.lock_all();
        if let Ok(rec) = g.namespace(namespace)
            && rec.retention_ms() != ms
        {
            let mut rec = (*rec).clone();
            rec.retention = Some(ms);
            rec.retention_days = ms / 86_400_000;
            tracing::info!(namespace, retention_ms = ms, "namespace retention set");
            g.put_namespace(rec);
            if let Err(e) = g.commit() {
                tracing::error!(error = %e.message(), "persisting the namespace retention failed");
            }
        }
    }

    /// Sets how many closed runs stay in memory on a durable server (older ones are read
    /// back from the database when asked for).
    pub fn set_closed_cache_capacity(&self, capacity: usize) {
        tracing::info!(capacity, "closed-run cache capacity set");
        self.shared
            .closed_cache_capacity
            .store(capacity, Ordering::Relaxed);
    }

    /// How many runs (open and cached closed ones) are in memory now.
    pub fn executions_in_memory(&self) -> usize {
        self.shards.iter().map(|s| s.lock().execs.len()).sum()
    }

    /// How many history events workflow task poll responses carried since start (a
    /// sticky worker gets only the new ones; a normal poll the whole history).
    pub fn workflow_task_events_delivered(&self) -> u64 {
        self.shared.events_delivered.load(Ordering::Relaxed)
    }

    /// Sets the per-execution history limits enforced from the next commit on.
    pub fn set_history_limits(&self, limits: crate::history::limits::HistoryLimits) {
        tracing::info!(?limits, "history limits set");
        *self.shared.history_limits.lock() = limits;
    }

    /// Records the address the server listens on (ListTaskQueuePartitions names it as the
    /// owner of every partition).
    pub fn set_host_address(&self, addr: std::net::SocketAddr) {
        *self.shared.host_address.lock() = addr.to_string();
    }

    pub(crate) async fn wait_durable(&self, seq: u64) -> RpcResult<()> {
        let mut rx = self.durable.subscribe();
        let d = rx
            .wait_for(|d| d.done >= seq || d.failed.is_some())
            .await
            .map_err(|_| Status::unavailable("dev server persistence stopped"))?;
        match &d.failed {
            Some(e) => Err(Status::unavailable(format!("persistence failed: {e}"))),
            None => Ok(()),
        }
    }
}

impl Inner<'_> {
    /// Now, in milliseconds since the Unix epoch, on the server's clock.
    pub(crate) fn now_ms(&self) -> i64 {
        self.s.time.now_ms()
    }

    /// The sequence number of the last batch queued to the writer: a read waits for it to be
    /// durable, so it never shows what a crash could still take back.
    pub(crate) fn queued_seq(&self) -> u64 {
        self.s.writer.lock().seq
    }

    /// The schedules and batch jobs, taken (after the shards this view holds) the first
    /// time this request touches them and held until it ends.
    pub(crate) fn globals(&mut self) -> &mut Globals {
        self.globals.get_or_insert_with(|| self.s.globals.lock())
    }

    /// The pending changes as one batch (each changed run's state and its unwritten events).
    pub(crate) fn take_batch(&mut self) -> Batch {
        let (schedules, batch_jobs) = match self.globals.is_some() {
            true => (self.take_schedule_writes(), self.take_batch_job_writes()),
            false => (vec![], vec![]),
        };
        let mut batch = Batch {
            namespaces: std::mem::take(&mut self.dirty_ns),
            executions: vec![],
            deletions: std::mem::take(&mut self.deleted),
            schedules,
            batch_jobs,
        };
        for k in std::mem::take(&mut self.dirty) {
            if let Some(ex) = self.execs.get_mut(&k) {
                batch
                    .executions
                    .push((ex.st.clone(), ex.events[ex.persisted..].to_vec()));
                ex.persisted = ex.events.len();
            }
        }
        batch
    }

    fn globals_dirty(&self) -> bool {
        self.globals
            .as_ref()
            .is_some_and(|g| !g.dirty_schedules.is_empty() || !g.dirty_batch_jobs.is_empty())
    }

    /// Queues this request's changes for the writer; returns the sequence number to wait
    /// for (the last queued one when nothing changed, so reads never outrun durability).
    pub(crate) fn commit(&mut self) -> RpcResult<u64> {
        if let Some(e) = self.enforce_history_limits() {
            self.limit_error = Some(e);
        }
        if self.dirty.is_empty()
            && self.dirty_ns.is_empty()
            && self.deleted.is_empty()
            && !self.globals_dirty()
        {
            return Ok(self.s.writer.lock().seq);
        }
        if self.s.time.is_skipping() {
            // A change may have ended the last outstanding work: let the timer loop decide
            // at once whether the clock can jump.
            self.s.timer_notify.notify_one();
        }
        if !self.s.persistent {
            // In memory: the changes are already all the state there is.
            self.dirty.clear();
            self.dirty_ns.clear();
            self.deleted.clear();
            if let Some(g) = self.globals.as_mut() {
                g.dirty_schedules.clear();
                g.dirty_batch_jobs.clear();
            }
            return Ok(self.s.writer.lock().seq);
        }
        let keys: Vec<ExecKey> = self.dirty.iter().cloned().collect();
        let batch = self.take_batch();
        let seq = {
            let mut w = self.s.writer.lock();
            let seq = w.seq + 1;
            w.sender
                .as_ref()
                .ok_or_else(|| Status::unavailable("dev server persistence stopped"))?
                .send((seq, batch))
                .map_err(|_| Status::unavailable("dev server persistence stopped"))?;
            w.seq = seq;
            seq
        };
        for k in &keys {
            if let Some(ex) = self.execs.get_mut(k) {
                ex.written_seq = seq;
            }
        }
        Ok(seq)
    }
}

/// Event type name helper for logs and tests.
#[allow(dead_code)]
pub fn event_type_name(e: &HistoryEvent) -> &'static str {
    EventType::try_from(e.event_type)
        .map(|t| t.as_str_name())
        .unwrap_or("EVENT_TYPE_UNSPECIFIED")
}
