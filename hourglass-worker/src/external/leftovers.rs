//! Run markers, the per-pool state lock, and cleanup of a previous run's leftover processes.
//!
//! Every process of a pool carries `HOURGLASS_RUN_MARKER=<pool>:<run id>` in its environment
//! (inherited by anything it starts). The last run id of each pool is recorded in
//! `<state dir>/external-pools/<pool>/run`. When a pool starts it takes an exclusive `flock` on
//! `<state dir>/external-pools/<pool>/lock` (released by the kernel even if Hourglass is
//! SIGKILLed; a second live Hourglass on the same state directory gets a clear error instead of
//! killing the first one's workers), then SIGKILLs every process whose environment holds exactly
//! the *previous* run's marker, and records the new run id. Processes are matched by that exact
//! environment entry only — never by a program name.
//!
//! Where the machine allows it (a writable cgroup v2 directory with `cgroup.kill`, see
//! [`hourglass_supervise::contain`]), the pool also gets a cgroup, `<Hourglass's cgroup>/
//! hourglass-pool.<pool>.<run id>`, recorded in `<state dir>/external-pools/<pool>/cgroup`;
//! each worker process runs in its own cgroup below it. A later start kills whatever is left
//! in the recorded cgroup of the previous run and removes it, even processes that scrubbed
//! their environment.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use hourglass_supervise::contain;
use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};
use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::Pid;

use super::error::ExternalError;

/// Name of the environment variable carrying the run marker.
pub const RUN_MARKER_ENV: &str = "HOURGLASS_RUN_MARKER";

/// The run marker of `pool` for `run_id`.
pub fn run_marker(pool: &str, run_id: &str) -> String {
    format!("{pool}:{run_id}")
}

/// The directory holding a pool's lock, run file and ready files.
pub fn pool_dir(state_dir: &Path, pool: &str) -> PathBuf {
    state_dir.join("external-pools").join(pool)
}

/// Holds a pool's exclusive lock while it runs (released on drop or process death).
#[derive(Debug)]
pub struct PoolLock {
    _lock: Flock<File>,
    path: PathBuf,
    cgroup: Option<PathBuf>,
}

impl PoolLock {
    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The pool's cgroup v2 directory, if cgroups are in use.
    pub fn cgroup(&self) -> Option<&Path> {
        self.cgroup.as_deref()
    }
}

impl Drop for PoolLock {
    fn drop(&mut self) {
        if let Some(cgroup) = &self.cgroup {
            // Empty by now (every worker's cgroup was killed and removed when it stopped).
            contain::kill_cgroup_tree(cgroup, "external pool");
        }
    }
}

/// Takes the pool's lock, kills the previous run's leftovers (by run marker and by its recorded
/// cgroup) and records `run_id` as the current run; with `use_cgroups`, creates the pool's
/// cgroup where the machine allows it. Returns the lock and the pids that were killed.
pub fn claim_pool(
    state_dir: &Path,
    pool: &str,
    run_id: &str,
    use_cgroups: bool,
) -> Result<(PoolLock, Vec<u32>), ExternalError> {
    let dir = pool_dir(state_dir, pool);
    let state_err = |path: &Path, e: io::Error| ExternalError::StateDir {
        pool: pool.to_string(),
        path: path.to_path_buf(),
        reason: e.to_string(),
    };
    fs::create_dir_all(&dir).map_err(|e| state_err(&dir, e))?;
    let lock_path = dir.join("lock");
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|e| state_err(&lock_path, e))?;
    let lock = match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
        Ok(lock) => lock,
        Err((_, Errno::EWOULDBLOCK)) => {
            return Err(ExternalError::PoolInUse {
                pool: pool.to_string(),
                lock: lock_path,
            });
        }
        Err((_, e)) => return Err(state_err(&lock_path, io::Error::from(e))),
    };
    let run_path = dir.join("run");
    let previous = match fs::read_to_string(&run_path) {
        Ok(text) => Some(text.trim().to_string()).filter(|t| !t.is_empty()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => return Err(state_err(&run_path, e)),
    };
    let mut killed = Vec::new();
    if let Some(previous) = previous {
        let marker = run_marker(pool, &previous);
        killed = kill_marked(&marker);
        if !killed.is_empty() {
            tracing::warn!(pool, marker = %marker, pids = ?killed, "killed leftover processes of a previous run");
        }
    }
    let cgroup_path = dir.join("cgroup");
    if let Ok(previous) = fs::read_to_string(&cgroup_path) {
        let previous = PathBuf::from(previous.trim());
        if previous.is_dir() {
            let pids = contain::kill_cgroup_tree(&previous, pool);
            if !pids.is_empty() {
                tracing::warn!(pool, cgroup = %previous.display(), pids = ?pids, "killed leftover processes in a previous run's cgroup");
            }
            killed.extend(pids);
        }
        let _ = fs::remove_file(&cgroup_path);
    }
    write_atomically(&run_path, run_id).map_err(|e| state_err(&run_path, e))?;
    let cgroup = if use_cgroups {
        pool_cgroup(pool, run_id, &cgroup_path)
    } else {
        None
    };
    tracing::info!(pool, run_id, lock = %lock_path.display(), cgroup = ?cgroup, "external pool claimed its state directory");
    killed.sort_unstable();
    killed.dedup();
    Ok((
        PoolLock {
            _lock: lock,
            path: lock_path,
            cgroup,
        },
        killed,
    ))
}

