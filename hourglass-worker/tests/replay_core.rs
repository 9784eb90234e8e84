//! End to end through the real Temporal core: its replayer feeds hand-built histories to our
//! `WorkflowRunCache` and checks every command we produce against the recorded events.

mod common;

use std::time::Duration;

use common::p;
use hourglass_worker::workflow::{RunInit, WorkflowDefinitions, WorkflowRunCache};
use temporalio_common::{
    protos::{
        coresdk::{
            workflow_activation::remove_from_cache::EvictionReason,
            workflow_commands::workflow_command,
            workflow_completion::workflow_activation_completion,
        },
        temporal::api::{
            common::v1::{ActivityType, Payload, Payloads, WorkflowType},
            enums::v1::EventType,
            history::v1::{
                ActivityTaskCompletedEventAttributes, ActivityTaskScheduledEventAttributes,
                ActivityTaskStartedEventAttributes, History, HistoryEvent,
                TimerFiredEventAttributes, TimerStartedEventAttributes,
                WorkflowExecutionCompletedEventAttributes, WorkflowExecutionStartedEventAttributes,
                WorkflowTaskCompletedEventAttributes, WorkflowTaskScheduledEventAttributes,
                WorkflowTaskStartedEventAttributes, history_event::Attributes,
            },
            taskqueue::v1::TaskQueue,
        },
    },
    worker::WorkerTaskTypes,
};
use temporalio_sdk_core::{
    PollError, WorkerConfig, WorkerVersioningStrategy, init_replay_worker,
    replay::{HistoryForReplay, ReplayWorkerInput},
};

use temporalio_common::protos::temporal::api::history::v1::WorkflowExecutionSignaledEventAttributes;

const TQ: &str = "replay-tq";

struct HistoryBuilder {
    events: Vec<HistoryEvent>,
}

impl HistoryBuilder {
    fn started(workflow_type: &str, input: Payload) -> Self {
        let mut b = Self { events: vec![] };
        b.add(
            EventType::WorkflowExecutionStarted,
            Attributes::WorkflowExecutionStartedEventAttributes(
                WorkflowExecutionStartedEventAttributes {
                    workflow_type: Some(WorkflowType {
                        name: workflow_type.to_owned(),
                    }),
                    task_queue: Some(tq()),
                    input: Some(Payloads {
                        payloads: vec![input],
                    }),
                    workflow_task_timeout: Some(Duration::from_secs(10).try_into().unwrap()),
                    original_execution_run_id: "run-1".to_owned(),
                    first_execution_run_id: "run-1".to_owned(),
                    attempt: 1,
                    ..Default::default()
                },
            ),
        );
        b
    }

    fn add(&mut self, event_type: EventType, attributes: Attributes) -> i64 {
        let event_id = self.events.len() as i64 + 1;
        self.events.push(HistoryEvent {
            event_id,
            event_time: Some(std::time::SystemTime::UNIX_EPOCH.into()),
            event_type: event_type as i32,
            attributes: Some(attributes),
            ..Default::default()
        });
        event_id
    }

    /// Scheduled + started + completed; returns the completed event id.
    fn full_wft(&mut self) -> i64 {
        let scheduled = self.add(
            EventType::WorkflowTaskScheduled,
            Attributes::WorkflowTaskScheduledEventAttributes(
                WorkflowTaskScheduledEventAttributes {
                    task_queue: Some(tq()),
                    start_to_close_timeout: Some(Duration::from_secs(10).try_into().unwrap()),
                    attempt: 1,
                },
            ),
        );
        let started = self.add(
            EventType::WorkflowTaskStarted,
            Attributes::WorkflowTaskStartedEventAttributes(WorkflowTaskStartedEventAttributes {
                scheduled_event_id: scheduled,
                identity: "test".to_owned(),
                ..Default::default()
            }),
        );
        self.add(
            EventType::WorkflowTaskCompleted,
            Attributes::WorkflowTaskCompletedEventAttributes(
                WorkflowTaskCompletedEventAttributes {
                    scheduled_event_id: scheduled,
                    started_event_id: started,
                    identity: "test".to_owned(),
                    ..Default::default()
                },
            ),
        )
    }

    fn completed(&mut self, wft_completed: i64, result: Payload) {
        self.add(
            EventType::WorkflowExecutionCompleted,
            Attributes::WorkflowExecutionCompletedEventAttributes(
                WorkflowExecutionCompletedEventAttributes {
                    result: Some(Payloads {
                        payloads: vec![result],
                    }),
                    workflow_task_completed_event_id: wft_completed,
                    ..Default::default()
                },
            ),
        );
    }

