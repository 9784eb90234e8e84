//! Workflows: link-time registration by Temporal type name and evaluation of activations.
//!
//! Workflows are authored with the official guest runtime `temporalio-workflow`
//! (`#[workflow]`, `#[workflow_methods]`, `WorkflowContext`), plus
//! [`#[hourglass_worker::register]`](macro@crate::register) so Hourglass finds them.
//!
//! Evaluation layers, bottom up:
//! * [`WorkflowRun`]: one run's guest instance; `activate` turns one activation into one
//!   completion, synchronously. `!Send`.
//! * [`WorkflowRunCache`]: the runs of one task queue keyed by run id, including creation on
//!   `InitializeWorkflow`, evictions and unknown runs. `!Send`, caller-owned.
//! * [`WorkflowEvaluator`]: a `Send + Clone` handle to a dedicated thread that owns a
//!   [`WorkflowRunCache`]; `activate(..).await` from any tokio task.

mod evaluator;
mod registry;
mod run;
mod run_cache;
mod wake_tracker;

pub use evaluator::WorkflowEvaluator;
pub use registry::{WorkflowDefinitions, WorkflowFactory, WorkflowRegistration};
pub use run::{RunInit, WorkflowRun};
pub use run_cache::WorkflowRunCache;
