//! Shared support for Hourglass's cross-crate and end-to-end tests: things every test
//! suite needs from the real world (a Python venv with the official `temporalio` SDK, a
//! Node project with the official Temporal TypeScript SDK from npm, the built core
//! library), created idempotently and cached under `target/`; and TLS certificates generated
//! per test (none are checked in).

pub mod browser;
pub mod certs;
pub mod child_output;
pub mod core_lib;
pub mod node_env;
pub mod python_env;
