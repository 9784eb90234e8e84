//! Starting runs: StartWorkflowExecution, SignalWithStart, id reuse / conflict policies and request-id idempotency.
use crate::prelude::*;

pub(crate) struct StartArgs {
    pub(crate) namespace: String,
    pub(crate) workflow_id: String,
    pub(crate) workflow_type: String,
    pub(crate) task_queue: String,
    pub(crate) input: Option<Payloads>,
    pub(crate) execution_timeout_ms: i64,
    pub(crate) run_timeout_ms: i64,
    pub(crate) wft_timeout_ms: i64,
    pub(crate) identity: String,
    pub(crate) request_id: String,
    pub(crate) reuse_policy: i32,
    pub(crate) conflict_policy: i32,
    pub(crate) retry_policy: Option<RetryPolicy>,
    pub(crate) memo: Option<Memo>,
    pub(crate) search_attributes: Option<SearchAttributes>,
    pub(crate) header: Option<Header>,
    pub(crate) start_delay_ms: i64,
    pub(crate) signal: Option<(String, Option<Payloads>, Option<Header>)>,
    /// The previous run's result a schedule passes on (`workflow.get_last_completion_result`).
    pub(crate) last_completion_result: Option<Payloads>,
    /// The previous run's failure a schedule passes on.
    pub(crate) continued_failure: Option<Failure>,
    /// The run's priority (its started event and describe carry it).
    pub(crate) priority: Option<Priority>,
    /// The static summary and details the start request gave (the started event's).
    pub(crate) user_metadata: Option<UserMetadata>,
}

impl From<ws::StartWorkflowExecutionRequest> for StartArgs {
    fn from(req: ws::StartWorkflowExecutionRequest) -> Self {
        StartArgs {
            namespace: req.namespace,
            workflow_id: req.workflow_id,
            workflow_type: req.workflow_type.map(|t| t.name).unwrap_or_default(),
            task_queue: req.task_queue.map(|t| t.name).unwrap_or_default(),
            input: req.input,
            execution_timeout_ms: dur_ms(&req.workflow_execution_timeout),
            run_timeout_ms: dur_ms(&req.workflow_run_timeout),
            wft_timeout_ms: dur_ms(&req.workflow_task_timeout),
            identity: req.identity,
            request_id: req.request_id,
            reuse_policy: req.workflow_id_reuse_policy,
            conflict_policy: req.workflow_id_conflict_policy,
            retry_policy: req.retry_policy,
            memo: req.memo,
            search_attributes: req.search_attributes,
            header: req.header,
            start_delay_ms: dur_ms(&req.workflow_start_delay),
            signal: None,
            last_completion_result: req.last_completion_result,
            continued_failure: req.continued_failure,
            priority: req.priority,
            user_metadata: req.user_metadata,
        }
    }
}

/// Everything needed to create a run.
#[derive(Default)]
pub(crate) struct NewRun {
    pub(crate) namespace: String,
    pub(crate) workflow_id: String,
    pub(crate) run_id: String,
    pub(crate) first_run_id: String,
    pub(crate) workflow_type: String,
    pub(crate) task_queue: String,
    pub(crate) input: Option<Payloads>,
    pub(crate) execution_timeout_ms: i64,
    pub(crate) run_timeout_ms: i64,
    pub(crate) wft_timeout_ms: i64,
    pub(crate) identity: String,
    pub(crate) request_id: String,
    pub(crate) retry_policy: Option<RetryPolicy>,
    pub(crate) memo: Option<Memo>,
    pub(crate) search_attributes: Option<SearchAttributes>,
    pub(crate) header: Option<Header>,
    pub(crate) parent: Option<Parent>,
    pub(crate) continued_execution_run_id: String,
    pub(crate) initiator: i32,
    pub(crate) last_completion_result: Option<Payloads>,
    pub(crate) continued_failure: Option<Failure>,
    pub(crate) execution_deadline_ms: Option<i64>,
    pub(crate) start_delay_ms: i64,
    pub(crate) signal: Option<(String, Option<Payloads>, Option<Header>)>,
    /// The attempt of a retried run (0 or 1: the first).
    pub(crate) attempt: i32,
    /// The run's priority (Temporal carries it over continue-as-new and retries).
    pub(crate) priority: Option<Priority>,
    /// The started event's user metadata (static summary and details).
    pub(crate) user_metadata: Option<UserMetadata>,
    /// The reset points of the run this one continues (continue-as-new, retry, cron).
    pub(crate) prev_auto_reset_points: Option<ResetPoints>,
}

