//! Prints every record of the given EVTX files as one JSON line, as `evtx_dump -o jsonl`
//! does (the evtx crate's rendering, which `picket replay --format evtx` also maps);
//! with `--winlogbeat`, as the Winlogbeat document of the same record (`winlog.*`,
//! dotted keys, string event data). `scripts/fuzz.sh` builds the `winlog_json` seeds
//! with it from the recorded logs in `../shared/fixtures`.
//!
//! `cargo run -p sensor-windows --example evtx_jsonl -- [--winlogbeat] FILE.evtx...`

use serde_json::{json, Value};
use std::io::Write;

fn winlogbeat(rec: &Value) -> Value {
    let sys = &rec["Event"]["System"];
    let data: serde_json::Map<String, Value> = rec["Event"]["EventData"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| {
                    let s = match v {
                        Value::String(s) => s.clone(),
                        Value::Null => String::new(),
                        other => other.to_string(),
                    };
                    (k.clone(), Value::String(s))
                })
                .collect()
        })
        .unwrap_or_default();
    json!({
        "@timestamp": sys["TimeCreated"]["#attributes"]["SystemTime"],
        "winlog.event_id": sys["EventID"].to_string(),
        "winlog.record_id": sys["EventRecordID"].to_string(),
        "winlog.channel": sys["Channel"],
        "winlog.computer_name": sys["Computer"],
        "winlog.provider_name": sys["Provider"]["#attributes"]["Name"],
        "winlog.event_data": data,
        "agent": {"type": "winlogbeat"}
    })
}

fn main() -> std::process::ExitCode {
    let mut beat = false;
    let mut out = std::io::stdout().lock();
    for arg in std::env::args().skip(1) {
        if arg == "--winlogbeat" {
            beat = true;
            continue;
        }
        let mut parser = match evtx::EvtxParser::from_path(&arg) {
            Ok(p) => p,
            Err(e) => {
                eprintln!("evtx_jsonl: {arg}: {e}");
                return std::process::ExitCode::FAILURE;
            }
        };
        for record in parser.records_json_value().flatten() {
            let line = if beat {
                winlogbeat(&record.data)
            } else {
                record.data
            };
            if writeln!(out, "{line}").is_err() {
                return std::process::ExitCode::FAILURE;
            }
        }
    }
    std::process::ExitCode::SUCCESS
}
