//! Sticky execution (Temporal: service/history's sticky task queue handling): a worker that
//! completes a workflow task names its own sticky queue, and the execution's next tasks go
//! there with only the new events, so the worker's cached workflow continues without a
//! replay. Stickiness is a performance feature: full history on the normal queue is always
//! correct.
//!
//! Guarantees:
//! - A task waiting on a sticky queue past the sticky schedule-to-start timeout writes
//!   WorkflowTaskTimedOut(SCHEDULE_TO_START), clears stickiness and is rescheduled as attempt
//!   1 on the normal queue.
//! - ResetStickyTaskQueue clears stickiness; ShutdownWorker clears it for every execution
//!   sticky to that worker's queue and moves their waiting tasks to the normal queue.
use crate::prelude::*;

impl Engine {
    /// ResetStickyTaskQueue.
    pub async fn reset_sticky_task_queue(
        &self,
        req: ws::ResetStickyTaskQueueRequest,
    ) -> RpcResult<()> {
        let wf = crate::history::query::workflow_of(&req.execution);
        self.with_workflow_local(&req.namespace, wf, |g| {
            let key = g.resolve_open(&req.namespace, &req.execution)?;
            let ex = g.exec_mut(&key)?;
            ex.st.set_sticky(None);
            g.dirty.insert(key);
            Ok(())
        })
        .await
    }
}

impl Inner<'_> {
    /// The sticky schedule-to-start timer of workflow task `sid` fired.
    pub(crate) fn sticky_schedule_to_start_timed_out(&mut self, key: ExecKey, sid: i64) {
        let Some(ex) = self.execs.get_mut(&key) else {
            return;
        };
        let Some(w) = ex.st.wft.clone() else { return };
        if !ex.st.is_open() || w.scheduled_event_id != sid || w.started_event_id.is_some() {
            return;
        }
        ex.st.wft = None;
        // A speculative task was never written: it is simply scheduled again, as a normal one.
        if w.attempt <= 1 && !w.speculative {
            ex.add(A::WorkflowTaskTimedOutEventAttributes(
                h::WorkflowTaskTimedOutEventAttributes {
                    scheduled_event_id: sid,
                    started_event_id: 0,
                    timeout_type: TimeoutType::ScheduleToStart as i32,
                },
            ));
        }
        // Temporal does not count a sticky timeout as an attempt.
        ex.st.set_sticky(None);
        ex.st.next_wft_attempt = 1;
        tracing::info!(workflow_id = %key.workflow_id, "sticky workflow task not picked up in time; back on the normal queue");
        self.ensure_wft(&key);
    }

    /// A worker's sticky queue is gone (it shut down): its executions lose stickiness and
    /// their waiting workflow tasks go to the normal queue at once.
    pub(crate) fn sticky_queue_gone(&mut self, namespace: &str, sticky: &str) {
        let mut moved = vec![];
        for (key, ex) in self.execs.iter_mut() {
            if key.namespace != namespace || ex.st.sticky_task_queue != sticky {
                continue;
            }
            ex.st.set_sticky(None);
            if let Some(w) = &ex.st.wft
                && w.started_event_id.is_none()
            {
                moved.push((key.clone(), ex.st.task_queue.clone(), w.scheduled_event_id));
            }
            self.dirty.insert(key.clone());
        }
        let n = moved.len();
        for (key, tq, sid) in moved {
            self.push_task(
                QueueKey {
                    namespace: key.namespace.clone(),
                    name: tq,
                    activity: false,
                },
                Task::Wft {
                    key,
                    scheduled_event_id: sid,
                },
            );
        }
        self.s.queues.lock().remove(&QueueKey {
            namespace: namespace.to_string(),
            name: sticky.to_string(),
            activity: false,
        });
        tracing::info!(
            sticky_queue = sticky,
            moved_tasks = n,
            "sticky queue gone; its executions are no longer sticky"
        );
    }
}
