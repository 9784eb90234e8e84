//! Sticky task queues and transient workflow tasks, checked with a raw gRPC client against
//! Temporal's rules (service/history's workflow task state machine, matching's sticky
//! queues): what each poll receives and what the history records.
mod common;
use common::*;
use std::time::Duration;
use temporalio_common::protos::temporal::api::{
    enums::v1::{TaskQueueKind, TimeoutType, WorkflowTaskFailedCause},
    history::v1::history_event::Attributes as A,
    taskqueue::v1::StickyExecutionAttributes,
    workflowservice::v1::{ResetStickyTaskQueueRequest, RespondWorkflowTaskFailedRequest},
};

const STICKY: &str = "proto-tq-sticky-worker-1";

fn sticky_tq() -> Option<TaskQueue> {
    Some(TaskQueue {
        name: STICKY.into(),
        kind: TaskQueueKind::Sticky as i32,
        normal_name: "proto-tq".into(),
    })
}

fn exec(id: &str) -> Option<WorkflowExecution> {
    Some(WorkflowExecution {
        workflow_id: id.into(),
        run_id: String::new(),
    })
}

/// A poll of the sticky queue; `timeout` bounds how long the server holds it.
async fn poll_sticky(
    mut c: C,
    timeout: Duration,
) -> Result<PollWorkflowTaskQueueResponse, tonic::Status> {
    let mut req = tonic::Request::new(PollWorkflowTaskQueueRequest {
        namespace: "default".into(),
        task_queue: sticky_tq(),
        identity: "sticky-worker".into(),
        ..Default::default()
    });
    req.set_timeout(timeout);
    c.poll_workflow_task_queue(req)
        .await
        .map(|r| r.into_inner())
}

/// Completes a task without commands, asking for stickiness.
async fn complete_sticky(c: &mut C, token: Vec<u8>, schedule_to_start_ms: i64) {
    c.respond_workflow_task_completed(RespondWorkflowTaskCompletedRequest {
        task_token: token,
        namespace: "default".into(),
        sticky_attributes: Some(StickyExecutionAttributes {
            worker_task_queue: sticky_tq(),
            schedule_to_start_timeout: dur(schedule_to_start_ms),
        }),
        ..Default::default()
    })
    .await
    .unwrap();
}

async fn signal(c: &mut C, id: &str) {
    c.signal_workflow_execution(SignalWorkflowExecutionRequest {
        namespace: "default".into(),
        workflow_execution: exec(id),
        signal_name: "poke".into(),
        ..Default::default()
    })
    .await
    .unwrap();
}

