//! A schedule's time zone, as Temporal's `SpecBuilder.loadTimezone` loads it: from the
//! spec's `timezone_data` (the bytes of a TZif file, `time.LoadLocationFromTZData`) when
//! given, else by `timezone_name` from the time-zone database ("" and "UTC" are UTC).
use chrono::{DateTime, LocalResult, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;

/// A loaded time zone: local times of instants, and the instants of local times.
#[derive(Debug, Clone)]
pub(crate) enum Zone {
    /// A zone of the bundled time-zone database.
    Named(Tz),
    /// A zone read from TZif data sent with the spec (its name is only a label).
    Data(jiff::tz::TimeZone),
}

impl Zone {
    /// The zone a spec names; the error is what the server answers for a bad zone.
    pub(crate) fn load(name: &str, data: &[u8]) -> Result<Self, String> {
        if !data.is_empty() {
            return jiff::tz::TimeZone::tzif(name, data)
                .map(Zone::Data)
                .map_err(|e| format!("invalid time zone data for {name:?}: {e}"));
        }
        match name {
            "" | "UTC" => Ok(Zone::Named(Tz::UTC)),
            name => name
                .parse()
                .map(Zone::Named)
                .map_err(|_| format!("unknown time zone {name}")),
        }
    }

    /// The wall-clock time at `t` in this zone (to the second).
    pub(crate) fn local(&self, t: DateTime<Utc>) -> NaiveDateTime {
        match self {
            Zone::Named(tz) => t.with_timezone(tz).naive_local(),
            Zone::Data(tz) => {
                let offset = jiff::Timestamp::from_second(t.timestamp())
                    .map(|ts| tz.to_offset(ts).seconds())
                    .unwrap_or(0);
                t.naive_utc() + chrono::Duration::seconds(i64::from(offset))
            }
        }
    }

    /// The instants whose wall-clock time here is `naive`: none in a daylight-saving gap,
    /// two (earlier first) in a repeated hour.
    pub(crate) fn instants(&self, naive: &NaiveDateTime) -> LocalResult<DateTime<Utc>> {
        match self {
            Zone::Named(tz) => tz.from_local_datetime(naive).map(|t| t.with_timezone(&Utc)),
            Zone::Data(tz) => {
                use chrono::{Datelike, Timelike};
                let Ok(civil) = jiff::civil::DateTime::new(
                    naive.year() as i16,
                    naive.month() as i8,
                    naive.day() as i8,
                    naive.hour() as i8,
                    naive.minute() as i8,
                    naive.second() as i8,
                    0,
                ) else {
                    return LocalResult::None;
                };
                let at = |offset: jiff::tz::Offset| {
                    (*naive - chrono::Duration::seconds(i64::from(offset.seconds()))).and_utc()
                };
                match tz.to_ambiguous_timestamp(civil).offset() {
                    jiff::tz::AmbiguousOffset::Unambiguous { offset } => {
                        LocalResult::Single(at(offset))
                    }
                    jiff::tz::AmbiguousOffset::Gap { .. } => LocalResult::None,
                    jiff::tz::AmbiguousOffset::Fold { before, after } => {
                        LocalResult::Ambiguous(at(before), at(after))
                    }
                }
            }
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn utc(y: i32, m: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        NaiveDate::from_ymd_opt(y, m, d)
            .and_then(|d| d.and_hms_opt(h, mi, 0))
            .map(|n| n.and_utc())
            .unwrap_or_default()
    }

    /// A TZif (version 2) file with no transitions, one standard-time type and a POSIX TZ
    /// footer that carries the rules, as `zic` writes for a zone with only current rules.
    pub(crate) fn tzif(abbrev: &str, utc_offset: i32, footer: &str) -> Vec<u8> {
        let mut chars = abbrev.as_bytes().to_vec();
        chars.push(0);
        let block = |out: &mut Vec<u8>| {
            out.extend_from_slice(b"TZif2");
            out.extend_from_slice(&[0; 15]);
            // isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt
            for n in [0u32, 0, 0, 0, 1, chars.len() as u32] {
                out.extend_from_slice(&n.to_be_bytes());
            }
            out.extend_from_slice(&utc_offset.to_be_bytes());
            out.extend_from_slice(&[0, 0]); // not DST, designation at 0
            out.extend_from_slice(&chars);
        };
        let mut out = Vec::new();
        block(&mut out);
        block(&mut out);
        out.extend_from_slice(format!("\n{footer}\n").as_bytes());
        out
    }

    /// New York's current rules as TZif data.
    pub(crate) fn new_york() -> Vec<u8> {
        tzif("EST", -5 * 3600, "EST5EDT,M3.2.0,M11.1.0")
    }

    #[test]
    fn zone_data_agrees_with_the_named_zone_across_daylight_saving() {
        let named = Zone::load("America/New_York", &[]).unwrap();
        let from_data = Zone::load("Custom/NewYork", &new_york()).unwrap();
        assert!(matches!(from_data, Zone::Data(_)));
        // Hourly through the 2026 spring-forward (8 March) and fall-back (1 November) days.
        for start in [
            utc(2026, 3, 7, 0, 0),
            utc(2026, 10, 31, 0, 0),
            utc(2026, 7, 1, 0, 0),
        ] {
            for h in 0..72 {
                let t = start + chrono::Duration::hours(h);
                let local = named.local(t);
                assert_eq!(from_data.local(t), local, "local time of {t}");
                assert_eq!(
                    from_data.instants(&local),
                    named.instants(&local),
                    "instants of {local}"
                );
            }
        }
        // 02:30 on 8 March 2026 does not exist in New York; 01:30 on 1 November is twice.
        let local = |d: u32, m: u32, h: u32| {
            NaiveDate::from_ymd_opt(2026, m, d)
                .and_then(|d| d.and_hms_opt(h, 30, 0))
                .unwrap()
        };
        assert_eq!(from_data.instants(&local(8, 3, 2)), LocalResult::None);
        assert_eq!(
            from_data.instants(&local(1, 11, 1)),
            LocalResult::Ambiguous(utc(2026, 11, 1, 5, 30), utc(2026, 11, 1, 6, 30))
        );
    }

    #[test]
    fn bad_zone_data_and_unknown_names_are_errors() {
        let e = Zone::load("Mine", b"not a tzif file").unwrap_err();
        assert!(e.contains("invalid time zone data"), "{e}");
        let e = Zone::load("Mars/Olympus", &[]).unwrap_err();
        assert_eq!(e, "unknown time zone Mars/Olympus");
        assert!(matches!(Zone::load("", &[]), Ok(Zone::Named(Tz::UTC))));
    }
}
