//! Schedules, as Temporal's scheduler keeps them (`service/worker/scheduler`): each schedule's
//! record (its Schedule, ScheduleInfo, memo, search attributes, conflict token, buffered
//! starts and the last completion result or failure it passes on) lives in the engine,
//! persisted in the store's `schedules` table, and is advanced by the timer loop at each of
//! its action times, and each second while workflows it started run (see [`scheduler`]). The WorkflowService schedule RPCs are in [`service`].
pub(crate) mod calendar;
pub(crate) mod scheduler;
pub(crate) mod service;
pub(crate) mod spec;
pub(crate) mod zone;

use crate::persistence::proto_serde::{pb, pb_opt};
use crate::prelude::*;
use temporalio_protos::temporal::api::schedule::v1::{Schedule, ScheduleInfo};

/// One start waiting to be taken (Temporal's `BufferedStart`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct BufferedStart {
    /// The time the spec named (ms).
    pub(crate) nominal_ms: i64,
    /// The nominal time plus jitter (ms).
    pub(crate) actual_ms: i64,
    /// The overlap policy it was added with (unspecified: the schedule's).
    pub(crate) overlap_policy: i32,
    /// Added by a trigger or backfill (ignores pause and remaining actions).
    pub(crate) manual: bool,
}

/// A schedule's whole state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct ScheduleRec {
    pub(crate) namespace: String,
    pub(crate) namespace_id: String,
    pub(crate) schedule_id: String,
    /// Spec (canonical), action, policies (defaults filled in) and state.
    #[serde(with = "pb")]
    pub(crate) schedule: Schedule,
    /// Counters, running workflows, recent actions, create/update times.
    #[serde(with = "pb")]
    pub(crate) info: ScheduleInfo,
    #[serde(with = "pb_opt")]
    pub(crate) memo: Option<Memo>,
    /// The schedule's own (custom) search attributes.
    #[serde(with = "pb_opt")]
    pub(crate) search_attributes: Option<SearchAttributes>,
    /// Bumped by every change a client could conflict with.
    pub(crate) conflict_token: i64,
    /// Spec times up to here (ms) were processed.
    pub(crate) last_processed_ms: i64,
    pub(crate) buffer: Vec<BufferedStart>,
    #[serde(with = "pb_opt")]
    pub(crate) last_completion_result: Option<Payloads>,
    #[serde(with = "pb_opt")]
    pub(crate) continued_failure: Option<Failure>,
    /// The CreateSchedule request id (a retried create is not a duplicate).
    pub(crate) request_id: String,
}

/// A schedule's key: namespace and schedule id.
pub(crate) type ScheduleKey = (String, String);

impl ScheduleRec {
    /// The key in `Globals::schedules`.
    pub(crate) fn key(&self) -> ScheduleKey {
        (self.namespace.clone(), self.schedule_id.clone())
    }
}

impl Inner<'_> {
    /// Stores a schedule (new or changed) and queues it for the writer.
    pub(crate) fn put_schedule(&mut self, rec: ScheduleRec) {
        let key = rec.key();
        self.globals().schedules.insert(key.clone(), rec);
        self.globals().dirty_schedules.insert(key);
    }

    /// Removes a schedule; the next commit deletes it from the store.
    pub(crate) fn remove_schedule(&mut self, key: &ScheduleKey) -> Option<ScheduleRec> {
        let rec = self.globals().schedules.remove(key)?;
        self.globals().dirty_schedules.insert(key.clone());
        self.globals().schedule_wakes.remove(key);
        Some(rec)
    }

    /// The pending schedule writes: `(namespace, id, JSON)`, None for a deleted one.
    pub(crate) fn take_schedule_writes(&mut self) -> Vec<(String, String, Option<String>)> {
        let keys: Vec<ScheduleKey> = self.globals().dirty_schedules.drain().collect();
        keys.into_iter()
            .map(|(ns, id)| {
                let json = self
                    .globals()
                    .schedules
                    .get(&(ns.clone(), id.clone()))
                    .and_then(|r| serde_json::to_string(r).ok());
                (ns, id, json)
            })
            .collect()
    }

    /// Loads the stored schedules (at start-up).
    pub(crate) fn load_schedules(&mut self) -> crate::error::Result<usize> {
        let rows = match &self.store {
            Some(s) => s.load_schedules()?,
            None => return Ok(0),
        };
        for (ns, id, data) in rows {
            let rec: ScheduleRec =
                serde_json::from_str(&data).map_err(|e| crate::error::DevServerError::Corrupt {
                    what: format!("schedule {ns}/{id}"),
                    detail: e.to_string(),
                })?;
            // Each is advanced at the first tick (catching up as its policy says).
            self.globals()
                .schedule_wakes
                .insert((ns.clone(), id.clone()), i64::MIN);
            self.globals().schedules.insert((ns, id), rec);
        }
        Ok(self.globals().schedules.len())
    }
}
