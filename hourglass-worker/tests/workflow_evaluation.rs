//! Drives the real `temporalio-workflow` guest runtime through `WorkflowRunCache` /
//! `WorkflowEvaluator` with hand-built activations and checks the commands that come out.

mod common;
#[path = "workflow_evaluation/wakes.rs"]
mod wakes;

use std::{future::poll_fn, task::Poll, time::Duration};

use common::*;
use hourglass_worker::{
    examples::EXAMPLE_WORKFLOW_TYPES,
    workflow::{RunInit, WorkflowDefinitions, WorkflowEvaluator, WorkflowRunCache},
};
use temporalio_common::protos::{
    coresdk::{
        child_workflow::{self, ChildWorkflowResult, child_workflow_result},
        workflow_activation::{
            CancelWorkflow, DoUpdate, FireTimer, NotifyHasPatch, QueryWorkflow,
            ResolveChildWorkflowExecution, ResolveChildWorkflowExecutionStart,
            ResolveChildWorkflowExecutionStartSuccess, SignalWorkflow,
            resolve_child_workflow_execution_start, workflow_activation_job::Variant,
        },
        workflow_commands::{query_result, update_response, workflow_command::Variant as Cmd},
    },
    temporal::api::enums::v1::WorkflowTaskFailedCause,
};
use temporalio_workflow::{
    ContinueAsNewOptions, TimerResult, WorkflowContext, WorkflowResult, WorkflowTermination,
    workflow, workflow_methods,
};

// ---- Test-only workflows, registered exactly like user workflows ------------------------------

#[hourglass_worker::register]
#[workflow]
#[derive(Default)]
pub struct PanickingWorkflow;

#[workflow_methods]
impl PanickingWorkflow {
    #[run]
    pub async fn run(_ctx: &mut WorkflowContext<Self>) -> WorkflowResult<()> {
        panic!("workflow code exploded");
    }
}

#[hourglass_worker::register]
#[workflow]
#[derive(Default)]
pub struct ContinueAsNewWorkflow;

#[workflow_methods]
impl ContinueAsNewWorkflow {
    #[run]
    pub async fn run(ctx: &mut WorkflowContext<Self>, round: u32) -> WorkflowResult<u32> {
        if round < 3 {
            ctx.continue_as_new(round + 1, ContinueAsNewOptions::default())?;
        }
        Ok(round)
    }
}

#[hourglass_worker::register]
#[workflow]
#[derive(Default)]
pub struct PatchedWorkflow;

#[workflow_methods]
impl PatchedWorkflow {
    #[run]
    pub async fn run(ctx: &mut WorkflowContext<Self>) -> WorkflowResult<String> {
        Ok(if ctx.patched("new-greeting") {
            "new".to_owned()
        } else {
            "old".to_owned()
        })
    }
}

#[hourglass_worker::register]
#[workflow]
#[derive(Default)]
pub struct CancellableWorkflow;

#[workflow_methods]
impl CancellableWorkflow {
    #[run]
    pub async fn run(ctx: &mut WorkflowContext<Self>) -> WorkflowResult<()> {
        if ctx.timer(Duration::from_secs(3600)).await == TimerResult::Cancelled {
            return Err(WorkflowTermination::cancelled());
        }
        Ok(())
    }
}

#[hourglass_worker::register]
#[workflow]
#[derive(Default)]
pub struct RandomWorkflow;

#[workflow_methods]
impl RandomWorkflow {
    #[run]
    pub async fn run(ctx: &mut WorkflowContext<Self>) -> WorkflowResult<(u64, String)> {
        Ok((ctx.random::<u64>(), ctx.uuid4()))
    }
}

/// Registered through its `#[workflow_methods]` impl block instead of the struct.
#[workflow]
#[derive(Default)]
pub struct ImplRegisteredWorkflow;

#[hourglass_worker::register]
#[workflow_methods]
impl ImplRegisteredWorkflow {
    #[run(name = "custom-type-name")]
    pub async fn run(_ctx: &mut WorkflowContext<Self>) -> WorkflowResult<String> {
        Ok("ran".to_owned())
    }
}

// ---- Helpers -----------------------------------------------------------------------------------

fn cache() -> WorkflowRunCache {
    WorkflowRunCache::new(
        WorkflowDefinitions::from_registered().unwrap(),
        RunInit::new("default", "tq"),
    )
}

