//! The namespaces page.
use super::error::{PageResult, page};
use super::params::enc;
use super::{Chrome, UiState};
use crate::generated::workflow_service_server::WorkflowService;
use askama::Template;
use axum::extract::State;
use temporalio_protos::temporal::api::workflowservice::v1::ListNamespacesRequest;

/// One namespace row.
struct Row {
    name: String,
    name_enc: String,
    state: String,
    description: String,
    retention: String,
}

#[derive(Template)]
#[template(path = "namespaces.html")]
struct NamespacesPage {
    chrome: Chrome,
    rows: Vec<Row>,
}

/// `GET /namespaces`: every registered namespace (all pages of ListNamespaces).
pub(crate) async fn list(State(state): State<UiState>) -> PageResult {
    let mut rows = Vec::new();
    let mut token = Vec::new();
    loop {
        let resp = state
            .workflow
            .list_namespaces(tonic::Request::new(ListNamespacesRequest {
                page_size: 100,
                next_page_token: token,
                ..Default::default()
            }))
            .await?
            .into_inner();
        for ns in resp.namespaces {
            let info = ns.namespace_info.unwrap_or_default();
            let retention = ns
                .config
                .and_then(|c| c.workflow_execution_retention_ttl)
                .map(|d| super::format::span(d.seconds * 1000))
                .unwrap_or_default();
            rows.push(Row {
                name_enc: enc(&info.name),
                state: super::format::enum_name(info.state().as_str_name(), "NAMESPACE_STATE_"),
                name: info.name,
                description: info.description,
                retention,
            });
        }
        if resp.next_page_token.is_empty() {
            break;
        }
        token = resp.next_page_token;
    }
    page(&NamespacesPage {
        chrome: state.chrome(""),
        rows,
    })
}
