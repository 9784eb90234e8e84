//! Persistence: the SQLite store (namespaces, executions' mutable state, history events) and
//! the group-commit writer that makes every acknowledged change durable.
pub(crate) mod proto_serde;
pub(crate) mod store;
pub(crate) mod visibility_store;
pub(crate) mod writer;
