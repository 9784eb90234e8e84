//! ExecuteMultiOperation's frontend checks, as temporalio/temporal's
//! `WorkflowHandler.ExecuteMultiOperation` / `convertToHistoryMultiOperationRequest` make
//! them: exactly [Start, Update]; each operation validated as its own RPC would be, plus the
//! options update-with-start refuses (cron, eager start, start delay, run ids); the same
//! workflow id in both. A refused operation is reported in a `MultiOperationExecutionFailure`,
//! the other one aborted, and nothing reaches history.
use crate::frontend::validation;
use crate::history::multi_operation::MULTI_OPERATION_FAILED;
use crate::status;
use temporalio_protos::temporal::api::workflowservice::v1::{
    self as ws, execute_multi_operation_request::operation::Operation,
};
use tonic::Status;

fn invalid(msg: &str) -> Status {
    Status::invalid_argument(msg)
}

/// The start and update of a valid update-with-start request, with the defaults their own
/// RPCs would get (request and update ids, the namespace).
pub fn update_with_start(
    r: ws::ExecuteMultiOperationRequest,
) -> Result<
    (
        ws::StartWorkflowExecutionRequest,
        ws::UpdateWorkflowExecutionRequest,
    ),
    Status,
> {
    let not_start_and_update = || invalid("Operations have to be exactly [Start, Update].");
    let [first, second]: [_; 2] = r
        .operations
        .try_into()
        .map_err(|_| not_start_and_update())?;
    let (Some(Operation::StartWorkflow(mut start)), Some(Operation::UpdateWorkflow(mut update))) =
        (first.operation, second.operation)
    else {
        return Err(not_start_and_update());
    };
    let start_err = check_start(&r.namespace, &mut start).err();
    let mut update_err = check_update(&r.namespace, &mut update).err();
    let update_workflow_id = update
        .workflow_execution
        .as_ref()
        .map_or("", |w| w.workflow_id.as_str());
    if start_err.is_none() && update_err.is_none() && update_workflow_id != start.workflow_id {
        update_err = Some(invalid(
            "WorkflowId is not consistent with previous operation(s).",
        ));
    }
    if start_err.is_none() && update_err.is_none() {
        return Ok((start, update));
    }
    let or_aborted = |e: Option<Status>| e.or_else(|| Some(status::multi_operation_aborted()));
    Err(status::multi_operation(
        MULTI_OPERATION_FAILED,
        &[or_aborted(start_err), or_aborted(update_err)],
    ))
}

fn check_namespace(request_namespace: &str, namespace: &mut String) -> Result<(), Status> {
    if namespace.is_empty() {
        *namespace = request_namespace.to_string();
    } else if namespace != request_namespace {
        return Err(invalid(
            "Operation namespace did not match request's namespace.",
        ));
    }
    Ok(())
}

fn check_start(ns: &str, start: &mut ws::StartWorkflowExecutionRequest) -> Result<(), Status> {
    check_namespace(ns, &mut start.namespace)?;
    validation::start_workflow(start)?;
    if !start.cron_schedule.is_empty() {
        return Err(invalid("CronSchedule is not allowed."));
    }
    if start.request_eager_execution {
        return Err(invalid("RequestEagerExecution is not supported."));
    }
    if start
        .workflow_start_delay
        .as_ref()
        .is_some_and(|d| d.seconds > 0 || d.nanos > 0)
    {
        return Err(invalid("WorkflowStartDelay is not supported."));
    }
    Ok(())
}

