//! Hand-built activation protos and completion inspection shared by the integration tests.
#![allow(dead_code)]

use hourglass_worker::payload::{from_payload, to_payload};
use serde::{Serialize, de::DeserializeOwned};
use temporalio_common::protos::{
    coresdk::{
        activity_result::{self, ActivityResolution, activity_resolution},
        workflow_activation::{
            InitializeWorkflow, RemoveFromCache, WorkflowActivation, WorkflowActivationJob,
            remove_from_cache::EvictionReason, workflow_activation_job::Variant,
        },
        workflow_commands::workflow_command,
        workflow_completion::{WorkflowActivationCompletion, workflow_activation_completion},
    },
    temporal::api::{
        common::v1::{Payload, WorkflowExecution},
        enums::v1::WorkflowTaskFailedCause,
        failure::v1::Failure,
    },
};

pub fn p<T: Serialize + 'static>(v: T) -> Payload {
    to_payload(&v).unwrap()
}

pub fn decode<T: DeserializeOwned + 'static>(p: &Payload) -> T {
    from_payload(p).unwrap()
}

pub fn activation(run_id: &str, jobs: Vec<Variant>) -> WorkflowActivation {
    WorkflowActivation {
        run_id: run_id.to_owned(),
        jobs: jobs
            .into_iter()
            .map(|v| WorkflowActivationJob { variant: Some(v) })
            .collect(),
        ..Default::default()
    }
}

pub fn init(workflow_type: &str, args: Vec<Payload>) -> Variant {
    init_seeded(workflow_type, args, 42)
}

pub fn init_seeded(workflow_type: &str, args: Vec<Payload>, seed: u64) -> Variant {
    Variant::InitializeWorkflow(InitializeWorkflow {
        workflow_type: workflow_type.to_owned(),
        workflow_id: "wf-1".to_owned(),
        arguments: args,
        randomness_seed: seed,
        first_execution_run_id: "run-1".to_owned(),
        ..Default::default()
    })
}

pub fn evict() -> Variant {
    Variant::RemoveFromCache(RemoveFromCache {
        message: "test eviction".to_owned(),
        reason: EvictionReason::CacheFull as i32,
    })
}

pub fn resolve_activity_ok(seq: u32, result: Payload) -> Variant {
    Variant::ResolveActivity(
        temporalio_common::protos::coresdk::workflow_activation::ResolveActivity {
            seq,
            result: Some(ActivityResolution {
                status: Some(activity_resolution::Status::Completed(
                    activity_result::Success {
                        result: Some(result),
                    },
                )),
            }),
            ..Default::default()
        },
    )
}

pub fn resolve_activity_failed(seq: u32, message: &str) -> Variant {
    Variant::ResolveActivity(
        temporalio_common::protos::coresdk::workflow_activation::ResolveActivity {
            seq,
            result: Some(ActivityResolution {
                status: Some(activity_resolution::Status::Failed(
                    activity_result::Failure {
                        failure: Some(Failure::application_failure(message.to_owned(), true)),
                        ..Default::default()
                    },
                )),
            }),
            ..Default::default()
        },
    )
}

pub fn execution(workflow_id: &str, run_id: &str) -> WorkflowExecution {
    WorkflowExecution {
        workflow_id: workflow_id.to_owned(),
        run_id: run_id.to_owned(),
    }
}

/// The command variants of a successful completion (panics with the failure otherwise).
pub fn commands(c: &WorkflowActivationCompletion) -> Vec<workflow_command::Variant> {
    match &c.status {
        Some(workflow_activation_completion::Status::Successful(s)) => s
            .commands
            .iter()
            .map(|c| c.variant.clone().expect("command has a variant"))
            .collect(),
        other => panic!("expected a successful completion, got {other:?}"),
    }
}

/// The failure and cause of a failed completion (panics otherwise).
pub fn failure(c: &WorkflowActivationCompletion) -> (Failure, WorkflowTaskFailedCause) {
    match &c.status {
        Some(workflow_activation_completion::Status::Failed(f)) => (
            f.failure.clone().expect("failure present"),
            WorkflowTaskFailedCause::try_from(f.force_cause).unwrap(),
        ),
        other => panic!("expected a failed completion, got {other:?}"),
    }
}
