//! Shared set-up of the end-to-end tests: a fresh dev server, an Hourglass application on it,
//! and an official Temporal client.
#![allow(dead_code)]

use hourglass_bridge::Core;
use hourglass_devserver::{Database, DevServer, RunningServer};
use hourglass_worker::subsystem::{Hourglass, SubsystemConfig};
use std::time::Duration;
use temporalio_client::{Client, ClientOptions, Connection, ConnectionOptions};

/// Logs to the test output when `RUST_LOG` is set.
pub fn init_tracing() {
    if std::env::var_os("RUST_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
    }
}

/// A dev server on a free loopback port, in memory.
pub async fn server() -> RunningServer {
    DevServer::builder()
        .port(0)
        .database(Database::InMemory)
        .start()
        .await
        .expect("dev server starts")
}

/// The subsystem configuration for `core` on `server`, serving `task_queue`.
pub fn config(core: Core, server: &RunningServer, task_queue: &str) -> SubsystemConfig {
    let mut config = SubsystemConfig::new(core, server.url(), "default").expect("registrations");
    config.task_queues = vec![task_queue.to_string()];
    config.drain_timeout = Duration::from_secs(20);
    config
}

/// Starts Hourglass with the linked core on `server`.
pub async fn hourglass(server: &RunningServer, task_queue: &str) -> Hourglass {
    Hourglass::start(config(Core::linked(), server, task_queue))
        .await
        .expect("hourglass starts")
}

/// An official Temporal client for `server`.
pub async fn client(server: &RunningServer) -> Client {
    let url = url::Url::parse(&server.url()).expect("url");
    let conn = Connection::connect(
        ConnectionOptions::new(url)
            .identity("e2e-test@localhost")
            .build(),
    )
    .await
    .expect("client connects");
    Client::new(conn, ClientOptions::new("default").build()).expect("client")
}

/// Runs `fut` with a deadline, failing the test with `what` when it passes.
pub async fn within<T>(secs: u64, what: &str, fut: impl std::future::Future<Output = T>) -> T {
    match tokio::time::timeout(Duration::from_secs(secs), fut).await {
        Ok(v) => v,
        Err(_) => panic!("timed out after {secs}s: {what}"),
    }
}
