//! PauseActivity, UnpauseActivity and ResetActivity (Temporal: service/history/api/
//! pauseactivity, unpauseactivity, resetactivity and `workflow.PauseActivity` /
//! `UnpauseActivity` / `ResetActivity`).
//!
//! - A paused activity that is not running is not dispatched, nor retried, nor timed out
//!   before it starts; a running one finishes its attempt (its heartbeats answer
//!   `activity_paused`, so the SDKs stop it) and the retry waits for the unpause.
//! - Unpausing dispatches a waiting attempt at once (optionally at attempt 1, without its
//!   heartbeat details).
//! - Resetting sets the attempt count to 1: a waiting attempt is dispatched at once as
//!   attempt 1 (unless it stays paused); a running one is told on its next heartbeat
//!   (`activity_reset`), and its retry is decided and numbered as after attempt 1.
use crate::prelude::*;
use temporalio_protos::temporal::api::workflowservice::v1::{
    pause_activity_request, reset_activity_request, unpause_activity_request,
};

/// Which activities of a run a request names.
enum Target<'a> {
    Id(&'a str),
    Type(&'a str),
    All,
}

fn checked<'a>(
    exec: &Option<WorkflowExecution>,
    target: Option<Target<'a>>,
) -> RpcResult<Target<'a>> {
    if exec.as_ref().is_none_or(|e| e.workflow_id.is_empty()) {
        return Err(status::invalid("WorkflowId is not set on request."));
    }
    target.ok_or_else(|| {
        status::invalid("Either Activity.Id or Activity.Type should be set on request.")
    })
}

impl Engine {
    /// PauseActivity.
    pub async fn pause_activity(&self, req: ws::PauseActivityRequest) -> RpcResult<()> {
        use pause_activity_request::Activity as A;
        let target = checked(
            &req.execution,
            req.activity.as_ref().map(|a| match a {
                A::Id(id) => Target::Id(id),
                A::Type(t) => Target::Type(t),
            }),
        )?;
        let wf = crate::history::query::workflow_of(&req.execution).to_string();
        self.with_workflow_local(&req.namespace, &wf, |g| {
            let key = g.resolve_open(&req.namespace, &req.execution)?;
            let pause = ActivityPause {
                time_ms: g.now_ms(),
                identity: req.identity.clone(),
                reason: req.reason.clone(),
                request_id: req.request_id.clone(),
            };
            for sid in g.targeted(&key, &target)? {
                g.pause(&key, sid, &pause)?;
            }
            Ok(())
        })
        .await
    }

    /// UnpauseActivity.
    pub async fn unpause_activity(&self, req: ws::UnpauseActivityRequest) -> RpcResult<()> {
        use unpause_activity_request::Activity as A;
        let target = checked(
            &req.execution,
            req.activity.as_ref().map(|a| match a {
                A::Id(id) => Target::Id(id),
                A::Type(t) => Target::Type(t),
                A::UnpauseAll(_) => Target::All,
            }),
        )?;
        let wf = crate::history::query::workflow_of(&req.execution).to_string();
        self.with_workflow_local(&req.namespace, &wf, |g| {
            let key = g.resolve_open(&req.namespace, &req.execution)?;
            for sid in g.targeted(&key, &target)? {
                g.unpause(&key, sid, req.reset_attempts, req.reset_heartbeat);
            }
            Ok(())
        })
        .await
    }

    /// ResetActivity.
    pub async fn reset_activity(&self, req: ws::ResetActivityRequest) -> RpcResult<()> {
        use reset_activity_request::Activity as A;
        let target = checked(
            &req.execution,
            req.activity.as_ref().map(|a| match a {
                A::Id(id) => Target::Id(id),
                A::Type(t) => Target::Type(t),
                A::MatchAll(_) => Target::All,
            }),
        )?;
        let wf = crate::history::query::workflow_of(&req.execution).to_string();
        self.with_workflow_local(&req.namespace, &wf, |g| {
            let key = g.resolve_open(&req.namespace, &req.execution)?;
            for sid in g.targeted(&key, &target)? {
                g.reset(&key, sid, req.reset_heartbeat, req.keep_paused);
            }
            Ok(())
        })
        .await
    }
}

