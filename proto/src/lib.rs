//! Hourglass's own protobuf messages (bridge configuration, external-worker protocol).
//!
//! Not yet generated: the messages arrive with the core/bridge issue. Nothing here is usable yet.
