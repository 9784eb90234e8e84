//! The exported `extern "C"` functions. Every function contains panics (`catch_unwind`);
//! every asynchronous one reports through its callback exactly once.
//!
//! Common contract: `HgBytes` inputs are borrowed for the call only; `out_*` pointers may be
//! null (the value is then dropped) or must be valid for one write; buffers handed out must be
//! returned through [`hourglass_core_buffer_free`]; callbacks may run on any thread, possibly
//! before the exporting function returns; `user_data` is passed back untouched.

use crate::client::{self, ClientEntry};
use crate::error::CoreError;
use crate::ffi::{async_call, input, sync_call, write_handle};
use crate::handles::{self, KIND_CLIENT, KIND_RUNTIME, KIND_WORKER, Table};
use crate::runtime::{self, RuntimeEntry};
use crate::worker::{self, WorkerEntry};
use hourglass_proto::abi::{self, HgBuffer, HgBytes, HgCallback, HgLogCallback};
use hourglass_proto::bridge::v1::{
    ClientConfig, ReplayHistory, RuntimeConfig, WorkerConfig as WorkerConfigProto,
};
use parking_lot::Mutex;
use std::ffi::c_void;
use std::sync::Arc;
use temporalio_common::protos::coresdk::workflow_completion::WorkflowActivationCompletion;
use temporalio_common::protos::coresdk::{ActivityHeartbeat, ActivityTaskCompletion};

pub(crate) static RUNTIMES: Table<RuntimeEntry> = Table::new(KIND_RUNTIME, "runtime");
pub(crate) static CLIENTS: Table<ClientEntry> = Table::new(KIND_CLIENT, "client");
pub(crate) static WORKERS: Table<WorkerEntry> = Table::new(KIND_WORKER, "worker");

/// The ABI version of this library ([`abi::ABI_VERSION`]).
#[unsafe(no_mangle)]
pub extern "C" fn hourglass_core_abi_version() -> u32 {
    abi::ABI_VERSION
}

/// The random id of this loaded instance (never 0). Handles carry its low 16 bits.
#[unsafe(no_mangle)]
pub extern "C" fn hourglass_core_instance_id() -> u64 {
    std::panic::catch_unwind(handles::instance_id).unwrap_or(u64::MAX)
}

/// Frees a buffer this library handed out. Null buffers are ignored.
///
/// # Safety
/// `buf` must come from this loaded instance and be freed only once.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hourglass_core_buffer_free(buf: HgBuffer) {
    // SAFETY: forwarded caller contract.
    let _ = std::panic::catch_unwind(|| unsafe { crate::ffi::free_buffer(buf) });
}

/// Creates a runtime from an encoded `hourglass.bridge.v1.RuntimeConfig`. `log_cb` (with
/// `log_user_data`) receives forwarded core logs when forwarding is enabled.
///
/// # Safety
/// See the module contract; `log_cb`/`log_user_data` must stay usable from any thread until
/// the runtime (and everything created on it) is freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hourglass_core_runtime_new(
    config: HgBytes,
    log_cb: Option<HgLogCallback>,
    log_user_data: *mut c_void,
    out_handle: *mut u64,
    out_err: *mut HgBuffer,
) -> u32 {
    // SAFETY: forwarded caller contract.
    unsafe {
        sync_call(out_err, || {
            let bytes = input(config, "runtime config")?;
            let cfg: RuntimeConfig = CoreError::decode("hourglass.bridge.v1.RuntimeConfig", bytes)?;
            let entry = runtime::new_runtime(cfg, log_cb.map(|cb| (cb, log_user_data)))?;
            let h = RUNTIMES.insert(Arc::new(entry))?;
            write_handle(out_handle, h);
            Ok(())
        })
    }
}

/// Frees a runtime handle. The runtime itself stops once no client, worker or pending
/// operation uses it; pending operations then report `STATUS_CANCELLED`.
///
/// # Safety
/// See the module contract.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hourglass_core_runtime_free(handle: u64, out_err: *mut HgBuffer) -> u32 {
    // SAFETY: forwarded caller contract.
    unsafe { sync_call(out_err, || RUNTIMES.remove(handle).map(drop)) }
}

