//! The handle types: [`Runtime`], [`Client`], [`Worker`] (and [`Replayer`]).
//!
//! Each wraps a core handle plus the generation that issued it. Every call first checks the
//! generation against the core's current one and fails with [`BridgeError::Reloaded`] when a
//! reload happened in between. Dropping the last clone frees the core handle in the library
//! that issued it (also after a reload).

use crate::call::{self, call_async, decode_handle, decode_unit};
use crate::core::{Generation, Shared};
use crate::error::BridgeError;
use crate::function_table::FunctionTable;
use hourglass_proto::abi::HgBytes;
use hourglass_proto::bridge::v1::{ClientConfig, ReplayHistory, WorkerConfig};
use prost::Message;
use std::sync::Arc;
use temporalio_protos::coresdk::activity_task::ActivityTask;
use temporalio_protos::coresdk::workflow_activation::WorkflowActivation;
use temporalio_protos::coresdk::workflow_completion::WorkflowActivationCompletion;
use temporalio_protos::coresdk::{ActivityHeartbeat, ActivityTaskCompletion};
use temporalio_protos::temporal::api::history::v1::History;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum HandleKind {
    Runtime,
    Client,
    Worker,
}

pub(crate) struct HandleInner {
    shared: Arc<Shared>,
    generation: Arc<Generation>,
    raw: u64,
    kind: HandleKind,
}

impl HandleInner {
    pub(crate) fn new(
        shared: Arc<Shared>,
        generation: Arc<Generation>,
        raw: u64,
        kind: HandleKind,
    ) -> Arc<Self> {
        Arc::new(Self {
            shared,
            generation,
            raw,
            kind,
        })
    }

    /// The function table, if this handle's generation is still current.
    fn live(&self) -> Result<FunctionTable, BridgeError> {
        let current = self.shared.current_generation();
        if self.generation.number != current {
            return Err(BridgeError::Reloaded {
                handle_generation: self.generation.number,
                current,
            });
        }
        Ok(self.generation.table)
    }
}

impl Drop for HandleInner {
    fn drop(&mut self) {
        let t = self.generation.table;
        let free = match self.kind {
            HandleKind::Runtime => t.runtime_free,
            HandleKind::Client => t.client_free,
            HandleKind::Worker => t.worker_free,
        };
        let raw = self.raw;
        // The issuing library stays mapped for the process's life, so this is valid even
        // after a reload.
        // SAFETY: out pointer to a local inside `call::sync`.
        if let Err(e) = call::sync(t.buffer_free, |err| unsafe { free(raw, err) }) {
            tracing::debug!(kind = ?self.kind, error = %e, "freeing a core handle failed");
        }
    }
}

macro_rules! handle_common {
    ($ty:ident) => {
        impl $ty {
            /// The generation of the core that issued this handle.
            pub fn generation(&self) -> u64 {
                self.inner.generation.number
            }

            /// The raw core handle (for diagnostics).
            pub fn raw(&self) -> u64 {
                self.inner.raw
            }

            /// Whether the core was reloaded since this handle was issued (every call would
            /// fail with [`BridgeError::Reloaded`]).
            pub fn is_stale(&self) -> bool {
                self.inner.live().is_err()
            }
        }

        impl std::fmt::Debug for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($ty))
                    .field("raw", &format_args!("{:#018x}", self.inner.raw))
                    .field("generation", &self.inner.generation.number)
                    .finish()
            }
        }
    };
}

/// A core runtime. Clones share the handle; the runtime stops when the last clone and every
/// client/worker created on it are gone.
#[derive(Clone)]
pub struct Runtime {
    inner: Arc<HandleInner>,
}
handle_common!(Runtime);

impl Runtime {
    pub(crate) fn from_inner(inner: Arc<HandleInner>) -> Self {
        Self { inner }
    }

    fn child(&self, raw: u64, kind: HandleKind) -> Arc<HandleInner> {
        HandleInner::new(
            self.inner.shared.clone(),
            self.inner.generation.clone(),
            raw,
            kind,
        )
    }

    /// Connects a client. Fails with [`BridgeError::InvalidArgument`] for a bad config
    /// (empty identity, bad URL) and [`BridgeError::Connect`] when the server cannot be
    /// reached within the connect timeout.
    pub async fn connect(&self, config: &ClientConfig) -> Result<Client, BridgeError> {
        let t = self.inner.live()?;
        let bytes = config.encode_to_vec();
        let raw = self.inner.raw;
        let handle = call_async(t.buffer_free, decode_handle, |ud, cb| {
            // SAFETY: input borrowed for the call (the core copies what it keeps); `ud`/`cb`
            // come from `call_async`.
            unsafe { (t.client_connect)(raw, HgBytes::from_slice(&bytes), ud, cb) }
        })
        .await?;
        Ok(Client {
            inner: self.child(handle, HandleKind::Client),
        })
    }

