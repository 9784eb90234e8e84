//! A workflow's history as the page shows it: one server-side pass over every page for the
//! summary facts (input, result, timeline bars, children, reset points), and the event
//! list served a page at a time.
use super::UiState;
use super::error::{PageResult, UiError};
use super::format;
use super::params::{Params, enc, encode_token};
use crate::generated::workflow_service_server::WorkflowService;
use askama::Template;
use axum::extract::{Path, State};
use axum::http::Uri;
use axum::response::{Html, IntoResponse};
use std::collections::HashMap;
use temporalio_protos::temporal::api::common::v1::WorkflowExecution;
use temporalio_protos::temporal::api::enums::v1::EventType;
use temporalio_protos::temporal::api::history::v1::HistoryEvent;
use temporalio_protos::temporal::api::history::v1::history_event::Attributes as A;
use temporalio_protos::temporal::api::workflowservice::v1::GetWorkflowExecutionHistoryRequest;

/// Events per page of the event list.
pub(crate) const EVENTS_PAGE: i32 = 100;
/// Events per page of the server-side scan.
const SCAN_PAGE: i32 = 1000;
/// Most bars the timeline draws (the rest are counted, not drawn).
const MAX_BARS: usize = 300;

/// One bar of the timeline: an activity, a timer or a child workflow.
pub(crate) struct Bar {
    pub(crate) kind: &'static str,
    pub(crate) label: String,
    pub(crate) start_ms: i64,
    pub(crate) end_ms: Option<i64>,
    /// `Pending`, `Completed`, `Failed`, `Fired`, `Canceled`, `TimedOut`, `Terminated`.
    pub(crate) outcome: String,
    /// For a started child: its page.
    pub(crate) href: String,
    /// Left edge and width in percent of the track (set by [`Scan::layout`]).
    pub(crate) left: f64,
    pub(crate) width: f64,
}

/// A child workflow the history started.
pub(crate) struct ChildLink {
    pub(crate) workflow_id: String,
    pub(crate) href: String,
    pub(crate) outcome: String,
}

/// What one pass over the history found.
#[derive(Default)]
pub(crate) struct Scan {
    pub(crate) events: usize,
    pub(crate) input: Option<String>,
    pub(crate) result: Option<String>,
    pub(crate) failure: Option<String>,
    pub(crate) bars: Vec<Bar>,
    pub(crate) hidden_bars: usize,
    pub(crate) children: Vec<ChildLink>,
    /// Event ids of completed workflow tasks (what a reset can go back to).
    pub(crate) reset_points: Vec<i64>,
    pub(crate) first_ms: i64,
    pub(crate) last_ms: i64,
    open_bars: HashMap<i64, usize>,
}

impl Scan {
    fn open(&mut self, id: i64, kind: &'static str, label: String, start_ms: i64) {
        if self.bars.len() >= MAX_BARS {
            self.hidden_bars += 1;
            return;
        }
        self.open_bars.insert(id, self.bars.len());
        self.bars.push(Bar {
            kind,
            label,
            start_ms,
            end_ms: None,
            outcome: "Pending".into(),
            href: String::new(),
            left: 0.0,
            width: 0.0,
        });
    }

    fn close(&mut self, id: i64, outcome: &str, at_ms: i64) {
        if let Some(&i) = self.open_bars.get(&id) {
            self.bars[i].end_ms = Some(at_ms);
            self.bars[i].outcome = outcome.to_string();
        }
    }

    fn child_outcome(&mut self, initiated: i64, outcome: &str, at_ms: i64) {
        self.close(initiated, outcome, at_ms);
        if let Some(&i) = self.open_bars.get(&initiated) {
            let href = self.bars[i].href.clone();
            if let Some(c) = self.children.iter_mut().find(|c| c.href == href) {
                c.outcome = outcome.to_string();
            }
        }
    }

