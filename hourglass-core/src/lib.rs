#![warn(missing_docs)]
//! The Temporal core (`temporalio-sdk-core`) behind a small, versioned C ABI.
//!
//! Built as a `cdylib` (`libhourglass_core.so`, loaded at run time by `hourglass-bridge`) and
//! as an `rlib` (the bridge's "linked" mode takes the same functions directly).
//!
//! Guarantees of the ABI ([`exports`]):
//! - Handles are `u64` ids into per-kind tables, tagged with this instance's random id and a
//!   per-slot generation ([`handles`]); a stale, freed, wrong-kind or forged handle yields
//!   `STATUS_INVALID_HANDLE`, never undefined behaviour.
//! - Every export contains panics; every spawned future is wrapped in `catch_unwind` and
//!   reports through its callback exactly once (also when its runtime is dropped under it).
//! - Requests and results are protobuf bytes: coresdk messages for activations and
//!   completions, `hourglass-proto` messages for configuration. Malformed bytes yield
//!   `STATUS_MALFORMED`; bad values (empty identity, empty task queue...) yield
//!   `STATUS_INVALID_ARGUMENT`.
//! - The contract types and status codes live in [`hourglass_proto::abi`];
//!   [`HOURGLASS_CORE_ABI_VERSION`] is checked by loaders before anything else.

pub mod client;
pub mod error;
pub mod exports;
pub mod ffi;
pub mod handles;
pub mod logs;
pub mod runtime;
pub mod worker;

pub use error::CoreError;
pub use exports::*;

/// The ABI version this library implements.
pub const HOURGLASS_CORE_ABI_VERSION: u32 = hourglass_proto::abi::ABI_VERSION;