    /// Creates a replayer: a worker fed with recorded histories instead of a server, for
    /// offline replay tests. Only `namespace` and `task_queue` of the config matter.
    pub fn replayer(&self, config: &WorkerConfig) -> Result<Replayer, BridgeError> {
        let t = self.inner.live()?;
        let bytes = config.encode_to_vec();
        let mut handle = 0;
        let raw = self.inner.raw;
        call::sync(t.buffer_free, |err| {
            // SAFETY: borrowed input, out pointers to locals.
            unsafe { (t.replayer_new)(raw, HgBytes::from_slice(&bytes), &mut handle, err) }
        })?;
        Ok(Replayer {
            worker: Worker {
                inner: self.child(handle, HandleKind::Worker),
                retiring: false,
            },
        })
    }

    /// Diagnostic: spawns a panicking future inside the core; resolves to
    /// [`BridgeError::Panic`] (the panic is contained, the runtime keeps working).
    pub async fn test_panic_async(&self) -> Result<(), BridgeError> {
        let t = self.inner.live()?;
        let raw = self.inner.raw;
        call_async(t.buffer_free, decode_unit, |ud, cb| {
            // SAFETY: `ud`/`cb` come from `call_async`.
            unsafe { (t.test_panic_async)(raw, ud, cb) }
        })
        .await
    }
}

/// A client connection. Clones share the handle.
#[derive(Clone)]
pub struct Client {
    inner: Arc<HandleInner>,
}
handle_common!(Client);

impl Client {
    /// Creates a worker for one namespace + task queue on this connection. Fails with
    /// [`BridgeError::InvalidArgument`] for an empty namespace/task queue or an inconsistent
    /// config.
    pub fn new_worker(&self, config: &WorkerConfig) -> Result<Worker, BridgeError> {
        let t = self.inner.live()?;
        let bytes = config.encode_to_vec();
        let mut handle = 0;
        let raw = self.inner.raw;
        call::sync(t.buffer_free, |err| {
            // SAFETY: borrowed input, out pointers to locals.
            unsafe { (t.worker_new)(raw, HgBytes::from_slice(&bytes), &mut handle, err) }
        })?;
        Ok(Worker {
            inner: HandleInner::new(
                self.inner.shared.clone(),
                self.inner.generation.clone(),
                handle,
                HandleKind::Worker,
            ),
            retiring: false,
        })
    }
}

/// A core worker. Clones share the handle (poll loops and completers can each hold one).
///
/// Lifecycle (as in the official SDKs): [`Worker::validate`] → poll loops →
/// [`Worker::announce_shutdown`] → [`Worker::initiate_shutdown`] → keep polling both queues
/// until [`BridgeError::ShutDown`] → [`Worker::finalize_shutdown`].
///
/// Dropping a poll future after it started does not cancel the core-side poll: a task it
/// would have returned is then lost to this process until the core times it out. Keep poll
/// futures alive until they resolve.
#[derive(Clone)]
pub struct Worker {
    inner: Arc<HandleInner>,
    /// Calls go to the issuing library even after a reload (see [`Worker::for_retirement`]).
    retiring: bool,
}
handle_common!(Worker);

fn decode_activation(_: u64, b: &[u8]) -> Result<WorkflowActivation, BridgeError> {
    WorkflowActivation::decode(b).map_err(|source| BridgeError::Decode {
        what: "WorkflowActivation",
        source,
    })
}

fn decode_activity_task(_: u64, b: &[u8]) -> Result<ActivityTask, BridgeError> {
    ActivityTask::decode(b).map_err(|source| BridgeError::Decode {
        what: "ActivityTask",
        source,
    })
}

impl Worker {
    /// A clone of this worker for winding it down after its core was reloaded: its calls
    /// go to the library copy that issued the handle (which stays mapped) instead of failing
    /// with [`BridgeError::Reloaded`], so the old core worker can still initiate shutdown,
    /// fail back the work it handed out, drain its queues and be finalized — rather than be
    /// dropped with work outstanding. Use it only for that: new work belongs on the workers
    /// of the current generation.
    pub fn for_retirement(&self) -> Worker {
        Worker {
            inner: self.inner.clone(),
            retiring: true,
        }
    }

