//! The frontend service: gRPC handlers that decode requests, validate them and call the
//! engine. It holds no state.
pub mod authorization;
pub(crate) mod batch_service;
pub(crate) mod blob_size;
pub(crate) mod grpc_timeout;
pub(crate) mod http_api;
pub(crate) mod http_server;
pub(crate) mod multi_operation;
pub(crate) mod operator_service;
pub(crate) mod test_service;
pub mod tls;
pub(crate) mod validation;
pub(crate) mod workflow_service;
