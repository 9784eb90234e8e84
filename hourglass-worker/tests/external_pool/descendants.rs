//! No descendant survives: a child, a `setsid()` grandchild and a double-forked daemon of a
//! Python activity are gone (checked in `/proc`) after SIGKILL of one worker, of the
//! supervising program, or when the worker's parent dies.

use super::*;
use external_support::cmdline;
use std::io::{BufRead, BufReader};

fn stat_fields(pid: u32) -> Vec<String> {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            s.rsplit_once(')')
                .map(|(_, rest)| rest.split_whitespace().map(String::from).collect())
        })
        .unwrap_or_default()
}

fn ppid(pid: u32) -> u32 {
    stat_fields(pid)
        .get(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0)
}

fn session(pid: u32) -> u32 {
    stat_fields(pid)
        .get(3)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0)
}

/// True where Hourglass can use cgroup v2 (`cgroup.kill`) on this machine.
fn cgroups_available() -> bool {
    hourglass_supervise::contain::own_cgroup_dir()
        .is_some_and(|d| hourglass_supervise::contain::usable_cgroup_parent(&d))
}

/// The pids `SpawnDescendants` returned: child, setsid parent, setsid grandchild, daemon.
fn descendant_pids(result: &Payload) -> [(String, u32); 4] {
    let v = decode(result);
    ["child", "setsid_parent", "setsid_grandchild", "daemon"]
        .map(|k| (k.to_string(), v[k].as_u64().unwrap() as u32))
}

/// Checks the shape of the process tree `SpawnDescendants` made under `worker`.
fn check_descendants(worker: u32, pids: &[(String, u32)]) {
    for (what, pid) in pids {
        assert!(!is_dead(*pid), "{what} ({pid}) is not running");
    }
    let grandchild = pids[2].1;
    let daemon = pids[3].1;
    assert_ne!(
        session(grandchild),
        session(worker),
        "the grandchild left the session"
    );
    assert_eq!(
        ppid(pids[2].1),
        pids[1].1,
        "the grandchild's parent is the helper"
    );
    // The daemon's parent exited: the worker, a child subreaper, adopted it.
    assert_eq!(
        ppid(daemon),
        worker,
        "the orphaned daemon was adopted by the worker"
    );
    let env = std::fs::read(format!("/proc/{daemon}/environ")).unwrap_or_default();
    assert!(env.is_empty(), "the daemon runs with an empty environment");
}

/// Kills what a failed test left (so it does not leak into later tests).
struct KillPids(Vec<u32>);
impl Drop for KillPids {
    fn drop(&mut self) {
        for &pid in &self.0 {
            let _ = kill(Pid::from_raw(pid as i32), Signal::SIGKILL);
        }
    }
}

const HOST_STATE_ENV: &str = "HOURGLASS_EXTERNAL_TEST_HOST_STATE";
/// Set to `1` when the host's pool spawns its workers instead of forking them.
const HOST_SPAWN_ENV: &str = "HOURGLASS_EXTERNAL_TEST_HOST_SPAWN";

