//! One workflow run: drives its `temporalio-workflow` guest instance through activations.
//!
//! The driving logic is adapted from temporalio-sdk 1.1.1 `src/workflow_future.rs`
//! (`WorkflowFuture`, MIT, Copyright (c) 2021 Temporal Technologies, Inc.). The official SDK runs
//! it as a future on a custom executor; here it is a plain synchronous call, which is equivalent
//! because no interceptors are installed: every routine wake during an activation comes from the
//! SDK itself or is workflow code yielding (see `wake_tracker`), and polling stops when a full
//! pass makes no progress and nothing yielded.

use std::{
    cell::RefCell,
    panic::{self, AssertUnwindSafe},
    rc::Rc,
    task::Waker,
};

use anyhow::{Context as _, anyhow, bail};
use temporalio_common::{
    data_converters::DataConverter,
    protos::{
        coresdk::{
            workflow_activation::{WorkflowActivation, workflow_activation_job::Variant},
            workflow_commands::{
                CancelWorkflowExecution, CompleteWorkflowExecution, FailWorkflowExecution,
                QueryResult, QuerySuccess, UpdateResponse, WorkflowCommand, query_result,
                update_response, workflow_command,
            },
            workflow_completion::{
                self, WorkflowActivationCompletion, workflow_activation_completion,
            },
        },
        temporal::api::{
            enums::v1::{VersioningBehavior, WorkflowTaskFailedCause},
            failure::v1::Failure,
        },
    },
};
use temporalio_workflow::__private::sdk::{
    ActivationJobResult, ActivationResult, MAIN_ROUTINE_ID, MainRoutineCompletion,
    RoutineCompletion, RoutineId, RoutineKind, RoutinePendingState, RoutinePollResult,
    TerminalOutcome, UpdateRoutineCompletion, WorkflowHost, WorkflowInit, WorkflowInstance,
};

use super::{registry::WorkflowFactory, wake_tracker::WakeTracker};
use crate::panic_message::panic_message;

/// What every run of one task queue shares when it is created.
#[derive(Clone, Debug)]
pub struct RunInit {
    /// Namespace the worker polls.
    pub namespace: String,
    /// Task queue the worker polls.
    pub task_queue: String,
    /// Payload/failure conversion (the default is JSON, `encoding: json/plain`).
    pub data_converter: DataConverter,
}

impl RunInit {
    /// Namespace and task queue with the default (JSON) data converter.
    pub fn new(namespace: impl Into<String>, task_queue: impl Into<String>) -> Self {
        Self {
            namespace: namespace.into(),
            task_queue: task_queue.into(),
            data_converter: DataConverter::default(),
        }
    }
}

/// Collects the commands the guest emits during one activation.
#[derive(Default)]
struct CommandCollector {
    commands: RefCell<Vec<WorkflowCommand>>,
    details: RefCell<String>,
}

impl CommandCollector {
    fn push_variant(&self, variant: workflow_command::Variant) {
        self.commands.borrow_mut().push(variant.into());
    }

    fn take(&self) -> Vec<WorkflowCommand> {
        std::mem::take(&mut *self.commands.borrow_mut())
    }
}

impl WorkflowHost for CommandCollector {
    fn set_current_details(&self, details: String) {
        *self.details.borrow_mut() = details;
    }

    fn push_command(&self, command: WorkflowCommand) {
        self.commands.borrow_mut().push(command);
    }
}

#[derive(Debug)]
enum JobContext {
    Passive,
    Signal,
    Update { protocol_instance_id: String },
    Query { query_id: String },
}

/// Why an activation failed: becomes a failed completion (a workflow-task failure).
struct TaskFailure {
    failure: Box<Failure>,
    cause: Option<WorkflowTaskFailedCause>,
}

impl TaskFailure {
    fn plain(err: anyhow::Error) -> Self {
        Self {
            failure: Box::new(err.into()),
            cause: None,
        }
    }

    fn nondeterministic(message: &str) -> Self {
        Self {
            failure: Box::new(
                anyhow!("[TMPRL1100] Nondeterministic future detected: {message}").into(),
            ),
            cause: Some(WorkflowTaskFailedCause::NonDeterministicError),
        }
    }
}

