//! Core runtimes: a `CoreRuntime` (its own multi-thread tokio runtime plus telemetry) per
//! handle.

use crate::error::CoreError;
use crate::logs::HostLogForwarder;
use hourglass_proto::abi::HgLogCallback;
use hourglass_proto::bridge::v1::RuntimeConfig;
use std::ffi::c_void;
use std::sync::Arc;
use std::time::Duration;
use temporalio_common::telemetry::{
    Logger, PrometheusExporterOptions, TelemetryOptions, start_prometheus_metric_exporter,
};
use temporalio_sdk_core::{CoreRuntime, RuntimeOptions, TokioRuntimeBuilder};

/// A live core runtime. Clients, workers and in-flight futures hold it through `Arc`, so it
/// outlives them all even after its handle is freed.
pub struct RuntimeEntry {
    core: Option<CoreRuntime>,
    handle: tokio::runtime::Handle,
}

impl RuntimeEntry {
    /// The core runtime's tokio handle.
    pub fn tokio_handle(&self) -> &tokio::runtime::Handle {
        &self.handle
    }

    /// Enters the runtime for a synchronous core call: tokio context plus the runtime's trace
    /// subscriber as the thread's default (so the call's logs are forwarded like those of
    /// the runtime's own threads).
    pub fn enter(&self) -> RuntimeScope<'_> {
        let dispatch = self
            .core
            .as_ref()
            .and_then(|c| c.telemetry().trace_subscriber())
            .map(|s| tracing::dispatcher::set_default(&tracing::Dispatch::new(s)));
        RuntimeScope {
            _dispatch: dispatch,
            _tokio: self.handle.enter(),
        }
    }

    /// The core runtime (present until the entry is dropped).
    pub fn core(&self) -> Result<&CoreRuntime, CoreError> {
        self.core
            .as_ref()
            .ok_or_else(|| CoreError::Cancelled("the runtime is shutting down".into()))
    }
}

/// Guard of [`RuntimeEntry::enter`].
pub struct RuntimeScope<'a> {
    _dispatch: Option<tracing::dispatcher::DefaultGuard>,
    _tokio: tokio::runtime::EnterGuard<'a>,
}

impl Drop for RuntimeEntry {
    fn drop(&mut self) {
        // Dropping a tokio runtime from inside an async context panics, and the last `Arc`
        // may well be released on one of the runtime's own threads: drop it on a fresh thread.
        if let Some(core) = self.core.take() {
            let spawned = std::thread::Builder::new()
                .name("hourglass-core-runtime-drop".into())
                .spawn(move || drop(core));
            if let Err(e) = spawned {
                tracing::error!(error = %e, "could not spawn the runtime drop thread");
            }
        }
    }
}

/// Most worker threads a core runtime may be given.
const MAX_WORKER_THREADS: u32 = 1024;

/// The core runtime's worker thread count: `configured`, or (0) half of `cores`, at least 1.
/// The core's runtime runs beside the host's own, so by default the two share the cores
/// instead of each claiming all of them (measured on 2 cores: one core thread gave the
/// worker benchmark about 15% more throughput than two).
fn core_worker_threads(configured: u32, cores: usize) -> Result<usize, CoreError> {
    match configured {
        0 => Ok((cores / 2).max(1)),
        n @ 1..=MAX_WORKER_THREADS => Ok(n as usize),
        n => Err(CoreError::InvalidArgument(format!(
            "worker_threads must be 0 (half the cores) or within 1..={MAX_WORKER_THREADS}, got {n}"
        ))),
    }
}

