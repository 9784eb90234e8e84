//! Safe async Rust over the `hourglass-core` C ABI. Not yet implemented (see the core/bridge issue).
