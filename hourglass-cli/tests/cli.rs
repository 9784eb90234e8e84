//! Drives the real `hourglass` binary: `hourglass run` on the embedded dev server, client
//! commands against it, signals, restarts, and bad input.

use hourglass_tests::child_output::{KillOnDrop, LineReader, free_port};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_hourglass");

/// A running `hourglass run`, killed (and reaped) when dropped.
struct Run {
    child: Option<Child>,
    port: u16,
    admin: String,
    stdout: LineReader,
}

impl Run {
    fn start(dir: &Path, port: u16, extra: &[&str]) -> Run {
        let admin = format!("127.0.0.1:{}", free_port());
        let mut child = Command::new(BIN)
            .args(["run", "--port", &port.to_string(), "--admin", &admin])
            .args(extra)
            .current_dir(dir)
            .env_remove("TEMPORAL_ADDRESS")
            .env_remove("TEMPORAL_NAMESPACE")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn hourglass run");
        let stdout = LineReader::new(child.stdout.take().unwrap());
        let mut run = Run {
            child: Some(child),
            port,
            admin,
            stdout,
        };
        run.wait_for_line("Stop with Ctrl-C", Duration::from_secs(120));
        run
    }

    fn wait_for_line(&mut self, needle: &str, limit: Duration) -> String {
        self.stdout.wait_for(needle, limit)
    }

    fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn pid(&self) -> i32 {
        self.child.as_ref().unwrap().id() as i32
    }

