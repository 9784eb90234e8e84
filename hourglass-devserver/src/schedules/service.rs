//! The WorkflowService schedule RPCs, answered as Temporal's frontend answers them
//! (`CreateSchedule`, `DescribeSchedule`, … in service/frontend/workflow_handler.go): specs
//! are canonicalized and validated at create and update, describe cleans the spec and
//! reports the conflict token as 8 big-endian bytes, an update with a stale token is
//! dropped (as the scheduler workflow drops it), and patches and creates take effect at once.
use super::spec::{self, CompiledSpec, timestamp};
use super::{ScheduleKey, ScheduleRec};
use crate::prelude::*;
use crate::visibility::schedule_query;
use crate::visibility::search_attributes::{predefined_type, type_name};
use temporalio_protos::temporal::api::schedule::v1::{
    Schedule, ScheduleInfo, ScheduleListEntry, ScheduleListInfo, SchedulePolicies,
    schedule_action::Action,
};

/// Future action times describe shows.
const FUTURE_ACTIONS: usize = 10;
/// Future action times and recent actions list shows.
const LIST_ACTIONS: usize = 5;
/// Temporal's `maxListMatchingTimesCount`.
const MAX_MATCHING_TIMES: usize = 1000;

fn not_found() -> Status {
    status::not_found("schedule not found")
}

fn key(ns: &str, id: &str) -> ScheduleKey {
    (ns.to_string(), id.to_string())
}

/// Canonical spec, validated workflow action and filled-in policies (Temporal's
/// `canonicalizeScheduleSpec`, `validateStartWorkflowArgsForSchedule`, `ensureFields`).
fn prepare(mut schedule: Schedule) -> RpcResult<Schedule> {
    let spec = spec::canonicalize(&schedule.spec.take().unwrap_or_default())
        .map_err(|e| status::invalid(format!("Invalid schedule spec: {e}")))?;
    CompiledSpec::new(&spec).map_err(|e| status::invalid(format!("Invalid schedule spec: {e}")))?;
    schedule.spec = Some(spec);
    match schedule.action.as_mut().and_then(|a| a.action.as_mut()) {
        Some(Action::StartWorkflow(wf)) => crate::frontend::validation::schedule_action(wf)?,
        None => {
            return Err(status::invalid(
                "Only StartWorkflow action is supported for schedules",
            ));
        }
    }
    let mut rec = ScheduleRec::empty(schedule);
    let overlap = rec.resolve_overlap(0);
    let catchup = rec.catchup_window_ms();
    let policies = rec
        .schedule
        .policies
        .get_or_insert_with(SchedulePolicies::default);
    policies.overlap_policy = overlap;
    policies.catchup_window = dur(catchup);
    rec.schedule.state.get_or_insert_with(Default::default);
    Ok(rec.schedule)
}

/// The search attributes of the workflows a schedule starts and the schedule's own, checked
/// as a start checks them (Temporal's `validateStartWorkflowArgsForSchedule`, and the start
/// of the scheduler workflow).
fn validate_search_attributes(
    g: &Inner,
    namespace: &str,
    schedule: &Schedule,
    own: &Option<SearchAttributes>,
) -> RpcResult<()> {
    if let Some(Action::StartWorkflow(wf)) =
        schedule.action.as_ref().and_then(|a| a.action.as_ref())
    {
        g.validate_search_attributes(namespace, &wf.search_attributes)?;
    }
    g.validate_search_attributes(namespace, own)
}

impl ScheduleRec {
    fn empty(schedule: Schedule) -> Self {
        Self {
            namespace: String::new(),
            namespace_id: String::new(),
            schedule_id: String::new(),
            schedule,
            info: ScheduleInfo::default(),
            memo: None,
            search_attributes: None,
            conflict_token: 0,
            last_processed_ms: 0,
            buffer: vec![],
            last_completion_result: None,
            continued_failure: None,
            request_id: String::new(),
        }
    }

    pub(crate) fn compiled(&self) -> Option<CompiledSpec> {
        self.schedule
            .spec
            .as_ref()
            .and_then(|s| CompiledSpec::new(s).ok())
    }

    fn token(&self) -> Vec<u8> {
        self.conflict_token.to_be_bytes().to_vec()
    }
}

