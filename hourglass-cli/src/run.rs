//! `hourglass run` and `hourglass server start-dev`.

use crate::admin;
use crate::args::{RunArgs, StartDevArgs};
use crate::config::{Connection, DEFAULT_ADDRESS, FileConfig};
use crate::connection;
use crate::error::CliError;
use crate::workflow_commands;
use hourglass_bridge::config::{MetricsConfig, TlsConfig};
use hourglass_bridge::{Core, CoreWatcher, DEFAULT_SETTLE};
use hourglass_devserver::{
    ApiKeys, Database, DevServer, DevServerBuilder, RunningServer, ServerTls,
};
use hourglass_worker::external::ExternalPools;
use hourglass_worker::subsystem::{DEFAULT_TASK_QUEUE, Hourglass, SubsystemConfig};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Prints a status line on stdout, as `println!` would, but a closed stdout (a parent that
/// read the address line and closed its pipe, `| head -1`) does not stop the server or
/// the worker: the line is dropped and logged at debug level.
macro_rules! say {
    ($($arg:tt)*) => {
        say_line(format_args!($($arg)*))
    };
}

fn say_line(line: std::fmt::Arguments<'_>) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    if let Err(e) = writeln!(out, "{line}").and_then(|()| out.flush()) {
        tracing::debug!(error = %e, "stdout is closed; status line not shown");
    }
}

/// Default port of the embedded dev server (Temporal's usual frontend port).
pub const DEFAULT_PORT: u16 = 7233;
/// Default data directory of the embedded dev server (relative to the working directory).
pub const DEFAULT_DATA_DIR: &str = ".hourglass";
/// File name of the embedded dev server's database inside the data directory.
pub const DATABASE_FILE: &str = "hourglass.db";

/// How the core library is chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CoreChoice {
    /// The core compiled into this binary.
    Linked,
    /// A `libhourglass_core.so` file.
    Library(PathBuf),
}

impl CoreChoice {
    /// `--core linked|<path>`; without it, the library found next to the executable (or named
    /// by `HOURGLASS_CORE_LIB`), else the linked core.
    pub fn resolve(value: Option<&str>) -> CoreChoice {
        match value {
            Some("linked") => CoreChoice::Linked,
            Some(path) => CoreChoice::Library(PathBuf::from(path)),
            None => Core::locate_library()
                .map(CoreChoice::Library)
                .unwrap_or(CoreChoice::Linked),
        }
    }

    /// Loads the core; a missing or wrong library is a one-line error naming the fix.
    pub fn load(&self) -> Result<Core, CliError> {
        match self {
            CoreChoice::Linked => Ok(Core::linked()),
            CoreChoice::Library(path) => Core::load(path).map_err(|e| {
                CliError::Run(format!(
                    "{e} (build it with `cargo build -p hourglass-core`, or pass --core linked)"
                ))
            }),
        }
    }
}

/// Waits for SIGINT or SIGTERM; returns the signal's name.
async fn termination_signal() -> &'static str {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) {
            (Ok(mut term), Ok(mut int)) => tokio::select! {
                _ = term.recv() => "SIGTERM",
                _ = int.recv() => "SIGINT",
            },
            _ => {
                let _ = tokio::signal::ctrl_c().await;
                "SIGINT"
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
        "SIGINT"
    }
}

/// After the first signal: a second one exits at once (status 130), skipping the drain.
fn force_exit_on_second_signal() {
    tokio::spawn(async {
        let name = termination_signal().await;
        eprintln!("hourglass: second {name}: exiting without draining");
        std::process::exit(130);
    });
}

fn loopback(port: u16) -> SocketAddr {
    SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port)
}

/// Starts the embedded dev server; a port in use, an unusable data directory or unusable
/// TLS files are a clear error.
async fn start_dev_server(builder: DevServerBuilder, port: u16) -> Result<RunningServer, CliError> {
    builder.port(port).start().await.map_err(|e| {
        let text = e.to_string();
        if text.to_lowercase().contains("address already in use") || text.contains("in use") {
            CliError::Run(format!(
                "a port is already in use: {text} (stop the other server, or pass --port, --ui-port, --http-port or --headless; gRPC asked for {port})"
            ))
        } else {
            CliError::Run(format!("cannot start the embedded dev server: {text}"))
        }
    })
}

/// The Web UI and HTTP API flags as given to `start-dev` and `run`.
#[derive(Debug, Clone, Copy)]
pub struct HttpFlags {
    /// `--ui-port`.
    pub ui_port: Option<u16>,
    /// `--headless`.
    pub headless: bool,
    /// `--http-port`.
    pub http_port: Option<u16>,
}

