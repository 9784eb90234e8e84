//! Concurrent start phases for dynamic supervisors
//! ([`DynamicSupervisorSpec::concurrent_starts`](crate::DynamicSupervisorSpec::concurrent_starts)).
//!
//! OTP runs a child's `init` inside the supervisor, so a slow start (an OS process that must
//! answer a handshake) holds up every other request. With concurrent starts, `start_child`
//! inserts the child as *starting*, runs its start phase on its own task, and the loop goes on;
//! when the phase ends the loop either spawns the running phase (and answers the caller with the
//! child's reference) or forgets the child (and answers with the start error). Restarts still
//! run inside the loop, as in OTP. A child terminated while starting is signalled through its
//! context's shutdown token and waited for per its shutdown mode; if its start phase succeeded
//! anyway, the running phase is started and stopped at once, so whatever it owns is released
//! the normal way.

use std::sync::Arc;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::{
    ChildFuture, ChildRef, ContextInner, Engine, Event, IncarnationGuard, Prepared, Running,
    Shutdown, State, run_child, stop_running,
};
use crate::child::ChildSpec;
use crate::error::{StartError, SuperviseError};

type Reply = oneshot::Sender<Result<ChildRef, SuperviseError>>;
type Outcome = Result<(ChildFuture, IncarnationGuard), StartError>;

/// A child whose start phase runs on its own task.
pub(crate) struct Starting {
    incarnation: u64,
    ctx: Arc<ContextInner>,
    task: Option<JoinHandle<Outcome>>,
    reply: Option<Reply>,
}

impl Starting {
    /// Asks the start phase to give up (it sees its context's shutdown token).
    pub(super) fn signal(&self) {
        self.ctx.shutdown.cancel();
    }

    async fn join(&mut self) -> Outcome {
        let Some(task) = self.task.as_mut() else {
            return Err(StartError::new("start phase already joined"));
        };
        let outcome = match task.await {
            Ok(outcome) => outcome,
            Err(e) if e.is_panic() => Err(StartError::new(format!(
                "start function panicked: {}",
                crate::exit::panic_message(&*e.into_panic())
            ))),
            Err(_) => Err(StartError::new("start phase was aborted")),
        };
        self.task = None;
        outcome
    }

    fn answer(&mut self, result: Result<ChildRef, SuperviseError>) {
        if let Some(reply) = self.reply.take() {
            let _ = reply.send(result);
        }
    }
}

impl Drop for Starting {
    // The supervisor itself is going away without a clean stop: the start goes with it.
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            self.ctx.shutdown.cancel();
            task.abort();
        }
    }
}

impl Engine {
    /// Inserts `spec` as starting and runs its start phase on its own task; `reply` is answered
    /// when that phase ends (see the module docs).
    pub(super) fn start_child_concurrently(&mut self, spec: ChildSpec, reply: Reply) {
        if let super::Mode::Dynamic {
            max_children: Some(max),
            ..
        } = self.mode
            && self.children.len() >= max
        {
            let _ = reply.send(Err(SuperviseError::MaxChildren {
                supervisor: self.id.to_string(),
                max,
            }));
            return;
        }
        let child = spec.id.to_string();
        let seq = self.insert(spec);
        let Prepared {
            incarnation,
            ctx,
            guard,
            init,
        } = match self.prepare_incarnation(seq) {
            Ok(prepared) => prepared,
            Err(reason) => {
                self.children.remove(&seq);
                tracing::error!(supervisor = %self.id, child = %child, error = %reason, "child failed to start");
                let _ = reply.send(Err(SuperviseError::StartFailed {
                    supervisor: self.id.to_string(),
                    child,
                    reason,
                }));
                return;
            }
        };
        let notify = self.started_tx.clone();
        let task_ctx = ctx.clone();
        let task = tokio::spawn(async move {
            let outcome = match init.await {
                Ok(fut) => Ok((fut, guard)),
                Err(e) => {
                    // Names go before the supervisor hears of the failure.
                    task_ctx.shutdown.cancel();
                    drop(guard);
                    Err(e)
                }
            };
            let _ = notify.send(Event { seq, incarnation });
            outcome
        });
        tracing::debug!(supervisor = %self.id, child = %child, incarnation, "child start phase running concurrently");
        if let Some(entry) = self.children.get_mut(&seq) {
            entry.state = State::Starting(Starting {
                incarnation,
                ctx,
                task: Some(task),
                reply: Some(reply),
            });
        }
    }

    /// A concurrent start phase ended: run the child, or forget it and report why.
    pub(super) async fn on_started(&mut self, ev: Event) {
        let Some(entry) = self.children.get_mut(&ev.seq) else {
            return;
        };
        match &entry.state {
            State::Starting(s) if s.incarnation == ev.incarnation => {}
            _ => return, // stale: terminated while starting, and already handled
        }
        let State::Starting(mut starting) = std::mem::replace(&mut entry.state, State::Restarting)
        else {
            return;
        };
        let child = entry.spec.id.to_string();
        let outcome = starting.join().await;
        let result = match outcome {
            Ok((fut, guard)) => {
                self.launch_incarnation(ev.seq, ev.incarnation, starting.ctx.clone(), guard, fut)
            }
            Err(e) => Err(e),
        };
        match result {
            Ok(()) => starting.answer(Ok(ChildRef(ev.seq))),
            Err(reason) => {
                self.children.remove(&ev.seq);
                tracing::error!(supervisor = %self.id, child = %child, error = %reason, "child failed to start");
                starting.answer(Err(SuperviseError::StartFailed {
                    supervisor: self.id.to_string(),
                    child,
                    reason,
                }));
            }
        }
    }
}

/// Stops a child that is still starting: signals it, waits for its start phase per its
/// shutdown mode, and stops the running phase at once if the start succeeded anyway.
pub(super) async fn stop_starting(
    sup: &str,
    events: tokio::sync::mpsc::UnboundedSender<Event>,
    seq: u64,
    mut starting: Starting,
    shutdown: Shutdown,
) {
    starting.signal();
    let outcome = match shutdown {
        Shutdown::BrutalKill => {
            if let Some(task) = &starting.task {
                task.abort();
            }
            starting.join().await
        }
        Shutdown::Infinity => starting.join().await,
        Shutdown::Timeout(limit) => {
            let abort = starting.task.as_ref().map(|t| t.abort_handle());
            match tokio::time::timeout(limit, starting.join()).await {
                Ok(outcome) => outcome,
                Err(_) => {
                    tracing::warn!(supervisor = sup, child = %starting.ctx.id, timeout_ms = limit.as_millis() as u64, "child did not stop starting within its shutdown timeout; killing it");
                    if let Some(abort) = abort {
                        abort.abort();
                    }
                    starting.join().await
                }
            }
        }
    };
    if let Ok((fut, guard)) = outcome {
        let handle = tokio::spawn(run_child(fut, guard, events, seq, starting.incarnation));
        let running = Running {
            handle,
            ctx: starting.ctx.clone(),
            started: Instant::now(),
        };
        stop_running(sup, running, shutdown).await;
    }
    tracing::info!(supervisor = sup, child = %starting.ctx.id, incarnation = starting.incarnation, "child terminated while starting");
    starting.answer(Err(SuperviseError::StartFailed {
        supervisor: sup.to_string(),
        child: starting.ctx.id.to_string(),
        reason: StartError::new("the child was terminated while it was starting"),
    }));
}
