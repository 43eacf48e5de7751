//! `picket run` under systemd's notify protocol, as `Type=notify` and `WatchdogSec=` in
//! the unit use it: READY=1 first, WATCHDOG=1 at half the
//! watchdog timeout, STOPPING=1 on SIGTERM, then a clean exit. The notify socket is a
//! real datagram socket named in NOTIFY_SOCKET, as systemd sets it up. Needs root (the
//! eBPF collector; CI runs as root).
#![cfg(target_os = "linux")]

use std::os::unix::net::UnixDatagram;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const PICKET: &str = env!("CARGO_BIN_EXE_picket");

fn next_state(socket: &UnixDatagram) -> String {
    let mut buf = [0u8; 512];
    let n = socket
        .recv(&mut buf)
        .expect("a notification within the timeout");
    String::from_utf8_lossy(&buf[..n]).trim().to_string()
}

#[test]
fn ready_after_the_collector_runs_then_watchdog_then_stopping() {
    // SAFETY: geteuid has no preconditions.
    assert_eq!(
        unsafe { libc::geteuid() },
        0,
        "run as root (CI does): picket run loads eBPF programs"
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("picket.toml");
    std::fs::write(
        &config,
        format!(
            "[general]\nstate_dir = \"{}\"\n[sinks.file]\npath = \"{}\"\n",
            dir.path().join("state").display(),
            dir.path().join("alerts.jsonl").display()
        ),
    )
    .expect("write config");
    let socket_path = dir.path().join("notify.sock");
    let socket = UnixDatagram::bind(&socket_path).expect("bind the notify socket");
    socket
        .set_read_timeout(Some(Duration::from_secs(60)))
        .expect("read timeout");

    // systemd names the watched process in WATCHDOG_PID: the shell's pid is picket's
    // once it execs.
    let mut child = Command::new("sh")
        .args([
            "-c",
            "export WATCHDOG_PID=$$; exec \"$0\" run --config \"$1\"",
        ])
        .arg(PICKET)
        .arg(&config)
        .env("NOTIFY_SOCKET", &socket_path)
        // WatchdogSec=2s: a ping every second.
        .env("WATCHDOG_USEC", "2000000")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("picket run");

    assert_eq!(next_state(&socket), "READY=1");
    let start = Instant::now();
    assert_eq!(next_state(&socket), "WATCHDOG=1");
    assert_eq!(next_state(&socket), "WATCHDOG=1");
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "pings come at half WatchdogSec, not {:?}",
        start.elapsed()
    );

    // SAFETY: kill has no memory-safety preconditions.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let mut rest = Vec::new();
    loop {
        let state = next_state(&socket);
        let stopping = state == "STOPPING=1";
        rest.push(state);
        if stopping {
            break;
        }
    }
    assert!(
        rest.iter().all(|s| s == "WATCHDOG=1" || s == "STOPPING=1"),
        "{rest:?}"
    );
    assert!(
        child.wait().expect("wait").success(),
        "clean exit on SIGTERM"
    );
}