impl HttpFlags {
    /// Applies the flags: the Web UI on `--ui-port` or the gRPC port + 1000 (a free port
    /// when gRPC's is 0) unless `--headless`; the HTTP API on `--http-port` or a free port.
    pub fn apply(
        self,
        mut builder: DevServerBuilder,
        port: u16,
    ) -> Result<DevServerBuilder, CliError> {
        if !self.headless {
            let ui = match self.ui_port {
                Some(p) => p,
                None if port == 0 => 0,
                None => port.checked_add(1000).ok_or_else(|| CliError::InvalidValue {
                    what: "--ui-port".into(),
                    message: format!(
                        "the default (port {port} + 1000) is past 65535; pass --ui-port or --headless"
                    ),
                })?,
            };
            builder = builder.ui_port(ui);
        }
        if let Some(p) = self.http_port {
            builder = builder.http_port(p);
        }
        Ok(builder)
    }
}

/// The start-up lines naming the Web UI and HTTP API addresses.
fn print_http(server: &RunningServer) {
    if let Some(ui) = server.ui_addr() {
        say!("  web UI       http://{ui}");
    }
    if let Some(api) = server.http_addr() {
        say!("  HTTP API     http://{api}");
    }
}

fn database_for(
    data_dir: Option<PathBuf>,
    ephemeral: bool,
) -> Result<(Database, String), CliError> {
    if ephemeral {
        return Ok((Database::InMemory, "in memory".into()));
    }
    let dir = data_dir.unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR));
    std::fs::create_dir_all(&dir).map_err(|e| {
        CliError::Run(format!(
            "cannot create data directory {}: {e} (pass --data-dir or --ephemeral)",
            dir.display()
        ))
    })?;
    let path = dir.join(DATABASE_FILE);
    let shown = path.display().to_string();
    Ok((Database::Path(path), shown))
}

fn read_pem(path: &std::path::Path, what: &'static str) -> Result<Vec<u8>, CliError> {
    std::fs::read(path).map_err(|source| CliError::FileRead {
        what,
        path: path.to_path_buf(),
        source,
    })
}

