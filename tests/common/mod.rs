//! Shared by the integration tests that drive the real `picket` binary.

// Each test crate uses some of these.
#![allow(dead_code)]

use serde_json::Value;
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// Runs `picket replay --format FORMAT FILE` and returns the NDJSON alerts it printed;
/// the test fails, with stderr, if the replay does not succeed.
pub fn replay_alerts(format: &str, file: &Path) -> Vec<Value> {
    let out = Command::new(env!("CARGO_BIN_EXE_picket"))
        .args(["replay", "--format", format])
        .arg(file)
        .env_remove("RUST_LOG")
        .output()
        .expect("run picket replay");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("NDJSON alert"))
        .collect()
}

/// Starts `picket run --config CONFIG`, stderr piped (read it with `wait_with_output`).
pub fn start_picket_run(config: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_picket"))
        .args(["run", "--config"])
        .arg(config)
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start picket run")
}

/// Every alert in the alert log at `log` so far (none if it does not exist yet).
pub fn logged_alerts(log: &Path) -> Vec<Value> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// Reads `read()` until it holds at least `n` items or `within` has passed; returns
/// the last reading (a test then asserts on what it holds).
pub fn poll_until<T>(n: usize, within: std::time::Duration, read: impl Fn() -> Vec<T>) -> Vec<T> {
    let deadline = std::time::Instant::now() + within;
    loop {
        let items = read();
        if items.len() >= n || std::time::Instant::now() > deadline {
            return items;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}
