//! Namespace retention, as Temporal's `DeleteHistoryEventTask`: when a run closes, a timer is
//! armed for its close time plus its namespace's retention; when it fires, the run, its
//! history and its visibility record are deleted (from memory and from SQLite). Timers of
//! closed runs are re-armed at start-up, so a run past its retention goes at once.
//! Temporal adds up to `RetentionTimerJitterDuration` (30 min) of jitter; the dev server
//! deletes on time, so a short retention is exact in tests.
use crate::prelude::*;

/// Temporal's minimum retention for a local namespace (`namespace.MinRetentionLocal`).
pub const MIN_RETENTION_MS: i64 = 3_600_000;

/// The dev server's default retention (24 h), as `temporal server start-dev`'s.
pub const DEFAULT_RETENTION_MS: i64 = 86_400_000;

impl Inner {
    /// Arms the retention timer of a closed run.
    pub(crate) fn arm_retention(&mut self, key: &ExecKey) {
        if let Some(close_ms) = self.execs.get(key).and_then(|e| e.st.close_ms) {
            self.arm_retention_at(key, close_ms);
        }
    }

    /// Arms the retention timer of a run that closed at `close_ms`.
    pub(crate) fn arm_retention_at(&mut self, key: &ExecKey, close_ms: i64) {
        let retention = self
            .namespaces
            .get(&key.namespace)
            .map(NamespaceRec::retention_ms)
            .unwrap_or(DEFAULT_RETENTION_MS);
        self.arm(
            close_ms.saturating_add(retention),
            TimerTask::Retention { key: key.clone() },
        );
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
        let current = (key.namespace.clone(), key.workflow_id.clone());
        if self.current.get(&current) == Some(&key.run_id) {
            self.current.remove(&current);
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
            let mut g = e.inner.lock();
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
        let mut g = e.inner.lock();
        assert!(g.execs.contains_key(&key));
        g.retention_due(key.clone());
        assert!(!g.execs.contains_key(&key), "deleted");
        assert_eq!(g.deleted, vec![key.clone()], "queued for the store");
        assert!(!g.current.contains_key(&("default".into(), "w".into())));
    }
}
