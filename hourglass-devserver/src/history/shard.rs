//! History shards, as Temporal's history service keeps them: every execution belongs to the
//! shard its (namespace, workflow id) hashes to (`WorkflowIDToHistoryShard`: FarmHash
//! Fingerprint32 of `namespace_workflowId`), and each shard has its own lock. A request
//! about one workflow holds that workflow's shard only; a request that may touch several
//! (child workflows, external signals and cancels, parent-close policies, batch jobs,
//! schedules, the timer queue) holds every shard, always taken in index order.
use crate::prelude::*;
use parking_lot::MutexGuard;

/// How many history shards the engine has.
pub(crate) const HISTORY_SHARDS: usize = 16;

/// One shard's executions and the current run of each of its workflow ids.
#[derive(Default)]
pub(crate) struct Shard {
    pub(crate) execs: HashMap<ExecKey, Exec>,
    pub(crate) current: HashMap<(String, String), String>,
}

/// The shard (namespace, `workflow_id`) belongs to, of `count`.
pub(crate) fn shard_index(namespace: &str, workflow_id: &str, count: usize) -> usize {
    let id = format!("{namespace}_{workflow_id}");
    farmhash::fingerprint32(id.as_bytes()) as usize % count.max(1)
}

/// The shards one request holds: one, or all of them.
pub(crate) struct Shards<'a> {
    held: Vec<(usize, MutexGuard<'a, Shard>)>,
    count: usize,
}

impl<'a> Shards<'a> {
    /// Every shard, locked in index order.
    pub(crate) fn all(shards: &'a [Mutex<Shard>]) -> Self {
        Self {
            held: shards.iter().map(|s| s.lock()).enumerate().collect(),
            count: shards.len(),
        }
    }

    /// Every shard, each waited for at most `timeout`; None when one stays held.
    #[cfg(test)]
    pub(crate) fn try_all_for(
        shards: &'a [Mutex<Shard>],
        timeout: std::time::Duration,
    ) -> Option<Self> {
        let held = shards
            .iter()
            .map(|s| s.try_lock_for(timeout))
            .collect::<Option<Vec<_>>>()?;
        Some(Self {
            held: held.into_iter().enumerate().collect(),
            count: shards.len(),
        })
    }

    /// The shard of (`namespace`, `workflow_id`) alone.
    pub(crate) fn one(shards: &'a [Mutex<Shard>], namespace: &str, workflow_id: &str) -> Self {
        let i = shard_index(namespace, workflow_id, shards.len());
        Self {
            held: vec![(i, shards[i].lock())],
            count: shards.len(),
        }
    }

    /// Whether every shard is held.
    pub(crate) fn holds_all(&self) -> bool {
        self.held.len() == self.count
    }

    fn slot(&self, namespace: &str, workflow_id: &str) -> Option<usize> {
        let i = shard_index(namespace, workflow_id, self.count);
        if self.holds_all() {
            return Some(i);
        }
        let found = self.held.iter().position(|(j, _)| *j == i);
        if found.is_none() {
            // A request was routed to one shard but reached a workflow of another: a bug in
            // its routing, never something a client can cause.
            tracing::error!(
                namespace,
                workflow_id,
                "an execution outside the request's history shard was addressed"
            );
            debug_assert!(false, "{namespace}/{workflow_id} is outside the held shard");
        }
        found
    }

    fn shard(&self, namespace: &str, workflow_id: &str) -> Option<&Shard> {
        self.slot(namespace, workflow_id).map(|i| &*self.held[i].1)
    }

    fn shard_mut(&mut self, namespace: &str, workflow_id: &str) -> Option<&mut Shard> {
        self.slot(namespace, workflow_id)
            .map(|i| &mut *self.held[i].1)
    }

    /// The run `key`, if it is in memory.
    pub(crate) fn get(&self, key: &ExecKey) -> Option<&Exec> {
        self.shard(&key.namespace, &key.workflow_id)?.execs.get(key)
    }

    /// The run `key`, if it is in memory.
    pub(crate) fn get_mut(&mut self, key: &ExecKey) -> Option<&mut Exec> {
        self.shard_mut(&key.namespace, &key.workflow_id)?
            .execs
            .get_mut(key)
    }

