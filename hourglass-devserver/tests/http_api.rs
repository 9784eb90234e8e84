//! Temporal's HTTP API on the dev server, with real HTTP requests: the scenarios of
//! `tests/python/http_api.py` (a worker of the official Python SDK runs the workflows while
//! the script drives them over HTTP), and the listener's own rules checked from Rust: API
//! keys, turning the API off, a port in use, and the Web UI listener's `/api/v1` routes.
mod common;

use bytes::Bytes;
use common::python_scenario;
use hourglass_devserver::{ApiKeys, Database, DevServer, DevServerError};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use std::net::SocketAddr;
use std::time::Duration;

async fn run_scenario(name: &str) {
    let server = DevServer::builder()
        .port(0)
        .database(Database::InMemory)
        .search_attribute("PreRegistered", "Int")
        .start()
        .await
        .unwrap();
    let grpc = server.addr().to_string();
    let http = server
        .http_addr()
        .expect("the HTTP API is on by default")
        .to_string();
    let args = vec![name.to_string(), grpc];
    let envs = vec![("HOURGLASS_HTTP_API".to_string(), http)];
    python_scenario("http_api.py", args, envs, Duration::from_secs(180)).await;
    server.shutdown().await.unwrap();
}

macro_rules! scenarios {
    ($($name:ident),* $(,)?) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            run_scenario(stringify!($name)).await;
        }
    )*};
}

scenarios!(
    http_basics,
    http_cancel_terminate,
    http_cluster_and_namespaces,
    http_errors,
);

/// (status, body) of a GET.
async fn get(addr: SocketAddr, path: &str, auth: Option<&str>) -> (u16, String) {
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let mut req = http::Request::get(format!("http://{addr}{path}"));
    if let Some(a) = auth {
        req = req.header("authorization", a);
    }
    let resp = client
        .request(req.body(Full::default()).unwrap())
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

#[tokio::test]
async fn http_requests_pass_the_api_key_check_as_grpc_calls_do() {
    let keys = ApiKeys::new(["sesame"]).unwrap();
    let server = DevServer::builder()
        .port(0)
        .api_keys(keys)
        .start()
        .await
        .unwrap();
    let addr = server.http_addr().unwrap();
    let (status, body) = get(addr, "/api/v1/namespaces", None).await;
    assert_eq!(status, 401, "{body}");
    let err: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(err["code"], 16, "{body}");
    let (status, _) = get(addr, "/api/v1/namespaces", Some("Bearer wrong")).await;
    assert_eq!(status, 401);
    let (status, body) = get(addr, "/api/v1/namespaces", Some("Bearer sesame")).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"default\""), "{body}");
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn the_web_ui_listener_serves_only_the_api_v1_routes() {
    let server = DevServer::builder()
        .port(0)
        .ui_port(0)
        .start()
        .await
        .unwrap();
    let ui = server.ui_addr().unwrap();
    let (status, body) = get(ui, "/api/v1/system-info", None).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = get(ui, "/cluster/namespaces", None).await;
    assert_eq!(status, 404, "{body}");
    let (status, _) = get(server.http_addr().unwrap(), "/cluster/namespaces", None).await;
    assert_eq!(status, 200);
    assert_eq!(
        get(ui, "/swagger.json", None).await.0,
        404,
        "documents only on the API port"
    );
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn the_openapi_documents_of_the_api_are_served() {
    let server = DevServer::builder().port(0).start().await.unwrap();
    let addr = server.http_addr().unwrap();
    let (status, body) = get(addr, "/swagger.json", None).await;
    assert_eq!(status, 200);
    let spec: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(
        spec["paths"]["/api/v1/namespaces/{namespace}/workflows"].is_object(),
        "{}",
        &body[..200]
    );
    let (status, body) = get(addr, "/openapi.yaml", None).await;
    assert_eq!(status, 200);
    assert!(
        body.starts_with("# Generated") || body.contains("openapi: 3"),
        "{}",
        &body[..200]
    );
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn the_http_api_can_be_turned_off_and_a_port_in_use_is_an_error() {
    let off = DevServer::builder()
        .port(0)
        .without_http_api()
        .start()
        .await
        .unwrap();
    assert_eq!(off.http_addr(), None);
    assert_eq!(off.ui_addr(), None);
    let taken = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = taken.local_addr().unwrap().port();
    let err = DevServer::builder()
        .port(0)
        .http_port(port)
        .start()
        .await
        .err()
        .expect("a port in use fails the start");
    assert!(matches!(err, DevServerError::Bind { .. }), "{err}");
    assert!(err.to_string().contains(&port.to_string()), "{err}");
    off.shutdown().await.unwrap();
}
