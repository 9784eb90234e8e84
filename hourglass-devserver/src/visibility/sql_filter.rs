//! A parsed list filter ([`Expr`]) as a parameterised SQL condition over the `visibility`
//! table (`v`). The query is data: the SQL text holds only fixed column names, operators and
//! `?` placeholders, and every value the user wrote travels as a parameter.
//!
//! - A test of a system attribute is a native SQL comparison on its column (the store's
//!   indexes serve it), with SQL's three-valued logic — the one `row.rs` implements.
//! - A test of a custom attribute is `hg_leaf(v.search_attributes, ?)`: a function the
//!   store registers that evaluates that test with `row.rs` itself, so KeywordList, Text,
//!   type coercion and missing attributes behave exactly as in memory.
//! - So that a selective query does not evaluate every row, the filter also carries a
//!   necessary condition, `v.id IN (…)`, read from the indexed attribute rows
//!   (`visibility_attributes`) and the system columns' indexes: a run the filter matches is
//!   always among those ids.
use super::query::{CmpOp, Column, Expr, Value};
use super::record::system_column;
use rusqlite::types::Value as Sql;
use temporalio_protos::temporal::api::enums::v1::IndexedValueType as T;

/// A filter as SQL: `condition` (over `v`, with `?` placeholders) and its `params` in order;
/// `leaves` are the custom-attribute tests `hg_leaf(…, i)` evaluates.
#[derive(Debug, Default)]
pub(crate) struct SqlFilter {
    /// The WHERE condition, `1` when everything matches.
    pub(crate) condition: String,
    /// Its parameters, in placeholder order.
    pub(crate) params: Vec<Sql>,
    /// The custom-attribute tests, by the index `hg_leaf` is given.
    pub(crate) leaves: Vec<Expr>,
}

impl SqlFilter {
    /// The SQL of `expr` over namespace `namespace`'s rows.
    pub(crate) fn of(namespace: &str, expr: &Option<Expr>) -> Self {
        Self::build(namespace, expr, true)
    }

    /// The SQL of `expr` without the attribute-index condition: for a statement that picks
    /// its row by key, where reading the index would only cost time.
    pub(crate) fn exact(namespace: &str, expr: &Option<Expr>) -> Self {
        Self::build(namespace, expr, false)
    }

    fn build(namespace: &str, expr: &Option<Expr>, with_candidates: bool) -> Self {
        let mut f = SqlFilter::default();
        let mut parts = vec!["v.namespace = ?".to_string()];
        f.params.push(Sql::Text(namespace.to_string()));
        if let Some(e) = expr {
            if let Some(ids) = candidates(namespace, e).filter(|_| with_candidates) {
                parts.push(format!("v.id IN ({})", ids.sql));
                f.params.extend(ids.params);
            }
            let cond = f.expr(e);
            parts.push(cond);
        }
        f.condition = parts.join(" AND ");
        f
    }

    fn param(&mut self, v: Sql) -> &'static str {
        self.params.push(v);
        "?"
    }

    fn expr(&mut self, e: &Expr) -> String {
        match e {
            Expr::And(a, b) => format!("({} AND {})", self.expr(a), self.expr(b)),
            Expr::Or(a, b) => format!("({} OR {})", self.expr(a), self.expr(b)),
            Expr::Not(a) => format!("(NOT {})", self.expr(a)),
            leaf => match system_column(leaf_column(leaf).field.as_str()) {
                Some(col) => self.native(col, leaf),
                None => {
                    let i = self.leaves.len() as i64;
                    self.leaves.push(leaf.clone());
                    format!(
                        "hg_leaf(v.search_attributes, {})",
                        self.param(Sql::Integer(i))
                    )
                }
            },
        }
    }

    /// A system-attribute test as SQL on column `col`.
    fn native(&mut self, col: &str, leaf: &Expr) -> String {
        match leaf {
            Expr::Compare(_, op, v) => {
                format!("(v.{col} {} {})", op_sql(*op), self.param(sql_value(v)))
            }
            Expr::In(_, vs, negated) => {
                let list: Vec<&str> = vs.iter().map(|v| self.param(sql_value(v))).collect();
                let not = if *negated { "NOT " } else { "" };
                format!("(v.{col} {not}IN ({}))", list.join(", "))
            }
            Expr::StartsWith(_, prefix, negated) => {
                let p = self.param(Sql::Text(prefix.clone()));
                let test = format!("(instr(v.{col}, {p}) = 1)");
                if *negated {
                    format!("(NOT {test})")
                } else {
                    test
                }
            }
            Expr::Between(_, from, to, negated) => {
                let not = if *negated { "NOT " } else { "" };
                let from = self.param(sql_value(from));
                let to = self.param(sql_value(to));
                format!("(v.{col} {not}BETWEEN {from} AND {to})")
            }
            Expr::IsNull(_, negated) => {
                let not = if *negated { "NOT " } else { "" };
                format!("(v.{col} IS {not}NULL)")
            }
            Expr::And(..) | Expr::Or(..) | Expr::Not(..) => self.expr(leaf),
        }
    }
}

