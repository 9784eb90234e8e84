//! Serving an axum router over HTTP/1.1 and HTTP/2 (cleartext) on a bound listener: the
//! listener for Temporal's HTTP API and the one for the Web UI.
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

/// How long an open connection may take to finish once the server stops.
const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(2);

/// Serves `router` on `listener` until `stop` turns true: then it stops accepting, lets
/// every open connection finish its in-flight request (graceful shutdown), and returns.
/// `what` names the listener in log lines ("HTTP API", "Web UI").
pub(crate) fn serve(
    what: &'static str,
    listener: TcpListener,
    router: axum::Router,
    mut stop: watch::Receiver<bool>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let addr = listener.local_addr().ok();
        let mut connections = JoinSet::new();
        loop {
            tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok((stream, peer)) => {
                        // Small answers go out at once instead of waiting on the client's
                        // delayed ACK (as on the gRPC listener).
                        if let Err(e) = stream.set_nodelay(true) {
                            tracing::debug!(listener = what, error = %e, "TCP_NODELAY not set");
                        }
                        let service = TowerToHyperService::new(router.clone());
                        let conn_stop = stop.clone();
                        connections.spawn(serve_connection(what, stream, peer, service, conn_stop));
                    }
                    // Accept errors (EMFILE, a reset before accept) concern one connection.
                    Err(e) => tracing::warn!(listener = what, error = %e, "accept failed"),
                },
                _ = stopped(&mut stop) => break,
            }
            while connections.try_join_next().is_some() {}
        }
        drop(listener);
        while connections.join_next().await.is_some() {}
        tracing::info!(listener = what, addr = ?addr, "stopped serving");
    })
}

async fn serve_connection(
    what: &'static str,
    stream: tokio::net::TcpStream,
    peer: std::net::SocketAddr,
    service: TowerToHyperService<axum::Router>,
    mut stop: watch::Receiver<bool>,
) {
    let builder = auto::Builder::new(TokioExecutor::new());
    let conn = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
    tokio::pin!(conn);
    let result = tokio::select! {
        r = conn.as_mut() => r,
        _ = stopped(&mut stop) => {
            conn.as_mut().graceful_shutdown();
            // A never-ending response (a server-sent event stream) would hold the
            // shutdown forever: it gets a short grace, then the connection is dropped.
            match tokio::time::timeout(SHUTDOWN_GRACE, conn).await {
                Ok(r) => r,
                Err(_) => return,
            }
        }
    };
    if let Err(e) = result {
        tracing::debug!(listener = what, %peer, error = %e, "connection ended with an error");
    }
}

/// Resolves once `stop` turns true (or its sender is gone).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    // The guard `wait_for` returns is not `Send`: dropped here, before any await.
    let _ = stop.wait_for(|s| *s).await;
}
