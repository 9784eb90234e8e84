//! The history service: one execution's mutable state and history, and the command → event
//! state machine, a file per concern (as Temporal's service/history keeps them).
use crate::prelude::*;

pub(crate) mod activity;
pub(crate) mod activity_pause;
pub(crate) mod activity_timeouts;
pub(crate) mod cache;
pub(crate) mod cancel_terminate;
pub(crate) mod child;
pub(crate) mod close;
pub(crate) mod commands;
pub(crate) mod continue_as_new;
pub(crate) mod delete_workflow;
pub(crate) mod describe;
pub(crate) mod events;
pub(crate) mod get_history;
pub mod limits;
pub(crate) mod multi_operation;
pub(crate) mod mutable_state;
pub(crate) mod properties;
pub(crate) mod query;
pub(crate) mod recovery;
pub(crate) mod reset;
pub(crate) mod retention;
pub(crate) mod retry;
pub(crate) mod shard;
pub(crate) mod signal;
pub(crate) mod start;
pub(crate) mod state_rebuilder;
pub(crate) mod sticky;
pub(crate) mod timer;
pub(crate) mod update;
pub(crate) mod workflow_retry;
pub(crate) mod workflow_task;
pub(crate) mod workflow_task_completed;

/// One run in memory: mutable state, history and waiters.
pub(crate) struct Exec {
    pub(crate) st: Execution,
    pub(crate) events: Vec<HistoryEvent>,
    pub(crate) persisted: usize,
    pub(crate) watch: watch::Sender<u64>,
    /// Queries waiting for the next workflow task.
    pub(crate) pending_queries: Vec<String>,
    /// Queries attached to the started workflow task.
    pub(crate) attached_queries: Vec<String>,
    /// Whether the history-limit warning was logged for this run.
    pub(crate) limit_warned: bool,
    /// The commit that last wrote this run (0: nothing queued since it was loaded).
    pub(crate) written_seq: u64,
    /// The server's clock, for event times.
    pub(crate) time: Arc<TimeSource>,
}

impl Exec {
    pub(crate) fn new(st: Execution, events: Vec<HistoryEvent>, time: Arc<TimeSource>) -> Self {
        let persisted = events.len();
        Self {
            st,
            events,
            persisted,
            watch: watch::Sender::new(0),
            pending_queries: vec![],
            attached_queries: vec![],
            limit_warned: false,
            written_seq: 0,
            time,
        }
    }

    /// Now on the server's clock.
    pub(crate) fn now_ms(&self) -> i64 {
        self.time.now_ms()
    }

    /// Whether the run is closed and all of it is in the store, given the writer's last
    /// durable commit `done`: every event was queued and the commit that wrote it is done.
    pub(crate) fn durably_closed(&self, done: u64) -> bool {
        !self.st.is_open() && self.persisted == self.events.len() && self.written_seq <= done
    }

    pub(crate) fn bump(&self) {
        self.watch.send_modify(|v| *v += 1);
    }

    pub(crate) fn add(&mut self, attrs: A) -> i64 {
        let id = self.st.next_event_id;
        self.st.next_event_id += 1;
        let ev = event(id, self.now_ms(), attrs);
        self.st.history_size_bytes += ev.encoded_len() as i64;
        self.events.push(ev);
        self.bump();
        id
    }

    /// Attaches a command's (or a start request's) user metadata to the event `id` of this
    /// task's new events, as Temporal sets `HistoryEvent.user_metadata`; the history size
    /// counts it.
    pub(crate) fn set_user_metadata(&mut self, id: i64, metadata: UserMetadata) {
        if let Some(ev) = self.events.iter_mut().rev().find(|e| e.event_id == id) {
            let before = ev.encoded_len() as i64;
            ev.user_metadata = Some(metadata);
            self.st.history_size_bytes += ev.encoded_len() as i64 - before;
        }
    }

    /// Adds the event now, or buffers it while a workflow task is running.
    pub(crate) fn add_or_buffer(&mut self, attrs: A) {
        if self.st.wft_started() {
            let ev = event(0, self.now_ms(), attrs);
            self.st.buffered.push(BufferedEvent {
                bytes: ev.encode_to_vec(),
                link_prev: false,
            });
        } else {
            self.add(attrs);
        }
    }

    /// An activity's final pair: ActivityTaskStarted (if it started) then the result event
    /// whose `started_event_id` links to it.
    pub(crate) fn add_activity_result(&mut self, started: Option<A>, result: A) {
        if self.st.wft_started() {
            let has_started = started.is_some();
            if let Some(s) = started {
                let ev = event(0, self.now_ms(), s);
                self.st.buffered.push(BufferedEvent {
                    bytes: ev.encode_to_vec(),
                    link_prev: false,
                });
            }
            let ev = event(0, self.now_ms(), result);
            self.st.buffered.push(BufferedEvent {
                bytes: ev.encode_to_vec(),
                link_prev: has_started,
            });
        } else {
            let sid = started.map(|s| self.add(s)).unwrap_or(0);
            let mut result = result;
            set_started_id(&mut result, sid);
            self.add(result);
        }
    }

