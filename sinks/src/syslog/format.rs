//! RFC 5424 formatting: one alert becomes
//! `<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID [meta sequenceId="n"] JSON`, the MSG
//! being the ECS JSON alert (no BOM). Transport framing is `framing.rs`'s job.
//!
//! May touch: nothing; pure functions.

use crate::config::Facility;
use sensor_core::alert::{Alert, Severity};

/// Syslog severity for an alert severity: critical 2, high 3, medium 4, low 5.
pub fn syslog_severity(severity: Severity) -> u8 {
    match severity {
        Severity::Critical => 2,
        Severity::High => 3,
        Severity::Medium => 4,
        Severity::Low => 5,
    }
}

/// One RFC 5424 message (without transport framing); `seq` numbers the sink's messages
/// from 1 and goes into `sequenceId` so the collector can spot gaps.
pub fn format_message(
    alert: &Alert,
    json: &str,
    facility: Facility,
    app_name: &str,
    seq: u64,
) -> Vec<u8> {
    let pri = u16::from(facility.code()) * 8 + u16::from(syslog_severity(alert.severity()));
    let timestamp = alert.timestamp.format("%Y-%m-%dT%H:%M:%S%.6fZ");
    let host = header_field(alert.host.name.as_deref().unwrap_or(""), 255);
    let app = header_field(app_name, 48);
    // RFC 5424 7.3.1: sequenceId runs 1..=2147483647 and wraps.
    let seq_id = (seq.saturating_sub(1) % 2_147_483_647) + 1;
    let mut out = format!(
        "<{pri}>1 {timestamp} {host} {app} {} alert [meta sequenceId=\"{seq_id}\"] ",
        std::process::id()
    )
    .into_bytes();
    out.extend_from_slice(json.as_bytes());
    out
}

/// A header field: printable US-ASCII only (others become `_`), at most `max` bytes,
/// `-` when empty.
fn header_field(s: &str, max: usize) -> String {
    let cleaned: String = s
        .chars()
        .map(|c| if ('!'..='~').contains(&c) { c } else { '_' })
        .take(max)
        .collect();
    if cleaned.is_empty() {
        "-".into()
    } else {
        cleaned
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::alert_at_fixed_time;

    #[test]
    fn message_has_rfc5424_header_and_json_body() {
        let a = alert_at_fixed_time("m1", Severity::High);
        let json = a.to_json_line();
        let msg = format_message(&a, &json, Facility::Local0, "picket", 7);
        let text = String::from_utf8(msg).expect("utf8");
        let expected_head = format!(
            "<131>1 2024-05-01T10:00:00.000000Z web_1_ picket {} alert [meta sequenceId=\"7\"] ",
            std::process::id()
        );
        assert!(text.starts_with(&expected_head), "{text}");
        assert_eq!(&text[expected_head.len()..], json);
    }

    #[test]
    fn sequence_ids_wrap_and_header_fields_are_bounded() {
        let a = alert_at_fixed_time("m1", Severity::Low);
        let text = |seq| {
            String::from_utf8(format_message(&a, "{}", Facility::Kern, "", seq)).expect("utf8")
        };
        assert!(text(2_147_483_648).contains("sequenceId=\"1\""));
        assert!(text(1).starts_with("<5>1 "), "kern.notice is PRI 5");
        assert!(text(1).contains(" web_1_ - "), "an empty APP-NAME is -");
        assert_eq!(header_field(&"x".repeat(100), 48).len(), 48);
    }
}
