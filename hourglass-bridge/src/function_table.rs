//! The table of C ABI entry points, filled from a loaded library (dynamic mode) or from the
//! compiled-in core (linked mode). Everything above this module goes through the table, so
//! it cannot tell the two modes apart.

use crate::error::BridgeError;
use hourglass_proto::abi::{self, *};
use std::path::Path;

/// Every entry point of the core's C ABI.
#[derive(Clone, Copy, Debug)]
pub struct FunctionTable {
    /// `hourglass_core_abi_version`
    pub abi_version: AbiVersionFn,
    /// `hourglass_core_instance_id`
    pub instance_id: InstanceIdFn,
    /// `hourglass_core_buffer_free`
    pub buffer_free: BufferFreeFn,
    /// `hourglass_core_runtime_new`
    pub runtime_new: RuntimeNewFn,
    /// `hourglass_core_runtime_free`
    pub runtime_free: HandleFreeFn,
    /// `hourglass_core_client_connect`
    pub client_connect: ClientConnectFn,
    /// `hourglass_core_client_free`
    pub client_free: HandleFreeFn,
    /// `hourglass_core_worker_new`
    pub worker_new: WorkerNewFn,
    /// `hourglass_core_worker_validate`
    pub worker_validate: HandleAsyncFn,
    /// `hourglass_core_worker_free`
    pub worker_free: HandleFreeFn,
    /// `hourglass_core_worker_replace_client`
    pub worker_replace_client: WorkerReplaceClientFn,
    /// `hourglass_core_worker_poll_workflow_activation`
    pub worker_poll_workflow_activation: HandleAsyncFn,
    /// `hourglass_core_worker_complete_workflow_activation`
    pub worker_complete_workflow_activation: HandleBytesAsyncFn,
    /// `hourglass_core_worker_poll_activity_task`
    pub worker_poll_activity_task: HandleAsyncFn,
    /// `hourglass_core_worker_complete_activity_task`
    pub worker_complete_activity_task: HandleBytesAsyncFn,
    /// `hourglass_core_worker_record_activity_heartbeat`
    pub worker_record_activity_heartbeat: HandleBytesSyncFn,
    /// `hourglass_core_worker_request_workflow_eviction`
    pub worker_request_workflow_eviction: HandleBytesSyncFn,
    /// `hourglass_core_worker_announce_shutdown`
    pub worker_announce_shutdown: HandleAsyncFn,
    /// `hourglass_core_worker_initiate_shutdown`
    pub worker_initiate_shutdown: HandleFreeFn,
    /// `hourglass_core_worker_finalize_shutdown`
    pub worker_finalize_shutdown: HandleAsyncFn,
    /// `hourglass_core_replayer_new`
    pub replayer_new: ReplayerNewFn,
    /// `hourglass_core_replayer_push`
    pub replayer_push: HandleBytesSyncFn,
    /// `hourglass_core_replayer_finish`
    pub replayer_finish: HandleFreeFn,
    /// `hourglass_core_test_panic`
    pub test_panic: TestPanicFn,
    /// `hourglass_core_test_panic_async`
    pub test_panic_async: HandleAsyncFn,
}