    fn build(self) -> History {
        History {
            events: self.events,
        }
    }
}

fn tq() -> TaskQueue {
    TaskQueue {
        name: TQ.to_owned(),
        ..Default::default()
    }
}

fn timer_history(workflow_type: &str, input: Payload) -> History {
    let mut h = HistoryBuilder::started(workflow_type, input);
    let wft = h.full_wft();
    let timer = h.add(
        EventType::TimerStarted,
        Attributes::TimerStartedEventAttributes(TimerStartedEventAttributes {
            timer_id: "1".to_owned(),
            start_to_fire_timeout: Some(Duration::from_secs(5).try_into().unwrap()),
            workflow_task_completed_event_id: wft,
        }),
    );
    h.add(
        EventType::TimerFired,
        Attributes::TimerFiredEventAttributes(TimerFiredEventAttributes {
            timer_id: "1".to_owned(),
            started_event_id: timer,
        }),
    );
    let wft = h.full_wft();
    h.completed(wft, p("timer of 5s fired"));
    h.build()
}

fn greeting_history() -> History {
    let mut h = HistoryBuilder::started("GreetingWorkflow", p("World"));
    let wft = h.full_wft();
    let scheduled = h.add(
        EventType::ActivityTaskScheduled,
        Attributes::ActivityTaskScheduledEventAttributes(ActivityTaskScheduledEventAttributes {
            activity_id: "1".to_owned(),
            activity_type: Some(ActivityType {
                name: "GreetingActivities::greet".to_owned(),
            }),
            task_queue: Some(tq()),
            input: Some(Payloads {
                payloads: vec![p("World")],
            }),
            start_to_close_timeout: Some(Duration::from_secs(10).try_into().unwrap()),
            workflow_task_completed_event_id: wft,
            ..Default::default()
        }),
    );
    let started = h.add(
        EventType::ActivityTaskStarted,
        Attributes::ActivityTaskStartedEventAttributes(ActivityTaskStartedEventAttributes {
            scheduled_event_id: scheduled,
            identity: "test".to_owned(),
            attempt: 1,
            ..Default::default()
        }),
    );
    h.add(
        EventType::ActivityTaskCompleted,
        Attributes::ActivityTaskCompletedEventAttributes(ActivityTaskCompletedEventAttributes {
            result: Some(Payloads {
                payloads: vec![p("Hello, World!")],
            }),
            scheduled_event_id: scheduled,
            started_event_id: started,
            identity: "test".to_owned(),
            ..Default::default()
        }),
    );
    let wft = h.full_wft();
    h.completed(wft, p("Hello, World!"));
    h.build()
}

fn counter_history(final_count: u64) -> History {
    let mut h = HistoryBuilder::started("CounterWorkflow", p(()));
    h.full_wft();
    for (name, input) in [("add", p(2u64)), ("add", p(3u64)), ("finish", p(()))] {
        h.add(
            EventType::WorkflowExecutionSignaled,
            Attributes::WorkflowExecutionSignaledEventAttributes(
                WorkflowExecutionSignaledEventAttributes {
                    signal_name: name.to_owned(),
                    input: Some(Payloads {
                        payloads: vec![input],
                    }),
                    identity: "test".to_owned(),
                    ..Default::default()
                },
            ),
        );
    }
    let wft = h.full_wft();
    h.completed(wft, p(final_count));
    h.build()
}

/// What happened to each replayed history: (eviction reason, eviction message), plus the
/// messages of any failed completions we sent.
struct ReplayOutcome {
    evictions: Vec<(EvictionReason, String)>,
    failed_completions: Vec<String>,
    activations: usize,
    /// Results of the CompleteWorkflowExecution commands we sent.
    results: Vec<Payload>,
}

