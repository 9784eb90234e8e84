//! Core workers (and replay workers): configuration, polls, completions and shutdown.

use crate::error::CoreError;
use crate::ffi::AsyncOutput;
use crate::runtime::RuntimeEntry;
use futures::channel::mpsc;
use hourglass_proto::bridge::v1::{ReplayHistory, WorkerConfig as WorkerConfigProto};
use parking_lot::Mutex;
use prost::Message;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use temporalio_common::protos::coresdk::workflow_completion::WorkflowActivationCompletion;
use temporalio_common::protos::coresdk::{ActivityHeartbeat, ActivityTaskCompletion};
use temporalio_common::protos::temporal::api::history::v1::History;
use temporalio_common::worker::WorkerTaskTypes;
use temporalio_sdk_core::replay::{HistoryForReplay, ReplayWorkerInput};
use temporalio_sdk_core::{
    PollError, PollerBehavior, Worker, WorkerConfig, WorkerVersioningStrategy,
};

/// Build id used when the config leaves it empty.
pub const DEFAULT_BUILD_ID: &str = "hourglass";

/// A live worker. The core `Worker` sits behind `Option<Arc<_>>` so that
/// `finalize_shutdown` can take it by value once no poll or completion holds a clone.
pub struct WorkerEntry {
    /// The runtime the worker runs on.
    pub runtime: Arc<RuntimeEntry>,
    worker: Mutex<Option<Arc<Worker>>>,
    workflow_polling: AtomicBool,
    activity_polling: AtomicBool,
    replay_feed: Mutex<Option<mpsc::UnboundedSender<HistoryForReplay>>>,
    /// The connection the worker talks to the server on (none for replayers).
    connection: Mutex<Option<temporalio_client::Connection>>,
}

fn nonzero(v: u32) -> Option<usize> {
    (v != 0).then_some(v as usize)
}

/// Checks a worker configuration and turns it into the core's `WorkerConfig`.
pub fn build_config(cfg: WorkerConfigProto) -> Result<WorkerConfig, CoreError> {
    if cfg.namespace.trim().is_empty() {
        return Err(CoreError::InvalidArgument(
            "worker config: namespace must not be empty".into(),
        ));
    }
    if cfg.task_queue.trim().is_empty() {
        return Err(CoreError::InvalidArgument(
            "worker config: task_queue must not be empty".into(),
        ));
    }
    let task_types = match cfg.task_types {
        None => WorkerTaskTypes {
            enable_workflows: true,
            enable_local_activities: true,
            enable_remote_activities: true,
            enable_nexus: false,
        },
        Some(t) => WorkerTaskTypes {
            enable_workflows: t.workflows,
            enable_local_activities: t.local_activities,
            enable_remote_activities: t.activities,
            enable_nexus: false,
        },
    };
    let build_id = if cfg.build_id.is_empty() {
        DEFAULT_BUILD_ID.to_owned()
    } else {
        cfg.build_id
    };
    WorkerConfig::builder()
        .namespace(cfg.namespace)
        .task_queue(cfg.task_queue)
        .task_types(task_types)
        .versioning_strategy(WorkerVersioningStrategy::None { build_id })
        .max_cached_workflows(cfg.max_cached_workflows as usize)
        .maybe_max_outstanding_workflow_tasks(nonzero(cfg.max_outstanding_workflow_tasks))
        .maybe_max_outstanding_activities(nonzero(cfg.max_outstanding_activities))
        .maybe_max_outstanding_local_activities(nonzero(cfg.max_outstanding_local_activities))
        .maybe_workflow_task_poller_behavior(
            nonzero(cfg.max_concurrent_workflow_task_polls).map(PollerBehavior::SimpleMaximum),
        )
        .maybe_activity_task_poller_behavior(
            nonzero(cfg.max_concurrent_activity_task_polls).map(PollerBehavior::SimpleMaximum),
        )
        .maybe_graceful_shutdown_period(
            cfg.graceful_shutdown_period_millis
                .map(Duration::from_millis),
        )
        .maybe_client_identity_override((!cfg.identity.is_empty()).then_some(cfg.identity))
        .build()
        .map_err(|e| CoreError::InvalidArgument(format!("worker config: {e}")))
}

impl WorkerEntry {
    fn new(
        runtime: Arc<RuntimeEntry>,
        worker: Worker,
        feed: Option<mpsc::UnboundedSender<HistoryForReplay>>,
        connection: Option<temporalio_client::Connection>,
    ) -> Self {
        Self {
            runtime,
            worker: Mutex::new(Some(Arc::new(worker))),
            workflow_polling: AtomicBool::new(false),
            activity_polling: AtomicBool::new(false),
            replay_feed: Mutex::new(feed),
            connection: Mutex::new(connection),
        }
    }

