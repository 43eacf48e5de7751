//! Properties over generated inputs: the command-line split inverts Windows argv quoting,
//! and no input (event data, ETW fields, damaged EVTX bytes) makes the parsers panic.

use proptest::prelude::*;
use sensor_core::collector::Shutdown;
use sensor_core::health::Health;
use sensor_core::process_table::ProcessTable;
use sensor_core::replay::ReplayStats;
use sensor_windows::cmdline::split_command_line;
use sensor_windows::etw::{map_kernel_process, Enricher, KernelProcessRecord};
use sensor_windows::mapping::{map_record, WinRecord};
use serde_json::{json, Map, Value};
use std::path::Path;
use std::sync::atomic::Ordering;

/// Quotes one argument so that CommandLineToArgvW gives it back: the documented inverse
/// (backslashes doubled before a quote or the closing quote, quotes escaped).
fn quote_arg(arg: &str) -> String {
    if !arg.is_empty() && !arg.contains([' ', '\t', '"']) {
        return arg.to_string();
    }
    let mut out = String::from("\"");
    let mut backslashes = 0;
    for c in arg.chars() {
        match c {
            '\\' => backslashes += 1,
            '"' => {
                out.push_str(&"\\".repeat(2 * backslashes + 1));
                out.push('"');
                backslashes = 0;
            }
            _ => {
                out.push_str(&"\\".repeat(backslashes));
                out.push(c);
                backslashes = 0;
            }
        }
    }
    out.push_str(&"\\".repeat(2 * backslashes));
    out.push('"');
    out
}

fn join(program: &str, args: &[String]) -> String {
    let mut line = if program.contains([' ', '\t']) {
        format!("\"{program}\"")
    } else {
        program.to_string()
    };
    for a in args {
        line.push(' ');
        line.push_str(&quote_arg(a));
    }
    line
}

struct NoOs;
impl Enricher for NoOs {
    fn executable_path(&mut self, _: u32) -> Option<String> {
        None
    }
    fn account(&mut self, _: &str) -> Option<(String, String)> {
        None
    }
    fn original_file_name(&mut self, _: &str) -> Option<String> {
        None
    }
}

const SYSMON_FIELDS: [&str; 12] = [
    "ProcessId",
    "Image",
    "CommandLine",
    "User",
    "ParentProcessId",
    "ParentImage",
    "ParentCommandLine",
    "ProcessGuid",
    "ParentProcessGuid",
    "OriginalFileName",
    "UtcTime",
    "Hashes",
];
const SECURITY_FIELDS: [&str; 8] = [
    "NewProcessId",
    "NewProcessName",
    "ProcessId",
    "CommandLine",
    "SubjectUserSid",
    "SubjectUserName",
    "TargetUserSid",
    "ParentProcessName",
];

