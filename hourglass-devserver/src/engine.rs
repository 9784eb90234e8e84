//! The engine: the state every service works on (one history shard holding executions, task
//! queues and timers behind one lock), persisted per RPC through the group-commit writer. Long
//! polls wait on `watch` channels bumped under the same lock, so no wake-up is ever lost.
use crate::prelude::*;

pub(crate) type RpcResult<T> = std::result::Result<T, Status>;

pub(crate) const OPEN: i32 = WorkflowExecutionStatus::Running as i32;

pub(crate) const DEFAULT_WFT_TIMEOUT_MS: i64 = 10_000;

pub(crate) struct Inner {
    pub(crate) store: Option<Store>,
    pub(crate) writer: Option<std::sync::mpsc::Sender<(u64, Batch)>>,
    /// False in memory: changes are never queued for a writer.
    pub(crate) persistent: bool,
    pub(crate) seq: u64,
    pub(crate) namespaces: BTreeMap<String, NamespaceRec>,
    pub(crate) execs: HashMap<ExecKey, Exec>,
    pub(crate) current: HashMap<(String, String), String>,
    pub(crate) queues: HashMap<QueueKey, Queue>,
    pub(crate) timers: BTreeMap<(i64, u64), TimerTask>,
    pub(crate) timer_seq: u64,
    pub(crate) timer_notify: Arc<Notify>,
    pub(crate) queries: HashMap<String, PendingQuery>,
    pub(crate) dirty: HashSet<ExecKey>,
    pub(crate) dirty_ns: Vec<(String, String)>,
    /// Runs deleted by retention, to be deleted from the store by the next commit.
    pub(crate) deleted: Vec<ExecKey>,
    /// A read-only connection closed runs are read through when not in memory.
    pub(crate) reader: Option<Store>,
    /// Closed runs in memory, oldest first (see `history::cache`).
    pub(crate) closed_cache: VecDeque<ExecKey>,
    /// How many closed runs stay in memory (see `history::cache`).
    pub(crate) closed_cache_capacity: usize,
    /// Progress of the writer thread (evictions wait for it).
    pub(crate) durable: Arc<watch::Sender<Durable>>,
    pub(crate) history_limits: crate::history::limits::HistoryLimits,
    /// The history-limit error of the last commit, for the request that caused it.
    pub(crate) limit_error: Option<Status>,
    /// Every schedule by (namespace, schedule id).
    pub(crate) schedules: BTreeMap<ScheduleKey, ScheduleRec>,
    /// Schedules changed (or deleted) since the last commit.
    pub(crate) dirty_schedules: HashSet<ScheduleKey>,
    /// The address the frontend listens on: the owner of every task-queue partition.
    pub(crate) host_address: String,
    /// The clock every event time, deadline and timer is read from (virtual when the
    /// server skips time).
    pub(crate) time: Arc<TimeSource>,
    /// Up to how long after its retention a closed run is deleted (see `history::retention`).
    pub(crate) retention_jitter_ms: i64,
    /// Every batch job by (namespace, job id) (see `batcher`).
    pub(crate) batch_jobs: BTreeMap<BatchJobKey, BatchJobRec>,
    /// Wakes a running job's task when StopBatchOperation stops it.
    pub(crate) batch_stops: HashMap<BatchJobKey, Arc<Notify>>,
    /// Batch jobs changed since the last commit.
    pub(crate) dirty_batch_jobs: HashSet<BatchJobKey>,
    /// The batcher's limits (Temporal's dynamic config `worker.batcher*`).
    pub(crate) batcher: BatcherSettings,
}