fn check_update(ns: &str, update: &mut ws::UpdateWorkflowExecutionRequest) -> Result<(), Status> {
    check_namespace(ns, &mut update.namespace)?;
    validation::update(update)?;
    if !update.first_execution_run_id.is_empty() {
        return Err(invalid("FirstExecutionRunId is not allowed."));
    }
    if update
        .workflow_execution
        .as_ref()
        .is_some_and(|w| !w.run_id.is_empty())
    {
        return Err(invalid("RunId is not allowed."));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;
    use temporalio_protos::google::rpc::Status as RpcStatus;
    use temporalio_protos::temporal::api::{
        common::v1::{WorkflowExecution, WorkflowType},
        errordetails::v1::MultiOperationExecutionFailure,
        taskqueue::v1::TaskQueue,
        update::v1 as upd,
        workflowservice::v1::execute_multi_operation_request::Operation as Op,
    };

    fn start(id: &str) -> ws::StartWorkflowExecutionRequest {
        ws::StartWorkflowExecutionRequest {
            workflow_id: id.into(),
            workflow_type: Some(WorkflowType { name: "W".into() }),
            task_queue: Some(TaskQueue {
                name: "q".into(),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn update(id: &str) -> ws::UpdateWorkflowExecutionRequest {
        ws::UpdateWorkflowExecutionRequest {
            workflow_execution: Some(WorkflowExecution {
                workflow_id: id.into(),
                run_id: String::new(),
            }),
            request: Some(upd::Request {
                meta: Some(upd::Meta::default()),
                input: Some(upd::Input {
                    name: "u".into(),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn request(
        s: ws::StartWorkflowExecutionRequest,
        u: ws::UpdateWorkflowExecutionRequest,
    ) -> ws::ExecuteMultiOperationRequest {
        ws::ExecuteMultiOperationRequest {
            namespace: "default".into(),
            operations: vec![
                Op {
                    operation: Some(Operation::StartWorkflow(s)),
                },
                Op {
                    operation: Some(Operation::UpdateWorkflow(u)),
                },
            ],
            ..Default::default()
        }
    }

    /// (code, message) of each operation in the error's MultiOperationExecutionFailure.
    fn operations(st: &Status) -> Vec<(i32, String)> {
        let rpc = RpcStatus::decode(st.details()).unwrap();
        let f = MultiOperationExecutionFailure::decode(rpc.details[0].value.as_slice()).unwrap();
        f.statuses
            .into_iter()
            .map(|s| (s.code, s.message))
            .collect()
    }

    const ABORTED: i32 = tonic::Code::Aborted as i32;
    const INVALID: i32 = tonic::Code::InvalidArgument as i32;

    #[test]
    fn a_valid_request_gets_the_defaults_of_its_operations() {
        let (s, u) = update_with_start(request(start("w"), update("w"))).unwrap();
        assert_eq!(s.namespace, "default");
        assert!(!s.request_id.is_empty());
        assert!(!u.request.unwrap().meta.unwrap().update_id.is_empty());
    }

    #[test]
    fn anything_but_start_then_update_is_refused() {
        let mut r = request(start("w"), update("w"));
        r.operations.swap(0, 1);
        let e = update_with_start(r).unwrap_err();
        assert_eq!(
            e.message(),
            "Operations have to be exactly [Start, Update]."
        );
        let mut r = request(start("w"), update("w"));
        r.operations.pop();
        assert_eq!(
            update_with_start(r).unwrap_err().code(),
            tonic::Code::InvalidArgument
        );
    }

    #[test]
    fn a_refused_operation_is_named_and_the_other_aborted() {
        let mut s = start("w");
        s.cron_schedule = "* * * * *".into();
        let e = update_with_start(request(s, update("w"))).unwrap_err();
        assert_eq!(e.code(), tonic::Code::InvalidArgument);
        assert_eq!(e.message(), MULTI_OPERATION_FAILED);
        assert_eq!(
            operations(&e),
            vec![
                (INVALID, "CronSchedule is not allowed.".into()),
                (ABORTED, "Operation was aborted.".into())
            ]
        );
        let mut u = update("w");
        u.workflow_execution.as_mut().unwrap().run_id = uuid::Uuid::new_v4().to_string();
        let e = update_with_start(request(start("w"), u)).unwrap_err();
        assert_eq!(operations(&e)[1], (INVALID, "RunId is not allowed.".into()));
        let e = update_with_start(request(start("w"), update("other"))).unwrap_err();
        assert_eq!(
            operations(&e)[1],
            (
                INVALID,
                "WorkflowId is not consistent with previous operation(s).".into()
            )
        );
        let mut s = start("w");
        s.request_eager_execution = true;
        s.namespace = "elsewhere".into();
        let e = update_with_start(request(s, update("w"))).unwrap_err();
        assert_eq!(
            operations(&e)[0],
            (
                INVALID,
                "Operation namespace did not match request's namespace.".into()
            )
        );
    }
}
