//! Configuration of external activity pools: one pool per command, as written in
//! `hourglass.toml` (`[[pools]]`) or built in Rust code.
//!
//! ```toml
//! [[pools]]
//! name = "ml"
//! command = ".venv/bin/python"
//! args = ["-m", "hourglass_activity_worker", "my_activities"]
//! size = 4
//! env = { OMP_NUM_THREADS = "1" }
//! health_interval = "5s"
//! ```

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::error::ExternalError;

/// Restart intensity of one worker's Starter: more than `max_restarts` restarts within
/// `period` makes the Starter give up and escalate to the pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntensityConfig {
    /// Restarts allowed within `period` (default 3).
    #[serde(default = "default_max_restarts")]
    pub max_restarts: u32,
    /// Length of the sliding window (default 5 s).
    #[serde(default = "default_period", with = "duration_str")]
    pub period: Duration,
}

impl Default for IntensityConfig {
    fn default() -> Self {
        Self {
            max_restarts: default_max_restarts(),
            period: default_period(),
        }
    }
}

/// One pool of identical external worker processes running `command`.
///
/// Every process is started with these environment variables (on top of the inherited
/// environment and `env`): `HOURGLASS_RUN_MARKER` (the pool's run marker, used to find leftovers
/// of a killed run), `HOURGLASS_READY_FILE` (where the worker writes `port=<port>` when it
/// listens), `HOURGLASS_PARENT_PID`, `HOURGLASS_WORKER_ID`, `HOURGLASS_GRACE_SECONDS` and
/// `PYTHONUNBUFFERED=1`. The activity types are learned from the workers' handshake.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExternalPoolConfig {
    /// Pool name: 1–64 characters of `[A-Za-z0-9_.-]`, unique among pools.
    pub name: String,
    /// The program (looked up in `PATH` if it has no slash).
    pub command: String,
    /// Its arguments.
    #[serde(default)]
    pub args: Vec<String>,
    /// Extra environment variables.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Working directory (default: Hourglass's).
    #[serde(default)]
    pub cwd: Option<PathBuf>,
    /// Number of processes (default 1, at most 1024).
    #[serde(default = "default_size")]
    pub size: usize,
    /// Processes started at the same time when the pool starts (default: 4 × the number of
    /// cores). Each is ready when its handshake answers; one that fails to start holds up no
    /// other, and the pool is ready once every process is up or has failed (it fails to start
    /// only if none came up; the others are retried in the background).
    #[serde(default = "default_startup_concurrency")]
    pub startup_concurrency: usize,
    /// Activity attempts one process runs at once (default 1, at most 1024). Passed to the
    /// process as `HOURGLASS_MAX_CONCURRENT`; a process that reports less in its handshake gets
    /// what it reports.
    #[serde(default = "default_max_concurrent")]
    pub max_concurrent: usize,
    /// Executions allowed to wait for a free slot (default 1000). Activity tasks from Temporal
    /// are not polled while this many wait (the task stays on the server, as when a Temporal
    /// worker has no free slot); a direct [`execute`](super::ExternalPools::execute) call is
    /// refused with a retryable `ExternalPoolSaturated` failure.
    #[serde(default = "default_max_queue")]
    pub max_queue: usize,
    /// Largest input (plus heartbeat details) or result, in bytes, an attempt may carry
    /// (default 16 MiB, at most 63 MiB). Over it, the attempt fails with a non-retryable
    /// `ExternalPayloadTooLarge` failure.
    #[serde(default = "default_max_payload_bytes")]
    pub max_payload_bytes: usize,
    /// Time a process has to become ready and answer the handshake (default 30 s).
    #[serde(default = "default_ready_timeout", with = "duration_str")]
    pub ready_timeout: Duration,
    /// Time between health checks (default 5 s).
    #[serde(default = "default_health_interval", with = "duration_str")]
    pub health_interval: Duration,
    /// Time a health check may take (default 2 s).
    #[serde(default = "default_health_timeout", with = "duration_str")]
    pub health_timeout: Duration,
    /// Consecutive missed health checks after which the process is killed and restarted
    /// (default 3).
    #[serde(default = "default_max_missed_health")]
    pub max_missed_health: u32,
    /// Time between SIGTERM and SIGKILL when a process is stopped (default 5 s).
    #[serde(default = "default_grace", with = "duration_str")]
    pub grace: Duration,
    /// Restart intensity of each worker's Starter (default 3 in 5 s).
    #[serde(default)]
    pub intensity: IntensityConfig,
    /// Run each worker in its own cgroup v2 and kill the cgroup when the worker stops, where
    /// the machine allows it (default true; without a writable cgroup v2 the pool still works,
    /// containing descendants by subreaper, process group and environment token).
    #[serde(default = "default_cgroups")]
    pub cgroups: bool,
    /// Start workers from a fork server (default true): one process of `command` imports the
    /// activity modules once and forks each worker, which then serves like a spawned one (the
    /// command must run `hourglass_activity_worker`, whose `run()` becomes the fork server when
    /// `HOURGLASS_FORK_SERVER` is set). With false, each worker is spawned as its own program.
    #[serde(default = "default_fork_server")]
    pub fork_server: bool,
}

