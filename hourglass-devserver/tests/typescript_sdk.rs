//! Conformance scenarios with the official Temporal TypeScript SDK (`@temporalio/client`,
//! `worker`, `workflow`, `activity` and `proto` from npm, pinned in
//! `tests/typescript/package-lock.json`): each test starts a fresh dev server on a free
//! loopback port and runs one scenario of `tests/typescript/scenarios.js` (a worker and a
//! client in one Node process), which asserts on the outcomes and on the history in
//! JavaScript and prints `scenario <name>: ok`.
//!
//! The npm project is installed once, cached under the target directory
//! (`hourglass_tests::node_env`), and the workflows are bundled with the SDK's webpack
//! bundler once per test process.
use hourglass_devserver::{Database, DevServer};
use hourglass_tests::node_env::{node_project, run_node_ok};
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

/// The installed project with `workflow-bundle.js` built, or why it could not be made.
fn project() -> Result<PathBuf, String> {
    static PROJECT: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    PROJECT
        .get_or_init(|| {
            let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/typescript");
            let dir = node_project(&src, "typescript-conformance").map_err(|e| e.to_string())?;
            run_node_ok(&dir, "bundle.js", &[], &[], Duration::from_secs(300))
                .map_err(|e| e.to_string())?;
            Ok(dir)
        })
        .clone()
}

async fn run_scenario(name: &str) {
    let dir = tokio::task::spawn_blocking(project)
        .await
        .unwrap()
        .unwrap_or_else(|e| panic!("setting up the TypeScript SDK project: {e}"));
    let server = DevServer::builder()
        .port(0)
        .database(Database::InMemory)
        .start()
        .await
        .unwrap();
    let addr = server.addr().to_string();
    let scenario = name.to_string();
    let out = tokio::task::spawn_blocking(move || {
        run_node_ok(
            &dir,
            "scenarios.js",
            &[&scenario, &addr],
            &[],
            Duration::from_secs(180),
        )
    })
    .await
    .unwrap();
    server.shutdown().await.unwrap();
    match out {
        Ok(text) => assert!(
            text.contains(&format!("scenario {name}: ok")),
            "scenario {name} did not report success:\n{text}"
        ),
        Err(e) => panic!("{e}"),
    }
}

macro_rules! scenarios {
    ($($name:ident),* $(,)?) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            run_scenario(stringify!($name)).await;
        }
    )*};
}

scenarios!(
    hello_start_to_close,
    hello_schedule_to_close,
    hello_both,
    retry,
    heartbeat,
    signal,
    query,
    update,
    child,
    cancel,
);
