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

/// A run's index row: what start-up needs without loading the run.
#[derive(Debug, Clone)]
pub struct IndexRow {
    /// The run.
    pub key: ExecKey,
    /// Whether it is still running.
    pub open: bool,
    /// Start time (ms).
    pub start_ms: i64,
    /// Close time (ms), once closed.
    pub close_ms: Option<i64>,
}

fn decode_state(ns: &str, wf: &str, run: &str, json: &str) -> Result<Execution> {
    serde_json::from_str(json).map_err(|e| DevServerError::Corrupt {
        what: format!("{ns}/{wf}/{run}"),
        detail: e.to_string(),
    })
}

/// The SQLite store.
pub struct Store {
    pub(super) conn: Connection,
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
             CREATE TABLE IF NOT EXISTS schedules (
                namespace TEXT NOT NULL, schedule_id TEXT NOT NULL, data TEXT NOT NULL,
                PRIMARY KEY (namespace, schedule_id));
             CREATE TABLE IF NOT EXISTS batch_jobs (
                namespace TEXT NOT NULL, job_id TEXT NOT NULL, data TEXT NOT NULL,
                PRIMARY KEY (namespace, job_id));
             CREATE TABLE IF NOT EXISTS executions (
                 namespace TEXT NOT NULL, workflow_id TEXT NOT NULL, run_id TEXT NOT NULL,
                 state TEXT NOT NULL, PRIMARY KEY (namespace, workflow_id, run_id));
             CREATE TABLE IF NOT EXISTS events (
                 namespace TEXT NOT NULL, workflow_id TEXT NOT NULL, run_id TEXT NOT NULL,
                 event_id INTEGER NOT NULL, data BLOB NOT NULL,
                 PRIMARY KEY (namespace, workflow_id, run_id, event_id));",
        )
        .map_err(err)?;
        let mut store = Self { conn };
        store
            .migrate_index_columns()
            .and_then(|()| store.create_visibility())
            .map_err(|e| DevServerError::Corrupt {
                what: format!("database {}", path.display()),
                detail: e.to_string(),
            })?;
        Ok(store)
    }

    /// Opens a second, read-only connection on a database file (SQLite WAL lets it read
    /// while the writer thread writes): closed runs are read through it on demand.
    pub fn open_reader(path: &Path) -> Result<Self> {
        let conn = Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .map_err(|source| DevServerError::OpenDatabase {
                path: path.to_path_buf(),
                source,
            })?;
        Ok(Self { conn })
    }

    /// Adds the index columns (`open`, `start_ms`, `close_ms`) to a database written before
    /// they existed, filled from each run's state, so start-up can load open runs only.
    fn migrate_index_columns(&self) -> Result<()> {
        let has_open = self
            .conn
            .prepare("SELECT 1 FROM pragma_table_info('executions') WHERE name = 'open'")?
            .exists([])?;
        if has_open {
            return Ok(());
        }
        self.conn.execute_batch(
            "ALTER TABLE executions ADD COLUMN open INTEGER NOT NULL DEFAULT 1;
             ALTER TABLE executions ADD COLUMN start_ms INTEGER NOT NULL DEFAULT 0;
             ALTER TABLE executions ADD COLUMN close_ms INTEGER;",
        )?;
        let rows: Vec<(String, String, String, String)> = {
            let mut st = self
                .conn
                .prepare("SELECT namespace, workflow_id, run_id, state FROM executions")?;
            st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
                .collect::<Result<_, _>>()?
        };
        let mut up = self.conn.prepare(
            "UPDATE executions SET open=?4, start_ms=?5, close_ms=?6 WHERE namespace=?1 AND workflow_id=?2 AND run_id=?3",
        )?;
        for (ns, wf, run, json) in rows {
            let state = decode_state(&ns, &wf, &run, &json)?;
            up.execute(params![
                ns,
                wf,
                run,
                state.is_open(),
                state.start_ms,
                state.close_ms
            ])?;
        }
        tracing::info!("database migrated: executions carry open/start/close columns");
        Ok(())
    }

    /// Every run's index row (namespace, workflow id, run id, open, start, close): enough
    /// to find each workflow id's current run and arm closed runs' retention without
    /// loading them.
    pub fn load_index(&self) -> Result<Vec<IndexRow>> {
        let mut st = self.conn.prepare(
            "SELECT namespace, workflow_id, run_id, open, start_ms, close_ms FROM executions",
        )?;
        let rows = st.query_map([], |r| {
            Ok(IndexRow {
                key: ExecKey {
                    namespace: r.get(0)?,
                    workflow_id: r.get(1)?,
                    run_id: r.get(2)?,
                },
                open: r.get(3)?,
                start_ms: r.get(4)?,
                close_ms: r.get(5)?,
            })
        })?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    /// One run with its history, or `None` when it is not stored.
    pub fn load_execution(&self, key: &ExecKey) -> Result<Option<StoredExecution>> {
        let json: Option<String> = self
            .conn
            .prepare_cached(
                "SELECT state FROM executions WHERE namespace=?1 AND workflow_id=?2 AND run_id=?3",
            )?
            .query_row(params![key.namespace, key.workflow_id, key.run_id], |r| {
                r.get(0)
            })
            .map(Some)
            .or_else(|e| match e {
                rusqlite::Error::QueryReturnedNoRows => Ok(None),
                e => Err(e),
            })?;
        let Some(json) = json else { return Ok(None) };
        let state = decode_state(&key.namespace, &key.workflow_id, &key.run_id, &json)?;
        let events = self.load_events(key)?;
        Ok(Some(StoredExecution { state, events }))
    }

    fn load_events(&self, key: &ExecKey) -> Result<Vec<HistoryEvent>> {
        let mut ev_st = self.conn.prepare_cached(
            "SELECT event_id, data FROM events WHERE namespace=?1 AND workflow_id=?2 AND run_id=?3 ORDER BY event_id",
        )?;
        let evs = ev_st.query_map(params![key.namespace, key.workflow_id, key.run_id], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?))
        })?;
        let mut events = Vec::new();
        for e in evs {
            let (id, data) = e?;
            let ev =
                HistoryEvent::decode(data.as_slice()).map_err(|e| DevServerError::Corrupt {
                    what: format!(
                        "{}/{}/{} event {id}",
                        key.namespace, key.workflow_id, key.run_id
                    ),
                    detail: e.to_string(),
                })?;
            events.push(ev);
        }
        Ok(events)
    }

    /// All schedules as `(namespace, schedule id, JSON)`.
    pub fn load_schedules(&self) -> Result<Vec<(String, String, String)>> {
        let mut st = self
            .conn
            .prepare("SELECT namespace, schedule_id, data FROM schedules")?;
        let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    /// All batch jobs as `(namespace, job id, JSON)`.
    pub fn load_batch_jobs(&self) -> Result<Vec<(String, String, String)>> {
        let mut st = self
            .conn
            .prepare("SELECT namespace, job_id, data FROM batch_jobs")?;
        let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    /// Loads all namespaces as (name, JSON data).
    pub fn load_namespaces(&self) -> Result<Vec<(String, String)>> {
        let mut st = self.conn.prepare("SELECT name, data FROM namespaces")?;
        let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    /// Loads every open run with its history (closed ones are read on demand).
    pub fn load_open_executions(&self) -> Result<Vec<StoredExecution>> {
        let keys: Vec<ExecKey> = self
            .load_index()?
            .into_iter()
            .filter(|r| r.open)
            .map(|r| r.key)
            .collect();
        let mut out = Vec::with_capacity(keys.len());
        for k in keys {
            if let Some(se) = self.load_execution(&k)? {
                out.push(se);
            }
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
                "INSERT OR REPLACE INTO executions (namespace, workflow_id, run_id, state, open, start_ms, close_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?;
            for state in last.values().filter(|s| !s.is_open()) {
                super::visibility_store::put_visibility(&tx, state)?;
            }
            for state in last.values() {
                let json = serde_json::to_string(state).map_err(|e| DevServerError::Corrupt {
                    what: format!("{}/{}/{}", state.namespace, state.workflow_id, state.run_id),
                    detail: e.to_string(),
                })?;
                ex_st.execute(params![
                    state.namespace,
                    state.workflow_id,
                    state.run_id,
                    json,
                    state.is_open(),
                    state.start_ms,
                    state.close_ms
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
                super::visibility_store::delete_visibility(&tx, k)?;
                del_ev.execute(params![k.namespace, k.workflow_id, k.run_id])?;
            }
            let mut put_sch = tx.prepare_cached(
                "INSERT OR REPLACE INTO schedules (namespace, schedule_id, data) VALUES (?1, ?2, ?3)",
            )?;
            let mut del_sch =
                tx.prepare_cached("DELETE FROM schedules WHERE namespace=?1 AND schedule_id=?2")?;
            for (ns, id, data) in batches.iter().flat_map(|b| &b.schedules) {
                match data {
                    Some(d) => put_sch.execute(params![ns, id, d])?,
                    None => del_sch.execute(params![ns, id])?,
                };
            }
            let mut put_job = tx.prepare_cached(
                "INSERT OR REPLACE INTO batch_jobs (namespace, job_id, data) VALUES (?1, ?2, ?3)",
            )?;
            let mut del_job =
                tx.prepare_cached("DELETE FROM batch_jobs WHERE namespace=?1 AND job_id=?2")?;
            for (ns, id, data) in batches.iter().flat_map(|b| &b.batch_jobs) {
                match data {
                    Some(d) => put_job.execute(params![ns, id, d])?,
                    None => del_job.execute(params![ns, id])?,
                };
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
    /// Schedules to upsert `(namespace, id, Some(JSON))` or delete (`None`).
    pub schedules: Vec<(String, String, Option<String>)>,
    /// Batch jobs to upsert `(namespace, job id, Some(JSON))` or delete (`None`).
    pub batch_jobs: Vec<(String, String, Option<String>)>,
}

impl Batch {
    /// True when there is nothing to write.
    pub fn is_empty(&self) -> bool {
        self.namespaces.is_empty()
            && self.executions.is_empty()
            && self.deletions.is_empty()
            && self.schedules.is_empty()
            && self.batch_jobs.is_empty()
    }
}

/// Whether a path can hold a database (used for early, clear errors).
#[allow(dead_code)]
pub fn check_parent(path: &Path) -> bool {
    path.parent()
        .map(|p| p.as_os_str().is_empty() || p.exists())
        .unwrap_or(true)
}
