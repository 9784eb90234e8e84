//! Schedule specs, as Temporal's `service/worker/scheduler/spec.go` reads them: the canonical
//! form (calendar and cron strings turned into structured calendars and intervals), its
//! validation, and the next action time (calendars, intervals with phase, exclusions,
//! start/end time, jitter) in the spec's time zone.
use super::calendar::{self, CompiledCalendar, MAX_COMMENT_LEN, MAX_YEAR, MIN_YEAR};
use super::zone::Zone;
use chrono::{DateTime, Datelike, TimeZone, Utc};
use temporalio_protos::temporal::api::schedule::v1::{
    IntervalSpec, Range, ScheduleSpec, StructuredCalendarSpec,
};

/// How many candidate times one next-time search may skip over (excluded) before giving up.
const MAX_ITERATIONS: usize = 100_000;

/// A timestamp as a UTC time (None for a missing or out-of-range one).
pub(crate) fn utc(t: &Option<prost_wkt_types::Timestamp>) -> Option<DateTime<Utc>> {
    let t = t.as_ref()?;
    Utc.timestamp_opt(t.seconds, t.nanos.max(0) as u32).single()
}

/// A UTC time as a timestamp.
pub(crate) fn timestamp(t: DateTime<Utc>) -> prost_wkt_types::Timestamp {
    prost_wkt_types::Timestamp {
        seconds: t.timestamp(),
        nanos: t.timestamp_subsec_nanos() as i32,
    }
}

fn duration_ms(d: &Option<prost_wkt_types::Duration>) -> i64 {
    crate::history::events::dur_ms(d)
}

/// The canonical form Temporal stores and describes (`canonicalizeSpec`): calendar strings
/// and cron strings become structured calendars (or intervals, for `@every`), a cron time
/// zone becomes the spec's, and every calendar and interval is validated.
pub(crate) fn canonicalize(spec: &ScheduleSpec) -> Result<ScheduleSpec, String> {
    let mut spec = spec.clone();
    for cal in std::mem::take(&mut spec.calendar) {
        spec.structured_calendar
            .push(calendar::parse_calendar(&cal)?);
    }
    for cal in std::mem::take(&mut spec.exclude_calendar) {
        spec.exclude_structured_calendar
            .push(calendar::parse_calendar(&cal)?);
    }
    let mut cron_tz: Option<String> = None;
    for c in std::mem::take(&mut spec.cron_string) {
        let cron = calendar::parse_cron(&c)?;
        if cron_tz.as_ref().is_some_and(|tz| *tz != cron.timezone) {
            return Err("conflicting timezone names".into());
        }
        cron_tz = Some(cron.timezone);
        spec.structured_calendar.extend(cron.calendar);
        spec.interval.extend(cron.interval);
    }
    if let Some(tz) = cron_tz.filter(|tz| !tz.is_empty()) {
        if (!spec.timezone_name.is_empty() && spec.timezone_name != tz)
            || !spec.timezone_data.is_empty()
        {
            return Err("conflicting timezone names".into());
        }
        spec.timezone_name = tz;
    }
    for cal in &spec.structured_calendar {
        validate_calendar(cal)?;
    }
    for iv in &spec.interval {
        validate_interval(iv)?;
    }
    Ok(spec)
}

fn validate_calendar(c: &StructuredCalendarSpec) -> Result<(), String> {
    let mut errs = vec![];
    let mut check = |ranges: &[Range], field: &str, min: i32, max: i32| {
        for r in ranges {
            if r.start < min || r.start > max {
                errs.push(format!("{field} Start is not in range [{min}-{max}]"));
            }
            if r.end != 0 && (r.end < r.start || r.end > max) {
                errs.push(format!(
                    "{field} End is before Start or not in range [{min}-{max}]"
                ));
            }
            if r.step < 0 {
                errs.push(format!("{field} has invalid Step"));
            }
        }
    };
    check(&c.second, "Second", 0, 59);
    check(&c.minute, "Minute", 0, 59);
    check(&c.hour, "Hour", 0, 23);
    check(&c.day_of_month, "DayOfMonth", 1, 31);
    check(&c.month, "Month", 1, 12);
    check(&c.year, "Year", MIN_YEAR, MAX_YEAR);
    check(&c.day_of_week, "DayOfWeek", 0, 6);
    if c.comment.len() > MAX_COMMENT_LEN {
        errs.push("comment is too long".into());
    }
    if errs.is_empty() {
        Ok(())
    } else {
        Err(format!("invalid calendar spec: {}", errs.join(", ")))
    }
}

fn validate_interval(i: &IntervalSpec) -> Result<(), String> {
    let (iv, phase) = (duration_ms(&i.interval), duration_ms(&i.phase));
    if iv < 1000 {
        Err("interval is too small".into())
    } else if phase < 0 {
        Err("phase is negative".into())
    } else if phase >= iv {
        Err("phase cannot be greater than Interval".into())
    } else {
        Ok(())
    }
}

