//! External activity pools with real Python worker processes (no mocks): round trips, crash
//! and hang recovery, bad commands, heartbeats, cancellation, queueing, and no orphans after
//! the supervising program is SIGKILLed.

mod external_support;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use external_support::{fixture_pool, is_dead, venv_python, wait_for};
use hourglass_worker::external::{
    ExternalActivity, ExternalActivityInfo, ExternalError, ExternalOutcome, ExternalPoolConfig,
    ExternalPools, FORK_SERVER_ENV, NOT_SERVED_TYPE, PAYLOAD_TOO_LARGE_TYPE, POOL_SATURATED_TYPE,
    WORKER_LOST_TYPE, leftovers,
};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use parking_lot::Mutex;
use temporalio_common::protos::temporal::api::common::v1::Payload;
use tokio_util::sync::CancellationToken;

/// No process a Python activity starts outlives its worker or the supervising program.
#[path = "external_pool/descendants.rs"]
mod descendants;

/// Workers forked by a per-pool fork server, and the direct-spawn alternative.
#[path = "external_pool/fork_server.rs"]
mod fork_server;

fn json(value: serde_json::Value) -> Payload {
    Payload {
        metadata: HashMap::from([("encoding".to_string(), b"json/plain".to_vec())]),
        data: serde_json::to_vec(&value).unwrap(),
        ..Default::default()
    }
}

fn decode(p: &Payload) -> serde_json::Value {
    assert_eq!(
        p.metadata.get("encoding").map(Vec::as_slice),
        Some(&b"json/plain"[..])
    );
    serde_json::from_slice(&p.data).unwrap()
}

fn activity(activity_type: &str, input: Vec<Payload>) -> ExternalActivity {
    ExternalActivity {
        info: ExternalActivityInfo {
            activity_type: activity_type.into(),
            activity_id: "act-1".into(),
            attempt: 1,
            task_token: b"token".to_vec(),
            ..Default::default()
        },
        input,
        ..Default::default()
    }
}

fn no_heartbeat(_: Vec<Payload>) {}

/// Runs one activity on `pools`, uncancelled and with heartbeats ignored.
async fn call(pools: &ExternalPools, activity_type: &str, input: Vec<Payload>) -> ExternalOutcome {
    pools
        .execute(
            activity(activity_type, input),
            CancellationToken::new(),
            no_heartbeat,
        )
        .await
}

fn pid_of(pools: &ExternalPools, index: usize) -> u32 {
    pools.stats()[0].workers[index].1
}

fn marked(marker: &str) -> Vec<u32> {
    leftovers::find_marked(marker)
}

