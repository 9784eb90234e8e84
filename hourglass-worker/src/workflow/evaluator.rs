//! A dedicated thread that owns one task queue's [`WorkflowRunCache`].

use std::panic::{self, AssertUnwindSafe};

use temporalio_common::protos::coresdk::{
    workflow_activation::WorkflowActivation, workflow_completion::WorkflowActivationCompletion,
};
use tokio::sync::{mpsc, oneshot};

use super::{RunInit, WorkflowDefinitions, WorkflowRunCache};
use crate::error::WorkerError;
use crate::panic_message::panic_message;

enum Request {
    Activate(
        Box<WorkflowActivation>,
        oneshot::Sender<WorkflowActivationCompletion>,
    ),
    Len(oneshot::Sender<usize>),
    Clear(oneshot::Sender<()>),
    Stop(oneshot::Sender<()>),
}

/// `Send + Sync + Clone` handle to a dedicated OS thread that owns one task queue's
/// [`WorkflowRunCache`] and evaluates its activations one at a time, in arrival order.
///
/// Workflow code therefore never runs on a tokio worker thread and never needs `Send`. The thread
/// has no tokio runtime: workflow code that reaches for tokio fails its workflow task. The thread
/// ends (dropping every cached run) when the last handle is dropped.
#[derive(Clone)]
pub struct WorkflowEvaluator {
    tx: mpsc::UnboundedSender<Request>,
    task_queue: String,
}

impl WorkflowEvaluator {
    /// Starts the evaluator thread for `run_init.task_queue`.
    pub fn spawn(definitions: WorkflowDefinitions, run_init: RunInit) -> Result<Self, WorkerError> {
        let task_queue = run_init.task_queue.clone();
        let (tx, mut rx) = mpsc::unbounded_channel::<Request>();
        let thread_tq = task_queue.clone();
        std::thread::Builder::new()
            .name(format!("hourglass-wf-{task_queue}"))
            .spawn(move || {
                tracing::info!(task_queue = %thread_tq, "workflow evaluator started");
                let mut cache = WorkflowRunCache::new(definitions, run_init);
                while let Some(request) = rx.blocking_recv() {
                    match request {
                        Request::Activate(activation, reply) => {
                            let completion = evaluate(&mut cache, *activation);
                            // The requester may have given up; the core redelivers then.
                            let _ = reply.send(completion);
                        }
                        Request::Len(reply) => {
                            let _ = reply.send(cache.len());
                        }
                        Request::Clear(reply) => {
                            cache.clear();
                            let _ = reply.send(());
                        }
                        Request::Stop(reply) => {
                            tracing::info!(task_queue = %thread_tq, cached_runs = cache.len(), "workflow evaluator stopped on request");
                            drop(cache);
                            let _ = reply.send(());
                            return;
                        }
                    }
                }
                tracing::info!(task_queue = %thread_tq, cached_runs = cache.len(), "workflow evaluator stopped: all handles dropped");
            })
            .map_err(|source| WorkerError::EvaluatorSpawn {
                task_queue: task_queue.clone(),
                source,
            })?;
        Ok(Self { tx, task_queue })
    }

    /// Evaluates one activation and returns the completion to send to the core.
    ///
    /// The future is `Send`; call it from any tokio task. Errors only if the evaluator thread is
    /// gone.
    pub async fn activate(
        &self,
        activation: WorkflowActivation,
    ) -> Result<WorkflowActivationCompletion, WorkerError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Request::Activate(Box::new(activation), reply))
            .map_err(|_| self.stopped())?;
        rx.await.map_err(|_| self.stopped())
    }

    /// Number of runs currently cached on the evaluator thread.
    pub async fn cached_runs(&self) -> Result<usize, WorkerError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Request::Len(reply))
            .map_err(|_| self.stopped())?;
        rx.await.map_err(|_| self.stopped())
    }

    /// Drops every cached run (e.g. after the core worker for this queue was replaced).
    pub async fn clear(&self) -> Result<(), WorkerError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Request::Clear(reply))
            .map_err(|_| self.stopped())?;
        rx.await.map_err(|_| self.stopped())
    }

    /// Stops the evaluator thread (dropping every cached run) and returns once it has: its
    /// last log line is written before this returns. Other handles' calls fail afterwards.
    pub async fn stop(&self) -> Result<(), WorkerError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Request::Stop(reply))
            .map_err(|_| self.stopped())?;
        rx.await.map_err(|_| self.stopped())
    }

    /// The task queue this evaluator serves.
    pub fn task_queue(&self) -> &str {
        &self.task_queue
    }

    fn stopped(&self) -> WorkerError {
        WorkerError::EvaluatorStopped {
            task_queue: self.task_queue.clone(),
        }
    }
}

/// `WorkflowRunCache::process` already turns workflow panics into failures; this is a last line
/// of defence so that a bug in the driving code cannot kill the thread and every cached run.
fn evaluate(
    cache: &mut WorkflowRunCache,
    activation: WorkflowActivation,
) -> WorkflowActivationCompletion {
    let run_id = activation.run_id.clone();
    match panic::catch_unwind(AssertUnwindSafe(|| cache.process(activation))) {
        Ok(completion) => completion,
        Err(payload) => {
            let message = panic_message(payload.as_ref());
            tracing::error!(run_id = %run_id, panic = %message, "workflow evaluation panicked");
            WorkflowActivationCompletion::fail(
                run_id,
                format!("Workflow evaluation panicked: {message}").into(),
                None,
            )
        }
    }
}
