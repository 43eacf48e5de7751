//! The baselines `scripts/bench.sh` puts beside `picket replay`: one core reading an
//! NDJSON file and parsing every line into a `serde_json::Value` (what any JSON reader
//! pays), and the same with Picket's one-pass ECS reader (`Event::from_json_slice`),
//! without the pipeline behind it.
//!
//! Usage: `cargo run --release -p sensor-core --example ndjson_baseline -- FILE`
//! Prints `value LINES SECONDS` and `event LINES SECONDS`.

use std::io::BufRead;
use std::time::Instant;

fn main() -> std::io::Result<()> {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: ndjson_baseline FILE");
        std::process::exit(2);
    };
    for mode in ["value", "event"] {
        let reader = std::io::BufReader::with_capacity(1 << 20, std::fs::File::open(&path)?);
        let start = Instant::now();
        let (mut lines, mut bad) = (0u64, 0u64);
        for line in reader.split(b'\n') {
            let line = line?;
            let ok = match mode {
                "value" => serde_json::from_slice::<serde_json::Value>(&line).is_ok(),
                _ => sensor_core::Event::from_json_slice(&line).is_ok(),
            };
            lines += 1;
            bad += u64::from(!ok);
        }
        let secs = start.elapsed().as_secs_f64();
        println!("{mode} {lines} {secs:.3} {bad}");
    }
    Ok(())
}