fn complete_result(cmds: &[Cmd]) -> temporalio_common::protos::temporal::api::common::v1::Payload {
    match cmds.last() {
        Some(Cmd::CompleteWorkflowExecution(c)) => c.result.clone().unwrap(),
        other => panic!("expected CompleteWorkflowExecution last, got {other:?} in {cmds:?}"),
    }
}

// ---- Tests -------------------------------------------------------------------------------------

#[test]
fn examples_and_test_workflows_are_registered_by_type_name() {
    let defs = WorkflowDefinitions::from_registered().unwrap();
    for name in EXAMPLE_WORKFLOW_TYPES {
        assert!(defs.get(name).is_some(), "{name} missing from {defs:?}");
    }
    assert!(defs.get("PanickingWorkflow").is_some());
    // Registered on the impl block, under its `#[run(name = ..)]` type name.
    assert!(defs.get("custom-type-name").is_some(), "{defs:?}");
    assert!(defs.get("ImplRegisteredWorkflow").is_none());
    let counter = defs.definition("CounterWorkflow").unwrap();
    assert_eq!(counter.signals.len(), 2);
    assert_eq!(counter.queries, vec!["count".to_owned()]);
}

#[test]
fn duplicate_registration_is_an_error() {
    let mut defs = WorkflowDefinitions::new();
    defs.register::<PatchedWorkflow>().unwrap();
    let err = defs.register::<PatchedWorkflow>().unwrap_err();
    assert!(err.to_string().contains("PatchedWorkflow"), "{err}");
}

#[test]
fn greeting_schedules_activity_with_options_then_completes_with_its_result() {
    let mut cache = cache();
    let c = cache.process(activation(
        "run-1",
        vec![init("GreetingWorkflow", vec![p("World")])],
    ));
    let cmds = commands(&c);
    assert_eq!(cmds.len(), 1, "{cmds:?}");
    let Cmd::ScheduleActivity(sched) = &cmds[0] else {
        panic!("expected ScheduleActivity, got {cmds:?}")
    };
    assert_eq!(sched.activity_type, "GreetingActivities::greet");
    assert_eq!(sched.start_to_close_timeout.as_ref().unwrap().seconds, 10);
    assert_eq!(sched.retry_policy.as_ref().unwrap().maximum_attempts, 5);
    assert_eq!(decode::<String>(&sched.arguments[0]), "World");
    assert_eq!(cache.len(), 1);

    let c = cache.process(activation(
        "run-1",
        vec![resolve_activity_ok(sched.seq, p("Hello, World!"))],
    ));
    let cmds = commands(&c);
    assert_eq!(decode::<String>(&complete_result(&cmds)), "Hello, World!");
}

#[test]
fn failed_activity_fails_the_workflow_execution() {
    let mut cache = cache();
    let c = cache.process(activation(
        "run-1",
        vec![init("GreetingWorkflow", vec![p("")])],
    ));
    let Cmd::ScheduleActivity(sched) = &commands(&c)[0] else {
        panic!()
    };
    let c = cache.process(activation(
        "run-1",
        vec![resolve_activity_failed(
            sched.seq,
            "greet needs a non-empty name",
        )],
    ));
    let cmds = commands(&c);
    assert!(
        matches!(cmds.last(), Some(Cmd::FailWorkflowExecution(_))),
        "{cmds:?}"
    );
}

#[test]
fn durable_timer_starts_then_fires() {
    let mut cache = cache();
    let c = cache.process(activation(
        "run-1",
        vec![init("TimerWorkflow", vec![p(5u64)])],
    ));
    let cmds = commands(&c);
    let Cmd::StartTimer(timer) = &cmds[0] else {
        panic!("expected StartTimer, got {cmds:?}")
    };
    assert_eq!(timer.start_to_fire_timeout.as_ref().unwrap().seconds, 5);
    let c = cache.process(activation(
        "run-1",
        vec![Variant::FireTimer(FireTimer { seq: timer.seq })],
    ));
    assert_eq!(
        decode::<String>(&complete_result(&commands(&c))),
        "timer of 5s fired"
    );
}