/// Gives every search attribute without a `type` its registered type, as Temporal's
/// frontend annotates a scheduled workflow's attributes.
fn annotate(sas: &mut Option<SearchAttributes>, ns: &NamespaceRec) {
    for (name, p) in sas.iter_mut().flat_map(|s| s.indexed_fields.iter_mut()) {
        if p.metadata.contains_key("type") {
            continue;
        }
        let ty = ns
            .search_attributes
            .get(name)
            .copied()
            .or_else(|| predefined_type(name).map(|t| t as i32));
        if let Some(t) = ty {
            p.metadata.insert("type".into(), type_name(t).into_bytes());
        }
    }
}

impl Engine {
    /// CreateSchedule: refuses a duplicate id (unless it is the same request retried), then
    /// applies the initial patch (trigger, backfill) at once.
    pub async fn create_schedule(
        &self,
        req: ws::CreateScheduleRequest,
    ) -> RpcResult<ws::CreateScheduleResponse> {
        if req.schedule_id.is_empty() {
            return Err(status::invalid("ScheduleId is not set on request."));
        }
        if req.request_id.is_empty() {
            return Err(status::invalid("RequestId is not set on request."));
        }
        let schedule = prepare(req.schedule.unwrap_or_default())?;
        self.with(|g| {
            let namespace_id = g.namespace(&req.namespace)?.id.clone();
            validate_search_attributes(g, &req.namespace, &schedule, &req.search_attributes)?;
            let k = key(&req.namespace, &req.schedule_id);
            if let Some(existing) = g.globals().schedules.get(&k) {
                if existing.request_id == req.request_id {
                    return Ok(ws::CreateScheduleResponse {
                        conflict_token: existing.token(),
                    });
                }
                return Err(status::schedule_already_registered(&req.schedule_id));
            }
            let now = self.now_ms();
            let mut rec = ScheduleRec::empty(schedule);
            rec.namespace = req.namespace.clone();
            rec.namespace_id = namespace_id;
            rec.schedule_id = req.schedule_id.clone();
            rec.memo = req.memo;
            rec.search_attributes = req.search_attributes;
            rec.conflict_token = 1;
            rec.last_processed_ms = now;
            rec.request_id = req.request_id;
            rec.info.create_time = Some(ts(now));
            if let Some(patch) = req.initial_patch {
                let compiled = rec.compiled();
                rec.apply_patch(compiled.as_ref(), patch, now);
            }
            let token = rec.token();
            tracing::info!(namespace = %req.namespace, schedule_id = %req.schedule_id, "schedule created");
            g.put_schedule(rec);
            g.advance_schedule(&k);
            Ok(ws::CreateScheduleResponse {
                conflict_token: token,
            })
        })
        .await
    }

    /// DescribeSchedule: the schedule brought up to date first (closed workflows reported).
    pub async fn describe_schedule(
        &self,
        req: ws::DescribeScheduleRequest,
    ) -> RpcResult<ws::DescribeScheduleResponse> {
        self.with(|g| {
            let ns = (*g.namespace(&req.namespace)?).clone();
            let k = key(&req.namespace, &req.schedule_id);
            g.advance_schedule(&k);
            let rec = g.globals().schedules.get(&k).ok_or_else(not_found)?;
            let mut schedule = rec.schedule.clone();
            if let Some(s) = schedule.spec.as_mut() {
                spec::clean(s);
            }
            if let Some(Action::StartWorkflow(wf)) =
                schedule.action.as_mut().and_then(|a| a.action.as_mut())
            {
                annotate(&mut wf.search_attributes, &ns);
            }
            let mut info = rec.info.clone();
            info.future_action_times = rec
                .compiled()
                .map(|c| rec.future_action_times(&c, FUTURE_ACTIONS))
                .unwrap_or_default();
            info.buffer_size = rec.buffer.len() as i64;
            let mut search_attributes = rec.search_attributes.clone();
            annotate(&mut search_attributes, &ns);
            Ok(ws::DescribeScheduleResponse {
                schedule: Some(schedule),
                info: Some(info),
                memo: rec.memo.clone().filter(|m| !m.fields.is_empty()),
                search_attributes: search_attributes.filter(|s| !s.indexed_fields.is_empty()),
                conflict_token: rec.token(),
            })
        })
        .await
    }

