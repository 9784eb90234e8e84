//! Queries: attached to the next workflow task of an open run, or sent as a legacy query task when the run has none (or is closed).
use crate::prelude::*;

pub(crate) struct PendingQuery {
    pub(crate) key: ExecKey,
    pub(crate) query: WorkflowQuery,
    pub(crate) tx: Option<oneshot::Sender<WorkflowQueryResult>>,
}

impl Engine {
    /// RespondQueryTaskCompleted (legacy query tasks).
    pub async fn respond_query(&self, req: ws::RespondQueryTaskCompletedRequest) -> RpcResult<()> {
        // Only the pending query changes: no history shard is involved.
        let Some(TaskToken::Query { query_id }) = TaskToken::decode(&req.task_token) else {
            return Err(status::invalid("malformed query task token"));
        };
        let q = self
            .shared
            .queries
            .lock()
            .remove(&query_id)
            .ok_or_else(|| status::not_found("query not found or already answered"))?;
        if let Some(tx) = q.tx {
            let _ = tx.send(WorkflowQueryResult {
                result_type: req.completed_type,
                answer: req.query_result,
                error_message: req.error_message,
                failure: req.failure,
            });
        }
        Ok(())
    }

    /// QueryWorkflow: dispatched to a worker through a workflow task.
    pub async fn query(
        &self,
        req: ws::QueryWorkflowRequest,
        timeout: Option<std::time::Duration>,
    ) -> RpcResult<ws::QueryWorkflowResponse> {
        let mut stop = self.closing.subscribe();
        // Bounded like long polls (client deadlines can be absurdly large).
        let deadline = poll_deadline(timeout.or(Some(std::time::Duration::from_secs(30))));
        let query = req
            .query
            .ok_or_else(|| status::invalid("query is required"))?;
        let id = new_id();
        let (key, rx) = {
            let mut g = self.lock_workflow(&req.namespace, workflow_of(&req.execution));
            let key = g.resolve(&req.namespace, &req.execution)?;
            let status = g.execs.get(&key).map(|e| e.st.status).unwrap_or(OPEN);
            if rejects(req.query_reject_condition, status) {
                return Ok(ws::QueryWorkflowResponse {
                    query_result: None,
                    query_rejected: Some(
                        temporalio_protos::temporal::api::query::v1::QueryRejected { status },
                    ),
                    link: None,
                });
            }
            let (tx, rx) = oneshot::channel();
            g.s.queries.lock().insert(
                id.clone(),
                PendingQuery {
                    key: key.clone(),
                    query,
                    tx: Some(tx),
                },
            );
            g.dispatch_query(&key, id.clone());
            (key, rx)
        };
        let res = tokio::select! {
            r = rx => r.ok(),
            _ = stop.wait_for(|v| *v) => None,
            _ = tokio::time::sleep_until(deadline) => None,
        };
        self.shared.queries.lock().remove(&id);
        let mut g = self.lock_workflow(&key.namespace, &key.workflow_id);
        if let Some(ex) = g.execs.get_mut(&key) {
            ex.pending_queries.retain(|q| q != &id);
            ex.attached_queries.retain(|q| q != &id);
        }
        drop(g);
        let res =
            res.ok_or_else(|| Status::deadline_exceeded("query timed out: no worker answered"))?;
        if res.result_type == QueryResultType::Answered as i32 {
            Ok(ws::QueryWorkflowResponse {
                query_result: res.answer,
                query_rejected: None,
                link: None,
            })
        } else {
            Err(status::query_failed(&res.error_message, res.failure))
        }
    }
}

/// Whether a query with `condition` is rejected on a run in `status`, as Temporal's
/// history service decides before dispatching it: a running run is never rejected;
/// NOT_OPEN rejects any closed run, NOT_COMPLETED_CLEANLY one that did not complete.
fn rejects(condition: i32, status: i32) -> bool {
    use temporalio_protos::temporal::api::enums::v1::QueryRejectCondition as R;
    if status == OPEN {
        return false;
    }
    match R::try_from(condition).unwrap_or(R::Unspecified) {
        R::NotOpen => status != OPEN,
        R::NotCompletedCleanly => status != WorkflowExecutionStatus::Completed as i32,
        _ => false,
    }
}

