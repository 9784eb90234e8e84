//! `hourglass workflow update execute|start|result|describe`: workflow updates through
//! UpdateWorkflowExecution / PollWorkflowExecutionUpdate, as the Temporal CLI's
//! `temporal workflow update` commands.

use crate::args::{UpdateStartArgs, UpdateStartingArgs, UpdateTargetArgs};
use crate::connection::Client;
use crate::error::CliError;
use crate::output::{enum_text, field, field_opt, print_card, print_json, proto_json, value_text};
use crate::payload_json::{input_payloads, payloads_to_json};
use crate::workflow_commands::{execution, failure_message, identity, not_found_or_rpc};
use serde_json::{Value, json};
use std::io::Write;
use temporalio_protos::temporal::api::enums::v1::UpdateWorkflowExecutionLifecycleStage as Stage;
use temporalio_protos::temporal::api::update::v1::{
    Input, Meta, Outcome, Request, UpdateRef, WaitPolicy, outcome,
};
use temporalio_protos::temporal::api::workflowservice::v1::{
    PollWorkflowExecutionUpdateRequest, UpdateWorkflowExecutionRequest,
};

/// Sends the update and waits until it reaches `stage` (or later); returns the update id
/// and the outcome, if it has one by then.
async fn send(
    client: &mut Client,
    namespace: &str,
    args: &UpdateStartingArgs,
    stage: Stage,
) -> Result<(String, Option<Outcome>), CliError> {
    if args.name.trim().is_empty() {
        return Err(CliError::InvalidValue {
            what: "--name".into(),
            message: "must name an update handler".into(),
        });
    }
    let update_id = args
        .update_id
        .clone()
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let req = UpdateWorkflowExecutionRequest {
        namespace: namespace.to_string(),
        workflow_execution: execution(&args.workflow_id, args.run_id.as_deref()),
        first_execution_run_id: args.first_execution_run_id.clone().unwrap_or_default(),
        wait_policy: Some(WaitPolicy {
            lifecycle_stage: stage as i32,
        }),
        request: Some(Request {
            meta: Some(Meta {
                update_id: update_id.clone(),
                identity: identity(),
            }),
            input: Some(Input {
                header: None,
                name: args.name.clone(),
                args: input_payloads(&args.input)?,
            }),
            ..Default::default()
        }),
    };
    // The server answers when the stage is reached or its long poll times out; the request
    // is idempotent by update id, so ask again until the stage is reached.
    loop {
        let resp = client
            .update_workflow_execution(req.clone())
            .await
            .map_err(|s| not_found_or_rpc("update workflow", &args.workflow_id, s))?
            .into_inner();
        if resp.outcome.is_some() || resp.stage >= stage as i32 {
            return Ok((update_id, resp.outcome));
        }
    }
}

/// Polls an update; with `wait`, until it has an outcome.
async fn poll(
    client: &mut Client,
    namespace: &str,
    args: &UpdateTargetArgs,
    wait: bool,
) -> Result<(i32, Option<Outcome>), CliError> {
    let req = PollWorkflowExecutionUpdateRequest {
        namespace: namespace.to_string(),
        update_ref: Some(UpdateRef {
            workflow_execution: execution(&args.workflow_id, args.run_id.as_deref()),
            update_id: args.update_id.clone(),
        }),
        identity: identity(),
        wait_policy: wait.then_some(WaitPolicy {
            lifecycle_stage: Stage::Completed as i32,
        }),
    };
    loop {
        let resp = client
            .poll_workflow_execution_update(req.clone())
            .await
            .map_err(|s| {
                let hint = format!(" in workflow {} (check --update-id)", args.workflow_id);
                CliError::not_found_or_rpc(
                    "poll workflow update",
                    s,
                    "update",
                    &args.update_id,
                    hint,
                )
            })?
            .into_inner();
        if !wait || resp.outcome.is_some() {
            return Ok((resp.stage, resp.outcome));
        }
    }
}

/// The outcome as a result value, or the failure as an error.
fn outcome_result(update_id: &str, outcome: Option<&Outcome>) -> Result<Value, CliError> {
    match outcome.and_then(|o| o.value.as_ref()) {
        Some(outcome::Value::Success(p)) => Ok(payloads_to_json(Some(p))),
        Some(outcome::Value::Failure(f)) => Err(CliError::UpdateFailed {
            update_id: update_id.to_string(),
            message: failure_message(Some(f)),
        }),
        None => Ok(Value::Null),
    }
}

