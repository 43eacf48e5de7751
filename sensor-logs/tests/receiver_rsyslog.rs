//! The receiver fed by a real rsyslog (Debian's `/usr/sbin/rsyslogd`, started with its
//! own config, pid file and work directory in a temp dir, no system config): messages
//! injected with `logger` into rsyslog's imudp are forwarded by omfwd over TCP with
//! octet counting, over TLS (the `ossl` driver, anonymous auth) with octet counting, and
//! over TLS with rsyslog's traditional LF framing, each to its own listener. Every
//! message must arrive once on each path.

#![cfg(feature = "tls")]

mod receiver_support;

use receiver_support::*;
use std::collections::HashMap;
use std::net::UdpSocket;
use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

const RSYSLOGD: &str = "/usr/sbin/rsyslogd";
const LOGGER: &str = "/usr/bin/logger";

/// An rsyslogd child, killed if the test fails.
struct Rsyslog(Child);

impl Rsyslog {
    fn start(dir: &Path, config: &str) -> Rsyslog {
        assert!(
            Path::new(RSYSLOGD).exists(),
            "{RSYSLOGD} is missing: run scripts/setup.sh (Debian packages rsyslog, rsyslog-openssl)"
        );
        let conf = dir.join("rsyslog.conf");
        std::fs::write(&conf, config).expect("write rsyslog.conf");
        let child = Command::new(RSYSLOGD)
            .arg("-n")
            .arg("-f")
            .arg(&conf)
            .arg("-i")
            .arg(dir.join("rsyslogd.pid"))
            .spawn()
            .expect("start rsyslogd");
        Rsyslog(child)
    }

    fn assert_running(&mut self, config: &str) {
        if let Ok(Some(status)) = self.0.try_wait() {
            panic!("rsyslogd exited ({status}); config:\n{config}");
        }
    }

    /// SIGTERM, so rsyslog closes its connections cleanly.
    fn stop(mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.0.id().to_string())
            .status();
        let _ = self.0.wait();
    }
}

impl Drop for Rsyslog {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn rsyslog_forwards_over_tcp_and_tls_and_every_message_arrives() {
    const N: usize = 1000;
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let (cert, key) = self_signed(d);
    let r = Running::start(&config(vec![
        on_loopback(sensor_logs::receiver::ListenerProtocol::Tcp),
        tls_listener(&cert, &key),
        tls_listener(&cert, &key),
    ]));
    let udp_port = UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .expect("free port")
        .port();
    let (tcp, tls_oc, tls_lf) = (r.port(0), r.port(1), r.port(2));
    let ca = cert.display();
    // Each action has its own queue and retries forever, so a slow start of one path
    // holds its messages instead of dropping them.
    let config = format!(
        r#"global(workDirectory="{dir}" DefaultNetstreamDriverCAFile="{ca}")
module(load="imudp")
input(type="imudp" address="127.0.0.1" port="{udp_port}" ruleset="forward" rcvbufSize="8m")
ruleset(name="forward") {{
  action(type="omfwd" target="127.0.0.1" port="{tcp}" protocol="tcp" TCP_Framing="octet-counted"
         template="RSYSLOG_SyslogProtocol23Format"
         queue.type="LinkedList" action.resumeRetryCount="-1" action.resumeInterval="1")
  action(type="omfwd" target="127.0.0.1" port="{tls_oc}" protocol="tcp" TCP_Framing="octet-counted"
         StreamDriver="ossl" StreamDriverMode="1" StreamDriverAuthMode="anon"
         template="RSYSLOG_SyslogProtocol23Format"
         queue.type="LinkedList" action.resumeRetryCount="-1" action.resumeInterval="1")
  action(type="omfwd" target="127.0.0.1" port="{tls_lf}" protocol="tcp"
         StreamDriver="ossl" StreamDriverMode="1" StreamDriverAuthMode="anon"
         queue.type="LinkedList" action.resumeRetryCount="-1" action.resumeInterval="1")
}}
"#,
        dir = d.display()
    );
    let mut rsyslog = Rsyslog::start(d, &config);

    // Ready once a probe has come through all three paths.
    let probe = UdpSocket::bind("127.0.0.1:0").expect("bind");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        rsyslog.assert_running(&config);
        let _ = probe.send_to(b"<14>ready-probe", ("127.0.0.1", udp_port));
        std::thread::sleep(Duration::from_millis(200));
        let got = r.collect.got();
        let paths: std::collections::HashSet<usize> = got
            .iter()
            .filter(|g| g.text.contains("ready-probe"))
            .map(|g| g.listener)
            .collect();
        if paths.len() == 3 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "rsyslog did not forward the probe: {got:?}"
        );
    }
    let before = r.collect.count();

    assert!(
        Path::new(LOGGER).exists(),
        "{LOGGER} is missing: run scripts/setup.sh"
    );
    // `logger -f` sends a file's lines, in slices with pauses: rsyslog's imudp must not
    // be the one dropping.
    let all: Vec<String> = (0..N)
        .map(|i| format!("forwarded message {i:04}"))
        .collect();
    for (k, chunk) in all.chunks(100).enumerate() {
        let part = d.join(format!("part{k}.txt"));
        std::fs::write(&part, chunk.join("\n") + "\n").expect("part");
        run_tool(
            LOGGER,
            &[
                "-n",
                "127.0.0.1",
                "-P",
                &udp_port.to_string(),
                "-d",
                "--rfc5424",
                "-t",
                "fwdtest",
                "-f",
                path(&part),
            ],
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let got = r.collect.wait_for(before + 3 * N, Duration::from_secs(25));
    rsyslog.stop();
    let health = r.stop();

    let mut seen: HashMap<(usize, String), usize> = HashMap::new();
    for g in &got {
        if let Some(at) = g.text.find("forwarded message ") {
            *seen
                .entry((g.listener, g.text[at..].to_string()))
                .or_default() += 1;
            assert!(g.text.contains("fwdtest"), "{}", g.text);
        }
    }
    for listener in 0..3 {
        for i in 0..N {
            let key = (listener, format!("forwarded message {i:04}"));
            assert_eq!(seen.get(&key), Some(&1), "{key:?} on listener {listener}");
        }
    }
    assert!(got
        .iter()
        .all(|g| (g.listener == 0) == (g.transport == sensor_logs::Transport::Tcp)));
    assert!(count(&health, "syslog.tls.connections") >= 2);
    let on = |l: usize| got.iter().filter(|g| g.listener == l).count() as u64;
    assert_eq!(count(&health, "syslog.tcp.messages"), on(0));
    assert_eq!(count(&health, "syslog.tls.messages"), on(1) + on(2));
    assert_eq!(
        health.losses.values().sum::<u64>(),
        0,
        "{:?}",
        health.losses
    );
}
