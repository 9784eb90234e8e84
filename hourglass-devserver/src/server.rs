//! Starting and stopping the dev server.
use crate::engine::Engine;
use crate::error::{DevServerError, Result};
use crate::frontend::authorization::ApiKeys;
use crate::frontend::http_api::{Bindings, HttpApi};
use crate::frontend::http_server;
use crate::frontend::operator_service::Operator;
use crate::frontend::test_service::TimeSkipping as TimeSkippingService;
use crate::frontend::tls::ServerTls;
use crate::frontend::workflow_service::Service;
use crate::generated::workflow_service_server::WorkflowServiceServer;
use crate::generated_operator::operator_service_server::OperatorServiceServer;
use crate::generated_test::test_service_server::TestServiceServer;
use crate::history::limits::HistoryLimits;
use crate::persistence::store::Database;
use crate::timers::time_source::TimeSource;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

/// Configures a dev server. Defaults: 127.0.0.1, port 7233, in-memory, namespace `default`.
#[derive(Debug, Clone)]
pub struct DevServerBuilder {
    ip: IpAddr,
    port: u16,
    database: Database,
    namespace: String,
    history_limits: HistoryLimits,
    retention: Option<std::time::Duration>,
    retention_jitter: std::time::Duration,
    closed_cache_capacity: usize,
    tls: Option<ServerTls>,
    api_keys: ApiKeys,
    search_attributes: Vec<(String, String)>,
    http_port: Option<u16>,
    ui_port: Option<u16>,
    ui_extension: Option<crate::ui::UiExtension>,
    time_skipping: Option<TimeSkipping>,
    batcher: crate::batcher::BatcherSettings,
}

/// How a time-skipping server's clock starts (see [`DevServerBuilder::time_skipping`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeSkipping {
    /// The clock jumps to the next timer whenever nothing is outstanding (Temporal's test
    /// server with `--enable-time-skipping`).
    Unlocked,
    /// One lock is held from the start: time runs with the wall clock until a client calls
    /// UnlockTimeSkipping (Temporal's test server by default, and what the SDKs'
    /// time-skipping environments expect: they unlock while they wait on a result).
    Locked,
}

/// Entry point: `DevServer::builder()`.
pub struct DevServer;

impl DevServer {
    /// A builder with the defaults.
    pub fn builder() -> DevServerBuilder {
        DevServerBuilder {
            ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: 7233,
            database: Database::InMemory,
            namespace: "default".into(),
            history_limits: HistoryLimits::default(),
            retention: None,
            retention_jitter: crate::history::retention::DEFAULT_RETENTION_JITTER,
            closed_cache_capacity: crate::history::cache::CLOSED_CACHE_CAPACITY,
            tls: None,
            api_keys: ApiKeys::default(),
            search_attributes: Vec::new(),
            http_port: Some(0),
            ui_port: None,
            ui_extension: None,
            time_skipping: None,
            batcher: crate::batcher::BatcherSettings::default(),
        }
    }
}

impl DevServerBuilder {
    /// The port to listen on; 0 picks a free one (see [`RunningServer::addr`]).
    pub fn port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// The address to bind (loopback by default).
    pub fn ip(mut self, ip: IpAddr) -> Self {
        self.ip = ip;
        self
    }

    /// Where state lives.
    pub fn database(mut self, db: Database) -> Self {
        self.database = db;
        self
    }

    /// Shorthand for `database(Database::Path(path))`.
    pub fn database_path(self, path: impl Into<PathBuf>) -> Self {
        self.database(Database::Path(path.into()))
    }

    /// The namespace that always exists (created if missing).
    pub fn namespace(mut self, ns: impl Into<String>) -> Self {
        self.namespace = ns.into();
        self
    }

    /// The per-execution history limits (Temporal's defaults unless set): a running
    /// workflow whose history goes over one is terminated with the limit as the reason.
    pub fn history_limits(mut self, limits: HistoryLimits) -> Self {
        self.history_limits = limits;
        self
    }

