//! A visibility row — the values a list filter sees of a run or of a schedule — and the
//! evaluation of a parsed [`Query`](super::query::Query) against it, with the semantics of
//! Temporal's SQLite visibility store: SQL's three-valued logic (a comparison with a missing
//! attribute is unknown, and so is its negation), KeywordList and Text matched as its FTS
//! tables do (`!=` and `NOT IN` also match a row without the attribute), `STARTS_WITH` as a
//! prefix, `BETWEEN` inclusive.
use super::query::{CmpOp, Column, Expr, Value};
use crate::prelude::*;
use std::cmp::Ordering;
use temporalio_protos::temporal::api::enums::v1::IndexedValueType as T;

/// A row's value of one column.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Field {
    /// Keyword or Text.
    Str(String),
    /// Int (also ExecutionStatus, ExecutionDuration in ns).
    Int(i64),
    /// Double.
    Float(f64),
    /// Bool.
    Bool(bool),
    /// Datetime, ns since the epoch.
    Time(i64),
    /// KeywordList.
    List(Vec<String>),
}

/// Something a list filter can be evaluated against.
pub(crate) trait Row {
    /// The value of `col`, `None` when the row has none (SQL NULL).
    fn field(&self, col: &Column) -> Option<Field>;
}

/// Whether `expr` holds for `row` (an unknown result does not).
pub(crate) fn matches(expr: &Option<Expr>, row: &dyn Row) -> bool {
    expr.as_ref().is_none_or(|e| eval(e, row) == Some(true))
}

/// `expr` on `row` in SQL's three-valued logic: `None` is unknown.
pub(crate) fn eval(e: &Expr, row: &dyn Row) -> Option<bool> {
    match e {
        Expr::And(a, b) => match (eval(a, row), eval(b, row)) {
            (Some(false), _) | (_, Some(false)) => Some(false),
            (Some(true), Some(true)) => Some(true),
            _ => None,
        },
        Expr::Or(a, b) => match (eval(a, row), eval(b, row)) {
            (Some(true), _) | (_, Some(true)) => Some(true),
            (Some(false), Some(false)) => Some(false),
            _ => None,
        },
        Expr::Not(a) => eval(a, row).map(|b| !b),
        Expr::Compare(col, op, v) => compare(row.field(col), col, *op, v),
        Expr::In(col, vs, negated) => {
            let field = row.field(col);
            if let Some(hit) = token_match(&field, col, vs) {
                return Some(hit != *negated);
            }
            let field = field?;
            let hit = vs.iter().any(|v| cmp(&field, v) == Some(Ordering::Equal));
            Some(hit != *negated)
        }
        Expr::StartsWith(col, prefix, negated) => match row.field(col)? {
            Field::Str(s) => Some(s.starts_with(prefix.as_str()) != *negated),
            _ => None,
        },
        Expr::Between(col, from, to, negated) => {
            let f = row.field(col)?;
            let inside = matches!(cmp(&f, from)?, Ordering::Greater | Ordering::Equal)
                && matches!(cmp(&f, to)?, Ordering::Less | Ordering::Equal);
            Some(inside != *negated)
        }
        Expr::IsNull(col, negated) => {
            let null = match row.field(col) {
                None => true,
                Some(Field::List(l)) => l.is_empty(),
                Some(_) => false,
            };
            Some(null != *negated)
        }
    }
}

fn compare(field: Option<Field>, col: &Column, op: CmpOp, v: &Value) -> Option<bool> {
    if matches!(op, CmpOp::Eq | CmpOp::Ne)
        && let Some(hit) = token_match(&field, col, std::slice::from_ref(v))
    {
        return Some(hit == (op == CmpOp::Eq));
    }
    let o = cmp(&field?, v)?;
    Some(match op {
        CmpOp::Eq => o == Ordering::Equal,
        CmpOp::Ne => o != Ordering::Equal,
        CmpOp::Lt => o == Ordering::Less,
        CmpOp::Gt => o == Ordering::Greater,
        CmpOp::Le => o != Ordering::Greater,
        CmpOp::Ge => o != Ordering::Less,
    })
}

/// KeywordList and Text columns, matched through their full-text index: `Some(hit)` when
/// `col` is one of them (a row without the attribute is no hit), `None` otherwise.
fn token_match(field: &Option<Field>, col: &Column, vs: &[Value]) -> Option<bool> {
    let wanted = || {
        vs.iter().filter_map(|v| match v {
            Value::Str(s) => Some(s.as_str()),
            _ => None,
        })
    };
    match col.ty {
        T::KeywordList => {
            let list = match field {
                Some(Field::List(l)) => l.clone(),
                Some(Field::Str(s)) => vec![s.clone()],
                _ => vec![],
            };
            Some(wanted().any(|w| list.iter().any(|x| x == w)))
        }
        T::Text => {
            let text = match field {
                Some(Field::Str(s)) => tokens(s),
                _ => vec![],
            };
            // Each space-separated word of the value is an FTS phrase; any one may match.
            Some(
                wanted()
                    .flat_map(|w| w.split(' '))
                    .filter(|w| !w.is_empty())
                    .any(|w| {
                        let phrase = tokens(w);
                        !phrase.is_empty()
                            && text
                                .windows(phrase.len())
                                .any(|win| win == phrase.as_slice())
                    }),
            )
        }
        _ => None,
    }
}

