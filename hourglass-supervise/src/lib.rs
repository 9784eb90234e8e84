//! OTP-style supervision for tokio.

#![deny(unsafe_code)]

mod child;
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
pub use intensity::IntensityLimit;
pub use process::{DEFAULT_GRACE, DEFAULT_READY_TIMEOUT, ProcessInfo, ProcessSpec, Readiness};
pub use registry::{Registry, RegistryOwner};
pub use snapshot::{
    ChildCounts, ChildInfo, ChildRef, ChildSnapshot, ChildState, SupervisorSnapshot,
};
pub use starter::Starter;
pub use supervisor::{Strategy, SupervisorHandle, SupervisorSpec};
