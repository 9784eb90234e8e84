//! The mutable state of one workflow run: everything the server needs besides the history
//! to drive the run (pending workflow task, activities, timers, children, updates). It is
//! persisted as JSON beside the history after every change.
use crate::persistence::proto_serde::{pb, pb_opt};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use temporalio_protos::temporal::api::{
    common::v1::{Memo, Payloads, RetryPolicy, SearchAttributes, WorkflowExecution},
    enums::v1::UpdateWorkflowExecutionLifecycleStage,
    failure::v1::Failure,
    update::v1::{Outcome, Request as UpdateRequest},
    workflow::v1::{ResetPointInfo, ResetPoints},
};

/// Identifies a run: (namespace, workflow id, run id).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ExecKey {
    /// Namespace name.
    pub namespace: String,
    /// Workflow id.
    pub workflow_id: String,
    /// Run id.
    pub run_id: String,
}

/// The workflow task currently scheduled or started, if any.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WorkflowTask {
    /// Event id of WorkflowTaskScheduled (0 when not yet written: delayed retry).
    pub scheduled_event_id: i64,
    /// Event id of WorkflowTaskStarted once a poller took it.
    pub started_event_id: Option<i64>,
    /// Attempt, 1-based.
    pub attempt: i32,
    /// When it was scheduled (ms since epoch).
    pub scheduled_ms: i64,
    /// When it was started.
    pub started_ms: i64,
    /// When the start-to-close timeout fires.
    pub timeout_ms: Option<i64>,
    /// Update ids delivered with this task.
    pub delivered_updates: Vec<String>,
    /// This attempt's start-to-close timeout (ms; 0 in state written before it was kept:
    /// the run's default then).
    #[serde(default)]
    pub start_to_close_ms: i64,
    /// A speculative task (Temporal's `WORKFLOW_TASK_TYPE_SPECULATIVE`), scheduled to deliver
    /// an update: its events are written only if it completes with more than update
    /// rejections; otherwise it is discarded and leaves no trace in history.
    #[serde(default)]
    pub speculative: bool,
}

impl WorkflowTask {
    /// Whether the task's Scheduled/Started events are not in history (a transient attempt
    /// or a speculative task): the poller gets them as an unpersisted suffix.
    pub fn unwritten(&self) -> bool {
        self.attempt > 1 || self.speculative
    }

    /// This attempt's start-to-close timeout, given the run's default.
    pub fn start_to_close(&self, default_ms: i64) -> i64 {
        if self.start_to_close_ms > 0 {
            self.start_to_close_ms
        } else {
            default_ms
        }
    }
}

/// A scheduled activity.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Activity {
    /// ActivityTaskScheduled event id.
    pub scheduled_event_id: i64,
    /// Activity id.
    pub activity_id: String,
    /// Activity type name.
    pub activity_type: String,
    /// Task queue.
    pub task_queue: String,
    /// Attempt (1-based).
    pub attempt: i32,
    /// First scheduled time (ms).
    pub first_scheduled_ms: i64,
    /// This attempt's scheduled time (ms); in the future while backing off.
    pub attempt_scheduled_ms: i64,
    /// Started time of this attempt, when started.
    pub started_ms: Option<i64>,
    /// Identity of the worker that started it.
    pub started_identity: String,
    /// Last heartbeat time.
    pub last_heartbeat_ms: Option<i64>,
    /// Latest heartbeat details.
    #[serde(with = "pb_opt")]
    pub heartbeat_details: Option<Payloads>,
    /// Cancel requested by the workflow.
    pub cancel_requested: bool,
    /// ActivityTaskCancelRequested event id.
    pub cancel_requested_event_id: i64,
    /// Effective retry policy.
    #[serde(with = "pb")]
    pub retry_policy: RetryPolicy,
    /// Timeouts in ms (0 = none).
    pub schedule_to_close_ms: i64,
    /// Schedule-to-start timeout ms (0 = none).
    pub schedule_to_start_ms: i64,
    /// Start-to-close timeout ms.
    pub start_to_close_ms: i64,
    /// Heartbeat timeout ms (0 = none).
    pub heartbeat_ms: i64,
    /// Last failure of a previous attempt.
    #[serde(with = "pb_opt")]
    pub last_failure: Option<Failure>,
    /// Set by PauseActivity: no attempt is dispatched or retried until unpaused.
    #[serde(default)]
    pub paused: Option<ActivityPause>,
    /// Set by ResetActivity while an attempt runs: the worker is told on its next
    /// heartbeat, and the attempt's retry is decided as after attempt 1.
    #[serde(default)]
    pub reset: bool,
    /// With `reset`: the heartbeat details are cleared too.
    #[serde(default)]
    pub reset_heartbeats: bool,
}

/// Who paused an activity, when and why (Temporal's `ActivityInfo.PauseInfo`, manual).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActivityPause {
    /// When it was paused (ms).
    pub time_ms: i64,
    /// The caller's identity.
    pub identity: String,
    /// The reason given.
    pub reason: String,
    /// The request id (a repeated pause with it is not an error).
    pub request_id: String,
}