/// The dev server's engine. Cheap to share behind an `Arc`.
pub struct Engine {
    pub(crate) inner: Mutex<Inner>,
    pub(crate) timer_notify: Arc<Notify>,
    pub(crate) closing: watch::Sender<bool>,
    pub(crate) durable: Arc<watch::Sender<Durable>>,
    pub(crate) shut_down_workers: ShutDownWorkers,
    /// The server's clock (the same one `Inner` reads).
    pub(crate) time: Arc<TimeSource>,
    /// A read-only connection lists and counts read closed runs through, outside the
    /// history lock (None in memory, where every run is in `Inner`).
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
        let clock = time.clone();
        // In memory nothing is written anywhere: the state in `Inner` is all there is.
        let store = match db {
            Database::Path(_) => Some(Store::open(db)?),
            Database::InMemory => None,
        };
        let timer_notify = Arc::new(Notify::new());
        let mut inner = Inner {
            store,
            writer: None,
            persistent: matches!(db, Database::Path(_)),
            seq: 0,
            namespaces: BTreeMap::new(),
            execs: HashMap::new(),
            current: HashMap::new(),
            queues: HashMap::new(),
            timers: BTreeMap::new(),
            timer_seq: 0,
            timer_notify: timer_notify.clone(),
            queries: HashMap::new(),
            dirty: HashSet::new(),
            dirty_ns: vec![],
            deleted: vec![],
            reader: None,
            closed_cache: VecDeque::new(),
            closed_cache_capacity: crate::history::cache::CLOSED_CACHE_CAPACITY,
            durable: Arc::new(watch::Sender::new(Durable::default())),
            history_limits: Default::default(),
            limit_error: None,
            schedules: BTreeMap::new(),
            dirty_schedules: HashSet::new(),
            host_address: String::new(),
            time: time.clone(),
            retention_jitter_ms: i64::try_from(retention_jitter.as_millis()).unwrap_or(i64::MAX),
            batch_jobs: BTreeMap::new(),
            dirty_batch_jobs: HashSet::new(),
            batch_stops: HashMap::new(),
            batcher: BatcherSettings::default(),
        };
        for (name, data) in inner
            .store
            .as_ref()
            .map(|s| s.load_namespaces())
            .transpose()?
            .unwrap_or_default()
        {
            let rec: NamespaceRec =
                serde_json::from_str(&data).map_err(|e| crate::error::DevServerError::Corrupt {
                    what: format!("namespace {name}"),
                    detail: e.to_string(),
                })?;
            inner.namespaces.insert(name, rec);
        }
        if !inner.namespaces.contains_key(default_namespace) {
            inner.put_namespace(NamespaceRec {
                name: default_namespace.to_string(),
                id: new_id(),
                description: "default namespace".into(),
                retention_days: 1,
                retention: None,
                owner_email: String::new(),
                data: BTreeMap::new(),
                search_attributes: BTreeMap::new(),
            });
        }
        let count = inner.recover()?;
        let schedules = inner.load_schedules()?;
        let batch_jobs = inner.load_batch_jobs()?;
        let mut visibility_reader = None;
        if let Database::Path(path) = db {
            inner.reader = Some(Store::open_reader(path)?);
            visibility_reader = Some(Arc::new(Mutex::new(Store::open_reader(path)?)));
        }
        let initial = inner.take_batch();
        let durable = inner.durable.clone();
        if let Some(mut store) = inner.store.take() {
            store.write_batches(std::slice::from_ref(&initial))?;
            let (tx, rx) = std::sync::mpsc::channel();
            inner.writer = Some(tx);
            let d2 = durable.clone();
            std::thread::Builder::new()
                .name("devserver-writer".into())
                .spawn(move || writer_loop(store, rx, d2))
                .map_err(|e| crate::error::DevServerError::Corrupt {
                    what: "writer thread".into(),
                    detail: e.to_string(),
                })?;
        }
        tracing::info!(
            executions = count,
            schedules,
            batch_jobs,
            "dev server state loaded"
        );
        Ok(Arc::new(Self {
            inner: Mutex::new(inner),
            timer_notify,
            closing: watch::Sender::new(false),
            durable,
            shut_down_workers: ShutDownWorkers::new(),
            time: clock,
            visibility_reader,
        }))
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

    /// Runs `f` on the state, queues its changes for the writer, and answers once they are
    /// durable.
    pub(crate) async fn with<T>(&self, f: impl FnOnce(&mut Inner) -> RpcResult<T>) -> RpcResult<T> {
        let (r, seq, limit_error) = {
            let mut g = self.inner.lock();
            let r = f(&mut g);
            let seq = g.commit()?;
            (r, seq, g.limit_error.take())
        };
        self.wait_durable(seq).await?;
        match limit_error {
            Some(e) => Err(e),
            None => r,
        }
    }

