//! The visibility service: ListWorkflowExecutions / CountWorkflowExecutions over the runs,
//! filtered by Temporal's list-filter language (`query.rs`, evaluated by `row.rs`), in
//! Temporal's SQL visibility order with its keyset page tokens.
use crate::prelude::*;
use std::cmp::Reverse;
use temporalio_protos::temporal::api::enums::v1::IndexedValueType as T;

pub(crate) mod query;
pub(crate) mod record;
pub(crate) mod row;
mod search_attribute_validator;
pub mod search_attributes;
pub(crate) mod sql_filter;

use crate::persistence::visibility_store::{After, ListedRun};
pub(crate) use query::Query;
use sql_filter::SqlFilter;

impl Engine {
    /// ListWorkflowExecutions: the runs matching the query, open ones first, then by close
    /// time, start time (both newest first) and run id, as Temporal's SQL visibility orders.
    /// Runs in memory are filtered here; closed runs only the store holds are filtered and
    /// paged by the store's SQL, and the two are merged in that order.
    pub async fn list(
        &self,
        req: ws::ListWorkflowExecutionsRequest,
    ) -> RpcResult<ws::ListWorkflowExecutionsResponse> {
        let after = PageToken::decode(&req.next_page_token)?;
        let size = if req.page_size > 0 {
            req.page_size as usize
        } else {
            1000
        };
        self.with_visibility(&req.namespace, req.query, move |q, runs, store| {
            if q.group_by.is_some() {
                return Err(status::invalid(
                    "invalid query: operation is not supported: 'GROUP BY' clause",
                ));
            }
            let mut page: Vec<Listed<'_>> = runs
                .iter()
                .filter(|st| row::matches(&q.expr, *st))
                .filter(|st| after.as_ref().is_none_or(|t| t.key() < sort_key(st)))
                .map(Listed::Memory)
                .collect();
            // Only the page (and the one after it, for the token) needs ordering.
            if page.len() > size + 1 {
                page.select_nth_unstable_by(size, |a, b| a.key().cmp(&b.key()));
                page.truncate(size + 1);
            }
            if let Some((store, ns)) = store {
                let skip = closed_keys(runs).collect();
                let after = after.as_ref().map(PageToken::after);
                let stored = store
                    .list_closed(SqlFilter::of(ns, &q.expr), after, size + 1, &skip)
                    .map_err(store_error)?;
                page.extend(stored.into_iter().map(Listed::Stored));
            }
            page.sort_by(|a, b| a.key().cmp(&b.key()));
            page.truncate(size + 1);
            let next = match page.get(size) {
                Some(_) => page[size - 1].token().encode(),
                None => vec![],
            };
            page.truncate(size);
            let executions = page.iter().map(Listed::info).collect::<RpcResult<_>>()?;
            Ok(ws::ListWorkflowExecutionsResponse {
                executions,
                next_page_token: next,
            })
        })
        .await
    }

    /// CountWorkflowExecutions, with `GROUP BY ExecutionStatus` as Temporal's SQL store
    /// groups (one Keyword-encoded value per group).
    pub async fn count(
        &self,
        req: ws::CountWorkflowExecutionsRequest,
    ) -> RpcResult<ws::CountWorkflowExecutionsResponse> {
        self.with_visibility(&req.namespace, req.query, |q, runs, store| {
            let mut groups: BTreeMap<i32, i64> = BTreeMap::new();
            for st in runs.iter().filter(|st| row::matches(&q.expr, *st)) {
                *groups.entry(st.status).or_default() += 1;
            }
            if let Some((store, ns)) = store {
                // The closed runs also in memory were counted there.
                let in_memory: Vec<ExecKey> = closed_keys(runs).collect();
                let stored = store
                    .count_closed(SqlFilter::of(ns, &q.expr), None)
                    .map_err(store_error)?;
                let twice = store
                    .count_closed(SqlFilter::exact(ns, &q.expr), Some(&in_memory))
                    .map_err(store_error)?;
                for (status, n) in stored {
                    *groups.entry(status).or_default() += n - twice.get(&status).unwrap_or(&0);
                }
            }
            let n = groups.values().sum();
            let groups = match q.group_by {
                Some(_) => groups
                    .into_iter()
                    .filter(|(_, count)| *count > 0)
                    .map(
                        |(st, count)| ws::count_workflow_executions_response::AggregationGroup {
                            group_values: vec![keyword_payload(status_name(st))],
                            count,
                        },
                    )
                    .collect(),
                None => vec![],
            };
            Ok(ws::CountWorkflowExecutionsResponse { count: n, groups })
        })
        .await
    }
}

