//! The Temporal-CLI-shaped workflow commands (`workflow count|describe|show|list|update|
//! delete|reset`, `--output json`, and their batch forms with `batch ...` in `batch.rs`) run as the real `hourglass` binary against `hourglass server start-dev` (or `hourglass run` where a
//! worker is needed) on a free loopback port. Every process a test starts is killed when
//! the test ends.

#[path = "client_commands/batch.rs"]
mod batch;
#[allow(dead_code)]
#[path = "support/cli_server.rs"]
mod cli_server;

use cli_server::{Server, card_has, hourglass, wait_until};
use serde_json::Value;

#[test]
fn count_describe_show_list_delete_and_json_without_a_worker() {
    let s = Server::start_dev();
    let started = s.json(&[
        "workflow", "start", "--type", "Nobody", "-w", "v-1", "-t", "none",
    ]);
    assert_eq!(started["workflowId"], "v-1");
    assert_eq!(started["taskQueue"], "none");
    assert!(started["runId"].as_str().is_some_and(|r| !r.is_empty()));
    s.ok(&[
        "workflow", "start", "--type", "Nobody", "-w", "v-2", "-t", "none",
    ]);
    let signaled = s.json(&[
        "workflow", "signal", "-w", "v-1", "--name", "poke", "-i", "1",
    ]);
    assert_eq!(signaled["signalName"], "poke");
    let terminated = s.json(&["workflow", "terminate", "-w", "v-2", "--reason", "done"]);
    assert_eq!(terminated["workflowId"], "v-2");

    // count, plain and grouped, text and JSON
    assert_eq!(s.ok(&["workflow", "count"]), "Total: 2");
    let grouped = s.ok(&["workflow", "count", "-q", "GROUP BY ExecutionStatus"]);
    assert!(grouped.starts_with("Total: 2\n"), "{grouped}");
    assert!(
        grouped.contains("Group total: 1, values: Running"),
        "{grouped}"
    );
    assert!(
        grouped.contains("Group total: 1, values: Terminated"),
        "{grouped}"
    );
    let count = s.json(&["workflow", "count", "-q", "ExecutionStatus = 'Running'"]);
    assert_eq!(count["count"], "1");
    let count = s.json(&["workflow", "count", "-q", "GROUP BY ExecutionStatus"]);
    let values: Vec<&Value> = count["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| &g["groupValues"][0])
        .collect();
    assert!(values.contains(&&Value::from("Running")), "{count}");

    // describe: the Temporal CLI's cards; JSON is the proto-JSON response
    let running = s.ok(&["workflow", "describe", "-w", "v-1"]);
    assert!(running.starts_with("Execution Info:"), "{running}");
    assert!(card_has(&running, "WorkflowId", "v-1"), "{running}");
    assert!(card_has(&running, "Status", "Running"), "{running}");
    assert!(running.contains("Pending Activities: 0"), "{running}");
    assert!(running.contains("Pending Child Workflows: 0"), "{running}");
    let done = s.ok(&["workflow", "describe", "-w", "v-2"]);
    assert!(
        done.contains("Results:") && card_has(&done, "Status", "TERMINATED"),
        "{done}"
    );
    let described = s.json(&["workflow", "describe", "-w", "v-2"]);
    let info = &described["workflowExecutionInfo"];
    assert_eq!(info["execution"]["workflowId"], "v-2");
    assert_eq!(info["status"], "WORKFLOW_EXECUTION_STATUS_TERMINATED");
    assert_eq!(
        described["closeEvent"]["eventType"],
        "EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED"
    );

    // show: table with RFC 3339 times, --detailed sections, replayable JSON
    let shown = s.ok(&["workflow", "show", "-w", "v-1"]);
    let lines: Vec<&str> = shown.lines().collect();
    assert_eq!(lines[0], "Progress:");
    assert!(lines[1].contains("ID") && lines[1].contains("Time") && lines[1].contains("Type"));
    let first: Vec<&str> = lines[2].split_whitespace().collect();
    assert_eq!(first[0], "1");
    assert!(
        first[1].len() == 20 && first[1].ends_with('Z') && first[1].as_bytes()[10] == b'T',
        "not RFC 3339: {}",
        first[1]
    );
    assert_eq!(first[2], "WorkflowExecutionStarted");
    assert!(shown.contains("WorkflowExecutionSignaled"), "{shown}");
    let detailed = s.ok(&["workflow", "show", "-w", "v-1", "--detailed"]);
    assert!(
        detailed.contains("--------------- [1] WorkflowExecutionStarted ---------------"),
        "{detailed}"
    );
    assert!(detailed.contains("workflowType.name: Nobody"), "{detailed}");
    assert!(detailed.contains("signalName: poke"), "{detailed}");
    let history = s.json(&["workflow", "show", "-w", "v-1"]);
    let events = history["events"].as_array().unwrap();
    assert_eq!(events[0]["eventId"], "1");
    assert_eq!(
        events[0]["eventType"],
        "EVENT_TYPE_WORKFLOW_EXECUTION_STARTED"
    );
    // Replayable: payloads stay proto-JSON (base64 data), not shorthand.
    let signal = events
        .iter()
        .find(|e| e["eventType"] == "EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED")
        .unwrap();
    let payload = &signal["workflowExecutionSignaledEventAttributes"]["input"]["payloads"][0];
    assert_eq!(payload["data"], "MQ==", "{signal}");

    // list: the Temporal CLI's table; JSON array of executions
    let listed = s.ok(&["workflow", "list"]);
    assert!(listed.trim_start().starts_with("Status"), "{listed}");
    assert!(
        listed.contains("v-1") && listed.contains("Terminated"),
        "{listed}"
    );
    let listed = s.json(&["workflow", "list"]);
    assert_eq!(listed.as_array().map(Vec::len), Some(2), "{listed}");

    // delete: refuses without a terminal unless --yes, then the execution is gone
    let err = s.fails(&["workflow", "delete", "-w", "v-2"]);
    assert!(err.contains("--yes"), "{err}");
    assert_eq!(
        s.ok(&["workflow", "delete", "-w", "v-2", "--yes"]),
        "Delete workflow succeeded"
    );
    wait_until("the deletion", || {
        let out = hourglass(&s.cmd(&["workflow", "describe", "-w", "v-2"]));
        !out.status.success()
    });
    let err = s.fails(&["workflow", "describe", "-w", "v-2"]);
    assert!(err.contains("workflow execution `v-2` not found"), "{err}");
    let err = s.fails(&["workflow", "delete", "-w", "no-such", "-y"]);
    assert!(err.contains("`no-such` not found"), "{err}");
    let err = s.fails(&["workflow", "show", "-w", "no-such"]);
    assert!(err.contains("`no-such` not found"), "{err}");

    // show --follow: prints events as they happen and exits when the run closes
    s.ok(&[
        "workflow", "start", "--type", "Nobody", "-w", "v-3", "-t", "none",
    ]);
    let mut follow = cli_server::KillOnDrop(
        std::process::Command::new(cli_server::BIN)
            .args(s.cmd(&["workflow", "show", "-w", "v-3", "--follow"]))
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    let mut lines = cli_server::LineReader::new(follow.stdout.take().unwrap());
    let limit = std::time::Duration::from_secs(30);
    lines.wait_for("WorkflowTaskScheduled", limit);
    s.ok(&["workflow", "signal", "-w", "v-3", "--name", "poke"]);
    lines.wait_for("WorkflowExecutionSignaled", limit);
    s.ok(&["workflow", "terminate", "-w", "v-3", "--reason", "seen"]);
    lines.wait_for("WorkflowExecutionTerminated", limit);
    let deadline = std::time::Instant::now() + limit;
    let status = loop {
        if let Some(status) = follow.try_wait().unwrap() {
            break status;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "show --follow did not exit"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    assert!(status.success(), "{status}");
}

#[path = "support/raw_worker.rs"]
mod raw_worker;

#[test]
fn describe_shows_pending_activities_with_attempt_failure_and_heartbeat_and_children() {
    let s = Server::start_dev();
    s.ok(&[
        "workflow",
        "start",
        "--type",
        "RawParent",
        "-w",
        "raw-1",
        "-t",
        "raw-q",
    ]);
    raw_worker::schedule_activity_and_child(&s.address, "raw-q", "raw-1-child");
    let text = s.ok(&["workflow", "describe", "-w", "raw-1"]);
    assert!(text.contains("Pending Activities: 1"), "{text}");
    assert!(card_has(&text, "ActivityId", "act-1"), "{text}");
    assert!(card_has(&text, "Type", "Flaky"), "{text}");
    assert!(card_has(&text, "Attempt", "2"), "{text}");
    assert!(card_has(&text, "MaximumAttempts", "5"), "{text}");
    assert!(card_has(&text, "State", "Scheduled"), "{text}");
    let failure = text
        .lines()
        .find(|l| l.trim_start().starts_with("LastFailure"))
        .unwrap_or_else(|| panic!("no LastFailure in\n{text}"));
    assert!(failure.contains("boom"), "{failure}");
    assert!(
        card_has(&text, "LastHeartbeatDetails", "[\"half way\"]"),
        "{text}"
    );
    assert!(text.contains("Pending Child Workflows: 1"), "{text}");
    assert!(card_has(&text, "WorkflowId", "raw-1-child"), "{text}");
    assert!(card_has(&text, "WorkflowTypeName", "RawChild"), "{text}");
    let json = s.json(&["workflow", "describe", "-w", "raw-1"]);
    let act = &json["pendingActivities"][0];
    assert_eq!(act["attempt"], 2, "{json}");
    assert_eq!(act["lastFailure"]["message"], "boom", "{json}");
    assert_eq!(act["heartbeatDetails"][0], "half way", "{json}");
    assert_eq!(json["pendingChildren"][0]["workflowId"], "raw-1-child");
}

#[test]
fn updates_and_json_results_on_a_real_worker() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::run(dir.path());
    s.ok(&[
        "workflow",
        "start",
        "--type",
        "CounterWorkflow",
        "-w",
        "ctr",
    ]);
    let text = s.ok(&[
        "workflow",
        "update",
        "execute",
        "-w",
        "ctr",
        "--name",
        "add_and_get",
        "-i",
        "5",
        "--update-id",
        "u-1",
    ]);
    assert!(card_has(&text, "Name", "add_and_get"), "{text}");
    assert!(card_has(&text, "UpdateID", "u-1"), "{text}");
    // describe --reset-points: the first completed workflow task (event 4) of this run
    let points = s.ok(&["workflow", "describe", "-w", "ctr", "--reset-points"]);
    assert!(points.starts_with("Auto Reset Points: 1\n"), "{points}");
    assert!(card_has(&points, "EventId", "4"), "{points}");
    let points = s.json(&["workflow", "describe", "-w", "ctr", "--reset-points"]);
    assert_eq!(points[0]["EventId"], 4, "{points}");
    assert!(
        points[0]["RunId"].as_str().is_some_and(|r| !r.is_empty()),
        "{points}"
    );
    assert!(card_has(&text, "Result", "5"), "{text}");
    let json = s.json(&[
        "workflow",
        "update",
        "execute",
        "-w",
        "ctr",
        "--type",
        "add_and_get",
        "-i",
        "2",
    ]);
    assert_eq!(json["result"], 7, "{json}");
    assert_eq!(json["name"], "add_and_get");
    let started = s.json(&[
        "workflow",
        "update",
        "start",
        "-w",
        "ctr",
        "--name",
        "add_and_get",
        "-i",
        "1",
        "--update-id",
        "u-3",
        "--wait-for-stage",
        "accepted",
    ]);
    assert_eq!(started["updateId"], "u-3");
    let result = s.ok(&[
        "workflow",
        "update",
        "result",
        "-w",
        "ctr",
        "--update-id",
        "u-3",
    ]);
    assert!(card_has(&result, "Result", "8"), "{result}");
    let described = s.json(&[
        "workflow",
        "update",
        "describe",
        "-w",
        "ctr",
        "--update-id",
        "u-1",
    ]);
    assert_eq!(described["stage"], "Completed", "{described}");
    assert_eq!(described["result"], 5, "{described}");
    // error paths
    let err = s.fails(&["workflow", "update", "execute", "-w", "ctr", "--name", " "]);
    assert!(
        err.contains("--name") && err.contains("update handler"),
        "{err}"
    );
    let err = s.fails(&[
        "workflow", "update", "execute", "-w", "ctr", "--name", "nope", "-i", "1",
    ]);
    assert!(err.contains("failed") && err.contains("nope"), "{err}");
    let err = s.fails(&[
        "workflow",
        "update",
        "start",
        "-w",
        "ctr",
        "--name",
        "add_and_get",
        "--wait-for-stage",
        "completed",
    ]);
    assert!(err.contains("--wait-for-stage"), "{err}");
    let err = s.fails(&[
        "workflow",
        "update",
        "describe",
        "-w",
        "ctr",
        "--update-id",
        "zzz",
    ]);
    assert!(err.contains("update `zzz` not found"), "{err}");
    let err = s.fails(&[
        "workflow",
        "update",
        "execute",
        "-w",
        "ghost",
        "--name",
        "add_and_get",
        "-i",
        "1",
    ]);
    assert!(err.contains("`ghost` not found"), "{err}");

    // --output json on the commands that wait for a worker
    let executed = s.json(&[
        "workflow",
        "execute",
        "--type",
        "GreetingWorkflow",
        "-i",
        "\"Json\"",
        "-w",
        "greet-json",
    ]);
    assert_eq!(executed["result"], "Hello, Json!", "{executed}");
    assert_eq!(executed["status"], "COMPLETED");
    assert_eq!(executed["type"], "GreetingWorkflow");
    assert_eq!(
        executed["closeEvent"]["eventType"],
        "EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED"
    );
    let result = s.json(&["workflow", "result", "-w", "greet-json"]);
    assert_eq!(result["result"], "Hello, Json!", "{result}");
    assert_eq!(result["workflowId"], "greet-json");
    let queried = s.json(&["workflow", "query", "-w", "ctr", "--name", "count"]);
    assert_eq!(queried["queryResult"], serde_json::json!([8]), "{queried}");
    let canceled = s.json(&["workflow", "cancel", "-w", "ctr"]);
    assert_eq!(canceled["cancelRequested"], true, "{canceled}");
}

#[test]
fn reset_on_a_real_worker() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::run(dir.path());
    s.ok(&[
        "workflow",
        "start",
        "--type",
        "CounterWorkflow",
        "-w",
        "ctr",
    ]);
    // The first workflow task has completed once an update has.
    s.ok(&[
        "workflow",
        "update",
        "execute",
        "-w",
        "ctr",
        "--name",
        "add_and_get",
        "-i",
        "1",
    ]);
    // reset: by type (resolved from the history) and by event id
    let first_run = s.json(&["workflow", "describe", "-w", "ctr"])["workflowExecutionInfo"]
        ["execution"]["runId"]
        .clone();
    let text = s.ok(&[
        "workflow",
        "reset",
        "-w",
        "ctr",
        "--type",
        "FirstWorkflowTask",
        "--reason",
        "test",
    ]);
    assert!(
        text.starts_with("Resetting workflow ctr to event ID 4"),
        "{text}"
    );
    let after = s.json(&["workflow", "describe", "-w", "ctr"]);
    let new_run = &after["workflowExecutionInfo"]["execution"]["runId"];
    assert_ne!(new_run, &first_run, "{after}");
    assert!(text.contains(new_run.as_str().unwrap()), "{text}");
    let json = s.json(&[
        "workflow", "reset", "-w", "ctr", "-e", "4", "--reason", "again",
    ]);
    let third = json["runId"].as_str().unwrap().to_string();
    assert!(
        !third.is_empty() && new_run.as_str() != Some(third.as_str()),
        "{json}"
    );
    let last = s.ok(&[
        "workflow",
        "reset",
        "-w",
        "ctr",
        "-t",
        "LastWorkflowTask",
        "--reason",
        "x",
    ]);
    assert!(
        last.starts_with("Resetting workflow ctr to event ID "),
        "{last}"
    );
    // The reset run is a live CounterWorkflow.
    s.ok(&["workflow", "signal", "-w", "ctr", "--name", "finish"]);
    s.ok(&["workflow", "result", "-w", "ctr"]);
    // error paths
    let reset = |extra: &[&str]| {
        let mut a = vec!["workflow", "reset", "-w", "ctr", "--reason", "r"];
        a.extend_from_slice(extra);
        s.fails(&a)
    };
    let err = reset(&["--type", "Yesterday"]);
    assert!(err.contains("unknown reset type `Yesterday`"), "{err}");
    let err = reset(&[]);
    assert!(err.contains("either valid event id or reset type"), "{err}");
    let err = reset(&["-e", "4", "-t", "FirstWorkflowTask"]);
    assert!(err.contains("only one"), "{err}");
    let err = reset(&["-t", "LastContinuedAsNew"]);
    assert!(err.contains("was not continued from another"), "{err}");
    let err = reset(&["-e", "4", "--reapply-type", "Sometimes"]);
    assert!(err.contains("--reapply-type"), "{err}");
    let err = reset(&["-e", "0"]);
    assert!(
        err.contains("--event-id") && err.contains("positive"),
        "{err}"
    );
    let err = reset(&["-t", "BuildId"]);
    assert!(err.contains("batch"), "{err}");
    let err = reset(&[
        "-e",
        "4",
        "--reapply-type",
        "Signal",
        "--reapply-exclude",
        "Update",
    ]);
    assert!(
        err.contains("cannot be used with --reapply-exclude"),
        "{err}"
    );
    let err = reset(&["-e", "4", "--reapply-exclude", "Timers"]);
    assert!(
        err.contains("--reapply-exclude") && err.contains("Timers"),
        "{err}"
    );
    let err = s.fails(&[
        "workflow",
        "reset",
        "-w",
        "ghost",
        "-t",
        "LastWorkflowTask",
        "--reason",
        "r",
    ]);
    assert!(err.contains("`ghost` not found"), "{err}");
}
