//! Request limits as Temporal's frontend applies them, seen from a raw gRPC client: a request
//! over a limit is refused with Temporal's message and changes nothing; an activity result
//! over the blob limit is recorded as a non-retryable server failure instead.
mod common;
use common::*;
use temporalio_common::protos::temporal::api::{
    common::v1::{Payload, Payloads},
    failure::v1::failure::FailureInfo,
    history::v1::history_event::Attributes as A,
    workflowservice::v1::RespondActivityTaskCompletedRequest,
};
use tonic::Code;

/// A payload of `n` bytes: over Temporal's 2 MiB blob limit for `n > 2 MiB`.
fn big(n: usize) -> Option<Payloads> {
    Some(Payloads {
        payloads: vec![Payload {
            data: vec![7; n],
            ..Default::default()
        }],
    })
}

fn exec(id: &str) -> Option<WorkflowExecution> {
    Some(WorkflowExecution {
        workflow_id: id.into(),
        run_id: String::new(),
    })
}

async fn describe(c: &mut C, id: &str) -> Result<(), tonic::Status> {
    c.describe_workflow_execution(DescribeWorkflowExecutionRequest {
        namespace: "default".into(),
        execution: exec(id),
    })
    .await
    .map(|_| ())
}

#[tokio::test]
async fn an_oversized_start_is_refused_and_starts_nothing() {
    let (_s, mut c) = server().await;
    let err = c
        .start_workflow_execution(StartWorkflowExecutionRequest {
            namespace: "default".into(),
            workflow_id: "too-big".into(),
            workflow_type: Some(WorkflowType { name: "Raw".into() }),
            task_queue: tq(),
            input: big(3 * 1024 * 1024),
            ..Default::default()
        })
        .await
        .expect_err("a 3 MiB input is over the limit");
    assert_eq!(err.code(), Code::InvalidArgument);
    assert_eq!(err.message(), "Blob data size exceeds limit.");
    let err = describe(&mut c, "too-big")
        .await
        .expect_err("nothing started");
    assert_eq!(err.code(), Code::NotFound);
}

#[tokio::test]
async fn bad_ids_and_names_get_temporals_messages() {
    let (_s, mut c) = server().await;
    let base = StartWorkflowExecutionRequest {
        namespace: "default".into(),
        workflow_id: "ok".into(),
        workflow_type: Some(WorkflowType { name: "Raw".into() }),
        task_queue: tq(),
        ..Default::default()
    };
    let mut r = base.clone();
    r.workflow_id = "w".repeat(1001);
    let err = c.start_workflow_execution(r).await.expect_err("too long");
    assert_eq!(
        err.message(),
        "WorkflowId exceeds maximum allowed length (1001/1000)"
    );
    let mut r = base.clone();
    r.workflow_type = None;
    let err = c.start_workflow_execution(r).await.expect_err("no type");
    assert_eq!(err.message(), "WorkflowType is not set on request.");
    let err = c
        .signal_workflow_execution(SignalWorkflowExecutionRequest {
            namespace: "default".into(),
            workflow_execution: Some(WorkflowExecution {
                workflow_id: "ok".into(),
                run_id: "not-a-run-id".into(),
            }),
            signal_name: "s".into(),
            ..Default::default()
        })
        .await
        .expect_err("malformed run id");
    assert_eq!(err.code(), Code::InvalidArgument);
    assert_eq!(err.message(), "Invalid RunId.");
    // The refused calls left the id free.
    c.start_workflow_execution(base).await.expect("valid start");
}

#[tokio::test]
async fn an_oversized_signal_is_refused_and_the_history_is_unchanged() {
    let (_s, mut c) = server().await;
    start(&mut c, "sig", 10_000, 0).await;
    let before = history(&mut c, "sig").await;
    let err = c
        .signal_workflow_execution(SignalWorkflowExecutionRequest {
            namespace: "default".into(),
            workflow_execution: exec("sig"),
            signal_name: "s".into(),
            input: big(2 * 1024 * 1024 + 1),
            ..Default::default()
        })
        .await
        .expect_err("over the limit");
    assert_eq!(err.code(), Code::InvalidArgument);
    assert_eq!(err.message(), "Blob data size exceeds limit.");
    assert_eq!(history(&mut c, "sig").await, before);
}

#[tokio::test]
async fn an_oversized_activity_result_fails_the_activity() {
    let (_s, mut c) = server().await;
    start(&mut c, "act", 10_000, 0).await;
    let t = poll(&mut c).await;
    c.respond_workflow_task_completed(RespondWorkflowTaskCompletedRequest {
        task_token: t.task_token,
        namespace: "default".into(),
        commands: vec![Command {
            command_type: CommandType::ScheduleActivityTask as i32,
            attributes: Some(Attributes::ScheduleActivityTaskCommandAttributes(
                ScheduleActivityTaskCommandAttributes {
                    activity_id: "a".into(),
                    activity_type: Some(ActivityType { name: "Big".into() }),
                    task_queue: Some(TaskQueue {
                        name: "limits-acts".into(),
                        ..Default::default()
                    }),
                    start_to_close_timeout: dur(30_000),
                    ..Default::default()
                },
            )),
            ..Default::default()
        }],
        ..Default::default()
    })
    .await
    .unwrap();
    let a = c
        .poll_activity_task_queue(PollActivityTaskQueueRequest {
            namespace: "default".into(),
            task_queue: Some(TaskQueue {
                name: "limits-acts".into(),
                ..Default::default()
            }),
            identity: "limits".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    c.respond_activity_task_completed(RespondActivityTaskCompletedRequest {
        task_token: a.task_token,
        result: big(3 * 1024 * 1024),
        namespace: "default".into(),
        ..Default::default()
    })
    .await
    .expect("the call is answered; the activity fails instead");
    let evs = history(&mut c, "act").await;
    let failed = evs
        .iter()
        .find_map(|e| match &e.attributes {
            Some(A::ActivityTaskFailedEventAttributes(f)) => f.failure.clone(),
            _ => None,
        })
        .expect("an ActivityTaskFailed event");
    assert_eq!(failed.message, "Complete result exceeds size limit.");
    assert!(matches!(
        failed.failure_info,
        Some(FailureInfo::ServerFailureInfo(ref s)) if s.non_retryable
    ));
    assert!(
        !types(&evs).contains(&EventType::ActivityTaskCompleted),
        "the oversized result is not recorded"
    );
}
