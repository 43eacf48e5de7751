//! Syslog forwarding against a real rsyslog (Debian's `/usr/sbin/rsyslogd`), started by
//! each test on loopback with its own config, pid file and output file in a temp dir:
//! TCP with octet counting (including a collector restart mid-stream), TLS with the
//! `ossl` driver, UDP, and framing of awkward messages.
//!
//! rsyslog writes every received message as `pri|app|procid|msgid|sd|hostname|msg` so the
//! tests check both the RFC 5424 header as rsyslog parsed it and the JSON payload bytes.

use sensor_core::alert::{Alert, Rule, Severity, Threat};
use sensor_core::event::Event;
use sensor_core::sink::AlertSink;
use sensor_core::Health;
use sinks::config::{SyslogProtocol, SyslogSinkConfig};
use sinks::syslog::{SyslogSink, SyslogStats};
use std::collections::HashSet;
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

const RSYSLOGD: &str = "/usr/sbin/rsyslogd";

fn free_tcp_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .expect("free port")
        .port()
}

#[derive(Clone, Copy, PartialEq)]
enum Input {
    Tcp,
    Tls,
    Udp,
}

/// One rsyslogd run on loopback.
struct Rsyslog {
    dir: PathBuf,
    port: u16,
    input: Input,
    child: Option<Child>,
}

impl Rsyslog {
    fn start(dir: &Path, port: u16, input: Input) -> Rsyslog {
        assert!(
            Path::new(RSYSLOGD).exists(),
            "{RSYSLOGD} is missing: run scripts/setup.sh (Debian package rsyslog)"
        );
        let mut r = Rsyslog {
            dir: dir.to_path_buf(),
            port,
            input,
            child: None,
        };
        r.restart();
        r
    }

    fn out(&self) -> PathBuf {
        self.dir.join("out.log")
    }

    fn config(&self) -> String {
        let d = self.dir.display();
        let port = self.port;
        let (global_tls, input) = match self.input {
            Input::Tcp => (
                String::new(),
                format!(
                    "module(load=\"imtcp\")\ninput(type=\"imtcp\" port=\"{port}\" address=\"127.0.0.1\")"
                ),
            ),
            Input::Tls => (
                format!(
                    "global(DefaultNetstreamDriver=\"ossl\" DefaultNetstreamDriverCAFile=\"{d}/ca.pem\" DefaultNetstreamDriverCertFile=\"{d}/server.pem\" DefaultNetstreamDriverKeyFile=\"{d}/server.key\")"
                ),
                format!(
                    "module(load=\"imtcp\" StreamDriver.Name=\"ossl\" StreamDriver.Mode=\"1\" StreamDriver.AuthMode=\"anon\")\ninput(type=\"imtcp\" port=\"{port}\" address=\"127.0.0.1\")"
                ),
            ),
            Input::Udp => (
                String::new(),
                format!(
                    "module(load=\"imudp\")\ninput(type=\"imudp\" port=\"{port}\" address=\"127.0.0.1\" rcvbufSize=\"8m\")"
                ),
            ),
        };
        format!(
            r#"global(workDirectory="{d}" maxMessageSize="256k" parser.escapeControlCharactersOnReceive="off")
{global_tls}
{input}
template(name="fields" type="string" string="%pri%|%app-name%|%procid%|%msgid%|%structured-data%|%hostname%|%msg%\n")
action(type="omfile" file="{d}/out.log" template="fields")
"#
        )
    }

    fn restart(&mut self) {
        assert!(self.child.is_none(), "already running");
        let conf = self.dir.join("rsyslog.conf");
        std::fs::write(&conf, self.config()).expect("write rsyslog.conf");
        let pid = self.dir.join("rsyslogd.pid");
        let _ = std::fs::remove_file(&pid);
        let child = Command::new(RSYSLOGD)
            .arg("-n")
            .arg("-f")
            .arg(&conf)
            .arg("-i")
            .arg(&pid)
            .spawn()
            .expect("start rsyslogd");
        self.child = Some(child);
        self.wait_ready();
    }

