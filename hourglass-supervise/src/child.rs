//! Child specifications: how to start a child and how to treat its exits.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};

use crate::context::ChildContext;
use crate::error::StartError;
use crate::exit::Exit;

/// The running part of a child: a future that resolves to its exit reason.
pub type ChildFuture = BoxFuture<'static, Exit>;

/// The start phase of a child: resolves to the running future, or a start error.
pub type StartFuture = BoxFuture<'static, Result<ChildFuture, StartError>>;

/// The factory called once per incarnation.
pub(crate) type StartFn = Arc<dyn Fn(ChildContext) -> StartFuture + Send + Sync>;

/// When a child is restarted (OTP restart types).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Restart {
    /// Always restarted.
    Permanent,
    /// Restarted only after an abnormal exit (not `Normal`/`Shutdown`/`ShutdownWith`).
    Transient,
    /// Never restarted, not even when a sibling's failure takes it down (one_for_all /
    /// rest_for_one); it is removed from the supervisor once it stops.
    Temporary,
}

/// How a child is stopped (OTP shutdown values).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Shutdown {
    /// Abort the task immediately.
    BrutalKill,
    /// Signal shutdown, wait this long, then abort.
    Timeout(Duration),
    /// Signal shutdown and wait as long as it takes (default for supervisors).
    Infinity,
}

/// Whether a child is a worker or a supervisor (affects the default shutdown and introspection).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChildKind {
    /// An ordinary task. Default shutdown: 5 s timeout.
    Worker,
    /// A nested supervisor. Default shutdown: infinity.
    Supervisor,
}

/// Optional per-child exponential restart delay.
///
/// Not part of OTP (which restarts at once); when set, the delay is applied *after* the restart
/// has been counted toward the supervisor's intensity, and the supervisor stays responsive
/// (shutdown cancels a pending restart). The `n`-th consecutive restart waits
/// `min(initial * 2^(n-1), max)`; the count resets when an incarnation ran for `reset_after`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// Delay before the first restart.
    pub initial: Duration,
    /// Upper bound of the delay.
    pub max: Duration,
    /// An incarnation that ran at least this long resets the consecutive count.
    pub reset_after: Duration,
}

impl Backoff {
    /// Exponential backoff from `initial` to `max`, reset after an incarnation ran `max * 2`.
    pub fn exponential(initial: Duration, max: Duration) -> Self {
        Self {
            initial,
            max,
            reset_after: max.saturating_mul(2),
        }
    }

    /// Delay before the `consecutive`-th restart (1-based).
    pub fn delay(&self, consecutive: u32) -> Duration {
        let shift = consecutive.saturating_sub(1).min(31);
        self.initial.saturating_mul(1u32 << shift).min(self.max)
    }
}

/// Default shutdown timeout of worker children (OTP: 5000 ms).
pub const DEFAULT_WORKER_SHUTDOWN: Duration = Duration::from_secs(5);

/// How to start and supervise one child.
///
/// The start function is a factory called for every incarnation with a fresh
/// [`ChildContext`]. Cloning a spec is cheap (the factory is shared).
#[derive(Clone)]
pub struct ChildSpec {
    pub(crate) id: Arc<str>,
    pub(crate) start: StartFn,
    pub(crate) restart: Restart,
    shutdown: Option<Shutdown>,
    pub(crate) backoff: Option<Backoff>,
    pub(crate) kind: ChildKind,
}

impl fmt::Debug for ChildSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChildSpec")
            .field("id", &self.id)
            .field("restart", &self.restart)
            .field("shutdown", &self.shutdown_mode())
            .field("backoff", &self.backoff)
            .field("kind", &self.kind)
            .finish()
    }
}

