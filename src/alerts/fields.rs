//! What one logged alert says, read from its JSON the way every view needs it: times,
//! severity, who, which rule, what command line, and its evidence. Missing or wrongly
//! typed fields read as empty, never as an error: the log may hold alerts of older or
//! newer versions.

use chrono::{DateTime, Utc};
use sensor_core::Severity;
use serde_json::Value;

/// The string at `path`, or `""`.
pub fn text<'a>(v: &'a Value, path: &[&str]) -> &'a str {
    let mut cur = v;
    for p in path {
        match cur.get(p) {
            Some(next) => cur = next,
            None => return "",
        }
    }
    cur.as_str().unwrap_or("")
}

fn parse_utc(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// When the alert was raised: its `@timestamp`.
pub fn alert_time(alert: &Value) -> Option<DateTime<Utc>> {
    parse_utc(text(alert, &["@timestamp"]))
}

/// When the triggering event happened: `event.created`, else `@timestamp` (alerts
/// written before `event.created` existed).
pub fn event_time_text(alert: &Value) -> &str {
    match text(alert, &["event", "created"]) {
        "" => text(alert, &["@timestamp"]),
        created => created,
    }
}

/// An RFC 3339 time as `YYYY-MM-DD HH:MM:SS` in UTC; text that is not one is cut to as
/// many characters.
pub fn second_of(time: &str) -> String {
    match parse_utc(time) {
        Some(t) => t.format("%Y-%m-%d %H:%M:%S").to_string(),
        None => time.get(..19).unwrap_or(time).replace('T', " "),
    }
}

/// `event.severity` (1–4), else `picket.severity`.
pub fn severity_of(alert: &Value) -> Option<Severity> {
    let n = alert
        .get("event")
        .and_then(|e| e.get("severity"))
        .and_then(Value::as_u64);
    match n {
        Some(1) => Some(Severity::Low),
        Some(2) => Some(Severity::Medium),
        Some(3) => Some(Severity::High),
        Some(4) => Some(Severity::Critical),
        _ => text(alert, &["picket", "severity"]).parse().ok(),
    }
}

/// `user.name`, else `user.id`.
pub fn user_of(alert: &Value) -> &str {
    match text(alert, &["user", "name"]) {
        "" => text(alert, &["user", "id"]),
        name => name,
    }
}

/// `AN0904 UtilityNameList` for analytics, the rule name for Elastic rules.
pub fn rule_label(alert: &Value) -> String {
    match text(alert, &["picket", "analytic"]) {
        "" => text(alert, &["rule", "name"]).to_string(),
        analytic => format!("{analytic} {}", text(alert, &["picket", "mutable_element"]))
            .trim()
            .to_string(),
    }
}

/// `process.command_line`, else `process.executable`.
pub fn command_of(alert: &Value) -> &str {
    match text(alert, &["process", "command_line"]) {
        "" => text(alert, &["process", "executable"]),
        c => c,
    }
}

/// `picket.count`: occurrences folded into the alert (1 when absent).
pub fn count_of(alert: &Value) -> u64 {
    alert
        .get("picket")
        .and_then(|p| p.get("count"))
        .and_then(Value::as_u64)
        .unwrap_or(1)
}

/// One entry of `picket.evidence`, as logged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvidenceEntry<'a> {
    /// `event_id`.
    pub event_id: &'a str,
    /// `timestamp` (RFC 3339 text).
    pub timestamp: &'a str,
    /// `file`, when the event was replayed from one.
    pub file: Option<&'a str>,
    /// `record` in that file.
    pub record: Option<u64>,
}

/// `picket.evidence` entries, and `picket.evidence_omitted` (events counted, not listed).
pub fn evidence_of(alert: &Value) -> (Vec<EvidenceEntry<'_>>, u64) {
    let picket = alert.get("picket");
    let entries = picket
        .and_then(|p| p.get("evidence"))
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .map(|e| EvidenceEntry {
                    event_id: text(e, &["event_id"]),
                    timestamp: text(e, &["timestamp"]),
                    file: e.get("file").and_then(Value::as_str),
                    record: e.get("record").and_then(Value::as_u64),
                })
                .collect()
        })
        .unwrap_or_default();
    let omitted = picket
        .and_then(|p| p.get("evidence_omitted"))
        .and_then(Value::as_u64)
        .unwrap_or(0);
    (entries, omitted)
}

/// Alerts built for the unit tests of the review views.
#[cfg(test)]
pub mod testing {
    use serde_json::Value;

    /// An alert line's JSON with the fields the views read.
    pub fn alert_json(
        ts: &str,
        rule: &str,
        analytic: &str,
        sev: u8,
        user: &str,
        host: &str,
        cmd: &str,
    ) -> Value {
        serde_json::json!({
            "@timestamp": ts,
            "event": {"kind": "alert", "severity": sev},
            "rule": {"id": format!("id-{rule}"), "name": rule},
            "user": {"name": user, "id": "1000"},
            "host": {"name": host},
            "process": {"command_line": cmd},
            "picket": {"analytic": analytic, "mutable_element": "UtilityNameList", "count": 1}
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_time_is_event_created_else_the_alert_time() {
        let mut a = testing::alert_json("2024-05-01T10:00:00Z", "r", "AN0904", 1, "u", "h", "c");
        assert_eq!(event_time_text(&a), "2024-05-01T10:00:00Z");
        a["event"]["created"] = "2024-05-01T09:58:59.5+02:00".into();
        assert_eq!(second_of(event_time_text(&a)), "2024-05-01 07:58:59");
        assert_eq!(second_of("not a time at all, long"), "not a time at all, ");
    }

    #[test]
    fn evidence_reads_entries_and_the_omitted_count() {
        let a = serde_json::json!({"picket": {
            "evidence": [
                {"event_id": "e1", "timestamp": "2024-05-01T10:00:00Z", "file": "/r/x.evtx", "record": 7},
                {"event_id": "e2", "timestamp": "2024-05-01T10:00:01Z"},
                "not an object"
            ],
            "evidence_omitted": 4
        }});
        let (entries, omitted) = evidence_of(&a);
        assert_eq!(omitted, 4);
        assert_eq!(entries.len(), 3);
        assert_eq!(entries[0].file, Some("/r/x.evtx"));
        assert_eq!(entries[0].record, Some(7));
        assert_eq!((entries[1].event_id, entries[1].file), ("e2", None));
        assert_eq!(entries[2].event_id, "");
        assert_eq!(evidence_of(&serde_json::json!({})), (Vec::new(), 0));
    }
}