    /// Waits until rsyslog takes messages: TCP by connecting, UDP by a probe datagram
    /// showing up in the output.
    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(Ok(Some(status))) = self.child.as_mut().map(Child::try_wait) {
                panic!(
                    "rsyslogd exited at start-up ({status}); config:\n{}",
                    self.config()
                );
            }
            assert!(Instant::now() < deadline, "rsyslogd did not become ready");
            match self.input {
                Input::Tcp | Input::Tls => {
                    if TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                        return;
                    }
                }
                Input::Udp => {
                    let s = UdpSocket::bind("127.0.0.1:0").expect("bind");
                    let _ = s.send_to(
                        b"<14>1 - - probe - - - ready-probe",
                        ("127.0.0.1", self.port),
                    );
                    std::thread::sleep(Duration::from_millis(100));
                    if std::fs::read_to_string(self.out())
                        .unwrap_or_default()
                        .contains("ready-probe")
                    {
                        return;
                    }
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGTERM and wait: rsyslog closes its connections and flushes the output file.
    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let status = Command::new("kill")
                .arg("-TERM")
                .arg(child.id().to_string())
                .status()
                .expect("kill");
            assert!(status.success());
            child.wait().expect("wait rsyslogd");
        }
    }

    /// The received lines that carry a test alert.
    fn received(&self) -> Vec<Received> {
        std::fs::read_to_string(self.out())
            .unwrap_or_default()
            .lines()
            .filter(|l| !l.contains("ready-probe"))
            .map(Received::parse)
            .collect()
    }
}

impl Drop for Rsyslog {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

#[derive(Debug)]
struct Received {
    pri: String,
    app: String,
    procid: String,
    msgid: String,
    sd: String,
    hostname: String,
    msg: String,
}

impl Received {
    fn parse(line: &str) -> Received {
        let f: Vec<&str> = line.splitn(7, '|').collect();
        assert_eq!(f.len(), 7, "unexpected rsyslog output line: {line}");
        Received {
            pri: f[0].into(),
            app: f[1].into(),
            procid: f[2].into(),
            msgid: f[3].into(),
            sd: f[4].into(),
            hostname: f[5].into(),
            msg: f[6].into(),
        }
    }

