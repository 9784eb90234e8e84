//! Advancing a schedule, as one wake-up of Temporal's scheduler workflow does
//! (`service/worker/scheduler/workflow.go`, `buffer.go`): refresh the workflows it started
//! (closed ones leave the running list, pass on their result or failure, and may pause the
//! schedule), add the spec's times since the last wake-up to the buffer (or count them as
//! missed past the catch-up window), and take buffered starts by overlap policy.
use super::spec::{CompiledSpec, timestamp};
use super::{BufferedStart, ScheduleKey, ScheduleRec};
use crate::prelude::*;
use chrono::{DateTime, TimeZone, Utc};
use temporalio_protos::temporal::api::enums::v1::ScheduleOverlapPolicy as Overlap;
use temporalio_protos::temporal::api::schedule::v1::{
    ScheduleActionResult, SchedulePatch, schedule_action::Action,
};
use temporalio_protos::temporal::api::workflow::v1::NewWorkflowExecutionInfo;

/// The catch-up window of a schedule that sets none (Temporal's default: a year).
const DEFAULT_CATCHUP_WINDOW_MS: i64 = 365 * 86_400_000;
/// The shortest catch-up window Temporal honours.
const MIN_CATCHUP_WINDOW_MS: i64 = 10_000;
/// Recent actions a schedule keeps.
const RECENT_ACTIONS: usize = 10;
/// How often a schedule with running workflows looks at them again.
const WATCH_INTERVAL_MS: i64 = 1000;
/// Buffered starts a schedule holds at most; more are counted as dropped.
const MAX_BUFFER: usize = 1000;

fn at(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).single().unwrap_or_default()
}

fn ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

/// A closed (or replaced) run a schedule started, as Temporal's WatchWorkflow reports it.
struct Closed {
    status: i32,
    result: Option<Payloads>,
    failure: Option<Failure>,
}

impl ScheduleRec {
    /// The catch-up window in effect (Temporal's `getCatchupWindow`).
    pub(crate) fn catchup_window_ms(&self) -> i64 {
        let cw = self
            .schedule
            .policies
            .as_ref()
            .and_then(|p| p.catchup_window.as_ref());
        match cw {
            None => DEFAULT_CATCHUP_WINDOW_MS,
            Some(_) => dur_ms(&cw.cloned()).max(MIN_CATCHUP_WINDOW_MS),
        }
    }

    /// An overlap policy with the schedule's (and then SKIP) as the default.
    pub(crate) fn resolve_overlap(&self, p: i32) -> i32 {
        let unspecified = Overlap::Unspecified as i32;
        let p = if p == unspecified {
            self.schedule
                .policies
                .as_ref()
                .map_or(unspecified, |p| p.overlap_policy)
        } else {
            p
        };
        if p == unspecified {
            Overlap::Skip as i32
        } else {
            p
        }
    }

    /// The seed jitter is derived from (Temporal's `jitterSeed`).
    pub(crate) fn jitter_seed(&self) -> String {
        format!("{}-{}", self.namespace_id, self.schedule_id)
    }

    fn paused(&self) -> bool {
        self.schedule.state.as_ref().is_some_and(|s| s.paused)
    }

    /// Temporal's `canTakeScheduledAction`: manual starts always; otherwise not while paused
    /// and, with limited actions, only while some remain (taking one when `decrement`).
    fn can_take(&mut self, manual: bool, decrement: bool) -> bool {
        if manual {
            return true;
        }
        let Some(state) = self.schedule.state.as_mut() else {
            return true;
        };
        if state.paused {
            return false;
        }
        if !state.limited_actions {
            return true;
        }
        if state.remaining_actions > 0 {
            if decrement {
                state.remaining_actions -= 1;
                self.conflict_token += 1;
            }
            return true;
        }
        false
    }

    /// Buffers one start (or counts it as dropped when the buffer is full).
    pub(crate) fn add_start(&mut self, nominal_ms: i64, actual_ms: i64, policy: i32, manual: bool) {
        if self.buffer.len() >= MAX_BUFFER {
            tracing::warn!(schedule_id = %self.schedule_id, "schedule buffer full; start dropped");
            self.info.buffer_dropped += 1;
            return;
        }
        self.buffer.push(BufferedStart {
            nominal_ms,
            actual_ms,
            overlap_policy: policy,
            manual,
        });
    }