async fn replay(histories: Vec<(History, &str)>) -> ReplayOutcome {
    let config = WorkerConfig::builder()
        .namespace("default")
        .task_queue(TQ)
        .task_types(WorkerTaskTypes::workflow_only())
        .versioning_strategy(WorkerVersioningStrategy::None {
            build_id: "replay".to_owned(),
        })
        .build()
        .unwrap();
    let histories: Vec<_> = histories
        .into_iter()
        .map(|(h, id)| HistoryForReplay::new(h, id))
        .collect();
    let worker = init_replay_worker(ReplayWorkerInput::new(
        config,
        futures::stream::iter(histories),
    ))
    .unwrap();
    let mut cache = WorkflowRunCache::new(
        WorkflowDefinitions::from_registered().unwrap(),
        RunInit::new("default", TQ),
    );
    let mut outcome = ReplayOutcome {
        evictions: vec![],
        failed_completions: vec![],
        activations: 0,
        results: vec![],
    };
    let drive = async {
        loop {
            let activation = match worker.poll_workflow_activation().await {
                Ok(a) => a,
                Err(PollError::ShutDown) => break,
                Err(e) => panic!("poll failed: {e:?}"),
            };
            outcome.activations += 1;
            if let Some(reason) = activation.eviction_reason() {
                let message = activation
                    .jobs
                    .iter()
                    .find_map(|j| match &j.variant {
                        Some(temporalio_common::protos::coresdk::workflow_activation::workflow_activation_job::Variant::RemoveFromCache(r)) => Some(r.message.clone()),
                        _ => None,
                    })
                    .unwrap_or_default();
                outcome.evictions.push((reason, message));
            }
            let completion = cache.process(activation);
            if let Some(workflow_activation_completion::Status::Successful(s)) = &completion.status
            {
                outcome
                    .results
                    .extend(s.commands.iter().filter_map(|c| match &c.variant {
                        Some(workflow_command::Variant::CompleteWorkflowExecution(c)) => {
                            c.result.clone()
                        }
                        _ => None,
                    }));
            }
            if let Some(workflow_activation_completion::Status::Failed(f)) = &completion.status {
                outcome.failed_completions.push(
                    f.failure
                        .as_ref()
                        .map(|f| f.message.clone())
                        .unwrap_or_default(),
                );
            }
            worker
                .complete_workflow_activation(completion)
                .await
                .unwrap();
        }
    };
    tokio::time::timeout(Duration::from_secs(60), drive)
        .await
        .expect("replay finished");
    worker.shutdown().await;
    assert!(
        cache.is_empty(),
        "every replayed run was evicted and dropped"
    );
    outcome
}

fn nondeterminism(outcome: &ReplayOutcome) -> Vec<&str> {
    outcome
        .evictions
        .iter()
        .filter(|(r, _)| *r == EvictionReason::Nondeterminism)
        .map(|(_, m)| m.as_str())
        .collect()
}

#[tokio::test]
async fn core_replays_timer_and_activity_histories_without_nondeterminism() {
    let outcome = replay(vec![
        (timer_history("TimerWorkflow", p(5u64)), "wf-timer"),
        (greeting_history(), "wf-greeting"),
    ])
    .await;
    assert!(
        outcome.failed_completions.is_empty(),
        "{:?}",
        outcome.failed_completions
    );
    assert!(
        nondeterminism(&outcome).is_empty(),
        "{:?}",
        outcome.evictions
    );
    assert_eq!(outcome.evictions.len(), 2, "one final eviction per history");
    let results: Vec<String> = outcome.results.iter().map(common::decode).collect();
    assert_eq!(results, ["timer of 5s fired", "Hello, World!"]);
    assert!(outcome.activations >= 6, "{}", outcome.activations);
}

#[tokio::test]
async fn core_replays_signals() {
    let outcome = replay(vec![(counter_history(5), "wf-counter")]).await;
    assert!(
        outcome.failed_completions.is_empty(),
        "{:?}",
        outcome.failed_completions
    );
    assert!(
        nondeterminism(&outcome).is_empty(),
        "{:?}",
        outcome.evictions
    );
}

#[tokio::test]
async fn core_detects_commands_that_do_not_match_history() {
    // The history says a timer was started; GreetingWorkflow schedules an activity instead.
    let outcome = replay(vec![(
        timer_history("GreetingWorkflow", p("World")),
        "wf-mismatch",
    )])
    .await;
    let nd = nondeterminism(&outcome);
    assert_eq!(nd.len(), 1, "{:?}", outcome.evictions);
    assert!(nd[0].to_lowercase().contains("nondetermin"), "{}", nd[0]);
}

#[tokio::test]
async fn core_evicts_after_a_failed_workflow_task() {
    // Input that GreetingWorkflow cannot decode: our failed completion makes core evict (LangFail).
    let outcome = replay(vec![(timer_history("GreetingWorkflow", p(5u64)), "wf-bad")]).await;
    assert_eq!(
        outcome.failed_completions.len(),
        1,
        "{:?}",
        outcome.failed_completions
    );
    assert!(
        outcome
            .evictions
            .iter()
            .any(|(r, m)| *r == EvictionReason::LangFail && m.contains("Failed to create workflow")),
        "{:?}",
        outcome.evictions
    );
}
