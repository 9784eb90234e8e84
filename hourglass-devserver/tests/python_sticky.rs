//! Sticky execution with the official Python SDK: a worker that is SIGKILLed while its
//! workflow is sticky to it leaves the workflow to another worker, which gets the task after
//! the sticky schedule-to-start timeout (with full history) and completes it.
use hourglass_devserver::{Database, DevServer};
use hourglass_tests::child_output::{KillOnDrop, LineReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/python/sticky_failover.py")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_workflow_sticky_to_a_killed_worker_continues_on_another() {
    let server = DevServer::builder()
        .port(0)
        .database(Database::InMemory)
        .start()
        .await
        .unwrap();
    let addr = server.addr().to_string();
    let (wid, tq) = ("sticky-failover", "py-sticky-failover");
    let python = hourglass_tests::python_env::python_venv().unwrap();
    let addr2 = addr.clone();
    tokio::task::spawn_blocking(move || {
        let mut child = Command::new(&python)
            .arg("-u")
            .arg(script())
            .args(["first", &addr2, wid, tq])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map(KillOnDrop)
            .unwrap();
        let mut out = LineReader::new(child.0.stdout.take().unwrap());
        let seen = out.wait_for("ready", Duration::from_secs(120));
        assert!(
            seen.contains("ready"),
            "first worker never got ready: {seen}"
        );
        // SIGKILL: no ShutdownWorker, the sticky queue just goes quiet.
        child.0.kill().unwrap();
        let _ = child.wait();
    })
    .await
    .unwrap();
    let out = tokio::task::spawn_blocking(move || {
        hourglass_tests::python_env::run_script_ok(
            &script(),
            &["second", &addr, wid, tq],
            &[],
            Duration::from_secs(120),
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
