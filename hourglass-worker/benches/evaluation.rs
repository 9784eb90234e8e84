//! Throughput of the evaluation layer (no core, no network): prints numbers, asserts nothing
//! about speed.
//!
//! `cargo bench -p hourglass-worker --bench evaluation`

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use hourglass_worker::{
    activity::{ActivityDefinitions, ActivityDispatch, ActivityExecutor, ActivityHost},
    payload::to_payload,
    workflow::{RunInit, WorkflowDefinitions, WorkflowEvaluator, WorkflowRunCache},
};
use temporalio_common::protos::coresdk::{
    ActivityHeartbeat,
    activity_task::{ActivityTask, Start, activity_task},
    workflow_activation::{
        FireTimer, InitializeWorkflow, RemoveFromCache, WorkflowActivation, WorkflowActivationJob,
        workflow_activation_job::Variant,
    },
    workflow_commands::workflow_command,
    workflow_completion::workflow_activation_completion,
};

const RUNS: usize = 20_000;

fn activation(run_id: &str, variant: Variant) -> WorkflowActivation {
    WorkflowActivation {
        run_id: run_id.to_owned(),
        jobs: vec![WorkflowActivationJob {
            variant: Some(variant),
        }],
        ..Default::default()
    }
}

/// The three activations of one TimerWorkflow run: start (→ StartTimer), fire (→ complete),
/// evict.
fn run_activations(i: usize) -> [WorkflowActivation; 3] {
    let run_id = format!("run-{i}");
    [
        activation(
            &run_id,
            Variant::InitializeWorkflow(InitializeWorkflow {
                workflow_type: "TimerWorkflow".to_owned(),
                workflow_id: format!("wf-{i}"),
                arguments: vec![to_payload(&1u64).unwrap()],
                randomness_seed: i as u64,
                ..Default::default()
            }),
        ),
        activation(&run_id, Variant::FireTimer(FireTimer { seq: 1 })),
        activation(
            &run_id,
            Variant::RemoveFromCache(RemoveFromCache::default()),
        ),
    ]
}

fn check_first(
    c: &temporalio_common::protos::coresdk::workflow_completion::WorkflowActivationCompletion,
) {
    match &c.status {
        Some(workflow_activation_completion::Status::Successful(s)) => assert!(matches!(
            s.commands[0].variant,
            Some(workflow_command::Variant::StartTimer(_))
        )),
        other => panic!("unexpected completion {other:?}"),
    }
}

fn report(what: &str, n: usize, elapsed: Duration) {
    println!(
        "{what:<58} {n:>7} in {:>8.1} ms = {:>9.0}/s ({:>6.2} µs each)",
        elapsed.as_secs_f64() * 1e3,
        n as f64 / elapsed.as_secs_f64(),
        elapsed.as_secs_f64() * 1e6 / n as f64
    );
}

fn bench_cache(defs: &WorkflowDefinitions) {
    let mut cache = WorkflowRunCache::new(defs.clone(), RunInit::new("default", "bench"));
    let inputs: Vec<_> = (0..RUNS).map(run_activations).collect();
    let start = Instant::now();
    for [init, fire, evict] in inputs {
        check_first(&cache.process(init));
        cache.process(fire);
        cache.process(evict);
    }
    report(
        "WorkflowRunCache: activations (init/fire/evict, 1 thread)",
        RUNS * 3,
        start.elapsed(),
    );

    // Many runs cached at once (the sticky-cache case).
    let inputs: Vec<_> = (0..RUNS).map(run_activations).collect();
    let start = Instant::now();
    let mut rest = Vec::with_capacity(RUNS);
    for [init, fire, evict] in inputs {
        cache.process(init);
        rest.push((fire, evict));
    }
    report(
        "WorkflowRunCache: starts with 20k runs cached",
        RUNS,
        start.elapsed(),
    );
    assert_eq!(cache.len(), RUNS);
    for (fire, evict) in rest {
        cache.process(fire);
        cache.process(evict);
    }
}

async fn bench_evaluator(defs: &WorkflowDefinitions) {
    let evaluator =
        WorkflowEvaluator::spawn(defs.clone(), RunInit::new("default", "bench")).unwrap();
    let inputs: Vec<_> = (0..RUNS).map(run_activations).collect();
    let start = Instant::now();
    for [init, fire, evict] in inputs {
        check_first(&evaluator.activate(init).await.unwrap());
        evaluator.activate(fire).await.unwrap();
        evaluator.activate(evict).await.unwrap();
    }
    report(
        "WorkflowEvaluator: sequential round trips (thread hop)",
        RUNS * 3,
        start.elapsed(),
    );

    // Concurrent in-flight tasks, as the poll loop spawns them.
    let inputs: Vec<_> = (0..RUNS).map(run_activations).collect();
    let start = Instant::now();
    let mut tasks = Vec::with_capacity(RUNS);
    for [init, fire, evict] in inputs {
        let e = evaluator.clone();
        tasks.push(tokio::spawn(async move {
            e.activate(init).await.unwrap();
            e.activate(fire).await.unwrap();
            e.activate(evict).await.unwrap();
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    report(
        "WorkflowEvaluator: 20k concurrent tasks",
        RUNS * 3,
        start.elapsed(),
    );
}

async fn bench_activities() {
    let exec = Arc::new(ActivityExecutor::new(
        ActivityDefinitions::from_registered().unwrap(),
        "bench",
    ));
    let host: Arc<dyn ActivityHost> = Arc::new(|_hb: ActivityHeartbeat| {});
    let task = |i: usize| ActivityTask {
        task_token: i.to_le_bytes().to_vec(),
        variant: Some(activity_task::Variant::Start(Start {
            activity_type: "GreetingActivities::greet".to_owned(),
            input: vec![to_payload(&"World").unwrap()],
            attempt: 1,
            ..Default::default()
        })),
    };
    let start = Instant::now();
    let mut tasks = Vec::with_capacity(RUNS);
    for i in 0..RUNS {
        let ActivityDispatch::Run(run) = exec.dispatch(task(i), host.clone()).unwrap() else {
            unreachable!()
        };
        tasks.push(tokio::spawn(run));
    }
    for t in tasks {
        t.await.unwrap();
    }
    report(
        "ActivityExecutor: greet activities (spawned tasks)",
        RUNS,
        start.elapsed(),
    );
}

fn main() {
    let defs = WorkflowDefinitions::from_registered().unwrap();
    bench_cache(&defs);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(bench_evaluator(&defs));
    rt.block_on(bench_activities());
}
