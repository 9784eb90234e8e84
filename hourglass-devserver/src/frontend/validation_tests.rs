//! One test per rule of [`super`]: each refusal with Temporal's message, each default.
use super::*;
use temporalio_protos::temporal::api::{
    common::v1::{Payload, Payloads, WorkflowType},
    query::v1::WorkflowQuery,
    update::v1::{Input, Meta, Request as UpdateRequest},
};

fn start() -> ws::StartWorkflowExecutionRequest {
    ws::StartWorkflowExecutionRequest {
        namespace: "default".into(),
        workflow_id: "wf".into(),
        workflow_type: Some(WorkflowType { name: "W".into() }),
        task_queue: Some(TaskQueue {
            name: "tq".into(),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn big(n: usize) -> Option<Payloads> {
    Some(Payloads {
        payloads: vec![Payload {
            data: vec![1; n],
            ..Default::default()
        }],
    })
}

fn msg(r: Result<(), Status>) -> String {
    let e = r.expect_err("request must be refused");
    assert_eq!(e.code(), tonic::Code::InvalidArgument, "{e:?}");
    e.message().to_string()
}

#[test]
fn a_valid_start_gets_temporal_defaults() {
    let mut r = start();
    start_workflow(&mut r).expect("valid");
    assert_eq!(
        r.workflow_id_conflict_policy,
        WorkflowIdConflictPolicy::Fail as i32
    );
    assert!(uuid::Uuid::parse_str(&r.request_id).is_ok());
    assert_eq!(r.task_queue.map(|t| t.kind), Some(1)); // Normal
}

#[test]
fn start_refuses_missing_and_long_ids() {
    let mut r = start();
    r.workflow_id.clear();
    assert_eq!(
        msg(start_workflow(&mut r)),
        "WorkflowId is not set on request."
    );
    let mut r = start();
    r.workflow_id = "x".repeat(1001);
    assert_eq!(
        msg(start_workflow(&mut r)),
        "WorkflowId exceeds maximum allowed length (1001/1000)"
    );
    let mut r = start();
    r.workflow_id = "x".repeat(1000);
    assert!(
        start_workflow(&mut r).is_ok(),
        "1000 bytes is within the limit"
    );
    let mut r = start();
    r.workflow_type = None;
    assert_eq!(
        msg(start_workflow(&mut r)),
        "WorkflowType is not set on request."
    );
    let mut r = start();
    r.workflow_type = Some(WorkflowType {
        name: "t".repeat(1001),
    });
    assert_eq!(
        msg(start_workflow(&mut r)),
        "WorkflowType length exceeds limit."
    );
    let mut r = start();
    r.task_queue = Some(TaskQueue {
        name: "q".repeat(1001),
        ..Default::default()
    });
    assert_eq!(
        msg(start_workflow(&mut r)),
        "taskQueue length exceeds limit"
    );
    let mut r = start();
    r.task_queue = None;
    assert_eq!(msg(start_workflow(&mut r)), "taskQueue is not set");
    let mut r = start();
    r.request_id = "r".repeat(1001);
    assert_eq!(
        msg(start_workflow(&mut r)),
        "RequestId length exceeds limit."
    );
}

#[test]
fn start_refuses_negative_timeouts_and_caps_huge_ones() {
    let neg = Some(Duration {
        seconds: -1,
        nanos: 0,
    });
    let mut r = start();
    r.workflow_run_timeout = neg;
    assert_eq!(
        msg(start_workflow(&mut r)),
        "An invalid WorkflowRunTimeoutSeconds is set on request. cause: negative duration"
    );
    let mut r = start();
    r.workflow_task_timeout = Some(Duration {
        seconds: 1,
        nanos: -5,
    });
    assert!(msg(start_workflow(&mut r)).starts_with("An invalid WorkflowTaskTimeoutSeconds"));
    let mut r = start();
    r.workflow_start_delay = neg;
    assert!(msg(start_workflow(&mut r)).starts_with("An invalid WorkflowStartDelaySeconds"));
    let mut r = start();
    r.cron_schedule = "* * * * *".into();
    r.workflow_start_delay = Some(Duration::default());
    assert_eq!(
        msg(start_workflow(&mut r)),
        "CronSchedule and WorkflowStartDelay may not be used together."
    );
    let mut r = start();
    r.workflow_execution_timeout = Some(Duration {
        seconds: i64::MAX / 2,
        nanos: 0,
    });
    start_workflow(&mut r).expect("capped, not refused");
    assert_eq!(
        r.workflow_execution_timeout.map(|d| d.seconds),
        Some(100 * 365 * 24 * 3600)
    );
}

#[test]
fn start_validates_the_retry_policy_and_id_policies() {
    let mut r = start();
    r.retry_policy = Some(RetryPolicy {
        backoff_coefficient: 0.5,
        ..Default::default()
    });
    assert_eq!(
        msg(start_workflow(&mut r)),
        "BackoffCoefficient cannot be less than 1 on retry policy."
    );
    let mut r = start();
    r.retry_policy = Some(RetryPolicy::default());
    start_workflow(&mut r).expect("defaults filled");
    let rp = r.retry_policy.expect("kept");
    assert_eq!(rp.backoff_coefficient, 2.0);
    assert_eq!(rp.initial_interval.map(|d| d.seconds), Some(1));
    let mut r = start();
    r.workflow_id_reuse_policy = WorkflowIdReusePolicy::RejectDuplicate as i32;
    r.workflow_id_conflict_policy = WorkflowIdConflictPolicy::TerminateExisting as i32;
    assert!(msg(start_workflow(&mut r)).contains("REJECT_DUPLICATE cannot be used together"));
    let mut r = start();
    r.workflow_id_reuse_policy = WorkflowIdReusePolicy::TerminateIfRunning as i32;
    assert!(msg(start_workflow(&mut r)).contains("TERMINATE_IF_RUNNING cannot be used"));
}

#[test]
fn start_refuses_oversized_input_and_memo() {
    let mut r = start();
    r.input = big(2 * 1024 * 1024);
    assert_eq!(msg(start_workflow(&mut r)), "Blob data size exceeds limit.");
    let mut r = start();
    r.input = big(1024 * 1024);
    assert!(start_workflow(&mut r).is_ok(), "1 MiB is under the limit");
}

#[test]
fn signal_rules() {
    let ok = ws::SignalWorkflowExecutionRequest {
        workflow_execution: Some(WorkflowExecution {
            workflow_id: "wf".into(),
            run_id: String::new(),
        }),
        signal_name: "s".into(),
        ..Default::default()
    };
    assert!(signal(&ok).is_ok());
    let mut r = ok.clone();
    r.workflow_execution = None;
    assert_eq!(msg(signal(&r)), "Execution is not set on request.");
    let mut r = ok.clone();
    r.workflow_execution = Some(WorkflowExecution {
        workflow_id: "wf".into(),
        run_id: "not-a-uuid".into(),
    });
    assert_eq!(msg(signal(&r)), "Invalid RunId.");
    let mut r = ok.clone();
    r.signal_name.clear();
    assert_eq!(msg(signal(&r)), "SignalName is not set on request.");
    let mut r = ok.clone();
    r.signal_name = "s".repeat(1001);
    assert_eq!(msg(signal(&r)), "SignalName length exceeds limit.");
    let mut r = ok.clone();
    r.request_id = "s".repeat(1001);
    assert_eq!(msg(signal(&r)), "RequestId length exceeds limit.");
    let mut r = ok;
    r.input = big(3 * 1024 * 1024);
    assert_eq!(msg(signal(&r)), "Blob data size exceeds limit.");
}

#[test]
fn signal_with_start_rules() {
    let ok = ws::SignalWithStartWorkflowExecutionRequest {
        workflow_id: "wf".into(),
        workflow_type: Some(WorkflowType { name: "W".into() }),
        task_queue: Some(TaskQueue {
            name: "tq".into(),
            ..Default::default()
        }),
        signal_name: "s".into(),
        ..Default::default()
    };
    let mut r = ok.clone();
    signal_with_start(&mut r).expect("valid");
    assert!(!r.request_id.is_empty());
    let mut r = ok.clone();
    r.signal_name.clear();
    assert_eq!(msg(signal_with_start(&mut r)), "signal not set");
    let mut r = ok.clone();
    r.signal_name = "s".repeat(1001);
    assert_eq!(
        msg(signal_with_start(&mut r)),
        "signal name exceeds maximum allowed length (1001/1000)"
    );
    let mut r = ok.clone();
    r.workflow_type = None;
    assert_eq!(msg(signal_with_start(&mut r)), "workflow type not set");
    let mut r = ok;
    r.signal_input = big(2 * 1024 * 1024 + 1);
    assert_eq!(
        msg(signal_with_start(&mut r)),
        "Blob data size exceeds limit."
    );
}

#[test]
fn update_rules_and_default_id() {
    let ok = ws::UpdateWorkflowExecutionRequest {
        workflow_execution: Some(WorkflowExecution {
            workflow_id: "wf".into(),
            run_id: String::new(),
        }),
        request: Some(UpdateRequest {
            meta: Some(Meta::default()),
            input: Some(Input {
                name: "u".into(),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    };
    let mut r = ok.clone();
    update(&mut r).expect("valid");
    let id = r.request.and_then(|q| q.meta).map(|m| m.update_id);
    assert!(id.is_some_and(|i| uuid::Uuid::parse_str(&i).is_ok()));
    let mut r = ok.clone();
    r.request = None;
    assert_eq!(msg(update(&mut r)), "Update meta is not set on request.");
    let mut r = ok.clone();
    if let Some(q) = r.request.as_mut() {
        q.input = None;
    }
    assert_eq!(msg(update(&mut r)), "Update input is not set on request.");
    let mut r = ok.clone();
    if let Some(q) = r.request.as_mut() {
        q.input = Some(Input::default());
    }
    assert_eq!(msg(update(&mut r)), "Update name is not set on request.");
    let mut r = ok;
    if let Some(m) = r.request.as_mut().and_then(|q| q.meta.as_mut()) {
        m.update_id = "u".repeat(1001);
    }
    assert_eq!(msg(update(&mut r)), "UpdateId length exceeds limit.");
}

#[test]
fn query_rules() {
    let ok = ws::QueryWorkflowRequest {
        execution: Some(WorkflowExecution {
            workflow_id: "wf".into(),
            run_id: String::new(),
        }),
        query: Some(WorkflowQuery {
            query_type: "q".into(),
            ..Default::default()
        }),
        ..Default::default()
    };
    assert!(query(&ok).is_ok());
    let mut r = ok.clone();
    r.query = None;
    assert_eq!(msg(query(&r)), "WorkflowQuery is not set on request.");
    let mut r = ok.clone();
    r.query = Some(WorkflowQuery::default());
    assert_eq!(msg(query(&r)), "QueryType is not set on request.");
    let mut r = ok;
    if let Some(q) = r.query.as_mut() {
        q.query_args = big(2 * 1024 * 1024);
    }
    assert_eq!(msg(query(&r)), "Blob data size exceeds limit.");
}