    /// UpdateSchedule: replaces spec, action, policies and state (not the info); search
    /// attributes only when given (an empty set clears them). A stale conflict token drops
    /// the update, as Temporal's scheduler does.
    pub async fn update_schedule(
        &self,
        req: ws::UpdateScheduleRequest,
    ) -> RpcResult<ws::UpdateScheduleResponse> {
        let schedule = prepare(req.schedule.unwrap_or_default())?;
        let token = <[u8; 8]>::try_from(req.conflict_token.get(..8).unwrap_or_default())
            .map(i64::from_be_bytes)
            .unwrap_or(0);
        self.with(|g| {
            g.namespace(&req.namespace)?;
            let k = key(&req.namespace, &req.schedule_id);
            let mut rec = g.globals().schedules.get(&k).cloned().ok_or_else(not_found)?;
            validate_search_attributes(g, &req.namespace, &schedule, &req.search_attributes)?;
            if token != 0 && token != rec.conflict_token {
                tracing::warn!(schedule_id = %req.schedule_id, "schedule update conflicted with a concurrent change; dropped");
                return Ok(ws::UpdateScheduleResponse {});
            }
            rec.schedule = schedule;
            if let Some(sas) = req.search_attributes {
                rec.search_attributes = Some(sas);
            }
            if let Some(memo) = req.memo {
                rec.memo = Some(memo);
            }
            let now = self.now_ms();
            rec.info.update_time = Some(ts(now));
            rec.conflict_token += 1;
            tracing::info!(schedule_id = %req.schedule_id, "schedule updated");
            g.put_schedule(rec);
            g.advance_schedule(&k);
            Ok(ws::UpdateScheduleResponse {})
        })
        .await
    }

    /// PatchSchedule: trigger, backfill, pause or unpause, taking effect at once.
    pub async fn patch_schedule(
        &self,
        req: ws::PatchScheduleRequest,
    ) -> RpcResult<ws::PatchScheduleResponse> {
        self.with(|g| {
            g.namespace(&req.namespace)?;
            let k = key(&req.namespace, &req.schedule_id);
            let mut rec = g
                .globals()
                .schedules
                .get(&k)
                .cloned()
                .ok_or_else(not_found)?;
            let compiled = rec.compiled();
            let now = g.now_ms();
            rec.apply_patch(compiled.as_ref(), req.patch.unwrap_or_default(), now);
            g.put_schedule(rec);
            g.advance_schedule(&k);
            Ok(ws::PatchScheduleResponse {})
        })
        .await
    }

    /// DeleteSchedule: the schedule goes; workflows it started keep running.
    pub async fn delete_schedule(
        &self,
        req: ws::DeleteScheduleRequest,
    ) -> RpcResult<ws::DeleteScheduleResponse> {
        self.with(|g| {
            g.namespace(&req.namespace)?;
            g.remove_schedule(&key(&req.namespace, &req.schedule_id))
                .ok_or_else(not_found)?;
            tracing::info!(schedule_id = %req.schedule_id, "schedule deleted");
            Ok(ws::DeleteScheduleResponse {})
        })
        .await
    }

    /// ListSchedules: schedules matching the query, by id, paginated.
    pub async fn list_schedules(
        &self,
        req: ws::ListSchedulesRequest,
    ) -> RpcResult<ws::ListSchedulesResponse> {
        self.with(|g| {
            let ns = (*g.namespace(&req.namespace)?).clone();
            let all: Vec<&ScheduleRec> = g
                .globals()
                .schedules
                .range(key(&req.namespace, "")..)
                .take_while(|((n, _), _)| *n == req.namespace)
                .map(|(_, r)| r)
                .collect();
            let q = schedule_query(&ns, all.iter().map(|r| &r.search_attributes), &req.query)?;
            let all: Vec<&ScheduleRec> = all
                .into_iter()
                .filter(|r| schedule_matches(&q, r))
                .collect();
            let offset = page_offset(&req.next_page_token);
            let size = match req.maximum_page_size {
                n if n > 0 => n as usize,
                _ => 1000,
            };
            let schedules: Vec<ScheduleListEntry> = all
                .iter()
                .skip(offset)
                .take(size)
                .map(|r| list_entry(r, &ns))
                .collect();
            let next_page_token = if offset + schedules.len() < all.len() {
                ((offset + schedules.len()) as u64).to_be_bytes().to_vec()
            } else {
                vec![]
            };
            Ok(ws::ListSchedulesResponse {
                schedules,
                next_page_token,
            })
        })
        .await
    }