    /// Creates a worker on a client's connection.
    pub fn create(
        runtime: Arc<RuntimeEntry>,
        connection: temporalio_client::Connection,
        config: WorkerConfig,
    ) -> Result<Self, CoreError> {
        let task_queue = config.task_queue.clone();
        let worker = {
            let _scope = runtime.enter();
            temporalio_sdk_core::init_worker(runtime.core()?, config, connection.clone())
                .map_err(|e| CoreError::Core(format!("creating the worker failed: {e:#}")))?
        };
        tracing::info!(%task_queue, "hourglass-core worker created");
        Ok(Self::new(runtime, worker, None, Some(connection)))
    }

    /// Creates a replay worker fed through [`WorkerEntry::push_history`].
    pub fn create_replayer(
        runtime: Arc<RuntimeEntry>,
        config: WorkerConfig,
    ) -> Result<Self, CoreError> {
        let (tx, rx) = mpsc::unbounded();
        let worker = {
            let _scope = runtime.enter();
            temporalio_sdk_core::init_replay_worker(ReplayWorkerInput::new(config, rx))
                .map_err(|e| CoreError::Core(format!("creating the replayer failed: {e:#}")))?
        };
        Ok(Self::new(runtime, worker, Some(tx), None))
    }

    /// The core worker, unless it was finalized.
    pub fn worker(&self) -> Result<Arc<Worker>, CoreError> {
        self.worker.lock().clone().ok_or(CoreError::ShutDown)
    }

    /// Validates the worker against the server (DescribeNamespace).
    pub async fn validate(self: Arc<Self>) -> Result<AsyncOutput, CoreError> {
        let worker = self.worker()?;
        worker
            .validate()
            .await
            .map_err(|e| CoreError::Core(format!("worker validation failed: {e}")))?;
        Ok((0, Vec::new()))
    }

    fn begin_poll(&self, flag: &AtomicBool, what: &str) -> Result<Arc<Worker>, CoreError> {
        let worker = self.worker()?;
        if flag.swap(true, Ordering::AcqRel) {
            return Err(CoreError::Busy(format!(
                "a {what} poll is already running on this worker (polls must not run concurrently with themselves)"
            )));
        }
        Ok(worker)
    }

    fn poll_error(e: PollError) -> CoreError {
        match e {
            PollError::ShutDown => CoreError::ShutDown,
            other => CoreError::Core(format!("poll failed: {other}")),
        }
    }

    /// Polls the next workflow activation (encoded `WorkflowActivation`).
    pub async fn poll_workflow_activation(self: Arc<Self>) -> Result<AsyncOutput, CoreError> {
        let worker = self.begin_poll(&self.workflow_polling, "workflow activation")?;
        let _reset = ResetOnDrop(&self.workflow_polling);
        let activation = worker
            .poll_workflow_activation()
            .await
            .map_err(Self::poll_error)?;
        Ok((0, activation.encode_to_vec()))
    }

    /// Completes a workflow activation.
    pub async fn complete_workflow_activation(
        self: Arc<Self>,
        completion: WorkflowActivationCompletion,
    ) -> Result<AsyncOutput, CoreError> {
        let worker = self.worker()?;
        worker
            .complete_workflow_activation(completion)
            .await
            .map_err(|e| CoreError::Core(format!("completing the workflow activation: {e}")))?;
        Ok((0, Vec::new()))
    }

    /// Polls the next activity task (encoded `ActivityTask`).
    pub async fn poll_activity_task(self: Arc<Self>) -> Result<AsyncOutput, CoreError> {
        let worker = self.begin_poll(&self.activity_polling, "activity task")?;
        let _reset = ResetOnDrop(&self.activity_polling);
        let task = worker
            .poll_activity_task()
            .await
            .map_err(Self::poll_error)?;
        Ok((0, task.encode_to_vec()))
    }

    /// Completes an activity task.
    pub async fn complete_activity_task(
        self: Arc<Self>,
        completion: ActivityTaskCompletion,
    ) -> Result<AsyncOutput, CoreError> {
        let worker = self.worker()?;
        worker
            .complete_activity_task(completion)
            .await
            .map_err(|e| CoreError::Core(format!("completing the activity task: {e}")))?;
        Ok((0, Vec::new()))
    }

