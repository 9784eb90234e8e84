//! Unit tests of [`super::normalize_schedule_activity`]: one per rule of Temporal's
//! activity command validation, and one per rejection.
use super::*;
use temporalio_protos::temporal::api::common::v1::ActivityType;

fn secs(s: i64) -> Option<Duration> {
    Some(Duration {
        seconds: s,
        nanos: 0,
    })
}

fn d(s: i64) -> Duration {
    Duration {
        seconds: s,
        nanos: 0,
    }
}

fn zero() -> Duration {
    d(0)
}

fn attrs() -> ScheduleActivityTaskCommandAttributes {
    ScheduleActivityTaskCommandAttributes {
        activity_id: "a1".into(),
        activity_type: Some(ActivityType {
            name: "Greet".into(),
        }),
        task_queue: Some(TaskQueue {
            name: "tq".into(),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn norm(
    a: &ScheduleActivityTaskCommandAttributes,
    run: Option<Duration>,
) -> Result<NormalizedActivity, ScheduleActivityError> {
    normalize_schedule_activity(a, &run, "wf-tq")
}

fn err(a: &ScheduleActivityTaskCommandAttributes) -> String {
    norm(a, None).unwrap_err().to_string()
}

#[test]
fn start_to_close_only_without_run_timeout_fills_zeroes() {
    let a = ScheduleActivityTaskCommandAttributes {
        start_to_close_timeout: secs(10),
        ..attrs()
    };
    let n = norm(&a, None).unwrap();
    assert_eq!(n.schedule_to_close, zero());
    assert_eq!(n.schedule_to_start, zero());
    assert_eq!(n.start_to_close, d(10));
    assert_eq!(n.heartbeat, zero());
}

#[test]
fn start_to_close_only_takes_the_run_timeout() {
    let a = ScheduleActivityTaskCommandAttributes {
        start_to_close_timeout: secs(10),
        ..attrs()
    };
    let n = norm(&a, secs(60)).unwrap();
    assert_eq!(n.schedule_to_close, d(60));
    assert_eq!(n.schedule_to_start, d(60));
    assert_eq!(n.start_to_close, d(10));
    // A set schedule-to-start is kept.
    let a = ScheduleActivityTaskCommandAttributes {
        schedule_to_start_timeout: secs(5),
        ..a
    };
    assert_eq!(norm(&a, secs(60)).unwrap().schedule_to_start, d(5));
}

#[test]
fn schedule_to_close_only_fills_start_timeouts() {
    let a = ScheduleActivityTaskCommandAttributes {
        schedule_to_close_timeout: secs(30),
        ..attrs()
    };
    let n = norm(&a, None).unwrap();
    assert_eq!(n.schedule_to_close, d(30));
    assert_eq!(n.schedule_to_start, d(30));
    assert_eq!(n.start_to_close, d(30));
    assert_eq!(n.heartbeat, zero());
}

#[test]
fn schedule_to_close_caps_the_other_timeouts() {
    let a = ScheduleActivityTaskCommandAttributes {
        schedule_to_close_timeout: secs(30),
        schedule_to_start_timeout: secs(100),
        start_to_close_timeout: secs(40),
        heartbeat_timeout: secs(50),
        ..attrs()
    };
    let n = norm(&a, None).unwrap();
    assert_eq!(n.schedule_to_start, d(30));
    assert_eq!(n.start_to_close, d(30));
    assert_eq!(n.heartbeat, d(30));
    // Shorter ones are kept.
    let a = ScheduleActivityTaskCommandAttributes {
        schedule_to_start_timeout: secs(3),
        start_to_close_timeout: secs(4),
        heartbeat_timeout: secs(2),
        ..a
    };
    let n = norm(&a, None).unwrap();
    assert_eq!(
        (n.schedule_to_start, n.start_to_close, n.heartbeat),
        (d(3), d(4), d(2))
    );
}

#[test]
fn explicit_zero_counts_as_unset() {
    let a = ScheduleActivityTaskCommandAttributes {
        schedule_to_close_timeout: secs(30),
        schedule_to_start_timeout: secs(0),
        start_to_close_timeout: secs(0),
        ..attrs()
    };
    let n = norm(&a, None).unwrap();
    assert_eq!((n.schedule_to_start, n.start_to_close), (d(30), d(30)));
}

#[test]
fn run_timeout_caps_every_timeout() {
    let a = ScheduleActivityTaskCommandAttributes {
        schedule_to_close_timeout: secs(300),
        schedule_to_start_timeout: secs(200),
        start_to_close_timeout: secs(100),
        heartbeat_timeout: secs(90),
        ..attrs()
    };
    let n = norm(&a, secs(20)).unwrap();
    assert_eq!(
        (
            n.schedule_to_close,
            n.schedule_to_start,
            n.start_to_close,
            n.heartbeat
        ),
        (d(20), d(20), d(20), d(20))
    );
    // A zero run timeout caps nothing.
    let n = norm(&a, secs(0)).unwrap();
    assert_eq!(n.schedule_to_close, d(300));
}

#[test]
fn heartbeat_never_exceeds_start_to_close() {
    let a = ScheduleActivityTaskCommandAttributes {
        start_to_close_timeout: secs(10),
        heartbeat_timeout: secs(60),
        ..attrs()
    };
    assert_eq!(norm(&a, None).unwrap().heartbeat, d(10));
}

#[test]
fn sub_second_precision_is_kept() {
    let a = ScheduleActivityTaskCommandAttributes {
        start_to_close_timeout: Some(Duration {
            seconds: 1,
            nanos: 500_000_000,
        }),
        heartbeat_timeout: Some(Duration {
            seconds: 1,
            nanos: 700_000_000,
        }),
        ..attrs()
    };
    let n = norm(&a, None).unwrap();
    let want = Duration {
        seconds: 1,
        nanos: 500_000_000,
    };
    assert_eq!((n.start_to_close, n.heartbeat), (want, want));
}

#[test]
fn huge_durations_are_capped_at_100_years() {
    let a = ScheduleActivityTaskCommandAttributes {
        start_to_close_timeout: secs(i64::MAX / 2),
        ..attrs()
    };
    assert_eq!(norm(&a, None).unwrap().start_to_close, d(MAX_SECONDS));
}

#[test]
fn no_close_timeout_is_rejected() {
    let a = ScheduleActivityTaskCommandAttributes {
        schedule_to_start_timeout: secs(5),
        heartbeat_timeout: secs(5),
        ..attrs()
    };
    assert_eq!(
        err(&a),
        "a valid StartToCloseTimeout or ScheduleToCloseTimeout must be set on the activity. ActivityId=a1 ActivityType=Greet"
    );
}

#[test]
fn bad_timeouts_are_rejected() {
    let neg = Some(Duration {
        seconds: -1,
        nanos: 0,
    });
    let mixed = Some(Duration {
        seconds: 1,
        nanos: -1,
    });
    let a = ScheduleActivityTaskCommandAttributes {
        schedule_to_close_timeout: neg,
        ..attrs()
    };
    assert_eq!(err(&a), "invalid ScheduleToCloseTimeout: negative duration");
    let a = ScheduleActivityTaskCommandAttributes {
        start_to_close_timeout: secs(1),
        schedule_to_start_timeout: mixed,
        ..attrs()
    };
    assert_eq!(
        err(&a),
        "invalid ScheduleToStartTimeout: duration has seconds and nanos with different signs"
    );
    let a = ScheduleActivityTaskCommandAttributes {
        start_to_close_timeout: neg,
        ..attrs()
    };
    assert_eq!(err(&a), "invalid StartToCloseTimeout: negative duration");
    let a = ScheduleActivityTaskCommandAttributes {
        start_to_close_timeout: secs(1),
        heartbeat_timeout: neg,
        ..attrs()
    };
    assert_eq!(err(&a), "invalid HeartbeatTimeout: negative duration");
}

#[test]
fn absent_retry_policy_gets_temporal_defaults() {
    let a = ScheduleActivityTaskCommandAttributes {
        start_to_close_timeout: secs(1),
        ..attrs()
    };
    let rp = norm(&a, None).unwrap().retry_policy;
    assert_eq!(rp.initial_interval, secs(1));
    assert_eq!(rp.maximum_interval, secs(100));
    assert_eq!(rp.backoff_coefficient, 2.0);
    assert_eq!(rp.maximum_attempts, 0);
}

#[test]
fn retry_policy_keeps_set_fields_and_derives_maximum_interval() {
    let a = ScheduleActivityTaskCommandAttributes {
        start_to_close_timeout: secs(1),
        retry_policy: Some(RetryPolicy {
            initial_interval: Some(Duration {
                seconds: 0,
                nanos: 200_000_000,
            }),
            backoff_coefficient: 1.5,
            maximum_attempts: 3,
            non_retryable_error_types: vec!["Bad".into(), "TemporalTimeout:StartToClose".into()],
            ..Default::default()
        }),
        ..attrs()
    };
    let rp = norm(&a, None).unwrap().retry_policy;
    assert_eq!(rp.maximum_interval, secs(20));
    assert_eq!((rp.backoff_coefficient, rp.maximum_attempts), (1.5, 3));
    assert_eq!(rp.non_retryable_error_types.len(), 2);
}

fn with_policy(rp: RetryPolicy) -> ScheduleActivityTaskCommandAttributes {
    ScheduleActivityTaskCommandAttributes {
        start_to_close_timeout: secs(1),
        retry_policy: Some(rp),
        ..attrs()
    }
}

#[test]
fn bad_retry_policies_are_rejected() {
    let cases = [
        (
            RetryPolicy {
                backoff_coefficient: 0.5,
                ..Default::default()
            },
            "BackoffCoefficient cannot be less than 1 on retry policy.",
        ),
        (
            RetryPolicy {
                initial_interval: secs(-1),
                ..Default::default()
            },
            "invalid InitialInterval set on retry policy: negative duration",
        ),
        (
            RetryPolicy {
                maximum_interval: secs(-1),
                ..Default::default()
            },
            "invalid MaximumInterval set on retry policy: negative duration",
        ),
        (
            RetryPolicy {
                initial_interval: secs(10),
                maximum_interval: secs(5),
                ..Default::default()
            },
            "MaximumInterval cannot be less than InitialInterval on retry policy.",
        ),
        (
            RetryPolicy {
                maximum_attempts: -2,
                ..Default::default()
            },
            "MaximumAttempts cannot be negative on retry policy.",
        ),
        (
            RetryPolicy {
                non_retryable_error_types: vec!["TemporalTimeout:Soon".into()],
                ..Default::default()
            },
            "Invalid timeout type value: Soon.",
        ),
        (
            RetryPolicy {
                non_retryable_error_types: vec!["TemporalTimeout:Unspecified".into()],
                ..Default::default()
            },
            "Invalid timeout type value: Unspecified.",
        ),
    ];
    for (rp, want) in cases {
        assert_eq!(err(&with_policy(rp)), want);
    }
    // The full enum name is accepted, as Go's TimeoutTypeFromString does.
    let ok = RetryPolicy {
        non_retryable_error_types: vec!["TemporalTimeout:TIMEOUT_TYPE_HEARTBEAT".into()],
        ..Default::default()
    };
    assert!(norm(&with_policy(ok), None).is_ok());
}

#[test]
fn single_attempt_policy_is_not_validated_further() {
    let rp = RetryPolicy {
        maximum_attempts: 1,
        backoff_coefficient: 0.5,
        ..Default::default()
    };
    let n = norm(&with_policy(rp), None).unwrap();
    assert_eq!(n.retry_policy.backoff_coefficient, 0.5);
    assert_eq!(n.retry_policy.initial_interval, secs(1));
}

#[test]
fn task_queue_rules() {
    let tq = |name: &str| ScheduleActivityTaskCommandAttributes {
        task_queue: Some(TaskQueue {
            name: name.into(),
            ..Default::default()
        }),
        start_to_close_timeout: secs(1),
        ..attrs()
    };
    let n = norm(&tq("other"), None).unwrap();
    assert_eq!(n.task_queue.name, "other");
    assert_eq!(n.task_queue.kind, TaskQueueKind::Normal as i32);
    let none = ScheduleActivityTaskCommandAttributes {
        task_queue: None,
        ..tq("x")
    };
    assert_eq!(err(&none), "taskQueue is not set");
    assert_eq!(err(&tq("")), "missing task queue name");
    assert_eq!(
        err(&tq(&"q".repeat(1001))),
        "taskQueue length exceeds limit"
    );
    assert_eq!(
        err(&tq("/_sys/x")),
        "task queue name cannot start with reserved prefix /_sys/"
    );
    assert_eq!(
        err(&tq("temporal-sys-per-ns-tq")),
        "cannot use internal per-namespace task queue:temporal-sys-per-ns-tq (in parent component task queue: wf-tq)"
    );
    let from_internal = normalize_schedule_activity(
        &tq("temporal-sys-per-ns-tq"),
        &None,
        "temporal-sys-per-ns-x",
    );
    assert!(from_internal.is_ok());
}

#[test]
fn id_type_and_priority_rules() {
    let a = ScheduleActivityTaskCommandAttributes {
        start_to_close_timeout: secs(1),
        ..attrs()
    };
    let no_id = ScheduleActivityTaskCommandAttributes {
        activity_id: String::new(),
        ..a.clone()
    };
    assert_eq!(err(&no_id), "activityId is not set");
    let no_type = ScheduleActivityTaskCommandAttributes {
        activity_type: None,
        ..a.clone()
    };
    assert_eq!(err(&no_type), "activityType is not set");
    let long_id = ScheduleActivityTaskCommandAttributes {
        activity_id: "i".repeat(1001),
        ..a.clone()
    };
    assert_eq!(
        err(&long_id),
        "activityId exceeds length limit. Length=1001 Limit=1000"
    );
    let long_type = ScheduleActivityTaskCommandAttributes {
        activity_type: Some(ActivityType {
            name: "t".repeat(1002),
        }),
        ..a.clone()
    };
    assert_eq!(
        err(&long_type),
        "activityType exceeds length limit. Length=1002 Limit=1000"
    );
    let prio = |p: Priority| ScheduleActivityTaskCommandAttributes {
        priority: Some(p),
        ..a.clone()
    };
    assert_eq!(
        err(&prio(Priority {
            priority_key: -1,
            ..Default::default()
        })),
        "invalid priorities: priority key can't be negative"
    );
    assert_eq!(
        err(&prio(Priority {
            fairness_key: "k".repeat(65),
            ..Default::default()
        })),
        "invalid priorities: fairness key length exceeds limit"
    );
    assert_eq!(
        err(&prio(Priority {
            fairness_weight: -1.0,
            ..Default::default()
        })),
        "invalid priorities: must be greater than zero"
    );
    // Validation order: the retry policy is checked before id lengths.
    let both = ScheduleActivityTaskCommandAttributes {
        retry_policy: Some(RetryPolicy {
            backoff_coefficient: 0.5,
            ..Default::default()
        }),
        ..long_id
    };
    assert_eq!(
        err(&both),
        "BackoffCoefficient cannot be less than 1 on retry policy."
    );
}
