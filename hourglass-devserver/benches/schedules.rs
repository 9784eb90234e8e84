//! Schedules benchmark: how closely many schedules hold their times. Creates 1,000 interval
//! schedules firing every second (`HOURGLASS_BENCH_SCHEDULES`, `HOURGLASS_BENCH_SECONDS`
//! to change; default 1,000 for 12 s) on a durable server, each starting a workflow per
//! action (overlap ALLOW_ALL; no worker, so the runs stay open), then reads every
//! schedule's recent actions and prints how late each start was: its actual time minus its
//! scheduled time, as the server recorded them (the goal: within 100 ms).
//!
//! Run: `cargo bench -p hourglass-devserver --bench schedules`
#[path = "support/mod.rs"]
mod support;
use hourglass_devserver::{Database, DevServer};
use std::time::Duration;
use support::env_or;
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
        CreateScheduleRequest, DescribeScheduleRequest,
        workflow_service_client::WorkflowServiceClient,
    },
};
use tonic::transport::Channel;

fn every_second(id: &str) -> Schedule {
    Schedule {
        spec: Some(ScheduleSpec {
            interval: vec![IntervalSpec {
                interval: Some(prost_wkt_types::Duration {
                    seconds: 1,
                    nanos: 0,
                }),
                phase: None,
            }],
            ..Default::default()
        }),
        action: Some(ScheduleAction {
            action: Some(Action::StartWorkflow(NewWorkflowExecutionInfo {
                workflow_id: id.into(),
                workflow_type: Some(WorkflowType {
                    name: "Tick".into(),
                }),
                task_queue: Some(TaskQueue {
                    name: "no-worker".into(),
                    ..Default::default()
                }),
                ..Default::default()
            })),
        }),
        policies: Some(SchedulePolicies {
            overlap_policy: ScheduleOverlapPolicy::AllowAll as i32,
            ..Default::default()
        }),
        state: None,
    }
}

fn ms(t: &prost_wkt_types::Timestamp) -> i64 {
    t.seconds * 1000 + i64::from(t.nanos) / 1_000_000
}

fn percentile(sorted: &[i64], p: f64) -> i64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(i).copied().unwrap_or(0)
}

async fn create(c: &WorkflowServiceClient<Channel>, count: usize) -> anyhow::Result<()> {
    let mut tasks = tokio::task::JoinSet::new();
    for chunk in 0..16 {
        let mut c = c.clone();
        tasks.spawn(async move {
            for i in (chunk..count).step_by(16) {
                let id = format!("bench-schedule-{i}");
                c.create_schedule(CreateScheduleRequest {
                    namespace: "default".into(),
                    schedule_id: id.clone(),
                    schedule: Some(every_second(&id)),
                    request_id: format!("create-{i}"),
                    identity: "schedules-bench".into(),
                    ..Default::default()
                })
                .await?;
            }
            anyhow::Ok(())
        });
    }
    while let Some(r) = tasks.join_next().await {
        r??;
    }
    Ok(())
}

/// Every recent action's lateness (actual minus scheduled time, ms) over all schedules.
async fn lateness(
    c: &mut WorkflowServiceClient<Channel>,
    count: usize,
) -> anyhow::Result<Vec<i64>> {
    let mut late = vec![];
    for i in 0..count {
        let info = c
            .describe_schedule(DescribeScheduleRequest {
                namespace: "default".into(),
                schedule_id: format!("bench-schedule-{i}"),
            })
            .await?
            .into_inner()
            .info
            .unwrap_or_default();
        for a in &info.recent_actions {
            if let (Some(s), Some(at)) = (&a.schedule_time, &a.actual_time) {
                late.push(ms(at) - ms(s));
            }
        }
    }
    late.sort_unstable();
    Ok(late)
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> anyhow::Result<()> {
    if support::run_by_cargo_test() {
        return Ok(());
    }
    let count = env_or("HOURGLASS_BENCH_SCHEDULES", 1_000);
    let seconds = env_or("HOURGLASS_BENCH_SECONDS", 12) as u64;
    let dir = tempfile::tempdir()?;
    let server = DevServer::builder()
        .port(0)
        .database(Database::Path(dir.path().join("bench.sqlite")))
        .start()
        .await?;
    let mut c = WorkflowServiceClient::connect(server.url()).await?;
    let t0 = std::time::Instant::now();
    create(&c, count).await?;
    println!(
        "created {count} schedules firing every second in {:.2} s; running {seconds} s",
        t0.elapsed().as_secs_f64()
    );
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    let late = lateness(&mut c, count).await?;
    server.shutdown().await?;
    let within = late.iter().filter(|l| **l <= 100).count();
    println!(
        "actions={} (last 10 per schedule)  lateness ms: p50={} p95={} p99={} max={}  within 100 ms: {:.1}%",
        late.len(),
        percentile(&late, 0.50),
        percentile(&late, 0.95),
        percentile(&late, 0.99),
        late.last().copied().unwrap_or(0),
        100.0 * within as f64 / late.len().max(1) as f64
    );
    Ok(())
}