    /// Records an activity heartbeat (throttled by the core).
    pub fn record_activity_heartbeat(&self, hb: ActivityHeartbeat) -> Result<(), CoreError> {
        if hb.task_token.is_empty() {
            return Err(CoreError::InvalidArgument(
                "activity heartbeat: task_token must not be empty".into(),
            ));
        }
        let worker = self.worker()?;
        let _scope = self.runtime.enter();
        worker.record_activity_heartbeat(hb);
        Ok(())
    }

    /// Asks the core to evict a run from its cache.
    pub fn request_workflow_eviction(&self, run_id: &str) -> Result<(), CoreError> {
        if run_id.is_empty() {
            return Err(CoreError::InvalidArgument(
                "eviction: run_id must not be empty".into(),
            ));
        }
        let worker = self.worker()?;
        let _scope = self.runtime.enter();
        worker.request_workflow_eviction(run_id);
        Ok(())
    }

    /// Tells the server the worker is about to shut down: `ShutdownWorker` with the worker's
    /// instance key, so the server answers its open polls empty and hands it no more tasks.
    /// Resolves once the server answered. A server without the RPC (`Unimplemented`) or one
    /// that cannot be reached (`Unavailable`) counts as done, as in the core's own call;
    /// replayers have no server and nothing to announce.
    pub async fn announce_shutdown(self: Arc<Self>) -> Result<AsyncOutput, CoreError> {
        use temporalio_common::protos::temporal::api::enums::v1::TaskQueueType;
        use temporalio_common::protos::temporal::api::workflowservice::v1::ShutdownWorkerRequest;
        let worker = self.worker()?;
        let Some(connection) = self.connection.lock().clone() else {
            return Ok((0, Vec::new()));
        };
        let config = worker.get_config();
        let mut task_queue_types = Vec::new();
        if config.task_types.enable_workflows {
            task_queue_types.push(TaskQueueType::Workflow as i32);
        }
        if config.task_types.enable_remote_activities {
            task_queue_types.push(TaskQueueType::Activity as i32);
        }
        let request = ShutdownWorkerRequest {
            namespace: config.namespace.clone(),
            identity: connection.identity().to_string(),
            reason: "hourglass: worker retiring".into(),
            worker_instance_key: worker.worker_instance_key().to_string(),
            task_queue: config.task_queue.clone(),
            task_queue_types,
            ..Default::default()
        };
        let task_queue = config.task_queue.clone();
        let mut service = connection.workflow_service();
        match service.shutdown_worker(tonic::Request::new(request)).await {
            Ok(_) => {
                tracing::debug!(%task_queue, "hourglass-core worker shutdown announced");
                Ok((0, Vec::new()))
            }
            Err(status)
                if matches!(
                    status.code(),
                    tonic::Code::Unimplemented | tonic::Code::Unavailable
                ) =>
            {
                tracing::debug!(%task_queue, %status, "worker shutdown not announced: the server does not take it");
                Ok((0, Vec::new()))
            }
            Err(status) => Err(CoreError::Core(format!(
                "announcing the shutdown of the worker for task queue `{task_queue}` failed: {status}"
            ))),
        }
    }

    /// Starts shutdown; polls return ShutDown once outstanding work is drained.
    pub fn initiate_shutdown(&self) -> Result<(), CoreError> {
        let worker = self.worker()?;
        let _scope = self.runtime.enter();
        worker.initiate_shutdown();
        tracing::info!(
            task_queue = %worker.get_config().task_queue,
            "hourglass-core worker shutdown initiated"
        );
        Ok(())
    }

    /// Replaces the worker's client connection.
    pub fn replace_client(
        &self,
        connection: temporalio_client::Connection,
    ) -> Result<(), CoreError> {
        let worker = self.worker()?;
        let _scope = self.runtime.enter();
        worker
            .replace_client(connection.clone())
            .map_err(|e| CoreError::Core(format!("replacing the client failed: {e:#}")))?;
        *self.connection.lock() = Some(connection);
        Ok(())
    }

    /// Takes the core worker by value and finalizes it. Fails with [`CoreError::Busy`] (and
    /// keeps the worker) while polls or completions still hold it.
    pub async fn finalize_shutdown(self: Arc<Self>) -> Result<AsyncOutput, CoreError> {
        let taken = self.worker.lock().take().ok_or(CoreError::ShutDown)?;
        match Arc::try_unwrap(taken) {
            Ok(worker) => {
                let task_queue = worker.get_config().task_queue.clone();
                worker.finalize_shutdown().await;
                tracing::info!(%task_queue, "hourglass-core worker finalized");
                Ok((0, Vec::new()))
            }
            Err(shared) => {
                let others = Arc::strong_count(&shared) - 1;
                *self.worker.lock() = Some(shared);
                Err(CoreError::Busy(format!(
                    "cannot finalize shutdown: {others} poll(s)/completion(s) still hold the worker; drain them first"
                )))
            }
        }
    }