    /// Up to how long after its retention a closed run is deleted: each run's deletion time
    /// gets a random jitter in `[0, jitter)`, as Temporal's
    /// `history.retentionTimerJitterDuration` (30 min unless set; zero deletes on time).
    pub fn retention_jitter(mut self, jitter: std::time::Duration) -> Self {
        self.retention_jitter = jitter;
        self
    }

    /// How long the default namespace keeps closed runs (24 h unless set; kept in the
    /// database once set). Closed runs are deleted with their histories once it passed.
    pub fn retention(mut self, retention: std::time::Duration) -> Self {
        self.retention = Some(retention);
        self
    }

    /// How many closed runs a durable server keeps in memory (1,000 unless set); older
    /// ones stay in the database and are read back when a request names them. Without a
    /// database nothing is evicted, since memory is all the state there is.
    pub fn closed_cache_capacity(mut self, capacity: usize) -> Self {
        self.closed_cache_capacity = capacity;
        self
    }

    /// Serves TLS (mutual TLS when the settings name a client CA) instead of plaintext.
    pub fn tls(mut self, tls: ServerTls) -> Self {
        self.tls = Some(tls);
        self
    }

    /// Refuses every request that does not carry `authorization: Bearer <key>` with one
    /// of these keys (Unauthenticated, before any handler runs). No keys: no check.
    pub fn api_keys(mut self, keys: ApiKeys) -> Self {
        self.api_keys = keys;
        self
    }

    /// The port of Temporal's HTTP API (`/namespaces/...` and `/api/v1/...`, proto-JSON),
    /// on the same address as gRPC. 0, the default, picks a free port, as
    /// `temporal server start-dev` does unless `--http-port` is given; see
    /// [`RunningServer::http_addr`].
    pub fn http_port(mut self, port: u16) -> Self {
        self.http_port = Some(port);
        self
    }

    /// Serves no HTTP API (gRPC only).
    pub fn without_http_api(mut self) -> Self {
        self.http_port = None;
        self
    }

    /// Serves the Web UI (and the `/api/v1/...` HTTP API it calls) on this port, on the
    /// same address as gRPC; 0 picks a free one (see [`RunningServer::ui_addr`]). Off
    /// unless set: the command line sets it to the gRPC port + 1000 unless `--headless`.
    pub fn ui_port(mut self, port: u16) -> Self {
        self.ui_port = Some(port);
        self
    }

    /// Pages an embedding program adds to the Web UI (see [`crate::UiExtension`]); used
    /// only when [`DevServerBuilder::ui_port`] is set.
    pub fn ui_extension(mut self, extension: crate::UiExtension) -> Self {
        self.ui_extension = Some(extension);
        self
    }

    /// Runs the server on a virtual clock with Temporal's test-server semantics, and serves
    /// Temporal's TestService (LockTimeSkipping, UnlockTimeSkipping, Sleep, SleepUntil,
    /// UnlockTimeSkippingWithSleep, GetCurrentTime): when no workflow task, activity or
    /// query is outstanding and no lock is held, time jumps to the next timer. Event times,
    /// timeouts, retry backoffs, run timeouts and schedules all follow the virtual clock.
    pub fn time_skipping(mut self, start: TimeSkipping) -> Self {
        self.time_skipping = Some(start);
        self
    }

    /// The batch-operation limits: running jobs per namespace, the most operations per
    /// second a job makes, and how many it has in flight ([`crate::BatcherSettings`];
    /// Temporal's defaults 1, 50 and 5 unless set).
    pub fn batcher(mut self, settings: crate::batcher::BatcherSettings) -> Self {
        self.batcher = settings;
        self
    }

