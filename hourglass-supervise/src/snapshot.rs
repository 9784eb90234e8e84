//! Introspection: `which_children`, `count_children` and the serializable supervision tree.

use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};

use crate::child::{ChildKind, Restart};
use crate::engine::Request;
use crate::supervisor::Strategy;

/// Identifies one child within its supervisor (stable across restarts of that child).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ChildRef(pub(crate) u64);

impl ChildRef {
    /// The raw number (start order within the supervisor).
    pub fn as_u64(self) -> u64 {
        self.0
    }
}

/// Lifecycle state of a child as seen by its supervisor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChildState {
    /// An incarnation is running.
    Running,
    /// Not running; a restart is pending (backoff, retry after a failed start, or in progress).
    Restarting,
    /// Not running and not going to be restarted (static supervisors keep the spec).
    Terminated,
}

/// One row of `which_children`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChildInfo {
    /// The child's spec id.
    pub id: String,
    /// Reference usable with `terminate_child` on dynamic supervisors.
    pub child: ChildRef,
    /// Worker or supervisor.
    pub kind: ChildKind,
    /// Restart type.
    pub restart: Restart,
    /// Current state.
    pub state: ChildState,
    /// How many times this child has been restarted.
    pub restarts: u64,
}

/// Result of `count_children` (Elixir's `count_children/1`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ChildCounts {
    /// All children the supervisor knows, running or not.
    pub specs: usize,
    /// Children with a running incarnation.
    pub active: usize,
    /// Children that are supervisors.
    pub supervisors: usize,
    /// Children that are workers.
    pub workers: usize,
}

/// A recursive, serializable picture of a supervision tree (for `hourglass tree`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SupervisorSnapshot {
    /// Supervisor id.
    pub id: String,
    /// Restart strategy (dynamic supervisors are one_for_one).
    pub strategy: Strategy,
    /// True for a `DynamicSupervisor`.
    pub dynamic: bool,
    /// Restarts this supervisor has performed (each counted toward intensity).
    pub restarts: u64,
    /// Intensity limit: restarts allowed…
    pub max_restarts: u32,
    /// …within this many milliseconds.
    pub period_ms: u64,
    /// Children in start order.
    pub children: Vec<ChildSnapshot>,
}

/// One child in a [`SupervisorSnapshot`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChildSnapshot {
    /// The child's spec id.
    pub id: String,
    /// Its reference in the supervisor.
    pub child: ChildRef,
    /// Worker or supervisor.
    pub kind: ChildKind,
    /// Restart type.
    pub restart: Restart,
    /// Current state.
    pub state: ChildState,
    /// Restarts of this child.
    pub restarts: u64,
    /// The running incarnation's number, if running.
    pub incarnation: Option<u64>,
    /// The OS process the running incarnation is (a process child), if it reported one.
    #[serde(default)]
    pub os_pid: Option<u32>,
    /// For a running supervisor child: its own snapshot.
    pub supervisor: Option<Box<SupervisorSnapshot>>,
}

/// A supervisor's own snapshot plus links to its running nested supervisors.
pub(crate) struct FlatSnapshot {
    pub(crate) snapshot: SupervisorSnapshot,
    pub(crate) nested: Vec<(usize, mpsc::UnboundedSender<Request>)>,
}

/// Collects the snapshot of the supervisor behind `tx`, recursing into nested supervisors
/// outside of any supervisor's loop. `None` if it has exited.
pub(crate) fn collect(
    tx: mpsc::UnboundedSender<Request>,
) -> BoxFuture<'static, Option<SupervisorSnapshot>> {
    Box::pin(async move {
        let (rtx, rrx) = oneshot::channel();
        tx.send(Request::Snapshot(rtx)).ok()?;
        let flat = rrx.await.ok()?;
        let mut snap = flat.snapshot;
        for (i, ntx) in flat.nested {
            if let Some(child) = snap.children.get_mut(i) {
                child.supervisor = collect(ntx).await.map(Box::new);
            }
        }
        Some(snap)
    })
}
