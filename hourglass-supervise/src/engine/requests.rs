//! The loop's answers to handle requests: which children, counts and snapshots, and starting,
//! terminating, killing, restarting and deleting a child on request.

use super::*;

impl Engine {
    fn find(&self, target: &Target) -> Option<u64> {
        match target {
            Target::Ref(r) => self.children.contains_key(&r.0).then_some(r.0),
            Target::Id(id) => self
                .children
                .iter()
                .find(|(_, e)| &*e.spec.id == id.as_str())
                .map(|(s, _)| *s),
        }
    }

    fn no_such(&self, target: &Target) -> SuperviseError {
        SuperviseError::NoSuchChild {
            supervisor: self.id.to_string(),
            child: match target {
                Target::Id(id) => id.clone(),
                Target::Ref(r) => format!("#{}", r.0),
            },
        }
    }

    fn state_of(state: &State) -> ChildState {
        match state {
            State::Running(_) => ChildState::Running,
            State::Starting(_) | State::Restarting => ChildState::Restarting,
            State::Terminated => ChildState::Terminated,
        }
    }

    pub(super) async fn on_request(&mut self, req: Request) {
        match req {
            Request::WhichChildren(reply) => {
                let rows = self
                    .children
                    .iter()
                    .map(|(seq, e)| ChildInfo {
                        id: e.spec.id.to_string(),
                        child: ChildRef(*seq),
                        kind: e.spec.kind,
                        restart: e.spec.restart,
                        state: Self::state_of(&e.state),
                        restarts: e.restarts,
                    })
                    .collect();
                let _ = reply.send(rows);
            }
            Request::CountChildren(reply) => {
                let mut c = ChildCounts::default();
                for e in self.children.values() {
                    c.specs += 1;
                    if matches!(e.state, State::Running(_)) {
                        c.active += 1;
                    }
                    match e.spec.kind {
                        ChildKind::Supervisor => c.supervisors += 1,
                        ChildKind::Worker => c.workers += 1,
                    }
                }
                let _ = reply.send(c);
            }
            Request::Snapshot(reply) => {
                let mut nested = Vec::new();
                let children = self
                    .children
                    .iter()
                    .enumerate()
                    .map(|(i, (seq, e))| {
                        let (incarnation, os_pid) = match &e.state {
                            State::Running(r) => {
                                if let Some(tx) = r.ctx.nested.get() {
                                    nested.push((i, tx.clone()));
                                }
                                let pid = r.ctx.os_pid.load(std::sync::atomic::Ordering::Acquire);
                                (Some(r.ctx.incarnation), (pid != 0).then_some(pid))
                            }
                            _ => (None, None),
                        };
                        ChildSnapshot {
                            id: e.spec.id.to_string(),
                            child: ChildRef(*seq),
                            kind: e.spec.kind,
                            restart: e.spec.restart,
                            state: Self::state_of(&e.state),
                            restarts: e.restarts,
                            incarnation,
                            os_pid,
                            supervisor: None,
                        }
                    })
                    .collect();
                let (strategy, dynamic) = match self.mode {
                    Mode::Static(s) => (s, false),
                    Mode::Dynamic { .. } => (Strategy::OneForOne, true),
                };
                let _ = reply.send(FlatSnapshot {
                    snapshot: SupervisorSnapshot {
                        id: self.id.to_string(),
                        strategy,
                        dynamic,
                        restarts: self.total_restarts,
                        max_restarts: self.limit.max_restarts,
                        period_ms: self.limit.period.as_millis() as u64,
                        children,
                    },
                    nested,
                });
            }
            Request::StartChild(spec, reply) => {
                if matches!(
                    self.mode,
                    Mode::Dynamic {
                        concurrent_starts: true,
                        ..
                    }
                ) {
                    self.start_child_concurrently(spec, reply);
                } else {
                    let r = self.start_child(spec).await;
                    let _ = reply.send(r);
                }
            }
            Request::TerminateChild(target, reply) => {
                let r = self.terminate_child(target).await;
                let _ = reply.send(r);
            }
            Request::KillChild(target, reply) => {
                let r = self.kill_child(target);
                let _ = reply.send(r);
            }
            Request::RestartChild(id, reply) => {
                let r = self.restart_child(id).await;
                let _ = reply.send(r);
            }
            Request::DeleteChild(id, reply) => {
                let r = self.delete_child(id);
                let _ = reply.send(r);
            }
        }
    }