    fn signal(&self, sig: &str) {
        let status = Command::new("kill")
            .args([sig, &self.pid().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Waits for the process to exit; returns its exit code.
    fn wait_exit(&mut self, limit: Duration) -> Option<i32> {
        let deadline = Instant::now() + limit;
        let child = self.child.as_mut().unwrap();
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                self.child = None;
                return status.code();
            }
            assert!(
                Instant::now() < deadline,
                "hourglass run did not exit in {limit:?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Run {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn hourglass(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env_remove("TEMPORAL_ADDRESS")
        .env_remove("TEMPORAL_NAMESPACE")
        .output()
        .expect("run hourglass")
}

fn ok(args: &[&str]) -> String {
    let out = hourglass(args);
    assert!(
        out.status.success(),
        "hourglass {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Runs a command that must fail; returns its stderr, which must be one line.
fn fails(args: &[&str]) -> String {
    let out = hourglass(args);
    assert!(!out.status.success(), "hourglass {args:?} should fail");
    let err = String::from_utf8_lossy(&out.stderr).trim().to_string();
    let last = err.lines().last().unwrap_or_default().to_string();
    assert!(last.starts_with("hourglass: error: "), "{err}");
    last
}

fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

#[test]
fn run_serves_every_example_and_the_tree_then_stops_on_sigterm() {
    let dir = tempdir();
    let mut run = Run::start(dir.path(), free_port(), &["--core-threads", "2"]);
    assert!(
        run.wait_for_line("Self-check", Duration::from_secs(5))
            .contains("Hello, Hourglass!")
    );
    let a = run.address();
    let a = a.as_str();
    assert_eq!(
        ok(&[
            "workflow",
            "execute",
            "--address",
            a,
            "--type",
            "GreetingWorkflow",
            "--input",
            "\"World\""
        ]),
        "\"Hello, World!\""
    );
    assert_eq!(
        ok(&[
            "workflow",
            "execute",
            "--address",
            a,
            "--type",
            "TimerWorkflow",
            "--input",
            "1"
        ]),
        "\"timer of 1s fired\""
    );
    assert_eq!(
        ok(&[
            "workflow",
            "execute",
            "--address",
            a,
            "--type",
            "ParentWorkflow",
            "--input",
            "\"kid\"",
            "-w",
            "parent-1"
        ]),
        "\"child said: Hello, kid!\""
    );
    ok(&[
        "workflow",
        "start",
        "--address",
        a,
        "--type",
        "CounterWorkflow",
        "-w",
        "counter-1",
    ]);
    ok(&[
        "workflow",
        "signal",
        "--address",
        a,
        "-w",
        "counter-1",
        "--name",
        "add",
        "--input",
        "5",
    ]);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if ok(&[
            "workflow",
            "query",
            "--address",
            a,
            "-w",
            "counter-1",
            "--name",
            "count",
        ]) == "5"
        {
            break;
        }
        assert!(Instant::now() < deadline, "query never saw the signal");
        std::thread::sleep(Duration::from_millis(100));
    }
    ok(&[
        "workflow",
        "signal",
        "--address",
        a,
        "-w",
        "counter-1",
        "--name",
        "finish",
    ]);
    assert_eq!(
        ok(&["workflow", "result", "--address", a, "-w", "counter-1"]),
        "5"
    );
    let described = ok(&["workflow", "describe", "--address", a, "-w", "counter-1"]);
    assert!(described.contains("COMPLETED"), "{described}");
    let listed = ok(&["workflow", "list", "--address", a]);
    assert!(
        listed.contains("counter-1") && listed.contains("parent-1-child"),
        "{listed}"
    );
    let history = ok(&["workflow", "show", "--address", a, "-w", "counter-1"]);
    assert!(history.contains("WorkflowExecutionSignaled"), "{history}");

    let tree = ok(&["tree", "--admin", &run.admin]);
    for needle in [
        "subsystem",
        "runtime [Running]",
        "bridge_holder [Running]",
        "worker_registry [Running]",
        "worker:default [Running]",
        "workflow_poll_loop [Running]",
        "activity_poll_loop [Running]",
        "worker_launcher [Terminated]",
    ] {
        assert!(tree.contains(needle), "tree lacks {needle}:\n{tree}");
    }

    run.signal("-TERM");
    assert_eq!(run.wait_exit(Duration::from_secs(60)), Some(0));
    // The admin endpoint is gone with it.
    let err = fails(&["tree", "--admin", &run.admin]);
    assert!(err.contains("is `hourglass run` running?"), "{err}");
}

#[test]
fn sigterm_with_work_in_flight_drains_exits_zero_and_restart_finishes_everything() {
    let dir = tempdir();
    let port = free_port();
    let mut run = Run::start(dir.path(), port, &[]);
    let a = run.address();
    for i in 0..20 {
        let id = format!("inflight-{i}");
        let name = format!("\"n{i}\"");
        ok(&[
            "workflow",
            "start",
            "--address",
            &a,
            "--type",
            "GreetingWorkflow",
            "-w",
            &id,
            "--input",
            &name,
        ]);
    }
    run.signal("-TERM");
    assert_eq!(
        run.wait_exit(Duration::from_secs(60)),
        Some(0),
        "graceful exit"
    );
    // Nothing was lost: a new run on the same database finishes whatever was left.
    let run2 = Run::start(dir.path(), port, &[]);
    for i in 0..20 {
        let id = format!("inflight-{i}");
        assert_eq!(
            ok(&[
                "workflow",
                "result",
                "--address",
                &run2.address(),
                "-w",
                &id
            ]),
            format!("\"Hello, n{i}!\"")
        );
    }
}

#[test]
fn sigkill_then_restart_on_the_same_database_finishes_open_workflows() {
    let dir = tempdir();
    let port = free_port();
    let run = Run::start(dir.path(), port, &[]);
    let a = run.address();
    ok(&[
        "workflow",
        "start",
        "--address",
        &a,
        "--type",
        "TimerWorkflow",
        "-w",
        "durable-timer",
        "--input",
        "3",
    ]);
    ok(&[
        "workflow",
        "start",
        "--address",
        &a,
        "--type",
        "CounterWorkflow",
        "-w",
        "durable-counter",
    ]);
    run.signal("-KILL");
    drop(run);
    let run2 = Run::start(dir.path(), port, &[]);
    let a = run2.address();
    ok(&[
        "workflow",
        "signal",
        "--address",
        &a,
        "-w",
        "durable-counter",
        "--name",
        "add",
        "--input",
        "7",
    ]);
    ok(&[
        "workflow",
        "signal",
        "--address",
        &a,
        "-w",
        "durable-counter",
        "--name",
        "finish",
    ]);
    assert_eq!(
        ok(&[
            "workflow",
            "result",
            "--address",
            &a,
            "-w",
            "durable-counter"
        ]),
        "7"
    );
    assert_eq!(
        ok(&["workflow", "result", "--address", &a, "-w", "durable-timer"]),
        "\"timer of 3s fired\""
    );
}

#[test]
fn a_second_instance_on_the_same_port_fails_clearly_and_leaves_nothing() {
    let dir = tempdir();
    let port = free_port();
    let _run = Run::start(dir.path(), port, &[]);
    let dir2 = tempdir();
    let out = Command::new(BIN)
        .args([
            "run",
            "--ephemeral",
            "--port",
            &port.to_string(),
            "--admin",
            &format!("127.0.0.1:{}", free_port()),
        ])
        .current_dir(dir2.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    let last = err.trim().lines().last().unwrap_or_default();
    assert!(
        last.contains("already in use") && last.contains("--port"),
        "{err}"
    );
    assert!(!String::from_utf8_lossy(&out.stdout).contains("Hourglass is running"));
}

#[test]
fn bad_input_gives_one_line_errors_naming_the_fix() {
    let closed = format!("127.0.0.1:{}", free_port());
    let err = fails(&[
        "workflow",
        "execute",
        "--address",
        &closed,
        "--type",
        "GreetingWorkflow",
        "--input",
        "{bad",
    ]);
    assert!(err.contains("not valid JSON"), "{err}");
    let err = fails(&["workflow", "list", "--address", &closed]);
    assert!(
        err.contains("cannot connect") && err.contains("--address"),
        "{err}"
    );
    let err = fails(&[
        "run",
        "--address",
        &closed,
        "--admin",
        &format!("127.0.0.1:{}", free_port()),
    ]);
    assert!(
        err.contains("cannot connect") && err.contains("--address"),
        "{err}"
    );
    let err = fails(&[
        "run",
        "--ephemeral",
        "--core",
        "/nonexistent/libhourglass_core.so",
    ]);
    assert!(
        err.contains("not found") && err.contains("--core linked"),
        "{err}"
    );
    let dir = tempdir();
    let cfg = dir.path().join("hourglass.toml");
    std::fs::write(&cfg, "adress = \"typo\"\n").unwrap();
    let err = fails(&["--config", cfg.to_str().unwrap(), "workflow", "list"]);
    assert!(
        err.contains("adress") && err.contains("hourglass.toml"),
        "{err}"
    );
    let err = fails(&["run", "--ephemeral", "--task-queue", " "]);
    assert!(err.contains("--task-queue"), "{err}");
    let err = fails(&["run", "--ephemeral", "--core-threads", "5000"]);
    assert!(
        err.contains("--core-threads") && err.contains("1024"),
        "{err}"
    );
}

#[test]
fn an_unknown_workflow_type_is_reported_and_terminated() {
    let dir = tempdir();
    let run = Run::start(dir.path(), free_port(), &["--ephemeral"]);
    let err = fails(&[
        "workflow",
        "execute",
        "--address",
        &run.address(),
        "--type",
        "NoSuchWorkflow",
        "-w",
        "nope",
    ]);
    assert!(
        err.contains("NoSuchWorkflow") && err.contains("--type"),
        "{err}"
    );
    let described = ok(&[
        "workflow",
        "describe",
        "--address",
        &run.address(),
        "-w",
        "nope",
    ]);
    assert!(described.contains("TERMINATED"), "{described}");
}

#[test]
fn server_start_dev_serves_clients() {
    let port = free_port();
    let dir = tempdir();
    let db: PathBuf = dir.path().join("dev.db");
    let mut child = KillOnDrop(
        Command::new(BIN)
            .args([
                "server",
                "start-dev",
                "--port",
                &port.to_string(),
                "--db-filename",
                db.to_str().unwrap(),
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    assert!(first.contains(&format!("127.0.0.1:{port}")), "{first}");
    let listed = ok(&[
        "workflow",
        "list",
        "--address",
        &format!("127.0.0.1:{port}"),
    ]);
    assert!(listed.starts_with("Status"), "{listed}");
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    assert!(db.exists());
}

#[test]
fn start_dev_applies_dynamic_config_values_and_search_attributes_and_refuses_bad_ones() {
    let err = fails(&[
        "server",
        "start-dev",
        "--dynamic-config-value",
        "limit.historyCount.error=lots",
    ]);
    assert!(err.contains("limit.historyCount.error=lots"), "{err}");
    let port = free_port().to_string();
    let err = fails(&[
        "server",
        "start-dev",
        "--port",
        &port,
        "--search-attribute",
        "Color=Colour",
    ]);
    assert!(err.contains("Color=Colour: unknown type"), "{err}");
    let err = fails(&[
        "server",
        "start-dev",
        "--port",
        &port,
        "--search-attribute",
        "Color",
    ]);
    assert!(err.contains("expected NAME=TYPE"), "{err}");
    let err = fails(&[
        "server",
        "start-dev",
        "--port",
        &port,
        "--search-attribute",
        "TemporalX=Int",
    ]);
    assert!(err.contains("reserved by system"), "{err}");
    let port = free_port();
    let mut child = KillOnDrop(
        Command::new(BIN)
            .args(["server", "start-dev", "--port", &port.to_string()])
            .args(["--dynamic-config-value", "limit.historyCount.error=6"])
            .args([
                "--dynamic-config-value",
                "frontend.enableUpdateWorkflowExecution=true",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut stdout = LineReader::new(child.stdout.take().unwrap());
    let mut stderr = LineReader::new(child.stderr.take().unwrap());
    stdout.wait_for("listening on", Duration::from_secs(30));
    let warned = stderr.wait_for(
        "not used by the Hourglass dev server",
        Duration::from_secs(5),
    );
    assert!(
        warned.contains("frontend.enableUpdateWorkflowExecution"),
        "{warned}"
    );
    let a = format!("127.0.0.1:{port}");
    let a = a.as_str();
    ok(&[
        "workflow",
        "start",
        "--address",
        a,
        "--type",
        "Nobody",
        "-w",
        "limited",
    ]);
    // Started + WorkflowTaskScheduled, then one event per signal: the seventh event is over.
    for i in 0..5 {
        let out = hourglass(&[
            "workflow",
            "signal",
            "--address",
            a,
            "-w",
            "limited",
            "--name",
            "s",
            "--input",
            &i.to_string(),
        ]);
        if !out.status.success() {
            break;
        }
    }
    let described = ok(&["workflow", "describe", "--address", a, "-w", "limited"]);
    assert!(described.contains("TERMINATED"), "{described}");
}

#[test]
fn metrics_and_json_logs() {
    let dir = tempdir();
    let port = free_port();
    let metrics = format!("127.0.0.1:{}", free_port());
    let admin = format!("127.0.0.1:{}", free_port());
    let mut child = KillOnDrop(
        Command::new(BIN)
            .args([
                "--log-format",
                "json",
                "run",
                "--ephemeral",
                "--core",
                "linked",
            ])
            .args([
                "--port",
                &port.to_string(),
                "--admin",
                &admin,
                "--metrics",
                &metrics,
            ])
            .current_dir(dir.path())
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut stdout = LineReader::new(child.stdout.take().unwrap());
    let mut stderr = LineReader::new(child.stderr.take().unwrap());
    stdout.wait_for("Stop with Ctrl-C", Duration::from_secs(120));
    // Logs are JSON objects, one per line.
    let line = stderr.wait_for("\"hourglass started\"", Duration::from_secs(10));
    let parsed: serde_json::Value = serde_json::from_str(&line).expect("a JSON log line");
    assert_eq!(parsed["level"], "INFO", "{line}");

    let text = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(hourglass_cli::admin::http_get(&metrics, "/metrics"))
        .unwrap();
    for needle in [
        "hourglass_child_restarts_total{path=\"hourglass/subsystem/bridge_holder\"} 0",
        "hourglass_in_flight_tasks{kind=\"workflow\"}",
        "hourglass_poll_errors_total 0",
        "hourglass_activations_dispatched_total",
        // The core's own metrics, exported by the Temporal core.
        "temporal_",
    ] {
        assert!(text.contains(needle), "metrics lack {needle}:\n{text}");
    }
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    assert!(child.wait().unwrap().success());
}