fn any_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<i64>().prop_map(Value::from),
        "[ -~]{0,20}".prop_map(Value::from),
        "0x[0-9a-fA-F]{0,10}".prop_map(Value::from),
        Just(Value::Null),
        Just(json!([1, "a"])),
        Just(json!({"k": "v"})),
        any::<bool>().prop_map(Value::from),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn split_inverts_argv_quoting(
        program in "[a-zA-Z0-9\\\\:. ]{1,12}",
        args in proptest::collection::vec("[a-zA-Z0-9 \t\"\\\\/:.-]{0,10}", 0..6),
    ) {
        prop_assume!(!program.starts_with([' ', '\t']));
        let line = join(&program, &args);
        let mut want = vec![program.clone()];
        want.extend(args.iter().cloned());
        prop_assert_eq!(split_command_line(&line), want, "line: {}", line);
    }

    #[test]
    fn split_never_panics(line in "\\PC{0,60}") {
        let args = split_command_line(&line);
        prop_assert!(line.is_empty() == args.is_empty());
    }

    #[test]
    fn mapping_never_panics(
        event_id in prop_oneof![Just(1u64), Just(4688u64), any::<u64>()],
        provider in prop_oneof![
            Just("Microsoft-Windows-Sysmon"), Just("Microsoft-Windows-Security-Auditing"), Just("x")
        ],
        values in proptest::collection::vec(any_value(), 20),
        present in proptest::collection::vec(any::<bool>(), 20),
    ) {
        let mut data = Map::new();
        for (i, name) in SYSMON_FIELDS.iter().chain(SECURITY_FIELDS.iter()).enumerate() {
            if present[i] {
                data.insert(name.to_string(), values[i].clone());
            }
        }
        let rec = json!({"Event": {"System": {
            "Provider": {"#attributes": {"Name": provider}}, "EventID": event_id,
            "TimeCreated": {"#attributes": {"SystemTime": "2024-01-01T00:00:00Z"}},
            "Computer": "h"}, "EventData": data}});
        if let Ok(r) = WinRecord::from_evtx_json(&rec) {
            let _ = map_record(&r, Some("f"));
        }
        let beat = json!({"@timestamp": "x", "winlog": {"event_id": event_id, "provider_name": provider,
            "event_data": rec["Event"]["EventData"].clone()}});
        if let Ok(r) = WinRecord::from_winlogbeat(&beat) {
            let _ = map_record(&r, None);
        }
    }

    #[test]
    fn etw_mapping_never_panics(
        opcode in 0u8..8,
        filetime in any::<i64>(),
        pointer_size in prop_oneof![Just(4usize), Just(8usize)],
        pid in any::<u32>(),
        sid in proptest::collection::vec(any::<u8>(), 0..64),
        image in proptest::collection::vec(any::<u8>(), 0..32),
        cmd in proptest::collection::vec(any::<u8>(), 0..80),
    ) {
        let mut table = ProcessTable::new(16);
        let rec = KernelProcessRecord {
            opcode, filetime, pointer_size, pid, ppid: Some(pid ^ 1), session_id: Some(1),
            exit_status: Some(0), user_sid: Some(sid), image_file_name: Some(image),
            command_line: Some(cmd),
        };
        if let Some(mut ev) = map_kernel_process(&rec, "host", &mut NoOs) {
            table.observe(&mut ev);
        }
        prop_assert!(table.len() <= 16);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Flipping bytes anywhere in a real log never panics the replay, and every record
    /// read is accounted for as an event, ignored or malformed.
    #[test]
    fn damaged_evtx_never_panics(flips in proptest::collection::vec((0usize..69632, any::<u8>()), 1..24)) {
        let path = Path::new(concat!(env!("CARGO_MANIFEST_DIR"),
            "/../../shared/fixtures/windows/evtx/rundll32_cmd_schtask.evtx"));
        let mut bytes = std::fs::read(path).expect("fixture shared/fixtures/windows/evtx/rundll32_cmd_schtask.evtx");
        for (at, x) in flips {
            // Keep the file header's magic so the file is still taken as EVTX.
            if at >= 8 && at < bytes.len() {
                bytes[at] ^= x | 1;
            }
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("damaged.evtx");
        std::fs::write(&file, &bytes).expect("write");
        let stats = ReplayStats::default();
        let health = Health::new();
        let (_t, shutdown) = Shutdown::new();
        let mut n = 0u64;
        sensor_windows::replay::replay_evtx_file(&file, &stats, &mut |_| { n += 1; true }, &health, &shutdown)
            .expect("the file opens");
        let read = stats.records_read.load(Ordering::Relaxed);
        let events = stats.events.load(Ordering::Relaxed);
        let ignored = stats.ignored.load(Ordering::Relaxed);
        let malformed = stats.malformed.load(Ordering::Relaxed);
        prop_assert_eq!(n, events);
        // Chunk-level damage is malformed without a record read; every record read is one of the three.
        prop_assert!(events + ignored <= read);
        prop_assert!(read <= events + ignored + malformed);
    }
}
