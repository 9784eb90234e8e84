//! OS-process children against real processes (`sh`, `sleep`, `true`).

mod common;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use hourglass_supervise::*;

/// Alive = present in /proc and not a zombie.
fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            let state = stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.trim_start().chars().next());
            state != Some('Z')
        }
        Err(_) => false,
    }
}

async fn wait_gone(pid: u32) -> bool {
    for _ in 0..100 {
        if !alive(pid) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

#[tokio::test]
async fn missing_command_gives_a_clear_start_error() {
    let err = SupervisorSpec::new("top")
        .child(ProcessSpec::new("hourglass-no-such-command-xyz").child_spec("ghost"))
        .start()
        .await
        .unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("child `ghost`")
            && msg.contains("`hourglass-no-such-command-xyz`")
            && msg.contains("command not found"),
        "{msg}"
    );
}

#[tokio::test]
async fn stdout_readiness_then_graceful_stop() {
    let registry = Registry::new();
    let t0 = Instant::now();
    let sup = SupervisorSpec::new("top")
        .registry(registry.clone())
        .child(
            ProcessSpec::new("sh")
                .args([
                    "-c",
                    "echo booting; sleep 0.3; echo READY now; exec sleep 100",
                ])
                .readiness(Readiness::StdoutLine("READY".into()))
                .register_as("proc")
                .child_spec("p"),
        )
        .start()
        .await
        .unwrap();
    assert!(
        t0.elapsed() >= Duration::from_millis(300),
        "started before ready"
    );
    let info: ProcessInfo = registry.via("proc").unwrap();
    assert!(alive(info.pid));
    // The tree snapshot names the process the child runs as.
    let snap = sup.snapshot().await.unwrap();
    assert_eq!(snap.children[0].os_pid, Some(info.pid), "{snap:?}");
    assert_eq!(sup.shutdown().await, Exit::Shutdown);
    assert!(!alive(info.pid));
    assert!(registry.is_empty());
}

#[tokio::test]
async fn ready_file_readiness() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ready");
    std::fs::write(&file, "stale").unwrap();
    let t0 = Instant::now();
    let sup = SupervisorSpec::new("top")
        .child(
            ProcessSpec::new("sh")
                .args(["-c", "sleep 0.3; touch \"$READY\"; exec sleep 100"])
                .env("READY", &file)
                .readiness(Readiness::ReadyFile(file.clone()))
                .child_spec("p"),
        )
        .start()
        .await
        .unwrap();
    // the stale file was removed, so readiness waited for the real one
    assert!(t0.elapsed() >= Duration::from_millis(300));
    assert!(file.exists());
    sup.shutdown().await;
}

#[tokio::test]
async fn readiness_failures_are_start_errors() {
    let err = SupervisorSpec::new("top")
        .child(
            ProcessSpec::new("sh")
                .args(["-c", "echo nope; exit 3"])
                .readiness(Readiness::StdoutLine("READY".into()))
                .child_spec("early"),
        )
        .start()
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("exited before becoming ready") || err.contains("stdout closed"),
        "{err}"
    );

    let err = SupervisorSpec::new("top")
        .child(
            ProcessSpec::new("sleep")
                .arg("100")
                .readiness(Readiness::StdoutLine("READY".into()))
                .ready_timeout(Duration::from_millis(200))
                .child_spec("slow"),
        )
        .start()
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("not ready within 200ms"), "{err}");
}

#[tokio::test]
async fn unremovable_ready_file_and_taken_name_are_start_errors() {
    let dir = tempfile::tempdir().unwrap();
    // a directory cannot be removed with remove_file
    let err = SupervisorSpec::new("top")
        .child(
            ProcessSpec::new("sleep")
                .arg("100")
                .readiness(Readiness::ReadyFile(dir.path().to_path_buf()))
                .child_spec("p"),
        )
        .start()
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("cannot remove stale ready file"), "{err}");

    let registry = Registry::new();
    let owner = registry.owner();
    owner.register("proc", 1u8).unwrap();
    let err = SupervisorSpec::new("top")
        .registry(registry.clone())
        .child(
            ProcessSpec::new("sleep")
                .arg("100")
                .register_as("proc")
                .child_spec("p"),
        )
        .start()
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("name `proc` is already registered"), "{err}");
}

#[tokio::test]
async fn unexpected_exit_even_zero_is_abnormal() {
    let sup = SupervisorSpec::new("top")
        .intensity(2, Duration::from_secs(10))
        .child(
            ProcessSpec::new("sh")
                .args(["-c", "sleep 0.05; exit 0"])
                .child_spec("quitter")
                // transient: only an abnormal exit is restarted
                .restart(Restart::Transient),
        )
        .start()
        .await
        .unwrap();
    let exit = tokio::time::timeout(Duration::from_secs(10), sup.wait())
        .await
        .unwrap();
    match exit {
        Exit::Escalated(reason) => {
            assert!(reason.contains("exited unexpectedly"), "{reason}")
        }
        other => panic!("expected escalation, got {other:?}"),
    }
}

