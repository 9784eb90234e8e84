//! Concurrency stress on a multi-threaded runtime: incarnations of one child never overlap,
//! whatever the strategy, however children crash (error, panic) or get stopped by cascades.

use std::sync::Arc;
use std::sync::atomic::{AtomicI32, AtomicU32, Ordering};
use std::time::Duration;

use hourglass_supervise::*;

/// Live-incarnation counter for one child id; decremented when the future is dropped, which
/// covers returns, panics and aborts alike.
struct Live(Arc<AtomicI32>);
impl Drop for Live {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

fn chaotic(
    id: usize,
    live: Arc<AtomicI32>,
    overlaps: Arc<AtomicU32>,
    starts: Arc<AtomicU32>,
) -> ChildSpec {
    ChildSpec::new(format!("c{id}"), move |ctx| {
        let live = live.clone();
        let overlaps = overlaps.clone();
        let n = starts.fetch_add(1, Ordering::SeqCst);
        async move {
            if live.fetch_add(1, Ordering::SeqCst) != 0 {
                overlaps.fetch_add(1, Ordering::SeqCst);
            }
            let _live = Live(live);
            // pseudo-random lifetime in scheduler yields
            let spins = (n as usize * 7919 + id * 104_729) % 50;
            for _ in 0..spins {
                if ctx.is_shutdown_requested() {
                    return Exit::Shutdown;
                }
                tokio::task::yield_now().await;
            }
            match n % 3 {
                0 => Exit::error("chaos"),
                1 => panic!("chaos panic"),
                _ => Exit::custom("core reloaded"),
            }
        }
    })
    .shutdown(Shutdown::Timeout(Duration::from_secs(5)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incarnations_never_overlap_under_chaos() {
    for strategy in [
        Strategy::OneForOne,
        Strategy::OneForAll,
        Strategy::RestForOne,
    ] {
        let overlaps = Arc::new(AtomicU32::new(0));
        let starts = Arc::new(AtomicU32::new(0));
        let lives: Vec<_> = (0..4).map(|_| Arc::new(AtomicI32::new(0))).collect();
        let mut spec = SupervisorSpec::new("chaos")
            .strategy(strategy)
            .intensity(1_000_000, Duration::from_secs(1));
        for (i, live) in lives.iter().enumerate() {
            spec = spec.child(chaotic(i, live.clone(), overlaps.clone(), starts.clone()));
        }
        let sup = spec.start().await.unwrap();
        while starts.load(Ordering::SeqCst) < 2_000 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert_eq!(sup.shutdown().await, Exit::Shutdown);
        assert_eq!(overlaps.load(Ordering::SeqCst), 0, "{strategy:?}");
        for live in &lives {
            assert_eq!(
                live.load(Ordering::SeqCst),
                0,
                "{strategy:?}: a child outlived shutdown"
            );
        }
    }
}
