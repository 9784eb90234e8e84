//! Runs the core's activity tasks: starts, cancels, errors, panics, unknown types.

use std::{
    collections::HashMap,
    fmt,
    future::Future,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
};

use futures::{FutureExt, future::BoxFuture};
use parking_lot::Mutex;
use temporalio_common::{
    ActivityError,
    data_converters::{ActivitySerializationContext, DataConverter, SerializationContextData},
    error::{ApplicationFailure, OutgoingActivityError, OutgoingError},
    protos::coresdk::{
        ActivityTaskCompletion,
        activity_result::ActivityExecutionResult,
        activity_task::{self, ActivityCancelReason, ActivityTask},
    },
};
use tracing::Instrument;

use super::{ActivityContext, ActivityDefinitions, ActivityHost, context::CancelState};
use crate::error::WorkerError;

/// Failure type of the completion for an activity type this worker does not know (the type name
/// the official Rust SDK uses). The failure is non-retryable.
pub const ACTIVITY_NOT_FOUND_TYPE: &str = "NotFoundError";

type Running = Arc<Mutex<HashMap<Vec<u8>, Arc<CancelState>>>>;

/// Executes activity tasks of one task queue. `Send + Sync`; share it (e.g. in an `Arc`) between
/// the poll loop and whoever runs the tasks.
///
/// It tracks running attempts by task token so that a later `Cancel` task reaches the right
/// [`ActivityContext`].
pub struct ActivityExecutor {
    definitions: ActivityDefinitions,
    task_queue: String,
    data_converter: DataConverter,
    running: Running,
}

/// What to do with one polled activity task.
pub enum ActivityDispatch {
    /// A start: drive this future to completion (e.g. as a supervised temporary task), then send
    /// the [`ActivityTaskCompletion`] it yields to the core.
    Run(ActivityRun),
    /// A cancel: it was signalled to the running attempt (`delivered = true`) or no attempt with
    /// that token runs here (`delivered = false`, e.g. it already finished). Nothing to complete.
    Cancel {
        /// Task token of the cancelled attempt.
        task_token: Vec<u8>,
        /// Whether a running attempt received the cancellation.
        delivered: bool,
    },
}

impl fmt::Debug for ActivityDispatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Run(run) => f
                .debug_struct("Run")
                .field("activity_type", &run.activity_type)
                .finish(),
            Self::Cancel {
                task_token,
                delivered,
            } => f
                .debug_struct("Cancel")
                .field("task_token", task_token)
                .field("delivered", delivered)
                .finish(),
        }
    }
}

/// One activity attempt. A `Send + 'static` future yielding the completion to send to the core.
/// Never panics because of activity code: errors and panics become failed results.
/// Dropping it before completion forgets the attempt (the core times it out and retries).
pub struct ActivityRun {
    activity_type: String,
    task_token: Vec<u8>,
    future: BoxFuture<'static, ActivityTaskCompletion>,
}

impl ActivityRun {
    /// The activity type name.
    pub fn activity_type(&self) -> &str {
        &self.activity_type
    }

    /// The task token (for logging; the completion carries it too).
    pub fn task_token(&self) -> &[u8] {
        &self.task_token
    }
}

impl Future for ActivityRun {
    type Output = ActivityTaskCompletion;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.future.as_mut().poll(cx)
    }
}

/// Removes a running attempt from the cancellation map however its future ends.
struct RunningGuard {
    running: Running,
    task_token: Vec<u8>,
}

impl Drop for RunningGuard {
    fn drop(&mut self) {
        self.running.lock().remove(&self.task_token);
    }
}

impl ActivityExecutor {
    /// An executor for `task_queue` with the default (JSON) data converter.
    pub fn new(definitions: ActivityDefinitions, task_queue: impl Into<String>) -> Self {
        Self::with_data_converter(definitions, task_queue, DataConverter::default())
    }

    /// An executor with a custom data converter.
    pub fn with_data_converter(
        definitions: ActivityDefinitions,
        task_queue: impl Into<String>,
        data_converter: DataConverter,
    ) -> Self {
        Self {
            definitions,
            task_queue: task_queue.into(),
            data_converter,
            running: Arc::default(),
        }
    }

    /// The activity types this executor runs.
    pub fn definitions(&self) -> &ActivityDefinitions {
        &self.definitions
    }

    /// Number of attempts started and not yet finished (or dropped).
    pub fn running(&self) -> usize {
        self.running.lock().len()
    }

    /// Signals cancellation with `reason` to every running attempt (e.g. on worker shutdown).
    /// Returns how many were signalled.
    pub fn cancel_all(&self, reason: ActivityCancelReason) -> usize {
        let running = self.running.lock();
        for state in running.values() {
            state.cancel(reason);
        }
        running.len()
    }

