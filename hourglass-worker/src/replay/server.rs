//! Histories from a Temporal server (the Hourglass dev server or a real cluster), over any
//! `WorkflowServiceClient` — a plain tonic channel or one with interceptors for namespace
//! headers, API keys and TLS.

use hourglass_bridge::protos::temporal::api::{
    common::v1::WorkflowExecution,
    enums::v1::HistoryEventFilterType,
    history::v1::History,
    workflowservice::v1::{
        GetWorkflowExecutionHistoryRequest, ListWorkflowExecutionsRequest,
        workflow_service_client::WorkflowServiceClient,
    },
};
use tonic::codegen::{Body, Bytes, StdError};

use super::{ReplayError, WorkflowHistory};

/// Fetches the full history of a run (every page) and checks it is replayable. `run_id`
/// `None` (or empty) means the latest run of `workflow_id`. The history is replayed under
/// `workflow_id`.
pub async fn fetch_history<T>(
    client: &mut WorkflowServiceClient<T>,
    namespace: &str,
    workflow_id: &str,
    run_id: Option<&str>,
) -> Result<WorkflowHistory, ReplayError>
where
    T: tonic::client::GrpcService<tonic::body::Body>,
    T::Error: Into<StdError>,
    T::ResponseBody: Body<Data = Bytes> + Send + 'static,
    <T::ResponseBody as Body>::Error: Into<StdError> + Send,
{
    let run_id = run_id.unwrap_or_default();
    let mut events = Vec::new();
    let mut next_page_token = Vec::new();
    loop {
        let response = client
            .get_workflow_execution_history(GetWorkflowExecutionHistoryRequest {
                namespace: namespace.to_owned(),
                execution: Some(WorkflowExecution {
                    workflow_id: workflow_id.to_owned(),
                    run_id: run_id.to_owned(),
                }),
                next_page_token,
                history_event_filter_type: HistoryEventFilterType::AllEvent as i32,
                ..Default::default()
            })
            .await
            .map_err(|status| ReplayError::Fetch {
                workflow_id: workflow_id.to_owned(),
                run_id: run_id.to_owned(),
                status: Box::new(status),
            })?
            .into_inner();
        events.extend(response.history.map(|h| h.events).unwrap_or_default());
        if response.next_page_token.is_empty() {
            break;
        }
        next_page_token = response.next_page_token;
    }
    tracing::debug!(%workflow_id, %run_id, events = events.len(), "fetched history for replay");
    Ok(WorkflowHistory::new(History { events })?.with_workflow_id(workflow_id))
}

/// The executions (workflow id, run id) matching a visibility query, every page, in the
/// server's order. An empty query lists every execution of the namespace.
pub async fn list_workflows<T>(
    client: &mut WorkflowServiceClient<T>,
    namespace: &str,
    query: &str,
) -> Result<Vec<WorkflowExecution>, ReplayError>
where
    T: tonic::client::GrpcService<tonic::body::Body>,
    T::Error: Into<StdError>,
    T::ResponseBody: Body<Data = Bytes> + Send + 'static,
    <T::ResponseBody as Body>::Error: Into<StdError> + Send,
{
    let mut out = Vec::new();
    let mut next_page_token = Vec::new();
    loop {
        let response = client
            .list_workflow_executions(ListWorkflowExecutionsRequest {
                namespace: namespace.to_owned(),
                page_size: 100,
                next_page_token,
                query: query.to_owned(),
            })
            .await
            .map_err(|status| ReplayError::List {
                query: query.to_owned(),
                status: Box::new(status),
            })?
            .into_inner();
        out.extend(response.executions.into_iter().filter_map(|e| e.execution));
        if response.next_page_token.is_empty() {
            break;
        }
        next_page_token = response.next_page_token;
    }
    Ok(out)
}
