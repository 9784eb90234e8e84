//! Logs to stderr through `tracing-subscriber`, filtered by `RUST_LOG`.

use crate::args::LogFormat;
use tracing_subscriber::EnvFilter;

/// The filter used when `RUST_LOG` is not set: state changes of Hourglass itself at `info`,
/// the supervision library's per-task start/exit events (one per in-flight task) and the dev
/// server's per-workflow events only when something is wrong.
pub const DEFAULT_FILTER: &str = "info,hourglass_supervise=warn,hourglass_devserver=warn";

/// Installs the global subscriber. `RUST_LOG` sets the filter (default [`DEFAULT_FILTER`]);
/// the format is pretty (human) or JSON lines.
pub fn init(format: LogFormat) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    // A second init (only possible in tests) keeps the first subscriber.
    let _ = match format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Pretty => builder.try_init(),
    };
}
