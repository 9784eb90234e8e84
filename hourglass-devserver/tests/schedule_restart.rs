//! Schedules are durable: a real `hourglass-devserver` process running an every-2-seconds
//! schedule is SIGKILLed, stays down across several slots, and once restarted on the same
//! SQLite file it starts every missed slot (catch-up) and keeps firing — no slot lost, none
//! started twice.
#[path = "support/server_proc.rs"]
mod server_proc;
use server_proc::ServerProc;
use std::collections::BTreeSet;
use std::time::Duration;
use temporalio_common::protos::temporal::api::{
    common::v1::WorkflowType,
    enums::v1::ScheduleOverlapPolicy,
    schedule::v1::{
        IntervalSpec, Schedule, ScheduleAction, SchedulePolicies, ScheduleSpec,
        schedule_action::Action,
    },
    taskqueue::v1::TaskQueue,
    workflow::v1::NewWorkflowExecutionInfo,
    workflowservice::v1::{
        CreateScheduleRequest, DescribeScheduleRequest, ListWorkflowExecutionsRequest,
        workflow_service_client::WorkflowServiceClient,
    },
};
use tonic::transport::Channel;

const SCHEDULE: &str = "every-2s";

async fn client(port: u16) -> WorkflowServiceClient<Channel> {
    WorkflowServiceClient::connect(format!("http://127.0.0.1:{port}"))
        .await
        .unwrap()
}

/// The scheduled times (seconds since the epoch) of the runs the schedule started, read back
/// from their workflow ids (`<schedule>-<RFC 3339 time>`, as Temporal names them).
async fn started_slots(c: &mut WorkflowServiceClient<Channel>) -> Vec<i64> {
    let runs = c
        .list_workflow_executions(ListWorkflowExecutionsRequest {
            namespace: "default".into(),
            query: "WorkflowType = 'Tick'".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .executions;
    let mut slots: Vec<i64> = runs
        .iter()
        .map(|r| {
            let id = &r.execution.as_ref().unwrap().workflow_id;
            let t = id.strip_prefix(&format!("{SCHEDULE}-")).unwrap();
            chrono::DateTime::parse_from_rfc3339(t).unwrap().timestamp()
        })
        .collect();
    slots.sort();
    slots
}

async fn action_count(c: &mut WorkflowServiceClient<Channel>) -> i64 {
    c.describe_schedule(DescribeScheduleRequest {
        namespace: "default".into(),
        schedule_id: SCHEDULE.into(),
    })
    .await
    .unwrap()
    .into_inner()
    .info
    .unwrap()
    .action_count
}

async fn wait_for_actions(c: &mut WorkflowServiceClient<Channel>, n: i64) {
    for _ in 0..400 {
        if action_count(c).await >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the schedule never reached {n} actions");
}

fn schedule() -> Schedule {
    Schedule {
        spec: Some(ScheduleSpec {
            interval: vec![IntervalSpec {
                interval: Some(prost_wkt_types::Duration {
                    seconds: 2,
                    nanos: 0,
                }),
                phase: None,
            }],
            ..Default::default()
        }),
        action: Some(ScheduleAction {
            action: Some(Action::StartWorkflow(NewWorkflowExecutionInfo {
                workflow_id: SCHEDULE.into(),
                workflow_type: Some(WorkflowType {
                    name: "Tick".into(),
                }),
                // No worker polls this queue: every started run stays open, so the
                // overlap policy (allow all) is what lets each slot start.
                task_queue: Some(TaskQueue {
                    name: "no-worker".into(),
                    ..Default::default()
                }),
                ..Default::default()
            })),
        }),
        policies: Some(SchedulePolicies {
            overlap_policy: ScheduleOverlapPolicy::AllowAll as i32,
            catchup_window: Some(prost_wkt_types::Duration {
                seconds: 600,
                nanos: 0,
            }),
            ..Default::default()
        }),
        state: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schedule_fires_across_sigkill_with_catch_up() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("dev.sqlite");

    let server = ServerProc::start(&db, 0);
    let port = server.port;
    let mut c = client(port).await;
    let created = std::time::SystemTime::now();
    c.create_schedule(CreateScheduleRequest {
        namespace: "default".into(),
        schedule_id: SCHEDULE.into(),
        schedule: Some(schedule()),
        request_id: "create-1".into(),
        identity: "schedule-restart-test".into(),
        ..Default::default()
    })
    .await
    .unwrap();
    wait_for_actions(&mut c, 2).await;
    let before = started_slots(&mut c).await;
    server.sigkill();

    // Down across at least three slots.
    tokio::time::sleep(Duration::from_secs(7)).await;
    let server = ServerProc::start(&db, port);
    let mut c = client(port).await;
    let down_for = created.elapsed().unwrap().as_secs() as i64;
    // Every slot since creation, the missed ones included, plus one fired after the restart.
    wait_for_actions(&mut c, down_for / 2 + 1).await;
    let after = started_slots(&mut c).await;
    drop(server);

    assert!(
        before.iter().all(|s| after.contains(s)),
        "runs started before the kill are gone: {before:?} vs {after:?}"
    );
    let unique: BTreeSet<i64> = after.iter().copied().collect();
    assert_eq!(unique.len(), after.len(), "a slot started twice: {after:?}");
    for pair in after.windows(2) {
        assert_eq!(pair[1] - pair[0], 2, "a slot was skipped: {after:?}");
    }
    let last_before = *before.last().unwrap();
    assert!(
        after.iter().filter(|s| **s > last_before).count() >= 3,
        "the slots missed while down were not caught up: {before:?} then {after:?}"
    );
}