    /// CountSchedules: how many schedules match the query.
    pub async fn count_schedules(
        &self,
        req: ws::CountSchedulesRequest,
    ) -> RpcResult<ws::CountSchedulesResponse> {
        self.with(|g| {
            let ns = g.namespace(&req.namespace)?;
            let all: Vec<&ScheduleRec> = g
                .globals()
                .schedules
                .values()
                .filter(|r| r.namespace == req.namespace)
                .collect();
            let q = schedule_query(&ns, all.iter().map(|r| &r.search_attributes), &req.query)?;
            let count = all.into_iter().filter(|r| schedule_matches(&q, r)).count() as i64;
            Ok(ws::CountSchedulesResponse {
                count,
                groups: vec![],
            })
        })
        .await
    }

    /// ListScheduleMatchingTimes: the action times in `[start, end]` (at most 1000).
    pub async fn list_schedule_matching_times(
        &self,
        req: ws::ListScheduleMatchingTimesRequest,
    ) -> RpcResult<ws::ListScheduleMatchingTimesResponse> {
        let (Some(start), Some(end)) = (spec::utc(&req.start_time), spec::utc(&req.end_time))
        else {
            return Err(status::invalid("missing or invalid query"));
        };
        self.with(|g| {
            g.namespace(&req.namespace)?;
            let rec = g
                .globals()
                .schedules
                .get(&key(&req.namespace, &req.schedule_id))
                .ok_or_else(not_found)?;
            let compiled = rec.compiled().ok_or_else(|| {
                status::invalid(format!(
                    "invalid schedule: {}",
                    rec.info.invalid_schedule_error
                ))
            })?;
            let seed = rec.jitter_seed();
            let mut out = vec![];
            let mut t = start;
            while out.len() < MAX_MATCHING_TIMES {
                match compiled.next_time(&seed, t) {
                    Some(n) if n.next <= end => {
                        t = n.next;
                        out.push(timestamp(n.next));
                    }
                    _ => break,
                }
            }
            Ok(ws::ListScheduleMatchingTimesResponse { start_time: out })
        })
        .await
    }
}

/// A schedule as ListSchedules shows it (Temporal's `getListInfo`).
fn list_entry(r: &ScheduleRec, ns: &NamespaceRec) -> ScheduleListEntry {
    let mut spec = r.schedule.spec.clone().unwrap_or_default();
    spec.timezone_data.clear();
    spec::clean(&mut spec);
    let workflow_type = match r.schedule.action.as_ref().and_then(|a| a.action.as_ref()) {
        Some(Action::StartWorkflow(wf)) => wf.workflow_type.clone(),
        None => None,
    };
    let state = r.schedule.state.clone().unwrap_or_default();
    let recent = &r.info.recent_actions;
    let mut search_attributes = r.search_attributes.clone();
    annotate(&mut search_attributes, ns);
    ScheduleListEntry {
        schedule_id: r.schedule_id.clone(),
        memo: r.memo.clone().filter(|m| !m.fields.is_empty()),
        search_attributes: search_attributes.filter(|s| !s.indexed_fields.is_empty()),
        info: Some(ScheduleListInfo {
            spec: Some(spec),
            workflow_type,
            notes: state.notes,
            paused: state.paused,
            recent_actions: recent[recent.len().saturating_sub(LIST_ACTIONS)..].to_vec(),
            future_action_times: r
                .compiled()
                .map(|c| r.future_action_times(&c, LIST_ACTIONS))
                .unwrap_or_default(),
            state_size_bytes: 0,
        }),
    }
}

/// Whether a schedule's visibility record matches `q`.
fn schedule_matches(q: &crate::visibility::Query, r: &ScheduleRec) -> bool {
    let row = crate::visibility::row::ScheduleRow {
        schedule_id: &r.schedule_id,
        paused: r.schedule.state.as_ref().is_some_and(|s| s.paused),
        search_attributes: &r.search_attributes,
    };
    crate::visibility::row::matches(&q.expr, &row)
}
