//! The workflow and activity poll loops of one Worker.
//!
//! A loop polls through the BridgeHolder (never two polls of a kind at once) and hands each
//! activation or activity task to a new in-flight task under the WorkflowEvaluator or
//! ActivityExecutor dynamic supervisor, so the work outlives a crash of the loop or a cascade
//! of the Subsystem. Asked to stop, a loop drains: it initiates the core worker's shutdown and
//! keeps polling until the core answers `ShutDown`.

use super::error::SubsystemError;
use super::in_flight;
use super::names;
use super::task_queue_worker::{WorkerHandle, handle_name};
use crate::activity::{ActivityDispatch, ActivityHost};
use hourglass_supervise::{
    ChildContext, ChildSpec, DynamicSupervisorHandle, Exit, Restart, Shutdown, StartError,
};
use std::sync::Arc;
use std::time::Duration;
use temporalio_common::protos::coresdk::ActivityHeartbeat;
use temporalio_common::protos::coresdk::activity_task::{ActivityTask, activity_task};

/// How long a loop whose registration vanished waits for the cascade that must follow before
/// it gives up and exits abnormally.
const ORPHAN_WAIT: Duration = Duration::from_secs(5);

/// What one poll returned.
enum Polled {
    Activation(temporalio_common::protos::coresdk::workflow_activation::WorkflowActivation),
    ActivityTask(Box<ActivityTask>),
}

/// Which queue a loop polls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Workflow,
    Activity,
}

impl Kind {
    fn id(self) -> &'static str {
        match self {
            Kind::Workflow => "workflow_poll_loop",
            Kind::Activity => "activity_poll_loop",
        }
    }

    fn dispatcher(self) -> &'static str {
        match self {
            Kind::Workflow => names::WORKFLOW_EVALUATOR,
            Kind::Activity => names::ACTIVITY_EXECUTOR,
        }
    }
}

/// The workflow poll loop of `task_queue` (permanent; may drain for `drain_timeout`).
pub fn workflow_child_spec(task_queue: &str, drain_timeout: Duration) -> ChildSpec {
    child_spec(Kind::Workflow, task_queue, drain_timeout)
}

/// The activity poll loop of `task_queue` (permanent; may drain for `drain_timeout`).
pub fn activity_child_spec(task_queue: &str, drain_timeout: Duration) -> ChildSpec {
    child_spec(Kind::Activity, task_queue, drain_timeout)
}

fn child_spec(kind: Kind, task_queue: &str, drain_timeout: Duration) -> ChildSpec {
    let task_queue = task_queue.to_string();
    ChildSpec::with_init(kind.id(), move |ctx: ChildContext| {
        let task_queue = task_queue.clone();
        async move {
            let worker: WorkerHandle = ctx
                .registry()
                .via(&handle_name(&task_queue))
                .map_err(|e| StartError::new(format!("{} needs its worker: {e}", kind.id())))?;
            let dispatcher: DynamicSupervisorHandle =
                ctx.registry().via(kind.dispatcher()).map_err(|e| {
                    StartError::new(format!("{} needs {}: {e}", kind.id(), kind.dispatcher()))
                })?;
            tracing::info!(task_queue = %task_queue, loop_kind = ?kind, "poll loop started");
            Ok(run(kind, ctx, worker, dispatcher))
        }
    })
    .restart(Restart::Permanent)
    .shutdown(Shutdown::Timeout(drain_timeout))
}

