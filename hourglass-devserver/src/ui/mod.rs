//! The Web UI: server-rendered pages over the frontend services.
//!
//! Pages call WorkflowService and OperatorService in process, so they show exactly what
//! gRPC answers; buttons call the HTTP API (`/api/v1/...`) with `fetch()`. Templates are
//! compiled by askama, CSS and JS are embedded: nothing is fetched from elsewhere at run
//! time. An embedding program adds its own pages with [`UiExtension`].
use crate::engine::Engine;
use crate::frontend::workflow_service::Service;
use crate::timers::time_source::TimeSource;
use axum::http::header;
use axum::response::{IntoResponse, Redirect};
use axum::routing::get;
use std::sync::Arc;

mod error;
mod format;
mod history;
mod namespaces;
mod params;
mod schedules;
mod task_queues;
mod workflow;
mod workflows;

/// Pages an embedding program adds to the Web UI (`hourglass run` adds its live supervision
/// tree): a router merged into the UI's, and links shown in every page's header.
///
/// The extension's routes must not collide with the UI's own (`/`, `/namespaces/...`,
/// `/assets/...`, `/api/v1/...`); prefix them, e.g. `/hourglass/...`. Its pages can link
/// [`UiExtension::STYLESHEET`] and [`UiExtension::SCRIPT`] to look like the rest and to get
/// live regions: an element with `data-sse="URL"` has its content replaced by each
/// server-sent event's data (HTML).
#[derive(Debug, Clone, Default)]
pub struct UiExtension {
    pub(crate) router: axum::Router,
    pub(crate) links: Vec<(String, String)>,
}

impl UiExtension {
    /// The UI's stylesheet path.
    pub const STYLESHEET: &'static str = "/assets/style.css";
    /// The UI's script path.
    pub const SCRIPT: &'static str = "/assets/app.js";

    /// An extension serving `router`.
    pub fn new(router: axum::Router) -> Self {
        Self {
            router,
            links: Vec::new(),
        }
    }

    /// Adds a header link `label` → `path` to every page.
    pub fn link(mut self, label: impl Into<String>, path: impl Into<String>) -> Self {
        self.links.push((label.into(), path.into()));
        self
    }
}

/// What the pages read from: the same gRPC services (called in process) and HTTP API
/// that remote callers use.
#[derive(Clone)]
pub(crate) struct UiState {
    /// WorkflowService, called in process.
    pub(crate) workflow: Service,
    /// The server's clock (virtual on a time-skipping server), for "now" on the pages.
    pub(crate) time: Arc<TimeSource>,
    /// Header links added by an extension.
    pub(crate) links: Arc<Vec<(String, String)>>,
}

impl UiState {
    /// The state over an engine.
    pub(crate) fn new(engine: Arc<Engine>) -> Self {
        Self {
            time: engine.time.clone(),
            workflow: Service::new(engine),
            links: Arc::new(Vec::new()),
        }
    }

    /// The header every page shows, for namespace `ns` (`""` outside one).
    pub(crate) fn chrome(&self, ns: &str) -> Chrome {
        Chrome {
            ns: ns.to_string(),
            ns_enc: params::enc(ns),
            links: self.links.clone(),
        }
    }
}

/// The page header's data.
pub(crate) struct Chrome {
    /// The namespace the page is in (`""` for none).
    pub(crate) ns: String,
    /// The same, percent-encoded.
    pub(crate) ns_enc: String,
    /// Extension links (label, path).
    pub(crate) links: Arc<Vec<(String, String)>>,
}

const STYLE: &str = include_str!("assets/style.css");
const SCRIPT: &str = include_str!("assets/app.js");

/// The Web UI's routes, with `extension`'s merged in.
pub(crate) fn router(mut state: UiState, extension: Option<UiExtension>) -> axum::Router {
    let ext = extension.unwrap_or_default();
    state.links = Arc::new(ext.links.clone());
    axum::Router::new()
        .route(
            "/",
            get(|| async { Redirect::to("/namespaces/default/workflows") }),
        )
        .route(
            "/assets/style.css",
            get(|| async { ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], STYLE) }),
        )
        .route(
            "/assets/app.js",
            get(|| async {
                (
                    [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
                    SCRIPT,
                )
                    .into_response()
            }),
        )
        .route("/namespaces", get(namespaces::list))
        .route("/namespaces/{ns}/workflows", get(workflows::list))
        .route("/namespaces/{ns}/workflows/{id}", get(workflow::latest))
        .route(
            "/namespaces/{ns}/workflows/{id}/{run}",
            get(workflow::page_route),
        )
        .route(
            "/namespaces/{ns}/workflows/{id}/{run}/events",
            get(history::events_fragment),
        )
        .route("/namespaces/{ns}/schedules", get(schedules::list))
        .route("/namespaces/{ns}/schedules/{id}", get(schedules::detail))
        .route(
            "/namespaces/{ns}/task-queues/{name}",
            get(task_queues::page_route),
        )
        .with_state(state)
        .merge(ext.router)
}
