//! The store's SQL answers every filter exactly as the in-memory evaluation (`row.rs`) does
//! on the same runs: counts by status and list pages in visibility order, keyset paging, and
//! the runs to leave out.
use super::*;
use crate::persistence::store::{Batch, Database};
use crate::visibility::query::Query;
use crate::visibility::row::matches;
use temporalio_protos::temporal::api::common::v1::Payload;
use temporalio_protos::temporal::api::enums::v1::IndexedValueType as T;

fn types(name: &str) -> Option<T> {
    crate::visibility::search_attributes::system_type(name)
        .or(crate::visibility::search_attributes::predefined_type(name))
        .or(match name {
            "Color" => Some(T::Keyword),
            "Size" => Some(T::Int),
            "Price" => Some(T::Double),
            "Vip" => Some(T::Bool),
            "Due" => Some(T::Datetime),
            "Tags" => Some(T::KeywordList),
            "Notes" => Some(T::Text),
            // Registered as Int, but some runs carry it as a Keyword (mixed types).
            "Mixed" => Some(T::Int),
            _ => None,
        })
}

fn payload(json: &str, ty: Option<&str>) -> Payload {
    let mut metadata: std::collections::HashMap<String, Vec<u8>> =
        [("encoding".to_string(), b"json/plain".to_vec())].into();
    if let Some(ty) = ty {
        metadata.insert("type".into(), ty.as_bytes().to_vec());
    }
    Payload {
        metadata,
        data: json.as_bytes().to_vec(),
        ..Default::default()
    }
}

/// Closed run `i` (and, for `i % 7 == 0`, open): attributes vary with `i`, some missing.
fn run(i: i64) -> Execution {
    let colors = ["red", "green", "blue"];
    let mut sas = std::collections::HashMap::new();
    if i % 4 != 0 {
        sas.insert(
            "Color".into(),
            payload(&format!("\"{}\"", colors[i as usize % 3]), Some("Keyword")),
        );
    }
    if i % 5 != 1 {
        sas.insert("Size".into(), payload(&(i % 10).to_string(), Some("Int")));
    }
    sas.insert(
        "Price".into(),
        payload(&format!("{}.5", i % 6), Some("Double")),
    );
    sas.insert(
        "Vip".into(),
        payload(if i % 3 == 0 { "true" } else { "false" }, Some("Bool")),
    );
    sas.insert(
        "Due".into(),
        payload(
            &format!("\"2026-12-0{}T10:00:00Z\"", 1 + i % 5),
            Some("Datetime"),
        ),
    );
    if i % 2 == 0 {
        let tags = match i % 3 {
            0 => "[\"a\", \"b\"]",
            1 => "[\"c\"]",
            _ => "[]",
        };
        sas.insert("Tags".into(), payload(tags, Some("KeywordList")));
    }
    sas.insert(
        "Notes".into(),
        payload(
            &format!(
                "\"order {} shipped {}\"",
                i % 4,
                ["slow", "fast", "Fast!"][i as usize % 3]
            ),
            Some("Text"),
        ),
    );
    match i % 6 {
        0 => drop(sas.insert("Mixed".into(), payload(&i.to_string(), Some("Int")))),
        1 => drop(sas.insert(
            "Mixed".into(),
            payload(&format!("\"{i}\""), Some("Keyword")),
        )),
        2 => drop(sas.insert("Mixed".into(), payload("3", None))),
        _ => {}
    }
    let start_ms = 1_700_000_000_000 + (i % 13) * 1000;
    Execution {
        namespace: "default".into(),
        workflow_id: format!("wf-{}", i % 40),
        run_id: format!("run-{i:04}"),
        workflow_type: ["Even", "Odd"][i as usize % 2].into(),
        task_queue: "q".into(),
        status: if i % 7 == 0 { 1 } else { 2 + (i % 3) as i32 },
        start_ms,
        close_ms: (i % 7 != 0).then_some(start_ms + (i % 11) * 500),
        next_event_id: 3 + i % 9,
        search_attributes: Some(SearchAttributes {
            indexed_fields: sas,
        }),
        ..Default::default()
    }
}

