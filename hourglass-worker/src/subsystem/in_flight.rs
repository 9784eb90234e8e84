//! In-flight tasks: one temporary child per workflow activation (under the WorkflowEvaluator
//! dynamic supervisor) and per activity attempt (under the ActivityExecutor dynamic
//! supervisor). They live outside the Subsystem, so a cascade does not kill them.
//!
//! Each task evaluates or runs its work and completes it through the BridgeHolder with the
//! registration it was dispatched under. If that registration is gone (a cascade happened),
//! the completion returns `WorkerNotRegistered`: the task logs it and ends normally; the
//! holder that owned the work has already failed it back to the server, which redelivers it.

use super::bridge_holder::WORKER_REPLACED;
use super::error::SubsystemError;
use super::task_queue_worker::WorkerHandle;
use crate::activity::ActivityRun;
use hourglass_supervise::{ChildSpec, DynamicSupervisorHandle, Exit, Restart, Shutdown};
use parking_lot::Mutex;
use std::sync::Arc;
use std::time::Duration;
use temporalio_common::protos::coresdk::ActivityTaskCompletion;
use temporalio_common::protos::coresdk::activity_result::ActivityExecutionResult;
use temporalio_common::protos::coresdk::workflow_activation::WorkflowActivation;
use temporalio_common::protos::coresdk::workflow_completion::WorkflowActivationCompletion;
use temporalio_common::protos::temporal::api::failure::v1::Failure;

/// How long a stopping ActivityExecutor / WorkflowEvaluator gives one in-flight task.
const IN_FLIGHT_SHUTDOWN: Duration = Duration::from_secs(30);

/// A one-shot child: the work is taken by the first (and only) incarnation.
fn one_shot<T, F, Fut>(id: String, work: T, run: F) -> ChildSpec
where
    T: Send + 'static,
    F: Fn(T) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Exit> + Send + 'static,
{
    let slot = Arc::new(Mutex::new(Some(work)));
    let run = Arc::new(run);
    ChildSpec::new(id, move |_ctx| {
        let work = slot.lock().take();
        let run = run.clone();
        async move {
            match work {
                Some(work) => run(work).await,
                None => Exit::Normal,
            }
        }
    })
    .restart(Restart::Temporary)
    .shutdown(Shutdown::Timeout(IN_FLIGHT_SHUTDOWN))
}

/// Starts the evaluation of `activation` as an in-flight task. If the WorkflowEvaluator
/// supervisor cannot take it, the activation is failed back so the server retries it.
pub async fn start_activation(
    dispatcher: &DynamicSupervisorHandle,
    worker: &WorkerHandle,
    activation: WorkflowActivation,
) {
    let id = format!("activation:{}", activation.run_id);
    let run_id = activation.run_id.clone();
    super::metrics::inc(&super::metrics::ACTIVATIONS_DISPATCHED);
    let spec = one_shot(id, (worker.clone(), activation), |(worker, activation)| {
        evaluate_and_complete(worker, activation)
    });
    if let Err(e) = dispatcher.start_child(spec).await {
        tracing::error!(task_queue = %worker.task_queue(), run_id = %run_id, error = %e, "cannot start in-flight evaluation; failing the activation");
        let completion = WorkflowActivationCompletion::fail(
            run_id,
            Failure::application_failure(format!("hourglass: evaluator unavailable: {e}"), false),
            None,
        );
        let _ = complete_activation(worker, completion).await;
    }
}

async fn evaluate_and_complete(worker: WorkerHandle, activation: WorkflowActivation) -> Exit {
    let run_id = activation.run_id.clone();
    let completion = match worker.evaluator().activate(activation).await {
        Ok(c) => c,
        Err(e) => WorkflowActivationCompletion::fail(
            run_id,
            Failure::application_failure(format!("hourglass: {e}"), false),
            None,
        ),
    };
    complete_activation(&worker, completion).await
}

async fn complete_activation(
    worker: &WorkerHandle,
    completion: WorkflowActivationCompletion,
) -> Exit {
    let run_id = completion.run_id.clone();
    let result = worker
        .holder()
        .complete_workflow_activation(worker.task_queue(), worker.registration(), completion)
        .await;
    finish(worker, "workflow activation", &run_id, result)
}

/// Starts an activity attempt as an in-flight task. If the ActivityExecutor supervisor cannot
/// take it, the attempt is failed (retryably) so the server retries it.
pub async fn start_activity(
    dispatcher: &DynamicSupervisorHandle,
    worker: &WorkerHandle,
    run: ActivityRun,
) {
    let id = format!("activity:{}", run.activity_type());
    let task_token = run.task_token().to_vec();
    start_activity_future(dispatcher, worker, id, task_token, Box::pin(run)).await
}

/// Like [`start_activity`] for any future yielding the attempt's completion (for example an
/// attempt running on an external worker pool).
pub async fn start_activity_future(
    dispatcher: &DynamicSupervisorHandle,
    worker: &WorkerHandle,
    id: String,
    task_token: Vec<u8>,
    attempt: futures::future::BoxFuture<'static, ActivityTaskCompletion>,
) {
    super::metrics::inc(&super::metrics::ACTIVITIES_DISPATCHED);
    let spec = one_shot(
        id,
        (worker.clone(), attempt),
        |(worker, attempt)| async move {
            let completion = attempt.await;
            let token = format!("{:?}", completion.task_token);
            let result = worker
                .holder()
                .complete_activity_task(worker.task_queue(), worker.registration(), completion)
                .await;
            finish(&worker, "activity task", &token, result)
        },
    );
    if let Err(e) = dispatcher.start_child(spec).await {
        tracing::error!(task_queue = %worker.task_queue(), error = %e, "cannot start in-flight activity; failing the attempt");
        let completion = ActivityTaskCompletion {
            task_token,
            result: Some(ActivityExecutionResult::fail(Failure::application_failure(
                format!("{WORKER_REPLACED}: executor unavailable: {e}"),
                false,
            ))),
        };
        let _ = worker
            .holder()
            .complete_activity_task(worker.task_queue(), worker.registration(), completion)
            .await;
    }
}

fn finish(
    worker: &WorkerHandle,
    what: &str,
    key: &str,
    result: Result<(), SubsystemError>,
) -> Exit {
    match result {
        Ok(()) => Exit::Normal,
        Err(SubsystemError::WorkerNotRegistered { .. }) => {
            super::metrics::inc(&super::metrics::COMPLETIONS_NOT_REGISTERED);
            tracing::info!(task_queue = %worker.task_queue(), key, "{what} not completed: its worker was replaced; the server redelivers it");
            Exit::Normal
        }
        Err(e) => {
            tracing::warn!(task_queue = %worker.task_queue(), key, error = %e, "{what} completion failed");
            Exit::error(e)
        }
    }
}
