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

/// Whether the tests run as root (mounting a tmpfs needs it; CI runs as root).
pub fn running_as_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// A tmpfs of `size` mounted at a directory for one test, unmounted on drop: a disk a
/// test can fill and free.
pub struct Tmpfs(std::path::PathBuf);

impl Tmpfs {
    /// Mounts it; `why` says what the test needs it for, in the not-root failure.
    pub fn mount(dir: &Path, size: &str, why: &str) -> Tmpfs {
        assert!(running_as_root(), "{why}: run it as root (CI does)");
        std::fs::create_dir_all(dir).expect("mount point");
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .status()
            .expect("mount");
        assert!(status.success(), "mount -t tmpfs failed");
        Tmpfs(dir.to_path_buf())
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}
