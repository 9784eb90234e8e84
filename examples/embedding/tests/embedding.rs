//! The embedded binary serves its own workflow through the same entry point as `hourglass`.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_my-worker");

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn own_workflow_is_found_by_type_name_and_runs() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let admin = format!("127.0.0.1:{}", free_port());
    let mut child = Command::new(BIN)
        .args([
            "run",
            "--ephemeral",
            "--port",
            &port.to_string(),
            "--admin",
            &admin,
        ])
        .current_dir(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let line = lines.next().expect("my-worker run exited early").unwrap();
        if line.contains("Stop with Ctrl-C") {
            break;
        }
        assert!(Instant::now() < deadline, "my-worker run did not start");
    }
    let out = Command::new(BIN)
        .args([
            "workflow",
            "execute",
            "--address",
            &format!("127.0.0.1:{port}"),
            "--type",
            "ShoutWorkflow",
            "--input",
            "\"hi\"",
        ])
        .output()
        .unwrap();
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let status = child.wait().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "\"HI!\"");
    assert!(status.success(), "{status:?}");
}