/// A run on a list page: from memory, or a closed run read from the store.
enum Listed<'a> {
    Memory(&'a Execution),
    Stored(ListedRun),
}

impl Listed<'_> {
    fn key(&self) -> SortKey<'_> {
        match self {
            Listed::Memory(st) => sort_key(st),
            Listed::Stored(r) => (Reverse(r.close_ms), Reverse(r.start_ms), &r.key.run_id),
        }
    }

    fn token(&self) -> PageToken {
        let (Reverse(close_ms), Reverse(start_ms), run_id) = self.key();
        PageToken {
            close_ms,
            start_ms,
            run_id: run_id.to_string(),
        }
    }

    fn info(&self) -> RpcResult<WorkflowExecutionInfo> {
        match self {
            Listed::Memory(st) => Ok(exec_info(st)),
            Listed::Stored(r) => WorkflowExecutionInfo::decode(r.info.as_slice())
                .map_err(|e| store_error(format!("run {}: {e}", r.key.run_id))),
        }
    }
}

/// The keys of the closed runs among `runs`.
fn closed_keys(runs: &[Execution]) -> impl Iterator<Item = ExecKey> + '_ {
    runs.iter().filter(|st| !st.is_open()).map(Execution::key)
}

fn store_error(e: impl std::fmt::Display) -> Status {
    Status::unavailable(format!("reading visibility failed: {e}"))
}

/// A run's place in visibility order:
/// `ORDER BY coalesce(close_time, max) DESC, start_time DESC, run_id`.
type SortKey<'a> = (Reverse<i64>, Reverse<i64>, &'a str);

fn sort_key(st: &Execution) -> SortKey<'_> {
    (
        Reverse(st.close_ms.unwrap_or(i64::MAX)),
        Reverse(st.start_ms),
        &st.run_id,
    )
}

/// Temporal's keyset page token: where the previous page ended, in visibility order.
#[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
struct PageToken {
    /// Close time in ms; an open run sorts as the latest possible time.
    #[serde(rename = "CloseTime")]
    close_ms: i64,
    #[serde(rename = "StartTime")]
    start_ms: i64,
    #[serde(rename = "RunID")]
    run_id: String,
}

impl PageToken {
    /// The store's keyset for the position this token marks.
    fn after(&self) -> After<'_> {
        After {
            close_ms: self.close_ms,
            start_ms: self.start_ms,
            run_id: &self.run_id,
        }
    }

    /// The position it marks, in [`sort_key`]'s order.
    fn key(&self) -> SortKey<'_> {
        (Reverse(self.close_ms), Reverse(self.start_ms), &self.run_id)
    }

    fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    fn decode(token: &[u8]) -> RpcResult<Option<Self>> {
        if token.is_empty() {
            return Ok(None);
        }
        serde_json::from_slice(token)
            .map(Some)
            .map_err(|e| status::invalid(format!("unable to deserialize page token: {e}")))
    }
}

/// The type of a column named in a query over `ns`: system and predefined attributes, the
/// namespace's registered ones, and those some run carries (stored before starts and upserts
/// were validated, or since removed from the registry), by the type its payload names.
fn attribute_type<'a>(
    ns: &'a NamespaceRec,
    carried: impl Fn(&str) -> Option<i32> + 'a,
) -> impl Fn(&str) -> Option<T> + 'a {
    move |name: &str| {
        search_attributes::known_type(ns, name)
            .or_else(|| carried(name).and_then(|t| T::try_from(t).ok()))
    }
}

/// The type a search-attribute payload names in its `type` metadata.
fn payload_type(sas: &Option<SearchAttributes>, name: &str) -> Option<i32> {
    let p = sas.as_ref()?.indexed_fields.get(name)?;
    let ty = p.metadata.get("type")?;
    search_attributes::parse_type(std::str::from_utf8(ty).ok()?)
}

