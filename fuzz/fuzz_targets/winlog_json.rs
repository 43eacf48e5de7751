//! One Windows JSON line (a Winlogbeat document or an `evtx_dump -o jsonl` record)
//! through `WinlogJsonParser` and the Sysmon 1 / Security 4688 mapping.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sensor_core::event::Event;
use sensor_core::replay::LineParser;
use sensor_windows::replay::WinlogJsonParser;

fuzz_target!(|data: &[u8]| {
    let mut parser = WinlogJsonParser::new("fuzz.jsonl");
    let mut out = Vec::new();
    match parser.parse_line(data, &mut out) {
        Ok(()) => assert!(out.len() <= 1),
        Err(_) => assert!(out.is_empty(), "a malformed line produced an event"),
    }
    // What the mapping builds must be a readable ECS document.
    for ev in &out {
        let line = ev.to_json_line();
        Event::from_json_slice(line.as_bytes())
            .unwrap_or_else(|e| panic!("mapped event is not readable ECS: {e}\n{line}"));
    }
});
