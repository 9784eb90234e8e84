//! The visibility service: ListWorkflowExecutions / CountWorkflowExecutions over the runs, and the query filter.
use crate::prelude::*;

pub mod search_attributes;

impl Engine {
    /// ListWorkflowExecutions (simple `Key = 'value' AND ...` filters).
    pub async fn list(
        &self,
        req: ws::ListWorkflowExecutionsRequest,
    ) -> RpcResult<ws::ListWorkflowExecutionsResponse> {
        let filter = Filter::parse(&req.query)?;
        if filter.group_by.is_some() {
            return Err(status::invalid(
                "invalid query: operation is not supported: 'GROUP BY' clause",
            ));
        }
        self.with(|g| {
            g.namespace(&req.namespace)?;
            let runs = g.visible_runs(&req.namespace)?;
            check_attributes(g.namespace(&req.namespace)?, &runs, &filter)?;
            let mut all: Vec<&Execution> = runs
                .iter()
                .map(|r| r.as_ref())
                .filter(|st| filter.matches(st))
                .collect();
            all.sort_by(|a, b| (b.start_ms, &b.run_id).cmp(&(a.start_ms, &a.run_id)));
            let offset = page_offset(&req.next_page_token);
            let size = if req.page_size > 0 {
                req.page_size as usize
            } else {
                1000
            };
            let page: Vec<WorkflowExecutionInfo> = all
                .iter()
                .skip(offset)
                .take(size)
                .map(|e| exec_info(e))
                .collect();
            let next = if offset + page.len() < all.len() {
                ((offset + page.len()) as u64).to_be_bytes().to_vec()
            } else {
                vec![]
            };
            Ok(ws::ListWorkflowExecutionsResponse {
                executions: page,
                next_page_token: next,
            })
        })
        .await
    }

