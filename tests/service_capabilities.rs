//! The systemd unit's capability set is enough, and each eBPF capability in it is needed:
//! `picket run` under `setpriv` with exactly the unit's CapabilityBoundingSet attaches and
//! runs; without CAP_BPF it stops with a clear error. Needs root (CI runs as root).
#![cfg(target_os = "linux")]

use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const PICKET: &str = env!("CARGO_BIN_EXE_picket");

/// `+bpf,+perfmon,...` from the unit's `CapabilityBoundingSet=CAP_BPF CAP_PERFMON ...`.
fn unit_capabilities() -> Vec<String> {
    let line = packaging::SYSTEMD_UNIT
        .lines()
        .find_map(|l| l.strip_prefix("CapabilityBoundingSet="))
        .expect("the unit sets CapabilityBoundingSet");
    line.split_whitespace()
        .map(|c| c.trim_start_matches("CAP_").to_ascii_lowercase())
        .collect()
}

fn bounding_set(caps: &[String]) -> String {
    let mut arg = String::from("-all");
    for c in caps {
        arg.push_str(",+");
        arg.push_str(c);
    }
    arg
}

fn config(dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("picket.toml");
    std::fs::write(
        &path,
        format!(
            "[general]\nstate_dir = \"{}\"\n[sinks.file]\npath = \"{}\"\n",
            dir.join("state").display(),
            dir.join("alerts.jsonl").display()
        ),
    )
    .expect("write config");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    path
}

#[test]
fn unit_capabilities_suffice_and_cap_bpf_is_needed() {
    // SAFETY: geteuid has no preconditions.
    assert_eq!(
        unsafe { libc::geteuid() },
        0,
        "run as root (CI does): the test drops capabilities from root"
    );
    let caps = unit_capabilities();
    assert!(
        caps.contains(&"bpf".to_string()) && caps.contains(&"perfmon".to_string()),
        "{caps:?}"
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = config(dir.path());

    let mut child = Command::new("setpriv")
        .arg(format!("--bounding-set={}", bounding_set(&caps)))
        .arg("--inh-caps=-all")
        .args([PICKET, "run", "--config"])
        .arg(&cfg)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("setpriv (util-linux)");
    let status_file = dir.path().join("state/status.json");
    let start = Instant::now();
    let running = loop {
        let text = std::fs::read_to_string(&status_file).unwrap_or_default();
        if text.contains("\"state\": \"running\"") {
            break true;
        }
        if child.try_wait().expect("wait").is_some() || start.elapsed() > Duration::from_secs(30) {
            break false;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    // SAFETY: kill has no memory-safety preconditions.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let status = child.wait().expect("wait");
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut stderr)
        .expect("read");
    assert!(running, "picket runs with only {caps:?}: {stderr}");
    assert!(status.success(), "clean shutdown on SIGTERM: {stderr}");

    let without_bpf: Vec<String> = caps.iter().filter(|c| *c != "bpf").cloned().collect();
    let out = Command::new("setpriv")
        .arg(format!("--bounding-set={}", bounding_set(&without_bpf)))
        .arg("--inh-caps=-all")
        .args([PICKET, "run", "--config"])
        .arg(&cfg)
        .output()
        .expect("setpriv");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "fails without CAP_BPF");
    assert!(
        err.contains("CAP_BPF"),
        "the error names what is missing: {err}"
    );

    // A collector host's syslog listener on port 514 needs CAP_NET_BIND_SERVICE, which
    // the unit grants; without it start-up fails naming the address.
    let syslog_cfg = dir.path().join("syslog.toml");
    std::fs::write(
        &syslog_cfg,
        format!(
            "[general]\nstate_dir = \"{}\"\n[collector]\nhost = false\n[inputs.syslog]\nenabled = true\n[[inputs.syslog.listeners]]\naddress = \"127.0.0.1:514\"\nprotocol = \"tcp\"\n[sinks.file]\npath = \"{}\"\n",
            dir.path().join("state-syslog").display(),
            dir.path().join("alerts-syslog.jsonl").display()
        ),
    )
    .expect("write config");
    let run_with = |caps: &[String]| {
        let mut child = Command::new("setpriv")
            .arg(format!("--bounding-set={}", bounding_set(caps)))
            .arg("--inh-caps=-all")
            .args([PICKET, "run", "--config"])
            .arg(&syslog_cfg)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("setpriv");
        let start = Instant::now();
        let listening = loop {
            if std::net::TcpStream::connect("127.0.0.1:514").is_ok() {
                break true;
            }
            if child.try_wait().expect("wait").is_some()
                || start.elapsed() > Duration::from_secs(20)
            {
                break false;
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        // SAFETY: kill has no memory-safety preconditions.
        unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
        let out = child.wait_with_output().expect("wait");
        (listening, String::from_utf8_lossy(&out.stderr).into_owned())
    };
    assert!(
        caps.contains(&"net_bind_service".to_string()),
        "the unit grants CAP_NET_BIND_SERVICE: {caps:?}"
    );
    let (listening, err) = run_with(&caps);
    assert!(
        listening,
        "listens on 514 with the unit's capabilities: {err}"
    );
    let without: Vec<String> = caps
        .iter()
        .filter(|c| *c != "net_bind_service")
        .cloned()
        .collect();
    let (listening, err) = run_with(&without);
    assert!(!listening, "514 needs CAP_NET_BIND_SERVICE");
    assert!(
        err.contains("127.0.0.1:514"),
        "the error names the address: {err}"
    );
}
