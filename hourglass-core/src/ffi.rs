//! Marshalling helpers for the C ABI: borrowed input bytes, core-owned output buffers,
//! panic-contained synchronous calls and exactly-once completion callbacks.

use crate::error::CoreError;
use crate::runtime::RuntimeEntry;
use futures::FutureExt;
use hourglass_proto::abi::{self, HgBuffer, HgBytes, HgCallback};
use std::ffi::c_void;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

/// Views borrowed input bytes.
///
/// # Safety
/// `b.data` must point to `b.len` readable bytes that stay valid for `'a` (or be null/any
/// when `b.len` is 0).
pub unsafe fn input<'a>(b: HgBytes, what: &str) -> Result<&'a [u8], CoreError> {
    if b.len == 0 {
        return Ok(&[]);
    }
    if b.data.is_null() {
        return Err(CoreError::InvalidArgument(format!(
            "{what}: null pointer with length {}",
            b.len
        )));
    }
    // SAFETY: non-null, and the caller guarantees `len` readable bytes for `'a`.
    Ok(unsafe { std::slice::from_raw_parts(b.data, b.len) })
}

/// Hands a `Vec` to the caller as a core-owned buffer.
pub fn to_buffer(v: Vec<u8>) -> HgBuffer {
    if v.capacity() == 0 {
        return HgBuffer::EMPTY;
    }
    let mut v = std::mem::ManuallyDrop::new(v);
    HgBuffer {
        data: v.as_mut_ptr(),
        len: v.len(),
        cap: v.capacity(),
    }
}

/// Takes back a buffer produced by [`to_buffer`] and drops it.
///
/// # Safety
/// `buf` must come from [`to_buffer`] of this loaded instance and not have been freed.
pub unsafe fn free_buffer(buf: HgBuffer) {
    if buf.data.is_null() || buf.cap == 0 {
        return;
    }
    // SAFETY: the caller guarantees the triple came from a leaked `Vec<u8>` of this instance.
    drop(unsafe { Vec::from_raw_parts(buf.data, buf.len, buf.cap) });
}

/// Writes `v` to `out` if `out` is non-null.
///
/// # Safety
/// `out` must be null or valid for writes of one `HgBuffer`.
pub unsafe fn write_out(out: *mut HgBuffer, v: Vec<u8>) {
    if !out.is_null() {
        // SAFETY: non-null and valid for writes per the caller's contract.
        unsafe { out.write(to_buffer(v)) };
    }
}

/// Writes `v` to `out` if `out` is non-null.
///
/// # Safety
/// `out` must be null or valid for writes of one `u64`.
pub unsafe fn write_handle(out: *mut u64, v: u64) {
    if !out.is_null() {
        // SAFETY: non-null and valid for writes per the caller's contract.
        unsafe { out.write(v) };
    }
}

/// Runs a synchronous export body with panics contained. On error the message goes to
/// `out_err` (when non-null) and the error's status code is returned.
///
/// # Safety
/// `out_err` must be null or valid for writes of one `HgBuffer`.
pub unsafe fn sync_call(
    out_err: *mut HgBuffer,
    body: impl FnOnce() -> Result<(), CoreError>,
) -> u32 {
    let result = match catch_unwind(AssertUnwindSafe(body)) {
        Ok(r) => r,
        Err(payload) => Err(CoreError::from_panic(payload)),
    };
    match result {
        Ok(()) => abi::STATUS_OK,
        Err(e) => {
            let status = e.status();
            if !matches!(e, CoreError::ShutDown) {
                tracing::debug!(error = %e, "hourglass-core call failed");
            }
            // SAFETY: forwarded caller contract.
            unsafe { write_out(out_err, e.to_string().into_bytes()) };
            status
        }
    }
}

#[derive(Clone, Copy)]
struct UserData(*mut c_void);
// SAFETY: the pointer is opaque to the core; it is only handed back to the caller's callback,
// which by contract accepts it on any thread.
unsafe impl Send for UserData {}

/// Result of an asynchronous operation: a handle (0 if none) and result bytes.
pub type AsyncOutput = (u64, Vec<u8>);

/// An exactly-once completion callback. Dropping it without [`Completion::finish`] (for
/// example when the runtime shuts down under a pending future) reports
/// [`CoreError::Cancelled`], so a caller never waits forever.
pub struct Completion {
    cb: HgCallback,
    user_data: UserData,
    done: bool,
}

impl Completion {
    /// Wraps a caller's callback.
    pub fn new(cb: HgCallback, user_data: *mut c_void) -> Self {
        Self {
            cb,
            user_data: UserData(user_data),
            done: false,
        }
    }

    /// Reports the outcome to the caller (once).
    pub fn finish(mut self, result: Result<AsyncOutput, CoreError>) {
        self.fire(result);
    }

    fn fire(&mut self, result: Result<AsyncOutput, CoreError>) {
        if self.done {
            return;
        }
        self.done = true;
        let (status, handle, bytes) = match result {
            Ok((h, bytes)) => (abi::STATUS_OK, h, bytes),
            Err(e) => (e.status(), 0, e.to_string().into_bytes()),
        };
        // SAFETY: the caller supplied `cb` and `user_data` for exactly this single call.
        unsafe { (self.cb)(self.user_data.0, status, handle, to_buffer(bytes)) };
    }
}

