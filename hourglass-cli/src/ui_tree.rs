//! The Web UI's live supervision tree page for `hourglass run`: every supervisor and child
//! with its state and restart count, pushed by server-sent events as it changes, and the
//! Prometheus metrics. Added to the embedded dev server's UI as a
//! [`hourglass_devserver::UiExtension`].

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::sse::{Event, Sse};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use hourglass_bridge::{Core, CoreMode};
use hourglass_devserver::UiExtension;
use hourglass_supervise::{ChildState, SupervisorSnapshot};
use hourglass_worker::subsystem::Hourglass;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

/// How often the live page looks at the tree (a change is pushed at once).
const POLL: Duration = Duration::from_millis(200);

/// Where the page reads the tree: set once the subsystem has started (the dev server, and so
/// the page, starts first).
#[derive(Clone, Default)]
pub struct TreeSource {
    app: Arc<OnceLock<(Arc<Hourglass>, Option<SocketAddr>)>>,
    core: Arc<OnceLock<Core>>,
    /// Every generation the core has had, with when it began (UTC `HH:MM:SS`).
    generations: Arc<Mutex<Vec<(u64, String)>>>,
}

impl TreeSource {
    /// Points the page at the running subsystem (and the core's metrics endpoint, if any).
    pub fn set(&self, app: Arc<Hourglass>, core_metrics: Option<SocketAddr>) {
        let _ = self.app.set((app, core_metrics));
    }

    /// Points the page at the core library, and records its reloads from now on.
    pub fn set_core(&self, core: Core) {
        let mut rx = core.subscribe();
        let now = || chrono::Utc::now().format("%H:%M:%S").to_string();
        if let Ok(mut g) = self.generations.lock() {
            g.push((core.generation(), now()));
        }
        if self.core.set(core).is_err() {
            return;
        }
        let generations = self.generations.clone();
        // Ends when the core (the sender) is dropped.
        tokio::spawn(async move {
            while rx.changed().await.is_ok() {
                let number = *rx.borrow_and_update();
                tracing::info!(generation = number, "web UI: core generation recorded");
                if let Ok(mut g) = generations.lock() {
                    g.push((number, now()));
                }
            }
        });
    }

    async fn snapshot(&self) -> Result<SupervisorSnapshot, String> {
        match self.app.get() {
            Some((app, _)) => app.snapshot().await.map_err(|e| e.to_string()),
            None => Err("the worker subsystem is starting".into()),
        }
    }

    /// The core's mode and generation, and the generations it has had.
    fn core_info(&self) -> (String, Vec<(u64, String)>) {
        let Some(core) = self.core.get() else {
            return (String::new(), Vec::new());
        };
        let mode = match core.mode() {
            CoreMode::Linked => "linked into this binary (not reloadable)".to_string(),
            CoreMode::Dynamic(p) => format!("{} (reloadable)", p.display()),
        };
        let text = format!(
            "{mode}, generation {} (instance {:x})",
            core.generation(),
            core.instance_id()
        );
        let history = self
            .generations
            .lock()
            .map(|g| g.clone())
            .unwrap_or_default();
        (text, history)
    }
}

/// One row of the tree table.
struct Row {
    depth: usize,
    indent: usize,
    id: String,
    path: String,
    kind: &'static str,
    detail: String,
    state: &'static str,
    restarts: u64,
    incarnation: String,
    /// The OS process a process child runs as (a Python pool worker's pid), `""` otherwise.
    pid: String,
    /// The last abnormal exit (`reason (at HH:MM:SS)`), `""` when none or ambiguous.
    last_exit: String,
}

fn state_name(s: ChildState) -> &'static str {
    match s {
        ChildState::Running => "running",
        ChildState::Restarting => "restarting",
        ChildState::Terminated => "terminated",
    }
}

fn supervisor_detail(s: &SupervisorSnapshot) -> String {
    format!(
        "{}{}, {} restarts (limit {} in {} ms)",
        if s.dynamic { "dynamic " } else { "" },
        crate::admin::strategy_name(&s.strategy),
        s.restarts,
        s.max_restarts,
        s.period_ms
    )
}

/// The tree flattened depth-first, the root first.
fn rows(root: &SupervisorSnapshot) -> Vec<Row> {
    let mut out = vec![Row {
        depth: 0,
        indent: 0,
        id: root.id.clone(),
        path: root.id.clone(),
        kind: "supervisor",
        detail: supervisor_detail(root),
        state: "running",
        restarts: root.restarts,
        incarnation: String::new(),
        pid: String::new(),
        last_exit: String::new(),
    }];
    let mut keys = HashMap::new();
    count_keys(root, &mut keys);
    walk(root, &root.id, 1, &keys, &mut out);
    out
}