fn run_query(
    ns: &NamespaceRec,
    runs: &[Execution],
    store: Option<&Store>,
    text: &str,
) -> RpcResult<Query> {
    let resolve = attribute_type(ns, |name| {
        runs.iter()
            .find_map(|st| payload_type(&st.search_attributes, name))
            .or_else(|| {
                store.and_then(|s| match s.carried_type(&ns.name, name) {
                    Ok(t) => t,
                    Err(e) => {
                        tracing::warn!(error = %e, attribute = name, "reading an attribute type failed");
                        None
                    }
                })
            })
    });
    Query::parse(text, &resolve).map_err(|e| status::invalid(e.to_string()))
}

/// Parses a ListSchedules / CountSchedules query over `ns` and its schedules' attributes.
pub(crate) fn schedule_query<'a>(
    ns: &NamespaceRec,
    attributes: impl Iterator<Item = &'a Option<SearchAttributes>> + Clone,
    text: &str,
) -> RpcResult<Query> {
    let resolve = attribute_type(ns, |name| {
        attributes.clone().find_map(|sas| payload_type(sas, name))
    });
    Query::parse(text, &resolve).map_err(|e| status::invalid(e.to_string()))
}

/// A Keyword search-attribute value as Temporal's `sadefs.EncodeValue` writes it.
fn keyword_payload(v: &str) -> temporalio_protos::temporal::api::common::v1::Payload {
    search_attribute_payload(&serde_json::Value::from(v), "Keyword")
}

/// A search-attribute value of type `ty` (`Keyword`, `Datetime`, …) as Temporal's
/// `sadefs.EncodeValue` writes it: JSON data, with the type in the metadata.
pub(crate) fn search_attribute_payload(
    v: &serde_json::Value,
    ty: &str,
) -> temporalio_protos::temporal::api::common::v1::Payload {
    temporalio_protos::temporal::api::common::v1::Payload {
        metadata: [
            ("encoding".to_string(), b"json/plain".to_vec()),
            ("type".to_string(), ty.as_bytes().to_vec()),
        ]
        .into_iter()
        .collect(),
        data: serde_json::to_vec(v).unwrap_or_default(),
        ..Default::default()
    }
}

impl Engine {
    /// Runs `answer` on the parsed `query` over the namespace's runs in memory that the
    /// store may not have (copied one history shard at a time) and, with a database file,
    /// the store's visibility connection, used on a blocking thread while no shard is held,
    /// so a list over many closed runs holds up no other request.
    ///
    /// With a database file, a closed run whose state is durable is left to the store (the
    /// closed-run cache is not copied). Copied in that order, a run closed or evicted in
    /// between is durable before the store is read, so none is missed; one copied from
    /// memory and also in the store is answered from memory (the store's queries leave
    /// those out).
    async fn with_visibility<R: Send + 'static>(
        &self,
        namespace: &str,
        query: String,
        answer: impl FnOnce(&Query, &[Execution], Option<(&Store, &str)>) -> RpcResult<R>
        + Send
        + 'static,
    ) -> RpcResult<R> {
        let ns = (*self.shared.namespace(namespace)?).clone();
        let runs = self.runs_not_in_store(namespace);
        let Some(reader) = self.visibility_reader.clone() else {
            let q = run_query(&ns, &runs, None, &query)?;
            return answer(&q, &runs, None);
        };
        tokio::task::spawn_blocking(move || {
            let store = reader.lock();
            let q = run_query(&ns, &runs, Some(&store), &query)?;
            answer(&q, &runs, Some((&store, &ns.name)))
        })
        .await
        .map_err(|e| Status::internal(format!("reading visibility failed: {e}")))?
    }
}

impl Engine {
    /// The runs of `namespace` in memory, except (with a database file) closed ones whose
    /// state the writer made durable: those are read from the store.
    fn runs_not_in_store(&self, namespace: &str) -> Vec<Execution> {
        let in_store = self.visibility_reader.is_some();
        // Read before the shards: an older mark only keeps more runs in the copy.
        let done = self.durable.borrow().done;
        let mut runs = vec![];
        for shard in self.shards.iter() {
            let shard = shard.lock();
            runs.extend(
                shard
                    .execs
                    .values()
                    .filter(|e| e.st.namespace == namespace)
                    .filter(|e| !(in_store && e.durably_closed(done)))
                    .map(|e| e.st.clone()),
            );
        }
        runs
    }
}

