//! Faults injected under the real `picket run` (issue 17): each is counted in the
//! status file and recovered from without a restart. The collector is the syslog input
//! (no eBPF), fed over TCP with ESXi shell lines that raise AN0906; the kernel ring
//! buffer case is in `e2e_linux.rs`, the stalled syslog peer in
//! `sensor-logs/tests/receiver.rs`. Needs root (a read-only bind mount; CI runs as root).
#![cfg(target_os = "linux")]

mod common;

use serde_json::Value;
use std::io::Write;
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(30);

fn require_root() {
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { libc::geteuid() };
    assert_eq!(
        euid, 0,
        "this test mounts a read-only bind mount: run it as root (CI does)"
    );
}

fn free_tcp_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

/// `picket run` with a syslog TCP listener; stopped with SIGTERM when dropped.
struct Daemon {
    child: Child,
    port: u16,
    state: PathBuf,
    log: PathBuf,
}

impl Daemon {
    /// Writes `dir/picket.toml` (plus `extra`), starts picket and waits for the listener.
    fn start(dir: &Path, log: &Path, extra: &str) -> Daemon {
        let port = free_tcp_port();
        let state = dir.join("state");
        let config = dir.join("picket.toml");
        std::fs::write(
            &config,
            format!(
                "[general]\nstate_dir = \"{}\"\n[collector]\nhost = false\n\
                 [inputs.syslog]\nenabled = true\n[[inputs.syslog.listeners]]\n\
                 address = \"127.0.0.1:{port}\"\nprotocol = \"tcp\"\nframing = \"lf\"\n\
                 [analytics]\nfold_window_secs = 0\n[sinks.file]\npath = \"{}\"\n{extra}",
                state.display(),
                log.display()
            ),
        )
        .expect("write config");
        std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        let child = common::start_picket_run(&config);
        let mut d = Daemon {
            child,
            port,
            state,
            log: log.to_path_buf(),
        };
        let up = common::poll_until(1, WAIT, || {
            TcpStream::connect(("127.0.0.1", port))
                .map(|_| vec![()])
                .unwrap_or_default()
        });
        d.running();
        assert_eq!(up.len(), 1, "picket's syslog listener never came up");
        let written = common::poll_until(1, WAIT, || d.status().into_iter().collect());
        assert_eq!(written.len(), 1, "no status file");
        d
    }

    fn running(&mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
            panic!("picket run exited early: {status}");
        }
    }

    /// The status file, if it can be read now.
    fn status(&self) -> Option<Value> {
        let text = std::fs::read_to_string(self.state.join("status.json")).ok()?;
        serde_json::from_str(&text).ok()
    }

    /// Polls the status file until `done` holds for it; returns it (the caller asserts).
    fn status_until(&self, done: impl Fn(&Value) -> bool) -> Value {
        let got = common::poll_until(1, WAIT, || {
            self.status().filter(|s| done(s)).into_iter().collect()
        });
        got.into_iter()
            .next()
            .or_else(|| self.status())
            .unwrap_or(Value::Null)
    }

    /// Sends one ESXi shell command line per `users` entry (each raises AN0906).
    fn send_alerting(&self, users: &[String]) {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).expect("connect");
        for u in users {
            let line = format!(
                "<14>2026-12-01T10:00:00Z esx-fault shell[4242]: [{u}]: esxcli network ip connection list\n"
            );
            s.write_all(line.as_bytes()).expect("send");
        }
    }

    /// The AN0906 alerts in the log and its rotated files, by user name.
    fn alerted_users(&self) -> Vec<String> {
        let mut users = Vec::new();
        for n in 0..=30 {
            let path = if n == 0 {
                self.log.clone()
            } else {
                PathBuf::from(format!("{}.{n}", self.log.display()))
            };
            for a in common::logged_alerts(&path) {
                if let Some(u) = a["user"]["name"].as_str() {
                    users.push(u.to_string());
                }
            }
        }
        users.sort();
        users
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        // SAFETY: kill has no memory-safety preconditions.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let _ = self.child.wait();
    }
}

fn count(status: &Value, name: &str) -> u64 {
    status["counts"][name].as_u64().unwrap_or(0)
}

fn loss(status: &Value, name: &str) -> u64 {
    status["losses"][name].as_u64().unwrap_or(0)
}

fn users(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}{i:02}")).collect()
}

#[test]
fn the_state_directory_removed_while_running_is_made_again_and_counted() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = Daemon::start(dir.path(), &dir.path().join("alerts.jsonl"), "");
    let before = d.status().expect("status");
    assert_eq!(count(&before, "state_dir.recreated"), 0, "{before}");
    std::fs::remove_dir_all(&d.state).expect("remove the state directory");
    let after = d.status_until(|s| count(s, "state_dir.recreated") >= 1);
    assert_eq!(count(&after, "state_dir.recreated"), 1, "{after}");
    assert!(
        after["notes"]["state_dir"]
            .as_str()
            .is_some_and(|n| n.contains("removed")),
        "{after}"
    );
    let mode = std::fs::metadata(&d.state)
        .expect("state dir")
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o700, "made again private");
    // Still collecting: an alert after the removal reaches the log.
    d.send_alerting(&users("state", 1));
    let got = common::poll_until(1, WAIT, || d.alerted_users());
    assert_eq!(got, ["state00"]);
}