/// Not a test by itself: the supervising program of
/// `sigkill_of_the_supervisor_leaves_no_python_and_leftovers_are_cleaned`, run in a child
/// process of the test binary (it prints its pool's marker and a grandchild's pid, then waits
/// to be killed).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "helper process for the SIGKILL test"]
async fn external_pool_host_process() {
    let state = std::env::var(HOST_STATE_ENV).expect("run by the SIGKILL test only");
    let cfg =
        fixture_pool("host", 2).fork_server(!std::env::var(HOST_SPAWN_ENV).is_ok_and(|v| v == "1"));
    let pools = ExternalPools::new(vec![cfg], state).unwrap();
    let _running = pools.start().await.unwrap();
    let out = call(&pools, "SpawnDescendants", vec![]).await;
    let ExternalOutcome::Completed(p) = out else {
        panic!("{out:?}")
    };
    let serving = decode(&p)["worker"].as_u64().unwrap();
    let descendants: Vec<String> = descendant_pids(&p)
        .iter()
        .map(|(_, pid)| pid.to_string())
        .collect();
    let workers: Vec<String> = pools.stats()[0]
        .workers
        .iter()
        .map(|w| w.1.to_string())
        .collect();
    println!(
        "HOST_READY marker={} serving={serving} descendants={} workers={}",
        pools.stats()[0].run_marker,
        descendants.join(","),
        workers.join(",")
    );
    tokio::time::sleep(Duration::from_secs(600)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_of_the_supervisor_leaves_no_python_and_leftovers_are_cleaned() {
    sigkill_of_the_supervisor(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_of_the_supervisor_of_spawned_workers_leaves_no_python() {
    sigkill_of_the_supervisor(false).await;
}

/// SIGKILLs a host process whose pool (forked or spawned workers) ran an activity that started
/// descendants; checks nothing of the pool survives and the next start finds nothing left.
async fn sigkill_of_the_supervisor(fork_server: bool) {
    venv_python();
    let state = tempfile::tempdir().unwrap();
    struct KillOnDrop(std::process::Child);
    impl Drop for KillOnDrop {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let mut host = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "descendants::external_pool_host_process",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(HOST_STATE_ENV, state.path())
        .env(HOST_SPAWN_ENV, if fork_server { "" } else { "1" })
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = host.stdout.take().unwrap();
    let mut host = KillOnDrop(host);
    let line = tokio::task::spawn_blocking(move || {
        BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            // libtest may print "test external_pool_host_process ... " before it on the line.
            .find_map(|l| l.find("HOST_READY").map(|i| l[i..].to_string()))
    });
    let line = tokio::time::timeout(Duration::from_secs(60), line)
        .await
        .expect("host did not get ready")
        .unwrap()
        .expect("host exited before it was ready");
    let field = |k: &str| {
        line.split_whitespace()
            .find_map(|f| f.strip_prefix(&format!("{k}=")))
            .unwrap()
            .to_string()
    };
    let marker = field("marker");
    let serving: u32 = field("serving").parse().unwrap();
    let list = |k: &str| -> Vec<u32> { field(k).split(',').map(|p| p.parse().unwrap()).collect() };
    let workers = list("workers");
    let descendants = list("descendants");
    let _cleanup = KillPids(descendants.clone());
    let names = ["child", "setsid_parent", "setsid_grandchild", "daemon"].map(String::from);
    let named: Vec<(String, u32)> = names.into_iter().zip(descendants.iter().copied()).collect();
    check_descendants(serving, &named);
    assert_eq!(workers.len(), 2);
    for &w in &workers {
        assert!(
            cmdline(w).contains("hourglass_activity_worker"),
            "{}",
            cmdline(w)
        );
    }
    assert!(marked(&marker).contains(&descendants[2]));

    host.0.kill().unwrap(); // SIGKILL
    host.0.wait().unwrap();

    // The Python workers get their parent-death signal, kill every descendant (the orphaned
    // daemon was adopted by the worker, a subreaper) and exit: nothing is left, at once,
    // without waiting for the pool's next start.
    wait_for("the Python workers to die", Duration::from_secs(5), || {
        workers.iter().all(|&w| is_dead(w))
    })
    .await;
    wait_for(
        "every descendant of the Python workers to die",
        Duration::from_secs(5),
        || descendants.iter().all(|&p| is_dead(p)),
    )
    .await;
    let python_left: Vec<u32> = marked(&marker)
        .into_iter()
        .filter(|&p| cmdline(p).contains("python"))
        .collect();
    assert!(
        python_left.is_empty(),
        "python processes survived: {python_left:?}"
    );

    assert!(marked(&marker).is_empty());
    // The next start of the same pool (the last resort: run-marker sweep, previous cgroup)
    // finds nothing left, and removes the SIGKILLed run's cgroup.
    let recorded =
        std::fs::read_to_string(leftovers::pool_dir(state.path(), "host").join("cgroup"));
    let pools = ExternalPools::new(vec![fixture_pool("host", 1)], state.path()).unwrap();
    let running = pools.start().await.unwrap();
    if let Ok(old_cgroup) = recorded {
        assert!(
            !std::path::Path::new(old_cgroup.trim()).exists(),
            "the previous run's cgroup {old_cgroup} was not removed"
        );
    }
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_worker_exits_by_itself_when_its_parent_dies() {
    // Started by a shell (no PR_SET_PDEATHSIG from Hourglass): the worker's own parent watch
    // must notice the parent's death.
    let python = venv_python();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("stdout");
    let script = format!(
        "'{}' -m hourglass_activity_worker --path '{}' fixture_activities >'{}' 2>&1 & echo $!; exec sleep 60",
        python.display(),
        external_support::fixtures_dir().display(),
        out.display()
    );
    let mut parent = std::process::Command::new("sh")
        .args(["-c", &script])
        .env(
            "HOURGLASS_RUN_MARKER",
            format!("orphan-test:{}", std::process::id()),
        )
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(parent.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let worker: u32 = line.trim().parse().unwrap();
    wait_for("the worker to be ready", Duration::from_secs(20), || {
        std::fs::read_to_string(&out).is_ok_and(|s| s.contains("HOURGLASS_READY port="))
    })
    .await;
    parent.kill().unwrap();
    parent.wait().unwrap();
    wait_for(
        "the orphaned worker to exit",
        Duration::from_secs(10),
        || is_dead(worker),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_of_a_worker_leaves_no_descendant() {
    sigkill_of_a_worker(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_of_a_spawned_worker_leaves_no_descendant() {
    sigkill_of_a_worker(false).await;
}

/// SIGKILLs the worker of a one-worker pool (forked by a fork server or spawned) after it
/// started descendants; checks they all die and the worker is restarted.
async fn sigkill_of_a_worker(fork_server: bool) {
    let state = tempfile::tempdir().unwrap();
    let cfg = fixture_pool("desc", 1).fork_server(fork_server);
    let pools = ExternalPools::new(vec![cfg], state.path()).unwrap();
    let running = pools.start().await.unwrap();
    let worker = pid_of(&pools, 0);
    let with_cgroup = cgroups_available();
    let cgroup = std::fs::read_to_string(format!("/proc/{worker}/cgroup")).unwrap_or_default();
    assert_eq!(
        cgroup.contains("hourglass-pool.desc."),
        with_cgroup,
        "the worker runs in its pool's cgroup exactly where cgroups are usable: {cgroup}"
    );
    let out = call(&pools, "SpawnDescendants", vec![]).await;
    let ExternalOutcome::Completed(p) = out else {
        panic!("{out:?}")
    };
    let pids = descendant_pids(&p);
    let _cleanup = KillPids(pids.iter().map(|p| p.1).collect());
    check_descendants(worker, &pids);

    kill(Pid::from_raw(worker as i32), Signal::SIGKILL).unwrap();
    // Killed when the worker's exit is handled: the process group (the child), the process
    // token (the setsid helper and grandchild) and, where available, the cgroup (all of them,
    // the daemon with its empty environment too).
    let must_die: Vec<&(String, u32)> = pids
        .iter()
        .filter(|(what, _)| with_cgroup || what != "daemon")
        .collect();
    wait_for("the descendants to die", Duration::from_secs(10), || {
        must_die.iter().all(|(_, pid)| is_dead(*pid))
    })
    .await;
    wait_for(
        "the worker to be restarted",
        Duration::from_secs(30),
        || {
            let s = &pools.stats()[0];
            s.joins == 2 && s.workers.len() == 1
        },
    )
    .await;
    running.shutdown().await;
    assert!(marked(&pools.stats()[0].run_marker).is_empty());
}