    /// Feeds one history to a replayer.
    pub fn push_history(&self, input: ReplayHistory) -> Result<(), CoreError> {
        if input.workflow_id.is_empty() {
            return Err(CoreError::InvalidArgument(
                "replay history: workflow_id must not be empty".into(),
            ));
        }
        let history: History =
            CoreError::decode("temporal.api.history.v1.History", &input.history)?;
        if history.events.is_empty() {
            return Err(CoreError::InvalidArgument(
                "replay history: the history has no events".into(),
            ));
        }
        let feed = self.replay_feed.lock();
        let tx = feed.as_ref().ok_or_else(|| {
            CoreError::InvalidArgument("not a replayer, or its input was already finished".into())
        })?;
        tx.unbounded_send(HistoryForReplay::new(history, input.workflow_id))
            .map_err(|_| CoreError::ShutDown)
    }

    /// Ends a replayer's input: once every pushed history is replayed, polls return ShutDown.
    pub fn finish_replay_input(&self) -> Result<(), CoreError> {
        self.replay_feed.lock().take().map(drop).ok_or_else(|| {
            CoreError::InvalidArgument("not a replayer, or its input was already finished".into())
        })
    }
}

struct ResetOnDrop<'a>(&'a AtomicBool);

impl Drop for ResetOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hourglass_proto::bridge::v1::TaskTypes;

    fn cfg() -> WorkerConfigProto {
        WorkerConfigProto {
            namespace: "default".into(),
            task_queue: "tq".into(),
            ..Default::default()
        }
    }

    #[test]
    fn minimal_config_builds_with_defaults() {
        let c = build_config(cfg()).unwrap();
        assert_eq!(c.task_queue, "tq");
        assert_eq!(c.max_cached_workflows, 0);
        assert!(c.max_outstanding_activities.is_none());
        assert!(c.graceful_shutdown_period.is_none());
        assert_eq!(c.versioning_strategy.build_id(), DEFAULT_BUILD_ID);
    }

    #[test]
    fn full_config_maps_every_field() {
        let c = build_config(WorkerConfigProto {
            max_cached_workflows: 10,
            max_outstanding_workflow_tasks: 3,
            max_outstanding_activities: 4,
            max_outstanding_local_activities: 5,
            max_concurrent_workflow_task_polls: 2,
            max_concurrent_activity_task_polls: 6,
            build_id: "b7".into(),
            graceful_shutdown_period_millis: Some(0),
            identity: "override".into(),
            ..cfg()
        })
        .unwrap();
        assert_eq!(c.max_cached_workflows, 10);
        assert_eq!(c.max_outstanding_workflow_tasks, Some(3));
        assert_eq!(c.max_outstanding_activities, Some(4));
        assert_eq!(c.max_outstanding_local_activities, Some(5));
        assert_eq!(c.graceful_shutdown_period, Some(Duration::ZERO));
        assert_eq!(c.client_identity_override.as_deref(), Some("override"));
        assert_eq!(c.versioning_strategy.build_id(), "b7");
    }

    #[test]
    fn empty_names_are_rejected() {
        let e = build_config(WorkerConfigProto {
            task_queue: String::new(),
            ..cfg()
        })
        .err()
        .unwrap();
        assert!(e.to_string().contains("task_queue"), "{e}");
        let e = build_config(WorkerConfigProto {
            namespace: String::new(),
            ..cfg()
        })
        .err()
        .unwrap();
        assert!(e.to_string().contains("namespace"), "{e}");
    }

    #[test]
    fn invalid_combinations_are_rejected_by_core_validation() {
        let e = build_config(WorkerConfigProto {
            task_types: Some(TaskTypes {
                workflows: false,
                activities: false,
                local_activities: false,
            }),
            ..cfg()
        })
        .err()
        .unwrap();
        assert!(e.to_string().contains("task type"), "{e}");
        let e = build_config(WorkerConfigProto {
            max_cached_workflows: 5,
            max_outstanding_workflow_tasks: 1,
            ..cfg()
        })
        .err()
        .unwrap();
        assert!(matches!(e, CoreError::InvalidArgument(_)), "{e}");
    }
}
