//! `hourglass schedule backfill` and `schedule list-matching-times`: a schedule over a time
//! range, as the Temporal CLI's commands of those names (flags, output, JSON).

use crate::connection::Client;
use crate::error::CliError;
use crate::output::{print_json, print_table, proto_json, rfc3339};
use crate::schedule_args::ScheduleRangeArgs;
use crate::schedule_commands::{done, parse_overlap_policy, parse_time, patch, schedule_rpc};
use std::io::Write;
use temporalio_protos::temporal::api::schedule::v1::{BackfillRequest, SchedulePatch};
use temporalio_protos::temporal::api::workflowservice::v1::ListScheduleMatchingTimesRequest;

/// The parsed range: (start, end).
type Range = (prost_wkt_types::Timestamp, prost_wkt_types::Timestamp);

/// Parses `--start-time` / `--end-time`; bad input is reported before any RPC.
pub fn parse_range(args: &ScheduleRangeArgs) -> Result<Range, CliError> {
    Ok((
        parse_time("--start-time", &args.start_time)?,
        parse_time("--end-time", &args.end_time)?,
    ))
}

/// `schedule backfill`: one backfill request over the range with the overlap policy.
pub async fn cmd_backfill(
    client: &mut Client,
    namespace: &str,
    args: &ScheduleRangeArgs,
    out: &mut impl Write,
) -> Result<(), CliError> {
    let (start_time, end_time) = parse_range(args)?;
    let overlap_policy = parse_overlap_policy(&args.overlap_policy)? as i32;
    let p = SchedulePatch {
        backfill_request: vec![BackfillRequest {
            start_time: Some(start_time),
            end_time: Some(end_time),
            overlap_policy,
        }],
        ..Default::default()
    };
    patch(
        client,
        namespace,
        &args.id.schedule_id,
        p,
        "backfill schedule",
    )
    .await?;
    done(out, &args.id, "Backfill request sent")
}

/// `schedule list-matching-times`: a `Time` table (RFC 3339), or the response as JSON.
pub async fn cmd_list_matching_times(
    client: &mut Client,
    namespace: &str,
    args: &ScheduleRangeArgs,
    out: &mut impl Write,
) -> Result<(), CliError> {
    let (start_time, end_time) = parse_range(args)?;
    let resp = client
        .list_schedule_matching_times(ListScheduleMatchingTimesRequest {
            namespace: namespace.to_string(),
            schedule_id: args.id.schedule_id.clone(),
            start_time: Some(start_time),
            end_time: Some(end_time),
        })
        .await
        .map_err(|s| schedule_rpc("list schedule matching times", &args.id.schedule_id, s))?
        .into_inner();
    if args.id.output.output.is_json() {
        return print_json(out, &proto_json(&resp, false)?);
    }
    let rows: Vec<Vec<String>> = resp
        .start_time
        .iter()
        .map(|t| vec![rfc3339(Some(t))])
        .collect();
    print_table(out, &["Time"], &rows, true)
}
