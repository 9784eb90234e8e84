//! [`Core`]: the loaded core library, its generations and reload.

use crate::call;
use crate::error::BridgeError;
use crate::function_table::FunctionTable;
use crate::handles::{HandleInner, HandleKind, Runtime};
use crate::loader;
use hourglass_proto::abi::HgBytes;
use hourglass_proto::bridge::v1::RuntimeConfig;
use parking_lot::{Mutex, RwLock};
use prost::Message;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::watch;

/// How the core is provided.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CoreMode {
    /// Loaded at run time from this file (reloadable).
    Dynamic(PathBuf),
    /// Compiled into this binary (not reloadable).
    Linked,
}

/// One load of the core: a generation and its function table.
pub(crate) struct Generation {
    pub number: u64,
    pub table: FunctionTable,
    pub instance_id: u64,
}

pub(crate) struct Shared {
    mode: CoreMode,
    current: RwLock<Arc<Generation>>,
    generation: AtomicU64,
    reload_lock: Mutex<()>,
    notify: watch::Sender<u64>,
}

impl Shared {
    pub(crate) fn current_generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }
}

/// The core library. Cheap to clone; clones share generations.
///
/// Every handle ([`Runtime`], [`crate::Client`], [`crate::Worker`]) remembers the generation
/// that issued it; after [`Core::reload`] every call through an older handle fails with
/// [`BridgeError::Reloaded`] while handles created afterwards work. Dropping an old handle
/// still frees it in the library that issued it.
#[derive(Clone)]
pub struct Core {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Core {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Core")
            .field("mode", &self.shared.mode)
            .field("generation", &self.generation())
            .finish()
    }
}

/// File name of the core library on this platform.
pub const LIBRARY_FILE_NAME: &str = if cfg!(target_os = "macos") {
    "libhourglass_core.dylib"
} else if cfg!(target_os = "windows") {
    "hourglass_core.dll"
} else {
    "libhourglass_core.so"
};

/// Environment variable naming the core library file.
pub const LIBRARY_ENV_VAR: &str = "HOURGLASS_CORE_LIB";

impl Core {
    fn new(mode: CoreMode, table: FunctionTable) -> Self {
        // SAFETY: the table's functions come from a library checked for the ABI version.
        let instance_id = unsafe { (table.instance_id)() };
        let generation = Arc::new(Generation {
            number: 1,
            table,
            instance_id,
        });
        let (notify, _) = watch::channel(1);
        tracing::info!(?mode, generation = 1, instance_id, "hourglass core loaded");
        Self {
            shared: Arc::new(Shared {
                mode,
                current: RwLock::new(generation),
                generation: AtomicU64::new(1),
                reload_lock: Mutex::new(()),
                notify,
            }),
        }
    }

    /// Loads the core library at `path` (generation 1). Errors are distinct for a missing
    /// file ([`BridgeError::LibraryNotFound`]), a file the loader refuses
    /// ([`BridgeError::NotALibrary`]), a wrong ABI version ([`BridgeError::AbiMismatch`]) and
    /// a missing symbol ([`BridgeError::MissingSymbol`]).
    pub fn load(path: impl AsRef<Path>) -> Result<Self, BridgeError> {
        let path = path.as_ref().to_owned();
        let lib = loader::load(&path)?;
        Ok(Self::new(CoreMode::Dynamic(path), lib.table))
    }

    /// The core compiled into this binary (no file, no reload). Every call returns a core
    /// sharing the same compiled-in instance.
    #[cfg(feature = "linked")]
    pub fn linked() -> Self {
        Self::new(CoreMode::Linked, FunctionTable::linked())
    }

    /// Finds the core library file: `$HOURGLASS_CORE_LIB` if set, else
    /// [`LIBRARY_FILE_NAME`] next to the current executable. `None` if neither exists.
    pub fn locate_library() -> Option<PathBuf> {
        if let Some(p) = std::env::var_os(LIBRARY_ENV_VAR) {
            return Some(PathBuf::from(p));
        }
        let exe = std::env::current_exe().ok()?;
        let candidate = exe.parent()?.join(LIBRARY_FILE_NAME);
        candidate.is_file().then_some(candidate)
    }

