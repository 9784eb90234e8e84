//! The visibility list filter, as Temporal's query converter
//! (`common/persistence/visibility/store/query/converter.go`) reads it: parsed by a real
//! grammar (`query.pest`), every column resolved to a search attribute and its type, every
//! value checked and converted for that type, and every operator checked against what the
//! type allows — each refusal with Temporal's message. The result is data ([`Query`]), never
//! SQL text: evaluation (`row.rs`) reads it, nothing splices it.
use super::search_attributes::type_name;
use pest::Parser;
use pest::iterators::Pair;
use temporalio_protos::temporal::api::enums::v1::{IndexedValueType as T, WorkflowExecutionStatus};

#[derive(pest_derive::Parser)]
#[grammar = "visibility/query.pest"]
struct Grammar;

const MALFORMED: &str = "malformed SQL query";
const NOT_SUPPORTED: &str = "operation is not supported";
const INVALID: &str = "invalid expression";

/// A refused query: the message after Temporal's `invalid query: ` prefix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid query: {0}")]
pub(crate) struct QueryError(pub(crate) String);

fn err<T>(msg: String) -> Result<T, QueryError> {
    Err(QueryError(msg))
}

/// A column of the filter, resolved: the name the user wrote, the field it stands for
/// (`ScheduleId` is `WorkflowId`) and its type.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Column {
    /// As written in the query.
    pub(crate) alias: String,
    /// The search attribute it resolves to.
    pub(crate) field: String,
    /// Its type.
    pub(crate) ty: T,
}

/// A value checked and converted for its column's type. Datetimes are nanoseconds since the
/// epoch; `ExecutionStatus` is the status number; `ExecutionDuration` nanoseconds.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    /// Keyword, KeywordList or Text.
    Str(String),
    /// Int, ExecutionStatus, ExecutionDuration.
    Int(i64),
    /// Double.
    Float(f64),
    /// Bool.
    Bool(bool),
    /// Datetime.
    Time(i64),
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CmpOp {
    /// `=`
    Eq,
    /// `!=` / `<>`
    Ne,
    /// `<`
    Lt,
    /// `>`
    Gt,
    /// `<=`
    Le,
    /// `>=`
    Ge,
}

/// A filter expression over typed columns.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Expr {
    /// Both hold.
    And(Box<Expr>, Box<Expr>),
    /// Either holds.
    Or(Box<Expr>, Box<Expr>),
    /// Negation (SQL's: an unknown stays unknown).
    Not(Box<Expr>),
    /// `col <op> value`.
    Compare(Column, CmpOp, Value),
    /// `col [NOT] IN (values)`.
    In(Column, Vec<Value>, bool),
    /// `col [NOT] STARTS_WITH prefix` (Keyword).
    StartsWith(Column, String, bool),
    /// `col [NOT] BETWEEN from AND to` (inclusive).
    Between(Column, Value, Value, bool),
    /// `col IS [NOT] NULL`.
    IsNull(Column, bool),
}

/// A parsed list/count query.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Query {
    /// The filter; `None` matches everything.
    pub(crate) expr: Option<Expr>,
    /// `GROUP BY ExecutionStatus` (Count only).
    pub(crate) group_by: Option<Column>,
}

/// Maps a column name to its search attribute and type; `None` if it is none.
pub(crate) type Resolver<'a> = &'a dyn Fn(&str) -> Option<T>;

/// A literal as written, before its column's type is known.
enum Literal {
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
}

impl Literal {
    /// As Go's `%#v (type: %T)` prints it, for Temporal's type-mismatch message.
    fn go_repr(&self) -> String {
        match self {
            Literal::Str(s) => format!("{s:?} (type: string)"),
            Literal::Int(i) => format!("{i} (type: int64)"),
            Literal::Float(f) => format!("{f} (type: float64)"),
            Literal::Bool(b) => format!("{b} (type: bool)"),
        }
    }
}

