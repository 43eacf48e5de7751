//! `[inputs.syslog]` under the real `picket run`, with a real rsyslog in front, as a
//! collector host runs it: ESXi-shaped and Cisco-shaped messages sent to rsyslog's
//! imudp are forwarded by omfwd over TCP (octet counting) and over TLS (the `ossl`
//! driver, LF framing) into Picket; `logger` sends straight to Picket over UDP. The
//! alerts are read back from the alert log. Then 10,000 messages go through rsyslog
//! over TCP and TLS at full speed, and `picket status` must count every one, with no
//! loss anywhere.
//!
//! The messages are built in the documented formats (no public recording has these
//! commands); the shapes match `sensor-logs/tests/data/built-positives.log`.

mod common;

use serde_json::Value;
use std::net::{TcpStream, UdpSocket};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const PICKET: &str = env!("CARGO_BIN_EXE_picket");
const RSYSLOGD: &str = "/usr/sbin/rsyslogd";
const LOGGER: &str = "/usr/bin/logger";

fn free_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .expect("free port")
        .port()
}

fn free_tcp_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .expect("free port")
        .port()
}

fn run_tool(program: &str, args: &[&str]) {
    let status = Command::new(program)
        .args(args)
        .status()
        .unwrap_or_else(|e| panic!("{program}: {e} (run scripts/setup.sh)"));
    assert!(status.success(), "{program} {args:?}: {status}");
}

