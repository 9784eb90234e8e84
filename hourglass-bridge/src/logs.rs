//! Re-emitting the core's forwarded log records into the host's `tracing`.
//!
//! The dispatcher that is current where a runtime is created (usually the global subscriber)
//! is captured and passed to the core as the log callback's `user_data`. The callback only
//! queues the record; one host thread ("hourglass-core-logs") emits queued records into their
//! captured dispatcher. Emitting synchronously inside the callback is not possible in linked
//! mode: the callback runs while the core's own `tracing` subscriber is dispatching (same
//! `tracing` copy), and re-entering the dispatcher state there panics.

use hourglass_proto::abi::HgBytes;
use std::ffi::c_void;
use std::sync::OnceLock;
use std::sync::mpsc;

struct Record {
    dispatch: &'static tracing::Dispatch,
    level: u32,
    target: String,
    message: String,
    fields: String,
}

static QUEUE: OnceLock<Option<mpsc::Sender<Record>>> = OnceLock::new();

fn queue() -> Option<&'static mpsc::Sender<Record>> {
    QUEUE
        .get_or_init(|| {
            let (tx, rx) = mpsc::channel::<Record>();
            let spawned = std::thread::Builder::new()
                .name("hourglass-core-logs".into())
                .spawn(move || {
                    for r in rx {
                        emit(r);
                    }
                });
            match spawned {
                Ok(_) => Some(tx),
                Err(e) => {
                    tracing::error!(error = %e, "cannot start the core log forwarding thread; core logs are dropped");
                    None
                }
            }
        })
        .as_ref()
}

fn emit(r: Record) {
    let Record {
        dispatch,
        level,
        target,
        message,
        fields,
    } = r;
    tracing::dispatcher::with_default(dispatch, || match level {
        1 => {
            tracing::error!(target: "hourglass_core", core_target = %target, fields = %fields, "{message}")
        }
        2 => {
            tracing::warn!(target: "hourglass_core", core_target = %target, fields = %fields, "{message}")
        }
        3 => {
            tracing::info!(target: "hourglass_core", core_target = %target, fields = %fields, "{message}")
        }
        4 => {
            tracing::debug!(target: "hourglass_core", core_target = %target, fields = %fields, "{message}")
        }
        _ => {
            tracing::trace!(target: "hourglass_core", core_target = %target, fields = %fields, "{message}")
        }
    });
}

fn text(b: HgBytes) -> String {
    if b.data.is_null() || b.len == 0 {
        return String::new();
    }
    // SAFETY: the core passes views valid for the duration of the callback.
    String::from_utf8_lossy(unsafe { std::slice::from_raw_parts(b.data, b.len) }).into_owned()
}

/// Captures the caller's current dispatcher as log callback user data. The allocation (one
/// `Dispatch`, an `Arc`) is intentionally never freed: the core may call back until its
/// runtime has fully stopped, which happens asynchronously after the handle is freed.
pub(crate) fn capture_dispatch() -> *mut c_void {
    let d = tracing::dispatcher::get_default(|d| d.clone());
    Box::into_raw(Box::new(d)) as *mut c_void
}

/// The log callback handed to `hourglass_core_runtime_new`. Events are emitted with target
/// `hourglass_core`; the core's own target is the `core_target` field, its fields (JSON) the
/// `fields` field.
pub(crate) unsafe extern "C" fn forward_log(
    user_data: *mut c_void,
    level: u32,
    target: HgBytes,
    message: HgBytes,
    fields_json: HgBytes,
) {
    if user_data.is_null() {
        return;
    }
    let _ = std::panic::catch_unwind(|| {
        // SAFETY: `user_data` is the leaked `Box<Dispatch>` from `capture_dispatch`, never
        // freed, so a `'static` reference is valid.
        let dispatch: &'static tracing::Dispatch =
            unsafe { &*(user_data as *const tracing::Dispatch) };
        if let Some(q) = queue() {
            let _ = q.send(Record {
                dispatch,
                level,
                target: text(target),
                message: text(message),
                fields: text(fields_json),
            });
        }
    });
}
