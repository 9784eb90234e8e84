//! Loading the core library from a file.
//!
//! Each load copies the file into a private, anonymous in-memory file (`memfd_create`) and
//! `dlopen`s that copy through `/proc/self/fd/N`: `dlopen` of a path (or inode) that is
//! already loaded returns the existing mapping, so reloading an unchanged path would silently
//! hand back the old code. A memory file has its own inode, needs no disk space (a reload
//! never fails for a full `/tmp`) and cannot be left behind by a process killed mid-load.
//! Where the kernel refuses a memory file, the copy goes to a unique path under the temp
//! directory instead and is unlinked right after loading (the mapping stays valid).
//!
//! Every library loaded here stays mapped for the life of the process, deliberately: the core
//! runs its own threads (tokio workers, the per-worker "workflow-processing" thread,
//! thread-local destructors) whose code lives in that mapping and which may outlive any handle
//! the host still holds; unmapping it under them would crash the process. Handles of an old
//! generation are still freed through the old library, so its resources are released even
//! though its code stays mapped. A memory file's descriptor is kept open with its library, so
//! its `/proc/self/fd/N` name is never reused by a later load (`dlopen` also matches by name).

use crate::error::BridgeError;
use crate::function_table::FunctionTable;
use parking_lot::Mutex;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// A loaded library and, for a memory copy, the descriptor that keeps its name unique.
struct KeptLibrary {
    _library: libloading::Library,
    _memory_file: Option<File>,
}

static KEPT_LIBRARIES: Mutex<Vec<KeptLibrary>> = Mutex::new(Vec::new());
static COPY_COUNTER: AtomicU64 = AtomicU64::new(0);

/// A loaded copy of the library.
pub(crate) struct LoadedLibrary {
    pub table: FunctionTable,
}

/// Where the private copy of the library was written.
enum PrivateCopy {
    /// An anonymous memory file, opened by `/proc/self/fd/N`.
    Memory { file: File, path: PathBuf },
    /// A unique file under the temp directory, removed once loaded.
    TempFile { path: PathBuf },
}

impl PrivateCopy {
    fn path(&self) -> &Path {
        match self {
            PrivateCopy::Memory { path, .. } | PrivateCopy::TempFile { path } => path,
        }
    }
}

fn temp_copy_path(path: &Path) -> PathBuf {
    let n = COPY_COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let stem = path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("hourglass_core");
    let ext = path.extension().and_then(|s| s.to_str()).unwrap_or("so");
    std::env::temp_dir().join(format!("{stem}-{}-{n}-{nanos}.{ext}", std::process::id()))
}

/// Copies `path` into a memory file; `None` when the kernel offers none (the caller falls
/// back to a temp file), an error when reading the library or writing the copy fails.
fn memory_copy(path: &Path) -> Result<Option<PrivateCopy>, BridgeError> {
    use std::os::fd::AsRawFd;
    let fd = match nix::sys::memfd::memfd_create(
        c"hourglass-core",
        nix::sys::memfd::MFdFlags::MFD_CLOEXEC,
    ) {
        Ok(fd) => fd,
        Err(errno) => {
            tracing::debug!(%errno, "no memory file for the core library copy; using the temp directory");
            return Ok(None);
        }
    };
    let mut file = File::from(fd);
    let copy_path = PathBuf::from(format!("/proc/self/fd/{}", file.as_raw_fd()));
    let copied = File::open(path).and_then(|mut source| std::io::copy(&mut source, &mut file));
    copied.map_err(|source| BridgeError::Copy {
        from: path.to_owned(),
        to: copy_path.clone(),
        source,
    })?;
    Ok(Some(PrivateCopy::Memory {
        file,
        path: copy_path,
    }))
}

fn private_copy(path: &Path) -> Result<PrivateCopy, BridgeError> {
    if let Some(copy) = memory_copy(path)? {
        return Ok(copy);
    }
    let copy = temp_copy_path(path);
    std::fs::copy(path, &copy).map_err(|source| BridgeError::Copy {
        from: path.to_owned(),
        to: copy.clone(),
        source,
    })?;
    Ok(PrivateCopy::TempFile { path: copy })
}

/// Loads a private copy of the library at `path` and resolves its function table.
pub(crate) fn load(path: &Path) -> Result<LoadedLibrary, BridgeError> {
    if !path.is_file() {
        return Err(BridgeError::LibraryNotFound {
            path: path.to_owned(),
        });
    }
    let copy = private_copy(path)?;
    // SAFETY: loading runs the library's initialisers. The file is a private copy of a
    // library the caller named as an hourglass core; a file that is not one fails here or in
    // the ABI version / symbol checks below, before any other code of it runs.
    let lib = unsafe { libloading::Library::new(copy.path()) };
    let memory_file = match copy {
        PrivateCopy::Memory { file, .. } => Some(file),
        PrivateCopy::TempFile { path: copy } => {
            if let Err(e) = std::fs::remove_file(&copy) {
                tracing::warn!(copy = %copy.display(), error = %e, "could not remove the private copy of the core library");
            }
            None
        }
    };
    let lib = lib.map_err(|e| BridgeError::NotALibrary {
        path: path.to_owned(),
        message: e.to_string(),
    })?;
    let table = FunctionTable::resolve(&lib, path);
    // Kept mapped whether or not resolution succeeded: its initialisers ran and may have
    // registered thread-local destructors.
    KEPT_LIBRARIES.lock().push(KeptLibrary {
        _library: lib,
        _memory_file: memory_file,
    });
    Ok(LoadedLibrary { table: table? })
}

/// Number of library copies mapped by this process so far.
pub fn mapped_library_count() -> usize {
    KEPT_LIBRARIES.lock().len()
}
