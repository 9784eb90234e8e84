//! DynamicSupervisor semantics, churn without leaks, and the Starter pattern.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use common::{Log, settle};
use hourglass_supervise::*;

fn idle(id: &str) -> ChildSpec {
    ChildSpec::new(id, |ctx| async move {
        ctx.cancelled().await;
        Exit::Shutdown
    })
}

#[tokio::test(start_paused = true)]
async fn start_terminate_which_count_and_max_children() {
    let dsup = DynamicSupervisorSpec::new("pool")
        .max_children(2)
        .start()
        .await
        .unwrap();
    let a = dsup.start_child(idle("w")).await.unwrap();
    let b = dsup.start_child(idle("w")).await.unwrap();
    assert_ne!(a, b);
    let err = dsup.start_child(idle("w")).await.unwrap_err();
    assert!(
        matches!(err, SuperviseError::MaxChildren { max: 2, .. }),
        "{err}"
    );
    let counts = dsup.count_children().await.unwrap();
    assert_eq!(
        counts,
        ChildCounts {
            specs: 2,
            active: 2,
            supervisors: 0,
            workers: 2
        }
    );
    dsup.terminate_child(a).await.unwrap();
    assert!(matches!(
        dsup.terminate_child(a).await,
        Err(SuperviseError::NoSuchChild { .. })
    ));
    let which = dsup.which_children().await.unwrap();
    assert_eq!(which.len(), 1);
    assert_eq!(which[0].child, b);
    dsup.start_child(idle("w")).await.unwrap();
    assert_eq!(dsup.shutdown().await, Exit::Shutdown);
}