const NON_SDK_WAKE: &str = "a waker was invoked by a non-SDK source. This usually means workflow \
     code is using nondeterministic operations like tokio async functions or channels, other \
     async libraries, or std::thread. Use SDK-provided alternatives (ctx.timer(), \
     ctx.state_mut() + ctx.wait_condition(), etc.) instead.";

/// How many polls in a row may end with workflow code waking itself and nothing else
/// progressing before the task fails (a yielding combinator needs one per batch of 32 futures).
const MAX_YIELDS_WITHOUT_PROGRESS: u32 = 100_000;

/// One cached workflow run.
///
/// `!Send`: the guest instance holds `Rc` state, so a run lives on the thread that created it.
/// [`activate`](Self::activate) never panics because of workflow code: panics, errors and
/// nondeterminism become failed completions, after which the core evicts the run.
pub struct WorkflowRun {
    run_id: String,
    workflow_type: String,
    instance: Box<dyn WorkflowInstance>,
    host: Rc<CommandCollector>,
    wake_tracker: WakeTracker,
    active_routines: Vec<RoutineId>,
    span: tracing::Span,
}

impl WorkflowRun {
    /// Creates the run from its `InitializeWorkflow` activation's job. The activation itself must
    /// then be passed to [`activate`](Self::activate).
    ///
    /// Errors if the factory fails (e.g. the input cannot be decoded) or the workflow's `#[init]`
    /// panics.
    pub fn start(
        factory: &WorkflowFactory,
        run_init: &RunInit,
        run_id: &str,
        initialize: temporalio_common::protos::coresdk::workflow_activation::InitializeWorkflow,
    ) -> Result<Self, anyhow::Error> {
        let workflow_type = initialize.workflow_type.clone();
        let span =
            tracing::info_span!("RunWorkflow", workflow_type = %workflow_type, run_id = %run_id);
        let host = Rc::new(CommandCollector::default());
        let init = WorkflowInit {
            namespace: run_init.namespace.clone(),
            task_queue: run_init.task_queue.clone(),
            run_id: run_id.to_owned(),
            initialize_workflow: initialize,
        };
        let dyn_host: Rc<dyn WorkflowHost> = host.clone();
        let instance = {
            let _guard = span.enter();
            match panic::catch_unwind(AssertUnwindSafe(|| {
                factory(init, run_init.data_converter.clone(), dyn_host)
            })) {
                Ok(result) => result?,
                Err(payload) => bail!(
                    "workflow initialization panicked: {}",
                    panic_message(payload.as_ref())
                ),
            }
        };
        Ok(Self {
            run_id: run_id.to_owned(),
            workflow_type,
            instance,
            host,
            wake_tracker: WakeTracker::new(),
            active_routines: Vec::new(),
            span,
        })
    }

    /// The run id.
    pub fn run_id(&self) -> &str {
        &self.run_id
    }

    /// The Temporal workflow type of this run.
    pub fn workflow_type(&self) -> &str {
        &self.workflow_type
    }

    /// The latest `set_current_details` text (workflow metadata query).
    pub fn current_details(&self) -> String {
        self.host.details.borrow().clone()
    }

    /// Applies one activation and returns its completion: the commands the workflow produced, or
    /// a failure (panic, error, nondeterminism) that fails the workflow task.
    ///
    /// An eviction-only activation returns an empty successful completion; the caller then drops
    /// the run (see [`WorkflowRunCache`](super::WorkflowRunCache), which does this).
    pub fn activate(&mut self, activation: WorkflowActivation) -> WorkflowActivationCompletion {
        let run_id = activation.run_id.clone();
        if activation.is_only_eviction() {
            return WorkflowActivationCompletion::empty(run_id);
        }
        let span = self.span.clone();
        let _guard = span.enter();
        match self.activate_inner(activation) {
            Ok(commands) => success(run_id, commands),
            Err(TaskFailure { failure, cause }) => {
                // Commands of a failed activation must not leak into the next one.
                self.host.take();
                tracing::warn!(run_id = %run_id, workflow_type = %self.workflow_type, failure = %failure, "workflow task failed");
                WorkflowActivationCompletion::fail(run_id, *failure, cause)
            }
        }
    }

