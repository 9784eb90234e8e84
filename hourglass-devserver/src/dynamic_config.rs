//! `--dynamic-config-value KEY=VALUE`, as `temporal server start-dev` takes it: Temporal's
//! dynamic-config keys with JSON values. The keys the dev server has a setting for are
//! applied (the history limits, the continue-as-new suggestions, the retention timer's
//! jitter and the batcher's limits); a value of the wrong type for one of them is an error naming the key. Any other
//! key is accepted and ignored with a warning, as Temporal ignores keys no component reads.
use crate::batcher::BatcherSettings;
use crate::error::{DevServerError, Result};
use crate::history::limits::HistoryLimits;
use std::time::Duration;

/// The settings dynamic config can change, each starting at Temporal's default.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DynamicSettings {
    /// The per-execution history limits (`limit.history*`).
    pub history_limits: HistoryLimits,
    /// `history.retentionTimerJitterDuration` (see
    /// [`crate::DevServerBuilder::retention_jitter`]).
    pub retention_jitter: Duration,
    /// `frontend.MaxConcurrentBatchOperationPerNamespace`, `worker.batcherRPS` and
    /// `worker.batcherConcurrency` (see [`crate::DevServerBuilder::batcher`]).
    pub batcher: BatcherSettings,
}

impl Default for DynamicSettings {
    fn default() -> Self {
        DynamicSettings {
            history_limits: HistoryLimits::default(),
            retention_jitter: crate::history::retention::DEFAULT_RETENTION_JITTER,
            batcher: BatcherSettings::default(),
        }
    }
}

/// The batcher keys, each with the setting it sets.
type BatcherField = fn(&mut BatcherSettings, i64);

const BATCHER_KEYS: &[(&str, BatcherField)] = &[
    (
        "frontend.MaxConcurrentBatchOperationPerNamespace",
        |b, n| b.max_concurrent_per_namespace = usize::try_from(n).unwrap_or(usize::MAX),
    ),
    ("worker.batcherRPS", |b, n| b.rps = n as f64),
    ("worker.batcherConcurrency", |b, n| {
        b.concurrency = usize::try_from(n).unwrap_or(usize::MAX)
    }),
];

/// Where a history-limit key's value goes.
type Field = fn(&mut HistoryLimits) -> &mut i64;

/// The history-limit keys, each with the limit it sets.
const LIMIT_KEYS: &[(&str, Field)] = &[
    ("limit.historySize.error", |l| &mut l.size_error),
    ("limit.historySize.warn", |l| &mut l.size_warn),
    ("limit.historySize.suggestContinueAsNew", |l| {
        &mut l.size_suggest_continue_as_new
    }),
    ("limit.historyCount.error", |l| &mut l.count_error),
    ("limit.historyCount.warn", |l| &mut l.count_warn),
    ("limit.historyCount.suggestContinueAsNew", |l| {
        &mut l.count_suggest_continue_as_new
    }),
];

const RETENTION_JITTER_KEY: &str = "history.retentionTimerJitterDuration";

fn bad(entry: &str, why: &str) -> DevServerError {
    DevServerError::Config(format!("--dynamic-config-value {entry}: {why}"))
}

/// A duration value as Temporal's `convertDuration` reads one: a string in Go's syntax (with
/// Temporal's `d` for days; a bare number is seconds) or a JSON number of seconds.
fn duration_value(entry: &str, value: &serde_json::Value) -> Result<Duration> {
    let seconds = match value {
        serde_json::Value::String(s) => {
            let s = s.trim();
            let ms = if !s.is_empty() && s.chars().all(|c| c.is_ascii_digit() || c == '.') {
                crate::go_duration::parse_ms(&format!("{s}s"))
            } else {
                crate::go_duration::parse_ms(s)
            }
            .map_err(|e| bad(entry, &e))?;
            return u64::try_from(ms)
                .map(Duration::from_millis)
                .map_err(|_| bad(entry, "a duration cannot be negative"));
        }
        serde_json::Value::Number(n) => n.as_f64(),
        _ => None,
    }
    .ok_or_else(|| {
        bad(
            entry,
            "expected a duration (\"30m\") or a number of seconds",
        )
    })?;
    Duration::try_from_secs_f64(seconds).map_err(|_| bad(entry, "a duration cannot be negative"))
}

