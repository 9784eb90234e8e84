//! A task queue: its workflow and activity pollers and backlog.
use super::error::{PageResult, UiError, page};
use super::format;
use super::{Chrome, UiState};
use crate::generated::workflow_service_server::WorkflowService;
use askama::Template;
use axum::extract::{Path, State};
use temporalio_protos::temporal::api::enums::v1::{TaskQueueKind, TaskQueueType};
use temporalio_protos::temporal::api::taskqueue::v1::TaskQueue;
use temporalio_protos::temporal::api::workflowservice::v1::DescribeTaskQueueRequest;

/// One poller.
struct Poller {
    identity: String,
    last_access: String,
    rate: f64,
}

/// The workflow or activity half of a task queue.
struct Half {
    kind: &'static str,
    pollers: Vec<Poller>,
    backlog: i64,
    backlog_age: String,
}

#[derive(Template)]
#[template(path = "task_queue.html")]
struct TaskQueuePage {
    chrome: Chrome,
    name: String,
    halves: Vec<Half>,
}

async fn half(state: &UiState, ns: &str, name: &str, ty: TaskQueueType) -> Result<Half, UiError> {
    let resp = state
        .workflow
        .describe_task_queue(tonic::Request::new(DescribeTaskQueueRequest {
            namespace: ns.to_string(),
            task_queue: Some(TaskQueue {
                name: name.to_string(),
                kind: TaskQueueKind::Normal as i32,
                ..Default::default()
            }),
            task_queue_type: ty as i32,
            report_stats: true,
            ..Default::default()
        }))
        .await?
        .into_inner();
    let stats = resp.stats.unwrap_or_default();
    Ok(Half {
        kind: if ty == TaskQueueType::Workflow {
            "Workflow"
        } else {
            "Activity"
        },
        pollers: resp
            .pollers
            .iter()
            .map(|p| Poller {
                identity: p.identity.clone(),
                last_access: format::time(p.last_access_time.as_ref()),
                rate: p.rate_per_second,
            })
            .collect(),
        backlog: stats.approximate_backlog_count,
        backlog_age: stats
            .approximate_backlog_age
            .map(|d| format::span(d.seconds * 1000 + i64::from(d.nanos) / 1_000_000))
            .unwrap_or_default(),
    })
}

/// `GET /namespaces/{ns}/task-queues/{name}`.
pub(crate) async fn page_route(
    State(state): State<UiState>,
    Path((ns, name)): Path<(String, String)>,
) -> PageResult {
    let halves = vec![
        half(&state, &ns, &name, TaskQueueType::Workflow).await?,
        half(&state, &ns, &name, TaskQueueType::Activity).await?,
    ];
    page(&TaskQueuePage {
        chrome: state.chrome(&ns),
        name,
        halves,
    })
}