/// A child killed if the test fails.
struct Guard(Option<Child>, &'static str);

impl Guard {
    fn running(&mut self) {
        if let Some(Ok(Some(status))) = self.0.as_mut().map(Child::try_wait) {
            panic!("{} exited early: {status}", self.1);
        }
    }

    /// SIGTERM, then wait; returns stderr if it was piped.
    fn stop(mut self) -> String {
        let Some(child) = self.0.take() else {
            return String::new();
        };
        // SAFETY: signalling a child we started and have not reaped.
        unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
        let out = child.wait_with_output().expect("wait");
        String::from_utf8_lossy(&out.stderr).into_owned()
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some(c) = self.0.as_mut() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn wait_until(what: &str, within: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn status(state: &Path) -> Value {
    let out = Command::new(PICKET)
        .args(["status", "--json", "--state-dir"])
        .arg(state)
        .output()
        .expect("picket status");
    serde_json::from_slice(&out.stdout).unwrap_or(Value::Null)
}

#[test]
fn rsyslog_and_logger_deliver_esxi_and_cisco_commands_into_alerts() {
    for tool in [RSYSLOGD, LOGGER] {
        assert!(
            Path::new(tool).exists(),
            "{tool} is missing: run scripts/setup.sh"
        );
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let (cert, key) = (d.join("cert.pem"), d.join("key.pem"));
    run_tool(
        "openssl",
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            &key.display().to_string(),
            "-out",
            &cert.display().to_string(),
            "-days",
            "2",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost,IP:127.0.0.1",
        ],
    );
    let (p_udp, p_tcp, p_tls) = (free_port(), free_tcp_port(), free_tcp_port());
    let log = d.join("alerts.jsonl");
    let state = d.join("state");
    let config = d.join("picket.toml");
    std::fs::write(
        &config,
        format!(
            r#"[general]
state_dir = "{state}"
[collector]
host = false
[inputs.syslog]
enabled = true
[[inputs.syslog.listeners]]
address = "127.0.0.1:{p_udp}"
protocol = "udp"
[[inputs.syslog.listeners]]
address = "127.0.0.1:{p_tcp}"
protocol = "tcp"
[[inputs.syslog.listeners]]
address = "127.0.0.1:{p_tls}"
protocol = "tls"
tls_cert = "{cert}"
tls_key = "{key}"
[sinks.file]
path = "{log}"
[analytics]
fold_window_secs = 0
"#,
            state = state.display(),
            cert = cert.display(),
            key = key.display(),
            log = log.display(),
        ),
    )
    .expect("config");
    let mut picket = Guard(
        Some(
            Command::new(PICKET)
                .args(["run", "--config"])
                .arg(&config)
                .env_remove("RUST_LOG")
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .expect("start picket"),
        ),
        "picket run",
    );
    wait_until("picket's TCP listener", Duration::from_secs(20), || {
        picket.running();
        TcpStream::connect(("127.0.0.1", p_tcp)).is_ok()
    });

    // rsyslog: what arrives on one imudp port goes on over TCP, the other over TLS; a
    // TCP input feeds both, for the burst.
    let (r_to_tcp, r_to_tls, r_tcp_in) = (free_port(), free_port(), free_tcp_port());
    let rsyslog_conf = format!(
        r#"global(workDirectory="{dir}" DefaultNetstreamDriverCAFile="{cert}")
module(load="imudp")
module(load="imtcp")
input(type="imudp" address="127.0.0.1" port="{r_to_tcp}" ruleset="to_tcp")
input(type="imudp" address="127.0.0.1" port="{r_to_tls}" ruleset="to_tls")
input(type="imtcp" address="127.0.0.1" port="{r_tcp_in}" ruleset="both")
ruleset(name="to_tcp") {{
  action(type="omfwd" target="127.0.0.1" port="{p_tcp}" protocol="tcp" TCP_Framing="octet-counted"
         queue.type="LinkedList" action.resumeRetryCount="-1" action.resumeInterval="1")
}}
ruleset(name="to_tls") {{
  action(type="omfwd" target="127.0.0.1" port="{p_tls}" protocol="tcp"
         StreamDriver="ossl" StreamDriverMode="1" StreamDriverAuthMode="anon"
         queue.type="LinkedList" action.resumeRetryCount="-1" action.resumeInterval="1")
}}
ruleset(name="both") {{
  call to_tcp
  call to_tls
}}
"#,
        dir = d.display(),
        cert = cert.display(),
    );
    std::fs::write(d.join("rsyslog.conf"), &rsyslog_conf).expect("rsyslog.conf");
    let mut rsyslog = Guard(
        Some(
            Command::new(RSYSLOGD)
                .arg("-n")
                .arg("-f")
                .arg(d.join("rsyslog.conf"))
                .arg("-i")
                .arg(d.join("rsyslogd.pid"))
                .spawn()
                .expect("start rsyslogd"),
        ),
        "rsyslogd",
    );
    let udp = UdpSocket::bind("127.0.0.1:0").expect("udp");
    // Built lines: an ESXi 8 shell command (RFC 3164 with an ISO time, as ESXi forwards),
    // a Cisco IOS command logged with `logging origin-id hostname` and a sequence number,
    // and a lookalike of each that must stay silent.
    let via_tcp = [
        "<14>2026-12-01T10:00:00Z esx-tcp shell[2101234]: [root]: esxcli network ip connection list",
        "<189>46: R2: *Dec  1 10:00:02.456 UTC: %PARSER-5-CFGLOG_LOGGEDCMD: User:bob  logged command:sh ip soc",
        "<14>2026-12-01T10:00:03Z esx-tcp shell[2101234]: [root]: grep netstat /var/log/shell.log",
    ];
    let via_tls = [
        "<14>2026-12-01T10:00:04Z esx-tls shell[77]: [root]: esxcli --formatter=csv network ip connection list",
        "<189>45: R1: *Dec  1 10:00:05.123 UTC: %PARSER-5-CFGLOG_LOGGEDCMD: User:alice  logged command:show tcp brief",
        "<189>47: R1: *Dec  1 10:00:06.000 UTC: %PARSER-5-CFGLOG_LOGGEDCMD: User:alice  logged command:show running-config | include tcp",
    ];
    let expected = [
        (
            "AN0906",
            "esx-tcp",
            "root",
            "esxcli network ip connection list",
        ),
        ("AN0907", "R2", "bob", "sh ip soc"),
        (
            "AN0906",
            "esx-tls",
            "root",
            "esxcli --formatter=csv network ip connection list",
        ),
        ("AN0907", "R1", "alice", "show tcp brief"),
        ("AN0906", "", "carol", "esxcli network ip connection list"),
    ];
    // rsyslog's inputs may take a moment: resend the lot until it has come through
    // (an alert per distinct command is enough, repeats only add alerts).
    let found = |alerts: &[Value], (analytic, host, user, cmd): (&str, &str, &str, &str)| {
        alerts.iter().any(|a| {
            a["picket"]["analytic"] == analytic
                && a["user"]["name"] == user
                && a["process"]["command_line"] == cmd
                && (host.is_empty() || a["host"]["name"] == host)
        })
    };
    let mut sent_logger = false;
    wait_until("the forwarded alerts", Duration::from_secs(40), || {
        rsyslog.running();
        picket.running();
        for line in via_tcp {
            let _ = udp.send_to(line.as_bytes(), ("127.0.0.1", r_to_tcp));
        }
        for line in via_tls {
            let _ = udp.send_to(line.as_bytes(), ("127.0.0.1", r_to_tls));
        }
        if !sent_logger {
            // util-linux logger straight to Picket over UDP, RFC 3164, as a shell would.
            run_tool(
                LOGGER,
                &[
                    "-n",
                    "127.0.0.1",
                    "-P",
                    &p_udp.to_string(),
                    "-d",
                    "--rfc3164",
                    "-t",
                    "shell",
                    "--id=4242",
                    "[carol]: esxcli network ip connection list",
                ],
            );
            sent_logger = true;
        }
        std::thread::sleep(Duration::from_millis(400));
        let got = common::logged_alerts(&log);
        expected.iter().all(|e| found(&got, *e))
    });
    let got = common::logged_alerts(&log);
    for a in &got {
        let cmd = a["process"]["command_line"].as_str().unwrap_or_default();
        assert!(
            !cmd.contains("grep netstat") && !cmd.contains("running-config"),
            "a lookalike raised an alert: {a}"
        );
        let message = a["message"].as_str().unwrap_or_default();
        let user = a["user"]["name"].as_str().unwrap_or_default();
        assert!(
            message.contains(user) && message.contains(cmd),
            "the message names the user and the command: {message}"
        );
        assert_eq!(
            a["rule"]["id"],
            format!("picket-{}", a["picket"]["analytic"].as_str().unwrap_or("?"))
        );
        assert!(a["picket"]["mutable_element"].is_string(), "{a}");
    }
    let carol = got
        .iter()
        .find(|a| a["user"]["name"] == "carol")
        .expect("logger's alert");
    assert_eq!(carol["picket"]["analytic"], "AN0906", "{carol}");

    // The burst: 10,000 messages at full speed into rsyslog over TCP, each forwarded to
    // Picket over TCP and over TLS. TCP end to end: nothing may be lost anywhere.
    // A known format in a changed shape (drift) and a datagram that is no log line at
    // all, straight to Picket: each is counted, with a note for the drift, and kept out
    // of the analytics.
    udp.send_to(
        b"<189>45: R1: *Dec  1 10:00:07.000 UTC: %PARSER-5-CFGLOG_LOGGEDCMD: the format changed",
        ("127.0.0.1", p_udp),
    )
    .expect("send drift");
    udp.send_to(b"\x00\x01\x02 \xff", ("127.0.0.1", p_udp))
        .expect("send junk");
    // A status written after everything above had arrived (it is rewritten every 5 s).
    std::thread::sleep(Duration::from_secs(1));
    let settled = chrono::Utc::now();
    let mut before = Value::Null;
    wait_until("a fresh status", Duration::from_secs(15), || {
        before = status(&state);
        before["updated_at"]
            .as_str()
            .and_then(|t| t.parse::<chrono::DateTime<chrono::Utc>>().ok())
            .is_some_and(|t| t > settled)
    });
    let count = |s: &Value, k: &str| s["counts"][k].as_u64().unwrap_or(0);
    let (tcp0, tls0) = (
        count(&before, "syslog.tcp.messages"),
        count(&before, "syslog.tls.messages"),
    );
    const N: u64 = 10_000;
    let burst: String = (0..N)
        .map(|i| format!("<189>{i}: R9: *Dec  1 11:00:00.000 UTC: %PARSER-5-CFGLOG_LOGGEDCMD: User:ops{}  logged command:show version\n", i % 7))
        .collect();
    std::fs::write(d.join("burst.txt"), burst).expect("burst");
    {
        use std::io::Write;
        let mut s = TcpStream::connect(("127.0.0.1", r_tcp_in)).expect("rsyslog imtcp");
        s.write_all(&std::fs::read(d.join("burst.txt")).expect("read"))
            .expect("send burst");
    }
    let mut last = Value::Null;
    let arrived = |s: &Value| {
        count(s, "syslog.tcp.messages").saturating_sub(tcp0) >= N
            && count(s, "syslog.tls.messages").saturating_sub(tls0) >= N
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while !arrived(&last) {
        assert!(
            Instant::now() < deadline,
            "the burst did not arrive: {}",
            last
        );
        std::thread::sleep(Duration::from_millis(200));
        last = status(&state);
    }
    rsyslog.stop();
    let stderr = picket.stop();
    let fin = status(&state);
    assert_eq!(count(&fin, "syslog.tcp.messages") - tcp0, N, "{fin}");
    assert_eq!(count(&fin, "syslog.tls.messages") - tls0, N, "{fin}");
    let losses = fin["losses"].as_object().cloned().unwrap_or_default();
    let lost: Vec<_> = losses
        .iter()
        .filter(|(_, v)| v.as_u64() != Some(0))
        .collect();
    assert_eq!(
        lost,
        [
            (&"syslog.drift".to_string(), &Value::from(1)),
            (&"syslog.malformed".to_string(), &Value::from(1))
        ],
        "only the drifted and the junk message are counted, nothing lost: {}\n{stderr}",
        fin["counts"]
    );
    let note = fin["notes"]["syslog.drift"].as_str().unwrap_or_default();
    assert!(
        note.contains("PARSER") && note.contains("udp"),
        "the drift note names the format and the input: {}",
        fin["notes"]
    );
    assert!(
        count(&fin, "syslog.ignored") + count(&fin, "syslog.events") >= 2 * N,
        "every burst message parsed: {fin}"
    );
}