    /// The function table for a call: the issuing library's for a retiring clone, otherwise
    /// the current generation's (or [`BridgeError::Reloaded`]).
    fn live(&self) -> Result<FunctionTable, BridgeError> {
        if self.retiring {
            Ok(self.inner.generation.table)
        } else {
            self.inner.live()
        }
    }

    /// Validates the worker against the server (DescribeNamespace). Call once before polling.
    pub async fn validate(&self) -> Result<(), BridgeError> {
        let t = self.live()?;
        let raw = self.inner.raw;
        call_async(t.buffer_free, decode_unit, |ud, cb| {
            // SAFETY: `ud`/`cb` come from `call_async`.
            unsafe { (t.worker_validate)(raw, ud, cb) }
        })
        .await
    }

    /// Polls the next workflow activation. [`BridgeError::ShutDown`] once shutdown has
    /// drained; [`BridgeError::Busy`] if another workflow poll is running on this worker.
    pub async fn poll_workflow_activation(&self) -> Result<WorkflowActivation, BridgeError> {
        let t = self.live()?;
        let raw = self.inner.raw;
        call_async(t.buffer_free, decode_activation, |ud, cb| {
            // SAFETY: `ud`/`cb` come from `call_async`.
            unsafe { (t.worker_poll_workflow_activation)(raw, ud, cb) }
        })
        .await
    }

    /// Completes a workflow activation.
    pub async fn complete_workflow_activation(
        &self,
        completion: &WorkflowActivationCompletion,
    ) -> Result<(), BridgeError> {
        let t = self.live()?;
        let bytes = completion.encode_to_vec();
        let raw = self.inner.raw;
        call_async(t.buffer_free, decode_unit, |ud, cb| {
            // SAFETY: input borrowed for the call (decoded before it returns); `ud`/`cb`
            // come from `call_async`.
            unsafe {
                (t.worker_complete_workflow_activation)(raw, HgBytes::from_slice(&bytes), ud, cb)
            }
        })
        .await
    }

    /// Polls the next activity task (remote or local). [`BridgeError::ShutDown`] once
    /// shutdown has drained.
    pub async fn poll_activity_task(&self) -> Result<ActivityTask, BridgeError> {
        let t = self.live()?;
        let raw = self.inner.raw;
        call_async(t.buffer_free, decode_activity_task, |ud, cb| {
            // SAFETY: `ud`/`cb` come from `call_async`.
            unsafe { (t.worker_poll_activity_task)(raw, ud, cb) }
        })
        .await
    }

    /// Completes an activity task.
    pub async fn complete_activity_task(
        &self,
        completion: &ActivityTaskCompletion,
    ) -> Result<(), BridgeError> {
        let t = self.live()?;
        let bytes = completion.encode_to_vec();
        let raw = self.inner.raw;
        call_async(t.buffer_free, decode_unit, |ud, cb| {
            // SAFETY: input borrowed for the call; `ud`/`cb` come from `call_async`.
            unsafe { (t.worker_complete_activity_task)(raw, HgBytes::from_slice(&bytes), ud, cb) }
        })
        .await
    }

    /// Records an activity heartbeat (throttled by the core; cancellation arrives as an
    /// `ActivityTask` with a cancel variant).
    pub fn record_activity_heartbeat(
        &self,
        heartbeat: &ActivityHeartbeat,
    ) -> Result<(), BridgeError> {
        let t = self.live()?;
        let bytes = heartbeat.encode_to_vec();
        let raw = self.inner.raw;
        call::sync(t.buffer_free, |err| {
            // SAFETY: borrowed input, out pointer to a local.
            unsafe { (t.worker_record_activity_heartbeat)(raw, HgBytes::from_slice(&bytes), err) }
        })
    }

    /// Asks the core to evict a run; an eviction activation follows, which must be answered
    /// with an empty successful completion.
    pub fn request_workflow_eviction(&self, run_id: &str) -> Result<(), BridgeError> {
        let t = self.live()?;
        let raw = self.inner.raw;
        call::sync(t.buffer_free, |err| {
            // SAFETY: borrowed input, out pointer to a local.
            unsafe {
                (t.worker_request_workflow_eviction)(
                    raw,
                    HgBytes::from_slice(run_id.as_bytes()),
                    err,
                )
            }
        })
    }

    /// Tells the server this worker is about to shut down, so it answers the worker's open
    /// polls empty and hands it no more tasks; resolves once the server acknowledged. Call it
    /// before [`Worker::initiate_shutdown`]: a task handed to a worker whose shutdown was
    /// already initiated can be dropped by the core, and then waits out its task timeout on
    /// the server. Servers without the call count as done; replayers have nothing to announce.
    pub async fn announce_shutdown(&self) -> Result<(), BridgeError> {
        let t = self.live()?;
        let raw = self.inner.raw;
        call_async(t.buffer_free, decode_unit, |ud, cb| {
            // SAFETY: `ud`/`cb` come from `call_async`.
            unsafe { (t.worker_announce_shutdown)(raw, ud, cb) }
        })
        .await
    }

