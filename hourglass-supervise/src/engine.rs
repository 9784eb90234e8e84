//! The supervisor's event loop: one task owns the state and handles events serially
//! (child exits, handle requests, due restarts, shutdown), like a gen_server.

use std::collections::BTreeMap;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use futures::FutureExt;
use futures::stream::{FuturesUnordered, StreamExt};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::child::{ChildFuture, ChildKind, ChildSpec, Restart, Shutdown, StartFuture};
use crate::context::{ChildContext, ContextInner, IncarnationGuard};
use crate::error::{StartError, SuperviseError};
use crate::exit::{Exit, panic_message};
use crate::intensity::{Intensity, IntensityLimit};
use crate::registry::{OwnerCore, Registry, RegistryOwner};
use crate::snapshot::{
    ChildCounts, ChildInfo, ChildRef, ChildSnapshot, ChildState, FlatSnapshot, SupervisorSnapshot,
};
use crate::supervisor::Strategy;

mod concurrent;
mod requests;

/// Requests from handles to the loop.
pub(crate) enum Request {
    WhichChildren(oneshot::Sender<Vec<ChildInfo>>),
    CountChildren(oneshot::Sender<ChildCounts>),
    Snapshot(oneshot::Sender<FlatSnapshot>),
    StartChild(ChildSpec, oneshot::Sender<Result<ChildRef, SuperviseError>>),
    TerminateChild(Target, oneshot::Sender<Result<(), SuperviseError>>),
    KillChild(Target, oneshot::Sender<Result<bool, SuperviseError>>),
    RestartChild(String, oneshot::Sender<Result<ChildRef, SuperviseError>>),
    DeleteChild(String, oneshot::Sender<Result<(), SuperviseError>>),
}

/// How a request names a child.
pub(crate) enum Target {
    Id(String),
    Ref(ChildRef),
}

/// Sent by a child's task as its very last step (after its registry names are gone).
struct Event {
    seq: u64,
    incarnation: u64,
}

#[derive(Debug, Clone, Copy)]
pub(crate) enum Mode {
    Static(Strategy),
    Dynamic {
        max_children: Option<usize>,
        /// Start phases of `start_child` run off the loop, several at once (see `concurrent`).
        concurrent_starts: bool,
    },
}

struct Running {
    handle: JoinHandle<Exit>,
    ctx: Arc<ContextInner>,
    started: Instant,
}

impl Drop for Running {
    // If the supervisor itself is dropped (aborted by its parent), its children go with it,
    // like linked processes. After a normal join this is a no-op.
    fn drop(&mut self) {
        self.ctx.shutdown.cancel();
        self.handle.abort();
    }
}

enum State {
    Running(Running),
    /// A concurrent start phase is under way (dynamic supervisors with concurrent starts).
    Starting(concurrent::Starting),
    Restarting,
    Terminated,
}

struct Entry {
    spec: ChildSpec,
    state: State,
    restarts: u64,
    consecutive: u32,
}

/// A new incarnation whose start phase has not run yet.
struct Prepared {
    incarnation: u64,
    ctx: Arc<ContextInner>,
    guard: IncarnationGuard,
    init: StartFuture,
}

struct Pending {
    due: Instant,
    seqs: Vec<u64>,
    /// Whether this restart was already counted toward intensity (backoff delays are; retries
    /// after a failed start are counted when they fire).
    counted: bool,
}

pub(crate) struct Engine {
    pub(crate) id: Arc<str>,
    mode: Mode,
    limit: IntensityLimit,
    intensity: Intensity,
    pub(crate) registry: Registry,
    children: BTreeMap<u64, Entry>,
    next_seq: u64,
    next_incarnation: u64,
    total_restarts: u64,
    pending: Vec<Pending>,
    events_tx: mpsc::UnboundedSender<Event>,
    events_rx: mpsc::UnboundedReceiver<Event>,
    /// Concurrent start phases report here when they end.
    started_tx: mpsc::UnboundedSender<Event>,
    started_rx: mpsc::UnboundedReceiver<Event>,
    pub(crate) requests_tx: mpsc::UnboundedSender<Request>,
    requests_rx: mpsc::UnboundedReceiver<Request>,
    pub(crate) shutdown: CancellationToken,
    /// Owns names the supervisor registered for itself (top-level `register_as`).
    pub(crate) owner: Option<RegistryOwner>,
}

