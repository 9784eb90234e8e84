//! The `OperatorService` gRPC implementation (served on the WorkflowService port, behind the
//! same API-key check): the search-attribute registry. Its other RPCs (Nexus endpoints,
//! clusters, namespace deletion) answer `Unimplemented`.
use crate::engine::Engine;
use crate::generated_operator::operator_service_server::OperatorService;
use std::sync::Arc;
use temporalio_protos::temporal::api::operatorservice::v1 as op;
use tonic::{Request, Response, Status};

/// The gRPC operator service over an engine.
#[derive(Clone)]
pub struct Operator {
    engine: Arc<Engine>,
}

impl Operator {
    /// Wraps an engine.
    pub fn new(engine: Arc<Engine>) -> Self {
        Self { engine }
    }
}

#[tonic::async_trait]
impl OperatorService for Operator {
    async fn add_search_attributes(
        &self,
        r: Request<op::AddSearchAttributesRequest>,
    ) -> Result<Response<op::AddSearchAttributesResponse>, Status> {
        self.engine
            .add_search_attributes(r.into_inner())
            .await
            .map(|_| Response::new(op::AddSearchAttributesResponse {}))
    }

    async fn remove_search_attributes(
        &self,
        r: Request<op::RemoveSearchAttributesRequest>,
    ) -> Result<Response<op::RemoveSearchAttributesResponse>, Status> {
        self.engine
            .remove_search_attributes(r.into_inner())
            .await
            .map(|_| Response::new(op::RemoveSearchAttributesResponse {}))
    }

    async fn list_search_attributes(
        &self,
        r: Request<op::ListSearchAttributesRequest>,
    ) -> Result<Response<op::ListSearchAttributesResponse>, Status> {
        self.engine
            .list_search_attributes(r.into_inner())
            .await
            .map(Response::new)
    }
}
