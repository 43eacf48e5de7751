//! eslogger JSON lines (`picket replay --format eslogger`, the macOS collector) through
//! one `EsloggerParser`, line after line, so sequence-gap and drift accounting run too.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sensor_core::health::Health;
use sensor_core::replay::LineParser;
use sensor_macos::EsloggerParser;

fuzz_target!(|data: &[u8]| {
    let health = Health::new();
    let mut parser = EsloggerParser::for_replay();
    parser.attach_health(&health);
    let mut out = Vec::new();
    for line in picket_fuzz::lines(data, 64) {
        let before = out.len();
        if parser.parse_line(line, &mut out).is_err() {
            assert_eq!(out.len(), before, "a malformed line produced an event");
        }
    }
    for ev in &out {
        let _ = ev.to_json_line();
    }
    let _ = parser.stats();
    let _ = health.snapshot();
});