    /// Opens the database, binds, and serves in the background. Errors are returned (port
    /// in use, unreadable database, unusable TLS files), never panics.
    pub async fn start(self) -> Result<RunningServer> {
        let addr = SocketAddr::new(self.ip, self.port);
        let tls = self.tls.as_ref().map(ServerTls::load).transpose()?;
        let mut transport = tonic::transport::Server::builder();
        if let Some(cfg) = tls {
            transport = transport
                .tls_config(cfg)
                .map_err(|e| DevServerError::Tls(error_chain(&e)))?;
        }
        self.warn_if_exposed();
        let db = self.database.clone();
        let ns = self.namespace.clone();
        let clock = Arc::new(match self.time_skipping {
            None => TimeSource::wall(),
            Some(start) => TimeSource::skipping(start == TimeSkipping::Locked),
        });
        let jitter = self.retention_jitter;
        let engine =
            tokio::task::spawn_blocking(move || Engine::open_with_clock(&db, &ns, clock, jitter))
                .await
                .map_err(|e| DevServerError::Corrupt {
                    what: "startup".into(),
                    detail: e.to_string(),
                })??;
        engine.set_history_limits(self.history_limits);
        engine.set_closed_cache_capacity(self.closed_cache_capacity);
        engine.set_batcher_settings(self.batcher);
        if let Some(r) = self.retention {
            engine.set_retention(&self.namespace, r);
        }
        self.register_search_attributes(&engine).await?;
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|source| DevServerError::Bind { addr, source })?;
        let local = listener
            .local_addr()
            .map_err(|source| DevServerError::Bind { addr, source })?;
        engine.set_host_address(local);
        let svc = WorkflowServiceServer::new(Service::new(engine.clone()))
            .max_decoding_message_size(128 * 1024 * 1024)
            .max_encoding_message_size(128 * 1024 * 1024)
            // Clients gzip their requests by default; answers go back uncompressed, since
            // compressing on a loopback link only costs CPU on both ends.
            .accept_compressed(tonic::codec::CompressionEncoding::Gzip);
        let operator = OperatorServiceServer::new(Operator::new(engine.clone()))
            .accept_compressed(tonic::codec::CompressionEncoding::Gzip);
        // Only Temporal's test server serves the TestService; a dev server answers
        // Unimplemented for it.
        let test_service = self.time_skipping.map(|_| {
            TestServiceServer::new(TimeSkippingService::new(engine.clone()))
                .accept_compressed(tonic::codec::CompressionEncoding::Gzip)
        });
        let eng2 = engine.clone();
        // Without TCP_NODELAY an answer's HTTP/2 frames wait on the peer's delayed ACK (tens
        // of ms per call); tonic sets it only on listeners it binds itself.
        let incoming = tokio_stream::StreamExt::map(
            tokio_stream::wrappers::TcpListenerStream::new(listener),
            |conn| {
                let conn = conn?;
                if let Err(e) = conn.set_nodelay(true) {
                    tracing::debug!(error = %e, "TCP_NODELAY not set on a connection");
                }
                Ok::<_, std::io::Error>(conn)
            },
        );
        let auth = tonic::service::InterceptorLayer::new(self.api_keys.clone());
        let http = self
            .start_http(&engine, svc.clone(), operator.clone(), auth.clone())
            .await?;
        // Timers start once every listener is bound: a failed start leaves nothing running.
        let stop = Arc::new(Notify::new());
        let timers = tokio::spawn(engine.clone().run_timers(stop.clone()));
        engine.resume_batch_jobs();
        let serve = tokio::spawn(async move {
            transport
                .layer(auth)
                .add_service(svc)
                .add_service(operator)
                .add_optional_service(test_service)
                .serve_with_incoming_shutdown(incoming, async move { eng2.closed().await })
                .await
        });
        tracing::info!(
            addr = %local,
            database = ?self.database,
            tls = self.tls.is_some(),
            time_skipping = ?self.time_skipping,
            mutual_tls = self.tls.as_ref().is_some_and(|t| t.client_ca_path.is_some()),
            api_keys = self.api_keys.len(),
            http_api = ?http.api_addr,
            web_ui = ?http.ui_addr,
            "dev server started"
        );
        Ok(RunningServer {
            addr: local,
            http,
            stop,
            engine,
            serve: Some(serve),
            timers: Some(timers),
            tls: self.tls.is_some(),
        })
    }
}

