//! Temporal's JSON history format, checked against the official Python SDK (PyPI
//! `temporalio`) on the dev server: a history the Python SDK records and exports replays
//! through Hourglass's Replayer against Hourglass's `TimerWorkflow`; the histories Hourglass
//! exports (of the Python run and of a run on Hourglass's own worker) replay through the
//! Python SDK's `Replayer`, which also catches a changed workflow in them.

mod common;

use common::{client, hourglass, init_tracing, server, within};
use hourglass_bridge::Core;
use hourglass_bridge::protos::temporal::api::workflowservice::v1::workflow_service_client::WorkflowServiceClient;
use hourglass_worker::examples::TimerWorkflow;
use hourglass_worker::replay::{Replayer, WorkflowHistory, server as replay_server};
use std::path::{Path, PathBuf};
use std::time::Duration;
use temporalio_client::{WorkflowGetResultOptions, WorkflowStartOptions};

async fn python(args: Vec<String>) -> String {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("python/replay_history.py");
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        hourglass_tests::python_env::run_script_ok(&script, &args, &[], Duration::from_secs(300))
    })
    .await
    .unwrap()
    .unwrap_or_else(|e| panic!("{e}"))
}

fn path_arg(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_histories_replay_across_the_python_sdk_and_hourglass() {
    init_tracing();
    let srv = server().await;
    let dir = tempfile::tempdir().unwrap();
    let core = Core::load(hourglass_tests::core_lib::core_library()).unwrap();
    let replayer = Replayer::new(&core).unwrap();

    // 1. The Python SDK runs and exports a TimerWorkflow; Hourglass replays its JSON.
    let py_json: PathBuf = dir.path().join("python.json");
    let out = python(vec![
        "record".into(),
        srv.addr().to_string(),
        "py-timer".into(),
        path_arg(&py_json),
    ])
    .await;
    assert!(out.contains("recorded py-timer"), "{out}");
    let from_python = WorkflowHistory::from_json_file(&py_json).unwrap();
    assert_eq!(from_python.workflow_type(), "TimerWorkflow");
    within(60, "replay", replayer.replay(&from_python))
        .await
        .unwrap_or_else(|e| panic!("Python SDK history on Hourglass: {e}"));

    // 2. Hourglass's export of that run (what `workflow show --output json` writes) and of
    //    a run on Hourglass's own worker replay through the Python SDK's Replayer.
    let mut grpc = WorkflowServiceClient::connect(srv.url()).await.unwrap();
    let exported = replay_server::fetch_history(&mut grpc, "default", "py-timer", None)
        .await
        .unwrap();
    let hg_of_python = dir.path().join("hourglass-of-python.json");
    std::fs::write(&hg_of_python, exported.to_json().unwrap().to_string()).unwrap();

    let tq = "replay-python-hg";
    let hg = hourglass(&srv, tq).await;
    let c = client(&srv).await;
    let h = c
        .start_workflow(
            TimerWorkflow::run,
            1,
            WorkflowStartOptions::new(tq, "hg-timer").build(),
        )
        .await
        .unwrap();
    let r = within(
        60,
        "timer",
        h.get_result(WorkflowGetResultOptions::default()),
    )
    .await
    .unwrap();
    assert_eq!(r, "timer of 1s fired");
    let ours = replay_server::fetch_history(&mut grpc, "default", "hg-timer", None)
        .await
        .unwrap();
    replayer.replay(&ours).await.unwrap();
    let hg_of_hg = dir.path().join("hourglass-of-hourglass.json");
    std::fs::write(&hg_of_hg, ours.to_json().unwrap().to_string()).unwrap();

    let out = python(vec![
        "replay".into(),
        "py-timer".into(),
        path_arg(&hg_of_python),
    ])
    .await;
    assert!(out.contains("replayed by the Python SDK: ok"), "{out}");
    assert!(out.contains("changed workflow detected"), "{out}");
    let out = python(vec![
        "replay".into(),
        "hg-timer".into(),
        path_arg(&hg_of_hg),
    ])
    .await;
    assert!(out.contains("replayed by the Python SDK: ok"), "{out}");

    within(60, "shutdown", hg.shutdown()).await;
    srv.shutdown().await.unwrap();
}
