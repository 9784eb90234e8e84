//! Calendar specs, as Temporal's `service/worker/scheduler/calendar.go` reads them: calendar
//! strings and cron strings parsed into structured calendars (ranges), and a structured
//! calendar's next matching second in its time zone.
use super::zone::Zone;
use chrono::{DateTime, Datelike, LocalResult, NaiveDate, Utc};
use temporalio_protos::temporal::api::schedule::v1::{
    CalendarSpec, IntervalSpec, Range, StructuredCalendarSpec,
};

/// The earliest year a calendar can name.
pub(crate) const MIN_YEAR: i32 = 2000;
/// The latest year a calendar is searched up to.
pub(crate) const MAX_YEAR: i32 = 2100;
/// The longest calendar comment Temporal accepts.
pub(crate) const MAX_COMMENT_LEN: usize = 200;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Int,
    /// `*` is the empty range list.
    Year,
    /// Also month names (three letters or more).
    Month,
    /// Also day-of-week names (two letters or more).
    Dow,
}

const MONTHS: [&str; 12] = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];
const DAYS: [&str; 7] = [
    "sunday",
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
];

/// A calendar string spec as ranges (Temporal's `parseCalendarToStructured`), with the same
/// defaults: second, minute and hour 0; every day, month and year.
pub(crate) fn parse_calendar(cal: &CalendarSpec) -> Result<StructuredCalendarSpec, String> {
    let mut errs = vec![];
    let mut field = |s: &str, name: &str, def: &str, min: i32, max: i32, mode: Mode| {
        make_range(s, name, def, min, max, mode).unwrap_or_else(|e| {
            errs.push(e);
            vec![]
        })
    };
    let out = StructuredCalendarSpec {
        second: field(&cal.second, "Second", "0", 0, 59, Mode::Int),
        minute: field(&cal.minute, "Minute", "0", 0, 59, Mode::Int),
        hour: field(&cal.hour, "Hour", "0", 0, 23, Mode::Int),
        day_of_week: field(&cal.day_of_week, "DayOfWeek", "*", 0, 7, Mode::Dow),
        day_of_month: field(&cal.day_of_month, "DayOfMonth", "*", 1, 31, Mode::Int),
        month: field(&cal.month, "Month", "*", 1, 12, Mode::Month),
        year: field(&cal.year, "Year", "*", MIN_YEAR, MAX_YEAR, Mode::Year),
        comment: cal.comment.clone(),
    };
    if errs.is_empty() {
        Ok(out)
    } else {
        Err(errs.join(", "))
    }
}

/// What a cron string means: a calendar or an `@every` interval, and the time zone its
/// `TZ=` / `CRON_TZ=` prefix names ("" when none).
pub(crate) struct Cron {
    pub(crate) calendar: Option<StructuredCalendarSpec>,
    pub(crate) interval: Option<IntervalSpec>,
    pub(crate) timezone: String,
}

/// Parses a cron string (Temporal's `parseCronString`): 5, 6 (with year) or 7 (with seconds
/// and year) fields, `@hourly`-style names, `@every D[/PHASE]`, a `# comment` and a time zone.
pub(crate) fn parse_cron(c: &str) -> Result<Cron, String> {
    let mut c = c.trim();
    let mut timezone = String::new();
    if c.starts_with("TZ=") || c.starts_with("CRON_TZ=") {
        let (tz, rest) = c
            .split_once(' ')
            .ok_or("CronString has time zone but missing fields")?;
        c = rest;
        timezone = tz.split_once('=').map(|(_, v)| v).unwrap_or("").to_string();
    }
    let (body, comment) = c.split_once('#').unwrap_or((c, ""));
    let body = body.trim();
    if body.starts_with("@every") {
        let (_, every) = body
            .split_once(' ')
            .ok_or("CronString does not have interval after @every")?;
        let (iv, phase) = every.split_once('/').unwrap_or((every, ""));
        let interval = crate::history::events::dur(crate::go_duration::parse_ms(iv)?);
        let phase = if phase.is_empty() {
            None
        } else {
            crate::history::events::dur(crate::go_duration::parse_ms(phase)?)
        };
        return Ok(Cron {
            calendar: None,
            interval: Some(IntervalSpec { interval, phase }),
            timezone: String::new(),
        });
    }
    let body = match body {
        "@yearly" | "@annually" => "0 0 1 1 *",
        "@monthly" => "0 0 1 * *",
        "@weekly" => "0 0 * * 0",
        "@daily" | "@midnight" => "0 0 * * *",
        "@hourly" => "0 * * * *",
        other => other,
    };
    let t: Vec<&str> = body.split_whitespace().collect();
    let s = |i: usize| t[i].to_string();
    let mut cal = CalendarSpec {
        comment: comment.trim().to_string(),
        ..Default::default()
    };
    match t.len() {
        5 | 6 => {
            (
                cal.minute,
                cal.hour,
                cal.day_of_month,
                cal.month,
                cal.day_of_week,
            ) = (s(0), s(1), s(2), s(3), s(4));
            if t.len() == 6 {
                cal.year = s(5);
            }
        }
        7 => {
            (cal.second, cal.minute, cal.hour, cal.day_of_month) = (s(0), s(1), s(2), s(3));
            (cal.month, cal.day_of_week, cal.year) = (s(4), s(5), s(6));
        }
        _ => return Err("CronString does not have 5-7 fields".into()),
    }
    Ok(Cron {
        calendar: Some(parse_calendar(&cal)?),
        interval: None,
        timezone,
    })
}

