//! Containment of a process child's descendants, so that none outlives it — not one that left
//! the process group with `setsid()`, not a double-forked daemon.
//!
//! Two mechanisms, both optional on a [`ProcessSpec`](crate::ProcessSpec):
//! - **cgroup v2** ([`ProcessSpec::cgroup`](crate::ProcessSpec::cgroup)): each incarnation runs in
//!   a fresh cgroup under a parent directory; stopping it writes `cgroup.kill`, which SIGKILLs
//!   every process in the cgroup whatever its session, group or environment. Used only where the
//!   parent directory is a writable cgroup v2 directory with `cgroup.kill` (Linux ≥ 5.14);
//!   elsewhere the process runs without one (logged once per spawn).
//! - **environment token** ([`ProcessSpec::sweep_descendants`](crate::ProcessSpec::sweep_descendants)):
//!   each incarnation gets a unique `HOURGLASS_PROCESS_TOKEN`, which its descendants inherit;
//!   stopping it SIGKILLs every process whose environment holds exactly that entry. Works
//!   without privileges; misses only descendants that scrub their environment.
//!
//! Every process killed is logged with its pid and command name.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// Environment variable carrying a process incarnation's token (see the module docs).
pub const PROCESS_TOKEN_ENV: &str = "HOURGLASS_PROCESS_TOKEN";
/// Environment variable naming the cgroup directory a process child runs in, if any.
pub const CGROUP_ENV: &str = "HOURGLASS_CGROUP";

/// The cgroup v2 directory this process runs in (from `/proc/self/cgroup` and the cgroup2
/// mount in `/proc/self/mountinfo`), if there is one.
pub fn own_cgroup_dir() -> Option<PathBuf> {
    let cgroups = fs::read_to_string("/proc/self/cgroup").ok()?;
    let mountinfo = fs::read_to_string("/proc/self/mountinfo").ok()?;
    cgroup_dir_from(&cgroups, &mountinfo)
}

/// Parses `/proc/self/cgroup` (`0::<path>`) and `/proc/self/mountinfo` (the `cgroup2` mount).
fn cgroup_dir_from(cgroups: &str, mountinfo: &str) -> Option<PathBuf> {
    let path = cgroups.lines().find_map(|l| l.strip_prefix("0::"))?.trim();
    let mount = mountinfo.lines().find_map(|l| {
        let (left, right) = l.split_once(" - ")?;
        let fstype = right.split_whitespace().next()?;
        (fstype == "cgroup2").then(|| left.split_whitespace().nth(4))?
    })?;
    Some(Path::new(mount).join(path.trim_start_matches('/')))
}

/// True if `dir` is a cgroup v2 directory where this process may create child cgroups that
/// support `cgroup.kill`.
pub fn usable_cgroup_parent(dir: &Path) -> bool {
    let writable = |p: &Path| nix::unistd::access(p, nix::unistd::AccessFlags::W_OK).is_ok();
    dir.join("cgroup.procs").exists()
        && dir.join("cgroup.kill").exists()
        && writable(dir)
        && writable(&dir.join("cgroup.procs"))
}

/// A cgroup created for one process incarnation; killed and removed by [`Cgroup::kill_and_remove`].
#[derive(Debug)]
pub struct Cgroup {
    path: PathBuf,
}

impl Cgroup {
    /// Creates a fresh cgroup under `parent`, or `None` (logged) where cgroups cannot be used.
    pub fn create(parent: &Path, child: &str) -> Option<Self> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        if !usable_cgroup_parent(parent) {
            tracing::debug!(parent = %parent.display(), child, "no writable cgroup v2 parent; process runs without a cgroup");
            return None;
        }
        let name: String = child
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let path = parent.join(format!(
            "{name}.{}.{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        match fs::create_dir(&path) {
            Ok(()) => Some(Self { path }),
            Err(e) => {
                tracing::warn!(cgroup = %path.display(), error = %e, "cannot create cgroup; process runs without one");
                None
            }
        }
    }

    /// The cgroup's directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Moves `pid` into the cgroup.
    pub fn add(&self, pid: u32) -> io::Result<()> {
        fs::write(self.path.join("cgroup.procs"), pid.to_string())
    }

    /// SIGKILLs everything in the cgroup (logging each pid), waits briefly for it to empty and
    /// removes it. Returns the pids that were in it.
    pub fn kill_and_remove(&self, child: &str) -> Vec<u32> {
        kill_cgroup_tree(&self.path, child)
    }
}

