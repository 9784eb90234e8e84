//! Prometheus text for external pools (appended to `hourglass run`'s `/metrics`).

use std::fmt::Write as _;

use super::pool::PoolStats;

/// Name, Prometheus type, help text and value of one series.
type Series = (
    &'static str,
    &'static str,
    &'static str,
    fn(&PoolStats) -> u64,
);

/// The pools' gauges and counters in Prometheus text format, one series per pool.
pub(crate) fn prometheus_text(stats: &[PoolStats]) -> String {
    let mut out = String::new();
    let series: [Series; 7] = [
        (
            "hourglass_external_pool_workers",
            "gauge",
            "Worker processes joined (handshaken) and serving.",
            |s| s.workers.len() as u64,
        ),
        (
            "hourglass_external_pool_size",
            "gauge",
            "Configured worker processes.",
            |s| s.startup.as_ref().map_or(0, |r| r.size as u64),
        ),
        (
            "hourglass_external_pool_idle_slots",
            "gauge",
            "Free execution slots (max_concurrent per worker).",
            |s| s.idle_slots as u64,
        ),
        (
            "hourglass_external_pool_waiting",
            "gauge",
            "Executions waiting for a slot.",
            |s| s.waiting as u64,
        ),
        (
            "hourglass_external_pool_joins_total",
            "counter",
            "Handshakes completed (one per start and restart of a worker).",
            |s| s.joins,
        ),
        (
            "hourglass_external_pool_lost_executions_total",
            "counter",
            "Executions failed because their worker process died or was killed.",
            |s| s.lost_executions,
        ),
        (
            "hourglass_external_pool_start_failures",
            "gauge",
            "Workers that failed to start and are being retried.",
            |s| s.startup.as_ref().map_or(0, |r| r.failures.len() as u64),
        ),
    ];
    for (name, kind, help, value) in series {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for s in stats {
            let _ = writeln!(out, "{name}{{pool=\"{}\"}} {}", s.name, value(s));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_series_per_pool() {
        let stats = PoolStats {
            name: "py".into(),
            run_marker: "py:r".into(),
            activity_types: vec!["Echo".into()],
            workers: vec![("py-0".into(), 10), ("py-1".into(), 11)],
            idle_slots: 3,
            waiting: 0,
            peak_waiting: 0,
            joins: 4,
            lost_executions: 1,
            startup: None,
        };
        let text = prometheus_text(&[stats]);
        assert!(
            text.contains("hourglass_external_pool_workers{pool=\"py\"} 2\n"),
            "{text}"
        );
        assert!(text.contains("hourglass_external_pool_idle_slots{pool=\"py\"} 3\n"));
        assert!(text.contains("# TYPE hourglass_external_pool_joins_total counter\n"));
        assert!(text.contains("hourglass_external_pool_lost_executions_total{pool=\"py\"} 1\n"));
    }
}
