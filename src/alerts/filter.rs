//! Which alerts to show: [`Filter`] selects by the time the alert was raised (absolute
//! or relative, [`parse_time`]), rule, analytic, minimum severity, user, host and free
//! text. Name patterns use the one wildcard matcher Picket has, `analytics::glob`.

use super::fields::{alert_time, severity_of, text};
use analytics::glob::Glob;
use anyhow::{anyhow, Result};
use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeDelta, Utc};
use sensor_core::Severity;
use serde_json::Value;

/// Parses a `--since`/`--until` value: RFC 3339, `YYYY-MM-DD[ T]HH:MM[:SS]` (UTC),
/// `YYYY-MM-DD` (midnight UTC), `now`, or a time before `now` such as `90s`, `30m`,
/// `2h`, `1d`, `1w` or `1h30m`.
pub fn parse_time(text: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>> {
    let t = text.trim();
    let bad = || {
        anyhow!(
            "cannot read {text:?} as a time: expected RFC 3339 (2024-05-01T10:00:00Z), \
             \"2024-05-01 10:00\", \"2024-05-01\", or a relative time such as 30m, 2h, 1d, 1w, 1h30m"
        )
    };
    if t.eq_ignore_ascii_case("now") {
        return Ok(now);
    }
    if let Some(ago) = parse_relative(t) {
        return now.checked_sub_signed(ago).ok_or_else(bad);
    }
    if let Ok(dt) = DateTime::parse_from_rfc3339(t) {
        return Ok(dt.with_timezone(&Utc));
    }
    for format in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(naive) = NaiveDateTime::parse_from_str(t, format) {
            return Ok(naive.and_utc());
        }
    }
    if let Ok(date) = NaiveDate::parse_from_str(t, "%Y-%m-%d") {
        return date
            .and_hms_opt(0, 0, 0)
            .map(|d| d.and_utc())
            .ok_or_else(bad);
    }
    Err(bad())
}

/// `1h30m` → 90 minutes; `None` unless the whole text is number+unit pairs.
fn parse_relative(t: &str) -> Option<TimeDelta> {
    let mut total = TimeDelta::zero();
    let mut digits = String::new();
    let mut any = false;
    for c in t.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let n: i64 = digits.parse().ok()?;
        digits.clear();
        let unit = match c.to_ascii_lowercase() {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            'w' => 604_800,
            _ => return None,
        };
        total = total.checked_add(&TimeDelta::try_seconds(n.checked_mul(unit)?)?)?;
        any = true;
    }
    (any && digits.is_empty()).then_some(total)
}

/// Case-insensitive match of the whole text: exact, or a glob (`*` any run, `?` one
/// character) when the pattern has wildcards.
fn glob_match(pattern: &str, text: &str) -> bool {
    Glob::new(pattern, true).matches(text)
}

fn has_wildcard(p: &str) -> bool {
    p.contains('*') || p.contains('?')
}

/// Which alerts to show. Empty fields do not filter.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Alerts raised at or after this time (`@timestamp`).
    pub since: Option<DateTime<Utc>>,
    /// Alerts raised at or before this time.
    pub until: Option<DateTime<Utc>>,
    /// `rule.name` contains this (case-insensitive), or `rule.id` equals it; a glob
    /// (`*`, `?`) must match the whole name or id.
    pub rule: Option<String>,
    /// `picket.analytic` (`AN0904`), case-insensitive; globs allowed.
    pub analytic: Option<String>,
    /// Minimum severity.
    pub min_severity: Option<Severity>,
    /// `user.name` or `user.id`, case-insensitive; globs allowed.
    pub user: Option<String>,
    /// `host.name`, case-insensitive; globs allowed.
    pub host: Option<String>,
    /// Case-insensitive text anywhere in the alert's string values (decoded, so `\n`
    /// in the JSON matches a newline).
    pub grep: Option<String>,
}

impl Filter {
    /// Does the alert pass every set condition?
    pub fn matches(&self, alert: &Value) -> bool {
        if self.since.is_some() || self.until.is_some() {
            let Some(t) = alert_time(alert) else {
                return false;
            };
            if self.since.is_some_and(|s| t < s) || self.until.is_some_and(|u| t > u) {
                return false;
            }
        }
        if let Some(rule) = &self.rule {
            let name = text(alert, &["rule", "name"]);
            let id = text(alert, &["rule", "id"]);
            let ok = if has_wildcard(rule) {
                glob_match(rule, name) || glob_match(rule, id)
            } else {
                name.to_lowercase().contains(&rule.to_lowercase()) || id.eq_ignore_ascii_case(rule)
            };
            if !ok {
                return false;
            }
        }
        if let Some(a) = &self.analytic {
            if !glob_match(a, text(alert, &["picket", "analytic"])) {
                return false;
            }
        }
        if let Some(min) = self.min_severity {
            if severity_of(alert).is_none_or(|s| s < min) {
                return false;
            }
        }
        if let Some(u) = &self.user {
            let name = text(alert, &["user", "name"]);
            let id = text(alert, &["user", "id"]);
            if !(glob_match(u, name) || glob_match(u, id)) {
                return false;
            }
        }
        if let Some(h) = &self.host {
            if !glob_match(h, text(alert, &["host", "name"])) {
                return false;
            }
        }
        if let Some(g) = &self.grep {
            if !contains_text(alert, &g.to_lowercase()) {
                return false;
            }
        }
        true
    }
}

