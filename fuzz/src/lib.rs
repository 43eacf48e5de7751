//! Helpers shared by the fuzz targets (`fuzz_targets/`). Nothing here parses: it only
//! cuts inputs up and supplies fixed context, so a crash always lies in Picket's code.
//! The exception is [`eql_ref`], the second EQL evaluator `eql_differential` compares
//! the engine with: a disagreement may lie on either side, and is judged against the
//! documented semantics.

pub mod eql_ref;

use chrono::{DateTime, TimeZone, Utc};
use sensor_core::event::Event;

/// A fixed "now" for parsers of formats without years (BSD syslog), so a run replays the
/// same way whatever the clock says.
pub fn reference_time() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 6, 15, 12, 0, 0)
        .single()
        .unwrap_or_default()
}

/// The input's lines (split on LF, as the line readers split), at most `max` of them.
pub fn lines(data: &[u8], max: usize) -> impl Iterator<Item = &[u8]> {
    data.split(|&b| b == b'\n').take(max)
}

/// Events an EQL query or a rule is evaluated against when the input brings none: a
/// Windows and a Linux process start with the fields the Elastic rules read.
pub fn sample_events() -> Vec<Event> {
    let docs = [
        r#"{"@timestamp":"2026-06-15T12:00:00Z","event":{"category":["process"],"type":["start"],"action":"exec"},"host":{"name":"WIN10","os":{"type":"windows"}},"user":{"id":"S-1-5-18","name":"SYSTEM","domain":"NT AUTHORITY"},"process":{"pid":4242,"name":"net.exe","executable":"C:\\Windows\\System32\\net.exe","command_line":"net  use","args":["net","use"],"args_count":2,"pe":{"original_file_name":"net.exe"},"parent":{"pid":4000,"name":"cmd.exe","executable":"C:\\Windows\\System32\\cmd.exe","args":["cmd.exe","/c","net use"]}},"source":{"ip":"10.0.0.5"}}"#,
        r#"{"@timestamp":"2026-06-15T12:00:01Z","event":{"category":["process"],"type":["start"],"action":"exec"},"host":{"name":"web1","os":{"type":"linux"}},"user":{"id":"1000","name":"bob","effective":{"id":"0"}},"process":{"pid":77,"name":"ss","executable":"/usr/bin/ss","command_line":"ss -tanp","args":["ss","-tanp"],"args_count":2,"parent":{"pid":70,"name":"bash"}}}"#,
    ];
    docs.iter()
        .filter_map(|d| Event::from_json_slice(d.as_bytes()).ok())
        .collect()
}
