//! One tac_plus / tac_plus-ng accounting record (tab- or `|!|`-separated) through
//! `parse_tacacs`, as `picket replay --format tacacs` and the file input run it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sensor_logs::parse_tacacs;
use sensor_logs::syslog::ParseContext;
use sensor_logs::Parsed;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let ctx = ParseContext::new(picket_fuzz::reference_time());
    if let Parsed::Record(record) = parse_tacacs(&text, &ctx) {
        let _ = record.into_event().to_json_line();
    }
});