/// Connects a client (encoded `hourglass.bridge.v1.ClientConfig`) on a runtime. The callback
/// receives the client handle.
///
/// # Safety
/// See the module contract.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hourglass_core_client_connect(
    runtime: u64,
    config: HgBytes,
    user_data: *mut c_void,
    cb: HgCallback,
) {
    async_call(user_data, cb, || {
        let rt = RUNTIMES.get(runtime)?;
        // SAFETY: forwarded caller contract.
        let bytes = unsafe { input(config, "client config")? };
        let cfg: ClientConfig = CoreError::decode("hourglass.bridge.v1.ClientConfig", bytes)?;
        let prepared = client::prepare(cfg)?;
        let rt2 = rt.clone();
        Ok((rt, async move {
            let connection = client::connect(prepared).await?;
            let h = CLIENTS.insert(Arc::new(ClientEntry {
                runtime: rt2,
                connection: Mutex::new(connection),
            }))?;
            Ok((h, Vec::new()))
        }))
    })
}

/// Frees a client handle (workers created from it keep their connection).
///
/// # Safety
/// See the module contract.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hourglass_core_client_free(handle: u64, out_err: *mut HgBuffer) -> u32 {
    // SAFETY: forwarded caller contract.
    unsafe { sync_call(out_err, || CLIENTS.remove(handle).map(drop)) }
}

/// Creates a worker (encoded `hourglass.bridge.v1.WorkerConfig`) on a client's connection.
///
/// # Safety
/// See the module contract.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hourglass_core_worker_new(
    client: u64,
    config: HgBytes,
    out_handle: *mut u64,
    out_err: *mut HgBuffer,
) -> u32 {
    // SAFETY: forwarded caller contract.
    unsafe {
        sync_call(out_err, || {
            let client = CLIENTS.get(client)?;
            let bytes = input(config, "worker config")?;
            let cfg: WorkerConfigProto =
                CoreError::decode("hourglass.bridge.v1.WorkerConfig", bytes)?;
            let cfg = worker::build_config(cfg)?;
            let connection = client.connection.lock().clone();
            let entry = WorkerEntry::create(client.runtime.clone(), connection, cfg)?;
            write_handle(out_handle, WORKERS.insert(Arc::new(entry))?);
            Ok(())
        })
    }
}

/// Validates a worker against the server (DescribeNamespace). Call once before polling.
///
/// # Safety
/// See the module contract.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hourglass_core_worker_validate(
    worker: u64,
    user_data: *mut c_void,
    cb: HgCallback,
) {
    async_call(user_data, cb, || {
        let w = WORKERS.get(worker)?;
        Ok((w.runtime.clone(), w.validate()))
    })
}

/// Frees a worker handle. Prefer `initiate_shutdown` + draining + `finalize_shutdown` first.
///
/// # Safety
/// See the module contract.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hourglass_core_worker_free(handle: u64, out_err: *mut HgBuffer) -> u32 {
    // SAFETY: forwarded caller contract.
    unsafe { sync_call(out_err, || WORKERS.remove(handle).map(drop)) }
}

/// Moves a worker onto another client's connection.
///
/// # Safety
/// See the module contract.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hourglass_core_worker_replace_client(
    worker: u64,
    client: u64,
    out_err: *mut HgBuffer,
) -> u32 {
    // SAFETY: forwarded caller contract.
    unsafe {
        sync_call(out_err, || {
            let w = WORKERS.get(worker)?;
            let c = CLIENTS.get(client)?;
            let connection = c.connection.lock().clone();
            w.replace_client(connection)
        })
    }
}

/// Polls a workflow activation. Callback: `STATUS_OK` + encoded `WorkflowActivation`,
/// `STATUS_SHUT_DOWN` once the worker is drained, or an error.
///
/// # Safety
/// See the module contract.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hourglass_core_worker_poll_workflow_activation(
    worker: u64,
    user_data: *mut c_void,
    cb: HgCallback,
) {
    async_call(user_data, cb, || {
        let w = WORKERS.get(worker)?;
        Ok((w.runtime.clone(), w.poll_workflow_activation()))
    })
}

/// Completes a workflow activation (encoded `WorkflowActivationCompletion`).
///
/// # Safety
/// See the module contract.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hourglass_core_worker_complete_workflow_activation(
    worker: u64,
    completion: HgBytes,
    user_data: *mut c_void,
    cb: HgCallback,
) {
    async_call(user_data, cb, || {
        let w = WORKERS.get(worker)?;
        // SAFETY: forwarded caller contract.
        let bytes = unsafe { input(completion, "workflow activation completion")? };
        let c: WorkflowActivationCompletion = CoreError::decode(
            "coresdk.workflow_completion.WorkflowActivationCompletion",
            bytes,
        )?;
        if c.run_id.is_empty() {
            return Err(CoreError::InvalidArgument(
                "workflow activation completion: run_id must not be empty".into(),
            ));
        }
        Ok((w.runtime.clone(), w.complete_workflow_activation(c)))
    })
}

