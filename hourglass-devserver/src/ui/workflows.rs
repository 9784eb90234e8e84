//! The workflow list: the visibility query box, status counts, paging, auto-refresh.
use super::error::{PageResult, UiError, page};
use super::format;
use super::params::{Params, enc, encode_token};
use super::{Chrome, UiState};
use crate::generated::workflow_service_server::WorkflowService;
use askama::Template;
use axum::extract::{Path, State};
use axum::http::Uri;
use temporalio_protos::temporal::api::workflow::v1::WorkflowExecutionInfo;
use temporalio_protos::temporal::api::workflowservice::v1::{
    CountWorkflowExecutionsRequest, ListWorkflowExecutionsRequest,
};

/// Rows per page.
const PAGE_SIZE: i32 = 50;

/// One workflow row.
pub(crate) struct Row {
    pub(crate) status: String,
    pub(crate) workflow_id: String,
    pub(crate) run_id: String,
    pub(crate) href: String,
    pub(crate) workflow_type: String,
    pub(crate) start: String,
    pub(crate) close: String,
    pub(crate) task_queue: String,
}

impl Row {
    /// The row of one execution in namespace `ns`.
    pub(crate) fn of(ns: &str, info: &WorkflowExecutionInfo) -> Row {
        let ex = info.execution.clone().unwrap_or_default();
        Row {
            status: format::status(info.status),
            href: format!(
                "/namespaces/{}/workflows/{}/{}",
                enc(ns),
                enc(&ex.workflow_id),
                enc(&ex.run_id)
            ),
            workflow_id: ex.workflow_id,
            run_id: ex.run_id,
            workflow_type: info
                .r#type
                .as_ref()
                .map(|t| t.name.clone())
                .unwrap_or_default(),
            start: format::time(info.start_time.as_ref()),
            close: format::time(info.close_time.as_ref()),
            task_queue: info.task_queue.clone(),
        }
    }
}

/// One status count (a link to the list of that status).
struct Count {
    status: String,
    count: i64,
    href: String,
}

#[derive(Template)]
#[template(path = "workflows.html")]
struct WorkflowsPage {
    chrome: Chrome,
    query: String,
    query_error: String,
    total: Option<i64>,
    counts: Vec<Count>,
    rows: Vec<Row>,
    next_href: String,
    paged: bool,
    ns_enc: String,
}

/// `GET /namespaces/{ns}/workflows?query=...&page_token=...`.
pub(crate) async fn list(
    State(state): State<UiState>,
    Path(ns): Path<String>,
    uri: Uri,
) -> PageResult {
    let params = Params::of(&uri);
    let query = params.get("query").to_string();
    let token = params.page_token()?;
    let paged = !token.is_empty();
    let listed = state
        .workflow
        .list_workflow_executions(tonic::Request::new(ListWorkflowExecutionsRequest {
            namespace: ns.clone(),
            page_size: PAGE_SIZE,
            next_page_token: token,
            query: query.clone(),
        }))
        .await;
    let mut out = WorkflowsPage {
        chrome: state.chrome(&ns),
        query: query.clone(),
        query_error: String::new(),
        total: None,
        counts: Vec::new(),
        rows: Vec::new(),
        next_href: String::new(),
        paged,
        ns_enc: enc(&ns),
    };
    match listed {
        Ok(resp) => {
            let resp = resp.into_inner();
            out.rows = resp.executions.iter().map(|i| Row::of(&ns, i)).collect();
            if !resp.next_page_token.is_empty() {
                out.next_href = format!(
                    "?query={}&page_token={}",
                    enc(&query),
                    encode_token(&resp.next_page_token)
                );
            }
        }
        // A bad query is shown beside the box; anything else (unknown namespace) is the
        // page's error.
        Err(s) if s.code() == tonic::Code::InvalidArgument => {
            out.query_error = s.message().to_string();
        }
        Err(s) => return Err(UiError::from(s)),
    }
    if out.query_error.is_empty() {
        (out.total, out.counts) = counts(&state, &ns, &query).await;
    }
    page(&out)
}

/// The total and per-status counts of `query` (`None` and none when the server cannot
/// group it, e.g. a query with ORDER BY).
async fn counts(state: &UiState, ns: &str, query: &str) -> (Option<i64>, Vec<Count>) {
    let grouped = if query.trim().is_empty() {
        "GROUP BY ExecutionStatus".to_string()
    } else {
        format!("{query} GROUP BY ExecutionStatus")
    };
    let resp = state
        .workflow
        .count_workflow_executions(tonic::Request::new(CountWorkflowExecutionsRequest {
            namespace: ns.to_string(),
            query: grouped,
        }))
        .await;
    let resp = match resp {
        Ok(r) => r.into_inner(),
        Err(e) => {
            tracing::debug!(error = %e.message(), "web UI: status counts unavailable");
            return (None, Vec::new());
        }
    };
    let counts = resp
        .groups
        .iter()
        .map(|g| {
            let status = g
                .group_values
                .first()
                .and_then(|p| serde_json::from_slice::<String>(&p.data).ok())
                .unwrap_or_default();
            let status_query = format!("ExecutionStatus = '{status}'");
            let q = if query.trim().is_empty() {
                status_query
            } else {
                format!("({query}) AND {status_query}")
            };
            Count {
                href: format!("?query={}", enc(&q)),
                status,
                count: g.count,
            }
        })
        .collect();
    (Some(resp.count), counts)
}