#[test]
fn signals_queries_and_updates() {
    let mut cache = cache();
    let c = cache.process(activation(
        "run-1",
        vec![init("CounterWorkflow", vec![p(())])],
    ));
    assert!(commands(&c).is_empty(), "blocked on wait_condition");

    let c = cache.process(activation(
        "run-1",
        vec![Variant::SignalWorkflow(SignalWorkflow {
            signal_name: "add".to_owned(),
            input: vec![p(5u64)],
            ..Default::default()
        })],
    ));
    assert!(commands(&c).is_empty());

    let c = cache.process(activation(
        "run-1",
        vec![Variant::QueryWorkflow(QueryWorkflow {
            query_id: "q1".to_owned(),
            query_type: "count".to_owned(),
            ..Default::default()
        })],
    ));
    let cmds = commands(&c);
    let [Cmd::RespondToQuery(answer)] = cmds.as_slice() else {
        panic!("expected one RespondToQuery, got {cmds:?}")
    };
    assert_eq!(answer.query_id, "q1");
    let Some(query_result::Variant::Succeeded(ok)) = &answer.variant else {
        panic!("{answer:?}")
    };
    assert_eq!(decode::<u64>(ok.response.as_ref().unwrap()), 5);

    let c = cache.process(activation(
        "run-1",
        vec![Variant::DoUpdate(DoUpdate {
            id: "u1".to_owned(),
            protocol_instance_id: "pi-1".to_owned(),
            name: "add_and_get".to_owned(),
            input: vec![p(2u64)],
            run_validator: true,
            ..Default::default()
        })],
    ));
    let cmds = commands(&c);
    let responses: Vec<_> = cmds
        .iter()
        .filter_map(|c| match c {
            Cmd::UpdateResponse(r) => Some(r),
            _ => None,
        })
        .collect();
    assert_eq!(responses.len(), 2, "accepted then completed: {cmds:?}");
    assert!(matches!(
        responses[0].response,
        Some(update_response::Response::Accepted(()))
    ));
    let Some(update_response::Response::Completed(v)) = &responses[1].response else {
        panic!("{responses:?}")
    };
    assert_eq!(decode::<u64>(v), 7);

    let c = cache.process(activation(
        "run-1",
        vec![Variant::SignalWorkflow(SignalWorkflow {
            signal_name: "finish".to_owned(),
            input: vec![p(())],
            ..Default::default()
        })],
    ));
    assert_eq!(decode::<u64>(&complete_result(&commands(&c))), 7);
}

#[test]
fn unknown_update_is_rejected_not_a_task_failure() {
    let mut cache = cache();
    cache.process(activation(
        "run-1",
        vec![init("CounterWorkflow", vec![p(())])],
    ));
    let c = cache.process(activation(
        "run-1",
        vec![Variant::DoUpdate(DoUpdate {
            id: "u1".to_owned(),
            protocol_instance_id: "pi-1".to_owned(),
            name: "no_such_update".to_owned(),
            run_validator: true,
            ..Default::default()
        })],
    ));
    let cmds = commands(&c);
    assert!(
        matches!(
            cmds.as_slice(),
            [Cmd::UpdateResponse(r)] if matches!(r.response, Some(update_response::Response::Rejected(_)))
        ),
        "{cmds:?}"
    );
}

#[test]
fn parent_starts_child_and_returns_its_result() {
    let mut cache = cache();
    let c = cache.process(activation(
        "run-1",
        vec![init("ParentWorkflow", vec![p("Ann")])],
    ));
    let cmds = commands(&c);
    let Cmd::StartChildWorkflowExecution(start) = &cmds[0] else {
        panic!("expected StartChildWorkflowExecution, got {cmds:?}")
    };
    assert_eq!(start.workflow_type, "GreetingWorkflow");
    assert_eq!(start.workflow_id, "wf-1-child");
    assert_eq!(decode::<String>(&start.input[0]), "Ann");

    let c = cache.process(activation(
        "run-1",
        vec![Variant::ResolveChildWorkflowExecutionStart(
            ResolveChildWorkflowExecutionStart {
                seq: start.seq,
                status: Some(resolve_child_workflow_execution_start::Status::Succeeded(
                    ResolveChildWorkflowExecutionStartSuccess {
                        run_id: "child-run".to_owned(),
                    },
                )),
            },
        )],
    ));
    assert!(commands(&c).is_empty());
    let c = cache.process(activation(
        "run-1",
        vec![Variant::ResolveChildWorkflowExecution(
            ResolveChildWorkflowExecution {
                seq: start.seq,
                result: Some(ChildWorkflowResult {
                    status: Some(child_workflow_result::Status::Completed(
                        child_workflow::Success {
                            result: Some(p("Hello, Ann!")),
                        },
                    )),
                }),
            },
        )],
    ));
    assert_eq!(
        decode::<String>(&complete_result(&commands(&c))),
        "child said: Hello, Ann!"
    );
}

