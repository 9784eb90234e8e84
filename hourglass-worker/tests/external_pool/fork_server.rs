//! Fork server: a pool's workers are forked by one zygote process (their parent), start
//! concurrently, get fresh random state, and die with the zygote (their descendants too); a
//! SIGKILLed zygote is restarted with its workers. `fork_server = false` spawns each worker directly.

use super::*;
use external_support::cmdline;

/// `(ppid, pgrp)` of a process from `/proc/<pid>/stat`.
fn parent_and_group(pid: u32) -> (u32, u32) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<u32> = stat
        .rsplit_once(')')
        .map(|(_, rest)| {
            rest.split_whitespace()
                .skip(1)
                .take(2)
                .filter_map(|f| f.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    (
        fields.first().copied().unwrap_or(0),
        fields.get(1).copied().unwrap_or(0),
    )
}

fn environ_has(pid: u32, key: &str) -> bool {
    std::fs::read(format!("/proc/{pid}/environ"))
        .unwrap_or_default()
        .split(|b| *b == 0)
        .any(|var| var.starts_with(format!("{key}=").as_bytes()))
}

fn worker_pids(pools: &ExternalPools) -> Vec<u32> {
    pools.stats()[0].workers.iter().map(|w| w.1).collect()
}

/// The one parent of all `workers` (the fork server), checked to be a child of this process.
fn fork_server_of(workers: &[u32]) -> u32 {
    let parents: std::collections::BTreeSet<u32> =
        workers.iter().map(|&w| parent_and_group(w).0).collect();
    assert_eq!(parents.len(), 1, "one parent for all workers: {parents:?}");
    let server = *parents.first().unwrap();
    assert_ne!(
        server,
        std::process::id(),
        "the workers were forked, not spawned"
    );
    assert_eq!(parent_and_group(server).0, std::process::id());
    assert!(
        environ_has(server, FORK_SERVER_ENV),
        "{server} is the fork server"
    );
    assert!(cmdline(server).contains("hourglass_activity_worker"));
    server
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_are_forked_by_the_pools_fork_server() {
    let state = tempfile::tempdir().unwrap();
    let pools = ExternalPools::new(vec![fixture_pool("forked", 4)], state.path()).unwrap();
    let running = pools.start().await.unwrap();
    let workers = worker_pids(&pools);
    assert_eq!(workers.len(), 4);
    let server = fork_server_of(&workers);
    for &w in &workers {
        // Each is its own process group (signals reach its activities, not its siblings).
        assert_eq!(parent_and_group(w).1, w, "worker {w} leads its own group");
        assert!(
            !environ_has(w, "HOURGLASS_WORKER_ID"),
            "/proc shows the server's environment"
        );
    }
    // The handshakes overlapped: the pool took less than the sum of the workers' start times.
    let report = pools.stats()[0].startup.clone().unwrap();
    let total: Duration = report
        .workers
        .iter()
        .map(|w| w.ready_after.saturating_sub(w.spawned_after))
        .sum();
    assert!(report.elapsed < total, "{report:#?}");
    // Every worker re-seeded `random` after the fork.
    let calls: Vec<_> = (0..4)
        .map(|_| {
            pools.execute(
                activity("Sleep", vec![json(0.3.into())]),
                CancellationToken::new(),
                no_heartbeat,
            )
        })
        .collect();
    for out in futures::future::join_all(calls).await {
        assert!(matches!(out, ExternalOutcome::Completed(_)), "{out:?}");
    }
    let mut values = std::collections::BTreeSet::new();
    for _ in 0..8 {
        let ExternalOutcome::Completed(p) = call(&pools, "Random", vec![]).await else {
            panic!("Random failed")
        };
        values.insert(decode(&p).as_str().unwrap().to_string());
    }
    assert_eq!(
        values.len(),
        8,
        "random values repeat across workers: {values:?}"
    );

    let exit = running.shutdown().await;
    assert!(!exit.is_abnormal(), "{exit}");
    for pid in workers.iter().copied().chain([server]) {
        assert!(is_dead(pid), "{pid} survived shutdown");
    }
    assert!(marked(&pools.stats()[0].run_marker).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_of_the_fork_server_takes_its_workers_and_the_pool_recovers() {
    let state = tempfile::tempdir().unwrap();
    let pools = ExternalPools::new(vec![fixture_pool("zygote", 3)], state.path()).unwrap();
    let running = pools.start().await.unwrap();
    let old = worker_pids(&pools);
    let server = fork_server_of(&old);
    // One worker has descendants: a child, a setsid() grandchild, a double-forked daemon.
    let out = call(&pools, "SpawnDescendants", vec![]).await;
    let ExternalOutcome::Completed(p) = out else {
        panic!("{out:?}")
    };
    let descendants: Vec<u32> = ["child", "setsid_parent", "setsid_grandchild", "daemon"]
        .iter()
        .map(|k| decode(&p)[*k].as_u64().unwrap() as u32)
        .collect();
    for &d in &descendants {
        assert!(!is_dead(d), "descendant {d} runs");
    }
    kill(Pid::from_raw(server as i32), Signal::SIGKILL).unwrap();
    wait_for(
        "the workers to die with their fork server",
        Duration::from_secs(5),
        || old.iter().all(|&w| is_dead(w)),
    )
    .await;
    // Each worker got its parent-death signal and killed its descendants (the daemon too,
    // adopted by the worker, a subreaper) before it exited.
    wait_for(
        "the workers' descendants to die",
        Duration::from_secs(5),
        || descendants.iter().all(|&d| is_dead(d)),
    )
    .await;
    wait_for(
        "a new fork server and workers",
        Duration::from_secs(30),
        || {
            let workers = worker_pids(&pools);
            workers.len() == 3 && workers.iter().all(|w| !old.contains(w))
        },
    )
    .await;
    let new = worker_pids(&pools);
    let new_server = fork_server_of(&new);
    assert_ne!(new_server, server);
    let out = call(&pools, "Echo", vec![json(5.into())]).await;
    assert!(matches!(out, ExternalOutcome::Completed(_)), "{out:?}");
    let exit = running.shutdown().await;
    assert!(!exit.is_abnormal(), "{exit}");
    for pid in new.iter().copied().chain([new_server]) {
        assert!(is_dead(pid), "{pid} survived shutdown");
    }
    assert!(marked(&pools.stats()[0].run_marker).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_fork_server_each_worker_is_spawned() {
    let state = tempfile::tempdir().unwrap();
    let cfg = fixture_pool("spawned", 2).fork_server(false);
    let pools = ExternalPools::new(vec![cfg], state.path()).unwrap();
    let running = pools.start().await.unwrap();
    let workers = worker_pids(&pools);
    assert_eq!(workers.len(), 2);
    assert_eq!(
        marked(&pools.stats()[0].run_marker).len(),
        2,
        "no fork server runs"
    );
    for &w in &workers {
        assert_eq!(parent_and_group(w), (std::process::id(), w));
        assert!(!environ_has(w, FORK_SERVER_ENV));
        assert!(environ_has(w, "HOURGLASS_WORKER_ID"));
    }
    let out = call(&pools, "Echo", vec![json(5.into())]).await;
    assert!(matches!(out, ExternalOutcome::Completed(_)), "{out:?}");
    let old = workers[0];
    kill(Pid::from_raw(old as i32), Signal::SIGKILL).unwrap();
    wait_for(
        "the Starter to restart the worker",
        Duration::from_secs(30),
        || {
            let s = &pools.stats()[0];
            s.joins == 3 && s.workers.len() == 2
        },
    )
    .await;
    running.shutdown().await;
    assert!(marked(&pools.stats()[0].run_marker).is_empty());
}