#[tokio::test]
async fn sigterm_ignored_means_sigkill_to_the_whole_group_after_grace() {
    let dir = tempfile::tempdir().unwrap();
    let gc_file = dir.path().join("gc.pid");
    let registry = Registry::new();
    let script =
        "trap '' TERM; sleep 100 & echo $! > \"$GC\"; echo READY; while :; do sleep 0.05; done";
    let sup = SupervisorSpec::new("top")
        .registry(registry.clone())
        .child(
            ProcessSpec::new("sh")
                .args(["-c", script])
                .env("GC", &gc_file)
                .readiness(Readiness::StdoutLine("READY".into()))
                .grace(Duration::from_millis(400))
                .register_as("p")
                .child_spec("stubborn"),
        )
        .start()
        .await
        .unwrap();
    let leader = registry.via::<ProcessInfo>("p").unwrap().pid;
    let grandchild: u32 = std::fs::read_to_string(&gc_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(alive(leader) && alive(grandchild));
    let t0 = Instant::now();
    sup.shutdown().await;
    assert!(
        t0.elapsed() >= Duration::from_millis(400),
        "{:?}",
        t0.elapsed()
    );
    assert!(!alive(leader));
    assert!(
        wait_gone(grandchild).await,
        "grandchild {grandchild} survived"
    );
}

fn example_binary() -> PathBuf {
    // target/<profile>/deps/process-xxxx -> target/<profile>/examples/orphan_check
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().and_then(|p| p.parent()).unwrap();
    let path = profile_dir.join("examples").join("orphan_check");
    assert!(
        path.exists(),
        "{} not built; run via `cargo test -p hourglass-supervise`",
        path.display()
    );
    path
}

#[tokio::test]
async fn sigkilled_supervising_program_leaves_no_process_behind() {
    let mut helper = std::process::Command::new(example_binary())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = helper.stdout.take().unwrap();
    let line = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).unwrap();
        line
    })
    .await
    .unwrap();
    let pid: u32 = line
        .trim()
        .strip_prefix("PID ")
        .unwrap_or_else(|| panic!("unexpected helper output {line:?}"))
        .parse()
        .unwrap();
    assert!(alive(pid), "sleep {pid} should run under the helper");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(helper.id() as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    helper.wait().unwrap();
    assert!(
        wait_gone(pid).await,
        "sleep {pid} outlived its SIGKILLed supervisor"
    );
}

#[tokio::test]
async fn starter_pool_restarts_a_killed_process_and_terminating_the_starter_reaps_it() {
    let pool = DynamicSupervisorSpec::new("pool").start().await.unwrap();
    let registry = pool.registry().clone();
    let worker = ProcessSpec::new("sleep")
        .arg("100")
        .grace(Duration::from_millis(500))
        .register_as("proc/w1")
        .child_spec("python-worker");
    let starter = pool
        .start_child(Starter::new("w1", worker).child_spec())
        .await
        .unwrap();
    let first = registry.via::<ProcessInfo>("proc/w1").unwrap().pid;
    let mut events = registry.listen();

    // The external process dies: the starter (not the pool) starts a new one.
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(first as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    // wait for: unregistered (old), registered (new)
    let mut seen = Vec::new();
    while seen.len() < 2 {
        let ev = tokio::time::timeout(Duration::from_secs(10), events.recv())
            .await
            .unwrap()
            .unwrap();
        if matches!(&ev, RegistryEvent::Registered(n) | RegistryEvent::Unregistered(n) if n == "proc/w1")
        {
            seen.push(ev);
        }
    }
    assert_eq!(
        seen,
        [
            RegistryEvent::Unregistered("proc/w1".into()),
            RegistryEvent::Registered("proc/w1".into())
        ]
    );
    let second = registry.via::<ProcessInfo>("proc/w1").unwrap().pid;
    assert_ne!(first, second);
    assert!(alive(second));
    let starter_handle = Starter::lookup(&registry, "w1").unwrap();
    assert_eq!(
        starter_handle.which_children().await.unwrap()[0].restarts,
        1
    );
    assert_eq!(pool.which_children().await.unwrap()[0].restarts, 0);

    pool.terminate_child(starter).await.unwrap();
    assert!(!alive(second));
    assert!(registry.is_empty());
    pool.shutdown().await;
}
