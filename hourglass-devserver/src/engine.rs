//! The server's state machine: executions, task queues (matching) and durable timers, all
//! behind one mutex, persisted per RPC in one SQLite transaction. Long polls wait on
//! `watch` channels that are bumped under the same lock, so no wake-up is ever lost.
#![allow(deprecated)] // Real Temporal still fills the deprecated fields; SDKs read some of them.
use crate::error::Result as DsResult;
use crate::history::{dur, dur_ms, event, now_ms, task_queue, ts};
use crate::mutable_state::{
    Activity, BufferedEvent, Child, ExecKey, Execution, Parent, Timer, Update, WorkflowTask,
};
use crate::poller_scaling::PollerScaling;
use crate::status;
use crate::store::{Batch, Database, Store};
use crate::token::TaskToken;
use crate::worker_shutdown::ShutDownWorkers;
use parking_lot::Mutex;
use prost::Message;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::Arc;
use temporalio_protos::temporal::api::{
    command::v1::{Command, command::Attributes as C},
    common::v1::{
        ActivityType, Header, Memo, Payloads, RetryPolicy, SearchAttributes, WorkflowExecution,
        WorkflowType,
    },
    enums::v1::{
        ContinueAsNewInitiator, EventType, HistoryEventFilterType, ParentClosePolicy,
        PendingActivityState, QueryResultType, RetryState,
        SignalExternalWorkflowExecutionFailedCause, StartChildWorkflowExecutionFailedCause,
        TaskQueueKind, TimeoutType, UpdateWorkflowExecutionLifecycleStage, WorkflowExecutionStatus,
        WorkflowIdConflictPolicy, WorkflowIdReusePolicy, WorkflowTaskFailedCause,
    },
    failure::v1::{ApplicationFailureInfo, Failure, TimeoutFailureInfo, failure::FailureInfo},
    history::v1::{self as h, History, HistoryEvent, history_event::Attributes as A},
    protocol::v1::{Message as ProtocolMessage, message::SequencingId},
    query::v1::{WorkflowQuery, WorkflowQueryResult},
    update::v1::{self as upd, Outcome, outcome},
    workflow::v1::{
        PendingActivityInfo, PendingChildExecutionInfo, PendingWorkflowTaskInfo,
        WorkflowExecutionConfig, WorkflowExecutionInfo,
    },
    workflowservice::v1 as ws,
};
use tokio::sync::{Notify, oneshot, watch};
use tokio::time::Instant;
use tonic::Status;

type RpcResult<T> = std::result::Result<T, Status>;

const OPEN: i32 = WorkflowExecutionStatus::Running as i32;
const DEFAULT_WFT_TIMEOUT_MS: i64 = 10_000;
const MAX_POLL: std::time::Duration = std::time::Duration::from_secs(60);

/// A namespace record.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NamespaceRec {
    /// Name.
    pub name: String,
    /// Stable id.
    pub id: String,
    /// Description.
    pub description: String,
    /// Retention in days.
    pub retention_days: i64,
}

/// One run in memory: mutable state, history and waiters.
struct Exec {
    st: Execution,
    events: Vec<HistoryEvent>,
    persisted: usize,
    watch: watch::Sender<u64>,
    /// Queries waiting for the next workflow task.
    pending_queries: Vec<String>,
    /// Queries attached to the started workflow task.
    attached_queries: Vec<String>,
}

impl Exec {
    fn new(st: Execution, events: Vec<HistoryEvent>) -> Self {
        let persisted = events.len();
        Self {
            st,
            events,
            persisted,
            watch: watch::Sender::new(0),
            pending_queries: vec![],
            attached_queries: vec![],
        }
    }

    fn bump(&self) {
        self.watch.send_modify(|v| *v += 1);
    }

    fn add(&mut self, attrs: A) -> i64 {
        let id = self.st.next_event_id;
        self.st.next_event_id += 1;
        let ev = event(id, now_ms(), attrs);
        self.st.history_size_bytes += ev.encoded_len() as i64;
        self.events.push(ev);
        self.bump();
        id
    }

    /// Adds the event now, or buffers it while a workflow task is running.
    fn add_or_buffer(&mut self, attrs: A) {
        if self.st.wft_started() {
            let ev = event(0, now_ms(), attrs);
            self.st.buffered.push(BufferedEvent {
                bytes: ev.encode_to_vec(),
                link_prev: false,
            });
        } else {
            self.add(attrs);
        }
    }

    /// An activity's final pair: ActivityTaskStarted (if it started) then the result event
    /// whose `started_event_id` links to it.
    fn add_activity_result(&mut self, started: Option<A>, result: A) {
        if self.st.wft_started() {
            let has_started = started.is_some();
            if let Some(s) = started {
                let ev = event(0, now_ms(), s);
                self.st.buffered.push(BufferedEvent {
                    bytes: ev.encode_to_vec(),
                    link_prev: false,
                });
            }
            let ev = event(0, now_ms(), result);
            self.st.buffered.push(BufferedEvent {
                bytes: ev.encode_to_vec(),
                link_prev: has_started,
            });
        } else {
            let sid = started.map(|s| self.add(s)).unwrap_or(0);
            let mut result = result;
            set_started_id(&mut result, sid);
            self.add(result);
        }
    }

    /// Moves buffered events into history; true if there were any.
    fn flush(&mut self) -> bool {
        let buf = std::mem::take(&mut self.st.buffered);
        let any = !buf.is_empty();
        for b in buf {
            let Ok(ev) = HistoryEvent::decode(b.bytes.as_slice()) else {
                continue;
            };
            let Some(mut attrs) = ev.attributes else {
                continue;
            };
            if b.link_prev {
                set_started_id(&mut attrs, self.st.next_event_id - 1);
            }
            self.add(attrs);
        }
        any
    }
}