/// A run's visibility record.
pub(crate) fn exec_info(st: &Execution) -> WorkflowExecutionInfo {
    let events = st.next_event_id - 1;
    WorkflowExecutionInfo {
        execution: Some(WorkflowExecution {
            workflow_id: st.workflow_id.clone(),
            run_id: st.run_id.clone(),
        }),
        r#type: Some(WorkflowType {
            name: st.workflow_type.clone(),
        }),
        start_time: Some(ts(st.start_ms)),
        close_time: st.close_ms.map(ts),
        status: st.status,
        history_length: events,
        parent_namespace_id: st
            .parent
            .as_ref()
            .map(|p| p.namespace.clone())
            .unwrap_or_default(),
        parent_execution: st.parent.as_ref().map(|p| WorkflowExecution {
            workflow_id: p.workflow_id.clone(),
            run_id: p.run_id.clone(),
        }),
        execution_time: Some(ts(st.start_ms)),
        memo: Some(st.memo.clone().unwrap_or_default()),
        search_attributes: Some(st.search_attributes.clone().unwrap_or_default()),
        task_queue: st.task_queue.clone(),
        state_transition_count: events,
        history_size_bytes: st.history_size_bytes,
        execution_duration: st.close_ms.and_then(|c| dur(c - st.start_ms)),
        first_run_id: st.first_run_id.clone(),
        root_execution: Some(st.root()),
        ..Default::default()
    }
}

pub(crate) fn page_offset(token: &[u8]) -> usize {
    if token.len() == 8 {
        let mut b = [0u8; 8];
        b.copy_from_slice(token);
        u64::from_be_bytes(b) as usize
    } else {
        0
    }
}

pub(crate) fn status_name(s: i32) -> &'static str {
    match WorkflowExecutionStatus::try_from(s).unwrap_or(WorkflowExecutionStatus::Unspecified) {
        WorkflowExecutionStatus::Running => "Running",
        WorkflowExecutionStatus::Completed => "Completed",
        WorkflowExecutionStatus::Failed => "Failed",
        WorkflowExecutionStatus::Canceled => "Canceled",
        WorkflowExecutionStatus::Terminated => "Terminated",
        WorkflowExecutionStatus::ContinuedAsNew => "ContinuedAsNew",
        WorkflowExecutionStatus::TimedOut => "TimedOut",
        WorkflowExecutionStatus::Paused => "Paused",
        _ => "Unspecified",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(g: &mut Inner, workflow_id: &str) -> ExecKey {
        g.create_run(crate::history::start::NewRun {
            namespace: "default".into(),
            workflow_id: workflow_id.into(),
            run_id: new_id(),
            workflow_type: "T".into(),
            task_queue: "q".into(),
            ..Default::default()
        })
    }

    /// A list waiting on the store holds up no other request: the history lock is free
    /// while it reads, and what it answers includes the runs in memory when it began.
    // Holding the store's connection across the awaits is the point: it stalls the list.
    #[allow(clippy::await_holding_lock)]
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_list_reading_the_store_does_not_hold_the_history_lock() {
        let dir = tempfile::tempdir().unwrap();
        let e = Engine::open(&Database::Path(dir.path().join("v.db")), "default").unwrap();
        run(&mut e.lock_all(), "before");
        let reader = e
            .visibility_reader
            .clone()
            .expect("a file database has one");
        let held = reader.lock();
        let list = {
            let e = e.clone();
            tokio::spawn(async move {
                e.list(ws::ListWorkflowExecutionsRequest {
                    namespace: "default".into(),
                    ..Default::default()
                })
                .await
            })
        };
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        assert!(!list.is_finished(), "the list waits for the store");
        {
            let mut g = e
                .try_lock_all_for(std::time::Duration::from_secs(5))
                .expect("no history shard is held while the list reads");
            run(&mut g, "during");
        }
        drop(held);
        let listed = list.await.unwrap().unwrap();
        let ids: Vec<&str> = listed
            .executions
            .iter()
            .filter_map(|x| x.execution.as_ref().map(|w| w.workflow_id.as_str()))
            .collect();
        assert_eq!(ids, ["before"], "the runs in memory when the list began");
    }
}