    /// Folds one event in.
    fn add(&mut self, ns: &str, e: &HistoryEvent) {
        let at = format::ms(e.event_time.as_ref());
        if self.events == 0 {
            self.first_ms = at;
        }
        self.events += 1;
        self.last_ms = self.last_ms.max(at);
        let Some(attrs) = &e.attributes else { return };
        match attrs {
            A::WorkflowExecutionStartedEventAttributes(a) => {
                self.input = format::payloads(a.input.as_ref());
            }
            A::WorkflowExecutionCompletedEventAttributes(a) => {
                self.result = Some(format::payloads(a.result.as_ref()).unwrap_or_default());
            }
            A::WorkflowExecutionFailedEventAttributes(a) => {
                self.failure = a.failure.as_ref().map(format::failure);
            }
            A::WorkflowExecutionTerminatedEventAttributes(a) => {
                self.failure = Some(format!("terminated: {}", a.reason));
            }
            A::WorkflowExecutionTimedOutEventAttributes(_) => {
                self.failure = Some("timed out".into());
            }
            A::WorkflowExecutionCanceledEventAttributes(a) => {
                self.failure = Some(format!(
                    "canceled{}",
                    format::payloads(a.details.as_ref())
                        .map(|d| format!(": {d}"))
                        .unwrap_or_default()
                ));
            }
            A::WorkflowTaskCompletedEventAttributes(_) => self.reset_points.push(e.event_id),
            A::ActivityTaskScheduledEventAttributes(a) => {
                let ty = a
                    .activity_type
                    .as_ref()
                    .map(|t| t.name.as_str())
                    .unwrap_or("");
                self.open(
                    e.event_id,
                    "Activity",
                    format!("{ty} ({})", a.activity_id),
                    at,
                );
            }
            A::ActivityTaskCompletedEventAttributes(a) => {
                self.close(a.scheduled_event_id, "Completed", at)
            }
            A::ActivityTaskFailedEventAttributes(a) => {
                self.close(a.scheduled_event_id, "Failed", at)
            }
            A::ActivityTaskTimedOutEventAttributes(a) => {
                self.close(a.scheduled_event_id, "TimedOut", at)
            }
            A::ActivityTaskCanceledEventAttributes(a) => {
                self.close(a.scheduled_event_id, "Canceled", at)
            }
            A::TimerStartedEventAttributes(a) => {
                let d = a
                    .start_to_fire_timeout
                    .map(|d| d.seconds * 1000 + i64::from(d.nanos) / 1_000_000);
                let label = format!("timer {} ({})", a.timer_id, format::span(d.unwrap_or(0)));
                self.open(e.event_id, "Timer", label, at);
            }
            A::TimerFiredEventAttributes(a) => self.close(a.started_event_id, "Fired", at),
            A::TimerCanceledEventAttributes(a) => self.close(a.started_event_id, "Canceled", at),
            A::StartChildWorkflowExecutionInitiatedEventAttributes(a) => {
                let ty = a
                    .workflow_type
                    .as_ref()
                    .map(|t| t.name.as_str())
                    .unwrap_or("");
                self.open(e.event_id, "Child", format!("{ty} ({})", a.workflow_id), at);
            }
            A::StartChildWorkflowExecutionFailedEventAttributes(a) => {
                self.close(a.initiated_event_id, "Failed", at)
            }
            A::ChildWorkflowExecutionStartedEventAttributes(a) => {
                let ex = a.workflow_execution.clone().unwrap_or_default();
                let child_ns = if a.namespace.is_empty() {
                    ns
                } else {
                    a.namespace.as_str()
                };
                let href = execution_href(child_ns, &ex);
                if let Some(&i) = self.open_bars.get(&a.initiated_event_id) {
                    self.bars[i].href = href.clone();
                }
                self.children.push(ChildLink {
                    workflow_id: ex.workflow_id,
                    href,
                    outcome: "Running".into(),
                });
            }
            A::ChildWorkflowExecutionCompletedEventAttributes(a) => {
                self.child_outcome(a.initiated_event_id, "Completed", at)
            }
            A::ChildWorkflowExecutionFailedEventAttributes(a) => {
                self.child_outcome(a.initiated_event_id, "Failed", at)
            }
            A::ChildWorkflowExecutionCanceledEventAttributes(a) => {
                self.child_outcome(a.initiated_event_id, "Canceled", at)
            }
            A::ChildWorkflowExecutionTimedOutEventAttributes(a) => {
                self.child_outcome(a.initiated_event_id, "TimedOut", at)
            }
            A::ChildWorkflowExecutionTerminatedEventAttributes(a) => {
                self.child_outcome(a.initiated_event_id, "Terminated", at)
            }
            _ => {}
        }
    }

    /// Places the bars on a track from the first event to `end_ms` (the close time, or now
    /// for an open workflow); open bars run to the end.
    pub(crate) fn layout(&mut self, end_ms: i64) {
        let start = self.first_ms;
        let end = end_ms.max(self.last_ms).max(start + 1);
        let total = (end - start) as f64;
        for b in &mut self.bars {
            let s = (b.start_ms - start).max(0) as f64;
            let e = (b.end_ms.unwrap_or(end) - start).max(0) as f64;
            b.left = (s / total * 100.0).clamp(0.0, 100.0);
            b.width = ((e - s) / total * 100.0).clamp(0.0, 100.0 - b.left);
        }
        self.last_ms = end;
    }
}

