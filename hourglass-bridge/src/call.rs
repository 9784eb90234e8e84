//! Turning C ABI calls into Rust results: sync calls with an error buffer, and async calls
//! whose callback completes a oneshot channel (the sender travels in `user_data`).

use crate::error::BridgeError;
use hourglass_proto::abi::{self, BufferFreeFn, HgBuffer, HgCallback};
use std::ffi::c_void;
use tokio::sync::oneshot;

/// Copies the bytes of a core buffer and frees it.
///
/// # Safety
/// `buf` must come from the library whose `free` is given, and not be freed yet.
unsafe fn take_message(buf: HgBuffer, free: BufferFreeFn) -> String {
    let msg = if buf.data.is_null() {
        String::new()
    } else {
        // SAFETY: the core guarantees `len` initialised bytes at `data`.
        String::from_utf8_lossy(unsafe { std::slice::from_raw_parts(buf.data, buf.len) })
            .into_owned()
    };
    // SAFETY: the buffer came from this library and is freed exactly once, here.
    unsafe { free(buf) };
    msg
}

/// Runs a synchronous ABI call that reports errors through an `out_err` buffer.
pub(crate) fn sync(
    free: BufferFreeFn,
    f: impl FnOnce(*mut HgBuffer) -> u32,
) -> Result<(), BridgeError> {
    let mut err = HgBuffer::EMPTY;
    let status = f(&mut err);
    if status == abi::STATUS_OK {
        // A successful call leaves `err` empty, but free defensively.
        // SAFETY: `err` is either still EMPTY (no-op) or came from the core.
        unsafe { take_message(err, free) };
        Ok(())
    } else {
        // SAFETY: the core filled `err` for this failed call.
        let msg = unsafe { take_message(err, free) };
        Err(BridgeError::from_status(status, msg))
    }
}

/// Decodes the success payload of an async call.
pub(crate) type Decode<T> = fn(u64, &[u8]) -> Result<T, BridgeError>;

struct Pending<T> {
    tx: oneshot::Sender<Result<T, BridgeError>>,
    free: BufferFreeFn,
    decode: Decode<T>,
}

unsafe extern "C" fn trampoline<T>(
    user_data: *mut c_void,
    status: u32,
    handle: u64,
    buf: HgBuffer,
) {
    // SAFETY: `user_data` is the `Box<Pending<T>>` leaked by `call_async` for exactly this
    // callback, which the core invokes exactly once.
    let pending = unsafe { Box::from_raw(user_data as *mut Pending<T>) };
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        if status == abi::STATUS_OK {
            let bytes: &[u8] = if buf.data.is_null() {
                &[]
            } else {
                // SAFETY: the core guarantees `len` initialised bytes at `data` until freed.
                unsafe { std::slice::from_raw_parts(buf.data, buf.len) }
            };
            (pending.decode)(handle, bytes)
        } else {
            let bytes: &[u8] = if buf.data.is_null() {
                &[]
            } else {
                // SAFETY: as above.
                unsafe { std::slice::from_raw_parts(buf.data, buf.len) }
            };
            Err(BridgeError::from_status(
                status,
                String::from_utf8_lossy(bytes).into_owned(),
            ))
        }
    }))
    .unwrap_or_else(|_| {
        Err(BridgeError::Panic(
            "decoding the core's result panicked".into(),
        ))
    });
    // SAFETY: the buffer belongs to the library whose free function travelled with the call.
    unsafe { (pending.free)(buf) };
    // The receiver may be gone (the caller dropped the future); the result is then discarded.
    let _ = pending.tx.send(result);
}

/// Starts an async ABI call and awaits its callback. `start` receives the `user_data` and
/// callback to pass to the core function.
pub(crate) async fn call_async<T: Send + 'static>(
    free: BufferFreeFn,
    decode: Decode<T>,
    start: impl FnOnce(*mut c_void, HgCallback),
) -> Result<T, BridgeError> {
    // The raw pointer stays inside this block so the returned future is `Send`.
    let rx = {
        let (tx, rx) = oneshot::channel();
        let pending = Box::into_raw(Box::new(Pending { tx, free, decode }));
        start(pending as *mut c_void, trampoline::<T>);
        rx
    };
    match rx.await {
        Ok(r) => r,
        Err(_) => Err(BridgeError::Cancelled(
            "the core dropped the operation without reporting".into(),
        )),
    }
}

/// Decoder for calls whose success carries nothing.
pub(crate) fn decode_unit(_: u64, _: &[u8]) -> Result<(), BridgeError> {
    Ok(())
}

/// Decoder for calls whose success carries a new handle.
pub(crate) fn decode_handle(h: u64, _: &[u8]) -> Result<u64, BridgeError> {
    Ok(h)
}