    /// CountWorkflowExecutions.
    pub async fn count(
        &self,
        req: ws::CountWorkflowExecutionsRequest,
    ) -> RpcResult<ws::CountWorkflowExecutionsResponse> {
        let filter = Filter::parse(&req.query)?;
        self.with(|g| {
            g.namespace(&req.namespace)?;
            let runs = g.visible_runs(&req.namespace)?;
            check_attributes(g.namespace(&req.namespace)?, &runs, &filter)?;
            let mut groups: BTreeMap<i32, i64> = BTreeMap::new();
            let mut n = 0i64;
            for st in runs
                .iter()
                .map(|r| r.as_ref())
                .filter(|st| filter.matches(st))
            {
                n += 1;
                *groups.entry(st.status).or_default() += 1;
            }
            let groups = match filter.group_by {
                // Temporal's sql store: one group per value, encoded as a Keyword payload.
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
        })
        .await
    }
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

impl Inner {
    /// Every run of a namespace: those in memory, and the closed ones only the store still
    /// holds (read on demand, see `history::cache`).
    pub(crate) fn visible_runs(
        &self,
        namespace: &str,
    ) -> RpcResult<Vec<std::borrow::Cow<'_, Execution>>> {
        let mut runs: Vec<std::borrow::Cow<'_, Execution>> = self
            .execs
            .values()
            .filter(|e| e.st.namespace == namespace)
            .map(|e| std::borrow::Cow::Borrowed(&e.st))
            .collect();
        if let Some(reader) = &self.reader {
            let stored = reader
                .load_closed_states(namespace)
                .map_err(|e| Status::unavailable(format!("reading visibility failed: {e}")))?;
            runs.extend(
                stored
                    .into_iter()
                    .filter(|st| !self.execs.contains_key(&st.key()))
                    .map(std::borrow::Cow::Owned),
            );
        }
        Ok(runs)
    }
}

/// Refuses a query naming an attribute that is neither a system attribute nor a custom one
/// of the namespace (registered, or carried by some run of it), with the message of
/// Temporal's query converter.
fn check_attributes(
    ns: &NamespaceRec,
    runs: &[std::borrow::Cow<'_, Execution>],
    filter: &Filter,
) -> RpcResult<()> {
    for (name, _) in &filter.clauses {
        let known = search_attributes::is_system(name)
            || ns.search_attributes.contains_key(name)
            || runs.iter().any(|st| {
                st.search_attributes
                    .as_ref()
                    .is_some_and(|s| s.indexed_fields.contains_key(name))
            });
        if !known {
            return Err(status::invalid(format!(
                "invalid query: invalid expression: column name '{name}' is not a valid search attribute"
            )));
        }
    }
    Ok(())
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

/// A parsed visibility query: `Key = 'value'` clauses joined by AND.
pub(crate) struct Filter {
    pub(crate) clauses: Vec<(String, String)>,
    /// `GROUP BY <attribute>` (Count only; ExecutionStatus is the one Temporal allows).
    pub(crate) group_by: Option<String>,
}

/// Splits a trailing `GROUP BY <name>` off a query.
fn split_group_by(q: &str) -> RpcResult<(&str, Option<String>)> {
    let lower = q.to_ascii_lowercase();
    let Some(i) = lower.rfind("group by") else {
        return Ok((q, None));
    };
    let name = q[i + "group by".len()..].trim().trim_matches('`');
    if name.contains(',') {
        return Err(status::invalid(
            "invalid query: operation is not supported: 'GROUP BY' clause supports only a single field",
        ));
    }
    if name != "ExecutionStatus" {
        return Err(status::invalid(format!(
            "invalid query: operation is not supported: 'GROUP BY' clause is not supported for search attribute {name}"
        )));
    }
    Ok((q[..i].trim(), Some(name.to_string())))
}

impl Filter {
    pub(crate) fn parse(q: &str) -> RpcResult<Self> {
        let (q, group_by) = split_group_by(q.trim())?;
        let mut clauses = vec![];
        if q.is_empty() {
            return Ok(Self { clauses, group_by });
        }
        let lower = q.to_ascii_lowercase();
        if lower.contains(" or ") || lower.contains("order by") {
            return Err(status::invalid(format!(
                "unsupported query (only `Key = 'value' AND ...`): {q}"
            )));
        }
        let mut rest = q;
        loop {
            let lower = rest.to_ascii_lowercase();
            let (clause, next) = match lower.find(" and ") {
                Some(i) => (&rest[..i], Some(&rest[i + 5..])),
                None => (rest, None),
            };
            let (k, v) = clause
                .split_once('=')
                .ok_or_else(|| status::invalid(format!("malformed query clause `{clause}`")))?;
            let k = k.trim().trim_matches('`').to_string();
            let v = v.trim();
            let v = v
                .strip_prefix('\'')
                .and_then(|s| s.strip_suffix('\''))
                .or_else(|| v.strip_prefix('"').and_then(|s| s.strip_suffix('"')))
                // Numbers and booleans are literals of their own (`Count = 7`).
                .or_else(|| {
                    (v.parse::<f64>().is_ok()
                        || v.eq_ignore_ascii_case("true")
                        || v.eq_ignore_ascii_case("false"))
                    .then_some(v)
                })
                .ok_or_else(|| {
                    status::invalid(format!("query value must be quoted in `{clause}`"))
                })?;
            if k.is_empty() {
                return Err(status::invalid(format!(
                    "malformed query clause `{clause}`"
                )));
            }
            clauses.push((k, v.to_string()));
            match next {
                Some(n) => rest = n,
                None => break,
            }
        }
        Ok(Self { clauses, group_by })
    }

    pub(crate) fn matches(&self, st: &Execution) -> bool {
        self.clauses.iter().all(|(k, v)| match k.as_str() {
            "WorkflowType" => &st.workflow_type == v,
            "WorkflowId" => &st.workflow_id == v,
            "RunId" => &st.run_id == v,
            "TaskQueue" => &st.task_queue == v,
            "ExecutionStatus" => status_name(st.status).eq_ignore_ascii_case(v),
            other => attribute_equals(&st.search_attributes, other, v),
        })
    }
}

/// Whether search attribute `name` holds `value` (a Keyword or Text value, JSON-encoded or
/// raw).
fn attribute_equals(sas: &Option<SearchAttributes>, name: &str, value: &str) -> bool {
    sas.as_ref()
        .and_then(|s| s.indexed_fields.get(name))
        .map(|p| {
            let s = String::from_utf8_lossy(&p.data);
            s == value || serde_json::from_str::<String>(&s).is_ok_and(|x| x == value)
        })
        .unwrap_or(false)
}

impl Filter {
    /// Whether a schedule matches: `ScheduleId`, `TemporalSchedulePaused` and the schedule's
    /// own search attributes, as Temporal's schedule visibility holds them.
    pub(crate) fn matches_schedule(
        &self,
        schedule_id: &str,
        paused: bool,
        sas: &Option<SearchAttributes>,
    ) -> bool {
        self.clauses.iter().all(|(k, v)| match k.as_str() {
            "ScheduleId" | "WorkflowId" => schedule_id == v,
            "TemporalSchedulePaused" => v.eq_ignore_ascii_case(&paused.to_string()),
            other => attribute_equals(sas, other, v),
        })
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
        _ => "Unspecified",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn visibility_query_parsing() {
        let f = Filter::parse("WorkflowType = 'A' AND ExecutionStatus=\"Running\"").unwrap();
        assert_eq!(
            f.clauses,
            vec![
                ("WorkflowType".to_string(), "A".to_string()),
                ("ExecutionStatus".to_string(), "Running".to_string())
            ]
        );
        assert!(Filter::parse("").unwrap().clauses.is_empty());
        let g = Filter::parse("TaskQueue = 'q' GROUP BY ExecutionStatus").unwrap();
        assert_eq!(g.group_by.as_deref(), Some("ExecutionStatus"));
        assert_eq!(g.clauses.len(), 1);
        assert_eq!(
            Filter::parse("GROUP BY ExecutionStatus")
                .unwrap()
                .group_by
                .as_deref(),
            Some("ExecutionStatus")
        );
        assert!(
            Filter::parse("GROUP BY WorkflowType")
                .err()
                .unwrap()
                .message()
                .contains("not supported for search attribute WorkflowType")
        );
        assert_eq!(
            Filter::parse("WorkflowId = a").err().unwrap().code(),
            tonic::Code::InvalidArgument
        );
        assert_eq!(
            Filter::parse("A = 'x' OR B = 'y'").err().unwrap().code(),
            tonic::Code::InvalidArgument
        );
        assert_eq!(
            Filter::parse("garbage").err().unwrap().code(),
            tonic::Code::InvalidArgument
        );
    }
}