async fn complete(c: &mut C, token: Vec<u8>) {
    c.respond_workflow_task_completed(RespondWorkflowTaskCompletedRequest {
        task_token: token,
        commands: vec![complete_cmd()],
        namespace: "default".into(),
        ..Default::default()
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn a_sticky_poll_gets_only_the_new_events() {
    let (s, mut c) = server().await;
    start(&mut c, "sticky-partial", 10_000, 0).await;
    let t1 = poll(&mut c).await;
    assert_eq!(t1.started_event_id, 3);
    complete_sticky(&mut c, t1.task_token, 5_000).await;
    let waiting = tokio::spawn(poll_sticky(c.clone(), Duration::from_secs(20)));
    tokio::time::sleep(Duration::from_millis(200)).await;
    signal(&mut c, "sticky-partial").await;
    let t2 = waiting.await.unwrap().unwrap();
    assert_eq!(t2.previous_started_event_id, 3);
    let evs = t2.history.unwrap().events;
    // [PreviousStartedEventId+1, NextEventId): Completed(4), Signaled(5), Scheduled(6), Started(7).
    assert_eq!(evs.first().map(|e| e.event_id), Some(4), "{evs:?}");
    assert_eq!(
        types(&evs),
        vec![
            EventType::WorkflowTaskCompleted,
            EventType::WorkflowExecutionSignaled,
            EventType::WorkflowTaskScheduled,
            EventType::WorkflowTaskStarted,
        ]
    );
    match &evs[2].attributes {
        Some(A::WorkflowTaskScheduledEventAttributes(a)) => {
            let q = a.task_queue.clone().unwrap();
            assert_eq!(
                (q.name.as_str(), q.kind),
                (STICKY, TaskQueueKind::Sticky as i32)
            );
        }
        other => panic!("{other:?}"),
    }
    complete(&mut c, t2.task_token).await;
    let all = history(&mut c, "sticky-partial").await;
    assert_eq!(
        *types(&all).last().unwrap(),
        EventType::WorkflowExecutionCompleted
    );
    s.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_sticky_task_nobody_takes_times_out_to_the_normal_queue_with_full_history() {
    let (s, mut c) = server().await;
    start(&mut c, "sticky-timeout", 10_000, 0).await;
    let t1 = poll(&mut c).await;
    complete_sticky(&mut c, t1.task_token, 1_000).await;
    // The sticky worker polled once (so its queue counts as available) and then went away.
    let empty = poll_sticky(c.clone(), Duration::from_millis(300))
        .await
        .unwrap();
    assert!(empty.task_token.is_empty());
    signal(&mut c, "sticky-timeout").await;
    let t2 = poll(&mut c).await;
    assert_eq!(t2.attempt, 1, "a sticky timeout is not an attempt");
    let evs = t2.history.unwrap().events;
    assert_eq!(evs.first().map(|e| e.event_id), Some(1), "full history");
    let timed_out: Vec<_> = evs
        .iter()
        .filter_map(|e| match &e.attributes {
            Some(A::WorkflowTaskTimedOutEventAttributes(a)) => Some(a.timeout_type),
            _ => None,
        })
        .collect();
    assert_eq!(timed_out, vec![TimeoutType::ScheduleToStart as i32]);
    assert_eq!(
        types(&evs)[4..],
        [
            EventType::WorkflowExecutionSignaled,
            EventType::WorkflowTaskScheduled,
            EventType::WorkflowTaskTimedOut,
            EventType::WorkflowTaskScheduled,
            EventType::WorkflowTaskStarted,
        ]
    );
    complete(&mut c, t2.task_token).await;
    s.shutdown().await.unwrap();
}

#[tokio::test]
async fn without_a_sticky_poller_tasks_go_to_the_normal_queue_and_stickiness_is_cleared() {
    let (s, mut c) = server().await;
    start(&mut c, "sticky-absent", 10_000, 0).await;
    let t1 = poll(&mut c).await;
    // Sticky attributes, but no poller has ever polled that queue.
    complete_sticky(&mut c, t1.task_token, 10_000).await;
    signal(&mut c, "sticky-absent").await;
    let t2 = poll(&mut c).await;
    assert_eq!(t2.history.unwrap().events[0].event_id, 1);
    // The normal pickup cleared stickiness: a later task goes to the normal queue too, even
    // with a sticky poller waiting.
    c.respond_workflow_task_completed(RespondWorkflowTaskCompletedRequest {
        task_token: t2.task_token,
        namespace: "default".into(),
        ..Default::default()
    })
    .await
    .unwrap();
    let sticky_waiting = tokio::spawn(poll_sticky(c.clone(), Duration::from_secs(3)));
    tokio::time::sleep(Duration::from_millis(200)).await;
    signal(&mut c, "sticky-absent").await;
    let t3 = poll(&mut c).await;
    assert!(!t3.task_token.is_empty());
    assert!(sticky_waiting.await.unwrap().unwrap().task_token.is_empty());
    complete(&mut c, t3.task_token).await;
    s.shutdown().await.unwrap();
}

#[tokio::test]
async fn reset_sticky_task_queue_sends_the_next_task_to_the_normal_queue() {
    let (s, mut c) = server().await;
    start(&mut c, "sticky-reset", 10_000, 0).await;
    let t1 = poll(&mut c).await;
    complete_sticky(&mut c, t1.task_token, 10_000).await;
    let sticky_waiting = tokio::spawn(poll_sticky(c.clone(), Duration::from_secs(3)));
    tokio::time::sleep(Duration::from_millis(200)).await;
    c.reset_sticky_task_queue(ResetStickyTaskQueueRequest {
        namespace: "default".into(),
        execution: exec("sticky-reset"),
    })
    .await
    .unwrap();
    signal(&mut c, "sticky-reset").await;
    let t2 = poll(&mut c).await;
    assert_eq!(t2.history.unwrap().events[0].event_id, 1);
    assert!(sticky_waiting.await.unwrap().unwrap().task_token.is_empty());
    let e = c
        .reset_sticky_task_queue(ResetStickyTaskQueueRequest {
            namespace: "default".into(),
            execution: exec("no-such-workflow"),
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::NotFound);
    complete(&mut c, t2.task_token).await;
    s.shutdown().await.unwrap();
}

#[tokio::test]
async fn transient_attempts_write_no_events_until_one_completes() {
    let (s, mut c) = server().await;
    start(&mut c, "transient", 10_000, 0).await;
    let t1 = poll(&mut c).await;
    let fail = |token: Vec<u8>| RespondWorkflowTaskFailedRequest {
        task_token: token,
        cause: WorkflowTaskFailedCause::WorkflowWorkerUnhandledFailure as i32,
        namespace: "default".into(),
        identity: "raw".into(),
        ..Default::default()
    };
    c.respond_workflow_task_failed(fail(t1.task_token))
        .await
        .unwrap();
    // Attempt 2 is retried at once and is transient: Scheduled+Started arrive as a suffix.
    let t2 = poll(&mut c).await;
    assert_eq!(t2.attempt, 2);
    assert_eq!(t2.started_event_id, 6);
    let evs = t2.history.unwrap().events;
    assert_eq!(
        types(&evs)[3..],
        [
            EventType::WorkflowTaskFailed,
            EventType::WorkflowTaskScheduled,
            EventType::WorkflowTaskStarted,
        ]
    );
    assert_eq!(
        history(&mut c, "transient").await.len(),
        4,
        "suffix is not persisted"
    );
    c.respond_workflow_task_failed(fail(t2.task_token))
        .await
        .unwrap();
    let t3 = poll(&mut c).await;
    assert_eq!(t3.attempt, 3);
    assert_eq!(history(&mut c, "transient").await.len(), 4);
    complete(&mut c, t3.task_token).await;
    let all = history(&mut c, "transient").await;
    assert_eq!(
        types(&all),
        vec![
            EventType::WorkflowExecutionStarted,
            EventType::WorkflowTaskScheduled,
            EventType::WorkflowTaskStarted,
            EventType::WorkflowTaskFailed,
            EventType::WorkflowTaskScheduled,
            EventType::WorkflowTaskStarted,
            EventType::WorkflowTaskCompleted,
            EventType::WorkflowExecutionCompleted,
        ]
    );
    match &all[4].attributes {
        Some(A::WorkflowTaskScheduledEventAttributes(a)) => assert_eq!(a.attempt, 3),
        other => panic!("{other:?}"),
    }
    s.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_new_event_turns_a_transient_task_back_into_attempt_one() {
    let (s, mut c) = server().await;
    start(&mut c, "transient-signal", 10_000, 0).await;
    let t1 = poll(&mut c).await;
    c.respond_workflow_task_failed(RespondWorkflowTaskFailedRequest {
        task_token: t1.task_token,
        namespace: "default".into(),
        ..Default::default()
    })
    .await
    .unwrap();
    // Attempt 2 is scheduled (transient, nothing written); a signal arrives before it starts.
    signal(&mut c, "transient-signal").await;
    let t2 = poll(&mut c).await;
    assert_eq!(t2.attempt, 1);
    let evs = t2.history.unwrap().events;
    assert_eq!(
        types(&evs)[3..],
        [
            EventType::WorkflowTaskFailed,
            EventType::WorkflowExecutionSignaled,
            EventType::WorkflowTaskScheduled,
            EventType::WorkflowTaskStarted,
        ]
    );
    assert_eq!(history(&mut c, "transient-signal").await.len(), 7);
    complete(&mut c, t2.task_token).await;
    s.shutdown().await.unwrap();
}

#[tokio::test]
async fn an_eager_start_returns_the_first_workflow_task_already_started() {
    use temporalio_common::protos::temporal::api::workflowservice::v1::StartWorkflowExecutionRequest;
    let (_s, mut c) = server().await;
    let r = c
        .start_workflow_execution(StartWorkflowExecutionRequest {
            namespace: "default".into(),
            workflow_id: "eager".into(),
            workflow_type: Some(WorkflowType { name: "Raw".into() }),
            task_queue: tq(),
            identity: "eager-worker".into(),
            request_eager_execution: true,
            request_id: uuid::Uuid::new_v4().to_string(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let t = r
        .eager_workflow_task
        .expect("the first task comes with the start response");
    let evs = t.history.clone().unwrap().events;
    assert_eq!(
        types(&evs),
        vec![
            EventType::WorkflowExecutionStarted,
            EventType::WorkflowTaskScheduled,
            EventType::WorkflowTaskStarted
        ]
    );
    match &evs[2].attributes {
        Some(A::WorkflowTaskStartedEventAttributes(a)) => assert_eq!(a.identity, "eager-worker"),
        other => panic!("not a started event: {other:?}"),
    }
    // No poller gets it again; completing it with the eager token closes the run.
    let mut req = tonic::Request::new(PollWorkflowTaskQueueRequest {
        namespace: "default".into(),
        task_queue: tq(),
        identity: "other".into(),
        ..Default::default()
    });
    req.set_timeout(Duration::from_millis(300));
    let polled = c.poll_workflow_task_queue(req).await;
    assert!(polled.is_err() || polled.unwrap().into_inner().task_token.is_empty());
    c.respond_workflow_task_completed(RespondWorkflowTaskCompletedRequest {
        task_token: t.task_token,
        namespace: "default".into(),
        commands: vec![complete_cmd()],
        ..Default::default()
    })
    .await
    .unwrap();
    assert_eq!(
        types(&history(&mut c, "eager").await).last(),
        Some(&EventType::WorkflowExecutionCompleted)
    );
}

#[tokio::test]
async fn a_query_left_unanswered_by_a_workflow_task_is_delivered_again() {
    use temporalio_common::protos::temporal::api::{
        query::v1::WorkflowQuery, workflowservice::v1::QueryWorkflowRequest,
    };
    let (_s, mut c) = server().await;
    start(&mut c, "unanswered", 10_000, 0).await;
    let t1 = poll(&mut c).await;
    let mut qc = c.clone();
    let query = tokio::spawn(async move {
        qc.query_workflow(QueryWorkflowRequest {
            namespace: "default".into(),
            execution: exec("unanswered"),
            query: Some(WorkflowQuery {
                query_type: "q".into(),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    // A heartbeat-style completion: a new task is forced, and the query rides on it.
    c.respond_workflow_task_completed(RespondWorkflowTaskCompletedRequest {
        task_token: t1.task_token,
        namespace: "default".into(),
        force_create_new_workflow_task: true,
        ..Default::default()
    })
    .await
    .unwrap();
    let t2 = poll(&mut c).await;
    assert_eq!(t2.queries.len(), 1, "the query rides on the next task");
    // The worker completes that task without answering: the query comes back as a
    // query task rather than being dropped.
    c.respond_workflow_task_completed(RespondWorkflowTaskCompletedRequest {
        task_token: t2.task_token,
        namespace: "default".into(),
        ..Default::default()
    })
    .await
    .unwrap();
    let t3 = poll(&mut c).await;
    let q = t3.query.expect("a legacy query task");
    assert_eq!(q.query_type, "q");
    query.abort();
}
