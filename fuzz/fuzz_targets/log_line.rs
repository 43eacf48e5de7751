//! One device log line through `parse_line`, the dispatcher every log input uses
//! (tac_plus records, then syslog to the ESXi and network-device parsers), and through
//! `picket replay --format syslog|tacacs`'s `LogLineParser`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sensor_core::health::Health;
use sensor_core::replay::LineParser;
use sensor_logs::syslog::ParseContext;
use sensor_logs::{parse_line, LineFormat, LogLineParser, Parsed};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let ctx = ParseContext::new(picket_fuzz::reference_time());
    if let Parsed::Record(record) = parse_line(&text, &ctx) {
        let _ = record.into_event().to_json_line();
    }
    let health = Health::new();
    for format in [LineFormat::Syslog, LineFormat::Tacacs] {
        let mut parser = LogLineParser::new(format, Some("device".into()));
        parser.attach_health(&health);
        let mut out = Vec::new();
        if parser.parse_line(data, &mut out).is_err() {
            assert!(out.is_empty(), "a malformed line produced an event");
        }
    }
});
