//! The Web UI: server-rendered pages over the frontend services.
use crate::engine::Engine;
use crate::frontend::http_api::HttpApi;
use crate::frontend::operator_service::Operator;
use crate::frontend::workflow_service::Service;
use std::sync::Arc;

/// What the pages read from: the same gRPC services (called in process) and HTTP API
/// that remote callers use.
#[derive(Clone)]
pub(crate) struct UiState {
    /// WorkflowService, called in process.
    #[allow(dead_code)]
    pub(crate) workflow: Service,
    /// OperatorService, called in process.
    #[allow(dead_code)]
    pub(crate) operator: Operator,
    /// The HTTP API (for transcoding to proto-JSON).
    #[allow(dead_code)]
    pub(crate) api: HttpApi,
}

impl UiState {
    /// The state over an engine.
    pub(crate) fn new(engine: Arc<Engine>, api: HttpApi) -> Self {
        Self {
            workflow: Service::new(engine.clone()),
            operator: Operator::new(engine),
            api,
        }
    }
}

/// The Web UI's routes.
pub(crate) fn router(_state: UiState) -> axum::Router {
    axum::Router::new()
}