#[test]
fn continue_as_new_command_carries_next_input() {
    let mut cache = cache();
    let c = cache.process(activation(
        "run-1",
        vec![init("ContinueAsNewWorkflow", vec![p(1u32)])],
    ));
    let cmds = commands(&c);
    let [Cmd::ContinueAsNewWorkflowExecution(can)] = cmds.as_slice() else {
        panic!("expected ContinueAsNew, got {cmds:?}")
    };
    assert_eq!(can.workflow_type, "ContinueAsNewWorkflow");
    assert_eq!(decode::<u32>(&can.arguments[0]), 2);

    let c = cache.process(activation(
        "run-2",
        vec![init("ContinueAsNewWorkflow", vec![p(3u32)])],
    ));
    assert_eq!(decode::<u32>(&complete_result(&commands(&c))), 3);
}

#[test]
fn patches_set_marker_on_first_execution_and_respect_replay() {
    // First execution: the patch applies and a marker is recorded.
    let mut cache = cache();
    let c = cache.process(activation(
        "run-1",
        vec![init("PatchedWorkflow", vec![p(())])],
    ));
    let cmds = commands(&c);
    assert!(
        matches!(&cmds[0], Cmd::SetPatchMarker(m) if m.patch_id == "new-greeting" && !m.deprecated),
        "{cmds:?}"
    );
    assert_eq!(decode::<String>(&complete_result(&cmds)), "new");

    // Replaying a history recorded before the patch: old code path, no marker.
    let mut act = activation("run-2", vec![init("PatchedWorkflow", vec![p(())])]);
    act.is_replaying = true;
    let cmds = commands(&cache.process(act));
    assert!(
        !cmds.iter().any(|c| matches!(c, Cmd::SetPatchMarker(_))),
        "{cmds:?}"
    );
    assert_eq!(decode::<String>(&complete_result(&cmds)), "old");

    // Replaying a history that has the marker (NotifyHasPatch): new code path.
    let mut act = activation(
        "run-3",
        vec![
            Variant::NotifyHasPatch(NotifyHasPatch {
                patch_id: "new-greeting".to_owned(),
            }),
            init("PatchedWorkflow", vec![p(())]),
        ],
    );
    act.is_replaying = true;
    let cmds = commands(&cache.process(act));
    assert_eq!(decode::<String>(&complete_result(&cmds)), "new");
}

#[test]
fn cancellation_cancels_the_timer_and_the_execution() {
    let mut cache = cache();
    let c = cache.process(activation(
        "run-1",
        vec![init("CancellableWorkflow", vec![p(())])],
    ));
    assert!(matches!(commands(&c)[0], Cmd::StartTimer(_)));
    let c = cache.process(activation(
        "run-1",
        vec![Variant::CancelWorkflow(CancelWorkflow {
            reason: "user asked".to_owned(),
        })],
    ));
    let cmds = commands(&c);
    assert!(
        cmds.iter().any(|c| matches!(c, Cmd::CancelTimer(_))),
        "{cmds:?}"
    );
    assert!(
        matches!(cmds.last(), Some(Cmd::CancelWorkflowExecution(_))),
        "{cmds:?}"
    );
}

#[test]
fn random_and_uuid_are_deterministic_per_seed() {
    let run = |run_id: &str, seed: u64| {
        let mut cache = cache();
        let c = cache.process(activation(
            run_id,
            vec![init_seeded("RandomWorkflow", vec![p(())], seed)],
        ));
        decode::<(u64, String)>(&complete_result(&commands(&c)))
    };
    assert_eq!(run("run-1", 7), run("run-1", 7));
    assert_ne!(run("run-1", 7), run("run-1", 8));
}

#[test]
fn unknown_workflow_type_fails_the_task_and_its_eviction_gets_an_empty_completion() {
    let mut cache = cache();
    let c = cache.process(activation("run-x", vec![init("NoSuchWorkflow", vec![])]));
    let (f, cause) = failure(&c);
    assert!(
        f.message.contains("NoSuchWorkflow not found"),
        "{}",
        f.message
    );
    assert_eq!(
        cause,
        WorkflowTaskFailedCause::WorkflowWorkerUnhandledFailure
    );
    assert!(cache.is_empty());

    let c = cache.process(activation("run-x", vec![evict()]));
    assert!(commands(&c).is_empty());
    assert_eq!(c.run_id, "run-x");
}

#[test]
fn undecodable_input_fails_the_task() {
    let mut cache = cache();
    let c = cache.process(activation(
        "run-1",
        vec![init("TimerWorkflow", vec![p("not a number")])],
    ));
    let (f, _) = failure(&c);
    assert!(
        f.message.contains("Failed to create workflow"),
        "{}",
        f.message
    );
    assert!(cache.is_empty());
}

