//! One AWS CloudTrail record (the bytes of one JSON object, as the record
//! splitter hands it out) through `cloudtrail_event`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sensor_core::event::Event;
use sensor_logs::cloud::cloudtrail_event;

fuzz_target!(|data: &[u8]| {
    if let Ok(ev) = cloudtrail_event(data, "fuzz") {
        let line = ev.to_json_line();
        Event::from_json_slice(line.as_bytes())
            .unwrap_or_else(|e| panic!("event is not readable ECS: {e}\n{line}"));
    }
});
