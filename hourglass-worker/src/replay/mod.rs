//! Replaying recorded histories against the registered workflow code: the check that changed
//! workflow code still produces the commands its running (or finished) executions recorded,
//! before it is deployed.
//!
//! A [`Replayer`] feeds each [`WorkflowHistory`] to the official Temporal core's replay worker
//! (through the loaded core library, like every other Hourglass worker) and evaluates the
//! activations with the same [`WorkflowEvaluator`](crate::workflow::WorkflowEvaluator) the live
//! workers use. The core compares every command against the recorded events; a mismatch
//! is [`ReplayError::Nondeterminism`] naming the event and the command.
//!
//! Histories come from Temporal's JSON format ([`WorkflowHistory::from_json_file`]), protobuf
//! bytes ([`WorkflowHistory::from_proto`]) or a server ([`server::fetch_history`],
//! [`server::list_workflows`]).

mod error;
mod history;
mod legacy_json;
pub mod server;

use std::sync::atomic::{AtomicU64, Ordering};

use hourglass_bridge::{
    BridgeError, Core,
    config::{RuntimeConfig, WorkerConfig},
    protos::coresdk::{
        workflow_activation::{
            WorkflowActivation, remove_from_cache::EvictionReason, workflow_activation_job::Variant,
        },
        workflow_completion::workflow_activation_completion::Status,
    },
};

pub use error::{Nondeterminism, ReplayError};
pub use history::WorkflowHistory;

use crate::workflow::{RunInit, WorkflowDefinitions, WorkflowEvaluator};

/// The namespace replayed runs see (replay never talks to a server).
pub const REPLAY_NAMESPACE: &str = "default";
/// The task queue replayed runs see.
pub const REPLAY_TASK_QUEUE: &str = "hourglass-replay";

static SESSIONS: AtomicU64 = AtomicU64::new(0);

/// Replays histories against a set of workflow types.
///
/// Replay is offline: the core's replay worker serves the recorded events instead of a server,
/// and nothing is written anywhere. Each history ends in exactly one outcome: a clean replay,
/// [`ReplayError::Nondeterminism`], [`ReplayError::WorkflowTaskFailed`] or
/// [`ReplayError::UnknownWorkflowType`].
pub struct Replayer {
    runtime: hourglass_bridge::Runtime,
    workflows: WorkflowDefinitions,
}

impl std::fmt::Debug for Replayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Replayer")
            .field("workflows", &self.workflows)
            .finish_non_exhaustive()
    }
}

/// The outcome of one history in [`Replayer::replay_each`].
#[derive(Debug)]
pub struct ReplayResult {
    /// The workflow id the history was replayed under.
    pub workflow_id: String,
    /// The run id recorded in the history.
    pub run_id: String,
    /// `Ok` for a clean replay, else why it failed.
    pub result: Result<(), ReplayError>,
}

impl Replayer {
    /// A replayer for every workflow registered with
    /// [`#[hourglass_worker::register]`](macro@crate::register) in this binary, on `core`
    /// (dynamic or linked). Creates one core runtime, freed when the replayer is dropped.
    pub fn new(core: &Core) -> Result<Self, ReplayError> {
        Self::with_workflows(core, WorkflowDefinitions::from_registered()?)
    }

    /// A replayer for exactly `workflows` (e.g. a changed version of a workflow registered
    /// under the same type name, to check it against the old version's histories).
    pub fn with_workflows(
        core: &Core,
        workflows: WorkflowDefinitions,
    ) -> Result<Self, ReplayError> {
        let runtime =
            core.runtime(&RuntimeConfig::default())
                .map_err(|source| ReplayError::Core {
                    operation: "creating the core runtime",
                    source,
                })?;
        Ok(Self { runtime, workflows })
    }

    /// The workflow types this replayer runs.
    pub fn workflows(&self) -> &WorkflowDefinitions {
        &self.workflows
    }

    /// Replays one history. `Ok` means the workflow code issued exactly the recorded commands.
    pub async fn replay(&self, history: &WorkflowHistory) -> Result<(), ReplayError> {
        let mut session = self.session()?;
        let result = session.replay(history).await;
        session.finish().await?;
        result
    }

    /// Replays histories in order and stops at the first that fails, returning its error;
    /// `Ok(n)` when all `n` replayed cleanly.
    pub async fn replay_all(
        &self,
        histories: impl IntoIterator<Item = WorkflowHistory>,
    ) -> Result<usize, ReplayError> {
        let mut session = self.session()?;
        let mut n = 0;
        for history in histories {
            if let Err(e) = session.replay(&history).await {
                session.finish().await?;
                return Err(e);
            }
            n += 1;
        }
        session.finish().await?;
        Ok(n)
    }

