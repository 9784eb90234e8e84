//! Static supervisor semantics: strategies, restart types, intensity, shutdown, registry.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use common::{Log, settle};
use hourglass_supervise::*;
use tokio::sync::Notify;

/// Names a child registers belong to its incarnation.
#[path = "supervisor/registry_names.rs"]
mod registry_names;

/// A worker that logs "start:<id>" and "stop:<id>", runs until shutdown, and crashes when
/// `crash` is notified.
fn worker(id: &str, log: &Log, crash: Arc<Notify>) -> ChildSpec {
    let log = log.clone();
    let name = id.to_string();
    ChildSpec::new(id, move |ctx| {
        let log = log.clone();
        let name = name.clone();
        let crash = crash.clone();
        async move {
            log.push(format!("start:{name}"));
            tokio::select! {
                _ = ctx.cancelled() => { log.push(format!("stop:{name}")); Exit::Shutdown }
                _ = crash.notified() => { log.push(format!("crash:{name}")); Exit::error("boom") }
            }
        }
    })
}

async fn states(h: &SupervisorHandle) -> Vec<(String, ChildState, u64)> {
    h.which_children()
        .await
        .unwrap()
        .into_iter()
        .map(|c| (c.id, c.state, c.restarts))
        .collect()
}

#[tokio::test(start_paused = true)]
async fn one_for_one_restarts_only_the_failed_child() {
    let log = Log::default();
    let (ca, cb) = (Arc::new(Notify::new()), Arc::new(Notify::new()));
    let sup = SupervisorSpec::new("top")
        .child(worker("a", &log, ca.clone()))
        .child(worker("b", &log, cb.clone()))
        .start()
        .await
        .unwrap();
    settle().await;
    assert_eq!(log.take(), ["start:a", "start:b"]);
    ca.notify_one();
    settle().await;
    assert_eq!(log.take(), ["crash:a", "start:a"]);
    assert_eq!(
        states(&sup).await,
        [
            ("a".into(), ChildState::Running, 1),
            ("b".into(), ChildState::Running, 0)
        ]
    );
    assert_eq!(sup.shutdown().await, Exit::Shutdown);
}

