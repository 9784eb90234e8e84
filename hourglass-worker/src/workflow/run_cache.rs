//! The cached runs of one task queue, keyed by run id.

use std::collections::HashMap;

use temporalio_common::protos::{
    coresdk::{
        workflow_activation::{WorkflowActivation, workflow_activation_job::Variant},
        workflow_completion::WorkflowActivationCompletion,
    },
    temporal::api::enums::v1::WorkflowTaskFailedCause,
};

use super::{RunInit, WorkflowDefinitions, WorkflowRun};

/// The workflow runs of one task queue, keyed by run id, and the rules for activations that
/// create, evict or miss a run.
///
/// `!Send` (runs hold `Rc` state): create and use it on one thread. The caller owns it, so its
/// lifetime (and so the lifetime of the cached runs) is the caller's choice.
pub struct WorkflowRunCache {
    definitions: WorkflowDefinitions,
    run_init: RunInit,
    runs: HashMap<String, WorkflowRun>,
}

impl WorkflowRunCache {
    /// An empty cache resolving workflow types through `definitions`.
    pub fn new(definitions: WorkflowDefinitions, run_init: RunInit) -> Self {
        Self {
            definitions,
            run_init,
            runs: HashMap::new(),
        }
    }

    /// Processes one activation from the core and returns the completion to send back.
    /// Never panics because of workflow code.
    ///
    /// * `InitializeWorkflow` creates the run (replacing a stale run with the same id). An
    ///   unknown workflow type or a failing constructor gives a failed completion (cause
    ///   `WorkflowWorkerUnhandledFailure`) and nothing is cached.
    /// * An eviction (exactly one `remove_from_cache` job) drops the run and gives an empty
    ///   successful completion, also when the run was never cached.
    /// * Any other activation for a run that is not cached gives a failed completion, so the
    ///   core evicts it and replays it from history.
    pub fn process(&mut self, mut activation: WorkflowActivation) -> WorkflowActivationCompletion {
        let run_id = activation.run_id.clone();
        if activation.is_only_eviction() {
            let removed = self.runs.remove(&run_id);
            tracing::debug!(
                run_id = %run_id,
                was_cached = removed.is_some(),
                reason = ?activation.eviction_reason(),
                "workflow run evicted"
            );
            return WorkflowActivationCompletion::empty(run_id);
        }

        let init = activation.jobs.iter_mut().find_map(|j| match j.variant {
            Some(Variant::InitializeWorkflow(ref mut init)) => Some(init),
            _ => None,
        });
        if let Some(init) = init {
            let workflow_type = init.workflow_type.clone();
            let Some(factory) = self.definitions.get(&workflow_type) else {
                tracing::warn!(run_id = %run_id, workflow_type = %workflow_type, "workflow type not found");
                return WorkflowActivationCompletion::fail(
                    run_id,
                    format!(
                        "Workflow type {workflow_type} not found; registered types: [{}]",
                        self.definitions.workflow_types().join(", ")
                    )
                    .into(),
                    Some(WorkflowTaskFailedCause::WorkflowWorkerUnhandledFailure),
                );
            };
            // Like the official SDK, the run takes the init job; the activation keeps an empty one.
            let init = std::mem::take(init);
            match WorkflowRun::start(&factory, &self.run_init, &run_id, init) {
                Ok(run) => {
                    tracing::debug!(run_id = %run_id, workflow_type = %workflow_type, "workflow run started");
                    if self.runs.insert(run_id.clone(), run).is_some() {
                        tracing::warn!(run_id = %run_id, "replaced a cached run that received a new InitializeWorkflow");
                    }
                }
                Err(e) => {
                    tracing::warn!(run_id = %run_id, workflow_type = %workflow_type, error = %e, "failed to create workflow");
                    return WorkflowActivationCompletion::fail(
                        run_id,
                        format!("Failed to create workflow: {e}").into(),
                        Some(WorkflowTaskFailedCause::WorkflowWorkerUnhandledFailure),
                    );
                }
            }
        }

        match self.runs.get_mut(&run_id) {
            Some(run) => run.activate(activation),
            None => {
                tracing::warn!(run_id = %run_id, "activation for a run that is not cached");
                WorkflowActivationCompletion::fail(
                    run_id.clone(),
                    format!("Run {run_id} is not in this worker's cache").into(),
                    Some(WorkflowTaskFailedCause::WorkflowWorkerUnhandledFailure),
                )
            }
        }
    }

    /// Number of cached runs.
    pub fn len(&self) -> usize {
        self.runs.len()
    }

    /// True if no run is cached.
    pub fn is_empty(&self) -> bool {
        self.runs.is_empty()
    }

    /// True if `run_id` is cached.
    pub fn contains(&self, run_id: &str) -> bool {
        self.runs.contains_key(run_id)
    }

    /// Drops every cached run (e.g. when the core worker behind this cache is gone; the core
    /// replays any run it still needs from history).
    pub fn clear(&mut self) {
        let n = self.runs.len();
        self.runs.clear();
        tracing::debug!(dropped = n, "workflow run cache cleared");
    }

    /// The workflow types this cache can run.
    pub fn definitions(&self) -> &WorkflowDefinitions {
        &self.definitions
    }
}
