//! The SQL visibility store: closed runs' visibility records (`visibility`, one row per run,
//! a column per system attribute) and their custom attributes (`visibility_attributes`, one
//! indexed row per value), written in the same transaction as the run, and read by list and
//! count through parameterised SQL ([`SqlFilter`]), in Temporal's visibility order.
use super::store::Store;
use crate::error::{DevServerError, Result};
use crate::history::mutable_state::{ExecKey, Execution};
use crate::visibility::query::Expr;
use crate::visibility::record::{SYSTEM_COLUMNS, VisibilityRecord};
use crate::visibility::row::{Field, Row, attribute, eval};
use crate::visibility::sql_filter::SqlFilter;
use prost::Message;
use rusqlite::functions::FunctionFlags;
use rusqlite::types::Value as Sql;
use rusqlite::{Connection, Transaction, params, params_from_iter};
use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use temporalio_protos::temporal::api::common::v1::SearchAttributes;

/// Where a page of a list ends: Temporal's keyset (close time, start time, run id), the
/// times in ms; an open run's close time is `i64::MAX`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct After<'a> {
    pub(crate) close_ms: i64,
    pub(crate) start_ms: i64,
    pub(crate) run_id: &'a str,
}

/// A listed closed run: its sort key (ms) and its encoded `WorkflowExecutionInfo`.
pub(crate) struct ListedRun {
    pub(crate) key: ExecKey,
    pub(crate) close_ms: i64,
    pub(crate) start_ms: i64,
    pub(crate) info: Vec<u8>,
}

const NS_PER_MS: i64 = 1_000_000;

/// The run's key columns, which the table has as its own (not among the attribute columns).
fn is_key_column(column: &str) -> bool {
    matches!(column, "workflow_id" | "run_id")
}

fn schema() -> String {
    let columns: Vec<String> = SYSTEM_COLUMNS
        .iter()
        .filter(|(_, c)| !is_key_column(c))
        .map(|(_, c)| format!("{c} ANY"))
        .collect();
    format!(
        "CREATE TABLE visibility (
            id INTEGER PRIMARY KEY, namespace TEXT NOT NULL, workflow_id TEXT NOT NULL,
            run_id TEXT NOT NULL, {}, search_attributes BLOB NOT NULL, info BLOB NOT NULL,
            UNIQUE (namespace, workflow_id, run_id));
         CREATE INDEX visibility_by_close ON visibility
            (namespace, close_time DESC, start_time DESC, run_id);
         CREATE INDEX visibility_by_type ON visibility
            (namespace, workflow_type, close_time DESC, start_time DESC, run_id);
         CREATE INDEX visibility_by_status ON visibility
            (namespace, status, close_time DESC, start_time DESC, run_id);
         CREATE INDEX visibility_by_task_queue ON visibility (namespace, task_queue);
         CREATE TABLE visibility_attributes (
            vis INTEGER NOT NULL, namespace TEXT NOT NULL, name TEXT NOT NULL,
            ty INTEGER, value ANY);
         CREATE INDEX visibility_attributes_by_value ON visibility_attributes
            (namespace, name, ty, value);
         CREATE INDEX visibility_attributes_by_vis ON visibility_attributes (vis);",
        columns.join(", ")
    )
}

impl Store {
    /// Creates the visibility tables in a database that has none, filled from the closed
    /// runs it already holds (a database written before they existed).
    pub(super) fn create_visibility(&mut self) -> Result<()> {
        let exists = self
            .conn
            .prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'visibility'")?
            .exists([])?;
        if exists {
            return Ok(());
        }
        let tx = self.conn.transaction()?;
        tx.execute_batch(&schema())?;
        let closed: Vec<(String, String, String, String)> = {
            let mut st = tx.prepare(
                "SELECT namespace, workflow_id, run_id, state FROM executions WHERE open = 0",
            )?;
            st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
                .collect::<rusqlite::Result<_>>()?
        };
        for (ns, wf, run, json) in &closed {
            let st: Execution =
                serde_json::from_str(json).map_err(|e| DevServerError::Corrupt {
                    what: format!("{ns}/{wf}/{run}"),
                    detail: e.to_string(),
                })?;
            put_visibility(&tx, &st)?;
        }
        tx.commit()?;
        tracing::info!(
            closed_runs = closed.len(),
            "visibility tables created and filled"
        );
        Ok(())
    }