/// How often each (supervisor id, child id) occurs in the tree.
fn count_keys(s: &SupervisorSnapshot, keys: &mut HashMap<(String, String), usize>) {
    for c in &s.children {
        *keys.entry((s.id.clone(), c.id.clone())).or_default() += 1;
        if let Some(sup) = &c.supervisor {
            count_keys(sup, keys);
        }
    }
}

fn walk(
    s: &SupervisorSnapshot,
    path: &str,
    depth: usize,
    keys: &HashMap<(String, String), usize>,
    out: &mut Vec<Row>,
) {
    for c in &s.children {
        let unique = keys.get(&(s.id.clone(), c.id.clone())) == Some(&1);
        let last_exit = match crate::exit_log::last_exit(&s.id, &c.id) {
            Some(e) if unique => format!("{} (at {} UTC)", e.reason, e.at),
            _ => String::new(),
        };
        let child_path = format!("{path}/{}", c.id);
        out.push(Row {
            depth,
            indent: depth * 22,
            id: c.id.clone(),
            path: child_path.clone(),
            kind: if c.supervisor.is_some() {
                "supervisor"
            } else {
                "worker"
            },
            detail: c
                .supervisor
                .as_deref()
                .map(supervisor_detail)
                .unwrap_or_else(|| format!("{:?}", c.restart).to_lowercase()),
            state: state_name(c.state),
            restarts: c.restarts,
            incarnation: c.incarnation.map(|i| i.to_string()).unwrap_or_default(),
            pid: c.os_pid.map(|p| p.to_string()).unwrap_or_default(),
            last_exit,
        });
        if let Some(sup) = &c.supervisor {
            walk(sup, &child_path, depth + 1, keys, out);
        }
    }
}

#[derive(Template)]
#[template(path = "tree_rows.html")]
struct TreeRows {
    rows: Vec<Row>,
    error: String,
    /// The core library: mode, generation, instance.
    core: String,
    /// Its generations with their start times.
    generations: Vec<(u64, String)>,
}

#[derive(Template)]
#[template(path = "tree.html")]
struct TreePage {
    rows: TreeRows,
    stylesheet: &'static str,
    script: &'static str,
}

#[derive(Template)]
#[template(path = "metrics.html")]
struct MetricsPage {
    text: String,
    stylesheet: &'static str,
    script: &'static str,
}

async fn tree_rows(src: &TreeSource) -> TreeRows {
    let (core, generations) = src.core_info();
    let (rows, error) = match src.snapshot().await {
        Ok(snap) => (rows(&snap), String::new()),
        Err(e) => (Vec::new(), e),
    };
    TreeRows {
        rows,
        error,
        core,
        generations,
    }
}

fn html<T: Template>(t: &T) -> Response {
    match t.render() {
        Ok(body) => Html(body).into_response(),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("rendering the page: {e}"),
        )
            .into_response(),
    }
}

async fn tree_page(State(src): State<TreeSource>) -> Response {
    html(&TreePage {
        rows: tree_rows(&src).await,
        stylesheet: UiExtension::STYLESHEET,
        script: UiExtension::SCRIPT,
    })
}

/// The tree rows as HTML each time they change (and once at the start).
async fn tree_events(
    State(src): State<TreeSource>,
) -> Sse<impl futures::Stream<Item = Result<Event, std::convert::Infallible>>> {
    let stream = futures::stream::unfold((src, String::new()), |(src, last)| async move {
        loop {
            let body = match tree_rows(&src).await.render() {
                Ok(b) => b,
                Err(e) => format!("<p class=\"error\">rendering the tree: {e}</p>"),
            };
            if body != last {
                tracing::debug!("web UI: supervision tree changed");
                return Some((Ok(Event::default().data(body.clone())), (src, body)));
            }
            tokio::time::sleep(POLL).await;
        }
    });
    Sse::new(stream)
}

async fn metrics_page(State(src): State<TreeSource>) -> Response {
    let text = match src.app.get() {
        Some((app, core)) => crate::admin::metrics_text(app, *core).await,
        None => "the worker subsystem is starting".to_string(),
    };
    html(&MetricsPage {
        text,
        stylesheet: UiExtension::STYLESHEET,
        script: UiExtension::SCRIPT,
    })
}

/// The tree and metrics pages (`/hourglass/tree`, `/hourglass/tree/events`,
/// `/hourglass/metrics`) as a Web UI extension reading `src`.
pub fn extension(src: TreeSource) -> UiExtension {
    let router = axum::Router::new()
        .route("/hourglass/tree", get(tree_page))
        .route("/hourglass/tree/events", get(tree_events))
        .route("/hourglass/metrics", get(metrics_page))
        .with_state(src);
    UiExtension::new(router)
        .link("Supervision tree", "/hourglass/tree")
        .link("Metrics", "/hourglass/metrics")
}
