//! What a client gets from a run that closed, checked with a raw gRPC client against
//! Temporal's rules: a cancel request succeeds and changes nothing; a query with a reject
//! condition is rejected with the run's status; an update in flight is aborted (an accepted
//! one completes with the AcceptedUpdateCompletedWorkflow failure, one not yet accepted is
//! NotFound); describe names the root execution; Count groups by ExecutionStatus.
mod common;
use common::*;
use prost::Message;
use std::time::Duration;
use temporalio_common::protos::temporal::api::{
    common::v1::Payload,
    enums::v1::{QueryRejectCondition, UpdateWorkflowExecutionLifecycleStage as Stage},
    failure::v1::failure::FailureInfo,
    protocol::v1::Message as ProtocolMessage,
    query::v1::WorkflowQuery,
    update::v1::{Acceptance, Input, Meta, Request as UpdateRequest, WaitPolicy, outcome},
    workflowservice::v1::{
        CountWorkflowExecutionsRequest, QueryWorkflowRequest,
        RequestCancelWorkflowExecutionRequest, TerminateWorkflowExecutionRequest,
        UpdateWorkflowExecutionRequest,
    },
};
use tonic::Code;

fn exec(id: &str) -> Option<WorkflowExecution> {
    Some(WorkflowExecution {
        workflow_id: id.into(),
        run_id: String::new(),
    })
}

/// Starts `id` and completes its first workflow task with CompleteWorkflowExecution.
async fn completed(c: &mut C, id: &str) {
    start(c, id, 10_000, 0).await;
    let t = poll(c).await;
    c.respond_workflow_task_completed(RespondWorkflowTaskCompletedRequest {
        task_token: t.task_token,
        namespace: "default".into(),
        commands: vec![complete_cmd()],
        ..Default::default()
    })
    .await
    .unwrap();
}

/// Starts `id` and completes its first workflow task with no commands: the run waits.
async fn idle(c: &mut C, id: &str) {
    start(c, id, 10_000, 0).await;
    let t = poll(c).await;
    c.respond_workflow_task_completed(RespondWorkflowTaskCompletedRequest {
        task_token: t.task_token,
        namespace: "default".into(),
        ..Default::default()
    })
    .await
    .unwrap();
}

async fn terminate(c: &mut C, id: &str) {
    c.terminate_workflow_execution(TerminateWorkflowExecutionRequest {
        namespace: "default".into(),
        workflow_execution: exec(id),
        reason: "test".into(),
        ..Default::default()
    })
    .await
    .unwrap();
}

