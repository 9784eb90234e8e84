//! ResetWorkflowExecution, as Temporal's service/history/api/resetworkflow and
//! `ndc.WorkflowResetter`: a new run is built from the base run's history up to the reset
//! point (a workflow task's finish event), its pending workflow task failed with
//! `RESET_WORKFLOW` (naming the base and the new run), its started activities failed, the
//! signals and updates the base run (and the runs it continued as) received after the point
//! reapplied (`reapplyEvents`: an update as a WorkflowExecutionUpdateAdmitted event the
//! worker reads from history), and a new workflow task scheduled. The current run, when still open, is terminated by
//! `history-resetter`; the base run links to the new one (`reset_run_id`).
use crate::history::state_rebuilder::rebuild;
use crate::prelude::*;
use temporalio_protos::temporal::api::enums::v1::{ResetReapplyExcludeType, ResetReapplyType};
use temporalio_protos::temporal::api::failure::v1::ResetWorkflowFailureInfo;

/// The identity Temporal's resetter terminates the current run with (`consts.IdentityResetter`).
pub(crate) const IDENTITY_RESETTER: &str = "history-resetter";
/// The identity of events the history service writes itself (`consts.IdentityHistoryService`).
const IDENTITY_HISTORY_SERVICE: &str = "history-service";
/// How many continue-as-new hops reapply follows at most (a guard against a cycle).
const MAX_CHAIN: usize = 1_000;

/// Temporal's `failure.NewResetWorkflowFailure`.
fn reset_failure(reason: &str, heartbeat: Option<Payloads>) -> Failure {
    Failure {
        message: reason.to_string(),
        failure_info: Some(FailureInfo::ResetWorkflowFailureInfo(
            ResetWorkflowFailureInfo {
                last_heartbeat_details: heartbeat,
            },
        )),
        ..Default::default()
    }
}

/// Whether a run's closing event is the termination a reset wrote (`ndc.IsTerminatedByResetter`):
/// such a run neither reports to its parent nor applies its children's parent close policy.
pub(crate) fn terminated_by_resetter(last: Option<&HistoryEvent>) -> bool {
    matches!(
        last.and_then(|e| e.attributes.as_ref()),
        Some(A::WorkflowExecutionTerminatedEventAttributes(t)) if t.identity == IDENTITY_RESETTER
    )
}

/// What a reset reapplies, from the request's reapply type and exclude types
/// (`GetResetReapplyExcludeTypes`).
#[derive(Clone, Copy)]
struct Reapply {
    signals: bool,
    updates: bool,
}

impl Reapply {
    fn of(req: &ws::ResetWorkflowExecutionRequest) -> Self {
        let excluded =
            |t: ResetReapplyExcludeType| req.reset_reapply_exclude_types.contains(&(t as i32));
        let ty = req.reset_reapply_type;
        Reapply {
            signals: ty != ResetReapplyType::None as i32
                && !excluded(ResetReapplyExcludeType::Signal),
            updates: ty != ResetReapplyType::None as i32
                && ty != ResetReapplyType::Signal as i32
                && !excluded(ResetReapplyExcludeType::Update),
        }
    }

    /// The event `e` reapplies as, if any: a signal as itself; an update's Admitted event as
    /// itself, its Accepted event (when it carries the request: no Admitted came first) as
    /// an Admitted event of origin REAPPLY.
    fn event(self, e: &HistoryEvent) -> Option<A> {
        use temporalio_protos::temporal::api::enums::v1::UpdateAdmittedEventOrigin;
        match e.attributes.as_ref()? {
            A::WorkflowExecutionSignaledEventAttributes(s) if self.signals => {
                Some(A::WorkflowExecutionSignaledEventAttributes(s.clone()))
            }
            A::WorkflowExecutionUpdateAdmittedEventAttributes(u) if self.updates => {
                Some(A::WorkflowExecutionUpdateAdmittedEventAttributes(u.clone()))
            }
            A::WorkflowExecutionUpdateAcceptedEventAttributes(u) if self.updates => {
                let request = u.accepted_request.clone()?;
                Some(A::WorkflowExecutionUpdateAdmittedEventAttributes(
                    h::WorkflowExecutionUpdateAdmittedEventAttributes {
                        request: Some(request),
                        origin: UpdateAdmittedEventOrigin::Reapply as i32,
                    },
                ))
            }
            _ => None,
        }
    }
}

