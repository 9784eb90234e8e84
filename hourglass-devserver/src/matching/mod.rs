//! The matching service: task queues (workflow and activity), long polls, poller scaling hints
//! and worker shutdown.
use crate::prelude::*;

pub(crate) mod describe_task_queue;
pub(crate) mod poller_scaling;
pub(crate) mod task_queue_partitions;
pub(crate) mod worker_shutdown;

/// A task queue: (namespace, name, workflow or activity). A sticky queue is a workflow queue
/// named by the worker that polls it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct QueueKey {
    pub(crate) namespace: String,
    pub(crate) name: String,
    pub(crate) activity: bool,
}

/// A task waiting in a queue. Tasks are references into mutable state: a task whose run moved
/// on (completed, started elsewhere, rescheduled) is skipped when it is taken.
#[derive(Debug, Clone)]
pub(crate) enum Task {
    Wft {
        key: ExecKey,
        scheduled_event_id: i64,
    },
    Query {
        id: String,
    },
    Activity {
        key: ExecKey,
        scheduled_event_id: i64,
        attempt: i32,
    },
}

/// One task queue's backlog, its waiters and its poller registry.
pub(crate) struct Queue {
    /// Tasks with the time each was queued (for backlog age).
    pub(crate) tasks: VecDeque<(Task, Instant)>,
    pub(crate) watch: watch::Sender<u64>,
    pub(crate) scaling: PollerScaling,
    /// Polls waiting on this queue now.
    pub(crate) waiting_polls: usize,
    /// When a poll last arrived or last left (a poller was there then).
    pub(crate) last_poller_seen: Option<Instant>,
    /// The poller registry DescribeTaskQueue reports: identity → last access.
    pub(crate) pollers: describe_task_queue::Pollers,
}

/// Temporal matching's `stickyPollerUnavailableWindow`: a sticky queue that has seen no
/// poller for this long is unavailable, and its executions' tasks go to the normal queue.
pub(crate) const STICKY_POLLER_UNAVAILABLE_WINDOW: std::time::Duration =
    std::time::Duration::from_secs(10);

pub(crate) const MAX_POLL: std::time::Duration = std::time::Duration::from_secs(60);

/// When a long poll answers "nothing yet": a little before the client's deadline (so the
/// empty answer arrives in time), and never later than [`MAX_POLL`].
pub(crate) fn poll_deadline(timeout: Option<std::time::Duration>) -> Instant {
    let d = timeout
        .map(|t| {
            let margin = (t / 10).min(std::time::Duration::from_secs(1));
            t.saturating_sub(margin)
        })
        .unwrap_or(MAX_POLL)
        .min(MAX_POLL);
    Instant::now() + d
}

/// The queue a poll names: a sticky poll polls its own sticky queue, a normal poll the
/// normal one.
pub(crate) fn polled_queue_name(
    tq: &Option<temporalio_protos::temporal::api::taskqueue::v1::TaskQueue>,
) -> String {
    tq.as_ref().map(|t| t.name.clone()).unwrap_or_default()
}

/// What one long poll asks for.
pub(crate) struct PollRequest<'a> {
    pub(crate) namespace: &'a str,
    pub(crate) queue: QueueKey,
    pub(crate) identity: &'a str,
    pub(crate) worker_instance_key: &'a str,
    pub(crate) timeout: Option<std::time::Duration>,
    /// The dispatch rate the poller asked for (activity polls' task queue metadata).
    pub(crate) rate_per_second: Option<f64>,
}

/// A poll response that can carry a poller scaling decision.
pub(crate) trait PollResponse: Default {
    fn set_scaling_decision(
        &mut self,
        d: Option<temporalio_protos::temporal::api::taskqueue::v1::PollerScalingDecision>,
    );
}

impl PollResponse for ws::PollWorkflowTaskQueueResponse {
    fn set_scaling_decision(
        &mut self,
        d: Option<temporalio_protos::temporal::api::taskqueue::v1::PollerScalingDecision>,
    ) {
        self.poller_scaling_decision = d;
    }
}

impl PollResponse for ws::PollActivityTaskQueueResponse {
    fn set_scaling_decision(
        &mut self,
        d: Option<temporalio_protos::temporal::api::taskqueue::v1::PollerScalingDecision>,
    ) {
        self.poller_scaling_decision = d;
    }
}

