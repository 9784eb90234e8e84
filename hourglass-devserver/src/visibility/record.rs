//! A closed run's visibility record, as Temporal's SQL visibility store keeps one
//! (`executions_visibility`): the system columns a list filter compares natively, the
//! custom attributes as one indexed row per value (the way its SQLite schema indexes
//! them), and the `WorkflowExecutionInfo` a list answers with. Every value is read through
//! [`Row for Execution`](super::row::Row), so the store and the in-memory filter see the
//! same run.
use super::query::Column;
use super::row::{Field, Row, json_field};
use super::search_attributes::parse_type;
use crate::prelude::*;
use rusqlite::types::Value as Sql;
use temporalio_protos::temporal::api::enums::v1::IndexedValueType as T;

/// The system attributes that are columns of the `visibility` table: the attribute a query
/// names and the column holding it. Every other attribute is a custom one.
pub(crate) const SYSTEM_COLUMNS: &[(&str, &str)] = &[
    ("WorkflowId", "workflow_id"),
    ("RunId", "run_id"),
    ("WorkflowType", "workflow_type"),
    ("TaskQueue", "task_queue"),
    ("ExecutionStatus", "status"),
    ("StartTime", "start_time"),
    ("ExecutionTime", "execution_time"),
    ("CloseTime", "close_time"),
    ("ExecutionDuration", "execution_duration"),
    ("HistoryLength", "history_length"),
    ("StateTransitionCount", "state_transition_count"),
    ("HistorySizeBytes", "history_size_bytes"),
    ("ParentWorkflowId", "parent_workflow_id"),
    ("ParentRunId", "parent_run_id"),
    ("RootWorkflowId", "root_workflow_id"),
    ("RootRunId", "root_run_id"),
];

/// The column holding system attribute `field`, if it is one of [`SYSTEM_COLUMNS`].
pub(crate) fn system_column(field: &str) -> Option<&'static str> {
    SYSTEM_COLUMNS
        .iter()
        .find(|(f, _)| *f == field)
        .map(|(_, c)| *c)
}

/// One value of a custom attribute, as indexed: the type its payload names (`None` when it
/// names none) and the value read as that type (`Null` when there is none, so that every
/// attribute a run carries has at least one row).
pub(crate) struct AttributeRow {
    /// The attribute's name.
    pub(crate) name: String,
    /// Its payload's `IndexedValueType`.
    pub(crate) ty: Option<i32>,
    /// One value (a KeywordList has one row per item).
    pub(crate) value: Sql,
}

/// What the store writes for a closed run.
pub(crate) struct VisibilityRecord {
    /// Values of [`SYSTEM_COLUMNS`], in that order.
    pub(crate) columns: Vec<Sql>,
    /// The custom attributes' rows.
    pub(crate) attributes: Vec<AttributeRow>,
    /// The encoded `SearchAttributes` (read back by the filter's custom-attribute tests).
    pub(crate) search_attributes: Vec<u8>,
    /// The encoded `WorkflowExecutionInfo` a list returns.
    pub(crate) info: Vec<u8>,
}

impl VisibilityRecord {
    /// The record of `st`.
    pub(crate) fn of(st: &Execution) -> Self {
        let columns = SYSTEM_COLUMNS
            .iter()
            .map(|(field, _)| {
                let col = Column {
                    alias: field.to_string(),
                    field: field.to_string(),
                    ty: T::Unspecified,
                };
                st.field(&col).map(sql_of).unwrap_or(Sql::Null)
            })
            .collect();
        Self {
            columns,
            attributes: attribute_rows(&st.search_attributes),
            search_attributes: st
                .search_attributes
                .as_ref()
                .map(|s| s.encode_to_vec())
                .unwrap_or_default(),
            info: exec_info(st).encode_to_vec(),
        }
    }
}

/// A field as the SQL value it is stored and compared as.
pub(crate) fn sql_of(f: Field) -> Sql {
    match f {
        Field::Str(s) => Sql::Text(s),
        Field::Int(i) | Field::Time(i) => Sql::Integer(i),
        Field::Float(x) => Sql::Real(x),
        Field::Bool(b) => Sql::Integer(b as i64),
        Field::List(l) => Sql::Text(l.join(" ")),
    }
}

fn attribute_rows(sas: &Option<SearchAttributes>) -> Vec<AttributeRow> {
    let Some(sas) = sas else { return vec![] };
    let mut rows = vec![];
    for (name, p) in &sas.indexed_fields {
        let ty = p
            .metadata
            .get("type")
            .and_then(|t| std::str::from_utf8(t).ok())
            .and_then(parse_type);
        let field = ty.and_then(|t| {
            let json: serde_json::Value = serde_json::from_slice(&p.data).unwrap_or_else(|_| {
                serde_json::Value::String(String::from_utf8_lossy(&p.data).into())
            });
            json_field(json, T::try_from(t).ok()?)
        });
        let values: Vec<Sql> = match field {
            Some(Field::List(items)) => items.into_iter().map(Sql::Text).collect(),
            Some(f) => vec![sql_of(f)],
            None => vec![],
        };
        if values.is_empty() {
            rows.push(AttributeRow {
                name: name.clone(),
                ty,
                value: Sql::Null,
            });
        }
        rows.extend(values.into_iter().map(|value| AttributeRow {
            name: name.clone(),
            ty,
            value,
        }));
    }
    rows
}
