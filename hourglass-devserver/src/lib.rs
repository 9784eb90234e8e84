//! Embedded Temporal-compatible dev server: a single-node server speaking the real Temporal
//! `WorkflowService` gRPC API, persisted in SQLite (WAL) or in memory. The official core /
//! Rust SDK and the official Python SDK run workflows against it unchanged.
//!
//! Served: system/cluster info; namespaces (describe, list, register; `default` always
//! exists); start (id reuse and conflict policies, request-id idempotency, start delay),
//! signal, signal-with-start, query (through workflow tasks, also on closed runs), cancel,
//! terminate, describe, list/count (Temporal's whole list-filter language — `= != < > <= >=`,
//! `[NOT] IN`, `[NOT] STARTS_WITH`, `[NOT] BETWEEN`, `IS [NOT] NULL`, `AND` / `OR` / `NOT`,
//! parentheses — over system attributes and typed custom ones, `GROUP BY ExecutionStatus`,
//! Temporal's order and keyset page tokens), history (paginated,
//! long poll, close-event filter) and reverse history; workflow tasks with every workflow
//! command except Nexus, sticky task queues (partial histories, schedule-to-start fallback)
//! and transient workflow tasks as Temporal's history service keeps them, updates through
//! protocol messages; activity tasks with heartbeats,
//! completion/failure/cancellation (also by id), all four timeouts and retries with
//! backoff; durable timers, run/execution and workflow-task timeouts; child workflows with
//! parent close policies; continue-as-new; workflow retry policies; memo and search attributes; schedules (interval,
//! calendar and cron specs in any IANA time zone, jitter, overlap policies, catch-up window,
//! pause-on-failure, remaining actions, trigger / backfill / pause, durable across a
//! restart). Long polls carry
//! poller-scaling hints, and `ShutdownWorker` answers that worker's open polls, as a Temporal
//! cluster advertising `poller_autoscaling` and `worker_poll_complete_on_shutdown` does.
//! Requests are validated and limited as Temporal's frontend does (ids, names, durations,
//! 2 MiB blobs), and a history over [`HistoryLimits`] terminates its workflow. Eager workflow
//! start returns the first workflow task in the start response.
//!
//! Temporal's HTTP API is served on its own port ([`DevServerBuilder::http_port`]): every
//! `google.api.http` route of WorkflowService and OperatorService, in Temporal's proto-JSON
//! with payload shorthand ([`proto_json`]), through the same API-key check as gRPC.
//!
//! With [`DevServerBuilder::time_skipping`] (or the binary's Temporal test-server command
//! line, `hourglass-devserver <port> [--enable-time-skipping]`) the server runs on a
//! virtual clock with the Java test server's semantics and serves Temporal's TestService,
//! so the official SDKs' time-skipping environments can use it as their test server.
//!
//! Requests about different workflows run side by side: executions live in history shards
//! (as Temporal's `WorkflowIDToHistoryShard` places them), each behind its own lock. A
//! request holds only its workflow's shard, unless it reaches other workflows (a parent,
//! children, external signals and cancels), which holds every shard. Task queues, timers and
//! namespaces are shared behind short locks, and each request's changes are committed in
//! one batch and answered once durable.
//!
//! Memory stays bounded on a durable server: open runs are in memory, closed runs only while
//! among the most recently closed ([`DevServerBuilder::closed_cache_capacity`]); older ones
//! are read back from SQLite when named, and start-up loads the open runs only. Closed runs
//! are deleted once their namespace's retention passed ([`DevServerBuilder::retention`]).
//!
//! Batch operations (StartBatchOperation, DescribeBatchOperation, ListBatchOperations,
//! StopBatchOperation) run as durable server-side jobs with Temporal's batcher rules:
//! terminate, cancel, signal, delete and reset workflows, and unpause or reset their
//! activities, selected by a visibility query or a list of executions, at the request's
//! rate ([`BatcherSettings`]); a job resumes after a restart.
//!
//! Not served (the RPC answers `Unimplemented` or the feature is ignored):
//! Nexus, batch operations on standalone activities or workflow options, worker versioning, cron,
//! eager activity dispatch, archival.
//!
//! ```no_run
//! # async fn f() -> Result<(), hourglass_devserver::DevServerError> {
//! use hourglass_devserver::{DevServer, Database};
//! let server = DevServer::builder().port(0).database(Database::InMemory).start().await?;
//! println!("target: {}", server.url());
//! server.shutdown().await?;
//! # Ok(()) }
//! ```
// Real Temporal still fills the deprecated fields; SDKs read some of them.
#![allow(deprecated)]
extern crate prost_wkt_types as prost_types;

mod batcher;
pub mod dynamic_config;
mod engine;
mod error;
mod frontend;
mod go_duration;
mod history;
mod matching;
mod namespaces;
mod persistence;
mod prelude;
mod schedules;
mod server;
mod status;
mod timers;
mod token;
mod ui;
mod visibility;

/// Server stubs generated from the descriptor set `temporalio-protos` publishes.
#[allow(clippy::all, missing_docs)]
pub mod generated {
    include!(concat!(
        env!("OUT_DIR"),
        "/temporal.api.workflowservice.v1.rs"
    ));
}

/// The OperatorService server stub, from the same descriptor set.
#[allow(clippy::all, missing_docs)]
pub mod generated_operator {
    include!(concat!(
        env!("OUT_DIR"),
        "/temporal.api.operatorservice.v1.rs"
    ));
}

/// The TestService server stub (time-skipping mode), from the same descriptor set.
#[allow(clippy::all, missing_docs)]
pub mod generated_test {
    include!(concat!(env!("OUT_DIR"), "/temporal.api.testservice.v1.rs"));
}

pub use batcher::BatcherSettings;
pub use error::{DevServerError, Result};
pub use frontend::authorization::ApiKeys;
pub use frontend::http_api::proto_json;
pub use frontend::tls::ServerTls;
pub use history::limits::HistoryLimits;
pub use persistence::store::Database;
pub use server::{DevServer, DevServerBuilder, RunningServer, TimeSkipping};
pub use ui::UiExtension;