    /// Registers `hg_leaf(search_attributes, i)`, the exact test of `leaves[i]` on a row's
    /// custom attributes, on this connection (replacing the previous query's).
    fn register_leaves(&self, leaves: Vec<Expr>) -> rusqlite::Result<()> {
        let leaves = Arc::new(leaves);
        self.conn.create_scalar_function(
            "hg_leaf",
            2,
            FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
            move |ctx| {
                let blob: Vec<u8> = ctx.get(0)?;
                let i: i64 = ctx.get(1)?;
                let leaf = leaves
                    .get(i as usize)
                    .ok_or_else(|| rusqlite::Error::UserFunctionError("no such test".into()))?;
                let sas = SearchAttributes::decode(blob.as_slice())
                    .map_err(|e| rusqlite::Error::UserFunctionError(Box::new(e)))?;
                Ok(eval(leaf, &CustomAttributes(Some(sas))))
            },
        )
    }

    /// The closed runs of the namespace `filter` matches, in visibility order after
    /// `after`, at most `limit`, leaving out the runs in `skip` (those read from memory).
    pub(crate) fn list_closed(
        &self,
        filter: SqlFilter,
        after: Option<After<'_>>,
        limit: usize,
        skip: &HashSet<ExecKey>,
    ) -> Result<Vec<ListedRun>> {
        self.register_leaves(filter.leaves)?;
        let mut params = filter.params;
        let mut condition = filter.condition;
        if let Some(t) = after
            && let (Some(c), Some(s)) = (
                t.close_ms.checked_mul(NS_PER_MS),
                t.start_ms.checked_mul(NS_PER_MS),
            )
        {
            // An open run's token (close time i64::MAX) is before every closed run.
            condition.push_str(
                " AND (v.close_time < ? OR (v.close_time = ? AND (v.start_time < ? \
                 OR (v.start_time = ? AND v.run_id > ?))))",
            );
            params.extend([
                Sql::Integer(c),
                Sql::Integer(c),
                Sql::Integer(s),
                Sql::Integer(s),
                Sql::Text(t.run_id.to_string()),
            ]);
        }
        let sql = format!(
            "SELECT v.namespace, v.workflow_id, v.run_id, v.close_time, v.start_time, v.info \
             FROM visibility v WHERE {condition} \
             ORDER BY v.close_time DESC, v.start_time DESC, v.run_id LIMIT ?"
        );
        params.push(Sql::Integer((limit + skip.len()) as i64));
        let mut st = self.conn.prepare(&sql)?;
        let rows = st.query_map(params_from_iter(params), |r| {
            Ok(ListedRun {
                key: ExecKey {
                    namespace: r.get(0)?,
                    workflow_id: r.get(1)?,
                    run_id: r.get(2)?,
                },
                close_ms: r.get::<_, i64>(3)? / NS_PER_MS,
                start_ms: r.get::<_, i64>(4)? / NS_PER_MS,
                info: r.get(5)?,
            })
        })?;
        let mut out = Vec::with_capacity(limit);
        for row in rows {
            let row = row?;
            if !skip.contains(&row.key) {
                out.push(row);
                if out.len() == limit {
                    break;
                }
            }
        }
        Ok(out)
    }

