//! One alert-log line through the reader behind `picket alerts` (`sinks::file::parse_line`):
//! an alert is a JSON object in UTF-8, kept raw and parsed.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Some(alert) = sinks::file::parse_line(data) {
        assert_eq!(alert.raw.as_bytes(), data, "the raw line must be the input");
        assert!(alert.value.is_object());
    }
});
