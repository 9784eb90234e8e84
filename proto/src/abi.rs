//! The C ABI contract between `hourglass-core` and its loaders.
//!
//! Every type here is `#[repr(C)]` and every constant is part of the versioned ABI: changing
//! any of them requires bumping [`ABI_VERSION`], which the loader checks before resolving
//! any other symbol.

use std::ffi::c_void;

/// Version of the C ABI. `hourglass_core_abi_version()` returns it; a loader refuses a
/// library reporting a different value.
pub const ABI_VERSION: u32 = 2;

/// Status code: success.
pub const STATUS_OK: u32 = 0;
/// Status code: the handle is unknown, freed, of the wrong kind or from another loaded instance.
pub const STATUS_INVALID_HANDLE: u32 = 1;
/// Status code: an argument is invalid (empty identity, empty task queue, bad URL, ...).
pub const STATUS_INVALID_ARGUMENT: u32 = 2;
/// Status code: protobuf bytes could not be decoded.
pub const STATUS_MALFORMED: u32 = 3;
/// Status code: the worker has shut down (a poll returns it once draining is complete).
pub const STATUS_SHUT_DOWN: u32 = 4;
/// Status code: connecting to the server failed.
pub const STATUS_CONNECT: u32 = 5;
/// Status code: the Temporal core returned an error.
pub const STATUS_CORE: u32 = 6;
/// Status code: the core panicked; the panic was contained and turned into this error.
pub const STATUS_PANIC: u32 = 7;
/// Status code: the operation is not possible right now (a poll of the same kind is already
/// running, or `finalize_shutdown` while polls/completions are outstanding).
pub const STATUS_BUSY: u32 = 8;
/// Status code: the runtime behind the operation was dropped before it completed.
pub const STATUS_CANCELLED: u32 = 9;

/// Borrowed input bytes, valid only for the duration of the call.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct HgBytes {
    /// Start of the bytes; may be null when `len` is 0.
    pub data: *const u8,
    /// Number of bytes.
    pub len: usize,
}

impl HgBytes {
    /// Borrows a byte slice for a call.
    pub fn from_slice(s: &[u8]) -> Self {
        Self {
            data: s.as_ptr(),
            len: s.len(),
        }
    }
}

/// Bytes owned by the core (a leaked `Vec<u8>`). The receiver must pass it to
/// `hourglass_core_buffer_free` of the same loaded library exactly once. A buffer with a
/// null `data` is empty and needs no free (freeing it is a no-op).
#[repr(C)]
#[derive(Debug)]
pub struct HgBuffer {
    /// Start of the bytes, or null for an empty buffer.
    pub data: *mut u8,
    /// Number of initialised bytes.
    pub len: usize,
    /// Capacity of the allocation.
    pub cap: usize,
}

impl HgBuffer {
    /// An empty buffer (nothing to free).
    pub const EMPTY: HgBuffer = HgBuffer {
        data: std::ptr::null_mut(),
        len: 0,
        cap: 0,
    };
}

/// Completion callback of an asynchronous call. Called exactly once, on a core thread, with
/// the caller's `user_data`, a status code, a handle (for calls that create one, else 0) and a
/// buffer (result bytes on success, a UTF-8 error message otherwise) that the callee now owns.
pub type HgCallback =
    unsafe extern "C" fn(user_data: *mut c_void, status: u32, handle: u64, buf: HgBuffer);

/// Log forwarding callback: level (1 = error .. 5 = trace), target, message and the event's
/// fields as a JSON object, all UTF-8 and borrowed for the duration of the call. Called on
/// core threads; must be thread-safe.
pub type HgLogCallback = unsafe extern "C" fn(
    user_data: *mut c_void,
    level: u32,
    target: HgBytes,
    message: HgBytes,
    fields_json: HgBytes,
);

