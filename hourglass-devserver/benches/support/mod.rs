//! What the bench binaries share: knowing when `cargo test` runs them, the official Rust
//! SDK client they connect with, the echo activity their workflows run, and reading their
//! size settings and the machine's load from the environment. Each bench includes this file as a module and uses part of it.
#![allow(dead_code)]

use temporalio_client::{Client, ClientOptions, Connection, ConnectionOptions};
use temporalio_macros::activities;
use temporalio_sdk::activities::{ActivityContext, ActivityError};

/// A client of the official Rust SDK on `url` (`http://host:port`), namespace `default`.
pub async fn sdk_client(url: &str) -> anyhow::Result<Client> {
    let conn = Connection::connect(
        ConnectionOptions::new(url::Url::parse(url)?)
            .identity("bench@localhost")
            .build(),
    )
    .await?;
    Ok(Client::new(conn, ClientOptions::new("default").build())?)
}

/// The benches' one activity: answers its input.
pub struct BenchActs;

#[activities]
impl BenchActs {
    #[activity]
    pub async fn echo(_ctx: ActivityContext, n: u64) -> Result<u64, ActivityError> {
        Ok(n)
    }
}

/// The number in environment variable `name`, or `default`.
pub fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The comma-separated positive numbers in environment variable `name`, if it is set.
pub fn env_list(name: &str) -> Option<Vec<u64>> {
    std::env::var(name).ok().map(|s| {
        s.split(',')
            .filter_map(|x| x.trim().parse().ok())
            .filter(|&n| n > 0)
            .collect()
    })
}

/// Whether `cargo test` (not `cargo bench`) runs this bench binary: it passes `--test` or
/// `--list`, and a bench then does nothing.
pub fn run_by_cargo_test() -> bool {
    std::env::args().any(|a| a == "--test" || a == "--list")
}

/// The machine's load averages over 1, 5 and 15 minutes, printed beside the figures.
pub fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}