impl Engine {
    /// ResetWorkflowExecution: answers the new run's id.
    pub async fn reset_workflow(
        &self,
        req: ws::ResetWorkflowExecutionRequest,
    ) -> RpcResult<ws::ResetWorkflowExecutionResponse> {
        self.with(|g| {
            let run_id = g.reset_workflow(&req)?;
            Ok(ws::ResetWorkflowExecutionResponse { run_id })
        })
        .await
    }
}

impl Inner<'_> {
    /// Resets the run `req` names (the current one without a run id); see the module.
    pub(crate) fn reset_workflow(
        &mut self,
        req: &ws::ResetWorkflowExecutionRequest,
    ) -> RpcResult<String> {
        let base_key = self.resolve(&req.namespace, &req.workflow_execution)?;
        let current = self.current_key(&base_key.namespace, &base_key.workflow_id);
        if let Some(ck) = &current
            && self.fault_in(ck)
            && self
                .execs
                .get(ck)
                .is_some_and(|e| e.st.reset_request_id == req.request_id)
        {
            tracing::info!(workflow_id = %ck.workflow_id, run_id = %ck.run_id, "duplicated reset request");
            return Ok(ck.run_id.clone());
        }
        let finish = req.workflow_task_finish_event_id;
        let base = self.exec_mut(&base_key)?;
        if finish <= 1 || finish >= base.st.next_event_id {
            return Err(status::invalid(
                "Workflow task finish ID must be > 1 && <= workflow last event ID.",
            ));
        }
        let now = base.time.now_ms();
        let run_id = new_id();
        let prefix = base.events.get(..(finish - 1) as usize).unwrap_or_default();
        let mut st = rebuild(&base.st, prefix, &run_id, now).ok_or_else(|| {
            Status::internal("the base run's history does not start with WorkflowExecutionStarted")
        })?;
        if st.wft.is_none() {
            return Err(status::invalid(format!(
                "Can only reset workflow to event ID in range [WorkflowTaskScheduled +1, WorkflowTaskStarted + 1]: {finish}"
            )));
        }
        st.reset_request_id = req.request_id.clone();
        let events = prefix.to_vec();
        base.st.reset_run_id = run_id.clone();
        self.dirty.insert(base_key.clone());
        let reapply =
            self.events_to_reapply(Reapply::of(req), &base_key, finish - 1, current.as_ref());
        if let Some(ck) = &current
            && self.execs.get(ck).is_some_and(|e| e.st.is_open())
        {
            self.terminate(ck, &req.reason, None, IDENTITY_RESETTER);
        }
        let key = ExecKey {
            run_id: run_id.clone(),
            ..base_key.clone()
        };
        let mut ex = Exec::new(st, events, self.s.time.clone());
        ex.persisted = 0;
        fail_workflow_task(&mut ex, &req.reason, &base_key.run_id, &run_id);
        fail_inflight_activities(&mut ex, &req.reason, now);
        for attrs in reapply {
            let request = match &attrs {
                A::WorkflowExecutionUpdateAdmittedEventAttributes(u) => u.request.clone(),
                _ => None,
            };
            let id = ex.add(attrs);
            if let Some(request) = request {
                let (update_id, update) = Update::admitted_in_history(request, id);
                ex.st.updates.insert(update_id, update);
            }
        }
        self.execs.insert(key.clone(), ex);
        self.execs
            .set_current(&key.namespace, &key.workflow_id, run_id.clone());
        self.dirty.insert(key.clone());
        self.rearm(&key);
        self.schedule_wft(&key);
        tracing::info!(workflow_id = %key.workflow_id, base_run_id = %base_key.run_id, run_id = %run_id, reset_event_id = finish, "workflow reset");
        Ok(run_id)
    }

    /// The events to reapply: those the base run received after `after` and those of the
    /// runs it continued as, up to the current run (`reapplyContinueAsNewWorkflowEvents`).
    fn events_to_reapply(
        &mut self,
        reapply: Reapply,
        base: &ExecKey,
        after: i64,
        current: Option<&ExecKey>,
    ) -> Vec<A> {
        let mut out = vec![];
        let mut key = base.clone();
        let mut from = after;
        for _ in 0..MAX_CHAIN {
            let Some(ex) = self.execs.get(&key) else {
                break;
            };
            out.extend(
                ex.events
                    .iter()
                    .filter(|e| e.event_id > from)
                    .filter_map(|e| reapply.event(e)),
            );
            let next = ex.st.continued_as_new_run_id.clone();
            if next.is_empty() || current.is_some_and(|c| c.run_id == key.run_id) {
                break;
            }
            key.run_id = next;
            from = 0;
            if !self.fault_in(&key) {
                break;
            }
        }
        out
    }
}