/// Temporal's `makeRange`: `*`, `x`, `x-z`, `x-z/y`, `x/y`, comma lists; names per mode;
/// day-of-week 7 is Sunday (0). Steps of 1 and single values are stored as 0 (the default).
fn make_range(
    s: &str,
    field: &str,
    def: &str,
    min: i32,
    max: i32,
    mode: Mode,
) -> Result<Vec<Range>, String> {
    let s = match s.trim() {
        "" => def,
        other => other,
    };
    if s == "*" && mode == Mode::Year {
        return Ok(vec![]);
    }
    let mut ranges = vec![];
    for part in s.split(',') {
        let mut step = 1;
        let mut has_step = false;
        let mut part = part;
        match part.matches('/').count() {
            0 => {}
            1 => {
                let (p, st) = part.split_once('/').unwrap_or((part, ""));
                if st.is_empty() {
                    return Err(format!("{field} missing step value"));
                }
                step = st
                    .parse::<i32>()
                    .map_err(|_| format!("{field} has invalid Step"))?;
                if step < 1 {
                    return Err(format!("{field} has invalid Step"));
                }
                part = p;
                has_step = true;
            }
            _ => return Err(format!("{field} has too many slashes")),
        }
        let (mut start, mut end) = (min, max);
        if part != "*" {
            if part.contains('-') {
                let (a, b) = part.split_once('-').unwrap_or((part, ""));
                if b.contains('-') {
                    return Err(format!("{field} has too many dashes"));
                }
                start = parse_value(a, min, max, mode)
                    .ok_or_else(|| format!("{field} Start is not in range [{min}-{max}]"))?;
                end = parse_value(b, start, max, mode).ok_or_else(|| {
                    format!("{field} End is before Start or not in range [{min}-{max}]")
                })?;
            } else {
                start = parse_value(part, min, max, mode)
                    .ok_or_else(|| format!("{field} is not in range [{min}-{max}]"))?;
                if !has_step {
                    end = start;
                }
            }
        }
        if mode == Mode::Dow && end == 7 {
            if (7 - start) % step == 0 && (step > 1 || start > 1) {
                ranges.push(Range {
                    start: 0,
                    end: 0,
                    step: 0,
                });
                if start == 7 {
                    continue;
                }
            }
            end = 6;
        }
        ranges.push(Range {
            start,
            end: if start == end { 0 } else { end },
            step: if step == 1 { 0 } else { step },
        });
    }
    Ok(ranges)
}

fn parse_value(s: &str, min: i32, max: i32, mode: Mode) -> Option<i32> {
    let lower = s.to_ascii_lowercase();
    let named = match mode {
        Mode::Month if s.len() >= 3 => MONTHS
            .iter()
            .position(|m| m.starts_with(&lower))
            .map(|i| i as i32 + 1),
        Mode::Dow if s.len() >= 2 => DAYS
            .iter()
            .position(|d| d.starts_with(&lower))
            .map(|i| i as i32),
        _ => None,
    };
    let v = match named {
        Some(v) => v,
        None => s.parse::<i32>().ok()?,
    };
    (min..=max).contains(&v).then_some(v)
}

/// Calls `f` for every value the ranges cover (end before start means start only; step 0
/// means 1), as Temporal's `iterateRanges`.
fn each_value(ranges: &[Range], mut f: impl FnMut(i32)) {
    for r in ranges {
        let step = r.step.max(1);
        let end = r.end.max(r.start);
        let mut v = r.start;
        while v <= end {
            f(v);
            v += step;
        }
    }
}