impl Engine {
    /// PollWorkflowTaskQueue (long poll; empty response on timeout). A sticky poll is served
    /// from its sticky queue.
    pub async fn poll_workflow_task(
        &self,
        req: ws::PollWorkflowTaskQueueRequest,
        timeout: Option<std::time::Duration>,
    ) -> RpcResult<ws::PollWorkflowTaskQueueResponse> {
        let poll = PollRequest {
            namespace: &req.namespace,
            queue: QueueKey {
                namespace: req.namespace.clone(),
                name: polled_queue_name(&req.task_queue),
                activity: false,
            },
            identity: &req.identity,
            worker_instance_key: &req.worker_instance_key,
            timeout,
            rate_per_second: None,
        };
        self.long_poll(poll, |g, t, q, i| g.start_workflow_task(t, q, i))
            .await
    }

    /// PollActivityTaskQueue (long poll; empty response on timeout).
    pub async fn poll_activity_task(
        &self,
        req: ws::PollActivityTaskQueueRequest,
        timeout: Option<std::time::Duration>,
    ) -> RpcResult<ws::PollActivityTaskQueueResponse> {
        let poll = PollRequest {
            namespace: &req.namespace,
            queue: QueueKey {
                namespace: req.namespace.clone(),
                name: polled_queue_name(&req.task_queue),
                activity: true,
            },
            identity: &req.identity,
            worker_instance_key: &req.worker_instance_key,
            timeout,
            rate_per_second: req
                .task_queue_metadata
                .as_ref()
                .and_then(|m| m.max_tasks_per_second),
        };
        self.long_poll(poll, |g, t, q, i| g.start_activity_task(t, q, i))
            .await
    }

    /// The one long-poll path of both queue kinds: takes the next task off the queue and
    /// starts it with `start` under its workflow's shard (a task whose run moved on is
    /// skipped), answering once the start is durable; or answers empty at the deadline, or
    /// at once for a worker that announced its shutdown.
    async fn long_poll<R: PollResponse>(
        &self,
        poll: PollRequest<'_>,
        start: impl Fn(&mut Inner, Task, &QueueKey, &str) -> Option<R>,
    ) -> RpcResult<R> {
        let qk = poll.queue;
        if qk.name.is_empty() {
            return Err(status::invalid("task queue is required"));
        }
        let mut stop = self.closing.subscribe();
        let deadline = poll_deadline(poll.timeout);
        let poll_started = Instant::now();
        self.shared.namespace(poll.namespace)?;
        self.shared.with_queue(&qk, |q| {
            q.scaling.saw_poller(poll.identity, poll_started);
            q.pollers
                .saw(poll.identity, self.now_ms(), poll.rate_per_second);
            q.waiting_polls += 1;
            q.last_poller_seen = Some(poll_started);
        });
        let _waiting = WaitingPoll {
            engine: self,
            queue: &qk,
        };
        let mut shutdowns = self.shut_down_workers.subscribe();
        loop {
            if self
                .shut_down_workers
                .is_shut_down(poll.worker_instance_key)
            {
                return Ok(R::default());
            }
            let mut rx = match self.take_task(&qk, poll.identity, poll_started, &start)? {
                Ok((resp, seq)) => {
                    self.evict_closed();
                    self.wait_durable(seq).await?;
                    return Ok(resp);
                }
                Err(rx) => rx,
            };
            tokio::select! {
                _ = rx.changed() => {}
                _ = shutdowns.changed() => {}
                _ = stop.wait_for(|v| *v) => return Err(Status::unavailable("dev server shutting down")),
                _ = tokio::time::sleep_until(deadline) => return Ok(R::default()),
            }
        }
    }

    /// Takes tasks off `qk` until one starts (its response and the commit to wait for), or
    /// the queue is empty (a receiver that changes when a task is added). Nothing awaits in
    /// between, so a task taken off the queue is always started or found stale.
    fn take_task<R: PollResponse>(
        &self,
        qk: &QueueKey,
        identity: &str,
        poll_started: Instant,
        start: &impl Fn(&mut Inner, Task, &QueueKey, &str) -> Option<R>,
    ) -> RpcResult<Result<(R, u64), watch::Receiver<u64>>> {
        loop {
            let task = self.shared.with_queue(qk, |q| match q.tasks.pop_front() {
                Some((task, _)) => Ok(task),
                None => Err(q.watch.subscribe()),
            });
            let task = match task {
                Ok(task) => task,
                Err(rx) => return Ok(Err(rx)),
            };
            let Some(key) = self.shared.task_workflow(&task) else {
                continue;
            };
            let mut g = self.lock_workflow(&key.namespace, &key.workflow_id);
            if let Some(mut resp) = start(&mut g, task, qk, identity) {
                resp.set_scaling_decision(self.shared.scaling_decision(qk, poll_started));
                return Ok(Ok((resp, g.commit()?)));
            }
            g.commit()?;
        }
    }

