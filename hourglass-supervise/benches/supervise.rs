//! Benchmarks for hourglass-supervise; prints figures to compare release to release.
//!
//! `cargo bench -p hourglass-supervise`
//!
//! - crash → restarted latency (median, p99) on a current-thread and a 2-worker runtime;
//! - heap bytes per idle supervised child (counting global allocator), total and excluding the
//!   child's own boxed future;
//! - time to start 10,000 dynamic children and to stop them all (supervisor shutdown).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::Arc;
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::{Duration, Instant};

use hourglass_supervise::{ChildSpec, DynamicSupervisorSpec, Exit, SupervisorSpec};
use parking_lot::Mutex;
use tokio::sync::{Notify, mpsc};

struct Counting;

static ALLOCATED: AtomicIsize = AtomicIsize::new(0);

// SAFETY: every call is forwarded unchanged to the system allocator; we only count bytes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATED.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        ALLOCATED.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATED.fetch_add(
            new_size as isize - layout.size() as isize,
            Ordering::Relaxed,
        );
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

async fn restart_latency(cycles: usize) -> Vec<Duration> {
    let (tx, mut rx) = mpsc::unbounded_channel::<Instant>();
    let crashed_at = Arc::new(Mutex::new(Instant::now()));
    let crash = Arc::new(Notify::new());
    let (c2, n2) = (crashed_at.clone(), crash.clone());
    let sup = SupervisorSpec::new("bench")
        .intensity(u32::MAX, Duration::from_secs(1))
        .child(ChildSpec::new("crashy", move |ctx| {
            let tx = tx.clone();
            let crashed_at = c2.clone();
            let crash = n2.clone();
            async move {
                let _ = tx.send(Instant::now());
                tokio::select! {
                    _ = crash.notified() => {
                        *crashed_at.lock() = Instant::now();
                        Exit::error("bench crash")
                    }
                    _ = ctx.cancelled() => Exit::Shutdown,
                }
            }
        }))
        .start()
        .await
        .expect("bench supervisor starts");
    rx.recv().await.expect("first start");
    let mut samples = Vec::with_capacity(cycles);
    for _ in 0..cycles {
        crash.notify_one();
        let started = rx.recv().await.expect("restarted");
        samples.push(started.duration_since(*crashed_at.lock()));
    }
    sup.shutdown().await;
    samples.sort();
    samples
}

fn idle_spec() -> ChildSpec {
    ChildSpec::new("idle", |ctx| async move {
        ctx.cancelled().await;
        Exit::Shutdown
    })
}

async fn idle_future_size() -> usize {
    // The child's own state: its boxed future (what the spec's closure returns).
    let token = tokio_util::sync::CancellationToken::new();
    let fut = async move {
        token.cancelled().await;
        Exit::Shutdown
    };
    std::mem::size_of_val(&fut)
}

async fn settle() {
    for _ in 0..100 {
        tokio::task::yield_now().await;
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
}

async fn memory_per_child(n: usize) -> f64 {
    let sup = DynamicSupervisorSpec::new("mem")
        .start()
        .await
        .expect("starts");
    let spec = idle_spec();
    // warm up channel blocks and timers
    for _ in 0..64 {
        let c = sup.start_child(spec.clone()).await.expect("start");
        sup.terminate_child(c).await.expect("terminate");
    }
    settle().await;
    let before = ALLOCATED.load(Ordering::SeqCst);
    for _ in 0..n {
        sup.start_child(spec.clone()).await.expect("start");
    }
    settle().await;
    let after = ALLOCATED.load(Ordering::SeqCst);
    sup.shutdown().await;
    (after - before) as f64 / n as f64
}

async fn start_stop(n: usize) -> (Duration, Duration, Duration) {
    let sup = DynamicSupervisorSpec::new("churn")
        .start()
        .await
        .expect("starts");
    let spec = idle_spec();
    let t0 = Instant::now();
    for _ in 0..n {
        sup.start_child(spec.clone()).await.expect("start");
    }
    let start_seq = t0.elapsed();
    let t1 = Instant::now();
    sup.shutdown().await;
    let stop = t1.elapsed();

    // pipelined starts: many requests in flight (how a pool fills itself)
    let sup = DynamicSupervisorSpec::new("churn2")
        .start()
        .await
        .expect("starts");
    let t2 = Instant::now();
    let calls: Vec<_> = (0..n).map(|_| sup.start_child(spec.clone())).collect();
    for r in futures::future::join_all(calls).await {
        r.expect("start");
    }
    let start_pipelined = t2.elapsed();
    sup.shutdown().await;
    (start_seq, start_pipelined, stop)
}

/// Runs `fut` as a task on the runtime (like application code), not on the bench's main thread.
fn run<F>(rt: &tokio::runtime::Runtime, fut: F) -> F::Output
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    rt.block_on(async move { tokio::spawn(fut).await.expect("bench task") })
}

fn runtime(multi: bool) -> tokio::runtime::Runtime {
    if multi {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime")
    } else {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
    }
}

fn main() {
    // `cargo bench` passes `--bench`; ignore arguments.
    const CYCLES: usize = 20_000;
    const N: usize = 10_000;
    println!(
        "hourglass-supervise benchmarks ({} build)",
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        }
    );
    for (name, multi) in [("current_thread", false), ("multi_thread(2)", true)] {
        let rt = runtime(multi);
        let s = run(&rt, restart_latency(CYCLES));
        println!(
            "crash->restarted latency [{name}]: median {:.1} us, p99 {:.1} us, max {:.1} us ({} cycles; goal median <= 50 us)",
            percentile(&s, 0.5).as_secs_f64() * 1e6,
            percentile(&s, 0.99).as_secs_f64() * 1e6,
            s.last().copied().unwrap_or_default().as_secs_f64() * 1e6,
            CYCLES
        );
    }
    let rt = runtime(true);
    let own = run(&rt, idle_future_size());
    let per = run(&rt, memory_per_child(N));
    println!(
        "memory per idle dynamic child: {per:.0} B total, {:.0} B excluding the child's own {own} B future (goal <= 2048 B)",
        per - own as f64
    );
    for (name, multi) in [("current_thread", false), ("multi_thread(2)", true)] {
        let rt = runtime(multi);
        let mut runs: Vec<_> = (0..5).map(|_| run(&rt, start_stop(N))).collect();
        runs.sort_by_key(|r| r.0);
        let (seq, pipe, stop) = runs[runs.len() / 2];
        println!(
            "{N} dynamic children [{name}] (median of 5): start {:.1} ms sequential, {:.1} ms pipelined; stop all {:.1} ms (goal <= 100 ms each)",
            seq.as_secs_f64() * 1e3,
            pipe.as_secs_f64() * 1e3,
            stop.as_secs_f64() * 1e3
        );
    }
}
