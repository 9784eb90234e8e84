//! Conformance scenarios with the official Python SDK (`temporalio` from PyPI, pinned in
//! `tests/python/requirements.txt`): each test starts a fresh dev server and runs one
//! scenario of `tests/python/scenarios.py`, `schedules.py`, `visibility.py`, `reset.py`,
//! `activity_pause.py` or
//! `speculative_workflow_task.py` (client +
//! worker, sharing `harness.py`), which asserts in Python.
mod common;

use common::python_scenario;
use hourglass_devserver::{Database, DevServer};
use std::time::Duration;

async fn run_scenario(file: &'static str, name: &str) {
    let server = DevServer::builder()
        .port(0)
        .database(Database::InMemory)
        // What the visibility_registry scenario finds registered from the start.
        .search_attribute("PreRegistered", "Int")
        .start()
        .await
        .unwrap();
    let addr = server.addr().to_string();
    let args = vec![name.to_string(), addr];
    python_scenario(file, args, vec![], Duration::from_secs(180)).await;
    server.shutdown().await.unwrap();
}

/// Runs a scenario on a database file whose server keeps no closed run in memory, so every
/// closed run a list or count finds comes from the store's SQL visibility tables.
async fn run_on_disk(file: &'static str, name: &str) {
    let dir = tempfile::tempdir().unwrap();
    let server = DevServer::builder()
        .port(0)
        .database(Database::Path(dir.path().join("visibility.db")))
        .closed_cache_capacity(0)
        .search_attribute("PreRegistered", "Int")
        .start()
        .await
        .unwrap();
    let args = vec![name.to_string(), server.addr().to_string()];
    python_scenario(file, args, vec![], Duration::from_secs(180)).await;
    server.shutdown().await.unwrap();
}

/// `test_name => scenario` pairs of [`run_on_disk`].
macro_rules! on_disk {
    ($file:literal: $($test:ident => $name:literal),* $(,)?) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $test() {
            run_on_disk($file, $name).await;
        }
    )*};
}

on_disk!(
    "visibility.py":
    visibility_filters_from_the_store => "visibility_filters",
    visibility_paging_from_the_store => "visibility_paging",
    visibility_upsert_from_the_store => "visibility_upsert",
    visibility_registry_from_the_store => "visibility_registry",
);

macro_rules! scenarios {
    ($file:literal: $($name:ident),* $(,)?) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            run_scenario($file, stringify!($name)).await;
        }
    )*};
}

scenarios!(
    "schedules.py":
    schedule_lifecycle,
    schedule_backfill,
    schedule_overlap_skip,
    schedule_terminate_other,
    schedule_remaining_actions,
    schedule_last_completion,
    schedule_pause_on_failure,
    schedule_errors,
);

scenarios!(
    "visibility.py":
    visibility_filters,
    visibility_paging,
    visibility_errors,
    visibility_upsert,
    visibility_registry,
);

scenarios!(
    "reset.py":
    reset_reapplies_signals,
    reset_reapplies_updates,
    reset_to_first_task_reruns_everything,
    reset_keeps_pending_children,
    reset_errors,
);

scenarios!(
    "speculative_workflow_task.py":
    speculative_rejections_leave_no_trace,
    speculative_rejections_with_concurrent_signals,
);

scenarios!(
    "scenarios.py":
    hello,
    build_id_stamped,
    retry,
    heartbeat,
    start_to_close,
    timer,
    signal,
    query,
    update,
    update_admitted_before_a_worker,
    update_first_execution_run_id,
    priority_and_metadata,
    cancel_after_fire,
    update_with_start,
    delete,
    workflow_retry,
    describe_task_queue,
    namespaces,
    cancel,
    terminate,
    child,
    continue_as_new,
    failure,
    visibility,
    external,
    upsert,
);

scenarios!(
    "activity_pause.py":
    activity_pause_unpause,
    activity_reset,
    activity_pause_errors,
);
