//! One long-lived `Session` stream per worker: every execution on the worker travels over it
//! (an `Execute` or `Cancel` request in, events tagged with the execution id out), so a call
//! costs two messages on an open HTTP/2 stream instead of a new RPC on each side. Workers that
//! do not offer `Session` in their handshake get one `Execute` RPC per execution instead.
//!
//! A reader task routes the events to the execution waiting for them. When the stream breaks
//! (the process died), every execution still on it sees its event source end and fails as
//! `ExternalWorkerLost`; dropping an execution (abandoned attempt) sends a Cancel for it.

use std::collections::HashMap;
use std::sync::Arc;

use hourglass_proto::external::v1::{
    CancelRequest, ExecuteEvent, ExecuteRequest, SessionRequest, session_request,
};
use parking_lot::Mutex;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::error::ExternalError;
use super::handshake::WorkerClient;

type Pending = Arc<Mutex<HashMap<String, mpsc::UnboundedSender<ExecuteEvent>>>>;

/// The open session of one worker.
#[derive(Debug)]
pub(crate) struct SessionLink {
    requests: mpsc::UnboundedSender<SessionRequest>,
    pending: Pending,
    reader: JoinHandle<()>,
}

impl Drop for SessionLink {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

impl SessionLink {
    /// Opens the session stream on `client` (the worker sends its headers at once).
    pub(crate) async fn open(
        client: &mut WorkerClient,
        worker: &str,
    ) -> Result<Self, ExternalError> {
        let (requests, mut rx) = mpsc::unbounded_channel::<SessionRequest>();
        let outbound = futures::stream::poll_fn(move |cx| rx.poll_recv(cx));
        let mut events = client
            .session(outbound)
            .await
            .map_err(|s| ExternalError::Handshake {
                worker: worker.to_string(),
                reason: format!(
                    "cannot open the session stream: {}: {}",
                    s.code(),
                    s.message()
                ),
            })?
            .into_inner();
        let pending: Pending = Arc::default();
        let routes = pending.clone();
        let worker = worker.to_string();
        let reader = tokio::spawn(async move {
            let why = loop {
                match events.message().await {
                    Ok(Some(message)) => {
                        let Some(event) = message.event else { continue };
                        let route = routes.lock().get(&message.execution_id).cloned();
                        match route {
                            Some(tx) => {
                                let _ = tx.send(event);
                            }
                            None => {
                                tracing::debug!(worker = %worker, execution = %message.execution_id, "event for an execution no one waits for")
                            }
                        }
                    }
                    Ok(None) => break "the worker ended the session".to_string(),
                    Err(status) => break format!("{}: {}", status.code(), status.message()),
                }
            };
            // Every execution still on the session sees its event source end.
            let lost = std::mem::take(&mut *routes.lock());
            if !lost.is_empty() {
                tracing::warn!(worker = %worker, executions = lost.len(), reason = %why, "external worker session broke with executions running");
            } else {
                tracing::debug!(worker = %worker, reason = %why, "external worker session ended");
            }
        });
        Ok(Self {
            requests,
            pending,
            reader,
        })
    }

    /// Sends `request` and returns the receiver of its events (and a guard that forgets the
    /// execution, cancelling it in the worker if it is still running, when dropped).
    pub(crate) fn start(&self, request: ExecuteRequest) -> Option<SessionExecution<'_>> {
        let (tx, rx) = mpsc::unbounded_channel();
        let execution_id = request.execution_id.clone();
        self.pending.lock().insert(execution_id.clone(), tx);
        let sent = self.requests.send(SessionRequest {
            request: Some(session_request::Request::Execute(request)),
        });
        if sent.is_err() || self.reader.is_finished() {
            self.pending.lock().remove(&execution_id);
            return None;
        }
        Some(SessionExecution {
            link: self,
            execution_id,
            events: rx,
            finished: false,
        })
    }

    fn cancel(&self, execution_id: &str, reason: &str) {
        let _ = self.requests.send(SessionRequest {
            request: Some(session_request::Request::Cancel(CancelRequest {
                execution_id: execution_id.to_string(),
                reason: reason.to_string(),
            })),
        });
    }
}

/// One execution running over a session.
pub(crate) struct SessionExecution<'a> {
    link: &'a SessionLink,
    execution_id: String,
    events: mpsc::UnboundedReceiver<ExecuteEvent>,
    finished: bool,
}

impl SessionExecution<'_> {
    /// The next event; `None` when the session broke.
    pub(crate) async fn next(&mut self) -> Option<ExecuteEvent> {
        let event = self.events.recv().await;
        if event.as_ref().is_some_and(is_final) {
            self.finished = true;
        }
        event
    }

    /// Asks the worker to cancel the execution.
    pub(crate) fn cancel(&self, reason: &str) {
        self.link.cancel(&self.execution_id, reason);
    }
}

impl Drop for SessionExecution<'_> {
    fn drop(&mut self) {
        self.link.pending.lock().remove(&self.execution_id);
        if !self.finished {
            self.link.cancel(&self.execution_id, "abandoned");
        }
    }
}

fn is_final(event: &ExecuteEvent) -> bool {
    use hourglass_proto::external::v1::execute_event::Event;
    matches!(
        event.event,
        Some(Event::Completed(_) | Event::Failed(_) | Event::Cancelled(_))
    )
}
