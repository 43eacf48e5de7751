//! AN0906's `ExpectedAdminAccessWindow` compiled: weekly windows (weekdays, start, end,
//! a fixed UTC offset; a window may wrap midnight) and one-off RFC 3339 date ranges,
//! decided on an event's own timestamp.
//!
//! Only fixed offsets are supported (`"UTC"`, `"Z"`, `"+02:00"`, `"-0530"`, `"+02"`):
//! Picket carries no time-zone database, so daylight saving time is not followed.

use crate::config::{ExpectedAdminAccessWindow, Weekday, WindowAction};
use chrono::{DateTime, Datelike, FixedOffset, Offset, Timelike, Utc};
use sensor_core::alert::Severity;
use sensor_core::config::Problems;

const DAY: u32 = 86_400;

#[derive(Debug, Clone)]
struct Weekly {
    name: String,
    /// Bit 0 = Monday ... bit 6 = Sunday.
    days: u8,
    /// Seconds after local midnight.
    start: u32,
    end: u32,
    offset: FixedOffset,
}

#[derive(Debug, Clone)]
struct Range {
    name: String,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
}

/// The compiled windows.
#[derive(Debug, Clone)]
pub(crate) struct AdminWindows {
    pub(crate) action: WindowAction,
    pub(crate) lowered_severity: Severity,
    weekly: Vec<Weekly>,
    ranges: Vec<Range>,
}

/// Parses a fixed UTC offset.
pub(crate) fn parse_offset(text: &str) -> Result<FixedOffset, String> {
    let t = text.trim();
    let err = || {
        format!(
            "expected a fixed UTC offset such as \"UTC\", \"+02:00\" or \"-05:30\" (time-zone names are not supported: Picket has no time-zone database), found {text:?}"
        )
    };
    if t.eq_ignore_ascii_case("utc") || t.eq_ignore_ascii_case("z") {
        return Ok(Utc.fix());
    }
    let t = t
        .strip_prefix("UTC")
        .or_else(|| t.strip_prefix("utc"))
        .unwrap_or(t);
    let (sign, rest) = match t.as_bytes().first() {
        Some(b'+') => (1, &t[1..]),
        Some(b'-') => (-1, &t[1..]),
        _ => return Err(err()),
    };
    let digits: String = rest.chars().filter(|c| *c != ':').collect();
    let colons = rest.matches(':').count();
    let (h, m) = match (digits.len(), colons) {
        (2, 0) => (&digits[..2], "0"),
        (4, 0 | 1) => (&digits[..2], &digits[2..]),
        _ => return Err(err()),
    };
    if colons == 1 && rest.find(':') != Some(2) {
        return Err(err());
    }
    let (h, m) = match (h.parse::<i32>(), m.parse::<i32>()) {
        (Ok(h), Ok(m)) if h <= 18 && m < 60 && (h < 18 || m == 0) => (h, m),
        _ => return Err(err()),
    };
    FixedOffset::east_opt(sign * (h * 3600 + m * 60)).ok_or_else(err)
}

/// Parses `"HH:MM"` (24-hour; `"24:00"` only when `end`).
fn parse_clock(text: &str, end: bool) -> Result<u32, String> {
    let err = || {
        format!(
            "expected a time of day \"HH:MM\" (00:00 to {}), found {text:?}",
            if end { "24:00" } else { "23:59" }
        )
    };
    let (h, m) = text.trim().split_once(':').ok_or_else(err)?;
    if h.len() != 2 || m.len() != 2 {
        return Err(err());
    }
    let h: u32 = h.parse().map_err(|_| err())?;
    let m: u32 = m.parse().map_err(|_| err())?;
    if m >= 60 || h > 24 || (h == 24 && (m != 0 || !end)) {
        return Err(err());
    }
    Ok(h * 3600 + m * 60)
}

fn day_bit(d: Weekday) -> u8 {
    1 << (d as u8)
}