async fn run_child(
    fut: ChildFuture,
    guard: IncarnationGuard,
    events: mpsc::UnboundedSender<Event>,
    seq: u64,
    incarnation: u64,
) -> Exit {
    let exit = match AssertUnwindSafe(fut).catch_unwind().await {
        Ok(exit) => exit,
        Err(payload) => Exit::Panic(panic_message(&*payload)),
    };
    // Names go first, then the supervisor learns of the exit.
    drop(guard);
    let _ = events.send(Event { seq, incarnation });
    exit
}

async fn join(handle: &mut JoinHandle<Exit>) -> Exit {
    match handle.await {
        Ok(exit) => exit,
        Err(e) if e.is_panic() => Exit::Panic(panic_message(&*e.into_panic())),
        Err(_) => Exit::Killed,
    }
}

fn signal(running: &Running, shutdown: Shutdown) {
    match shutdown {
        Shutdown::BrutalKill => running.handle.abort(),
        Shutdown::Timeout(_) | Shutdown::Infinity => running.ctx.shutdown.cancel(),
    }
}

/// Stops one incarnation per its shutdown mode and joins it. Signals first (idempotent).
async fn stop_running(sup: &str, mut running: Running, shutdown: Shutdown) -> Exit {
    signal(&running, shutdown);
    let exit = match shutdown {
        Shutdown::BrutalKill | Shutdown::Infinity => join(&mut running.handle).await,
        Shutdown::Timeout(limit) => {
            match tokio::time::timeout(limit, join(&mut running.handle)).await {
                Ok(exit) => exit,
                Err(_) => {
                    tracing::warn!(
                        supervisor = sup,
                        child = %running.ctx.id,
                        incarnation = running.ctx.incarnation,
                        timeout_ms = limit.as_millis() as u64,
                        "child did not stop within its shutdown timeout; killing it"
                    );
                    running.handle.abort();
                    join(&mut running.handle).await
                }
            }
        }
    };
    tracing::info!(
        supervisor = sup,
        child = %running.ctx.id,
        incarnation = running.ctx.incarnation,
        reason = %exit,
        "child stopped"
    );
    exit
}

/// Stops already-signalled incarnations concurrently: one timer for the whole set (the
/// earliest outstanding deadline), each child aborted when its own timeout has passed.
async fn stop_all(sup: &str, stops: Vec<(Running, Shutdown)>) {
    let now = Instant::now();
    let mut deadlines: Vec<(Instant, usize)> = Vec::new();
    let mut aborts = Vec::with_capacity(stops.len());
    let mut joins = FuturesUnordered::new();
    for (i, (mut running, shutdown)) in stops.into_iter().enumerate() {
        let limit = match shutdown {
            Shutdown::Timeout(limit) => {
                deadlines.push((now + limit, i));
                limit
            }
            Shutdown::BrutalKill | Shutdown::Infinity => Duration::ZERO,
        };
        aborts.push((running.handle.abort_handle(), running.ctx.id.clone(), limit));
        joins.push(async move {
            let exit = join(&mut running.handle).await;
            (running, exit)
        });
    }
    deadlines.sort_unstable();
    let mut next = 0;
    loop {
        let wake_at = deadlines.get(next).map(|d| d.0);
        tokio::select! {
            biased;
            item = joins.next() => match item {
                Some((running, exit)) => tracing::info!(
                    supervisor = sup,
                    child = %running.ctx.id,
                    incarnation = running.ctx.incarnation,
                    reason = %exit,
                    "child stopped"
                ),
                None => break,
            },
            _ = tokio::time::sleep_until(wake_at.unwrap_or(now)), if wake_at.is_some() => {
                let now = Instant::now();
                while let Some(&(deadline, i)) = deadlines.get(next) {
                    if deadline > now {
                        break;
                    }
                    next += 1;
                    let (abort, child, limit) = &aborts[i];
                    if !abort.is_finished() {
                        tracing::warn!(
                            supervisor = sup,
                            child = %child,
                            timeout_ms = limit.as_millis() as u64,
                            "child did not stop within its shutdown timeout; killing it"
                        );
                        abort.abort();
                    }
                }
            }
        }
    }
}