/// A running user timer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Timer {
    /// TimerStarted event id.
    pub started_event_id: i64,
    /// Fire time (ms).
    pub fire_ms: i64,
}

/// A child workflow started by this run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Child {
    /// Namespace.
    pub namespace: String,
    /// Workflow id.
    pub workflow_id: String,
    /// Run id once started.
    pub run_id: String,
    /// Workflow type.
    pub workflow_type: String,
    /// ChildWorkflowExecutionStarted event id.
    pub started_event_id: i64,
    /// Parent close policy.
    pub parent_close_policy: i32,
}

/// Link from a child to its parent.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Parent {
    /// Parent namespace.
    pub namespace: String,
    /// Parent workflow id.
    pub workflow_id: String,
    /// Parent run id.
    pub run_id: String,
    /// StartChildWorkflowExecutionInitiated event id in the parent.
    pub initiated_event_id: i64,
    /// The root of the parent's tree (the parent itself when it has no parent).
    #[serde(default)]
    pub root_workflow_id: String,
    /// The root's run id.
    #[serde(default)]
    pub root_run_id: String,
}

/// An update's server-side record.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Update {
    /// The request.
    #[serde(with = "pb")]
    pub request: UpdateRequest,
    /// Lifecycle stage (UpdateWorkflowExecutionLifecycleStage).
    pub stage: i32,
    /// Outcome once completed (or rejected).
    #[serde(with = "pb_opt")]
    pub outcome: Option<Outcome>,
    /// Accepted event id.
    pub accepted_event_id: i64,
    /// Aborted before acceptance because the run closed (Temporal's update registry abort).
    #[serde(default)]
    pub aborted: bool,
    /// The WorkflowExecutionUpdateCompleted event, once the worker completed the update
    /// (0 otherwise: a rejected update, or an accepted one its run's close completed, is not
    /// completed in history, and update-with-start does not attach to it).
    #[serde(default)]
    pub completed_event_id: i64,
    /// The WorkflowExecutionUpdateAdmitted event of an update in history (a reset reapplied
    /// it): the worker reads it from there, so no message delivers it. 0 otherwise.
    #[serde(default)]
    pub admitted_event_id: i64,
}

impl Update {
    /// The record of an update whose WorkflowExecutionUpdateAdmitted event is `event_id`
    /// (a reset reapplied it), with the update id it is kept under.
    pub fn admitted_in_history(request: UpdateRequest, event_id: i64) -> (String, Update) {
        let update_id = request.meta.as_ref().map(|m| m.update_id.clone());
        let update = Update {
            request,
            stage: UpdateWorkflowExecutionLifecycleStage::Admitted as i32,
            admitted_event_id: event_id,
            ..Default::default()
        };
        (update_id.unwrap_or_default(), update)
    }

    /// Admitted and not yet answered: a workflow task must deliver it (as a message, unless
    /// its UpdateAdmitted event is in history).
    pub fn awaits_delivery(&self) -> bool {
        self.stage == UpdateWorkflowExecutionLifecycleStage::Admitted as i32
            && self.outcome.is_none()
            && self.admitted_event_id == 0
    }
}

/// The mutable state of one run (`Default`: every field zero or empty).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Execution {
    /// Namespace.
    pub namespace: String,
    /// Workflow id.
    pub workflow_id: String,
    /// Run id.
    pub run_id: String,
    /// First run id of the chain.
    pub first_run_id: String,
    /// Workflow type name.
    pub workflow_type: String,
    /// Task queue name.
    pub task_queue: String,
    /// WorkflowExecutionStatus.
    pub status: i32,
    /// Start time (ms).
    pub start_ms: i64,
    /// Close time (ms).
    pub close_ms: Option<i64>,
    /// Start request id (idempotency).
    pub request_id: String,
    /// Next event id to assign.
    pub next_event_id: i64,
    /// Current workflow task.
    pub wft: Option<WorkflowTask>,
    /// Started event id of the last completed workflow task.
    pub last_completed_started_id: i64,
    /// Workflow task timeout (ms).
    pub wft_timeout_ms: i64,
    /// Events that arrived while a workflow task was running; flushed at its end.
    pub buffered: Vec<BufferedEvent>,
    /// Pending activities by scheduled event id.
    pub activities: BTreeMap<i64, Activity>,
    /// Running timers by timer id.
    pub timers: BTreeMap<String, Timer>,
    /// Children by initiated event id.
    pub children: BTreeMap<i64, Child>,
    /// Parent link.
    pub parent: Option<Parent>,
    /// Cancel was requested.
    pub cancel_requested: bool,
    /// Run deadline (ms).
    pub run_deadline_ms: Option<i64>,
    /// Execution (whole chain) deadline (ms).
    pub execution_deadline_ms: Option<i64>,
    /// Memo.
    #[serde(with = "pb_opt")]
    pub memo: Option<Memo>,
    /// Search attributes.
    #[serde(with = "pb_opt")]
    pub search_attributes: Option<SearchAttributes>,
    /// Updates by id.
    pub updates: BTreeMap<String, Update>,
    /// Run id this run continued as (after continue-as-new).
    pub continued_as_new_run_id: String,
    /// Total bytes of history.
    pub history_size_bytes: i64,
    /// Attempt of the next workflow task (above 1 after failures/timeouts).
    pub next_wft_attempt: i32,
    /// The first workflow task is delayed until this time (ms): the start delay.
    pub wft_retry_at_ms: Option<i64>,
    /// The sticky task queue of the worker that completed the last workflow task ("" when
    /// the execution is not sticky).
    #[serde(default)]
    pub sticky_task_queue: String,
    /// How long a task may wait on the sticky queue before it falls back (ms).
    #[serde(default)]
    pub sticky_schedule_to_start_ms: i64,
    /// The run a reset of this run created ("" when it was never reset).
    #[serde(default)]
    pub reset_run_id: String,
    /// The request id of the reset that created this run ("" for a run that is not a
    /// reset run): a repeated reset request answers this run.
    #[serde(default)]
    pub reset_request_id: String,
    /// The run's auto-reset points: the first completed workflow task of each binary
    /// checksum / build id, the latest [`MAX_AUTO_RESET_POINTS`].
    #[serde(default, with = "pb_opt")]
    pub auto_reset_points: Option<ResetPoints>,
}

