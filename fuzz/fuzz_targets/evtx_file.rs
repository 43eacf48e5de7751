//! A whole file through `picket replay --format evtx`'s path: the format is told by
//! content (`detect_format_of`), a binary EVTX log is read by the `evtx` crate chunk by
//! chunk and record by record (`replay_evtx_reader`, what `replay_evtx_file` runs on an
//! open file) and mapped; JSON lines go through `WinlogJsonParser`. Damage must be
//! counted and skipped, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sensor_core::collector::Shutdown;
use sensor_core::health::Health;
use sensor_core::replay::{LineParser, ReplayStats};
use sensor_windows::replay::{detect_format_of, replay_evtx_reader, InputFormat, WinlogJsonParser};
use std::sync::atomic::Ordering;

fuzz_target!(|data: &[u8]| {
    let health = Health::new();
    let stats = ReplayStats::default();
    match detect_format_of(&data[..data.len().min(64)]) {
        InputFormat::Evtx => {
            let (_trigger, shutdown) = Shutdown::new();
            let mut events = 0u64;
            replay_evtx_reader(
                std::io::Cursor::new(data.to_vec()),
                "fuzz.evtx",
                &stats,
                &mut |ev| {
                    let _ = ev.to_json_line();
                    events += 1;
                    true
                },
                &health,
                &shutdown,
            );
            assert_eq!(events, stats.events.load(Ordering::Relaxed));
        }
        InputFormat::JsonLines => {
            let mut parser = WinlogJsonParser::new("fuzz.jsonl");
            let mut out = Vec::new();
            for line in picket_fuzz::lines(data, 64) {
                let _ = parser.parse_line(line, &mut out);
            }
        }
        InputFormat::Unknown => {}
    }
});
