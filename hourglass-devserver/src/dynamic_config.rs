//! `--dynamic-config-value KEY=VALUE`, as `temporal server start-dev` takes it: Temporal's
//! dynamic-config keys with JSON values. The keys the dev server has a setting for are
//! applied (the history limits and the continue-as-new suggestions); a value of the wrong
//! type for one of them is an error naming the key. Any other key is accepted and ignored
//! with a warning, as Temporal ignores keys no component reads.
use crate::error::{DevServerError, Result};
use crate::history::limits::HistoryLimits;

/// Where a key's value goes.
type Field = fn(&mut HistoryLimits) -> &mut i64;

/// The keys the dev server applies, each with the history limit it sets.
const KEYS: &[(&str, Field)] = &[
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

fn bad(entry: &str, why: &str) -> DevServerError {
    DevServerError::Config(format!("--dynamic-config-value {entry}: {why}"))
}

/// Applies `KEY=VALUE` entries to `limits`; returns the keys that were ignored.
pub fn apply(entries: &[String], limits: &mut HistoryLimits) -> Result<Vec<String>> {
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
        let Some((_, field)) = KEYS.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)) else {
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
        *field(limits) = n;
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
        let mut l = HistoryLimits::default();
        let ignored = apply(
            &entries(&[
                "limit.historyCount.suggestContinueAsNew=50",
                "limit.historySize.error=1000000",
                "frontend.enableUpdateWorkflowExecution=true",
            ]),
            &mut l,
        )
        .unwrap();
        assert_eq!(l.count_suggest_continue_as_new, 50);
        assert_eq!(l.size_error, 1_000_000);
        assert_eq!(l.count_error, HistoryLimits::default().count_error);
        assert_eq!(ignored, ["frontend.enableUpdateWorkflowExecution"]);
    }

    #[test]
    fn malformed_entries_and_bad_values_are_errors_naming_the_entry() {
        for (entry, why) in [
            ("limit.historyCount.error", "expected KEY=VALUE"),
            ("=5", "the key is empty"),
            ("limit.historyCount.error=five", "not JSON"),
            ("limit.historyCount.error=\"5\"", "positive integer"),
            ("limit.historyCount.error=-1", "positive integer"),
        ] {
            let err = apply(&entries(&[entry]), &mut HistoryLimits::default()).unwrap_err();
            let text = err.to_string();
            assert!(text.contains(entry) && text.contains(why), "{text}");
        }
    }
}