/// Polls an activity task. Callback: `STATUS_OK` + encoded `ActivityTask`,
/// `STATUS_SHUT_DOWN`, or an error.
///
/// # Safety
/// See the module contract.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hourglass_core_worker_poll_activity_task(
    worker: u64,
    user_data: *mut c_void,
    cb: HgCallback,
) {
    async_call(user_data, cb, || {
        let w = WORKERS.get(worker)?;
        Ok((w.runtime.clone(), w.poll_activity_task()))
    })
}

/// Completes an activity task (encoded `ActivityTaskCompletion`).
///
/// # Safety
/// See the module contract.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hourglass_core_worker_complete_activity_task(
    worker: u64,
    completion: HgBytes,
    user_data: *mut c_void,
    cb: HgCallback,
) {
    async_call(user_data, cb, || {
        let w = WORKERS.get(worker)?;
        // SAFETY: forwarded caller contract.
        let bytes = unsafe { input(completion, "activity task completion")? };
        let c: ActivityTaskCompletion = CoreError::decode("coresdk.ActivityTaskCompletion", bytes)?;
        if c.task_token.is_empty() {
            return Err(CoreError::InvalidArgument(
                "activity task completion: task_token must not be empty".into(),
            ));
        }
        Ok((w.runtime.clone(), w.complete_activity_task(c)))
    })
}

/// Records an activity heartbeat (encoded `ActivityHeartbeat`); throttled by the core.
///
/// # Safety
/// See the module contract.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hourglass_core_worker_record_activity_heartbeat(
    worker: u64,
    heartbeat: HgBytes,
    out_err: *mut HgBuffer,
) -> u32 {
    // SAFETY: forwarded caller contract.
    unsafe {
        sync_call(out_err, || {
            let w = WORKERS.get(worker)?;
            let bytes = input(heartbeat, "activity heartbeat")?;
            let hb: ActivityHeartbeat = CoreError::decode("coresdk.ActivityHeartbeat", bytes)?;
            w.record_activity_heartbeat(hb)
        })
    }
}

/// Requests eviction of a run (UTF-8 run id); an eviction activation follows.
///
/// # Safety
/// See the module contract.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hourglass_core_worker_request_workflow_eviction(
    worker: u64,
    run_id: HgBytes,
    out_err: *mut HgBuffer,
) -> u32 {
    // SAFETY: forwarded caller contract.
    unsafe {
        sync_call(out_err, || {
            let w = WORKERS.get(worker)?;
            let bytes = input(run_id, "run id")?;
            let run_id = std::str::from_utf8(bytes).map_err(|e| {
                CoreError::InvalidArgument(format!("eviction: run_id is not UTF-8: {e}"))
            })?;
            w.request_workflow_eviction(run_id)
        })
    }
}

/// Tells the server this worker is about to shut down (`ShutdownWorker` with its worker
/// instance key), so the server answers its open polls empty and hands it no more tasks;
/// resolves once the server acknowledged. Call it before `initiate_shutdown`: a task the
/// server hands a worker whose shutdown was already initiated can be dropped by the core and
/// then waits for its task timeout. A server without the RPC (`Unimplemented`) or an
/// unreachable one counts as done; replayers have nothing to announce.
///
/// # Safety
/// See the module contract.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hourglass_core_worker_announce_shutdown(
    worker: u64,
    user_data: *mut c_void,
    cb: HgCallback,
) {
    async_call(user_data, cb, || {
        let w = WORKERS.get(worker)?;
        Ok((w.runtime.clone(), w.announce_shutdown()))
    })
}

/// Initiates worker shutdown.
///
/// # Safety
/// See the module contract.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hourglass_core_worker_initiate_shutdown(
    worker: u64,
    out_err: *mut HgBuffer,
) -> u32 {
    // SAFETY: forwarded caller contract.
    unsafe { sync_call(out_err, || WORKERS.get(worker)?.initiate_shutdown()) }
}

/// Finalizes shutdown once both queues are drained; `STATUS_BUSY` while polls/completions
/// are outstanding.
///
/// # Safety
/// See the module contract.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hourglass_core_worker_finalize_shutdown(
    worker: u64,
    user_data: *mut c_void,
    cb: HgCallback,
) {
    async_call(user_data, cb, || {
        let w = WORKERS.get(worker)?;
        Ok((w.runtime.clone(), w.finalize_shutdown()))
    })
}