    /// Starts shutdown. Polls keep returning work until it is drained, then
    /// [`BridgeError::ShutDown`].
    pub fn initiate_shutdown(&self) -> Result<(), BridgeError> {
        let t = self.live()?;
        let raw = self.inner.raw;
        // SAFETY: out pointer to a local.
        call::sync(t.buffer_free, |err| unsafe {
            (t.worker_initiate_shutdown)(raw, err)
        })
    }

    /// Finalizes shutdown after both poll loops saw [`BridgeError::ShutDown`].
    /// [`BridgeError::Busy`] while polls or completions are still outstanding.
    pub async fn finalize_shutdown(&self) -> Result<(), BridgeError> {
        let t = self.live()?;
        let raw = self.inner.raw;
        call_async(t.buffer_free, decode_unit, |ud, cb| {
            // SAFETY: `ud`/`cb` come from `call_async`.
            unsafe { (t.worker_finalize_shutdown)(raw, ud, cb) }
        })
        .await
    }

    /// Moves this worker onto another client's connection (same generation required).
    pub fn replace_client(&self, client: &Client) -> Result<(), BridgeError> {
        let t = self.inner.live()?;
        client.inner.live()?;
        let (raw, craw) = (self.inner.raw, client.inner.raw);
        // SAFETY: out pointer to a local.
        call::sync(t.buffer_free, |err| unsafe {
            (t.worker_replace_client)(raw, craw, err)
        })
    }
}

/// A replay worker: push recorded histories, then drive it with the [`Worker`] poll and
/// complete calls (via `Deref`); polls return [`BridgeError::ShutDown`] once
/// [`Replayer::finish`] was called and every history is replayed.
#[derive(Clone, Debug)]
pub struct Replayer {
    worker: Worker,
}

impl std::ops::Deref for Replayer {
    type Target = Worker;
    fn deref(&self) -> &Worker {
        &self.worker
    }
}

impl Replayer {
    /// Feeds one history (of run `workflow_id`) to the replayer.
    pub fn push_history(&self, workflow_id: &str, history: &History) -> Result<(), BridgeError> {
        let msg = ReplayHistory {
            workflow_id: workflow_id.to_owned(),
            history: history.encode_to_vec(),
        };
        self.push_encoded(&msg.encode_to_vec())
    }

    /// Feeds an already encoded `hourglass.bridge.v1.ReplayHistory`.
    pub fn push_encoded(&self, replay_history: &[u8]) -> Result<(), BridgeError> {
        let t = self.worker.inner.live()?;
        let raw = self.worker.inner.raw;
        call::sync(t.buffer_free, |err| {
            // SAFETY: borrowed input, out pointer to a local.
            unsafe { (t.replayer_push)(raw, HgBytes::from_slice(replay_history), err) }
        })
    }

    /// Ends the input: after the pushed histories, polls return [`BridgeError::ShutDown`].
    pub fn finish(&self) -> Result<(), BridgeError> {
        let t = self.worker.inner.live()?;
        let raw = self.worker.inner.raw;
        // SAFETY: out pointer to a local.
        call::sync(t.buffer_free, |err| unsafe {
            (t.replayer_finish)(raw, err)
        })
    }

    /// The replayer as a plain [`Worker`].
    pub fn worker(&self) -> &Worker {
        &self.worker
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send<T: Send>(_: T) {}
    fn assert_send_sync<T: Send + Sync>() {}

    #[allow(dead_code)]
    fn futures_are_send(
        rt: Runtime,
        w: Worker,
        c: WorkflowActivationCompletion,
        a: ActivityTaskCompletion,
    ) {
        assert_send(rt.connect(&ClientConfig::default()));
        assert_send(rt.test_panic_async());
        assert_send(w.validate());
        assert_send(w.poll_workflow_activation());
        assert_send(w.complete_workflow_activation(&c));
        assert_send(w.poll_activity_task());
        assert_send(w.complete_activity_task(&a));
        assert_send(w.finalize_shutdown());
        assert_send(w.announce_shutdown());
    }

    #[test]
    fn handles_are_send_and_sync() {
        assert_send_sync::<Runtime>();
        assert_send_sync::<Client>();
        assert_send_sync::<Worker>();
        assert_send_sync::<Replayer>();
        assert_send_sync::<crate::Core>();
    }
}