    /// Replays every history and reports each outcome. Errors only when the core itself fails.
    pub async fn replay_each(
        &self,
        histories: impl IntoIterator<Item = WorkflowHistory>,
    ) -> Result<Vec<ReplayResult>, ReplayError> {
        let mut session = self.session()?;
        let mut out = Vec::new();
        for history in histories {
            let result = session.replay(&history).await;
            if let Err(e @ ReplayError::Core { .. }) = result {
                return Err(e);
            }
            out.push(ReplayResult {
                workflow_id: history.workflow_id().to_owned(),
                run_id: history.run_id().to_owned(),
                result,
            });
        }
        session.finish().await?;
        Ok(out)
    }

    /// A session: one core replay worker fed one history at a time, for callers that produce
    /// histories lazily (e.g. page by page from a server). Call [`ReplaySession::finish`]
    /// when done.
    pub fn session(&self) -> Result<ReplaySession, ReplayError> {
        let n = SESSIONS.fetch_add(1, Ordering::Relaxed);
        let task_queue = format!("{REPLAY_TASK_QUEUE}-{n}");
        let worker = self
            .runtime
            .replayer(&WorkerConfig {
                namespace: REPLAY_NAMESPACE.into(),
                task_queue: task_queue.clone(),
                max_cached_workflows: 1,
                ..Default::default()
            })
            .map_err(|source| ReplayError::Core {
                operation: "creating the replay worker",
                source,
            })?;
        let evaluator = WorkflowEvaluator::spawn(
            self.workflows.clone(),
            RunInit::new(REPLAY_NAMESPACE, task_queue),
        )?;
        tracing::debug!(session = n, "replay session started");
        Ok(ReplaySession {
            worker,
            evaluator,
            workflows: self.workflows.clone(),
            replayed: 0,
        })
    }
}

/// One core replay worker and its evaluator; replays histories one after the other.
pub struct ReplaySession {
    worker: hourglass_bridge::Replayer,
    evaluator: WorkflowEvaluator,
    workflows: WorkflowDefinitions,
    replayed: usize,
}

impl std::fmt::Debug for ReplaySession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReplaySession")
            .field("replayed", &self.replayed)
            .finish_non_exhaustive()
    }
}

/// What one history's activations produced, until its final eviction.
#[derive(Default)]
struct RunOutcome {
    failed_completion: Option<String>,
    eviction: Option<(EvictionReason, String)>,
}

fn core_err(operation: &'static str) -> impl FnOnce(BridgeError) -> ReplayError {
    move |source| ReplayError::Core { operation, source }
}

impl ReplaySession {
    /// Replays one history to its end. Returns once the core has evicted the run, so the
    /// session is ready for the next history whatever the outcome.
    pub async fn replay(&mut self, history: &WorkflowHistory) -> Result<(), ReplayError> {
        let workflow_type = history.workflow_type();
        if self.workflows.get(workflow_type).is_none() {
            return Err(ReplayError::UnknownWorkflowType {
                workflow_id: history.workflow_id().to_owned(),
                workflow_type: workflow_type.to_owned(),
                registered: self.workflows.workflow_types(),
            });
        }
        self.worker
            .push_history(history.workflow_id(), history.history())
            .map_err(core_err("feeding the history to the replay worker"))?;
        let outcome = self.drive().await?;
        self.replayed += 1;
        let (workflow_id, run_id) = (history.workflow_id(), history.run_id());
        let result = judge(history, outcome);
        match &result {
            Ok(()) => {
                tracing::info!(%workflow_id, %run_id, %workflow_type, "history replayed cleanly")
            }
            Err(e) => {
                tracing::warn!(%workflow_id, %run_id, %workflow_type, error = %e, "history failed to replay")
            }
        }
        result
    }

    /// Polls and completes activations until the run's eviction.
    async fn drive(&mut self) -> Result<RunOutcome, ReplayError> {
        let mut outcome = RunOutcome::default();
        loop {
            let activation = self
                .worker
                .poll_workflow_activation()
                .await
                .map_err(core_err("polling the replay worker"))?;
            let eviction = eviction(&activation);
            let completion = self.evaluator.activate(activation).await?;
            if let Some(Status::Failed(f)) = &completion.status
                && outcome.failed_completion.is_none()
            {
                let message = f
                    .failure
                    .as_ref()
                    .map(|f| f.message.clone())
                    .unwrap_or_default();
                outcome.failed_completion = Some(message);
            }
            self.worker
                .complete_workflow_activation(&completion)
                .await
                .map_err(core_err("completing an activation on the replay worker"))?;
            if let Some(e) = eviction {
                outcome.eviction = Some(e);
                return Ok(outcome);
            }
        }
    }

    /// The number of histories this session replayed (clean or not).
    pub fn replayed(&self) -> usize {
        self.replayed
    }