    /// Moves buffered events into history; true if there were any.
    pub(crate) fn flush(&mut self) -> bool {
        let buf = std::mem::take(&mut self.st.buffered);
        let any = !buf.is_empty();
        for b in buf {
            let Ok(ev) = HistoryEvent::decode(b.bytes.as_slice()) else {
                continue;
            };
            let Some(mut attrs) = ev.attributes else {
                continue;
            };
            if b.link_prev {
                set_started_id(&mut attrs, self.st.next_event_id - 1);
            }
            self.add(attrs);
        }
        any
    }
}

pub(crate) fn set_started_id(a: &mut A, id: i64) {
    match a {
        A::ActivityTaskCompletedEventAttributes(x) => x.started_event_id = id,
        A::ActivityTaskFailedEventAttributes(x) => x.started_event_id = id,
        A::ActivityTaskTimedOutEventAttributes(x) => x.started_event_id = id,
        A::ActivityTaskCanceledEventAttributes(x) => x.started_event_id = id,
        _ => {}
    }
}

/// A new id (run ids, request ids) as Temporal's `primitives.NewUUID`: a UUID v7, so ids
/// sort by creation time. The 74 random bits come from a v4 UUID's random bytes.
pub(crate) fn new_id() -> String {
    // Ids sort by wall-clock creation time, also under a virtual clock.
    let millis = u64::try_from(crate::timers::time_source::wall_ms()).unwrap_or(0);
    let random = uuid::Uuid::new_v4().into_bytes();
    let mut bytes = [0u8; 10];
    bytes.copy_from_slice(&random[6..16]);
    uuid::Builder::from_unix_timestamp_millis(millis, &bytes)
        .into_uuid()
        .to_string()
}

pub(crate) fn exec_of(key: &ExecKey) -> WorkflowExecution {
    WorkflowExecution {
        workflow_id: key.workflow_id.clone(),
        run_id: key.run_id.clone(),
    }
}

impl Inner<'_> {
    /// The run of `key`, or NotFound.
    pub(crate) fn exec_mut(&mut self, key: &ExecKey) -> RpcResult<&mut Exec> {
        self.execs
            .get_mut(key)
            .ok_or_else(|| status::not_found("workflow execution not found"))
    }

    /// The run a request addresses (the current one when no run id is given), read from
    /// the store when it is a closed run no longer in memory.
    pub(crate) fn resolve(
        &mut self,
        ns: &str,
        exec: &Option<WorkflowExecution>,
    ) -> RpcResult<ExecKey> {
        self.namespace(ns)?;
        let e = exec
            .as_ref()
            .ok_or_else(|| status::invalid("workflow execution is required"))?;
        if e.workflow_id.is_empty() {
            return Err(status::invalid("workflow id is required"));
        }
        let run_id = if e.run_id.is_empty() {
            self.execs
                .current(ns, &e.workflow_id)
                .cloned()
                .ok_or_else(|| {
                    status::not_found(format!(
                        "workflow execution not found for workflow id {}",
                        e.workflow_id
                    ))
                })?
        } else {
            e.run_id.clone()
        };
        let key = ExecKey {
            namespace: ns.to_string(),
            workflow_id: e.workflow_id.clone(),
            run_id,
        };
        if !self.fault_in(&key) {
            return Err(status::not_found(format!(
                "workflow execution not found: {}/{}",
                key.workflow_id, key.run_id
            )));
        }
        Ok(key)
    }

    pub(crate) fn resolve_open(
        &mut self,
        ns: &str,
        exec: &Option<WorkflowExecution>,
    ) -> RpcResult<ExecKey> {
        let key = self.resolve(ns, exec)?;
        if !self.execs.get(&key).is_some_and(|e| e.st.is_open()) {
            return Err(status::not_found("workflow execution already completed"));
        }
        Ok(key)
    }

    pub(crate) fn current_key(&self, ns: &str, wf: &str) -> Option<ExecKey> {
        self.execs.current(ns, wf).map(|r| ExecKey {
            namespace: ns.to_string(),
            workflow_id: wf.to_string(),
            run_id: r.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn new_ids_are_uuid_v7_and_distinct() {
        let (a, b) = (super::new_id(), super::new_id());
        let u = uuid::Uuid::parse_str(&a).expect("a UUID");
        assert_eq!(u.get_version_num(), 7);
        assert_ne!(a, b);
    }
}