impl Inner<'_> {
    /// The scheduled event ids of the pending activities `target` names; NotFound with
    /// Temporal's message when there is none.
    fn targeted(&self, key: &ExecKey, target: &Target<'_>) -> RpcResult<Vec<i64>> {
        let ex = self
            .execs
            .get(key)
            .ok_or_else(|| status::not_found("workflow execution not found"))?;
        let sids: Vec<i64> = ex
            .st
            .activities
            .values()
            .filter(|a| match target {
                Target::Id(id) => a.activity_id == *id,
                Target::Type(t) => a.activity_type == *t,
                Target::All => true,
            })
            .map(|a| a.scheduled_event_id)
            .collect();
        if sids.is_empty() {
            return Err(status::not_found(
                "Can't find pending activity with such ID. Invalid activityID or activity already completed",
            ));
        }
        Ok(sids)
    }

    fn pause(&mut self, key: &ExecKey, sid: i64, pause: &ActivityPause) -> RpcResult<()> {
        let a = self.activity_mut(key, sid)?;
        if let Some(p) = &a.paused {
            if p.request_id == pause.request_id {
                return Ok(());
            }
            return Err(Status::failed_precondition("activity is already paused"));
        }
        a.paused = Some(pause.clone());
        tracing::info!(workflow_id = %key.workflow_id, activity = %a.activity_id, reason = %pause.reason, "activity paused");
        self.dirty.insert(key.clone());
        Ok(())
    }

    fn unpause(&mut self, key: &ExecKey, sid: i64, reset_attempts: bool, reset_heartbeat: bool) {
        let Ok(a) = self.activity_mut(key, sid) else {
            return;
        };
        if a.paused.take().is_none() {
            return;
        }
        if reset_attempts {
            a.attempt = 1;
        }
        if reset_heartbeat {
            a.heartbeat_details = None;
            a.last_heartbeat_ms = None;
        }
        tracing::info!(workflow_id = %key.workflow_id, activity = %a.activity_id, "activity unpaused");
        self.dirty.insert(key.clone());
        self.dispatch_waiting_attempt(key, sid);
    }

    fn reset(&mut self, key: &ExecKey, sid: i64, reset_heartbeats: bool, keep_paused: bool) {
        let Ok(a) = self.activity_mut(key, sid) else {
            return;
        };
        if !keep_paused {
            a.paused = None;
        }
        let running = a.started_ms.is_some();
        if running {
            // The attempt goes on under its own number (its task token names it); its
            // retry counts from 1 (see `activity_attempt_failed`).
            a.reset = true;
            a.reset_heartbeats = reset_heartbeats;
        } else {
            a.attempt = 1;
            if reset_heartbeats {
                a.heartbeat_details = None;
                a.last_heartbeat_ms = None;
            }
        }
        let paused = a.paused.is_some();
        tracing::info!(workflow_id = %key.workflow_id, activity = %a.activity_id, running, "activity reset");
        self.dirty.insert(key.clone());
        if !running && !paused {
            self.dispatch_waiting_attempt(key, sid);
        }
    }

    fn activity_mut(&mut self, key: &ExecKey, sid: i64) -> RpcResult<&mut Activity> {
        self.exec_mut(key)?
            .st
            .activities
            .get_mut(&sid)
            .ok_or_else(|| status::not_found("activity not found"))
    }

    /// Dispatches the attempt an activity waits on now (a retry backoff is cut short).
    fn dispatch_waiting_attempt(&mut self, key: &ExecKey, sid: i64) {
        let now = self.now_ms();
        let Ok(a) = self.activity_mut(key, sid) else {
            return;
        };
        if a.started_ms.is_some() {
            return;
        }
        a.attempt_scheduled_ms = now;
        let attempt = a.attempt;
        // The retry timer dispatches it, as it does after a backoff.
        self.fire_activity_timer(key.clone(), sid, attempt, ActTimer::Retry, now);
    }
}
