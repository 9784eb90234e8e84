//! Server-side protocol behaviour checked with a raw gRPC client (no SDK in the way):
//! workflow task timeouts, buffered events vs. closing commands, run timeouts and
//! activity schedule-to-start timeouts, exactly as Temporal records them in history; and
//! batch operations (`batch/`) and schedules' time-zone data (`schedules/`).
mod common;
use common::*;
#[path = "batch/errors.rs"]
mod batch_errors;
#[path = "batch/operations.rs"]
mod batch_operations;
#[path = "batch/support.rs"]
mod batch_support;
#[path = "schedules/time_zone_data.rs"]
mod schedule_time_zone_data;

#[tokio::test]
async fn workflow_task_timeout_reschedules_with_next_attempt() {
    let (s, mut c) = server().await;
    start(&mut c, "wft-timeout", 1000, 0).await;
    let t1 = poll(&mut c).await;
    assert_eq!(t1.attempt, 1);
    assert_eq!(t1.started_event_id, 3);
    // Do not answer: the server times the task out and hands out attempt 2.
    let t2 = poll(&mut c).await;
    assert_eq!(t2.attempt, 2);
    let evs = t2.history.unwrap().events;
    assert_eq!(
        types(&evs),
        vec![
            EventType::WorkflowExecutionStarted,
            EventType::WorkflowTaskScheduled,
            EventType::WorkflowTaskStarted,
            EventType::WorkflowTaskTimedOut,
            EventType::WorkflowTaskScheduled,
            EventType::WorkflowTaskStarted,
        ]
    );
    // The stale token of attempt 1 is refused.
    let e = c
        .respond_workflow_task_completed(RespondWorkflowTaskCompletedRequest {
            task_token: t1.task_token,
            commands: vec![complete_cmd()],
            namespace: "default".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::NotFound);
    s.shutdown().await.unwrap();
}

#[tokio::test]
async fn signal_during_task_rejects_close_and_is_delivered() {
    let (s, mut c) = server().await;
    start(&mut c, "buffered", 10_000, 0).await;
    let t1 = poll(&mut c).await;
    c.signal_workflow_execution(SignalWorkflowExecutionRequest {
        namespace: "default".into(),
        workflow_execution: Some(WorkflowExecution {
            workflow_id: "buffered".into(),
            run_id: String::new(),
        }),
        signal_name: "poke".into(),
        ..Default::default()
    })
    .await
    .unwrap();
    // The worker decides to complete without having seen the signal: refused like Temporal does.
    c.respond_workflow_task_completed(RespondWorkflowTaskCompletedRequest {
        task_token: t1.task_token,
        commands: vec![complete_cmd()],
        namespace: "default".into(),
        ..Default::default()
    })
    .await
    .unwrap();
    let t2 = poll(&mut c).await;
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
    c.respond_workflow_task_completed(RespondWorkflowTaskCompletedRequest {
        task_token: t2.task_token,
        commands: vec![complete_cmd()],
        namespace: "default".into(),
        ..Default::default()
    })
    .await
    .unwrap();
    let evs = history(&mut c, "buffered").await;
    assert_eq!(
        *types(&evs).last().unwrap(),
        EventType::WorkflowExecutionCompleted
    );
    s.shutdown().await.unwrap();
}

#[tokio::test]
async fn run_timeout_closes_the_workflow_and_wakes_result_waiters() {
    let (s, mut c) = server().await;
    start(&mut c, "run-timeout", 10_000, 1000).await;
    // Long poll for the close event, the way clients wait for results.
    let r = c
        .get_workflow_execution_history(GetWorkflowExecutionHistoryRequest {
            namespace: "default".into(),
            execution: Some(WorkflowExecution {
                workflow_id: "run-timeout".into(),
                run_id: String::new(),
            }),
            wait_new_event: true,
            history_event_filter_type: HistoryEventFilterType::CloseEvent as i32,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let evs = r.history.unwrap().events;
    assert_eq!(types(&evs), vec![EventType::WorkflowExecutionTimedOut]);
    let d = c
        .describe_workflow_execution(DescribeWorkflowExecutionRequest {
            namespace: "default".into(),
            execution: Some(WorkflowExecution {
                workflow_id: "run-timeout".into(),
                run_id: String::new(),
            }),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        d.workflow_execution_info.unwrap().status,
        WorkflowExecutionStatus::TimedOut as i32
    );
    s.shutdown().await.unwrap();
}

#[tokio::test]
async fn schedule_to_start_timeout_is_recorded_without_started_event() {
    let (s, mut c) = server().await;
    start(&mut c, "s2s", 10_000, 0).await;
    let t1 = poll(&mut c).await;
    c.respond_workflow_task_completed(RespondWorkflowTaskCompletedRequest {
        task_token: t1.task_token,
        commands: vec![Command {
            command_type: CommandType::ScheduleActivityTask as i32,
            attributes: Some(Attributes::ScheduleActivityTaskCommandAttributes(
                ScheduleActivityTaskCommandAttributes {
                    activity_id: "a1".into(),
                    activity_type: Some(ActivityType {
                        name: "Nobody".into(),
                    }),
                    task_queue: Some(TaskQueue {
                        name: "no-workers".into(),
                        ..Default::default()
                    }),
                    schedule_to_start_timeout: dur(500),
                    start_to_close_timeout: dur(5000),
                    ..Default::default()
                },
            )),
            ..Default::default()
        }],
        namespace: "default".into(),
        ..Default::default()
    })
    .await
    .unwrap();
    let t2 = poll(&mut c).await;
    let evs = t2.history.unwrap().events;
    let tys = types(&evs);
    assert_eq!(
        tys[4..],
        [
            EventType::ActivityTaskScheduled,
            EventType::ActivityTaskTimedOut,
            EventType::WorkflowTaskScheduled,
            EventType::WorkflowTaskStarted,
        ]
    );
    assert_eq!(t2.previous_started_event_id, 3);
    s.shutdown().await.unwrap();
}

#[tokio::test]
async fn info_rpcs_reverse_history_and_activity_by_id() {
    let (s, mut c) = server().await;
    let info = c
        .get_system_info(GetSystemInfoRequest {})
        .await
        .unwrap()
        .into_inner();
    let caps = info.capabilities.unwrap();
    assert!(caps.signal_and_query_header && caps.sdk_metadata && caps.eager_workflow_start);
    assert!(
        !c.get_cluster_info(GetClusterInfoRequest {})
            .await
            .unwrap()
            .into_inner()
            .server_version
            .is_empty()
    );
    let ns = c
        .list_namespaces(ListNamespacesRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert!(
        ns.namespaces
            .iter()
            .any(|n| n.namespace_info.as_ref().unwrap().name == "default")
    );

    start(&mut c, "by-id", 10_000, 0).await;
    let t1 = poll(&mut c).await;
    c.respond_workflow_task_completed(RespondWorkflowTaskCompletedRequest {
        task_token: t1.task_token,
        commands: vec![Command {
            command_type: CommandType::ScheduleActivityTask as i32,
            attributes: Some(Attributes::ScheduleActivityTaskCommandAttributes(
                ScheduleActivityTaskCommandAttributes {
                    activity_id: "act-1".into(),
                    activity_type: Some(ActivityType {
                        name: "Manual".into(),
                    }),
                    task_queue: Some(TaskQueue {
                        name: "manual".into(),
                        ..Default::default()
                    }),
                    start_to_close_timeout: dur(30_000),
                    ..Default::default()
                },
            )),
            ..Default::default()
        }],
        namespace: "default".into(),
        ..Default::default()
    })
    .await
    .unwrap();
    let a = c
        .poll_activity_task_queue(PollActivityTaskQueueRequest {
            namespace: "default".into(),
            task_queue: Some(TaskQueue {
                name: "manual".into(),
                ..Default::default()
            }),
            identity: "manual-worker".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(a.activity_id, "act-1");
    assert_eq!(a.attempt, 1);
    let hb = c
        .record_activity_task_heartbeat_by_id(RecordActivityTaskHeartbeatByIdRequest {
            namespace: "default".into(),
            workflow_id: "by-id".into(),
            activity_id: "act-1".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(!hb.cancel_requested);
    c.respond_activity_task_completed_by_id(RespondActivityTaskCompletedByIdRequest {
        namespace: "default".into(),
        workflow_id: "by-id".into(),
        activity_id: "act-1".into(),
        identity: "manual-worker".into(),
        ..Default::default()
    })
    .await
    .unwrap();
    // Completing twice: the activity is gone.
    let e = c
        .respond_activity_task_completed_by_id(RespondActivityTaskCompletedByIdRequest {
            namespace: "default".into(),
            workflow_id: "by-id".into(),
            activity_id: "act-1".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::NotFound);
    let fwd = history(&mut c, "by-id").await;
    let tys = types(&fwd);
    assert_eq!(
        tys[4..],
        [
            EventType::ActivityTaskScheduled,
            EventType::ActivityTaskStarted,
            EventType::ActivityTaskCompleted,
            EventType::WorkflowTaskScheduled,
        ]
    );
    let rev = c
        .get_workflow_execution_history_reverse(GetWorkflowExecutionHistoryReverseRequest {
            namespace: "default".into(),
            execution: Some(WorkflowExecution {
                workflow_id: "by-id".into(),
                run_id: String::new(),
            }),
            maximum_page_size: 100,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .history
        .unwrap()
        .events;
    let mut rev_ids: Vec<i64> = rev.iter().map(|e| e.event_id).collect();
    rev_ids.reverse();
    assert_eq!(rev_ids, fwd.iter().map(|e| e.event_id).collect::<Vec<_>>());
    s.shutdown().await.unwrap();
}

/// The namespace advertises poller autoscaling, and poll responses carry Temporal's scaling
/// hints: one poll more while a backlog older than 200 ms waits, one fewer when a poll sat
/// idle for a second before its task came.
#[tokio::test]
async fn poll_responses_carry_poller_scaling_hints() {
    let (_s, mut c) = server().await;
    let caps = capabilities(&mut c).await;
    assert!(caps.poller_autoscaling && caps.poller_autoscaling_auto_enroll);

    for i in 0..3 {
        start(&mut c, &format!("scale-{i}"), 10_000, 0).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let first = poll(&mut c).await;
    assert!(!first.task_token.is_empty());
    assert_eq!(
        first
            .poller_scaling_decision
            .map(|d| d.poll_request_delta_suggestion),
        Some(1),
        "an aged backlog asks for more pollers"
    );
    // Drain the backlog.
    poll(&mut c).await;
    poll(&mut c).await;

    // A poll that waits more than a second for its task asks for fewer pollers.
    let mut c2 = c.clone();
    let waiting = tokio::spawn(async move { poll(&mut c2).await });
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    start(&mut c, "scale-late", 10_000, 0).await;
    let late = waiting.await.unwrap();
    assert!(!late.task_token.is_empty());
    assert_eq!(
        late.poller_scaling_decision
            .map(|d| d.poll_request_delta_suggestion),
        Some(-1)
    );
}

/// `worker_poll_complete_on_shutdown`: ShutdownWorker answers the worker's open polls empty
/// (and its later ones at once), leaves other workers' polls alone, and so no task handed to
/// a shutting-down worker is lost to a cancelled poll.
#[tokio::test]
async fn shutdown_worker_completes_that_workers_open_polls() {
    use temporalio_common::protos::temporal::api::workflowservice::v1::ShutdownWorkerRequest;
    use tokio::time::{Duration, timeout};
    let (_s, mut c) = server().await;
    assert!(capabilities(&mut c).await.worker_poll_complete_on_shutdown);

    let leaving = tokio::spawn(poll_as(c.clone(), "leaving"));
    let staying = tokio::spawn(poll_as(c.clone(), "staying"));
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!leaving.is_finished() && !staying.is_finished());

    let shutdown = |key: &str| ShutdownWorkerRequest {
        namespace: "default".into(),
        identity: key.into(),
        worker_instance_key: key.into(),
        task_queue: tq().map(|t| t.name).unwrap_or_default(),
        reason: "test".into(),
        ..Default::default()
    };
    c.shutdown_worker(shutdown("leaving")).await.unwrap();
    let answered = timeout(Duration::from_secs(5), leaving)
        .await
        .expect("the shut-down worker's poll is answered at once")
        .unwrap()
        .unwrap();
    assert!(answered.task_token.is_empty(), "answered empty");
    assert!(!staying.is_finished(), "other workers keep polling");

    // A task goes to the worker still polling, never to the one that left.
    let again = timeout(Duration::from_secs(5), poll_as(c.clone(), "leaving"))
        .await
        .expect("a later poll of the shut-down worker returns at once")
        .unwrap();
    assert!(again.task_token.is_empty());
    start(&mut c, "after-shutdown", 10_000, 0).await;
    let got = timeout(Duration::from_secs(5), staying)
        .await
        .expect("the remaining worker gets the task")
        .unwrap()
        .unwrap();
    assert_eq!(
        got.workflow_execution.map(|e| e.workflow_id).as_deref(),
        Some("after-shutdown")
    );

    // Bad input: an unknown namespace is NotFound; a worker without a key changes nothing.
    let mut bad = shutdown("x");
    bad.namespace = "nope".into();
    assert_eq!(
        c.shutdown_worker(bad).await.unwrap_err().code(),
        tonic::Code::NotFound
    );
    c.shutdown_worker(shutdown("")).await.unwrap();
}
