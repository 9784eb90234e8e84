//! Embedded Temporal-compatible dev server: a single-node server speaking the real Temporal
//! `WorkflowService` gRPC API, persisted in SQLite (WAL) or in memory.
//!
//! ```no_run
//! # async fn f() -> Result<(), hourglass_devserver::DevServerError> {
//! use hourglass_devserver::{DevServer, Database};
//! let server = DevServer::builder().port(0).database(Database::InMemory).start().await?;
//! println!("target: {}", server.url());
//! server.shutdown().await?;
//! # Ok(()) }
//! ```
extern crate prost_wkt_types as prost_types;

mod engine;
mod error;
mod history;
mod mutable_state;
mod server;
mod service;
mod status;
mod store;
mod token;

/// Server stubs generated from the descriptor set `temporalio-protos` publishes.
#[allow(clippy::all, missing_docs)]
pub mod generated {
    include!(concat!(
        env!("OUT_DIR"),
        "/temporal.api.workflowservice.v1.rs"
    ));
}

pub use error::{DevServerError, Result};
pub use server::{DevServer, DevServerBuilder, RunningServer};
pub use store::Database;
