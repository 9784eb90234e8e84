//! The batch forms of `workflow terminate|cancel|signal|delete|reset --query …` and
//! `batch describe|list|terminate`, as the Temporal CLI has them, run as the real
//! `hourglass` binary against a dev server.
use crate::cli_server::{Server, card_has, wait_until};
use serde_json::Value;

const TARGETS: &str = "WorkflowType = 'Target'";

/// The job id a text-mode batch start printed.
fn job_id(text: &str) -> String {
    text.strip_prefix("Started batch for job ID: ")
        .unwrap_or_else(|| panic!("no job id in {text:?}"))
        .trim()
        .to_string()
}

/// Waits until the job is no longer running; answers `batch describe -o json`.
fn wait_done(s: &Server, job: &str) -> Value {
    let mut last = Value::Null;
    wait_until(&format!("batch job {job}"), || {
        last = s.json(&["batch", "describe", "--job-id", job]);
        last["state"] != "BATCH_OPERATION_STATE_RUNNING"
    });
    last
}

fn start(s: &Server, id: &str, workflow_type: &str) {
    s.ok(&[
        "workflow",
        "start",
        "--type",
        workflow_type,
        "-w",
        id,
        "-t",
        "none",
    ]);
}

#[test]
fn batch_jobs_by_query_signal_cancel_terminate_and_delete() {
    let s = Server::start_dev();
    for i in 0..3 {
        start(&s, &format!("t-{i}"), "Target");
    }
    start(&s, "other", "Other");

    let text = s.ok(&[
        "workflow", "signal", "-q", TARGETS, "--name", "poke", "-i", "1", "--yes",
    ]);
    let signal_job = job_id(&text);
    wait_done(&s, &signal_job);
    let card = s.ok(&["batch", "describe", "--job-id", &signal_job]);
    assert!(
        card_has(&card, "State", "BATCH_OPERATION_STATE_COMPLETED"),
        "{card}"
    );
    assert!(
        card_has(&card, "Type", "BATCH_OPERATION_TYPE_SIGNAL_WORKFLOW"),
        "{card}"
    );
    assert!(card_has(&card, "CompletedCount", "3/3"), "{card}");
    assert!(card_has(&card, "FailureCount", "0/3"), "{card}");

    let cancel = s.json(&["workflow", "cancel", "-q", TARGETS, "-y"]);
    let cancel_job = cancel["batchJobId"].as_str().unwrap().to_string();
    let d = wait_done(&s, &cancel_job);
    assert_eq!(d["state"], "BATCH_OPERATION_STATE_COMPLETED", "{d}");
    assert_eq!(d["operationType"], "BATCH_OPERATION_TYPE_CANCEL_WORKFLOW");

    let terminate = s.json(&[
        "workflow",
        "terminate",
        "-q",
        TARGETS,
        "--reason",
        "bulk",
        "-y",
        "--rps",
        "10",
    ]);
    let terminate_job = terminate["batchJobId"].as_str().unwrap().to_string();
    let d = wait_done(&s, &terminate_job);
    assert_eq!(d["reason"], "bulk");
    assert_eq!(d["query"], TARGETS);
    assert_eq!(d["completeOperationCount"], "3", "{d}");
    for i in 0..3 {
        let w = s.json(&["workflow", "describe", "-w", &format!("t-{i}")]);
        assert_eq!(
            w["workflowExecutionInfo"]["status"],
            "WORKFLOW_EXECUTION_STATUS_TERMINATED"
        );
    }
    let other = s.json(&["workflow", "describe", "-w", "other"]);
    assert_eq!(
        other["workflowExecutionInfo"]["status"],
        "WORKFLOW_EXECUTION_STATUS_RUNNING"
    );

    let delete_job = job_id(&s.ok(&["workflow", "delete", "-q", TARGETS, "-y"]));
    wait_done(&s, &delete_job);
    assert_eq!(s.ok(&["workflow", "count", "-q", TARGETS]), "Total: 0");

    // batch list: a table (newest first), JSON, --limit
    let table = s.ok(&["batch", "list"]);
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 5, "{table}");
    assert!(
        lines[0].contains("JobId") && lines[0].contains("State"),
        "{table}"
    );
    assert!(lines[1].contains(&delete_job), "{table}");
    assert!(lines[4].contains(&signal_job), "{table}");
    let listed = s.json(&["batch", "list"]);
    assert_eq!(listed.as_array().unwrap().len(), 4, "{listed}");
    assert_eq!(listed[0]["jobId"], Value::from(delete_job.as_str()));
    let limited = s.json(&["batch", "list", "--limit", "2"]);
    assert_eq!(limited.as_array().unwrap().len(), 2);
}