    /// Temporal's `processTimeRange`: buffers the spec's times in `(start, end]`; scheduled
    /// (not manual) ones need the schedule unpaused with actions left, and count as missed
    /// when older than the catch-up window. Returns the last time examined.
    pub(crate) fn process_time_range(
        &mut self,
        spec: &CompiledSpec,
        start_ms: i64,
        end_ms: i64,
        policy: i32,
        manual: bool,
    ) -> i64 {
        if !self.can_take(manual, false) {
            return end_ms;
        }
        let (seed, catchup) = (self.jitter_seed(), self.catchup_window_ms());
        let updated_ms = self.info.update_time.as_ref().map(ts_ms).unwrap_or(0);
        let mut last = start_ms;
        let mut t = at(start_ms);
        while let Some(n) = spec.next_time(&seed, t) {
            if ms(n.next) > end_ms {
                break;
            }
            t = n.next;
            last = ms(n.next);
            if !manual && updated_ms > ms(n.next) {
                continue;
            }
            if !manual && end_ms - ms(n.next) > catchup {
                tracing::warn!(schedule_id = %self.schedule_id, time = %n.next, "schedule missed catchup window");
                self.info.missed_catchup_window += 1;
                continue;
            }
            self.add_start(ms(n.nominal), ms(n.next), policy, manual);
        }
        last
    }

    /// The time of the next scheduled action, when the schedule is unpaused with actions
    /// left.
    pub(crate) fn next_action_ms(&self) -> Option<i64> {
        let active = self
            .schedule
            .state
            .as_ref()
            .is_none_or(|s| !s.paused && (!s.limited_actions || s.remaining_actions > 0));
        if !active {
            return None;
        }
        let spec = self.compiled()?;
        let next = self.future_action_times(&spec, 1).into_iter().next()?;
        Some(ts_ms(&next))
    }

    /// When the timer loop next needs to advance the schedule: at its next action time, and
    /// within [`WATCH_INTERVAL_MS`] while workflows it started run (their closing may pass
    /// on a result, pause it, or let a buffered start go); never while it is paused or out
    /// of actions with nothing running (a request that changes it advances it).
    pub(crate) fn next_wake_ms(&self, now: i64) -> i64 {
        let watching = !self.info.running_workflows.is_empty() || !self.buffer.is_empty();
        let watch = watching.then_some(now.saturating_add(WATCH_INTERVAL_MS));
        self.next_action_ms()
            .into_iter()
            .chain(watch)
            .min()
            .unwrap_or(i64::MAX)
    }

    /// The next `n` action times after the last processed time (Temporal's
    /// `getFutureActionTimes`), limited by the remaining actions.
    pub(crate) fn future_action_times(
        &self,
        spec: &CompiledSpec,
        n: usize,
    ) -> Vec<prost_wkt_types::Timestamp> {
        let n = match &self.schedule.state {
            Some(s) if s.limited_actions => n.min(s.remaining_actions.max(0) as usize),
            _ => n,
        };
        let seed = self.jitter_seed();
        let updated_ms = self.info.update_time.as_ref().map(ts_ms).unwrap_or(0);
        let mut out = vec![];
        let mut t = at(self.last_processed_ms);
        while out.len() < n {
            let Some(next) = spec.next_time(&seed, t) else {
                break;
            };
            t = next.next;
            if updated_ms > ms(next.next) {
                continue;
            }
            out.push(timestamp(next.next));
        }
        out
    }

    /// Applies a patch (Temporal's `processPatch`): trigger now (or at its scheduled time),
    /// backfills (start inclusive), pause or unpause with a note.
    pub(crate) fn apply_patch(
        &mut self,
        spec: Option<&CompiledSpec>,
        patch: SchedulePatch,
        now: i64,
    ) {
        if let Some(trigger) = patch.trigger_immediately {
            let t = trigger
                .scheduled_time
                .as_ref()
                .map(ts_ms)
                .filter(|t| *t > 0)
                .unwrap_or(now);
            self.add_start(t, t, trigger.overlap_policy, true);
        }
        for b in patch.backfill_request {
            if let (Some(spec), Some(start), Some(end)) = (spec, &b.start_time, &b.end_time) {
                self.process_time_range(spec, ts_ms(start) - 1, ts_ms(end), b.overlap_policy, true);
            }
        }
        let state = self.schedule.state.get_or_insert_with(Default::default);
        if !patch.pause.is_empty() {
            state.paused = true;
            state.notes = patch.pause;
            self.conflict_token += 1;
        } else if !patch.unpause.is_empty() {
            state.paused = false;
            state.notes = patch.unpause;
            self.conflict_token += 1;
        }
    }

