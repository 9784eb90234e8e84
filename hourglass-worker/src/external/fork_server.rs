//! A pool's fork server ("zygote"): one Python process that has imported the worker package,
//! gRPC and the activity modules once, and forks a worker for each request, so starting 100
//! workers costs one import instead of 100 (`fork_server = true`, the default).
//!
//! ```text
//! external_pool/<name>            rest_for_one
//! ├─ run_marker
//! ├─ fork_server                  the zygote: an ordinary process child (process group,
//! │                               PR_SET_PDEATHSIG, token sweep); ready when its socket appears
//! ├─ workers → starter/<name>-<i> → process_worker → os_process: a worker forked by the zygote
//! └─ populator
//! ```
//!
//! Protocol: one Unix-socket connection per worker, one JSON object a line (see the Python
//! `_forkserver` module): `{"op":"fork","env":{..}}` → `{"pid":N}`; `{"op":"signal","signal":N}`
//! signals the worker's process group while it is not reaped (so a reused pid is never hit);
//! `{"exit":code}` reports its exit, after which the server closes the connection.
//!
//! Guarantees, the same as for a directly spawned worker: each forked worker runs in its own
//! process group and (where cgroups are usable) its own cgroup, with its own process token, the
//! pool's run marker (inherited) and the parent-death signal (it dies with the zygote, which dies
//! with Hourglass); its exit is seen through the connection (the zygote reaps it and reports), so
//! the Rust side watches a process that is not its child without polling. If the zygote dies,
//! every connection closes and each worker, on its parent-death signal, kills its descendants
//! and exits; its Rust side gives it a second to do so, then SIGKILLs its group and sweeps its
//! token and cgroup; `rest_for_one` restarts the zygote, then the workers. A worker's start
//! waits for the zygote to be ready.
//!
//! Limit: `/proc/<pid>/environ` of a forked process shows the zygote's environment, so the token
//! sweep finds a worker's descendants only once they have exec'ed (a `subprocess` does); a
//! descendant that forked without exec and left the worker's process group is still killed by
//! the worker itself (subreaper, parent-death signal) or by its cgroup, not by the token.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hourglass_supervise::contain::{self, Cgroup};
use hourglass_supervise::{
    ChildContext, ChildSpec, Exit, ProcessInfo, Readiness, Shutdown, StartError,
};
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::net::UnixStream;
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};

use super::leftovers::pool_dir;
use super::pool::PoolShared;
use super::process_worker::base_spec;

/// Environment variable naming the Unix socket a process must serve as a fork server.
pub const FORK_SERVER_ENV: &str = "HOURGLASS_FORK_SERVER";
/// Longest socket path Linux accepts (`sun_path` is 108 bytes with the NUL).
const MAX_SOCKET_PATH: usize = 107;
/// Time a worker whose fork server died is given to kill its descendants and exit by itself.
const SELF_CLEANUP: Duration = Duration::from_secs(1);
/// Time a forked worker is given to exit after SIGKILL before it is given up on.
const KILL_WAIT: Duration = Duration::from_secs(2);

/// The fork server's socket for `pool`.
fn socket_path(pool: &PoolShared) -> PathBuf {
    pool_dir(&pool.state_dir, &pool.config.name).join("fork-server.sock")
}

/// Registry name of the fork server's [`ProcessInfo`] while it is ready.
fn server_name(pool: &PoolShared) -> String {
    format!(
        "hourglass.external/{}/{}/fork_server",
        pool.config.name, pool.run_id
    )
}

/// True if `pool` starts its workers from a fork server: configured (`fork_server`) and its
/// socket path fits in a Unix socket address (else it spawns them directly, logged at start).
pub(crate) fn enabled(pool: &PoolShared) -> bool {
    pool.config.fork_server && socket_path(pool).as_os_str().len() <= MAX_SOCKET_PATH
}

