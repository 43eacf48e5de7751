//! The cloud record splitter (`RecordSplitter`) on plain bytes: JSON arrays of records,
//! `{"Records": [...]}` / `{"entries": [...]}` wrappers and NDJSON, cut into records
//! without a JSON tree. The first byte picks the wrapper keys and the record cap.
//!
//! Invariants: a record starts with `{` and ends with a closing bracket, no longer than
//! the cap; the splitter ends (every call makes progress). The scan counts nesting, not
//! bracket kinds (`{"a": 1]` is handed out whole): whether a record is valid JSON is for
//! the record parser to say (the reader module's docs).
#![no_main]

use libfuzzer_sys::fuzz_target;
use sensor_logs::cloud::{Item, RecordSplitter};

const CLOUDTRAIL: &[&[u8]] = &[b"Records"];
const GCP: &[&[u8]] = &[b"entries"];

fuzz_target!(|data: &[u8]| {
    let Some((&first, body)) = data.split_first() else {
        return;
    };
    let wrappers = if first & 1 == 0 { CLOUDTRAIL } else { GCP };
    let max = 2 + usize::from(first >> 1) * 16;
    let mut split = RecordSplitter::new(body, max, wrappers);
    let mut items = 0usize;
    while let Ok(Some(item)) = split.next() {
        items += 1;
        assert!(items <= body.len() + 1, "more items than input bytes");
        match item {
            Item::Object(bytes) => {
                assert!(
                    bytes.len() <= max.max(2),
                    "record of {} over the cap {max}",
                    bytes.len()
                );
                assert_eq!(bytes.first(), Some(&b'{'));
                assert!(matches!(bytes.last(), Some(b'}' | b']')));
            }
            Item::Oversized(n) => assert!(n as usize > max, "{n} bytes called oversized"),
            Item::NotObject(_) => {}
        }
    }
});