/// `u32 hourglass_core_abi_version(void)`.
pub type AbiVersionFn = unsafe extern "C" fn() -> u32;
/// `u64 hourglass_core_instance_id(void)`: random per loaded instance, never 0.
pub type InstanceIdFn = unsafe extern "C" fn() -> u64;
/// `void hourglass_core_buffer_free(HgBuffer)`.
pub type BufferFreeFn = unsafe extern "C" fn(buf: HgBuffer);
/// `u32 hourglass_core_runtime_new(config, log_cb, log_user_data, *out_handle, *out_err)`.
pub type RuntimeNewFn = unsafe extern "C" fn(
    config: HgBytes,
    log_cb: Option<HgLogCallback>,
    log_user_data: *mut c_void,
    out_handle: *mut u64,
    out_err: *mut HgBuffer,
) -> u32;
/// Frees a handle: `u32 f(handle, *out_err)`.
pub type HandleFreeFn = unsafe extern "C" fn(handle: u64, out_err: *mut HgBuffer) -> u32;
/// `void hourglass_core_client_connect(runtime, config, user_data, cb)`; the callback's handle
/// is the new client.
pub type ClientConnectFn =
    unsafe extern "C" fn(runtime: u64, config: HgBytes, user_data: *mut c_void, cb: HgCallback);
/// `u32 hourglass_core_worker_new(client, config, *out_handle, *out_err)`.
pub type WorkerNewFn = unsafe extern "C" fn(
    client: u64,
    config: HgBytes,
    out_handle: *mut u64,
    out_err: *mut HgBuffer,
) -> u32;
/// `u32 hourglass_core_worker_replace_client(worker, client, *out_err)`.
pub type WorkerReplaceClientFn =
    unsafe extern "C" fn(worker: u64, client: u64, out_err: *mut HgBuffer) -> u32;
/// An asynchronous call on a handle with no input: `void f(handle, user_data, cb)`.
pub type HandleAsyncFn = unsafe extern "C" fn(handle: u64, user_data: *mut c_void, cb: HgCallback);
/// An asynchronous call on a handle with protobuf input: `void f(handle, bytes, user_data, cb)`.
pub type HandleBytesAsyncFn =
    unsafe extern "C" fn(handle: u64, input: HgBytes, user_data: *mut c_void, cb: HgCallback);
/// A synchronous call on a handle with byte input: `u32 f(handle, bytes, *out_err)`.
pub type HandleBytesSyncFn =
    unsafe extern "C" fn(handle: u64, input: HgBytes, out_err: *mut HgBuffer) -> u32;
/// `u32 hourglass_core_replayer_new(runtime, config, *out_handle, *out_err)`; the handle is a
/// worker handle usable with the poll/complete/shutdown calls.
pub type ReplayerNewFn = unsafe extern "C" fn(
    runtime: u64,
    config: HgBytes,
    out_handle: *mut u64,
    out_err: *mut HgBuffer,
) -> u32;
/// `u32 hourglass_core_test_panic(*out_err)`: panics inside the core (contained).
pub type TestPanicFn = unsafe extern "C" fn(out_err: *mut HgBuffer) -> u32;

/// Names of every exported symbol, in the order a loader resolves them (the ABI version
/// symbol first).
pub const SYMBOLS: &[&str] = &[
    "hourglass_core_abi_version",
    "hourglass_core_instance_id",
    "hourglass_core_buffer_free",
    "hourglass_core_runtime_new",
    "hourglass_core_runtime_free",
    "hourglass_core_client_connect",
    "hourglass_core_client_free",
    "hourglass_core_worker_new",
    "hourglass_core_worker_validate",
    "hourglass_core_worker_free",
    "hourglass_core_worker_replace_client",
    "hourglass_core_worker_poll_workflow_activation",
    "hourglass_core_worker_complete_workflow_activation",
    "hourglass_core_worker_poll_activity_task",
    "hourglass_core_worker_complete_activity_task",
    "hourglass_core_worker_record_activity_heartbeat",
    "hourglass_core_worker_request_workflow_eviction",
    "hourglass_core_worker_announce_shutdown",
    "hourglass_core_worker_initiate_shutdown",
    "hourglass_core_worker_finalize_shutdown",
    "hourglass_core_replayer_new",
    "hourglass_core_replayer_push",
    "hourglass_core_replayer_finish",
    "hourglass_core_test_panic",
    "hourglass_core_test_panic_async",
];