    fn marker(&self) -> String {
        let v: serde_json::Value = serde_json::from_str(&self.msg)
            .unwrap_or_else(|e| panic!("payload is not JSON ({e}): {}", self.msg));
        v["process"]["args"][2]
            .as_str()
            .expect("marker argument")
            .to_string()
    }
}

fn alert(marker: &str, severity: Severity) -> Alert {
    let mut ev = Event::exec(chrono::Utc::now());
    ev.set_executable("/usr/bin/ss");
    ev.set_argv(vec!["ss".into(), "-tan".into(), marker.into()]);
    ev.host.name = Some("test-host".into());
    let rule = Rule {
        id: "picket-AN0904".into(),
        name: "Network connections discovery".into(),
        ..Rule::default()
    };
    Alert::for_event(&ev, rule, Threat::default(), severity)
}

fn sink_config(protocol: SyslogProtocol, port: u16, queue: usize) -> SyslogSinkConfig {
    SyslogSinkConfig {
        enabled: true,
        address: format!("127.0.0.1:{port}"),
        protocol,
        queue_capacity: queue,
        max_backoff_secs: 1,
        flush_timeout_secs: 10,
        max_message_bytes: if protocol == SyslogProtocol::Udp {
            65_000
        } else {
            200_000
        },
        ..SyslogSinkConfig::default()
    }
}

/// Polls `cond` until it holds or 30 s pass (a wait, not a timing assertion).
fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !cond() {
        assert!(Instant::now() < deadline, "gave up waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Arrived markers, asserting no duplicates.
fn unique_markers(received: &[Received]) -> HashSet<String> {
    let mut seen = HashSet::new();
    for r in received {
        let m = r.marker();
        assert!(seen.insert(m.clone()), "alert {m} arrived twice");
    }
    seen
}

fn write_alert(sink: &mut SyslogSink, marker: &str) -> bool {
    let a = alert(marker, Severity::Low);
    sink.write(&a, &a.to_json_line()).is_ok()
}

fn report(name: &str, n: u64, arrived: u64, stats: &SyslogStats, refused: u64) {
    eprintln!(
        "{name}: sent {n}, arrived {arrived}, refused (queue full) {refused}, dropped {}, unconfirmed {}, resent {}, connects {}",
        stats.dropped(),
        stats.unconfirmed.load(Ordering::Relaxed),
        stats.resent.load(Ordering::Relaxed),
        stats.connects.load(Ordering::Relaxed)
    );
}

/// The collector is stopped between two bursts (everything sent so far was read) and
/// restarted while Picket keeps sending: each alert arrives exactly once or is counted
/// as dropped, and the sum is exact.
#[test]
fn tcp_collector_restart_between_bursts_sum_is_exact() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_tcp_port();
    let mut rsyslog = Rsyslog::start(dir.path(), port, Input::Tcp);
    let health = Health::new();
    let mut sink = SyslogSink::start(&sink_config(SyslogProtocol::Tcp, port, 200)).expect("sink");
    sink.attach_health(&health);
    let stats = sink.stats();
    let n = 1500u64;
    let mut refused = 0;
    for i in 0..500 {
        refused += u64::from(!write_alert(&mut sink, &format!("burst-{i}")));
    }
    wait_for("the first burst to arrive", || {
        rsyslog.received().len() == 500
    });
    rsyslog.stop();
    // The collector is down: these fill the queue (200) and the rest are refused.
    for i in 500..1000 {
        refused += u64::from(!write_alert(&mut sink, &format!("burst-{i}")));
    }
    rsyslog.restart();
    for i in 1000..n {
        while sink.queued() > 150 {
            std::thread::sleep(Duration::from_millis(5));
        }
        refused += u64::from(!write_alert(&mut sink, &format!("burst-{i}")));
    }
    sink.flush().expect("flush");
    drop(sink);
    rsyslog.stop();
    let received = rsyslog.received();
    let arrived = unique_markers(&received).len() as u64;
    report("between bursts", n, arrived, &stats, refused);
    assert!(refused > 0, "the outage made the queue overflow");
    assert!(stats.connects.load(Ordering::Relaxed) >= 2, "reconnected");
    assert_eq!(stats.unconfirmed.load(Ordering::Relaxed), 0);
    assert_eq!(
        arrived + refused + stats.dropped_at_shutdown.load(Ordering::Relaxed),
        n
    );
    assert_eq!(stats.dropped(), refused);
    assert_eq!(
        health.snapshot().losses.get("sink.syslog.unconfirmed"),
        Some(&0)
    );
}

/// The collector is stopped while alerts stream in at full speed and restarted.
/// Nothing arrives twice, nothing is lost uncounted: `arrived + dropped <= sent <=
/// arrived + dropped + unconfirmed` (see `sinks::syslog` for why TCP cannot do
/// better when the collector resets a connection with unread data).
#[test]
fn tcp_collector_restart_mid_stream_every_alert_arrives_once_or_is_counted() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_tcp_port();
    let mut rsyslog = Rsyslog::start(dir.path(), port, Input::Tcp);
    let health = Health::new();
    let mut sink = SyslogSink::start(&sink_config(SyslogProtocol::Tcp, port, 2000)).expect("sink");
    sink.attach_health(&health);
    let stats = sink.stats();
    let n = 20_000u64;
    let writer = std::thread::spawn(move || {
        let mut refused = 0u64;
        for i in 0..n {
            refused += u64::from(!write_alert(&mut sink, &format!("stream-{i}")));
            if i % 8 == 0 {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        sink.flush().expect("flush");
        drop(sink);
        refused
    });
    let written = stats.clone();
    wait_for("a quarter of the stream to be written", || {
        written.written.load(Ordering::Relaxed) >= n / 4
    });
    rsyslog.stop();
    std::thread::sleep(Duration::from_millis(300));
    rsyslog.restart();
    let refused = writer.join().expect("writer");
    rsyslog.stop();
    let received = rsyslog.received();
    let arrived = unique_markers(&received).len() as u64;
    report("mid-stream", n, arrived, &stats, refused);
    let dropped = stats.dropped();
    let unconfirmed = stats.unconfirmed.load(Ordering::Relaxed);
    assert!(stats.connects.load(Ordering::Relaxed) >= 2, "reconnected");
    assert_eq!(
        dropped,
        refused + stats.dropped_at_shutdown.load(Ordering::Relaxed)
    );
    assert!(
        arrived + dropped <= n,
        "arrived {arrived} + dropped {dropped} > sent {n}: a dropped alert arrived"
    );
    assert!(
        arrived + dropped + unconfirmed >= n,
        "arrived {arrived} + dropped {dropped} + unconfirmed {unconfirmed} < sent {n}: alerts lost silently"
    );
    let snap = health.snapshot();
    assert_eq!(
        snap.losses.get("sink.syslog.unconfirmed").copied(),
        Some(unconfirmed)
    );
}

/// Awkward payloads keep their bytes through octet counting: sizes around the framing
/// digits, 150 KB, multi-byte UTF-8, escaped newlines and ESC in the JSON, a command line
/// that starts with digits and a space (what non-transparent framing would split).
#[test]
fn octet_counting_framing_keeps_every_payload_intact() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_tcp_port();
    let mut rsyslog = Rsyslog::start(dir.path(), port, Input::Tcp);
    let mut sink = SyslogSink::start(&sink_config(SyslogProtocol::Tcp, port, 1000)).expect("sink");
    let mut payloads = Vec::new();
    let odd = [
        "".to_string(),
        "12 34 <13>1 fake header".into(),
        "line1\nline2\r\n\u{1b}[2Jcleared".into(),
        "héllo wörld ☃ 日本語 \u{202e}".into(),
        "x".repeat(9),
        "y".repeat(99_990),
        "z".repeat(150_000),
        "\"quoted\" \\ back\\slash \t tab".into(),
    ];
    for (i, extra) in odd.iter().enumerate() {
        let mut a = alert(&format!("frame-{i}"), Severity::Critical);
        a.message = extra.clone();
        let line = a.to_json_line();
        sink.write(&a, &line).expect("queued");
        payloads.push(line);
    }
    sink.flush().expect("flush");
    drop(sink);
    rsyslog.stop();
    let received = rsyslog.received();
    assert_eq!(received.len(), payloads.len(), "one message per alert");
    for (r, sent) in received.iter().zip(&payloads) {
        assert_eq!(&r.msg, sent, "payload bytes intact");
        assert_eq!(r.pri, "130", "local0 (16) * 8 + critical (2)");
        assert_eq!(r.app, "picket");
        assert_eq!(r.procid, std::process::id().to_string());
        assert_eq!(r.msgid, "alert");
        assert!(r.sd.starts_with("[meta sequenceId=\""), "{}", r.sd);
        assert_eq!(r.hostname, "test-host");
    }
    let seqs: Vec<&str> = received.iter().map(|r| r.sd.as_str()).collect();
    assert_eq!(seqs[0], "[meta sequenceId=\"1\"]");
    assert_eq!(seqs[7], "[meta sequenceId=\"8\"]");
}

/// UDP: one datagram per alert, parsed by rsyslog as RFC 5424.
#[test]
fn udp_alerts_arrive_as_rfc5424_datagrams() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_udp_port();
    let mut rsyslog = Rsyslog::start(dir.path(), port, Input::Udp);
    let mut sink = SyslogSink::start(&sink_config(SyslogProtocol::Udp, port, 5000)).expect("sink");
    let stats = sink.stats();
    let n = 2000;
    for i in 0..n {
        assert!(write_alert(&mut sink, &format!("udp-{i}")));
        if i % 100 == 99 {
            sink.flush().expect("flush");
        }
    }
    sink.flush().expect("flush");
    drop(sink);
    wait_for("the datagrams to be written out", || {
        rsyslog.received().len() >= n
    });
    rsyslog.stop();
    let received = rsyslog.received();
    let markers = unique_markers(&received);
    assert_eq!(markers.len(), n);
    assert_eq!(stats.written.load(Ordering::Relaxed), n as u64);
    for r in &received {
        assert_eq!(r.pri, "133", "local0 * 8 + low (5)");
        assert_eq!(r.app, "picket");
        assert_eq!(r.msgid, "alert");
    }
}

fn openssl(dir: &Path, args: &[&str]) {
    let status = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .stderr(std::process::Stdio::null())
        .status()
        .expect("openssl is installed (scripts/setup.sh)");
    assert!(status.success(), "openssl {args:?} failed");
}

/// A CA and a server certificate for `localhost` / 127.0.0.1, made with openssl.
fn make_certs(dir: &Path) {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=Picket Test CA",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
        ],
    );
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=localhost",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
        ],
    );
    std::fs::write(
        dir.join("san.ext"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1\n",
    )
    .expect("san");
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "san.ext",
            "-out",
            "server.pem",
        ],
    );
}

