//! External activity workers: activities implemented in another language (Python first) by
//! processes Hourglass starts, supervises and talks to over gRPC
//! (`hourglass.external.v1.ExternalWorker` in `hourglass-proto`).
//!
//! * [`ExternalPoolConfig`]: one pool per command (`[[pools]]` in `hourglass.toml`).
//! * [`ExternalPools`]: the supervision tree (`child_spec` / `start`) and the execution API
//!   (`serves`, `execute`, `execute_task`) for activity types no Rust activity claims.
//! * Failure handling: a crashed process is restarted by its Starter and the execution it ran
//!   fails retryably; a hung one (missed health checks) is SIGKILLed and restarted; shutdown is
//!   SIGTERM → grace → SIGKILL; processes die with Hourglass (PR_SET_PDEATHSIG) and leftovers of
//!   a SIGKILLed run are found by their run marker and killed at the next start.
//! * No descendant survives: when a worker stops or dies, its process group, every process
//!   carrying its process token and (where cgroup v2 is writable) its whole cgroup are killed;
//!   when Hourglass itself is SIGKILLed, the Python worker — a child subreaper, so orphans of its
//!   activities are re-parented to it — gets its parent-death signal, kills all its descendants
//!   and exits. Each kill is logged with the pids.
//! * Fast start (`fork_server = true`, the default): a per-pool fork server imports the Python
//!   side once and forks each worker, which then runs exactly as a spawned one (see
//!   `fork_server`); `fork_server = false` spawns each worker as its own program.

mod config;
mod dispatch;
mod error;
mod execution;
mod fork_server;
mod handshake;
pub mod leftovers;
mod metrics;
mod pool;
mod process_worker;
mod session;
mod startup;

pub use config::{ExternalPoolConfig, IntensityConfig, MAX_POOL_SIZE, duration_str};
pub use dispatch::{EXTERNAL_POOLS_ID, ExternalPools, RunningPools};
pub use error::ExternalError;
pub use execution::{
    ExternalActivity, ExternalActivityInfo, ExternalFailure, ExternalOutcome, NOT_SERVED_TYPE,
    PAYLOAD_TOO_LARGE_TYPE, POOL_CLOSED_TYPE, POOL_SATURATED_TYPE, WORKER_LOST_TYPE,
    payload_from_wire, payload_to_wire,
};
pub use fork_server::FORK_SERVER_ENV;
pub use handshake::{MAX_MESSAGE_BYTES, PROTOCOL_VERSION};
pub use pool::PoolStats;
pub use process_worker::worker_id;
pub use startup::{StartupReport, WorkerStartFailure, WorkerStartup};