/// The column a test reads (`And`/`Or`/`Not` are not tests).
fn leaf_column(e: &Expr) -> &Column {
    match e {
        Expr::Compare(c, ..)
        | Expr::In(c, ..)
        | Expr::StartsWith(c, ..)
        | Expr::Between(c, ..)
        | Expr::IsNull(c, ..) => c,
        Expr::And(a, _) | Expr::Or(a, _) | Expr::Not(a) => leaf_column(a),
    }
}

fn op_sql(op: CmpOp) -> &'static str {
    match op {
        CmpOp::Eq => "=",
        CmpOp::Ne => "!=",
        CmpOp::Lt => "<",
        CmpOp::Gt => ">",
        CmpOp::Le => "<=",
        CmpOp::Ge => ">=",
    }
}

/// A query value as the SQL value it is compared with (as `record::sql_of` stores it).
pub(crate) fn sql_value(v: &Value) -> Sql {
    match v {
        Value::Str(s) => Sql::Text(s.clone()),
        Value::Int(i) | Value::Time(i) => Sql::Integer(*i),
        Value::Float(x) => Sql::Real(*x),
        Value::Bool(b) => Sql::Integer(*b as i64),
    }
}

/// A `SELECT vis …` (possibly a compound) and its parameters, with how selective the test
/// it serves usually is (`rank`: 1 for a point test on a high-cardinality value, up to 4
/// for a test most rows pass), so an `AND` can read the narrower side only.
struct Ids {
    sql: String,
    params: Vec<Sql>,
    rank: u8,
}

/// A set of visibility ids that contains every row `e` holds for, read from the indexes,
/// or `None` when no such set is cheaper than reading the rows (a `NOT`, a Text
/// attribute). An `AND` of two point tests reads their intersection, otherwise its
/// narrower side; an `OR` reads the union of both (a row `e` holds for is in the set of a
/// side it holds for, in SQL's three-valued logic too).
fn candidates(namespace: &str, e: &Expr) -> Option<Ids> {
    match e {
        Expr::And(a, b) => match (candidates(namespace, a), candidates(namespace, b)) {
            (Some(x), Some(y)) if x.rank == 1 && y.rank == 1 => Some(compound(x, "INTERSECT", y)),
            (Some(x), Some(y)) => Some(if y.rank < x.rank { y } else { x }),
            (x, y) => x.or(y),
        },
        Expr::Or(a, b) => {
            let (x, y) = (candidates(namespace, a)?, candidates(namespace, b)?);
            Some(compound(x, "UNION", y))
        }
        Expr::Not(_) => None,
        leaf => match system_column(&leaf_column(leaf).field) {
            Some(col) => Some(system_candidates(namespace, col, leaf)),
            None => leaf_candidates(namespace, leaf),
        },
    }
}

fn compound(x: Ids, op: &str, y: Ids) -> Ids {
    let rank = match op {
        "INTERSECT" => x.rank.min(y.rank),
        _ => x.rank.max(y.rank),
    };
    let mut params = x.params;
    params.extend(y.params);
    Ids {
        sql: format!(
            "SELECT vis FROM ({}) {op} SELECT vis FROM ({})",
            x.sql, y.sql
        ),
        params,
        rank,
    }
}