/// Kills every process in the cgroup at `path` and its sub-cgroups, then removes them all
/// (deepest first). Returns the pids found. Used for a child's own cgroup and for stale
/// cgroups left by a SIGKILLed program.
pub fn kill_cgroup_tree(path: &Path, child: &str) -> Vec<u32> {
    let pids = cgroup_pids(path);
    for &pid in &pids {
        tracing::warn!(child, pid, comm = %comm(pid), cgroup = %path.display(), "killing a descendant left in the cgroup");
    }
    if let Err(e) = fs::write(path.join("cgroup.kill"), "1") {
        if e.kind() != io::ErrorKind::NotFound {
            tracing::warn!(cgroup = %path.display(), error = %e, "cannot write cgroup.kill");
        }
        return pids;
    }
    remove_tree(path);
    pids
}

fn cgroup_pids(path: &Path) -> Vec<u32> {
    let mut pids: Vec<u32> = fs::read_to_string(path.join("cgroup.procs"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect();
    if let Ok(entries) = fs::read_dir(path) {
        for entry in entries.flatten() {
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                pids.extend(cgroup_pids(&entry.path()));
            }
        }
    }
    pids
}

fn remove_tree(path: &Path) {
    if let Ok(entries) = fs::read_dir(path) {
        for entry in entries.flatten() {
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                remove_tree(&entry.path());
            }
        }
    }
    // The kill is asynchronous: the cgroup is busy until its last process has exited.
    for _ in 0..100 {
        match fs::remove_dir(path) {
            Ok(()) => return,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return,
            Err(_) => std::thread::sleep(Duration::from_millis(5)),
        }
    }
    tracing::warn!(cgroup = %path.display(), "cgroup still busy after cgroup.kill; left in place");
}

/// A fresh token for [`PROCESS_TOKEN_ENV`].
pub fn new_token() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!(
        "{}-{nanos:x}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// Pids of live processes (not this one, not zombies) whose environment holds exactly `entry`
/// (`KEY=value`). Processes that cannot be read are skipped.
pub fn find_by_env(entry: &str) -> Vec<u32> {
    let me = std::process::id();
    let Ok(dir) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut pids: Vec<u32> = dir
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| pid != me)
        .filter(|&pid| {
            fs::read(format!("/proc/{pid}/environ"))
                .is_ok_and(|env| env.split(|b| *b == 0).any(|var| var == entry.as_bytes()))
        })
        .filter(|&pid| !is_gone(pid))
        .collect();
    pids.sort_unstable();
    pids
}

/// SIGKILLs every process carrying `PROCESS_TOKEN_ENV=token` (logging each). Returns them.
pub fn kill_token_holders(token: &str, child: &str) -> Vec<u32> {
    let pids = find_by_env(&format!("{PROCESS_TOKEN_ENV}={token}"));
    for &pid in &pids {
        tracing::warn!(child, pid, comm = %comm(pid), "killing a descendant that outlived its process");
        let _ = kill(Pid::from_raw(pid as i32), Signal::SIGKILL);
    }
    pids
}

/// True if the process is gone or a zombie.
pub fn is_gone(pid: u32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the command name in parentheses, which may itself contain ')'.
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_none_or(|state| state == "Z" || state == "X"),
        Err(_) => true,
    }
}

fn comm(pid: u32) -> String {
    fs::read_to_string(format!("/proc/{pid}/comm"))
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_cgroup2_directory() {
        let mountinfo = "22 1 0:21 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n\
                         30 22 0:26 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";
        let cgroups = "4:memory:/x\n0::/user.slice/app\n";
        assert_eq!(
            cgroup_dir_from(cgroups, mountinfo),
            Some(PathBuf::from("/sys/fs/cgroup/unified/user.slice/app"))
        );
        assert_eq!(cgroup_dir_from("4:memory:/x\n", mountinfo), None);
        assert_eq!(
            cgroup_dir_from(cgroups, "22 1 0:21 / /m rw - cgroup c rw\n"),
            None
        );
    }

    #[test]
    fn a_plain_directory_is_not_a_usable_cgroup_parent() {
        let dir = tempfile::tempdir().unwrap();
        assert!(!usable_cgroup_parent(dir.path()));
        assert!(Cgroup::create(dir.path(), "w").is_none());
        // Files named like cgroup files without cgroup.kill: still refused (kernel < 5.14).
        fs::write(dir.path().join("cgroup.procs"), "").unwrap();
        assert!(!usable_cgroup_parent(dir.path()));
    }
}
