//! Registry names under which subsystem components publish their handles.
//!
//! Every name belongs to one incarnation of its owner and disappears atomically when that
//! incarnation ends, so a lookup never returns a handle of a dead component.

/// The [`RuntimeHandle`](super::runtime::RuntimeHandle) of the current Runtime child.
pub const RUNTIME: &str = "hourglass/runtime";
/// The current [`BridgeHolder`](super::bridge_holder::BridgeHolder).
pub const BRIDGE_HOLDER: &str = "hourglass/bridge_holder";
/// The current [`WorkerRegistry`](super::worker_registry::WorkerRegistry).
pub const WORKER_REGISTRY: &str = "hourglass/worker_registry";
/// The Worker.Supervisor (a dynamic supervisor of per-task-queue workers).
pub const WORKER_SUPERVISOR: &str = "hourglass/worker_supervisor";
/// The dynamic supervisor of in-flight workflow activations.
pub const WORKFLOW_EVALUATOR: &str = "hourglass/workflow_evaluator";
/// The dynamic supervisor of in-flight activity tasks.
pub const ACTIVITY_EXECUTOR: &str = "hourglass/activity_executor";
/// The Subsystem supervisor.
pub const SUBSYSTEM: &str = "hourglass/subsystem";
/// The Application supervisor (root).
pub const APPLICATION: &str = "hourglass";