#[tokio::test(start_paused = true)]
async fn start_failure_is_reported_and_not_kept() {
    let dsup = DynamicSupervisorSpec::new("pool").start().await.unwrap();
    let err = dsup
        .start_child(ChildSpec::with_init("bad", |_ctx| async {
            Err::<std::future::Ready<Exit>, _>(StartError::new("no capacity"))
        }))
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "child `bad` of supervisor `pool` failed to start: no capacity"
    );
    assert_eq!(dsup.count_children().await.unwrap().specs, 0);
    dsup.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn terminal_children_are_dropped_from_state() {
    let dsup = DynamicSupervisorSpec::new("pool").start().await.unwrap();
    for i in 0..100 {
        let restart = if i % 2 == 0 {
            Restart::Temporary
        } else {
            Restart::Transient
        };
        dsup.start_child(ChildSpec::new("job", |_ctx| async { Exit::Normal }).restart(restart))
            .await
            .unwrap();
    }
    settle().await;
    assert_eq!(dsup.count_children().await.unwrap().specs, 0);
    dsup.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn dynamic_children_stop_concurrently_under_one_deadline() {
    let log = Log::default();
    let dsup = DynamicSupervisorSpec::new("pool").start().await.unwrap();
    for i in 0..5 {
        let log = log.clone();
        dsup.start_child(ChildSpec::new(format!("slow{i}"), move |ctx| {
            let log = log.clone();
            async move {
                ctx.cancelled().await;
                tokio::time::sleep(Duration::from_secs(1)).await;
                log.push("stopped");
                Exit::Shutdown
            }
        }))
        .await
        .unwrap();
    }
    // one that ignores shutdown: killed at its own 2 s timeout, not 5 * 1 s + 2 s later
    dsup.start_child(
        ChildSpec::new("stubborn", |_ctx| async {
            std::future::pending::<()>().await;
            Exit::Normal
        })
        .shutdown(Shutdown::Timeout(Duration::from_secs(2))),
    )
    .await
    .unwrap();
    let t0 = tokio::time::Instant::now();
    dsup.shutdown().await;
    let took = t0.elapsed();
    assert!(
        took >= Duration::from_secs(2) && took < Duration::from_millis(2100),
        "{took:?}"
    );
    assert_eq!(log.count("stopped"), 5);
}

async fn alive_tasks_settling_to(metrics: &tokio::runtime::RuntimeMetrics, want: usize) -> usize {
    for _ in 0..100 {
        if metrics.num_alive_tasks() == want {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    metrics.num_alive_tasks()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousand_crash_restart_cycles_leak_no_tasks() {
    let metrics = tokio::runtime::Handle::current().metrics();
    let baseline = metrics.num_alive_tasks();
    let registry = Registry::new();
    let starts = Arc::new(AtomicU32::new(0));
    let s2 = starts.clone();
    let (done_tx, done_rx) = tokio::sync::oneshot::channel();
    let done_tx = Arc::new(parking_lot::Mutex::new(Some(done_tx)));
    let sup = SupervisorSpec::new("churn")
        .registry(registry.clone())
        .intensity(100_000, Duration::from_secs(5))
        .child(ChildSpec::new("crashy", move |ctx| {
            let n = s2.fetch_add(1, Ordering::SeqCst);
            let done_tx = done_tx.clone();
            async move {
                if let Err(e) = ctx.register("crashy", n) {
                    return Exit::error(e);
                }
                if n < 1000 {
                    return Exit::error("crash");
                }
                if let Some(tx) = done_tx.lock().take() {
                    let _ = tx.send(());
                }
                ctx.cancelled().await;
                Exit::Shutdown
            }
        }))
        .start()
        .await
        .unwrap();
    tokio::time::timeout(Duration::from_secs(30), done_rx)
        .await
        .unwrap()
        .unwrap();
    let snap = sup.snapshot().await.unwrap();
    assert_eq!(snap.children[0].restarts, 1000);
    assert_eq!(starts.load(Ordering::SeqCst), 1001);
    // only the supervisor and the one live incarnation remain (tokio releases a finished
    // task just after waking its JoinHandle, so allow the count a moment to settle)
    assert_eq!(
        alive_tasks_settling_to(&metrics, baseline + 2).await,
        baseline + 2
    );
    assert_eq!(registry.names(), ["crashy"]);
    assert_eq!(registry.lookup::<u32>("crashy"), Some(1000));
    sup.shutdown().await;
    assert_eq!(alive_tasks_settling_to(&metrics, baseline).await, baseline);
    assert!(registry.is_empty());
}

#[tokio::test(start_paused = true)]
async fn dynamic_supervisor_is_reachable_via_registry_when_nested() {
    let registry = Registry::new();
    let top = SupervisorSpec::new("top")
        .registry(registry.clone())
        .child(
            DynamicSupervisorSpec::new("pool")
                .register_as("pool")
                .into_child_spec(),
        )
        .start()
        .await
        .unwrap();
    let pool: DynamicSupervisorHandle = registry.via("pool").unwrap();
    pool.start_child(idle("x")).await.unwrap();
    let snap = top.snapshot().await.unwrap();
    let pool_snap = snap.children[0].supervisor.as_ref().unwrap();
    assert_eq!(pool_snap.children.len(), 1);
    top.shutdown().await;
    assert!(registry.lookup::<DynamicSupervisorHandle>("pool").is_none());
    assert!(!pool.is_running());
}

#[tokio::test(start_paused = true)]
async fn starter_restarts_its_worker_and_the_pool_only_sees_the_starter() {
    let registry = Registry::new();
    let pool = DynamicSupervisorSpec::new("pool")
        .registry(registry.clone())
        .start()
        .await
        .unwrap();
    let starts = Arc::new(AtomicU32::new(0));
    let s2 = starts.clone();
    let worker = ChildSpec::new("grpc-worker", move |ctx| {
        let n = s2.fetch_add(1, Ordering::SeqCst);
        async move {
            ctx.register("worker/1", n).unwrap();
            if n == 0 {
                return Exit::error("python died");
            }
            ctx.cancelled().await;
            Exit::Shutdown
        }
    });
    let starter = pool
        .start_child(Starter::new("1", worker).child_spec())
        .await
        .unwrap();
    settle().await;
    assert_eq!(starts.load(Ordering::SeqCst), 2);
    let handle = Starter::lookup(&registry, "1").unwrap();
    let kids = handle.which_children().await.unwrap();
    assert_eq!(kids[0].restart, Restart::Transient);
    assert_eq!(kids[0].restarts, 1);
    // the pool saw no restart: the starter handled it
    let pool_view = pool.which_children().await.unwrap();
    assert_eq!(pool_view[0].restarts, 0);
    assert_eq!(pool_view[0].kind, ChildKind::Supervisor);
    // terminating the starter stops the worker and frees its names atomically
    pool.terminate_child(starter).await.unwrap();
    assert!(registry.is_empty());
    assert!(Starter::lookup(&registry, "1").is_none());
    pool.shutdown().await;
}

/// Detached starts keep their call order, report their outcome through the returned future
/// (which may be dropped), and a refused start drops its spec, so work the spec owns is
/// released rather than lost silently.
#[tokio::test(start_paused = true)]
async fn detached_starts_keep_order_and_refusals_drop_the_spec() {
    struct Released(Arc<AtomicU32>);
    impl Drop for Released {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    let dsup = DynamicSupervisorSpec::new("pool")
        .max_children(2)
        .start()
        .await
        .unwrap();
    let order = Arc::new(parking_lot::Mutex::new(Vec::new()));
    let released = Arc::new(AtomicU32::new(0));
    let spec = |n: u32| {
        let order = order.clone();
        let guard = Released(released.clone());
        ChildSpec::new(format!("w{n}"), move |ctx| {
            let _owned = &guard;
            order.lock().push(n);
            async move {
                ctx.cancelled().await;
                Exit::Shutdown
            }
        })
    };
    // The first start's answer is dropped: it happens anyway.
    drop(dsup.start_child_detached(spec(1)));
    let second = dsup.start_child_detached(spec(2));
    let refused = dsup.start_child_detached(spec(3));
    assert!(second.await.is_ok());
    let err = refused.await.unwrap_err();
    assert!(
        matches!(err, SuperviseError::MaxChildren { max: 2, .. }),
        "{err}"
    );
    settle().await;
    assert_eq!(*order.lock(), vec![1, 2]);
    assert_eq!(
        released.load(Ordering::SeqCst),
        1,
        "the refused spec was dropped"
    );
    assert_eq!(dsup.shutdown().await, Exit::Shutdown);
    let err = dsup.start_child_detached(spec(4)).await.unwrap_err();
    assert!(matches!(err, SuperviseError::NotRunning(_)), "{err}");
}

/// A child whose start phase takes `delay` (or fails after it when `fail`), counting how many
/// start phases run at once.
fn slow_start(
    id: &str,
    delay: Duration,
    fail: bool,
    now: Arc<AtomicU32>,
    peak: Arc<AtomicU32>,
) -> ChildSpec {
    ChildSpec::with_init(id, move |ctx| {
        let (now, peak) = (now.clone(), peak.clone());
        async move {
            let running = now.fetch_add(1, Ordering::SeqCst) + 1;
            peak.fetch_max(running, Ordering::SeqCst);
            tokio::time::sleep(delay).await;
            now.fetch_sub(1, Ordering::SeqCst);
            if fail {
                return Err(StartError::new("broken on purpose"));
            }
            Ok(async move {
                ctx.cancelled().await;
                Exit::Shutdown
            })
        }
    })
}

#[tokio::test(start_paused = true)]
async fn concurrent_starts_overlap_and_a_failing_start_holds_up_no_other() {
    let dsup = DynamicSupervisorSpec::new("pool")
        .concurrent_starts(true)
        .max_children(8)
        .start()
        .await
        .unwrap();
    let (now, peak) = (Arc::new(AtomicU32::new(0)), Arc::new(AtomicU32::new(0)));
    let starts: Vec<_> = (0..8)
        .map(|i| {
            // The broken one is the slowest, so any serialisation would show in the peak.
            let (delay, fail) = if i == 3 {
                (Duration::from_secs(5), true)
            } else {
                (Duration::from_secs(1), false)
            };
            dsup.start_child_detached(slow_start(
                &format!("w{i}"),
                delay,
                fail,
                now.clone(),
                peak.clone(),
            ))
        })
        .collect();
    // The loop still answers while every start phase is under way.
    tokio::task::yield_now().await;
    let which = dsup.which_children().await.unwrap();
    assert_eq!(which.len(), 8);
    assert!(
        which.iter().all(|c| c.state == ChildState::Restarting),
        "{which:?}"
    );
    let results = futures::future::join_all(starts).await;
    assert_eq!(
        peak.load(Ordering::SeqCst),
        8,
        "start phases did not overlap"
    );
    for (i, r) in results.iter().enumerate() {
        if i == 3 {
            let err = r.as_ref().unwrap_err().to_string();
            assert!(
                err.contains("broken on purpose") && err.contains("w3"),
                "{err}"
            );
        } else {
            assert!(r.is_ok(), "w{i}: {r:?}");
        }
    }
    let counts = dsup.count_children().await.unwrap();
    assert_eq!((counts.specs, counts.active), (7, 7));
    assert_eq!(dsup.shutdown().await, Exit::Shutdown);
}

#[tokio::test(start_paused = true)]
async fn children_still_starting_are_stopped_at_shutdown_and_by_terminate() {
    let dsup = DynamicSupervisorSpec::new("pool")
        .concurrent_starts(true)
        .start()
        .await
        .unwrap();
    let cancelled = Arc::new(AtomicU32::new(0));
    let waiting = |id: &str| {
        let cancelled = cancelled.clone();
        ChildSpec::with_init(id, move |ctx| {
            let cancelled = cancelled.clone();
            async move {
                ctx.cancelled().await;
                cancelled.fetch_add(1, Ordering::SeqCst);
                Err::<futures::future::BoxFuture<'static, Exit>, _>(StartError::new(
                    "stopped while starting",
                ))
            }
        })
    };
    let a = dsup.start_child_detached(waiting("a"));
    let b = dsup.start_child_detached(waiting("b"));
    tokio::task::yield_now().await;
    let which = dsup.which_children().await.unwrap();
    dsup.terminate_child(which[0].child).await.unwrap();
    assert!(a.await.is_err());
    assert_eq!(cancelled.load(Ordering::SeqCst), 1);
    assert_eq!(dsup.shutdown().await, Exit::Shutdown);
    // At shutdown the start phase is abandoned like a sequential one (the supervisor's token
    // ends it); the caller hears of it either way.
    assert!(b.await.is_err());
}
