//! Locating (and building when missing) `libhourglass_core.so` for tests. Filled by the core/bridge issue.