/// Fields after the command name in `/proc/<pid>/stat` (state, ppid, pgrp, session, ...).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn echo_round_trip_failures_and_clean_shutdown() {
    let state = tempfile::tempdir().unwrap();
    let pools = ExternalPools::new(vec![fixture_pool("echo", 2)], state.path()).unwrap();
    let running = pools.start().await.unwrap();
    assert!(pools.serves("Echo"));
    assert!(pools.serves("SyncEcho"));
    assert!(!pools.serves("Nope"));
    let stats = pools.stats();
    assert_eq!(stats[0].workers.len(), 2);
    assert_eq!(stats[0].idle_slots, 2);
    let marker = stats[0].run_marker.clone();
    let carriers = marked(&marker);
    for (_, pid) in &stats[0].workers {
        assert!(
            carriers.contains(pid),
            "worker {pid} carries the run marker"
        );
    }
    assert_eq!(carriers.len(), 3, "the two workers and their fork server");

    let value = serde_json::json!({"hello": ["world", 1, 2.5, null]});
    for t in ["Echo", "SyncEcho"] {
        let out = call(&pools, t, vec![json(value.clone())]).await;
        let ExternalOutcome::Completed(p) = out else {
            panic!("{t}: {out:?}")
        };
        assert_eq!(decode(&p), value);
    }

    let out = call(&pools, "Fail", vec![json("bad input".into())]).await;
    let ExternalOutcome::Failed(f) = out else {
        panic!("{out:?}")
    };
    assert_eq!(f.message, "bad input");
    assert_eq!(f.type_name, "FixtureError");
    assert!(f.non_retryable);
    assert_eq!(decode(&f.details[0]), serde_json::json!({"why": "test"}));
    assert!(f.stack_trace.contains("Traceback"));

    let out = call(&pools, "Crash", vec![]).await;
    let ExternalOutcome::Failed(f) = &out else {
        panic!("{out:?}")
    };
    assert_eq!(f.type_name, "ValueError");
    assert!(out.is_retryable_failure());

    let out = call(&pools, "Nope", vec![]).await;
    let ExternalOutcome::Failed(f) = &out else {
        panic!("{out:?}")
    };
    assert_eq!(f.type_name, NOT_SERVED_TYPE);
    assert!(f.non_retryable);
    assert!(f.message.contains("Echo"), "{}", f.message);

    // Wrong input for the activity's signature: a failure, not a crash.
    let out = call(&pools, "Echo", vec![]).await;
    assert_eq!(out.failure_type(), Some("TypeError"), "{out:?}");

    let pids: Vec<u32> = pools.stats()[0].workers.iter().map(|w| w.1).collect();
    let exit = running.shutdown().await;
    assert!(!exit.is_abnormal(), "{exit}");
    for pid in pids {
        assert!(is_dead(pid), "worker {pid} survived shutdown");
    }
    assert!(marked(&marker).is_empty());
    // After close, executions fail retryably instead of waiting forever.
    let out = call(&pools, "Echo", vec![json(1.into())]).await;
    assert!(out.is_retryable_failure(), "{out:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_activity_fails_retryably_and_starter_restarts() {
    let state = tempfile::tempdir().unwrap();
    let pools = ExternalPools::new(vec![fixture_pool("crashy", 1)], state.path()).unwrap();
    let running = pools.start().await.unwrap();
    let old = pid_of(&pools, 0);

    let p = pools.clone();
    let inflight = tokio::spawn(async move {
        p.execute(
            activity("Sleep", vec![json(60.into())]),
            CancellationToken::new(),
            no_heartbeat,
        )
        .await
    });
    wait_for(
        "the activity to occupy the worker",
        Duration::from_secs(10),
        || pools.stats()[0].idle_slots == 0,
    )
    .await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    kill(Pid::from_raw(old as i32), Signal::SIGKILL).unwrap();

    let out = tokio::time::timeout(Duration::from_secs(10), inflight)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(out.failure_type(), Some(WORKER_LOST_TYPE), "{out:?}");
    assert!(out.is_retryable_failure());

    wait_for(
        "the Starter to restart the worker",
        Duration::from_secs(30),
        || {
            let s = &pools.stats()[0];
            s.joins == 2 && s.workers.len() == 1
        },
    )
    .await;
    let new = pid_of(&pools, 0);
    assert_ne!(new, old);
    assert!(is_dead(old));
    assert!(pools.stats()[0].lost_executions >= 1);

    // The retry succeeds on the new process.
    let out = call(&pools, "Pid", vec![]).await;
    let ExternalOutcome::Completed(p) = out else {
        panic!("{out:?}")
    };
    assert_eq!(decode(&p), serde_json::json!(new));
    running.shutdown().await;
    assert!(is_dead(new));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hung_workers_are_killed_and_replaced() {
    let state = tempfile::tempdir().unwrap();
    let pools = ExternalPools::new(vec![fixture_pool("hung", 1)], state.path()).unwrap();
    let running = pools.start().await.unwrap();

    // 1. An activity blocks the worker's event loop: health checks fail, the process is
    //    killed, the execution fails retryably, and a new process takes over.
    let old = pid_of(&pools, 0);
    let out = tokio::time::timeout(
        Duration::from_secs(20),
        pools.execute(
            activity("BlockLoop", vec![json(120.into())]),
            CancellationToken::new(),
            no_heartbeat,
        ),
    )
    .await
    .expect("a hung worker must be detected well before the activity ends");
    assert_eq!(out.failure_type(), Some(WORKER_LOST_TYPE), "{out:?}");
    wait_for("a replacement worker", Duration::from_secs(30), || {
        let s = &pools.stats()[0];
        s.joins == 2 && s.workers.len() == 1
    })
    .await;
    assert!(is_dead(old));

    // 2. A stopped (SIGSTOP) process is detected the same way.
    let stopped = pid_of(&pools, 0);
    kill(Pid::from_raw(stopped as i32), Signal::SIGSTOP).unwrap();
    wait_for(
        "the stopped worker to be replaced",
        Duration::from_secs(30),
        || {
            let s = &pools.stats()[0];
            s.joins == 3 && s.workers.len() == 1
        },
    )
    .await;
    assert!(is_dead(stopped));
    let out = call(&pools, "Echo", vec![json("ok".into())]).await;
    assert!(matches!(out, ExternalOutcome::Completed(_)), "{out:?}");
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_commands_give_clear_errors_and_leak_nothing() {
    let state = tempfile::tempdir().unwrap();
    // A program that does not exist.
    let cfg = ExternalPoolConfig::new("missing", "/nonexistent/hourglass-python");
    let pools = ExternalPools::new(vec![cfg], state.path()).unwrap();
    let err = pools.start().await.unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, ExternalError::Start(_)));
    assert!(
        msg.contains("/nonexistent/hourglass-python") && msg.contains("not found"),
        "{msg}"
    );

    // A program that exits before it is ready, and one whose activity module does not import.
    for (name, args) in [
        (
            "exits",
            vec!["-c".to_string(), "import sys; sys.exit(3)".to_string()],
        ),
        (
            "noimport",
            vec![
                "-m".into(),
                "hourglass_activity_worker".into(),
                "no_such_module_xyz".into(),
            ],
        ),
    ] {
        let cfg = ExternalPoolConfig::new(name, venv_python().to_string_lossy())
            .args(args)
            .size(2);
        let pools = ExternalPools::new(vec![cfg], state.path()).unwrap();
        let msg = pools.start().await.unwrap_err().to_string();
        assert!(msg.contains("exited before becoming ready"), "{msg}");
        assert!(msg.contains(&format!("external_pool/{name}")), "{msg}");
        assert!(
            marked(&pools.stats()[0].run_marker).is_empty(),
            "leaked processes"
        );
    }

    // A program that never becomes ready.
    let cfg = ExternalPoolConfig::new("silent", "sleep")
        .args(["300"])
        .ready_timeout(Duration::from_millis(500));
    let pools = ExternalPools::new(vec![cfg], state.path()).unwrap();
    let msg = pools.start().await.unwrap_err().to_string();
    assert!(msg.contains("not ready within"), "{msg}");
    assert!(
        marked(&pools.stats()[0].run_marker).is_empty(),
        "leaked processes"
    );

    // Invalid configurations are refused before anything starts.
    let err = ExternalPools::new(
        vec![fixture_pool("dup", 1), fixture_pool("dup", 1)],
        state.path(),
    )
    .unwrap_err();
    assert!(matches!(err, ExternalError::DuplicatePool(_)), "{err}");
    let err = ExternalPools::new(vec![fixture_pool("zero", 1).size(0)], state.path()).unwrap_err();
    assert!(err.to_string().contains("`size`"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_pools_cannot_serve_the_same_type_and_a_pool_runs_once_per_state_dir() {
    let state = tempfile::tempdir().unwrap();
    let pools = ExternalPools::new(
        vec![fixture_pool("a", 1), fixture_pool("b", 1)],
        state.path(),
    )
    .unwrap();
    let msg = pools.start().await.unwrap_err().to_string();
    assert!(
        msg.contains("is served by both external pool `a` and `b`"),
        "{msg}"
    );
    for s in pools.stats() {
        assert!(marked(&s.run_marker).is_empty());
    }

    let first = ExternalPools::new(vec![fixture_pool("once", 1)], state.path()).unwrap();
    let running = first.start().await.unwrap();
    let second = ExternalPools::new(vec![fixture_pool("once", 1)], state.path()).unwrap();
    let msg = second.start().await.unwrap_err().to_string();
    assert!(msg.contains("already running in another process"), "{msg}");
    // The first pool's worker was not touched.
    let out = call(&first, "Echo", vec![json(7.into())]).await;
    assert!(matches!(out, ExternalOutcome::Completed(_)), "{out:?}");
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heartbeat_details_round_trip() {
    let state = tempfile::tempdir().unwrap();
    let pools = ExternalPools::new(vec![fixture_pool("hb", 1)], state.path()).unwrap();
    let running = pools.start().await.unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    let mut act = activity("Heartbeats", vec![json(3.into())]);
    act.heartbeat_details = vec![json(serde_json::json!({"step": 41}))];
    act.info.attempt = 2;
    let out = pools
        .execute(
            act,
            CancellationToken::new(),
            move |details: Vec<Payload>| {
                sink.lock()
                    .push(details.iter().map(decode).collect::<Vec<_>>())
            },
        )
        .await;
    let ExternalOutcome::Completed(p) = out else {
        panic!("{out:?}")
    };
    assert_eq!(
        decode(&p),
        serde_json::json!({"previous": [{"step": 41}], "attempt": 2, "activity_id": "act-1"})
    );
    let seen = seen.lock().clone();
    assert_eq!(
        seen,
        (0..3)
            .map(|i| vec![serde_json::json!({"step": i})])
            .collect::<Vec<_>>()
    );
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancellation_round_trip_and_bounded_queue() {
    let state = tempfile::tempdir().unwrap();
    let pools =
        ExternalPools::new(vec![fixture_pool("cancel", 1).max_queue(2)], state.path()).unwrap();
    let running = pools.start().await.unwrap();

    for (t, expected) in [
        (
            "WaitForCancel",
            serde_json::json!(["cleaned up", "cancelled"]),
        ),
        ("SyncWaitForCancel", serde_json::json!(["sync cleaned up"])),
    ] {
        let cancel = CancellationToken::new();
        let (hb_tx, mut hb_rx) = tokio::sync::mpsc::unbounded_channel();
        let p = pools.clone();
        let c = cancel.clone();
        let run = tokio::spawn(async move {
            p.execute(activity(t, vec![]), c, move |d: Vec<Payload>| {
                let _ = hb_tx.send(d);
            })
            .await
        });
        let first = tokio::time::timeout(Duration::from_secs(10), hb_rx.recv())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(decode(&first[0]), serde_json::json!("waiting"));

        if t == "WaitForCancel" {
            // While the only worker is busy: two executions may wait (max_queue = 2), the
            // next is refused; a waiting execution can be cancelled.
            let p = pools.clone();
            let queued = tokio::spawn(async move {
                p.execute(
                    activity("Echo", vec![json("queued".into())]),
                    CancellationToken::new(),
                    no_heartbeat,
                )
                .await
            });
            wait_for("an execution to queue", Duration::from_secs(5), || {
                pools.stats()[0].waiting == 1
            })
            .await;
            let c2 = CancellationToken::new();
            let p = pools.clone();
            let c2b = c2.clone();
            let waiting = tokio::spawn(async move {
                p.execute(activity("Echo", vec![json(1.into())]), c2b, no_heartbeat)
                    .await
            });
            wait_for(
                "a second execution to queue",
                Duration::from_secs(5),
                || pools.stats()[0].waiting == 2,
            )
            .await;
            let out = call(&pools, "Echo", vec![json("refused".into())]).await;
            assert_eq!(out.failure_type(), Some(POOL_SATURATED_TYPE), "{out:?}");
            assert!(out.is_retryable_failure());
            c2.cancel();
            let out = tokio::time::timeout(Duration::from_secs(5), waiting)
                .await
                .unwrap()
                .unwrap();
            assert_eq!(out, ExternalOutcome::Cancelled { details: vec![] });

            cancel.cancel();
            let out = tokio::time::timeout(Duration::from_secs(10), run)
                .await
                .unwrap()
                .unwrap();
            let ExternalOutcome::Cancelled { details } = out else {
                panic!("{out:?}")
            };
            assert_eq!(
                serde_json::Value::Array(details.iter().map(decode).collect()),
                expected
            );
            let out = tokio::time::timeout(Duration::from_secs(10), queued)
                .await
                .unwrap()
                .unwrap();
            let ExternalOutcome::Completed(p) = out else {
                panic!("{out:?}")
            };
            assert_eq!(decode(&p), serde_json::json!("queued"));
        } else {
            cancel.cancel();
            let out = tokio::time::timeout(Duration::from_secs(10), run)
                .await
                .unwrap()
                .unwrap();
            let ExternalOutcome::Cancelled { details } = out else {
                panic!("{out:?}")
            };
            assert_eq!(
                serde_json::Value::Array(details.iter().map(decode).collect()),
                expected
            );
        }
    }
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restarts_are_bounded_by_intensity() {
    let state = tempfile::tempdir().unwrap();
    // No restart allowed anywhere: the first crash escalates through the Starter, the pool and
    // the top supervisor, which stops everything.
    let cfg = fixture_pool("fragile", 2).intensity(0, Duration::from_secs(60));
    let pools = ExternalPools::new(vec![cfg], state.path())
        .unwrap()
        .intensity(0, Duration::from_secs(60));
    let running = pools.start().await.unwrap();
    let marker = pools.stats()[0].run_marker.clone();
    let victim = pid_of(&pools, 0);
    let other = pid_of(&pools, 1);
    kill(Pid::from_raw(victim as i32), Signal::SIGKILL).unwrap();
    let exit = tokio::time::timeout(Duration::from_secs(30), running.supervisor.wait())
        .await
        .expect("the tree must give up");
    assert!(
        matches!(exit, hourglass_supervise::Exit::Escalated(_)),
        "{exit}"
    );
    assert!(is_dead(other), "the sibling worker was not stopped");
    assert!(marked(&marker).is_empty());
    assert_eq!(pools.stats()[0].workers.len(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn core_activity_tasks_run_heartbeat_and_cancel_by_task_token() {
    use temporalio_common::protos::coresdk::{
        activity_result::activity_execution_result::Status, activity_task::Start,
    };
    let state = tempfile::tempdir().unwrap();
    let pools = ExternalPools::new(vec![fixture_pool("tasks", 2)], state.path()).unwrap();
    let running = pools.start().await.unwrap();

    let start = |activity_type: &str, input: Vec<Payload>| Start {
        activity_type: activity_type.into(),
        activity_id: "a1".into(),
        attempt: 3,
        input,
        ..Default::default()
    };
    let done = pools
        .run_task(
            "q",
            b"t-echo".to_vec(),
            start("Echo", vec![json("hi".into())]),
            no_heartbeat,
        )
        .await;
    assert_eq!(done.task_token, b"t-echo");
    let Some(Status::Completed(ok)) = done.result.unwrap().status else {
        panic!()
    };
    assert_eq!(decode(&ok.result.unwrap()), serde_json::json!("hi"));

    let (hb_tx, mut hb_rx) = tokio::sync::mpsc::unbounded_channel();
    let task = tokio::spawn(pools.run_task(
        "q",
        b"t-cancel".to_vec(),
        start("WaitForCancel", vec![]),
        move |d: Vec<Payload>| {
            let _ = hb_tx.send(d);
        },
    ));
    let first = tokio::time::timeout(Duration::from_secs(10), hb_rx.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(decode(&first[0]), serde_json::json!("waiting"));
    assert_eq!(pools.running_tasks(), 1);
    assert!(!pools.cancel_task(b"unknown"));
    assert!(pools.cancel_task(b"t-cancel"));
    let done = tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .unwrap()
        .unwrap();
    assert!(done.result.unwrap().is_cancelled());
    assert_eq!(pools.running_tasks(), 0);
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixteen_workers_start_concurrently_and_a_broken_one_does_not_stop_the_pool() {
    let state = tempfile::tempdir().unwrap();
    let cfg = fixture_pool("wide", 16)
        .startup_concurrency(16)
        .env("FIXTURE_BROKEN_WORKER", "wide-5");
    let pools = ExternalPools::new(vec![cfg], state.path()).unwrap();
    let running = pools.start().await.unwrap();
    let stats = pools.stats().remove(0);
    let report = stats
        .startup
        .clone()
        .expect("a ready pool has a startup report");
    assert_eq!((report.size, report.started), (16, 15), "{report:#?}");
    assert_eq!(stats.workers.len(), 15);
    assert_eq!(report.failures.len(), 1, "{report:#?}");
    assert_eq!(report.failures[0].worker, "wide-5");
    assert!(
        report.failures[0]
            .reason
            .contains("exited before becoming ready"),
        "{}",
        report.failures[0].reason
    );
    // The starts overlapped: the pool was ready sooner than the sum of its workers' start
    // times (one at a time, it would take at least that sum).
    let total: Duration = report
        .workers
        .iter()
        .map(|w| w.ready_after.saturating_sub(w.spawned_after))
        .sum();
    assert!(
        report.elapsed < total / 2,
        "ready after {:?}, workers took {total:?} in all: {report:#?}",
        report.elapsed
    );
    // Every worker that came up serves.
    let calls: Vec<_> = (0..15)
        .map(|_| {
            pools.execute(
                activity("Sleep", vec![json(0.2.into())]),
                CancellationToken::new(),
                no_heartbeat,
            )
        })
        .collect();
    for out in futures::future::join_all(calls).await {
        assert!(matches!(out, ExternalOutcome::Completed(_)), "{out:?}");
    }
    let pids: Vec<u32> = stats.workers.iter().map(|w| w.1).collect();
    let exit = running.shutdown().await;
    assert!(!exit.is_abnormal(), "{exit}");
    for pid in pids {
        assert!(is_dead(pid), "worker {pid} survived shutdown");
    }
    assert!(marked(&stats.run_marker).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_worker_concurrency_and_payload_limits() {
    let state = tempfile::tempdir().unwrap();
    let cfg = fixture_pool("limits", 1)
        .max_concurrent(3)
        .max_payload_bytes(1000);
    let pools = ExternalPools::new(vec![cfg], state.path()).unwrap();
    let running = pools.start().await.unwrap();
    assert_eq!(pools.stats()[0].idle_slots, 3, "one process, three slots");

    // Three attempts run at once on the one process; a fourth waits for a slot.
    let calls: Vec<_> = (0..4)
        .map(|_| {
            let p = pools.clone();
            tokio::spawn(async move {
                p.execute(
                    activity("Sleep", vec![json(0.5.into())]),
                    CancellationToken::new(),
                    no_heartbeat,
                )
                .await
            })
        })
        .collect();
    wait_for(
        "three busy slots and one waiter",
        Duration::from_secs(10),
        || {
            let s = &pools.stats()[0];
            s.idle_slots == 0 && s.waiting == 1
        },
    )
    .await;
    for call in calls {
        let out = call.await.unwrap();
        assert!(matches!(out, ExternalOutcome::Completed(_)), "{out:?}");
    }

    // An input over the limit fails before it is sent, a result over it in the worker: both
    // clearly and for good (retrying cannot shrink them).
    let out = call(&pools, "Echo", vec![json("y".repeat(2000).into())]).await;
    let ExternalOutcome::Failed(f) = &out else {
        panic!("{out:?}")
    };
    assert_eq!(f.type_name, PAYLOAD_TOO_LARGE_TYPE);
    assert!(f.non_retryable);
    assert!(
        f.message.contains("max_payload_bytes") && f.message.contains("Echo"),
        "{}",
        f.message
    );
    let out = call(&pools, "Big", vec![json(5000.into())]).await;
    let ExternalOutcome::Failed(f) = &out else {
        panic!("{out:?}")
    };
    assert_eq!(f.type_name, PAYLOAD_TOO_LARGE_TYPE);
    assert!(f.non_retryable);
    assert!(
        f.message.contains("result of activity Big"),
        "{}",
        f.message
    );
    // Within the limit, all is well.
    let out = call(&pools, "Big", vec![json(500.into())]).await;
    assert!(matches!(out, ExternalOutcome::Completed(_)), "{out:?}");
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_without_a_session_stream_get_one_execute_call_per_attempt() {
    let state = tempfile::tempdir().unwrap();
    let mut cfg = fixture_pool("nosession", 1);
    cfg.args.insert(2, "--no-session".into());
    let pools = ExternalPools::new(vec![cfg], state.path()).unwrap();
    let running = pools.start().await.unwrap();
    let out = call(&pools, "Echo", vec![json("plain".into())]).await;
    let ExternalOutcome::Completed(p) = out else {
        panic!("{out:?}")
    };
    assert_eq!(decode(&p), serde_json::json!("plain"));
    // Heartbeats and cancellation over the per-call stream and the Cancel RPC.
    let cancel = CancellationToken::new();
    let (hb_tx, mut hb_rx) = tokio::sync::mpsc::unbounded_channel();
    let p = pools.clone();
    let c = cancel.clone();
    let run = tokio::spawn(async move {
        p.execute(
            activity("WaitForCancel", vec![]),
            c,
            move |d: Vec<Payload>| {
                let _ = hb_tx.send(d);
            },
        )
        .await
    });
    let first = tokio::time::timeout(Duration::from_secs(10), hb_rx.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(decode(&first[0]), serde_json::json!("waiting"));
    cancel.cancel();
    let out = tokio::time::timeout(Duration::from_secs(10), run)
        .await
        .unwrap()
        .unwrap();
    assert!(matches!(out, ExternalOutcome::Cancelled { .. }), "{out:?}");
    running.shutdown().await;
}