/// The page path of an execution.
pub(crate) fn execution_href(ns: &str, ex: &WorkflowExecution) -> String {
    format!(
        "/namespaces/{}/workflows/{}/{}",
        enc(ns),
        enc(&ex.workflow_id),
        enc(&ex.run_id)
    )
}

/// Reads every page of `ex`'s history once and folds it into a [`Scan`].
pub(crate) async fn scan(
    state: &UiState,
    ns: &str,
    ex: &WorkflowExecution,
) -> Result<Scan, UiError> {
    let mut out = Scan::default();
    let mut token = Vec::new();
    loop {
        let resp = state
            .workflow
            .get_workflow_execution_history(tonic::Request::new(
                GetWorkflowExecutionHistoryRequest {
                    namespace: ns.to_string(),
                    execution: Some(ex.clone()),
                    maximum_page_size: SCAN_PAGE,
                    next_page_token: token,
                    ..Default::default()
                },
            ))
            .await?
            .into_inner();
        for e in resp.history.iter().flat_map(|h| h.events.iter()) {
            out.add(ns, e);
        }
        if resp.next_page_token.is_empty() {
            return Ok(out);
        }
        token = resp.next_page_token;
    }
}

/// One row of the event list.
pub(crate) struct EventRow {
    pub(crate) id: i64,
    pub(crate) time: String,
    pub(crate) kind: String,
    pub(crate) attributes: String,
}

/// The attributes of one event as Temporal's proto-JSON (payloads in the HTTP API's
/// shorthand), pretty-printed.
fn attributes(e: &HistoryEvent) -> String {
    match crate::frontend::http_api::proto_json::to_json(e, true) {
        Ok(serde_json::Value::Object(fields)) => {
            let attrs = fields
                .iter()
                .find(|(k, _)| k.ends_with("Attributes"))
                .map(|(_, v)| v.clone())
                .unwrap_or(serde_json::Value::Object(fields));
            serde_json::to_string_pretty(&attrs).unwrap_or_default()
        }
        Ok(other) => other.to_string(),
        Err(err) => format!("(cannot show as proto-JSON: {err})"),
    }
}

/// One page of `ex`'s events from `token`; returns the rows and the next page's URL
/// (`""` on the last page).
pub(crate) async fn events_page(
    state: &UiState,
    ns: &str,
    ex: &WorkflowExecution,
    token: Vec<u8>,
) -> Result<(Vec<EventRow>, String), UiError> {
    let resp = state
        .workflow
        .get_workflow_execution_history(tonic::Request::new(GetWorkflowExecutionHistoryRequest {
            namespace: ns.to_string(),
            execution: Some(ex.clone()),
            maximum_page_size: EVENTS_PAGE,
            next_page_token: token,
            ..Default::default()
        }))
        .await?
        .into_inner();
    let rows = resp
        .history
        .iter()
        .flat_map(|h| h.events.iter())
        .map(|e| EventRow {
            id: e.event_id,
            time: format::time(e.event_time.as_ref()),
            kind: format::enum_name(
                EventType::try_from(e.event_type)
                    .map(|t| t.as_str_name())
                    .unwrap_or("EVENT_TYPE_UNSPECIFIED"),
                "EVENT_TYPE_",
            ),
            attributes: attributes(e),
        })
        .collect();
    let next = if resp.next_page_token.is_empty() {
        String::new()
    } else {
        format!(
            "{}/events?page_token={}",
            execution_href(ns, ex),
            encode_token(&resp.next_page_token)
        )
    };
    Ok((rows, next))
}

#[derive(Template)]
#[template(path = "events.html")]
pub(crate) struct EventRows {
    pub(crate) events: Vec<EventRow>,
    pub(crate) next: String,
    pub(crate) fragment: bool,
}

/// `GET /namespaces/{ns}/workflows/{id}/{run}/events?page_token=...`: the next page of the
/// event list, as table rows ending in a `data-next` marker row.
pub(crate) async fn events_fragment(
    State(state): State<UiState>,
    Path((ns, id, run)): Path<(String, String, String)>,
    uri: Uri,
) -> PageResult {
    let token = Params::of(&uri).page_token()?;
    let ex = WorkflowExecution {
        workflow_id: id,
        run_id: run,
    };
    let (events, next) = events_page(&state, &ns, &ex, token).await?;
    let body = EventRows {
        events,
        next,
        fragment: true,
    }
    .render()?;
    Ok(Html(body).into_response())
}
