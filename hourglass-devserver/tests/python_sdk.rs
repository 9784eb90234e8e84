//! Conformance scenarios with the official Python SDK (`temporalio` from PyPI, pinned in
//! `tests/python/requirements.txt`): each test starts a fresh dev server and runs one
//! scenario of `tests/python/scenarios.py` (client + worker), which asserts in Python.
use hourglass_devserver::{Database, DevServer};
use std::path::PathBuf;
use std::time::Duration;

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/python/scenarios.py")
}

async fn run_scenario(name: &str) {
    let server = DevServer::builder()
        .port(0)
        .database(Database::InMemory)
        // What the search_attributes scenario finds registered from the start.
        .search_attribute("PreRegistered", "Int")
        .start()
        .await
        .unwrap();
    let addr = server.addr().to_string();
    let name = name.to_string();
    let out = tokio::task::spawn_blocking(move || {
        hourglass_tests::python_env::run_script_ok(
            &script(),
            &[&name, &addr],
            &[],
            Duration::from_secs(180),
        )
    })
    .await
    .unwrap();
    server.shutdown().await.unwrap();
    match out {
        Ok(text) => assert!(text.contains("ok"), "{text}"),
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
    hello,
    retry,
    heartbeat,
    start_to_close,
    timer,
    signal,
    query,
    update,
    update_with_start,
    delete,
    workflow_retry,
    describe_task_queue,
    namespaces,
    search_attributes,
    cancel,
    terminate,
    child,
    continue_as_new,
    failure,
    visibility,
    external,
    upsert,
);
