//! Parser throughput: `cargo bench -p sensor-macos --bench parse`.
//!
//! Parses the real eslogger samples and the built fixtures, repeated, with a health
//! registry attached (as in replay and live use), and prints lines/s and MB/s. Plain
//! `Instant` timing (no criterion): one number per input mix, best of several rounds.

use sensor_core::health::Health;
use sensor_core::replay::LineParser;
use sensor_macos::EsloggerParser;
use std::time::Instant;

fn load(path: &str) -> Vec<Vec<u8>> {
    let text = std::fs::read(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    text.split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(<[u8]>::to_vec)
        .collect()
}

fn run(name: &str, lines: &[Vec<u8>], repeat: usize) {
    let bytes: usize = lines.iter().map(Vec::len).sum::<usize>() * repeat;
    let n = lines.len() * repeat;
    let mut best = f64::MAX;
    let mut events = Vec::with_capacity(4);
    let mut produced = 0usize;
    for _ in 0..5 {
        let health = Health::new();
        let mut parser = EsloggerParser::for_replay();
        parser.attach_health(&health);
        let start = Instant::now();
        for _ in 0..repeat {
            for line in lines {
                events.clear();
                let _ = parser.parse_line(line, &mut events);
                produced += events.len();
            }
        }
        best = best.min(start.elapsed().as_secs_f64());
    }
    println!(
        "{name}: {n} lines, {:.1} MB in {:.3} s: {:.0} lines/s, {:.0} MB/s ({produced} events over all rounds)",
        bytes as f64 / 1e6,
        best,
        n as f64 / best,
        bytes as f64 / 1e6 / best
    );
}

fn main() {
    let real = load(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/fixtures/macos/eslogger-samples.jsonl"
    ));
    run("real samples (v9/v10/v11)", &real, 5000);
    let mut built = Vec::new();
    for f in [
        "terminal_zsh.jsonl",
        "app_via_sh.jsonl",
        "osascript_do_shell_script.jsonl",
        "tree_fork_exec_exit.jsonl",
    ] {
        built.extend(load(&format!(
            "{}/tests/data/{f}",
            env!("CARGO_MANIFEST_DIR")
        )));
    }
    run("built fixtures (exec/fork/exit mix)", &built, 500);
}
