//! The embedded binary serves its own workflow through the same entry point as `hourglass`.

use hourglass_tests::child_output::{KillOnDrop, LineReader, free_port};
use std::process::{Command, Stdio};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_my-worker");

#[test]
fn own_workflow_is_found_by_type_name_and_runs() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let admin = format!("127.0.0.1:{}", free_port());
    let mut child = KillOnDrop(
        Command::new(BIN)
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
            .unwrap(),
    );
    LineReader::new(child.stdout.take().unwrap())
        .wait_for("Stop with Ctrl-C", Duration::from_secs(120));
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