    /// Sets how long closed runs of `namespace` are kept (runs closing from now on).
    pub fn set_retention(&self, namespace: &str, retention: std::time::Duration) {
        let ms = i64::try_from(retention.as_millis()).unwrap_or(i64::MAX);
        let mut g = self.inner.lock();
        if let Some(mut rec) = g.namespaces.get(namespace).cloned()
            && rec.retention_ms() != ms
        {
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
        self.inner.lock().closed_cache_capacity = capacity;
    }

    /// How many runs (open and cached closed ones) are in memory now.
    pub fn executions_in_memory(&self) -> usize {
        self.inner.lock().execs.len()
    }

    /// Sets the per-execution history limits enforced from the next commit on.
    pub fn set_history_limits(&self, limits: crate::history::limits::HistoryLimits) {
        tracing::info!(?limits, "history limits set");
        self.inner.lock().history_limits = limits;
    }

    /// Records the address the server listens on (ListTaskQueuePartitions names it as the
    /// owner of every partition).
    pub fn set_host_address(&self, addr: std::net::SocketAddr) {
        self.inner.lock().host_address = addr.to_string();
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

impl Inner {
    /// Now, in milliseconds since the Unix epoch, on the server's clock.
    pub(crate) fn now_ms(&self) -> i64 {
        self.time.now_ms()
    }

    /// The pending changes as one batch; marks them persisted.
    pub(crate) fn take_batch(&mut self) -> Batch {
        let mut batch = Batch {
            namespaces: std::mem::take(&mut self.dirty_ns),
            executions: vec![],
            deletions: std::mem::take(&mut self.deleted),
            schedules: self.take_schedule_writes(),
            batch_jobs: self.take_batch_job_writes(),
        };
        let seq = self.seq + 1;
        for k in self.dirty.drain() {
            if let Some(ex) = self.execs.get_mut(&k) {
                batch
                    .executions
                    .push((ex.st.clone(), ex.events[ex.persisted..].to_vec()));
                ex.persisted = ex.events.len();
                ex.written_seq = seq;
            }
        }
        batch
    }

    /// Queues the pending changes for the writer; returns the sequence number to wait for
    /// (the last queued one when nothing changed, so reads never outrun durability).
    pub(crate) fn commit(&mut self) -> RpcResult<u64> {
        if let Some(e) = self.enforce_history_limits() {
            self.limit_error = Some(e);
        }
        if self.dirty.is_empty()
            && self.dirty_ns.is_empty()
            && self.deleted.is_empty()
            && self.dirty_schedules.is_empty()
            && self.dirty_batch_jobs.is_empty()
        {
            return Ok(self.seq);
        }
        if self.time.is_skipping() {
            // A change may have ended the last outstanding work: let the timer loop decide
            // at once whether the clock can jump.
            self.timer_notify.notify_one();
        }
        if !self.persistent {
            // In memory: the changes are already all the state there is.
            self.dirty.clear();
            self.dirty_ns.clear();
            self.deleted.clear();
            self.dirty_schedules.clear();
            self.dirty_batch_jobs.clear();
            return Ok(self.seq);
        }
        let batch = self.take_batch();
        self.seq += 1;
        let writer = self
            .writer
            .as_ref()
            .ok_or_else(|| Status::unavailable("dev server persistence stopped"))?;
        writer
            .send((self.seq, batch))
            .map_err(|_| Status::unavailable("dev server persistence stopped"))?;
        self.evict_closed();
        Ok(self.seq)
    }
}

/// Event type name helper for logs and tests.
#[allow(dead_code)]
pub fn event_type_name(e: &HistoryEvent) -> &'static str {
    EventType::try_from(e.event_type)
        .map(|t| t.as_str_name())
        .unwrap_or("EVENT_TYPE_UNSPECIFIED")
}
