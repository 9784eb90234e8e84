//! Group commit: a writer thread that writes every queued batch in one transaction and publishes its progress.
use crate::prelude::*;

/// Progress of the writer thread: every batch up to `done` is committed; `failed` is set
/// (for good) when a write failed, after which the server stops acknowledging changes.
#[derive(Debug, Clone, Default)]
pub(crate) struct Durable {
    pub(crate) done: u64,
    pub(crate) failed: Option<String>,
}

/// Group commit: writes every queued batch in one transaction, then publishes progress.
/// RPCs answer only once their batch is durable, so a SIGKILL loses nothing acknowledged.
pub(crate) fn writer_loop(
    mut store: Store,
    rx: std::sync::mpsc::Receiver<(u64, Batch)>,
    durable: Arc<watch::Sender<Durable>>,
) {
    while let Ok((mut seq, first)) = rx.recv() {
        let mut batches = vec![first];
        while batches.len() < 1024 {
            match rx.try_recv() {
                Ok((s, b)) => {
                    seq = s;
                    batches.push(b);
                }
                Err(_) => break,
            }
        }
        let res = store.write_batches(&batches);
        durable.send_modify(|d| {
            d.done = seq;
            if let Err(e) = &res {
                tracing::error!(error = %e, "persisting state failed; no further changes are acknowledged");
                d.failed.get_or_insert_with(|| e.to_string());
            }
        });
    }
}
