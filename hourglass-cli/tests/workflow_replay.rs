//! `hourglass workflow replay` as the real binary against `hourglass run` (embedded dev
//! server plus the example workers) on a free loopback port: histories fetched by id, by
//! query and exported by `workflow show --output json` replay clean; a history the code
//! does not match fails with a non-zero exit naming the event.

#[allow(dead_code)]
#[path = "support/cli_server.rs"]
mod cli_server;

use cli_server::{Server, hourglass};
use serde_json::Value;

fn replay_output(args: &[String]) -> (bool, String, String) {
    let out = hourglass(args);
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| s.to_string()).collect()
}

#[test]
fn shown_json_histories_replay_and_a_mismatch_fails_naming_the_event() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::run(dir.path());
    s.ok(&[
        "workflow",
        "execute",
        "--type",
        "GreetingWorkflow",
        "-w",
        "g-1",
        "-i",
        "\"World\"",
    ]);
    s.ok(&[
        "workflow",
        "execute",
        "--type",
        "TimerWorkflow",
        "-w",
        "t-1",
        "-i",
        "1",
    ]);

    // `workflow show --output json` writes Temporal's JSON history; it replays offline.
    let shown = s.ok(&["workflow", "show", "-w", "g-1", "-o", "json"]);
    let json: Value = serde_json::from_str(&shown).unwrap();
    assert_eq!(
        json["events"][0]["eventType"],
        "EVENT_TYPE_WORKFLOW_EXECUTION_STARTED"
    );
    let file = dir.path().join("g-1.json");
    std::fs::write(&file, &shown).unwrap();
    let path = file.to_string_lossy().to_string();
    let (ok, stdout, stderr) = replay_output(&strings(&["workflow", "replay", "--file", &path]));
    assert!(ok, "{stdout}{stderr}");
    assert!(stdout.contains("ok      g-1 (run "), "{stdout}");
    assert!(stdout.contains("Replayed 1 workflow history"), "{stdout}");

    // By id and by query, from the server.
    let (ok, stdout, stderr) = replay_output(&s.cmd(&["workflow", "replay", "-w", "t-1"]));
    assert!(ok, "{stdout}{stderr}");
    assert!(stdout.contains("TimerWorkflow"), "{stdout}");
    let (ok, stdout, stderr) = replay_output(&s.cmd(&[
        "workflow",
        "replay",
        "--query",
        "WorkflowId = 'g-1' OR WorkflowId = 't-1'",
    ]));
    assert!(ok, "{stdout}{stderr}");
    assert!(stdout.contains("Replayed 2 workflow histories"), "{stdout}");

    // The timer history under GreetingWorkflow's name: the code schedules an activity
    // where the history recorded a timer.
    let mut timer: Value =
        serde_json::from_str(&s.ok(&["workflow", "show", "-w", "t-1", "-o", "json"])).unwrap();
    timer["events"][0]["workflowExecutionStartedEventAttributes"]["workflowType"]["name"] =
        "GreetingWorkflow".into();
    timer["events"][0]["workflowExecutionStartedEventAttributes"]["input"]["payloads"][0] =
        serde_json::json!({"metadata": {"encoding": "anNvbi9wbGFpbg=="}, "data": "IldvcmxkIg=="});
    let bad = dir.path().join("mismatch.json");
    std::fs::write(&bad, timer.to_string()).unwrap();
    let bad = bad.to_string_lossy().to_string();
    let (ok, stdout, stderr) = replay_output(&strings(&[
        "workflow", "replay", "--file", &path, "--file", &bad,
    ]));
    assert!(!ok, "a mismatch must fail: {stdout}{stderr}");
    assert!(
        stdout.contains("ok      g-1"),
        "the good file first: {stdout}"
    );
    assert!(stdout.contains("FAILED  t-1"), "{stdout}");
    let timer_started = timer["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["eventType"] == "EVENT_TYPE_TIMER_STARTED")
        .map(|e| e["eventId"].as_str().unwrap().to_string())
        .unwrap();
    assert!(
        stdout.contains(&format!("event:    {timer_started} (TimerStarted)")),
        "{stdout}"
    );
    assert!(stdout.contains("mismatch: "), "{stdout}");
    assert!(
        stdout.contains("mismatch: [TMPRL1100] Nondeterminism error: Activity machine"),
        "{stdout}"
    );
    // Logs go to stderr too; the error is its last line.
    let last = stderr.trim().lines().last().unwrap_or_default();
    assert!(
        last.starts_with("hourglass: error: replay failed: nondeterminism in workflow `t-1`"),
        "{stderr}"
    );
}

#[test]
fn bad_replay_input_is_one_line_naming_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir
        .path()
        .join("missing.json")
        .to_string_lossy()
        .to_string();
    let err = cli_server::fails(&strings(&["workflow", "replay", "--file", &missing]));
    assert!(err.contains("cannot read history file"), "{err}");
    let junk = dir.path().join("junk.json");
    std::fs::write(&junk, "{\"events\": [").unwrap();
    let junk = junk.to_string_lossy().to_string();
    let err = cli_server::fails(&strings(&["workflow", "replay", "--file", &junk]));
    assert!(err.contains("is not valid JSON"), "{err}");
    let other = dir.path().join("other.json");
    std::fs::write(&other, "{\"workflows\": []}").unwrap();
    let other = other.to_string_lossy().to_string();
    let err = cli_server::fails(&strings(&["workflow", "replay", "--file", &other]));
    assert!(err.contains("is not a workflow history"), "{err}");
    // Exactly one source is required.
    let out = hourglass(&strings(&["workflow", "replay"]));
    assert!(!out.status.success());
}