/// Creates a replayer (a replay worker; encoded `hourglass.bridge.v1.WorkerConfig`, only
/// namespace and task queue matter) on a runtime. The handle is a worker handle: poll and
/// complete activations with the worker functions.
///
/// # Safety
/// See the module contract.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hourglass_core_replayer_new(
    runtime: u64,
    config: HgBytes,
    out_handle: *mut u64,
    out_err: *mut HgBuffer,
) -> u32 {
    // SAFETY: forwarded caller contract.
    unsafe {
        sync_call(out_err, || {
            let rt = RUNTIMES.get(runtime)?;
            let bytes = input(config, "replayer config")?;
            let cfg: WorkerConfigProto =
                CoreError::decode("hourglass.bridge.v1.WorkerConfig", bytes)?;
            let cfg = worker::build_config(cfg)?;
            let entry = WorkerEntry::create_replayer(rt, cfg)?;
            write_handle(out_handle, WORKERS.insert(Arc::new(entry))?);
            Ok(())
        })
    }
}

/// Feeds a history (encoded `hourglass.bridge.v1.ReplayHistory`) to a replayer.
///
/// # Safety
/// See the module contract.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hourglass_core_replayer_push(
    replayer: u64,
    history: HgBytes,
    out_err: *mut HgBuffer,
) -> u32 {
    // SAFETY: forwarded caller contract.
    unsafe {
        sync_call(out_err, || {
            let w = WORKERS.get(replayer)?;
            let bytes = input(history, "replay history")?;
            let h: ReplayHistory = CoreError::decode("hourglass.bridge.v1.ReplayHistory", bytes)?;
            w.push_history(h)
        })
    }
}

/// Ends a replayer's input; polls return `STATUS_SHUT_DOWN` after the last history.
///
/// # Safety
/// See the module contract.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hourglass_core_replayer_finish(
    replayer: u64,
    out_err: *mut HgBuffer,
) -> u32 {
    // SAFETY: forwarded caller contract.
    unsafe { sync_call(out_err, || WORKERS.get(replayer)?.finish_replay_input()) }
}

/// Diagnostic: panics inside the core, to prove panics are contained. Always returns
/// `STATUS_PANIC` with the panic message.
///
/// # Safety
/// See the module contract.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hourglass_core_test_panic(out_err: *mut HgBuffer) -> u32 {
    // SAFETY: forwarded caller contract.
    unsafe {
        sync_call(out_err, || {
            panic!("hourglass_core_test_panic: deliberate panic in a synchronous export")
        })
    }
}

