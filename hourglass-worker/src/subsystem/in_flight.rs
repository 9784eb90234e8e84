//! In-flight tasks: one temporary child per workflow activation (under the WorkflowEvaluator
//! dynamic supervisor) and per activity attempt (under the ActivityExecutor dynamic
//! supervisor). They live outside the Subsystem, so a cascade does not kill them.
//!
//! Each task evaluates or runs its work and completes it through the BridgeHolder with the
//! registration it was dispatched under. If that registration is gone (a cascade happened),
//! the completion returns `WorkerNotRegistered` (or, right after a core reload, a reloaded
//! error): the task logs it and ends normally; the holder that owned the work fails it back to
//! the server, which redelivers it.

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

/// The work of a one-shot child. Taken by the child's first (and only) incarnation; if the
/// spec is dropped before that (the supervisor refused the start or was gone), `unstarted`
/// gets the work back, so it is failed back to the server rather than silently lost.
struct WorkSlot<T> {
    work: Mutex<Option<T>>,
    unstarted: Mutex<Option<Unstarted<T>>>,
}

/// What to do with work whose child never started.
type Unstarted<T> = Box<dyn FnOnce(T) + Send>;

impl<T> Drop for WorkSlot<T> {
    fn drop(&mut self) {
        if let (Some(work), Some(unstarted)) =
            (self.work.get_mut().take(), self.unstarted.get_mut().take())
        {
            unstarted(work);
        }
    }
}

/// A one-shot child: the work is taken by the first (and only) incarnation.
fn one_shot<T, F, Fut>(
    id: String,
    work: T,
    run: F,
    unstarted: impl FnOnce(T) + Send + 'static,
) -> ChildSpec
where
    T: Send + 'static,
    F: Fn(T) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Exit> + Send + 'static,
{
    let slot = Arc::new(WorkSlot {
        work: Mutex::new(Some(work)),
        unstarted: Mutex::new(Some(Box::new(unstarted) as Unstarted<T>)),
    });
    let run = Arc::new(run);
    ChildSpec::new(id, move |_ctx| {
        let work = slot.work.lock().take();
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

/// Runs `fut` on the current tokio runtime, if there is one (a refused start is reported
/// from inside the supervisor or the caller, both on the runtime).
fn spawn_detached(what: &'static str, fut: impl Future<Output = ()> + Send + 'static) {
    match tokio::runtime::Handle::try_current() {
        Ok(rt) => {
            rt.spawn(fut);
        }
        Err(_) => tracing::error!("{what}: no runtime left to fail the work back"),
    }
}

/// Starts the evaluation of `activation` as an in-flight task without waiting for the
/// WorkflowEvaluator supervisor's answer (the poll loop moves on to its next poll). If the
/// supervisor cannot take it, the activation is failed back so the server retries it.
pub fn start_activation(
    dispatcher: &DynamicSupervisorHandle,
    worker: &WorkerHandle,
    activation: WorkflowActivation,
) {
    let id = format!("activation:{}", activation.run_id);
    super::metrics::inc(&super::metrics::ACTIVATIONS_DISPATCHED);
    let spec = one_shot(
        id,
        (worker.clone(), activation),
        |(worker, activation)| evaluate_and_complete(worker, activation),
        |(worker, activation): (WorkerHandle, WorkflowActivation)| {
            let run_id = activation.run_id;
            tracing::error!(task_queue = %worker.task_queue(), run_id = %run_id, "cannot start in-flight evaluation; failing the activation");
            let completion = WorkflowActivationCompletion::fail(
                run_id,
                Failure::application_failure(
                    "hourglass: workflow evaluator unavailable".to_string(),
                    false,
                ),
                None,
            );
            spawn_detached("failing an activation", async move {
                let _ = complete_activation(&worker, completion).await;
            });
        },
    );
    // The outcome is not awaited: a refused start hands the work to the closure above.
    drop(dispatcher.start_child_detached(spec));
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

/// Starts an activity attempt as an in-flight task, without waiting for the
/// ActivityExecutor supervisor's answer. If the supervisor cannot take it, the attempt is
/// failed (retryably) so the server retries it.
pub fn start_activity(
    dispatcher: &DynamicSupervisorHandle,
    worker: &WorkerHandle,
    run: ActivityRun,
) {
    let id = format!("activity:{}", run.activity_type());
    let task_token = run.task_token().to_vec();
    start_activity_future(dispatcher, worker, id, task_token, Box::pin(run))
}

/// Like [`start_activity`] for any future yielding the attempt's completion (for example an
/// attempt running on an external worker pool).
pub fn start_activity_future(
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
        move |(worker, _attempt): (WorkerHandle, _)| {
            tracing::error!(task_queue = %worker.task_queue(), "cannot start in-flight activity; failing the attempt");
            let completion = ActivityTaskCompletion {
                task_token,
                result: Some(ActivityExecutionResult::fail(Failure::application_failure(
                    format!("{WORKER_REPLACED}: activity executor unavailable"),
                    false,
                ))),
            };
            spawn_detached("failing an activity attempt", async move {
                let _ = worker
                    .holder()
                    .complete_activity_task(worker.task_queue(), worker.registration(), completion)
                    .await;
            });
        },
    );
    // The outcome is not awaited: a refused start hands the work to the closure above.
    drop(dispatcher.start_child_detached(spec));
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
        Err(e) if e.is_reloaded() => {
            super::metrics::inc(&super::metrics::COMPLETIONS_NOT_REGISTERED);
            tracing::info!(task_queue = %worker.task_queue(), key, "{what} not completed: the core was reloaded; the old worker fails it back and the server redelivers it");
            Exit::Normal
        }
        Err(e) => {
            tracing::warn!(task_queue = %worker.task_queue(), key, error = %e, "{what} completion failed");
            Exit::error(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hourglass_supervise::DynamicSupervisorSpec;
    use tokio::sync::Notify;

    /// A start the supervisor refuses hands the work to `unstarted` (which fails it back);
    /// a started child takes the work, and `unstarted` never sees it.
    #[tokio::test(start_paused = true)]
    async fn refused_start_gives_the_work_back_and_a_started_one_keeps_it() {
        let dsup = DynamicSupervisorSpec::new("evaluator")
            .max_children(1)
            .start()
            .await
            .unwrap();
        let (back_tx, back_rx) = std::sync::mpsc::channel::<u32>();
        let (ran_tx, ran_rx) = std::sync::mpsc::channel::<u32>();
        let release = Arc::new(Notify::new());
        let spec = |n: u32| {
            let back = back_tx.clone();
            let ran = ran_tx.clone();
            let release = release.clone();
            one_shot(
                format!("w{n}"),
                n,
                move |n| {
                    let ran = ran.clone();
                    let release = release.clone();
                    async move {
                        let _ = ran.send(n);
                        release.notified().await;
                        Exit::Normal
                    }
                },
                move |n| {
                    let _ = back.send(n);
                },
            )
        };
        dsup.start_child_detached(spec(1)).await.unwrap();
        let refused = dsup.start_child_detached(spec(2)).await;
        assert!(refused.is_err());
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
        assert_eq!(ran_rx.try_iter().collect::<Vec<_>>(), vec![1]);
        assert_eq!(back_rx.try_iter().collect::<Vec<_>>(), vec![2]);
        release.notify_waiters();
        assert_eq!(dsup.shutdown().await, Exit::Shutdown);
        assert!(
            back_rx.try_iter().next().is_none(),
            "started work is never given back"
        );
    }
}
