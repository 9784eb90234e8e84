//! `hourglass-devserver`: runs the embedded dev server standalone.
use clap::Parser;
use hourglass_devserver::{Database, DevServer};
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
    let server = match DevServer::builder()
        .ip(args.ip)
        .port(args.port)
        .database(db)
        .namespace(args.namespace)
        .start()
        .await
    {
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