/// TLS (RFC 5425) to rsyslog's `ossl` driver: the collector's certificate is verified
/// against the configured CA; a collector the CA did not sign gets nothing.
#[test]
fn tls_alerts_arrive_and_an_untrusted_collector_gets_nothing() {
    assert!(
        Path::new("/usr/lib/x86_64-linux-gnu/rsyslog/lmnsd_ossl.so").exists(),
        "rsyslog's TLS driver is missing: run scripts/setup.sh (Debian package rsyslog-openssl)"
    );
    let dir = tempfile::tempdir().expect("tempdir");
    make_certs(dir.path());
    let port = free_tcp_port();
    let mut rsyslog = Rsyslog::start(dir.path(), port, Input::Tls);
    let mut config = sink_config(SyslogProtocol::Tls, port, 1000);
    config.tls_ca_file = Some(dir.path().join("ca.pem"));
    config.tls_server_name = Some("localhost".into());
    let mut sink = SyslogSink::start(&config).expect("sink");
    let stats = sink.stats();
    for i in 0..300 {
        assert!(write_alert(&mut sink, &format!("tls-{i}")));
    }
    sink.flush().expect("flush");
    drop(sink);
    wait_for("TLS alerts to be written out", || {
        rsyslog.received().len() >= 300
    });
    assert_eq!(unique_markers(&rsyslog.received()).len(), 300);
    assert_eq!(stats.dropped(), 0);
    assert_eq!(stats.unconfirmed.load(Ordering::Relaxed), 0);

    // A second CA that did not sign the collector's certificate.
    let other = tempfile::tempdir().expect("tempdir");
    make_certs(other.path());
    let mut untrusting = config.clone();
    untrusting.tls_ca_file = Some(other.path().join("ca.pem"));
    untrusting.flush_timeout_secs = 1;
    let mut sink = SyslogSink::start(&untrusting).expect("sink");
    let stats: Arc<SyslogStats> = sink.stats();
    for i in 0..10 {
        assert!(write_alert(&mut sink, &format!("untrusted-{i}")));
    }
    drop(sink);
    rsyslog.stop();
    assert_eq!(
        stats.connects.load(Ordering::Relaxed),
        0,
        "handshake refused"
    );
    assert_eq!(stats.dropped_at_shutdown.load(Ordering::Relaxed), 10);
    assert!(!rsyslog
        .received()
        .iter()
        .any(|r| r.marker().starts_with("untrusted")));
}
