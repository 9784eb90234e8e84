//! Shared support for Hourglass's cross-crate and end-to-end tests: things every test
//! suite needs from the real world (a Python venv with the official `temporalio` SDK,
//! the built core library), created idempotently and cached under `target/`.

pub mod child_output;
pub mod core_lib;
pub mod python_env;
