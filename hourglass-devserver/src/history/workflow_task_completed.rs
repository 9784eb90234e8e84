//! RespondWorkflowTaskCompleted: the command loop. Queries riding on the task are answered,
//! each command is recorded by the file of its concern, protocol messages (updates) are
//! handled in order, deferred cross-run effects run last, and a new workflow task is
//! scheduled when the run needs one.
use crate::history::workflow_task::WftFailure;
use crate::prelude::*;

impl Engine {
    /// RespondWorkflowTaskCompleted.
    pub async fn complete_workflow_task(
        &self,
        req: ws::RespondWorkflowTaskCompletedRequest,
    ) -> RpcResult<ws::RespondWorkflowTaskCompletedResponse> {
        let (namespace, workflow_id) = crate::history::shard::token_workflow(&req.task_token);
        let crosses = crate::history::shard::commands_cross_workflows(&req.commands);
        self.with_workflow_if(
            &namespace,
            &workflow_id,
            |g| !crosses && g.workflow_is_local(&namespace, &workflow_id),
            |g| g.complete_wft(req),
        )
        .await
        .map(
            |reset_history_event_id| ws::RespondWorkflowTaskCompletedResponse {
                reset_history_event_id,
                ..Default::default()
            },
        )
    }
}

impl Inner<'_> {
    /// Records a completed workflow task and its commands. Answers the response's
    /// `ResetHistoryEventId`: non-zero when a speculative task was discarded.
    pub(crate) fn complete_wft(
        &mut self,
        mut req: ws::RespondWorkflowTaskCompletedRequest,
    ) -> RpcResult<i64> {
        let (key, sid) = self.started_wft(&req.task_token)?;
        let identity = req.identity.clone();
        let limits = *self.s.history_limits.lock();
        self.answer_task_queries(&key, std::mem::take(&mut req.query_results));
        if let Some(refused) = self.refuse_completion(&key, &req.commands, &identity) {
            return refused;
        }
        let ex = self
            .execs
            .get_mut(&key)
            .ok_or_else(|| status::not_found("workflow execution not found"))?;
        let wft = ex
            .st
            .wft
            .clone()
            .ok_or_else(|| status::not_found("Workflow task not found."))?;
        let started = wft.started_event_id.unwrap_or(0);
        if wft.speculative && discardable(ex, &req) {
            ex.st.set_sticky(req.sticky_attributes.as_ref());
            return Ok(self.discard_speculative_wft(&key, &wft, req.messages));
        }
        if wft.unwritten() {
            // A transient or speculative task's Scheduled/Started events are written only
            // now it completed.
            ex.write_transient_events(&wft, &identity, &limits);
        }
        ex.st.set_sticky(req.sticky_attributes.as_ref());
        ex.st.wft = None;
        ex.st.last_completed_started_id = started;
        ex.st.next_wft_attempt = 1;
        let completed_id = ex.add(A::WorkflowTaskCompletedEventAttributes(
            h::WorkflowTaskCompletedEventAttributes {
                scheduled_event_id: sid,
                started_event_id: started,
                identity: identity.clone(),
                binary_checksum: req.binary_checksum.clone(),
                worker_version: req.worker_version_stamp.clone(),
                sdk_metadata: req.sdk_metadata.clone(),
                metering_metadata: req.metering_metadata,
                ..Default::default()
            },
        ));
        let build_id = req
            .worker_version_stamp
            .as_ref()
            .map(|v| v.build_id.as_str())
            .unwrap_or_default();
        ex.st.add_reset_point(
            &req.binary_checksum,
            build_id,
            completed_id,
            ex.time.now_ms(),
        );
        self.dirty.insert(key.clone());
        let mut messages: BTreeMap<String, ProtocolMessage> = req
            .messages
            .into_iter()
            .map(|m| (m.id.clone(), m))
            .collect();
        let mut order: Vec<String> = vec![];
        let mut cx = CmdCtx {
            completed_id,
            identity: &identity,
            now: self.now_ms(),
            eff: CmdEffect {
                need_wft: req.force_create_new_workflow_task,
                closed: false,
            },
            deferred: vec![],
        };
        for cmd in req.commands {
            if cx.eff.closed {
                break;
            }
            let Some(attrs) = cmd.attributes else {
                return Err(status::invalid("command without attributes"));
            };
            match attrs {
                C::ProtocolMessageCommandAttributes(p) => {
                    if let Some(m) = messages.remove(&p.message_id) {
                        self.handle_message(&key, m);
                    }
                    order.push(p.message_id);
                }
                other => {
                    let first_new = self.execs.get(&key).map(|ex| ex.st.next_event_id);
                    self.handle_command(&key, other, &mut cx)?;
                    // Temporal: the event a command produced carries the command's metadata.
                    if let (Some(metadata), Some(id)) = (cmd.user_metadata, first_new)
                        && let Some(ex) = self.execs.get_mut(&key)
                        && ex.st.next_event_id > id
                    {
                        ex.set_user_metadata(id, metadata);
                    }
                }
            }
        }
        let CmdCtx { eff, deferred, .. } = cx;
        let mut need_wft = eff.need_wft;
        let closed = eff.closed;
        for (_, m) in std::mem::take(&mut messages) {
            if !closed {
                self.handle_message(&key, m);
            }
        }
        for d in deferred {
            self.run_deferred(&key, d);
        }
        let Some(ex) = self.execs.get_mut(&key) else {
            return Ok(0);
        };
        if ex.st.is_open() {
            need_wft |= ex.flush();
            need_wft |= ex.st.has_undelivered_updates(&wft.delivered_updates);
            if need_wft {
                self.schedule_wft(&key);
            }
            self.flush_pending_queries(&key);
        }
        Ok(0)
    }

    /// Answers the queries that rode on the task; those the worker left unanswered wait for
    /// the next task (or a query task).
    fn answer_task_queries(
        &mut self,
        key: &ExecKey,
        results: std::collections::HashMap<String, WorkflowQueryResult>,
    ) {
        let answered: HashSet<String> = results.keys().cloned().collect();
        for (qid, res) in results {
            if let Some(mut q) = self.s.queries.lock().remove(&qid)
                && let Some(tx) = q.tx.take()
            {
                let _ = tx.send(res);
            }
        }
        if let Some(ex) = self.execs.get_mut(key) {
            let unanswered: Vec<String> = ex
                .attached_queries
                .drain(..)
                .filter(|q| !answered.contains(q))
                .collect();
            ex.pending_queries.extend(unanswered);
        }
    }

    /// Fails the started task instead of completing it, as Temporal does, when the worker
    /// closes the run while new events wait (`UnhandledCommand`: it sees them next time) or
    /// a command carries bad search attributes (none of its commands is applied; the worker
    /// is told why). `None` when the completion may proceed.
    fn refuse_completion(
        &mut self,
        key: &ExecKey,
        commands: &[Command],
        identity: &str,
    ) -> Option<RpcResult<i64>> {
        let bad_search_attributes = self
            .validate_command_search_attributes(&key.namespace, commands)
            .err();
        let buffered = self
            .execs
            .get(key)
            .is_some_and(|e| !e.st.buffered.is_empty());
        let (cause, message, answer) = if buffered && commands.iter().any(is_close) {
            (
                WorkflowTaskFailedCause::UnhandledCommand,
                "UnhandledCommand".to_string(),
                Ok(0),
            )
        } else if let Some(e) = bad_search_attributes {
            tracing::warn!(workflow_id = %key.workflow_id, error = %e.message(), "workflow task failed: bad search attributes");
            let message = e.message().to_string();
            let answer = Err(status::invalid(message.clone()));
            (
                WorkflowTaskFailedCause::BadSearchAttributes,
                message,
                answer,
            )
        } else {
            return None;
        };
        self.fail_started_wft(
            key,
            WftFailure::Failed {
                cause: cause as i32,
                failure: Box::new(Some(Failure {
                    message,
                    ..Default::default()
                })),
                identity: identity.to_string(),
            },
        );
        Some(answer)
    }

    /// Drops a speculative task that only rejected updates: no event is written, the
    /// rejections complete their updates, events that arrived meanwhile get a new task.
    /// Answers the event the worker rolls its history back to (the last completed task's
    /// started event), as Temporal's `ResetHistoryEventId`.
    fn discard_speculative_wft(
        &mut self,
        key: &ExecKey,
        wft: &WorkflowTask,
        messages: Vec<ProtocolMessage>,
    ) -> i64 {
        for m in messages {
            self.handle_message(key, m);
        }
        let Some(ex) = self.execs.get_mut(key) else {
            return 0;
        };
        ex.st.wft = None;
        ex.st.next_wft_attempt = 1;
        let reset_to = ex.st.last_completed_started_id;
        tracing::debug!(workflow_id = %key.workflow_id, reset_to, "speculative workflow task discarded");
        // Buffered events, or updates still undelivered, need a task of their own.
        let undelivered = ex.st.has_undelivered_updates(&wft.delivered_updates);
        let flushed = ex.flush();
        self.dirty.insert(key.clone());
        if flushed || undelivered {
            // Only updates to deliver: speculative again; new events: a normal task.
            self.schedule_wft_of(key, !flushed);
        }
        self.flush_pending_queries(key);
        reset_to
    }
}