    fn activate_inner(
        &mut self,
        activation: WorkflowActivation,
    ) -> Result<Vec<WorkflowCommand>, TaskFailure> {
        // A wake from outside the SDK since the last activation (e.g. a tokio timer a previous
        // activation armed) means the workflow depends on something nondeterministic.
        self.check_wakes()?;
        let (job_contexts, should_poll) =
            translate_activation(&activation).map_err(TaskFailure::plain)?;

        let waker = self.wake_tracker.new_per_poll_waker(Waker::noop());
        let instance = &mut self.instance;
        let result = match self.wake_tracker.poll(|| {
            panic::catch_unwind(AssertUnwindSafe(|| instance.activate(activation, &waker)))
        }) {
            Ok(Ok(result)) => result,
            Ok(Err(failure)) => return Err(TaskFailure::plain(anyhow!(failure.message))),
            Err(payload) => {
                return Err(TaskFailure::plain(anyhow!(
                    "Workflow function panicked: {}",
                    panic_message(payload.as_ref())
                )));
            }
        };
        self.check_wakes()?;

        let mut commands = Vec::new();
        self.process_activation_results(job_contexts, result, &mut commands)
            .map_err(TaskFailure::plain)?;
        // Workflow code that yielded while the activation was applied must be polled again.
        if should_poll || self.wake_tracker.take_yield() {
            self.drive_routines(&mut commands)?;
        }
        commands.extend(self.host.take());
        Ok(commands)
    }

    fn check_wakes(&self) -> Result<(), TaskFailure> {
        if self.wake_tracker.take_non_sdk_wake() {
            Err(TaskFailure::nondeterministic(NON_SDK_WAKE))
        } else {
            Ok(())
        }
    }

    fn process_activation_results(
        &mut self,
        job_contexts: Vec<JobContext>,
        result: ActivationResult,
        commands: &mut Vec<WorkflowCommand>,
    ) -> Result<(), anyhow::Error> {
        if job_contexts.len() != result.job_results.len() {
            bail!(
                "Activation result count {} did not match job count {}",
                result.job_results.len(),
                job_contexts.len()
            );
        }
        for (context, job_result) in job_contexts.into_iter().zip(result.job_results) {
            match (context, job_result) {
                (JobContext::Passive, ActivationJobResult::None)
                | (JobContext::Signal, ActivationJobResult::None) => {}
                (JobContext::Signal, ActivationJobResult::StartedRoutine(started)) => {
                    match started.kind {
                        RoutineKind::Signal(_) => self.active_routines.push(started.routine_id),
                        other => bail!("Signal job started unexpected routine kind {other:?}"),
                    }
                }
                (
                    JobContext::Update {
                        protocol_instance_id,
                    },
                    ActivationJobResult::StartedRoutine(started),
                ) => match started.kind {
                    RoutineKind::Update(kind) => {
                        if kind.protocol_instance_id != protocol_instance_id {
                            bail!(
                                "Update routine protocol instance id {} did not match {}",
                                kind.protocol_instance_id,
                                protocol_instance_id
                            );
                        }
                        commands.push(
                            update_response(
                                protocol_instance_id,
                                update_response::Response::Accepted(()),
                            )
                            .into(),
                        );
                        self.active_routines.push(started.routine_id);
                    }
                    other => bail!("Update job started unexpected routine kind {other:?}"),
                },
                (
                    JobContext::Update {
                        protocol_instance_id,
                    },
                    ActivationJobResult::UpdateRejected(failure),
                ) => commands.push(
                    update_response(
                        protocol_instance_id,
                        update_response::Response::Rejected(*failure),
                    )
                    .into(),
                ),
                (JobContext::Query { query_id }, ActivationJobResult::QueryResponse(response)) => {
                    commands.push(
                        workflow_command::Variant::RespondToQuery(QueryResult {
                            query_id,
                            variant: Some(match response.result {
                                Ok(payload) => query_result::Variant::Succeeded(QuerySuccess {
                                    response: Some(payload),
                                }),
                                Err(failure) => query_result::Variant::Failed(failure),
                            }),
                        })
                        .into(),
                    )
                }
                (context, job_result) => {
                    bail!("Unexpected activation result {job_result:?} for job {context:?}")
                }
            }
        }
        Ok(())
    }