fn contains_text(v: &Value, needle: &str) -> bool {
    match v {
        Value::String(s) => s.to_lowercase().contains(needle),
        Value::Array(a) => a.iter().any(|x| contains_text(x, needle)),
        Value::Object(o) => o.values().any(|x| contains_text(x, needle)),
        Value::Number(n) => n.to_string().contains(needle),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::super::fields::testing::alert_json;
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn times_absolute_and_relative() {
        let now = Utc
            .with_ymd_and_hms(2024, 5, 1, 12, 0, 0)
            .single()
            .expect("now");
        let at = |y, mo, d, h, mi| {
            Utc.with_ymd_and_hms(y, mo, d, h, mi, 0)
                .single()
                .expect("t")
        };
        assert_eq!(parse_time("2h", now).expect("2h"), at(2024, 5, 1, 10, 0));
        assert_eq!(
            parse_time("1h30m", now).expect("1h30m"),
            at(2024, 5, 1, 10, 30)
        );
        assert_eq!(parse_time("1d", now).expect("1d"), at(2024, 4, 30, 12, 0));
        assert_eq!(parse_time("1w", now).expect("1w"), at(2024, 4, 24, 12, 0));
        assert_eq!(
            parse_time("90s", now).expect("90s"),
            now - TimeDelta::seconds(90)
        );
        assert_eq!(parse_time("now", now).expect("now"), now);
        assert_eq!(
            parse_time("2024-05-01T09:15:00+02:00", now).expect("rfc3339"),
            at(2024, 5, 1, 7, 15)
        );
        assert_eq!(
            parse_time("2024-05-01 09:15", now).expect("space"),
            at(2024, 5, 1, 9, 15)
        );
        assert_eq!(
            parse_time("2024-04-30", now).expect("date"),
            at(2024, 4, 30, 0, 0)
        );
        for bad in ["", "2x", "h", "yesterday", "2024-13-01", "5m3"] {
            assert!(parse_time(bad, now).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn globs() {
        assert!(glob_match("an09*", "AN0904"));
        assert!(glob_match("*admin*", "domain-admins"));
        assert!(glob_match("a?c", "abc"));
        assert!(!glob_match("a?c", "abbc"));
        assert!(glob_match("*", ""));
        assert!(!glob_match("web*", "db1"));
    }

    #[test]
    fn filter_conditions_combine() {
        let a = alert_json(
            "2024-05-01T10:00:00Z",
            "Network connections discovery",
            "AN0904",
            3,
            "alice",
            "web-1",
            "ss -tan\nsecret",
        );
        let t = |s: &str| parse_time(s, Utc::now()).expect("time");
        assert!(Filter::default().matches(&a));
        let f = |edit: &dyn Fn(&mut Filter)| {
            let mut f = Filter::default();
            edit(&mut f);
            f.matches(&a)
        };
        assert!(f(&|f| f.since = Some(t("2024-05-01T10:00:00Z"))));
        assert!(!f(&|f| f.since = Some(t("2024-05-01T10:00:01Z"))));
        assert!(f(&|f| f.until = Some(t("2024-05-01T10:00:00Z"))));
        assert!(!f(&|f| f.until = Some(t("2024-05-01T09:59:59Z"))));
        assert!(f(&|f| f.rule = Some("connections".into())));
        assert!(f(
            &|f| f.rule = Some("ID-NETWORK CONNECTIONS DISCOVERY".into())
        ));
        assert!(!f(&|f| f.rule = Some("lateral".into())));
        assert!(f(&|f| f.analytic = Some("an0904".into())));
        assert!(!f(&|f| f.analytic = Some("AN0903".into())));
        assert!(f(&|f| f.min_severity = Some(Severity::High)));
        assert!(!f(&|f| f.min_severity = Some(Severity::Critical)));
        assert!(f(&|f| f.user = Some("ALICE".into())));
        assert!(f(&|f| f.user = Some("1000".into())));
        assert!(!f(&|f| f.user = Some("bob".into())));
        assert!(f(&|f| f.host = Some("web-*".into())));
        assert!(!f(&|f| f.host = Some("web".into())));
        assert!(f(&|f| f.grep = Some("TAN\nSEC".into())));
        assert!(!f(&|f| f.grep = Some("nmap".into())));
    }
}
