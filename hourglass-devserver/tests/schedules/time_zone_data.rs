//! A schedule whose spec carries its time zone as TZif data (`timezone_data`, as an SDK
//! sends a zone the server may not know): its calendar times follow that zone's rules, the
//! data is kept in describe and left out of list, and bad data is InvalidArgument.
use super::common::*;
use temporalio_common::protos::temporal::api::{
    schedule::v1::{CalendarSpec, Schedule, ScheduleAction, ScheduleSpec, schedule_action::Action},
    workflow::v1::NewWorkflowExecutionInfo,
    workflowservice::v1::{
        CreateScheduleRequest, DescribeScheduleRequest, ListScheduleMatchingTimesRequest,
        ListSchedulesRequest,
    },
};

/// A version-2 TZif file with no transitions whose POSIX footer holds New York's rules.
fn new_york_tzif() -> Vec<u8> {
    let chars = b"EST\0";
    let block = |out: &mut Vec<u8>| {
        out.extend_from_slice(b"TZif2");
        out.extend_from_slice(&[0; 15]);
        for n in [0u32, 0, 0, 0, 1, chars.len() as u32] {
            out.extend_from_slice(&n.to_be_bytes());
        }
        out.extend_from_slice(&(-5i32 * 3600).to_be_bytes());
        out.extend_from_slice(&[0, 0]);
        out.extend_from_slice(chars);
    };
    let mut out = Vec::new();
    block(&mut out);
    block(&mut out);
    out.extend_from_slice(b"\nEST5EDT,M3.2.0,M11.1.0\n");
    out
}

fn schedule(timezone_data: Vec<u8>) -> Schedule {
    Schedule {
        spec: Some(ScheduleSpec {
            calendar: vec![CalendarSpec {
                hour: "9".into(),
                ..Default::default()
            }],
            timezone_name: "Custom/NewYork".into(),
            timezone_data,
            ..Default::default()
        }),
        action: Some(ScheduleAction {
            action: Some(Action::StartWorkflow(NewWorkflowExecutionInfo {
                workflow_id: "tz-data".into(),
                workflow_type: Some(WorkflowType {
                    name: "Tick".into(),
                }),
                task_queue: tq(),
                ..Default::default()
            })),
        }),
        policies: None,
        state: None,
    }
}

fn ts(rfc3339: &str) -> Option<prost_wkt_types::Timestamp> {
    let t = chrono::DateTime::parse_from_rfc3339(rfc3339).unwrap();
    Some(prost_wkt_types::Timestamp {
        seconds: t.timestamp(),
        nanos: 0,
    })
}

#[tokio::test]
async fn schedule_times_follow_the_tzif_data_in_the_spec() {
    let (_server, mut c) = server().await;
    c.create_schedule(CreateScheduleRequest {
        namespace: "default".into(),
        schedule_id: "tz-data".into(),
        schedule: Some(schedule(new_york_tzif())),
        request_id: "r1".into(),
        ..Default::default()
    })
    .await
    .unwrap();
    let times: Vec<i64> = c
        .list_schedule_matching_times(ListScheduleMatchingTimesRequest {
            namespace: "default".into(),
            schedule_id: "tz-data".into(),
            start_time: ts("2026-03-06T00:00:00Z"),
            end_time: ts("2026-03-10T00:00:00Z"),
        })
        .await
        .unwrap()
        .into_inner()
        .start_time
        .iter()
        .map(|t| t.seconds)
        .collect();
    // 09:00 in New York is 14:00 UTC until daylight saving starts on 8 March, then 13:00.
    let want: Vec<i64> = [
        "2026-03-06T14:00:00Z",
        "2026-03-07T14:00:00Z",
        "2026-03-08T13:00:00Z",
        "2026-03-09T13:00:00Z",
    ]
    .iter()
    .map(|t| ts(t).unwrap().seconds)
    .collect();
    assert_eq!(times, want);

    let described = c
        .describe_schedule(DescribeScheduleRequest {
            namespace: "default".into(),
            schedule_id: "tz-data".into(),
        })
        .await
        .unwrap()
        .into_inner();
    let spec = described.schedule.unwrap().spec.unwrap();
    assert_eq!(spec.timezone_name, "Custom/NewYork");
    assert_eq!(
        spec.timezone_data,
        new_york_tzif(),
        "describe keeps the data"
    );
    let listed = c
        .list_schedules(ListSchedulesRequest {
            namespace: "default".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .schedules;
    let entry_spec = listed[0].info.as_ref().unwrap().spec.as_ref().unwrap();
    assert!(
        entry_spec.timezone_data.is_empty(),
        "list leaves the data out"
    );
}

#[tokio::test]
async fn malformed_tzif_data_is_invalid_argument() {
    let (_server, mut c) = server().await;
    let e = c
        .create_schedule(CreateScheduleRequest {
            namespace: "default".into(),
            schedule_id: "tz-bad".into(),
            schedule: Some(schedule(b"TZif2 but nothing else".to_vec())),
            request_id: "r1".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::InvalidArgument);
    assert!(
        e.message()
            .starts_with("Invalid schedule spec: invalid time zone data for \"Custom/NewYork\""),
        "{}",
        e.message()
    );
}
