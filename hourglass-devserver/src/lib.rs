//! Embedded Temporal-compatible dev server. Not yet implemented (see the dev-server issue).