#[test]
fn panic_in_workflow_fails_the_task_and_the_cache_keeps_working() {
    let mut cache = cache();
    let c = cache.process(activation(
        "run-p",
        vec![init("PanickingWorkflow", vec![p(())])],
    ));
    let (f, _) = failure(&c);
    assert!(
        f.message.contains("workflow code exploded"),
        "{}",
        f.message
    );

    // The same cache (same thread) keeps serving other runs.
    let c = cache.process(activation(
        "run-t",
        vec![init("TimerWorkflow", vec![p(1u64)])],
    ));
    assert!(matches!(commands(&c)[0], Cmd::StartTimer(_)));

    // The core evicts the failed run next; that is answered with an empty completion.
    let c = cache.process(activation("run-p", vec![evict()]));
    assert!(commands(&c).is_empty());
    assert!(!cache.contains("run-p"));
    assert!(cache.contains("run-t"));
}

#[test]
fn eviction_drops_the_run() {
    let mut cache = cache();
    cache.process(activation(
        "run-1",
        vec![init("TimerWorkflow", vec![p(5u64)])],
    ));
    assert!(cache.contains("run-1"));
    let c = cache.process(activation("run-1", vec![evict()]));
    assert!(commands(&c).is_empty());
    assert!(cache.is_empty());
    // An activation for the evicted run fails so the core replays it from history.
    let c = cache.process(activation(
        "run-1",
        vec![Variant::FireTimer(FireTimer { seq: 1 })],
    ));
    let (f, _) = failure(&c);
    assert!(
        f.message.contains("not in this worker's cache"),
        "{}",
        f.message
    );
}

#[test]
fn eviction_mixed_with_other_jobs_is_rejected() {
    let mut cache = cache();
    cache.process(activation(
        "run-1",
        vec![init("TimerWorkflow", vec![p(5u64)])],
    ));
    let c = cache.process(activation(
        "run-1",
        vec![Variant::FireTimer(FireTimer { seq: 1 }), evict()],
    ));
    let (f, _) = failure(&c);
    assert!(f.message.contains("only job"), "{}", f.message);
}

#[tokio::test]
async fn evaluator_thread_serves_activations_from_any_task() {
    let evaluator = WorkflowEvaluator::spawn(
        WorkflowDefinitions::from_registered().unwrap(),
        RunInit::new("default", "tq-eval"),
    )
    .unwrap();
    let e2 = evaluator.clone();
    let c = tokio::spawn(async move {
        e2.activate(activation(
            "run-1",
            vec![init("TimerWorkflow", vec![p(2u64)])],
        ))
        .await
        .unwrap()
    })
    .await
    .unwrap();
    let Cmd::StartTimer(timer) = &commands(&c)[0] else {
        panic!()
    };
    assert_eq!(evaluator.cached_runs().await.unwrap(), 1);

    // A panicking workflow does not take the thread (or the other run) down.
    let c = evaluator
        .activate(activation(
            "run-p",
            vec![init("PanickingWorkflow", vec![p(())])],
        ))
        .await
        .unwrap();
    failure(&c);
    // On the evaluator thread (no tokio runtime) a tokio timer is a task failure too.
    let c = evaluator
        .activate(activation(
            "run-s",
            vec![init("TokioSleepWorkflow", vec![p(())])],
        ))
        .await
        .unwrap();
    failure(&c);

    let c = evaluator
        .activate(activation(
            "run-1",
            vec![Variant::FireTimer(FireTimer { seq: timer.seq })],
        ))
        .await
        .unwrap();
    assert_eq!(
        decode::<String>(&complete_result(&commands(&c))),
        "timer of 2s fired"
    );
    evaluator.clear().await.unwrap();
    assert_eq!(evaluator.cached_runs().await.unwrap(), 0);
}

#[tokio::test]
async fn a_stopped_evaluator_is_gone_for_every_handle() {
    let evaluator = WorkflowEvaluator::spawn(
        WorkflowDefinitions::from_registered().unwrap(),
        RunInit::new("default", "tq-stop"),
    )
    .unwrap();
    let other = evaluator.clone();
    evaluator.stop().await.unwrap();
    let err = other.cached_runs().await.unwrap_err();
    assert!(err.to_string().contains("tq-stop"), "{err}");
    assert!(
        evaluator.stop().await.is_err(),
        "a second stop finds no thread"
    );
}