    fn start_request(
        &self,
        start: &BufferedStart,
        wf: &NewWorkflowExecutionInfo,
    ) -> ws::StartWorkflowExecutionRequest {
        let nominal = at(start.nominal_ms.div_euclid(1000) * 1000);
        let keep_id = self
            .schedule
            .policies
            .as_ref()
            .is_some_and(|p| p.keep_original_workflow_id);
        let workflow_id = if keep_id {
            wf.workflow_id.clone()
        } else {
            format!(
                "{}-{}",
                wf.workflow_id,
                nominal.format("%Y-%m-%dT%H:%M:%SZ")
            )
        };
        let mut sas = wf.search_attributes.clone().unwrap_or_default();
        let stamp = nominal.format("%Y-%m-%dT%H:%M:%SZ").to_string();
        sas.indexed_fields.insert(
            "TemporalScheduledStartTime".into(),
            crate::visibility::search_attribute_payload(&stamp.into(), "Datetime"),
        );
        sas.indexed_fields.insert(
            "TemporalScheduledById".into(),
            crate::visibility::search_attribute_payload(
                &self.schedule_id.clone().into(),
                "Keyword",
            ),
        );
        let allow_all = start.overlap_policy == Overlap::AllowAll as i32;
        ws::StartWorkflowExecutionRequest {
            namespace: self.namespace.clone(),
            workflow_id,
            workflow_type: wf.workflow_type.clone(),
            task_queue: wf.task_queue.clone(),
            input: wf.input.clone(),
            workflow_execution_timeout: wf.workflow_execution_timeout,
            workflow_run_timeout: wf.workflow_run_timeout,
            workflow_task_timeout: wf.workflow_task_timeout,
            identity: format!("temporal-scheduler-{}-{}", self.namespace, self.schedule_id),
            request_id: new_id(),
            // Manual starts may repeat an id; scheduled ones never start the same time twice.
            workflow_id_reuse_policy: if start.manual {
                WorkflowIdReusePolicy::AllowDuplicate as i32
            } else {
                WorkflowIdReusePolicy::RejectDuplicate as i32
            },
            retry_policy: wf.retry_policy.clone(),
            memo: wf.memo.clone(),
            search_attributes: Some(sas),
            header: wf.header.clone(),
            last_completion_result: (!allow_all)
                .then(|| self.last_completion_result.clone())
                .flatten(),
            continued_failure: (!allow_all)
                .then(|| self.continued_failure.clone())
                .flatten(),
            user_metadata: wf.user_metadata.clone(),
            priority: wf.priority.clone(),
            ..Default::default()
        }
    }

    /// A closed run reported back: leaves the running list, sets its recent action's
    /// status, may pause the schedule (pause-on-failure) and keeps its result or failure.
    fn workflow_closed(&mut self, workflow_id: &str, c: Closed) {
        self.info
            .running_workflows
            .retain(|w| w.workflow_id != workflow_id);
        if let Some(a) = self.info.recent_actions.iter_mut().find(|a| {
            a.start_workflow_result
                .as_ref()
                .is_some_and(|w| w.workflow_id == workflow_id)
        }) {
            a.start_workflow_status = c.status;
        }
        let failed = c.status == WorkflowExecutionStatus::Failed as i32;
        let timed_out = c.status == WorkflowExecutionStatus::TimedOut as i32;
        let pause_on_failure = self
            .schedule
            .policies
            .as_ref()
            .is_some_and(|p| p.pause_on_failure);
        if pause_on_failure && (failed || timed_out) && !self.paused() {
            let state = self.schedule.state.get_or_insert_with(Default::default);
            state.paused = true;
            state.notes = if failed {
                let msg = c.failure.as_ref().map(|f| f.message.as_str()).unwrap_or("");
                format!("paused due to workflow failure: {workflow_id}: {msg}")
            } else {
                format!("paused due to workflow timeout: {workflow_id}")
            };
            tracing::info!(schedule_id = %self.schedule_id, workflow_id, notes = %state.notes, "schedule paused on failure");
            self.conflict_token += 1;
        }
        if c.result.is_some() {
            self.last_completion_result = c.result;
            self.continued_failure = None;
        } else if c.failure.is_some() {
            self.continued_failure = c.failure;
        }
    }
}

