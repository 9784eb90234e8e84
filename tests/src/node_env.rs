//! Cached Node.js projects (the official Temporal TypeScript SDK from npm) for test suites
//! that drive real Temporal traffic from Node.
//!
//! [`node_project`] copies a project directory's `package.json`, `package-lock.json` and
//! `*.js` files into `<target>/node-<name>`, runs `npm ci` there when the installed
//! dependencies are missing, broken or were installed from another lock file, and returns
//! the directory. The exact pins live in the lock file, so a changed pin reinstalls. It is
//! idempotent and safe to call from parallel tests and test processes: a file lock
//! (`<target>/node-<name>.lock`) serialises installation, and a marker holding the manifest
//! and lock text says the install is complete. `npm ci` never writes into the source tree.
//!
//! The target directory is the one [`crate::python_env::target_dir`] finds. The
//! interpreter is `$HOURGLASS_NODE` or `node`, the package manager `$HOURGLASS_NPM` or `npm`.

use crate::child_output::{TimedOutput, output_with_timeout};
use std::fs::{self, OpenOptions};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// Environment variable naming the Node.js interpreter (default `node`).
pub const NODE_ENV_VAR: &str = "HOURGLASS_NODE";
/// Environment variable naming npm (default `npm`).
pub const NPM_ENV_VAR: &str = "HOURGLASS_NPM";

const MARKER: &str = ".hourglass-installed";
const MANIFESTS: [&str; 2] = ["package.json", "package-lock.json"];
const INSTALL_TIMEOUT: Duration = Duration::from_secs(600);