impl DevServerBuilder {
    /// Binds and serves the HTTP API and the Web UI, as configured. Both go through the
    /// same gRPC services and API-key check as gRPC callers (Temporal's inline client
    /// connection), so they answer exactly what gRPC would.
    async fn start_http(
        &self,
        engine: &Arc<Engine>,
        svc: WorkflowServiceServer<Service>,
        operator: OperatorServiceServer<Operator>,
        auth: tonic::service::InterceptorLayer<ApiKeys>,
    ) -> Result<HttpListeners> {
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let mut out = HttpListeners {
            stop,
            ..HttpListeners::default()
        };
        if self.http_port.is_none() && self.ui_port.is_none() {
            return Ok(out);
        }
        let api = HttpApi::new(svc, operator, auth)?;
        if let Some(port) = self.http_port {
            let listener = bind(SocketAddr::new(self.ip, port)).await?;
            out.api_addr = listener.local_addr().ok();
            let router = api.router(Bindings::All);
            out.tasks.push(http_server::serve(
                "HTTP API",
                listener,
                router,
                stopped.clone(),
            ));
        }
        if let Some(port) = self.ui_port {
            let listener = bind(SocketAddr::new(self.ip, port)).await?;
            out.ui_addr = listener.local_addr().ok();
            let state = crate::ui::UiState::new(engine.clone());
            let router = crate::ui::router(state, self.ui_extension.clone())
                .merge(api.router(Bindings::ApiV1));
            out.tasks
                .push(http_server::serve("Web UI", listener, router, stopped));
        }
        Ok(out)
    }

    /// Registers a custom search attribute in the default namespace at start-up, as
    /// `temporal server start-dev --search-attribute NAME=TYPE` (TYPE: Text, Keyword, Int,
    /// Double, Bool, Datetime or KeywordList). A bad name or type fails the start.
    pub fn search_attribute(mut self, name: impl Into<String>, type_name: &str) -> Self {
        self.search_attributes
            .push((name.into(), type_name.to_string()));
        self
    }

    async fn register_search_attributes(&self, engine: &Engine) -> Result<()> {
        use crate::visibility::search_attributes::parse_type;
        if self.search_attributes.is_empty() {
            return Ok(());
        }
        let mut attrs = std::collections::HashMap::new();
        for (name, ty) in &self.search_attributes {
            let t = parse_type(ty).ok_or_else(|| {
                DevServerError::Config(format!(
                    "--search-attribute {name}={ty}: unknown type (Text, Keyword, Int, Double, Bool, Datetime, KeywordList)"
                ))
            })?;
            attrs.insert(name.clone(), t);
        }
        let ns = self.namespace.clone();
        engine
            .with(|g| g.add_search_attributes(&ns, &attrs))
            .await
            .map_err(|e| DevServerError::Config(format!("--search-attribute: {}", e.message())))
    }

    /// Whether the bound address is reachable from other machines with nothing to stop
    /// a caller: neither TLS nor an API key.
    pub fn is_exposed(&self) -> bool {
        !self.ip.is_loopback() && self.tls.is_none() && !self.api_keys.is_enabled()
    }

    fn warn_if_exposed(&self) {
        if self.is_exposed() {
            tracing::warn!(
                ip = %self.ip,
                "the dev server binds a non-loopback address without TLS or an API key: anyone who reaches the port can start, signal and terminate workflows (serve TLS with --tls-cert-path/--tls-key-path and require --api-key, or bind 127.0.0.1)"
            );
        }
    }
}

async fn bind(addr: SocketAddr) -> Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| DevServerError::Bind { addr, source })
}

