//! `Alert`: what a detection produces, as one ECS document.
//!
//! The primary triggering event's `host`, `user` and `process` are copied to the top
//! level (as Elastic's own alerts do) so dashboards and `picket alerts` read them
//! directly; further events of a correlation are kept whole in `picket.related_events`.

use crate::event::{Event, Host, Process, User};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Alert severity, in Elastic's four steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Low: worth a look in context.
    Low,
    /// Medium.
    Medium,
    /// High.
    High,
    /// Critical.
    Critical,
}

impl Severity {
    /// ECS `event.severity` number (1–4).
    pub fn number(self) -> u8 {
        match self {
            Severity::Low => 1,
            Severity::Medium => 2,
            Severity::High => 3,
            Severity::Critical => 4,
        }
    }

    /// Elastic's default risk score for the severity.
    pub fn default_risk_score(self) -> f64 {
        match self {
            Severity::Low => 21.0,
            Severity::Medium => 47.0,
            Severity::High => 73.0,
            Severity::Critical => 99.0,
        }
    }

    /// One step up (critical stays critical).
    pub fn raised(self) -> Severity {
        match self {
            Severity::Low => Severity::Medium,
            Severity::Medium => Severity::High,
            Severity::High | Severity::Critical => Severity::Critical,
        }
    }

    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

impl std::str::FromStr for Severity {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "low" => Ok(Severity::Low),
            "medium" => Ok(Severity::Medium),
            "high" => Ok(Severity::High),
            "critical" => Ok(Severity::Critical),
            other => Err(format!(
                "expected low, medium, high or critical, found {other:?}"
            )),
        }
    }
}

/// One alert.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    /// When the alert was raised.
    #[serde(rename = "@timestamp")]
    pub timestamp: DateTime<Utc>,
    /// `event.*` of the alert itself (`kind: alert`).
    pub event: AlertEvent,
    /// `message`: one human line — who ran what, and why it counts.
    pub message: String,
    /// `rule.*`.
    pub rule: Rule,
    /// `threat.*`: MITRE ATT&CK mapping.
    pub threat: Threat,
    /// `host.*` of the triggering event.
    #[serde(default)]
    pub host: Host,
    /// `user.*` of the triggering event.
    #[serde(default)]
    pub user: User,
    /// `process.*` of the triggering event.
    #[serde(default)]
    pub process: Process,
    /// `picket.*`: analytic, mutable element, fold count, config hash, related events.
    pub picket: AlertPicket,
}

/// `event.*` of an alert.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertEvent {
    /// Always `alert`.
    pub kind: String,
    /// `["process"]`.
    pub category: Vec<String>,
    /// `["info"]`.
    #[serde(rename = "type")]
    pub kind_type: Vec<String>,
    /// Unique alert id.
    pub id: String,
    /// 1 (low) to 4 (critical).
    pub severity: u8,
    /// 0–100.
    pub risk_score: f64,
    /// When the triggering event happened (its `@timestamp`).
    pub created: DateTime<Utc>,
}

/// `rule.*`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Rule {
    /// Rule id: the Elastic `rule_id` for Elastic rules, `picket-AN0904` style for analytics.
    pub id: String,
    /// Rule name.
    pub name: String,
    /// URL describing the rule.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reference: String,
    /// `picket` or `elastic`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub ruleset: String,
}

/// `threat.*`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Threat {
    /// `MITRE ATT&CK`.
    pub framework: String,
    /// Techniques (T1049, ...).
    pub technique: Vec<Technique>,
    /// Tactic (TA0007 Discovery).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tactic: Option<Technique>,
}

/// A technique or tactic reference.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Technique {
    /// `T1049`.
    pub id: String,
    /// `System Network Connections Discovery`.
    pub name: String,
    /// `https://attack.mitre.org/techniques/T1049/`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reference: String,
}

/// `picket.*` of an alert.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct AlertPicket {
    /// `AN0903`, `AN0904`, `AN0905`, or empty for Elastic rules.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub analytic: String,
    /// Severity word (`low` ... `critical`), matching `event.severity`.
    pub severity: Option<Severity>,
    /// The mutable element that fired (`UtilityNameList`, ...).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub mutable_element: String,
    /// The value of that element that matched (`ss`, `Get-NetTCPConnection`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub matched_value: String,
    /// Identical alerts folded into this one (1 = no folding).
    #[serde(default = "one")]
    pub count: u64,
    /// First and last time the folded alert was seen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_seen: Option<DateTime<Utc>>,
    /// Last time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_seen: Option<DateTime<Utc>>,
    /// Hash of the config that produced the alert.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub config_hash: String,
    /// The triggering events, each named so it can be found again in its source: the
    /// primary event first, then (for folded, burst and correlation alerts) the others,
    /// at most [`EVIDENCE_CAP`]. See [`Evidence`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub evidence: Vec<Evidence>,
    /// Triggering events beyond [`EVIDENCE_CAP`], counted but not listed.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub evidence_omitted: u64,
    /// Other events of a correlated alert (the discovery before lateral movement, ...).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub related_events: Vec<Event>,
    /// Extra analytic-specific facts.
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub details: serde_json::Map<String, Value>,
}