/// The `fork_server` child of a pool (see the module docs), or `None` when the pool spawns its
/// workers directly.
pub(crate) fn server_spec(pool: &Arc<PoolShared>) -> Option<ChildSpec> {
    if !pool.config.fork_server {
        return None;
    }
    let socket = socket_path(pool);
    if !enabled(pool) {
        tracing::warn!(pool = %pool.name(), socket = %socket.display(), "fork server socket path is too long for a Unix socket; the pool's workers are spawned directly");
        return None;
    }
    // No token sweep for the server itself: its only descendants are the workers, which each
    // have their own token and, when the server dies, must first get to kill their own
    // descendants (on their parent-death signal) rather than be SIGKILLed by a sweep.
    let spec = base_spec(pool)
        .sweep_descendants(false)
        .env(FORK_SERVER_ENV, &socket)
        .readiness(Readiness::ReadyFile(socket))
        .register_as(server_name(pool));
    Some(spec.child_spec("fork_server"))
}

/// The `os_process` child of one worker forked by the pool's fork server. It registers the
/// same [`ProcessInfo`] under `process_name` as a spawned process does, so the session and the
/// pool cannot tell the difference.
pub(crate) fn forked_worker_spec(
    pool: Arc<PoolShared>,
    worker_id: String,
    ready_file: PathBuf,
    process_name: String,
) -> ChildSpec {
    let grace = pool.config.grace;
    ChildSpec::with_init("os_process", move |ctx| {
        let request = ForkRequest {
            pool: pool.clone(),
            worker_id: worker_id.clone(),
            ready_file: ready_file.clone(),
            process_name: process_name.clone(),
        };
        async move { start_forked(request, ctx).await }
    })
    .shutdown(Shutdown::Timeout(
        grace + KILL_WAIT + Duration::from_secs(1),
    ))
}

struct ForkRequest {
    pool: Arc<PoolShared>,
    worker_id: String,
    ready_file: PathBuf,
    process_name: String,
}

/// Why a fork request failed.
#[derive(Debug, thiserror::Error)]
enum ForkError {
    /// The server could not be reached or hung up (it may have just died).
    #[error("{0}")]
    Unreachable(String),
    /// The server answered, but with no worker.
    #[error("{0}")]
    Refused(String),
}

/// The connection that owns one forked worker.
struct ForkLink {
    lines: Lines<BufReader<OwnedReadHalf>>,
    write: OwnedWriteHalf,
    /// How it ended, once known.
    ended: Option<Ended>,
}

impl ForkLink {
    /// Asks the server at `socket` to fork a worker with `env`; returns the link and its pid.
    async fn fork(socket: &Path, env: serde_json::Value) -> Result<(Self, u32), ForkError> {
        let stream = UnixStream::connect(socket).await.map_err(|e| {
            ForkError::Unreachable(format!(
                "cannot reach the fork server at {}: {e}",
                socket.display()
            ))
        })?;
        let (read, write) = stream.into_split();
        let mut link = Self {
            lines: BufReader::new(read).lines(),
            write,
            ended: None,
        };
        link.send(serde_json::json!({"op": "fork", "env": env}))
            .await
            .map_err(|e| ForkError::Unreachable(format!("cannot send to the fork server: {e}")))?;
        let answer = link.next().await.ok_or_else(|| {
            ForkError::Unreachable("the fork server closed the connection without forking".into())
        })?;
        if let Some(pid) = answer.get("pid").and_then(serde_json::Value::as_u64) {
            let pid = u32::try_from(pid)
                .map_err(|_| ForkError::Refused(format!("fork server sent pid {pid}")))?;
            return Ok((link, pid));
        }
        Err(ForkError::Refused(
            match answer.get("error").and_then(|e| e.as_str()) {
                Some(e) => format!("the fork server could not fork: {e}"),
                None => format!("unexpected answer from the fork server: {answer}"),
            },
        ))
    }

    async fn send(&mut self, message: serde_json::Value) -> std::io::Result<()> {
        let mut line = message.to_string();
        line.push('\n');
        self.write.write_all(line.as_bytes()).await
    }