impl Query {
    /// Parses `text` with the attributes `resolve` knows.
    pub(crate) fn parse(text: &str, resolve: Resolver<'_>) -> Result<Self, QueryError> {
        let pairs = Grammar::parse(Rule::query, text).map_err(|e| syntax_error(text, &e))?;
        let mut q = Query {
            expr: None,
            group_by: None,
        };
        let Some(top) = pairs.into_iter().next() else {
            return Ok(q);
        };
        let parts: Vec<Pair<'_, Rule>> = top.into_inner().collect();
        if parts.iter().any(|p| p.as_rule() == Rule::limit) {
            return err(format!("{NOT_SUPPORTED}: 'LIMIT' clause"));
        }
        for part in &parts {
            match part.as_rule() {
                Rule::or_expr => q.expr = Some(expr(part.clone(), resolve)?),
                Rule::group_by => q.group_by = Some(group_by(part.clone(), resolve)?),
                Rule::order_by => {
                    for item in part
                        .clone()
                        .into_inner()
                        .filter(|i| i.as_rule() == Rule::order_item)
                    {
                        let col = column(first(item)?, resolve)?;
                        if col.ty == T::Text {
                            return err(format!(
                                "{NOT_SUPPORTED}: unable to sort by search attribute type Text"
                            ));
                        }
                    }
                    // Temporal's SQL visibility store refuses any ORDER BY.
                    return err(format!("{NOT_SUPPORTED}: 'ORDER BY' clause"));
                }
                _ => {}
            }
        }
        Ok(q)
    }
}

/// Checks only the syntax of a list filter, as Temporal's frontend checks a batch job's
/// query (`sqlparser.Parse("select * from dummy where " + q)`): the error is
/// `syntax error at position N near 'x'`, N counting from the start of that statement.
pub(crate) fn check_syntax(text: &str) -> Result<(), String> {
    const PREFIX: usize = "select * from dummy where ".len();
    match Grammar::parse(Rule::query, text) {
        Ok(_) => Ok(()),
        Err(e) => {
            let pos = match e.location {
                pest::error::InputLocation::Pos(p) => p,
                pest::error::InputLocation::Span((p, _)) => p,
            }
            .min(text.len());
            let near: String = text[pos..]
                .chars()
                .take_while(|c| !c.is_whitespace())
                .collect();
            let column = PREFIX + text[..pos].chars().count() + 1;
            Err(format!("syntax error at position {column} near '{near}'"))
        }
    }
}

/// Temporal's `malformed SQL query: syntax error at position N near 'x'`, N counting the
/// query's characters from 1.
fn syntax_error(text: &str, e: &pest::error::Error<Rule>) -> QueryError {
    let pos = match e.location {
        pest::error::InputLocation::Pos(p) => p,
        pest::error::InputLocation::Span((p, _)) => p,
    };
    let near: String = text[pos.min(text.len())..]
        .chars()
        .take_while(|c| !c.is_whitespace())
        .collect();
    let column = text[..pos.min(text.len())].chars().count() + 1;
    let near = if near.is_empty() {
        "end of query".to_string()
    } else {
        format!("'{near}'")
    };
    QueryError(format!(
        "{MALFORMED}: syntax error at position {column} near {near}"
    ))
}

