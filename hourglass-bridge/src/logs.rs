//! Re-emitting the core's forwarded log records into the host's `tracing`.

use hourglass_proto::abi::HgBytes;
use std::ffi::c_void;

fn text(b: HgBytes) -> String {
    if b.data.is_null() || b.len == 0 {
        return String::new();
    }
    // SAFETY: the core passes views valid for the duration of the callback.
    String::from_utf8_lossy(unsafe { std::slice::from_raw_parts(b.data, b.len) }).into_owned()
}

/// The log callback handed to `hourglass_core_runtime_new`. Events are emitted with target
/// `hourglass_core`; the core's own target is the `core_target` field, its fields (JSON) the
/// `fields` field.
pub(crate) unsafe extern "C" fn forward_log(
    _user_data: *mut c_void,
    level: u32,
    target: HgBytes,
    message: HgBytes,
    fields_json: HgBytes,
) {
    let _ = std::panic::catch_unwind(|| {
        let target = text(target);
        let message = text(message);
        let fields = text(fields_json);
        match level {
            1 => tracing::error!(target: "hourglass_core", core_target = %target, fields = %fields, "{message}"),
            2 => tracing::warn!(target: "hourglass_core", core_target = %target, fields = %fields, "{message}"),
            3 => tracing::info!(target: "hourglass_core", core_target = %target, fields = %fields, "{message}"),
            4 => tracing::debug!(target: "hourglass_core", core_target = %target, fields = %fields, "{message}"),
            _ => tracing::trace!(target: "hourglass_core", core_target = %target, fields = %fields, "{message}"),
        }
    });
}