impl Inner<'_> {
    /// Advances every schedule to now (called by the timer loop).
    pub(crate) fn run_schedules(&mut self) {
        let now = self.now_ms();
        let due: Vec<ScheduleKey> = self
            .globals()
            .schedule_wakes
            .iter()
            .filter(|(_, at)| **at <= now)
            .map(|(k, _)| k.clone())
            .collect();
        for key in due {
            self.advance_schedule(&key);
        }
    }

    /// One wake-up of a schedule: refresh, buffer the due times, take buffered starts.
    pub(crate) fn advance_schedule(&mut self, key: &ScheduleKey) {
        let Some(mut rec) = self.globals().schedules.get(key).cloned() else {
            return;
        };
        let now = self.now_ms();
        let spec = rec
            .schedule
            .spec
            .as_ref()
            .and_then(|s| CompiledSpec::new(s).ok());
        self.refresh_running(&mut rec);
        if let Some(spec) = &spec
            && now > rec.last_processed_ms
        {
            rec.last_processed_ms =
                rec.process_time_range(spec, rec.last_processed_ms, now, 0, false);
        }
        self.process_buffer(&mut rec);
        let wake = rec.next_wake_ms(now);
        if self.globals().schedules.get(key) != Some(&rec) {
            self.put_schedule(rec);
        }
        self.globals().schedule_wakes.insert(key.clone(), wake);
    }

    /// Temporal's `refreshWorkflows`: every running workflow the schedule started is looked
    /// up by id (following its runs); closed ones are reported back.
    fn refresh_running(&mut self, rec: &mut ScheduleRec) {
        for w in rec.info.running_workflows.clone() {
            if let Some(c) = self.watch(&rec.namespace, &w.workflow_id, &w.run_id) {
                rec.workflow_closed(&w.workflow_id, c);
            }
        }
    }

    /// None while the chain started as `first_run_id` is still running.
    fn watch(&mut self, ns: &str, workflow_id: &str, first_run_id: &str) -> Option<Closed> {
        let gone = Closed {
            status: WorkflowExecutionStatus::Unspecified as i32,
            result: None,
            failure: None,
        };
        let Some(run) = self.execs.current(ns, workflow_id).cloned() else {
            return Some(gone);
        };
        let key = ExecKey {
            namespace: ns.to_string(),
            workflow_id: workflow_id.to_string(),
            run_id: run,
        };
        self.fault_in(&key);
        let ex = self.execs.get(&key)?;
        if ex.st.first_run_id != first_run_id {
            return Some(gone);
        }
        if ex.st.is_open() {
            return None;
        }
        let (result, failure) = match ex.events.last().and_then(|e| e.attributes.as_ref()) {
            Some(A::WorkflowExecutionCompletedEventAttributes(a)) => (a.result.clone(), None),
            Some(A::WorkflowExecutionFailedEventAttributes(a)) => (None, a.failure.clone()),
            _ => (None, None),
        };
        Some(Closed {
            status: ex.st.status,
            result,
            failure,
        })
    }

    /// Temporal's `processBuffer` / `ProcessBuffer`: ALLOW_ALL starts always go; one start
    /// goes when nothing runs; the rest are skipped, kept (BUFFER_ONE / BUFFER_ALL) or kept
    /// while the running one is cancelled or terminated.
    fn process_buffer(&mut self, rec: &mut ScheduleRec) {
        let action = rec.schedule.action.as_ref().and_then(|a| a.action.clone());
        let Some(Action::StartWorkflow(wf)) = action else {
            rec.buffer.clear();
            return;
        };
        if rec.buffer.is_empty() {
            return;
        }
        let running = !rec.info.running_workflows.is_empty();
        let mut overlapping = vec![];
        let mut single: Option<BufferedStart> = None;
        let mut kept = vec![];
        let (mut cancel, mut terminate) = (false, false);
        for start in std::mem::take(&mut rec.buffer) {
            let p = Overlap::try_from(rec.resolve_overlap(start.overlap_policy))
                .unwrap_or(Overlap::Skip);
            if p == Overlap::AllowAll {
                overlapping.push(start);
                continue;
            }
            if !running && single.is_none() {
                single = Some(start);
                continue;
            }
            match p {
                Overlap::BufferOne if kept.is_empty() => kept.push(start),
                Overlap::BufferAll => kept.push(start),
                Overlap::CancelOther | Overlap::TerminateOther if running => {
                    cancel |= p == Overlap::CancelOther;
                    terminate |= p == Overlap::TerminateOther;
                    kept.push(start);
                }
                Overlap::CancelOther | Overlap::TerminateOther => single = Some(start),
                _ => rec.info.overlap_skipped += 1,
            }
        }
        rec.buffer = kept;
        if cancel || terminate {
            overlapping.clear();
        }
        let starts = overlapping
            .into_iter()
            .map(|s| (s, false))
            .chain(single.map(|s| (s, true)));
        for (start, non_overlapping) in starts {
            if !rec.can_take(start.manual, true) {
                continue;
            }
            self.start_scheduled(rec, &start, &wf, non_overlapping);
        }
        if terminate || cancel {
            self.stop_running(rec, terminate);
        }
    }

    fn start_scheduled(
        &mut self,
        rec: &mut ScheduleRec,
        start: &BufferedStart,
        wf: &NewWorkflowExecutionInfo,
        non_overlapping: bool,
    ) {
        let req = rec.start_request(start, wf);
        let workflow_id = req.workflow_id.clone();
        match self.start(StartArgs::from(req)) {
            Ok((run_id, _)) => {
                tracing::info!(schedule_id = %rec.schedule_id, workflow_id, run_id, "schedule started a workflow");
                let started = WorkflowExecution {
                    workflow_id,
                    run_id,
                };
                rec.info.action_count += 1;
                rec.info.recent_actions.push(ScheduleActionResult {
                    schedule_time: Some(ts(start.actual_ms)),
                    actual_time: Some(ts(self.now_ms())),
                    start_workflow_result: Some(started.clone()),
                    start_workflow_status: OPEN,
                });
                let excess = rec.info.recent_actions.len().saturating_sub(RECENT_ACTIONS);
                rec.info.recent_actions.drain(..excess);
                if non_overlapping {
                    rec.info.running_workflows.push(started);
                }
            }
            Err(e) => {
                tracing::warn!(schedule_id = %rec.schedule_id, workflow_id, error = %e.message(), "schedule failed to start a workflow");
            }
        }
    }

    /// Cancels or terminates the running workflows for a CANCEL_OTHER / TERMINATE_OTHER start.
    fn stop_running(&mut self, rec: &ScheduleRec, terminate: bool) {
        let identity = format!("temporal-scheduler-{}-{}", rec.namespace, rec.schedule_id);
        for w in &rec.info.running_workflows {
            let Some(run) = self.execs.current(&rec.namespace, &w.workflow_id).cloned() else {
                continue;
            };
            let key = ExecKey {
                namespace: rec.namespace.clone(),
                workflow_id: w.workflow_id.clone(),
                run_id: run,
            };
            if terminate {
                self.terminate(
                    &key,
                    "terminated by schedule overlap policy",
                    None,
                    &identity,
                );
            } else {
                self.request_cancel(
                    &key,
                    &identity,
                    "cancelled by schedule overlap policy",
                    0,
                    None,
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use temporalio_protos::temporal::api::schedule::v1::{
        IntervalSpec, Schedule, ScheduleAction, SchedulePolicies, ScheduleSpec,
    };

    fn every_second(paused: bool) -> Schedule {
        Schedule {
            spec: Some(ScheduleSpec {
                interval: vec![IntervalSpec {
                    interval: dur(1000),
                    phase: None,
                }],
                ..Default::default()
            }),
            action: Some(ScheduleAction {
                action: Some(Action::StartWorkflow(NewWorkflowExecutionInfo {
                    workflow_id: "tick".into(),
                    workflow_type: Some(WorkflowType {
                        name: "Tick".into(),
                    }),
                    task_queue: Some(task_queue("q")),
                    ..Default::default()
                })),
            }),
            policies: Some(SchedulePolicies {
                overlap_policy: Overlap::AllowAll as i32,
                ..Default::default()
            }),
            state: Some(
                temporalio_protos::temporal::api::schedule::v1::ScheduleState {
                    paused,
                    ..Default::default()
                },
            ),
        }
    }

    async fn wake_of(paused: bool) -> (i64, i64) {
        let e = Engine::open(&Database::InMemory, "default").unwrap();
        e.create_schedule(ws::CreateScheduleRequest {
            namespace: "default".into(),
            schedule_id: "s".into(),
            schedule: Some(every_second(paused)),
            request_id: "r".into(),
            ..Default::default()
        })
        .await
        .unwrap();
        let mut g = e.lock_all();
        let wake = g.globals().schedule_wakes[&("default".to_string(), "s".to_string())];
        (wake, g.now_ms())
    }

    #[tokio::test]
    async fn a_schedule_wakes_at_its_next_action_time() {
        let (wake, now) = wake_of(false).await;
        // The next whole second: the action's own time, not a poll a second later.
        assert_eq!(wake % 1000, 0, "{wake}");
        assert!(wake > now - 1000 && wake <= now + 1000, "{wake} vs {now}");
    }

    #[tokio::test]
    async fn a_paused_schedule_with_nothing_running_is_not_woken() {
        let (wake, _) = wake_of(true).await;
        assert_eq!(wake, i64::MAX);
    }
}