fn free_loopback_port() -> Result<u16, CliError> {
    std::net::TcpListener::bind(loopback(0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| CliError::Run(format!("cannot find a free loopback port: {e}")))
}

/// Everything `hourglass run` started, stopped in reverse on the way out.
struct Started {
    server: Option<RunningServer>,
    tree: crate::ui_tree::TreeSource,
    app: Option<Arc<Hourglass>>,
    _watcher: Option<CoreWatcher>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Started {
    async fn stop(mut self) {
        for t in self.tasks.drain(..) {
            t.abort();
        }
        if let Some(app) = self.app.take() {
            let exit = app.shutdown().await;
            tracing::info!(reason = %exit, "subsystem stopped");
        }
        if let Some(server) = self.server.take()
            && let Err(e) = server.shutdown().await
        {
            tracing::warn!(error = %e, "dev server shutdown");
        }
    }
}

/// The most threads `--core-threads` accepts (the core refuses more).
const MAX_CORE_THREADS: u32 = 1024;

/// `hourglass run`.
pub async fn cmd_run(args: RunArgs, file: &FileConfig) -> Result<(), CliError> {
    let run_file = &file.run;
    let mut task_queues = args.task_queues.clone();
    if task_queues.is_empty() {
        task_queues = run_file
            .task_queues
            .clone()
            .unwrap_or_else(|| vec![DEFAULT_TASK_QUEUE.to_string()]);
    }
    if let Some(bad) = task_queues.iter().find(|t| t.trim().is_empty()) {
        return Err(CliError::InvalidValue {
            what: "--task-queue".into(),
            message: format!("`{bad}` is empty"),
        });
    }
    let embedded = args.connection.address.is_none() && file.address.is_none();
    let choice = CoreChoice::resolve(args.core.as_deref().or(run_file.core.as_deref()));
    let watch_core = args.watch_core || run_file.watch_core.unwrap_or(false);
    if watch_core && choice == CoreChoice::Linked {
        return Err(CliError::InvalidValue {
            what: "--watch-core".into(),
            message:
                "the linked core has no file to watch; pass --core <path to libhourglass_core.so>"
                    .into(),
        });
    }
    let core_threads = args.core_threads.or(run_file.core_threads);
    if let Some(n) = core_threads
        && n > MAX_CORE_THREADS
    {
        return Err(CliError::InvalidValue {
            what: "--core-threads".into(),
            message: format!(
                "{n} is too many; use 0 (half the CPU cores) or a count up to {MAX_CORE_THREADS}"
            ),
        });
    }
    let admin_addr = args
        .admin
        .clone()
        .or_else(|| run_file.admin.clone())
        .unwrap_or_else(|| admin::DEFAULT_ADMIN.to_string());
    let metrics_addr = args.metrics.clone().or_else(|| run_file.metrics.clone());
    // Everything that can be checked before starting anything is checked here.
    let core = choice.load()?;
    let port = args.port.or(run_file.port).unwrap_or(DEFAULT_PORT);
    let data_dir = args
        .data_dir
        .clone()
        .or_else(|| run_file.data_dir.clone())
        .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR));
    let (database, database_shown) = if embedded {
        database_for(
            Some(data_dir.clone()),
            args.ephemeral || run_file.ephemeral.unwrap_or(false),
        )?
    } else {
        (Database::InMemory, String::new())
    };
    let external_pools = if file.pools.is_empty() {
        None
    } else {
        Some(
            ExternalPools::new(file.pools.clone(), data_dir.join("pools"))
                .map_err(|e| CliError::Run(format!("[[pools]] in the config: {e}")))?,
        )
    };

    let mut started = Started {
        server: None,
        tree: crate::ui_tree::TreeSource::default(),
        app: None,
        _watcher: None,
        tasks: Vec::new(),
    };
    let result = start_all(
        &args,
        file,
        embedded,
        core,
        port,
        database,
        task_queues.clone(),
        external_pools,
        watch_core,
        core_threads,
        &admin_addr,
        metrics_addr.as_deref(),
        &mut started,
    )
    .await;
    let (conn, admin_bound) = match result {
        Ok(v) => v,
        Err(e) => {
            started.stop().await;
            return Err(e);
        }
    };

    say!("Hourglass is running.");
    if embedded {
        say!(
            "  dev server   {} (database {database_shown})",
            conn.address
        );
    } else {
        say!("  server       {}", conn.address);
    }
    if let Some(server) = &started.server {
        print_http(server);
    }
    say!("  namespace    {}", conn.namespace);
    say!("  task queues  {}", task_queues.join(", "));
    say!(
        "  core         {}",
        match &choice {
            CoreChoice::Linked => "linked".to_string(),
            CoreChoice::Library(p) => format!(
                "{}{}",
                p.display(),
                if watch_core { " (watched)" } else { "" }
            ),
        }
    );
    say!("  admin        http://{admin_bound}/tree  (hourglass tree --admin {admin_bound})");
    if embedded {
        self_check(&conn, &task_queues[0]).await;
        say!(
            "Try: hourglass workflow execute --address {} --type GreetingWorkflow --task-queue {} --input '\"World\"'",
            conn.address,
            task_queues[0]
        );
    }
    say!("Stop with Ctrl-C (a second Ctrl-C exits without draining).");

    let app = started.app.clone();
    let signal = async {
        let name = termination_signal().await;
        force_exit_on_second_signal();
        name
    };
    tokio::select! {
        name = signal => {
            tracing::info!(signal = name, "shutting down gracefully");
            say!("Received {name}: draining workers...");
            started.stop().await;
            say!("Hourglass stopped.");
            Ok(())
        }
        exit = async { match &app { Some(a) => a.wait().await, None => std::future::pending().await } } => {
            started.stop().await;
            Err(CliError::Run(format!("the supervision tree stopped on its own: {exit}")))
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn start_all(
    args: &RunArgs,
    file: &FileConfig,
    embedded: bool,
    core: Core,
    port: u16,
    database: Database,
    task_queues: Vec<String>,
    external_pools: Option<ExternalPools>,
    watch_core: bool,
    core_threads: Option<u32>,
    admin_addr: &str,
    metrics_addr: Option<&str>,
    started: &mut Started,
) -> Result<(Connection, SocketAddr), CliError> {
    let default_address = if embedded {
        let builder = args
            .http_flags()
            .apply(DevServer::builder().database(database), port)?;
        let builder = builder.ui_extension(crate::ui_tree::extension(started.tree.clone()));
        let server = start_dev_server(builder, port).await?;
        let address = server.addr().to_string();
        started.server = Some(server);
        address
    } else {
        DEFAULT_ADDRESS.to_string()
    };
    let conn = Connection::resolve(&args.connection, file, &default_address)?;
    started.tree.set_core(core.clone());
    let mut config = SubsystemConfig::new(core.clone(), conn.url.clone(), conn.namespace.clone())
        .map_err(|e| CliError::Run(format!("workflow/activity registrations: {e}")))?;
    config.task_queues = task_queues;
    config.external_pools = external_pools;
    if let Some(n) = core_threads {
        config.runtime.worker_threads = n;
    }
    config.client.api_key = conn.api_key.clone().unwrap_or_default();
    config.client.client_version = env!("CARGO_PKG_VERSION").to_string();
    if let Some(tls) = &conn.tls {
        config.client.tls = Some(TlsConfig {
            server_root_ca_cert: match &tls.ca_path {
                Some(p) => read_pem(p, "TLS server CA certificate")?,
                None => Vec::new(),
            },
            domain: tls.server_name.clone().unwrap_or_default(),
            client_cert: match &tls.cert_path {
                Some(p) => read_pem(p, "TLS client certificate")?,
                None => Vec::new(),
            },
            client_private_key: match &tls.key_path {
                Some(p) => read_pem(p, "TLS client key")?,
                None => Vec::new(),
            },
        });
    }
    let core_metrics = match metrics_addr {
        Some(_) => {
            let port = free_loopback_port()?;
            config.runtime.metrics = Some(MetricsConfig {
                prometheus_bind_address: loopback(port).to_string(),
                ..Default::default()
            });
            Some(loopback(port))
        }
        None => None,
    };
    let app = Hourglass::start(config).await.map_err(|e| {
        let text = e.to_string();
        if text.contains("connect") {
            CliError::Run(format!(
                "cannot connect to Temporal at {}: {}",
                conn.address,
                connection::explain_transport_error(&text, &conn)
            ))
        } else {
            CliError::Run(format!("cannot start the worker subsystem: {text}"))
        }
    })?;
    let app = Arc::new(app);
    started.app = Some(app.clone());
    started.tree.set(app.clone(), core_metrics);
    if watch_core {
        let watcher = core
            .watch(DEFAULT_SETTLE)
            .map_err(|e| CliError::Run(format!("--watch-core: {e}")))?;
        started._watcher = Some(watcher);
    }
    let (admin_bound, admin_task) = admin::serve(admin_addr, app.clone(), core_metrics).await?;
    started.tasks.push(admin_task);
    if let Some(addr) = metrics_addr {
        let (bound, task) = admin::serve(addr, app, core_metrics).await?;
        say!("  metrics      http://{bound}/metrics");
        started.tasks.push(task);
    }
    Ok((conn, admin_bound))
}

/// Runs the greeting example once so a newcomer sees a workflow complete.
async fn self_check(conn: &Connection, task_queue: &str) {
    let args = crate::args::StartArgs {
        connection: Default::default(),
        workflow_type: "GreetingWorkflow".into(),
        task_queue: task_queue.to_string(),
        workflow_id: Some(format!("hourglass-self-check-{}", uuid::Uuid::new_v4())),
        input: crate::args::InputArgs {
            input: vec!["\"Hourglass\"".into()],
            input_file: None,
        },
        execution_timeout: Some(60),
        output: Default::default(),
    };
    let outcome = async {
        let mut client = connection::connect(conn).await?;
        let (wid, rid) = workflow_commands::start(&mut client, &conn.namespace, &args).await?;
        workflow_commands::result(&mut client, &conn.namespace, &wid, Some(&rid)).await
    };
    match tokio::time::timeout(Duration::from_secs(60), outcome).await {
        Ok(Ok(value)) => say!("Self-check: GreetingWorkflow completed with {value}"),
        Ok(Err(e)) => say!("Self-check failed: {e}"),
        Err(_) => say!("Self-check did not complete within 60 s"),
    }
}

/// `hourglass server start-dev`.
pub async fn cmd_start_dev(args: StartDevArgs) -> Result<(), CliError> {
    let ip: IpAddr = match &args.ip {
        Some(ip) => ip.parse().map_err(|_| CliError::InvalidValue {
            what: "--ip".into(),
            message: format!("`{ip}` is not an IP address"),
        })?,
        None => IpAddr::V4(Ipv4Addr::LOCALHOST),
    };
    let port = args.port.unwrap_or(DEFAULT_PORT);
    let (database, shown) = match &args.db_filename {
        Some(path) => (Database::Path(path.clone()), path.display().to_string()),
        None => (Database::InMemory, "in memory".to_string()),
    };
    let mut builder = DevServer::builder().ip(ip).database(database);
    if let Some(ns) = &args.namespace {
        builder = builder.namespace(ns);
    }
    if !args.dynamic_config_values.is_empty() {
        let mut settings = hourglass_devserver::dynamic_config::DynamicSettings::default();
        hourglass_devserver::dynamic_config::apply(&args.dynamic_config_values, &mut settings)
            .map_err(|e| CliError::InvalidValue {
                what: "--dynamic-config-value".into(),
                message: e.to_string(),
            })?;
        builder = builder
            .history_limits(settings.history_limits)
            .retention_jitter(settings.retention_jitter)
            .batcher(settings.batcher);
    }
    for entry in &args.search_attributes {
        let (name, ty) = entry
            .split_once('=')
            .ok_or_else(|| CliError::InvalidValue {
                what: "--search-attribute".into(),
                message: format!("`{entry}`: expected NAME=TYPE, e.g. CustomerId=Keyword"),
            })?;
        builder = builder.search_attribute(name.trim(), ty.trim());
    }
    if args.time_skipping {
        builder = builder.time_skipping(hourglass_devserver::TimeSkipping::Unlocked);
    }
    let (builder, security) = secure_dev_server(builder, &args)?;
    let builder = args.http_flags().apply(builder, port)?;
    let server = start_dev_server(builder, port).await?;
    let clock = if args.time_skipping {
        ", time skipping"
    } else {
        ""
    };
    say!(
        "Temporal dev server listening on {} (database {shown}{security}{clock})",
        server.addr()
    );
    print_http(&server);
    let name = termination_signal().await;
    force_exit_on_second_signal();
    say!("Received {name}: stopping the dev server");
    server
        .shutdown()
        .await
        .map_err(|e| CliError::Run(format!("dev server shutdown: {e}")))
}

/// Applies `start-dev`'s TLS and API-key flags; returns the builder and what it requires, as
/// printed at start-up (`, TLS, 2 API keys`). Never prints a key.
fn secure_dev_server(
    mut builder: DevServerBuilder,
    args: &StartDevArgs,
) -> Result<(DevServerBuilder, String), CliError> {
    let mut shown = String::new();
    match (&args.tls_cert_path, &args.tls_key_path) {
        (Some(cert), Some(key)) => {
            let mut tls = ServerTls::new(cert, key);
            if let Some(ca) = &args.tls_client_ca_path {
                tls = tls.client_ca(ca);
                shown.push_str(", mutual TLS");
            } else {
                shown.push_str(", TLS");
            }
            builder = builder.tls(tls);
        }
        (None, None) if args.tls_client_ca_path.is_some() => {
            return Err(CliError::InvalidValue {
                what: "--tls-client-ca-path".into(),
                message: "needs --tls-cert-path and --tls-key-path (mutual TLS is TLS first)"
                    .into(),
            });
        }
        (None, None) => {}
        _ => {
            return Err(CliError::InvalidValue {
                what: "--tls-cert-path/--tls-key-path".into(),
                message: "give both or neither".into(),
            });
        }
    }
    let invalid = |e: hourglass_devserver::DevServerError| CliError::InvalidValue {
        what: "--api-key".into(),
        message: e.to_string(),
    };
    let mut keys = ApiKeys::new(&args.api_keys).map_err(invalid)?;
    if let Some(path) = &args.api_key_file {
        keys = keys.merge(&ApiKeys::from_file(path).map_err(invalid)?);
    }
    match keys.len() {
        0 => {}
        1 => shown.push_str(", 1 API key"),
        n => shown.push_str(&format!(", {n} API keys")),
    }
    Ok((builder.api_keys(keys), shown))
}

#[cfg(test)]
mod http_flag_tests {
    use super::*;

    fn flags(ui_port: Option<u16>, headless: bool) -> HttpFlags {
        HttpFlags {
            ui_port,
            headless,
            http_port: None,
        }
    }

    #[test]
    fn the_default_ui_port_past_65535_is_a_clear_error() {
        let err = flags(None, false)
            .apply(DevServer::builder(), 65_000)
            .unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("--ui-port") && text.contains("65535"),
            "{text}"
        );
        // An explicit port or --headless avoids it.
        assert!(
            flags(Some(8233), false)
                .apply(DevServer::builder(), 65_000)
                .is_ok()
        );
        assert!(
            flags(None, true)
                .apply(DevServer::builder(), 65_000)
                .is_ok()
        );
    }
}