fn first(p: Pair<'_, Rule>) -> Result<Pair<'_, Rule>, QueryError> {
    let text = p.as_str().to_string();
    p.into_inner()
        .next()
        .ok_or_else(|| QueryError(format!("{MALFORMED}: incomplete expression `{text}`")))
}

fn group_by(p: Pair<'_, Rule>, resolve: Resolver<'_>) -> Result<Column, QueryError> {
    let cols: Vec<Pair<'_, Rule>> = p
        .into_inner()
        .filter(|c| c.as_rule() == Rule::column)
        .collect();
    if cols.len() > 1 {
        return err(format!(
            "{NOT_SUPPORTED}: 'GROUP BY' clause supports only a single field"
        ));
    }
    let col = column(
        cols.into_iter()
            .next()
            .ok_or_else(|| QueryError(format!("{MALFORMED}: GROUP BY without a field")))?,
        resolve,
    )?;
    if col.field != "ExecutionStatus" {
        return err(format!(
            "{NOT_SUPPORTED}: 'GROUP BY' clause is not supported for search attribute {}",
            col.alias
        ));
    }
    Ok(col)
}

fn expr(p: Pair<'_, Rule>, resolve: Resolver<'_>) -> Result<Expr, QueryError> {
    match p.as_rule() {
        Rule::or_expr | Rule::and_expr => {
            let is_or = p.as_rule() == Rule::or_expr;
            let mut acc: Option<Expr> = None;
            for child in p.into_inner() {
                if matches!(child.as_rule(), Rule::kw_or | Rule::kw_and) {
                    continue;
                }
                let e = expr(child, resolve)?;
                acc = Some(match acc {
                    None => e,
                    Some(a) if is_or => Expr::Or(Box::new(a), Box::new(e)),
                    Some(a) => Expr::And(Box::new(a), Box::new(e)),
                });
            }
            acc.ok_or_else(|| QueryError(format!("{MALFORMED}: empty expression")))
        }
        Rule::not_expr => {
            let mut negations = 0;
            let mut inner = None;
            for child in p.into_inner() {
                match child.as_rule() {
                    Rule::negation => negations += 1,
                    _ => inner = Some(expr(child, resolve)?),
                }
            }
            let mut e = inner
                .ok_or_else(|| QueryError(format!("{MALFORMED}: NOT without an expression")))?;
            for _ in 0..negations {
                e = Expr::Not(Box::new(e));
            }
            Ok(e)
        }
        Rule::primary => expr(first(p)?, resolve),
        Rule::predicate => predicate(p, resolve),
        _ => err(format!("{NOT_SUPPORTED}: expression `{}`", p.as_str())),
    }
}

fn predicate(p: Pair<'_, Rule>, resolve: Resolver<'_>) -> Result<Expr, QueryError> {
    let mut it = p.into_inner();
    let (Some(col), Some(op)) = (it.next(), it.next()) else {
        return err(format!("{INVALID}: incomplete expression"));
    };
    let col = column(col, resolve)?;
    let rule = op.as_rule();
    let parts: Vec<Pair<'_, Rule>> = op.into_inner().collect();
    let negated = parts.iter().any(|p| p.as_rule() == Rule::not_kw);
    let values = || -> Result<Vec<Value>, QueryError> {
        parts
            .iter()
            .filter(|p| p.as_rule() == Rule::value)
            .map(|p| typed(&col, literal(p.clone())?))
            .collect()
    };
    match rule {
        Rule::is_null => Ok(Expr::IsNull(col, negated)),
        Rule::between => {
            if !matches!(col.ty, T::Datetime | T::Double | T::Int | T::Keyword) {
                return err(format!(
                    "{INVALID}: cannot do range condition on search attribute '{}' of type {}",
                    col.alias,
                    type_name(col.ty as i32)
                ));
            }
            let mut v = values()?.into_iter();
            match (v.next(), v.next()) {
                (Some(from), Some(to)) => Ok(Expr::Between(col, from, to, negated)),
                _ => err(format!("{INVALID}: BETWEEN needs two values")),
            }
        }
        Rule::in_list => {
            let op = if negated { "NOT IN" } else { "IN" };
            check_operator(&col, op)?;
            Ok(Expr::In(col.clone(), values()?, negated))
        }
        Rule::starts_with => {
            let op = if negated {
                "NOT STARTS_WITH"
            } else {
                "STARTS_WITH"
            };
            check_operator(&col, op)?;
            match values()?.into_iter().next() {
                Some(Value::Str(s)) => Ok(Expr::StartsWith(col, s, negated)),
                other => err(format!(
                    "{INVALID}: right-hand side of \"{}\" operator must be a literal string (got: {other:?})",
                    op.to_ascii_lowercase()
                )),
            }
        }
        Rule::comparison => comparison(col, parts),
        _ => err(format!("{NOT_SUPPORTED}: expression `{}`", col.alias)),
    }
}

fn comparison(col: Column, parts: Vec<Pair<'_, Rule>>) -> Result<Expr, QueryError> {
    let mut it = parts.into_iter();
    let (Some(op), Some(operand)) = (it.next(), it.next()) else {
        return err(format!("{INVALID}: incomplete expression"));
    };
    let (text, op) = match op.as_str() {
        "=" => ("=", CmpOp::Eq),
        "!=" | "<>" => ("!=", CmpOp::Ne),
        "<" => ("<", CmpOp::Lt),
        ">" => (">", CmpOp::Gt),
        "<=" => ("<=", CmpOp::Le),
        _ => (">=", CmpOp::Ge),
    };
    check_operator(&col, text)?;
    let inner = first(operand)?;
    if inner.as_rule() == Rule::column {
        return err(format!(
            "{NOT_SUPPORTED}: column name on the right side of comparison expression (did you forget to quote {:?}?)",
            inner.as_str()
        ));
    }
    let v = typed(&col, literal(inner)?)?;
    Ok(Expr::Compare(col, op, v))
}

/// Temporal's per-type operator lists.
fn check_operator(col: &Column, op: &str) -> Result<(), QueryError> {
    let allowed: &[&str] = match col.ty {
        T::Keyword => &[
            "=",
            "!=",
            "<",
            ">",
            "<=",
            ">=",
            "IN",
            "NOT IN",
            "STARTS_WITH",
            "NOT STARTS_WITH",
        ],
        T::KeywordList => &["=", "!=", "IN", "NOT IN"],
        T::Text => &["=", "!="],
        _ => &["=", "!=", "<", ">", "<=", ">=", "IN", "NOT IN"],
    };
    if allowed.contains(&op) {
        return Ok(());
    }
    err(format!(
        "{NOT_SUPPORTED}: operator '{op}' not supported for {} type search attribute '{}'",
        type_name(col.ty as i32),
        col.alias
    ))
}

fn column(p: Pair<'_, Rule>, resolve: Resolver<'_>) -> Result<Column, QueryError> {
    let alias = p.as_str().trim_matches('`').to_string();
    let found = |name: &str| resolve(name).map(|ty| (name.to_string(), ty));
    let resolved = found(&alias).or_else(|| {
        if alias.strip_prefix("Temporal").unwrap_or(&alias) == "ScheduleId" {
            found("WorkflowId")
        } else if let Some(rest) = alias.strip_prefix("Temporal") {
            found(rest)
        } else {
            found(&format!("Temporal{alias}"))
        }
    });
    match resolved {
        Some((field, ty)) => Ok(Column { alias, field, ty }),
        None => err(format!(
            "{INVALID}: column name '{alias}' is not a valid search attribute"
        )),
    }
}

fn literal(p: Pair<'_, Rule>) -> Result<Literal, QueryError> {
    let inner = first(p)?;
    let text = inner.as_str();
    match inner.as_rule() {
        Rule::string => {
            let quote = text.chars().next().unwrap_or('\'');
            let body = &text[1..text.len() - 1];
            Ok(Literal::Str(unescape(body, quote)))
        }
        Rule::boolean => Ok(Literal::Bool(text.eq_ignore_ascii_case("true"))),
        _ => text
            .parse::<i64>()
            .map(Literal::Int)
            .or_else(|_| text.parse::<f64>().map(Literal::Float))
            .map_err(|_| QueryError(format!("{INVALID}: unable to parse value {text:?}"))),
    }
}

/// A quoted string's body: a doubled quote or a backslash escape stands for the character.
fn unescape(body: &str, quote: char) -> String {
    let mut out = String::with_capacity(body.len());
    let mut chars = body.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some(other) => out.push(other),
                None => out.push('\\'),
            },
            c if c == quote && chars.peek() == Some(&quote) => {
                chars.next();
                out.push(quote);
            }
            c => out.push(c),
        }
    }
    out
}