fn update_req(id: &str, update_id: &str) -> UpdateWorkflowExecutionRequest {
    UpdateWorkflowExecutionRequest {
        namespace: "default".into(),
        workflow_execution: exec(id),
        wait_policy: Some(WaitPolicy {
            lifecycle_stage: Stage::Completed as i32,
        }),
        request: Some(UpdateRequest {
            meta: Some(Meta {
                update_id: update_id.into(),
                identity: "test".into(),
            }),
            input: Some(Input {
                name: "u".into(),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

#[tokio::test]
async fn cancelling_a_closed_run_succeeds_and_changes_nothing() {
    let (_s, mut c) = server().await;
    completed(&mut c, "done").await;
    let before = history(&mut c, "done").await;
    c.request_cancel_workflow_execution(RequestCancelWorkflowExecutionRequest {
        namespace: "default".into(),
        workflow_execution: exec("done"),
        ..Default::default()
    })
    .await
    .expect("Temporal answers a cancel of a closed run with success");
    assert_eq!(history(&mut c, "done").await, before);
    let err = c
        .terminate_workflow_execution(TerminateWorkflowExecutionRequest {
            namespace: "default".into(),
            workflow_execution: exec("done"),
            ..Default::default()
        })
        .await
        .expect_err("terminate of a closed run is refused");
    assert_eq!(err.code(), Code::NotFound);
}

#[tokio::test]
async fn a_query_with_a_reject_condition_is_rejected_on_a_closed_run() {
    let (_s, mut c) = server().await;
    completed(&mut c, "q").await;
    let query = |cond: QueryRejectCondition| QueryWorkflowRequest {
        namespace: "default".into(),
        execution: exec("q"),
        query: Some(WorkflowQuery {
            query_type: "state".into(),
            ..Default::default()
        }),
        query_reject_condition: cond as i32,
    };
    let r = c
        .query_workflow(query(QueryRejectCondition::NotOpen))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        r.query_rejected.map(|q| q.status),
        Some(WorkflowExecutionStatus::Completed as i32)
    );
    assert!(r.query_result.is_none());
    // Completed cleanly: NOT_COMPLETED_CLEANLY goes to a worker; none polls, so the
    // client's deadline ends the wait instead of a rejection.
    let mut req = tonic::Request::new(query(QueryRejectCondition::NotCompletedCleanly));
    req.set_timeout(Duration::from_millis(300));
    let err = c.query_workflow(req).await.expect_err("not rejected");
    assert_ne!(err.code(), Code::Ok);
}

#[tokio::test]
async fn an_update_not_yet_accepted_is_aborted_when_its_run_closes() {
    let (_s, mut c) = server().await;
    idle(&mut c, "u1").await;
    let mut c2 = c.clone();
    let pending =
        tokio::spawn(async move { c2.update_workflow_execution(update_req("u1", "x")).await });
    // The update is admitted once the workflow task carries it.
    let t = poll(&mut c).await;
    assert!(!t.messages.is_empty(), "the task delivers the update");
    terminate(&mut c, "u1").await;
    let err = pending.await.unwrap().expect_err("aborted");
    assert_eq!(err.code(), Code::NotFound);
    assert_eq!(
        err.message(),
        "workflow update was aborted by closing workflow"
    );
}

#[tokio::test]
async fn an_accepted_update_fails_when_its_run_closes() {
    let (_s, mut c) = server().await;
    idle(&mut c, "u2").await;
    let mut c2 = c.clone();
    let pending =
        tokio::spawn(async move { c2.update_workflow_execution(update_req("u2", "y")).await });
    let t = poll(&mut c).await;
    let request = t
        .messages
        .first()
        .cloned()
        .expect("the update's request message");
    let acceptance = Acceptance {
        accepted_request_message_id: request.id.clone(),
        accepted_request_sequencing_event_id: 5,
        accepted_request: None,
    };
    c.respond_workflow_task_completed(RespondWorkflowTaskCompletedRequest {
        task_token: t.task_token,
        namespace: "default".into(),
        messages: vec![ProtocolMessage {
            id: "accept-1".into(),
            protocol_instance_id: "y".into(),
            body: Some(prost_wkt_types::Any {
                type_url: "type.googleapis.com/temporal.api.update.v1.Acceptance".into(),
                value: acceptance.encode_to_vec(),
            }),
            ..Default::default()
        }],
        ..Default::default()
    })
    .await
    .unwrap();
    terminate(&mut c, "u2").await;
    let r = pending
        .await
        .unwrap()
        .expect("an outcome, not an error")
        .into_inner();
    let Some(outcome::Value::Failure(f)) = r.outcome.and_then(|o| o.value) else {
        panic!("the outcome is a failure");
    };
    assert_eq!(
        f.message,
        "Workflow Update failed because the Workflow completed before the Update completed."
    );
    assert!(matches!(
        f.failure_info,
        Some(FailureInfo::ApplicationFailureInfo(ref a))
            if a.r#type == "AcceptedUpdateCompletedWorkflow" && a.non_retryable
    ));
}

#[tokio::test]
async fn describe_names_the_root_and_count_groups_by_status() {
    let (_s, mut c) = server().await;
    completed(&mut c, "g1").await;
    start(&mut c, "g2", 10_000, 0).await;
    start(&mut c, "g3", 10_000, 0).await;
    let d = c
        .describe_workflow_execution(DescribeWorkflowExecutionRequest {
            namespace: "default".into(),
            execution: exec("g1"),
        })
        .await
        .unwrap()
        .into_inner();
    let info = d.workflow_execution_info.unwrap();
    assert_eq!(
        info.root_execution, info.execution,
        "a top-level run is its own root"
    );
    assert!(info.close_time.is_some());
    let uuid = uuid::Uuid::parse_str(&info.execution.unwrap().run_id).unwrap();
    assert_eq!(
        uuid.get_version_num(),
        7,
        "run ids are UUID v7, as Temporal's"
    );
    let r = c
        .count_workflow_executions(CountWorkflowExecutionsRequest {
            namespace: "default".into(),
            query: "TaskQueue = 'proto-tq' GROUP BY ExecutionStatus".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.count, 3);
    let mut groups: Vec<(String, i64)> = r
        .groups
        .iter()
        .map(|g| {
            let p: &Payload = &g.group_values[0];
            assert_eq!(
                p.metadata.get("type").map(|v| v.as_slice()),
                Some(&b"Keyword"[..])
            );
            (serde_json::from_slice::<String>(&p.data).unwrap(), g.count)
        })
        .collect();
    groups.sort();
    assert_eq!(
        groups,
        vec![("Completed".to_string(), 1), ("Running".to_string(), 2)]
    );
}