#[test]
fn a_running_job_is_stopped_with_batch_terminate() {
    let s = Server::start_dev();
    for i in 0..3 {
        start(&s, &format!("slow-{i}"), "Target");
    }
    let job = job_id(&s.ok(&[
        "workflow", "signal", "-q", TARGETS, "--name", "poke", "--rps", "0.5", "-y",
    ]));
    let stopped = s.ok(&["batch", "terminate", "--job-id", &job, "--reason", "enough"]);
    assert_eq!(stopped, format!("Terminated Batch Job '{job}'"));
    let d = s.json(&["batch", "describe", "--job-id", &job]);
    assert_eq!(d["state"], "BATCH_OPERATION_STATE_FAILED", "{d}");
    assert!(d["closeTime"].is_string(), "{d}");
    // Its workflow is closed now: stopping it again, or a job that never was, is not found.
    let err = s.fails(&["batch", "terminate", "--job-id", &job, "--reason", "again"]);
    assert!(err.contains("not found"), "{err}");
    let err = s.fails(&["batch", "describe", "--job-id", "no-such-job"]);
    assert!(err.contains("batch job `no-such-job` not found"), "{err}");
}

#[test]
fn single_or_batch_flags_are_checked_as_the_temporal_cli_checks_them() {
    let s = Server::start_dev();
    start(&s, "f-0", "Target");
    for (args, expected) in [
        (
            vec!["workflow", "terminate", "-w", "f-0", "-q", TARGETS],
            "cannot set query when workflow ID is set",
        ),
        (
            vec!["workflow", "cancel"],
            "must set either workflow ID or query",
        ),
        (
            vec![
                "workflow", "signal", "-q", TARGETS, "-r", "run", "--name", "x",
            ],
            "cannot set run ID when query is set",
        ),
        (
            vec!["workflow", "cancel", "-w", "f-0", "--rps", "2"],
            "cannot set rps when workflow ID is set",
        ),
        (
            vec!["workflow", "cancel", "-w", "f-0", "--reason", "r"],
            "cannot set reason when workflow ID is set",
        ),
        (
            vec!["workflow", "signal", "-w", "f-0", "--name", "x", "-y"],
            "cannot set 'yes' when workflow ID is set",
        ),
        // stdin is not a terminal: the prompt cannot be answered
        (vec!["workflow", "terminate", "-q", TARGETS], "pass --yes"),
        // the server's answer to a malformed query
        (
            vec!["workflow", "terminate", "-q", "WorkflowType = ", "-y"],
            "invalid visibility query",
        ),
    ] {
        let err = s.fails(&args);
        assert!(err.contains(expected), "{args:?}: {err}");
    }
    // Nothing was started.
    assert_eq!(s.json(&["batch", "list"]), Value::Array(vec![]));
}

#[test]
fn batch_reset_by_query_on_a_real_worker() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::run(dir.path());
    let query = "WorkflowType = 'CounterWorkflow'";
    let mut first_runs = vec![];
    for id in ["ctr-a", "ctr-b"] {
        s.ok(&["workflow", "start", "--type", "CounterWorkflow", "-w", id]);
        // The first workflow task has completed once an update has.
        s.ok(&[
            "workflow",
            "update",
            "execute",
            "-w",
            id,
            "--name",
            "add_and_get",
            "-i",
            "1",
        ]);
        let d = s.json(&["workflow", "describe", "-w", id]);
        first_runs.push(d["workflowExecutionInfo"]["execution"]["runId"].clone());
    }
    for (extra, expected) in [
        (vec![], "must specify reset type"),
        (vec!["-t", "BuildId"], "must specify build Id"),
        (
            vec!["-t", "FirstWorkflowTask", "-e", "4"],
            "must not specify event Id",
        ),
        (vec!["-t", "LastContinuedAsNew"], "cannot reset a batch"),
    ] {
        let mut args = vec!["workflow", "reset", "-q", query, "--reason", "r", "-y"];
        args.extend(extra);
        let err = s.fails(&args);
        assert!(err.contains(expected), "{args:?}: {err}");
    }
    let started = s.json(&[
        "workflow",
        "reset",
        "-q",
        query,
        "-t",
        "FirstWorkflowTask",
        "--reason",
        "batch reset",
        "-y",
    ]);
    let job = started["batchJobId"].as_str().unwrap().to_string();
    let d = wait_done(&s, &job);
    assert_eq!(d["state"], "BATCH_OPERATION_STATE_COMPLETED", "{d}");
    assert_eq!(d["operationType"], "BATCH_OPERATION_TYPE_RESET_WORKFLOW");
    assert_eq!(d["completeOperationCount"], "2", "{d}");
    for (id, first) in ["ctr-a", "ctr-b"].iter().zip(&first_runs) {
        let d = s.json(&["workflow", "describe", "-w", id]);
        assert_ne!(
            &d["workflowExecutionInfo"]["execution"]["runId"], first,
            "{d}"
        );
        // The reset run is a live CounterWorkflow.
        s.ok(&["workflow", "signal", "-w", id, "--name", "finish"]);
        s.ok(&["workflow", "result", "-w", id]);
    }
}
