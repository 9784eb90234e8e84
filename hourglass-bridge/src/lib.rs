#![warn(missing_docs)]
//! Safe async Rust over the `hourglass-core` C ABI.
//!
//! - [`Core::load`] loads `libhourglass_core.so` with `libloading` (a private copy per load;
//!   see [`loader`](crate::mapped_library_count) for why old copies stay mapped);
//!   [`Core::linked`] (feature `linked`, on by default) uses the compiled-in core through the
//!   same [`FunctionTable`].
//! - Handles ([`Runtime`], [`Client`], [`Worker`], [`Replayer`]) carry the generation of the
//!   load that issued them; after [`Core::reload`] (or a change seen by [`Core::watch`]) any
//!   call through an older handle returns [`BridgeError::Reloaded`].
//! - Async calls are futures completed by the core's callback; the core contains its panics,
//!   so a panic in the core surfaces as [`BridgeError::Panic`], never as a hang or an abort.

mod call;
mod core;
mod error;
mod function_table;
mod handles;
pub mod history;
mod loader;
mod logs;
mod watch;

pub use crate::core::{Core, CoreMode, LIBRARY_ENV_VAR, LIBRARY_FILE_NAME};
pub use error::BridgeError;
pub use function_table::FunctionTable;
pub use handles::{Client, Replayer, Runtime, Worker};
pub use loader::mapped_library_count;
pub use watch::{CoreWatcher, DEFAULT_SETTLE};

/// Configuration messages (re-exported from `hourglass-proto`).
pub use hourglass_proto::bridge::v1 as config;
/// The coresdk and Temporal API protobuf types used by the worker API.
pub use temporalio_protos as protos;