fn default_size() -> usize {
    1
}
fn default_max_concurrent() -> usize {
    1
}
fn default_max_payload_bytes() -> usize {
    16 * 1024 * 1024
}
fn default_cgroups() -> bool {
    true
}
fn default_fork_server() -> bool {
    true
}
fn default_startup_concurrency() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get()) * 4
}
fn default_max_queue() -> usize {
    1000
}
fn default_ready_timeout() -> Duration {
    Duration::from_secs(30)
}
fn default_health_interval() -> Duration {
    Duration::from_secs(5)
}
fn default_health_timeout() -> Duration {
    Duration::from_secs(2)
}
fn default_max_missed_health() -> u32 {
    3
}
fn default_grace() -> Duration {
    Duration::from_secs(5)
}
fn default_max_restarts() -> u32 {
    3
}
fn default_period() -> Duration {
    Duration::from_secs(5)
}

/// Largest accepted pool size.
pub const MAX_POOL_SIZE: usize = 1024;

impl ExternalPoolConfig {
    /// A pool `name` running `command` with every other setting at its default.
    pub fn new(name: impl Into<String>, command: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            command: command.into(),
            args: Vec::new(),
            env: BTreeMap::new(),
            cwd: None,
            size: default_size(),
            startup_concurrency: default_startup_concurrency(),
            max_queue: default_max_queue(),
            max_concurrent: default_max_concurrent(),
            max_payload_bytes: default_max_payload_bytes(),
            ready_timeout: default_ready_timeout(),
            health_interval: default_health_interval(),
            health_timeout: default_health_timeout(),
            max_missed_health: default_max_missed_health(),
            grace: default_grace(),
            intensity: IntensityConfig::default(),
            cgroups: default_cgroups(),
            fork_server: default_fork_server(),
        }
    }

    /// Starts workers from a fork server (true, the default) or spawns each one (false).
    pub fn fork_server(mut self, enabled: bool) -> Self {
        self.fork_server = enabled;
        self
    }

    /// Sets the arguments.
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.args = args.into_iter().map(Into::into).collect();
        self
    }

    /// Adds an environment variable.
    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.insert(key.into(), value.into());
        self
    }

    /// Sets the working directory.
    pub fn cwd(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cwd = Some(dir.into());
        self
    }

    /// Sets the number of processes.
    pub fn size(mut self, size: usize) -> Self {
        self.size = size;
        self
    }

    /// Sets how many processes start at the same time.
    pub fn startup_concurrency(mut self, concurrency: usize) -> Self {
        self.startup_concurrency = concurrency;
        self
    }

    /// Enables or disables cgroup v2 containment (see [`Self::cgroups`]).
    pub fn cgroups(mut self, enabled: bool) -> Self {
        self.cgroups = enabled;
        self
    }

    /// Sets how many attempts one process runs at once.
    pub fn max_concurrent(mut self, max_concurrent: usize) -> Self {
        self.max_concurrent = max_concurrent;
        self
    }

    /// Sets the largest payload an attempt may carry.
    pub fn max_payload_bytes(mut self, bytes: usize) -> Self {
        self.max_payload_bytes = bytes;
        self
    }

    /// Sets the bound of the wait queue.
    pub fn max_queue(mut self, max_queue: usize) -> Self {
        self.max_queue = max_queue;
        self
    }

    /// Sets the readiness + handshake timeout.
    pub fn ready_timeout(mut self, timeout: Duration) -> Self {
        self.ready_timeout = timeout;
        self
    }

    /// Sets the health check interval, timeout and allowed consecutive misses.
    pub fn health(mut self, interval: Duration, timeout: Duration, max_missed: u32) -> Self {
        self.health_interval = interval;
        self.health_timeout = timeout;
        self.max_missed_health = max_missed;
        self
    }

    /// Sets the time between SIGTERM and SIGKILL.
    pub fn grace(mut self, grace: Duration) -> Self {
        self.grace = grace;
        self
    }

    /// Sets each worker Starter's restart intensity.
    pub fn intensity(mut self, max_restarts: u32, period: Duration) -> Self {
        self.intensity = IntensityConfig {
            max_restarts,
            period,
        };
        self
    }

    /// Checks every field; the error names the pool and the field.
    pub fn validate(&self) -> Result<(), ExternalError> {
        let bad = |reason: String| ExternalError::InvalidConfig {
            pool: self.name.clone(),
            reason,
        };
        if self.name.is_empty()
            || self.name.len() > 64
            || !self
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
            || self.name.starts_with('.')
        {
            return Err(bad(format!(
                "`name` must be 1-64 characters of [A-Za-z0-9_.-] not starting with '.', got {:?}",
                self.name
            )));
        }
        if self.command.trim().is_empty() {
            return Err(bad("`command` must not be empty".into()));
        }
        if self.size == 0 || self.size > MAX_POOL_SIZE {
            return Err(bad(format!(
                "`size` must be between 1 and {MAX_POOL_SIZE}, got {}",
                self.size
            )));
        }
        if self.max_concurrent == 0 || self.max_concurrent > 1024 {
            return Err(bad(format!(
                "`max_concurrent` must be between 1 and 1024, got {}",
                self.max_concurrent
            )));
        }
        let max_payload = super::handshake::MAX_MESSAGE_BYTES - 1024 * 1024;
        if self.max_payload_bytes == 0 || self.max_payload_bytes > max_payload {
            return Err(bad(format!(
                "`max_payload_bytes` must be between 1 and {max_payload}, got {}",
                self.max_payload_bytes
            )));
        }
        if self.startup_concurrency == 0 {
            return Err(bad("`startup_concurrency` must be at least 1".into()));
        }
        for (field, value) in [
            ("ready_timeout", self.ready_timeout),
            ("health_interval", self.health_interval),
            ("health_timeout", self.health_timeout),
            ("intensity.period", self.intensity.period),
        ] {
            if value.is_zero() {
                return Err(bad(format!("`{field}` must be greater than zero")));
            }
        }
        if self.max_missed_health == 0 {
            return Err(bad("`max_missed_health` must be at least 1".into()));
        }
        if let Some(key) = self
            .env
            .keys()
            .find(|k| k.is_empty() || k.contains('=') || k.contains('\0'))
        {
            return Err(bad(format!("invalid environment variable name {key:?}")));
        }
        if let Some(key) = self.env.keys().find(|k| k.starts_with("HOURGLASS_")) {
            return Err(bad(format!(
                "environment variable {key:?} is reserved (HOURGLASS_* is set by Hourglass)"
            )));
        }
        Ok(())
    }
}