/// Temporal's `rolloverAutoResetPointsWithExpiringTime`: a run continuing another keeps its
/// reset points, minus those expired by `start_ms`; the previous run's own points expire a
/// retention after this start.
fn rollover_reset_points(
    prev: Option<ResetPoints>,
    prev_run_id: &str,
    start_ms: i64,
    retention_ms: i64,
) -> Option<ResetPoints> {
    let mut prev = prev?;
    let expire = ts(start_ms.saturating_add(retention_ms));
    prev.points.retain(|p| {
        p.expire_time
            .as_ref()
            .is_none_or(|t| crate::history::events::ts_ms(t) >= start_ms)
    });
    for p in prev.points.iter_mut().filter(|p| p.run_id == prev_run_id) {
        p.expire_time = Some(expire);
    }
    Some(prev)
}

impl Engine {
    /// StartWorkflowExecution.
    pub async fn start_workflow(
        &self,
        req: ws::StartWorkflowExecutionRequest,
    ) -> RpcResult<ws::StartWorkflowExecutionResponse> {
        let eager = req.request_eager_execution && dur_ms(&req.workflow_start_delay) <= 0;
        let (namespace, workflow_id, identity) = (
            req.namespace.clone(),
            req.workflow_id.clone(),
            req.identity.clone(),
        );
        let queue = req
            .task_queue
            .as_ref()
            .map(|t| t.name.clone())
            .unwrap_or_default();
        let (ns, wf) = (namespace.clone(), workflow_id.clone());
        self.with_workflow_local(&ns, &wf, |g| {
            let (run_id, started) = g.start(StartArgs::from(req))?;
            let key = ExecKey {
                namespace,
                workflow_id,
                run_id: run_id.clone(),
            };
            let eager_workflow_task = if eager && started {
                g.start_eager_wft(&key, &queue, &identity)
            } else {
                None
            };
            Ok(ws::StartWorkflowExecutionResponse {
                run_id,
                started,
                status: OPEN,
                eager_workflow_task,
                ..Default::default()
            })
        })
        .await
    }

    /// SignalWithStartWorkflowExecution.
    pub async fn signal_with_start(
        &self,
        req: ws::SignalWithStartWorkflowExecutionRequest,
    ) -> RpcResult<ws::SignalWithStartWorkflowExecutionResponse> {
        let (ns, wf) = (req.namespace.clone(), req.workflow_id.clone());
        self.with_workflow_local(&ns, &wf, |g| {
            g.namespace(&req.namespace)?;
            if req.signal_name.is_empty() {
                return Err(status::invalid("signal name is required"));
            }
            if let Some(run) = g.execs.current(&req.namespace, &req.workflow_id).cloned() {
                let key = ExecKey {
                    namespace: req.namespace.clone(),
                    workflow_id: req.workflow_id.clone(),
                    run_id: run,
                };
                if g.execs.get(&key).is_some_and(|e| e.st.is_open()) {
                    g.signal(
                        &key,
                        &req.signal_name,
                        req.signal_input,
                        req.header,
                        &req.identity,
                    );
                    return Ok(ws::SignalWithStartWorkflowExecutionResponse {
                        run_id: key.run_id,
                        started: false,
                        ..Default::default()
                    });
                }
            }
            let (run_id, started) = g.start(StartArgs {
                namespace: req.namespace,
                workflow_id: req.workflow_id,
                workflow_type: req.workflow_type.map(|t| t.name).unwrap_or_default(),
                task_queue: req.task_queue.map(|t| t.name).unwrap_or_default(),
                input: req.input,
                execution_timeout_ms: dur_ms(&req.workflow_execution_timeout),
                run_timeout_ms: dur_ms(&req.workflow_run_timeout),
                wft_timeout_ms: dur_ms(&req.workflow_task_timeout),
                identity: req.identity,
                request_id: req.request_id,
                reuse_policy: req.workflow_id_reuse_policy,
                conflict_policy: WorkflowIdConflictPolicy::UseExisting as i32,
                retry_policy: req.retry_policy,
                memo: req.memo,
                search_attributes: req.search_attributes,
                header: req.header.clone(),
                start_delay_ms: dur_ms(&req.workflow_start_delay),
                signal: Some((req.signal_name, req.signal_input, req.header)),
                last_completion_result: None,
                continued_failure: None,
                priority: req.priority,
                user_metadata: req.user_metadata,
            })?;
            Ok(ws::SignalWithStartWorkflowExecutionResponse {
                run_id,
                started,
                ..Default::default()
            })
        })
        .await
    }
}

