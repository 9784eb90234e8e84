//! A user's own worker binary. It defines its own workflow and activity with the official
//! Temporal Rust API, registers them by type name with Hourglass's attributes, and hands
//! control to the same entry point as the `hourglass` command — so `my-worker run` serves
//! `ShoutWorkflow` (next to the built-in examples) with the full supervision tree, and
//! `my-worker workflow execute --type ShoutWorkflow --input '"hi"'` prints `"HI!"`.

use std::time::Duration;

use hourglass_worker::activity::{ActivityContext, ActivityError};
use temporalio_workflow::{
    ActivityOptions, WorkflowContext, WorkflowResult, workflow, workflow_methods,
};

/// This binary's activities (Temporal type `ShoutActivities::shout`).
pub struct ShoutActivities;

#[hourglass_worker::activities]
impl ShoutActivities {
    /// Upper-cases its input and adds an exclamation mark.
    #[activity]
    pub async fn shout(_ctx: ActivityContext, text: String) -> Result<String, ActivityError> {
        Ok(format!("{}!", text.to_uppercase()))
    }
}

/// Shouts its input through the activity (Temporal type `ShoutWorkflow`).
#[hourglass_worker::register]
#[workflow]
#[derive(Default)]
pub struct ShoutWorkflow;

#[workflow_methods]
impl ShoutWorkflow {
    /// Runs `ShoutActivities::shout` once.
    #[run]
    pub async fn run(ctx: &mut WorkflowContext<Self>, text: String) -> WorkflowResult<String> {
        let options = ActivityOptions::with_start_to_close_timeout(Duration::from_secs(10)).build();
        Ok(ctx
            .execute_activity(ShoutActivities::shout, text, options)
            .await?)
    }
}

fn main() -> std::process::ExitCode {
    hourglass_cli::main()
}
