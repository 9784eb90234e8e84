//! The last abnormal exit of each supervised child, read from the supervision library's
//! `child exited abnormally` tracing events (the tree snapshot has states and counts, not
//! reasons), for the Web UI's supervision tree page.
//!
//! Keyed by (supervisor id, child id) as the event names them; a key that occurs more than
//! once in a tree is ambiguous, and the page does not show a reason for it.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use tracing::field::{Field, Visit};
use tracing_subscriber::layer::Context;

/// One recorded exit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChildExit {
    /// The exit reason as the supervisor logged it.
    pub reason: String,
    /// When it was recorded (UTC, `HH:MM:SS`).
    pub at: String,
}

fn exits() -> &'static Mutex<HashMap<(String, String), ChildExit>> {
    static EXITS: OnceLock<Mutex<HashMap<(String, String), ChildExit>>> = OnceLock::new();
    EXITS.get_or_init(Default::default)
}

/// The last abnormal exit of `child` under `supervisor`, if one was seen.
pub fn last_exit(supervisor: &str, child: &str) -> Option<ChildExit> {
    exits()
        .lock()
        .ok()?
        .get(&(supervisor.to_string(), child.to_string()))
        .cloned()
}

#[derive(Default)]
struct Fields {
    message: String,
    supervisor: String,
    child: String,
    reason: String,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.record_debug(field, &value);
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let text = format!("{value:?}");
        let text = text.trim_matches('"').to_string();
        match field.name() {
            "message" => self.message = text,
            "supervisor" => self.supervisor = text,
            "child" => self.child = text,
            "reason" => self.reason = text,
            _ => {}
        }
    }
}

/// The layer recording exits; installed by [`crate::logging::init`] with its own filter,
/// so it sees them whatever `RUST_LOG` says.
pub struct ExitLayer;

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for ExitLayer {
    fn on_event(&self, event: &tracing::Event<'_>, _ctx: Context<'_, S>) {
        let mut f = Fields::default();
        event.record(&mut f);
        if f.message != "child exited abnormally" || f.child.is_empty() {
            return;
        }
        record(f.supervisor, f.child, f.reason);
    }
}

fn record(supervisor: String, child: String, reason: String) {
    let at = chrono::Utc::now().format("%H:%M:%S").to_string();
    if let Ok(mut map) = exits().lock() {
        map.insert((supervisor, child), ChildExit { reason, at });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing_subscriber::layer::SubscriberExt;

    #[test]
    fn abnormal_exits_are_recorded_and_others_ignored() {
        let subscriber = tracing_subscriber::registry().with(ExitLayer);
        tracing::subscriber::with_default(subscriber, || {
            tracing::warn!(supervisor = %"sup-a", child = %"kid", incarnation = 3u64, reason = %"panicked: boom", "child exited abnormally");
            tracing::info!(supervisor = %"sup-a", child = %"calm", reason = %"normal", "child exited");
        });
        let e = last_exit("sup-a", "kid").unwrap();
        assert_eq!(e.reason, "panicked: boom");
        assert_eq!(last_exit("sup-a", "calm"), None);
        assert_eq!(last_exit("sup-b", "kid"), None);
    }
}