/// What describe and list show (Temporal's `CleanSpec`): an end before its start becomes
/// the start, and a step of 0 becomes 1.
pub(crate) fn clean(spec: &mut ScheduleSpec) {
    let cal = |c: &mut StructuredCalendarSpec| {
        for ranges in [
            &mut c.second,
            &mut c.minute,
            &mut c.hour,
            &mut c.day_of_month,
            &mut c.month,
            &mut c.year,
            &mut c.day_of_week,
        ] {
            for r in ranges.iter_mut() {
                r.end = r.end.max(r.start);
                if r.step == 0 {
                    r.step = 1;
                }
            }
        }
    };
    spec.structured_calendar.iter_mut().for_each(cal);
    spec.exclude_structured_calendar.iter_mut().for_each(cal);
}

/// One action time: the nominal time the spec names and the actual one (with jitter).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct NextTime {
    pub(crate) nominal: DateTime<Utc>,
    pub(crate) next: DateTime<Utc>,
}

/// A canonical spec compiled for next-time searches.
pub(crate) struct CompiledSpec {
    spec: ScheduleSpec,
    calendars: Vec<CompiledCalendar>,
    excludes: Vec<CompiledCalendar>,
}

impl CompiledSpec {
    /// Canonicalizes and compiles a spec; the error is Temporal's wording.
    pub(crate) fn new(spec: &ScheduleSpec) -> Result<Self, String> {
        let spec = canonicalize(spec)?;
        let tz = Zone::load(&spec.timezone_name, &spec.timezone_data)?;
        Ok(Self {
            calendars: spec
                .structured_calendar
                .iter()
                .map(|c| CompiledCalendar::new(c, tz.clone()))
                .collect(),
            excludes: spec
                .exclude_structured_calendar
                .iter()
                .map(|c| CompiledCalendar::new(c, tz.clone()))
                .collect(),
            spec,
        })
    }

    /// The first action time after `after` (Temporal's `GetNextTime`), or None when the
    /// spec names no later time (its end time, year 2100, or too many exclusions).
    pub(crate) fn next_time(&self, seed: &str, after: DateTime<Utc>) -> Option<NextTime> {
        let mut after = match utc(&self.spec.start_time) {
            Some(start) => after.max(start - chrono::Duration::seconds(1)),
            None => after,
        };
        let end = utc(&self.spec.end_time);
        let mut nominal;
        let mut iterations = 0;
        loop {
            nominal = self.raw_next(after)?;
            if end.is_some_and(|e| nominal > e) || nominal.year() > MAX_YEAR {
                return None;
            }
            if !self.excludes.iter().any(|x| x.matches(nominal)) {
                break;
            }
            iterations += 1;
            if iterations >= MAX_ITERATIONS {
                return None;
            }
            after = nominal;
        }
        let mut max_jitter = duration_ms(&self.spec.jitter);
        if let Some(following) = self.raw_next(nominal) {
            max_jitter = max_jitter.min((following - nominal).num_milliseconds());
        }
        let next = nominal + chrono::Duration::milliseconds(jitter_ms(seed, nominal, max_jitter));
        Some(NextTime { nominal, next })
    }

    fn raw_next(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let mut min: Option<i64> = None;
        let mut take = |t: i64| min = Some(min.map_or(t, |m| m.min(t)));
        for c in &self.calendars {
            if let Some(t) = c.next(after) {
                take(t.timestamp());
            }
        }
        let ts = after.timestamp();
        for iv in &self.spec.interval {
            let interval = (duration_ms(&iv.interval) / 1000).max(1);
            let phase = (duration_ms(&iv.phase) / 1000).max(0);
            take(((ts - phase).div_euclid(interval) + 1) * interval + phase);
        }
        Utc.timestamp_opt(min?, 0).single()
    }
}

/// Seconds from 0001-01-01 to the Unix epoch (Go's `unixToInternal`).
const GO_UNIX_TO_INTERNAL: i64 = 62_135_596_800;