impl FunctionTable {
    /// Resolves every symbol from `lib`, checking the ABI version first.
    ///
    /// The returned function pointers are valid only while `lib` stays loaded; the caller
    /// (the loader) keeps every library it resolved from loaded for the life of the process.
    pub fn resolve(lib: &libloading::Library, path: &Path) -> Result<Self, BridgeError> {
        macro_rules! sym {
            ($name:literal, $ty:ty) => {{
                // SAFETY: `$ty` is the exact signature `hourglass-core` exports under `$name`
                // (both sides use the shared `hourglass_proto::abi` types, and the ABI version
                // was checked before any other symbol is resolved).
                match unsafe { lib.get::<$ty>(concat!($name, "\0").as_bytes()) } {
                    Ok(s) => *s,
                    Err(_) => {
                        return Err(BridgeError::MissingSymbol {
                            path: path.to_owned(),
                            symbol: $name,
                        });
                    }
                }
            }};
        }
        let abi_version = sym!("hourglass_core_abi_version", AbiVersionFn);
        // SAFETY: a no-argument function returning a u32, per the ABI.
        let found = unsafe { abi_version() };
        if found != abi::ABI_VERSION {
            return Err(BridgeError::AbiMismatch {
                path: path.to_owned(),
                expected: abi::ABI_VERSION,
                found,
            });
        }
        Ok(Self {
            abi_version,
            instance_id: sym!("hourglass_core_instance_id", InstanceIdFn),
            buffer_free: sym!("hourglass_core_buffer_free", BufferFreeFn),
            runtime_new: sym!("hourglass_core_runtime_new", RuntimeNewFn),
            runtime_free: sym!("hourglass_core_runtime_free", HandleFreeFn),
            client_connect: sym!("hourglass_core_client_connect", ClientConnectFn),
            client_free: sym!("hourglass_core_client_free", HandleFreeFn),
            worker_new: sym!("hourglass_core_worker_new", WorkerNewFn),
            worker_validate: sym!("hourglass_core_worker_validate", HandleAsyncFn),
            worker_free: sym!("hourglass_core_worker_free", HandleFreeFn),
            worker_replace_client: sym!(
                "hourglass_core_worker_replace_client",
                WorkerReplaceClientFn
            ),
            worker_poll_workflow_activation: sym!(
                "hourglass_core_worker_poll_workflow_activation",
                HandleAsyncFn
            ),
            worker_complete_workflow_activation: sym!(
                "hourglass_core_worker_complete_workflow_activation",
                HandleBytesAsyncFn
            ),
            worker_poll_activity_task: sym!(
                "hourglass_core_worker_poll_activity_task",
                HandleAsyncFn
            ),
            worker_complete_activity_task: sym!(
                "hourglass_core_worker_complete_activity_task",
                HandleBytesAsyncFn
            ),
            worker_record_activity_heartbeat: sym!(
                "hourglass_core_worker_record_activity_heartbeat",
                HandleBytesSyncFn
            ),
            worker_request_workflow_eviction: sym!(
                "hourglass_core_worker_request_workflow_eviction",
                HandleBytesSyncFn
            ),
            worker_announce_shutdown: sym!(
                "hourglass_core_worker_announce_shutdown",
                HandleAsyncFn
            ),
            worker_initiate_shutdown: sym!("hourglass_core_worker_initiate_shutdown", HandleFreeFn),
            worker_finalize_shutdown: sym!(
                "hourglass_core_worker_finalize_shutdown",
                HandleAsyncFn
            ),
            replayer_new: sym!("hourglass_core_replayer_new", ReplayerNewFn),
            replayer_push: sym!("hourglass_core_replayer_push", HandleBytesSyncFn),
            replayer_finish: sym!("hourglass_core_replayer_finish", HandleFreeFn),
            test_panic: sym!("hourglass_core_test_panic", TestPanicFn),
            test_panic_async: sym!("hourglass_core_test_panic_async", HandleAsyncFn),
        })
    }

    /// The table of the compiled-in core (the `linked` feature).
    #[cfg(feature = "linked")]
    pub fn linked() -> Self {
        use hourglass_core::exports as c;
        Self {
            abi_version: c::hourglass_core_abi_version,
            instance_id: c::hourglass_core_instance_id,
            buffer_free: c::hourglass_core_buffer_free,
            runtime_new: c::hourglass_core_runtime_new,
            runtime_free: c::hourglass_core_runtime_free,
            client_connect: c::hourglass_core_client_connect,
            client_free: c::hourglass_core_client_free,
            worker_new: c::hourglass_core_worker_new,
            worker_validate: c::hourglass_core_worker_validate,
            worker_free: c::hourglass_core_worker_free,
            worker_replace_client: c::hourglass_core_worker_replace_client,
            worker_poll_workflow_activation: c::hourglass_core_worker_poll_workflow_activation,
            worker_complete_workflow_activation:
                c::hourglass_core_worker_complete_workflow_activation,
            worker_poll_activity_task: c::hourglass_core_worker_poll_activity_task,
            worker_complete_activity_task: c::hourglass_core_worker_complete_activity_task,
            worker_record_activity_heartbeat: c::hourglass_core_worker_record_activity_heartbeat,
            worker_request_workflow_eviction: c::hourglass_core_worker_request_workflow_eviction,
            worker_announce_shutdown: c::hourglass_core_worker_announce_shutdown,
            worker_initiate_shutdown: c::hourglass_core_worker_initiate_shutdown,
            worker_finalize_shutdown: c::hourglass_core_worker_finalize_shutdown,
            replayer_new: c::hourglass_core_replayer_new,
            replayer_push: c::hourglass_core_replayer_push,
            replayer_finish: c::hourglass_core_replayer_finish,
            test_panic: c::hourglass_core_test_panic,
            test_panic_async: c::hourglass_core_test_panic_async,
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn symbol_list_matches_the_table() {
        // Every ABI symbol is resolved by `resolve` (the list is the fixture generator's
        // source of truth; keep them in sync).
        let src = include_str!("function_table.rs");
        for s in hourglass_proto::abi::SYMBOLS {
            assert!(
                src.contains(&format!("sym!(\"{s}\"")) || src.contains(&format!("\"{s}\",")),
                "{s}"
            );
        }
    }
}