/// `workflow update execute`: sends the update, waits for it to complete, prints
/// `Name`, `UpdateID` and `Result`.
pub async fn cmd_execute(
    client: &mut Client,
    namespace: &str,
    args: &UpdateStartingArgs,
    out: &mut impl Write,
) -> Result<(), CliError> {
    let (update_id, outcome) = send(client, namespace, args, Stage::Completed).await?;
    let outcome = match outcome {
        Some(o) => Some(o),
        None => {
            let target = target_of(args, &update_id);
            poll(client, namespace, &target, true).await?.1
        }
    };
    let result = outcome_result(&update_id, outcome.as_ref())?;
    if args.output.output.is_json() {
        return print_json(
            out,
            &json!({"name": args.name, "updateId": update_id, "result": result}),
        );
    }
    print_card(
        out,
        &[
            field("Name", &args.name),
            field("UpdateID", &update_id),
            field("Result", value_text(&result)),
        ],
    )
}

fn target_of(args: &UpdateStartingArgs, update_id: &str) -> UpdateTargetArgs {
    UpdateTargetArgs {
        connection: args.connection.clone(),
        workflow_id: args.workflow_id.clone(),
        update_id: update_id.to_string(),
        run_id: args.run_id.clone(),
        output: args.output,
    }
}

/// `workflow update start --wait-for-stage accepted`: sends the update and returns once it
/// is accepted; prints `Name` and `UpdateID`.
pub async fn cmd_start(
    client: &mut Client,
    namespace: &str,
    args: &UpdateStartArgs,
    out: &mut impl Write,
) -> Result<(), CliError> {
    if args.wait_for_stage != "accepted" {
        return Err(CliError::InvalidValue {
            what: "--wait-for-stage".into(),
            message: format!(
                "invalid wait for stage: {}, valid values are: 'accepted'",
                args.wait_for_stage
            ),
        });
    }
    let a = &args.starting;
    let (update_id, outcome) = send(client, namespace, a, Stage::Accepted).await?;
    // A rejected update comes back at once with its failure.
    if let Some(Outcome {
        value: Some(outcome::Value::Failure(_)),
    }) = &outcome
    {
        outcome_result(&update_id, outcome.as_ref())?;
    }
    if a.output.output.is_json() {
        return print_json(out, &json!({"name": a.name, "updateId": update_id}));
    }
    print_card(
        out,
        &[field("Name", &a.name), field("UpdateID", &update_id)],
    )
}

/// `workflow update result`: waits for the update's outcome and prints it; a failed update
/// prints its failure and fails.
pub async fn cmd_result(
    client: &mut Client,
    namespace: &str,
    args: &UpdateTargetArgs,
    out: &mut impl Write,
) -> Result<(), CliError> {
    let (_, outcome) = poll(client, namespace, args, true).await?;
    print_outcome(out, args, outcome.as_ref(), None)?;
    outcome_result(&args.update_id, outcome.as_ref()).map(drop)
}

/// `workflow update describe`: the update's stage, and its outcome once it has one.
pub async fn cmd_describe(
    client: &mut Client,
    namespace: &str,
    args: &UpdateTargetArgs,
    out: &mut impl Write,
) -> Result<(), CliError> {
    let (stage, outcome) = poll(client, namespace, args, false).await?;
    let stage = Stage::try_from(stage)
        .map(|s| {
            enum_text(
                s.as_str_name(),
                "UPDATE_WORKFLOW_EXECUTION_LIFECYCLE_STAGE_",
            )
        })
        .unwrap_or_default();
    print_outcome(out, args, outcome.as_ref(), Some(&stage))
}

fn print_outcome(
    out: &mut impl Write,
    args: &UpdateTargetArgs,
    outcome: Option<&Outcome>,
    stage: Option<&str>,
) -> Result<(), CliError> {
    let (result, failure) = match outcome.and_then(|o| o.value.as_ref()) {
        Some(outcome::Value::Success(p)) => (Some(payloads_to_json(Some(p))), None),
        Some(outcome::Value::Failure(f)) => (None, Some(f)),
        None => (None, None),
    };
    if args.output.output.is_json() {
        let mut v = json!({"updateId": args.update_id});
        if let Some(r) = result {
            v["result"] = r;
        }
        if let Some(f) = failure {
            v["failure"] = proto_json(f, true)?;
        }
        if let Some(s) = stage {
            v["stage"] = json!(s);
        }
        return print_json(out, &v);
    }
    let mut fields = vec![
        field("UpdateID", &args.update_id),
        field_opt(
            "Result",
            result.as_ref().map(value_text).unwrap_or_default(),
        ),
        field_opt(
            "Failure",
            failure
                .map(|f| failure_message(Some(f)))
                .unwrap_or_default(),
        ),
    ];
    if let Some(s) = stage {
        fields.push(field("Stage", s));
    }
    print_card(out, &fields)
}
