//! The Web UI in a real headless Chromium (Debian's, installed when missing) driven by
//! playwright-core: `hourglass run`'s workflow pages and its live supervision tree.
//! Screenshots land in `<target>/web-ui-screenshots/`.

#[path = "../../hourglass-worker/tests/external_support/mod.rs"]
mod external_support;

use hourglass_tests::browser;
use hourglass_tests::child_output::{KillOnDrop, LineReader, free_port};
use hourglass_tests::node_env;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_hourglass");

/// A running `hourglass run` on free loopback ports.
struct Run {
    child: KillOnDrop,
    grpc: String,
    ui: String,
    _stdout: LineReader,
}

impl Run {
    fn start(dir: &Path, extra: &[&str]) -> Run {
        Run::start_with(dir, extra, &[])
    }

    /// `hourglass <global> run ... <run_args>`.
    fn start_with(dir: &Path, global: &[&str], run_args: &[&str]) -> Run {
        let (port, ui_port) = (free_port(), free_port());
        let admin = format!("127.0.0.1:{}", free_port());
        let mut child = KillOnDrop(
            Command::new(BIN)
                .args(global)
                .args(["run", "--ephemeral", "--core-threads", "2"])
                .args(run_args)
                .args([
                    "--port",
                    &port.to_string(),
                    "--ui-port",
                    &ui_port.to_string(),
                ])
                .args(["--admin", &admin])
                .current_dir(dir)
                .env_remove("TEMPORAL_ADDRESS")
                .env_remove("TEMPORAL_NAMESPACE")
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .expect("spawn hourglass run"),
        );
        let mut stdout = LineReader::new(child.stdout.take().unwrap());
        let ui_line = stdout.wait_for("web UI", Duration::from_secs(120));
        let ui = format!("http://127.0.0.1:{ui_port}");
        assert!(ui_line.contains(&ui), "start-up names the UI: {ui_line}");
        stdout.wait_for("Stop with Ctrl-C", Duration::from_secs(120));
        Run {
            child,
            grpc: format!("127.0.0.1:{port}"),
            ui,
            _stdout: stdout,
        }
    }

