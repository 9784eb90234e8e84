//! `hourglass-devserver`: runs the embedded dev server standalone.
//!
//! It also takes Temporal's test-server command line (`<port> [--enable-time-skipping]`,
//! what the SDKs run as `temporal-test-server`): a port given as the first argument runs
//! the server in time-skipping mode, locked at start unless `--enable-time-skipping`.
use clap::Parser;
use hourglass_devserver::{Database, DevServer, TimeSkipping};
use std::path::PathBuf;

/// Command line.
#[derive(Parser, Debug)]
#[command(about = "Temporal-compatible dev server (SQLite)")]
struct Args {
    /// Address to bind.
    #[arg(long, default_value = "127.0.0.1")]
    ip: std::net::IpAddr,
    /// Port (0 = pick a free one; the chosen address is printed).
    #[arg(long, default_value_t = 7233)]
    port: u16,
    /// Temporal's test-server form: the port as the only argument turns on time skipping
    /// (locked until a client unlocks it, unless --enable-time-skipping).
    #[arg(value_name = "TEST_SERVER_PORT", conflicts_with = "port")]
    test_server_port: Option<u16>,
    /// Time skipping on, the clock jumping whenever nothing is outstanding.
    #[arg(long)]
    time_skipping: bool,
    /// With a test-server port: start with time skipping unlocked.
    #[arg(long, requires = "test_server_port")]
    enable_time_skipping: bool,
    /// SQLite database file; omit for in-memory.
    #[arg(long = "db-filename")]
    db: Option<PathBuf>,
    /// Namespace created at startup.
    #[arg(long, default_value = "default")]
    namespace: String,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let db = args.db.map(Database::Path).unwrap_or(Database::InMemory);
    let mut builder = DevServer::builder()
        .ip(args.ip)
        .port(args.test_server_port.unwrap_or(args.port))
        .database(db)
        .namespace(args.namespace);
    if args.time_skipping || args.enable_time_skipping {
        builder = builder.time_skipping(TimeSkipping::Unlocked);
    } else if args.test_server_port.is_some() {
        builder = builder.time_skipping(TimeSkipping::Locked);
    }
    let server = match builder.start().await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    // The address line is the readiness signal for supervisors and tests.
    println!("listening on {}", server.addr());
    tokio::select! {
        r = tokio::signal::ctrl_c() => { if let Err(e) = r { eprintln!("signal error: {e}"); } }
        _ = async {
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(mut s) => { s.recv().await; }
                Err(_) => std::future::pending::<()>().await,
            }
        } => {}
    }
    match server.shutdown().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
