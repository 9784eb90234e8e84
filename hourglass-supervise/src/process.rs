//! OS-process children: an external program supervised like any other child.
//!
//! Guarantees (Linux):
//! - the program runs in its own process group (`setpgid(0, 0)`), so signals reach its whole
//!   group, and with `PR_SET_PDEATHSIG = SIGKILL`, so it dies when the supervising program dies,
//!   even by SIGKILL. The fork happens on a dedicated, never-exiting spawner thread because the
//!   death signal fires when the *forking thread* exits; the child checks `getppid()` after
//!   `prctl` to close the race where the parent died before the setting took effect;
//! - stdout and stderr lines go to `tracing` with the child's id and pid;
//! - readiness: started immediately, or when a stdout line contains a pattern, or when a file
//!   appears (removed before spawning so a stale file cannot fake readiness);
//! - on shutdown: SIGTERM to the group, SIGKILL to the group after the grace period, then reap;
//! - any exit the supervisor did not ask for, even status 0, is abnormal (`Exit::Error`);
//! - a program that cannot be started yields a start error naming it.
//!
//! Limits: a descendant that calls `setsid`/`setpgid` leaves the group and is not signalled by
//! it — opt into [`ProcessSpec::cgroup`] (`cgroup.kill`) and [`ProcessSpec::sweep_descendants`]
//! (an inherited environment token) to kill those too when the process stops; PDEATHSIG
//! applies to the direct child only (when the supervising program is SIGKILLed, nothing here
//! runs: the child must act on its own death signal, as the Python activity worker does, by
//! re-arming PDEATHSIG to a catchable signal and killing its descendants); after the leader
//! has been reaped, the final group SIGKILL that sweeps stragglers could in theory reach a new
//! group that reused the id (the window is a few microseconds).
//!
//! The only `unsafe` in this crate is the `pre_exec` call that installs the death signal
//! (std's `pre_exec` is an unsafe fn); the closure performs two async-signal-safe syscalls.

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::io;
use std::path::PathBuf;
use std::sync::mpsc as std_mpsc;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::child::{ChildSpec, Shutdown};
use crate::contain::{self, Cgroup};
use crate::context::ChildContext;
use crate::error::StartError;
use crate::exit::Exit;

/// When a process child counts as started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Readiness {
    /// As soon as it has been spawned.
    None,
    /// When a line on its stdout contains this text.
    StdoutLine(String),
    /// When this file exists (it is removed before spawning).
    ReadyFile(PathBuf),
}

/// Information about a running process child, registered under
/// [`ProcessSpec::register_as`] while that incarnation runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessInfo {
    /// OS process id (also the process group id).
    pub pid: u32,
    /// The program that was started.
    pub program: String,
    /// When it was spawned (before its readiness was awaited).
    pub spawned_at: std::time::Instant,
}

/// How to run an external program as a supervised child.
#[derive(Debug, Clone)]
pub struct ProcessSpec {
    program: OsString,
    args: Vec<OsString>,
    env: Vec<(OsString, OsString)>,
    cwd: Option<PathBuf>,
    readiness: Readiness,
    ready_timeout: Duration,
    grace: Duration,
    register_as: Option<String>,
    cgroup_parent: Option<PathBuf>,
    sweep_descendants: bool,
}

/// Default time between SIGTERM and SIGKILL.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(5);
/// Default time a process has to become ready.
pub const DEFAULT_READY_TIMEOUT: Duration = Duration::from_secs(30);

impl ProcessSpec {
    /// Runs `program` (looked up in `PATH` if it has no slash) with no arguments.
    pub fn new(program: impl AsRef<OsStr>) -> Self {
        Self {
            program: program.as_ref().to_owned(),
            args: Vec::new(),
            env: Vec::new(),
            cwd: None,
            readiness: Readiness::None,
            ready_timeout: DEFAULT_READY_TIMEOUT,
            grace: DEFAULT_GRACE,
            register_as: None,
            cgroup_parent: None,
            sweep_descendants: false,
        }
    }

    /// Appends an argument.
    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Self {
        self.args.push(arg.as_ref().to_owned());
        self
    }

    /// Appends arguments.
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    /// Sets an environment variable (the rest of the environment is inherited).
    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Self {
        self.env
            .push((key.as_ref().to_owned(), value.as_ref().to_owned()));
        self
    }

    /// Sets the working directory.
    pub fn cwd(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cwd = Some(dir.into());
        self
    }

    /// Sets when the process counts as started (default: immediately).
    pub fn readiness(mut self, readiness: Readiness) -> Self {
        self.readiness = readiness;
        self
    }