impl AdminWindows {
    /// Compiles the windows, reporting each bad value at its field path.
    pub(crate) fn build(cfg: &ExpectedAdminAccessWindow, problems: &mut Problems) -> AdminWindows {
        let f = "analytics.an0906.expected_admin_access_window";
        let default_offset = match parse_offset(&cfg.time_zone) {
            Ok(o) => o,
            Err(e) => {
                problems.push((format!("{f}.time_zone"), e));
                Utc.fix()
            }
        };
        let mut weekly = Vec::new();
        for (i, w) in cfg.windows.iter().enumerate() {
            let at = format!("{f}.windows[{i}]");
            let mut ok = true;
            let mut field = |r: Result<u32, String>, name: &str| match r {
                Ok(v) => v,
                Err(e) => {
                    problems.push((format!("{at}.{name}"), e));
                    ok = false;
                    0
                }
            };
            let start = field(parse_clock(&w.start, false), "start");
            let end = field(parse_clock(&w.end, true), "end");
            if ok && start == end {
                problems.push((
                    format!("{at}.end"),
                    format!(
                        "the window {:?} to {:?} is empty (for a whole day use start = \"00:00\", end = \"24:00\")",
                        w.start, w.end
                    ),
                ));
                ok = false;
            }
            let offset = match w.time_zone.as_deref().map(parse_offset) {
                None => default_offset,
                Some(Ok(o)) => o,
                Some(Err(e)) => {
                    problems.push((format!("{at}.time_zone"), e));
                    ok = false;
                    default_offset
                }
            };
            if w.name.as_deref().is_some_and(|n| n.trim().is_empty()) {
                problems.push((
                    format!("{at}.name"),
                    "expected a name, found an empty string".into(),
                ));
            }
            let days = if w.weekdays.is_empty() {
                0x7f
            } else {
                w.weekdays.iter().fold(0, |acc, d| acc | day_bit(*d))
            };
            if ok {
                weekly.push(Weekly {
                    name: w.name.clone().unwrap_or_else(|| format!("windows[{i}]")),
                    days,
                    start,
                    end,
                    offset,
                });
            }
        }
        let mut ranges = Vec::new();
        for (i, r) in cfg.ranges.iter().enumerate() {
            let at = format!("{f}.ranges[{i}]");
            let parse = |text: &str, name: &str, problems: &mut Problems| {
                match DateTime::parse_from_rfc3339(text.trim()) {
                    Ok(t) => Some(t.with_timezone(&Utc)),
                    Err(e) => {
                        problems.push((
                            format!("{at}.{name}"),
                            format!(
                                "expected an RFC 3339 date-time with its offset such as \"2025-03-01T20:00:00+01:00\", found {text:?} ({e})"
                            ),
                        ));
                        None
                    }
                }
            };
            let from = parse(&r.from, "from", problems);
            let to = parse(&r.to, "to", problems);
            if let (Some(from), Some(to)) = (from, to) {
                if to <= from {
                    problems.push((
                        format!("{at}.to"),
                        format!(
                            "expected an end after the start {:?}, found {:?}",
                            r.from, r.to
                        ),
                    ));
                } else {
                    ranges.push(Range {
                        name: r.name.clone().unwrap_or_else(|| format!("ranges[{i}]")),
                        from,
                        to,
                    });
                }
            }
        }
        AdminWindows {
            action: cfg.action,
            lowered_severity: cfg.lowered_severity,
            weekly,
            ranges,
        }
    }

    /// The name of the first window `at` falls in.
    pub(crate) fn find(&self, at: DateTime<Utc>) -> Option<&str> {
        if let Some(r) = self.ranges.iter().find(|r| r.from <= at && at < r.to) {
            return Some(&r.name);
        }
        self.weekly
            .iter()
            .find(|w| w.contains(at))
            .map(|w| w.name.as_str())
    }

    /// No windows at all.
    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        self.weekly.is_empty() && self.ranges.is_empty()
    }
}

