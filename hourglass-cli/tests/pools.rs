//! `hourglass run` with `[[pools]]` from hourglass.toml: real Python worker processes, and none
//! left behind when `hourglass run` itself is SIGKILLed.

// The Python venv with `hourglass-activity-worker` and the fixture activities are shared with
// hourglass-worker's pool tests.
#[path = "../../hourglass-worker/tests/external_support/mod.rs"]
mod external_support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use external_support::{fixtures_dir, is_dead, venv_python};
use hourglass_tests::child_output::{KillOnDrop, LineReader, free_port};

const BIN: &str = env!("CARGO_BIN_EXE_hourglass");

/// Pids of the direct children of `parent`.
fn children_of(parent: u32) -> Vec<u32> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // The fields after the parenthesised command: state, ppid, ...
        let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r.to_string()) else {
            continue;
        };
        let ppid = rest
            .split_whitespace()
            .nth(1)
            .and_then(|p| p.parse::<u32>().ok());
        if ppid == Some(parent) {
            out.push(pid);
        }
    }
    out
}

#[test]
fn sigkill_of_hourglass_run_leaves_no_python_worker() {
    let dir = tempfile::tempdir().unwrap();
    let python = venv_python();
    let config = dir.path().join("hourglass.toml");
    std::fs::write(
        &config,
        format!(
            "[[pools]]\nname = \"py\"\ncommand = {:?}\nargs = [\"-m\", \"hourglass_activity_worker\", \"--path\", {:?}, \"fixture_activities\"]\nsize = 2\n",
            python.to_string_lossy(),
            fixtures_dir().to_string_lossy()
        ),
    )
    .unwrap();
    let mut child = KillOnDrop(
        Command::new(BIN)
            .args(["--config", config.to_str().unwrap(), "run", "--ephemeral"])
            .args(["--port", &free_port().to_string()])
            .args(["--admin", &format!("127.0.0.1:{}", free_port())])
            .current_dir(dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    LineReader::new(child.stdout.take().unwrap())
        .wait_for("Stop with Ctrl-C", Duration::from_secs(120));
    let workers: Vec<u32> = children_of(child.id())
        .into_iter()
        .filter(|pid| external_support::cmdline(*pid).contains("hourglass_activity_worker"))
        .collect();
    assert_eq!(workers.len(), 2, "two python workers run: {workers:?}");

    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    while workers.iter().any(|pid| !is_dead(*pid)) {
        assert!(
            Instant::now() < deadline,
            "python workers outlived hourglass run: {workers:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}