fn bits(ranges: &[Range]) -> u64 {
    let mut b = 0u64;
    each_value(ranges, |v| {
        if (0..64).contains(&v) {
            b |= 1 << v;
        }
    });
    b
}

/// A structured calendar ready for matching, in its time zone.
#[derive(Debug, Clone)]
pub(crate) struct CompiledCalendar {
    tz: Zone,
    /// None: every year.
    years: Option<Vec<i32>>,
    month: u64,
    day_of_month: u64,
    day_of_week: u64,
    hour: u64,
    minute: u64,
    second: u64,
}

fn has(bits: u64, v: u32) -> bool {
    v < 64 && bits & (1 << v) != 0
}

fn days_in_month(y: i32, m: u32) -> u32 {
    let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
    NaiveDate::from_ymd_opt(ny, nm, 1)
        .and_then(|d| d.pred_opt())
        .map(|d| d.day())
        .unwrap_or(28)
}

impl CompiledCalendar {
    /// Compiles a structured calendar for time zone `tz`.
    pub(crate) fn new(cal: &StructuredCalendarSpec, tz: Zone) -> Self {
        let years = (!cal.year.is_empty()).then(|| {
            let mut v = vec![];
            each_value(&cal.year, |y| v.push(y));
            v
        });
        Self {
            tz,
            years,
            month: bits(&cal.month),
            day_of_month: bits(&cal.day_of_month),
            day_of_week: bits(&cal.day_of_week),
            hour: bits(&cal.hour),
            minute: bits(&cal.minute),
            second: bits(&cal.second),
        }
    }

    fn year_ok(&self, y: i32) -> bool {
        self.years.as_ref().is_none_or(|v| v.contains(&y))
    }

    fn day_ok(&self, y: i32, m: u32, d: u32) -> bool {
        has(self.day_of_month, d)
            && NaiveDate::from_ymd_opt(y, m, d)
                .is_some_and(|nd| has(self.day_of_week, nd.weekday().num_days_from_sunday()))
    }

    /// Whether `t` (to the second) matches every field.
    pub(crate) fn matches(&self, t: DateTime<Utc>) -> bool {
        use chrono::Timelike;
        let l = self.tz.local(t);
        self.year_ok(l.year())
            && has(self.month, l.month())
            && self.day_ok(l.year(), l.month(), l.day())
            && has(self.hour, l.hour())
            && has(self.minute, l.minute())
            && has(self.second, l.second())
    }

