//! A worker spoken in raw WorkflowService calls, for states no example workflow reaches on
//! demand: a workflow task that schedules an activity and starts a child, and an activity
//! attempt that heartbeats and then fails (so the activity is pending on attempt 2 with a
//! last failure and heartbeat details).

use hourglass_cli::config::Connection;
use hourglass_cli::connection::{Client, connect};
use hourglass_cli::payload_json::json_payload;
use std::time::Duration;
use temporalio_protos::temporal::api::command::v1::{
    Command, ScheduleActivityTaskCommandAttributes, StartChildWorkflowExecutionCommandAttributes,
    command,
};
use temporalio_protos::temporal::api::common::v1::{
    ActivityType, Payloads, RetryPolicy, WorkflowType,
};
use temporalio_protos::temporal::api::enums::v1::{CommandType, TaskQueueKind};
use temporalio_protos::temporal::api::failure::v1::{ApplicationFailureInfo, Failure, failure};
use temporalio_protos::temporal::api::taskqueue::v1::TaskQueue;
use temporalio_protos::temporal::api::workflowservice::v1::*;

fn queue(name: &str) -> Option<TaskQueue> {
    Some(TaskQueue {
        name: name.into(),
        kind: TaskQueueKind::Normal as i32,
        normal_name: String::new(),
    })
}

fn secs(s: i64) -> Option<prost_wkt_types::Duration> {
    Some(prost_wkt_types::Duration {
        seconds: s,
        nanos: 0,
    })
}

/// Completes the first workflow task on `task_queue` with an activity `act-1` (type `Flaky`,
/// at most 5 attempts, 100 s between them) and a child `child_id` of type `RawChild` on a
/// queue nobody serves; then runs attempt 1 of the activity: one heartbeat (`"half way"`),
/// then a retryable failure `boom`.
pub fn schedule_activity_and_child(address: &str, task_queue: &str, child_id: &str) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let conn = Connection {
            url: format!("http://{address}"),
            address: address.into(),
            namespace: "default".into(),
            tls: None,
            api_key: None,
        };
        let mut client = connect(&conn).await.unwrap();
        complete_first_task(&mut client, task_queue, child_id).await;
        fail_first_attempt(&mut client, task_queue).await;
    });
}

async fn complete_first_task(client: &mut Client, task_queue: &str, child_id: &str) {
    let task = loop {
        let t = client
            .poll_workflow_task_queue(PollWorkflowTaskQueueRequest {
                namespace: "default".into(),
                task_queue: queue(task_queue),
                identity: "raw-worker".into(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        if !t.task_token.is_empty() {
            break t;
        }
    };
    let activity = ScheduleActivityTaskCommandAttributes {
        activity_id: "act-1".into(),
        activity_type: Some(ActivityType {
            name: "Flaky".into(),
        }),
        task_queue: queue(task_queue),
        start_to_close_timeout: secs(60),
        heartbeat_timeout: secs(60),
        retry_policy: Some(RetryPolicy {
            initial_interval: secs(100),
            backoff_coefficient: 2.0,
            maximum_attempts: 5,
            ..Default::default()
        }),
        ..Default::default()
    };
    let child = StartChildWorkflowExecutionCommandAttributes {
        workflow_id: child_id.into(),
        workflow_type: Some(WorkflowType {
            name: "RawChild".into(),
        }),
        task_queue: queue("nobody-serves-this"),
        ..Default::default()
    };
    client
        .respond_workflow_task_completed(RespondWorkflowTaskCompletedRequest {
            task_token: task.task_token,
            namespace: "default".into(),
            identity: "raw-worker".into(),
            commands: vec![
                Command {
                    command_type: CommandType::ScheduleActivityTask as i32,
                    attributes: Some(command::Attributes::ScheduleActivityTaskCommandAttributes(
                        activity,
                    )),
                    ..Default::default()
                },
                Command {
                    command_type: CommandType::StartChildWorkflowExecution as i32,
                    attributes: Some(
                        command::Attributes::StartChildWorkflowExecutionCommandAttributes(child),
                    ),
                    ..Default::default()
                },
            ],
            ..Default::default()
        })
        .await
        .unwrap();
}

async fn fail_first_attempt(client: &mut Client, task_queue: &str) {
    let task = loop {
        let t = client
            .poll_activity_task_queue(PollActivityTaskQueueRequest {
                namespace: "default".into(),
                task_queue: queue(task_queue),
                identity: "raw-worker".into(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        if !t.task_token.is_empty() {
            break t;
        }
    };
    let details = Payloads {
        payloads: vec![json_payload("\"half way\"").unwrap()],
    };
    client
        .record_activity_task_heartbeat(RecordActivityTaskHeartbeatRequest {
            task_token: task.task_token.clone(),
            details: Some(details.clone()),
            identity: "raw-worker".into(),
            namespace: "default".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    client
        .respond_activity_task_failed(RespondActivityTaskFailedRequest {
            task_token: task.task_token,
            failure: Some(Failure {
                message: "boom".into(),
                failure_info: Some(failure::FailureInfo::ApplicationFailureInfo(
                    ApplicationFailureInfo {
                        r#type: "Boom".into(),
                        non_retryable: false,
                        ..Default::default()
                    },
                )),
                ..Default::default()
            }),
            identity: "raw-worker".into(),
            namespace: "default".into(),
            last_heartbeat_details: Some(details),
            ..Default::default()
        })
        .await
        .unwrap();
    // Let the server record the retry before the test describes the workflow.
    tokio::time::sleep(Duration::from_millis(200)).await;
}
