//! External pool benchmark (real Python processes). Prints:
//! - the time to start a pool of 16 Python workers (all handshaken and ready);
//! - median and p99 latency of an echo activity through the pool, against the same echo as an
//!   in-process Rust async function, and the difference (the pool's added overhead).
//!
//! Run: `cargo bench -p hourglass-worker --bench external_pool`

#[path = "../tests/external_support/mod.rs"]
mod external_support;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use hourglass_worker::external::{
    ExternalActivity, ExternalActivityInfo, ExternalOutcome, ExternalPools,
};
use temporalio_common::protos::temporal::api::common::v1::Payload;
use tokio_util::sync::CancellationToken;

const POOL_SIZE: usize = 16;
const WARMUP: usize = 200;
const SAMPLES: usize = 2000;

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

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    rt.block_on(async {
        let python = external_support::venv_python();
        println!("python: {}", python.display());
        let state = tempfile::tempdir().expect("tempdir");

        let config = external_support::fixture_pool("bench", POOL_SIZE).health(
            Duration::from_secs(5),
            Duration::from_secs(2),
            3,
        );
        let pools = ExternalPools::new(vec![config], state.path()).expect("config");
        let t0 = Instant::now();
        let running = pools.start().await.expect("pool start");
        let startup = t0.elapsed();
        println!(
            "start a pool of {POOL_SIZE} Python workers: {:.2} s ({:.0} ms per worker)",
            startup.as_secs_f64(),
            startup.as_secs_f64() * 1000.0 / POOL_SIZE as f64
        );

        let payload = Payload {
            metadata: HashMap::from([("encoding".to_string(), b"json/plain".to_vec())]),
            data: br#"{"msg":"hello","n":42}"#.to_vec(),
            ..Default::default()
        };
        let activity = ExternalActivity {
            info: ExternalActivityInfo {
                activity_type: "Echo".into(),
                activity_id: "bench".into(),
                attempt: 1,
                ..Default::default()
            },
            input: vec![payload],
            ..Default::default()
        };

        let mut pool_lat = Vec::with_capacity(SAMPLES);
        let mut rust_lat = Vec::with_capacity(SAMPLES);
        for i in 0..WARMUP + SAMPLES {
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
            "echo through the pool ({SAMPLES} sequential calls): median {:.0} us, p99 {:.0} us",
            us(pm),
            us(p99)
        );
        println!(
            "echo in-process Rust:                          median {:.2} us, p99 {:.2} us",
            us(rm),
            us(r99)
        );
        println!(
            "added overhead: median {:.0} us, p99 {:.0} us (goal: median <= 1000 us) -> {}",
            us(pm.saturating_sub(rm)),
            us(p99.saturating_sub(r99)),
            if pm.saturating_sub(rm) <= Duration::from_millis(1) {
                "met"
            } else {
                "NOT met"
            }
        );
        running.shutdown().await;
    });
}