/// The rows a system-attribute test holds for: the test itself on the `visibility` table
/// (a prefix of a workflow id also as a range the unique index serves).
fn system_candidates(namespace: &str, col: &str, leaf: &Expr) -> Ids {
    let mut f = SqlFilter::default();
    f.params.push(Sql::Text(namespace.to_string()));
    let mut parts = vec![];
    // Placeholders are numbered in text order: the range's come first.
    if let (Expr::StartsWith(_, prefix, false), Some(upper)) = (leaf, prefix_upper_bound(leaf)) {
        let low = f.param(Sql::Text(prefix.clone()));
        let high = f.param(Sql::Text(upper));
        parts.push(format!("v.{col} >= {low} AND v.{col} < {high}"));
    }
    parts.push(f.native(col, leaf));
    let cond = parts.join(" AND ");
    let point = matches!(
        leaf,
        Expr::Compare(_, CmpOp::Eq, _) | Expr::In(_, _, false) | Expr::StartsWith(_, _, false)
    );
    let rank = match col {
        "workflow_id" | "run_id" if point => 1,
        "workflow_type" | "status" | "task_queue" if point => 3,
        _ => 4,
    };
    Ids {
        sql: format!("SELECT v.id AS vis FROM visibility v WHERE v.namespace = ? AND {cond}"),
        params: f.params,
        rank,
    }
}

/// For `col STARTS_WITH p`: the least string above every string starting with `p` (its
/// last character raised by one), or None when there is none.
fn prefix_upper_bound(leaf: &Expr) -> Option<String> {
    let Expr::StartsWith(_, prefix, _) = leaf else {
        return None;
    };
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        let next = (u32::from(last) + 1..=0x10FFFF).find_map(char::from_u32);
        if let Some(c) = next {
            chars.push(c);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

/// The rows a custom-attribute test can hold for: those whose value of the column's type
/// passes the test on the index, plus every row whose payload names another type (or none),
/// which only the exact test can judge.
fn leaf_candidates(namespace: &str, leaf: &Expr) -> Option<Ids> {
    let col = leaf_column(leaf);
    if system_column(&col.field).is_some() || col.ty == T::Text {
        return None;
    }
    let point = if col.ty == T::Bool { 3 } else { 1 };
    let (cond, values, rank): (String, Vec<Sql>, u8) = match leaf {
        Expr::Compare(_, CmpOp::Ne, _) => return None,
        Expr::Compare(_, CmpOp::Eq, v) => ("value = ?".into(), vec![sql_value(v)], point),
        Expr::Compare(_, op, v) => (format!("value {} ?", op_sql(*op)), vec![sql_value(v)], 2),
        Expr::In(_, vs, false) => {
            let marks = vec!["?"; vs.len()].join(", ");
            (
                format!("value IN ({marks})"),
                vs.iter().map(sql_value).collect(),
                point,
            )
        }
        Expr::Between(_, from, to, false) => (
            "value BETWEEN ? AND ?".into(),
            vec![sql_value(from), sql_value(to)],
            2,
        ),
        Expr::IsNull(_, true) => ("value IS NOT NULL".into(), vec![], 4),
        _ => return None,
    };
    let head = "SELECT vis FROM visibility_attributes WHERE namespace = ? AND name = ? AND";
    let sql = format!(
        "{head} ty = ? AND {cond} UNION ALL {head} ty < ? UNION ALL {head} ty > ? \
         UNION ALL {head} ty IS NULL"
    );
    let ns = || Sql::Text(namespace.to_string());
    let name = || Sql::Text(col.field.clone());
    let ty = Sql::Integer(col.ty as i64);
    let mut params = vec![ns(), name(), ty.clone()];
    params.extend(values);
    params.extend([ns(), name(), ty.clone(), ns(), name(), ty, ns(), name()]);
    Some(Ids { sql, params, rank })
}
