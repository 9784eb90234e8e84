//! External pool benchmark (real Python processes). Prints:
//! - the time to start a pool of 16 and of 100 Python workers (all handshaken and ready;
//!   goals on the 2-core reference machine: ≤ 1 s and ≤ 3 s);
//! - median and p99 latency of an echo activity through the pool, against the same echo as an
//!   in-process Rust async function, and the difference (the pool's added overhead; goals:
//!   median ≤ 0.5 ms, p99 ≤ 2 ms);
//! - echo activities per second through a pool of 8 workers under concurrent load.
//!
//! Run: `cargo bench -p hourglass-worker --bench external_pool` (add `-- quick` for fewer
//! samples and no 100-worker pool).

#[path = "../tests/external_support/mod.rs"]
mod external_support;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use hourglass_worker::external::{
    ExternalActivity, ExternalActivityInfo, ExternalOutcome, ExternalPoolConfig, ExternalPools,
};
use temporalio_common::protos::temporal::api::common::v1::Payload;
use tokio_util::sync::CancellationToken;

const WARMUP: usize = 300;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx]
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

#[inline(never)]
async fn rust_echo(activity: &ExternalActivity) -> ExternalOutcome {
    ExternalOutcome::Completed(activity.input[0].clone())
}

fn echo_activity() -> ExternalActivity {
    let payload = Payload {
        metadata: HashMap::from([("encoding".to_string(), b"json/plain".to_vec())]),
        data: br#"{"msg":"hello","n":42}"#.to_vec(),
        ..Default::default()
    };
    ExternalActivity {
        info: ExternalActivityInfo {
            activity_type: "Echo".into(),
            activity_id: "bench".into(),
            attempt: 1,
            ..Default::default()
        },
        input: vec![payload],
        ..Default::default()
    }
}

fn bench_pool(name: &str, size: usize) -> ExternalPoolConfig {
    external_support::fixture_pool(name, size).health(
        Duration::from_secs(5),
        Duration::from_secs(2),
        3,
    )
}

/// Starts a pool of `size` workers, prints the time to ready, stops it.
async fn startup(state: &std::path::Path, size: usize, goal: Duration) {
    let pools =
        ExternalPools::new(vec![bench_pool(&format!("start{size}"), size)], state).expect("config");
    let t0 = Instant::now();
    let running = pools.start().await.expect("pool start");
    let ready = t0.elapsed();
    let report = pools.stats()[0].startup.clone().expect("startup report");
    println!(
        "start a pool of {size:>3} Python workers: {:.2} s to ready ({} up, {} failed; goal <= {:.0} s) -> {}",
        ready.as_secs_f64(),
        report.started,
        report.failures.len(),
        goal.as_secs_f64(),
        if ready <= goal { "met" } else { "NOT met" }
    );
    running.shutdown().await;
}

/// Sequential echo calls through a pool against the in-process Rust echo.
async fn overhead(state: &std::path::Path, samples: usize) {
    let pools = ExternalPools::new(vec![bench_pool("latency", 2)], state).expect("config");
    let running = pools.start().await.expect("pool start");
    let activity = echo_activity();
    let mut pool_lat = Vec::with_capacity(samples);
    let mut rust_lat = Vec::with_capacity(samples);
    for i in 0..WARMUP + samples {
        let t = Instant::now();
        let out = pools
            .execute(activity.clone(), CancellationToken::new(), |_| {})
            .await;
        let d = t.elapsed();
        assert!(matches!(out, ExternalOutcome::Completed(_)), "{out:?}");
        let t = Instant::now();
        let out = std::hint::black_box(rust_echo(std::hint::black_box(&activity)).await);
        let r = t.elapsed();
        assert!(matches!(out, ExternalOutcome::Completed(_)));
        if i >= WARMUP {
            pool_lat.push(d);
            rust_lat.push(r);
        }
    }
    pool_lat.sort();
    rust_lat.sort();
    let (pm, p99) = (percentile(&pool_lat, 0.5), percentile(&pool_lat, 0.99));
    let (rm, r99) = (percentile(&rust_lat, 0.5), percentile(&rust_lat, 0.99));
    println!(
        "echo through the pool ({samples} sequential calls): median {:.0} us, p99 {:.0} us",
        us(pm),
        us(p99)
    );
    println!(
        "echo in-process Rust:                          median {:.2} us, p99 {:.2} us",
        us(rm),
        us(r99)
    );
    let (am, a99) = (pm.saturating_sub(rm), p99.saturating_sub(r99));
    println!(
        "added overhead: median {:.0} us, p99 {:.0} us (goals: median <= 500 us, p99 <= 2000 us) -> {}",
        us(am),
        us(a99),
        if am <= Duration::from_micros(500) && a99 <= Duration::from_millis(2) {
            "met"
        } else {
            "NOT met"
        }
    );
    running.shutdown().await;
}

/// Echo activities per second through a pool of 8 workers, `in_flight` at a time.
async fn throughput(state: &std::path::Path, total: usize, in_flight: usize) {
    let cfg = bench_pool("throughput", 8).max_concurrent(in_flight.div_ceil(8));
    let pools = ExternalPools::new(vec![cfg], state).expect("config");
    let running = pools.start().await.expect("pool start");
    let activity = echo_activity();
    let run = |n: usize| {
        let pools = pools.clone();
        let activity = activity.clone();
        async move {
            let next = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
            let callers: Vec<_> = (0..in_flight)
                .map(|_| {
                    let (pools, activity, next) = (pools.clone(), activity.clone(), next.clone());
                    tokio::spawn(async move {
                        while next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) < n {
                            let out = pools
                                .execute(activity.clone(), CancellationToken::new(), |_| {})
                                .await;
                            assert!(matches!(out, ExternalOutcome::Completed(_)), "{out:?}");
                        }
                    })
                })
                .collect();
            for c in callers {
                c.await.expect("caller");
            }
        }
    };
    run(WARMUP).await;
    let t0 = Instant::now();
    run(total).await;
    let elapsed = t0.elapsed();
    println!(
        "throughput through a pool of 8 ({in_flight} in flight, {total} echo activities): {:.0} activities/s",
        total as f64 / elapsed.as_secs_f64()
    );
    running.shutdown().await;
}

fn main() {
    let quick = std::env::args().any(|a| a == "quick");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    rt.block_on(async {
        let python = external_support::venv_python();
        println!("python: {}", python.display());
        let state = tempfile::tempdir().expect("tempdir");
        startup(state.path(), 16, Duration::from_secs(1)).await;
        if !quick {
            startup(state.path(), 100, Duration::from_secs(3)).await;
        }
        overhead(state.path(), if quick { 500 } else { 3000 }).await;
        throughput(state.path(), if quick { 1000 } else { 5000 }, 32).await;
    });
}
