//! Namespace retention, as Temporal's `DeleteHistoryEventTask`: when a run closes, a timer is
//! armed for its close time plus its namespace's retention; when it fires, the run, its
//! history and its visibility record are deleted (from memory and from SQLite). Timers of
//! closed runs are re-armed at start-up, so a run past its retention goes at once.
//! As Temporal's `GenerateDeleteHistoryEventTask`, the deletion time gets a full jitter of up
//! to `history.retentionTimerJitterDuration` (30 min by default; the builder's
//! `retention_jitter` and `--dynamic-config-value` set it), which spreads the deletions of
//! runs that closed together.
use crate::prelude::*;
use rand::Rng;

/// Temporal's minimum retention for a local namespace (`namespace.MinRetentionLocal`).
pub const MIN_RETENTION_MS: i64 = 3_600_000;

/// The dev server's default retention (24 h), as `temporal server start-dev`'s.
pub const DEFAULT_RETENTION_MS: i64 = 86_400_000;

/// Temporal's default `history.retentionTimerJitterDuration`.
pub const DEFAULT_RETENTION_JITTER: std::time::Duration = std::time::Duration::from_secs(30 * 60);

/// When a run closed at `close_ms` is deleted: its retention plus a uniformly random jitter
/// in `[0, jitter_ms)` (Temporal's `backoff.FullJitter`).
pub(crate) fn deletion_time(
    close_ms: i64,
    retention_ms: i64,
    jitter_ms: i64,
    rng: &mut impl Rng,
) -> i64 {
    let jitter = if jitter_ms > 0 {
        rng.random_range(0..jitter_ms)
    } else {
        0
    };
    close_ms.saturating_add(retention_ms).saturating_add(jitter)
}

impl Inner<'_> {
    /// Arms the retention timer of a closed run.
    pub(crate) fn arm_retention(&mut self, key: &ExecKey) {
        if let Some(close_ms) = self.execs.get(key).and_then(|e| e.st.close_ms) {
            self.arm_retention_at(key, close_ms);
        }
    }

    /// Arms the retention timer of a run that closed at `close_ms`.
    pub(crate) fn arm_retention_at(&mut self, key: &ExecKey, close_ms: i64) {
        let retention = self
            .namespace(&key.namespace)
            .ok()
            .map(|n| n.retention_ms())
            .unwrap_or(DEFAULT_RETENTION_MS);
        let at = deletion_time(
            close_ms,
            retention,
            self.s.retention_jitter_ms,
            &mut rand::rng(),
        );
        self.arm(at, TimerTask::Retention { key: key.clone() });
    }

    /// Deletes a closed run whose retention has passed: its state, history and visibility.
    pub(crate) fn retention_due(&mut self, key: ExecKey) {
        // A run no longer in memory is closed (open runs never leave it).
        if self.execs.get(&key).is_some_and(|ex| ex.st.is_open()) {
            return;
        }
        self.delete_run(key, "retention passed");
    }

    /// Deletes a closed run: its state, history and visibility record, from memory and (with
    /// the next commit) from the store. A later run of the same workflow id is kept.
    pub(crate) fn delete_run(&mut self, key: ExecKey, why: &str) {
        self.execs.remove(&key);
        self.dirty.remove(&key);
        if self.execs.current(&key.namespace, &key.workflow_id) == Some(&key.run_id) {
            self.execs.remove_current(&key.namespace, &key.workflow_id);
        }
        tracing::info!(
            namespace = %key.namespace,
            workflow_id = %key.workflow_id,
            run_id = %key.run_id,
            why,
            "run deleted"
        );
        self.deleted.push(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_closed_run_is_deleted_once_its_retention_passed() {
        let e = Engine::open(&Database::InMemory, "default").unwrap();
        let key = {
            let mut g = e.lock_all();
            let key = g.create_run(NewRun {
                namespace: "default".into(),
                workflow_id: "w".into(),
                run_id: new_id(),
                workflow_type: "T".into(),
                task_queue: "q".into(),
                ..Default::default()
            });
            g.terminate(&key, "done", None, "test");
            key
        };
        let mut g = e.lock_all();
        assert!(g.execs.contains_key(&key));
        g.retention_due(key.clone());
        assert!(!g.execs.contains_key(&key), "deleted");
        assert_eq!(g.deleted, vec![key.clone()], "queued for the store");
        assert!(g.execs.current("default", "w").is_none());
    }

    #[test]
    fn deletion_times_spread_over_the_jitter_and_none_is_early() {
        use rand::SeedableRng;
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let times: Vec<i64> = (0..200)
            .map(|_| deletion_time(1_000, 3_600_000, 1_800_000, &mut rng))
            .collect();
        assert!(
            times
                .iter()
                .all(|t| (3_601_000..3_601_000 + 1_800_000).contains(t))
        );
        let (lo, hi) = (times.iter().min().unwrap(), times.iter().max().unwrap());
        assert!(hi - lo > 1_000_000, "spread {lo}..{hi}");
        assert_eq!(deletion_time(1_000, 3_600_000, 0, &mut rng), 3_601_000);
        assert_eq!(
            deletion_time(i64::MAX - 5, 3_600_000, 10, &mut rng),
            i64::MAX
        );
    }

    #[test]
    fn a_closed_run_is_armed_within_its_retention_and_jitter() {
        let e = Engine::open_with_clock(
            &Database::InMemory,
            "default",
            Arc::new(TimeSource::wall()),
            std::time::Duration::from_secs(60),
        )
        .unwrap();
        let mut g = e.lock_all();
        let key = g.create_run(NewRun {
            namespace: "default".into(),
            workflow_id: "w".into(),
            run_id: new_id(),
            workflow_type: "T".into(),
            task_queue: "q".into(),
            ..Default::default()
        });
        g.terminate(&key, "done", None, "test");
        let close = g.execs.get(&key).unwrap().st.close_ms.unwrap();
        let armed: Vec<i64> =
            g.s.timers
                .lock()
                .due
                .iter()
                .filter(|(_, t)| matches!(t, TimerTask::Retention { key: k } if k == &key))
                .map(|((at, _), _)| *at)
                .collect();
        let start = close + DEFAULT_RETENTION_MS;
        assert_eq!(armed.len(), 1, "{armed:?}");
        assert!(
            (start..start + 60_000).contains(&armed[0]),
            "{armed:?} vs {start}"
        );
    }
}
