//! Batch jobs, as the Temporal CLI runs them: `workflow terminate|cancel|signal|delete|reset
//! --query …` start a job (StartBatchOperation) after confirming how many workflows match,
//! and `batch describe|list|terminate` show and stop jobs.

use crate::args::ExecutionArgs;
use crate::batch_args::{BatchJobArgs, BatchListArgs, BatchTerminateArgs, SingleOrBatchArgs};
use crate::connection::Client;
use crate::error::CliError;
use crate::output::{field, field_opt, print_card, print_json, print_table, proto_json, rfc3339};
use crate::workflow_commands::confirm;
use serde_json::json;
use std::io::Write;
use temporalio_protos::temporal::api::enums::v1::{BatchOperationState, BatchOperationType};
use temporalio_protos::temporal::api::workflowservice::v1::{
    CountWorkflowExecutionsRequest, DescribeBatchOperationRequest, ListBatchOperationsRequest,
    StartBatchOperationRequest, StopBatchOperationRequest,
};

fn invalid(what: &str, message: &str) -> CliError {
    CliError::InvalidValue {
        what: what.into(),
        message: message.into(),
    }
}

/// The current user's name, as the Temporal CLI's `username()`.
pub fn username() -> String {
    std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "<unknown-user>".into())
}

/// The Temporal CLI's default batch reason.
pub fn default_reason() -> String {
    format!("Requested from CLI by {}", username())
}

/// What a single-or-batch command acts on.
#[derive(Debug)]
pub enum Target {
    /// The one workflow `--workflow-id` names.
    Single(Box<ExecutionArgs>),
    /// A batch job over `--query` (the operation still to be set).
    Batch(Box<StartBatchOperationRequest>),
}

/// Which flags the single-workflow form of a command also takes.
#[derive(Debug, Clone, Copy, Default)]
pub struct SingleAllows {
    /// `--reason` (terminate).
    pub reason: bool,
    /// `--yes` (delete).
    pub yes: bool,
}

/// The Temporal CLI's `workflowExecOrBatch`: checks the flags, and for a batch confirms
/// (unless `--yes`) how many workflows the query matches.
pub async fn single_or_batch(
    client: &mut Client,
    namespace: &str,
    args: &SingleOrBatchArgs,
    allows: SingleAllows,
) -> Result<Target, CliError> {
    if let Some(exec) = args.execution() {
        if args.query.is_some() {
            return Err(invalid(
                "--query",
                "cannot set query when workflow ID is set",
            ));
        } else if args.reason.is_some() && !allows.reason {
            return Err(invalid(
                "--reason",
                "cannot set reason when workflow ID is set",
            ));
        } else if args.yes && !allows.yes {
            return Err(invalid("--yes", "cannot set 'yes' when workflow ID is set"));
        } else if args.rps.is_some() {
            return Err(invalid("--rps", "cannot set rps when workflow ID is set"));
        }
        return Ok(Target::Single(Box::new(exec)));
    }
    let query = match args.query.as_deref() {
        Some(q) if !q.is_empty() => q,
        _ => {
            return Err(invalid(
                "--workflow-id/--query",
                "must set either workflow ID or query",
            ));
        }
    };
    if args.run_id.is_some() {
        return Err(invalid("--run-id", "cannot set run ID when query is set"));
    }
    confirm_batch(client, namespace, query, args.yes).await?;
    Ok(Target::Batch(Box::new(StartBatchOperationRequest {
        namespace: namespace.to_string(),
        job_id: uuid::Uuid::new_v4().to_string(),
        visibility_query: query.to_string(),
        reason: args.reason.clone().unwrap_or_else(default_reason),
        max_operations_per_second: args.rps.unwrap_or(0.0),
        ..Default::default()
    })))
}

/// Asks "Start batch against approximately N workflow(s)? y/N" (the count skipped with
/// `--yes`, so a batch can start while visibility is slow).
pub async fn confirm_batch(
    client: &mut Client,
    namespace: &str,
    query: &str,
    yes: bool,
) -> Result<(), CliError> {
    let question = if yes {
        format!("Start batch against workflows matching query {query:?}? y/N")
    } else {
        let count = client
            .count_workflow_executions(CountWorkflowExecutionsRequest {
                namespace: namespace.to_string(),
                query: query.to_string(),
            })
            .await
            .map_err(|s| CliError::rpc("count workflows from query", s))?
            .into_inner()
            .count;
        format!("Start batch against approximately {count} workflow(s)? y/N")
    };
    confirm(&question, "start a batch job", yes)
}

