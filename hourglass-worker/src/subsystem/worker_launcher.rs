//! Child 5 of the Subsystem: the WorkerLauncher. Its start starts a Worker for every
//! configured task queue (by default `default`) under the Worker.Supervisor, then it ends
//! normally. Being inside the `rest_for_one` Subsystem, it runs again after every cascade and
//! so re-creates the workers against the fresh BridgeHolder.

use super::config::SubsystemConfig;
use super::names;
use super::task_queue_worker;
use hourglass_supervise::{
    ChildContext, ChildSpec, DynamicSupervisorHandle, Exit, Restart, StartError,
};
use std::sync::Arc;

/// The WorkerLauncher child spec (transient: restarted only if starting the workers failed).
/// Starting happens in the start phase, so the Subsystem (and the application) report started
/// only once every configured worker is registered and polling.
pub fn child_spec(config: Arc<SubsystemConfig>) -> ChildSpec {
    ChildSpec::with_init("worker_launcher", move |ctx: ChildContext| {
        let config = config.clone();
        async move {
            let workers: DynamicSupervisorHandle =
                ctx.registry().via(names::WORKER_SUPERVISOR).map_err(|e| {
                    StartError::new(format!("worker launcher needs the worker supervisor: {e}"))
                })?;
            for tq in &config.task_queues {
                workers
                    .start_child(task_queue_worker::child_spec(tq, config.clone()))
                    .await
                    .map_err(|e| {
                        StartError::new(format!("starting the worker for task queue `{tq}`: {e}"))
                    })?;
                tracing::info!(task_queue = %tq, "worker launched");
            }
            Ok(async { Exit::Normal })
        }
    })
    .restart(Restart::Transient)
}
