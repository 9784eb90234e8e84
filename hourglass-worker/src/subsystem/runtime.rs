//! Child 1 of the Subsystem: the Runtime. It owns the core runtime and the client connection
//! and exits with reason [`CORE_RELOADED`] when the core library is reloaded, so the
//! `rest_for_one` Subsystem cascades every later child onto fresh handles.

use super::error::SubsystemError;
use super::names;
use hourglass_bridge::{Client, Core, Runtime};
use hourglass_supervise::{ChildContext, ChildSpec, Exit, Restart, Shutdown};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// The exit reason of the Runtime child when the core library was reloaded.
pub const CORE_RELOADED: &str = "core reloaded";

/// What the Runtime child publishes under [`names::RUNTIME`]: the current generation's core
/// runtime and client. Cheap to clone.
#[derive(Clone)]
pub struct RuntimeHandle {
    inner: Arc<RuntimeInner>,
}

struct RuntimeInner {
    runtime: Runtime,
    client: Client,
    generation: u64,
    reloaded: Notify,
}

impl RuntimeHandle {
    /// The client connection of this generation.
    pub fn client(&self) -> &Client {
        &self.inner.client
    }

    /// The core runtime of this generation.
    pub fn runtime(&self) -> &Runtime {
        &self.inner.runtime
    }

    /// The core library generation these handles belong to.
    pub fn generation(&self) -> u64 {
        self.inner.generation
    }

    /// Reports that a call failed with `BridgeError::Reloaded`: the Runtime exits with
    /// [`CORE_RELOADED`] and the Subsystem cascades.
    pub fn report_reloaded(&self) {
        self.inner.reloaded.notify_one();
    }
}

/// The Runtime child spec: permanent, started first. Its start creates the core runtime and
/// connects the client (a failure is a start error, so an unreachable server fails the tree's
/// start clearly instead of half-starting it).
pub fn child_spec(
    core: Core,
    runtime_config: hourglass_bridge::config::RuntimeConfig,
    client_config: hourglass_bridge::config::ClientConfig,
) -> ChildSpec {
    ChildSpec::with_init("runtime", move |ctx: ChildContext| {
        let core = core.clone();
        let runtime_config = runtime_config.clone();
        let client_config = client_config.clone();
        async move {
            let mut generations = core.subscribe();
            let generation = *generations.borrow_and_update();
            let runtime = core
                .runtime(&runtime_config)
                .map_err(|source| bridge_start_error("create core runtime", source))?;
            let client = runtime
                .connect(&client_config)
                .await
                .map_err(|source| bridge_start_error("connect client", source))?;
            let handle = RuntimeHandle {
                inner: Arc::new(RuntimeInner {
                    runtime,
                    client,
                    generation,
                    reloaded: Notify::new(),
                }),
            };
            ctx.register(names::RUNTIME, handle.clone())
                .map_err(|e| hourglass_supervise::StartError::new(e.to_string()))?;
            tracing::info!(generation, target = %client_config.target_url, "runtime started");
            Ok(async move {
                let exit = tokio::select! {
                    _ = ctx.cancelled() => Exit::Shutdown,
                    changed = generations.changed() => match changed {
                        Ok(()) => Exit::custom(CORE_RELOADED),
                        // The core object is gone: nothing to run on.
                        Err(_) => Exit::error("core dropped"),
                    },
                    _ = handle.inner.reloaded.notified() => Exit::custom(CORE_RELOADED),
                };
                tracing::info!(generation, reason = %exit, "runtime exiting");
                exit
            })
        }
    })
    .restart(Restart::Permanent)
    .shutdown(Shutdown::Timeout(Duration::from_secs(5)))
}

fn bridge_start_error(
    operation: &'static str,
    source: hourglass_bridge::BridgeError,
) -> hourglass_supervise::StartError {
    hourglass_supervise::StartError::new(
        SubsystemError::Bridge {
            operation,
            task_queue: String::new(),
            source,
        }
        .to_string(),
    )
}
