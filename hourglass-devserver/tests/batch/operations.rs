//! Batch operations over a real in-memory server through gRPC: each operation type applied
//! by query (or to a list of executions) to several running workflows, the counts
//! DescribeBatchOperation reports, ListBatchOperations, the request's rate, and stopping a
//! running job.
use crate::batch_support::*;
use crate::common::server;
use std::time::{Duration, Instant};
use temporalio_common::protos::temporal::api::{
    batch::v1::BatchOperationReset,
    common::v1::{Execution, ResetOptions, WorkflowExecution, reset_options::Target},
    enums::v1::{
        BatchOperationState, BatchOperationType, EventType, ExecutionType, WorkflowExecutionStatus,
    },
    history::v1::history_event::Attributes,
    workflowservice::v1::{
        ListBatchOperationsRequest, PollWorkflowTaskQueueRequest,
        RespondWorkflowTaskCompletedRequest, StopBatchOperationRequest,
        start_batch_operation_request::Operation,
    },
};

const WAIT: Duration = Duration::from_secs(20);

#[tokio::test]
async fn terminate_by_query_ends_every_running_match_and_reports_the_counts() {
    let (_s, mut c) = server().await;
    let targets = start_many(&mut c, "term", "BatchTarget", 5).await;
    let others = start_many(&mut c, "keep", "Bystander", 2).await;
    let started = Instant::now();
    c.start_batch_operation(batch(
        "term-job",
        "WorkflowType = 'BatchTarget'",
        terminate_op(),
    ))
    .await
    .unwrap();
    let d = wait_job(&mut c, "term-job", WAIT).await;
    assert_eq!(d.state, BatchOperationState::Completed as i32, "{d:?}");
    assert_eq!(
        d.operation_type,
        BatchOperationType::TerminateWorkflow as i32
    );
    assert_eq!(
        (
            d.total_operation_count,
            d.complete_operation_count,
            d.failure_operation_count
        ),
        (5, 5, 0)
    );
    assert_eq!(d.job_id, "term-job");
    assert_eq!(d.reason, "batch test");
    assert_eq!(d.identity, "batch-tester");
    assert_eq!(d.query, "WorkflowType = 'BatchTarget'");
    assert!(d.start_time.is_some() && d.close_time.is_some());
    for id in &targets {
        assert_eq!(
            status(&mut c, id).await,
            Some(WorkflowExecutionStatus::Terminated)
        );
        let last = events(&mut c, id).await.pop().unwrap();
        match last.attributes {
            Some(Attributes::WorkflowExecutionTerminatedEventAttributes(a)) => {
                assert_eq!(a.reason, "batch test");
                assert_eq!(a.identity, "batch-tester");
            }
            other => panic!("{id} ended with {other:?}"),
        }
    }
    for id in &others {
        assert_eq!(
            status(&mut c, id).await,
            Some(WorkflowExecutionStatus::Running)
        );
    }
    // Five operations at the default 50 per second take a tenth of a second or so.
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[tokio::test]
async fn cancel_and_signal_by_query_reach_every_running_match() {
    let (_s, mut c) = server().await;
    let targets = start_many(&mut c, "cs", "BatchTarget", 3).await;
    c.start_batch_operation(batch(
        "cancel-job",
        "WorkflowType = 'BatchTarget'",
        cancel_op(),
    ))
    .await
    .unwrap();
    let d = wait_job(&mut c, "cancel-job", WAIT).await;
    assert_eq!(
        (d.state, d.complete_operation_count),
        (BatchOperationState::Completed as i32, 3)
    );
    assert_eq!(d.operation_type, BatchOperationType::CancelWorkflow as i32);
    c.start_batch_operation(batch(
        "signal-job",
        "WorkflowType = 'BatchTarget'",
        signal_op("poke", "42"),
    ))
    .await
    .unwrap();
    let d = wait_job(&mut c, "signal-job", WAIT).await;
    assert_eq!(
        (d.state, d.complete_operation_count),
        (BatchOperationState::Completed as i32, 3)
    );
    for id in &targets {
        let evs = events(&mut c, id).await;
        assert!(
            evs.iter()
                .any(|e| e.event_type == EventType::WorkflowExecutionCancelRequested as i32),
            "{id}: no cancel request"
        );
        let signal = evs
            .iter()
            .find_map(|e| match &e.attributes {
                Some(Attributes::WorkflowExecutionSignaledEventAttributes(a)) => Some(a.clone()),
                _ => None,
            })
            .unwrap_or_else(|| panic!("{id}: no signal"));
        assert_eq!(signal.signal_name, "poke");
        assert_eq!(signal.identity, "batch-tester");
        assert_eq!(signal.input.unwrap().payloads[0].data, b"42");
    }
}

#[tokio::test]
async fn delete_by_query_removes_open_and_closed_matches() {
    let (_s, mut c) = server().await;
    let targets = start_many(&mut c, "del", "BatchTarget", 4).await;
    // One of them already closed: delete visits closed workflows too.
    c.terminate_workflow_execution(
        temporalio_common::protos::temporal::api::workflowservice::v1::TerminateWorkflowExecutionRequest {
            namespace: "default".into(),
            workflow_execution: Some(WorkflowExecution {
                workflow_id: targets[0].clone(),
                run_id: String::new(),
            }),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    c.start_batch_operation(batch(
        "del-job",
        "WorkflowType = 'BatchTarget'",
        delete_op(),
    ))
    .await
    .unwrap();
    let d = wait_job(&mut c, "del-job", WAIT).await;
    assert_eq!(
        (d.state, d.total_operation_count, d.complete_operation_count),
        (BatchOperationState::Completed as i32, 4, 4)
    );
    assert_eq!(d.operation_type, BatchOperationType::DeleteWorkflow as i32);
    for id in &targets {
        assert_eq!(status(&mut c, id).await, None, "{id} was not deleted");
    }
}

#[tokio::test]
async fn an_explicit_list_of_executions_is_the_target_set() {
    let (_s, mut c) = server().await;
    let targets = start_many(&mut c, "list", "BatchTarget", 3).await;
    let mut req = batch("list-job", "", terminate_op());
    let target = |id: &str| Execution {
        r#type: ExecutionType::Workflow as i32,
        business_id: id.into(),
        run_id: String::new(),
    };
    req.target_executions = targets[..2].iter().map(|id| target(id)).collect();
    // A workflow that does not exist counts as done (NotFound), as in Temporal.
    req.target_executions.push(target("no-such-workflow"));
    c.start_batch_operation(req).await.unwrap();
    let d = wait_job(&mut c, "list-job", WAIT).await;
    assert_eq!(
        (d.state, d.total_operation_count, d.complete_operation_count),
        (BatchOperationState::Completed as i32, 3, 3)
    );
    assert_eq!(d.executions.len(), 3);
    assert_eq!(d.executions[0].business_id, targets[0]);
    assert_eq!(
        status(&mut c, &targets[2]).await,
        Some(WorkflowExecutionStatus::Running)
    );
    assert_eq!(
        status(&mut c, &targets[1]).await,
        Some(WorkflowExecutionStatus::Terminated)
    );
}

/// Polls the batch task queue once and completes the task with no commands.
async fn complete_first_task(c: &mut C) {
    let t = c
        .poll_workflow_task_queue(PollWorkflowTaskQueueRequest {
            namespace: "default".into(),
            task_queue: Some(
                temporalio_common::protos::temporal::api::taskqueue::v1::TaskQueue {
                    name: "batch-tq".into(),
                    ..Default::default()
                },
            ),
            identity: "raw".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    c.respond_workflow_task_completed(RespondWorkflowTaskCompletedRequest {
        task_token: t.task_token,
        namespace: "default".into(),
        ..Default::default()
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn reset_by_query_starts_a_new_run_from_the_first_workflow_task() {
    let (_s, mut c) = server().await;
    let mut old_runs = vec![];
    for i in 0..2 {
        old_runs.push(start_idle(&mut c, &format!("reset-{i}"), "BatchTarget").await);
        complete_first_task(&mut c).await;
    }
    let op = Operation::ResetOperation(BatchOperationReset {
        identity: "batch-tester".into(),
        options: Some(ResetOptions {
            target: Some(Target::FirstWorkflowTask(())),
            ..Default::default()
        }),
        ..Default::default()
    });
    c.start_batch_operation(batch("reset-job", "WorkflowType = 'BatchTarget'", op))
        .await
        .unwrap();
    let d = wait_job(&mut c, "reset-job", WAIT).await;
    assert_eq!(
        (
            d.state,
            d.complete_operation_count,
            d.failure_operation_count
        ),
        (BatchOperationState::Completed as i32, 2, 0),
        "{d:?}"
    );
    assert_eq!(d.operation_type, BatchOperationType::ResetWorkflow as i32);
    for (i, old) in old_runs.iter().enumerate() {
        let evs = events(&mut c, &format!("reset-{i}")).await;
        let failed = evs
            .iter()
            .find_map(|e| match &e.attributes {
                Some(Attributes::WorkflowTaskFailedEventAttributes(a)) => Some(a.clone()),
                _ => None,
            })
            .expect("the new run records the reset as a failed workflow task");
        assert_eq!(failed.base_run_id, *old);
        assert_ne!(failed.new_run_id, *old);
    }
}

#[tokio::test]
async fn list_shows_every_job_newest_first_with_its_state_and_type() {
    let (_s, mut c) = server().await;
    start_many(&mut c, "l", "BatchTarget", 2).await;
    c.start_batch_operation(batch("job-1", "WorkflowType = 'BatchTarget'", cancel_op()))
        .await
        .unwrap();
    wait_job(&mut c, "job-1", WAIT).await;
    c.start_batch_operation(batch(
        "job-2",
        "WorkflowType = 'BatchTarget'",
        terminate_op(),
    ))
    .await
    .unwrap();
    wait_job(&mut c, "job-2", WAIT).await;
    let list = c
        .list_batch_operations(ListBatchOperationsRequest {
            namespace: "default".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let jobs: Vec<(&str, i32, i32)> = list
        .operation_info
        .iter()
        .map(|j| (j.job_id.as_str(), j.state, j.operation_type))
        .collect();
    let done = BatchOperationState::Completed as i32;
    assert_eq!(
        jobs,
        vec![
            ("job-2", done, BatchOperationType::TerminateWorkflow as i32),
            ("job-1", done, BatchOperationType::CancelWorkflow as i32),
        ]
    );
    assert!(list.operation_info.iter().all(|j| j.close_time.is_some()));
    // Pages of one.
    let first = c
        .list_batch_operations(ListBatchOperationsRequest {
            namespace: "default".into(),
            page_size: 1,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first.operation_info[0].job_id, "job-2");
    let second = c
        .list_batch_operations(ListBatchOperationsRequest {
            namespace: "default".into(),
            page_size: 1,
            next_page_token: first.next_page_token,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(second.operation_info[0].job_id, "job-1");
    assert!(second.next_page_token.is_empty());
}

#[tokio::test]
async fn the_requested_rate_paces_the_operations() {
    let (_s, mut c) = server().await;
    start_many(&mut c, "rps", "BatchTarget", 4).await;
    let mut req = batch(
        "rps-job",
        "WorkflowType = 'BatchTarget'",
        signal_op("s", "1"),
    );
    req.max_operations_per_second = 4.0;
    let started = Instant::now();
    c.start_batch_operation(req).await.unwrap();
    let d = wait_job(&mut c, "rps-job", WAIT).await;
    assert_eq!(d.complete_operation_count, 4);
    // Four operations 250 ms apart: the last one starts 750 ms after the first.
    assert!(
        started.elapsed() >= Duration::from_millis(700),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn stopping_a_running_job_ends_it_as_failed_and_no_more_operations_run() {
    let (_s, mut c) = server().await;
    let targets = start_many(&mut c, "stop", "BatchTarget", 6).await;
    let mut req = batch("slow-job", "WorkflowType = 'BatchTarget'", terminate_op());
    req.max_operations_per_second = 2.0;
    c.start_batch_operation(req).await.unwrap();
    tokio::time::sleep(Duration::from_millis(700)).await;
    let running = describe_job(&mut c, "slow-job").await;
    assert_eq!(running.state, BatchOperationState::Running as i32);
    assert_eq!(running.total_operation_count, 6, "the estimate");
    c.stop_batch_operation(StopBatchOperationRequest {
        namespace: "default".into(),
        job_id: "slow-job".into(),
        reason: "enough".into(),
        identity: "operator".into(),
    })
    .await
    .unwrap();
    let d = describe_job(&mut c, "slow-job").await;
    assert_eq!(d.state, BatchOperationState::Failed as i32, "{d:?}");
    assert!(d.close_time.is_some());
    // As Temporal: a terminated job's workflow has no pending activity to read counts from.
    assert_eq!(d.total_operation_count, 0);
    let terminated = |c: &mut C| {
        let mut c = c.clone();
        let targets = targets.clone();
        async move {
            let mut n = 0;
            for id in &targets {
                if status(&mut c, id).await == Some(WorkflowExecutionStatus::Terminated) {
                    n += 1;
                }
            }
            n
        }
    };
    let at_stop = terminated(&mut c).await;
    assert!(
        (1..6).contains(&at_stop),
        "{at_stop} terminated at the stop"
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        terminated(&mut c).await,
        at_stop,
        "the job went on after its stop"
    );
    // Stopping it again: its workflow is already closed.
    let again = c
        .stop_batch_operation(StopBatchOperationRequest {
            namespace: "default".into(),
            job_id: "slow-job".into(),
            reason: "again".into(),
            identity: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(again.code(), tonic::Code::NotFound);
}