/// Starts the job and prints its id (`{"batchJobId": …}` in JSON).
pub async fn start_batch_job(
    client: &mut Client,
    req: StartBatchOperationRequest,
    json: bool,
    out: &mut impl Write,
) -> Result<(), CliError> {
    let job_id = req.job_id.clone();
    client
        .start_batch_operation(req)
        .await
        .map_err(|s| CliError::rpc("start batch operation", s))?;
    if json {
        return print_json(out, &json!({ "batchJobId": job_id }));
    }
    writeln!(out, "Started batch for job ID: {job_id}")?;
    Ok(())
}

fn job_not_found(operation: &'static str, job_id: &str, s: tonic::Status) -> CliError {
    let hint = " (check --job-id and --namespace)".into();
    CliError::not_found_or_rpc(operation, s, "batch job", job_id, hint)
}

fn state_name(state: i32) -> &'static str {
    BatchOperationState::try_from(state)
        .unwrap_or(BatchOperationState::Unspecified)
        .as_str_name()
}

/// `batch describe`: state, type, times and the counts as `done/total`.
pub async fn cmd_describe(
    client: &mut Client,
    namespace: &str,
    args: &BatchJobArgs,
    out: &mut impl Write,
) -> Result<(), CliError> {
    let resp = client
        .describe_batch_operation(DescribeBatchOperationRequest {
            namespace: namespace.to_string(),
            job_id: args.job_id.clone(),
        })
        .await
        .map_err(|s| job_not_found("describe batch job", &args.job_id, s))?
        .into_inner();
    if args.output.output.is_json() {
        return print_json(out, &proto_json(&resp, true)?);
    }
    let kind = BatchOperationType::try_from(resp.operation_type)
        .unwrap_or(BatchOperationType::Unspecified)
        .as_str_name();
    let total = resp.total_operation_count;
    print_card(
        out,
        &[
            field("State", state_name(resp.state)),
            field("Type", kind),
            field("StartTime", rfc3339(resp.start_time.as_ref())),
            field_opt("CloseTime", rfc3339(resp.close_time.as_ref())),
            field(
                "CompletedCount",
                format!("{}/{total}", resp.complete_operation_count),
            ),
            field(
                "FailureCount",
                format!("{}/{total}", resp.failure_operation_count),
            ),
        ],
    )
}

/// `batch list`: one table row per job (a JSON array with `--output json`).
pub async fn cmd_list(
    client: &mut Client,
    namespace: &str,
    args: &BatchListArgs,
    out: &mut impl Write,
) -> Result<(), CliError> {
    let mut jobs = Vec::new();
    let mut token = Vec::new();
    loop {
        let page = client
            .list_batch_operations(ListBatchOperationsRequest {
                namespace: namespace.to_string(),
                next_page_token: token,
                ..Default::default()
            })
            .await
            .map_err(|s| CliError::rpc("list batch jobs", s))?
            .into_inner();
        jobs.extend(page.operation_info);
        let full = args.limit > 0 && jobs.len() >= args.limit;
        if page.next_page_token.is_empty() || full {
            break;
        }
        token = page.next_page_token;
    }
    if args.limit > 0 {
        jobs.truncate(args.limit);
    }
    if args.output.output.is_json() {
        let items = jobs
            .iter()
            .map(|j| proto_json(j, true))
            .collect::<Result<Vec<_>, _>>()?;
        return print_json(out, &serde_json::Value::Array(items));
    }
    if jobs.is_empty() {
        return Ok(());
    }
    let rows: Vec<Vec<String>> = jobs
        .iter()
        .map(|j| {
            vec![
                j.job_id.clone(),
                state_name(j.state).to_string(),
                rfc3339(j.start_time.as_ref()),
                rfc3339(j.close_time.as_ref()),
            ]
        })
        .collect();
    print_table(
        out,
        &["JobId", "State", "StartTime", "CloseTime"],
        &rows,
        true,
    )
}

/// `batch terminate`: StopBatchOperation.
pub async fn cmd_terminate(
    client: &mut Client,
    namespace: &str,
    args: &BatchTerminateArgs,
    out: &mut impl Write,
) -> Result<(), CliError> {
    let id = &args.job.job_id;
    client
        .stop_batch_operation(StopBatchOperationRequest {
            namespace: namespace.to_string(),
            job_id: id.clone(),
            reason: args.reason.clone(),
            identity: crate::workflow_commands::identity(),
        })
        .await
        .map_err(|s| job_not_found("terminate batch job", id, s))?;
    if args.job.output.output.is_json() {
        return print_json(out, &json!({ "batchJobId": id, "terminated": true }));
    }
    writeln!(out, "Terminated Batch Job '{id}'")?;
    Ok(())
}