    fn hourglass(&self, args: &[&str]) -> std::process::Output {
        Command::new(BIN)
            .args(args)
            .args(["--address", &self.grpc])
            .output()
            .expect("run hourglass")
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.hourglass(args);
        assert!(
            out.status.success(),
            "hourglass {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// SIGTERM, then the drop's SIGKILL if it has not exited in 30 s.
    fn stop(mut self) {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        for _ in 0..300 {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

fn screenshots() -> PathBuf {
    let dir = hourglass_tests::python_env::target_dir().join("web-ui-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs a scenario script in the browser; returns its RESULT JSON.
fn scenario(script: &str, ui: &str, extra_env: &[(&str, &str)]) -> serde_json::Value {
    let chromium = browser::chromium().unwrap_or_else(|e| panic!("{e}"));
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    let project = node_env::node_project(&src, "web-ui-browser").unwrap_or_else(|e| panic!("{e}"));
    let shots = screenshots();
    let args = browser::chromium_args().join(" ");
    let mut env = vec![
        ("UI_URL", ui),
        ("CHROMIUM", chromium.to_str().unwrap()),
        ("CHROMIUM_ARGS", args.as_str()),
        ("SHOTS", shots.to_str().unwrap()),
    ];
    env.extend_from_slice(extra_env);
    let out = node_env::run_node_ok(&project, script, &[], &env, Duration::from_secs(240))
        .unwrap_or_else(|e| panic!("{script}: {e}"));
    eprintln!("{out}");
    let line = out
        .lines()
        .find_map(|l| l.strip_prefix("RESULT "))
        .unwrap_or_else(|| panic!("{script} printed no RESULT:\n{out}"));
    serde_json::from_str(line).unwrap()
}

fn s<'a>(v: &'a serde_json::Value, key: &str) -> &'a str {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("{key} missing in {v}"))
}

fn n(v: &serde_json::Value, key: &str) -> i64 {
    v[key]
        .as_i64()
        .unwrap_or_else(|| panic!("{key} missing in {v}"))
}

#[test]
fn workflow_pages_in_a_browser_list_follow_signal_and_refuse_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let run = Run::start(dir.path(), &[]);
    run.ok(&[
        "workflow",
        "execute",
        "--type",
        "ParentWorkflow",
        "--input",
        "\"kid\"",
        "-w",
        "parent-1",
    ]);
    run.ok(&[
        "workflow",
        "start",
        "--type",
        "CounterWorkflow",
        "-w",
        "counter-1",
    ]);
    run.ok(&[
        "schedule",
        "create",
        "-s",
        "sched-1",
        "--interval",
        "1h",
        "--type",
        "GreetingWorkflow",
        "-t",
        "default",
        "--input",
        "\"Sched\"",
    ]);
    // What gRPC itself says about the bad query, to compare with the page.
    let grpc = run.hourglass(&["workflow", "list", "--query", "WorkflowType = "]);
    assert!(!grpc.status.success());
    let grpc_error = String::from_utf8_lossy(&grpc.stderr).to_string();

    let r = scenario("workflow_pages.js", &run.ui, &[]);
    assert_eq!(s(&r, "result"), "\"child said: Hello, kid!\"", "{r}");
    assert_eq!(s(&r, "input"), "\"kid\"", "{r}");
    assert_eq!(s(&r, "status"), "Completed", "{r}");
    assert!(n(&r, "timelineBars") >= 1, "the child is a bar: {r}");
    assert!(s(&r, "timeline").contains("GreetingWorkflow"), "{r}");
    assert_eq!(s(&r, "childResult"), "\"Hello, kid!\"", "{r}");
    assert_eq!(r["childParent"], true, "{r}");
    assert_eq!(n(&r, "filteredRows"), 1, "{r}");
    let query_error = s(&r, "queryError");
    assert!(!query_error.is_empty(), "{r}");
    assert!(
        grpc_error.contains(query_error),
        "the page shows the server's message: {query_error:?} vs {grpc_error:?}"
    );
    assert_eq!(s(&r, "queryKept"), "WorkflowType = ", "{r}");
    let signal_error = s(&r, "signalError");
    assert!(!signal_error.is_empty() && signal_error != "done", "{r}");
    assert_eq!(
        n(&r, "eventsAfterBadSignal"),
        n(&r, "eventsBefore"),
        "nothing changed: {r}"
    );
    assert!(
        n(&r, "eventsAfterSignal") > n(&r, "eventsBefore"),
        "history grew: {r}"
    );
    assert_eq!(n(&r, "signaledEvents"), 1, "{r}");
    assert!(!s(&r, "stackTrace").is_empty(), "{r}");
    assert!(
        s(&r, "updateAnswer").contains("No update handler"),
        "the workflow's refusal: {r}"
    );
    assert_eq!(r["updateIsError"], true, "{r}");
    // 7 from the signal, then 2 more.
    assert_eq!(s(&r, "updateResult"), "9", "{r}");
    assert_eq!(s(&r, "terminatedStatus"), "Terminated", "{r}");
    assert!(
        s(&r, "failureText").contains("from the browser test"),
        "{r}"
    );
    assert!(n(&r, "futureRuns") >= 1, "{r}");
    assert_eq!(r["pausedShown"], true, "{r}");
    assert!(n(&r, "recentRuns") >= 1, "the triggered run is listed: {r}");
    run.stop();
}

/// Pids of the direct children of `parent` running the Python activity worker.
fn python_workers(parent: u32) -> Vec<u32> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let ppid = stat
            .rsplit_once(')')
            .and_then(|(_, r)| r.split_whitespace().nth(1).map(str::to_string))
            .and_then(|p| p.parse::<u32>().ok());
        if ppid == Some(parent)
            && external_support::cmdline(pid).contains("hourglass_activity_worker")
        {
            out.push(pid);
        }
    }
    out
}

#[test]
fn the_tree_page_shows_a_crashed_pool_worker_restart_live() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("hourglass.toml");
    std::fs::write(
        &config,
        format!(
            "[[pools]]\nname = \"py\"\ncommand = {:?}\nargs = [\"-m\", \"hourglass_activity_worker\", \"--path\", {:?}, \"fixture_activities\"]\nsize = 1\n",
            external_support::venv_python().to_string_lossy(),
            external_support::fixtures_dir().to_string_lossy()
        ),
    )
    .unwrap();
    let run = Run::start(dir.path(), &["--config", config.to_str().unwrap()]);
    // The pool's fork server is `hourglass run`'s child; the worker is forked by it.
    let servers = python_workers(run.child.id());
    assert_eq!(servers.len(), 1, "one fork server: {servers:?}");
    let server = servers[0].to_string();
    let workers = python_workers(servers[0]);
    assert_eq!(workers.len(), 1, "one python worker: {workers:?}");
    let pid = workers[0].to_string();

    let r = scenario("tree_page.js", &run.ui, &[("CRASH_PID", pid.as_str())]);
    assert!(n(&r, "rowsBefore") > 5, "{r}");
    assert!(s(&r, "coreInfo").contains("generation 1"), "{r}");
    assert!(
        r["paths"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p.as_str().unwrap_or("").contains("pool")),
        "the pool is in the tree: {r}"
    );
    assert!(
        n(&r, "restartsAfter") > n(&r, "restartsBefore"),
        "a restart was shown: {r}"
    );
    assert!(!r["restarted"].as_array().unwrap().is_empty(), "{r}");
    assert!(
        !r["lastExits"].as_array().unwrap().is_empty(),
        "the crash's reason is shown: {r}"
    );
    assert_eq!(r["sameDocument"], true, "pushed live, not reloaded: {r}");
    assert_eq!(r["metricsHasRestarts"], true, "{r}");
    let after = python_workers(servers[0]);
    assert_eq!(after.len(), 1, "healed: {after:?}");
    assert_ne!(after[0].to_string(), pid, "a new process: {after:?}");
    // The fork server's and the worker's rows name their processes: the fork server stays,
    // the killed worker is replaced by the new one.
    assert_eq!(r["pidsBefore"], serde_json::json!([server, pid]), "{r}");
    assert_eq!(
        r["pidsAfter"],
        serde_json::json!([server, after[0].to_string()]),
        "{r}"
    );
    run.stop();
}

#[test]
fn the_tree_page_shows_a_live_core_reload() {
    let dir = tempfile::tempdir().unwrap();
    let source = hourglass_tests::core_lib::core_library();
    let lib = dir.path().join("libhourglass_core.so");
    std::fs::copy(&source, &lib).unwrap();
    let run = Run::start_with(
        dir.path(),
        &[],
        &["--core", lib.to_str().unwrap(), "--watch-core"],
    );
    let r = scenario(
        "core_reload.js",
        &run.ui,
        &[
            ("CORE_PATH", lib.to_str().unwrap()),
            ("CORE_SOURCE", source.to_str().unwrap()),
        ],
    );
    let before = s(&r, "coreBefore");
    assert!(
        before.contains("(reloadable), generation 1") && before.contains("Generations: 1 from"),
        "{r}"
    );
    let after = s(&r, "coreAfter");
    assert!(after.contains("generation 2"), "the reload was pushed: {r}");
    assert!(
        after.contains("Generations: 1 from") && after.contains(", 2 from"),
        "the reload history lists both generations: {r}"
    );
    assert_eq!(r["sameDocument"], true, "pushed live, not reloaded: {r}");
    assert!(n(&r, "rowsAfter") >= n(&r, "rowsBefore"), "{r}");
    // The reloaded core serves workflows.
    let result = run.ok(&[
        "workflow",
        "execute",
        "--type",
        "GreetingWorkflow",
        "-w",
        "after-reload",
        "-i",
        "\"reload\"",
    ]);
    assert!(result.contains("reload"), "{result}");
    run.stop();
}

#[test]
fn start_dev_serves_the_ui_where_told_and_names_a_busy_ui_port() {
    let (port, ui_port) = (free_port(), free_port());
    let mut child = KillOnDrop(
        Command::new(BIN)
            .args(["server", "start-dev", "--port", &port.to_string()])
            .args(["--ui-port", &ui_port.to_string()])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let mut stdout = LineReader::new(child.stdout.take().unwrap());
    let line = stdout.wait_for("web UI", Duration::from_secs(60));
    assert!(
        line.contains(&format!("http://127.0.0.1:{ui_port}")),
        "{line}"
    );
    stdout.wait_for("HTTP API", Duration::from_secs(5));

    // Paging: 60 runs of one type, 50 to a page, each run on exactly one page.
    let address = format!("127.0.0.1:{port}");
    for i in 0..60 {
        let id = format!("paged-{i:02}");
        let out = Command::new(BIN)
            .args([
                "workflow", "start", "--type", "Paged", "-t", "none", "-w", &id,
            ])
            .args(["--address", &address])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let r = scenario("paging.js", &format!("http://127.0.0.1:{ui_port}"), &[]);
    let pages: Vec<Vec<String>> = serde_json::from_value(r["pages"].clone()).unwrap();
    assert_eq!(
        pages.iter().map(Vec::len).collect::<Vec<_>>(),
        [50, 10],
        "{r}"
    );
    let mut all: Vec<&String> = pages.iter().flatten().collect();
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 60, "no run twice, none missing: {r}");
    assert_eq!(s(&r, "queryKept"), "WorkflowType = 'Paged'", "{r}");

    // The UI port is now taken: a second server fails, naming the address and the flags.
    let out = Command::new(BIN)
        .args(["server", "start-dev", "--port", &free_port().to_string()])
        .args(["--ui-port", &ui_port.to_string()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("127.0.0.1:{ui_port}"))
            && err.contains("already in use")
            && err.contains("--ui-port"),
        "{err}"
    );
    // --headless and --ui-port contradict each other.
    let out = Command::new(BIN)
        .args(["server", "start-dev", "--headless", "--ui-port", "1"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--headless"));
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
}
