//! Hourglass's own protobuf messages and the shared contract of the `hourglass-core` C ABI.
//!
//! - [`bridge::v1`]: configuration messages that cross the C ABI (runtime, client, worker,
//!   replay input), generated from `hourglass/bridge/v1/bridge.proto` with prost via `protox`
//!   (no system `protoc`).
//! - [`abi`]: the `#[repr(C)]` types, status codes and ABI version both sides of the C ABI
//!   agree on, so `hourglass-core` (the library) and `hourglass-bridge` (the loader) cannot
//!   drift apart.

pub mod abi;

/// Messages of the `hourglass.bridge` protobuf package.
pub mod bridge {
    /// Version 1 of the bridge messages.
    pub mod v1 {
        #![allow(missing_docs)]
        include!(concat!(env!("OUT_DIR"), "/hourglass.bridge.v1.rs"));
    }
}

/// The `hourglass.external` protobuf package: the gRPC protocol between Hourglass and external
/// activity worker processes (handshake, execute with streamed heartbeats, cancel, health, and
/// the session stream carrying many executions),
/// generated from `hourglass/external/v1/external_worker.proto` with a tonic client and server.
pub mod external {
    /// Version 1 of the external-worker protocol.
    pub mod v1 {
        // A session request is usually an Execute; boxing it would cost an allocation per call.
        #![allow(missing_docs, clippy::large_enum_variant)]
        include!(concat!(env!("OUT_DIR"), "/hourglass.external.v1.rs"));
    }
}
