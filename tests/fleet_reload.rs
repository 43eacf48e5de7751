//! Fleet configuration, for real: `picket run` with the eBPF collector, a conf.d push that
//! adds a UtilityNameList entry (a harmless binary made here) and takes effect without a
//! restart, then an invalid push that keeps the last good config and shows up in
//! `picket status` with file and line. Needs root (CI runs as root).
#![cfg(target_os = "linux")]

use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const PICKET: &str = env!("CARGO_BIN_EXE_picket");
const TEST_USER: &str = "picketfleet";

fn require_root() {
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { libc::geteuid() };
    assert_eq!(
        euid, 0,
        "this test loads eBPF and creates a user: run it as root (CI does)"
    );
}

fn ensure_user() -> u32 {
    let _ = Command::new("useradd")
        .args([
            "--system",
            "--no-create-home",
            "--shell",
            "/bin/sh",
            "--uid",
            "1742",
            TEST_USER,
        ])
        .output();
    let out = Command::new("id")
        .args(["-u", TEST_USER])
        .output()
        .expect("id");
    assert!(
        out.status.success(),
        "useradd {TEST_USER} failed (scripts/setup.sh installs passwd)"
    );
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .expect("uid")
}

fn write_private(path: &Path, text: &str) {
    std::fs::write(path, text).expect("write config");
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
}

struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        // SAFETY: kill has no memory-safety preconditions.
        unsafe { libc::kill(self.0.id() as i32, libc::SIGTERM) };
        let _ = self.0.wait();
    }
}

fn run_as_user(uid: u32, program: &Path, args: &[&str]) {
    let status = Command::new("setpriv")
        .args([
            format!("--reuid={uid}"),
            format!("--regid={uid}"),
            "--clear-groups".into(),
        ])
        .arg(program)
        .args(args)
        .stdout(Stdio::null())
        .status()
        .expect("setpriv");
    assert!(status.success(), "{} ran", program.display());
}

fn alerts_for(log: &Path, marker: &str) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    text.lines()
        .filter(|l| l.contains(marker))
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// Runs `probe` as the test user until an alert naming `marker` appears, for at most `limit`.
fn alert_appears(uid: u32, probe: &Path, marker: &str, log: &Path, limit: Duration) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        run_as_user(uid, probe, &[marker]);
        std::thread::sleep(Duration::from_millis(100));
        if !alerts_for(log, marker).is_empty() {
            return true;
        }
    }
    false
}

fn wait_for_running(state: &Path, daemon: &mut Daemon) {
    let start = Instant::now();
    loop {
        if let Ok(text) = std::fs::read_to_string(state.join("status.json")) {
            if text.contains("\"state\": \"running\"") {
                return;
            }
        }
        if let Ok(Some(status)) = daemon.0.try_wait() {
            let mut err = String::new();
            if let Some(e) = daemon.0.stderr.as_mut() {
                let _ = e.read_to_string(&mut err);
            }
            panic!("picket run exited early ({status}): {err}");
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "collector not running after 30 s"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn conf_d_push_takes_effect_live_and_a_bad_push_keeps_the_last_good_config() {
    require_root();
    let uid = ensure_user();
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let etc = dir.path().join("etc");
    let conf_d = etc.join("conf.d");
    std::fs::create_dir_all(&conf_d).expect("mkdir");
    let state = dir.path().join("state");
    let log = dir.path().join("alerts.jsonl");
    let main = etc.join("picket.toml");
    write_private(
        &main,
        &format!(
            "[general]\nstate_dir = \"{}\"\n\n[sinks.file]\npath = \"{}\"\nfsync = \"never\"\n\n[analytics]\nfold_window_secs = 0\n",
            state.display(),
            log.display()
        ),
    );
    // The harmless binary: a copy of `true` under a name no list knows.
    let bin_dir = dir.path().join("bin");
    std::fs::create_dir(&bin_dir).expect("mkdir");
    std::fs::set_permissions(&bin_dir, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let probe: PathBuf = bin_dir.join("picket-fleet-probe");
    std::fs::copy("/bin/true", &probe).expect("copy /bin/true");

    let mut daemon = Daemon(
        Command::new(PICKET)
            // A relative --config, as an operator in /etc/picket would type it: the
            // watcher must still match the absolute paths it reports.
            .current_dir(&etc)
            .args(["run", "--config", "picket.toml"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start picket run"),
    );
    wait_for_running(&state, &mut daemon);

    // Before the push the probe is nobody's discovery tool.
    run_as_user(uid, &probe, &["before-push"]);
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        alerts_for(&log, "before-push").is_empty(),
        "no alert before the push"
    );

    write_private(
        &conf_d.join("50-probe.toml"),
        "[analytics.an0904.utility_name_list]\nutilities_append = [\"picket-fleet-probe\"]\n",
    );
    assert!(
        alert_appears(uid, &probe, "after-push", &log, Duration::from_secs(2)),
        "the pushed UtilityNameList entry alerts within 2 s, without a restart"
    );
    let alert = alerts_for(&log, "after-push").remove(0);
    assert_eq!(alert["picket"]["analytic"], "AN0904");
    assert_eq!(alert["picket"]["matched_value"], "picket-fleet-probe");
    assert_eq!(alert["user"]["id"], uid.to_string());

    // An invalid push: refused as a whole, the last good config stays in force.
    write_private(
        &conf_d.join("60-broken.toml"),
        "\n[analytics.an0904]\nseverity = \"extreme\"\n",
    );
    let start = Instant::now();
    let status = loop {
        let out = Command::new(PICKET)
            .args(["status", "--state-dir"])
            .arg(&state)
            .output()
            .expect("picket status");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        if text.contains("60-broken.toml") || start.elapsed() > Duration::from_secs(10) {
            break text;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(
        status.contains("60-broken.toml:3:"),
        "status names file and line: {status}"
    );
    assert!(
        status.contains("analytics.an0904.severity"),
        "status names the field: {status}"
    );
    assert!(
        alert_appears(uid, &probe, "after-bad-push", &log, Duration::from_secs(2)),
        "still alerting with the previous config"
    );
    let bad = alerts_for(&log, "after-bad-push").remove(0);
    assert_eq!(
        bad["picket"]["config_hash"], alert["picket"]["config_hash"],
        "same config as before the bad push"
    );
    assert!(
        daemon.0.try_wait().expect("wait").is_none(),
        "picket kept running"
    );
}
