//! The visibility service: ListWorkflowExecutions / CountWorkflowExecutions over the runs,
//! filtered by Temporal's list-filter language (`query.rs`, evaluated by `row.rs`), in
//! Temporal's SQL visibility order with its keyset page tokens.
use crate::prelude::*;
use std::cmp::Reverse;
use temporalio_protos::temporal::api::enums::v1::IndexedValueType as T;

pub(crate) mod query;
pub(crate) mod row;
mod search_attribute_validator;
pub mod search_attributes;

pub(crate) use query::Query;

impl Engine {
    /// ListWorkflowExecutions: the runs matching the query, open ones first, then by close
    /// time, start time (both newest first) and run id, as Temporal's SQL visibility orders.
    pub async fn list(
        &self,
        req: ws::ListWorkflowExecutionsRequest,
    ) -> RpcResult<ws::ListWorkflowExecutionsResponse> {
        let after = PageToken::decode(&req.next_page_token)?;
        let (ns, runs) = self.visible_runs(&req.namespace).await?;
        {
            let q = run_query(&ns, &runs, &req.query)?;
            if q.group_by.is_some() {
                return Err(status::invalid(
                    "invalid query: operation is not supported: 'GROUP BY' clause",
                ));
            }
            let mut all: Vec<&Execution> = runs
                .iter()
                .filter(|st| row::matches(&q.expr, *st))
                .filter(|st| after.as_ref().is_none_or(|t| t.key() < sort_key(st)))
                .collect();
            let size = if req.page_size > 0 {
                req.page_size as usize
            } else {
                1000
            };
            // Only the page (and the one after it, for the token) needs ordering.
            if all.len() > size + 1 {
                all.select_nth_unstable_by_key(size, |st| sort_key(st));
                all.truncate(size + 1);
            }
            all.sort_by_key(|st| sort_key(st));
            let next = match all.get(size) {
                Some(_) => PageToken::of(all[size - 1]).encode(),
                None => vec![],
            };
            Ok(ws::ListWorkflowExecutionsResponse {
                executions: all.iter().take(size).map(|e| exec_info(e)).collect(),
                next_page_token: next,
            })
        }
    }

    /// CountWorkflowExecutions, with `GROUP BY ExecutionStatus` as Temporal's SQL store
    /// groups (one Keyword-encoded value per group).
    pub async fn count(
        &self,
        req: ws::CountWorkflowExecutionsRequest,
    ) -> RpcResult<ws::CountWorkflowExecutionsResponse> {
        let (ns, runs) = self.visible_runs(&req.namespace).await?;
        {
            let q = run_query(&ns, &runs, &req.query)?;
            let mut groups: BTreeMap<i32, i64> = BTreeMap::new();
            let mut n = 0i64;
            for st in runs.iter().filter(|st| row::matches(&q.expr, *st)) {
                n += 1;
                *groups.entry(st.status).or_default() += 1;
            }
            let groups = match q.group_by {
                Some(_) => groups
                    .into_iter()
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
        }
    }
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
    fn of(st: &Execution) -> Self {
        Self {
            close_ms: st.close_ms.unwrap_or(i64::MAX),
            start_ms: st.start_ms,
            run_id: st.run_id.clone(),
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

fn run_query(ns: &NamespaceRec, runs: &[Execution], text: &str) -> RpcResult<Query> {
    let resolve = attribute_type(ns, |name| {
        runs.iter()
            .find_map(|st| payload_type(&st.search_attributes, name))
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
    /// The namespace and every run of it a list or count sees. The runs in memory are copied
    /// under the history lock; the closed ones only the store still holds (see
    /// `history::cache`) are read afterwards on the visibility connection, outside the lock,
    /// so a list over many closed runs holds up no other request. Read in that order, a run
    /// evicted in between is durable before the read, so none is missed; one also read from
    /// the store is taken from memory.
    async fn visible_runs(&self, namespace: &str) -> RpcResult<(NamespaceRec, Vec<Execution>)> {
        let (ns, mut runs) = {
            let g = self.inner.lock();
            let ns = g.namespace(namespace)?.clone();
            let runs: Vec<Execution> = g
                .execs
                .values()
                .filter(|e| e.st.namespace == namespace)
                .map(|e| e.st.clone())
                .collect();
            (ns, runs)
        };
        if let Some(reader) = self.visibility_reader.clone() {
            let name = namespace.to_string();
            let stored =
                tokio::task::spawn_blocking(move || reader.lock().load_closed_states(&name))
                    .await
                    .map_err(|e| Status::internal(format!("reading visibility failed: {e}")))?
                    .map_err(|e| Status::unavailable(format!("reading visibility failed: {e}")))?;
            let in_memory: HashSet<ExecKey> = runs.iter().map(|st| st.key()).collect();
            runs.extend(
                stored
                    .into_iter()
                    .filter(|st| !in_memory.contains(&st.key())),
            );
        }
        Ok((ns, runs))
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
        run(&mut e.inner.lock(), "before");
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
                .inner
                .try_lock_for(std::time::Duration::from_secs(5))
                .expect("the history lock is free while the list reads");
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
