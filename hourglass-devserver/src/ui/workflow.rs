//! A workflow's page: summary, input and result, pending work, timeline, events, actions.
use super::error::{PageResult, page};
use super::format;
use super::history::{self, Bar, ChildLink, EventRow, execution_href};
use super::params::enc;
use super::{Chrome, UiState};
use crate::generated::workflow_service_server::WorkflowService;
use askama::Template;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect};
use temporalio_protos::temporal::api::common::v1::WorkflowExecution;
use temporalio_protos::temporal::api::workflow::v1::{
    PendingActivityInfo, PendingChildExecutionInfo,
};
use temporalio_protos::temporal::api::workflowservice::v1::DescribeWorkflowExecutionRequest;

/// A pending activity as shown.
struct Activity {
    id: String,
    activity_type: String,
    state: String,
    attempt: i32,
    maximum_attempts: i32,
    scheduled: String,
    last_started: String,
    last_heartbeat: String,
    heartbeat_details: String,
    last_failure: String,
    next_attempt: String,
}

impl Activity {
    fn of(a: &PendingActivityInfo) -> Self {
        Activity {
            id: a.activity_id.clone(),
            activity_type: a
                .activity_type
                .as_ref()
                .map(|t| t.name.clone())
                .unwrap_or_default(),
            state: format::enum_name(a.state().as_str_name(), "PENDING_ACTIVITY_STATE_"),
            attempt: a.attempt,
            maximum_attempts: a.maximum_attempts,
            scheduled: format::time(a.scheduled_time.as_ref()),
            last_started: format::time(a.last_started_time.as_ref()),
            last_heartbeat: format::time(a.last_heartbeat_time.as_ref()),
            heartbeat_details: format::payloads(a.heartbeat_details.as_ref()).unwrap_or_default(),
            last_failure: a
                .last_failure
                .as_ref()
                .map(format::failure)
                .unwrap_or_default(),
            next_attempt: format::time(a.next_attempt_schedule_time.as_ref()),
        }
    }
}

/// A pending child as shown.
struct Child {
    workflow_id: String,
    run_id: String,
    workflow_type: String,
    href: String,
}

impl Child {
    fn of(ns: &str, c: &PendingChildExecutionInfo) -> Self {
        Child {
            href: execution_href(
                ns,
                &WorkflowExecution {
                    workflow_id: c.workflow_id.clone(),
                    run_id: c.run_id.clone(),
                },
            ),
            workflow_id: c.workflow_id.clone(),
            run_id: c.run_id.clone(),
            workflow_type: c.workflow_type_name.clone(),
        }
    }
}

#[derive(Template)]
#[template(path = "workflow.html")]
struct WorkflowPage {
    chrome: Chrome,
    workflow_id: String,
    run_id: String,
    status: String,
    running: bool,
    workflow_type: String,
    task_queue: String,
    task_queue_href: String,
    start: String,
    close: String,
    duration: String,
    history_length: i64,
    parent: Option<(String, String)>,
    input: Option<String>,
    result: Option<String>,
    failure: Option<String>,
    activities: Vec<Activity>,
    pending_children: Vec<Child>,
    children: Vec<ChildLink>,
    bars: Vec<Bar>,
    hidden_bars: usize,
    span: String,
    reset_points: Vec<i64>,
    events: Vec<EventRow>,
    next: String,
    /// Always false: the event rows are part of the page, not a fragment.
    fragment: bool,
    /// `/api/v1/namespaces/{ns}/workflows/{id}` (percent-encoded).
    api: String,
    /// `{"runId":"..."}`, for request bodies.
    run_json: String,
}

/// `GET /namespaces/{ns}/workflows/{id}`: the latest run's page.
pub(crate) async fn latest(
    State(state): State<UiState>,
    Path((ns, id)): Path<(String, String)>,
) -> PageResult {
    let resp = describe(&state, &ns, &id, "").await?;
    let run = resp
        .workflow_execution_info
        .and_then(|i| i.execution)
        .map(|e| e.run_id)
        .unwrap_or_default();
    Ok(Redirect::to(&format!(
        "/namespaces/{}/workflows/{}/{}",
        enc(&ns),
        enc(&id),
        enc(&run)
    ))
    .into_response())
}

async fn describe(
    state: &UiState,
    ns: &str,
    id: &str,
    run: &str,
) -> Result<
    temporalio_protos::temporal::api::workflowservice::v1::DescribeWorkflowExecutionResponse,
    tonic::Status,
> {
    Ok(state
        .workflow
        .describe_workflow_execution(tonic::Request::new(DescribeWorkflowExecutionRequest {
            namespace: ns.to_string(),
            execution: Some(WorkflowExecution {
                workflow_id: id.to_string(),
                run_id: run.to_string(),
            }),
        }))
        .await?
        .into_inner())
}

/// `GET /namespaces/{ns}/workflows/{id}/{run}`.
pub(crate) async fn page_handler(state: &UiState, ns: &str, id: &str, run: &str) -> PageResult {
    let resp = describe(state, ns, id, run).await?;
    let info = resp.workflow_execution_info.clone().unwrap_or_default();
    let ex = info.execution.clone().unwrap_or(WorkflowExecution {
        workflow_id: id.to_string(),
        run_id: run.to_string(),
    });
    let mut scan = history::scan(state, ns, &ex).await?;
    let close_ms = format::ms(info.close_time.as_ref());
    let running = close_ms == 0;
    let end_ms = if running {
        state.time.now_ms()
    } else {
        close_ms
    };
    scan.layout(end_ms);
    let (events, next) = history::events_page(state, ns, &ex, Vec::new()).await?;
    let start_ms = format::ms(info.start_time.as_ref());
    let parent = info
        .parent_execution
        .as_ref()
        .map(|p| (p.workflow_id.clone(), execution_href(ns, p)));
    let out = WorkflowPage {
        chrome: state.chrome(ns),
        status: format::status(info.status),
        running,
        workflow_type: info
            .r#type
            .as_ref()
            .map(|t| t.name.clone())
            .unwrap_or_default(),
        task_queue_href: format!(
            "/namespaces/{}/task-queues/{}",
            enc(ns),
            enc(&info.task_queue)
        ),
        task_queue: info.task_queue.clone(),
        start: format::time(info.start_time.as_ref()),
        close: format::time(info.close_time.as_ref()),
        duration: format::span(end_ms - start_ms),
        history_length: info.history_length,
        parent,
        input: scan.input.take(),
        result: scan.result.take(),
        failure: scan.failure.take(),
        activities: resp.pending_activities.iter().map(Activity::of).collect(),
        pending_children: resp
            .pending_children
            .iter()
            .map(|c| Child::of(ns, c))
            .collect(),
        children: std::mem::take(&mut scan.children),
        span: format::span(scan.last_ms - scan.first_ms),
        hidden_bars: scan.hidden_bars,
        bars: std::mem::take(&mut scan.bars),
        reset_points: std::mem::take(&mut scan.reset_points),
        events,
        next,
        fragment: false,
        api: format!(
            "/api/v1/namespaces/{}/workflows/{}",
            enc(ns),
            enc(&ex.workflow_id)
        ),
        run_json: serde_json::json!({ "runId": ex.run_id }).to_string(),
        workflow_id: ex.workflow_id,
        run_id: ex.run_id,
    };
    page(&out)
}

/// `GET /namespaces/{ns}/workflows/{id}/{run}`.
pub(crate) async fn page_route(
    State(state): State<UiState>,
    Path((ns, id, run)): Path<(String, String, String)>,
) -> PageResult {
    page_handler(&state, &ns, &id, &run).await
}
