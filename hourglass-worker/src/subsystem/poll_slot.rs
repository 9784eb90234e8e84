//! One core poll of one kind at a time, surviving its caller (see [`PollSlot`]).

use hourglass_bridge::BridgeError;

/// One core poll of one kind at a time. The poll in progress lives in the slot, not in its
/// caller: a caller dropped mid-poll (a killed poll loop) leaves it there, and the next caller
/// resumes the same poll, so its result is not lost. A panic inside the poll is returned as
/// [`BridgeError::Panic`].
pub(super) struct PollSlot<T> {
    inflight: tokio::sync::Mutex<Option<InFlightPoll<T>>>,
}

type InFlightPoll<T> = futures::future::BoxFuture<'static, Result<T, BridgeError>>;

impl<T: Send + 'static> PollSlot<T> {
    pub(super) fn new() -> Self {
        Self {
            inflight: tokio::sync::Mutex::new(None),
        }
    }

    pub(super) async fn poll<F, Fut>(&self, start: F) -> Result<T, BridgeError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, BridgeError>> + Send + 'static,
    {
        use futures::FutureExt;
        let mut slot = self.inflight.lock().await;
        let poll = slot.get_or_insert_with(|| {
            std::panic::AssertUnwindSafe(start())
                .catch_unwind()
                .map(|r| {
                    r.unwrap_or_else(|p| {
                        let msg = p
                            .downcast_ref::<&str>()
                            .map(|s| s.to_string())
                            .or_else(|| p.downcast_ref::<String>().cloned())
                            .unwrap_or_else(|| "panic".into());
                        Err(BridgeError::Panic(format!("core poll task failed: {msg}")))
                    })
                })
                .boxed()
        });
        // If this future is dropped here, the poll stays in the slot for the next caller.
        let result = poll.as_mut().await;
        *slot = None;
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::time::Duration;

    /// A caller dropped mid-poll leaves the poll in the slot: the next caller gets its result,
    /// and no second poll is started.
    #[tokio::test(start_paused = true)]
    async fn a_dropped_caller_leaves_the_poll_for_the_next() {
        let slot = PollSlot::<u32>::new();
        let started = Arc::new(AtomicU32::new(0));
        let (tx, rx) = tokio::sync::oneshot::channel::<u32>();
        let start = {
            let started = started.clone();
            move || {
                started.fetch_add(1, Ordering::SeqCst);
                async move { rx.await.map_err(|_| BridgeError::Panic("closed".into())) }
            }
        };
        let first = tokio::time::timeout(Duration::from_millis(10), slot.poll(start)).await;
        assert!(first.is_err(), "nothing to return yet");
        tx.send(7).unwrap();
        let second = slot
            .poll(|| async { Err::<u32, _>(BridgeError::Panic("must not start".into())) })
            .await;
        assert_eq!(second.unwrap(), 7);
        assert_eq!(started.load(Ordering::SeqCst), 1);
        // The slot is empty again: the next caller starts a new poll.
        assert_eq!(slot.poll(|| async { Ok(8) }).await.unwrap(), 8);
    }

    /// A panic inside the poll is an error for the caller, not a crash of the caller.
    #[tokio::test]
    async fn a_panicking_poll_is_an_error() {
        let slot = PollSlot::<u32>::new();
        let err = slot
            .poll(|| async { panic!("core exploded") })
            .await
            .unwrap_err();
        assert!(
            matches!(&err, BridgeError::Panic(m) if m.contains("core exploded")),
            "{err}"
        );
        assert_eq!(slot.poll(|| async { Ok(1) }).await.unwrap(), 1);
    }
}
