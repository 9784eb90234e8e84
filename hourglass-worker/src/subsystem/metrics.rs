//! Process-wide counters of the subsystem, exported by `hourglass run --metrics`.
//!
//! Counters only ever increase; they are shared by every Hourglass application in the
//! process (normally one).

use std::sync::atomic::{AtomicU64, Ordering};

/// Polls that failed with an error other than the core's `ShutDown`.
pub static POLL_ERRORS: AtomicU64 = AtomicU64::new(0);
/// Workflow activations handed to in-flight evaluation tasks.
pub static ACTIVATIONS_DISPATCHED: AtomicU64 = AtomicU64::new(0);
/// Activity attempts handed to in-flight activity tasks.
pub static ACTIVITIES_DISPATCHED: AtomicU64 = AtomicU64::new(0);
/// Completions refused because their worker had been replaced (work redelivered).
pub static COMPLETIONS_NOT_REGISTERED: AtomicU64 = AtomicU64::new(0);
/// Orphaned core workers (of a crashed, stopped or reloaded holder) drained and finalized.
pub static ORPHANS_FINALIZED: AtomicU64 = AtomicU64::new(0);
/// Orphaned core workers dropped without finalizing (drain timed out or finalize failed).
pub static ORPHANS_ABANDONED: AtomicU64 = AtomicU64::new(0);

pub(crate) fn inc(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

/// The counters in Prometheus text format (`# TYPE` lines included).
pub fn prometheus_text() -> String {
    let mut out = String::new();
    for (name, help, counter) in [
        (
            "hourglass_poll_errors_total",
            "Polls that failed with an error other than shutdown.",
            &POLL_ERRORS,
        ),
        (
            "hourglass_activations_dispatched_total",
            "Workflow activations dispatched to in-flight tasks.",
            &ACTIVATIONS_DISPATCHED,
        ),
        (
            "hourglass_activities_dispatched_total",
            "Activity attempts dispatched to in-flight tasks.",
            &ACTIVITIES_DISPATCHED,
        ),
        (
            "hourglass_completions_worker_replaced_total",
            "Completions refused because their worker was replaced.",
            &COMPLETIONS_NOT_REGISTERED,
        ),
        (
            "hourglass_orphaned_workers_finalized_total",
            "Core workers of a replaced holder or core drained and finalized.",
            &ORPHANS_FINALIZED,
        ),
        (
            "hourglass_orphaned_workers_abandoned_total",
            "Core workers of a replaced holder or core dropped without finalizing.",
            &ORPHANS_ABANDONED,
        ),
    ] {
        out.push_str(&format!(
            "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}\n",
            counter.load(Ordering::Relaxed)
        ));
    }
    out
}
