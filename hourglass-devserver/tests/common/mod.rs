//! Raw-gRPC helpers shared by the protocol tests: a fresh in-memory server, a client, and
//! the requests a worker sends, with no SDK in the way.
#![allow(dead_code, unused_imports)]
pub use hourglass_devserver::{Database, DevServer, RunningServer};
pub use temporalio_common::protos::temporal::api::{
    command::v1::{
        Command, CompleteWorkflowExecutionCommandAttributes, ScheduleActivityTaskCommandAttributes,
        command::Attributes,
    },
    common::v1::{ActivityType, WorkflowExecution, WorkflowType},
    enums::v1::{CommandType, EventType, HistoryEventFilterType, WorkflowExecutionStatus},
    history::v1::HistoryEvent,
    taskqueue::v1::TaskQueue,
    workflowservice::v1::{
        DescribeWorkflowExecutionRequest, GetClusterInfoRequest, GetSystemInfoRequest,
        GetWorkflowExecutionHistoryRequest, GetWorkflowExecutionHistoryReverseRequest,
        ListNamespacesRequest, PollActivityTaskQueueRequest, PollWorkflowTaskQueueRequest,
        PollWorkflowTaskQueueResponse, RecordActivityTaskHeartbeatByIdRequest,
        RespondActivityTaskCompletedByIdRequest, RespondWorkflowTaskCompletedRequest,
        SignalWorkflowExecutionRequest, StartWorkflowExecutionRequest,
        workflow_service_client::WorkflowServiceClient,
    },
};
pub use tonic::transport::Channel;

pub type C = WorkflowServiceClient<Channel>;

pub async fn server() -> (RunningServer, C) {
    let s = DevServer::builder()
        .port(0)
        .database(Database::InMemory)
        .start()
        .await
        .unwrap();
    let c = WorkflowServiceClient::connect(s.url()).await.unwrap();
    (s, c)
}

pub fn dur(ms: i64) -> Option<prost_wkt_types::Duration> {
    Some(prost_wkt_types::Duration {
        seconds: ms / 1000,
        nanos: ((ms % 1000) * 1_000_000) as i32,
    })
}

pub fn tq() -> Option<TaskQueue> {
    Some(TaskQueue {
        name: "proto-tq".into(),
        ..Default::default()
    })
}

pub async fn start(c: &mut C, id: &str, wft_timeout_ms: i64, run_timeout_ms: i64) {
    c.start_workflow_execution(StartWorkflowExecutionRequest {
        namespace: "default".into(),
        workflow_id: id.into(),
        workflow_type: Some(WorkflowType { name: "Raw".into() }),
        task_queue: tq(),
        workflow_task_timeout: dur(wft_timeout_ms),
        workflow_run_timeout: if run_timeout_ms > 0 {
            dur(run_timeout_ms)
        } else {
            None
        },
        request_id: uuid::Uuid::new_v4().to_string(),
        ..Default::default()
    })
    .await
    .unwrap();
}

pub async fn poll(c: &mut C) -> PollWorkflowTaskQueueResponse {
    poll_as(c.clone(), "").await.unwrap()
}

/// A workflow task poll from the worker instance `key` (empty: a worker that sends none).
pub async fn poll_as(mut c: C, key: &str) -> Result<PollWorkflowTaskQueueResponse, tonic::Status> {
    c.poll_workflow_task_queue(PollWorkflowTaskQueueRequest {
        namespace: "default".into(),
        task_queue: tq(),
        identity: "raw".into(),
        worker_instance_key: key.into(),
        ..Default::default()
    })
    .await
    .map(|r| r.into_inner())
}

/// The capabilities the `default` namespace advertises.
pub async fn capabilities(
    c: &mut C,
) -> temporalio_common::protos::temporal::api::namespace::v1::namespace_info::Capabilities {
    c.describe_namespace(
        temporalio_common::protos::temporal::api::workflowservice::v1::DescribeNamespaceRequest {
            namespace: "default".into(),
            ..Default::default()
        },
    )
    .await
    .unwrap()
    .into_inner()
    .namespace_info
    .unwrap()
    .capabilities
    .unwrap()
}

pub async fn history(c: &mut C, id: &str) -> Vec<HistoryEvent> {
    c.get_workflow_execution_history(GetWorkflowExecutionHistoryRequest {
        namespace: "default".into(),
        execution: Some(WorkflowExecution {
            workflow_id: id.into(),
            run_id: String::new(),
        }),
        ..Default::default()
    })
    .await
    .unwrap()
    .into_inner()
    .history
    .unwrap()
    .events
}

pub fn types(evs: &[HistoryEvent]) -> Vec<EventType> {
    evs.iter()
        .map(|e| EventType::try_from(e.event_type).unwrap())
        .collect()
}

pub fn complete_cmd() -> Command {
    Command {
        command_type: CommandType::CompleteWorkflowExecution as i32,
        attributes: Some(Attributes::CompleteWorkflowExecutionCommandAttributes(
            CompleteWorkflowExecutionCommandAttributes { result: None },
        )),
        ..Default::default()
    }
}

/// Runs a Python script of `tests/python/` off the async runtime and answers its output;
/// panics with that output when the script fails or does not report `ok`.
pub async fn python_scenario(
    file: &str,
    args: Vec<String>,
    envs: Vec<(String, String)>,
    timeout: std::time::Duration,
) -> String {
    let script = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/python")
        .join(file);
    let out = tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let envs: Vec<(&str, &str)> = envs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        hourglass_tests::python_env::run_script_ok(&script, &args, &envs, timeout)
    })
    .await
    .expect("the script's task panicked");
    match out {
        Ok(text) if text.contains("ok") => text,
        Ok(text) => panic!("the script did not report ok:\n{text}"),
        Err(e) => panic!("{e}"),
    }
}