/// `parseSQLVal`: the literal checked and converted for the column's type.
fn typed(col: &Column, lit: Literal) -> Result<Value, QueryError> {
    match col.field.as_str() {
        "ExecutionStatus" => return execution_status(lit),
        "ExecutionDuration" => return execution_duration(lit),
        _ => {}
    }
    let mismatch = |lit: &Literal| {
        QueryError(format!(
            "{INVALID}: invalid value type for search attribute {} of type {}: {}",
            col.alias,
            type_name(col.ty as i32),
            lit.go_repr()
        ))
    };
    match (col.ty, lit) {
        (T::Int | T::Double, Literal::Int(i)) => Ok(Value::Int(i)),
        (T::Int | T::Double, Literal::Float(f)) => Ok(Value::Float(f)),
        (T::Bool, Literal::Bool(b)) => Ok(Value::Bool(b)),
        (T::Datetime, Literal::Int(ns)) => Ok(Value::Time(ns)),
        (T::Datetime, Literal::Str(s)) => chrono::DateTime::parse_from_rfc3339(&s)
            .ok()
            .and_then(|t| t.timestamp_nanos_opt())
            .map(Value::Time)
            .ok_or_else(|| QueryError(format!("{INVALID}: unable to parse datetime '{s}'"))),
        (T::Keyword | T::KeywordList | T::Text, Literal::Str(s)) => Ok(Value::Str(s)),
        // A boolean literal is taken as it is for any type (`BoolVal` is not validated).
        (_, Literal::Bool(b)) => Ok(Value::Bool(b)),
        (_, lit) => Err(mismatch(&lit)),
    }
}

