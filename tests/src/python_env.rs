//! The cached Python venv with the official `temporalio` SDK, for test suites that drive
//! real Temporal traffic from Python.
//!
//! [`python_venv`] creates `<target>/python-venv` once (with `python3 -m venv` and pip,
//! installing the exact pins of `tests/python/requirements.txt`) and returns its
//! interpreter. It is idempotent and safe to call from parallel tests and test processes:
//! a file lock (`<target>/python-venv.lock`) serialises creation, and a marker holding the
//! requirements' text says the venv is complete. A venv that is incomplete, broken (the
//! interpreter cannot `import temporalio`) or built from other pins is re-created.
//!
//! The target directory is `$CARGO_TARGET_DIR`, else the `target` directory the running
//! test executable lives in, else `<workspace>/target`. The base interpreter is
//! `$HOURGLASS_PYTHON` or `python3`.

use std::fmt;
use std::fs::{self, OpenOptions};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

/// The pinned requirements (embedded so a changed pin rebuilds the venv).
pub const REQUIREMENTS: &str = include_str!("../python/requirements.txt");

/// Environment variable naming the base interpreter (default `python3`).
pub const PYTHON_ENV_VAR: &str = "HOURGLASS_PYTHON";

const MARKER: &str = ".hourglass-requirements";

/// Why the venv could not be provided or a script could not be run.
#[derive(Debug)]
pub enum PythonEnvError {
    /// A filesystem operation failed.
    Io {
        /// What was being done.
        what: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// A command (venv creation, pip install) exited unsuccessfully.
    Command {
        /// The command line.
        command: String,
        /// Its combined output.
        output: String,
    },
    /// A script ran longer than its timeout and was killed.
    Timeout {
        /// The script.
        script: PathBuf,
        /// Output captured so far.
        output: String,
    },
}

impl fmt::Display for PythonEnvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io { what, source } => write!(f, "{what}: {source}"),
            Self::Command { command, output } => write!(f, "`{command}` failed:\n{output}"),
            Self::Timeout { script, output } => {
                write!(
                    f,
                    "python script {} timed out; output so far:\n{output}",
                    script.display()
                )
            }
        }
    }
}

impl std::error::Error for PythonEnvError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> PythonEnvError {
    let what = what.into();
    move |source| PythonEnvError::Io { what, source }
}

/// The workspace root (the parent of this crate's manifest directory).
pub fn workspace_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().unwrap_or(manifest).to_path_buf()
}

/// The cargo target directory tests run from (see the module docs for the order).
pub fn target_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("CARGO_TARGET_DIR").filter(|d| !d.is_empty()) {
        let d = PathBuf::from(d);
        return if d.is_absolute() {
            d
        } else {
            workspace_root().join(d)
        };
    }
    if let Ok(exe) = std::env::current_exe() {
        // target/<profile>/deps/<test-exe>: the first ancestor holding a CACHEDIR.TAG or
        // named `target` is the target directory.
        for anc in exe.ancestors().skip(1) {
            if anc.join("CACHEDIR.TAG").is_file() || anc.file_name().is_some_and(|n| n == "target")
            {
                return anc.to_path_buf();
            }
        }
    }
    workspace_root().join("target")
}

/// Path of the cached venv directory.
pub fn venv_dir() -> PathBuf {
    target_dir().join("python-venv")
}

fn venv_python(dir: &Path) -> PathBuf {
    if cfg!(windows) {
        dir.join("Scripts").join("python.exe")
    } else {
        dir.join("bin").join("python")
    }
}

fn run(cmd: &mut Command) -> Result<(), PythonEnvError> {
    let line = format!("{cmd:?}");
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(io(format!("running {line}")))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(PythonEnvError::Command {
            command: line,
            output: combined(&out),
        })
    }
}