/// Applies `KEY=VALUE` entries to `settings`; returns the keys that were ignored.
pub fn apply(entries: &[String], settings: &mut DynamicSettings) -> Result<Vec<String>> {
    let mut ignored = vec![];
    for entry in entries {
        let (key, raw) = entry
            .split_once('=')
            .ok_or_else(|| bad(entry, "expected KEY=VALUE"))?;
        let key = key.trim();
        if key.is_empty() {
            return Err(bad(entry, "the key is empty"));
        }
        let value: serde_json::Value = serde_json::from_str(raw.trim()).map_err(|e| {
            bad(
                entry,
                &format!("the value is not JSON ({e}); quote strings"),
            )
        })?;
        if key.eq_ignore_ascii_case(RETENTION_JITTER_KEY) {
            settings.retention_jitter = duration_value(entry, &value)?;
            tracing::info!(key, value = ?settings.retention_jitter, "dynamic config value applied");
            continue;
        }
        if let Some((_, set)) = BATCHER_KEYS
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
        {
            let n = value
                .as_i64()
                .filter(|n| *n > 0)
                .ok_or_else(|| bad(entry, "expected a positive integer"))?;
            set(&mut settings.batcher, n);
            tracing::info!(key, value = n, "dynamic config value applied");
            continue;
        }
        let Some((_, field)) = LIMIT_KEYS.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)) else {
            tracing::warn!(
                key,
                "dynamic config key not used by the Hourglass dev server; ignored"
            );
            ignored.push(key.to_string());
            continue;
        };
        let n = value
            .as_i64()
            .filter(|n| *n > 0)
            .ok_or_else(|| bad(entry, "expected a positive integer"))?;
        *field(&mut settings.history_limits) = n;
        tracing::info!(key, value = n, "dynamic config value applied");
    }
    Ok(ignored)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn known_keys_set_their_limit_and_others_are_ignored() {
        let mut settings = DynamicSettings::default();
        let ignored = apply(
            &entries(&[
                "limit.historyCount.suggestContinueAsNew=50",
                "limit.historySize.error=1000000",
                "frontend.enableUpdateWorkflowExecution=true",
            ]),
            &mut settings,
        )
        .unwrap();
        let l = settings.history_limits;
        assert_eq!(l.count_suggest_continue_as_new, 50);
        assert_eq!(l.size_error, 1_000_000);
        assert_eq!(l.count_error, HistoryLimits::default().count_error);
        assert_eq!(ignored, ["frontend.enableUpdateWorkflowExecution"]);
    }

    #[test]
    fn the_batcher_keys_set_its_limits() {
        let mut settings = DynamicSettings::default();
        apply(
            &entries(&[
                "frontend.MaxConcurrentBatchOperationPerNamespace=3",
                "worker.batcherRPS=10",
                "worker.batcherConcurrency=2",
            ]),
            &mut settings,
        )
        .unwrap();
        assert_eq!(settings.batcher.max_concurrent_per_namespace, 3);
        assert_eq!(settings.batcher.rps, 10.0);
        assert_eq!(settings.batcher.concurrency, 2);
        assert!(apply(&entries(&["worker.batcherRPS=0"]), &mut settings).is_err());
    }

    #[test]
    fn malformed_entries_and_bad_values_are_errors_naming_the_entry() {
        for (entry, why) in [
            ("limit.historyCount.error", "expected KEY=VALUE"),
            ("=5", "the key is empty"),
            ("limit.historyCount.error=five", "not JSON"),
            ("limit.historyCount.error=\"5\"", "positive integer"),
            ("limit.historyCount.error=-1", "positive integer"),
            (
                "history.retentionTimerJitterDuration=\"5x\"",
                "invalid duration",
            ),
            (
                "history.retentionTimerJitterDuration=-3",
                "cannot be negative",
            ),
            (
                "history.retentionTimerJitterDuration=true",
                "expected a duration",
            ),
        ] {
            let err = apply(&entries(&[entry]), &mut DynamicSettings::default()).unwrap_err();
            let text = err.to_string();
            assert!(text.contains(entry) && text.contains(why), "{text}");
        }
    }

    #[test]
    fn the_retention_jitter_takes_temporal_durations() {
        for (value, expected) in [
            ("\"0s\"", Duration::ZERO),
            ("\"10m\"", Duration::from_secs(600)),
            ("\"1h30m\"", Duration::from_secs(5400)),
            ("\"2d\"", Duration::from_secs(2 * 86_400)),
            ("\"45\"", Duration::from_secs(45)),
            ("90", Duration::from_secs(90)),
            ("1.5", Duration::from_millis(1500)),
        ] {
            let mut settings = DynamicSettings::default();
            let entry = format!("history.retentionTimerJitterDuration={value}");
            assert!(
                apply(&entries(&[&entry]), &mut settings)
                    .unwrap()
                    .is_empty()
            );
            assert_eq!(settings.retention_jitter, expected, "{entry}");
        }
        assert_eq!(
            DynamicSettings::default().retention_jitter,
            Duration::from_secs(1800)
        );
    }
}