/// Why a project could not be installed or a script could not be run.
#[derive(Debug, thiserror::Error)]
pub enum NodeEnvError {
    /// A filesystem operation failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A command (`npm ci`, a script) exited unsuccessfully.
    #[error("`{command}` failed:\n{output}")]
    Command {
        /// The command line.
        command: String,
        /// Its combined output.
        output: String,
    },
    /// A command ran longer than its timeout and was killed.
    #[error("`{command}` timed out; output so far:\n{output}")]
    Timeout {
        /// The command line.
        command: String,
        /// Output captured so far.
        output: String,
    },
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> NodeEnvError {
    let what = what.into();
    move |source| NodeEnvError::Io { what, source }
}

fn node() -> String {
    std::env::var(NODE_ENV_VAR).unwrap_or_else(|_| "node".to_string())
}

fn npm() -> String {
    std::env::var(NPM_ENV_VAR).unwrap_or_else(|_| "npm".to_string())
}

/// Runs `cmd` and returns its combined output, or an error if it failed or timed out.
fn run(cmd: &mut Command, timeout: Duration) -> Result<String, NodeEnvError> {
    let line = format!("{cmd:?}");
    let out: TimedOutput =
        output_with_timeout(cmd, timeout).map_err(io(format!("running {line}")))?;
    match out.status {
        Some(s) if s.success() => Ok(out.combined()),
        Some(_) => Err(NodeEnvError::Command {
            command: line,
            output: out.combined(),
        }),
        None => Err(NodeEnvError::Timeout {
            command: line,
            output: out.combined(),
        }),
    }
}

/// The text the marker holds: every manifest's name and content.
fn manifest_text(src: &Path) -> Result<String, NodeEnvError> {
    let mut text = String::new();
    for name in MANIFESTS {
        let p = src.join(name);
        let body = fs::read_to_string(&p).map_err(io(format!("reading {}", p.display())))?;
        text.push_str(&format!("--- {name}\n{body}\n"));
    }
    Ok(text)
}

fn is_installed(dir: &Path, manifests: &str) -> bool {
    fs::read_to_string(dir.join(MARKER)).is_ok_and(|m| m == manifests)
        && dir.join("node_modules").is_dir()
}

/// Returns `<target>/node-<name>` holding the project in `src` with its locked dependencies
/// installed, installing them first if needed, and with `src`'s `*.js` files freshly copied.
pub fn node_project(src: &Path, name: &str) -> Result<PathBuf, NodeEnvError> {
    let target = crate::python_env::target_dir();
    fs::create_dir_all(&target).map_err(io(format!("creating {}", target.display())))?;
    let lock_path = target.join(format!("node-{name}.lock"));
    let lock = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(io(format!("opening {}", lock_path.display())))?;
    lock.lock()
        .map_err(io(format!("locking {}", lock_path.display())))?;
    let result = ensure_project(src, &target.join(format!("node-{name}")));
    // Unlocks on drop as well; explicit for clarity.
    let _ = lock.unlock();
    result
}

fn ensure_project(src: &Path, dir: &Path) -> Result<PathBuf, NodeEnvError> {
    let manifests = manifest_text(src)?;
    if !is_installed(dir, &manifests) {
        if dir.exists() {
            fs::remove_dir_all(dir)
                .map_err(io(format!("removing stale install {}", dir.display())))?;
        }
        fs::create_dir_all(dir).map_err(io(format!("creating {}", dir.display())))?;
        for name in MANIFESTS {
            fs::copy(src.join(name), dir.join(name))
                .map_err(io(format!("copying {name} into {}", dir.display())))?;
        }
        eprintln!("node_env: installing {} with npm ci", dir.display());
        run(
            Command::new(npm())
                .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
                .current_dir(dir),
            INSTALL_TIMEOUT,
        )?;
        // npm creates no node_modules for a project without dependencies; make one so that
        // a complete install always has it and a deleted node_modules means reinstall.
        fs::create_dir_all(dir.join("node_modules")).map_err(io("creating node_modules"))?;
        fs::write(dir.join(MARKER), &manifests).map_err(io("writing install marker"))?;
    }
    copy_sources(src, dir)?;
    Ok(dir.to_path_buf())
}

/// Copies `src`'s `*.js` files (the scenarios) over the installed project's. A changed file
/// is written beside its target and renamed over it, so a script another test process is
/// running at that moment is never seen half-written; an unchanged one is left alone.
fn copy_sources(src: &Path, dir: &Path) -> Result<(), NodeEnvError> {
    let entries = fs::read_dir(src).map_err(io(format!("listing {}", src.display())))?;
    for entry in entries {
        let entry = entry.map_err(io(format!("listing {}", src.display())))?;
        let path = entry.path();
        if path.extension().is_some_and(|e| e == "js") && path.is_file() {
            let body = fs::read(&path).map_err(io(format!("reading {}", path.display())))?;
            let to = dir.join(entry.file_name());
            if fs::read(&to).is_ok_and(|old| old == body) {
                continue;
            }
            let tmp = dir.join(format!(
                ".{}.{}.tmp",
                entry.file_name().to_string_lossy(),
                std::process::id()
            ));
            fs::write(&tmp, &body).map_err(io(format!("writing {}", tmp.display())))?;
            fs::rename(&tmp, &to).map_err(io(format!("renaming onto {}", to.display())))?;
        }
    }
    Ok(())
}

/// Runs `node <project>/<script> args...` in the project directory with extra environment,
/// killing it after `timeout`; returns its combined output, or an error carrying it when the
/// script fails or times out.
pub fn run_node_ok(
    project: &Path,
    script: &str,
    args: &[&str],
    envs: &[(&str, &str)],
    timeout: Duration,
) -> Result<String, NodeEnvError> {
    let mut cmd = Command::new(node());
    cmd.arg(project.join(script))
        .args(args)
        .current_dir(project);
    for (k, v) in envs {
        cmd.env(k, v);
    }
    run(&mut cmd, timeout)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("hg-nodeenv-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn failing_and_slow_scripts_report_output() {
        let dir = scratch("fail");
        fs::write(
            dir.join("fail.js"),
            "console.log('about to fail'); process.exit(3);\n",
        )
        .unwrap();
        let err = run_node_ok(&dir, "fail.js", &[], &[], Duration::from_secs(60)).unwrap_err();
        assert!(
            matches!(&err, NodeEnvError::Command { output, .. } if output.contains("about to fail")),
            "{err}"
        );
        fs::write(
            dir.join("slow.js"),
            "console.log('sleeping'); setTimeout(() => {}, 60000);\n",
        )
        .unwrap();
        let err = run_node_ok(&dir, "slow.js", &[], &[], Duration::from_secs(2)).unwrap_err();
        assert!(matches!(err, NodeEnvError::Timeout { .. }), "{err}");
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn missing_manifest_is_an_io_error() {
        let dir = scratch("nomanifest");
        let err = node_project(&dir, "hg-unit-missing").unwrap_err();
        assert!(
            matches!(&err, NodeEnvError::Io { what, .. } if what.contains("package.json")),
            "{err}"
        );
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_project_without_dependencies_installs_once_and_refreshes_sources() {
        let src = scratch("tiny");
        fs::write(
            src.join("package.json"),
            r#"{"name":"hg-tiny","version":"1.0.0","private":true}"#,
        )
        .unwrap();
        fs::write(
            src.join("package-lock.json"),
            r#"{"name":"hg-tiny","version":"1.0.0","lockfileVersion":3,"requires":true,"packages":{"":{"name":"hg-tiny","version":"1.0.0"}}}"#,
        )
        .unwrap();
        fs::write(src.join("main.js"), "console.log('v1');\n").unwrap();
        let name = format!("hg-unit-tiny-{}", std::process::id());
        let dir = node_project(&src, &name).unwrap();
        assert!(dir.join(MARKER).is_file());
        let out = run_node_ok(&dir, "main.js", &[], &[], Duration::from_secs(60)).unwrap();
        assert!(out.contains("v1"), "{out}");
        // A second call reuses the install (the marker's mtime is unchanged) but copies the
        // changed script.
        let stamp = fs::metadata(dir.join(MARKER)).unwrap().modified().unwrap();
        fs::write(src.join("main.js"), "console.log('v2');\n").unwrap();
        let again = node_project(&src, &name).unwrap();
        assert_eq!(
            fs::metadata(again.join(MARKER))
                .unwrap()
                .modified()
                .unwrap(),
            stamp
        );
        let out = run_node_ok(&again, "main.js", &[], &[], Duration::from_secs(60)).unwrap();
        assert!(out.contains("v2"), "{out}");
        let _ = fs::remove_dir_all(&dir);
        let _ = fs::remove_dir_all(&src);
        let _ = fs::remove_file(crate::python_env::target_dir().join(format!("node-{name}.lock")));
    }
}
