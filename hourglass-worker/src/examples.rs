//! Built-in example workflows and activities (the examples of `hourglass run`).
//!
//! They are ordinary user code, written with the official `temporalio-workflow` API and
//! registered through Hourglass's attribute macros, so they are found by Temporal type name:
//!
//! | Temporal type | kind | input → output |
//! |---|---|---|
//! | `GreetingWorkflow` | workflow | `String` name → `String` greeting (via the activity below) |
//! | `GreetingActivities::greet` | activity | `String` name → `"Hello, {name}!"` |
//! | `TimerWorkflow` | workflow | `u64` seconds → `String` after a durable timer |
//! | `CounterWorkflow` | workflow | `()` → `u64`; signals `add(u64)`, `finish(())`; query `count`; update `add_and_get(u64) → u64` |
//! | `ParentWorkflow` | workflow | `String` name → `String`, running `GreetingWorkflow` as a child |
//! | `SummarizeWorkflow` | workflow | `String` text → `String`, via the *Python* activity `Summarize` (docs/python-activities.md) |

use std::time::Duration;

use temporalio_common::RetryPolicy;
use temporalio_workflow::{
    ActivityOptions, ChildWorkflowOptions, SyncWorkflowContext, WorkflowContext,
    WorkflowContextView, WorkflowResult, workflow, workflow_methods,
};

use crate::activity::{ActivityContext, ActivityError};

/// Temporal type names of the built-in example workflows.
pub const EXAMPLE_WORKFLOW_TYPES: [&str; 5] = [
    "GreetingWorkflow",
    "TimerWorkflow",
    "CounterWorkflow",
    "ParentWorkflow",
    "SummarizeWorkflow",
];

/// Temporal type names of the built-in example activities.
pub const EXAMPLE_ACTIVITY_TYPES: [&str; 1] = ["GreetingActivities::greet"];

/// Activities of the greeting example.
pub struct GreetingActivities;

#[crate::activities]
impl GreetingActivities {
    /// Returns `"Hello, {name}!"`; an empty name is a non-retryable error.
    #[activity]
    pub async fn greet(ctx: ActivityContext, name: String) -> Result<String, ActivityError> {
        if name.trim().is_empty() {
            return Err(ActivityError::from(
                crate::activity::ApplicationFailure::non_retryable(anyhow::anyhow!(
                    "greet needs a non-empty name"
                )),
            ));
        }
        tracing::info!(attempt = ctx.info().attempt, %name, "greeting");
        Ok(format!("Hello, {name}!"))
    }
}

/// Calls `GreetingActivities::greet` once (with retries) and returns its result.
#[crate::register]
#[workflow]
#[derive(Default)]
pub struct GreetingWorkflow;

#[workflow_methods]
impl GreetingWorkflow {
    /// Runs the greeting activity.
    #[run]
    pub async fn run(ctx: &mut WorkflowContext<Self>, name: String) -> WorkflowResult<String> {
        let options = ActivityOptions::with_start_to_close_timeout(Duration::from_secs(10))
            .retry_policy(RetryPolicy::builder().maximum_attempts(5).build())
            .build();
        let greeting = ctx
            .execute_activity(GreetingActivities::greet, name, options)
            .await?;
        Ok(greeting)
    }
}

/// Sleeps on a durable timer for the given number of seconds.
#[crate::register]
#[workflow]
#[derive(Default)]
pub struct TimerWorkflow;

#[workflow_methods]
impl TimerWorkflow {
    /// Waits `seconds` on a durable timer.
    #[run]
    pub async fn run(ctx: &mut WorkflowContext<Self>, seconds: u64) -> WorkflowResult<String> {
        ctx.timer(Duration::from_secs(seconds)).await;
        Ok(format!("timer of {seconds}s fired"))
    }
}

/// A counter driven by signals and updates, readable by query; finishes on the `finish` signal.
#[crate::register]
#[workflow]
#[derive(Default)]
pub struct CounterWorkflow {
    count: u64,
    finished: bool,
}

#[workflow_methods]
impl CounterWorkflow {
    /// Waits for `finish`, then returns the count.
    #[run]
    pub async fn run(ctx: &mut WorkflowContext<Self>) -> WorkflowResult<u64> {
        ctx.wait_condition(|s| s.finished).await?;
        Ok(ctx.state(|s| s.count))
    }

    /// Adds to the counter.
    #[signal]
    pub fn add(&mut self, _ctx: &mut SyncWorkflowContext<Self>, amount: u64) {
        self.count += amount;
    }

    /// Ends the workflow.
    #[signal]
    pub fn finish(&mut self, _ctx: &mut SyncWorkflowContext<Self>) {
        self.finished = true;
    }

    /// The current count.
    #[query]
    pub fn count(&self, _ctx: &WorkflowContextView) -> u64 {
        self.count
    }

    /// Adds to the counter and returns the new count.
    #[update]
    pub fn add_and_get(&mut self, _ctx: &mut SyncWorkflowContext<Self>, amount: u64) -> u64 {
        self.count += amount;
        self.count
    }
}

/// Runs `GreetingWorkflow` as a child (workflow id `<parent id>-child`) and wraps its result.
#[crate::register]
#[workflow]
#[derive(Default)]
pub struct ParentWorkflow;

#[workflow_methods]
impl ParentWorkflow {
    /// Starts the child and waits for its result.
    #[run]
    pub async fn run(ctx: &mut WorkflowContext<Self>, name: String) -> WorkflowResult<String> {
        let child_id = format!("{}-child", ctx.workflow_id());
        let child = ctx
            .start_child_workflow(
                GreetingWorkflow::run,
                name,
                ChildWorkflowOptions::workflow_id(child_id),
            )
            .await?;
        let greeting = child.result().await?;
        Ok(format!("child said: {greeting}"))
    }
}

// guide:begin (docs/python-activities.md shows this code; a test checks they are the same)
/// The Python activity `Summarize`, typed for Rust callers: a `String` in, a `String` out.
/// No Rust activity has this type name, so Hourglass sends it to the external pool that serves it.
pub struct Summarize;

impl temporalio_common::ActivityDefinition for Summarize {
    type Input = String;
    type Output = String;

    fn name(&self) -> &str {
        "Summarize"
    }
}

/// Summarizes a text with the Python activity `Summarize`.
#[crate::register]
#[workflow]
#[derive(Default)]
pub struct SummarizeWorkflow;

#[workflow_methods]
impl SummarizeWorkflow {
    /// Calls `Summarize` once, retrying (a crashed Python process included) up to 5 times.
    #[run]
    pub async fn run(ctx: &mut WorkflowContext<Self>, text: String) -> WorkflowResult<String> {
        let options = ActivityOptions::with_start_to_close_timeout(Duration::from_secs(30))
            .heartbeat_timeout(Duration::from_secs(10))
            .retry_policy(RetryPolicy::builder().maximum_attempts(5).build())
            .build();
        let summary = ctx.execute_activity(Summarize, text, options).await?;
        Ok(summary)
    }
}
// guide:end