    /// ShutdownWorker: every open poll carrying the request's `worker_instance_key` is answered
    /// empty at once, and so is every later one; the executions sticky to the worker's sticky
    /// queue lose their stickiness, so their next tasks go to the normal queue at once.
    /// Unknown namespaces are NotFound.
    pub async fn shutdown_worker(&self, req: ws::ShutdownWorkerRequest) -> RpcResult<()> {
        self.with(|g| {
            g.namespace(&req.namespace)?;
            if !req.sticky_task_queue.is_empty() {
                g.sticky_queue_gone(&req.namespace, &req.sticky_task_queue);
            }
            Ok(())
        })
        .await?;
        if self
            .shut_down_workers
            .shut_down(&req.worker_instance_key, Instant::now())
        {
            tracing::info!(identity = %req.identity, task_queue = %req.task_queue, worker_instance_key = %req.worker_instance_key, reason = %req.reason, "worker shut down; its open polls are answered");
        }
        Ok(())
    }
}

/// Counts a poll as waiting on its queue while it lives (the sticky-queue availability rule
/// looks at live pollers).
struct WaitingPoll<'a> {
    engine: &'a Engine,
    queue: &'a QueueKey,
}

impl Drop for WaitingPoll<'_> {
    fn drop(&mut self) {
        self.engine.shared.with_queue(self.queue, |q| {
            q.waiting_polls = q.waiting_polls.saturating_sub(1);
            q.last_poller_seen = Some(Instant::now());
        });
    }
}

impl crate::engine::Shared {
    /// Runs `f` on the queue of `qk` (created empty on first use) under the queues' lock.
    pub(crate) fn with_queue<R>(&self, qk: &QueueKey, f: impl FnOnce(&mut Queue) -> R) -> R {
        let mut queues = self.queues.lock();
        let q = queues.entry(qk.clone()).or_insert_with(|| Queue {
            tasks: VecDeque::new(),
            watch: watch::Sender::new(0),
            scaling: PollerScaling::new(Instant::now()),
            waiting_polls: 0,
            last_poller_seen: None,
            pollers: Default::default(),
        });
        f(q)
    }

    /// The run a task belongs to (a query's is looked up; None once it was answered).
    fn task_workflow(&self, task: &Task) -> Option<ExecKey> {
        match task {
            Task::Wft { key, .. } | Task::Activity { key, .. } => Some(key.clone()),
            Task::Query { id } => self.queries.lock().get(id).map(|q| q.key.clone()),
        }
    }

    /// Whether a sticky queue has a poller now or had one within
    /// [`STICKY_POLLER_UNAVAILABLE_WINDOW`].
    pub(crate) fn sticky_queue_available(&self, namespace: &str, name: &str) -> bool {
        let qk = QueueKey {
            namespace: namespace.to_string(),
            name: name.to_string(),
            activity: false,
        };
        self.queues.lock().get(&qk).is_some_and(|q| {
            q.waiting_polls > 0
                || q.last_poller_seen
                    .is_some_and(|t| t.elapsed() < STICKY_POLLER_UNAVAILABLE_WINDOW)
        })
    }

    /// The poller scaling hint for a poll of `qk` that started at `poll_started` and is
    /// being answered with a task now.
    pub(crate) fn scaling_decision(
        &self,
        qk: &QueueKey,
        poll_started: Instant,
    ) -> Option<temporalio_protos::temporal::api::taskqueue::v1::PollerScalingDecision> {
        self.with_queue(qk, |q| {
            let oldest = q.tasks.front().map(|(_, at)| *at);
            let backlog = q.tasks.len();
            q.scaling
                .decide(poll_started, Instant::now(), backlog, oldest)
        })
    }

    /// Appends a task to a queue and wakes its polls.
    pub(crate) fn push_task(&self, qk: QueueKey, task: Task) {
        self.with_queue(&qk, |q| {
            q.tasks.push_back((task, Instant::now()));
            q.watch.send_modify(|v| *v += 1);
        });
    }
}

impl Inner<'_> {
    /// Appends a task to a queue and wakes its polls.
    pub(crate) fn push_task(&mut self, qk: QueueKey, task: Task) {
        self.s.push_task(qk, task);
    }

    /// Whether a sticky queue has a poller now or had one within
    /// [`STICKY_POLLER_UNAVAILABLE_WINDOW`].
    pub(crate) fn sticky_queue_available(&self, namespace: &str, name: &str) -> bool {
        self.s.sticky_queue_available(namespace, name)
    }
}