impl ChildSpec {
    /// A permanent worker whose incarnations run `start(ctx)`; starting cannot fail.
    ///
    /// ```
    /// use hourglass_supervise::{ChildSpec, Exit};
    /// let spec = ChildSpec::new("ticker", |ctx| async move {
    ///     ctx.cancelled().await;
    ///     Exit::Shutdown
    /// });
    /// assert_eq!(spec.id(), "ticker");
    /// ```
    pub fn new<F, Fut>(id: impl Into<String>, start: F) -> Self
    where
        F: Fn(ChildContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Exit> + Send + 'static,
    {
        Self::from_start_fn(
            id,
            Arc::new(move |ctx| {
                let fut: ChildFuture = Box::pin(start(ctx));
                Box::pin(futures::future::ready(Ok(fut)))
            }),
        )
    }

    /// A permanent worker with a start phase that may fail (like OTP's `init/1`).
    ///
    /// `start(ctx)` runs inside the supervisor: the supervisor waits for it (staying responsive
    /// to its own shutdown), and the child counts as started only when it returns `Ok(run)`;
    /// `run` then executes as the child's task. Names registered during the start phase belong
    /// to the incarnation and are removed if the start fails.
    pub fn with_init<F, Fut, Run>(id: impl Into<String>, start: F) -> Self
    where
        F: Fn(ChildContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Run, StartError>> + Send + 'static,
        Run: Future<Output = Exit> + Send + 'static,
    {
        Self::from_start_fn(
            id,
            Arc::new(move |ctx| {
                let init = start(ctx);
                Box::pin(async move {
                    let run = init.await?;
                    let fut: ChildFuture = Box::pin(run);
                    Ok(fut)
                })
            }),
        )
    }

    pub(crate) fn from_start_fn(id: impl Into<String>, start: StartFn) -> Self {
        let id: String = id.into();
        Self {
            id: id.into(),
            start,
            restart: Restart::Permanent,
            shutdown: None,
            backoff: None,
            kind: ChildKind::Worker,
        }
    }

    /// Sets the restart type (default `Permanent`).
    pub fn restart(mut self, restart: Restart) -> Self {
        self.restart = restart;
        self
    }

    /// Sets how the child is stopped (default: 5 s for workers, `Infinity` for supervisors).
    pub fn shutdown(mut self, shutdown: Shutdown) -> Self {
        self.shutdown = Some(shutdown);
        self
    }

    /// Delays restarts of this child (still counted toward intensity when decided).
    pub fn backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = Some(backoff);
        self
    }

    /// Marks the child as a worker or a supervisor.
    pub fn kind(mut self, kind: ChildKind) -> Self {
        self.kind = kind;
        self
    }

    /// The child's id (unique within a static supervisor).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The restart type.
    pub fn restart_type(&self) -> Restart {
        self.restart
    }

    /// The effective shutdown (explicit, or the default for the kind).
    pub fn shutdown_mode(&self) -> Shutdown {
        self.shutdown.unwrap_or(match self.kind {
            ChildKind::Worker => Shutdown::Timeout(DEFAULT_WORKER_SHUTDOWN),
            ChildKind::Supervisor => Shutdown::Infinity,
        })
    }

    /// The child kind.
    pub fn child_kind(&self) -> ChildKind {
        self.kind
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shutdown_defaults_depend_on_kind() {
        let w = ChildSpec::new("w", |_| async { Exit::Normal });
        assert_eq!(
            w.shutdown_mode(),
            Shutdown::Timeout(DEFAULT_WORKER_SHUTDOWN)
        );
        let s = w.clone().kind(ChildKind::Supervisor);
        assert_eq!(s.shutdown_mode(), Shutdown::Infinity);
        let b = s.shutdown(Shutdown::BrutalKill);
        assert_eq!(b.shutdown_mode(), Shutdown::BrutalKill);
    }

    #[test]
    fn backoff_doubles_up_to_max() {
        let b = Backoff::exponential(Duration::from_millis(100), Duration::from_secs(1));
        assert_eq!(b.delay(1), Duration::from_millis(100));
        assert_eq!(b.delay(2), Duration::from_millis(200));
        assert_eq!(b.delay(4), Duration::from_millis(800));
        assert_eq!(b.delay(5), Duration::from_secs(1));
        assert_eq!(b.delay(100), Duration::from_secs(1));
    }
}