impl Weekly {
    fn contains(&self, at: DateTime<Utc>) -> bool {
        let local = at.with_timezone(&self.offset);
        let secs = local.num_seconds_from_midnight();
        let today = local.weekday().num_days_from_monday();
        let yesterday = (today + 6) % 7;
        let on = |d: u32| self.days & (1 << d) != 0;
        if self.start < self.end {
            on(today) && self.start <= secs && secs < self.end
        } else {
            // Wraps midnight: the evening part today, or the morning part of a window
            // that started yesterday.
            (on(today) && secs >= self.start) || (on(yesterday) && secs < self.end % DAY)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{DateRange, RecurringWindow};

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .expect("time")
            .with_timezone(&Utc)
    }

    fn window(days: &[Weekday], start: &str, end: &str, tz: Option<&str>) -> RecurringWindow {
        RecurringWindow {
            name: Some("patch".into()),
            weekdays: days.to_vec(),
            start: start.into(),
            end: end.into(),
            time_zone: tz.map(Into::into),
        }
    }

    fn build(cfg: &ExpectedAdminAccessWindow) -> AdminWindows {
        let mut problems = Vec::new();
        let w = AdminWindows::build(cfg, &mut problems);
        assert!(problems.is_empty(), "{problems:?}");
        w
    }

    #[test]
    fn offsets() {
        assert_eq!(parse_offset("UTC").map(|o| o.local_minus_utc()), Ok(0));
        assert_eq!(
            parse_offset("+02:00").map(|o| o.local_minus_utc()),
            Ok(7200)
        );
        assert_eq!(
            parse_offset("-0530").map(|o| o.local_minus_utc()),
            Ok(-19_800)
        );
        assert_eq!(parse_offset("+02").map(|o| o.local_minus_utc()), Ok(7200));
        assert_eq!(
            parse_offset("UTC+01:00").map(|o| o.local_minus_utc()),
            Ok(3600)
        );
        for bad in [
            "Europe/Berlin",
            "CET",
            "+2",
            "+19:00",
            "+02:60",
            "+0:200",
            "",
        ] {
            let e = parse_offset(bad).expect_err(bad);
            assert!(e.contains("fixed UTC offset"), "{bad}: {e}");
        }
    }

    #[test]
    fn a_window_wrapping_midnight_belongs_to_the_day_it_starts() {
        // 2025-03-01 is a Saturday.
        let cfg = ExpectedAdminAccessWindow {
            windows: vec![window(&[Weekday::Sat], "22:00", "02:00", None)],
            ..Default::default()
        };
        let w = build(&cfg);
        assert_eq!(w.find(t("2025-03-01T22:00:00Z")), Some("patch"));
        assert_eq!(w.find(t("2025-03-01T23:59:59Z")), Some("patch"));
        assert_eq!(
            w.find(t("2025-03-02T01:59:59Z")),
            Some("patch"),
            "Sunday morning"
        );
        assert_eq!(w.find(t("2025-03-02T02:00:00Z")), None, "end is exclusive");
        assert_eq!(w.find(t("2025-03-01T21:59:59Z")), None);
        assert_eq!(
            w.find(t("2025-03-01T01:00:00Z")),
            None,
            "Friday's night is not in"
        );
        assert_eq!(
            w.find(t("2025-03-02T22:30:00Z")),
            None,
            "Sunday evening is not in"
        );
    }

    #[test]
    fn the_time_zone_offset_moves_the_window() {
        let mut cfg = ExpectedAdminAccessWindow {
            windows: vec![window(&[Weekday::Mon], "09:00", "10:00", Some("+02:00"))],
            ..Default::default()
        };
        let w = build(&cfg);
        // 2025-03-03 is a Monday; 09:00 at +02:00 is 07:00 UTC.
        assert_eq!(w.find(t("2025-03-03T07:30:00Z")), Some("patch"));
        assert_eq!(w.find(t("2025-03-03T09:30:00Z")), None);
        // The section's zone applies to a window without its own.
        cfg.time_zone = "-05:00".into();
        cfg.windows[0].time_zone = None;
        let w = build(&cfg);
        assert_eq!(w.find(t("2025-03-03T14:30:00Z")), Some("patch"));
        assert_eq!(w.find(t("2025-03-03T09:30:00Z")), None);
        // Local Monday 00:30 at +02:00 is Sunday 22:30 UTC.
        cfg.time_zone = "+02:00".into();
        cfg.windows = vec![window(&[Weekday::Mon], "00:00", "01:00", None)];
        let w = build(&cfg);
        assert_eq!(w.find(t("2025-03-02T22:30:00Z")), Some("patch"));
    }

    #[test]
    fn every_day_and_whole_days() {
        let cfg = ExpectedAdminAccessWindow {
            windows: vec![window(&[], "00:00", "24:00", None)],
            ..Default::default()
        };
        let w = build(&cfg);
        assert_eq!(w.find(t("2025-03-05T23:59:59Z")), Some("patch"));
        assert_eq!(w.find(t("2025-03-06T00:00:00Z")), Some("patch"));
    }

    #[test]
    fn one_off_ranges() {
        let cfg = ExpectedAdminAccessWindow {
            ranges: vec![DateRange {
                name: None,
                from: "2025-03-01T20:00:00+01:00".into(),
                to: "2025-03-02T06:00:00+01:00".into(),
            }],
            ..Default::default()
        };
        let w = build(&cfg);
        assert_eq!(w.find(t("2025-03-01T19:00:00Z")), Some("ranges[0]"));
        assert_eq!(w.find(t("2025-03-02T04:59:59Z")), Some("ranges[0]"));
        assert_eq!(w.find(t("2025-03-02T05:00:00Z")), None);
        assert_eq!(w.find(t("2025-03-01T18:59:59Z")), None);
    }

    #[test]
    fn bad_windows_are_reported_by_field() {
        let cfg = ExpectedAdminAccessWindow {
            time_zone: "Europe/Paris".into(),
            windows: vec![
                window(&[], "25:00", "02:00", None),
                window(&[], "10:00", "10:00", Some("PST")),
                window(&[], "24:00", "10:00", None),
            ],
            ranges: vec![
                DateRange {
                    name: None,
                    from: "2025-03-01".into(),
                    to: "2025-03-02T06:00:00Z".into(),
                },
                DateRange {
                    name: None,
                    from: "2025-03-02T06:00:00Z".into(),
                    to: "2025-03-01T06:00:00Z".into(),
                },
            ],
            ..Default::default()
        };
        let mut problems = Vec::new();
        let w = AdminWindows::build(&cfg, &mut problems);
        let fields: Vec<&str> = problems.iter().map(|(f, _)| f.as_str()).collect();
        let f = "analytics.an0906.expected_admin_access_window";
        assert_eq!(
            fields,
            [
                format!("{f}.time_zone"),
                format!("{f}.windows[0].start"),
                format!("{f}.windows[1].end"),
                format!("{f}.windows[1].time_zone"),
                format!("{f}.windows[2].start"),
                format!("{f}.ranges[0].from"),
                format!("{f}.ranges[1].to"),
            ],
            "{problems:?}"
        );
        assert!(w.is_empty());
    }
}
