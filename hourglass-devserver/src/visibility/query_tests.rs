use super::*;

fn types(name: &str) -> Option<T> {
    match name {
        "WorkflowId" | "WorkflowType" | "ExecutionStatus" | "TaskQueue" | "RunId" => {
            Some(T::Keyword)
        }
        "StartTime" | "CloseTime" => Some(T::Datetime),
        "ExecutionDuration" | "HistoryLength" => Some(T::Int),
        "TemporalScheduledById" => Some(T::Keyword),
        "TemporalSchedulePaused" => Some(T::Bool),
        "CustomInt" => Some(T::Int),
        "CustomText" => Some(T::Text),
        "CustomList" => Some(T::KeywordList),
        "CustomBool" => Some(T::Bool),
        _ => None,
    }
}

fn parse(q: &str) -> Result<Query, QueryError> {
    Query::parse(q, &types)
}

fn msg(q: &str) -> String {
    parse(q).unwrap_err().to_string()
}

fn col(name: &str, ty: T) -> Column {
    Column {
        alias: name.into(),
        field: name.into(),
        ty,
    }
}

#[test]
fn the_whole_grammar_parses_into_typed_expressions() {
    let q = parse(
        "(WorkflowType = 'A' OR WorkflowType STARTS_WITH \"Or\") and not CustomInt between 1 and 5 \
         AND ExecutionStatus IN ('Running', 'Completed') AND CloseTime IS NOT NULL \
         AND StartTime >= '2026-01-01T00:00:00Z' AND CustomList != 'x' AND CustomText = 'a b'",
    )
    .unwrap();
    let Some(Expr::And(_, last)) = &q.expr else {
        panic!("{q:?}")
    };
    assert_eq!(
        **last,
        Expr::Compare(
            col("CustomText", T::Text),
            CmpOp::Eq,
            Value::Str("a b".into())
        )
    );
    let dbg = format!("{q:?}");
    assert!(dbg.contains("StartsWith"), "{dbg}");
    assert!(dbg.contains("Between"), "{dbg}");
    assert!(
        dbg.contains("In(Column { alias: \"ExecutionStatus\""),
        "{dbg}"
    );
    assert!(dbg.contains("Int(1), Int(2)"), "statuses as numbers: {dbg}");
    assert!(dbg.contains("Time(1767225600000000000)"), "{dbg}");
    assert!(parse("").unwrap().expr.is_none());
    assert_eq!(
        parse("CloseTime is not null").unwrap().expr,
        Some(Expr::IsNull(col("CloseTime", T::Datetime), true))
    );
    assert_eq!(
        parse("CloseTime IS NULL").unwrap().expr,
        Some(Expr::IsNull(col("CloseTime", T::Datetime), false))
    );
    assert!(parse("WorkflowId = \"it''s\"").is_ok());
    assert_eq!(
        parse("WorkflowId = 'it''s'").unwrap().expr,
        Some(Expr::Compare(
            col("WorkflowId", T::Keyword),
            CmpOp::Eq,
            Value::Str("it's".into())
        ))
    );
    // `OR` binds looser than `AND`.
    let q = parse("WorkflowId = 'a' OR WorkflowId = 'b' AND RunId = 'c'").unwrap();
    assert!(matches!(q.expr, Some(Expr::Or(_, _))), "{q:?}");
}

#[test]
fn values_are_converted_for_their_column() {
    let d = parse("ExecutionDuration > '1h30m'").unwrap().expr;
    assert_eq!(
        d,
        Some(Expr::Compare(
            col("ExecutionDuration", T::Int),
            CmpOp::Gt,
            Value::Int(5_400_000_000_000)
        ))
    );
    let d = parse("ExecutionDuration < '00:00:02'").unwrap().expr;
    assert!(format!("{d:?}").contains("Int(2000000000)"), "{d:?}");
    let s = parse("ExecutionStatus = 'WORKFLOW_EXECUTION_STATUS_FAILED'")
        .unwrap()
        .expr;
    assert!(format!("{s:?}").contains("Int(3)"), "{s:?}");
    assert!(parse("ScheduleId = 'x'").unwrap().expr.is_some_and(
        |e| matches!(e, Expr::Compare(c, _, _) if c.field == "WorkflowId" && c.alias == "ScheduleId")
    ));
    assert!(
        parse("ScheduledById = 'x'").is_ok(),
        "the Temporal prefix may be left off"
    );
    assert!(parse("TemporalSchedulePaused = true").is_ok());
}

#[test]
fn refusals_carry_temporals_messages() {
    assert_eq!(
        msg("Nope = 'x'"),
        "invalid query: invalid expression: column name 'Nope' is not a valid search attribute"
    );
    assert_eq!(
        msg("WorkflowId = abc"),
        "invalid query: operation is not supported: column name on the right side of comparison \
         expression (did you forget to quote \"abc\"?)"
    );
    assert_eq!(
        msg("CustomInt = 'seven'"),
        "invalid query: invalid expression: invalid value type for search attribute CustomInt of \
         type Int: \"seven\" (type: string)"
    );
    assert_eq!(
        msg("CustomText STARTS_WITH 'a'"),
        "invalid query: operation is not supported: operator 'STARTS_WITH' not supported for Text \
         type search attribute 'CustomText'"
    );
    assert_eq!(
        msg("CustomList > 'a'"),
        "invalid query: operation is not supported: operator '>' not supported for KeywordList \
         type search attribute 'CustomList'"
    );
    assert_eq!(
        msg("CustomBool BETWEEN 1 AND 2"),
        "invalid query: invalid expression: cannot do range condition on search attribute \
         'CustomBool' of type Bool"
    );
    assert_eq!(
        msg("ExecutionStatus = 'Sleeping'"),
        "invalid query: invalid expression: invalid ExecutionStatus value 'Sleeping'"
    );
    assert_eq!(
        msg("StartTime > 'yesterday'"),
        "invalid query: invalid expression: unable to parse datetime 'yesterday'"
    );
    assert_eq!(
        msg("WorkflowId = 'a' ORDER BY StartTime"),
        "invalid query: operation is not supported: 'ORDER BY' clause"
    );
    assert_eq!(
        msg("WorkflowId = 'a' LIMIT 3"),
        "invalid query: operation is not supported: 'LIMIT' clause"
    );
    assert_eq!(
        msg("GROUP BY WorkflowType"),
        "invalid query: operation is not supported: 'GROUP BY' clause is not supported for \
         search attribute WorkflowType"
    );
    assert_eq!(
        msg("GROUP BY ExecutionStatus, WorkflowType"),
        "invalid query: operation is not supported: 'GROUP BY' clause supports only a single field"
    );
    assert!(
        parse("GROUP BY ExecutionStatus")
            .unwrap()
            .group_by
            .is_some()
    );
}

#[test]
fn syntax_errors_name_the_position() {
    assert_eq!(
        msg("WorkflowId = 'a' AND AND"),
        "invalid query: malformed SQL query: syntax error at position 22 near 'AND'"
    );
    assert_eq!(
        msg("WorkflowId = 'a"),
        "invalid query: malformed SQL query: syntax error at position 14 near ''a'"
    );
    assert_eq!(
        msg("WorkflowId ="),
        "invalid query: malformed SQL query: syntax error at position 13 near end of query"
    );
    assert!(msg("garbage").starts_with("invalid query: malformed SQL query: syntax error"));
    assert!(msg("(WorkflowId = 'a'").contains("syntax error"));
}
