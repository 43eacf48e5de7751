//! A whole cloud audit object as the CloudTrail input and `picket replay --format
//! cloudtrail|gcp-audit` read it: gzip detected by its magic and inflated
//! (`decode_object`, what `open_object` does to a file), split into records and each
//! record parsed (`read_stream`, what `read_object` does). The first byte picks the
//! format, the record cap and how many records to skip (a resumed object).
#![no_main]

use libfuzzer_sys::fuzz_target;
use sensor_logs::cloud::{decode_object, read_stream, CloudFormat};

fuzz_target!(|data: &[u8]| {
    let Some((&first, body)) = data.split_first() else {
        return;
    };
    let format = if first & 1 == 0 {
        CloudFormat::CloudTrail
    } else {
        CloudFormat::GcpAudit
    };
    let max = if first & 2 == 0 { 1 << 20 } else { 512 };
    let skip = u64::from(first >> 5);
    let Ok(src) = decode_object(std::io::Cursor::new(body.to_vec())) else {
        return;
    };
    let mut last = skip;
    let mut called = false;
    let read = read_stream(src, format, "fuzz", max, skip, &mut |index, outcome| {
        assert_eq!(index, last + 1, "records out of order");
        last = index;
        called = true;
        if let Ok(ev) = outcome {
            let _ = ev.to_json_line();
        }
        true
    });
    assert!(!read.stopped);
    if called {
        assert_eq!(
            read.records, last,
            "the last record handed out is not the count"
        );
    }
});