    /// How many closed runs `filter` matches, by status; with `among`, only those runs (then
    /// give it a [`SqlFilter::exact`] filter: each run is looked up by its key).
    pub(crate) fn count_closed(
        &self,
        filter: SqlFilter,
        among: Option<&[ExecKey]>,
    ) -> Result<BTreeMap<i32, i64>> {
        self.register_leaves(filter.leaves)?;
        let mut groups = BTreeMap::new();
        let base = format!(
            "SELECT v.status, count(*) FROM visibility v WHERE {}",
            filter.condition
        );
        let mut run = |sql: String, params: Vec<Sql>| -> Result<()> {
            let mut st = self.conn.prepare_cached(&sql)?;
            let rows = st.query_map(params_from_iter(params), |r| {
                Ok((r.get::<_, i32>(0)?, r.get::<_, i64>(1)?))
            })?;
            for row in rows {
                let (status, n) = row?;
                *groups.entry(status).or_default() += n;
            }
            Ok(())
        };
        match among {
            None => run(format!("{base} GROUP BY v.status"), filter.params)?,
            Some(keys) => {
                // One lookup per run on the unique (namespace, workflow id, run id) index:
                // an IN list of pairs made SQLite scan the table.
                let sql =
                    format!("{base} AND v.workflow_id = ? AND v.run_id = ? GROUP BY v.status");
                for k in keys {
                    let mut params = filter.params.clone();
                    params.push(Sql::Text(k.workflow_id.clone()));
                    params.push(Sql::Text(k.run_id.clone()));
                    run(sql.clone(), params)?;
                }
            }
        }
        Ok(groups)
    }

    /// The type a custom attribute's payloads name in some closed run of `namespace`.
    pub(crate) fn carried_type(&self, namespace: &str, name: &str) -> Result<Option<i32>> {
        let mut st = self.conn.prepare_cached(
            "SELECT ty FROM visibility_attributes WHERE namespace = ?1 AND name = ?2 \
             AND ty IS NOT NULL LIMIT 1",
        )?;
        let mut rows = st.query(params![namespace, name])?;
        Ok(match rows.next()? {
            Some(r) => Some(r.get(0)?),
            None => None,
        })
    }
}

/// Writes (or rewrites) the visibility record of closed run `st`.
pub(super) fn put_visibility(tx: &Transaction<'_>, st: &Execution) -> Result<()> {
    delete_visibility(tx, &st.key())?;
    let rec = VisibilityRecord::of(st);
    let names: Vec<&str> = SYSTEM_COLUMNS
        .iter()
        .filter(|(_, c)| !is_key_column(c))
        .map(|(_, c)| *c)
        .collect();
    let marks = vec!["?"; names.len() + 5].join(", ");
    let sql = format!(
        "INSERT INTO visibility (namespace, workflow_id, run_id, search_attributes, info, {}) \
         VALUES ({marks})",
        names.join(", ")
    );
    let mut values = vec![
        Sql::Text(st.namespace.clone()),
        Sql::Text(st.workflow_id.clone()),
        Sql::Text(st.run_id.clone()),
        Sql::Blob(rec.search_attributes),
        Sql::Blob(rec.info),
    ];
    values.extend(
        SYSTEM_COLUMNS
            .iter()
            .zip(rec.columns)
            .filter(|((_, c), _)| !is_key_column(c))
            .map(|(_, v)| v),
    );
    tx.prepare_cached(&sql)?.execute(params_from_iter(values))?;
    let vis = tx.last_insert_rowid();
    let mut attr = tx.prepare_cached(
        "INSERT INTO visibility_attributes (vis, namespace, name, ty, value) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    for a in rec.attributes {
        attr.execute(params![vis, st.namespace, a.name, a.ty, a.value])?;
    }
    Ok(())
}

/// Deletes a run's visibility record, if it has one.
pub(super) fn delete_visibility(tx: &Connection, key: &ExecKey) -> Result<()> {
    tx.prepare_cached(
        "DELETE FROM visibility_attributes WHERE vis IN \
         (SELECT id FROM visibility WHERE namespace = ?1 AND workflow_id = ?2 AND run_id = ?3)",
    )?
    .execute(params![key.namespace, key.workflow_id, key.run_id])?;
    tx.prepare_cached(
        "DELETE FROM visibility WHERE namespace = ?1 AND workflow_id = ?2 AND run_id = ?3",
    )?
    .execute(params![key.namespace, key.workflow_id, key.run_id])?;
    Ok(())
}

/// A stored row's custom attributes, as the filter's custom-attribute tests read them.
struct CustomAttributes(Option<SearchAttributes>);

impl Row for CustomAttributes {
    fn field(&self, col: &crate::visibility::query::Column) -> Option<Field> {
        attribute(&self.0, &col.field, col.ty)
    }
}

#[cfg(test)]
#[path = "visibility_store_tests.rs"]
mod tests;
