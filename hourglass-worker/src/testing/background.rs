//! The environment's own thread and runtime: the in-memory dev server and the Hourglass
//! subsystem live there, so that dropping the environment can stop them synchronously from
//! any context.

use std::thread::JoinHandle;
use std::time::Duration;

use hourglass_bridge::Core;
use hourglass_devserver::{Database, DevServer, TimeSkipping};
use tokio::sync::oneshot;

use super::{Connections, TestEnvError};
use crate::activity::ActivityDefinitions;
use crate::subsystem::{Hourglass, SubsystemConfig};

/// What the thread needs to start.
pub(crate) struct Setup {
    pub core: Core,
    pub namespace: String,
    pub task_queue: String,
    pub activities: ActivityDefinitions,
    pub time_skipping: bool,
}

/// The running thread; stopping it shuts Hourglass down, then the server.
pub(crate) struct Background {
    stop: Option<oneshot::Sender<()>>,
    stopped: Option<oneshot::Receiver<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Background {
    /// Starts the thread and waits until the server listens, Hourglass's workers poll and
    /// the connections are up. Returns the server's URL and the connections, whose I/O runs
    /// on the environment's runtime (so they close even while the caller's thread blocks in
    /// a drop).
    pub(crate) async fn start(
        setup: Setup,
    ) -> Result<(Background, String, Connections), TestEnvError> {
        let (ready_tx, ready_rx) = oneshot::channel::<Ready>();
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let (stopped_tx, stopped_rx) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("hourglass-test-env".into())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .thread_name("hourglass-test-env-rt")
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = ready_tx.send(Err(TestEnvError::Runtime(e)));
                        return;
                    }
                };
                runtime.block_on(serve(setup, ready_tx, stop_rx));
                let _ = stopped_tx.send(());
            })
            .map_err(TestEnvError::Thread)?;
        let mut background = Background {
            stop: Some(stop_tx),
            stopped: Some(stopped_rx),
            thread: Some(thread),
        };
        match ready_rx.await {
            Ok(Ok((url, connections))) => Ok((background, url, connections)),
            Ok(Err(e)) => {
                background.join();
                Err(e)
            }
            Err(_) => {
                background.join();
                Err(TestEnvError::Gone)
            }
        }
    }

    /// Stops everything and waits for it without blocking the caller's runtime.
    pub(crate) async fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(stopped) = self.stopped.take() {
            let _ = stopped.await;
        }
        self.join();
    }

    /// Stops everything, blocking the calling thread until it is down.
    pub(crate) fn stop_blocking(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.join();
    }

    fn join(&mut self) {
        if let Some(thread) = self.thread.take()
            && thread.join().is_err()
        {
            tracing::error!("the test environment's thread panicked");
        }
    }
}

type Ready = Result<(String, Connections), TestEnvError>;

async fn serve(setup: Setup, ready: oneshot::Sender<Ready>, stop: oneshot::Receiver<()>) {
    let mut builder = DevServer::builder()
        .port(0)
        .database(Database::InMemory)
        .namespace(setup.namespace.clone())
        .without_http_api();
    if setup.time_skipping {
        // Locked from the start, as the official SDKs' test servers: the environment
        // unlocks while it waits on results and sleeps.
        builder = builder.time_skipping(TimeSkipping::Locked);
    }
    let server = match builder.start().await {
        Ok(s) => s,
        Err(e) => {
            let _ = ready.send(Err(TestEnvError::Server(e)));
            return;
        }
    };
    let url = server.url();
    let hourglass = match subsystem_config(&setup, &url) {
        Ok(config) => Hourglass::start(config)
            .await
            .map_err(TestEnvError::Subsystem),
        Err(e) => Err(e),
    };
    let hourglass = match hourglass {
        Ok(h) => h,
        Err(e) => {
            let _ = ready.send(Err(e));
            stop_server(server).await;
            return;
        }
    };
    let connections = match Connections::open(&url, &setup.namespace, setup.time_skipping).await {
        Ok(c) => c,
        Err(e) => {
            let _ = ready.send(Err(e));
            hourglass.shutdown().await;
            stop_server(server).await;
            return;
        }
    };
    tracing::info!(%url, task_queue = %setup.task_queue, time_skipping = setup.time_skipping, "test environment started");
    if ready.send(Ok((url, connections))).is_ok() {
        // Resolves on stop() and when the environment is dropped.
        let _ = stop.await;
    }
    let exit = hourglass.shutdown().await;
    tracing::info!(?exit, "test environment: hourglass stopped");
    stop_server(server).await;
}

fn subsystem_config(setup: &Setup, url: &str) -> Result<SubsystemConfig, TestEnvError> {
    let mut config = SubsystemConfig::new(setup.core.clone(), url, setup.namespace.clone())?;
    config.task_queues = vec![setup.task_queue.clone()];
    config.activities = setup.activities.clone();
    config.drain_timeout = Duration::from_secs(10);
    Ok(config)
}

async fn stop_server(server: hourglass_devserver::RunningServer) {
    if let Err(e) = server.shutdown().await {
        tracing::warn!(error = %e, "test environment: the dev server did not stop cleanly");
    }
}