    /// Loads a fresh copy of the library file and makes it the current generation. Handles
    /// of older generations fail with [`BridgeError::Reloaded`] from now on. On error the
    /// current generation stays in place. Returns the new generation number.
    pub fn reload(&self) -> Result<u64, BridgeError> {
        let CoreMode::Dynamic(path) = &self.shared.mode else {
            return Err(BridgeError::ReloadUnsupported);
        };
        let _serialised = self.shared.reload_lock.lock();
        let lib = match loader::load(path) {
            Ok(l) => l,
            Err(e) => {
                tracing::error!(path = %path.display(), error = %e, "hourglass core reload failed; keeping the current generation");
                return Err(e);
            }
        };
        // SAFETY: the table was resolved from a library with the right ABI version.
        let instance_id = unsafe { (lib.table.instance_id)() };
        let number = self.shared.current_generation() + 1;
        *self.shared.current.write() = Arc::new(Generation {
            number,
            table: lib.table,
            instance_id,
        });
        self.shared.generation.store(number, Ordering::Release);
        self.shared.notify.send_replace(number);
        tracing::warn!(path = %path.display(), generation = number, instance_id, "hourglass core reloaded; older handles are now stale");
        Ok(number)
    }

    /// The current generation (1 after load, +1 per successful reload).
    pub fn generation(&self) -> u64 {
        self.shared.current_generation()
    }

    /// The random instance id of the current generation's library copy.
    pub fn instance_id(&self) -> u64 {
        self.shared.current.read().instance_id
    }

    /// How this core is provided.
    pub fn mode(&self) -> &CoreMode {
        &self.shared.mode
    }

    /// A receiver that sees every new generation number (for reacting to reloads without
    /// waiting for a call to fail).
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.shared.notify.subscribe()
    }

    /// The raw function table of the current generation: low-level access to the C ABI for
    /// diagnostics and ABI tests. Calling its functions is `unsafe` and bypasses the
    /// generation checks the handle types perform.
    pub fn function_table(&self) -> FunctionTable {
        self.current().table
    }

    fn current(&self) -> Arc<Generation> {
        self.shared.current.read().clone()
    }

    /// Creates a core runtime (its own tokio runtime and telemetry) in the current generation.
    /// Core log records are re-emitted into this process's `tracing` (target
    /// `hourglass_core`) when `config.log_forwarding` is enabled.
    pub fn runtime(&self, config: &RuntimeConfig) -> Result<Runtime, BridgeError> {
        let generation = self.current();
        let bytes = config.encode_to_vec();
        let mut handle = 0u64;
        let t = generation.table;
        let log_user_data = if config.log_forwarding.as_ref().is_some_and(|l| l.enabled) {
            crate::logs::capture_dispatch()
        } else {
            std::ptr::null_mut()
        };
        call::sync(t.buffer_free, |err| {
            // SAFETY: valid borrowed input, out pointers to locals, and a thread-safe
            // log callback that lives for the whole process.
            unsafe {
                (t.runtime_new)(
                    HgBytes::from_slice(&bytes),
                    Some(crate::logs::forward_log),
                    log_user_data,
                    &mut handle,
                    err,
                )
            }
        })?;
        Ok(Runtime::from_inner(HandleInner::new(
            self.shared.clone(),
            generation,
            handle,
            HandleKind::Runtime,
        )))
    }

    /// Diagnostic: makes the core panic inside a synchronous export; returns the contained
    /// panic as [`BridgeError::Panic`].
    pub fn test_panic(&self) -> Result<(), BridgeError> {
        let t = self.current().table;
        // SAFETY: out pointer to a local.
        call::sync(t.buffer_free, |err| unsafe { (t.test_panic)(err) })
    }
}
