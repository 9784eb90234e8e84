//! DescribeTaskQueue in its legacy mode, as Temporal's matching answers it: the pollers seen
//! on the queue of the asked type within the last five minutes (`pollerHistoryTTL`), newest
//! first, with identity, last access time and rate; with `report_stats`, the backlog's
//! approximate count and age; with `include_task_queue_status`, the backlog count hint.
use crate::prelude::*;
use temporalio_protos::temporal::api::{
    enums::v1::TaskQueueType,
    taskqueue::v1::{PollerInfo, TaskQueueStats, TaskQueueStatus},
};

/// Temporal matching's `pollerHistoryTTL`.
const POLLER_HISTORY_TTL_MS: i64 = 5 * 60 * 1000;

/// Temporal's `defaultTaskDispatchRPS`: a poller's rate when it asked for none.
const DEFAULT_DISPATCH_RPS: f64 = 100_000.0;

/// The pollers of one queue: identity → (last access, epoch ms; rate per second).
#[derive(Default)]
pub(crate) struct Pollers {
    seen: HashMap<String, (i64, f64)>,
}

impl Pollers {
    /// Records a poll of `identity` at `now_ms`; forgets pollers older than the TTL.
    pub(crate) fn saw(&mut self, identity: &str, now_ms: i64, rate: Option<f64>) {
        let rate = rate.unwrap_or(DEFAULT_DISPATCH_RPS);
        if let Some(p) = self.seen.get_mut(identity) {
            *p = (now_ms, rate);
            return;
        }
        self.seen
            .retain(|_, (t, _)| now_ms - *t < POLLER_HISTORY_TTL_MS);
        self.seen.insert(identity.to_string(), (now_ms, rate));
    }

    /// The pollers seen within the TTL before `now_ms`, most recent first.
    pub(crate) fn recent(&self, now_ms: i64) -> Vec<PollerInfo> {
        let mut v: Vec<_> = self
            .seen
            .iter()
            .filter(|(_, (t, _))| now_ms - *t < POLLER_HISTORY_TTL_MS)
            .collect();
        v.sort_by(|a, b| b.1.0.cmp(&a.1.0).then_with(|| a.0.cmp(b.0)));
        v.into_iter()
            .map(|(identity, (t, rate))| PollerInfo {
                last_access_time: Some(prost_types::Timestamp {
                    seconds: t.div_euclid(1000),
                    nanos: (t.rem_euclid(1000) * 1_000_000) as i32,
                }),
                identity: identity.clone(),
                rate_per_second: *rate,
                ..Default::default()
            })
            .collect()
    }
}

impl Engine {
    /// DescribeTaskQueue (legacy mode); the task queue was validated by the frontend.
    pub async fn describe_task_queue(
        &self,
        req: ws::DescribeTaskQueueRequest,
    ) -> RpcResult<ws::DescribeTaskQueueResponse> {
        self.shared.namespace(&req.namespace)?;
        let qk = QueueKey {
            namespace: req.namespace.clone(),
            name: req.task_queue.map(|t| t.name).unwrap_or_default(),
            activity: req.task_queue_type == TaskQueueType::Activity as i32,
        };
        let now = self.now_ms();
        let queues = self.shared.queues.lock();
        let Some(q) = queues.get(&qk) else {
            return Ok(ws::DescribeTaskQueueResponse {
                stats: req.report_stats.then(TaskQueueStats::default),
                task_queue_status: req.include_task_queue_status.then(TaskQueueStatus::default),
                ..Default::default()
            });
        };
        let backlog = q.tasks.len() as i64;
        let age = q.tasks.front().map(|(_, at)| at.elapsed());
        Ok(ws::DescribeTaskQueueResponse {
            pollers: q.pollers.recent(now),
            stats: req.report_stats.then(|| TaskQueueStats {
                approximate_backlog_count: backlog,
                approximate_backlog_age: age.map(|d| prost_types::Duration {
                    seconds: d.as_secs() as i64,
                    nanos: d.subsec_nanos() as i32,
                }),
                ..Default::default()
            }),
            task_queue_status: req.include_task_queue_status.then(|| TaskQueueStatus {
                backlog_count_hint: backlog,
                rate_per_second: DEFAULT_DISPATCH_RPS,
                ..Default::default()
            }),
            ..Default::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pollers_are_listed_newest_first_and_forgotten_after_five_minutes() {
        let mut p = Pollers::default();
        p.saw("a", 1_000, None);
        p.saw("b", 2_000, Some(5.0));
        let listed = p.recent(3_000);
        let ids: Vec<_> = listed.iter().map(|i| i.identity.as_str()).collect();
        assert_eq!(ids, ["b", "a"]);
        assert_eq!(listed[0].rate_per_second, 5.0);
        assert_eq!(listed[1].rate_per_second, DEFAULT_DISPATCH_RPS);
        assert_eq!(listed[1].last_access_time.as_ref().unwrap().seconds, 1);
        p.saw("a", 1_000 + POLLER_HISTORY_TTL_MS, None);
        let ids: Vec<_> = p
            .recent(2_000 + POLLER_HISTORY_TTL_MS)
            .into_iter()
            .map(|i| i.identity)
            .collect();
        assert_eq!(ids, ["a"], "b was last seen over five minutes ago");
    }
}
