//! Test support for external pools: a cached Python venv with `hourglass-activity-worker`
//! (at `target/python-activity-venv`, rebuilt when its inputs change, locked against concurrent
//! test processes) and helpers to build pools running the fixture activities.
#![allow(dead_code)]

use std::fs::{self, File, OpenOptions};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use hourglass_worker::external::ExternalPoolConfig;
use nix::fcntl::{Flock, FlockArg};

/// The workspace root (`HOURGLASS_WORKSPACE_DIR` overrides it).
pub fn workspace() -> PathBuf {
    match std::env::var_os("HOURGLASS_WORKSPACE_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .unwrap()
            .to_path_buf(),
    }
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("target"))
}

/// The Python package's source directory.
pub fn package_dir() -> PathBuf {
    workspace().join("python/hourglass-activity-worker")
}

/// Directory of `fixture_activities.py`.
pub fn fixtures_dir() -> PathBuf {
    workspace().join("hourglass-worker/tests/python")
}

fn run(cmd: &mut Command) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed with {}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The venv's python, creating or refreshing the venv first if needed.
pub fn venv_python() -> PathBuf {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON.get_or_init(build_venv).clone()
}

fn build_venv() -> PathBuf {
    let target = target_dir();
    fs::create_dir_all(&target).unwrap();
    let venv = target.join("python-activity-venv");
    let python = venv.join("bin/python");
    let lock_file: File = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(target.join("python-activity-venv.lock"))
        .unwrap();
    let _lock = Flock::lock(lock_file, FlockArg::LockExclusive)
        .map_err(|(_, e)| e)
        .unwrap();

    let pkg = package_dir();
    let proto = workspace().join("proto/hourglass/external/v1/external_worker.proto");
    let mut stamp = String::new();
    for input in [
        pkg.join("requirements.txt"),
        pkg.join("pyproject.toml"),
        proto,
    ] {
        stamp.push_str(&fs::read_to_string(&input).unwrap());
    }
    let stamp_file = venv.join(".hourglass-stamp");
    let stubs = pkg.join("hourglass_activity_worker/_proto/external_worker_pb2_grpc.py");
    if python.exists()
        && stubs.exists()
        && fs::read_to_string(&stamp_file).ok().as_deref() == Some(stamp.as_str())
    {
        return python;
    }
    let base = std::env::var("HOURGLASS_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    let _ = fs::remove_dir_all(&venv);
    run(Command::new(&base).args(["-m", "venv"]).arg(&venv));
    run(Command::new(&python)
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "-r",
        ])
        .arg(pkg.join("requirements.txt")));
    run(Command::new(&python).arg(pkg.join("generate_protos.py")));
    run(Command::new(&python)
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--no-build-isolation",
            "--no-deps",
            "-e",
        ])
        .arg(&pkg));
    fs::write(&stamp_file, stamp).unwrap();
    python
}

/// A pool of `size` processes serving the fixture activities, with fast health checks.
pub fn fixture_pool(name: &str, size: usize) -> ExternalPoolConfig {
    ExternalPoolConfig::new(name, venv_python().to_string_lossy())
        .args([
            "-m".to_string(),
            "hourglass_activity_worker".to_string(),
            "--path".to_string(),
            fixtures_dir().to_string_lossy().into_owned(),
            "fixture_activities".to_string(),
        ])
        .size(size)
        .health(Duration::from_millis(200), Duration::from_secs(1), 3)
        .grace(Duration::from_secs(2))
        .ready_timeout(Duration::from_secs(30))
}

/// True if `/proc/<pid>` is gone or a zombie.
pub fn is_dead(pid: u32) -> bool {
    hourglass_worker::external::leftovers::is_zombie(pid)
}

/// Waits up to `timeout` for `cond`.
pub async fn wait_for(what: &str, timeout: Duration, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The command line of a process (NULs as spaces), empty if gone.
pub fn cmdline(pid: u32) -> String {
    fs::read(format!("/proc/{pid}/cmdline"))
        .map(|b| String::from_utf8_lossy(&b).replace('\0', " "))
        .unwrap_or_default()
}
