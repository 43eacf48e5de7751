//! One AWS CloudTrail record (the bytes of one JSON object, as the record
//! splitter hands it out) through `cloudtrail_event`, differentially: serde_json's
//! derive (`reference_event`) must accept the same records and make the same events,
//! and reading the record in place (`cloudtrail_prefix`, what replay does) must agree.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sensor_core::event::Event;
use sensor_logs::cloud::cloudtrail::{cloudtrail_prefix, reference_event};
use sensor_logs::cloud::cloudtrail_event;

fuzz_target!(|data: &[u8]| {
    let ours = cloudtrail_event(data, "fuzz");
    match (&ours, reference_event(data, "fuzz")) {
        (Ok(a), Ok(b)) => assert_eq!(*a, b, "the reader and serde_json disagree"),
        (Err(_), Err(_)) => {}
        // The one difference on purpose: the reader recurses, so it refuses nesting
        // over 128 levels, which serde_json steps over in skipped values.
        (Err(why), Ok(_)) if why.contains("nested too deep") => {}
        (a, b) => panic!("the reader says {a:?}, serde_json {b:?}"),
    }
    // In place, a whole valid record reads the same and ends where the bytes do (but
    // for trailing whitespace); anything it reads in place, the whole-record path
    // reads the same way.
    if let Some((len, in_place)) = cloudtrail_prefix(data, "fuzz") {
        assert!(len <= data.len());
        let whole = cloudtrail_event(&data[..len], "fuzz");
        assert_eq!(in_place.is_ok(), whole.is_ok());
        if let (Ok(a), Ok(b)) = (&in_place, &whole) {
            assert_eq!(a, b);
        }
    } else {
        assert!(ours.is_err(), "a record read whole is not read in place");
    }
    if let Ok(ev) = ours {
        let line = ev.to_json_line();
        Event::from_json_slice(line.as_bytes())
            .unwrap_or_else(|e| panic!("event is not readable ECS: {e}\n{line}"));
    }
});
