//! A core worker that announces its shutdown gets no more tasks from the server: its open
//! polls are answered empty and the task goes to another poller, so nothing can reach a core
//! that is about to drop it for being shut down.

mod common;

use common::{init_tracing, server, within};
use hourglass_bridge::Core;
use hourglass_bridge::config::{ClientConfig, RuntimeConfig, WorkerConfig};
use std::time::Duration;
use temporalio_client::{Connection, ConnectionOptions};
use temporalio_common::protos::temporal::api::common::v1::WorkflowType;
use temporalio_common::protos::temporal::api::taskqueue::v1::TaskQueue;
use temporalio_common::protos::temporal::api::workflowservice::v1::{
    PollWorkflowTaskQueueRequest, StartWorkflowExecutionRequest,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_announced_worker_gets_no_more_tasks() {
    init_tracing();
    let srv = server().await;
    let tq = "announced-shutdown";
    let core = Core::linked();
    let rt = core.runtime(&RuntimeConfig::default()).expect("runtime");
    let client = rt
        .connect(&ClientConfig {
            target_url: srv.url(),
            namespace: "default".into(),
            identity: "announcing-worker".into(),
            ..Default::default()
        })
        .await
        .expect("connect");
    let worker = client
        .new_worker(&WorkerConfig {
            namespace: "default".into(),
            task_queue: tq.into(),
            ..Default::default()
        })
        .expect("worker");
    worker.validate().await.expect("validate");
    // The core worker polls the task queue, then announces its shutdown.
    let polling = tokio::spawn({
        let worker = worker.clone();
        async move { worker.poll_workflow_activation().await }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    within(10, "announce", worker.announce_shutdown())
        .await
        .expect("announced");

    // A new workflow's task goes to another poller, never to the announced worker.
    let conn = Connection::connect(
        ConnectionOptions::new(url::Url::parse(&srv.url()).expect("url"))
            .identity("raw")
            .build(),
    )
    .await
    .expect("raw connection");
    let mut svc = conn.workflow_service();
    let task_queue = || {
        Some(TaskQueue {
            name: tq.into(),
            ..Default::default()
        })
    };
    svc.start_workflow_execution(tonic::Request::new(StartWorkflowExecutionRequest {
        namespace: "default".into(),
        workflow_id: "after-announce".into(),
        workflow_type: Some(WorkflowType {
            name: "Anything".into(),
        }),
        task_queue: task_queue(),
        request_id: "after-announce".into(),
        ..Default::default()
    }))
    .await
    .expect("start");
    let task = within(
        20,
        "the other poller gets the task",
        svc.poll_workflow_task_queue(tonic::Request::new(PollWorkflowTaskQueueRequest {
            namespace: "default".into(),
            task_queue: task_queue(),
            identity: "raw".into(),
            ..Default::default()
        })),
    )
    .await
    .expect("poll")
    .into_inner();
    assert_eq!(
        task.workflow_execution.map(|e| e.workflow_id).as_deref(),
        Some("after-announce")
    );
    assert!(!polling.is_finished(), "the announced worker got no task");

    // It still shuts down cleanly.
    worker.initiate_shutdown().expect("initiate");
    let polled = within(20, "the poll ends with shutdown", polling)
        .await
        .expect("join");
    assert!(
        matches!(polled, Err(hourglass_bridge::BridgeError::ShutDown)),
        "{polled:?}"
    );
    let activity = within(20, "the activity queue drains", worker.poll_activity_task()).await;
    assert!(
        matches!(activity, Err(hourglass_bridge::BridgeError::ShutDown)),
        "{activity:?}"
    );
    within(20, "finalize", worker.finalize_shutdown())
        .await
        .expect("finalized");
    srv.shutdown().await.expect("server stops");
}