/// Temporal's `DefaultHistoryMaxAutoResetPoints`.
pub const MAX_AUTO_RESET_POINTS: usize = 20;

/// An event whose id is assigned when it is flushed into history. Stored as encoded
/// `HistoryEvent` bytes so the mutable state stays plain data.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BufferedEvent {
    /// Encoded HistoryEvent (event_id 0).
    pub bytes: Vec<u8>,
    /// Set this event's `started_event_id` to the id of the event flushed just before it
    /// (an activity's Started/result pair).
    pub link_prev: bool,
}

impl Execution {
    /// The root of this run's tree of children, as Temporal's RootExecutionInfo: the
    /// parent's root for a child, the run itself otherwise.
    pub fn root(&self) -> WorkflowExecution {
        match &self.parent {
            Some(p) if !p.root_workflow_id.is_empty() => WorkflowExecution {
                workflow_id: p.root_workflow_id.clone(),
                run_id: p.root_run_id.clone(),
            },
            _ => WorkflowExecution {
                workflow_id: self.workflow_id.clone(),
                run_id: self.run_id.clone(),
            },
        }
    }

    /// The key of this run.
    pub fn key(&self) -> ExecKey {
        ExecKey {
            namespace: self.namespace.clone(),
            workflow_id: self.workflow_id.clone(),
            run_id: self.run_id.clone(),
        }
    }

    /// Whether the run is still open.
    pub fn is_open(&self) -> bool {
        self.status == 1
    }

    /// Stores the sticky attributes of a completed workflow task, or clears stickiness
    /// (`None`, or attributes without a queue name).
    pub fn set_sticky(
        &mut self,
        attrs: Option<&temporalio_protos::temporal::api::taskqueue::v1::StickyExecutionAttributes>,
    ) {
        let name = attrs
            .and_then(|a| a.worker_task_queue.as_ref())
            .map(|t| t.name.clone())
            .unwrap_or_default();
        self.sticky_schedule_to_start_ms = if name.is_empty() {
            0
        } else {
            attrs
                .map(|a| crate::history::events::dur_ms(&a.schedule_to_start_timeout))
                .unwrap_or(0)
        };
        self.sticky_task_queue = name;
    }

    /// Temporal's `addResetPointFromCompletion`: records the WorkflowTaskCompleted event
    /// `event_id` as a reset point unless one of the same checksum and build id exists; it
    /// is resettable when no child is pending.
    pub fn add_reset_point(
        &mut self,
        binary_checksum: &str,
        build_id: &str,
        event_id: i64,
        now_ms: i64,
    ) {
        let resettable = self.children.is_empty();
        let points = &mut self
            .auto_reset_points
            .get_or_insert_with(Default::default)
            .points;
        if points
            .iter()
            .any(|p| p.binary_checksum == binary_checksum && p.build_id == build_id)
        {
            return;
        }
        points.push(ResetPointInfo {
            binary_checksum: binary_checksum.to_string(),
            build_id: build_id.to_string(),
            run_id: self.run_id.clone(),
            first_workflow_task_completed_id: event_id,
            create_time: Some(crate::history::events::ts(now_ms)),
            resettable,
            ..Default::default()
        });
        let excess = points.len().saturating_sub(MAX_AUTO_RESET_POINTS);
        points.drain(..excess);
    }

    /// Whether an update awaits delivery other than those `delivered` by the task ending now.
    pub fn has_undelivered_updates(&self, delivered: &[String]) -> bool {
        self.updates
            .iter()
            .any(|(id, u)| u.awaits_delivery() && !delivered.contains(id))
    }

    /// Whether a workflow task is currently started (events must be buffered).
    pub fn wft_started(&self) -> bool {
        self.wft
            .as_ref()
            .is_some_and(|w| w.started_event_id.is_some())
    }
}