/// Whether a command closes the run.
fn is_close(c: &Command) -> bool {
    matches!(
        c.attributes,
        Some(
            C::CompleteWorkflowExecutionCommandAttributes(_)
                | C::FailWorkflowExecutionCommandAttributes(_)
                | C::CancelWorkflowExecutionCommandAttributes(_)
                | C::ContinueAsNewWorkflowExecutionCommandAttributes(_)
        )
    )
}

/// Temporal's `skipWorkflowTaskCompletedEvent` for a speculative task: no commands, not a
/// heartbeat, no events shipped with it beyond the last completed task (more than
/// [`DISCARD_MAX_EVENTS`] even for a worker that accepts them again), and only update
/// rejections among its messages.
fn discardable(ex: &Exec, req: &ws::RespondWorkflowTaskCompletedRequest) -> bool {
    if !req.commands.is_empty() || req.force_create_new_workflow_task {
        return false;
    }
    let shipped = ex.st.next_event_id - (ex.st.last_completed_started_id + 2);
    let accepts_again = req
        .capabilities
        .as_ref()
        .is_some_and(|c| c.discard_speculative_workflow_task_with_events);
    if (!accepts_again && shipped > 0) || shipped > DISCARD_MAX_EVENTS {
        return false;
    }
    req.messages.iter().all(|m| {
        m.body
            .as_ref()
            .is_some_and(|b| b.type_url.ends_with("/temporal.api.update.v1.Rejection"))
    })
}

/// Temporal's `DiscardSpeculativeWorkflowTaskMaximumEventsCount` default.
const DISCARD_MAX_EVENTS: i64 = 10;