    /// Whether the run `key` is in memory.
    pub(crate) fn contains_key(&self, key: &ExecKey) -> bool {
        self.get(key).is_some()
    }

    /// Puts a run in memory (in its shard).
    pub(crate) fn insert(&mut self, key: ExecKey, ex: Exec) -> Option<Exec> {
        self.shard_mut(&key.namespace, &key.workflow_id)?
            .execs
            .insert(key, ex)
    }

    /// Takes a run out of memory.
    pub(crate) fn remove(&mut self, key: &ExecKey) -> Option<Exec> {
        self.shard_mut(&key.namespace, &key.workflow_id)?
            .execs
            .remove(key)
    }

    /// The runs of the held shards.
    pub(crate) fn values(&self) -> impl Iterator<Item = &Exec> {
        self.held.iter().flat_map(|(_, s)| s.execs.values())
    }

    /// The runs of the held shards.
    pub(crate) fn iter_mut(&mut self) -> impl Iterator<Item = (&ExecKey, &mut Exec)> {
        self.held.iter_mut().flat_map(|(_, s)| s.execs.iter_mut())
    }

    /// The current run of a workflow id.
    pub(crate) fn current(&self, namespace: &str, workflow_id: &str) -> Option<&String> {
        self.shard(namespace, workflow_id)?
            .current
            .get(&(namespace.to_string(), workflow_id.to_string()))
    }

    /// Makes `run_id` the current run of its workflow id.
    pub(crate) fn set_current(&mut self, namespace: &str, workflow_id: &str, run_id: String) {
        if let Some(s) = self.shard_mut(namespace, workflow_id) {
            s.current
                .insert((namespace.to_string(), workflow_id.to_string()), run_id);
        }
    }

    /// Forgets the current run of a workflow id.
    pub(crate) fn remove_current(&mut self, namespace: &str, workflow_id: &str) {
        if let Some(s) = self.shard_mut(namespace, workflow_id) {
            s.current
                .remove(&(namespace.to_string(), workflow_id.to_string()));
        }
    }
}

impl Engine {
    /// Runs `f` holding only the shard of (`namespace`, `workflow_id`) when the workflow
    /// stays within it (see [`Inner::workflow_is_local`]), otherwise holding every shard.
    pub(crate) async fn with_workflow_local<T>(
        &self,
        namespace: &str,
        workflow_id: &str,
        f: impl FnOnce(&mut Inner) -> RpcResult<T>,
    ) -> RpcResult<T> {
        self.with_workflow_if(
            namespace,
            workflow_id,
            |g| g.workflow_is_local(namespace, workflow_id),
            f,
        )
        .await
    }

    /// [`Self::with_workflow_local`] for the workflow a task token names (a token that
    /// names none is routed anywhere: `f` rejects it).
    pub(crate) async fn with_token_workflow<T>(
        &self,
        token: &[u8],
        f: impl FnOnce(&mut Inner) -> RpcResult<T>,
    ) -> RpcResult<T> {
        let (namespace, workflow_id) = token_workflow(token);
        self.with_workflow_local(&namespace, &workflow_id, f).await
    }
}

/// The (namespace, workflow id) a workflow or activity task token names; empty for any
/// other token.
pub(crate) fn token_workflow(token: &[u8]) -> (String, String) {
    match TaskToken::decode(token) {
        Some(TaskToken::Workflow { key, .. } | TaskToken::Activity { key, .. }) => {
            (key.namespace, key.workflow_id)
        }
        _ => (String::new(), String::new()),
    }
}

impl Inner<'_> {
    /// Whether a request on a workflow id can be served from its shard alone: its current
    /// run has no parent and no children. A run that closes tells its parent and applies its
    /// children's parent-close policies, and those runs live in other shards.
    pub(crate) fn workflow_is_local(&self, namespace: &str, workflow_id: &str) -> bool {
        let Some(run_id) = self.execs.current(namespace, workflow_id) else {
            return true;
        };
        let key = ExecKey {
            namespace: namespace.to_string(),
            workflow_id: workflow_id.to_string(),
            run_id: run_id.clone(),
        };
        // A run not in memory is closed: nothing it does reaches another run.
        self.execs
            .get(&key)
            .is_none_or(|ex| ex.st.parent.is_none() && ex.st.children.is_empty())
    }
}