const QUERIES: &[&str] = &[
    "",
    "WorkflowType = 'Even'",
    "Color = 'red'",
    "Color != 'red'",
    "NOT Color = 'red'",
    "Color IN ('red', 'blue') AND Size > 3",
    "Color = 'green' OR Size <= 2",
    "Size BETWEEN 2 AND 6",
    "Size < 4",
    "Due < '2026-12-03T10:00:00Z'",
    "Mixed < 100",
    "Mixed = 12",
    "Size NOT BETWEEN 2 AND 6",
    "Size IS NULL",
    "Size IS NOT NULL AND WorkflowType = 'Odd'",
    "Price > 2.5",
    "Price = 3.5",
    "Vip = true",
    "Vip != true",
    "Due > '2026-12-03T00:00:00Z'",
    "Due BETWEEN '2026-12-02T00:00:00Z' AND '2026-12-04T00:00:00Z'",
    "Tags = 'a'",
    "Tags IN ('c', 'b')",
    "Tags != 'a'",
    "Tags IS NULL",
    "Tags IS NOT NULL",
    "Notes = 'slow'",
    "Notes = 'FAST'",
    "Notes != 'fast'",
    "Mixed = 3",
    "Mixed > 5",
    "Mixed IS NOT NULL",
    "WorkflowId STARTS_WITH 'wf-1'",
    "WorkflowId NOT STARTS_WITH 'wf-1' AND Color = 'blue'",
    "ExecutionStatus = 'Completed' OR ExecutionStatus = 'Terminated'",
    "CloseTime > '2023-11-14T22:13:25Z'",
    "ExecutionDuration >= 2000000000",
    "HistoryLength IN (4, 5, 6)",
    "HistoryLength < 6",
    "StartTime < '2023-11-14T22:13:26Z'",
    "RunId = 'run-0013'",
    "(Color = 'red' AND NOT Size = 3) OR (Tags = 'a' AND Vip = false)",
    "NOT (Color = 'red' OR Size = 3)",
    "Color IN ('red', 'blue') OR WorkflowId STARTS_WITH 'wf-1'",
    "Vip = true AND Size < 5 AND Color IN ('red', 'green', 'blue')",
    "WorkflowType = 'Even' AND Color = 'red'",
    "WorkflowId = 'wf-3' AND Color = 'red'",
    "WorkflowId IN ('wf-3', 'wf-4') AND Tags = 'a'",
    "RunId = 'run-0013' OR Size = 3",
    "ExecutionStatus = 'Completed' OR Vip = true",
    "WorkflowId != 'wf-3' OR Color = 'red'",
    "WorkflowId NOT IN ('wf-3') AND Tags IS NULL",
    "HistoryLength > 6 OR Price = 3.5",
    "(WorkflowId STARTS_WITH 'wf-2' OR Color = 'blue') AND Size BETWEEN 1 AND 4",
];

fn store_with(runs: &[Execution]) -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v.db");
    let mut store = Store::open(&Database::Path(path)).unwrap();
    let batch = Batch {
        executions: runs.iter().map(|st| (st.clone(), vec![])).collect(),
        ..Default::default()
    };
    store.write_batches(&[batch]).unwrap();
    (dir, store)
}

fn order(st: &Execution) -> (std::cmp::Reverse<i64>, std::cmp::Reverse<i64>, String) {
    (
        std::cmp::Reverse(st.close_ms.unwrap_or(i64::MAX)),
        std::cmp::Reverse(st.start_ms),
        st.run_id.clone(),
    )
}

#[test]
fn sql_answers_every_filter_as_the_in_memory_evaluation_does() {
    let runs: Vec<Execution> = (0..300).map(run).collect();
    let (_dir, store) = store_with(&runs);
    let closed: Vec<&Execution> = runs.iter().filter(|st| !st.is_open()).collect();
    let mut matched = vec![];
    for text in QUERIES {
        let q = Query::parse(text, &types).unwrap_or_else(|e| panic!("{text}: {e}"));
        let mut want: Vec<&Execution> = closed
            .iter()
            .copied()
            .filter(|st| matches(&q.expr, *st))
            .collect();
        want.sort_by_key(|st| order(st));
        let mut by_status = BTreeMap::new();
        for st in &want {
            *by_status.entry(st.status).or_insert(0i64) += 1;
        }
        let counted = store
            .count_closed(SqlFilter::of("default", &q.expr), None)
            .unwrap();
        assert_eq!(counted, by_status, "count of {text:?}");
        let listed = store
            .list_closed(
                SqlFilter::of("default", &q.expr),
                None,
                1000,
                &HashSet::new(),
            )
            .unwrap();
        let got: Vec<&str> = listed.iter().map(|r| r.key.run_id.as_str()).collect();
        let want_ids: Vec<&str> = want.iter().map(|st| st.run_id.as_str()).collect();
        assert_eq!(got, want_ids, "list of {text:?}");
        if !text.is_empty() && *text != "Tags IS NULL" && *text != "Size IS NULL" {
            matched.push((*text, want_ids.len()));
        }
    }
    // The queries select something, and not everything: the comparison means something.
    assert!(
        matched.iter().all(|(_, n)| *n > 0 && *n < closed.len()),
        "{matched:?} of {}",
        closed.len()
    );
}

