//! A headless Chromium for browser tests of the Web UI: Debian's `chromium` package,
//! installed with apt-get when missing (CI runs as root), once per machine.
//!
//! [`chromium`] returns the browser's path. It is idempotent and safe to call from parallel
//! tests and test processes: a file lock (`<target>/chromium-install.lock`) serialises the
//! installation. `$HOURGLASS_CHROMIUM` names another browser binary and skips the install.
//! The scripts drive it through `playwright-core` (a cached npm project, see
//! [`crate::node_env`]); [`chromium_args`] are the flags known to work headless as root.

use crate::child_output::output_with_timeout;
use std::fs::{self, OpenOptions};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// Environment variable naming the Chromium binary (skips the apt-get install).
pub const CHROMIUM_ENV_VAR: &str = "HOURGLASS_CHROMIUM";
/// Where Debian's package puts the browser.
pub const DEBIAN_CHROMIUM: &str = "/usr/bin/chromium";

const INSTALL_TIMEOUT: Duration = Duration::from_secs(900);

/// Why no browser is available.
#[derive(Debug, thiserror::Error)]
pub enum BrowserError {
    /// A filesystem operation failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// `apt-get` failed or timed out.
    #[error(
        "`{command}` failed (install Debian's chromium by hand, or set HOURGLASS_CHROMIUM):\n{output}"
    )]
    Install {
        /// The command line.
        command: String,
        /// Its combined output.
        output: String,
    },
    /// The install ran but left no browser.
    #[error("{0} is missing after installing chromium")]
    Missing(PathBuf),
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> BrowserError {
    let what = what.into();
    move |source| BrowserError::Io { what, source }
}

fn apt(args: &[&str]) -> Result<(), BrowserError> {
    let mut cmd = Command::new("apt-get");
    cmd.args(args).env("DEBIAN_FRONTEND", "noninteractive");
    let line = format!("apt-get {}", args.join(" "));
    let out =
        output_with_timeout(&mut cmd, INSTALL_TIMEOUT).map_err(io(format!("running {line}")))?;
    match out.status {
        Some(s) if s.success() => Ok(()),
        _ => Err(BrowserError::Install {
            command: line,
            output: out.combined(),
        }),
    }
}

/// The Chromium binary, installing Debian's `chromium` package first if it is missing.
pub fn chromium() -> Result<PathBuf, BrowserError> {
    if let Some(p) = std::env::var_os(CHROMIUM_ENV_VAR).filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(p));
    }
    let path = Path::new(DEBIAN_CHROMIUM);
    if path.is_file() {
        return Ok(path.to_path_buf());
    }
    let target = crate::python_env::target_dir();
    fs::create_dir_all(&target).map_err(io(format!("creating {}", target.display())))?;
    let lock_path = target.join("chromium-install.lock");
    let lock = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(io(format!("opening {}", lock_path.display())))?;
    lock.lock()
        .map_err(io(format!("locking {}", lock_path.display())))?;
    // Another process may have installed it while this one waited for the lock.
    let result = if path.is_file() {
        Ok(())
    } else {
        eprintln!("browser: installing Debian's chromium with apt-get");
        apt(&["update", "-qq"]).and_then(|()| apt(&["install", "-y", "-qq", "chromium"]))
    };
    let _ = lock.unlock();
    result?;
    if path.is_file() {
        Ok(path.to_path_buf())
    } else {
        Err(BrowserError::Missing(path.to_path_buf()))
    }
}

/// Flags for a headless Chromium run as root on a machine without a display or network:
/// no sandbox (root), no GPU, no background traffic.
pub fn chromium_args() -> Vec<&'static str> {
    vec![
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
    ]
}
