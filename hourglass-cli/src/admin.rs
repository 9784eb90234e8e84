//! The admin endpoint of `hourglass run` (a minimal HTTP/1.1 server on loopback) and the
//! client side of `hourglass tree`.
//!
//! Routes: `GET /tree` (the live supervision tree as JSON) and `GET /metrics` (Prometheus
//! text: supervision and subsystem metrics, plus the core's own metrics when exported).

use crate::error::CliError;
use hourglass_supervise::{ChildSnapshot, SupervisorSnapshot};
use hourglass_worker::subsystem::{Hourglass, metrics};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// The default admin address (`hourglass tree` looks here unless told otherwise).
pub const DEFAULT_ADMIN: &str = "127.0.0.1:7244";

/// Binds `addr` (loopback only) and serves the admin routes for `app` until the task is
/// dropped. Returns the bound address.
pub async fn serve(
    addr: &str,
    app: Arc<Hourglass>,
    core_metrics: Option<SocketAddr>,
) -> Result<(SocketAddr, tokio::task::JoinHandle<()>), CliError> {
    let sock: SocketAddr = addr.parse().map_err(|_| CliError::InvalidValue {
        what: "--admin/--metrics".into(),
        message: format!("`{addr}` is not an ip:port address"),
    })?;
    if !sock.ip().is_loopback() {
        return Err(CliError::InvalidValue {
            what: "--admin/--metrics".into(),
            message: format!(
                "`{addr}` is not a loopback address; the endpoints bind loopback only"
            ),
        });
    }
    let listener = TcpListener::bind(sock).await.map_err(|e| {
        CliError::Run(format!(
            "cannot listen on {sock}: {e} (choose another port with --admin/--metrics)"
        ))
    })?;
    let local = listener
        .local_addr()
        .map_err(|e| CliError::Run(format!("admin endpoint: {e}")))?;
    let task = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let app = app.clone();
            tokio::spawn(async move {
                if let Err(e) = handle(stream, &app, core_metrics).await {
                    tracing::debug!(error = %e, "admin request failed");
                }
            });
        }
    });
    Ok((local, task))
}

async fn handle(
    mut stream: TcpStream,
    app: &Hourglass,
    core_metrics: Option<SocketAddr>,
) -> std::io::Result<()> {
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf))
        .await
        .map_err(|_| std::io::Error::other("request timed out"))??;
    let request = String::from_utf8_lossy(&buf[..n]);
    let path = request
        .lines()
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .unwrap_or("/");
    let (status, content_type, body) = match path {
        "/tree" => match app.snapshot().await {
            Ok(snap) => (
                "200 OK",
                "application/json",
                serde_json::to_string(&snap).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}")),
            ),
            Err(e) => ("503 Service Unavailable", "text/plain", e.to_string()),
        },
        "/metrics" => (
            "200 OK",
            "text/plain; version=0.0.4",
            metrics_text(app, core_metrics).await,
        ),
        _ => (
            "404 Not Found",
            "text/plain",
            "routes: /tree, /metrics\n".into(),
        ),
    };
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(response.as_bytes()).await?;
    stream.shutdown().await
}

pub(crate) async fn metrics_text(app: &Hourglass, core_metrics: Option<SocketAddr>) -> String {
    let mut out = metrics::prometheus_text();
    if let Ok(snap) = app.snapshot().await {
        out.push_str("# HELP hourglass_child_restarts_total Restarts of each supervised child.\n");
        out.push_str("# TYPE hourglass_child_restarts_total counter\n");
        let mut lines = Vec::new();
        restart_lines(&snap, snap.id.as_str(), &mut lines);
        for l in lines {
            out.push_str(&l);
        }
        let in_flight = |id: &str| {
            snap.children
                .iter()
                .find(|c| c.id == id)
                .and_then(|c| c.supervisor.as_ref())
                .map(|s| s.children.len())
                .unwrap_or(0)
        };
        out.push_str("# HELP hourglass_in_flight_tasks In-flight workflow activations and activity attempts.\n");
        out.push_str("# TYPE hourglass_in_flight_tasks gauge\n");
        out.push_str(&format!(
            "hourglass_in_flight_tasks{{kind=\"workflow\"}} {}\nhourglass_in_flight_tasks{{kind=\"activity\"}} {}\n",
            in_flight("workflow_evaluator"),
            in_flight("activity_executor")
        ));
    }
    if let Some(pools) = app.external_pools() {
        out.push_str(&pools.prometheus_text());
    }
    if let Some(addr) = core_metrics {
        match http_get(&addr.to_string(), "/metrics").await {
            Ok(text) => out.push_str(&text),
            Err(e) => tracing::debug!(error = %e, "core metrics unavailable"),
        }
    }
    out
}

