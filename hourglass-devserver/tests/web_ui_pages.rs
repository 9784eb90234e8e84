//! The Web UI's pages over real HTTP: what they show of real server state, and every error
//! path (unknown namespace, workflow or schedule, a bad query, a malformed page token).
//! Browser tests of the same pages live in hourglass-cli/tests/web_ui.rs.
mod common;

use bytes::Bytes;
use common::*;
use hourglass_devserver::UiExtension;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use std::collections::HashMap;
use std::net::SocketAddr;
use temporalio_common::protos::temporal::api::common::v1::{Payload, Payloads};

async fn get(addr: SocketAddr, path: &str) -> (u16, String, String) {
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let req = http::Request::get(format!("http://{addr}{path}"))
        .body(Full::default())
        .unwrap();
    let resp = client.request(req).await.unwrap();
    let status = resp.status().as_u16();
    let ctype = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    (status, ctype, String::from_utf8_lossy(&body).into_owned())
}

async fn ui_server(ext: Option<UiExtension>) -> (RunningServer, C, SocketAddr) {
    let mut b = DevServer::builder()
        .port(0)
        .ui_port(0)
        .database(Database::InMemory);
    if let Some(e) = ext {
        b = b.ui_extension(e);
    }
    let s = b.start().await.unwrap();
    let c = WorkflowServiceClient::connect(s.url()).await.unwrap();
    let ui = s.ui_addr().unwrap();
    (s, c, ui)
}

fn json_payload(text: &str) -> Payloads {
    Payloads {
        payloads: vec![Payload {
            metadata: HashMap::from([("encoding".to_string(), b"json/plain".to_vec())]),
            data: text.as_bytes().to_vec(),
            ..Default::default()
        }],
    }
}