/// The workflow id a request names (empty when it names none; resolving it then fails).
pub(crate) fn workflow_of(exec: &Option<WorkflowExecution>) -> &str {
    exec.as_ref().map(|e| e.workflow_id.as_str()).unwrap_or("")
}

impl Inner<'_> {
    pub(crate) fn dispatch_query(&mut self, key: &ExecKey, id: String) {
        let Some(ex) = self.execs.get_mut(key) else {
            return;
        };
        if ex.st.is_open() && ex.st.wft.is_some() {
            ex.pending_queries.push(id);
            return;
        }
        let tq = ex.st.task_queue.clone();
        self.push_task(
            QueueKey {
                namespace: key.namespace.clone(),
                name: tq,
                activity: false,
            },
            Task::Query { id },
        );
    }

    pub(crate) fn requeue_attached_queries(&mut self, key: &ExecKey) {
        let Some(ex) = self.execs.get_mut(key) else {
            return;
        };
        let qs: Vec<String> = ex.attached_queries.drain(..).collect();
        ex.pending_queries.extend(qs);
    }

    /// Pending queries of a run that has no workflow task go out as legacy query tasks.
    pub(crate) fn flush_pending_queries(&mut self, key: &ExecKey) {
        let Some(ex) = self.execs.get_mut(key) else {
            return;
        };
        if ex.st.wft.is_some() && ex.st.is_open() {
            return;
        }
        let qs: Vec<String> = ex.pending_queries.drain(..).collect();
        for q in qs {
            self.dispatch_query(key, q);
        }
    }
}

impl Inner<'_> {
    /// Answers a poll with the legacy query task `id`, or `None` when the query is gone or
    /// must ride on the run's next workflow task instead.
    pub(crate) fn take_query_task(
        &mut self,
        id: String,
    ) -> Option<ws::PollWorkflowTaskQueueResponse> {
        let (key, query) = {
            let queries = self.s.queries.lock();
            let q = queries.get(&id)?;
            (q.key.clone(), q.query.clone())
        };
        let ex = self.execs.get_mut(&key)?;
        if ex.st.is_open() && ex.st.wft.is_some() {
            ex.pending_queries.push(id);
            return None;
        }
        let last = ex.st.last_completed_started_id;
        Some(ws::PollWorkflowTaskQueueResponse {
            task_token: TaskToken::Query { query_id: id }.encode(),
            workflow_execution: Some(exec_of(&key)),
            workflow_type: Some(WorkflowType {
                name: ex.st.workflow_type.clone(),
            }),
            previous_started_event_id: last,
            started_event_id: last,
            attempt: 1,
            history: Some(History {
                events: ex.events.clone(),
            }),
            query: Some(query),
            workflow_execution_task_queue: Some(task_queue(&ex.st.task_queue)),
            scheduled_time: Some(ts(self.now_ms())),
            started_time: Some(ts(self.now_ms())),
            ..Default::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use temporalio_protos::temporal::api::enums::v1::QueryRejectCondition as R;

    #[test]
    fn reject_conditions_follow_temporal() {
        let completed = WorkflowExecutionStatus::Completed as i32;
        let failed = WorkflowExecutionStatus::Failed as i32;
        assert!(!rejects(R::None as i32, failed));
        assert!(!rejects(R::NotOpen as i32, OPEN));
        assert!(rejects(R::NotOpen as i32, completed));
        assert!(!rejects(R::NotCompletedCleanly as i32, completed));
        assert!(rejects(R::NotCompletedCleanly as i32, failed));
        assert!(!rejects(R::NotCompletedCleanly as i32, OPEN));
    }
}
