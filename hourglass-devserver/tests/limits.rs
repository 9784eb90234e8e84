//! Request limits as Temporal's frontend applies them, seen from a raw gRPC client: a request
//! over a limit is refused with Temporal's message and changes nothing; an activity result
//! over the blob limit is recorded as a non-retryable server failure instead.
mod common;
use common::*;
use hourglass_devserver::HistoryLimits;
use temporalio_common::protos::temporal::api::enums::v1::WorkflowExecutionStatus as Status;
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

/// A server whose histories may hold at most `count` events and `size` bytes.
async fn limited_server(count: i64, size: i64) -> (RunningServer, C) {
    let s = DevServer::builder()
        .port(0)
        .database(Database::InMemory)
        .history_limits(HistoryLimits {
            count_error: count,
            size_error: size,
            ..HistoryLimits::default()
        })
        .start()
        .await
        .unwrap();
    let c = WorkflowServiceClient::connect(s.url()).await.unwrap();
    (s, c)
}

async fn signal(c: &mut C, id: &str, bytes: usize) -> Result<(), tonic::Status> {
    c.signal_workflow_execution(SignalWorkflowExecutionRequest {
        namespace: "default".into(),
        workflow_execution: exec(id),
        signal_name: "s".into(),
        input: big(bytes),
        ..Default::default()
    })
    .await
    .map(|_| ())
}

async fn status(c: &mut C, id: &str) -> Status {
    let d = c
        .describe_workflow_execution(DescribeWorkflowExecutionRequest {
            namespace: "default".into(),
            execution: exec(id),
        })
        .await
        .unwrap()
        .into_inner();
    Status::try_from(d.workflow_execution_info.unwrap().status).unwrap()
}

/// Signals `id` until one is refused; returns how many were accepted and the refusal.
async fn signal_until_refused(c: &mut C, id: &str, bytes: usize) -> (usize, tonic::Status) {
    for n in 0..1000 {
        if let Err(e) = signal(c, id, bytes).await {
            return (n, e);
        }
    }
    panic!("no signal was refused");
}

fn termination(evs: &[HistoryEvent]) -> (String, String) {
    match &evs.last().and_then(|e| e.attributes.clone()) {
        Some(A::WorkflowExecutionTerminatedEventAttributes(t)) => {
            (t.reason.clone(), t.identity.clone())
        }
        other => panic!("the last event is not a termination: {other:?}"),
    }
}

#[tokio::test]
async fn a_history_over_the_count_limit_terminates_its_workflow() {
    let (_s, mut c) = limited_server(20, i64::MAX).await;
    start(&mut c, "count", 10_000, 0).await;
    let (accepted, err) = signal_until_refused(&mut c, "count", 1).await;
    // Started and WorkflowTaskScheduled, then one event per signal: the 19th makes 21.
    assert_eq!(accepted, 18);
    assert_eq!(err.code(), Code::InvalidArgument);
    assert_eq!(err.message(), "Workflow history count exceeds limit.");
    assert_eq!(status(&mut c, "count").await, Status::Terminated);
    let evs = history(&mut c, "count").await;
    assert_eq!(
        termination(&evs),
        (
            "Workflow history count exceeds limit.".to_string(),
            "history-service".to_string()
        )
    );
    let err = signal(&mut c, "count", 1).await.expect_err("closed");
    assert_eq!(err.code(), Code::NotFound, "{err:?}");
}

#[tokio::test]
async fn a_history_over_the_size_limit_terminates_its_workflow() {
    let (_s, mut c) = limited_server(i64::MAX, 10_000).await;
    start(&mut c, "size", 10_000, 0).await;
    let (accepted, err) = signal_until_refused(&mut c, "size", 4_000).await;
    assert_eq!(accepted, 2, "the third 4 kB signal passes 10,000 bytes");
    assert_eq!(err.message(), "Workflow history size exceeds limit.");
    assert_eq!(status(&mut c, "size").await, Status::Terminated);
    let (reason, _) = termination(&history(&mut c, "size").await);
    assert_eq!(reason, "Workflow history size exceeds limit.");
}

#[tokio::test]
async fn a_list_query_naming_an_unknown_attribute_is_refused() {
    use temporalio_common::protos::temporal::api::workflowservice::v1::{
        CountWorkflowExecutionsRequest, ListWorkflowExecutionsRequest,
    };
    let (_s, mut c) = server().await;
    start(&mut c, "listed", 10_000, 0).await;
    let list = |q: &str| ListWorkflowExecutionsRequest {
        namespace: "default".into(),
        query: q.into(),
        ..Default::default()
    };
    let err = c
        .list_workflow_executions(list("NoSuchAttribute = 'x'"))
        .await
        .expect_err("unknown attribute");
    assert_eq!(err.code(), Code::InvalidArgument);
    assert_eq!(
        err.message(),
        "invalid query: invalid expression: column name 'NoSuchAttribute' is not a valid search attribute"
    );
    let err = c
        .count_workflow_executions(CountWorkflowExecutionsRequest {
            namespace: "default".into(),
            query: "NoSuchAttribute = 'x'".into(),
        })
        .await
        .expect_err("unknown attribute");
    assert_eq!(err.code(), Code::InvalidArgument);
    let found = c
        .list_workflow_executions(list("WorkflowId = 'listed'"))
        .await
        .expect("a system attribute")
        .into_inner();
    assert_eq!(found.executions.len(), 1);
}