/// Whether a workflow task's commands reach other workflows (children, external signals
/// and cancels), so completing it needs every shard.
pub(crate) fn commands_cross_workflows(commands: &[Command]) -> bool {
    commands.iter().any(|c| {
        matches!(
            c.attributes,
            Some(
                C::StartChildWorkflowExecutionCommandAttributes(_)
                    | C::SignalExternalWorkflowExecutionCommandAttributes(_)
                    | C::RequestCancelExternalWorkflowExecutionCommandAttributes(_)
            )
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_workflow_id_always_maps_to_the_same_shard_and_ids_spread() {
        let a = shard_index("default", "order-1", HISTORY_SHARDS);
        assert_eq!(a, shard_index("default", "order-1", HISTORY_SHARDS));
        let used: HashSet<usize> = (0..200)
            .map(|i| shard_index("default", &format!("wf-{i}"), HISTORY_SHARDS))
            .collect();
        assert_eq!(used.len(), HISTORY_SHARDS, "200 ids reach every shard");
        assert!(used.iter().all(|&i| i < HISTORY_SHARDS));
    }

    /// Two workflow ids of different shards and one more of the first one's shard.
    fn ids() -> (String, String, String) {
        let ids: Vec<(usize, String)> = (0..1000)
            .map(|i| format!("wf-{i}"))
            .map(|id| (shard_index("default", &id, HISTORY_SHARDS), id))
            .collect();
        let (sa, a) = ids[0].clone();
        let other = ids.iter().find(|(s, _)| *s != sa).unwrap().1.clone();
        let same = ids[1..].iter().find(|(s, _)| *s == sa).unwrap().1.clone();
        (a, other, same)
    }

    /// Starts workflow `id` on another thread; the receiver hears when the request ended.
    fn start_elsewhere(e: &Arc<Engine>, id: &str) -> std::sync::mpsc::Receiver<bool> {
        let (tx, rx) = std::sync::mpsc::channel();
        let (e, id) = (e.clone(), id.to_string());
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            let r = rt.block_on(e.start_workflow(ws::StartWorkflowExecutionRequest {
                namespace: "default".into(),
                workflow_id: id,
                workflow_type: Some(WorkflowType { name: "T".into() }),
                task_queue: Some(task_queue("q")),
                request_id: new_id(),
                ..Default::default()
            }));
            let _ = tx.send(r.is_ok());
        });
        rx
    }

    #[test]
    fn a_request_waits_only_for_its_own_shard() {
        let e = Engine::open(&Database::InMemory, "default").unwrap();
        let (a, other, same) = ids();
        let held = e.lock_workflow("default", &a);
        let elsewhere = start_elsewhere(&e, &other);
        let beside = start_elsewhere(&e, &same);
        // A workflow of another shard starts while `a`'s shard is held...
        assert_eq!(
            elsewhere.recv_timeout(std::time::Duration::from_secs(10)),
            Ok(true)
        );
        // ...and one of the same shard waits until it is let go.
        assert!(
            beside
                .recv_timeout(std::time::Duration::from_millis(300))
                .is_err()
        );
        drop(held);
        assert_eq!(
            beside.recv_timeout(std::time::Duration::from_secs(10)),
            Ok(true)
        );
    }

    #[test]
    fn a_view_of_every_shard_waits_for_each_and_sees_the_runs_of_all() {
        let e = Engine::open(&Database::InMemory, "default").unwrap();
        let (a, other, _) = ids();
        for id in [&a, &other] {
            let started = start_elsewhere(&e, id);
            assert_eq!(
                started.recv_timeout(std::time::Duration::from_secs(10)),
                Ok(true)
            );
        }
        let held = e.lock_workflow("default", &a);
        let (tx, rx) = std::sync::mpsc::channel();
        let e2 = e.clone();
        std::thread::spawn(move || {
            let all = e2.lock_all();
            let _ = tx.send((all.execs.holds_all(), all.execs.values().count()));
        });
        assert!(
            rx.recv_timeout(std::time::Duration::from_millis(300))
                .is_err()
        );
        drop(held);
        assert_eq!(
            rx.recv_timeout(std::time::Duration::from_secs(10)),
            Ok((true, 2))
        );
    }
}