/// Temporal's `addJitter`: a deterministic jitter in `[0, max_ms)` from the FarmHash
/// `Fingerprint32` of the nominal time (as Go's `time.MarshalBinary` encodes a UTC time:
/// version 1, seconds since year 1, nanoseconds, offset -1) followed by the seed, so a
/// schedule fires at exactly the times Temporal's would.
fn jitter_ms(seed: &str, nominal: DateTime<Utc>, max_ms: i64) -> i64 {
    if max_ms <= 0 {
        return 0;
    }
    let mut bin = Vec::with_capacity(15 + seed.len());
    bin.push(1u8);
    bin.extend_from_slice(&(nominal.timestamp() + GO_UNIX_TO_INTERNAL).to_be_bytes());
    bin.extend_from_slice(&(nominal.timestamp_subsec_nanos() as i32).to_be_bytes());
    bin.extend_from_slice(&(-1i16).to_be_bytes());
    bin.extend_from_slice(seed.as_bytes());
    let fp = u64::from(farmhash::fingerprint32(&bin));
    let max = max_ms.min(i64::from(u32::MAX)) as u64;
    ((fp * max) >> 32) as i64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::events::dur;

    fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, s).unwrap()
    }

    #[test]
    fn intervals_with_phase_start_end_and_excludes() {
        let spec = ScheduleSpec {
            interval: vec![IntervalSpec {
                interval: dur(3_600_000),
                phase: dur(600_000),
            }],
            exclude_calendar: vec![
                temporalio_protos::temporal::api::schedule::v1::CalendarSpec {
                    hour: "12".into(),
                    minute: "10".into(),
                    ..Default::default()
                },
            ],
            end_time: Some(timestamp(at(2024, 1, 1, 14, 0, 0))),
            ..Default::default()
        };
        let c = CompiledSpec::new(&spec).unwrap();
        let n = |t| c.next_time("seed", t).map(|n| n.nominal);
        assert_eq!(
            n(at(2024, 1, 1, 10, 30, 0)),
            Some(at(2024, 1, 1, 11, 10, 0))
        );
        // 12:10 is excluded; 13:10 is the next one; 14:10 is past the end.
        assert_eq!(
            n(at(2024, 1, 1, 11, 10, 0)),
            Some(at(2024, 1, 1, 13, 10, 0))
        );
        assert_eq!(n(at(2024, 1, 1, 13, 10, 0)), None);
    }

    #[test]
    fn calendars_follow_the_time_zone_sent_as_tzif_data() {
        let spec = ScheduleSpec {
            calendar: vec![
                temporalio_protos::temporal::api::schedule::v1::CalendarSpec {
                    hour: "9".into(),
                    ..Default::default()
                },
            ],
            timezone_name: "Custom/NewYork".into(),
            timezone_data: super::super::zone::tests::new_york(),
            ..Default::default()
        };
        let c = CompiledSpec::new(&spec).unwrap();
        let n = |t| c.next_time("seed", t).map(|n| n.nominal);
        // 09:00 in New York: 14:00 UTC in winter, 13:00 UTC once daylight saving starts.
        assert_eq!(n(at(2026, 3, 6, 15, 0, 0)), Some(at(2026, 3, 7, 14, 0, 0)));
        assert_eq!(n(at(2026, 3, 7, 15, 0, 0)), Some(at(2026, 3, 8, 13, 0, 0)));
        assert_eq!(
            n(at(2026, 10, 31, 14, 0, 0)),
            Some(at(2026, 11, 1, 14, 0, 0))
        );
        let bad = ScheduleSpec {
            timezone_data: b"TZif but not really".to_vec(),
            ..spec
        };
        let e = CompiledSpec::new(&bad).err().unwrap();
        assert!(
            e.starts_with("invalid time zone data for \"Custom/NewYork\""),
            "{e}"
        );
    }

    #[test]
    fn jitter_stays_below_the_gap_and_is_stable() {
        let spec = ScheduleSpec {
            interval: vec![IntervalSpec {
                interval: dur(60_000),
                phase: None,
            }],
            jitter: dur(3_600_000),
            ..Default::default()
        };
        let c = CompiledSpec::new(&spec).unwrap();
        let t = at(2024, 5, 5, 5, 5, 30);
        let a = c.next_time("ns-sched", t).unwrap();
        assert_eq!(a.nominal, at(2024, 5, 5, 5, 6, 0));
        assert!(a.next >= a.nominal && a.next < a.nominal + chrono::Duration::seconds(60));
        assert_eq!(c.next_time("ns-sched", t), Some(a));
    }

    #[test]
    fn invalid_specs_say_why() {
        let small = ScheduleSpec {
            interval: vec![IntervalSpec {
                interval: dur(500),
                phase: None,
            }],
            ..Default::default()
        };
        assert_eq!(
            CompiledSpec::new(&small).err().unwrap(),
            "interval is too small"
        );
        let tz = ScheduleSpec {
            timezone_name: "Mars/Olympus".into(),
            ..Default::default()
        };
        assert_eq!(
            CompiledSpec::new(&tz).err().unwrap(),
            "unknown time zone Mars/Olympus"
        );
        let cal = ScheduleSpec {
            structured_calendar: vec![StructuredCalendarSpec {
                hour: vec![Range {
                    start: 30,
                    end: 0,
                    step: 0,
                }],
                ..Default::default()
            }],
            ..Default::default()
        };
        assert_eq!(
            CompiledSpec::new(&cal).err().unwrap(),
            "invalid calendar spec: Hour Start is not in range [0-23]"
        );
    }

    #[test]
    fn jitter_is_temporals_to_the_millisecond() {
        // The expectations of Temporal's own spec_test.go (TestSpecJitterSingleRun,
        // TestSpecJitterSeed): same nominal time, seed and bound, same jittered time.
        let hour = 3_600_000;
        assert_eq!(jitter_ms("", at(2022, 4, 7, 13, 55, 0), hour), 146_927);
        assert_eq!(jitter_ms("", at(2022, 3, 24, 0, 0, 0), hour), 2_124_276);
        assert_eq!(jitter_ms("seed-1", at(2022, 3, 24, 0, 0, 0), hour), 372_519);
        assert_eq!(
            jitter_ms("seed-2", at(2022, 3, 24, 0, 0, 0), hour),
            2_356_922
        );
    }
}
