//! Schedules: the list, and one schedule's detail with its next runs, pause and trigger.
use super::error::{PageResult, page};
use super::format;
use super::history::execution_href;
use super::params::{Params, enc, encode_token};
use super::{Chrome, UiState};
use crate::generated::workflow_service_server::WorkflowService;
use askama::Template;
use axum::extract::{Path, State};
use axum::http::Uri;
use temporalio_protos::temporal::api::schedule::v1::{ScheduleActionResult, ScheduleSpec};
use temporalio_protos::temporal::api::workflowservice::v1::{
    DescribeScheduleRequest, ListSchedulesRequest,
};

/// Schedules per page.
const PAGE_SIZE: i32 = 50;

/// One schedule row.
struct Row {
    id: String,
    href: String,
    workflow_type: String,
    spec: String,
    paused: bool,
    notes: String,
    next: String,
}

#[derive(Template)]
#[template(path = "schedules.html")]
struct SchedulesPage {
    chrome: Chrome,
    rows: Vec<Row>,
    next_href: String,
}

/// A spec in one line: cron strings, intervals, calendars.
fn spec_text(spec: Option<&ScheduleSpec>) -> String {
    let Some(s) = spec else { return String::new() };
    let mut parts: Vec<String> = s.cron_string.iter().map(|c| format!("cron {c}")).collect();
    for i in &s.interval {
        let every = i.interval.map(|d| d.seconds * 1000).unwrap_or(0);
        let phase = i.phase.map(|d| d.seconds * 1000).unwrap_or(0);
        parts.push(if phase > 0 {
            format!(
                "every {} (phase {})",
                format::span(every),
                format::span(phase)
            )
        } else {
            format!("every {}", format::span(every))
        });
    }
    let calendars = s.calendar.len() + s.structured_calendar.len();
    if calendars > 0 {
        parts.push(format!("{calendars} calendar spec(s)"));
    }
    parts.join("; ")
}

/// `GET /namespaces/{ns}/schedules?page_token=...`.
pub(crate) async fn list(
    State(state): State<UiState>,
    Path(ns): Path<String>,
    uri: Uri,
) -> PageResult {
    let token = Params::of(&uri).page_token()?;
    let resp = state
        .workflow
        .list_schedules(tonic::Request::new(ListSchedulesRequest {
            namespace: ns.clone(),
            maximum_page_size: PAGE_SIZE,
            next_page_token: token,
            ..Default::default()
        }))
        .await?
        .into_inner();
    let rows = resp
        .schedules
        .iter()
        .map(|s| {
            let info = s.info.clone().unwrap_or_default();
            Row {
                href: format!("/namespaces/{}/schedules/{}", enc(&ns), enc(&s.schedule_id)),
                id: s.schedule_id.clone(),
                workflow_type: info.workflow_type.map(|t| t.name).unwrap_or_default(),
                spec: spec_text(info.spec.as_ref()),
                paused: info.paused,
                notes: info.notes,
                next: format::time(info.future_action_times.first()),
            }
        })
        .collect();
    let next_href = if resp.next_page_token.is_empty() {
        String::new()
    } else {
        format!("?page_token={}", encode_token(&resp.next_page_token))
    };
    page(&SchedulesPage {
        chrome: state.chrome(&ns),
        rows,
        next_href,
    })
}

/// One recent action.
struct Action {
    scheduled: String,
    actual: String,
    workflow_id: String,
    href: String,
    status: String,
}

impl Action {
    fn of(ns: &str, a: &ScheduleActionResult) -> Self {
        let ex = a.start_workflow_result.clone().unwrap_or_default();
        Action {
            scheduled: format::time(a.schedule_time.as_ref()),
            actual: format::time(a.actual_time.as_ref()),
            href: execution_href(ns, &ex),
            workflow_id: ex.workflow_id,
            status: format::status(a.start_workflow_status),
        }
    }
}

#[derive(Template)]
#[template(path = "schedule.html")]
struct SchedulePage {
    chrome: Chrome,
    id: String,
    spec: String,
    paused: bool,
    notes: String,
    workflow_type: String,
    action_count: i64,
    missed: i64,
    overlap_skipped: i64,
    created: String,
    updated: String,
    future: Vec<String>,
    recent: Vec<Action>,
    running: Vec<(String, String)>,
    api: String,
}

/// `GET /namespaces/{ns}/schedules/{id}`.
pub(crate) async fn detail(
    State(state): State<UiState>,
    Path((ns, id)): Path<(String, String)>,
) -> PageResult {
    let resp = state
        .workflow
        .describe_schedule(tonic::Request::new(DescribeScheduleRequest {
            namespace: ns.clone(),
            schedule_id: id.clone(),
        }))
        .await?
        .into_inner();
    let schedule = resp.schedule.unwrap_or_default();
    let info = resp.info.unwrap_or_default();
    let st = schedule.state.unwrap_or_default();
    let workflow_type = match schedule.action.and_then(|a| a.action) {
        Some(
            temporalio_protos::temporal::api::schedule::v1::schedule_action::Action::StartWorkflow(
                w,
            ),
        ) => w.workflow_type.map(|t| t.name).unwrap_or_default(),
        None => String::new(),
    };
    page(&SchedulePage {
        chrome: state.chrome(&ns),
        spec: spec_text(schedule.spec.as_ref()),
        paused: st.paused,
        notes: st.notes,
        workflow_type,
        action_count: info.action_count,
        missed: info.missed_catchup_window,
        overlap_skipped: info.overlap_skipped,
        created: format::time(info.create_time.as_ref()),
        updated: format::time(info.update_time.as_ref()),
        future: info
            .future_action_times
            .iter()
            .map(|t| format::time(Some(t)))
            .collect(),
        recent: info
            .recent_actions
            .iter()
            .rev()
            .map(|a| Action::of(&ns, a))
            .collect(),
        running: info
            .running_workflows
            .iter()
            .map(|w| (w.workflow_id.clone(), execution_href(&ns, w)))
            .collect(),
        api: format!("/api/v1/namespaces/{}/schedules/{}", enc(&ns), enc(&id)),
        id,
    })
}