/// `failWorkflowTask`: the rebuilt run's pending workflow task is started (when it was only
/// scheduled) and failed with `RESET_WORKFLOW`; the next task is attempt 1.
fn fail_workflow_task(ex: &mut Exec, reason: &str, base_run_id: &str, new_run_id: &str) {
    let Some(wft) = ex.st.wft.take() else {
        return;
    };
    let started = match wft.started_event_id {
        Some(id) => id,
        None => ex.add(A::WorkflowTaskStartedEventAttributes(
            h::WorkflowTaskStartedEventAttributes {
                scheduled_event_id: wft.scheduled_event_id,
                identity: IDENTITY_HISTORY_SERVICE.into(),
                request_id: new_id(),
                ..Default::default()
            },
        )),
    };
    ex.add(A::WorkflowTaskFailedEventAttributes(
        h::WorkflowTaskFailedEventAttributes {
            scheduled_event_id: wft.scheduled_event_id,
            started_event_id: started,
            cause: WorkflowTaskFailedCause::ResetWorkflow as i32,
            failure: Some(reset_failure(reason, None)),
            identity: IDENTITY_HISTORY_SERVICE.into(),
            base_run_id: base_run_id.into(),
            new_run_id: new_run_id.into(),
            ..Default::default()
        },
    ));
    ex.st.next_wft_attempt = 1;
}

/// `failInflightActivity`: a started activity fails with the reset failure (not retried);
/// one only scheduled is scheduled again from now.
fn fail_inflight_activities(ex: &mut Exec, reason: &str, now: i64) {
    let pending: Vec<Activity> = ex.st.activities.values().cloned().collect();
    for a in pending {
        if a.started_ms.is_none() {
            if let Some(act) = ex.st.activities.get_mut(&a.scheduled_event_id) {
                act.first_scheduled_ms = now;
                act.attempt_scheduled_ms = now;
            }
            continue;
        }
        ex.st.activities.remove(&a.scheduled_event_id);
        let started_event_id = ex
            .events
            .iter()
            .rev()
            .find(|e| matches!(e.attributes.as_ref(), Some(A::ActivityTaskStartedEventAttributes(s)) if s.scheduled_event_id == a.scheduled_event_id))
            .map_or(0, |e| e.event_id);
        ex.add(A::ActivityTaskFailedEventAttributes(
            h::ActivityTaskFailedEventAttributes {
                failure: Some(reset_failure(reason, a.heartbeat_details.clone())),
                scheduled_event_id: a.scheduled_event_id,
                started_event_id,
                identity: a.started_identity.clone(),
                retry_state: RetryState::NonRetryableFailure as i32,
                ..Default::default()
            },
        ));
    }
}