/// Creates the pool's cgroup under Hourglass's own and records it in `record`; `None` (logged)
/// where cgroup v2 is not available or not writable.
fn pool_cgroup(pool: &str, run_id: &str, record: &Path) -> Option<PathBuf> {
    let Some(parent) = contain::own_cgroup_dir().filter(|d| contain::usable_cgroup_parent(d))
    else {
        tracing::info!(
            pool,
            "cgroup v2 not available or not writable; workers' descendants are contained by subreaper, process group and environment token only"
        );
        return None;
    };
    let dir = parent.join(format!("hourglass-pool.{pool}.{run_id}"));
    if let Err(e) = fs::create_dir(&dir) {
        tracing::warn!(pool, cgroup = %dir.display(), error = %e, "cannot create the pool's cgroup; going on without");
        return None;
    }
    if let Err(e) = write_atomically(record, &dir.to_string_lossy()) {
        tracing::warn!(pool, error = %e, "cannot record the pool's cgroup; going on without");
        let _ = fs::remove_dir(&dir);
        return None;
    }
    Some(dir)
}

fn write_atomically(path: &Path, contents: &str) -> io::Result<()> {
    let tmp = path.with_extension("tmp");
    {
        let mut f = File::create(&tmp)?;
        f.write_all(contents.as_bytes())?;
        f.sync_all()?;
    }
    fs::rename(&tmp, path)
}

/// Pids of live processes whose environment contains exactly `HOURGLASS_RUN_MARKER=<marker>`
/// (this process excluded). Processes that cannot be read (gone, or not ours) are skipped.
pub fn find_marked(marker: &str) -> Vec<u32> {
    contain::find_by_env(&format!("{RUN_MARKER_ENV}={marker}"))
}

/// True if the process is a zombie (exited, not yet reaped) or gone.
pub fn is_zombie(pid: u32) -> bool {
    contain::is_gone(pid)
}

fn process_group(pid: u32) -> Option<i32> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, rest) = stat.rsplit_once(')')?;
    // Fields after the name: state, ppid, pgrp.
    rest.split_whitespace().nth(2)?.parse().ok()
}

/// SIGKILLs every process carrying `marker`, and the process group of each one that leads its
/// group (our workers do). Never signals this process or its group. Returns the pids found.
pub fn kill_marked(marker: &str) -> Vec<u32> {
    let pids = find_marked(marker);
    let my_group = nix::unistd::getpgrp().as_raw();
    for &pid in &pids {
        if let Some(pgid) = process_group(pid)
            && pgid == pid as i32
            && pgid != my_group
        {
            let _ = killpg(Pid::from_raw(pgid), Signal::SIGKILL);
        }
        let _ = kill(Pid::from_raw(pid as i32), Signal::SIGKILL);
    }
    pids
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_claim_is_refused_and_run_id_is_recorded() {
        let dir = tempfile::tempdir().unwrap();
        let (lock, killed) = claim_pool(dir.path(), "p", "run1", false).unwrap();
        assert!(killed.is_empty());
        let err = claim_pool(dir.path(), "p", "run2", false).unwrap_err();
        assert!(matches!(err, ExternalError::PoolInUse { .. }), "{err}");
        assert!(err.to_string().contains("already running"), "{err}");
        drop(lock);
        let (_lock, _) = claim_pool(dir.path(), "p", "run2", false).unwrap();
        let run = fs::read_to_string(pool_dir(dir.path(), "p").join("run")).unwrap();
        assert_eq!(run, "run2");
    }

    #[test]
    fn kills_only_exact_marker() {
        use std::os::unix::process::CommandExt;
        let marker = format!("leftover-test:{}", uuid::Uuid::new_v4().simple());
        let spawn = |m: &str| {
            std::process::Command::new("sleep")
                .arg("30")
                .env(RUN_MARKER_ENV, m)
                .process_group(0)
                .spawn()
                .unwrap()
        };
        let mut marked = spawn(&marker);
        let mut other = spawn(&format!("{marker}x"));
        // Until the child has exec'ed, /proc shows the parent's environment: wait for it.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        let mut found = find_marked(&marker);
        while found.is_empty() && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(10));
            found = find_marked(&marker);
        }
        assert_eq!(found, vec![marked.id()]);
        assert_eq!(kill_marked(&marker), vec![marked.id()]);
        let status = marked.wait().unwrap();
        assert!(!status.success());
        assert!(find_marked(&marker).is_empty());
        // The process with a different marker is untouched.
        assert!(other.try_wait().unwrap().is_none());
        other.kill().unwrap();
        other.wait().unwrap();
    }

    #[test]
    fn unwritable_state_dir_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("not-a-dir");
        fs::write(&file, "x").unwrap();
        let err = claim_pool(&file, "p", "r", false).unwrap_err();
        assert!(matches!(err, ExternalError::StateDir { .. }), "{err}");
    }
}