impl Drop for Completion {
    fn drop(&mut self) {
        if !self.done {
            self.fire(Err(CoreError::Cancelled(
                "the operation was dropped before completing (its runtime shut down)".into(),
            )));
        }
    }
}

/// Runs the body of an asynchronous export: `setup` runs synchronously (panic-contained) and
/// yields the runtime and the future to run; the future is polled once on the calling thread
/// (in the runtime's context) and, if not ready, spawned on the core's runtime. It runs
/// panic-contained and its outcome goes to the callback exactly once — possibly before this
/// function returns (setup errors, immediately ready results).
pub fn async_call<F>(
    user_data: *mut c_void,
    cb: HgCallback,
    setup: impl FnOnce() -> Result<(Arc<RuntimeEntry>, F), CoreError>,
) where
    F: Future<Output = Result<AsyncOutput, CoreError>> + Send + 'static,
{
    let completion = Completion::new(cb, user_data);
    let setup = match catch_unwind(AssertUnwindSafe(setup)) {
        Ok(r) => r,
        Err(payload) => Err(CoreError::from_panic(payload)),
    };
    match setup {
        Err(e) => completion.finish(Err(e)),
        Ok((runtime, fut)) => {
            let mut task = Box::pin(async move {
                match AssertUnwindSafe(fut).catch_unwind().await {
                    Ok(r) => r,
                    Err(payload) => Err(CoreError::from_panic(payload)),
                }
            });
            // First poll inline on the calling thread, inside the runtime's context: the
            // request reaches the core without waiting for a runtime thread to wake up, and
            // operations that are ready at once complete without any thread hop. Only a
            // pending future is spawned; its task re-polls it, registering the real waker
            // (futures must wake the most recently registered waker, so the no-op waker of
            // this first poll loses nothing).
            let first = {
                let _scope = runtime.enter();
                let mut cx = Context::from_waker(Waker::noop());
                task.as_mut().poll(&mut cx)
            };
            match first {
                Poll::Ready(result) => completion.finish(result),
                Poll::Pending => {
                    let handle = runtime.tokio_handle().clone();
                    handle.spawn(async move {
                        let result = task.await;
                        completion.finish(result);
                        // The runtime entry's Drop defers to a thread, so releasing what may be
                        // the last reference here (on a runtime thread) is fine.
                        drop(runtime);
                    });
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    static SEEN: Mutex<Vec<(u32, u64, Vec<u8>)>> = Mutex::new(Vec::new());

    unsafe extern "C" fn record(_ud: *mut c_void, status: u32, handle: u64, buf: HgBuffer) {
        let bytes = if buf.data.is_null() {
            Vec::new()
        } else {
            // SAFETY: test callback; buffer produced by `to_buffer`.
            unsafe { std::slice::from_raw_parts(buf.data, buf.len).to_vec() }
        };
        // SAFETY: buffer came from this instance.
        unsafe { free_buffer(buf) };
        SEEN.lock().unwrap().push((status, handle, bytes));
    }

    #[test]
    fn completion_fires_once_and_on_drop() {
        SEEN.lock().unwrap().clear();
        Completion::new(record, std::ptr::null_mut()).finish(Ok((5, b"ok".to_vec())));
        drop(Completion::new(record, std::ptr::null_mut()));
        let seen = SEEN.lock().unwrap().clone();
        assert_eq!(seen.len(), 2);
        assert_eq!(seen[0], (abi::STATUS_OK, 5, b"ok".to_vec()));
        assert_eq!(seen[1].0, abi::STATUS_CANCELLED);
    }

    #[test]
    fn sync_call_contains_panics_and_reports_errors() {
        let mut out = HgBuffer::EMPTY;
        // SAFETY: `out` is a valid local.
        let status = unsafe { sync_call(&mut out, || panic!("kaboom")) };
        assert_eq!(status, abi::STATUS_PANIC);
        // SAFETY: filled by sync_call.
        let msg = unsafe { std::slice::from_raw_parts(out.data, out.len).to_vec() };
        assert!(String::from_utf8(msg).unwrap().contains("kaboom"));
        // SAFETY: buffer from this instance.
        unsafe { free_buffer(out) };
        // SAFETY: null out_err is allowed.
        let status = unsafe {
            sync_call(std::ptr::null_mut(), || {
                Err(CoreError::InvalidArgument("x".into()))
            })
        };
        assert_eq!(status, abi::STATUS_INVALID_ARGUMENT);
    }

    #[test]
    fn null_input_with_length_is_rejected() {
        let b = HgBytes {
            data: std::ptr::null(),
            len: 3,
        };
        // SAFETY: the function checks null before reading.
        assert!(unsafe { input(b, "cfg") }.is_err());
        let empty = HgBytes {
            data: std::ptr::null(),
            len: 0,
        };
        // SAFETY: len 0 is never read.
        assert!(unsafe { input(empty, "cfg") }.unwrap().is_empty());
    }
}