fn combined(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn venv_is_ready(dir: &Path) -> bool {
    let marker_ok = fs::read_to_string(dir.join(MARKER)).is_ok_and(|m| m == REQUIREMENTS);
    marker_ok
        && Command::new(venv_python(dir))
            .args(["-c", "import temporalio"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
}

/// Returns the venv's Python interpreter, creating the venv first if needed.
pub fn python_venv() -> Result<PathBuf, PythonEnvError> {
    let target = target_dir();
    fs::create_dir_all(&target).map_err(io(format!("creating {}", target.display())))?;
    let dir = venv_dir();
    let lock_path = target.join("python-venv.lock");
    let lock = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(io(format!("opening {}", lock_path.display())))?;
    lock.lock()
        .map_err(io(format!("locking {}", lock_path.display())))?;
    let result = ensure_venv(&dir);
    // Unlocks on drop as well; explicit for clarity.
    let _ = lock.unlock();
    result
}

fn ensure_venv(dir: &Path) -> Result<PathBuf, PythonEnvError> {
    if venv_is_ready(dir) {
        return Ok(venv_python(dir));
    }
    if dir.exists() {
        fs::remove_dir_all(dir).map_err(io(format!("removing stale venv {}", dir.display())))?;
    }
    let base = std::env::var(PYTHON_ENV_VAR).unwrap_or_else(|_| "python3".to_string());
    run(Command::new(&base).arg("-m").arg("venv").arg(dir))?;
    let req = dir.join("requirements.txt");
    fs::write(&req, REQUIREMENTS).map_err(io(format!("writing {}", req.display())))?;
    run(Command::new(venv_python(dir))
        .args([
            "-m",
            "pip",
            "install",
            "--disable-pip-version-check",
            "--no-input",
            "-q",
            "-r",
        ])
        .arg(&req))?;
    fs::write(dir.join(MARKER), REQUIREMENTS).map_err(io("writing venv marker"))?;
    if !venv_is_ready(dir) {
        return Err(PythonEnvError::Command {
            command: format!("{} -c 'import temporalio'", venv_python(dir).display()),
            output: "the fresh venv cannot import temporalio".into(),
        });
    }
    Ok(venv_python(dir))
}

/// Runs `python script args...` with the venv's interpreter and extra environment, killing
/// it after `timeout`. Returns the output whatever the exit status (check `status`).
pub fn run_script(
    script: &Path,
    args: &[&str],
    envs: &[(&str, &str)],
    timeout: Duration,
) -> Result<Output, PythonEnvError> {
    let python = python_venv()?;
    let mut cmd = Command::new(python);
    cmd.arg("-u").arg(script).args(args);
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let out = crate::child_output::output_with_timeout(&mut cmd, timeout)
        .map_err(io(format!("spawning python for {}", script.display())))?;
    match out.status {
        Some(status) => Ok(Output {
            status,
            stdout: out.stdout,
            stderr: out.stderr,
        }),
        None => Err(PythonEnvError::Timeout {
            script: script.to_path_buf(),
            output: out.combined(),
        }),
    }
}

/// Runs a script like [`run_script`] and turns a non-zero exit into an error carrying the
/// script's output (for tests: `run_script_ok(..).unwrap()` fails with the output).
pub fn run_script_ok(
    script: &Path,
    args: &[&str],
    envs: &[(&str, &str)],
    timeout: Duration,
) -> Result<String, PythonEnvError> {
    let out = run_script(script, args, envs, timeout)?;
    let text = combined(&out);
    if out.status.success() {
        Ok(text)
    } else {
        Err(PythonEnvError::Command {
            command: format!("python {} {}", script.display(), args.join(" ")),
            output: text,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requirements_pin_temporalio_exactly() {
        assert!(
            REQUIREMENTS
                .lines()
                .any(|l| l.trim().starts_with("temporalio=="))
        );
    }

    #[test]
    fn target_dir_is_absolute() {
        assert!(target_dir().is_absolute());
    }

    #[test]
    fn failing_script_reports_output() {
        let dir = std::env::temp_dir().join(format!("hg-pyenv-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let script = dir.join("fail.py");
        fs::write(&script, "import sys\nprint('about to fail')\nsys.exit(3)\n").unwrap();
        let err = run_script_ok(&script, &[], &[], Duration::from_secs(120)).unwrap_err();
        assert!(err.to_string().contains("about to fail"), "{err}");
        let slow = dir.join("slow.py");
        fs::write(
            &slow,
            "import time\nprint('sleeping', flush=True)\ntime.sleep(60)\n",
        )
        .unwrap();
        let err = run_script(&slow, &[], &[], Duration::from_secs(2)).unwrap_err();
        assert!(matches!(err, PythonEnvError::Timeout { .. }), "{err}");
        let _ = fs::remove_dir_all(&dir);
    }
}
