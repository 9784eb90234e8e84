//! The error type of this crate.

/// Errors of the Hourglass worker's authoring and execution layer.
///
/// Failures of *user code* (workflow panics, activity errors) are not errors here: they become
/// failed completions sent back to the core. These variants describe problems of registration and
/// of the plumbing around evaluation.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    /// Two registrations claim the same workflow type name.
    #[error("workflow type `{workflow_type}` is registered more than once")]
    DuplicateWorkflowType {
        /// The duplicated Temporal workflow type name.
        workflow_type: String,
    },
    /// Two registrations claim the same activity type name.
    #[error("activity type `{activity_type}` is registered more than once")]
    DuplicateActivityType {
        /// The duplicated Temporal activity type name.
        activity_type: String,
    },
    /// An activity that takes `self: Arc<Self>` was registered without an instance.
    #[error(
        "activity `{activity_type}` needs an instance of its implementing type; register it with \
         #[activities(instance = ..)] or register_activities!(..)"
    )]
    MissingActivityInstance {
        /// The activity type name.
        activity_type: String,
    },
    /// A link-time activity registration (one `#[activities]` impl block) failed.
    #[error("registering activities of `{implementer}` failed: {source}")]
    ActivityRegistration {
        /// The implementing type, as written in the source.
        implementer: &'static str,
        /// The underlying failure.
        #[source]
        source: Box<WorkerError>,
    },
    /// An activity task from the core had no variant (neither start nor cancel).
    #[error("activity task {task_token:?} has no variant (neither start nor cancel)")]
    EmptyActivityTask {
        /// The task token of the malformed task.
        task_token: Vec<u8>,
    },
    /// The workflow evaluator thread is gone (stopped, or it could not be started).
    #[error("workflow evaluator for task queue `{task_queue}` is not running")]
    EvaluatorStopped {
        /// The task queue the evaluator served.
        task_queue: String,
    },
    /// The OS refused to start the evaluator thread.
    #[error(
        "could not start the workflow evaluator thread for task queue `{task_queue}`: {source}"
    )]
    EvaluatorSpawn {
        /// The task queue the evaluator would serve.
        task_queue: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A value could not be converted to or from a Temporal payload.
    #[error("payload conversion failed ({context}): {message}")]
    Payload {
        /// What was being converted.
        context: String,
        /// The converter's message.
        message: String,
    },
}
