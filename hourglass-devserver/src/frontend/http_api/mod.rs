//! Temporal's HTTP API: the `google.api.http` routes of WorkflowService and
//! OperatorService, transcoded between Temporal's proto-JSON and the gRPC services in
//! process, as Temporal's frontend serves them (grpc-gateway over an inline client
//! connection, `service/frontend/http_api_server.go`).
//!
//! - Every rule and additional binding is served: `/namespaces/{ns}/workflows/{id}`,
//!   `/cluster/...`, `/system-info`, and their `/api/v1/...` twins (the Web UI's listener
//!   serves only the latter).
//! - JSON is Temporal's proto-JSON ([`proto_json`]); payloads are in shorthand unless the
//!   request's `Content-Type` / `Accept` is `application/json+no-payload-shorthand` (or
//!   `+pretty+no-payload-shorthand`) or the URL has `?noPayloadShorthand`; `?pretty` (or a
//!   `+pretty` type) indents the answer.
//! - Errors are Temporal's: the gRPC status as JSON (`{"code": 6, "message": "...",
//!   "details": [{"@type": "...", ...}]}`) with grpc-gateway's HTTP status for its code; a
//!   body that is not JSON or names an unknown field is InvalidArgument (400), an unknown
//!   path NotFound (404), a known path with another HTTP method Unimplemented (501), a
//!   body over 4 MiB InvalidArgument. A refused request changes nothing: it never reaches
//!   the RPC, or the RPC refused it.
//! - `/swagger.json` and `/openapi.yaml` serve the API's OpenAPI v2 and v3 documents.
//! - Deviation: answers carry `Content-Type: application/json` (Temporal's default
//!   marshaler writes `*`), and object keys come out sorted.
pub(crate) mod http_error;
pub(crate) mod inline_call;
pub(crate) mod payload_shorthand;
pub mod proto_json;
pub(crate) mod route_table;
pub(crate) mod transcode;

use crate::error::{DevServerError, Result};
use crate::frontend::authorization::ApiKeys;
use crate::frontend::operator_service::Operator;
use crate::frontend::workflow_service::Service;
use crate::generated::workflow_service_server::WorkflowServiceServer;
use crate::generated_operator::operator_service_server::OperatorServiceServer;
use axum::body::Body as AxumBody;
use axum::extract::State;
use axum::response::Response;
use http_body_util::{BodyExt, Limited};
use http_error::{JsonFormat, json_response, status_response};
use inline_call::Grpc;
use prost::Message;
use route_table::{Match, RouteTable};
use std::sync::Arc;
use tonic::Status;

/// The largest request body taken (Temporal's `MaxHTTPAPIRequestBytes`).
const MAX_REQUEST_BYTES: usize = 4 * 1024 * 1024;

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
    inner: Arc<Inner>,
}

struct Inner {
    grpc: Grpc,
    all: RouteTable,
    api_v1: RouteTable,
}

impl HttpApi {
    /// Reads the route table from the services' descriptors. Fails only if the
    /// compiled-in descriptors are unreadable (a broken build).
    pub(crate) fn new(
        svc: WorkflowServiceServer<Service>,
        operator: OperatorServiceServer<Operator>,
        auth: tonic::service::InterceptorLayer<ApiKeys>,
    ) -> Result<Self> {
        let routes = tonic::service::Routes::new(svc).add_service(operator);
        let grpc = tower::Layer::layer(&auth, routes);
        let all =
            RouteTable::load().map_err(|e| DevServerError::Config(format!("HTTP API: {e}")))?;
        Ok(Self {
            inner: Arc::new(Inner {
                grpc,
                api_v1: all.only(Bindings::ApiV1),
                all,
            }),
        })
    }

    /// The router serving `bindings` (every path it does not know answers Temporal's
    /// NotFound JSON, so it is meant to be the last, fallback, router).
    pub(crate) fn router(&self, bindings: Bindings) -> axum::Router {
        let router = axum::Router::new();
        let router = match bindings {
            // Temporal's frontend serves the API's OpenAPI documents beside it.
            Bindings::All => router
                .route("/swagger.json", axum::routing::get(openapi_v2))
                .route("/openapi.yaml", axum::routing::get(openapi_v3)),
            Bindings::ApiV1 => router,
        };
        router.fallback(handle).with_state((self.clone(), bindings))
    }

    fn table(&self, bindings: Bindings) -> &RouteTable {
        match bindings {
            Bindings::All => &self.inner.all,
            Bindings::ApiV1 => &self.inner.api_v1,
        }
    }

    /// Answers one HTTP request.
    pub(crate) async fn serve(
        &self,
        bindings: Bindings,
        request: http::Request<AxumBody>,
    ) -> Response {
        let (parts, body) = request.into_parts();
        let (input, output) = JsonFormat::of(&parts.headers, parts.uri.query());
        let (route, vars) = match self.table(bindings).find(&parts.method, parts.uri.path()) {
            Match::Found(route, vars) => (route, vars),
            Match::NotFound => return status_response(&Status::not_found("Not Found"), output),
            Match::MethodNotAllowed => {
                return status_response(&Status::unimplemented("Method Not Allowed"), output);
            }
        };
        let body = match Limited::new(body, MAX_REQUEST_BYTES).collect().await {
            Ok(b) => b.to_bytes(),
            Err(e) => {
                let msg = format!("cannot read the request body: {e}");
                return status_response(&Status::invalid_argument(msg), output);
            }
        };
        let message = match transcode::request_message(
            route,
            &vars,
            parts.uri.query(),
            &body,
            input.shorthand,
        ) {
            Ok(m) => m,
            Err(e) => return status_response(&Status::invalid_argument(e), output),
        };
        tracing::debug!(
            http_method = %parts.method,
            path = parts.uri.path(),
            rpc = route.method.name(),
            "HTTP API call"
        );
        let grpc_path = route.grpc_path();
        match inline_call::call(
            &self.inner.grpc,
            &grpc_path,
            &message.encode_to_vec(),
            &parts.headers,
        )
        .await
        {
            Ok(bytes) => {
                match proto_json::bytes_to_json(&route.method.output(), &bytes, output.shorthand) {
                    Ok(json) => json_response(http::StatusCode::OK, &json, output),
                    Err(e) => status_response(&Status::internal(e.to_string()), output),
                }
            }
            Err(status) => status_response(&status, output),
        }
    }
}

/// The OpenAPI v2 document of the Temporal API this server was built with.
async fn openapi_v2() -> impl axum::response::IntoResponse {
    let doc: &'static str = include_str!(env!("HOURGLASS_OPENAPI_V2"));
    (
        [(
            http::header::CONTENT_TYPE,
            "application/vnd.oai.openapi+json;version=2.0",
        )],
        doc,
    )
}

/// The OpenAPI v3 document of the Temporal API this server was built with.
async fn openapi_v3() -> impl axum::response::IntoResponse {
    let doc: &'static str = include_str!(env!("HOURGLASS_OPENAPI_V3"));
    (
        [(
            http::header::CONTENT_TYPE,
            "application/vnd.oai.openapi;version=3.0",
        )],
        doc,
    )
}

async fn handle(
    State((api, bindings)): State<(HttpApi, Bindings)>,
    request: http::Request<AxumBody>,
) -> Response {
    api.serve(bindings, request).await
}