/// SQLite FTS5's `unicode61` tokens: runs of letters and digits, case-folded.
fn tokens(s: &str) -> Vec<String> {
    s.split(|c: char| !c.is_alphanumeric())
        .filter(|t| !t.is_empty())
        .map(str::to_lowercase)
        .collect()
}

fn cmp(f: &Field, v: &Value) -> Option<Ordering> {
    match (f, v) {
        (Field::Str(a), Value::Str(b)) => Some(a.as_str().cmp(b.as_str())),
        (Field::Bool(a), Value::Bool(b)) => Some(a.cmp(b)),
        (Field::Int(a), Value::Int(b)) | (Field::Time(a), Value::Time(b)) => Some(a.cmp(b)),
        (Field::Int(a), Value::Float(b)) => (*a as f64).partial_cmp(b),
        (Field::Float(a), Value::Int(b)) => a.partial_cmp(&(*b as f64)),
        (Field::Float(a), Value::Float(b)) => a.partial_cmp(b),
        _ => None,
    }
}

/// A custom or predefined attribute's value from its payload, read as `ty` (a payload that
/// is not JSON is read as a raw string).
pub(crate) fn attribute(sas: &Option<SearchAttributes>, name: &str, ty: T) -> Option<Field> {
    let p = sas.as_ref()?.indexed_fields.get(name)?;
    let json: serde_json::Value = serde_json::from_slice(&p.data)
        .unwrap_or_else(|_| serde_json::Value::String(String::from_utf8_lossy(&p.data).into()));
    json_field(json, ty)
}

/// A decoded search-attribute value read as `ty`; `None` if it is null or not of `ty`.
pub(crate) fn json_field(json: serde_json::Value, ty: T) -> Option<Field> {
    match (ty, json) {
        (_, serde_json::Value::Null) => None,
        (T::Int, serde_json::Value::Number(n)) => n.as_i64().map(Field::Int),
        (T::Double, serde_json::Value::Number(n)) => n.as_f64().map(Field::Float),
        (T::Bool, serde_json::Value::Bool(b)) => Some(Field::Bool(b)),
        (T::Datetime, serde_json::Value::String(s)) => chrono::DateTime::parse_from_rfc3339(&s)
            .ok()
            .and_then(|t| t.timestamp_nanos_opt())
            .map(Field::Time),
        (T::KeywordList, serde_json::Value::Array(items)) => Some(Field::List(
            items
                .into_iter()
                .filter_map(|i| i.as_str().map(str::to_string))
                .collect(),
        )),
        (_, serde_json::Value::String(s)) => Some(Field::Str(s)),
        // Temporal's `decodeValueTyped` without a list allowed (SQL visibility): a list of
        // one value of another type stands for that value.
        (ty, serde_json::Value::Array(mut items)) if items.len() == 1 => {
            items.pop().and_then(|v| json_field(v, ty))
        }
        _ => None,
    }
}

const NS_PER_MS: i64 = 1_000_000;

impl Row for Execution {
    fn field(&self, col: &Column) -> Option<Field> {
        let s = |v: &str| Some(Field::Str(v.to_string()));
        match col.field.as_str() {
            "WorkflowId" => s(&self.workflow_id),
            "RunId" => s(&self.run_id),
            "WorkflowType" => s(&self.workflow_type),
            "TaskQueue" => s(&self.task_queue),
            "ExecutionStatus" => Some(Field::Int(self.status as i64)),
            "StartTime" | "ExecutionTime" => Some(Field::Time(self.start_ms * NS_PER_MS)),
            "CloseTime" => self.close_ms.map(|c| Field::Time(c * NS_PER_MS)),
            "ExecutionDuration" => self
                .close_ms
                .map(|c| Field::Int((c - self.start_ms) * NS_PER_MS)),
            "HistoryLength" | "StateTransitionCount" => Some(Field::Int(self.next_event_id - 1)),
            "HistorySizeBytes" => Some(Field::Int(self.history_size_bytes)),
            "ParentWorkflowId" => self.parent.as_ref().and_then(|p| s(&p.workflow_id)),
            "ParentRunId" => self.parent.as_ref().and_then(|p| s(&p.run_id)),
            "RootWorkflowId" => s(&self.root().workflow_id),
            "RootRunId" => s(&self.root().run_id),
            other => attribute(&self.search_attributes, other, col.ty),
        }
    }
}

/// A schedule as its visibility record shows it.
pub(crate) struct ScheduleRow<'a> {
    /// The schedule id.
    pub(crate) schedule_id: &'a str,
    /// Whether it is paused.
    pub(crate) paused: bool,
    /// Its own search attributes.
    pub(crate) search_attributes: &'a Option<SearchAttributes>,
}

impl Row for ScheduleRow<'_> {
    fn field(&self, col: &Column) -> Option<Field> {
        match col.field.as_str() {
            "WorkflowId" => Some(Field::Str(self.schedule_id.to_string())),
            "TemporalSchedulePaused" => Some(Field::Bool(self.paused)),
            "ExecutionStatus" => Some(Field::Int(WorkflowExecutionStatus::Running as i64)),
            other => attribute(self.search_attributes, other, col.ty),
        }
    }
}
