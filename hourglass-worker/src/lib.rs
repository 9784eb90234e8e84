//! The Hourglass worker: workflow/activity authoring API and the execution layer that turns the
//! core's activation and activity-task protobufs into completions.
//!
//! This layer is independent of the bridge and of supervision: it consumes and produces
//! `temporalio_common::protos::coresdk` messages only. The supervised subsystem (runtime, bridge
//! holder, registry, per-task-queue workers and poll loops) is built on top of it.
//!
//! * [`workflow`]: workflows are written with the official `temporalio-workflow` API
//!   (`#[workflow]`, `#[workflow_methods]`, `WorkflowContext`) and registered with
//!   [`macro@register`]. [`workflow::WorkflowEvaluator`] (a Send handle to a dedicated thread)
//!   or [`workflow::WorkflowRunCache`] (caller-owned, single thread) evaluate activations.
//! * [`activity`]: activities are written with [`macro@activities`] (same shape as the official
//!   `#[activities]`); [`activity::ActivityExecutor`] runs activity tasks.
//! * [`payload`]: JSON payload helpers (`encoding: json/plain`).
//! * [`replay`]: [`Replayer`] checks workflow code against recorded histories (Temporal's JSON
//!   format, protobuf, or a server) and reports nondeterminism with the mismatching event.
//! * [`testing`]: [`testing::TestEnvironment`], an in-memory dev server, Hourglass and a client
//!   in one call, for workflow tests.
//! * [`examples`]: built-in example workflows and activities.

// Lets the macros' `::hourglass_worker::..` paths resolve inside this crate (for `examples`).
extern crate self as hourglass_worker;

pub mod activity;
pub mod error;
pub mod examples;
pub mod external;
mod panic_message;
pub mod payload;
pub mod replay;
pub mod subsystem;
pub mod testing;
pub mod workflow;

pub use error::WorkerError;
pub use hourglass_macros::{activities, register};
pub use replay::{ReplayError, Replayer, WorkflowHistory};

/// Items used by macro-generated code. Not a stable API.
#[doc(hidden)]
pub mod __private {
    pub use futures;
    pub use inventory;
    pub use temporalio_common;
    pub use tokio;
}