    /// How long the process may take to become ready (default 30 s) before the start fails.
    pub fn ready_timeout(mut self, timeout: Duration) -> Self {
        self.ready_timeout = timeout;
        self
    }

    /// Time between SIGTERM and SIGKILL on shutdown (default 5 s).
    pub fn grace(mut self, grace: Duration) -> Self {
        self.grace = grace;
        self
    }

    /// Registers a [`ProcessInfo`] under `name` for each incarnation's life.
    pub fn register_as(mut self, name: impl Into<String>) -> Self {
        self.register_as = Some(name.into());
        self
    }

    /// Runs each incarnation in a fresh cgroup v2 under `parent` and kills the whole cgroup
    /// (`cgroup.kill`) when the process stops, so no descendant survives it whatever its
    /// session or group. Where `parent` is not a writable cgroup v2 directory with
    /// `cgroup.kill`, the process runs without a cgroup. The child finds its cgroup in
    /// [`CGROUP_ENV`](crate::contain::CGROUP_ENV). See [`crate::contain`].
    pub fn cgroup(mut self, parent: impl Into<PathBuf>) -> Self {
        self.cgroup_parent = Some(parent.into());
        self
    }

    /// Gives each incarnation a unique [`PROCESS_TOKEN_ENV`](crate::contain::PROCESS_TOKEN_ENV)
    /// and, when the process stops, SIGKILLs every process still carrying it (descendants that
    /// left the process group). See [`crate::contain`].
    pub fn sweep_descendants(mut self, enabled: bool) -> Self {
        self.sweep_descendants = enabled;
        self
    }

    fn program_name(&self) -> String {
        self.program.to_string_lossy().into_owned()
    }

    /// A permanent worker child running this program. Its shutdown is a timeout of
    /// `grace + 2 s`, so the supervisor waits for SIGTERM → grace → SIGKILL → reap to finish.
    pub fn child_spec(self, id: impl Into<String>) -> ChildSpec {
        let grace = self.grace;
        ChildSpec::with_init(id, move |ctx: ChildContext| {
            let spec = self.clone();
            async move { start_process(spec, ctx).await }
        })
        .shutdown(Shutdown::Timeout(grace + Duration::from_secs(2)))
    }
}

/// Kills the process group (and the incarnation's cgroup and token holders) if the child's
/// future is dropped without a clean stop.
struct GroupGuard {
    pgid: Pid,
    armed: bool,
    contain: Arc<Containment>,
}

impl GroupGuard {
    /// The process has stopped: kill whatever it left behind, then disarm.
    async fn finish(&mut self) {
        let contain = self.contain.clone();
        if contain.is_active() {
            let _ = tokio::task::spawn_blocking(move || contain.sweep()).await;
        }
        self.armed = false;
    }
}

impl Drop for GroupGuard {
    fn drop(&mut self) {
        if self.armed {
            let _ = killpg(self.pgid, Signal::SIGKILL);
            self.contain.sweep();
        }
    }
}

/// What contains one incarnation's descendants beyond its process group.
struct Containment {
    child: String,
    cgroup: Option<Cgroup>,
    token: Option<String>,
}

impl Containment {
    fn is_active(&self) -> bool {
        self.cgroup.is_some() || self.token.is_some()
    }

    /// Kills everything in the cgroup and every token holder (blocking, brief).
    fn sweep(&self) {
        let mut killed = Vec::new();
        if let Some(cgroup) = &self.cgroup {
            killed.extend(cgroup.kill_and_remove(&self.child));
        }
        if let Some(token) = &self.token {
            killed.extend(contain::kill_token_holders(token, &self.child));
        }
        if !killed.is_empty() {
            killed.sort_unstable();
            killed.dedup();
            tracing::warn!(child = %self.child, pids = ?killed, "killed descendants that outlived their process");
        }
    }
}

struct SpawnJob {
    command: Command,
    runtime: tokio::runtime::Handle,
    reply: oneshot::Sender<io::Result<Child>>,
}

/// The long-lived thread all process children are forked from (see module docs).
fn spawner() -> io::Result<&'static std_mpsc::Sender<SpawnJob>> {
    static SPAWNER: OnceLock<std_mpsc::Sender<SpawnJob>> = OnceLock::new();
    if let Some(tx) = SPAWNER.get() {
        return Ok(tx);
    }
    let (tx, rx) = std_mpsc::channel::<SpawnJob>();
    std::thread::Builder::new()
        .name("hourglass-spawner".into())
        .spawn(move || {
            // Lives as long as the program: the static sender is never dropped.
            while let Ok(mut job) = rx.recv() {
                let _enter = job.runtime.enter();
                let result = job.command.spawn();
                let _ = job.reply.send(result);
            }
        })?;
    Ok(SPAWNER.get_or_init(|| tx))
}