    /// The earliest matching second after `after`, searching up to [`MAX_YEAR`]. Local
    /// times a daylight-saving jump skips never match; a repeated hour matches in both
    /// copies, as Temporal's `compiledCalendar.next` does.
    pub(crate) fn next(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        use chrono::Timelike;
        let l = self.tz.local(after);
        let (mut y, mut mo, mut d) = (l.year(), l.month(), l.day());
        let (mut h, mut m, mut s) = (l.hour(), l.minute(), l.second() + 1);
        loop {
            if s >= 60 {
                (m, s) = (m + 1, 0);
            }
            if m >= 60 {
                (h, m) = (h + 1, 0);
            }
            if h >= 24 {
                (d, h) = (d + 1, 0);
            }
            if d > days_in_month(y, mo) {
                (mo, d) = (mo + 1, 1);
            }
            if mo > 12 {
                (y, mo) = (y + 1, 1);
            }
            if y > MAX_YEAR {
                return None;
            }
            if !self.year_ok(y) {
                (y, mo, d, h, m, s) = (y + 1, 1, 1, 0, 0, 0);
                continue;
            }
            if !has(self.month, mo) {
                (mo, d, h, m, s) = (mo + 1, 1, 0, 0, 0);
                continue;
            }
            if !self.day_ok(y, mo, d) {
                (d, h, m, s) = (d + 1, 0, 0, 0);
                continue;
            }
            if !has(self.hour, h) {
                (h, m, s) = (h + 1, 0, 0);
                continue;
            }
            if !has(self.minute, m) {
                (m, s) = (m + 1, 0);
                continue;
            }
            if !has(self.second, s) {
                s += 1;
                continue;
            }
            let naive = NaiveDate::from_ymd_opt(y, mo, d).and_then(|nd| nd.and_hms_opt(h, m, s))?;
            match self.tz.instants(&naive) {
                LocalResult::Single(t) if t > after => return Some(t),
                LocalResult::Ambiguous(a, b) => {
                    for t in [a, b] {
                        if t > after {
                            return Some(t);
                        }
                    }
                    s += 1;
                }
                LocalResult::Single(_) => s += 1,
                // Skipped by a daylight-saving jump: try the next hour.
                LocalResult::None => (h, m, s) = (h + 1, 0, 0),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn r(start: i32, end: i32, step: i32) -> Range {
        Range { start, end, step }
    }

    #[test]
    fn cron_becomes_the_calendar_temporal_describes() {
        let c = parse_cron("0 12 * * MON").unwrap();
        let cal = c.calendar.unwrap();
        assert_eq!(cal.second, vec![r(0, 0, 0)]);
        assert_eq!(cal.minute, vec![r(0, 0, 0)]);
        assert_eq!(cal.hour, vec![r(12, 0, 0)]);
        assert_eq!(cal.day_of_month, vec![r(1, 31, 0)]);
        assert_eq!(cal.month, vec![r(1, 12, 0)]);
        assert_eq!(cal.day_of_week, vec![r(1, 0, 0)]);
        assert!(cal.year.is_empty());
    }

    #[test]
    fn ranges_steps_names_and_sunday_seven() {
        assert_eq!(
            make_range("1-5/2,8", "f", "*", 0, 59, Mode::Int).unwrap(),
            vec![r(1, 5, 2), r(8, 0, 0)]
        );
        assert_eq!(
            make_range("3-7", "DayOfWeek", "*", 0, 7, Mode::Dow).unwrap(),
            vec![r(0, 0, 0), r(3, 6, 0)]
        );
        assert_eq!(
            make_range("jan-mar", "Month", "*", 1, 12, Mode::Month).unwrap(),
            vec![r(1, 3, 0)]
        );
        assert_eq!(
            make_range("3/5/7", "Hour", "*", 0, 23, Mode::Int).unwrap_err(),
            "Hour has too many slashes"
        );
        assert_eq!(
            make_range("61", "Minute", "*", 0, 59, Mode::Int).unwrap_err(),
            "Minute is not in range [0-59]"
        );
        assert!(parse_cron("* * *").is_err());
        assert_eq!(
            parse_cron("@every 14h/3h").unwrap().interval.unwrap().phase,
            crate::history::events::dur(3 * 3600 * 1000)
        );
        assert_eq!(
            parse_cron("CRON_TZ=Europe/Paris @daily").unwrap().timezone,
            "Europe/Paris"
        );
    }

    #[test]
    fn next_finds_the_following_match_in_the_time_zone() {
        let cal = parse_cron("30 9 * * *").unwrap().calendar.unwrap();
        let utc = CompiledCalendar::new(&cal, Zone::Named(chrono_tz::Tz::UTC));
        let t0 = Utc.with_ymd_and_hms(2024, 3, 1, 10, 0, 0).unwrap();
        assert_eq!(
            utc.next(t0),
            Some(Utc.with_ymd_and_hms(2024, 3, 2, 9, 30, 0).unwrap())
        );
        // The bundled zone and the same rules sent as TZif data agree.
        let data = super::super::zone::tests::new_york();
        for zone in [
            Zone::Named(chrono_tz::America::New_York),
            Zone::load("NY", &data).unwrap(),
        ] {
            let ny = CompiledCalendar::new(&cal, zone.clone());
            assert_eq!(
                ny.next(t0),
                Some(Utc.with_ymd_and_hms(2024, 3, 1, 14, 30, 0).unwrap())
            );
            // 02:30 does not exist in New York on 2024-03-10.
            let gap = parse_cron("30 2 * * *").unwrap().calendar.unwrap();
            let gap = CompiledCalendar::new(&gap, zone);
            let before = Utc.with_ymd_and_hms(2024, 3, 10, 0, 0, 0).unwrap();
            assert_eq!(
                gap.next(before),
                Some(Utc.with_ymd_and_hms(2024, 3, 11, 6, 30, 0).unwrap())
            );
        }
        let y = parse_calendar(&CalendarSpec {
            year: "2099".into(),
            ..Default::default()
        })
        .unwrap();
        let y = CompiledCalendar::new(&y, Zone::Named(chrono_tz::Tz::UTC));
        assert_eq!(
            y.next(t0),
            Some(Utc.with_ymd_and_hms(2099, 1, 1, 0, 0, 0).unwrap())
        );
        assert_eq!(
            y.next(Utc.with_ymd_and_hms(2099, 12, 31, 0, 0, 0).unwrap()),
            None
        );
    }
}