async fn run(
    kind: Kind,
    ctx: ChildContext,
    worker: WorkerHandle,
    dispatcher: DynamicSupervisorHandle,
) -> Exit {
    let tq = worker.task_queue().to_string();
    let holder = worker.holder().clone();
    let registration = worker.registration();
    let mut draining = false;
    loop {
        if !draining && ctx.is_shutdown_requested() {
            draining = true;
            tracing::info!(task_queue = %tq, loop_kind = ?kind, "poll loop draining");
            if let Err(e) = holder.initiate_shutdown(&tq, registration).await {
                if e.is_reloaded() {
                    // The holder's reaper winds the old core's worker down.
                    tracing::info!(task_queue = %tq, loop_kind = ?kind, "core reloaded; poll loop stopping");
                } else {
                    tracing::warn!(task_queue = %tq, error = %e, "could not initiate shutdown; stopping");
                }
                return Exit::Shutdown;
            }
        }
        // Back-pressure: while an external pool's queue is full, no activity task is taken
        // from Temporal (it waits on the server, as with a Temporal worker out of slots).
        if kind == Kind::Activity
            && !draining
            && let Some(pools) = worker.external_pools()
            && !pools.has_room()
        {
            tracing::debug!(task_queue = %tq, "external pools full; activity polling waits");
            tokio::select! {
                _ = pools.wait_for_room() => {}
                _ = ctx.cancelled() => continue,
            }
        }
        // Only the poll itself races the stop signal: dropping a poll is safe (the holder keeps
        // its result), dropping a dispatch would not be.
        let poll = async {
            match kind {
                Kind::Workflow => holder
                    .poll_workflow_activation(&tq, registration)
                    .await
                    .map(Polled::Activation),
                Kind::Activity => holder
                    .poll_activity_task(&tq, registration)
                    .await
                    .map(|t| Polled::ActivityTask(Box::new(t))),
            }
        };
        let result = if draining {
            poll.await
        } else {
            tokio::select! {
                r = poll => r,
                // The next turn starts draining.
                _ = ctx.cancelled() => continue,
            }
        };
        match result {
            Ok(Polled::Activation(activation)) => {
                in_flight::start_activation(&dispatcher, &worker, activation);
            }
            Ok(Polled::ActivityTask(task)) => dispatch_activity(&dispatcher, &worker, *task),
            Err(SubsystemError::ShutDown { .. }) => {
                if draining {
                    tracing::info!(task_queue = %tq, loop_kind = ?kind, "poll loop drained");
                    return Exit::Shutdown;
                }
                if !holder.shutdown_initiated(&tq, registration) {
                    holder.report_failure(&tq, registration, "core worker shut down unexpectedly");
                }
                // Shut down by someone else (the other loop draining, or a failure being
                // handled by the registration): nothing more to poll.
                ctx.cancelled().await;
                return Exit::Shutdown;
            }
            Err(
                e
                @ (SubsystemError::WorkerNotRegistered { .. } | SubsystemError::NotRunning { .. }),
            ) => {
                // The holder or registration is gone, so a cascade is under way: wait for it
                // rather than burn restarts.
                tracing::info!(task_queue = %tq, loop_kind = ?kind, reason = %e, "poll loop lost its registration");
                return tokio::select! {
                    _ = ctx.cancelled() => Exit::Shutdown,
                    _ = tokio::time::sleep(ORPHAN_WAIT) => Exit::error(e),
                };
            }
            Err(e) => {
                super::metrics::inc(&super::metrics::POLL_ERRORS);
                tracing::error!(task_queue = %tq, loop_kind = ?kind, error = %e, "poll failed");
                return Exit::error(e);
            }
        }
    }
}

fn dispatch_activity(
    dispatcher: &DynamicSupervisorHandle,
    worker: &WorkerHandle,
    task: ActivityTask,
) {
    let tq = worker.task_queue().to_string();
    let holder = worker.holder().clone();
    let registration = worker.registration();
    // Activity types no Rust activity claims go to an external worker pool that serves them.
    if let (Some(pools), Some(activity_task::Variant::Start(start))) =
        (worker.external_pools(), task.variant.as_ref())
        && worker
            .executor()
            .definitions()
            .get(&start.activity_type)
            .is_none()
        && pools.serves(&start.activity_type)
    {
        let Some(activity_task::Variant::Start(start)) = task.variant else {
            return;
        };
        let id = format!("external:{}", start.activity_type);
        let token = task.task_token.clone();
        let heartbeat_token = task.task_token.clone();
        let attempt = pools.run_task(
            worker.task_queue(),
            task.task_token,
            start,
            move |details| {
                let hb = ActivityHeartbeat {
                    task_token: heartbeat_token.clone(),
                    details,
                };
                if let Err(e) = holder.record_activity_heartbeat(&tq, registration, hb) {
                    tracing::debug!(error = %e, "heartbeat not recorded");
                }
            },
        );
        in_flight::start_activity_future(dispatcher, worker, id, token, Box::pin(attempt));
        return;
    }
    let host: Arc<dyn ActivityHost> = Arc::new(move |hb: ActivityHeartbeat| {
        if let Err(e) = holder.record_activity_heartbeat(&tq, registration, hb) {
            tracing::debug!(error = %e, "heartbeat not recorded");
        }
    });
    match worker.executor().dispatch(task, host) {
        Ok(ActivityDispatch::Run(run)) => in_flight::start_activity(dispatcher, worker, run),
        Ok(ActivityDispatch::Cancel {
            task_token,
            delivered,
        }) => {
            // Not a Rust attempt: it may be running on an external pool.
            let delivered = delivered
                || worker
                    .external_pools()
                    .is_some_and(|p| p.cancel_task(&task_token));
            tracing::debug!(task_queue = %worker.task_queue(), delivered, "activity cancellation dispatched");
        }
        Err(e) => {
            tracing::warn!(task_queue = %worker.task_queue(), error = %e, "activity task dropped")
        }
    }
}
