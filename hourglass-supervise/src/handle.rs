//! Shared plumbing of supervisor handles: request/reply calls and exit watching.

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot, watch};
use tokio_util::sync::CancellationToken;

use crate::engine::{Engine, Request};
use crate::error::SuperviseError;
use crate::exit::Exit;
use crate::registry::Registry;
use crate::snapshot::{ChildCounts, ChildInfo, SupervisorSnapshot, collect};

#[derive(Clone)]
pub(crate) struct HandleCore {
    pub(crate) id: Arc<str>,
    requests: mpsc::UnboundedSender<Request>,
    shutdown: CancellationToken,
    done: watch::Receiver<Option<Exit>>,
    pub(crate) registry: Registry,
}

impl HandleCore {
    /// Handle parts for `engine`, and the sender that publishes its exit.
    pub(crate) fn for_engine(engine: &Engine) -> (Self, watch::Sender<Option<Exit>>) {
        let (done_tx, done) = watch::channel(None);
        (
            Self {
                id: engine.id.clone(),
                requests: engine.requests_tx.clone(),
                shutdown: engine.shutdown.clone(),
                done,
                registry: engine.registry.clone(),
            },
            done_tx,
        )
    }

    /// Queues `request` without waiting for its reply.
    pub(crate) fn send(&self, request: Request) -> Result<(), SuperviseError> {
        self.requests
            .send(request)
            .map_err(|_| SuperviseError::NotRunning(self.id.to_string()))
    }

    pub(crate) async fn call<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<T>) -> Request,
    ) -> Result<T, SuperviseError> {
        let (tx, rx) = oneshot::channel();
        self.requests
            .send(make(tx))
            .map_err(|_| SuperviseError::NotRunning(self.id.to_string()))?;
        rx.await
            .map_err(|_| SuperviseError::NotRunning(self.id.to_string()))
    }

    pub(crate) async fn which_children(&self) -> Result<Vec<ChildInfo>, SuperviseError> {
        self.call(Request::WhichChildren).await
    }

    pub(crate) async fn count_children(&self) -> Result<ChildCounts, SuperviseError> {
        self.call(Request::CountChildren).await
    }

    pub(crate) async fn snapshot(&self) -> Result<SupervisorSnapshot, SuperviseError> {
        collect(self.requests.clone())
            .await
            .ok_or_else(|| SuperviseError::NotRunning(self.id.to_string()))
    }

    pub(crate) async fn wait(&self) -> Exit {
        let mut done = self.done.clone();
        match done.wait_for(Option::is_some).await {
            Ok(v) => v.clone().unwrap_or(Exit::Killed),
            // The supervisor was dropped without reporting (aborted by its parent).
            Err(_) => Exit::Killed,
        }
    }

    pub(crate) async fn shutdown(&self) -> Exit {
        self.shutdown.cancel();
        self.wait().await
    }

    pub(crate) fn shutdown_on_drop(&self) -> ShutdownOnDrop {
        ShutdownOnDrop {
            id: self.id.clone(),
            token: self.shutdown.clone(),
        }
    }

    pub(crate) fn is_running(&self) -> bool {
        self.done.borrow().is_none() && !self.requests.is_closed()
    }
}

/// Requests the supervisor's shutdown when dropped (like ExUnit's `start_supervised`): the tree
/// is then stopped in order by the supervisor's own task. Use the handle's `shutdown()` to wait
/// for completion instead.
#[must_use = "the supervisor is shut down as soon as the guard is dropped"]
pub struct ShutdownOnDrop {
    id: Arc<str>,
    token: CancellationToken,
}

impl std::fmt::Debug for ShutdownOnDrop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShutdownOnDrop")
            .field("id", &self.id)
            .finish()
    }
}

impl Drop for ShutdownOnDrop {
    fn drop(&mut self) {
        self.token.cancel();
    }
}

/// The run phase of a supervisor started as a child of another supervisor: links the child's
/// context to the engine (for nested snapshots), runs the engine and publishes its exit to the
/// supervisor's handles.
pub(crate) fn run_nested(
    engine: Engine,
    ctx: &crate::context::ChildContext,
    done_tx: watch::Sender<Option<Exit>>,
) -> crate::child::ChildFuture {
    let _ = ctx.inner.nested.set(engine.requests_tx.clone());
    Box::pin(async move {
        let exit = engine.run().await;
        let _ = done_tx.send(Some(exit.clone()));
        exit
    })
}
