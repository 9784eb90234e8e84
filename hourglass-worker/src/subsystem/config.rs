//! What the subsystem needs to run: which core, which server, which task queues, which code.

use crate::activity::ActivityDefinitions;
use crate::workflow::WorkflowDefinitions;
use hourglass_bridge::Core;
use hourglass_bridge::config::{ClientConfig, RuntimeConfig, WorkerConfig};
use std::time::Duration;

/// The task queue the WorkerLauncher starts when none is configured.
pub const DEFAULT_TASK_QUEUE: &str = "default";

/// Configuration of one Hourglass application (the supervision tree of seed 003).
#[derive(Clone)]
pub struct SubsystemConfig {
    /// The loaded core (dynamic or linked). Reloading it cascades the subsystem.
    pub core: Core,
    /// Core runtime settings (log forwarding, metrics).
    pub runtime: RuntimeConfig,
    /// The connection to the Temporal frontend.
    pub client: ClientConfig,
    /// Template for every per-task-queue core worker; `task_queue` is filled per worker.
    pub worker: WorkerConfig,
    /// Task queues the WorkerLauncher starts (and re-starts after every cascade).
    pub task_queues: Vec<String>,
    /// Workflow types served (normally every type registered at link time).
    pub workflows: WorkflowDefinitions,
    /// Activity types served (normally every type registered at link time).
    pub activities: ActivityDefinitions,
    /// External worker pools (e.g. Python processes) serving activity types that no Rust
    /// activity claims. Started as a child of the application, before the Subsystem.
    pub external_pools: Option<crate::external::ExternalPools>,
    /// How long a stopping worker may drain (poll until the core says shut down) before it is
    /// killed.
    pub drain_timeout: Duration,
    /// Restart intensity of the Subsystem: at most this many restarts ...
    pub max_restarts: u32,
    /// ... within this period, else the Subsystem gives up and escalates.
    pub max_restart_period: Duration,
}

impl SubsystemConfig {
    /// A configuration for `core` talking to `target_url` in `namespace`, serving the
    /// `default` task queue with every workflow and activity registered at link time.
    pub fn new(
        core: Core,
        target_url: impl Into<String>,
        namespace: impl Into<String>,
    ) -> Result<Self, crate::WorkerError> {
        let namespace = namespace.into();
        Ok(Self {
            core,
            runtime: RuntimeConfig {
                log_forwarding: Some(hourglass_bridge::config::LogForwarding {
                    enabled: true,
                    filter: "warn".into(),
                }),
                ..Default::default()
            },
            client: ClientConfig {
                target_url: target_url.into(),
                namespace: namespace.clone(),
                identity: default_identity(),
                ..Default::default()
            },
            worker: WorkerConfig {
                namespace,
                max_cached_workflows: 1000,
                max_outstanding_workflow_tasks: 100,
                max_outstanding_activities: 100,
                max_outstanding_local_activities: 100,
                build_id: format!("hourglass-{}", env!("CARGO_PKG_VERSION")),
                ..Default::default()
            },
            task_queues: vec![DEFAULT_TASK_QUEUE.to_string()],
            workflows: WorkflowDefinitions::from_registered()?,
            activities: ActivityDefinitions::from_registered()?,
            external_pools: None,
            drain_timeout: Duration::from_secs(30),
            max_restarts: 10,
            max_restart_period: Duration::from_secs(10),
        })
    }

    /// The core worker configuration for `task_queue`.
    pub fn worker_config(&self, task_queue: &str) -> WorkerConfig {
        WorkerConfig {
            task_queue: task_queue.to_string(),
            ..self.worker.clone()
        }
    }
}

/// `pid@hostname`, the identity format the official SDKs use.
pub fn default_identity() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "localhost".into());
    format!("{}@{host}", std::process::id())
}