#[test]
fn pages_follow_the_keyset_and_leave_out_the_runs_read_from_memory() {
    let runs: Vec<Execution> = (0..120).map(run).collect();
    let (_dir, store) = store_with(&runs);
    let mut want: Vec<&Execution> = runs.iter().filter(|st| !st.is_open()).collect();
    want.sort_by_key(|st| order(st));
    let skip: HashSet<ExecKey> = want.iter().step_by(5).map(|st| st.key()).collect();
    let want: Vec<&str> = want
        .iter()
        .filter(|st| !skip.contains(&st.key()))
        .map(|st| st.run_id.as_str())
        .collect();
    let mut got: Vec<String> = vec![];
    let mut after: Option<(i64, i64, String)> = None;
    loop {
        let a = after.as_ref().map(|(c, s, r)| After {
            close_ms: *c,
            start_ms: *s,
            run_id: r,
        });
        let page = store
            .list_closed(SqlFilter::of("default", &None), a, 7, &skip)
            .unwrap();
        let Some(last) = page.last() else { break };
        after = Some((last.close_ms, last.start_ms, last.key.run_id.clone()));
        got.extend(page.iter().map(|r| r.key.run_id.clone()));
    }
    assert_eq!(got, want);
    // An open run's token (close time i64::MAX) is before every closed run.
    let from_open = store
        .list_closed(
            SqlFilter::of("default", &None),
            Some(After {
                close_ms: i64::MAX,
                start_ms: 0,
                run_id: "zzz",
            }),
            1000,
            &HashSet::new(),
        )
        .unwrap();
    assert_eq!(
        from_open.len(),
        runs.iter().filter(|s| !s.is_open()).count()
    );
}

#[test]
fn counting_among_given_runs_and_deleting_a_run() {
    let runs: Vec<Execution> = (1..50).map(run).collect();
    let (_dir, mut store) = store_with(&runs);
    let some: Vec<ExecKey> = runs
        .iter()
        .filter(|st| !st.is_open())
        .take(10)
        .map(Execution::key)
        .collect();
    let among = store
        .count_closed(SqlFilter::exact("default", &None), Some(&some))
        .unwrap();
    assert_eq!(among.values().sum::<i64>(), 10);
    let before = store
        .count_closed(SqlFilter::of("default", &None), None)
        .unwrap();
    store
        .write_batches(&[Batch {
            deletions: vec![some[0].clone()],
            ..Default::default()
        }])
        .unwrap();
    let after = store
        .count_closed(SqlFilter::of("default", &None), None)
        .unwrap();
    assert_eq!(
        before.values().sum::<i64>() - 1,
        after.values().sum::<i64>()
    );
    let attrs: i64 = store
        .conn
        .query_row(
            "SELECT count(*) FROM visibility_attributes a WHERE NOT EXISTS \
             (SELECT 1 FROM visibility v WHERE v.id = a.vis)",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(attrs, 0, "a deleted run leaves no attribute rows");
    assert_eq!(
        store.carried_type("default", "Color").unwrap(),
        Some(T::Keyword as i32)
    );
    assert_eq!(store.carried_type("default", "Nope").unwrap(), None);
}

#[test]
fn a_database_without_visibility_tables_gets_them_filled_from_its_closed_runs() {
    let runs: Vec<Execution> = (1..30).map(run).collect();
    let (dir, store) = store_with(&runs);
    store
        .conn
        .execute_batch("DROP TABLE visibility; DROP TABLE visibility_attributes;")
        .unwrap();
    drop(store);
    let store = Store::open(&Database::Path(dir.path().join("v.db"))).unwrap();
    let n: i64 = store
        .count_closed(SqlFilter::of("default", &None), None)
        .unwrap()
        .values()
        .sum();
    assert_eq!(n as usize, runs.iter().filter(|s| !s.is_open()).count());
}

#[test]
fn a_filter_is_data_never_sql() {
    let q = Query::parse("Color = 'x'' OR 1=1 --' AND Notes = 'a\"b'", &types).unwrap();
    let f = SqlFilter::of("default", &q.expr);
    assert!(!f.condition.contains("1=1") && !f.condition.contains('\''));
    let runs: Vec<Execution> = (1..20).map(run).collect();
    let (_dir, store) = store_with(&runs);
    assert!(store.count_closed(f, None).unwrap().is_empty());
}