    fn poll_routine(&mut self, routine_id: RoutineId) -> Result<RoutinePollResult, TaskFailure> {
        let waker = self.wake_tracker.new_per_poll_waker(Waker::noop());
        let instance = &mut self.instance;
        let result = match self.wake_tracker.poll(|| {
            panic::catch_unwind(AssertUnwindSafe(|| {
                instance.poll_routine(routine_id, &waker)
            }))
        }) {
            Ok(Ok(result)) => result,
            Ok(Err(failure)) => return Err(TaskFailure::plain(anyhow!(failure.message))),
            Err(payload) => {
                return Err(TaskFailure::plain(anyhow!(
                    "Workflow function panicked: {}",
                    panic_message(payload.as_ref())
                )));
            }
        };
        self.check_wakes()?;
        Ok(result)
    }

    /// Polls signal/update routines, then the main routine, until a pass makes no progress.
    fn drive_routines(&mut self, commands: &mut Vec<WorkflowCommand>) -> Result<(), TaskFailure> {
        let mut yields_in_a_row = 0u32;
        loop {
            let mut progress = false;
            let mut interceptor_pending = false;
            let mut still_active = Vec::with_capacity(self.active_routines.len());
            for routine_id in std::mem::take(&mut self.active_routines) {
                let polled = self.poll_routine(routine_id)?;
                progress |= polled.made_progress;
                interceptor_pending |=
                    matches!(polled.pending_state, Some(RoutinePendingState::Interceptor));
                match polled.completion {
                    None => still_active.push(routine_id),
                    Some(RoutineCompletion::Signal(Ok(()))) => {}
                    Some(RoutineCompletion::Signal(Err(failure))) => {
                        return Err(TaskFailure::plain(anyhow!(failure.message)));
                    }
                    Some(RoutineCompletion::Update(UpdateRoutineCompletion::Completed {
                        protocol_instance_id,
                        result,
                    })) => commands.push(
                        update_response(
                            protocol_instance_id,
                            update_response::Response::Completed(result),
                        )
                        .into(),
                    ),
                    Some(RoutineCompletion::Update(UpdateRoutineCompletion::Rejected {
                        protocol_instance_id,
                        failure,
                    })) => commands.push(
                        update_response(
                            protocol_instance_id,
                            update_response::Response::Rejected(*failure),
                        )
                        .into(),
                    ),
                    Some(RoutineCompletion::Main(_)) => {
                        return Err(TaskFailure::plain(anyhow!(
                            "non-main routine returned a main completion"
                        )));
                    }
                }
            }
            self.active_routines = still_active;

            let main = self.poll_routine(MAIN_ROUTINE_ID)?;
            progress |= main.made_progress;
            interceptor_pending |=
                matches!(main.pending_state, Some(RoutinePendingState::Interceptor));
            match main.completion {
                None => {
                    return Err(TaskFailure::plain(anyhow!(
                        "main routine returned no completion"
                    )));
                }
                Some(RoutineCompletion::Main(MainRoutineCompletion::Blocked)) => {}
                Some(RoutineCompletion::Main(MainRoutineCompletion::TaskFailed(failed))) => {
                    return Err(TaskFailure {
                        failure: failed.failure,
                        cause: failed
                            .force_cause
                            .and_then(|c| i32::try_from(c).ok())
                            .and_then(|c| WorkflowTaskFailedCause::try_from(c).ok()),
                    });
                }
                Some(RoutineCompletion::Main(MainRoutineCompletion::Terminal(outcome))) => {
                    let variant = match *outcome {
                        TerminalOutcome::Completed(result) => {
                            workflow_command::Variant::CompleteWorkflowExecution(
                                CompleteWorkflowExecution {
                                    result: Some(result),
                                },
                            )
                        }
                        TerminalOutcome::Failed(failure) => {
                            workflow_command::Variant::FailWorkflowExecution(
                                FailWorkflowExecution {
                                    failure: Some(*failure),
                                },
                            )
                        }
                        TerminalOutcome::Cancelled(details) => {
                            workflow_command::Variant::CancelWorkflowExecution(
                                CancelWorkflowExecution { details },
                            )
                        }
                        TerminalOutcome::ContinueAsNew(req) => {
                            workflow_command::Variant::ContinueAsNewWorkflowExecution(*req)
                        }
                    };
                    self.host.push_variant(variant);
                    return Ok(());
                }
                Some(other) => {
                    return Err(TaskFailure::plain(anyhow!(
                        "main routine returned unexpected completion {other:?}"
                    )));
                }
            }

            // A pass in which workflow code woke itself (a combinator yielding after a batch
            // of polls) is polled again, unless it does nothing else for too long.
            if self.wake_tracker.take_yield() {
                yields_in_a_row = if progress { 0 } else { yields_in_a_row + 1 };
                if yields_in_a_row >= MAX_YIELDS_WITHOUT_PROGRESS {
                    return Err(TaskFailure::plain(anyhow!(
                        "workflow code woke itself {MAX_YIELDS_WITHOUT_PROGRESS} times in a row \
                         without making progress: a busy loop in the workflow"
                    )));
                }
                continue;
            }
            if !progress {
                if interceptor_pending {
                    // Without interceptors this cannot happen; with wake tracking the official
                    // SDK treats it as nondeterminism too.
                    return Err(TaskFailure::nondeterministic(
                        "a workflow interceptor returned Poll::Pending without polling its \
                         handler or an SDK operation that will produce another workflow \
                         activation.",
                    ));
                }
                return Ok(());
            }
        }
    }
}