fn set_started_id(a: &mut A, id: i64) {
    match a {
        A::ActivityTaskCompletedEventAttributes(x) => x.started_event_id = id,
        A::ActivityTaskFailedEventAttributes(x) => x.started_event_id = id,
        A::ActivityTaskTimedOutEventAttributes(x) => x.started_event_id = id,
        A::ActivityTaskCanceledEventAttributes(x) => x.started_event_id = id,
        _ => {}
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct QueueKey {
    namespace: String,
    name: String,
    activity: bool,
}

#[derive(Debug, Clone)]
enum Task {
    Wft {
        key: ExecKey,
        scheduled_event_id: i64,
    },
    Query {
        id: String,
    },
    Activity {
        key: ExecKey,
        scheduled_event_id: i64,
        attempt: i32,
    },
}

struct Queue {
    /// Tasks with the time each was queued (for backlog age).
    tasks: VecDeque<(Task, Instant)>,
    watch: watch::Sender<u64>,
    scaling: PollerScaling,
}

#[derive(Debug, Clone)]
enum TimerTask {
    User {
        key: ExecKey,
        timer_id: String,
        started_event_id: i64,
    },
    WftTimeout {
        key: ExecKey,
        scheduled_event_id: i64,
    },
    WftRetry {
        key: ExecKey,
    },
    Activity {
        key: ExecKey,
        scheduled_event_id: i64,
        attempt: i32,
        kind: ActTimer,
    },
    RunTimeout {
        key: ExecKey,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ActTimer {
    ScheduleToStart,
    StartToClose,
    Heartbeat,
    ScheduleToClose,
    Retry,
}

struct PendingQuery {
    key: ExecKey,
    query: WorkflowQuery,
    tx: Option<oneshot::Sender<WorkflowQueryResult>>,
}

/// How a run closed.
enum Close {
    Completed(Option<Payloads>),
    Failed(Box<Option<Failure>>),
    Canceled(Option<Payloads>),
    Terminated,
    TimedOut,
    ContinuedAsNew,
}

/// Everything needed to create a run.
#[derive(Default)]
struct NewRun {
    namespace: String,
    workflow_id: String,
    run_id: String,
    first_run_id: String,
    workflow_type: String,
    task_queue: String,
    input: Option<Payloads>,
    execution_timeout_ms: i64,
    run_timeout_ms: i64,
    wft_timeout_ms: i64,
    identity: String,
    request_id: String,
    retry_policy: Option<RetryPolicy>,
    memo: Option<Memo>,
    search_attributes: Option<SearchAttributes>,
    header: Option<Header>,
    parent: Option<Parent>,
    continued_execution_run_id: String,
    initiator: i32,
    last_completion_result: Option<Payloads>,
    continued_failure: Option<Failure>,
    execution_deadline_ms: Option<i64>,
    start_delay_ms: i64,
    signal: Option<(String, Option<Payloads>, Option<Header>)>,
}

struct Inner {
    store: Option<Store>,
    writer: Option<std::sync::mpsc::Sender<(u64, Batch)>>,
    /// False in memory: changes are never queued for a writer.
    persistent: bool,
    seq: u64,
    namespaces: BTreeMap<String, NamespaceRec>,
    execs: HashMap<ExecKey, Exec>,
    current: HashMap<(String, String), String>,
    queues: HashMap<QueueKey, Queue>,
    timers: BTreeMap<(i64, u64), TimerTask>,
    timer_seq: u64,
    timer_notify: Arc<Notify>,
    queries: HashMap<String, PendingQuery>,
    dirty: HashSet<ExecKey>,
    dirty_ns: Vec<(String, String)>,
}

/// The dev server's engine. Cheap to share behind an `Arc`.
pub struct Engine {
    inner: Mutex<Inner>,
    timer_notify: Arc<Notify>,
    closing: watch::Sender<bool>,
    durable: Arc<watch::Sender<Durable>>,
    shut_down_workers: ShutDownWorkers,
}

/// Progress of the writer thread: every batch up to `done` is committed; `failed` is set
/// (for good) when a write failed, after which the server stops acknowledging changes.
#[derive(Debug, Clone, Default)]
struct Durable {
    done: u64,
    failed: Option<String>,
}

/// Group commit: writes every queued batch in one transaction, then publishes progress.
/// RPCs answer only once their batch is durable, so a SIGKILL loses nothing acknowledged.
fn writer_loop(
    mut store: Store,
    rx: std::sync::mpsc::Receiver<(u64, Batch)>,
    durable: Arc<watch::Sender<Durable>>,
) {
    while let Ok((mut seq, first)) = rx.recv() {
        let mut batches = vec![first];
        while batches.len() < 1024 {
            match rx.try_recv() {
                Ok((s, b)) => {
                    seq = s;
                    batches.push(b);
                }
                Err(_) => break,
            }
        }
        let res = store.write_batches(&batches);
        durable.send_modify(|d| {
            d.done = seq;
            if let Err(e) = &res {
                tracing::error!(error = %e, "persisting state failed; no further changes are acknowledged");
                d.failed.get_or_insert_with(|| e.to_string());
            }
        });
    }
}

fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

fn exec_of(key: &ExecKey) -> WorkflowExecution {
    WorkflowExecution {
        workflow_id: key.workflow_id.clone(),
        run_id: key.run_id.clone(),
    }
}

/// When a long poll answers "nothing yet": a little before the client's deadline (so the
/// empty answer arrives in time), and never later than [`MAX_POLL`].
fn poll_deadline(timeout: Option<std::time::Duration>) -> Instant {
    let d = timeout
        .map(|t| {
            let margin = (t / 10).min(std::time::Duration::from_secs(1));
            t.saturating_sub(margin)
        })
        .unwrap_or(MAX_POLL)
        .min(MAX_POLL);
    Instant::now() + d
}

fn sticky_or_normal(
    tq: &Option<temporalio_protos::temporal::api::taskqueue::v1::TaskQueue>,
) -> String {
    match tq {
        // Sticky queues are served from the normal queue with full history.
        Some(t) if t.kind == TaskQueueKind::Sticky as i32 && !t.normal_name.is_empty() => {
            t.normal_name.clone()
        }
        Some(t) => t.name.clone(),
        None => String::new(),
    }
}

impl Engine {
    /// Opens the store, loads all state, and rebuilds queues and timers.
    pub fn open(db: &Database, default_namespace: &str) -> DsResult<Arc<Self>> {
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
            });
        }
        let loaded = inner
            .store
            .as_ref()
            .map(|s| s.load_executions())
            .transpose()?
            .unwrap_or_default();
        let count = loaded.len();
        let mut latest: HashMap<(String, String), (bool, i64, String)> = HashMap::new();
        for se in loaded {
            let key = se.state.key();
            let cand = (se.state.is_open(), se.state.start_ms, key.run_id.clone());
            let e = latest
                .entry((key.namespace.clone(), key.workflow_id.clone()))
                .or_insert(cand.clone());
            if (cand.0, cand.1) > (e.0, e.1) {
                *e = cand;
            }
            inner.execs.insert(key, Exec::new(se.state, se.events));
        }
        for (k, (_, _, run)) in latest {
            inner.current.insert(k, run);
        }
        let keys: Vec<ExecKey> = inner.execs.keys().cloned().collect();
        for k in keys {
            inner.rearm(&k);
        }
        let initial = inner.take_batch();
        let durable = Arc::new(watch::Sender::new(Durable::default()));
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
        tracing::info!(executions = count, "dev server state loaded");
        Ok(Arc::new(Self {
            inner: Mutex::new(inner),
            timer_notify,
            closing: watch::Sender::new(false),
            durable,
            shut_down_workers: ShutDownWorkers::new(),
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

    /// Runs durable timers until `stop` is notified.
    pub async fn run_timers(self: Arc<Self>, stop: Arc<Notify>) {
        loop {
            let next = {
                let mut g = self.inner.lock();
                let now = now_ms();
                let mut fired = false;
                while let Some((&(at, seq), _)) = g.timers.first_key_value() {
                    if at > now {
                        break;
                    }
                    if let Some(t) = g.timers.remove(&(at, seq)) {
                        g.fire(t);
                        fired = true;
                    }
                }
                if fired && let Err(e) = g.commit() {
                    tracing::error!(error = %e.message(), "persisting timer effects failed");
                }
                g.timers.first_key_value().map(|(&(at, _), _)| at)
            };
            let wait = next
                .map(|at| (at - now_ms()).clamp(1, 1000))
                .unwrap_or(1000);
            tokio::select! {
                _ = stop.notified() => return,
                _ = self.timer_notify.notified() => {}
                _ = tokio::time::sleep(std::time::Duration::from_millis(wait as u64)) => {}
            }
        }
    }

    /// Runs `f` on the state, queues its changes for the writer, and answers once they are
    /// durable.
    async fn with<T>(&self, f: impl FnOnce(&mut Inner) -> RpcResult<T>) -> RpcResult<T> {
        let (r, seq) = {
            let mut g = self.inner.lock();
            let r = f(&mut g);
            (r, g.commit()?)
        };
        self.wait_durable(seq).await?;
        r
    }

    async fn wait_durable(&self, seq: u64) -> RpcResult<()> {
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

    // ---------------- namespaces ----------------

    /// DescribeNamespace.
    pub async fn describe_namespace(
        &self,
        req: ws::DescribeNamespaceRequest,
    ) -> RpcResult<ws::DescribeNamespaceResponse> {
        self.with(|g| {
            let rec = if !req.id.is_empty() {
                g.namespaces.values().find(|n| n.id == req.id).cloned()
            } else {
                g.namespaces.get(&req.namespace).cloned()
            };
            let rec = rec.ok_or_else(|| status::namespace_not_found(&req.namespace))?;
            Ok(ns_response(&rec))
        })
        .await
    }

    /// ListNamespaces.
    pub async fn list_namespaces(&self) -> RpcResult<ws::ListNamespacesResponse> {
        self.with(|g| {
            Ok(ws::ListNamespacesResponse {
                namespaces: g.namespaces.values().map(ns_response).collect(),
                next_page_token: vec![],
            })
        })
        .await
    }

    /// RegisterNamespace.
    pub async fn register_namespace(&self, req: ws::RegisterNamespaceRequest) -> RpcResult<()> {
        if req.namespace.is_empty() {
            return Err(status::invalid("namespace name is required"));
        }
        self.with(|g| {
            if g.namespaces.contains_key(&req.namespace) {
                return Err(Status::already_exists(format!(
                    "Namespace {} already exists.",
                    req.namespace
                )));
            }
            let days = req
                .workflow_execution_retention_period
                .as_ref()
                .map(|d| d.seconds / 86400)
                .unwrap_or(1);
            g.put_namespace(NamespaceRec {
                name: req.namespace.clone(),
                id: new_id(),
                description: req.description.clone(),
                retention_days: days,
            });
            tracing::info!(namespace = %req.namespace, "namespace registered");
            Ok(())
        })
        .await
    }

    // ---------------- workflow lifecycle ----------------

    /// StartWorkflowExecution.
    pub async fn start_workflow(
        &self,
        req: ws::StartWorkflowExecutionRequest,
    ) -> RpcResult<ws::StartWorkflowExecutionResponse> {
        self.with(|g| {
            let (run_id, started) = g.start(StartArgs {
                namespace: req.namespace,
                workflow_id: req.workflow_id,
                workflow_type: req.workflow_type.map(|t| t.name).unwrap_or_default(),
                task_queue: req.task_queue.map(|t| t.name).unwrap_or_default(),
                input: req.input,
                execution_timeout_ms: dur_ms(&req.workflow_execution_timeout),
                run_timeout_ms: dur_ms(&req.workflow_run_timeout),
                wft_timeout_ms: dur_ms(&req.workflow_task_timeout),
                identity: req.identity,
                request_id: req.request_id,
                reuse_policy: req.workflow_id_reuse_policy,
                conflict_policy: req.workflow_id_conflict_policy,
                retry_policy: req.retry_policy,
                memo: req.memo,
                search_attributes: req.search_attributes,
                header: req.header,
                start_delay_ms: dur_ms(&req.workflow_start_delay),
                signal: None,
            })?;
            Ok(ws::StartWorkflowExecutionResponse {
                run_id,
                started,
                status: OPEN,
                ..Default::default()
            })
        })
        .await
    }

    /// SignalWithStartWorkflowExecution.
    pub async fn signal_with_start(
        &self,
        req: ws::SignalWithStartWorkflowExecutionRequest,
    ) -> RpcResult<ws::SignalWithStartWorkflowExecutionResponse> {
        self.with(|g| {
            g.namespace(&req.namespace)?;
            if req.signal_name.is_empty() {
                return Err(status::invalid("signal name is required"));
            }
            if let Some(run) = g
                .current
                .get(&(req.namespace.clone(), req.workflow_id.clone()))
                .cloned()
            {
                let key = ExecKey {
                    namespace: req.namespace.clone(),
                    workflow_id: req.workflow_id.clone(),
                    run_id: run,
                };
                if g.execs.get(&key).is_some_and(|e| e.st.is_open()) {
                    g.signal(
                        &key,
                        &req.signal_name,
                        req.signal_input,
                        req.header,
                        &req.identity,
                    );
                    return Ok(ws::SignalWithStartWorkflowExecutionResponse {
                        run_id: key.run_id,
                        started: false,
                        ..Default::default()
                    });
                }
            }
            let (run_id, started) = g.start(StartArgs {
                namespace: req.namespace,
                workflow_id: req.workflow_id,
                workflow_type: req.workflow_type.map(|t| t.name).unwrap_or_default(),
                task_queue: req.task_queue.map(|t| t.name).unwrap_or_default(),
                input: req.input,
                execution_timeout_ms: dur_ms(&req.workflow_execution_timeout),
                run_timeout_ms: dur_ms(&req.workflow_run_timeout),
                wft_timeout_ms: dur_ms(&req.workflow_task_timeout),
                identity: req.identity,
                request_id: req.request_id,
                reuse_policy: req.workflow_id_reuse_policy,
                conflict_policy: WorkflowIdConflictPolicy::UseExisting as i32,
                retry_policy: req.retry_policy,
                memo: req.memo,
                search_attributes: req.search_attributes,
                header: req.header.clone(),
                start_delay_ms: dur_ms(&req.workflow_start_delay),
                signal: Some((req.signal_name, req.signal_input, req.header)),
            })?;
            Ok(ws::SignalWithStartWorkflowExecutionResponse {
                run_id,
                started,
                ..Default::default()
            })
        })
        .await
    }

    /// SignalWorkflowExecution.
    pub async fn signal_workflow(&self, req: ws::SignalWorkflowExecutionRequest) -> RpcResult<()> {
        self.with(|g| {
            let key = g.resolve_open(&req.namespace, &req.workflow_execution)?;
            if req.signal_name.is_empty() {
                return Err(status::invalid("signal name is required"));
            }
            g.signal(&key, &req.signal_name, req.input, req.header, &req.identity);
            Ok(())
        })
        .await
    }

    /// RequestCancelWorkflowExecution.
    pub async fn request_cancel(
        &self,
        req: ws::RequestCancelWorkflowExecutionRequest,
    ) -> RpcResult<()> {
        self.with(|g| {
            let key = g.resolve_open(&req.namespace, &req.workflow_execution)?;
            g.request_cancel(&key, &req.identity, &req.reason, 0, None);
            Ok(())
        })
        .await
    }

    /// TerminateWorkflowExecution.
    pub async fn terminate(&self, req: ws::TerminateWorkflowExecutionRequest) -> RpcResult<()> {
        self.with(|g| {
            let key = g.resolve_open(&req.namespace, &req.workflow_execution)?;
            g.terminate(&key, &req.reason, req.details, &req.identity);
            Ok(())
        })
        .await
    }

    /// DescribeWorkflowExecution.
    pub async fn describe(
        &self,
        req: ws::DescribeWorkflowExecutionRequest,
    ) -> RpcResult<ws::DescribeWorkflowExecutionResponse> {
        self.with(|g| {
            let key = g.resolve(&req.namespace, &req.execution)?;
            let ex = g
                .execs
                .get(&key)
                .ok_or_else(|| status::not_found("workflow execution not found"))?;
            let st = &ex.st;
            let started = started_attrs(ex);
            let pending_activities = st
                .activities
                .values()
                .map(|a| PendingActivityInfo {
                    activity_id: a.activity_id.clone(),
                    activity_type: Some(ActivityType {
                        name: a.activity_type.clone(),
                    }),
                    state: if a.cancel_requested {
                        PendingActivityState::CancelRequested as i32
                    } else if a.started_ms.is_some() {
                        PendingActivityState::Started as i32
                    } else {
                        PendingActivityState::Scheduled as i32
                    },
                    heartbeat_details: a.heartbeat_details.clone(),
                    last_heartbeat_time: a.last_heartbeat_ms.map(ts),
                    last_started_time: a.started_ms.map(ts),
                    attempt: a.attempt,
                    maximum_attempts: a.retry_policy.maximum_attempts,
                    scheduled_time: Some(ts(a.attempt_scheduled_ms)),
                    last_failure: a.last_failure.clone(),
                    last_worker_identity: a.started_identity.clone(),
                    ..Default::default()
                })
                .collect();
            let pending_children = st
                .children
                .iter()
                .map(|(init, c)| PendingChildExecutionInfo {
                    workflow_id: c.workflow_id.clone(),
                    run_id: c.run_id.clone(),
                    workflow_type_name: c.workflow_type.clone(),
                    initiated_id: *init,
                    parent_close_policy: c.parent_close_policy,
                })
                .collect();
            let pending_workflow_task = st.wft.as_ref().map(|w| PendingWorkflowTaskInfo {
                state: if w.started_event_id.is_some() { 2 } else { 1 },
                scheduled_time: Some(ts(w.scheduled_ms)),
                started_time: w.started_event_id.map(|_| ts(w.started_ms)),
                attempt: w.attempt,
                ..Default::default()
            });
            Ok(ws::DescribeWorkflowExecutionResponse {
                execution_config: Some(WorkflowExecutionConfig {
                    task_queue: Some(task_queue(&st.task_queue)),
                    workflow_execution_timeout: started
                        .as_ref()
                        .and_then(|s| s.workflow_execution_timeout),
                    workflow_run_timeout: started.as_ref().and_then(|s| s.workflow_run_timeout),
                    default_workflow_task_timeout: dur(st.wft_timeout_ms),
                    user_metadata: None,
                }),
                workflow_execution_info: Some(exec_info(ex)),
                pending_activities,
                pending_children,
                pending_workflow_task,
                ..Default::default()
            })
        })
        .await
    }

    /// ListWorkflowExecutions (simple `Key = 'value' AND ...` filters).
    pub async fn list(
        &self,
        req: ws::ListWorkflowExecutionsRequest,
    ) -> RpcResult<ws::ListWorkflowExecutionsResponse> {
        let filter = Filter::parse(&req.query)?;
        self.with(|g| {
            g.namespace(&req.namespace)?;
            let mut all: Vec<&Exec> = g
                .execs
                .values()
                .filter(|e| e.st.namespace == req.namespace && filter.matches(e))
                .collect();
            all.sort_by(|a, b| (b.st.start_ms, &b.st.run_id).cmp(&(a.st.start_ms, &a.st.run_id)));
            let offset = page_offset(&req.next_page_token);
            let size = if req.page_size > 0 {
                req.page_size as usize
            } else {
                1000
            };
            let page: Vec<WorkflowExecutionInfo> = all
                .iter()
                .skip(offset)
                .take(size)
                .map(|e| exec_info(e))
                .collect();
            let next = if offset + page.len() < all.len() {
                ((offset + page.len()) as u64).to_be_bytes().to_vec()
            } else {
                vec![]
            };
            Ok(ws::ListWorkflowExecutionsResponse {
                executions: page,
                next_page_token: next,
            })
        })
        .await
    }

    /// CountWorkflowExecutions.
    pub async fn count(
        &self,
        req: ws::CountWorkflowExecutionsRequest,
    ) -> RpcResult<ws::CountWorkflowExecutionsResponse> {
        let filter = Filter::parse(&req.query)?;
        self.with(|g| {
            g.namespace(&req.namespace)?;
            let n = g
                .execs
                .values()
                .filter(|e| e.st.namespace == req.namespace && filter.matches(e))
                .count();
            Ok(ws::CountWorkflowExecutionsResponse {
                count: n as i64,
                groups: vec![],
            })
        })
        .await
    }

    /// GetWorkflowExecutionHistory with pagination and long poll.
    pub async fn history(
        &self,
        req: ws::GetWorkflowExecutionHistoryRequest,
        timeout: Option<std::time::Duration>,
    ) -> RpcResult<ws::GetWorkflowExecutionHistoryResponse> {
        let mut stop = self.closing.subscribe();
        let deadline = poll_deadline(timeout);
        let close_only = req.history_event_filter_type == HistoryEventFilterType::CloseEvent as i32;
        let from = if req.next_page_token.len() == 8 {
            let mut b = [0u8; 8];
            b.copy_from_slice(&req.next_page_token);
            i64::from_be_bytes(b)
        } else if req.next_page_token.is_empty() {
            1
        } else {
            return Err(status::invalid("malformed next_page_token"));
        };
        let page = if req.maximum_page_size > 0 {
            req.maximum_page_size as usize
        } else {
            1000
        };
        loop {
            let mut rx = {
                let g = self.inner.lock();
                let key = g.resolve(&req.namespace, &req.execution)?;
                let ex = g
                    .execs
                    .get(&key)
                    .ok_or_else(|| status::not_found("workflow execution not found"))?;
                let open = ex.st.is_open();
                if close_only {
                    if !open {
                        let last = ex.events.last().cloned().into_iter().collect();
                        return Ok(ws::GetWorkflowExecutionHistoryResponse {
                            history: Some(History { events: last }),
                            ..Default::default()
                        });
                    }
                    if !req.wait_new_event {
                        return Ok(Default::default());
                    }
                } else {
                    let avail = ex.events.len() as i64 - (from - 1);
                    if avail > 0 || !req.wait_new_event || !open {
                        let start = (from - 1).max(0) as usize;
                        let events: Vec<HistoryEvent> =
                            ex.events.iter().skip(start).take(page).cloned().collect();
                        let next_id = from + events.len() as i64;
                        let more = (next_id - 1) < ex.events.len() as i64;
                        // While open, the token lets the caller long-poll for what comes next.
                        let token = if more || (open && req.wait_new_event) {
                            next_id.to_be_bytes().to_vec()
                        } else {
                            vec![]
                        };
                        return Ok(ws::GetWorkflowExecutionHistoryResponse {
                            history: Some(History { events }),
                            next_page_token: token,
                            ..Default::default()
                        });
                    }
                }
                ex.watch.subscribe()
            };
            tokio::select! {
                r = rx.changed() => { if r.is_err() { return Ok(Default::default()); } }
                _ = stop.wait_for(|v| *v) => return Err(Status::unavailable("dev server shutting down")),
                _ = tokio::time::sleep_until(deadline) => {
                    return Ok(ws::GetWorkflowExecutionHistoryResponse {
                        history: Some(History::default()),
                        next_page_token: if close_only { vec![] } else { from.to_be_bytes().to_vec() },
                        ..Default::default()
                    });
                }
            }
        }
    }

    /// GetWorkflowExecutionHistoryReverse.
    pub async fn history_reverse(
        &self,
        req: ws::GetWorkflowExecutionHistoryReverseRequest,
    ) -> RpcResult<ws::GetWorkflowExecutionHistoryReverseResponse> {
        self.with(|g| {
            let key = g.resolve(&req.namespace, &req.execution)?;
            let ex = g
                .execs
                .get(&key)
                .ok_or_else(|| status::not_found("workflow execution not found"))?;
            let offset = page_offset(&req.next_page_token);
            let size = if req.maximum_page_size > 0 {
                req.maximum_page_size as usize
            } else {
                1000
            };
            let events: Vec<HistoryEvent> = ex
                .events
                .iter()
                .rev()
                .skip(offset)
                .take(size)
                .cloned()
                .collect();
            let next = if offset + events.len() < ex.events.len() {
                ((offset + events.len()) as u64).to_be_bytes().to_vec()
            } else {
                vec![]
            };
            Ok(ws::GetWorkflowExecutionHistoryReverseResponse {
                history: Some(History { events }),
                next_page_token: next,
            })
        })
        .await
    }

    // ---------------- workflow tasks ----------------

    /// PollWorkflowTaskQueue (long poll; empty response on timeout).
    pub async fn poll_workflow_task(
        &self,
        req: ws::PollWorkflowTaskQueueRequest,
        timeout: Option<std::time::Duration>,
    ) -> RpcResult<ws::PollWorkflowTaskQueueResponse> {
        let mut stop = self.closing.subscribe();
        let deadline = poll_deadline(timeout);
        let qk = QueueKey {
            namespace: req.namespace.clone(),
            name: sticky_or_normal(&req.task_queue),
            activity: false,
        };
        if qk.name.is_empty() {
            return Err(status::invalid("task queue is required"));
        }
        let poll_started = Instant::now();
        self.inner
            .lock()
            .queue(&qk)
            .scaling
            .saw_poller(&req.identity, poll_started);
        let mut shutdowns = self.shut_down_workers.subscribe();
        loop {
            if self
                .shut_down_workers
                .is_shut_down(&req.worker_instance_key)
            {
                return Ok(Default::default());
            }
            let (ready, mut rx) = {
                let mut g = self.inner.lock();
                g.namespace(&req.namespace)?;
                match g.take_workflow_task(&qk, &req.identity) {
                    Some(mut resp) => {
                        resp.poller_scaling_decision = g.scaling_decision(&qk, poll_started);
                        (Some((resp, g.commit()?)), None)
                    }
                    None => (None, Some(g.queue(&qk).watch.subscribe())),
                }
            };
            if let Some((resp, seq)) = ready {
                self.wait_durable(seq).await?;
                return Ok(resp);
            }
            let Some(rx) = rx.as_mut() else { continue };
            tokio::select! {
                _ = rx.changed() => {}
                _ = shutdowns.changed() => {}
                _ = stop.wait_for(|v| *v) => return Err(Status::unavailable("dev server shutting down")),
                _ = tokio::time::sleep_until(deadline) => return Ok(Default::default()),
            }
        }
    }

    /// ShutdownWorker: every open poll carrying the request's `worker_instance_key` is answered
    /// empty at once, and so is every later one. Unknown namespaces are NotFound.
    pub async fn shutdown_worker(&self, req: ws::ShutdownWorkerRequest) -> RpcResult<()> {
        self.inner.lock().namespace(&req.namespace)?;
        if self
            .shut_down_workers
            .shut_down(&req.worker_instance_key, Instant::now())
        {
            tracing::info!(identity = %req.identity, task_queue = %req.task_queue, worker_instance_key = %req.worker_instance_key, reason = %req.reason, "worker shut down; its open polls are answered");
        }
        Ok(())
    }

    /// RespondWorkflowTaskCompleted.
    pub async fn complete_workflow_task(
        &self,
        req: ws::RespondWorkflowTaskCompletedRequest,
    ) -> RpcResult<ws::RespondWorkflowTaskCompletedResponse> {
        self.with(|g| g.complete_wft(req))
            .await
            .map(|_| ws::RespondWorkflowTaskCompletedResponse::default())
    }

    /// RespondWorkflowTaskFailed.
    pub async fn fail_workflow_task(
        &self,
        req: ws::RespondWorkflowTaskFailedRequest,
    ) -> RpcResult<()> {
        self.with(|g| {
            let (key, sid) = g.started_wft(&req.task_token)?;
            let ex = g
                .execs
                .get_mut(&key)
                .ok_or_else(|| status::not_found("workflow execution not found"))?;
            let started = ex
                .st
                .wft
                .as_ref()
                .and_then(|w| w.started_event_id)
                .unwrap_or(0);
            let attempt = ex.st.wft.as_ref().map(|w| w.attempt).unwrap_or(1);
            ex.st.wft = None;
            ex.add(A::WorkflowTaskFailedEventAttributes(
                h::WorkflowTaskFailedEventAttributes {
                    scheduled_event_id: sid,
                    started_event_id: started,
                    cause: req.cause,
                    failure: req.failure,
                    identity: req.identity,
                    ..Default::default()
                },
            ));
            ex.flush();
            ex.st.next_wft_attempt = attempt + 1;
            tracing::debug!(workflow_id = %key.workflow_id, attempt, "workflow task failed");
            g.requeue_attached_queries(&key);
            g.retry_wft(&key, attempt + 1);
            Ok(())
        })
        .await
    }

    /// RespondQueryTaskCompleted (legacy query tasks).
    pub async fn respond_query(&self, req: ws::RespondQueryTaskCompletedRequest) -> RpcResult<()> {
        self.with(|g| {
            let Some(TaskToken::Query { query_id }) = TaskToken::decode(&req.task_token) else {
                return Err(status::invalid("malformed query task token"));
            };
            let q = g
                .queries
                .get_mut(&query_id)
                .ok_or_else(|| status::not_found("query not found or already answered"))?;
            if let Some(tx) = q.tx.take() {
                let _ = tx.send(WorkflowQueryResult {
                    result_type: req.completed_type,
                    answer: req.query_result,
                    error_message: req.error_message,
                    failure: req.failure,
                });
            }
            g.queries.remove(&query_id);
            Ok(())
        })
        .await
    }

    /// QueryWorkflow: dispatched to a worker through a workflow task.
    pub async fn query(
        &self,
        req: ws::QueryWorkflowRequest,
        timeout: Option<std::time::Duration>,
    ) -> RpcResult<ws::QueryWorkflowResponse> {
        let mut stop = self.closing.subscribe();
        // Bounded like long polls (client deadlines can be absurdly large).
        let deadline = poll_deadline(timeout.or(Some(std::time::Duration::from_secs(30))));
        let query = req
            .query
            .ok_or_else(|| status::invalid("query is required"))?;
        let id = new_id();
        let rx = {
            let mut g = self.inner.lock();
            let key = g.resolve(&req.namespace, &req.execution)?;
            let (tx, rx) = oneshot::channel();
            g.queries.insert(
                id.clone(),
                PendingQuery {
                    key: key.clone(),
                    query,
                    tx: Some(tx),
                },
            );
            g.dispatch_query(&key, id.clone());
            rx
        };
        let res = tokio::select! {
            r = rx => r.ok(),
            _ = stop.wait_for(|v| *v) => None,
            _ = tokio::time::sleep_until(deadline) => None,
        };
        let mut g = self.inner.lock();
        g.queries.remove(&id);
        if let Some(ex) = g
            .execs
            .values_mut()
            .find(|e| e.pending_queries.contains(&id) || e.attached_queries.contains(&id))
        {
            ex.pending_queries.retain(|q| q != &id);
            ex.attached_queries.retain(|q| q != &id);
        }
        drop(g);
        let res =
            res.ok_or_else(|| Status::deadline_exceeded("query timed out: no worker answered"))?;
        if res.result_type == QueryResultType::Answered as i32 {
            Ok(ws::QueryWorkflowResponse {
                query_result: res.answer,
                query_rejected: None,
                link: None,
            })
        } else {
            Err(status::query_failed(&res.error_message, res.failure))
        }
    }

    // ---------------- updates ----------------

    /// UpdateWorkflowExecution: admitted, delivered on a workflow task, waits for the stage.
    pub async fn update(
        &self,
        req: ws::UpdateWorkflowExecutionRequest,
        timeout: Option<std::time::Duration>,
    ) -> RpcResult<ws::UpdateWorkflowExecutionResponse> {
        let deadline = poll_deadline(timeout);
        let request = req
            .request
            .ok_or_else(|| status::invalid("update request is required"))?;
        let update_id = request
            .meta
            .as_ref()
            .map(|m| m.update_id.clone())
            .unwrap_or_default();
        if update_id.is_empty() {
            return Err(status::invalid("update id is required"));
        }
        if request.input.as_ref().is_none_or(|i| i.name.is_empty()) {
            return Err(status::invalid("update name is required"));
        }
        let wait = req
            .wait_policy
            .map(|w| w.lifecycle_stage)
            .unwrap_or(UpdateWorkflowExecutionLifecycleStage::Accepted as i32);
        let key = self
            .with(|g| {
                let key = g.resolve(&req.namespace, &req.workflow_execution)?;
                let ex = g
                    .execs
                    .get_mut(&key)
                    .ok_or_else(|| status::not_found("workflow execution not found"))?;
                if !ex.st.updates.contains_key(&update_id) {
                    if !ex.st.is_open() {
                        return Err(status::not_found("workflow execution already completed"));
                    }
                    ex.st.updates.insert(
                        update_id.clone(),
                        Update {
                            request: request.clone(),
                            stage: UpdateWorkflowExecutionLifecycleStage::Admitted as i32,
                            outcome: None,
                            accepted_event_id: 0,
                        },
                    );
                    g.dirty.insert(key.clone());
                    g.ensure_wft(&key);
                }
                Ok(key)
            })
            .await?;
        let (stage, outcome) = self.wait_update(&key, &update_id, wait, deadline).await?;
        Ok(ws::UpdateWorkflowExecutionResponse {
            update_ref: Some(upd::UpdateRef {
                workflow_execution: Some(exec_of(&key)),
                update_id,
            }),
            outcome,
            stage,
            link: None,
        })
    }

    /// PollWorkflowExecutionUpdate.
    pub async fn poll_update(
        &self,
        req: ws::PollWorkflowExecutionUpdateRequest,
        timeout: Option<std::time::Duration>,
    ) -> RpcResult<ws::PollWorkflowExecutionUpdateResponse> {
        let deadline = poll_deadline(timeout);
        let r = req
            .update_ref
            .ok_or_else(|| status::invalid("update_ref is required"))?;
        let key = {
            let g = self.inner.lock();
            g.resolve(&req.namespace, &r.workflow_execution)?
        };
        let wait = req
            .wait_policy
            .map(|w| w.lifecycle_stage)
            .unwrap_or(UpdateWorkflowExecutionLifecycleStage::Completed as i32);
        let (stage, outcome) = self.wait_update(&key, &r.update_id, wait, deadline).await?;
        Ok(ws::PollWorkflowExecutionUpdateResponse {
            outcome,
            stage,
            update_ref: Some(upd::UpdateRef {
                workflow_execution: Some(exec_of(&key)),
                update_id: r.update_id,
            }),
        })
    }

    async fn wait_update(
        &self,
        key: &ExecKey,
        id: &str,
        wait: i32,
        deadline: Instant,
    ) -> RpcResult<(i32, Option<Outcome>)> {
        let mut stop = self.closing.subscribe();
        loop {
            let mut rx = {
                let g = self.inner.lock();
                let ex = g
                    .execs
                    .get(key)
                    .ok_or_else(|| status::not_found("workflow execution not found"))?;
                let u = ex
                    .st
                    .updates
                    .get(id)
                    .ok_or_else(|| status::not_found(format!("update {id} not found")))?;
                if u.stage >= wait || u.outcome.is_some() {
                    return Ok((u.stage, u.outcome.clone()));
                }
                ex.watch.subscribe()
            };
            tokio::select! {
                r = rx.changed() => { if r.is_err() { return Err(status::not_found("workflow execution not found")); } }
                _ = stop.wait_for(|v| *v) => return Err(Status::unavailable("dev server shutting down")),
                _ = tokio::time::sleep_until(deadline) => {
                    let g = self.inner.lock();
                    let stage = g.execs.get(key).and_then(|e| e.st.updates.get(id)).map(|u| u.stage).unwrap_or(1);
                    return Ok((stage, None));
                }
            }
        }
    }

    // ---------------- activities ----------------

    /// PollActivityTaskQueue (long poll).
    pub async fn poll_activity_task(
        &self,
        req: ws::PollActivityTaskQueueRequest,
        timeout: Option<std::time::Duration>,
    ) -> RpcResult<ws::PollActivityTaskQueueResponse> {
        let mut stop = self.closing.subscribe();
        let deadline = poll_deadline(timeout);
        let qk = QueueKey {
            namespace: req.namespace.clone(),
            name: sticky_or_normal(&req.task_queue),
            activity: true,
        };
        if qk.name.is_empty() {
            return Err(status::invalid("task queue is required"));
        }
        let poll_started = Instant::now();
        self.inner
            .lock()
            .queue(&qk)
            .scaling
            .saw_poller(&req.identity, poll_started);
        let mut shutdowns = self.shut_down_workers.subscribe();
        loop {
            if self
                .shut_down_workers
                .is_shut_down(&req.worker_instance_key)
            {
                return Ok(Default::default());
            }
            let (ready, mut rx) = {
                let mut g = self.inner.lock();
                g.namespace(&req.namespace)?;
                match g.take_activity_task(&qk, &req.identity) {
                    Some(mut resp) => {
                        resp.poller_scaling_decision = g.scaling_decision(&qk, poll_started);
                        (Some((resp, g.commit()?)), None)
                    }
                    None => (None, Some(g.queue(&qk).watch.subscribe())),
                }
            };
            if let Some((resp, seq)) = ready {
                self.wait_durable(seq).await?;
                return Ok(resp);
            }
            let Some(rx) = rx.as_mut() else { continue };
            tokio::select! {
                _ = rx.changed() => {}
                _ = shutdowns.changed() => {}
                _ = stop.wait_for(|v| *v) => return Err(Status::unavailable("dev server shutting down")),
                _ = tokio::time::sleep_until(deadline) => return Ok(Default::default()),
            }
        }
    }

    /// RecordActivityTaskHeartbeat: returns whether cancellation was requested.
    pub async fn heartbeat(&self, token: &[u8], details: Option<Payloads>) -> RpcResult<bool> {
        self.with(|g| {
            let (key, sid) = g.started_activity(token)?;
            g.heartbeat(&key, sid, details)
        })
        .await
    }

    /// RecordActivityTaskHeartbeatById.
    pub async fn heartbeat_by_id(
        &self,
        ns: &str,
        wf: &str,
        run: &str,
        activity_id: &str,
        details: Option<Payloads>,
    ) -> RpcResult<bool> {
        self.with(|g| {
            let (key, sid) = g.activity_by_id(ns, wf, run, activity_id)?;
            g.heartbeat(&key, sid, details)
        })
        .await
    }

    /// Completes, fails or cancels an activity by task token.
    pub async fn finish_activity(
        &self,
        token: &[u8],
        identity: &str,
        result: ActivityResult,
    ) -> RpcResult<()> {
        self.with(|g| {
            let (key, sid) = g.started_activity(token)?;
            g.finish_activity(&key, sid, identity, result);
            Ok(())
        })
        .await
    }

    /// Completes, fails or cancels an activity by id.
    pub async fn finish_activity_by_id(
        &self,
        ns: &str,
        wf: &str,
        run: &str,
        activity_id: &str,
        identity: &str,
        result: ActivityResult,
    ) -> RpcResult<()> {
        self.with(|g| {
            let (key, sid) = g.activity_by_id(ns, wf, run, activity_id)?;
            g.finish_activity(&key, sid, identity, result);
            Ok(())
        })
        .await
    }
}

/// How an activity attempt ended, as reported by a worker.
pub enum ActivityResult {
    /// Completed with a result.
    Completed(Option<Payloads>),
    /// Failed (may be retried).
    Failed(Box<Option<Failure>>),
    /// Canceled after a cancel request.
    Canceled(Option<Payloads>),
}

struct StartArgs {
    namespace: String,
    workflow_id: String,
    workflow_type: String,
    task_queue: String,
    input: Option<Payloads>,
    execution_timeout_ms: i64,
    run_timeout_ms: i64,
    wft_timeout_ms: i64,
    identity: String,
    request_id: String,
    reuse_policy: i32,
    conflict_policy: i32,
    retry_policy: Option<RetryPolicy>,
    memo: Option<Memo>,
    search_attributes: Option<SearchAttributes>,
    header: Option<Header>,
    start_delay_ms: i64,
    signal: Option<(String, Option<Payloads>, Option<Header>)>,
}

fn ns_response(rec: &NamespaceRec) -> ws::DescribeNamespaceResponse {
    use temporalio_protos::temporal::api::namespace::v1::{
        NamespaceConfig, NamespaceInfo, namespace_info::Capabilities,
    };
    ws::DescribeNamespaceResponse {
        namespace_info: Some(NamespaceInfo {
            name: rec.name.clone(),
            state: 1,
            description: rec.description.clone(),
            id: rec.id.clone(),
            capabilities: Some(Capabilities {
                eager_workflow_start: false,
                sync_update: true,
                async_update: true,
                // Poll responses carry scaling decisions (see `poller_scaling`), so SDK
                // workers left at their default poller behaviour autoscale, as they do
                // against a Temporal cluster that advertises it.
                poller_autoscaling: true,
                poller_autoscaling_auto_enroll: true,
                // ShutdownWorker answers the worker's open polls (see `worker_shutdown`), so
                // workers let them return instead of cancelling them and losing a task.
                worker_poll_complete_on_shutdown: true,
                ..Default::default()
            }),
            supports_schedules: false,
            ..Default::default()
        }),
        config: Some(NamespaceConfig {
            workflow_execution_retention_ttl: Some(prost_wkt_types::Duration {
                seconds: rec.retention_days * 86400,
                nanos: 0,
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn started_attrs(ex: &Exec) -> Option<h::WorkflowExecutionStartedEventAttributes> {
    match ex.events.first().and_then(|e| e.attributes.clone()) {
        Some(A::WorkflowExecutionStartedEventAttributes(s)) => Some(s),
        _ => None,
    }
}

fn exec_info(ex: &Exec) -> WorkflowExecutionInfo {
    let st = &ex.st;
    WorkflowExecutionInfo {
        execution: Some(WorkflowExecution {
            workflow_id: st.workflow_id.clone(),
            run_id: st.run_id.clone(),
        }),
        r#type: Some(WorkflowType {
            name: st.workflow_type.clone(),
        }),
        start_time: Some(ts(st.start_ms)),
        close_time: st.close_ms.map(ts),
        status: st.status,
        history_length: ex.events.len() as i64,
        parent_namespace_id: st
            .parent
            .as_ref()
            .map(|p| p.namespace.clone())
            .unwrap_or_default(),
        parent_execution: st.parent.as_ref().map(|p| WorkflowExecution {
            workflow_id: p.workflow_id.clone(),
            run_id: p.run_id.clone(),
        }),
        execution_time: Some(ts(st.start_ms)),
        memo: Some(st.memo.clone().unwrap_or_default()),
        search_attributes: Some(st.search_attributes.clone().unwrap_or_default()),
        task_queue: st.task_queue.clone(),
        state_transition_count: ex.events.len() as i64,
        history_size_bytes: st.history_size_bytes,
        execution_duration: st.close_ms.and_then(|c| dur(c - st.start_ms)),
        first_run_id: st.first_run_id.clone(),
        ..Default::default()
    }
}

fn page_offset(token: &[u8]) -> usize {
    if token.len() == 8 {
        let mut b = [0u8; 8];
        b.copy_from_slice(token);
        u64::from_be_bytes(b) as usize
    } else {
        0
    }
}

/// A parsed visibility query: `Key = 'value'` clauses joined by AND.
struct Filter {
    clauses: Vec<(String, String)>,
}

impl Filter {
    fn parse(q: &str) -> RpcResult<Self> {
        let q = q.trim();
        let mut clauses = vec![];
        if q.is_empty() {
            return Ok(Self { clauses });
        }
        let lower = q.to_ascii_lowercase();
        if lower.contains(" or ") || lower.contains("order by") {
            return Err(status::invalid(format!(
                "unsupported query (only `Key = 'value' AND ...`): {q}"
            )));
        }
        let mut rest = q;
        loop {
            let lower = rest.to_ascii_lowercase();
            let (clause, next) = match lower.find(" and ") {
                Some(i) => (&rest[..i], Some(&rest[i + 5..])),
                None => (rest, None),
            };
            let (k, v) = clause
                .split_once('=')
                .ok_or_else(|| status::invalid(format!("malformed query clause `{clause}`")))?;
            let k = k.trim().trim_matches('`').to_string();
            let v = v.trim();
            let v = v
                .strip_prefix('\'')
                .and_then(|s| s.strip_suffix('\''))
                .or_else(|| v.strip_prefix('"').and_then(|s| s.strip_suffix('"')))
                .ok_or_else(|| {
                    status::invalid(format!("query value must be quoted in `{clause}`"))
                })?;
            if k.is_empty() {
                return Err(status::invalid(format!(
                    "malformed query clause `{clause}`"
                )));
            }
            clauses.push((k, v.to_string()));
            match next {
                Some(n) => rest = n,
                None => break,
            }
        }
        Ok(Self { clauses })
    }

    fn matches(&self, ex: &Exec) -> bool {
        self.clauses.iter().all(|(k, v)| match k.as_str() {
            "WorkflowType" => &ex.st.workflow_type == v,
            "WorkflowId" => &ex.st.workflow_id == v,
            "RunId" => &ex.st.run_id == v,
            "TaskQueue" => &ex.st.task_queue == v,
            "ExecutionStatus" => status_name(ex.st.status).eq_ignore_ascii_case(v),
            other => ex
                .st
                .search_attributes
                .as_ref()
                .and_then(|s| s.indexed_fields.get(other))
                .map(|p| {
                    let s = String::from_utf8_lossy(&p.data);
                    s == *v || serde_json::from_str::<String>(&s).is_ok_and(|x| &x == v)
                })
                .unwrap_or(false),
        })
    }
}

fn status_name(s: i32) -> &'static str {
    match WorkflowExecutionStatus::try_from(s).unwrap_or(WorkflowExecutionStatus::Unspecified) {
        WorkflowExecutionStatus::Running => "Running",
        WorkflowExecutionStatus::Completed => "Completed",
        WorkflowExecutionStatus::Failed => "Failed",
        WorkflowExecutionStatus::Canceled => "Canceled",
        WorkflowExecutionStatus::Terminated => "Terminated",
        WorkflowExecutionStatus::ContinuedAsNew => "ContinuedAsNew",
        WorkflowExecutionStatus::TimedOut => "TimedOut",
        _ => "Unspecified",
    }
}

impl Inner {
    fn put_namespace(&mut self, rec: NamespaceRec) {
        let json = serde_json::to_string(&rec).unwrap_or_default();
        self.dirty_ns.push((rec.name.clone(), json));
        self.namespaces.insert(rec.name.clone(), rec);
    }

    fn namespace(&self, ns: &str) -> RpcResult<&NamespaceRec> {
        self.namespaces
            .get(ns)
            .ok_or_else(|| status::namespace_not_found(ns))
    }

    /// The pending changes as one batch; marks them persisted.
    fn take_batch(&mut self) -> Batch {
        let mut batch = Batch {
            namespaces: std::mem::take(&mut self.dirty_ns),
            executions: vec![],
        };
        for k in self.dirty.drain() {
            if let Some(ex) = self.execs.get_mut(&k) {
                batch
                    .executions
                    .push((ex.st.clone(), ex.events[ex.persisted..].to_vec()));
                ex.persisted = ex.events.len();
            }
        }
        batch
    }

    /// Queues the pending changes for the writer; returns the sequence number to wait for
    /// (the last queued one when nothing changed, so reads never outrun durability).
    fn commit(&mut self) -> RpcResult<u64> {
        if self.dirty.is_empty() && self.dirty_ns.is_empty() {
            return Ok(self.seq);
        }
        if !self.persistent {
            // In memory: the changes are already all the state there is.
            self.dirty.clear();
            self.dirty_ns.clear();
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
        Ok(self.seq)
    }

    fn queue(&mut self, qk: &QueueKey) -> &mut Queue {
        self.queues.entry(qk.clone()).or_insert_with(|| Queue {
            tasks: VecDeque::new(),
            watch: watch::Sender::new(0),
            scaling: PollerScaling::new(Instant::now()),
        })
    }

    /// The poller scaling hint for a poll of `qk` that started at `poll_started` and is
    /// being answered with a task now.
    fn scaling_decision(
        &mut self,
        qk: &QueueKey,
        poll_started: Instant,
    ) -> Option<temporalio_protos::temporal::api::taskqueue::v1::PollerScalingDecision> {
        let q = self.queue(qk);
        let oldest = q.tasks.front().map(|(_, at)| *at);
        let backlog = q.tasks.len();
        q.scaling
            .decide(poll_started, Instant::now(), backlog, oldest)
    }

    fn push_task(&mut self, qk: QueueKey, task: Task) {
        let q = self.queue(&qk);
        q.tasks.push_back((task, Instant::now()));
        q.watch.send_modify(|v| *v += 1);
    }

    fn arm(&mut self, at_ms: i64, t: TimerTask) {
        // Wake the timer loop only when this timer becomes the earliest one.
        let earliest = self
            .timers
            .first_key_value()
            .is_none_or(|(&(at, _), _)| at_ms < at);
        self.timer_seq += 1;
        self.timers.insert((at_ms, self.timer_seq), t);
        if earliest {
            self.timer_notify.notify_one();
        }
    }

    fn resolve(&self, ns: &str, exec: &Option<WorkflowExecution>) -> RpcResult<ExecKey> {
        self.namespace(ns)?;
        let e = exec
            .as_ref()
            .ok_or_else(|| status::invalid("workflow execution is required"))?;
        if e.workflow_id.is_empty() {
            return Err(status::invalid("workflow id is required"));
        }
        let run_id = if e.run_id.is_empty() {
            self.current
                .get(&(ns.to_string(), e.workflow_id.clone()))
                .cloned()
                .ok_or_else(|| {
                    status::not_found(format!(
                        "workflow execution not found for workflow id {}",
                        e.workflow_id
                    ))
                })?
        } else {
            e.run_id.clone()
        };
        let key = ExecKey {
            namespace: ns.to_string(),
            workflow_id: e.workflow_id.clone(),
            run_id,
        };
        if !self.execs.contains_key(&key) {
            return Err(status::not_found(format!(
                "workflow execution not found: {}/{}",
                key.workflow_id, key.run_id
            )));
        }
        Ok(key)
    }

    fn resolve_open(&self, ns: &str, exec: &Option<WorkflowExecution>) -> RpcResult<ExecKey> {
        let key = self.resolve(ns, exec)?;
        if !self.execs.get(&key).is_some_and(|e| e.st.is_open()) {
            return Err(status::not_found("workflow execution already completed"));
        }
        Ok(key)
    }

    fn start(&mut self, a: StartArgs) -> RpcResult<(String, bool)> {
        self.namespace(&a.namespace)?;
        if a.workflow_id.is_empty() {
            return Err(status::invalid("workflow id is required"));
        }
        if a.workflow_type.is_empty() {
            return Err(status::invalid("workflow type is required"));
        }
        if a.task_queue.is_empty() {
            return Err(status::invalid("task queue is required"));
        }
        if let Some(run) = self
            .current
            .get(&(a.namespace.clone(), a.workflow_id.clone()))
            .cloned()
        {
            let key = ExecKey {
                namespace: a.namespace.clone(),
                workflow_id: a.workflow_id.clone(),
                run_id: run.clone(),
            };
            let (open, status_v, req_id) = match self.execs.get(&key) {
                Some(e) => (e.st.is_open(), e.st.status, e.st.request_id.clone()),
                None => (false, 0, String::new()),
            };
            if !a.request_id.is_empty() && req_id == a.request_id {
                return Ok((run, true));
            }
            if open {
                let terminate = a.conflict_policy
                    == WorkflowIdConflictPolicy::TerminateExisting as i32
                    || a.reuse_policy == 4; // TERMINATE_IF_RUNNING (deprecated)
                if a.conflict_policy == WorkflowIdConflictPolicy::UseExisting as i32 {
                    if let Some((name, input, header)) = a.signal {
                        self.signal(&key, &name, input, header, &a.identity);
                    }
                    return Ok((run, false));
                } else if terminate {
                    self.terminate(
                        &key,
                        "terminated by a new start with TerminateExisting",
                        None,
                        &a.identity,
                    );
                } else {
                    return Err(status::already_started(&a.workflow_id, &req_id, &run));
                }
            } else {
                let failed = matches!(
                    WorkflowExecutionStatus::try_from(status_v),
                    Ok(WorkflowExecutionStatus::Failed
                        | WorkflowExecutionStatus::Canceled
                        | WorkflowExecutionStatus::Terminated
                        | WorkflowExecutionStatus::TimedOut)
                );
                let reject = a.reuse_policy == WorkflowIdReusePolicy::RejectDuplicate as i32
                    || (a.reuse_policy == WorkflowIdReusePolicy::AllowDuplicateFailedOnly as i32
                        && !failed);
                if reject {
                    return Err(status::already_started(&a.workflow_id, &req_id, &run));
                }
            }
        }
        let run_id = new_id();
        let exec_deadline = (a.execution_timeout_ms > 0).then(|| now_ms() + a.execution_timeout_ms);
        self.create_run(NewRun {
            namespace: a.namespace,
            workflow_id: a.workflow_id,
            run_id: run_id.clone(),
            first_run_id: run_id.clone(),
            workflow_type: a.workflow_type,
            task_queue: a.task_queue,
            input: a.input,
            execution_timeout_ms: a.execution_timeout_ms,
            run_timeout_ms: a.run_timeout_ms,
            wft_timeout_ms: a.wft_timeout_ms,
            identity: a.identity,
            request_id: a.request_id,
            retry_policy: a.retry_policy,
            memo: a.memo,
            search_attributes: a.search_attributes,
            header: a.header,
            execution_deadline_ms: exec_deadline,
            start_delay_ms: a.start_delay_ms,
            signal: a.signal,
            ..Default::default()
        });
        Ok((run_id, true))
    }

    fn create_run(&mut self, r: NewRun) -> ExecKey {
        let now = now_ms();
        let wft_timeout = if r.wft_timeout_ms > 0 {
            r.wft_timeout_ms.min(120_000)
        } else {
            DEFAULT_WFT_TIMEOUT_MS
        };
        let run_timeout = if r.run_timeout_ms > 0 {
            r.run_timeout_ms
        } else {
            r.execution_timeout_ms
        };
        let key = ExecKey {
            namespace: r.namespace.clone(),
            workflow_id: r.workflow_id.clone(),
            run_id: r.run_id.clone(),
        };
        let st = Execution {
            namespace: r.namespace.clone(),
            workflow_id: r.workflow_id.clone(),
            run_id: r.run_id.clone(),
            first_run_id: r.first_run_id.clone(),
            workflow_type: r.workflow_type.clone(),
            task_queue: r.task_queue.clone(),
            status: OPEN,
            start_ms: now,
            close_ms: None,
            request_id: r.request_id.clone(),
            next_event_id: 1,
            wft: None,
            last_completed_started_id: 0,
            wft_timeout_ms: wft_timeout,
            buffered: vec![],
            activities: BTreeMap::new(),
            timers: BTreeMap::new(),
            children: BTreeMap::new(),
            parent: r.parent.clone(),
            cancel_requested: false,
            run_deadline_ms: (run_timeout > 0).then(|| now + run_timeout),
            execution_deadline_ms: r.execution_deadline_ms,
            memo: r.memo.clone(),
            search_attributes: r.search_attributes.clone(),
            updates: BTreeMap::new(),
            continued_as_new_run_id: String::new(),
            history_size_bytes: 0,
            next_wft_attempt: 1,
            wft_retry_at_ms: None,
        };
        let mut ex = Exec::new(st, vec![]);
        ex.persisted = 0;
        ex.add(A::WorkflowExecutionStartedEventAttributes(
            h::WorkflowExecutionStartedEventAttributes {
                workflow_type: Some(WorkflowType {
                    name: r.workflow_type.clone(),
                }),
                parent_workflow_namespace: r
                    .parent
                    .as_ref()
                    .map(|p| p.namespace.clone())
                    .unwrap_or_default(),
                parent_workflow_execution: r.parent.as_ref().map(|p| WorkflowExecution {
                    workflow_id: p.workflow_id.clone(),
                    run_id: p.run_id.clone(),
                }),
                parent_initiated_event_id: r
                    .parent
                    .as_ref()
                    .map(|p| p.initiated_event_id)
                    .unwrap_or(0),
                task_queue: Some(task_queue(&r.task_queue)),
                input: r.input,
                workflow_execution_timeout: dur(r.execution_timeout_ms),
                workflow_run_timeout: dur(run_timeout),
                workflow_task_timeout: dur(wft_timeout),
                continued_execution_run_id: r.continued_execution_run_id,
                initiator: r.initiator,
                continued_failure: r.continued_failure,
                last_completion_result: r.last_completion_result,
                original_execution_run_id: r.run_id.clone(),
                identity: r.identity,
                first_execution_run_id: r.first_run_id,
                retry_policy: r.retry_policy,
                attempt: 1,
                workflow_execution_expiration_time: r.execution_deadline_ms.map(ts),
                first_workflow_task_backoff: dur(r.start_delay_ms),
                memo: r.memo,
                search_attributes: r.search_attributes,
                header: r.header,
                workflow_id: r.workflow_id.clone(),
                root_workflow_execution: Some(exec_of(&key)),
                ..Default::default()
            },
        ));
        if let Some((name, input, header)) = r.signal {
            ex.add(A::WorkflowExecutionSignaledEventAttributes(
                h::WorkflowExecutionSignaledEventAttributes {
                    signal_name: name,
                    input,
                    header,
                    ..Default::default()
                },
            ));
        }
        let run_deadline = ex.st.run_deadline_ms;
        self.execs.insert(key.clone(), ex);
        self.current.insert(
            (key.namespace.clone(), key.workflow_id.clone()),
            key.run_id.clone(),
        );
        self.dirty.insert(key.clone());
        if r.start_delay_ms > 0 {
            if let Some(ex) = self.execs.get_mut(&key) {
                ex.st.wft_retry_at_ms = Some(now + r.start_delay_ms);
            }
            self.arm(
                now + r.start_delay_ms,
                TimerTask::WftRetry { key: key.clone() },
            );
        } else {
            self.schedule_wft(&key);
        }
        if let Some(d) = run_deadline {
            self.arm(d, TimerTask::RunTimeout { key: key.clone() });
        }
        tracing::info!(workflow_id = %key.workflow_id, run_id = %key.run_id, workflow_type = %r.workflow_type, "workflow started");
        key
    }

    /// Schedules a workflow task if the run is open and has none.
    fn schedule_wft(&mut self, key: &ExecKey) {
        let Some(ex) = self.execs.get_mut(key) else {
            return;
        };
        if !ex.st.is_open() || ex.st.wft.is_some() {
            return;
        }
        let attempt = ex.st.next_wft_attempt.max(1);
        ex.st.wft_retry_at_ms = None;
        let tq = ex.st.task_queue.clone();
        let id = ex.add(A::WorkflowTaskScheduledEventAttributes(
            h::WorkflowTaskScheduledEventAttributes {
                task_queue: Some(task_queue(&tq)),
                start_to_close_timeout: dur(ex.st.wft_timeout_ms),
                attempt,
            },
        ));
        ex.st.wft = Some(WorkflowTask {
            scheduled_event_id: id,
            started_event_id: None,
            attempt,
            scheduled_ms: now_ms(),
            started_ms: 0,
            timeout_ms: None,
            delivered_updates: vec![],
        });
        self.dirty.insert(key.clone());
        self.push_task(
            QueueKey {
                namespace: key.namespace.clone(),
                name: tq,
                activity: false,
            },
            Task::Wft {
                key: key.clone(),
                scheduled_event_id: id,
            },
        );
    }

    fn ensure_wft(&mut self, key: &ExecKey) {
        self.dirty.insert(key.clone());
        self.schedule_wft(key);
    }

    fn retry_wft(&mut self, key: &ExecKey, attempt: i32) {
        self.dirty.insert(key.clone());
        if attempt <= 2 {
            self.schedule_wft(key);
        } else {
            // Repeated failures back off (1s, 2s, ... up to 10s) instead of spinning.
            let at = now_ms() + (i64::from(attempt - 2) * 1000).min(10_000);
            if let Some(ex) = self.execs.get_mut(key) {
                ex.st.wft_retry_at_ms = Some(at);
            }
            self.arm(at, TimerTask::WftRetry { key: key.clone() });
        }
    }

    fn signal(
        &mut self,
        key: &ExecKey,
        name: &str,
        input: Option<Payloads>,
        header: Option<Header>,
        identity: &str,
    ) {
        let Some(ex) = self.execs.get_mut(key) else {
            return;
        };
        ex.add_or_buffer(A::WorkflowExecutionSignaledEventAttributes(
            h::WorkflowExecutionSignaledEventAttributes {
                signal_name: name.to_string(),
                input,
                identity: identity.to_string(),
                header,
                ..Default::default()
            },
        ));
        self.ensure_wft(key);
    }

    fn request_cancel(
        &mut self,
        key: &ExecKey,
        identity: &str,
        reason: &str,
        external_initiated: i64,
        external: Option<WorkflowExecution>,
    ) {
        let Some(ex) = self.execs.get_mut(key) else {
            return;
        };
        if ex.st.cancel_requested {
            return;
        }
        ex.st.cancel_requested = true;
        ex.add_or_buffer(A::WorkflowExecutionCancelRequestedEventAttributes(
            h::WorkflowExecutionCancelRequestedEventAttributes {
                cause: reason.to_string(),
                external_initiated_event_id: external_initiated,
                external_workflow_execution: external,
                identity: identity.to_string(),
            },
        ));
        self.ensure_wft(key);
    }

    fn terminate(
        &mut self,
        key: &ExecKey,
        reason: &str,
        details: Option<Payloads>,
        identity: &str,
    ) {
        let Some(ex) = self.execs.get_mut(key) else {
            return;
        };
        if !ex.st.is_open() {
            return;
        }
        ex.flush();
        ex.add(A::WorkflowExecutionTerminatedEventAttributes(
            h::WorkflowExecutionTerminatedEventAttributes {
                reason: reason.to_string(),
                details,
                identity: identity.to_string(),
            },
        ));
        tracing::info!(workflow_id = %key.workflow_id, reason, "workflow terminated");
        self.close_run(key, Close::Terminated);
    }

    fn close_run(&mut self, key: &ExecKey, how: Close) {
        let Some(ex) = self.execs.get_mut(key) else {
            return;
        };
        let status_v = match &how {
            Close::Completed(_) => WorkflowExecutionStatus::Completed,
            Close::Failed(_) => WorkflowExecutionStatus::Failed,
            Close::Canceled(_) => WorkflowExecutionStatus::Canceled,
            Close::Terminated => WorkflowExecutionStatus::Terminated,
            Close::TimedOut => WorkflowExecutionStatus::TimedOut,
            Close::ContinuedAsNew => WorkflowExecutionStatus::ContinuedAsNew,
        };
        ex.st.status = status_v as i32;
        ex.st.close_ms = Some(now_ms());
        ex.st.wft = None;
        ex.st.buffered.clear();
        ex.st.activities.clear();
        ex.st.timers.clear();
        for u in ex.st.updates.values_mut() {
            if u.outcome.is_none() {
                u.stage = UpdateWorkflowExecutionLifecycleStage::Completed as i32;
                u.outcome = Some(Outcome {
                    value: Some(outcome::Value::Failure(Failure {
                        message: "Workflow Update failed because the Workflow completed before the Update completed."
                            .into(),
                        ..Default::default()
                    })),
                });
            }
        }
        ex.bump();
        let children: Vec<Child> = ex.st.children.values().cloned().collect();
        let parent = ex.st.parent.clone();
        let queries: Vec<String> = ex
            .pending_queries
            .drain(..)
            .chain(ex.attached_queries.drain(..))
            .collect();
        let result_event = ex.events.last().cloned();
        self.dirty.insert(key.clone());
        // Queries on a closed run are answered from its history by a worker (legacy task).
        for q in queries {
            self.dispatch_query(key, q);
        }
        if matches!(how, Close::ContinuedAsNew) {
            return;
        }
        tracing::info!(workflow_id = %key.workflow_id, run_id = %key.run_id, status = status_name(status_v as i32), "workflow closed");
        for c in children {
            if c.run_id.is_empty() {
                continue;
            }
            let ck = self.current_key(&c.namespace, &c.workflow_id);
            let Some(ck) = ck else { continue };
            if !self.execs.get(&ck).is_some_and(|e| e.st.is_open()) {
                continue;
            }
            if c.parent_close_policy == ParentClosePolicy::Abandon as i32 {
                continue;
            } else if c.parent_close_policy == ParentClosePolicy::RequestCancel as i32 {
                self.request_cancel(&ck, "parent-close-policy", "parent closed", 0, None);
            } else {
                self.terminate(&ck, "by parent close policy", None, "parent-close-policy");
            }
        }
        if let Some(p) = parent {
            self.notify_parent(key, &p, how, result_event);
        }
    }

    fn current_key(&self, ns: &str, wf: &str) -> Option<ExecKey> {
        self.current
            .get(&(ns.to_string(), wf.to_string()))
            .map(|r| ExecKey {
                namespace: ns.to_string(),
                workflow_id: wf.to_string(),
                run_id: r.clone(),
            })
    }

    fn notify_parent(
        &mut self,
        child: &ExecKey,
        p: &Parent,
        how: Close,
        _last: Option<HistoryEvent>,
    ) {
        let pk = ExecKey {
            namespace: p.namespace.clone(),
            workflow_id: p.workflow_id.clone(),
            run_id: p.run_id.clone(),
        };
        let child_type = self
            .execs
            .get(child)
            .map(|e| e.st.workflow_type.clone())
            .unwrap_or_default();
        let Some(pex) = self.execs.get_mut(&pk) else {
            return;
        };
        if !pex.st.is_open() {
            return;
        }
        let Some(c) = pex.st.children.remove(&p.initiated_event_id) else {
            return;
        };
        let we = Some(WorkflowExecution {
            workflow_id: c.workflow_id.clone(),
            run_id: c.run_id.clone(),
        });
        let wt = Some(WorkflowType { name: child_type });
        let init = p.initiated_event_id;
        let started = c.started_event_id;
        let ns = c.namespace.clone();
        let attrs = match how {
            Close::Completed(result) => A::ChildWorkflowExecutionCompletedEventAttributes(
                h::ChildWorkflowExecutionCompletedEventAttributes {
                    result,
                    namespace: ns,
                    workflow_execution: we,
                    workflow_type: wt,
                    initiated_event_id: init,
                    started_event_id: started,
                    ..Default::default()
                },
            ),
            Close::Failed(failure) => A::ChildWorkflowExecutionFailedEventAttributes(
                h::ChildWorkflowExecutionFailedEventAttributes {
                    failure: *failure,
                    namespace: ns,
                    workflow_execution: we,
                    workflow_type: wt,
                    initiated_event_id: init,
                    started_event_id: started,
                    retry_state: RetryState::RetryPolicyNotSet as i32,
                    ..Default::default()
                },
            ),
            Close::Canceled(details) => A::ChildWorkflowExecutionCanceledEventAttributes(
                h::ChildWorkflowExecutionCanceledEventAttributes {
                    details,
                    namespace: ns,
                    workflow_execution: we,
                    workflow_type: wt,
                    initiated_event_id: init,
                    started_event_id: started,
                    ..Default::default()
                },
            ),
            Close::Terminated => A::ChildWorkflowExecutionTerminatedEventAttributes(
                h::ChildWorkflowExecutionTerminatedEventAttributes {
                    namespace: ns,
                    workflow_execution: we,
                    workflow_type: wt,
                    initiated_event_id: init,
                    started_event_id: started,
                    ..Default::default()
                },
            ),
            Close::TimedOut => A::ChildWorkflowExecutionTimedOutEventAttributes(
                h::ChildWorkflowExecutionTimedOutEventAttributes {
                    namespace: ns,
                    workflow_execution: we,
                    workflow_type: wt,
                    initiated_event_id: init,
                    started_event_id: started,
                    retry_state: RetryState::Timeout as i32,
                    ..Default::default()
                },
            ),
            Close::ContinuedAsNew => return,
        };
        pex.add_or_buffer(attrs);
        self.ensure_wft(&pk);
    }

    fn dispatch_query(&mut self, key: &ExecKey, id: String) {
        let Some(ex) = self.execs.get_mut(key) else {
            return;
        };
        if ex.st.is_open() && ex.st.wft.is_some() {
            ex.pending_queries.push(id);
            return;
        }
        let tq = ex.st.task_queue.clone();
        self.push_task(
            QueueKey {
                namespace: key.namespace.clone(),
                name: tq,
                activity: false,
            },
            Task::Query { id },
        );
    }

    fn requeue_attached_queries(&mut self, key: &ExecKey) {
        let Some(ex) = self.execs.get_mut(key) else {
            return;
        };
        let qs: Vec<String> = ex.attached_queries.drain(..).collect();
        ex.pending_queries.extend(qs);
    }

    /// Pending queries of a run that has no workflow task go out as legacy query tasks.
    fn flush_pending_queries(&mut self, key: &ExecKey) {
        let Some(ex) = self.execs.get_mut(key) else {
            return;
        };
        if ex.st.wft.is_some() && ex.st.is_open() {
            return;
        }
        let qs: Vec<String> = ex.pending_queries.drain(..).collect();
        for q in qs {
            self.dispatch_query(key, q);
        }
    }

    fn take_workflow_task(
        &mut self,
        qk: &QueueKey,
        identity: &str,
    ) -> Option<ws::PollWorkflowTaskQueueResponse> {
        loop {
            let (task, _) = self.queues.get_mut(qk)?.tasks.pop_front()?;
            match task {
                Task::Wft {
                    key,
                    scheduled_event_id,
                } => {
                    if let Some(r) = self.start_wft(&key, scheduled_event_id, identity) {
                        tracing::debug!(workflow_id = %key.workflow_id, attempt = r.attempt, identity, "workflow task started");
                        return Some(r);
                    }
                }
                Task::Query { id } => {
                    let Some(q) = self.queries.get(&id) else {
                        continue;
                    };
                    let key = q.key.clone();
                    let query = q.query.clone();
                    let Some(ex) = self.execs.get_mut(&key) else {
                        continue;
                    };
                    if ex.st.is_open() && ex.st.wft.is_some() {
                        ex.pending_queries.push(id);
                        continue;
                    }
                    let last = ex.st.last_completed_started_id;
                    return Some(ws::PollWorkflowTaskQueueResponse {
                        task_token: TaskToken::Query { query_id: id }.encode(),
                        workflow_execution: Some(exec_of(&key)),
                        workflow_type: Some(WorkflowType {
                            name: ex.st.workflow_type.clone(),
                        }),
                        previous_started_event_id: last,
                        started_event_id: last,
                        attempt: 1,
                        history: Some(History {
                            events: ex.events.clone(),
                        }),
                        query: Some(query),
                        workflow_execution_task_queue: Some(task_queue(&ex.st.task_queue)),
                        scheduled_time: Some(ts(now_ms())),
                        started_time: Some(ts(now_ms())),
                        ..Default::default()
                    });
                }
                Task::Activity { .. } => {}
            }
        }
    }

    fn start_wft(
        &mut self,
        key: &ExecKey,
        sid: i64,
        identity: &str,
    ) -> Option<ws::PollWorkflowTaskQueueResponse> {
        let ex = self.execs.get_mut(key)?;
        if !ex.st.is_open() {
            return None;
        }
        let w = ex.st.wft.as_ref()?;
        if w.scheduled_event_id != sid || w.started_event_id.is_some() {
            return None;
        }
        let attempt = w.attempt;
        let scheduled_ms = w.scheduled_ms;
        let size = ex.st.history_size_bytes;
        let started_id = ex.add(A::WorkflowTaskStartedEventAttributes(
            h::WorkflowTaskStartedEventAttributes {
                scheduled_event_id: sid,
                identity: identity.to_string(),
                request_id: new_id(),
                history_size_bytes: size,
                ..Default::default()
            },
        ));
        let now = now_ms();
        let timeout_at = now + ex.st.wft_timeout_ms;
        let mut messages = vec![];
        let mut delivered = vec![];
        for (id, u) in &ex.st.updates {
            if u.stage == UpdateWorkflowExecutionLifecycleStage::Admitted as i32
                && u.outcome.is_none()
            {
                messages.push(ProtocolMessage {
                    id: format!("{id}/request"),
                    protocol_instance_id: id.clone(),
                    body: Some(prost_wkt_types::Any {
                        type_url: "type.googleapis.com/temporal.api.update.v1.Request".into(),
                        value: u.request.encode_to_vec(),
                    }),
                    sequencing_id: Some(SequencingId::EventId(started_id - 1)),
                });
                delivered.push(id.clone());
            }
        }
        let pending: Vec<String> = ex.pending_queries.drain(..).collect();
        let mut queries = HashMap::new();
        for q in &pending {
            if let Some(pq) = self.queries.get(q) {
                queries.insert(q.clone(), pq.query.clone());
            }
        }
        let ex = self.execs.get_mut(key)?;
        ex.attached_queries = pending;
        if let Some(w) = ex.st.wft.as_mut() {
            w.started_event_id = Some(started_id);
            w.started_ms = now;
            w.timeout_ms = Some(timeout_at);
            w.delivered_updates = delivered;
        }
        let resp = ws::PollWorkflowTaskQueueResponse {
            task_token: TaskToken::Workflow {
                key: key.clone(),
                scheduled_event_id: sid,
                attempt,
            }
            .encode(),
            workflow_execution: Some(exec_of(key)),
            workflow_type: Some(WorkflowType {
                name: ex.st.workflow_type.clone(),
            }),
            previous_started_event_id: ex.st.last_completed_started_id,
            started_event_id: started_id,
            attempt,
            history: Some(History {
                events: ex.events.clone(),
            }),
            workflow_execution_task_queue: Some(task_queue(&ex.st.task_queue)),
            scheduled_time: Some(ts(scheduled_ms)),
            started_time: Some(ts(now)),
            queries,
            messages,
            ..Default::default()
        };
        self.dirty.insert(key.clone());
        self.arm(
            timeout_at,
            TimerTask::WftTimeout {
                key: key.clone(),
                scheduled_event_id: sid,
            },
        );
        Some(resp)
    }

    /// Validates a workflow task token against the started task; returns (key, scheduled id).
    fn started_wft(&self, token: &[u8]) -> RpcResult<(ExecKey, i64)> {
        let Some(TaskToken::Workflow {
            key,
            scheduled_event_id,
            ..
        }) = TaskToken::decode(token)
        else {
            return Err(status::invalid("malformed workflow task token"));
        };
        let ex = self
            .execs
            .get(&key)
            .ok_or_else(|| status::not_found("workflow execution not found"))?;
        if !ex.st.is_open() {
            return Err(status::not_found("workflow execution already completed"));
        }
        match &ex.st.wft {
            Some(w)
                if w.scheduled_event_id == scheduled_event_id && w.started_event_id.is_some() =>
            {
                Ok((key, scheduled_event_id))
            }
            _ => Err(status::not_found("Workflow task not found.")),
        }
    }

    fn complete_wft(&mut self, req: ws::RespondWorkflowTaskCompletedRequest) -> RpcResult<()> {
        let (key, sid) = self.started_wft(&req.task_token)?;
        let identity = req.identity.clone();
        let is_close = |c: &Command| {
            matches!(
                c.attributes,
                Some(
                    C::CompleteWorkflowExecutionCommandAttributes(_)
                        | C::FailWorkflowExecutionCommandAttributes(_)
                        | C::CancelWorkflowExecutionCommandAttributes(_)
                        | C::ContinueAsNewWorkflowExecutionCommandAttributes(_)
                )
            )
        };
        // Answer queries that rode on this task.
        for (qid, res) in req.query_results {
            if let Some(mut q) = self.queries.remove(&qid)
                && let Some(tx) = q.tx.take()
            {
                let _ = tx.send(res);
            }
        }
        let ex = self
            .execs
            .get_mut(&key)
            .ok_or_else(|| status::not_found("workflow execution not found"))?;
        ex.attached_queries.clear();
        let wft = ex
            .st
            .wft
            .clone()
            .ok_or_else(|| status::not_found("Workflow task not found."))?;
        let started = wft.started_event_id.unwrap_or(0);
        let has_close = req.commands.iter().any(is_close);
        if has_close && !ex.st.buffered.is_empty() {
            // New events arrived while the worker decided to close: reject like Temporal does.
            ex.st.wft = None;
            ex.add(A::WorkflowTaskFailedEventAttributes(
                h::WorkflowTaskFailedEventAttributes {
                    scheduled_event_id: sid,
                    started_event_id: started,
                    cause: WorkflowTaskFailedCause::UnhandledCommand as i32,
                    failure: Some(Failure {
                        message: "UnhandledCommand".into(),
                        ..Default::default()
                    }),
                    identity: identity.clone(),
                    ..Default::default()
                },
            ));
            ex.flush();
            self.schedule_wft(&key);
            return Ok(());
        }
        ex.st.wft = None;
        ex.st.last_completed_started_id = started;
        ex.st.next_wft_attempt = 1;
        let completed_id = ex.add(A::WorkflowTaskCompletedEventAttributes(
            h::WorkflowTaskCompletedEventAttributes {
                scheduled_event_id: sid,
                started_event_id: started,
                identity: identity.clone(),
                binary_checksum: req.binary_checksum.clone(),
                worker_version: req.worker_version_stamp.clone(),
                sdk_metadata: req.sdk_metadata.clone(),
                metering_metadata: req.metering_metadata,
                ..Default::default()
            },
        ));
        self.dirty.insert(key.clone());
        let mut messages: BTreeMap<String, ProtocolMessage> = req
            .messages
            .into_iter()
            .map(|m| (m.id.clone(), m))
            .collect();
        let mut order: Vec<String> = vec![];
        let mut need_wft = req.force_create_new_workflow_task;
        let mut closed = false;
        let mut deferred: Vec<Deferred> = vec![];
        for cmd in req.commands {
            if closed {
                break;
            }
            let Some(attrs) = cmd.attributes else {
                return Err(status::invalid("command without attributes"));
            };
            match attrs {
                C::ProtocolMessageCommandAttributes(p) => {
                    if let Some(m) = messages.remove(&p.message_id) {
                        self.handle_message(&key, m);
                    }
                    order.push(p.message_id);
                }
                other => {
                    let r =
                        self.handle_command(&key, other, completed_id, &identity, &mut deferred)?;
                    need_wft |= r.need_wft;
                    closed |= r.closed;
                }
            }
        }
        for (_, m) in std::mem::take(&mut messages) {
            if !closed {
                self.handle_message(&key, m);
            }
        }
        for d in deferred {
            self.run_deferred(&key, d);
        }
        let Some(ex) = self.execs.get_mut(&key) else {
            return Ok(());
        };
        if ex.st.is_open() {
            need_wft |= ex.flush();
            let undelivered = ex.st.updates.iter().any(|(id, u)| {
                u.stage == UpdateWorkflowExecutionLifecycleStage::Admitted as i32
                    && u.outcome.is_none()
                    && !wft.delivered_updates.contains(id)
            });
            need_wft |= undelivered;
            if need_wft {
                self.schedule_wft(&key);
            }
            self.flush_pending_queries(&key);
        }
        Ok(())
    }

    fn handle_message(&mut self, key: &ExecKey, m: ProtocolMessage) {
        let Some(ex) = self.execs.get_mut(key) else {
            return;
        };
        let Some(body) = m.body else { return };
        let id = m.protocol_instance_id.clone();
        let tname = body
            .type_url
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .to_string();
        match tname.as_str() {
            "temporal.api.update.v1.Acceptance" => {
                let Ok(a) = upd::Acceptance::decode(body.value.as_slice()) else {
                    return;
                };
                let eid = ex.add(A::WorkflowExecutionUpdateAcceptedEventAttributes(
                    h::WorkflowExecutionUpdateAcceptedEventAttributes {
                        protocol_instance_id: id.clone(),
                        accepted_request_message_id: a.accepted_request_message_id,
                        accepted_request_sequencing_event_id: a
                            .accepted_request_sequencing_event_id,
                        accepted_request: a.accepted_request.clone(),
                    },
                ));
                let u = ex.st.updates.entry(id.clone()).or_insert_with(|| Update {
                    request: a.accepted_request.unwrap_or_default(),
                    stage: 0,
                    outcome: None,
                    accepted_event_id: 0,
                });
                u.stage = UpdateWorkflowExecutionLifecycleStage::Accepted as i32;
                u.accepted_event_id = eid;
            }
            "temporal.api.update.v1.Rejection" => {
                let Ok(r) = upd::Rejection::decode(body.value.as_slice()) else {
                    return;
                };
                if let Some(u) = ex.st.updates.get_mut(&id) {
                    u.stage = UpdateWorkflowExecutionLifecycleStage::Completed as i32;
                    u.outcome = Some(Outcome {
                        value: r.failure.map(outcome::Value::Failure),
                    });
                }
                ex.bump();
            }
            "temporal.api.update.v1.Response" => {
                let Ok(r) = upd::Response::decode(body.value.as_slice()) else {
                    return;
                };
                let accepted = ex
                    .st
                    .updates
                    .get(&id)
                    .map(|u| u.accepted_event_id)
                    .unwrap_or(0);
                ex.add(A::WorkflowExecutionUpdateCompletedEventAttributes(
                    h::WorkflowExecutionUpdateCompletedEventAttributes {
                        meta: r.meta.clone(),
                        accepted_event_id: accepted,
                        outcome: r.outcome.clone(),
                    },
                ));
                if let Some(u) = ex.st.updates.get_mut(&id) {
                    u.stage = UpdateWorkflowExecutionLifecycleStage::Completed as i32;
                    u.outcome = r.outcome;
                }
            }
            other => tracing::warn!(message_type = other, "ignoring unknown protocol message"),
        }
    }

    fn handle_command(
        &mut self,
        key: &ExecKey,
        attrs: C,
        completed_id: i64,
        identity: &str,
        deferred: &mut Vec<Deferred>,
    ) -> RpcResult<CmdEffect> {
        let mut eff = CmdEffect::default();
        let now = now_ms();
        let ex = self
            .execs
            .get_mut(key)
            .ok_or_else(|| status::not_found("workflow execution not found"))?;
        match attrs {
            C::ScheduleActivityTaskCommandAttributes(a) => {
                let tq = a
                    .task_queue
                    .as_ref()
                    .map(|t| t.name.clone())
                    .filter(|n| !n.is_empty())
                    .unwrap_or(ex.st.task_queue.clone());
                let mut s2c = dur_ms(&a.schedule_to_close_timeout);
                if let Some(d) = ex.st.run_deadline_ms {
                    let left = (d - now).max(1);
                    s2c = if s2c > 0 { s2c.min(left) } else { left };
                }
                let mut st2c = dur_ms(&a.start_to_close_timeout);
                if st2c == 0 {
                    st2c = s2c;
                }
                if st2c == 0 {
                    return Err(status::invalid(
                        "ScheduleActivityTask: start_to_close_timeout or schedule_to_close_timeout is required",
                    ));
                }
                if s2c > 0 {
                    st2c = st2c.min(s2c);
                }
                let s2s =
                    dur_ms(&a.schedule_to_start_timeout).min(if s2c > 0 { s2c } else { i64::MAX });
                let hb = dur_ms(&a.heartbeat_timeout).min(st2c);
                let mut rp = a.retry_policy.clone().unwrap_or_default();
                if dur_ms(&rp.initial_interval) == 0 {
                    rp.initial_interval = dur(1000);
                }
                if rp.backoff_coefficient < 1.0 {
                    rp.backoff_coefficient = 2.0;
                }
                if dur_ms(&rp.maximum_interval) == 0 {
                    rp.maximum_interval = dur(dur_ms(&rp.initial_interval) * 100);
                }
                let act_type = a
                    .activity_type
                    .as_ref()
                    .map(|t| t.name.clone())
                    .unwrap_or_default();
                if a.activity_id.is_empty() || act_type.is_empty() {
                    return Err(status::invalid(
                        "ScheduleActivityTask: activity id and type are required",
                    ));
                }
                let sid = ex.add(A::ActivityTaskScheduledEventAttributes(
                    h::ActivityTaskScheduledEventAttributes {
                        activity_id: a.activity_id.clone(),
                        activity_type: a.activity_type.clone(),
                        task_queue: Some(task_queue(&tq)),
                        header: a.header,
                        input: a.input,
                        schedule_to_close_timeout: dur(s2c),
                        schedule_to_start_timeout: dur(s2s),
                        start_to_close_timeout: dur(st2c),
                        heartbeat_timeout: dur(hb),
                        workflow_task_completed_event_id: completed_id,
                        retry_policy: Some(rp.clone()),
                        use_workflow_build_id: a.use_workflow_build_id,
                        priority: a.priority,
                    },
                ));
                ex.st.activities.insert(
                    sid,
                    Activity {
                        scheduled_event_id: sid,
                        activity_id: a.activity_id,
                        activity_type: act_type,
                        task_queue: tq.clone(),
                        attempt: 1,
                        first_scheduled_ms: now,
                        attempt_scheduled_ms: now,
                        started_ms: None,
                        started_identity: String::new(),
                        last_heartbeat_ms: None,
                        heartbeat_details: None,
                        cancel_requested: false,
                        cancel_requested_event_id: 0,
                        retry_policy: rp,
                        schedule_to_close_ms: s2c,
                        schedule_to_start_ms: s2s,
                        start_to_close_ms: st2c,
                        heartbeat_ms: hb,
                        last_failure: None,
                    },
                );
                self.push_task(
                    QueueKey {
                        namespace: key.namespace.clone(),
                        name: tq,
                        activity: true,
                    },
                    Task::Activity {
                        key: key.clone(),
                        scheduled_event_id: sid,
                        attempt: 1,
                    },
                );
                if s2s > 0 {
                    self.arm(now + s2s, act_timer(key, sid, 1, ActTimer::ScheduleToStart));
                }
                if s2c > 0 {
                    self.arm(now + s2c, act_timer(key, sid, 0, ActTimer::ScheduleToClose));
                }
            }
            C::RequestCancelActivityTaskCommandAttributes(a) => {
                let sid = a.scheduled_event_id;
                let Some(act) = ex.st.activities.get(&sid).cloned() else {
                    // Already finished: nothing to cancel (the result is in history).
                    return Ok(eff);
                };
                let crid = ex.add(A::ActivityTaskCancelRequestedEventAttributes(
                    h::ActivityTaskCancelRequestedEventAttributes {
                        scheduled_event_id: sid,
                        workflow_task_completed_event_id: completed_id,
                    },
                ));
                if act.started_ms.is_none() {
                    ex.st.activities.remove(&sid);
                    ex.add(A::ActivityTaskCanceledEventAttributes(
                        h::ActivityTaskCanceledEventAttributes {
                            latest_cancel_requested_event_id: crid,
                            scheduled_event_id: sid,
                            started_event_id: 0,
                            identity: identity.to_string(),
                            ..Default::default()
                        },
                    ));
                    eff.need_wft = true;
                } else if let Some(a) = ex.st.activities.get_mut(&sid) {
                    a.cancel_requested = true;
                    a.cancel_requested_event_id = crid;
                }
            }
            C::StartTimerCommandAttributes(a) => {
                let ms = dur_ms(&a.start_to_fire_timeout).max(1);
                if a.timer_id.is_empty() {
                    return Err(status::invalid("StartTimer: timer id is required"));
                }
                let id = ex.add(A::TimerStartedEventAttributes(
                    h::TimerStartedEventAttributes {
                        timer_id: a.timer_id.clone(),
                        start_to_fire_timeout: a.start_to_fire_timeout,
                        workflow_task_completed_event_id: completed_id,
                    },
                ));
                ex.st.timers.insert(
                    a.timer_id.clone(),
                    Timer {
                        started_event_id: id,
                        fire_ms: now + ms,
                    },
                );
                self.arm(
                    now + ms,
                    TimerTask::User {
                        key: key.clone(),
                        timer_id: a.timer_id,
                        started_event_id: id,
                    },
                );
            }
            C::CancelTimerCommandAttributes(a) => {
                if let Some(t) = ex.st.timers.remove(&a.timer_id) {
                    ex.add(A::TimerCanceledEventAttributes(
                        h::TimerCanceledEventAttributes {
                            timer_id: a.timer_id,
                            started_event_id: t.started_event_id,
                            workflow_task_completed_event_id: completed_id,
                            identity: identity.to_string(),
                        },
                    ));
                }
            }
            C::CompleteWorkflowExecutionCommandAttributes(a) => {
                ex.add(A::WorkflowExecutionCompletedEventAttributes(
                    h::WorkflowExecutionCompletedEventAttributes {
                        result: a.result.clone(),
                        workflow_task_completed_event_id: completed_id,
                        new_execution_run_id: String::new(),
                    },
                ));
                eff.closed = true;
                self.close_run(key, Close::Completed(a.result));
            }
            C::FailWorkflowExecutionCommandAttributes(a) => {
                ex.add(A::WorkflowExecutionFailedEventAttributes(
                    h::WorkflowExecutionFailedEventAttributes {
                        failure: a.failure.clone(),
                        retry_state: RetryState::RetryPolicyNotSet as i32,
                        workflow_task_completed_event_id: completed_id,
                        new_execution_run_id: String::new(),
                    },
                ));
                eff.closed = true;
                self.close_run(key, Close::Failed(Box::new(a.failure)));
            }
            C::CancelWorkflowExecutionCommandAttributes(a) => {
                ex.add(A::WorkflowExecutionCanceledEventAttributes(
                    h::WorkflowExecutionCanceledEventAttributes {
                        workflow_task_completed_event_id: completed_id,
                        details: a.details.clone(),
                    },
                ));
                eff.closed = true;
                self.close_run(key, Close::Canceled(a.details));
            }
            C::ContinueAsNewWorkflowExecutionCommandAttributes(a) => {
                let new_run = new_id();
                let wf_type = a
                    .workflow_type
                    .as_ref()
                    .map(|t| t.name.clone())
                    .filter(|n| !n.is_empty())
                    .unwrap_or(ex.st.workflow_type.clone());
                let tq = a
                    .task_queue
                    .as_ref()
                    .map(|t| t.name.clone())
                    .filter(|n| !n.is_empty())
                    .unwrap_or(ex.st.task_queue.clone());
                let started = started_attrs(ex);
                let run_timeout = if a.workflow_run_timeout.is_some() {
                    dur_ms(&a.workflow_run_timeout)
                } else {
                    started
                        .as_ref()
                        .map(|s| dur_ms(&s.workflow_run_timeout))
                        .unwrap_or(0)
                };
                let wft_timeout = if a.workflow_task_timeout.is_some() {
                    dur_ms(&a.workflow_task_timeout)
                } else {
                    ex.st.wft_timeout_ms
                };
                ex.add(A::WorkflowExecutionContinuedAsNewEventAttributes(
                    h::WorkflowExecutionContinuedAsNewEventAttributes {
                        new_execution_run_id: new_run.clone(),
                        workflow_type: Some(WorkflowType {
                            name: wf_type.clone(),
                        }),
                        task_queue: Some(task_queue(&tq)),
                        input: a.input.clone(),
                        workflow_run_timeout: dur(run_timeout),
                        workflow_task_timeout: dur(wft_timeout),
                        workflow_task_completed_event_id: completed_id,
                        backoff_start_interval: a.backoff_start_interval,
                        initiator: ContinueAsNewInitiator::Workflow as i32,
                        header: a.header.clone(),
                        memo: a.memo.clone(),
                        search_attributes: a.search_attributes.clone(),
                        ..Default::default()
                    },
                ));
                ex.st.continued_as_new_run_id = new_run.clone();
                let r = NewRun {
                    namespace: key.namespace.clone(),
                    workflow_id: key.workflow_id.clone(),
                    run_id: new_run,
                    first_run_id: ex.st.first_run_id.clone(),
                    workflow_type: wf_type,
                    task_queue: tq,
                    input: a.input,
                    execution_timeout_ms: started
                        .as_ref()
                        .map(|s| dur_ms(&s.workflow_execution_timeout))
                        .unwrap_or(0),
                    run_timeout_ms: run_timeout,
                    wft_timeout_ms: wft_timeout,
                    identity: identity.to_string(),
                    request_id: new_id(),
                    retry_policy: a.retry_policy,
                    memo: a.memo.or(ex.st.memo.clone()),
                    search_attributes: a.search_attributes.or(ex.st.search_attributes.clone()),
                    header: a.header,
                    parent: ex.st.parent.clone(),
                    continued_execution_run_id: key.run_id.clone(),
                    initiator: ContinueAsNewInitiator::Workflow as i32,
                    last_completion_result: a.last_completion_result,
                    continued_failure: a.failure,
                    execution_deadline_ms: ex.st.execution_deadline_ms,
                    start_delay_ms: dur_ms(&a.backoff_start_interval),
                    signal: None,
                };
                let parent = ex.st.parent.clone();
                eff.closed = true;
                self.close_run(key, Close::ContinuedAsNew);
                let nk = self.create_run(r);
                // A parent keeps tracking the chain under the new run id.
                if let Some(p) = parent {
                    let pk = ExecKey {
                        namespace: p.namespace,
                        workflow_id: p.workflow_id,
                        run_id: p.run_id,
                    };
                    if let Some(c) = self
                        .execs
                        .get_mut(&pk)
                        .and_then(|pe| pe.st.children.get_mut(&p.initiated_event_id))
                    {
                        c.run_id = nk.run_id.clone();
                        self.dirty.insert(pk);
                    }
                }
            }
            C::StartChildWorkflowExecutionCommandAttributes(a) => {
                let ns = if a.namespace.is_empty() {
                    key.namespace.clone()
                } else {
                    a.namespace.clone()
                };
                let tq = a
                    .task_queue
                    .as_ref()
                    .map(|t| t.name.clone())
                    .filter(|n| !n.is_empty())
                    .unwrap_or(ex.st.task_queue.clone());
                let init = ex.add(A::StartChildWorkflowExecutionInitiatedEventAttributes(
                    h::StartChildWorkflowExecutionInitiatedEventAttributes {
                        namespace: ns.clone(),
                        workflow_id: a.workflow_id.clone(),
                        workflow_type: a.workflow_type.clone(),
                        task_queue: Some(task_queue(&tq)),
                        input: a.input.clone(),
                        workflow_execution_timeout: a.workflow_execution_timeout,
                        workflow_run_timeout: a.workflow_run_timeout,
                        workflow_task_timeout: a.workflow_task_timeout,
                        parent_close_policy: a.parent_close_policy,
                        control: a.control.clone(),
                        workflow_task_completed_event_id: completed_id,
                        workflow_id_reuse_policy: a.workflow_id_reuse_policy,
                        retry_policy: a.retry_policy.clone(),
                        cron_schedule: a.cron_schedule.clone(),
                        header: a.header.clone(),
                        memo: a.memo.clone(),
                        search_attributes: a.search_attributes.clone(),
                        ..Default::default()
                    },
                ));
                deferred.push(Deferred::StartChild(Box::new((init, ns, tq, a))));
            }
            C::SignalExternalWorkflowExecutionCommandAttributes(a) => {
                let ns = if a.namespace.is_empty() {
                    key.namespace.clone()
                } else {
                    a.namespace.clone()
                };
                let init = ex.add(A::SignalExternalWorkflowExecutionInitiatedEventAttributes(
                    h::SignalExternalWorkflowExecutionInitiatedEventAttributes {
                        workflow_task_completed_event_id: completed_id,
                        namespace: ns.clone(),
                        workflow_execution: a.execution.clone(),
                        signal_name: a.signal_name.clone(),
                        input: a.input.clone(),
                        control: a.control.clone(),
                        child_workflow_only: a.child_workflow_only,
                        header: a.header.clone(),
                        ..Default::default()
                    },
                ));
                deferred.push(Deferred::Signal(Box::new((init, ns, a))));
            }
            C::RequestCancelExternalWorkflowExecutionCommandAttributes(a) => {
                let ns = if a.namespace.is_empty() {
                    key.namespace.clone()
                } else {
                    a.namespace.clone()
                };
                let exec = WorkflowExecution {
                    workflow_id: a.workflow_id.clone(),
                    run_id: a.run_id.clone(),
                };
                let init = ex.add(
                    A::RequestCancelExternalWorkflowExecutionInitiatedEventAttributes(
                        h::RequestCancelExternalWorkflowExecutionInitiatedEventAttributes {
                            workflow_task_completed_event_id: completed_id,
                            namespace: ns.clone(),
                            workflow_execution: Some(exec.clone()),
                            control: a.control.clone(),
                            child_workflow_only: a.child_workflow_only,
                            reason: a.reason.clone(),
                            ..Default::default()
                        },
                    ),
                );
                deferred.push(Deferred::Cancel(init, ns, exec, a.control));
            }
            C::RecordMarkerCommandAttributes(a) => {
                ex.add(A::MarkerRecordedEventAttributes(
                    h::MarkerRecordedEventAttributes {
                        marker_name: a.marker_name,
                        details: a.details,
                        workflow_task_completed_event_id: completed_id,
                        header: a.header,
                        failure: a.failure,
                    },
                ));
            }
            C::UpsertWorkflowSearchAttributesCommandAttributes(a) => {
                let sa = a.search_attributes.clone().unwrap_or_default();
                let cur = ex.st.search_attributes.get_or_insert_with(Default::default);
                for (k, v) in sa.indexed_fields.clone() {
                    if v.data.is_empty() || v.data == b"null" {
                        cur.indexed_fields.remove(&k);
                    } else {
                        cur.indexed_fields.insert(k, v);
                    }
                }
                ex.add(A::UpsertWorkflowSearchAttributesEventAttributes(
                    h::UpsertWorkflowSearchAttributesEventAttributes {
                        workflow_task_completed_event_id: completed_id,
                        search_attributes: a.search_attributes,
                    },
                ));
            }
            C::ModifyWorkflowPropertiesCommandAttributes(a) => {
                if let Some(m) = &a.upserted_memo {
                    let cur = ex.st.memo.get_or_insert_with(Default::default);
                    for (k, v) in m.fields.clone() {
                        if v.data.is_empty() {
                            cur.fields.remove(&k);
                        } else {
                            cur.fields.insert(k, v);
                        }
                    }
                }
                ex.add(A::WorkflowPropertiesModifiedEventAttributes(
                    h::WorkflowPropertiesModifiedEventAttributes {
                        workflow_task_completed_event_id: completed_id,
                        upserted_memo: a.upserted_memo,
                    },
                ));
            }
            C::ProtocolMessageCommandAttributes(_) => {}
            C::ScheduleNexusOperationCommandAttributes(_)
            | C::RequestCancelNexusOperationCommandAttributes(_) => {
                return Err(status::invalid(
                    "Nexus operations are not supported by the dev server",
                ));
            }
        }
        self.dirty.insert(key.clone());
        Ok(eff)
    }

    fn run_deferred(&mut self, key: &ExecKey, d: Deferred) {
        if !self.execs.get(key).is_some_and(|e| e.st.is_open()) {
            return;
        }
        match d {
            Deferred::StartChild(b) => {
                let (init, ns, tq, a) = *b;
                let wf_type = a
                    .workflow_type
                    .as_ref()
                    .map(|t| t.name.clone())
                    .unwrap_or_default();
                let exists = self
                    .current_key(&ns, &a.workflow_id)
                    .and_then(|k| self.execs.get(&k))
                    .is_some_and(|e| e.st.is_open());
                let bad = a.workflow_id.is_empty()
                    || wf_type.is_empty()
                    || !self.namespaces.contains_key(&ns);
                if exists || bad {
                    if let Some(ex) = self.execs.get_mut(key) {
                        ex.add(A::StartChildWorkflowExecutionFailedEventAttributes(
                            h::StartChildWorkflowExecutionFailedEventAttributes {
                                namespace: ns,
                                workflow_id: a.workflow_id,
                                workflow_type: a.workflow_type,
                                cause: if exists {
                                    StartChildWorkflowExecutionFailedCause::WorkflowAlreadyExists
                                        as i32
                                } else {
                                    StartChildWorkflowExecutionFailedCause::NamespaceNotFound as i32
                                },
                                control: a.control,
                                initiated_event_id: init,
                                ..Default::default()
                            },
                        ));
                    }
                    self.ensure_wft(key);
                    return;
                }
                let run_id = new_id();
                let exec_timeout = dur_ms(&a.workflow_execution_timeout);
                let ck = self.create_run(NewRun {
                    namespace: ns.clone(),
                    workflow_id: a.workflow_id.clone(),
                    run_id: run_id.clone(),
                    first_run_id: run_id.clone(),
                    workflow_type: wf_type.clone(),
                    task_queue: tq,
                    input: a.input,
                    execution_timeout_ms: exec_timeout,
                    run_timeout_ms: dur_ms(&a.workflow_run_timeout),
                    wft_timeout_ms: dur_ms(&a.workflow_task_timeout),
                    identity: String::new(),
                    request_id: new_id(),
                    retry_policy: a.retry_policy,
                    memo: a.memo,
                    search_attributes: a.search_attributes,
                    header: a.header.clone(),
                    parent: Some(Parent {
                        namespace: key.namespace.clone(),
                        workflow_id: key.workflow_id.clone(),
                        run_id: key.run_id.clone(),
                        initiated_event_id: init,
                    }),
                    execution_deadline_ms: (exec_timeout > 0).then(|| now_ms() + exec_timeout),
                    ..Default::default()
                });
                if let Some(ex) = self.execs.get_mut(key) {
                    let sid = ex.add(A::ChildWorkflowExecutionStartedEventAttributes(
                        h::ChildWorkflowExecutionStartedEventAttributes {
                            namespace: ns.clone(),
                            initiated_event_id: init,
                            workflow_execution: Some(exec_of(&ck)),
                            workflow_type: Some(WorkflowType {
                                name: wf_type.clone(),
                            }),
                            header: a.header,
                            ..Default::default()
                        },
                    ));
                    ex.st.children.insert(
                        init,
                        Child {
                            namespace: ns,
                            workflow_id: ck.workflow_id.clone(),
                            run_id: ck.run_id.clone(),
                            workflow_type: wf_type,
                            started_event_id: sid,
                            parent_close_policy: a.parent_close_policy,
                        },
                    );
                }
                self.ensure_wft(key);
            }
            Deferred::Signal(b) => {
                let (init, ns, a) = *b;
                let target = a.execution.as_ref().and_then(|e| {
                    let k = if e.run_id.is_empty() {
                        self.current_key(&ns, &e.workflow_id)?
                    } else {
                        ExecKey {
                            namespace: ns.clone(),
                            workflow_id: e.workflow_id.clone(),
                            run_id: e.run_id.clone(),
                        }
                    };
                    self.execs.get(&k).filter(|x| x.st.is_open()).map(|_| k)
                });
                match target {
                    Some(tk) => {
                        self.signal(&tk, &a.signal_name, a.input, a.header, "");
                        if let Some(ex) = self.execs.get_mut(key) {
                            ex.add(A::ExternalWorkflowExecutionSignaledEventAttributes(
                                h::ExternalWorkflowExecutionSignaledEventAttributes {
                                    initiated_event_id: init,
                                    namespace: ns,
                                    workflow_execution: a.execution,
                                    control: a.control,
                                    ..Default::default()
                                },
                            ));
                        }
                    }
                    None => {
                        if let Some(ex) = self.execs.get_mut(key) {
                            ex.add(A::SignalExternalWorkflowExecutionFailedEventAttributes(
                                h::SignalExternalWorkflowExecutionFailedEventAttributes {
                                    cause: SignalExternalWorkflowExecutionFailedCause::ExternalWorkflowExecutionNotFound
                                        as i32,
                                    initiated_event_id: init,
                                    namespace: ns,
                                    workflow_execution: a.execution,
                                    control: a.control,
                                    ..Default::default()
                                },
                            ));
                        }
                    }
                }
                self.ensure_wft(key);
            }
            Deferred::Cancel(init, ns, exec, control) => {
                let k = if exec.run_id.is_empty() {
                    self.current_key(&ns, &exec.workflow_id)
                } else {
                    Some(ExecKey {
                        namespace: ns.clone(),
                        workflow_id: exec.workflow_id.clone(),
                        run_id: exec.run_id.clone(),
                    })
                };
                let target = k.filter(|k| self.execs.get(k).is_some_and(|x| x.st.is_open()));
                match target {
                    Some(tk) => {
                        self.request_cancel(
                            &tk,
                            "",
                            "requested by workflow",
                            init,
                            Some(exec_of(key)),
                        );
                        if let Some(ex) = self.execs.get_mut(key) {
                            ex.add(A::ExternalWorkflowExecutionCancelRequestedEventAttributes(
                                h::ExternalWorkflowExecutionCancelRequestedEventAttributes {
                                    initiated_event_id: init,
                                    namespace: ns,
                                    workflow_execution: Some(exec),
                                    ..Default::default()
                                },
                            ));
                        }
                    }
                    None => {
                        if let Some(ex) = self.execs.get_mut(key) {
                            ex.add(A::RequestCancelExternalWorkflowExecutionFailedEventAttributes(
                                h::RequestCancelExternalWorkflowExecutionFailedEventAttributes {
                                    cause: 1, // EXTERNAL_WORKFLOW_EXECUTION_NOT_FOUND
                                    workflow_task_completed_event_id: 0,
                                    namespace: ns,
                                    workflow_execution: Some(exec),
                                    initiated_event_id: init,
                                    control,
                                    ..Default::default()
                                },
                            ));
                        }
                    }
                }
                self.ensure_wft(key);
            }
        }
    }

    // ---------------- activities ----------------

    fn take_activity_task(
        &mut self,
        qk: &QueueKey,
        identity: &str,
    ) -> Option<ws::PollActivityTaskQueueResponse> {
        loop {
            let (task, _) = self.queues.get_mut(qk)?.tasks.pop_front()?;
            let Task::Activity {
                key,
                scheduled_event_id: sid,
                attempt,
            } = task
            else {
                continue;
            };
            let now = now_ms();
            let Some(ex) = self.execs.get_mut(&key) else {
                continue;
            };
            if !ex.st.is_open() {
                continue;
            }
            let Some(act) = ex.st.activities.get_mut(&sid) else {
                continue;
            };
            if act.attempt != attempt || act.started_ms.is_some() {
                continue;
            }
            act.started_ms = Some(now);
            act.started_identity = identity.to_string();
            act.last_heartbeat_ms = None;
            let act = act.clone();
            let sched = ex
                .events
                .get((sid - 1) as usize)
                .and_then(|e| match &e.attributes {
                    Some(A::ActivityTaskScheduledEventAttributes(s)) => Some(s.clone()),
                    _ => None,
                });
            let sched = sched.unwrap_or_default();
            let resp = ws::PollActivityTaskQueueResponse {
                task_token: TaskToken::Activity {
                    key: key.clone(),
                    scheduled_event_id: sid,
                    attempt,
                }
                .encode(),
                workflow_namespace: key.namespace.clone(),
                workflow_type: Some(WorkflowType {
                    name: ex.st.workflow_type.clone(),
                }),
                workflow_execution: Some(exec_of(&key)),
                activity_type: sched.activity_type,
                activity_id: act.activity_id.clone(),
                header: sched.header,
                input: sched.input,
                heartbeat_details: act.heartbeat_details.clone(),
                scheduled_time: Some(ts(act.first_scheduled_ms)),
                current_attempt_scheduled_time: Some(ts(act.attempt_scheduled_ms)),
                started_time: Some(ts(now)),
                attempt,
                schedule_to_close_timeout: dur(act.schedule_to_close_ms),
                start_to_close_timeout: dur(act.start_to_close_ms),
                heartbeat_timeout: dur(act.heartbeat_ms),
                retry_policy: Some(act.retry_policy.clone()),
                priority: sched.priority,
                ..Default::default()
            };
            self.dirty.insert(key.clone());
            self.arm(
                now + act.start_to_close_ms,
                act_timer(&key, sid, attempt, ActTimer::StartToClose),
            );
            if act.heartbeat_ms > 0 {
                self.arm(
                    now + act.heartbeat_ms,
                    act_timer(&key, sid, attempt, ActTimer::Heartbeat),
                );
            }
            return Some(resp);
        }
    }

    fn started_activity(&self, token: &[u8]) -> RpcResult<(ExecKey, i64)> {
        let Some(TaskToken::Activity {
            key,
            scheduled_event_id,
            attempt,
        }) = TaskToken::decode(token)
        else {
            return Err(status::invalid("malformed activity task token"));
        };
        let ex = self
            .execs
            .get(&key)
            .ok_or_else(|| status::not_found("workflow execution not found"))?;
        match ex.st.activities.get(&scheduled_event_id) {
            Some(a) if ex.st.is_open() && a.attempt == attempt && a.started_ms.is_some() => {
                Ok((key, scheduled_event_id))
            }
            _ => Err(status::not_found("activity task not found")),
        }
    }

    fn activity_by_id(
        &self,
        ns: &str,
        wf: &str,
        run: &str,
        activity_id: &str,
    ) -> RpcResult<(ExecKey, i64)> {
        let key = self.resolve(
            ns,
            &Some(WorkflowExecution {
                workflow_id: wf.to_string(),
                run_id: run.to_string(),
            }),
        )?;
        let ex = self
            .execs
            .get(&key)
            .ok_or_else(|| status::not_found("workflow execution not found"))?;
        ex.st
            .activities
            .values()
            .find(|a| a.activity_id == activity_id)
            .map(|a| (key.clone(), a.scheduled_event_id))
            .ok_or_else(|| status::not_found(format!("activity {activity_id} not found")))
    }

    fn heartbeat(&mut self, key: &ExecKey, sid: i64, details: Option<Payloads>) -> RpcResult<bool> {
        let ex = self
            .execs
            .get_mut(key)
            .ok_or_else(|| status::not_found("workflow execution not found"))?;
        let a = ex
            .st
            .activities
            .get_mut(&sid)
            .ok_or_else(|| status::not_found("activity task not found"))?;
        a.last_heartbeat_ms = Some(now_ms());
        if details.is_some() {
            a.heartbeat_details = details;
        }
        let c = a.cancel_requested;
        self.dirty.insert(key.clone());
        Ok(c)
    }

    fn finish_activity(&mut self, key: &ExecKey, sid: i64, identity: &str, result: ActivityResult) {
        let Some(ex) = self.execs.get_mut(key) else {
            return;
        };
        let Some(act) = ex.st.activities.get(&sid).cloned() else {
            return;
        };
        match result {
            ActivityResult::Completed(r) => {
                ex.st.activities.remove(&sid);
                ex.add_activity_result(
                    Some(activity_started(&act, identity)),
                    A::ActivityTaskCompletedEventAttributes(
                        h::ActivityTaskCompletedEventAttributes {
                            result: r,
                            scheduled_event_id: sid,
                            identity: identity.to_string(),
                            ..Default::default()
                        },
                    ),
                );
                self.ensure_wft(key);
            }
            ActivityResult::Canceled(details) => {
                ex.st.activities.remove(&sid);
                ex.add_activity_result(
                    Some(activity_started(&act, identity)),
                    A::ActivityTaskCanceledEventAttributes(
                        h::ActivityTaskCanceledEventAttributes {
                            details,
                            latest_cancel_requested_event_id: act.cancel_requested_event_id,
                            scheduled_event_id: sid,
                            identity: identity.to_string(),
                            ..Default::default()
                        },
                    ),
                );
                self.ensure_wft(key);
            }
            ActivityResult::Failed(f) => self.activity_attempt_failed(key, sid, *f, None, identity),
        }
    }

    /// An attempt failed or timed out: retry per the policy or record the final failure.
    fn activity_attempt_failed(
        &mut self,
        key: &ExecKey,
        sid: i64,
        failure: Option<Failure>,
        timeout: Option<TimeoutType>,
        identity: &str,
    ) {
        let now = now_ms();
        let Some(ex) = self.execs.get_mut(key) else {
            return;
        };
        let Some(act) = ex.st.activities.get(&sid).cloned() else {
            return;
        };
        let (retry_state, delay) = retry_decision(&act, failure.as_ref(), timeout, now);
        if let Some(delay) = delay {
            let Some(a) = ex.st.activities.get_mut(&sid) else {
                return;
            };
            a.attempt += 1;
            a.started_ms = None;
            a.last_failure = failure;
            a.attempt_scheduled_ms = now + delay;
            a.last_heartbeat_ms = None;
            let attempt = a.attempt;
            tracing::debug!(workflow_id = %key.workflow_id, activity = %a.activity_id, attempt, delay, "activity retry scheduled");
            self.dirty.insert(key.clone());
            self.arm(now + delay, act_timer(key, sid, attempt, ActTimer::Retry));
            return;
        }
        ex.st.activities.remove(&sid);
        let started = act.started_ms.map(|_| activity_started(&act, identity));
        let result = match timeout {
            Some(tt) => {
                let mut f = Failure {
                    message: format!("activity {} timeout", timeout_name(tt)),
                    failure_info: Some(FailureInfo::TimeoutFailureInfo(TimeoutFailureInfo {
                        timeout_type: tt as i32,
                        last_heartbeat_details: act.heartbeat_details.clone(),
                    })),
                    ..Default::default()
                };
                f.cause = act.last_failure.clone().map(Box::new);
                A::ActivityTaskTimedOutEventAttributes(h::ActivityTaskTimedOutEventAttributes {
                    failure: Some(f),
                    scheduled_event_id: sid,
                    started_event_id: 0,
                    retry_state: retry_state as i32,
                })
            }
            None => A::ActivityTaskFailedEventAttributes(h::ActivityTaskFailedEventAttributes {
                failure,
                scheduled_event_id: sid,
                identity: identity.to_string(),
                retry_state: retry_state as i32,
                ..Default::default()
            }),
        };
        ex.add_activity_result(started, result);
        self.ensure_wft(key);
    }

    // ---------------- timers ----------------

    fn fire(&mut self, t: TimerTask) {
        let now = now_ms();
        match t {
            TimerTask::User {
                key,
                timer_id,
                started_event_id,
            } => {
                let Some(ex) = self.execs.get_mut(&key) else {
                    return;
                };
                if !ex.st.is_open()
                    || ex
                        .st
                        .timers
                        .get(&timer_id)
                        .is_none_or(|t| t.started_event_id != started_event_id)
                {
                    return;
                }
                ex.st.timers.remove(&timer_id);
                ex.add_or_buffer(A::TimerFiredEventAttributes(h::TimerFiredEventAttributes {
                    timer_id,
                    started_event_id,
                }));
                self.ensure_wft(&key);
            }
            TimerTask::WftTimeout {
                key,
                scheduled_event_id,
            } => {
                let Some(ex) = self.execs.get_mut(&key) else {
                    return;
                };
                let Some(w) = ex.st.wft.clone() else { return };
                if !ex.st.is_open()
                    || w.scheduled_event_id != scheduled_event_id
                    || w.started_event_id.is_none()
                {
                    return;
                }
                ex.st.wft = None;
                ex.add(A::WorkflowTaskTimedOutEventAttributes(
                    h::WorkflowTaskTimedOutEventAttributes {
                        scheduled_event_id,
                        started_event_id: w.started_event_id.unwrap_or(0),
                        timeout_type: TimeoutType::StartToClose as i32,
                    },
                ));
                ex.flush();
                ex.st.next_wft_attempt = w.attempt + 1;
                tracing::info!(workflow_id = %key.workflow_id, attempt = w.attempt, "workflow task timed out");
                self.requeue_attached_queries(&key);
                self.retry_wft(&key, w.attempt + 1);
            }
            TimerTask::WftRetry { key } => {
                let due = self
                    .execs
                    .get(&key)
                    .and_then(|e| e.st.wft_retry_at_ms)
                    .is_some_and(|at| at <= now);
                if due {
                    self.ensure_wft(&key);
                }
            }
            TimerTask::RunTimeout { key } => {
                let Some(ex) = self.execs.get_mut(&key) else {
                    return;
                };
                if !ex.st.is_open() || ex.st.run_deadline_ms.is_none_or(|d| d > now) {
                    return;
                }
                ex.flush();
                ex.add(A::WorkflowExecutionTimedOutEventAttributes(
                    h::WorkflowExecutionTimedOutEventAttributes {
                        retry_state: RetryState::Timeout as i32,
                        new_execution_run_id: String::new(),
                    },
                ));
                self.close_run(&key, Close::TimedOut);
            }
            TimerTask::Activity {
                key,
                scheduled_event_id: sid,
                attempt,
                kind,
            } => {
                let Some(ex) = self.execs.get_mut(&key) else {
                    return;
                };
                if !ex.st.is_open() {
                    return;
                }
                let Some(act) = ex.st.activities.get(&sid).cloned() else {
                    return;
                };
                if kind != ActTimer::ScheduleToClose && act.attempt != attempt {
                    return;
                }
                match kind {
                    ActTimer::Retry => {
                        let tq = act.task_queue.clone();
                        self.push_task(
                            QueueKey {
                                namespace: key.namespace.clone(),
                                name: tq,
                                activity: true,
                            },
                            Task::Activity {
                                key: key.clone(),
                                scheduled_event_id: sid,
                                attempt,
                            },
                        );
                        if act.schedule_to_start_ms > 0 {
                            self.arm(
                                now + act.schedule_to_start_ms,
                                act_timer(&key, sid, attempt, ActTimer::ScheduleToStart),
                            );
                        }
                    }
                    ActTimer::ScheduleToStart => {
                        if act.started_ms.is_none()
                            && act.attempt_scheduled_ms + act.schedule_to_start_ms <= now
                        {
                            self.activity_attempt_failed(
                                &key,
                                sid,
                                None,
                                Some(TimeoutType::ScheduleToStart),
                                "",
                            );
                        }
                    }
                    ActTimer::ScheduleToClose => {
                        if act.first_scheduled_ms + act.schedule_to_close_ms <= now {
                            self.activity_attempt_failed(
                                &key,
                                sid,
                                None,
                                Some(TimeoutType::ScheduleToClose),
                                "",
                            );
                        }
                    }
                    ActTimer::StartToClose => {
                        if let Some(s) = act.started_ms
                            && s + act.start_to_close_ms <= now
                        {
                            self.activity_attempt_failed(
                                &key,
                                sid,
                                None,
                                Some(TimeoutType::StartToClose),
                                "",
                            );
                        }
                    }
                    ActTimer::Heartbeat => {
                        let Some(s) = act.started_ms else { return };
                        let last = act.last_heartbeat_ms.unwrap_or(s);
                        if last + act.heartbeat_ms <= now {
                            self.activity_attempt_failed(
                                &key,
                                sid,
                                None,
                                Some(TimeoutType::Heartbeat),
                                "",
                            );
                        } else {
                            self.arm(
                                last + act.heartbeat_ms,
                                act_timer(&key, sid, attempt, ActTimer::Heartbeat),
                            );
                        }
                    }
                }
            }
        }
    }

    /// After loading from disk: puts every pending task back on its queue and re-arms timers.
    fn rearm(&mut self, key: &ExecKey) {
        let Some(ex) = self.execs.get(key) else {
            return;
        };
        if !ex.st.is_open() {
            return;
        }
        let st = ex.st.clone();
        let now = now_ms();
        match &st.wft {
            Some(w) if w.started_event_id.is_none() => self.push_task(
                QueueKey {
                    namespace: key.namespace.clone(),
                    name: st.task_queue.clone(),
                    activity: false,
                },
                Task::Wft {
                    key: key.clone(),
                    scheduled_event_id: w.scheduled_event_id,
                },
            ),
            Some(w) => self.arm(
                w.timeout_ms.unwrap_or(now),
                TimerTask::WftTimeout {
                    key: key.clone(),
                    scheduled_event_id: w.scheduled_event_id,
                },
            ),
            None => match st.wft_retry_at_ms {
                Some(at) => self.arm(at, TimerTask::WftRetry { key: key.clone() }),
                None if !st.buffered.is_empty() => {
                    if let Some(ex) = self.execs.get_mut(key) {
                        ex.flush();
                    }
                    self.ensure_wft(key);
                }
                None => {}
            },
        }
        for (sid, a) in &st.activities {
            let sid = *sid;
            if let Some(s) = a.started_ms {
                self.arm(
                    s + a.start_to_close_ms,
                    act_timer(key, sid, a.attempt, ActTimer::StartToClose),
                );
                if a.heartbeat_ms > 0 {
                    let last = a.last_heartbeat_ms.unwrap_or(s);
                    self.arm(
                        last + a.heartbeat_ms,
                        act_timer(key, sid, a.attempt, ActTimer::Heartbeat),
                    );
                }
            } else if a.attempt_scheduled_ms > now {
                self.arm(
                    a.attempt_scheduled_ms,
                    act_timer(key, sid, a.attempt, ActTimer::Retry),
                );
            } else {
                self.push_task(
                    QueueKey {
                        namespace: key.namespace.clone(),
                        name: a.task_queue.clone(),
                        activity: true,
                    },
                    Task::Activity {
                        key: key.clone(),
                        scheduled_event_id: sid,
                        attempt: a.attempt,
                    },
                );
                if a.schedule_to_start_ms > 0 {
                    self.arm(
                        a.attempt_scheduled_ms + a.schedule_to_start_ms,
                        act_timer(key, sid, a.attempt, ActTimer::ScheduleToStart),
                    );
                }
            }
            if a.schedule_to_close_ms > 0 {
                self.arm(
                    a.first_scheduled_ms + a.schedule_to_close_ms,
                    act_timer(key, sid, 0, ActTimer::ScheduleToClose),
                );
            }
        }
        for (id, t) in &st.timers {
            self.arm(
                t.fire_ms,
                TimerTask::User {
                    key: key.clone(),
                    timer_id: id.clone(),
                    started_event_id: t.started_event_id,
                },
            );
        }
        if let Some(d) = st.run_deadline_ms {
            self.arm(d, TimerTask::RunTimeout { key: key.clone() });
        }
    }
}

enum Deferred {
    StartChild(Box<(i64, String, String, temporalio_protos::temporal::api::command::v1::StartChildWorkflowExecutionCommandAttributes)>),
    Signal(Box<(i64, String, temporalio_protos::temporal::api::command::v1::SignalExternalWorkflowExecutionCommandAttributes)>),
    Cancel(i64, String, WorkflowExecution, String),
}

#[derive(Default)]
struct CmdEffect {
    need_wft: bool,
    closed: bool,
}

fn act_timer(key: &ExecKey, sid: i64, attempt: i32, kind: ActTimer) -> TimerTask {
    TimerTask::Activity {
        key: key.clone(),
        scheduled_event_id: sid,
        attempt,
        kind,
    }
}

fn activity_started(act: &Activity, identity: &str) -> A {
    A::ActivityTaskStartedEventAttributes(h::ActivityTaskStartedEventAttributes {
        scheduled_event_id: act.scheduled_event_id,
        identity: if act.started_identity.is_empty() {
            identity.to_string()
        } else {
            act.started_identity.clone()
        },
        request_id: new_id(),
        attempt: act.attempt,
        last_failure: act.last_failure.clone(),
        ..Default::default()
    })
}

fn timeout_name(t: TimeoutType) -> &'static str {
    match t {
        TimeoutType::StartToClose => "StartToClose",
        TimeoutType::ScheduleToStart => "ScheduleToStart",
        TimeoutType::ScheduleToClose => "ScheduleToClose",
        TimeoutType::Heartbeat => "Heartbeat",
        TimeoutType::Unspecified => "Unspecified",
    }
}

/// Decides whether a failed attempt is retried: `(retry_state, Some(delay_ms))` to retry.
fn retry_decision(
    act: &Activity,
    failure: Option<&Failure>,
    timeout: Option<TimeoutType>,
    now: i64,
) -> (RetryState, Option<i64>) {
    if matches!(
        timeout,
        Some(TimeoutType::ScheduleToClose | TimeoutType::ScheduleToStart)
    ) {
        return (RetryState::Timeout, None);
    }
    let app: Option<&ApplicationFailureInfo> = failure.and_then(|f| match &f.failure_info {
        Some(FailureInfo::ApplicationFailureInfo(a)) => Some(a),
        _ => None,
    });
    if let Some(a) = app
        && (a.non_retryable
            || act
                .retry_policy
                .non_retryable_error_types
                .iter()
                .any(|t| t == &a.r#type))
    {
        return (RetryState::NonRetryableFailure, None);
    }
    let rp = &act.retry_policy;
    if rp.maximum_attempts > 0 && act.attempt >= rp.maximum_attempts {
        return (RetryState::MaximumAttemptsReached, None);
    }
    let initial = dur_ms(&rp.initial_interval).max(1) as f64;
    let max = dur_ms(&rp.maximum_interval).max(1) as f64;
    let mut delay =
        (initial * rp.backoff_coefficient.max(1.0).powi(act.attempt - 1)).min(max) as i64;
    if let Some(a) = app
        && a.next_retry_delay.is_some()
    {
        delay = dur_ms(&a.next_retry_delay);
    }
    if act.schedule_to_close_ms > 0
        && now + delay >= act.first_scheduled_ms + act.schedule_to_close_ms
    {
        return (RetryState::Timeout, None);
    }
    (RetryState::InProgress, Some(delay))
}

/// Event type name helper for logs and tests.
#[allow(dead_code)]
pub fn event_type_name(e: &HistoryEvent) -> &'static str {
    EventType::try_from(e.event_type)
        .map(|t| t.as_str_name())
        .unwrap_or("EVENT_TYPE_UNSPECIFIED")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn act(attempt: i32, max_attempts: i32, s2c_ms: i64) -> Activity {
        Activity {
            scheduled_event_id: 5,
            activity_id: "a".into(),
            activity_type: "T".into(),
            task_queue: "q".into(),
            attempt,
            first_scheduled_ms: 0,
            attempt_scheduled_ms: 0,
            started_ms: Some(0),
            started_identity: String::new(),
            last_heartbeat_ms: None,
            heartbeat_details: None,
            cancel_requested: false,
            cancel_requested_event_id: 0,
            retry_policy: RetryPolicy {
                initial_interval: dur(1000),
                backoff_coefficient: 2.0,
                maximum_interval: dur(5000),
                maximum_attempts: max_attempts,
                non_retryable_error_types: vec!["Fatal".into()],
            },
            schedule_to_close_ms: s2c_ms,
            schedule_to_start_ms: 0,
            start_to_close_ms: 1000,
            heartbeat_ms: 0,
            last_failure: None,
        }
    }

    fn app_failure(ty: &str, non_retryable: bool) -> Failure {
        Failure {
            message: "x".into(),
            failure_info: Some(FailureInfo::ApplicationFailureInfo(
                ApplicationFailureInfo {
                    r#type: ty.into(),
                    non_retryable,
                    ..Default::default()
                },
            )),
            ..Default::default()
        }
    }

    #[test]
    fn retry_backoff_grows_and_caps() {
        let f = app_failure("Oops", false);
        assert_eq!(
            retry_decision(&act(1, 0, 0), Some(&f), None, 0),
            (RetryState::InProgress, Some(1000))
        );
        assert_eq!(
            retry_decision(&act(2, 0, 0), Some(&f), None, 0),
            (RetryState::InProgress, Some(2000))
        );
        assert_eq!(
            retry_decision(&act(5, 0, 0), Some(&f), None, 0),
            (RetryState::InProgress, Some(5000))
        );
    }

    #[test]
    fn retry_stops_for_attempts_types_and_deadlines() {
        let f = app_failure("Oops", false);
        assert_eq!(
            retry_decision(&act(3, 3, 0), Some(&f), None, 0).0,
            RetryState::MaximumAttemptsReached
        );
        assert_eq!(
            retry_decision(&act(1, 0, 0), Some(&app_failure("Fatal", false)), None, 0).0,
            RetryState::NonRetryableFailure
        );
        assert_eq!(
            retry_decision(&act(1, 0, 0), Some(&app_failure("Oops", true)), None, 0).0,
            RetryState::NonRetryableFailure
        );
        // The next attempt would start after the schedule-to-close deadline.
        assert_eq!(
            retry_decision(&act(1, 0, 500), Some(&f), None, 0).0,
            RetryState::Timeout
        );
        assert_eq!(
            retry_decision(&act(1, 0, 0), None, Some(TimeoutType::ScheduleToStart), 0).0,
            RetryState::Timeout
        );
        // Start-to-close timeouts are retried.
        assert_eq!(
            retry_decision(&act(1, 0, 0), None, Some(TimeoutType::StartToClose), 0),
            (RetryState::InProgress, Some(1000))
        );
    }

    #[test]
    fn visibility_query_parsing() {
        let f = Filter::parse("WorkflowType = 'A' AND ExecutionStatus=\"Running\"").unwrap();
        assert_eq!(
            f.clauses,
            vec![
                ("WorkflowType".to_string(), "A".to_string()),
                ("ExecutionStatus".to_string(), "Running".to_string())
            ]
        );
        assert!(Filter::parse("").unwrap().clauses.is_empty());
        assert_eq!(
            Filter::parse("WorkflowId = a").err().unwrap().code(),
            tonic::Code::InvalidArgument
        );
        assert_eq!(
            Filter::parse("A = 'x' OR B = 'y'").err().unwrap().code(),
            tonic::Code::InvalidArgument
        );
        assert_eq!(
            Filter::parse("garbage").err().unwrap().code(),
            tonic::Code::InvalidArgument
        );
    }

    #[tokio::test]
    async fn in_memory_engine_has_default_namespace_and_rejects_unknown() {
        let e = Engine::open(&Database::InMemory, "default").unwrap();
        assert!(
            e.describe_namespace(ws::DescribeNamespaceRequest {
                namespace: "default".into(),
                ..Default::default()
            })
            .await
            .is_ok()
        );
        let err = e
            .describe_namespace(ws::DescribeNamespaceRequest {
                namespace: "other".into(),
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_eq!(err.code(), tonic::Code::NotFound);
        e.register_namespace(ws::RegisterNamespaceRequest {
            namespace: "other".into(),
            ..Default::default()
        })
        .await
        .unwrap();
        let err = e
            .register_namespace(ws::RegisterNamespaceRequest {
                namespace: "other".into(),
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_eq!(err.code(), tonic::Code::AlreadyExists);
        assert_eq!(e.list_namespaces().await.unwrap().namespaces.len(), 2);
    }
}