    /// The next message, `None` when the connection is closed or broken.
    async fn next(&mut self) -> Option<serde_json::Value> {
        loop {
            let line = self.lines.next_line().await.ok()??;
            match serde_json::from_str(&line) {
                Ok(v) => return Some(v),
                Err(e) => {
                    tracing::warn!(line = %line, error = %e, "unreadable message from the fork server")
                }
            }
        }
    }

    /// Waits until the worker has exited or the server is gone; returns how (cancel-safe).
    async fn exited(&mut self) -> Ended {
        if let Some(ended) = &self.ended {
            return ended.clone();
        }
        let ended = loop {
            match self.next().await {
                Some(m) => match m.get("exit").and_then(serde_json::Value::as_i64) {
                    Some(code) if code < 0 => break Ended::Exited(format!("signal: {}", -code)),
                    Some(code) => break Ended::Exited(format!("exit status: {code}")),
                    None => continue,
                },
                None => break Ended::ServerGone,
            }
        };
        self.ended = Some(ended.clone());
        ended
    }

    /// Signals the worker's process group through the server, which never signals a reaped
    /// pid. Only if the server is gone (and reported no exit) is the group signalled directly.
    async fn signal(&mut self, pgid: Pid, signal: Signal) {
        let sent = self
            .send(serde_json::json!({"op": "signal", "signal": signal as i32}))
            .await;
        if sent.is_ok() || matches!(self.ended, Some(Ended::Exited(_))) {
            return;
        }
        let reported = tokio::time::timeout(Duration::from_millis(50), self.exited()).await;
        if !matches!(reported, Ok(Ended::Exited(_))) {
            let _ = killpg(pgid, signal);
        }
    }
}

/// How a forked worker's connection ended.
#[derive(Debug, Clone)]
enum Ended {
    /// The server reaped it and reported how it exited.
    Exited(String),
    /// The server closed the connection without a report: it died (its workers die with it).
    ServerGone,
}

impl std::fmt::Display for Ended {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Exited(how) => f.write_str(how),
            Self::ServerGone => {
                f.write_str("its fork server died (a worker dies with its fork server)")
            }
        }
    }
}

/// Waits up to `limit` for `pid` to be gone (or a zombie).
async fn wait_gone(pid: u32, limit: Duration) {
    let deadline = Instant::now() + limit;
    while !contain::is_gone(pid) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Kills a forked worker's group and sweeps its containment if its child is dropped without a
/// clean stop; [`ForkGuard::finish`] sweeps after a stop.
struct ForkGuard {
    pgid: Pid,
    armed: bool,
    contain: Arc<Containment>,
}

struct Containment {
    child: String,
    cgroup: Option<Cgroup>,
    token: String,
}

impl Containment {
    /// Kills everything in the worker's cgroup and every holder of its token (blocking, brief).
    fn sweep(&self) {
        let mut killed = Vec::new();
        if let Some(cgroup) = &self.cgroup {
            killed.extend(cgroup.kill_and_remove(&self.child));
        }
        killed.extend(contain::kill_token_holders(&self.token, &self.child));
        if !killed.is_empty() {
            killed.sort_unstable();
            killed.dedup();
            tracing::warn!(child = %self.child, pids = ?killed, "killed descendants that outlived their forked worker");
        }
    }
}

impl ForkGuard {
    async fn finish(&mut self) {
        let contain = self.contain.clone();
        let _ = tokio::task::spawn_blocking(move || contain.sweep()).await;
        self.armed = false;
    }
}

impl Drop for ForkGuard {
    fn drop(&mut self) {
        if self.armed {
            let _ = killpg(self.pgid, Signal::SIGKILL);
            self.contain.sweep();
        }
    }
}

/// Asks the pool's fork server for a worker, at most `timeout`. Waits for a registered, live
/// server first; a server that cannot be reached because it has just died is waited out until
/// its successor registers, so a worker restarted while the server restarts does not fail (and
/// burn restart intensity) in a loop.
async fn fork_from_server(
    ctx: &ChildContext,
    pool: &PoolShared,
    env: &serde_json::Value,
    timeout: Duration,
) -> Result<(ForkLink, u32), String> {
    let deadline = Instant::now() + timeout;
    let name = server_name(pool);
    let socket = socket_path(pool);
    let mut dead: Option<u32> = None;
    loop {
        let server = ctx
            .registry()
            .lookup::<ProcessInfo>(&name)
            .map(|p| p.pid)
            .filter(|pid| Some(*pid) != dead && !contain::is_gone(*pid));
        if let Some(server) = server {
            let remaining = deadline.saturating_duration_since(Instant::now());
            let fork = ForkLink::fork(&socket, env.clone());
            match tokio::time::timeout(remaining, fork).await {
                Ok(Ok(forked)) => return Ok(forked),
                Ok(Err(ForkError::Unreachable(why))) if contain::is_gone(server) => {
                    tracing::info!(server, reason = %why, "fork server died before it forked; waiting for its successor");
                    dead = Some(server);
                }
                Ok(Err(ForkError::Unreachable(why) | ForkError::Refused(why))) => return Err(why),
                Err(_) => return Err(format!("no answer from the fork server within {timeout:?}")),
            }
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "the pool's fork server is not ready within {timeout:?} (a fork server is the \
                 `hourglass_activity_worker` package's `run()`; a pool whose command runs \
                 another program needs `fork_server = false`)"
            ));
        }
        tokio::select! {
            _ = ctx.cancelled() => return Err("shutdown requested while starting".into()),
            _ = tokio::time::sleep(Duration::from_millis(10)) => {}
        }
    }
}

