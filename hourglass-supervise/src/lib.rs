//! OTP-style supervision for tokio: supervisors, dynamic supervisors, a registry and
//! supervised OS processes, with the semantics of Erlang/OTP's `supervisor`,
//! Elixir's `DynamicSupervisor` and `Registry`.
//!
//! # Model
//! - A **child** is an async task started from a [`ChildSpec`]: a factory called once per
//!   incarnation with a fresh [`ChildContext`] (id, shutdown signal, registry, restart count).
//!   The future's output is its [`Exit`] reason; a panic is an abnormal exit
//!   ([`Exit::Panic`]). [`ChildSpec::with_init`] adds a start phase that may fail (OTP `init/1`).
//! - **Restart types** ([`Restart`]): permanent (always), transient (only after an abnormal exit,
//!   i.e. not `Normal`/`Shutdown`/`ShutdownWith`), temporary (never, not even when a sibling's
//!   failure takes it down; it is then dropped).
//! - **Strategies** ([`Strategy`]): one_for_one, one_for_all, rest_for_one. Siblings taken down by
//!   a cascade are stopped in reverse start order, then restarted in start order.
//! - **Intensity** ([`IntensityLimit`], default 3 restarts in 5 s): a sliding window; a restart is
//!   counted before it is attempted; exceeding the limit stops all children (reverse order) and
//!   the supervisor exits with [`Exit::Escalated`], which its parent sees as an abnormal exit.
//!   A restart whose start phase fails is retried through the supervisor's own loop (each retry
//!   counted), so shutdown and requests are still served. Optional per-child [`Backoff`].
//! - **Shutdown** ([`Shutdown`]): `BrutalKill`, `Timeout(d)` (signal, wait, then abort) or
//!   `Infinity`; defaults 5 s for workers and `Infinity` for supervisors. Static children stop one
//!   at a time in reverse start order; dynamic children are signalled together.
//! - **Incarnations never overlap**: the old task is joined and its registry names removed
//!   (atomically, before the supervisor even sees the exit) before the new one starts.
//! - [`DynamicSupervisorSpec`]: one_for_one children added at run time, `max_children`, terminal
//!   children dropped from state.
//! - [`Registry`]: unique names to typed values, removed atomically when the owner ends;
//!   via-style lookup with [`Registry::via`]; [`Registry::listen`] streams registrations and
//!   removals (e.g. for a pool tracking which workers are up).
//! - Introspection: `which_children`, `count_children` and a serde-serializable recursive
//!   [`SupervisorSnapshot`].
//! - [`ProcessSpec`]: an external program as a child (process group, `PR_SET_PDEATHSIG`, output
//!   to `tracing`, readiness, SIGTERM→grace→SIGKILL, reaped; any unexpected exit is abnormal).
//!   [`Starter`]: the permanent-supervisor-around-a-transient-worker building block.
//!   [`contain`]: optional cgroup v2 and environment-token containment of its descendants.
//! - Every start, exit (with reason), restart and escalation is a `tracing` event.
//! - [`ShutdownOnDrop`] (from a handle's `shutdown_on_drop()`) tears a tree down when a scope
//!   or test ends, like ExUnit's `start_supervised`.
//!
//! A supervisor's own loop runs start phases inline (as OTP runs `init/1`): a child must not
//! call its own supervisor's handle from its start phase.
//!
//! # Example
//! ```
//! use std::time::Duration;
//! use hourglass_supervise::{ChildSpec, Exit, Restart, Strategy, SupervisorSpec};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), hourglass_supervise::SuperviseError> {
//! let sup = SupervisorSpec::new("app")
//!     .strategy(Strategy::RestForOne)
//!     .intensity(3, Duration::from_secs(5))
//!     .child(ChildSpec::new("db", |ctx| async move {
//!         let (tx, _rx) = tokio::sync::mpsc::channel::<String>(16);
//!         // Reachable by name for as long as this incarnation lives.
//!         if let Err(e) = ctx.register("db", tx) {
//!             return Exit::error(e);
//!         }
//!         ctx.cancelled().await;
//!         Exit::Shutdown
//!     }))
//!     .child(
//!         ChildSpec::new("job", |ctx| async move {
//!             let db: Option<tokio::sync::mpsc::Sender<String>> = ctx.registry().lookup("db");
//!             if db.is_none() { return Exit::error("db not registered"); }
//!             Exit::Normal
//!         })
//!         .restart(Restart::Transient),
//!     )
//!     .start()
//!     .await?;
//!
//! let snapshot = sup.snapshot().await?;
//! assert_eq!(snapshot.children[0].id, "db");
//! assert_eq!(sup.shutdown().await, Exit::Shutdown);
//! # Ok(())
//! # }
//! ```

#![deny(unsafe_code)]
#![warn(missing_docs)]

mod child;
pub mod contain;
mod context;
mod dynamic;
mod engine;
mod error;
mod exit;
mod handle;
mod intensity;
mod process;
mod registry;
mod snapshot;
mod starter;
mod supervisor;

pub use child::{
    Backoff, ChildFuture, ChildKind, ChildSpec, DEFAULT_WORKER_SHUTDOWN, Restart, Shutdown,
    StartFuture,
};
pub use context::ChildContext;
pub use dynamic::{DynamicSupervisorHandle, DynamicSupervisorSpec};
pub use error::{RegistryError, StartError, SuperviseError};
pub use exit::Exit;
pub use handle::ShutdownOnDrop;
pub use intensity::IntensityLimit;
pub use process::{DEFAULT_GRACE, DEFAULT_READY_TIMEOUT, ProcessInfo, ProcessSpec, Readiness};
pub use registry::{Registry, RegistryEvent, RegistryOwner};
pub use snapshot::{
    ChildCounts, ChildInfo, ChildRef, ChildSnapshot, ChildState, SupervisorSnapshot,
};
pub use starter::Starter;
pub use supervisor::{Strategy, SupervisorHandle, SupervisorSpec};
