//! Loading the core library from a file.
//!
//! Each load copies the file to a unique private path first and `dlopen`s the copy: `dlopen`
//! of a path (or inode) that is already loaded returns the existing mapping, so reloading an
//! unchanged path would silently hand back the old code. The copy is unlinked right after
//! loading (the mapping stays valid).
//!
//! Every library loaded here stays mapped for the life of the process, deliberately: the core
//! runs its own threads (tokio workers, the per-worker "workflow-processing" thread,
//! thread-local destructors) whose code lives in that mapping and which may outlive any handle
//! the host still holds; unmapping it under them would crash the process. Handles of an old
//! generation are still freed through the old library, so its resources are released even
//! though its code stays mapped.

use crate::error::BridgeError;
use crate::function_table::FunctionTable;
use parking_lot::Mutex;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

static KEPT_LIBRARIES: Mutex<Vec<libloading::Library>> = Mutex::new(Vec::new());
static COPY_COUNTER: AtomicU64 = AtomicU64::new(0);

/// A loaded copy of the library.
pub(crate) struct LoadedLibrary {
    pub table: FunctionTable,
}

fn copy_path(path: &Path) -> PathBuf {
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

/// Loads a private copy of the library at `path` and resolves its function table.
pub(crate) fn load(path: &Path) -> Result<LoadedLibrary, BridgeError> {
    if !path.is_file() {
        return Err(BridgeError::LibraryNotFound {
            path: path.to_owned(),
        });
    }
    let copy = copy_path(path);
    std::fs::copy(path, &copy).map_err(|source| BridgeError::Copy {
        from: path.to_owned(),
        to: copy.clone(),
        source,
    })?;
    // SAFETY: loading runs the library's initialisers. The file is a private copy of a
    // library the caller named as an hourglass core; a file that is not one fails here or in
    // the ABI version / symbol checks below, before any other code of it runs.
    let lib = unsafe { libloading::Library::new(&copy) };
    if let Err(e) = std::fs::remove_file(&copy) {
        tracing::warn!(copy = %copy.display(), error = %e, "could not remove the private copy of the core library");
    }
    let lib = lib.map_err(|e| BridgeError::NotALibrary {
        path: path.to_owned(),
        message: e.to_string(),
    })?;
    let table = FunctionTable::resolve(&lib, path);
    // Kept mapped whether or not resolution succeeded: its initialisers ran and may have
    // registered thread-local destructors.
    KEPT_LIBRARIES.lock().push(lib);
    Ok(LoadedLibrary { table: table? })
}

/// Number of library copies mapped by this process so far.
pub fn mapped_library_count() -> usize {
    KEPT_LIBRARIES.lock().len()
}