/// A read-only bind mount over a directory, unmounted when dropped.
struct ReadOnly(PathBuf);

impl ReadOnly {
    fn mount(dir: &Path) -> ReadOnly {
        let run = |args: &[&str]| {
            let st = Command::new("mount").args(args).arg(dir).arg(dir).status();
            assert!(
                st.is_ok_and(|s| s.success()),
                "mount {args:?} {}",
                dir.display()
            );
        };
        run(&["--bind"]);
        let guard = ReadOnly(dir.to_path_buf());
        let st = Command::new("mount")
            .args(["-o", "remount,ro,bind"])
            .arg(dir)
            .status();
        assert!(
            st.is_ok_and(|s| s.success()),
            "remount ro {}",
            dir.display()
        );
        guard
    }
}

impl Drop for ReadOnly {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

/// The alert log's directory made read-only (a bind mount, which stops root too): the
/// open log still takes writes, but each rotation fails, so alerts are kept in memory
/// (`sink.file.kept`, one outage in `sink.file.outages`) and all written, none lost,
/// once the directory is writable again.
#[test]
fn the_alert_log_directory_made_read_only_keeps_alerts_and_writes_them_after() {
    require_root();
    let dir = tempfile::tempdir().expect("tempdir");
    let logs = dir.path().join("logs");
    std::fs::create_dir(&logs).expect("mkdir");
    // Rotation every few alerts, keeping every file the test writes.
    let d = Daemon::start(
        dir.path(),
        &logs.join("alerts.jsonl"),
        "max_bytes = 4096\nkeep_files = 30\n",
    );
    d.send_alerting(&users("a", 2));
    assert_eq!(common::poll_until(2, WAIT, || d.alerted_users()).len(), 2);

    let ro = ReadOnly::mount(&logs);
    d.send_alerting(&users("b", 10));
    let held = d.status_until(|s| count(s, "sink.file.kept") >= 1);
    assert!(count(&held, "sink.file.kept") >= 1, "{held}");
    assert_eq!(count(&held, "sink.file.outages"), 1, "{held}");
    assert!(
        held["notes"]["sink.file"]
            .as_str()
            .is_some_and(|n| n.contains("cannot write")),
        "{held}"
    );

    drop(ro);
    let all = common::poll_until(12, WAIT, || d.alerted_users());
    let mut want = users("a", 2);
    want.extend(users("b", 10));
    assert_eq!(
        all, want,
        "every alert written once, in the log or a rotated file"
    );
    let after = d.status_until(|s| count(s, "sink.file.kept") == 0 && s["alerts_raised"] == 12);
    assert_eq!(count(&after, "sink.file.kept"), 0, "{after}");
    assert_eq!(loss(&after, "sink.file"), 0, "{after}");
    assert_eq!(after["alerts_written"], 12, "{after}");
    assert!(
        after["notes"]["sink.file"]
            .as_str()
            .is_some_and(|n| n.starts_with("recovered")),
        "{after}"
    );
}

/// A conf.d file replaced by a directory: the reload is refused naming it, counted
/// (`config.reload_failed`), and the last good config stays; putting the file back
/// reloads it.
#[test]
fn a_conf_d_file_replaced_by_a_directory_is_refused_and_counted_then_reloaded() {
    let dir = tempfile::tempdir().expect("tempdir");
    let conf_d = dir.path().join("conf.d");
    std::fs::create_dir(&conf_d).expect("mkdir");
    std::fs::set_permissions(&conf_d, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let layer = conf_d.join("50-level.toml");
    let write_layer = |text: &str| {
        std::fs::write(&layer, text).expect("write layer");
        std::fs::set_permissions(&layer, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    };
    write_layer("[general]\nlog_level = \"debug\"\n");
    let d = Daemon::start(dir.path(), &dir.path().join("alerts.jsonl"), "");
    let first = d.status().expect("status");
    let hash = first["config"]["hash"].clone();
    assert_eq!(
        first["config"]["sources"].as_array().map(Vec::len),
        Some(2),
        "{first}"
    );

    std::fs::remove_file(&layer).expect("rm layer");
    std::fs::create_dir(&layer).expect("a directory in its place");
    let refused = d.status_until(|s| count(s, "config.reload_failed") >= 1);
    assert!(count(&refused, "config.reload_failed") >= 1, "{refused}");
    let errors = refused["last_reload_error"]["errors"].to_string();
    assert!(
        errors.contains("50-level.toml") && errors.contains("a directory"),
        "{refused}"
    );
    assert_eq!(
        refused["config"]["hash"], hash,
        "the last good config stays"
    );

    std::fs::remove_dir(&layer).expect("rm dir");
    write_layer("[general]\nlog_level = \"warn\"\n");
    let back = d.status_until(|s| s["last_reload_error"].is_null() && s["config"]["hash"] != hash);
    assert!(back["last_reload_error"].is_null(), "{back}");
    assert_ne!(back["config"]["hash"], hash, "{back}");
    assert!(count(&back, "config.reloaded") >= 1, "{back}");
    // Still collecting after both reloads.
    d.send_alerting(&users("conf", 1));
    assert_eq!(
        common::poll_until(1, WAIT, || d.alerted_users()),
        ["conf00"]
    );
}
