//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::sync::Arc;

use parking_lot::Mutex;

/// An ordered log of events that children write to.
#[derive(Clone, Default)]
pub struct Log(Arc<Mutex<Vec<String>>>);

impl Log {
    pub fn push(&self, s: impl Into<String>) {
        self.0.lock().push(s.into());
    }
    pub fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock())
    }
    pub fn get(&self) -> Vec<String> {
        self.0.lock().clone()
    }
    pub fn count(&self, s: &str) -> usize {
        self.0.lock().iter().filter(|e| *e == s).count()
    }
}

/// Lets spawned tasks run until the system is quiet (works with paused time).
pub async fn settle() {
    for _ in 0..50 {
        tokio::task::yield_now().await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    for _ in 0..50 {
        tokio::task::yield_now().await;
    }
}