fn one() -> u64 {
    1
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// Most triggering events an alert lists in `picket.evidence`; the rest are counted in
/// `picket.evidence_omitted`.
pub const EVIDENCE_CAP: usize = 16;

/// One triggering event of an alert (`picket.evidence[]`): its `event.id`, when it
/// happened, and for replayed events the file and the record in it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Evidence {
    /// The event's `event.id`: the source's own id, or the stable id Picket gave it.
    pub event_id: String,
    /// The event's `@timestamp`.
    pub timestamp: DateTime<Utc>,
    /// `log.file.path`: the file a replayed event was read from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// The record in that file: the EVTX `winlog.record_id`, or the 1-based line number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record: Option<u64>,
}

impl Evidence {
    /// Names `event`.
    pub fn of(event: &Event) -> Evidence {
        Evidence {
            event_id: event.event.id.clone().unwrap_or_default(),
            timestamp: event.timestamp,
            file: event
                .log
                .as_ref()
                .and_then(|l| l.file.as_ref())
                .and_then(|f| f.path.clone()),
            record: event.picket.record,
        }
    }
}

impl Alert {
    /// A new alert for `event` with everything but the rule-specific parts filled in.
    pub fn for_event(event: &Event, rule: Rule, threat: Threat, severity: Severity) -> Alert {
        Alert {
            timestamp: Utc::now(),
            event: AlertEvent {
                kind: "alert".into(),
                // What the triggering event was about: `process`, or `api` for a
                // cloud API call.
                category: if event.event.category.is_empty() {
                    vec!["process".into()]
                } else {
                    event.event.category.clone()
                },
                kind_type: vec!["info".into()],
                id: new_alert_id(),
                severity: severity.number(),
                risk_score: severity.default_risk_score(),
                created: event.timestamp,
            },
            message: String::new(),
            rule,
            threat,
            host: event.host.clone(),
            user: event.user.clone(),
            process: event.process.clone(),
            picket: AlertPicket {
                severity: Some(severity),
                count: 1,
                evidence: vec![Evidence::of(event)],
                ..AlertPicket::default()
            },
        }
    }

    /// Adds `event` to the evidence: listed while there is room, counted after.
    pub fn add_evidence(&mut self, event: &Event) {
        if self.picket.evidence.len() < EVIDENCE_CAP {
            self.picket.evidence.push(Evidence::of(event));
        } else {
            self.picket.evidence_omitted += 1;
        }
    }

    /// Severity as the enum (falls back to `event.severity`).
    pub fn severity(&self) -> Severity {
        self.picket.severity.unwrap_or(match self.event.severity {
            0 | 1 => Severity::Low,
            2 => Severity::Medium,
            3 => Severity::High,
            _ => Severity::Critical,
        })
    }

    /// Sets severity in both places and the matching risk score.
    pub fn set_severity(&mut self, severity: Severity) {
        self.picket.severity = Some(severity);
        self.event.severity = severity.number();
        self.event.risk_score = severity.default_risk_score();
    }

    /// One JSON line (no trailing newline).
    pub fn to_json_line(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// A unique alert id: time in ns plus a process-wide counter (no RNG dependency).
pub fn new_alert_id() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let t = Utc::now().timestamp_nanos_opt().unwrap_or_default();
    // Built by hand: every alert gets one, folded repeats included, and `format!` cost
    // several times the rest.
    let mut id = String::with_capacity(32);
    push_hex(&mut id, t as u64);
    id.push('-');
    push_hex(&mut id, u64::from(std::process::id()));
    id.push('-');
    push_hex(&mut id, n);
    id
}

/// `n` in lower-case hex, as `{:x}` writes it (a negative `i64` as its two's complement).
fn push_hex(out: &mut String, n: u64) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut buf = [0u8; 16];
    let mut at = buf.len();
    let mut rest = n;
    loop {
        at -= 1;
        buf[at] = DIGITS[(rest & 0xf) as usize];
        rest >>= 4;
        if rest == 0 {
            break;
        }
    }
    out.extend(buf[at..].iter().map(|&b| char::from(b)));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_is_written_as_format_writes_it() {
        for n in [0u64, 1, 0xf, 0x10, 0xdead_beef, u64::MAX, (-5i64) as u64] {
            let mut s = String::new();
            push_hex(&mut s, n);
            assert_eq!(s, format!("{n:x}"));
        }
        let (a, b) = (new_alert_id(), new_alert_id());
        assert_ne!(a, b);
        assert_eq!(a.split('-').count(), 3, "{a}");
        assert_eq!(
            a.split('-').nth(1),
            Some(format!("{:x}", std::process::id()).as_str())
        );
    }

    #[test]
    fn an_alert_takes_its_category_from_the_triggering_event() {
        let mut call = Event::default();
        call.event.category = vec!["api".into()];
        let alert = Alert::for_event(&call, Rule::default(), Threat::default(), Severity::Low);
        assert_eq!(alert.event.category, ["api"]);
        assert_eq!(alert.event.kind, "alert");
        let exec = Event::exec(chrono::DateTime::UNIX_EPOCH);
        let alert = Alert::for_event(&exec, Rule::default(), Threat::default(), Severity::Low);
        assert_eq!(alert.event.category, ["process"]);
        let bare = Alert::for_event(
            &Event::default(),
            Rule::default(),
            Threat::default(),
            Severity::Low,
        );
        assert_eq!(
            bare.event.category,
            ["process"],
            "a process alert by default"
        );
    }
}