/// The HTTP listeners of a running server and how to stop them.
#[derive(Default)]
struct HttpListeners {
    api_addr: Option<SocketAddr>,
    ui_addr: Option<SocketAddr>,
    stop: tokio::sync::watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl HttpListeners {
    /// Stops accepting and waits for the open connections' requests to end.
    async fn shutdown(&mut self) {
        self.stop.send_replace(true);
        for t in self.tasks.drain(..) {
            if let Err(e) = t.await {
                tracing::warn!(error = %e, "HTTP listener task ended abnormally");
            }
        }
    }
}

/// Joins an error with its sources: tonic's TLS errors say what failed only in a source.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        out.push_str(": ");
        out.push_str(&s.to_string());
        cur = s.source();
    }
    out
}

/// A running server. Dropping it stops serving (without waiting); prefer [`Self::shutdown`].
pub struct RunningServer {
    addr: SocketAddr,
    http: HttpListeners,
    stop: Arc<Notify>,
    engine: Arc<Engine>,
    serve: Option<JoinHandle<std::result::Result<(), tonic::transport::Error>>>,
    timers: Option<JoinHandle<()>>,
    tls: bool,
}

impl RunningServer {
    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Where Temporal's HTTP API listens (`None` when it was turned off).
    pub fn http_addr(&self) -> Option<SocketAddr> {
        self.http.api_addr
    }

    /// Where the Web UI listens (`None` unless [`DevServerBuilder::ui_port`] was set).
    pub fn ui_addr(&self) -> Option<SocketAddr> {
        self.http.ui_addr
    }

    /// How many runs are in memory now: every open run, and the closed runs the cache
    /// holds (see [`DevServerBuilder::closed_cache_capacity`]).
    pub fn executions_in_memory(&self) -> usize {
        self.engine.executions_in_memory()
    }

    /// How many history events workflow task poll responses carried since the server
    /// started: with sticky workers, about one task's new events each; without, the whole
    /// history every time.
    pub fn workflow_task_events_delivered(&self) -> u64 {
        self.engine.workflow_task_events_delivered()
    }

    /// `http://ip:port` (`https://` when serving TLS), what Temporal clients take as a
    /// target URL.
    pub fn url(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}", self.addr)
    }

    /// Stops accepting, ends long polls and timers, and waits (at most 10 s) for in-flight
    /// requests to finish.
    pub async fn shutdown(mut self) -> Result<()> {
        self.engine.close();
        self.stop.notify_waiters();
        self.http.shutdown().await;
        if let Some(t) = self.timers.take() {
            t.abort();
            let _ = t.await;
        }
        if let Some(mut s) = self.serve.take() {
            match tokio::time::timeout(std::time::Duration::from_secs(10), &mut s).await {
                Ok(Ok(r)) => r?,
                Ok(Err(e)) => tracing::warn!(error = %e, "server task ended abnormally"),
                Err(_) => {
                    tracing::warn!("in-flight requests did not finish within 10s; aborting them");
                    s.abort();
                }
            }
        }
        tracing::info!(addr = %self.addr, "dev server stopped");
        Ok(())
    }

    /// Waits until the server stops on its own (error) — for the binary.
    pub async fn wait(mut self) -> Result<()> {
        if let Some(s) = self.serve.take() {
            match s.await {
                Ok(r) => r?,
                Err(e) => tracing::warn!(error = %e, "server task ended abnormally"),
            }
        }
        Ok(())
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        self.engine.close();
        self.stop.notify_waiters();
        if let Some(t) = &self.timers {
            t.abort();
        }
        self.http.stop.send_replace(true);
        if let Some(s) = &self.serve {
            s.abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_non_loopback_address_with_neither_tls_nor_a_key_is_exposed() {
        let any = IpAddr::V4(Ipv4Addr::UNSPECIFIED);
        assert!(DevServer::builder().ip(any).is_exposed());
        assert!(
            !DevServer::builder().is_exposed(),
            "the default is loopback"
        );
        let keyed = ApiKeys::new(["k"]).unwrap();
        assert!(!DevServer::builder().ip(any).api_keys(keyed).is_exposed());
        let tls = ServerTls::new("server.pem", "server.key");
        assert!(!DevServer::builder().ip(any).tls(tls).is_exposed());
    }
}