    async fn start_child(&mut self, spec: ChildSpec) -> Result<ChildRef, SuperviseError> {
        match self.mode {
            Mode::Dynamic {
                max_children: Some(max),
                ..
            } if self.children.len() >= max => {
                return Err(SuperviseError::MaxChildren {
                    supervisor: self.id.to_string(),
                    max,
                });
            }
            Mode::Static(_) if self.children.values().any(|e| e.spec.id == spec.id) => {
                return Err(SuperviseError::DuplicateChild {
                    supervisor: self.id.to_string(),
                    child: spec.id.to_string(),
                });
            }
            _ => {}
        }
        let child = spec.id.to_string();
        let seq = self.insert(spec);
        match self.start_incarnation(seq).await {
            Ok(()) => Ok(ChildRef(seq)),
            Err(reason) => {
                self.children.remove(&seq);
                tracing::error!(supervisor = %self.id, child = %child, error = %reason, "child failed to start");
                Err(SuperviseError::StartFailed {
                    supervisor: self.id.to_string(),
                    child,
                    reason,
                })
            }
        }
    }

    async fn terminate_child(&mut self, target: Target) -> Result<(), SuperviseError> {
        let Some(seq) = self.find(&target) else {
            return Err(self.no_such(&target));
        };
        let dynamic = self.is_dynamic();
        self.remove_pending(seq);
        let Some(entry) = self.children.get_mut(&seq) else {
            return Err(self.no_such(&target));
        };
        let shutdown = entry.spec.shutdown_mode();
        let temporary = entry.spec.restart == Restart::Temporary;
        match std::mem::replace(&mut entry.state, State::Terminated) {
            State::Running(running) => {
                stop_running(&self.id, running, shutdown).await;
            }
            State::Starting(starting) => {
                let events = self.events_tx.clone();
                concurrent::stop_starting(&self.id, events, seq, starting, shutdown).await;
            }
            State::Restarting | State::Terminated => {}
        }
        if dynamic || temporary {
            self.children.remove(&seq);
        }
        Ok(())
    }

    /// Aborts the running incarnation, like OTP's `exit(Pid, kill)`: the exit (`Killed`,
    /// abnormal) then goes through the ordinary exit handling, so restart rules and intensity
    /// apply. Returns whether an incarnation was running.
    fn kill_child(&mut self, target: Target) -> Result<bool, SuperviseError> {
        let Some(seq) = self.find(&target) else {
            return Err(self.no_such(&target));
        };
        let Some(entry) = self.children.get(&seq) else {
            return Err(self.no_such(&target));
        };
        let State::Running(running) = &entry.state else {
            return Ok(false);
        };
        tracing::warn!(supervisor = %self.id, child = %entry.spec.id, incarnation = running.ctx.incarnation, "killing child on request");
        running.handle.abort();
        // An aborted task cannot report its own exit; report it for it.
        let _ = self.events_tx.send(Event {
            seq,
            incarnation: running.ctx.incarnation,
        });
        Ok(true)
    }

    async fn restart_child(&mut self, id: String) -> Result<ChildRef, SuperviseError> {
        let target = Target::Id(id);
        let Some(seq) = self.find(&target) else {
            return Err(self.no_such(&target));
        };
        let Some(entry) = self.children.get_mut(&seq) else {
            return Err(self.no_such(&target));
        };
        if !matches!(entry.state, State::Terminated) {
            return Err(SuperviseError::ChildRunning {
                supervisor: self.id.to_string(),
                child: entry.spec.id.to_string(),
            });
        }
        entry.state = State::Restarting;
        entry.restarts += 1;
        match self.start_incarnation(seq).await {
            Ok(()) => Ok(ChildRef(seq)),
            Err(reason) => {
                let child = self.child_id(seq);
                if let Some(e) = self.children.get_mut(&seq) {
                    e.state = State::Terminated;
                }
                Err(SuperviseError::StartFailed {
                    supervisor: self.id.to_string(),
                    child,
                    reason,
                })
            }
        }
    }

    fn delete_child(&mut self, id: String) -> Result<(), SuperviseError> {
        let target = Target::Id(id);
        let Some(seq) = self.find(&target) else {
            return Err(self.no_such(&target));
        };
        let Some(entry) = self.children.get(&seq) else {
            return Err(self.no_such(&target));
        };
        if !matches!(entry.state, State::Terminated) {
            return Err(SuperviseError::ChildRunning {
                supervisor: self.id.to_string(),
                child: entry.spec.id.to_string(),
            });
        }
        self.children.remove(&seq);
        Ok(())
    }
}
