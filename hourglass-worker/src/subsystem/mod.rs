//! The supervised subsystem of seed 003, on `hourglass-supervise`.
//!
//! ```text
//! Application "hourglass" (one_for_one)
//! ├─ workflow_evaluator (dynamic)   in-flight workflow activations (temporary)
//! ├─ activity_executor (dynamic)    in-flight activity attempts (temporary)
//! └─ subsystem (rest_for_one)
//!    1 runtime           core runtime + client; exits "core reloaded" on reload
//!    2 bridge_holder     owns every core worker handle
//!    3 worker_registry   task queue → worker
//!    4 worker_supervisor (dynamic) → worker:<tq> → registration + pollers
//!    5 worker_launcher   starts the configured workers, then ends normally
//! ```
//!
//! Order matters (`rest_for_one` restarts every child after the one that died): a reload kills
//! the Runtime and so every handle; a BridgeHolder crash takes the registry and every worker
//! with it, and the launcher re-creates them; in-flight work lives outside and survives.

pub mod application;
pub mod bridge_holder;
pub mod config;
pub mod error;
pub mod in_flight;
pub mod metrics;
pub mod names;
pub mod poll_loop;
mod poll_slot;
pub mod runtime;
pub mod task_queue_worker;
pub mod worker_launcher;
mod worker_reaper;
pub mod worker_registry;

pub use application::Hourglass;
pub use bridge_holder::{BridgeHolder, RegistrationId};
pub use config::{DEFAULT_TASK_QUEUE, SubsystemConfig};
pub use error::SubsystemError;
pub use runtime::{CORE_RELOADED, RuntimeHandle};
pub use task_queue_worker::WorkerHandle;
pub use worker_reaper::{OrphanTally, OrphanedWorkers};
pub use worker_registry::WorkerRegistry;
