//! One syslog line through the network parser (`parse_network`, after `parse_syslog`), as the
//! syslog input and `picket replay --format syslog` run it; a record becomes an event.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sensor_logs::network::parse_network;
use sensor_logs::syslog::{parse_syslog, ParseContext};
use sensor_logs::Parsed;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let ctx = ParseContext::new(picket_fuzz::reference_time()).with_default_host("device");
    let Ok(msg) = parse_syslog(&text, &ctx) else {
        return;
    };
    if let Some(Parsed::Record(record)) = parse_network(&msg, &ctx) {
        let _ = record.into_event().to_json_line();
    }
});