/// Diagnostic: spawns a future on the runtime that panics; the callback receives
/// `STATUS_PANIC`.
///
/// # Safety
/// See the module contract.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hourglass_core_test_panic_async(
    runtime: u64,
    user_data: *mut c_void,
    cb: HgCallback,
) {
    async_call(user_data, cb, || {
        let rt = RUNTIMES.get(runtime)?;
        Ok((rt, async {
            tokio::task::yield_now().await;
            if std::hint::black_box(true) {
                panic!("hourglass_core_test_panic_async: deliberate panic in a spawned future");
            }
            Ok((0, Vec::new()))
        }))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;

    fn take(buf: HgBuffer) -> String {
        let s = if buf.data.is_null() {
            String::new()
        } else {
            // SAFETY: filled by the export under test.
            String::from_utf8_lossy(unsafe { std::slice::from_raw_parts(buf.data, buf.len) })
                .into_owned()
        };
        // SAFETY: buffer from this instance.
        unsafe { hourglass_core_buffer_free(buf) };
        s
    }

    fn new_runtime() -> u64 {
        let cfg = RuntimeConfig::default().encode_to_vec();
        let mut h = 0;
        let mut err = HgBuffer::EMPTY;
        // SAFETY: valid input and out pointers.
        let st = unsafe {
            hourglass_core_runtime_new(
                HgBytes::from_slice(&cfg),
                None,
                std::ptr::null_mut(),
                &mut h,
                &mut err,
            )
        };
        assert_eq!(st, abi::STATUS_OK, "{}", take(err));
        h
    }

    #[test]
    fn malformed_runtime_config_is_malformed() {
        let mut h = 0;
        let mut err = HgBuffer::EMPTY;
        let bad = [0x0a, 0xff, 0xff];
        // SAFETY: valid input and out pointers.
        let st = unsafe {
            hourglass_core_runtime_new(
                HgBytes::from_slice(&bad),
                None,
                std::ptr::null_mut(),
                &mut h,
                &mut err,
            )
        };
        assert_eq!(st, abi::STATUS_MALFORMED);
        assert!(take(err).contains("RuntimeConfig"));
        assert_eq!(h, 0);
    }

    #[test]
    fn freed_runtime_handle_is_invalid_and_double_free_fails() {
        let h = new_runtime();
        let mut err = HgBuffer::EMPTY;
        // SAFETY: out pointer to a local.
        assert_eq!(
            unsafe { hourglass_core_runtime_free(h, &mut err) },
            abi::STATUS_OK
        );
        // SAFETY: as above.
        let st = unsafe { hourglass_core_runtime_free(h, &mut err) };
        assert_eq!(st, abi::STATUS_INVALID_HANDLE);
        assert!(take(err).contains("freed"));
        let cfg = WorkerConfigProto {
            namespace: "default".into(),
            task_queue: "tq".into(),
            ..Default::default()
        }
        .encode_to_vec();
        let mut w = 0;
        let mut err = HgBuffer::EMPTY;
        // SAFETY: valid input and out pointers.
        let st =
            unsafe { hourglass_core_replayer_new(h, HgBytes::from_slice(&cfg), &mut w, &mut err) };
        assert_eq!(st, abi::STATUS_INVALID_HANDLE);
        take(err);
    }

    #[test]
    fn worker_new_with_a_runtime_handle_is_rejected() {
        let rt = new_runtime();
        let mut w = 0;
        let mut err = HgBuffer::EMPTY;
        // SAFETY: valid input and out pointers.
        let st =
            unsafe { hourglass_core_worker_new(rt, HgBytes::from_slice(&[]), &mut w, &mut err) };
        assert_eq!(st, abi::STATUS_INVALID_HANDLE);
        assert!(take(err).contains("not a client handle"));
        // SAFETY: null out_err is allowed.
        unsafe { hourglass_core_runtime_free(rt, std::ptr::null_mut()) };
    }

    #[test]
    fn null_input_pointer_with_length_is_invalid_argument() {
        let mut h = 0;
        let mut err = HgBuffer::EMPTY;
        let bytes = HgBytes {
            data: std::ptr::null(),
            len: 10,
        };
        // SAFETY: the export checks for null before reading.
        let st = unsafe {
            hourglass_core_runtime_new(bytes, None, std::ptr::null_mut(), &mut h, &mut err)
        };
        assert_eq!(st, abi::STATUS_INVALID_ARGUMENT);
        assert!(take(err).contains("null pointer"));
    }

    #[test]
    fn empty_replayer_shuts_down_and_finalizes() {
        use std::sync::mpsc;
        unsafe extern "C" fn cb(ud: *mut c_void, status: u32, _h: u64, buf: HgBuffer) {
            // SAFETY: `ud` is the boxed sender leaked below, used once.
            let tx = unsafe { Box::from_raw(ud as *mut mpsc::Sender<u32>) };
            // SAFETY: buffer from this instance.
            unsafe { hourglass_core_buffer_free(buf) };
            let _ = tx.send(status);
        }
        fn call(f: impl FnOnce(*mut c_void)) -> u32 {
            let (tx, rx) = mpsc::channel();
            f(Box::into_raw(Box::new(tx)) as *mut c_void);
            rx.recv_timeout(std::time::Duration::from_secs(20)).unwrap()
        }
        let rt = new_runtime();
        let cfg = WorkerConfigProto {
            namespace: "default".into(),
            task_queue: "tq".into(),
            ..Default::default()
        }
        .encode_to_vec();
        let mut w = 0;
        // SAFETY: valid input and out pointers.
        let st = unsafe {
            hourglass_core_replayer_new(rt, HgBytes::from_slice(&cfg), &mut w, std::ptr::null_mut())
        };
        assert_eq!(st, abi::STATUS_OK);
        // SAFETY: valid handle, null out_err.
        assert_eq!(
            unsafe { hourglass_core_replayer_finish(w, std::ptr::null_mut()) },
            abi::STATUS_OK
        );
        // SAFETY: callback and user data per the contract.
        let st = call(|ud| unsafe { hourglass_core_worker_poll_workflow_activation(w, ud, cb) });
        assert_eq!(st, abi::STATUS_SHUT_DOWN);
        // SAFETY: as above.
        let st = call(|ud| unsafe { hourglass_core_worker_finalize_shutdown(w, ud, cb) });
        assert_eq!(st, abi::STATUS_OK);
        // SAFETY: as above.
        let st = call(|ud| unsafe { hourglass_core_worker_poll_activity_task(w, ud, cb) });
        assert_eq!(st, abi::STATUS_SHUT_DOWN);
        // SAFETY: null out_err.
        unsafe {
            hourglass_core_worker_free(w, std::ptr::null_mut());
            hourglass_core_runtime_free(rt, std::ptr::null_mut());
        }
        // The runtime free above was the last table reference to that runtime.
        assert!(RUNTIMES.get(rt).is_err());
    }
}
