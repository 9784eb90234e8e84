//! One worker of a pool, supervised with the Starter pattern:
//!
//! ```text
//! starter/<pool>-<i>              Starter: permanent one-child supervisor (intensity from config)
//! └─ process_worker/<pool>-<i>    transient, one_for_all, intensity 0: the OS process and its
//!    │                            session live and die together
//!    ├─ os_process                the external program (process group, PR_SET_PDEATHSIG,
//!    │                            ready file, SIGTERM → grace → SIGKILL; hourglass-supervise),
//!    │                            or, with a fork server, the same for a process forked by it
//!    └─ session                   connects, handshakes, joins the pool, checks health
//! ```
//!
//! A crash of the process ends the group abnormally, so the Starter restarts it without the
//! pool's help; executions on it fail retryably (their gRPC stream breaks). Missed health checks
//! make the session SIGKILL the process group and exit abnormally: same path.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use hourglass_proto::external::v1::HealthRequest;
use hourglass_supervise::{
    ChildSpec, Exit, ProcessInfo, ProcessSpec, Readiness, Shutdown, StartError, Starter, Strategy,
    SupervisorSpec,
};
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

use super::fork_server;
use super::handshake::{connect, handshake, read_port};
use super::leftovers::{RUN_MARKER_ENV, pool_dir};
use super::pool::{Joining, PoolShared};
use super::session::SessionLink;

/// The worker id of worker `index` of `pool` (`<pool>-<index>`).
pub fn worker_id(pool: &str, index: usize) -> String {
    format!("{pool}-{index}")
}

/// The program, arguments and environment every process of `pool` shares (its workers and,
/// with a fork server, the server they are forked from): run marker, parent pid, grace, limits.
pub(crate) fn base_spec(pool: &PoolShared) -> ProcessSpec {
    let cfg = &pool.config;
    // The worker's own grace is shorter, so it finishes before the SIGKILL.
    let worker_grace = (cfg.grace.as_secs_f64() * 0.8).max(0.05);
    let mut spec = ProcessSpec::new(&cfg.command).args(&cfg.args);
    for (k, v) in &cfg.env {
        spec = spec.env(k, v);
    }
    spec = spec
        .env(RUN_MARKER_ENV, &pool.marker)
        .env("HOURGLASS_PARENT_PID", std::process::id().to_string())
        .env("HOURGLASS_GRACE_SECONDS", format!("{worker_grace:.3}"))
        .env("HOURGLASS_MAX_CONCURRENT", cfg.max_concurrent.to_string())
        .env(
            "HOURGLASS_MAX_PAYLOAD_BYTES",
            cfg.max_payload_bytes.to_string(),
        )
        .env("PYTHONUNBUFFERED", "1")
        .ready_timeout(cfg.ready_timeout)
        .grace(cfg.grace)
        .sweep_descendants(true);
    if let Some(cwd) = &cfg.cwd {
        spec = spec.cwd(cwd);
    }
    spec
}

/// The Starter child spec of worker `index` of `pool`.
pub(crate) fn starter_spec(pool: &Arc<PoolShared>, index: usize) -> ChildSpec {
    let cfg = &pool.config;
    let worker_id = worker_id(&cfg.name, index);
    let ready_file = pool_dir(&pool.state_dir, &cfg.name).join(format!("worker-{index}.ready"));
    let process_name = format!(
        "hourglass.external/{}/{}/process/{index}",
        cfg.name, pool.run_id
    );
    let process = if fork_server::enabled(pool) {
        fork_server::forked_worker_spec(
            pool.clone(),
            worker_id.clone(),
            ready_file.clone(),
            process_name.clone(),
        )
    } else {
        let mut spec = base_spec(pool)
            .env("HOURGLASS_READY_FILE", &ready_file)
            .env("HOURGLASS_WORKER_ID", &worker_id)
            .readiness(Readiness::ReadyFile(ready_file.clone()))
            .register_as(process_name.clone());
        if let Some(dir) = pool.cgroup_dir.lock().clone() {
            spec = spec.cgroup(dir);
        }
        spec.child_spec("os_process")
    };
    let group = SupervisorSpec::new(format!("process_worker/{worker_id}"))
        .strategy(Strategy::OneForAll)
        // Any exit of either child ends the group; the Starter decides about restarts.
        .intensity(0, Duration::from_secs(1))
        .child(process)
        .child(session_spec(
            pool.clone(),
            worker_id.clone(),
            ready_file,
            process_name,
        ))
        .into_child_spec();
    Starter::new(worker_id, group)
        .intensity(cfg.intensity.max_restarts, cfg.intensity.period)
        .child_spec()
}

