//! The execution cache, as Temporal's history service keeps one: open runs are always in
//! memory; closed runs stay only while they are among the most recently closed
//! ([`CLOSED_CACHE_CAPACITY`] unless configured) and everything about them is durable, and are read back from
//! SQLite on demand (describe, history, queries, id-reuse checks). In memory, without a
//! database, nothing is evicted: memory is all the state there is.
use crate::prelude::*;
use std::sync::atomic::Ordering;

/// How many closed runs stay in memory by default.
pub const CLOSED_CACHE_CAPACITY: usize = 1_000;

impl Inner<'_> {
    /// Whether `key` is in memory now, reading a closed run from the store if needed. A
    /// store that cannot be read is logged and treated as the run being absent.
    pub(crate) fn fault_in(&mut self, key: &ExecKey) -> bool {
        if self.execs.contains_key(key) {
            return true;
        }
        let Some(reader) = self.s.reader.as_ref() else {
            return false;
        };
        let loaded = reader.lock().load_execution(key);
        match loaded {
            Ok(Some(se)) => {
                let closed = !se.state.is_open();
                self.execs.insert(
                    key.clone(),
                    Exec::new(se.state, se.events, self.s.time.clone()),
                );
                if closed {
                    self.s.closed_cache.lock().push_back(key.clone());
                }
                true
            }
            Ok(None) => false,
            Err(e) => {
                tracing::error!(workflow_id = %key.workflow_id, run_id = %key.run_id, error = %e, "reading a closed run failed");
                false
            }
        }
    }

    /// Records that a run closed, so it can leave memory later.
    pub(crate) fn cache_closed(&mut self, key: &ExecKey) {
        if self.s.reader.is_some() {
            self.s.closed_cache.lock().push_back(key.clone());
        }
    }
}

impl Engine {
    /// Drops the oldest closed runs beyond the capacity once the writer made them durable
    /// and nothing in flight refers to them (pending queries, unwritten changes). Each run
    /// is looked at under its own shard's lock, taken after the request let its shards go.
    pub(crate) fn evict_closed(&self) {
        if self.shared.reader.is_none() {
            return;
        }
        let capacity = self.shared.closed_cache_capacity.load(Ordering::Relaxed);
        let done = self.durable.borrow().done;
        let mut kept = 0;
        loop {
            let key = {
                let mut cache = self.shared.closed_cache.lock();
                if cache.len() <= capacity + kept {
                    return;
                }
                match cache.pop_front() {
                    Some(key) => key,
                    None => return,
                }
            };
            let mut g = self.lock_workflow(&key.namespace, &key.workflow_id);
            let evictable = match g.execs.get(&key) {
                None => true,
                Some(ex) => {
                    ex.durably_closed(done)
                        && ex.pending_queries.is_empty()
                        && ex.attached_queries.is_empty()
                        && !self.shared.queries.lock().values().any(|q| q.key == key)
                }
            };
            if evictable {
                g.execs.remove(&key);
            } else {
                // Not yet durable: try again after a later commit.
                self.shared.closed_cache.lock().push_back(key);
                kept += 1;
            }
        }
    }
}