#[tokio::test(start_paused = true)]
async fn rest_for_one_cascades_only_to_later_siblings() {
    let log = Log::default();
    let n: Vec<_> = (0..3).map(|_| Arc::new(Notify::new())).collect();
    let sup = SupervisorSpec::new("top")
        .strategy(Strategy::RestForOne)
        .child(worker("a", &log, n[0].clone()))
        .child(worker("b", &log, n[1].clone()))
        .child(worker("c", &log, n[2].clone()))
        .start()
        .await
        .unwrap();
    settle().await;
    log.take();
    n[1].notify_one();
    settle().await;
    // c is stopped (a later sibling), a is untouched; b then c restart in order.
    assert_eq!(log.take(), ["crash:b", "stop:c", "start:b", "start:c"]);
    let s = states(&sup).await;
    assert_eq!(s[0], ("a".into(), ChildState::Running, 0));
    assert_eq!(s[1], ("b".into(), ChildState::Running, 1));
    assert_eq!(s[2], ("c".into(), ChildState::Running, 1));
    sup.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn one_for_all_restarts_all_but_drops_temporary_siblings() {
    let log = Log::default();
    let n: Vec<_> = (0..3).map(|_| Arc::new(Notify::new())).collect();
    let sup = SupervisorSpec::new("top")
        .strategy(Strategy::OneForAll)
        .child(worker("a", &log, n[0].clone()))
        .child(worker("t", &log, n[1].clone()).restart(Restart::Temporary))
        .child(worker("c", &log, n[2].clone()))
        .start()
        .await
        .unwrap();
    settle().await;
    log.take();
    n[2].notify_one();
    settle().await;
    // others stopped in reverse start order, then restarted in order; temporary not restarted
    assert_eq!(
        log.take(),
        ["crash:c", "stop:t", "stop:a", "start:a", "start:c"]
    );
    let ids: Vec<_> = states(&sup).await.into_iter().map(|s| s.0).collect();
    assert_eq!(ids, ["a", "c"]);
    sup.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn rest_for_one_does_not_restart_temporary_later_sibling() {
    let log = Log::default();
    let n: Vec<_> = (0..2).map(|_| Arc::new(Notify::new())).collect();
    let sup = SupervisorSpec::new("top")
        .strategy(Strategy::RestForOne)
        .child(worker("a", &log, n[0].clone()))
        .child(worker("t", &log, n[1].clone()).restart(Restart::Temporary))
        .start()
        .await
        .unwrap();
    settle().await;
    log.take();
    n[0].notify_one();
    settle().await;
    assert_eq!(log.take(), ["crash:a", "stop:t", "start:a"]);
    assert_eq!(sup.count_children().await.unwrap().specs, 1);
    sup.shutdown().await;
}

fn exits_with(id: &str, exit: Exit, starts: Arc<AtomicU32>) -> ChildSpec {
    ChildSpec::new(id, move |ctx| {
        let exit = exit.clone();
        let starts = starts.clone();
        async move {
            // First incarnation exits with `exit`, later ones wait for shutdown.
            if starts.fetch_add(1, Ordering::SeqCst) == 0 {
                exit
            } else {
                ctx.cancelled().await;
                Exit::Shutdown
            }
        }
    })
}

#[tokio::test(start_paused = true)]
async fn restart_types_follow_otp_rules() {
    let cases = [
        (Restart::Permanent, Exit::Normal, true),
        (Restart::Permanent, Exit::error("x"), true),
        (Restart::Transient, Exit::Normal, false),
        (Restart::Transient, Exit::Shutdown, false),
        (
            Restart::Transient,
            Exit::ShutdownWith("drained".into()),
            false,
        ),
        (Restart::Transient, Exit::error("x"), true),
        (Restart::Transient, Exit::custom("core reloaded"), true),
        (Restart::Temporary, Exit::error("x"), false),
    ];
    for (restart, exit, restarted) in cases {
        let starts = Arc::new(AtomicU32::new(0));
        let sup = SupervisorSpec::new("top")
            .child(exits_with("c", exit.clone(), starts.clone()).restart(restart))
            .start()
            .await
            .unwrap();
        settle().await;
        let expected = if restarted { 2 } else { 1 };
        assert_eq!(
            starts.load(Ordering::SeqCst),
            expected,
            "{restart:?} after {exit}"
        );
        let children = sup.which_children().await.unwrap();
        match (restart, restarted) {
            (Restart::Temporary, _) => assert!(children.is_empty()),
            (_, true) => assert_eq!(children[0].state, ChildState::Running),
            (_, false) => assert_eq!(children[0].state, ChildState::Terminated),
        }
        sup.shutdown().await;
    }
}

#[tokio::test(start_paused = true)]
async fn panic_is_an_abnormal_exit_and_is_restarted() {
    let starts = Arc::new(AtomicU32::new(0));
    let s2 = starts.clone();
    let sup = SupervisorSpec::new("top")
        .child(
            ChildSpec::new("p", move |ctx| {
                let n = s2.fetch_add(1, Ordering::SeqCst);
                async move {
                    if n == 0 {
                        panic!("kaboom");
                    }
                    ctx.cancelled().await;
                    Exit::Shutdown
                }
            })
            .restart(Restart::Transient),
        )
        .start()
        .await
        .unwrap();
    settle().await;
    assert_eq!(starts.load(Ordering::SeqCst), 2);
    sup.shutdown().await;
}

fn crasher(id: &str, every: Duration, starts: Arc<AtomicU32>) -> ChildSpec {
    ChildSpec::new(id, move |_ctx| {
        starts.fetch_add(1, Ordering::SeqCst);
        async move {
            tokio::time::sleep(every).await;
            Exit::error("crash")
        }
    })
}

#[tokio::test(start_paused = true)]
async fn exceeding_intensity_shuts_down_and_escalates() {
    let log = Log::default();
    let starts = Arc::new(AtomicU32::new(0));
    let sup = SupervisorSpec::new("top")
        .intensity(2, Duration::from_secs(5))
        .child(worker("steady", &log, Arc::new(Notify::new())))
        .child(crasher(
            "crashy",
            Duration::from_millis(100),
            starts.clone(),
        ))
        .start()
        .await
        .unwrap();
    let exit = tokio::time::timeout(Duration::from_secs(10), sup.wait())
        .await
        .unwrap();
    assert!(matches!(exit, Exit::Escalated(_)), "{exit:?}");
    // 1 start + 2 allowed restarts; the third restart exceeds the limit.
    assert_eq!(starts.load(Ordering::SeqCst), 3);
    // siblings were shut down
    assert_eq!(log.get(), ["start:steady", "stop:steady"]);
    assert!(!sup.is_running());
    assert!(matches!(
        sup.which_children().await,
        Err(SuperviseError::NotRunning(_))
    ));
}

#[tokio::test(start_paused = true)]
async fn sliding_window_forgives_spaced_out_crashes() {
    let starts = Arc::new(AtomicU32::new(0));
    let sup = SupervisorSpec::new("top")
        .intensity(2, Duration::from_secs(5))
        .child(crasher("slow", Duration::from_secs(3), starts.clone()))
        .start()
        .await
        .unwrap();
    // 60 s of crashes every 3 s: never more than 2 in a 5 s window.
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert!(sup.is_running());
    assert!(starts.load(Ordering::SeqCst) >= 20);
    sup.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn nested_supervisor_escalation_restarts_it_in_the_parent() {
    let starts = Arc::new(AtomicU32::new(0));
    let inner = SupervisorSpec::new("inner")
        .intensity(0, Duration::from_secs(5))
        .child(crasher("c", Duration::from_secs(1), starts.clone()));
    let top = SupervisorSpec::new("top")
        .intensity(100, Duration::from_secs(5))
        .child(inner.into_child_spec())
        .start()
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let snap = top.snapshot().await.unwrap();
    assert_eq!(snap.restarts, 1);
    assert_eq!(snap.children[0].restarts, 1);
    assert_eq!(snap.children[0].kind, ChildKind::Supervisor);
    assert_eq!(starts.load(Ordering::SeqCst), 2);
    top.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn shutdown_is_in_reverse_start_order() {
    let log = Log::default();
    let mut spec = SupervisorSpec::new("top");
    for id in ["a", "b", "c", "d"] {
        spec = spec.child(worker(id, &log, Arc::new(Notify::new())));
    }
    let sup = spec.start().await.unwrap();
    settle().await;
    log.take();
    assert_eq!(sup.shutdown().await, Exit::Shutdown);
    assert_eq!(log.take(), ["stop:d", "stop:c", "stop:b", "stop:a"]);
}

/// Records whether its future was dropped before finishing (i.e. aborted).
struct DropFlag(Log, &'static str);
impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.push(format!("dropped:{}", self.1));
    }
}

fn stubborn(id: &'static str, log: &Log, shutdown: Shutdown) -> ChildSpec {
    let log = log.clone();
    ChildSpec::new(id, move |_ctx| {
        let flag = DropFlag(log.clone(), id);
        async move {
            let _flag = flag;
            // ignores the shutdown signal
            std::future::pending::<()>().await;
            Exit::Normal
        }
    })
    .shutdown(shutdown)
}

#[tokio::test(start_paused = true)]
async fn child_ignoring_shutdown_is_killed_after_timeout() {
    let log = Log::default();
    let sup = SupervisorSpec::new("top")
        .child(worker("first", &log, Arc::new(Notify::new())))
        .child(stubborn(
            "stubborn",
            &log,
            Shutdown::Timeout(Duration::from_secs(2)),
        ))
        .start()
        .await
        .unwrap();
    settle().await;
    log.take();
    let t0 = tokio::time::Instant::now();
    assert_eq!(sup.shutdown().await, Exit::Shutdown);
    let took = t0.elapsed();
    assert!(
        took >= Duration::from_secs(2) && took < Duration::from_secs(3),
        "{took:?}"
    );
    // aborted after the timeout, and only then was the earlier sibling stopped
    assert_eq!(log.take(), ["dropped:stubborn", "stop:first"]);
}

#[tokio::test(start_paused = true)]
async fn brutal_kill_aborts_immediately() {
    let log = Log::default();
    let sup = SupervisorSpec::new("top")
        .child(stubborn("b", &log, Shutdown::BrutalKill))
        .start()
        .await
        .unwrap();
    settle().await;
    let t0 = tokio::time::Instant::now();
    sup.shutdown().await;
    assert_eq!(t0.elapsed(), Duration::ZERO);
    assert_eq!(log.take(), ["dropped:b"]);
}

#[tokio::test(start_paused = true)]
async fn init_failure_stops_started_children_and_names_the_child() {
    let log = Log::default();
    let result = SupervisorSpec::new("top")
        .child(worker("ok", &log, Arc::new(Notify::new())))
        .child(ChildSpec::with_init("bad", |_ctx| async {
            Err::<std::future::Ready<Exit>, _>(StartError::new("port in use"))
        }))
        .start()
        .await;
    let err = result.unwrap_err();
    assert_eq!(
        err.to_string(),
        "child `bad` of supervisor `top` failed to start: port in use"
    );
    settle().await;
    assert_eq!(log.take(), ["start:ok", "stop:ok"]);
}

#[tokio::test(start_paused = true)]
async fn failed_restarts_are_retried_and_counted() {
    let attempts = Arc::new(AtomicU32::new(0));
    let a2 = attempts.clone();
    let sup = SupervisorSpec::new("top")
        .intensity(5, Duration::from_secs(5))
        .child(ChildSpec::with_init("flaky", move |ctx| {
            let n = a2.fetch_add(1, Ordering::SeqCst);
            async move {
                match n {
                    0 => Ok(futures::future::ready(Exit::error("crash")).boxed_exit()),
                    1 | 2 => Err(StartError::new("not yet")),
                    _ => Ok(async move {
                        ctx.cancelled().await;
                        Exit::Shutdown
                    }
                    .boxed_exit()),
                }
            }
        }))
        .start()
        .await
        .unwrap();
    settle().await;
    assert_eq!(attempts.load(Ordering::SeqCst), 4);
    let snap = sup.snapshot().await.unwrap();
    // the crash restart plus two retries all counted
    assert_eq!(snap.restarts, 3);
    assert_eq!(snap.children[0].state, ChildState::Running);
    sup.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn restarts_that_keep_failing_escalate() {
    let attempts = Arc::new(AtomicU32::new(0));
    let a2 = attempts.clone();
    let sup = SupervisorSpec::new("top")
        .intensity(3, Duration::from_secs(5))
        .child(ChildSpec::with_init("broken", move |_ctx| {
            let n = a2.fetch_add(1, Ordering::SeqCst);
            async move {
                if n == 0 {
                    Ok(futures::future::ready(Exit::error("crash")).boxed_exit())
                } else {
                    Err(StartError::new("still broken"))
                }
            }
        }))
        .start()
        .await
        .unwrap();
    let exit = tokio::time::timeout(Duration::from_secs(1), sup.wait())
        .await
        .unwrap();
    assert!(matches!(exit, Exit::Escalated(_)));
    assert_eq!(attempts.load(Ordering::SeqCst), 4);
}

#[tokio::test(start_paused = true)]
async fn backoff_delays_restart_and_shutdown_stays_responsive() {
    let starts = Arc::new(AtomicU32::new(0));
    let sup = SupervisorSpec::new("top")
        .child(
            crasher("c", Duration::from_millis(10), starts.clone()).backoff(Backoff::exponential(
                Duration::from_secs(10),
                Duration::from_secs(60),
            )),
        )
        .start()
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert_eq!(starts.load(Ordering::SeqCst), 1);
    assert_eq!(states(&sup).await[0].1, ChildState::Restarting);
    tokio::time::sleep(Duration::from_secs(10)).await;
    assert_eq!(starts.load(Ordering::SeqCst), 2);
    // now in a 20 s backoff: shutdown must not wait for it
    tokio::time::sleep(Duration::from_millis(20)).await;
    let t0 = tokio::time::Instant::now();
    assert_eq!(sup.shutdown().await, Exit::Shutdown);
    assert!(t0.elapsed() < Duration::from_millis(1));
    assert_eq!(starts.load(Ordering::SeqCst), 2);
}

#[tokio::test(start_paused = true)]
async fn handle_errors_are_clear() {
    let log = Log::default();
    let sup = SupervisorSpec::new("top")
        .child(worker("a", &log, Arc::new(Notify::new())))
        .start()
        .await
        .unwrap();
    assert!(matches!(
        sup.terminate_child("nope").await,
        Err(SuperviseError::NoSuchChild { .. })
    ));
    assert!(matches!(
        sup.start_child(worker("a", &log, Arc::new(Notify::new())))
            .await,
        Err(SuperviseError::DuplicateChild { .. })
    ));
    assert!(matches!(
        sup.restart_child("a").await,
        Err(SuperviseError::ChildRunning { .. })
    ));
    assert!(matches!(
        sup.delete_child("a").await,
        Err(SuperviseError::ChildRunning { .. })
    ));
    sup.terminate_child("a").await.unwrap();
    sup.delete_child("a").await.unwrap();
    assert_eq!(sup.count_children().await.unwrap().specs, 0);
    let dup = SupervisorSpec::new("d")
        .child(worker("x", &log, Arc::new(Notify::new())))
        .child(worker("x", &log, Arc::new(Notify::new())))
        .start()
        .await;
    assert!(matches!(dup, Err(SuperviseError::InvalidSpec { .. })));
    sup.shutdown().await;
    assert!(matches!(
        sup.count_children().await,
        Err(SuperviseError::NotRunning(_))
    ));
}

#[tokio::test(start_paused = true)]
async fn snapshot_is_recursive_and_serializable() {
    let log = Log::default();
    let inner = SupervisorSpec::new("inner")
        .strategy(Strategy::OneForAll)
        .child(worker("leaf", &log, Arc::new(Notify::new())));
    let top = SupervisorSpec::new("top")
        .strategy(Strategy::RestForOne)
        .child(worker("w", &log, Arc::new(Notify::new())))
        .child(inner.into_child_spec())
        .child(DynamicSupervisorSpec::new("pool").into_child_spec())
        .start()
        .await
        .unwrap();
    let snap = top.snapshot().await.unwrap();
    assert_eq!(snap.strategy, Strategy::RestForOne);
    assert_eq!(snap.children.len(), 3);
    let inner = snap.children[1].supervisor.as_ref().unwrap();
    assert_eq!(inner.id, "inner");
    assert_eq!(inner.strategy, Strategy::OneForAll);
    assert_eq!(inner.children[0].id, "leaf");
    assert_eq!(inner.children[0].state, ChildState::Running);
    assert!(snap.children[2].supervisor.as_ref().unwrap().dynamic);
    let json = serde_json::to_value(&snap).unwrap();
    assert_eq!(
        json["children"][1]["supervisor"]["children"][0]["id"],
        "leaf"
    );
    assert_eq!(json["strategy"], "rest_for_one");
    let back: SupervisorSnapshot = serde_json::from_value(json).unwrap();
    assert_eq!(back, snap);
    top.shutdown().await;
    // the nested worker stopped too
    assert_eq!(log.count("stop:leaf"), 1);
}

trait BoxedExit {
    fn boxed_exit(self) -> ChildFuture;
}
impl<F: std::future::Future<Output = Exit> + Send + 'static> BoxedExit for F {
    fn boxed_exit(self) -> ChildFuture {
        Box::pin(self)
    }
}

#[tokio::test(start_paused = true)]
async fn panicking_start_function_is_a_start_error() {
    let err = SupervisorSpec::new("top")
        .child(ChildSpec::with_init("p", |_ctx| async {
            if true {
                panic!("bad config");
            }
            Ok(std::future::ready(Exit::Normal))
        }))
        .start()
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "child `p` of supervisor `top` failed to start: start function panicked: bad config"
    );
}

#[tokio::test(start_paused = true)]
async fn shutdown_on_drop_stops_the_tree() {
    let log = Log::default();
    let sup = SupervisorSpec::new("scoped")
        .child(worker("a", &log, Arc::new(Notify::new())))
        .child(worker("b", &log, Arc::new(Notify::new())))
        .start()
        .await
        .unwrap();
    {
        let _guard = sup.shutdown_on_drop();
        settle().await;
        assert!(sup.is_running());
    }
    assert_eq!(sup.wait().await, Exit::Shutdown);
    assert_eq!(log.take(), ["start:a", "start:b", "stop:b", "stop:a"]);
}

#[tokio::test(start_paused = true)]
async fn shutdown_interrupts_a_hanging_restart() {
    let attempts = Arc::new(AtomicU32::new(0));
    let a2 = attempts.clone();
    let sup = SupervisorSpec::new("top")
        .child(ChildSpec::with_init("hangs", move |_ctx| {
            let n = a2.fetch_add(1, Ordering::SeqCst);
            async move {
                if n == 0 {
                    Ok(futures::future::ready(Exit::error("crash")).boxed_exit())
                } else {
                    // the restart's start phase never completes
                    std::future::pending::<Result<ChildFuture, StartError>>().await
                }
            }
        }))
        .start()
        .await
        .unwrap();
    settle().await;
    assert_eq!(attempts.load(Ordering::SeqCst), 2);
    let t0 = tokio::time::Instant::now();
    assert_eq!(sup.shutdown().await, Exit::Shutdown);
    assert_eq!(t0.elapsed(), Duration::ZERO);
}

/// A child that never looks at its shutdown signal: only a kill can end it.
fn never_stops(id: &str, log: &Log) -> ChildSpec {
    let log = log.clone();
    let name = id.to_string();
    ChildSpec::new(id, move |_ctx| {
        let log = log.clone();
        let name = name.clone();
        async move {
            log.push(format!("start:{name}"));
            std::future::pending::<()>().await;
            Exit::Normal
        }
    })
}

#[tokio::test(start_paused = true)]
async fn kill_child_aborts_and_restarts_per_restart_type_counting_intensity() {
    let log = Log::default();
    let sup = SupervisorSpec::new("top")
        .strategy(Strategy::RestForOne)
        .intensity(2, Duration::from_secs(5))
        .child(never_stops("a", &log).restart(Restart::Transient))
        .child(worker("b", &log, Arc::new(Notify::new())))
        .child(
            never_stops("t", &log)
                .restart(Restart::Temporary)
                .shutdown(Shutdown::BrutalKill),
        )
        .start()
        .await
        .unwrap();
    settle().await;
    assert_eq!(log.take(), ["start:a", "start:b", "start:t"]);

    // Killed is abnormal: the transient child is restarted and rest_for_one cascades to the
    // later siblings; the temporary one is not restarted by the cascade.
    assert!(sup.kill_child("a").await.unwrap());
    settle().await;
    assert_eq!(log.take(), ["stop:b", "start:a", "start:b"]);
    let ids: Vec<String> = states(&sup).await.into_iter().map(|s| s.0).collect();
    assert_eq!(ids, ["a", "b"]);

    // Killing the temporary child's id now fails: it is gone from the spec list.
    assert!(sup.kill_child("t").await.is_err());

    // Kills count toward intensity: the third restart within 5 s escalates.
    assert!(sup.kill_child("a").await.unwrap());
    settle().await;
    assert!(sup.is_running());
    assert!(sup.kill_child("a").await.unwrap());
    let exit = sup.wait().await;
    assert!(matches!(exit, Exit::Escalated(_)), "{exit:?}");
}

#[tokio::test(start_paused = true)]
async fn dynamic_kill_child_restarts_a_permanent_child_and_drops_a_temporary_one() {
    let log = Log::default();
    let sup = DynamicSupervisorSpec::new("dyn").start().await.unwrap();
    let p = sup.start_child(never_stops("p", &log)).await.unwrap();
    let t = sup
        .start_child(never_stops("t", &log).restart(Restart::Temporary))
        .await
        .unwrap();
    settle().await;
    assert_eq!(log.take(), ["start:p", "start:t"]);
    assert!(sup.kill_child(p).await.unwrap());
    assert!(sup.kill_child(t).await.unwrap());
    settle().await;
    assert_eq!(log.take(), ["start:p"]);
    let counts = sup.count_children().await.unwrap();
    assert_eq!(counts.active, 1, "{counts:?}");
    assert!(
        sup.kill_child(t).await.is_err(),
        "a killed temporary child is forgotten"
    );
}