fn restart_lines(snap: &SupervisorSnapshot, path: &str, out: &mut Vec<String>) {
    for c in &snap.children {
        let child_path = format!("{path}/{}", c.id);
        out.push(format!(
            "hourglass_child_restarts_total{{path=\"{child_path}\"}} {}\n",
            c.restarts
        ));
        if let Some(sup) = &c.supervisor {
            restart_lines(sup, &child_path, out);
        }
    }
}

/// A plain HTTP GET on loopback; returns the body of a 200 response.
pub async fn http_get(addr: &str, path: &str) -> Result<String, CliError> {
    let unreachable = |e: String| {
        CliError::Run(format!(
            "cannot reach the admin endpoint at {addr}: {e} (is `hourglass run` running? pass --admin to name its address)"
        ))
    };
    let mut stream = tokio::time::timeout(Duration::from_secs(5), TcpStream::connect(addr))
        .await
        .map_err(|_| unreachable("timed out".into()))?
        .map_err(|e| unreachable(e.to_string()))?;
    stream
        .write_all(
            format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .await
        .map_err(|e| unreachable(e.to_string()))?;
    let mut raw = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut raw))
        .await
        .map_err(|_| unreachable("response timed out".into()))?
        .map_err(|e| unreachable(e.to_string()))?;
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| unreachable("malformed response".into()))?;
    if !head.starts_with("HTTP/1.1 200") && !head.starts_with("HTTP/1.0 200") {
        return Err(CliError::Run(format!(
            "admin endpoint at {addr} answered: {}",
            head.lines().next().unwrap_or_default()
        )));
    }
    Ok(body.to_string())
}

pub(crate) fn strategy_name(s: &hourglass_supervise::Strategy) -> &'static str {
    match s {
        hourglass_supervise::Strategy::OneForOne => "one_for_one",
        hourglass_supervise::Strategy::OneForAll => "one_for_all",
        hourglass_supervise::Strategy::RestForOne => "rest_for_one",
    }
}

/// Renders a snapshot as an indented tree, one child per line.
pub fn render_tree(snap: &SupervisorSnapshot) -> String {
    let mut out = format!(
        "{} ({}{}, restarts {})\n",
        snap.id,
        if snap.dynamic { "dynamic " } else { "" },
        strategy_name(&snap.strategy),
        snap.restarts
    );
    render_children(&snap.children, "", &mut out);
    out
}

fn render_children(children: &[ChildSnapshot], prefix: &str, out: &mut String) {
    for (i, c) in children.iter().enumerate() {
        let last = i + 1 == children.len();
        let branch = if last { "└─ " } else { "├─ " };
        out.push_str(&format!(
            "{prefix}{branch}{} [{:?}] restarts {}{}\n",
            c.id,
            c.state,
            c.restarts,
            c.supervisor
                .as_ref()
                .map(|s| format!(
                    " ({}{})",
                    if s.dynamic { "dynamic " } else { "" },
                    strategy_name(&s.strategy)
                ))
                .unwrap_or_default()
        ));
        if let Some(sup) = &c.supervisor {
            let next = format!("{prefix}{}", if last { "   " } else { "│  " });
            render_children(&sup.children, &next, out);
        }
    }
}

/// `hourglass tree`: fetches and prints the tree of a running `hourglass run`.
pub async fn cmd_tree(
    admin: &str,
    json: bool,
    out: &mut impl std::io::Write,
) -> Result<(), CliError> {
    let body = http_get(admin, "/tree").await?;
    if json {
        writeln!(out, "{body}")?;
        return Ok(());
    }
    let snap: SupervisorSnapshot = serde_json::from_str(&body).map_err(|e| {
        CliError::Run(format!(
            "admin endpoint at {admin} sent an unreadable tree: {e}"
        ))
    })?;
    write!(out, "{}", render_tree(&snap))?;
    Ok(())
}