/// Waits up to `limit` for the worker's exit: its report, or (its server gone) its pid gone.
async fn wait_exit(link: &mut ForkLink, pid: u32, limit: Duration) -> Option<String> {
    let started = Instant::now();
    match tokio::time::timeout(limit, link.exited()).await {
        Ok(Ended::Exited(how)) => Some(how),
        Ok(Ended::ServerGone) => {
            wait_gone(pid, limit.saturating_sub(started.elapsed())).await;
            contain::is_gone(pid).then(|| Ended::ServerGone.to_string())
        }
        Err(_) => None,
    }
}

/// SIGTERM, up to `grace` for the exit, then SIGKILL; the group is SIGKILLed at the end to
/// catch stragglers.
async fn stop(link: &mut ForkLink, pid: u32, grace: Duration) {
    let pgid = Pid::from_raw(pid as i32);
    if grace > Duration::ZERO {
        link.signal(pgid, Signal::SIGTERM).await;
        if let Some(how) = wait_exit(link, pid, grace).await {
            tracing::info!(pid, status = %how, "forked worker stopped after SIGTERM");
            let _ = killpg(pgid, Signal::SIGKILL);
            return;
        }
        tracing::warn!(
            pid,
            grace_ms = grace.as_millis() as u64,
            "forked worker ignored SIGTERM; sending SIGKILL"
        );
    }
    link.signal(pgid, Signal::SIGKILL).await;
    match wait_exit(link, pid, KILL_WAIT).await {
        Some(how) => tracing::info!(pid, status = %how, "forked worker killed"),
        None => tracing::warn!(pid, "forked worker not reported gone after SIGKILL"),
    }
    let _ = killpg(pgid, Signal::SIGKILL);
}

/// Readiness: the ready file appears before the worker exits, the timeout or a shutdown.
async fn await_ready(
    link: &mut ForkLink,
    ready_file: &Path,
    timeout: Duration,
    ctx: &ChildContext,
) -> Result<(), String> {
    let appeared = async {
        while !ready_file.exists() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };
    tokio::select! {
        () = appeared => Ok(()),
        how = link.exited() => Err(format!("exited before becoming ready with {how}")),
        _ = tokio::time::sleep(timeout) => Err(format!("not ready within {timeout:?}")),
        _ = ctx.cancelled() => Err("shutdown requested while starting".to_string()),
    }
}