impl Inner<'_> {
    /// Eager workflow start (Temporal's `request_eager_execution`): the new run's first
    /// workflow task is started at once for the starting worker (WorkflowTaskStarted
    /// carries its identity) and returned in the start response instead of being polled.
    /// Nothing happens for a run whose first task was already started (a deduplicated start).
    pub(crate) fn start_eager_wft(
        &mut self,
        key: &ExecKey,
        queue: &str,
        identity: &str,
    ) -> Option<ws::PollWorkflowTaskQueueResponse> {
        let w = self.execs.get(key)?.st.wft.clone()?;
        if w.started_event_id.is_some() || w.attempt > 1 {
            return None;
        }
        let qk = QueueKey {
            namespace: key.namespace.clone(),
            name: queue.to_string(),
            activity: false,
        };
        let resp = self.start_wft(key, w.scheduled_event_id, identity, &qk)?;
        tracing::debug!(workflow_id = %key.workflow_id, identity, "workflow task started eagerly");
        Some(resp)
    }

    pub(crate) fn start(&mut self, a: StartArgs) -> RpcResult<(String, bool)> {
        self.namespace(&a.namespace)?;
        if a.workflow_id.is_empty() {
            return Err(status::invalid("workflow id is required"));
        }
        if a.workflow_type.is_empty() {
            return Err(status::invalid("workflow type is required"));
        }
        if a.task_queue.is_empty() {
            return Err(status::invalid("task queue is required"));
        }
        self.validate_search_attributes(&a.namespace, &a.search_attributes)?;
        if let Some(run) = self.execs.current(&a.namespace, &a.workflow_id).cloned() {
            let key = ExecKey {
                namespace: a.namespace.clone(),
                workflow_id: a.workflow_id.clone(),
                run_id: run.clone(),
            };
            // A closed current run may be only in the store (its reuse policy needs it).
            self.fault_in(&key);
            let (open, status_v, req_id) = match self.execs.get(&key) {
                Some(e) => (e.st.is_open(), e.st.status, e.st.request_id.clone()),
                None => (false, 0, String::new()),
            };
            if !a.request_id.is_empty() && req_id == a.request_id {
                return Ok((run, true));
            }
            if open {
                let terminate = a.conflict_policy
                    == WorkflowIdConflictPolicy::TerminateExisting as i32
                    || a.reuse_policy == 4; // TERMINATE_IF_RUNNING (deprecated)
                if a.conflict_policy == WorkflowIdConflictPolicy::UseExisting as i32 {
                    if let Some((name, input, header)) = a.signal {
                        self.signal(&key, &name, input, header, &a.identity);
                    }
                    return Ok((run, false));
                } else if terminate {
                    self.terminate(
                        &key,
                        "terminated by a new start with TerminateExisting",
                        None,
                        &a.identity,
                    );
                } else {
                    return Err(status::already_started(&a.workflow_id, &req_id, &run));
                }
            } else {
                let failed = matches!(
                    WorkflowExecutionStatus::try_from(status_v),
                    Ok(WorkflowExecutionStatus::Failed
                        | WorkflowExecutionStatus::Canceled
                        | WorkflowExecutionStatus::Terminated
                        | WorkflowExecutionStatus::TimedOut)
                );
                let reject = a.reuse_policy == WorkflowIdReusePolicy::RejectDuplicate as i32
                    || (a.reuse_policy == WorkflowIdReusePolicy::AllowDuplicateFailedOnly as i32
                        && !failed);
                if reject {
                    return Err(status::already_started(&a.workflow_id, &req_id, &run));
                }
            }
        }
        let run_id = new_id();
        let exec_deadline =
            (a.execution_timeout_ms > 0).then(|| self.now_ms() + a.execution_timeout_ms);
        self.create_run(NewRun {
            namespace: a.namespace,
            workflow_id: a.workflow_id,
            run_id: run_id.clone(),
            first_run_id: run_id.clone(),
            workflow_type: a.workflow_type,
            task_queue: a.task_queue,
            input: a.input,
            execution_timeout_ms: a.execution_timeout_ms,
            run_timeout_ms: a.run_timeout_ms,
            wft_timeout_ms: a.wft_timeout_ms,
            identity: a.identity,
            request_id: a.request_id,
            retry_policy: a.retry_policy,
            memo: a.memo,
            search_attributes: a.search_attributes,
            header: a.header,
            execution_deadline_ms: exec_deadline,
            start_delay_ms: a.start_delay_ms,
            signal: a.signal,
            last_completion_result: a.last_completion_result,
            continued_failure: a.continued_failure,
            priority: a.priority,
            user_metadata: a.user_metadata,
            ..Default::default()
        });
        Ok((run_id, true))
    }

    pub(crate) fn create_run(&mut self, r: NewRun) -> ExecKey {
        let now = self.now_ms();
        let wft_timeout = if r.wft_timeout_ms > 0 {
            r.wft_timeout_ms.min(120_000)
        } else {
            DEFAULT_WFT_TIMEOUT_MS
        };
        let run_timeout = if r.run_timeout_ms > 0 {
            r.run_timeout_ms
        } else {
            r.execution_timeout_ms
        };
        let key = ExecKey {
            namespace: r.namespace.clone(),
            workflow_id: r.workflow_id.clone(),
            run_id: r.run_id.clone(),
        };
        let st = Execution {
            namespace: r.namespace.clone(),
            workflow_id: r.workflow_id.clone(),
            run_id: r.run_id.clone(),
            first_run_id: r.first_run_id.clone(),
            workflow_type: r.workflow_type.clone(),
            task_queue: r.task_queue.clone(),
            status: OPEN,
            start_ms: now,
            request_id: r.request_id.clone(),
            next_event_id: 1,
            wft_timeout_ms: wft_timeout,
            parent: r.parent.clone(),
            run_deadline_ms: (run_timeout > 0).then(|| now + run_timeout),
            execution_deadline_ms: r.execution_deadline_ms,
            memo: r.memo.clone(),
            search_attributes: r.search_attributes.clone(),
            next_wft_attempt: 1,
            auto_reset_points: rollover_reset_points(
                r.prev_auto_reset_points.clone(),
                &r.continued_execution_run_id,
                now,
                self.namespace(&r.namespace)
                    .ok()
                    .map(|n| n.retention_ms())
                    .unwrap_or(crate::history::retention::DEFAULT_RETENTION_MS),
            ),
            ..Default::default()
        };
        let root = st.root();
        let mut ex = Exec::new(st, vec![], self.s.time.clone());
        ex.persisted = 0;
        let started_id = ex.add(A::WorkflowExecutionStartedEventAttributes(
            h::WorkflowExecutionStartedEventAttributes {
                workflow_type: Some(WorkflowType {
                    name: r.workflow_type.clone(),
                }),
                parent_workflow_namespace: r
                    .parent
                    .as_ref()
                    .map(|p| p.namespace.clone())
                    .unwrap_or_default(),
                parent_workflow_execution: r.parent.as_ref().map(|p| WorkflowExecution {
                    workflow_id: p.workflow_id.clone(),
                    run_id: p.run_id.clone(),
                }),
                parent_initiated_event_id: r
                    .parent
                    .as_ref()
                    .map(|p| p.initiated_event_id)
                    .unwrap_or(0),
                task_queue: Some(task_queue(&r.task_queue)),
                input: r.input,
                workflow_execution_timeout: dur(r.execution_timeout_ms),
                workflow_run_timeout: dur(run_timeout),
                workflow_task_timeout: dur(wft_timeout),
                continued_execution_run_id: r.continued_execution_run_id,
                initiator: r.initiator,
                continued_failure: r.continued_failure,
                last_completion_result: r.last_completion_result,
                original_execution_run_id: r.run_id.clone(),
                identity: r.identity,
                first_execution_run_id: r.first_run_id,
                retry_policy: r.retry_policy,
                attempt: r.attempt.max(1),
                workflow_execution_expiration_time: r.execution_deadline_ms.map(ts),
                first_workflow_task_backoff: dur(r.start_delay_ms),
                memo: r.memo,
                search_attributes: r.search_attributes,
                header: r.header,
                workflow_id: r.workflow_id.clone(),
                root_workflow_execution: Some(root),
                priority: r.priority,
                prev_auto_reset_points: r.prev_auto_reset_points,
                ..Default::default()
            },
        ));
        if let Some(metadata) = r.user_metadata {
            ex.set_user_metadata(started_id, metadata);
        }
        if let Some((name, input, header)) = r.signal {
            ex.add(A::WorkflowExecutionSignaledEventAttributes(
                h::WorkflowExecutionSignaledEventAttributes {
                    signal_name: name,
                    input,
                    header,
                    ..Default::default()
                },
            ));
        }
        let run_deadline = ex.st.run_deadline_ms;
        self.execs.insert(key.clone(), ex);
        self.execs
            .set_current(&key.namespace, &key.workflow_id, key.run_id.clone());
        self.dirty.insert(key.clone());
        if r.start_delay_ms > 0 {
            if let Some(ex) = self.execs.get_mut(&key) {
                ex.st.wft_retry_at_ms = Some(now + r.start_delay_ms);
            }
            self.arm(
                now + r.start_delay_ms,
                TimerTask::WftRetry { key: key.clone() },
            );
        } else {
            self.schedule_wft(&key);
        }
        if let Some(d) = run_deadline {
            self.arm(d, TimerTask::RunTimeout { key: key.clone() });
        }
        tracing::info!(workflow_id = %key.workflow_id, run_id = %key.run_id, workflow_type = %r.workflow_type, "workflow started");
        key
    }
}
