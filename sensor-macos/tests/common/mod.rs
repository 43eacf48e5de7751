//! Shared test helpers: fixture paths and parsing a whole file.
#![allow(dead_code)]

use sensor_core::health::Health;
use sensor_core::replay::LineParser;
use sensor_core::Event;
use sensor_macos::EsloggerParser;
use std::path::PathBuf;
use std::sync::Arc;

/// The real eslogger samples, read in place.
pub const REAL_SAMPLES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/fixtures/macos/eslogger-samples.jsonl"
);

/// A built fixture in tests/data.
pub fn data(name: &str) -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data")).join(name)
}

/// The lines of a fixture file; a missing file fails the test, naming it.
pub fn lines(path: &std::path::Path) -> Vec<Vec<u8>> {
    let text = std::fs::read(path)
        .unwrap_or_else(|e| panic!("fixture {} cannot be read: {e}", path.display()));
    text.split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(<[u8]>::to_vec)
        .collect()
}

/// Parses every line of `path` with a replay parser attached to a fresh health
/// registry. Returns the events, the per-line results and the parser and health.
pub struct Parsed {
    pub events: Vec<Event>,
    pub results: Vec<Result<usize, String>>,
    pub parser: EsloggerParser,
    pub health: Arc<Health>,
}

pub fn parse_file(path: &std::path::Path) -> Parsed {
    let health = Health::new();
    let mut parser = EsloggerParser::for_replay();
    parser.attach_health(&health);
    let mut events = Vec::new();
    let mut results = Vec::new();
    for line in lines(path) {
        let before = events.len();
        results.push(
            parser
                .parse_line(&line, &mut events)
                .map(|()| events.len() - before),
        );
    }
    Parsed {
        events,
        results,
        parser,
        health,
    }
}