/// The environment of one forked worker: its ready file, id, process token and cgroup.
fn worker_env(worker_id: &str, ready_file: &Path, contain: &Containment) -> serde_json::Value {
    let mut env = serde_json::Map::new();
    env.insert(
        "HOURGLASS_READY_FILE".into(),
        ready_file.to_string_lossy().into(),
    );
    env.insert("HOURGLASS_WORKER_ID".into(), worker_id.into());
    env.insert(
        contain::PROCESS_TOKEN_ENV.into(),
        contain.token.clone().into(),
    );
    if let Some(cgroup) = &contain.cgroup {
        env.insert(
            contain::CGROUP_ENV.into(),
            cgroup.path().to_string_lossy().into(),
        );
    }
    serde_json::Value::Object(env)
}

async fn start_forked(
    req: ForkRequest,
    ctx: ChildContext,
) -> Result<futures::future::BoxFuture<'static, Exit>, StartError> {
    let cfg = &req.pool.config;
    let program = cfg.command.clone();
    let fail = |why: String| StartError::new(format!("process `{program}`: {why}"));
    match std::fs::remove_file(&req.ready_file) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            return Err(fail(format!(
                "cannot remove stale ready file {}: {e}",
                req.ready_file.display()
            )));
        }
        _ => {}
    }
    let cgroup_parent = req.pool.cgroup_dir.lock().clone();
    let mut contain = Containment {
        child: ctx.id().to_string(),
        cgroup: cgroup_parent.and_then(|parent| Cgroup::create(&parent, ctx.id())),
        token: contain::new_token(),
    };
    let env = worker_env(&req.worker_id, &req.ready_file, &contain);
    let forked = fork_from_server(&ctx, &req.pool, &env, cfg.ready_timeout).await;
    let (mut link, pid) = match forked {
        Ok(forked) => forked,
        Err(why) => {
            if let Some(cgroup) = contain.cgroup.take() {
                cgroup.kill_and_remove(ctx.id());
            }
            return Err(fail(why));
        }
    };
    let spawned_at = Instant::now();
    ctx.set_os_pid(pid);
    if let Some(cgroup) = &contain.cgroup
        && let Err(e) = cgroup.add(pid)
    {
        tracing::warn!(child = %ctx.id(), pid, cgroup = %cgroup.path().display(), error = %e, "cannot move the forked worker into its cgroup; it runs without one");
        if let Some(cgroup) = contain.cgroup.take() {
            cgroup.kill_and_remove(ctx.id());
        }
    }
    let pgid = Pid::from_raw(pid as i32);
    let mut guard = ForkGuard {
        pgid,
        armed: true,
        contain: Arc::new(contain),
    };
    tracing::info!(child = %ctx.id(), worker = %req.worker_id, pid, "worker forked by the fork server");
    let outcome = await_ready(&mut link, &req.ready_file, cfg.ready_timeout, &ctx)
        .await
        .and_then(|()| {
            ctx.register(
                req.process_name.clone(),
                ProcessInfo {
                    pid,
                    program: program.clone(),
                    spawned_at,
                },
            )
            .map_err(|e| e.to_string())
        });
    if let Err(why) = outcome {
        stop(&mut link, pid, Duration::ZERO).await;
        guard.finish().await;
        return Err(StartError::new(format!(
            "process `{program}` (pid {pid}): {why}"
        )));
    }
    tracing::info!(child = %ctx.id(), pid, program = %program, "forked worker ready");
    let grace = cfg.grace;
    Ok(Box::pin(async move {
        let mut guard = guard;
        let exit = tokio::select! {
            how = link.exited() => {
                if matches!(how, Ended::ServerGone) {
                    // It got its parent-death signal: let it kill its own descendants first.
                    wait_gone(pid, SELF_CLEANUP).await;
                }
                let _ = killpg(pgid, Signal::SIGKILL);
                Exit::Error(format!("process `{program}` (pid {pid}) exited unexpectedly with {how}"))
            }
            _ = ctx.cancelled() => {
                stop(&mut link, pid, grace).await;
                Exit::Shutdown
            }
        };
        guard.finish().await;
        exit
    }))
}