/// Creates a runtime from its configuration. `log` is the host's log callback, used when
/// log forwarding is enabled.
pub fn new_runtime(
    config: RuntimeConfig,
    log: Option<(HgLogCallback, *mut c_void)>,
) -> Result<RuntimeEntry, CoreError> {
    let heartbeat = match config.worker_heartbeat_interval_millis {
        0 => None,
        ms @ 1000..=60000 => Some(Duration::from_millis(ms)),
        ms => {
            return Err(CoreError::InvalidArgument(format!(
                "worker_heartbeat_interval_millis must be 0 (off) or within 1000..=60000, got {ms}"
            )));
        }
    };
    let forwarding = config.log_forwarding.unwrap_or_default();
    let logger = match (forwarding.enabled, log) {
        (true, Some((cb, user_data))) => Some(Logger::Push {
            filter: if forwarding.filter.is_empty() {
                "info".to_owned()
            } else {
                forwarding.filter
            },
            consumer: Arc::new(HostLogForwarder::new(cb, user_data)),
        }),
        (true, None) => {
            return Err(CoreError::InvalidArgument(
                "log forwarding is enabled but no log callback was given".into(),
            ));
        }
        (false, _) => None,
    };
    let metrics = config.metrics.unwrap_or_default();
    let prom_addr = if metrics.prometheus_bind_address.is_empty() {
        None
    } else {
        Some(
            metrics
                .prometheus_bind_address
                .parse::<std::net::SocketAddr>()
                .map_err(|e| {
                    CoreError::InvalidArgument(format!(
                        "prometheus_bind_address {:?}: {e}",
                        metrics.prometheus_bind_address
                    ))
                })?,
        )
    };
    let telemetry = TelemetryOptions::builder()
        .maybe_logging(logger)
        .maybe_metric_prefix((!metrics.metric_prefix.is_empty()).then_some(metrics.metric_prefix))
        .build();
    let options = RuntimeOptions::builder()
        .telemetry_options(telemetry)
        .heartbeat_interval(heartbeat)
        .build()
        .map_err(|e| CoreError::InvalidArgument(format!("runtime options: {e}")))?;
    let threads = core_worker_threads(
        config.worker_threads,
        std::thread::available_parallelism().map_or(1, |n| n.get()),
    )?;
    let mut builder = TokioRuntimeBuilder::default();
    builder.inner.worker_threads(threads);
    tracing::debug!(worker_threads = threads, "creating the core runtime");
    let created = CoreRuntime::new(options, builder);
    // `CoreRuntime::new` also installs the core's trace subscriber as the *calling* thread's
    // default, for good. The calling thread is the host's: in the linked mode (one set of
    // `tracing` statics) that would silently route every later host event on this thread to
    // the core's subscriber. The core's own threads keep theirs.
    temporalio_common::telemetry::remove_trace_subscriber_for_current_thread();
    let mut core =
        created.map_err(|e| CoreError::Core(format!("creating the core runtime failed: {e:#}")))?;
    if let Some(addr) = prom_addr {
        let handle = core.tokio_handle();
        let _guard = handle.enter();
        let started = start_prometheus_metric_exporter(
            PrometheusExporterOptions::builder()
                .socket_addr(addr)
                .global_tags(metrics.global_tags)
                .build(),
        )
        .map_err(|e| CoreError::Core(format!("starting the Prometheus exporter: {e:#}")))?;
        core.telemetry_mut().attach_late_init_metrics(started.meter);
    }
    let handle = core.tokio_handle();
    tracing::info!("hourglass-core runtime started");
    Ok(RuntimeEntry {
        core: Some(core),
        handle,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn core_threads_default_to_half_the_cores() {
        assert_eq!(core_worker_threads(0, 1).unwrap(), 1);
        assert_eq!(core_worker_threads(0, 2).unwrap(), 1);
        assert_eq!(core_worker_threads(0, 8).unwrap(), 4);
        assert_eq!(core_worker_threads(3, 2).unwrap(), 3);
    }

    #[test]
    fn absurd_core_thread_count_is_rejected() {
        let e = new_runtime(
            RuntimeConfig {
                worker_threads: 1_000_000,
                ..Default::default()
            },
            None,
        )
        .err()
        .expect("must fail");
        assert!(
            matches!(&e, CoreError::InvalidArgument(m) if m.contains("worker_threads")),
            "{e}"
        );
    }

    #[test]
    fn runtime_with_explicit_threads_starts() {
        let rt = new_runtime(
            RuntimeConfig {
                worker_threads: 2,
                ..Default::default()
            },
            None,
        );
        assert!(rt.is_ok());
    }

    #[test]
    fn bad_heartbeat_interval_is_rejected() {
        let e = new_runtime(
            RuntimeConfig {
                worker_heartbeat_interval_millis: 5,
                ..Default::default()
            },
            None,
        )
        .err()
        .unwrap();
        assert!(e.to_string().contains("worker_heartbeat_interval_millis"));
    }

    #[test]
    fn forwarding_without_callback_is_rejected() {
        let e = new_runtime(
            RuntimeConfig {
                log_forwarding: Some(hourglass_proto::bridge::v1::LogForwarding {
                    enabled: true,
                    filter: String::new(),
                }),
                ..Default::default()
            },
            None,
        )
        .err()
        .unwrap();
        assert!(matches!(e, CoreError::InvalidArgument(_)));
    }

    #[test]
    fn bad_prometheus_address_is_rejected() {
        let e = new_runtime(
            RuntimeConfig {
                metrics: Some(hourglass_proto::bridge::v1::MetricsConfig {
                    prometheus_bind_address: "not an address".into(),
                    ..Default::default()
                }),
                ..Default::default()
            },
            None,
        )
        .err()
        .unwrap();
        assert!(e.to_string().contains("prometheus_bind_address"));
    }

    #[test]
    fn runtime_starts_and_drops_from_async_context() {
        let rt = Arc::new(new_runtime(RuntimeConfig::default(), None).unwrap());
        let rt2 = rt.clone();
        let h = rt.tokio_handle().clone();
        drop(rt);
        // Last reference released on one of the runtime's own threads: must not panic.
        h.block_on(async move {
            tokio::spawn(async move { drop(rt2) }).await.unwrap();
        });
    }
}