    /// Handles one task from the core's activity poll.
    ///
    /// * `Start` → [`ActivityDispatch::Run`]: the caller drives the returned future and sends
    ///   its completion. An unknown activity type yields a non-retryable failure
    ///   (type [`ACTIVITY_NOT_FOUND_TYPE`]); an error returned by the activity a failure that is
    ///   retryable unless the error says otherwise; a panic a retryable failure with the panic
    ///   message; `ActivityError::Cancelled` a cancellation.
    /// * `Cancel` → signals the running attempt's context.
    ///
    /// Heartbeats recorded through the context go to `host`. Errors only for a task without a
    /// variant.
    pub fn dispatch(
        &self,
        task: ActivityTask,
        host: Arc<dyn ActivityHost>,
    ) -> Result<ActivityDispatch, WorkerError> {
        let task_token = task.task_token;
        match task.variant {
            Some(activity_task::activity_task::Variant::Start(start)) => {
                Ok(ActivityDispatch::Run(self.start(task_token, start, host)))
            }
            Some(activity_task::activity_task::Variant::Cancel(cancel)) => {
                let reason = ActivityCancelReason::try_from(cancel.reason)
                    .unwrap_or(ActivityCancelReason::Cancelled);
                let state = self.running.lock().get(&task_token).cloned();
                let delivered = match state {
                    Some(state) => {
                        state.cancel(reason);
                        true
                    }
                    None => false,
                };
                tracing::debug!(task_token = ?task_token, ?reason, delivered, "activity cancel received");
                Ok(ActivityDispatch::Cancel {
                    task_token,
                    delivered,
                })
            }
            None => Err(WorkerError::EmptyActivityTask { task_token }),
        }
    }

    fn start(
        &self,
        task_token: Vec<u8>,
        start: activity_task::Start,
        host: Arc<dyn ActivityHost>,
    ) -> ActivityRun {
        let activity_type = start.activity_type.clone();
        let span = tracing::info_span!(
            "RunActivity",
            activity_type = %activity_type,
            activity_id = %start.activity_id,
            attempt = start.attempt,
        );
        let data_converter = self.data_converter.clone();
        let Some(invocation) = self.definitions.get(&activity_type) else {
            let registered = self.definitions.activity_types();
            tracing::warn!(parent: &span, "activity type not registered");
            let message = if registered.is_empty() {
                format!(
                    "Activity {activity_type} is not registered on this worker, no available activities."
                )
            } else {
                format!(
                    "Activity {activity_type} is not registered on this worker, available activities: {}",
                    registered.join(", ")
                )
            };
            let failure = ApplicationFailure::builder(anyhow::anyhow!(message))
                .type_name(ACTIVITY_NOT_FOUND_TYPE.to_owned())
                .non_retryable(true)
                .build();
            let result = error_to_result(&data_converter, ActivityError::from(failure));
            let completion = ActivityTaskCompletion {
                task_token: task_token.clone(),
                result: Some(result),
            };
            return ActivityRun {
                activity_type,
                task_token,
                future: futures::future::ready(completion).boxed(),
            };
        };

        let cancel = Arc::new(CancelState::default());
        self.running
            .lock()
            .insert(task_token.clone(), cancel.clone());
        let guard = RunningGuard {
            running: self.running.clone(),
            task_token: task_token.clone(),
        };
        let payload_converter = data_converter.payload_converter().clone();
        let (ctx, input) = ActivityContext::new(
            host,
            cancel,
            payload_converter.clone(),
            self.task_queue.clone(),
            task_token.clone(),
            start,
        );
        let token = task_token.clone();
        let future = async move {
            let _guard = guard;
            tracing::debug!("activity started");
            let result = match invocation(input, payload_converter, ctx).await {
                Ok(payload) => {
                    tracing::debug!("activity completed");
                    ActivityExecutionResult::ok(payload)
                }
                Err(err) => {
                    tracing::info!(error = ?err, "activity failed");
                    error_to_result(&data_converter, err)
                }
            };
            ActivityTaskCompletion {
                task_token: token,
                result: Some(result),
            }
        }
        .instrument(span)
        .boxed();
        ActivityRun {
            activity_type,
            task_token,
            future,
        }
    }
}

/// Port of temporalio-sdk 1.1.1 `activity_error_to_core_result` (MIT, Temporal Technologies).
fn error_to_result(dc: &DataConverter, err: ActivityError) -> ActivityExecutionResult {
    let context = SerializationContextData::Activity(ActivitySerializationContext::new());
    match err {
        ActivityError::Application(app) => ActivityExecutionResult::fail(dc.to_failure(
            &context,
            OutgoingError::Activity(OutgoingActivityError::Application(app)),
        )),
        ActivityError::Cancelled { details } => ActivityExecutionResult::cancel(dc.to_failure(
            &context,
            OutgoingError::Activity(OutgoingActivityError::Cancelled { details }),
        )),
        ActivityError::WillCompleteAsync => ActivityExecutionResult::will_complete_async(),
        other => ActivityExecutionResult::fail(dc.to_failure(
            &context,
            OutgoingError::Activity(OutgoingActivityError::Application(Box::new(
                ApplicationFailure::new(anyhow::anyhow!("Unsupported activity error: {other:?}")),
            ))),
        )),
    }
}