fn session_spec(
    pool: Arc<PoolShared>,
    worker_id: String,
    ready_file: PathBuf,
    process_name: String,
) -> ChildSpec {
    ChildSpec::with_init("session", move |ctx| {
        let pool = pool.clone();
        let worker_id = worker_id.clone();
        let ready_file = ready_file.clone();
        let process_name = process_name.clone();
        async move {
            let cfg = &pool.config;
            let port = read_port(&worker_id, &ready_file).map_err(StartError::new)?;
            let mut client = connect(&worker_id, port, cfg.ready_timeout)
                .await
                .map_err(StartError::new)?;
            let answer = handshake(&mut client, &worker_id, &pool.marker, cfg.ready_timeout)
                .await
                .map_err(StartError::new)?;
            let (pgid, spawned_at) = ctx
                .registry()
                .lookup::<ProcessInfo>(&process_name)
                .map(|p| (p.pid, p.spawned_at))
                .ok_or_else(|| {
                    StartError::new(format!(
                        "external worker `{worker_id}`: its process is not registered"
                    ))
                })?;
            if answer.pid != pgid {
                tracing::debug!(worker = %worker_id, pgid, worker_pid = answer.pid, "worker serves from a descendant of the started process");
            }
            tracing::info!(worker = %worker_id, pid = pgid, port, sdk = %answer.sdk, types = ?answer.activity_types, session = answer.session, "external worker handshake done");
            let session = if answer.session {
                Some(
                    SessionLink::open(&mut client, &worker_id)
                        .await
                        .map_err(StartError::new)?,
                )
            } else {
                None
            };
            let membership = pool
                .join(Joining {
                    id: worker_id.clone(),
                    pid: pgid,
                    spawned_at,
                    client: client.clone(),
                    session,
                    capacity: (answer.max_concurrent as usize).clamp(1, cfg.max_concurrent),
                    types: answer.activity_types,
                })
                .map_err(StartError::new)?;
            Ok(async move {
                let _membership = membership;
                let cfg = &pool.config;
                let mut ticker = tokio::time::interval(cfg.health_interval);
                ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                ticker.tick().await;
                let mut missed = 0u32;
                loop {
                    tokio::select! {
                        _ = ctx.cancelled() => return Exit::Shutdown,
                        _ = ticker.tick() => {}
                    }
                    let check = tokio::time::timeout(cfg.health_timeout, client.health(HealthRequest {}));
                    let healthy = tokio::select! {
                        r = check => matches!(r, Ok(Ok(ref resp)) if resp.get_ref().serving),
                        _ = ctx.cancelled() => return Exit::Shutdown,
                    };
                    if healthy {
                        missed = 0;
                        continue;
                    }
                    missed += 1;
                    tracing::warn!(worker = %worker_id, pid = pgid, missed, max = cfg.max_missed_health, "external worker missed a health check");
                    if missed >= cfg.max_missed_health {
                        let _ = killpg(Pid::from_raw(pgid as i32), Signal::SIGKILL);
                        tracing::error!(worker = %worker_id, pid = pgid, "external worker is hung; killed its process group");
                        return Exit::Error(format!(
                            "external worker `{worker_id}` (pid {pgid}) missed {missed} health checks; killed"
                        ));
                    }
                }
            })
        }
    })
    .shutdown(Shutdown::Timeout(Duration::from_secs(1)))
}