fn execution_status(lit: Literal) -> Result<Value, QueryError> {
    let found = match &lit {
        Literal::Int(i) => i32::try_from(*i)
            .ok()
            .filter(|n| WorkflowExecutionStatus::try_from(*n).is_ok()),
        Literal::Str(s) => (0..=8).find(|n| {
            super::status_name(*n).eq_ignore_ascii_case(s)
                || WorkflowExecutionStatus::try_from(*n)
                    .is_ok_and(|st| st.as_str_name() == s.as_str())
        }),
        _ => {
            return err(format!(
                "{INVALID}: unexpected value type for search attribute ExecutionStatus"
            ));
        }
    };
    match (found, lit) {
        (Some(n), _) => Ok(Value::Int(n as i64)),
        (None, Literal::Int(i)) => err(format!("{INVALID}: invalid ExecutionStatus value {i}")),
        (None, Literal::Str(s)) => err(format!("{INVALID}: invalid ExecutionStatus value '{s}'")),
        _ => err(format!("{INVALID}: invalid ExecutionStatus value")),
    }
}

fn execution_duration(lit: Literal) -> Result<Value, QueryError> {
    let invalid = |v: &str| {
        QueryError(format!(
            "{INVALID}: invalid duration value for search attribute ExecutionDuration: {v}"
        ))
    };
    match lit {
        Literal::Int(ns) => Ok(Value::Int(ns)),
        Literal::Str(s) => s
            .parse::<i64>()
            .ok()
            .or_else(|| go_duration_ns(&s))
            .or_else(|| hhmmss_ns(&s))
            .map(Value::Int)
            .ok_or_else(|| invalid(&s)),
        _ => err(format!(
            "{INVALID}: unexpected value type for search attribute ExecutionDuration"
        )),
    }
}

/// Go's `time.ParseDuration` plus Temporal's `d` (days): `300ms`, `-1.5h`, `2h45m`, `1d`.
fn go_duration_ns(s: &str) -> Option<i64> {
    let (neg, mut rest) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    if rest.is_empty() {
        return None;
    }
    let mut total = 0f64;
    while !rest.is_empty() {
        let num_end = rest.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
        let n: f64 = rest[..num_end].parse().ok()?;
        rest = &rest[num_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit = match &rest[..unit_end] {
            "ns" => 1.0,
            "us" | "µs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            "d" => 86400e9,
            _ => return None,
        };
        total += n * unit;
        rest = &rest[unit_end..];
    }
    Some(if neg { -total } else { total } as i64)
}

/// Temporal's `hh:mm:ss` durations.
fn hhmmss_ns(s: &str) -> Option<i64> {
    let parts: Vec<i64> = s
        .split(':')
        .map(|p| p.parse().ok())
        .collect::<Option<_>>()?;
    match parts[..] {
        [h, m, sec] if (0..60).contains(&m) && (0..60).contains(&sec) && h >= 0 => {
            Some(((h * 60 + m) * 60 + sec) * 1_000_000_000)
        }
        _ => None,
    }
}

#[cfg(test)]
#[path = "query_tests.rs"]
mod tests;
