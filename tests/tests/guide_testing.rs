//! The code of `docs/testing.md`, compiled and run by `cargo test` so the guide cannot rot:
//! a workflow of its own with an activity, tested with time skipping and a mock; and the
//! replay check of the histories checked in under `tests/histories/`.

use std::time::Duration;

use hourglass_bridge::Core;
use hourglass_worker::activity::{ActivityContext, ActivityError};
use hourglass_worker::replay::{Replayer, WorkflowHistory};
use hourglass_worker::testing::TestEnvironment;
use temporalio_workflow::{
    ActivityOptions, WorkflowContext, WorkflowResult, workflow, workflow_methods,
};

// ANCHOR: workflow
pub struct Notifier;

#[hourglass_worker::activities]
impl Notifier {
    /// Sends the reminder (in production: an e-mail).
    #[activity]
    pub async fn notify(_ctx: ActivityContext, who: String) -> Result<String, ActivityError> {
        Ok(format!("e-mailed {who}"))
    }
}

/// Waits a week, then reminds `who`.
#[hourglass_worker::register]
#[workflow]
#[derive(Default)]
pub struct ReminderWorkflow;

#[workflow_methods]
impl ReminderWorkflow {
    #[run]
    pub async fn run(ctx: &mut WorkflowContext<Self>, who: String) -> WorkflowResult<String> {
        ctx.timer(Duration::from_secs(7 * 24 * 3600)).await;
        let options = ActivityOptions::with_start_to_close_timeout(Duration::from_secs(10)).build();
        Ok(ctx.execute_activity(Notifier::notify, who, options).await?)
    }
}
// ANCHOR_END: workflow

// ANCHOR: test
#[tokio::test]
async fn the_reminder_goes_out_after_a_week() {
    let env = TestEnvironment::builder()
        .time_skipping()
        .mock_activity("Notifier::notify", |_ctx, who: String| async move {
            Ok(format!("mocked reminder to {who}"))
        })
        .start()
        .await
        .unwrap();
    let start = env.now().await.unwrap();

    let result = env
        .execute_workflow(ReminderWorkflow::run, "ada".to_string(), "reminder-1")
        .await
        .unwrap();

    assert_eq!(result, "mocked reminder to ada");
    let waited = env.now().await.unwrap().duration_since(start).unwrap();
    assert!(waited >= Duration::from_secs(7 * 24 * 3600));
}
// ANCHOR_END: test

// ANCHOR: replay
#[tokio::test]
async fn recorded_histories_still_replay() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("histories");
    let mut histories = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        histories.push(WorkflowHistory::from_json_file(entry.unwrap().path()).unwrap());
    }
    assert!(!histories.is_empty(), "no histories in {}", dir.display());

    let replayer = Replayer::new(&Core::linked()).unwrap();
    // Fails with the workflow id, the event id and the mismatching command.
    replayer.replay_all(histories).await.unwrap();
}
// ANCHOR_END: replay