#[allow(unsafe_code)]
fn set_death_signal(command: &mut Command) {
    #[cfg(target_os = "linux")]
    {
        let parent = nix::unistd::getpid();
        // SAFETY: the closure runs in the forked child before exec; it only calls prctl(2) and
        // getppid(2), which are async-signal-safe, and allocates nothing.
        unsafe {
            command.pre_exec(move || {
                nix::sys::prctl::set_pdeathsig(Signal::SIGKILL)
                    .map_err(|e| io::Error::from_raw_os_error(e as i32))?;
                if nix::unistd::getppid() != parent {
                    return Err(io::Error::from_raw_os_error(
                        nix::errno::Errno::ESRCH as i32,
                    ));
                }
                Ok(())
            });
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = command;
}

async fn spawn(spec: &ProcessSpec, contain: &Containment) -> Result<Child, StartError> {
    let program = spec.program_name();
    let mut command = Command::new(&spec.program);
    command
        .args(&spec.args)
        .envs(spec.env.iter().map(|(k, v)| (k, v)));
    if let Some(token) = &contain.token {
        command.env(contain::PROCESS_TOKEN_ENV, token);
    }
    if let Some(cgroup) = &contain.cgroup {
        command.env(contain::CGROUP_ENV, cgroup.path());
    }
    command
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .process_group(0);
    if let Some(dir) = &spec.cwd {
        command.current_dir(dir);
    }
    set_death_signal(&mut command);
    let tx = spawner().map_err(|e| {
        StartError::new(format!(
            "failed to start process `{program}`: cannot create spawner thread: {e}"
        ))
    })?;
    let (reply, rx) = oneshot::channel();
    tx.send(SpawnJob {
        command,
        runtime: tokio::runtime::Handle::current(),
        reply,
    })
    .map_err(|_| {
        StartError::new(format!(
            "failed to start process `{program}`: spawner thread is gone"
        ))
    })?;
    match rx.await {
        Ok(Ok(child)) => Ok(child),
        Ok(Err(e)) if e.kind() == io::ErrorKind::NotFound => Err(StartError::new(format!(
            "failed to start process `{program}`: command not found ({e})"
        ))),
        Ok(Err(e)) => Err(StartError::new(format!(
            "failed to start process `{program}`: {e}"
        ))),
        Err(_) => Err(StartError::new(format!(
            "failed to start process `{program}`: spawner thread dropped the request"
        ))),
    }
}

fn forward_lines<R: AsyncRead + Unpin + Send + 'static>(
    reader: R,
    child: String,
    pid: u32,
    stream: &'static str,
    mut ready: Option<(String, oneshot::Sender<()>)>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut lines = BufReader::new(reader).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            if stream == "stderr" {
                tracing::warn!(target: "hourglass_supervise::process", child = %child, pid, stream, "{line}");
            } else {
                tracing::info!(target: "hourglass_supervise::process", child = %child, pid, stream, "{line}");
            }
            if let Some((pattern, _)) = &ready
                && line.contains(pattern.as_str())
                && let Some((_, tx)) = ready.take()
            {
                let _ = tx.send(());
            }
        }
    })
}

struct Status(io::Result<std::process::ExitStatus>);

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Ok(s) => write!(f, "{s}"),
            Err(e) => write!(f, "unknown status ({e})"),
        }
    }
}