/// Checks the activation's jobs and records what each job's result must be matched with.
fn translate_activation(
    activation: &WorkflowActivation,
) -> Result<(Vec<JobContext>, bool), anyhow::Error> {
    let mut should_poll = false;
    let mut contexts = Vec::with_capacity(activation.jobs.len());
    for job in &activation.jobs {
        let context = match job
            .variant
            .as_ref()
            .context("Empty activation job variant")?
        {
            Variant::QueryWorkflow(q) => {
                tracing::debug!(query_type = %q.query_type, "query received");
                contexts.push(JobContext::Query {
                    query_id: q.query_id.clone(),
                });
                continue;
            }
            Variant::SignalWorkflow(s) => {
                tracing::debug!(signal_name = %s.signal_name, "signal received");
                JobContext::Signal
            }
            Variant::DoUpdate(u) => JobContext::Update {
                protocol_instance_id: u.protocol_instance_id.clone(),
            },
            Variant::ResolveActivity(a) => {
                a.result.as_ref().context("Activity must have result")?;
                JobContext::Passive
            }
            Variant::ResolveChildWorkflowExecutionStart(a) => {
                a.status
                    .as_ref()
                    .context("Workflow start must have status")?;
                JobContext::Passive
            }
            Variant::ResolveChildWorkflowExecution(a) => {
                a.result
                    .as_ref()
                    .context("Child Workflow execution must have a result")?;
                JobContext::Passive
            }
            Variant::ResolveNexusOperationStart(a) => {
                a.status
                    .as_ref()
                    .context("Nexus operation start must have status")?;
                JobContext::Passive
            }
            Variant::ResolveNexusOperation(a) => {
                a.result
                    .as_ref()
                    .context("Nexus operation must have result")?;
                JobContext::Passive
            }
            Variant::RemoveFromCache(_) => {
                bail!("an eviction (remove_from_cache) must be the only job of its activation")
            }
            Variant::InitializeWorkflow(_)
            | Variant::FireTimer(_)
            | Variant::UpdateRandomSeed(_)
            | Variant::CancelWorkflow(_)
            | Variant::NotifyHasPatch(_)
            | Variant::ResolveSignalExternalWorkflow(_)
            | Variant::ResolveRequestCancelExternalWorkflow(_) => JobContext::Passive,
        };
        should_poll = true;
        contexts.push(context);
    }
    Ok((contexts, should_poll))
}

fn success(run_id: String, commands: Vec<WorkflowCommand>) -> WorkflowActivationCompletion {
    WorkflowActivationCompletion {
        run_id,
        status: Some(workflow_activation_completion::Status::Successful(
            workflow_completion::Success {
                commands,
                used_internal_flags: vec![],
                versioning_behavior: VersioningBehavior::Unspecified.into(),
            },
        )),
        ..Default::default()
    }
}

fn update_response(
    protocol_instance_id: String,
    response: update_response::Response,
) -> workflow_command::Variant {
    UpdateResponse {
        protocol_instance_id,
        response: Some(response),
    }
    .into()
}
