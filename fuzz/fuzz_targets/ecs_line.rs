//! One ECS NDJSON line through `picket replay --format ecs`'s parser (`EcsParser`).
//! Invariant (documented in sensor-core's `event` module: "a replayed document
//! round-trips losslessly"): an event that parses serialises to ECS JSON that parses
//! back to an equal event.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sensor_core::event::Event;
use sensor_core::replay::{EcsParser, LineParser};

fuzz_target!(|data: &[u8]| {
    let mut out = Vec::new();
    if EcsParser.parse_line(data, &mut out).is_err() {
        assert!(out.is_empty(), "a malformed line produced an event");
        return;
    }
    assert_eq!(out.len(), 1);
    let event = &out[0];
    let line = event.to_json_line();
    let again = Event::from_json_slice(line.as_bytes())
        .unwrap_or_else(|e| panic!("serialised event does not parse back: {e}\n{line}"));
    assert_eq!(&again, event, "round trip changed the event\n{line}");
    // Field lookups by path (what EQL does) on whatever came in.
    for path in [
        "process.name",
        "process.parent.name",
        "user.id",
        "host.os.type",
        "a.b.c",
    ] {
        let _ = event.field(path);
    }
});
