//! One syslog message (RFC 5424, RFC 3164 and the vendor variants: Cisco sequence
//! numbers and uptime stamps, ESXi levels) through `parse_syslog`, its structured data
//! through `parse_sd`, and the ECS fields a record is filled from. A leading `0` byte
//! names a default host, as a tailed host-less file does.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sensor_logs::syslog::{parse_sd, parse_syslog, ParseContext};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut ctx = ParseContext::new(picket_fuzz::reference_time());
    let line = match text.strip_prefix('\0') {
        Some(rest) => {
            ctx = ctx.with_default_host("esxi-default");
            rest
        }
        None => &text,
    };
    if let Ok(msg) = parse_syslog(line, &ctx) {
        if let Some(f) = msg.facility() {
            assert!(f <= 23, "facility {f}");
        }
        if let Some(s) = msg.severity() {
            assert!(s <= 7, "severity {s}");
        }
        let _ = msg.sd_elements();
        let _ = msg.sd_param("shell.cmd@", "command");
        let _ = msg.host_or_default(&ctx);
        let _ = msg.ecs_fields();
    }
    for element in parse_sd(line) {
        for (name, _) in &element.params {
            let _ = element.param(name);
        }
    }
});
