//! The Temporal core behind a versioned C ABI. Not yet implemented (see the core/bridge issue).
