//! A workflow started by the official Python client (PyPI `temporalio`) is completed by
//! Hourglass's worker.

mod common;

use common::{hourglass, init_tracing, server, within};
use hourglass_supervise::Exit;
use std::path::Path;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workflows_started_by_the_official_python_client_complete_on_hourglass() {
    init_tracing();
    let srv = server().await;
    let tq = "e2e-python-client";
    let hg = hourglass(&srv, tq).await;
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("python/official_client.py");
    let address = srv.addr().to_string();
    let out = tokio::task::spawn_blocking(move || {
        hourglass_tests::python_env::run_script_ok(
            &script,
            &[&address, tq],
            &[],
            Duration::from_secs(600),
        )
    })
    .await
    .unwrap()
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(out.contains("all results computed by hourglass"), "{out}");
    assert_eq!(within(60, "shutdown", hg.shutdown()).await, Exit::Shutdown);
    srv.shutdown().await.unwrap();
}
