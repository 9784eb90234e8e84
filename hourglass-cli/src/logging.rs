//! Logs to stderr through `tracing-subscriber`, filtered by `RUST_LOG`.

use crate::args::{LogFormat, LogLevel};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// The filter used when `RUST_LOG` is not set: state changes of Hourglass itself at `info`,
/// the supervision library's per-task start/exit events (one per in-flight task) and the dev
/// server's per-workflow events only when something is wrong.
pub const DEFAULT_FILTER: &str = "info,hourglass_supervise=warn,hourglass_devserver=warn";

/// Installs the global subscriber. `RUST_LOG` sets the filter (else `--log-level`, else
/// [`DEFAULT_FILTER`]);
/// the format is pretty (human) or JSON lines. Beside it, the supervision library's abnormal
/// exits are recorded for the Web UI ([`crate::exit_log`]), whatever the filter.
pub fn init(format: LogFormat, level: Option<LogLevel>) {
    let fallback = level.map_or(DEFAULT_FILTER, LogLevel::directive);
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(fallback));
    let exits = crate::exit_log::ExitLayer.with_filter(
        tracing_subscriber::filter::Targets::new()
            .with_target("hourglass_supervise", tracing::Level::WARN),
    );
    let registry = tracing_subscriber::registry().with(exits);
    // A second init (only possible in tests) keeps the first subscriber.
    let _ = match format {
        LogFormat::Json => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .with_writer(std::io::stderr)
                    .with_filter(filter),
            )
            .try_init(),
        LogFormat::Pretty => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .with_writer(std::io::stderr)
                    .with_filter(filter),
            )
            .try_init(),
    };
}