/// Durations written as text: a number followed by `ms`, `s`, `m` or `h` (`"250ms"`, `"5s"`,
/// `"1.5s"`, `"2m"`).
pub mod duration_str {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer, de::Error as _};

    /// Parses `"250ms"`, `"5s"`, `"1.5s"`, `"2m"`, `"1h"`.
    pub fn parse(text: &str) -> Result<Duration, String> {
        let t = text.trim();
        let (number, unit) = match t.find(|c: char| !(c.is_ascii_digit() || c == '.')) {
            Some(i) => t.split_at(i),
            None => {
                return Err(format!(
                    "duration {text:?} has no unit (use ms, s, m or h, e.g. \"5s\")"
                ));
            }
        };
        let value: f64 = number
            .parse()
            .map_err(|_| format!("invalid duration {text:?}"))?;
        let secs = match unit.trim() {
            "ms" => value / 1000.0,
            "s" => value,
            "m" => value * 60.0,
            "h" => value * 3600.0,
            other => {
                return Err(format!(
                    "invalid duration unit {other:?} in {text:?} (use ms, s, m or h)"
                ));
            }
        };
        Duration::try_from_secs_f64(secs).map_err(|e| format!("invalid duration {text:?}: {e}"))
    }

    /// Formats as milliseconds (`"250ms"`), or seconds when whole (`"5s"`).
    pub fn format(d: Duration) -> String {
        if d.subsec_millis() == 0 && d.subsec_nanos() == 0 {
            format!("{}s", d.as_secs())
        } else {
            format!("{}ms", d.as_millis())
        }
    }

    /// Serde deserializer for a duration string.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let text = String::deserialize(d)?;
        parse(&text).map_err(D::Error::custom)
    }

    /// Serde serializer to a duration string.
    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format(*d))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_toml_with_defaults_and_durations() {
        let text = r#"
            name = "ml"
            command = "python3"
            args = ["-m", "hourglass_activity_worker", "acts"]
            size = 4
            env = { OMP_NUM_THREADS = "1" }
            health_interval = "250ms"
            grace = "1.5s"
            intensity = { max_restarts = 5, period = "1m" }
        "#;
        let cfg: ExternalPoolConfig = toml::from_str(text).unwrap();
        assert_eq!(cfg.size, 4);
        assert_eq!(cfg.health_interval, Duration::from_millis(250));
        assert_eq!(cfg.grace, Duration::from_millis(1500));
        assert_eq!(cfg.intensity.period, Duration::from_secs(60));
        assert_eq!(cfg.intensity.max_restarts, 5);
        assert_eq!(cfg.health_timeout, Duration::from_secs(2));
        assert_eq!(cfg.max_queue, 1000);
        assert!(cfg.startup_concurrency >= 4);
        assert!(
            cfg.fork_server,
            "workers come from a fork server by default"
        );
        cfg.validate().unwrap();
        let direct: ExternalPoolConfig =
            toml::from_str("name='d'\ncommand='x'\nfork_server=false").unwrap();
        assert!(!direct.fork_server);
    }

    #[test]
    fn unknown_fields_and_bad_durations_are_errors() {
        let err = toml::from_str::<ExternalPoolConfig>("name='a'\ncommand='x'\nsizes=2")
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown field `sizes`"), "{err}");
        let err = toml::from_str::<ExternalPoolConfig>("name='a'\ncommand='x'\ngrace='5'")
            .unwrap_err()
            .to_string();
        assert!(err.contains("has no unit"), "{err}");
        let err = toml::from_str::<ExternalPoolConfig>("name='a'\ncommand='x'\ngrace='5 days'")
            .unwrap_err()
            .to_string();
        assert!(err.contains("invalid duration unit"), "{err}");
    }

    #[test]
    fn validation_names_the_field() {
        let ok = ExternalPoolConfig::new("p", "python3");
        ok.validate().unwrap();
        let cases = [
            (ExternalPoolConfig::new("", "x"), "`name`"),
            (ExternalPoolConfig::new("a/b", "x"), "`name`"),
            (ExternalPoolConfig::new("p", " "), "`command`"),
            (ok.clone().size(0), "`size`"),
            (ok.clone().size(5000), "`size`"),
            (ok.clone().startup_concurrency(0), "`startup_concurrency`"),
            (ok.clone().max_concurrent(0), "`max_concurrent`"),
            (ok.clone().max_payload_bytes(1 << 30), "`max_payload_bytes`"),
            (
                ok.clone().health(Duration::ZERO, Duration::from_secs(1), 1),
                "`health_interval`",
            ),
            (
                ok.clone()
                    .health(Duration::from_secs(1), Duration::from_secs(1), 0),
                "`max_missed_health`",
            ),
            (ok.clone().env("HOURGLASS_RUN_MARKER", "x"), "reserved"),
            (ok.clone().env("A=B", "x"), "invalid environment"),
        ];
        for (cfg, needle) in cases {
            let err = cfg.validate().unwrap_err().to_string();
            assert!(err.contains(needle), "{err} should mention {needle}");
        }
    }

    #[test]
    fn duration_format_round_trips() {
        for d in [Duration::from_secs(5), Duration::from_millis(250)] {
            assert_eq!(duration_str::parse(&duration_str::format(d)).unwrap(), d);
        }
    }
}
