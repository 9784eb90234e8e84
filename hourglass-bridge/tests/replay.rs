//! Offline replay of hand-built histories through the C ABI: the real core replays them with
//! its normal state machines.

use hourglass_bridge::config::{RuntimeConfig, WorkerConfig};
use hourglass_bridge::history::HistoryBuilder;
use hourglass_bridge::protos::coresdk::workflow_activation::{
    WorkflowActivation, remove_from_cache::EvictionReason, workflow_activation_job::Variant as Job,
};
use hourglass_bridge::protos::coresdk::workflow_commands::{
    CompleteWorkflowExecution, StartTimer, workflow_command::Variant as Cmd,
};
use hourglass_bridge::protos::coresdk::workflow_completion::WorkflowActivationCompletion;
use hourglass_bridge::{BridgeError, Core, Replayer};
use hourglass_tests::core_lib;
use std::time::Duration;

const TIMERS: u32 = 3;

fn cores() -> Vec<(&'static str, Core)> {
    let mut v = vec![("dynamic", Core::load(core_lib::core_library()).unwrap())];
    #[cfg(feature = "linked")]
    v.push(("linked", Core::linked()));
    v
}

fn replayer(core: &Core, tq: &str) -> Replayer {
    let rt = core.runtime(&RuntimeConfig::default()).unwrap();
    rt.replayer(&WorkerConfig {
        namespace: "default".into(),
        task_queue: tq.into(),
        ..Default::default()
    })
    .unwrap()
}

/// The workflow under test: start timers 1..=TIMERS one after another, then complete.
/// `wrong` makes it complete right away instead (nondeterministic against the history).
fn respond(act: &WorkflowActivation, wrong: bool) -> WorkflowActivationCompletion {
    let mut cmds = Vec::new();
    for job in &act.jobs {
        let next_seq = match &job.variant {
            Some(Job::InitializeWorkflow(_)) => 1,
            Some(Job::FireTimer(f)) => f.seq + 1,
            _ => continue,
        };
        if next_seq <= TIMERS && !wrong {
            cmds.push(Cmd::StartTimer(StartTimer {
                seq: next_seq,
                start_to_fire_timeout: Duration::from_secs(1).try_into().ok(),
            }));
        } else {
            cmds.push(Cmd::CompleteWorkflowExecution(CompleteWorkflowExecution {
                result: None,
            }));
        }
    }
    WorkflowActivationCompletion::from_cmds(act.run_id.clone(), cmds)
}

#[derive(Debug, Default)]
struct Outcome {
    activations: usize,
    fired: Vec<u32>,
    evictions: Vec<EvictionReason>,
}

async fn drive(rp: &Replayer, wrong: bool) -> Outcome {
    let mut out = Outcome::default();
    loop {
        let act = match tokio::time::timeout(Duration::from_secs(30), rp.poll_workflow_activation())
            .await
            .expect("poll hung")
        {
            Ok(a) => a,
            Err(BridgeError::ShutDown) => break,
            Err(e) => panic!("poll failed: {e}"),
        };
        if act.is_only_eviction() {
            out.evictions
                .push(act.eviction_reason().unwrap_or(EvictionReason::Unspecified));
            rp.complete_workflow_activation(&WorkflowActivationCompletion::empty(
                act.run_id.clone(),
            ))
            .await
            .unwrap();
            continue;
        }
        out.activations += 1;
        for j in &act.jobs {
            if let Some(Job::FireTimer(f)) = &j.variant {
                out.fired.push(f.seq);
            }
        }
        rp.complete_workflow_activation(&respond(&act, wrong))
            .await
            .unwrap();
    }
    out
}

#[tokio::test]
async fn replays_a_timer_workflow_history_across_the_ffi() {
    for (mode, core) in cores() {
        let rp = replayer(&core, &format!("replay-ok-{mode}"));
        let history = HistoryBuilder::sequential_timers("timers_wf", "replay-tq", "run-1", TIMERS);
        rp.push_history("wf-1", &history).unwrap();
        rp.finish().unwrap();
        let out = drive(&rp, false).await;
        assert_eq!(out.activations as u32, TIMERS + 1, "{mode}: {out:?}");
        assert_eq!(out.fired, (1..=TIMERS).collect::<Vec<_>>(), "{mode}");
        assert!(
            out.evictions
                .iter()
                .all(|r| *r != EvictionReason::Nondeterminism),
            "{mode}: {out:?}"
        );
        rp.finalize_shutdown().await.unwrap();
    }
}

#[tokio::test]
async fn a_nondeterministic_workflow_is_detected_during_replay() {
    for (mode, core) in cores() {
        let rp = replayer(&core, &format!("replay-nd-{mode}"));
        let history = HistoryBuilder::sequential_timers("timers_wf", "replay-tq", "run-2", TIMERS);
        rp.push_history("wf-2", &history).unwrap();
        rp.finish().unwrap();
        let out = drive(&rp, true).await;
        assert!(
            out.evictions.contains(&EvictionReason::Nondeterminism),
            "{mode}: expected a nondeterminism eviction, got {out:?}"
        );
        assert!(out.fired.is_empty(), "{mode}: {out:?}");
    }
}

#[tokio::test]
async fn several_histories_replay_in_sequence() {
    let core = Core::load(core_lib::core_library()).unwrap();
    let rp = replayer(&core, "replay-many");
    for i in 0..5 {
        let h = HistoryBuilder::sequential_timers(
            "timers_wf",
            "replay-tq",
            &format!("run-{i}"),
            TIMERS,
        );
        rp.push_history(&format!("wf-{i}"), &h).unwrap();
    }
    rp.finish().unwrap();
    let out = drive(&rp, false).await;
    assert_eq!(out.activations as u32, 5 * (TIMERS + 1), "{out:?}");
}

#[tokio::test]
async fn concurrent_polls_are_refused_and_finalize_waits_for_outstanding_polls() {
    let core = Core::load(core_lib::core_library()).unwrap();
    let rp = replayer(&core, "replay-busy");
    // No history yet: the first poll waits.
    let rp2 = rp.clone();
    let pending = tokio::spawn(async move { rp2.poll_workflow_activation().await });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let err = rp.poll_workflow_activation().await.unwrap_err();
    assert!(matches!(err, BridgeError::Busy(_)), "{err:?}");
    let err = rp.finalize_shutdown().await.unwrap_err();
    assert!(matches!(err, BridgeError::Busy(_)), "{err:?}");
    assert!(err.to_string().contains("still hold"), "{err}");
    rp.finish().unwrap();
    let r = tokio::time::timeout(Duration::from_secs(30), pending)
        .await
        .unwrap()
        .unwrap();
    assert!(matches!(r, Err(BridgeError::ShutDown)), "{r:?}");
    rp.finalize_shutdown().await.unwrap();
    // Finalized: further calls report shutdown.
    assert!(matches!(
        rp.poll_workflow_activation().await.unwrap_err(),
        BridgeError::ShutDown
    ));
}
