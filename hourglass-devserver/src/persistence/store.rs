//! SQLite persistence: one database (a file in WAL mode, or `:memory:`) holding namespaces,
//! each execution's mutable state and its history events. Every RPC writes its changes in
//! one transaction, so a SIGKILL loses at most the RPC in flight (which the client retries).
use crate::error::{DevServerError, Result};
use crate::history::mutable_state::{ExecKey, Execution};
use prost::Message;
use rusqlite::{Connection, params};
use std::path::{Path, PathBuf};
use temporalio_protos::temporal::api::history::v1::HistoryEvent;

/// Where the server keeps its state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Database {
    /// A SQLite file (created if missing), opened in WAL mode. Survives restarts and SIGKILL.
    Path(PathBuf),
    /// State kept in memory only: nothing is written anywhere, nothing survives the process.
    InMemory,
}

/// A stored execution: its mutable state and full history.
pub struct StoredExecution {
    /// The mutable state.
    pub state: Execution,
    /// All history events in order.
    pub events: Vec<HistoryEvent>,
}

/// The SQLite store.
pub struct Store {
    conn: Connection,
}

impl Store {
    /// Opens (creating and migrating) the database.
    pub fn open(db: &Database) -> Result<Self> {
        let path = match db {
            Database::Path(p) => p.clone(),
            Database::InMemory => PathBuf::from(":memory:"),
        };
        let err = |source| DevServerError::OpenDatabase {
            path: path.clone(),
            source,
        };
        let conn = match db {
            Database::Path(p) => Connection::open(p).map_err(err)?,
            Database::InMemory => Connection::open_in_memory().map_err(err)?,
        };
        if matches!(db, Database::Path(_)) {
            conn.pragma_update(None, "journal_mode", "WAL")
                .map_err(err)?;
            conn.pragma_update(None, "synchronous", "NORMAL")
                .map_err(err)?;
        }
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS namespaces (name TEXT PRIMARY KEY, data TEXT NOT NULL);
             CREATE TABLE IF NOT EXISTS executions (
                 namespace TEXT NOT NULL, workflow_id TEXT NOT NULL, run_id TEXT NOT NULL,
                 state TEXT NOT NULL, PRIMARY KEY (namespace, workflow_id, run_id));
             CREATE TABLE IF NOT EXISTS events (
                 namespace TEXT NOT NULL, workflow_id TEXT NOT NULL, run_id TEXT NOT NULL,
                 event_id INTEGER NOT NULL, data BLOB NOT NULL,
                 PRIMARY KEY (namespace, workflow_id, run_id, event_id));",
        )
        .map_err(err)?;
        Ok(Self { conn })
    }

    /// Loads all namespaces as (name, JSON data).
    pub fn load_namespaces(&self) -> Result<Vec<(String, String)>> {
        let mut st = self.conn.prepare("SELECT name, data FROM namespaces")?;
        let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    /// Loads every execution with its history.
    pub fn load_executions(&self) -> Result<Vec<StoredExecution>> {
        let mut st = self
            .conn
            .prepare("SELECT namespace, workflow_id, run_id, state FROM executions")?;
        let rows = st.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
            ))
        })?;
        let mut ev_st = self.conn.prepare(
            "SELECT event_id, data FROM events WHERE namespace=?1 AND workflow_id=?2 AND run_id=?3 ORDER BY event_id",
        )?;
        let mut out = Vec::new();
        for row in rows {
            let (ns, wf, run, json) = row?;
            let what = || format!("{ns}/{wf}/{run}");
            let state: Execution =
                serde_json::from_str(&json).map_err(|e| DevServerError::Corrupt {
                    what: what(),
                    detail: e.to_string(),
                })?;
            let evs = ev_st.query_map(params![ns, wf, run], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?))
            })?;
            let mut events = Vec::new();
            for e in evs {
                let (id, data) = e?;
                let ev =
                    HistoryEvent::decode(data.as_slice()).map_err(|e| DevServerError::Corrupt {
                        what: format!("{} event {id}", what()),
                        detail: e.to_string(),
                    })?;
                events.push(ev);
            }
            out.push(StoredExecution { state, events });
        }
        Ok(out)
    }

    /// Writes batches (each one RPC's changes, in order) in a single transaction. Only the
    /// last state of each execution is written; all new events are.
    pub fn write_batches(&mut self, batches: &[Batch]) -> Result<()> {
        if batches.iter().all(Batch::is_empty) {
            return Ok(());
        }
        let mut last: std::collections::HashMap<(&str, &str, &str), &Execution> =
            std::collections::HashMap::new();
        for b in batches {
            for (st, _) in &b.executions {
                last.insert(
                    (
                        st.namespace.as_str(),
                        st.workflow_id.as_str(),
                        st.run_id.as_str(),
                    ),
                    st,
                );
            }
        }
        let tx = self.conn.transaction()?;
        {
            let mut ns_st = tx
                .prepare_cached("INSERT OR REPLACE INTO namespaces (name, data) VALUES (?1, ?2)")?;
            let mut ev_st = tx.prepare_cached(
                "INSERT OR REPLACE INTO events (namespace, workflow_id, run_id, event_id, data) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?;
            for b in batches {
                for (name, data) in &b.namespaces {
                    ns_st.execute(params![name, data])?;
                }
                for (state, events) in &b.executions {
                    for ev in events {
                        ev_st.execute(params![
                            state.namespace,
                            state.workflow_id,
                            state.run_id,
                            ev.event_id,
                            ev.encode_to_vec()
                        ])?;
                    }
                }
            }
            let mut ex_st = tx.prepare_cached(
                "INSERT OR REPLACE INTO executions (namespace, workflow_id, run_id, state) VALUES (?1, ?2, ?3, ?4)",
            )?;
            for state in last.values() {
                let json = serde_json::to_string(state).map_err(|e| DevServerError::Corrupt {
                    what: format!("{}/{}/{}", state.namespace, state.workflow_id, state.run_id),
                    detail: e.to_string(),
                })?;
                ex_st.execute(params![
                    state.namespace,
                    state.workflow_id,
                    state.run_id,
                    json
                ])?;
            }
        }
        {
            let mut del_ex = tx.prepare_cached(
                "DELETE FROM executions WHERE namespace=?1 AND workflow_id=?2 AND run_id=?3",
            )?;
            let mut del_ev = tx.prepare_cached(
                "DELETE FROM events WHERE namespace=?1 AND workflow_id=?2 AND run_id=?3",
            )?;
            for k in batches.iter().flat_map(|b| &b.deletions) {
                del_ex.execute(params![k.namespace, k.workflow_id, k.run_id])?;
                del_ev.execute(params![k.namespace, k.workflow_id, k.run_id])?;
            }
        }
        tx.commit()?;
        Ok(())
    }
}

/// The changes one RPC makes, written atomically by [`Store::write_batch`].
#[derive(Default)]
pub struct Batch {
    /// Namespaces to upsert (name, JSON).
    pub namespaces: Vec<(String, String)>,
    /// Executions to upsert with their new events.
    pub executions: Vec<(Execution, Vec<HistoryEvent>)>,
    /// Executions to delete with their history (retention), after the upserts.
    pub deletions: Vec<ExecKey>,
}

impl Batch {
    /// True when there is nothing to write.
    pub fn is_empty(&self) -> bool {
        self.namespaces.is_empty() && self.executions.is_empty() && self.deletions.is_empty()
    }
}

/// Whether a path can hold a database (used for early, clear errors).
#[allow(dead_code)]
pub fn check_parent(path: &Path) -> bool {
    path.parent()
        .map(|p| p.as_os_str().is_empty() || p.exists())
        .unwrap_or(true)
}
