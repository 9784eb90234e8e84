//! DeleteWorkflowExecution, as Temporal's service/history/api/deleteworkflow: a running run is
//! first terminated ("Delete workflow execution", by history-service), then the run, its
//! history and its visibility record are deleted. The dev server deletes at once, where
//! Temporal queues a delete task; clients see the same end state.
use crate::prelude::*;

/// Temporal's reason for the termination of a run deleted while running.
const DELETE_REASON: &str = "Delete workflow execution";

impl Engine {
    /// DeleteWorkflowExecution: NotFound for a run that does not exist.
    pub async fn delete_workflow(&self, req: ws::DeleteWorkflowExecutionRequest) -> RpcResult<()> {
        let wf = crate::history::query::workflow_of(&req.workflow_execution).to_string();
        self.with_workflow_local(&req.namespace, &wf, |g| {
            let key = g.resolve(&req.namespace, &req.workflow_execution)?;
            if g.execs.get(&key).is_some_and(|e| e.st.is_open()) {
                g.terminate(&key, DELETE_REASON, None, "history-service");
            }
            g.delete_run(key, "DeleteWorkflowExecution");
            Ok(())
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_running_run_is_terminated_then_deleted_and_a_missing_one_is_not_found() {
        let e = Engine::open(&Database::InMemory, "default").unwrap();
        let key = e.lock_all().create_run(NewRun {
            namespace: "default".into(),
            workflow_id: "w".into(),
            run_id: new_id(),
            workflow_type: "T".into(),
            task_queue: "q".into(),
            ..Default::default()
        });
        let req = ws::DeleteWorkflowExecutionRequest {
            namespace: "default".into(),
            workflow_execution: Some(exec_of(&key)),
        };
        e.delete_workflow(req.clone()).await.unwrap();
        {
            let g = e.lock_all();
            assert!(!g.execs.contains_key(&key));
            assert!(g.execs.current("default", "w").is_none());
        }
        let again = e.delete_workflow(req).await.unwrap_err();
        assert_eq!(again.code(), tonic::Code::NotFound);
    }
}
