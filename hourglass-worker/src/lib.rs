//! The supervised Temporal worker subsystem. Not yet implemented (see the worker issue).
