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

/// The Python pool workers under `hourglass` (pid): its `hourglass_activity_worker` children,
/// or, for a pool with a fork server (a child whose own children are the workers), those.
/// Returns `(workers, fork servers)`.
fn pool_processes(hourglass: u32) -> (Vec<u32>, Vec<u32>) {
    let python = |pid: &u32| external_support::cmdline(*pid).contains("hourglass_activity_worker");
    let (mut workers, mut servers) = (Vec::new(), Vec::new());
    for child in children_of(hourglass).into_iter().filter(python) {
        let forked: Vec<u32> = children_of(child).into_iter().filter(python).collect();
        if forked.is_empty() {
            workers.push(child);
        } else {
            servers.push(child);
            workers.extend(forked);
        }
    }
    (workers, servers)
}

/// Starts `hourglass run` in `dir` with a pool `py` of two workers serving `module` (found on
/// `paths`); returns it once it is ready, with its port and the pids of the two workers.
fn run_with_pool(
    dir: &std::path::Path,
    paths: &[&std::path::Path],
    module: &str,
) -> (KillOnDrop, u16, Vec<u32>) {
    let mut args = vec!["-m".to_string(), "hourglass_activity_worker".to_string()];
    for path in paths {
        args.extend(["--path".to_string(), path.to_string_lossy().into_owned()]);
    }
    args.push(module.to_string());
    let config = dir.join("hourglass.toml");
    std::fs::write(
        &config,
        format!(
            "[[pools]]\nname = \"py\"\ncommand = {:?}\nargs = {:?}\nsize = 2\n",
            venv_python().to_string_lossy(),
            args
        ),
    )
    .unwrap();
    let port = free_port();
    let mut child = KillOnDrop(
        Command::new(BIN)
            .args(["--config", config.to_str().unwrap(), "run", "--ephemeral"])
            .args(["--port", &port.to_string()])
            .args(["--admin", &format!("127.0.0.1:{}", free_port())])
            .current_dir(dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    LineReader::new(child.stdout.take().unwrap())
        .wait_for("Stop with Ctrl-C", Duration::from_secs(120));
    let (mut workers, servers) = pool_processes(child.id());
    assert_eq!(workers.len(), 2, "two python workers run: {workers:?}");
    assert_eq!(servers.len(), 1, "forked by one fork server: {servers:?}");
    // The fork server must not outlive hourglass run either.
    workers.extend(servers);
    (child, port, workers)
}

#[test]
fn sigkill_of_hourglass_run_leaves_no_python_worker() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, _, workers) =
        run_with_pool(dir.path(), &[&fixtures_dir()], "fixture_activities");
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

/// A Python `Summarize` (the activity the built-in `SummarizeWorkflow` calls) that starts the
/// fixtures' child, setsid grandchild and double-forked daemon, writes every pid to the file its
/// input names, and then runs until it is killed.
const SPAWNING_SUMMARIZE: &str = r#"
import json, os, time
from hourglass_activity_worker import activity
from fixture_activities import spawn_descendants

@activity("Summarize")
def summarize(ctx, path):
    pids = spawn_descendants(ctx)
    with open(path + ".tmp", "w") as f:
        json.dump(pids, f)
    os.rename(path + ".tmp", path)
    time.sleep(600)
    return "never"
"#;

#[test]
fn sigkill_of_hourglass_run_leaves_no_descendant_of_a_python_activity() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("spawning_summarize.py"), SPAWNING_SUMMARIZE).unwrap();
    let (mut child, port, workers) = run_with_pool(
        dir.path(),
        &[&fixtures_dir(), dir.path()],
        "spawning_summarize",
    );

    let pid_file = dir.path().join("descendants.json");
    let input = serde_json::to_string(&pid_file.to_string_lossy()).unwrap();
    let started = Command::new(BIN)
        .args(["workflow", "start", "--type", "SummarizeWorkflow"])
        .args(["-w", "spawns-descendants", "--input", &input])
        .args(["--address", &format!("127.0.0.1:{port}")])
        .output()
        .unwrap();
    assert!(started.status.success(), "workflow start: {started:?}");
    let deadline = Instant::now() + Duration::from_secs(60);
    let pids = loop {
        if let Ok(text) = std::fs::read_to_string(&pid_file) {
            break serde_json::from_str::<serde_json::Value>(&text).unwrap();
        }
        assert!(
            Instant::now() < deadline,
            "the activity never wrote its pids"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut all: Vec<(String, u32)> = ["child", "setsid_parent", "setsid_grandchild", "daemon"]
        .iter()
        .map(|k| (k.to_string(), pids[k].as_u64().unwrap() as u32))
        .collect();
    for (what, pid) in &all {
        assert!(!is_dead(*pid), "{what} ({pid}) is not running");
    }
    all.extend(workers.iter().map(|pid| ("worker".to_string(), *pid)));

    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let alive: Vec<&(String, u32)> = all.iter().filter(|(_, pid)| !is_dead(*pid)).collect();
        if alive.is_empty() {
            break;
        }
        if Instant::now() >= deadline {
            for (_, pid) in &all {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(*pid as i32),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
            panic!("outlived SIGKILL of hourglass run: {alive:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The fenced block that follows the `<!-- guide:<name> -->` line of the guide.
fn guide_block(guide: &str, name: &str) -> String {
    let marker = format!("<!-- guide:{name} -->");
    let start = guide
        .find(&marker)
        .unwrap_or_else(|| panic!("the guide has no {marker}"));
    let mut lines = guide[start + marker.len()..].lines().skip(1);
    let fence = lines.next().unwrap_or_default();
    assert!(
        fence.starts_with("```"),
        "{marker} is not followed by a code block"
    );
    let mut out = String::new();
    for line in lines.by_ref() {
        if line.starts_with("```") {
            return out;
        }
        out.push_str(line);
        out.push('\n');
    }
    panic!("the code block after {marker} is not closed")
}

/// Copies the files of `from` (not generated or cached ones) to `to`.
fn copy_tree(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        let name = entry.file_name();
        let name_str = name.to_string_lossy();
        if matches!(name_str.as_ref(), "_proto" | "__pycache__" | "build")
            || name_str.ends_with(".egg-info")
        {
            continue;
        }
        let target = to.join(&name);
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// Runs `script` with `sh -e` in `dir` with `HOURGLASS` set; panics with its output on failure.
fn sh(script: &str, dir: &std::path::Path, hourglass: &std::path::Path) -> String {
    let out = Command::new("sh")
        .args(["-ec", script])
        .current_dir(dir)
        .env("HOURGLASS", hourglass)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{script}\nfailed with {}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// docs/python-activities.md, followed to the letter: its install commands (in a fresh venv,
/// against a copy of the Python package and the protocol, so the shared test venv is not
/// touched), its files, its `hourglass run`, its `workflow execute` and the output it promises.
/// Only the free ports are added (and the `cargo build` line is the build this test runs in).
#[test]
fn the_python_activities_guide_runs_as_written() {
    let workspace = external_support::workspace();
    let guide = std::fs::read_to_string(workspace.join("docs/python-activities.md")).unwrap();

    // The Rust code in the guide is the built-in example's, word for word.
    let examples =
        std::fs::read_to_string(workspace.join("hourglass-worker/src/examples.rs")).unwrap();
    let begin = examples
        .find("// guide:begin")
        .expect("guide:begin in examples.rs");
    let end = examples
        .find("// guide:end")
        .expect("guide:end in examples.rs");
    let code = examples[begin..end]
        .split_once('\n')
        .map(|(_, rest)| rest)
        .unwrap_or_default()
        .replace("#[crate::register]", "#[hourglass_worker::register]");
    assert_eq!(
        guide_block(&guide, "rust"),
        code,
        "the guide's Rust code differs from examples.rs"
    );

    // A checkout with just what the guide's commands use.
    let dir = tempfile::tempdir().unwrap();
    let checkout = dir.path().join("hourglass");
    copy_tree(
        &workspace.join("python/hourglass-activity-worker"),
        &checkout.join("python/hourglass-activity-worker"),
    );
    copy_tree(
        &workspace.join("proto/hourglass/external"),
        &checkout.join("proto/hourglass/external"),
    );
    std::fs::create_dir_all(checkout.join("target/debug")).unwrap();
    std::os::unix::fs::symlink(BIN, checkout.join("target/debug/hourglass")).unwrap();

    let install = guide_block(&guide, "install");
    let mut script = String::new();
    for line in install.lines() {
        if line.starts_with("export HOURGLASS=") {
            continue; // set to the checkout above
        }
        if line.starts_with("cargo build ") {
            assert!(line.contains("-p hourglass-cli"), "{line}");
            continue; // this test runs on that build
        }
        script.push_str(line);
        script.push('\n');
    }
    sh(&script, dir.path(), &checkout);
    let project = dir.path().join("my-project");
    for file in ["my_activities.py", "hourglass.toml"] {
        std::fs::write(
            project.join(file),
            guide_block(&guide, &format!("file {file}")),
        )
        .unwrap();
    }

    let port = free_port();
    let run = guide_block(&guide, "run");
    let mut child = KillOnDrop(
        Command::new("sh")
            .arg("-c")
            .arg(format!(
                "exec {} --port {port} --admin 127.0.0.1:{}",
                run.trim(),
                free_port()
            ))
            .current_dir(&project)
            .env("HOURGLASS", &checkout)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    LineReader::new(child.stdout.take().unwrap())
        .wait_for("Stop with Ctrl-C", Duration::from_secs(120));
    let (mut workers, servers) = pool_processes(child.id());
    assert_eq!(
        workers.len(),
        2,
        "the guide's pool has two processes: {workers:?}"
    );
    workers.extend(servers);

    let execute = guide_block(&guide, "execute");
    let out = sh(
        &format!("{} --address 127.0.0.1:{port}", execute.trim()),
        &project,
        &checkout,
    );
    assert_eq!(out.trim(), guide_block(&guide, "output").trim());

    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "hourglass run: {status:?}");
    for pid in workers {
        assert!(is_dead(pid), "python worker {pid} outlived hourglass run");
    }
}