async fn start_with_input(c: &mut C, id: &str) -> String {
    c.start_workflow_execution(StartWorkflowExecutionRequest {
        namespace: "default".into(),
        workflow_id: id.into(),
        workflow_type: Some(WorkflowType {
            name: "PageType".into(),
        }),
        task_queue: tq(),
        input: Some(json_payload(r#"{"order":17}"#)),
        request_id: format!("req-{id}"),
        ..Default::default()
    })
    .await
    .unwrap()
    .into_inner()
    .run_id
}

#[tokio::test]
async fn pages_show_what_the_server_holds() {
    let (server, mut c, ui) = ui_server(None).await;
    let run = start_with_input(&mut c, "page-wf-1").await;
    start_with_input(&mut c, "page-wf-2").await;

    let (status, _, body) = get(ui, "/namespaces").await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("/namespaces/default/workflows"), "{body}");

    let (status, _, body) = get(ui, "/namespaces/default/workflows").await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains("page-wf-1") && body.contains("page-wf-2"),
        "{body}"
    );
    assert!(body.contains("<b>2</b> total"), "counts: {body}");
    assert!(body.contains("Running</span> 2"), "status counts: {body}");

    // Paging: one row per page would need the API's page size; the narrowing query works.
    let (_, _, body) = get(
        ui,
        "/namespaces/default/workflows?query=WorkflowId%20%3D%20%27page-wf-2%27",
    )
    .await;
    assert!(
        body.contains("page-wf-2") && !body.contains("page-wf-1<"),
        "{body}"
    );

    let (status, _, body) = get(ui, "/namespaces/default/workflows/page-wf-1").await;
    assert_eq!(status, 303, "the latest run's page: {body}");
    let path = format!("/namespaces/default/workflows/page-wf-1/{run}");
    let (status, _, body) = get(ui, &path).await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains("&#34;order&#34;: 17"),
        "input decoded: {body}"
    );
    assert!(
        body.contains("PageType") && body.contains("proto-tq"),
        "{body}"
    );
    assert!(body.contains("WorkflowExecutionStarted"), "events: {body}");
    assert!(
        body.contains("signal-form"),
        "a running workflow can be signalled"
    );

    let (status, _, body) = get(ui, "/namespaces/default/task-queues/proto-tq").await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("backlog-Workflow"), "{body}");

    let (status, _, body) = get(ui, "/namespaces/default/schedules").await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("No schedules"), "{body}");

    let (status, ctype, body) = get(ui, "/assets/style.css").await;
    assert_eq!((status, ctype.as_str()), (200, "text/css; charset=utf-8"));
    assert!(body.contains(".timeline"));
    let (status, ctype, _) = get(ui, "/assets/app.js").await;
    assert_eq!(
        (status, ctype.as_str()),
        (200, "text/javascript; charset=utf-8")
    );
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn the_event_list_is_paged_never_the_whole_history() {
    let (server, mut c, ui) = ui_server(None).await;
    let run = start_with_input(&mut c, "many-signals").await;
    for i in 0..150 {
        c.signal_workflow_execution(SignalWorkflowExecutionRequest {
            namespace: "default".into(),
            workflow_execution: Some(WorkflowExecution {
                workflow_id: "many-signals".into(),
                run_id: String::new(),
            }),
            signal_name: "s".into(),
            request_id: format!("sig-{i}"),
            ..Default::default()
        })
        .await
        .unwrap();
    }
    let path = format!("/namespaces/default/workflows/many-signals/{run}");
    let (status, _, body) = get(ui, &path).await;
    assert_eq!(status, 200);
    assert_eq!(
        body.matches("class=\"event\"").count(),
        100,
        "one page of events"
    );
    let more = body
        .split("data-more=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .expect("a load-more button")
        .replace("&#x2f;", "/")
        .replace("&#x3d;", "=")
        .replace("&#x3f;", "?");
    let (status, _, next) = get(ui, &more).await;
    assert_eq!(status, 200, "{more}: {next}");
    assert!(next.matches("class=\"event\"").count() > 0, "{next}");
    assert!(
        next.contains("id=\"event-101\""),
        "the next page starts after the first"
    );
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn errors_show_the_servers_message_with_a_matching_status() {
    let (server, _c, ui) = ui_server(None).await;
    // A bad query: the page renders, the message is beside the box.
    let (status, _, body) = get(ui, "/namespaces/default/workflows?query=WorkflowType%20%3D").await;
    assert_eq!(status, 200, "{body}");
    let msg = body
        .split("id=\"query-error\">")
        .nth(1)
        .and_then(|r| r.split("</span>").next())
        .unwrap();
    assert!(msg.contains("invalid query"), "{msg}");
    // Unknown namespace, workflow, schedule: the server's NotFound.
    let (status, _, body) = get(ui, "/namespaces/nope/workflows").await;
    assert_eq!(status, 404, "{body}");
    assert!(body.contains("nope"), "{body}");
    let (status, _, body) = get(ui, "/namespaces/default/workflows/missing/some-run").await;
    assert!(status == 404 || status == 400, "{status}: {body}");
    assert!(body.contains("page-error"), "{body}");
    let (status, _, body) = get(ui, "/namespaces/default/workflows/missing").await;
    assert_eq!(status, 404, "{body}");
    let (status, _, body) = get(ui, "/namespaces/default/schedules/missing").await;
    assert_eq!(status, 404, "{body}");
    // A malformed page token is refused before any call.
    for path in [
        "/namespaces/default/workflows?page_token=***",
        "/namespaces/default/schedules?page_token=***",
        "/namespaces/default/workflows/a/b/events?page_token=***",
    ] {
        let (status, _, body) = get(ui, path).await;
        assert_eq!(status, 400, "{path}: {body}");
        assert!(body.contains("malformed page_token"), "{path}: {body}");
    }
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn an_extension_adds_routes_and_header_links() {
    let router = axum::Router::new().route(
        "/ext/hello",
        axum::routing::get(|| async { "hello from the extension" }),
    );
    let ext = UiExtension::new(router).link("Extra page", "/ext/hello");
    let (server, _c, ui) = ui_server(Some(ext)).await;
    let (status, _, body) = get(ui, "/ext/hello").await;
    assert_eq!((status, body.as_str()), (200, "hello from the extension"));
    let (_, _, body) = get(ui, "/namespaces").await;
    assert!(
        body.contains("href=\"/ext/hello\">Extra page</a>"),
        "{body}"
    );
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_failed_activity_and_a_timer_show_as_pending_work_and_timeline_bars() {
    use temporalio_common::protos::temporal::api::command::v1::StartTimerCommandAttributes;
    use temporalio_common::protos::temporal::api::common::v1::RetryPolicy;
    use temporalio_common::protos::temporal::api::failure::v1::Failure;
    use temporalio_common::protos::temporal::api::workflowservice::v1::{
        RecordActivityTaskHeartbeatRequest, RespondActivityTaskFailedRequest,
    };
    let (server, mut c, ui) = ui_server(None).await;
    let run = start_with_input(&mut c, "busy").await;
    let task = poll(&mut c).await;
    let acts = TaskQueue {
        name: "acts".into(),
        ..Default::default()
    };
    c.respond_workflow_task_completed(RespondWorkflowTaskCompletedRequest {
        task_token: task.task_token,
        namespace: "default".into(),
        commands: vec![
            Command {
                command_type: CommandType::ScheduleActivityTask as i32,
                attributes: Some(Attributes::ScheduleActivityTaskCommandAttributes(
                    ScheduleActivityTaskCommandAttributes {
                        activity_id: "charge".into(),
                        activity_type: Some(ActivityType {
                            name: "Charge".into(),
                        }),
                        task_queue: Some(acts.clone()),
                        start_to_close_timeout: dur(30_000),
                        retry_policy: Some(RetryPolicy {
                            initial_interval: dur(60_000),
                            maximum_attempts: 5,
                            ..Default::default()
                        }),
                        ..Default::default()
                    },
                )),
                ..Default::default()
            },
            Command {
                command_type: CommandType::StartTimer as i32,
                attributes: Some(Attributes::StartTimerCommandAttributes(
                    StartTimerCommandAttributes {
                        timer_id: "reminder".into(),
                        start_to_fire_timeout: dur(3_600_000),
                    },
                )),
                ..Default::default()
            },
        ],
        ..Default::default()
    })
    .await
    .unwrap();
    let act = c
        .poll_activity_task_queue(PollActivityTaskQueueRequest {
            namespace: "default".into(),
            task_queue: Some(acts),
            identity: "raw-activity".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    c.record_activity_task_heartbeat(RecordActivityTaskHeartbeatRequest {
        task_token: act.task_token.clone(),
        details: Some(json_payload(r#"{"progress":40}"#)),
        namespace: "default".into(),
        ..Default::default()
    })
    .await
    .unwrap();
    c.respond_activity_task_failed(RespondActivityTaskFailedRequest {
        task_token: act.task_token,
        failure: Some(Failure {
            message: "card declined".into(),
            ..Default::default()
        }),
        namespace: "default".into(),
        ..Default::default()
    })
    .await
    .unwrap();

    let (status, _, body) = get(ui, &format!("/namespaces/default/workflows/busy/{run}")).await;
    assert_eq!(status, 200, "{body}");
    let pending = body
        .split("id=\"pending-activities\"")
        .nth(1)
        .and_then(|r| r.split("</table>").next())
        .unwrap_or_else(|| panic!("a pending activities table: {body}"));
    assert!(
        pending.contains("charge") && pending.contains("Charge"),
        "{pending}"
    );
    assert!(pending.contains("card declined"), "last failure: {pending}");
    assert!(
        pending.contains("<td>2 / 5</td>"),
        "attempt 2 of 5: {pending}"
    );
    let timeline = body
        .split("id=\"timeline\"")
        .nth(1)
        .and_then(|r| r.split("tl-axis").next())
        .unwrap();
    assert!(timeline.contains("Activity: Charge (charge)"), "{timeline}");
    assert!(
        timeline.contains("Timer: timer reminder (1h 00m)"),
        "{timeline}"
    );
    assert_eq!(timeline.matches("tl-bar Pending").count(), 2, "{timeline}");
    server.shutdown().await.unwrap();
}