    /// Ends the session: the core replay worker drains and shuts down.
    pub async fn finish(self) -> Result<(), ReplayError> {
        self.worker
            .finish()
            .map_err(core_err("ending the replay input"))?;
        loop {
            match self.worker.poll_workflow_activation().await {
                Err(BridgeError::ShutDown) => break,
                Err(source) => {
                    return Err(ReplayError::Core {
                        operation: "draining the replay worker",
                        source,
                    });
                }
                // Nothing is pushed any more; answer whatever is left so the core can drain.
                Ok(activation) => {
                    let completion = self.evaluator.activate(activation).await?;
                    self.worker
                        .complete_workflow_activation(&completion)
                        .await
                        .map_err(core_err("completing an activation on the replay worker"))?;
                }
            }
        }
        self.worker
            .finalize_shutdown()
            .await
            .map_err(core_err("finalizing the replay worker"))?;
        // Joined here, so nothing of the session logs after the caller reports its result.
        self.evaluator.stop().await?;
        tracing::debug!(replayed = self.replayed, "replay session finished");
        Ok(())
    }
}

fn eviction(activation: &WorkflowActivation) -> Option<(EvictionReason, String)> {
    activation.jobs.iter().find_map(|j| match &j.variant {
        Some(Variant::RemoveFromCache(r)) => Some((
            EvictionReason::try_from(r.reason).unwrap_or(EvictionReason::Unspecified),
            r.message.clone(),
        )),
        _ => None,
    })
}

/// The verdict on one run from what its activations produced.
fn judge(history: &WorkflowHistory, outcome: RunOutcome) -> Result<(), ReplayError> {
    let workflow_id = history.workflow_id().to_owned();
    let run_id = history.run_id().to_owned();
    match outcome.eviction {
        Some((EvictionReason::Nondeterminism, message)) => {
            let message = failure_message(&message);
            let event_id = mismatched_event_id(&message);
            Err(ReplayError::Nondeterminism(Box::new(Nondeterminism {
                event_type: event_id.and_then(|id| history.event_type_of(id)),
                workflow_id,
                run_id,
                event_id,
                message,
            })))
        }
        Some((reason, message)) => match outcome.failed_completion {
            Some(message) => Err(ReplayError::WorkflowTaskFailed {
                workflow_id,
                run_id,
                message,
            }),
            None if matches!(
                reason,
                EvictionReason::Fatal | EvictionReason::PaginationOrHistoryFetch
            ) =>
            {
                Err(ReplayError::WorkflowTaskFailed {
                    workflow_id,
                    run_id,
                    message,
                })
            }
            None => Ok(()),
        },
        None => Ok(()),
    }
}

/// The failure's own message when the core wrapped it in the `Debug` text of a completion
/// failure (`... Failure { message: "[TMPRL1100] ...", ... }`), else the text unchanged.
fn failure_message(text: &str) -> String {
    const MARKER: &str = "message: \"";
    let Some(start) = text.find(MARKER).map(|i| i + MARKER.len()) else {
        return text.to_owned();
    };
    let mut out = String::new();
    let mut chars = text[start..].chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => return out,
            '\\' => match chars.next() {
                Some('n') => out.push('\n'),
                Some(other) => out.push(other),
                None => break,
            },
            c => out.push(c),
        }
    }
    text.to_owned()
}

/// The event id in a core nondeterminism message: `HistoryEvent(id: 5, TimerStarted)` (its
/// `Display`) or `event_id: 5` (its `Debug`).
fn mismatched_event_id(message: &str) -> Option<i64> {
    ["HistoryEvent(id: ", "event_id: "]
        .iter()
        .find_map(|marker| {
            let start = message.find(marker)? + marker.len();
            let digits: String = message[start..]
                .chars()
                .take_while(|c| c.is_ascii_digit())
                .collect();
            digits.parse().ok()
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_ids_are_found_in_both_core_formats() {
        assert_eq!(
            mismatched_event_id(
                "[TMPRL1100] Nondeterminism error: Activity machine does not handle this event: \
                 HistoryEvent(id: 5, TimerStarted)"
            ),
            Some(5)
        );
        assert_eq!(
            mismatched_event_id("no command for HistoryEvent { event_id: 12, event_time: .. }"),
            Some(12)
        );
        assert_eq!(
            mismatched_event_id("Invalid transition in state machine"),
            None
        );
    }

    #[test]
    fn the_failure_message_is_unwrapped_from_the_completion_debug_text() {
        let wrapped = r#"Workflow activation completion failed: Failure { failure: Some(Failure { message: "[TMPRL1100] Nondeterminism error: HistoryEvent(id: 5, TimerStarted) \"x\"", source: "" }) }"#;
        assert_eq!(
            failure_message(wrapped),
            r#"[TMPRL1100] Nondeterminism error: HistoryEvent(id: 5, TimerStarted) "x""#
        );
        assert_eq!(failure_message("plain text"), "plain text");
        assert_eq!(
            failure_message(r#"message: "unterminated"#),
            r#"message: "unterminated"#
        );
    }
}