impl Engine {
    pub(crate) fn new(
        id: Arc<str>,
        mode: Mode,
        limit: IntensityLimit,
        registry: Registry,
        shutdown: CancellationToken,
    ) -> Self {
        let (events_tx, events_rx) = mpsc::unbounded_channel();
        let (requests_tx, requests_rx) = mpsc::unbounded_channel();
        let (started_tx, started_rx) = mpsc::unbounded_channel();
        Self {
            id,
            mode,
            limit,
            intensity: Intensity::new(limit),
            registry,
            children: BTreeMap::new(),
            next_seq: 0,
            next_incarnation: 0,
            total_restarts: 0,
            pending: Vec::new(),
            events_tx,
            events_rx,
            started_tx,
            started_rx,
            requests_tx,
            requests_rx,
            shutdown,
            owner: None,
        }
    }

    fn is_dynamic(&self) -> bool {
        matches!(self.mode, Mode::Dynamic { .. })
    }

    fn insert(&mut self, spec: ChildSpec) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.children.insert(
            seq,
            Entry {
                spec,
                state: State::Restarting,
                restarts: 0,
                consecutive: 0,
            },
        );
        seq
    }

    /// Adds a static child (not started yet; `init` starts them in order).
    pub(crate) fn add_static(&mut self, spec: ChildSpec) {
        self.insert(spec);
    }

    /// Starts all static children in order. If one fails, the ones already started are stopped
    /// in reverse order and the error is returned (OTP `init_children`).
    pub(crate) async fn init(&mut self) -> Result<(), SuperviseError> {
        tracing::info!(supervisor = %self.id, children = self.children.len(), "supervisor starting");
        let seqs: Vec<u64> = self.children.keys().copied().collect();
        for seq in seqs {
            if let Err(reason) = self.start_incarnation(seq).await {
                let child = self.child_id(seq);
                tracing::error!(supervisor = %self.id, child = %child, error = %reason, "child failed to start; supervisor start aborted");
                self.terminate_all().await;
                return Err(SuperviseError::StartFailed {
                    supervisor: self.id.to_string(),
                    child,
                    reason,
                });
            }
        }
        tracing::info!(supervisor = %self.id, children = self.children.len(), "supervisor started");
        Ok(())
    }

    fn child_id(&self, seq: u64) -> String {
        self.children
            .get(&seq)
            .map(|e| e.spec.id.to_string())
            .unwrap_or_default()
    }

    /// Runs the start phase of a new incarnation of `seq` and spawns its task.
    async fn start_incarnation(&mut self, seq: u64) -> Result<(), StartError> {
        let prepared = self.prepare_incarnation(seq)?;
        let Prepared {
            incarnation,
            ctx,
            guard,
            init,
        } = prepared;
        match init.await {
            Ok(fut) => self.launch_incarnation(seq, incarnation, ctx, guard, fut),
            Err(e) => {
                ctx.shutdown.cancel();
                drop(guard);
                Err(e)
            }
        }
    }

    /// Builds a new incarnation's context and calls the child's start function; the returned
    /// start phase ends early (with an error) when the supervisor is shut down.
    fn prepare_incarnation(&mut self, seq: u64) -> Result<Prepared, StartError> {
        let Some(entry) = self.children.get(&seq) else {
            return Err(StartError::new("child was removed before it could start"));
        };
        let start = entry.spec.start.clone();
        let incarnation = self.next_incarnation;
        self.next_incarnation += 1;
        let ctx = Arc::new(ContextInner {
            id: entry.spec.id.clone(),
            supervisor: self.id.clone(),
            incarnation,
            restarts: entry.restarts,
            shutdown: CancellationToken::new(),
            registry: self.registry.clone(),
            owner: OwnerCore::new(),
            nested: OnceLock::new(),
            os_pid: std::sync::atomic::AtomicU32::new(0),
        });
        let guard = IncarnationGuard(ctx.clone());
        let child_ctx = ChildContext { inner: ctx.clone() };
        let init = match std::panic::catch_unwind(AssertUnwindSafe(|| start(child_ctx))) {
            Ok(init) => init,
            Err(p) => {
                ctx.shutdown.cancel();
                drop(guard);
                return Err(StartError::new(format!(
                    "start function panicked: {}",
                    panic_message(&*p)
                )));
            }
        };
        let sup_shutdown = self.shutdown.clone();
        let init = Box::pin(async move {
            let init = AssertUnwindSafe(init).catch_unwind();
            // Init first: a start phase that is ready at once never touches the token.
            tokio::select! {
                biased;
                r = init => r.unwrap_or_else(|p| Err(StartError::new(format!(
                    "start function panicked: {}",
                    panic_message(&*p)
                )))),
                _ = sup_shutdown.cancelled() => Err(StartError::new(
                    "the supervisor was shut down while the child was starting",
                )),
            }
        });
        Ok(Prepared {
            incarnation,
            ctx,
            guard,
            init,
        })
    }

    /// Spawns the running phase of an incarnation whose start phase succeeded.
    fn launch_incarnation(
        &mut self,
        seq: u64,
        incarnation: u64,
        ctx: Arc<ContextInner>,
        guard: IncarnationGuard,
        fut: ChildFuture,
    ) -> Result<(), StartError> {
        let handle = tokio::spawn(run_child(
            fut,
            guard,
            self.events_tx.clone(),
            seq,
            incarnation,
        ));
        let Some(entry) = self.children.get_mut(&seq) else {
            handle.abort();
            return Err(StartError::new("child was removed while it was starting"));
        };
        tracing::info!(
            supervisor = %self.id,
            child = %entry.spec.id,
            incarnation,
            restarts = entry.restarts,
            "child started"
        );
        entry.state = State::Running(Running {
            handle,
            ctx,
            started: Instant::now(),
        });
        Ok(())
    }

    /// The loop. Returns the supervisor's exit reason.
    pub(crate) async fn run(mut self) -> Exit {
        let shutdown = self.shutdown.clone();
        let exit = loop {
            let next_due = self.pending.iter().map(|p| p.due).min();
            tokio::select! {
                biased;
                _ = shutdown.cancelled() => {
                    self.terminate_all().await;
                    break Exit::Shutdown;
                }
                Some(ev) = self.events_rx.recv() => {
                    if let Some(exit) = self.on_exit(ev).await {
                        break exit;
                    }
                }
                Some(ev) = self.started_rx.recv() => self.on_started(ev).await,
                Some(req) = self.requests_rx.recv() => self.on_request(req).await,
                _ = tokio::time::sleep_until(next_due.unwrap_or_else(Instant::now)), if next_due.is_some() => {
                    if let Some(exit) = self.fire_pending().await {
                        break exit;
                    }
                }
            }
        };
        if exit.is_abnormal() {
            tracing::error!(supervisor = %self.id, reason = %exit, "supervisor exited");
        } else {
            tracing::info!(supervisor = %self.id, reason = %exit, "supervisor exited");
        }
        exit
    }

    async fn on_exit(&mut self, ev: Event) -> Option<Exit> {
        let dynamic = self.is_dynamic();
        let entry = self.children.get_mut(&ev.seq)?;
        match &entry.state {
            State::Running(r) if r.ctx.incarnation == ev.incarnation => {}
            _ => return None, // stale: that incarnation was already stopped and joined
        }
        let State::Running(mut running) = std::mem::replace(&mut entry.state, State::Restarting)
        else {
            return None;
        };
        let exit = join(&mut running.handle).await;
        let ran_for = running.started.elapsed();
        drop(running);
        let id = entry.spec.id.clone();
        let restart_type = entry.spec.restart;
        if exit.is_abnormal() {
            tracing::warn!(supervisor = %self.id, child = %id, incarnation = ev.incarnation, reason = %exit, "child exited abnormally");
        } else {
            tracing::info!(supervisor = %self.id, child = %id, incarnation = ev.incarnation, reason = %exit, "child exited");
        }
        let restart = match restart_type {
            Restart::Permanent => true,
            Restart::Transient => exit.is_abnormal(),
            Restart::Temporary => false,
        };
        if !restart {
            if restart_type == Restart::Temporary || dynamic {
                self.children.remove(&ev.seq);
            } else {
                entry.state = State::Terminated;
            }
            return None;
        }
        // Counted before the restart is attempted (OTP add_restart).
        if !self.intensity.add_restart(Instant::now()) {
            return Some(self.escalate(&id, &exit).await);
        }
        self.total_restarts += 1;
        let delay = match self.children.get_mut(&ev.seq) {
            Some(entry) => match entry.spec.backoff {
                Some(b) => {
                    if ran_for >= b.reset_after {
                        entry.consecutive = 0;
                    }
                    entry.consecutive = entry.consecutive.saturating_add(1);
                    b.delay(entry.consecutive)
                }
                None => Duration::ZERO,
            },
            None => Duration::ZERO,
        };
        let group = match self.mode {
            Mode::Static(Strategy::OneForAll) => {
                let others: Vec<u64> = self
                    .children
                    .keys()
                    .copied()
                    .filter(|s| *s != ev.seq)
                    .collect();
                let mut g = self.take_down(others).await;
                g.push(ev.seq);
                g.sort_unstable();
                g
            }
            Mode::Static(Strategy::RestForOne) => {
                let later: Vec<u64> = self.children.range(ev.seq + 1..).map(|(s, _)| *s).collect();
                let mut g = self.take_down(later).await;
                g.push(ev.seq);
                g.sort_unstable();
                g
            }
            Mode::Static(Strategy::OneForOne) | Mode::Dynamic { .. } => vec![ev.seq],
        };
        if delay > Duration::ZERO {
            tracing::info!(supervisor = %self.id, child = %id, delay_ms = delay.as_millis() as u64, "restart delayed by backoff");
            self.pending.push(Pending {
                due: Instant::now() + delay,
                seqs: group,
                counted: true,
            });
            return None;
        }
        self.start_group(group).await;
        None
    }

    /// Stops the given siblings in reverse start order for a group restart. Temporary children
    /// are removed (never restarted by a cascade); the rest are marked restarting and returned.
    async fn take_down(&mut self, seqs: Vec<u64>) -> Vec<u64> {
        let mut group = Vec::with_capacity(seqs.len());
        for seq in seqs.into_iter().rev() {
            let Some(entry) = self.children.get_mut(&seq) else {
                continue;
            };
            let shutdown = entry.spec.shutdown_mode();
            let restart_type = entry.spec.restart;
            let prev = std::mem::replace(&mut entry.state, State::Restarting);
            if let State::Running(running) = prev {
                stop_running(&self.id, running, shutdown).await;
            }
            self.remove_pending(seq);
            if restart_type == Restart::Temporary {
                self.children.remove(&seq);
            } else {
                group.push(seq);
            }
        }
        group
    }

    fn remove_pending(&mut self, seq: u64) {
        for p in &mut self.pending {
            p.seqs.retain(|s| *s != seq);
        }
        self.pending.retain(|p| !p.seqs.is_empty());
    }

    /// Starts the children of a restart group in start order. A failed start schedules a retry
    /// of the rest of the group via a pending entry (counted toward intensity when it fires).
    async fn start_group(&mut self, seqs: Vec<u64>) {
        for (i, &seq) in seqs.iter().enumerate() {
            if self.shutdown.is_cancelled() {
                // The loop is about to stop everything; starting more would be wasted work.
                return;
            }
            let Some(entry) = self.children.get_mut(&seq) else {
                continue;
            };
            if !matches!(entry.state, State::Restarting) {
                continue;
            }
            entry.restarts += 1;
            match self.start_incarnation(seq).await {
                Ok(()) => {
                    tracing::info!(supervisor = %self.id, child = %self.child_id(seq), "child restarted");
                }
                Err(e) => {
                    if self.shutdown.is_cancelled() {
                        return;
                    }
                    let delay = match self.children.get_mut(&seq) {
                        Some(entry) => match entry.spec.backoff {
                            Some(b) => {
                                entry.consecutive = entry.consecutive.saturating_add(1);
                                b.delay(entry.consecutive)
                            }
                            None => Duration::ZERO,
                        },
                        None => Duration::ZERO,
                    };
                    tracing::error!(
                        supervisor = %self.id,
                        child = %self.child_id(seq),
                        error = %e,
                        retry_in_ms = delay.as_millis() as u64,
                        "child failed to restart; will retry"
                    );
                    self.pending.push(Pending {
                        due: Instant::now() + delay,
                        seqs: seqs[i..].to_vec(),
                        counted: false,
                    });
                    return;
                }
            }
        }
    }

    async fn fire_pending(&mut self) -> Option<Exit> {
        let now = Instant::now();
        let mut due = Vec::new();
        let mut i = 0;
        while i < self.pending.len() {
            if self.pending[i].due <= now {
                due.push(self.pending.remove(i));
            } else {
                i += 1;
            }
        }
        for p in due {
            if !p.counted {
                if !self.intensity.add_restart(Instant::now()) {
                    let id = p
                        .seqs
                        .first()
                        .map(|s| self.child_id(*s))
                        .unwrap_or_default();
                    return Some(
                        self.escalate(&id, &Exit::Error("failed to restart".into()))
                            .await,
                    );
                }
                self.total_restarts += 1;
            }
            self.start_group(p.seqs).await;
        }
        None
    }

    async fn escalate(&mut self, child: &str, exit: &Exit) -> Exit {
        tracing::error!(
            supervisor = %self.id,
            child,
            reason = %exit,
            max_restarts = self.limit.max_restarts,
            period_ms = self.limit.period.as_millis() as u64,
            "restart intensity exceeded; shutting down supervisor and escalating"
        );
        self.terminate_all().await;
        Exit::Escalated(format!(
            "supervisor `{}` exceeded {} restarts in {:?}; last exit: child `{}` ({})",
            self.id, self.limit.max_restarts, self.limit.period, child, exit
        ))
    }

    /// Stops every child: static ones one at a time in reverse start order, dynamic ones all
    /// at once (each under its own timeout, all started together).
    pub(crate) async fn terminate_all(&mut self) {
        self.pending.clear();
        let seqs: Vec<u64> = self.children.keys().rev().copied().collect();
        if self.is_dynamic() {
            let mut stops = Vec::new();
            let mut starts = Vec::new();
            for seq in seqs {
                if let Some(entry) = self.children.get_mut(&seq) {
                    let shutdown = entry.spec.shutdown_mode();
                    match std::mem::replace(&mut entry.state, State::Terminated) {
                        State::Running(running) => {
                            signal(&running, shutdown);
                            stops.push((running, shutdown));
                        }
                        State::Starting(starting) => {
                            starting.signal();
                            starts.push(concurrent::stop_starting(
                                &self.id,
                                self.events_tx.clone(),
                                seq,
                                starting,
                                shutdown,
                            ));
                        }
                        State::Restarting | State::Terminated => {}
                    }
                }
            }
            futures::join!(stop_all(&self.id, stops), futures::future::join_all(starts));
            self.children.clear();
        } else {
            for seq in seqs {
                if let Some(entry) = self.children.get_mut(&seq) {
                    let shutdown = entry.spec.shutdown_mode();
                    if let State::Running(running) =
                        std::mem::replace(&mut entry.state, State::Terminated)
                    {
                        stop_running(&self.id, running, shutdown).await;
                    }
                }
            }
        }
    }
}
