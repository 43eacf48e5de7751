//! Shared by the integration tests that drive the real `picket` binary.

use serde_json::Value;
use std::path::Path;
use std::process::Command;

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
