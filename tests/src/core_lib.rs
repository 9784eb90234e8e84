//! Locating (and building when missing) `libhourglass_core.so` for tests.
//!
//! Search order:
//! 1. `$HOURGLASS_CORE_LIB` (must exist);
//! 2. next to the test executable and one level up (`target/<profile>/deps/` holds the
//!    cdylib whenever a package depending on `hourglass-core` was built — e.g.
//!    `hourglass-bridge` with its default `linked` feature — and `target/<profile>/` holds it
//!    after `cargo build`/`cargo test` of the workspace);
//! 3. `$CARGO_TARGET_DIR/{debug,release}` and the workspace's `target/{debug,release}`.
//!
//! Only if none exists is it built: `cargo build -p hourglass-core` into a separate target
//! directory (`<target>/hourglass-core-lib`), because a nested cargo on the outer run's target
//! directory would wait on the build lock that the outer `cargo test` may hold. A lock file
//! (`<target>/hourglass-core-lib.lock`) keeps parallel test processes from building
//! concurrently; the second waits and reuses the first one's result.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Environment variable that overrides the search.
pub const ENV_VAR: &str = "HOURGLASS_CORE_LIB";

/// File name of the core library on this platform.
pub const FILE_NAME: &str = if cfg!(target_os = "macos") {
    "libhourglass_core.dylib"
} else if cfg!(target_os = "windows") {
    "hourglass_core.dll"
} else {
    "libhourglass_core.so"
};

fn workspace_root() -> PathBuf {
    // tests/ is a direct child of the workspace root.
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_owned)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// The target directory tests run from: `$CARGO_TARGET_DIR`, else derived from the test
/// executable (`<target>/<profile>/deps/<exe>`), else the workspace's `target/`.
pub fn target_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("CARGO_TARGET_DIR") {
        return PathBuf::from(d);
    }
    if let Ok(exe) = std::env::current_exe()
        && let Some(profile_dir) = exe.parent().and_then(Path::parent)
        && let Some(target) = profile_dir.parent()
        && target.join("CACHEDIR.TAG").exists()
    {
        return target.to_owned();
    }
    workspace_root().join("target")
}

/// Candidate paths, in search order (without the env override).
pub fn candidates() -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(exe) = std::env::current_exe()
        && let Some(dir) = exe.parent()
    {
        out.push(dir.join(FILE_NAME));
        if let Some(up) = dir.parent() {
            out.push(up.join(FILE_NAME));
            out.push(up.join("deps").join(FILE_NAME));
        }
    }
    let mut targets = vec![target_dir(), workspace_root().join("target")];
    targets.dedup();
    for t in targets {
        for profile in ["debug", "release"] {
            out.push(t.join(profile).join("deps").join(FILE_NAME));
            out.push(t.join(profile).join(FILE_NAME));
        }
    }
    out
}

/// Finds an existing library without building.
pub fn find() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os(ENV_VAR) {
        return Some(PathBuf::from(p));
    }
    candidates().into_iter().find(|p| p.is_file())
}

/// The core library for tests: found, or built once if missing.
///
/// # Panics
/// When `$HOURGLASS_CORE_LIB` names a missing file, or building fails (with cargo's output).
pub fn core_library() -> PathBuf {
    match try_core_library() {
        Ok(p) => p,
        Err(e) => panic!("cannot provide {FILE_NAME} for tests: {e}"),
    }
}

/// Like [`core_library`], returning the failure instead of panicking.
pub fn try_core_library() -> Result<PathBuf, String> {
    if let Some(p) = std::env::var_os(ENV_VAR) {
        let p = PathBuf::from(p);
        return if p.is_file() {
            Ok(p)
        } else {
            Err(format!(
                "${ENV_VAR} names {} which does not exist",
                p.display()
            ))
        };
    }
    if let Some(p) = find() {
        return Ok(p);
    }
    build()
}

fn build() -> Result<PathBuf, String> {
    let target = target_dir();
    std::fs::create_dir_all(&target).map_err(|e| format!("creating {}: {e}", target.display()))?;
    let lock_path = target.join("hourglass-core-lib.lock");
    let lock = std::fs::File::create(&lock_path)
        .map_err(|e| format!("creating {}: {e}", lock_path.display()))?;
    lock.lock()
        .map_err(|e| format!("locking {}: {e}", lock_path.display()))?;
    let build_target = target.join("hourglass-core-lib");
    let built = build_target.join("debug").join(FILE_NAME);
    // Another process may have built it while we waited for the lock.
    if built.is_file() {
        return Ok(built);
    }
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let output = Command::new(cargo)
        .args(["build", "-p", "hourglass-core", "--lib", "-j2"])
        .env("CARGO_TARGET_DIR", &build_target)
        .current_dir(workspace_root())
        .output()
        .map_err(|e| format!("running cargo: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "cargo build -p hourglass-core failed ({}):\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    if built.is_file() {
        Ok(built)
    } else {
        Err(format!(
            "cargo succeeded but {} is missing",
            built.display()
        ))
    }
}

/// Compiles a C source into a shared library under `<target>/hourglass-test-fixtures/`
/// with the system C compiler (`$CC` or `cc`), for loader tests. Returns the library path.
pub fn compile_c_fixture(name: &str, source: &str) -> Result<PathBuf, String> {
    let dir = target_dir().join("hourglass-test-fixtures");
    std::fs::create_dir_all(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    let src = dir.join(format!("{name}-{}.c", std::process::id()));
    let out = dir.join(format!("lib{name}-{}.so", std::process::id()));
    std::fs::write(&src, source).map_err(|e| format!("writing {}: {e}", src.display()))?;
    let cc = std::env::var_os("CC").unwrap_or_else(|| "cc".into());
    let output = Command::new(cc)
        .args(["-shared", "-fPIC", "-o"])
        .arg(&out)
        .arg(&src)
        .output()
        .map_err(|e| format!("running the C compiler: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "compiling {} failed: {}",
            src.display(),
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn candidates_include_the_workspace_target() {
        let c = candidates();
        assert!(
            c.iter()
                .any(|p| p.ends_with(Path::new("target/debug").join(FILE_NAME)))
        );
    }

    #[test]
    fn c_fixture_compiles_to_a_library() {
        let p = compile_c_fixture(
            "fixture_smoke",
            "int hourglass_fixture(void) { return 3; }\n",
        )
        .unwrap();
        assert!(p.is_file());
    }
}