async fn start_process(
    spec: ProcessSpec,
    ctx: ChildContext,
) -> Result<futures::future::BoxFuture<'static, Exit>, StartError> {
    let program = spec.program_name();
    if let Readiness::ReadyFile(path) = &spec.readiness {
        match std::fs::remove_file(path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(StartError::new(format!(
                    "process `{program}`: cannot remove stale ready file {}: {e}",
                    path.display()
                )));
            }
        }
    }
    let mut contain = Containment {
        child: ctx.id().to_string(),
        cgroup: spec
            .cgroup_parent
            .as_deref()
            .and_then(|parent| Cgroup::create(parent, ctx.id())),
        token: spec.sweep_descendants.then(contain::new_token),
    };
    let mut child = match spawn(&spec, &contain).await {
        Ok(child) => child,
        Err(e) => {
            if let Some(cgroup) = contain.cgroup.take() {
                cgroup.kill_and_remove(ctx.id());
            }
            return Err(e);
        }
    };
    let spawned_at = std::time::Instant::now();
    let Some(pid) = child.id() else {
        return Err(StartError::new(format!(
            "process `{program}` exited before its pid could be read"
        )));
    };
    ctx.set_os_pid(pid);
    if let Some(cgroup) = &contain.cgroup
        && let Err(e) = cgroup.add(pid)
    {
        // Python has not even started by now, so nothing escaped yet; go on without it.
        tracing::warn!(child = %ctx.id(), pid, cgroup = %cgroup.path().display(), error = %e, "cannot move the process into its cgroup; it runs without one");
        if let Some(cgroup) = contain.cgroup.take() {
            cgroup.kill_and_remove(ctx.id());
        }
    }
    let pgid = Pid::from_raw(pid as i32);
    let mut guard = GroupGuard {
        pgid,
        armed: true,
        contain: Arc::new(contain),
    };
    tracing::info!(child = %ctx.id(), pid, program = %program, "process spawned");

    let (ready_tx, ready_rx) = oneshot::channel();
    let stdout_ready = match &spec.readiness {
        Readiness::StdoutLine(p) => Some((p.clone(), ready_tx)),
        _ => None,
    };
    let mut readers = Vec::with_capacity(2);
    if let Some(out) = child.stdout.take() {
        readers.push(forward_lines(
            out,
            ctx.id().to_string(),
            pid,
            "stdout",
            stdout_ready,
        ));
    }
    if let Some(err) = child.stderr.take() {
        readers.push(forward_lines(
            err,
            ctx.id().to_string(),
            pid,
            "stderr",
            None,
        ));
    }

    let ready = async {
        match &spec.readiness {
            Readiness::None => Ok(()),
            Readiness::StdoutLine(p) => ready_rx
                .await
                .map_err(|_| format!("stdout closed before a line containing {p:?} appeared")),
            Readiness::ReadyFile(path) => loop {
                if path.exists() {
                    break Ok(());
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            },
        }
    };
    let outcome: Result<(), String> = tokio::select! {
        r = ready => r,
        status = child.wait() => Err(format!("exited before becoming ready with {}", Status(status))),
        _ = tokio::time::sleep(spec.ready_timeout) => Err(format!("not ready within {:?}", spec.ready_timeout)),
        _ = ctx.cancelled() => Err("shutdown requested while starting".to_string()),
    };
    let outcome = outcome.and_then(|()| match &spec.register_as {
        Some(name) => ctx
            .register(
                name.clone(),
                ProcessInfo {
                    pid,
                    program: program.clone(),
                    spawned_at,
                },
            )
            .map_err(|e| e.to_string()),
        None => Ok(()),
    });
    if let Err(why) = outcome {
        stop_group(&mut child, pgid, Duration::ZERO).await;
        guard.finish().await;
        for r in readers {
            r.abort();
        }
        return Err(StartError::new(format!(
            "process `{program}` (pid {pid}): {why}"
        )));
    }
    tracing::info!(child = %ctx.id(), pid, program = %program, "process ready");

    Ok(Box::pin(async move {
        // Moved in whole (not just a field) so it guards the running phase.
        let mut guard = guard;
        let exit = tokio::select! {
            status = child.wait() => {
                // Kill anything left in its group; the leader is gone.
                let _ = killpg(pgid, Signal::SIGKILL);
                Exit::Error(format!(
                    "process `{program}` (pid {pid}) exited unexpectedly with {}",
                    Status(status)
                ))
            }
            _ = ctx.cancelled() => {
                stop_group(&mut child, pgid, spec.grace).await;
                Exit::Shutdown
            }
        };
        guard.finish().await;
        for r in readers {
            // Output still buffered in the pipes is drained briefly, then dropped.
            let abort = r.abort_handle();
            if tokio::time::timeout(Duration::from_secs(1), r)
                .await
                .is_err()
            {
                abort.abort();
            }
        }
        exit
    }))
}

/// SIGTERM to the group, wait `grace`, SIGKILL to the group, reap the leader.
async fn stop_group(child: &mut Child, pgid: Pid, grace: Duration) {
    if grace > Duration::ZERO {
        let _ = killpg(pgid, Signal::SIGTERM);
        if let Ok(status) = tokio::time::timeout(grace, child.wait()).await {
            tracing::info!(pid = pgid.as_raw(), status = %Status(status), "process stopped after SIGTERM");
            let _ = killpg(pgid, Signal::SIGKILL);
            return;
        }
        tracing::warn!(
            pid = pgid.as_raw(),
            grace_ms = grace.as_millis() as u64,
            "process ignored SIGTERM; sending SIGKILL"
        );
    }
    let _ = killpg(pgid, Signal::SIGKILL);
    let status = child.wait().await;
    tracing::info!(pid = pgid.as_raw(), status = %Status(status), "process killed and reaped");
}
