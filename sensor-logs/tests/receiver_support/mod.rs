//! Shared by the receiver's integration tests: a receiver on loopback port 0 run on its
//! own thread, a consumer that keeps what it is given (optionally held at a gate, to
//! test backpressure and shutdown), and certificates made by the real `openssl` tool.
#![allow(dead_code)] // each test file uses part of it

use sensor_core::health::HealthSnapshot;
use sensor_core::Health;
use sensor_logs::receiver::{
    Deliver, ListenerConfig, ListenerProtocol, Message, Receiver, Stop, SyslogInputConfig,
    Transport,
};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// One delivered message, owned.
#[derive(Debug, Clone)]
pub struct Got {
    pub text: String,
    pub peer: SocketAddr,
    pub transport: Transport,
    pub listener: usize,
    pub truncated: bool,
}

/// What the consumer was given, and a gate that holds delivery while closed.
#[derive(Debug, Default)]
pub struct Collect {
    got: Mutex<Vec<Got>>,
    arrived: Condvar,
    gate_closed: Mutex<bool>,
    gate: Condvar,
}

impl Collect {
    pub fn close_gate(&self) {
        *self.gate_closed.lock().expect("lock") = true;
    }

    pub fn open_gate(&self) {
        *self.gate_closed.lock().expect("lock") = false;
        self.gate.notify_all();
    }

    pub fn count(&self) -> usize {
        self.got.lock().expect("lock").len()
    }

    pub fn got(&self) -> Vec<Got> {
        self.got.lock().expect("lock").clone()
    }

    /// Waits until at least `n` messages arrived; panics after `timeout`.
    pub fn wait_for(&self, n: usize, timeout: Duration) -> Vec<Got> {
        let deadline = Instant::now() + timeout;
        let mut got = self.got.lock().expect("lock");
        while got.len() < n {
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "waited {timeout:?} for {n} messages, got {}: {:?}",
                got.len(),
                got.iter().rev().take(3).collect::<Vec<_>>()
            );
            got = self.arrived.wait_timeout(got, left).expect("lock").0;
        }
        got.clone()
    }
}

/// The [`Deliver`] handed to the receiver.
#[derive(Debug, Clone)]
pub struct Keep(pub Arc<Collect>);

impl Deliver for Keep {
    fn deliver(&self, msg: Message<'_>) -> bool {
        let mut closed = self.0.gate_closed.lock().expect("lock");
        while *closed {
            closed = self.0.gate.wait(closed).expect("lock");
        }
        drop(closed);
        self.0.got.lock().expect("lock").push(Got {
            text: String::from_utf8_lossy(msg.bytes).into_owned(),
            peer: msg.peer,
            transport: msg.transport,
            listener: msg.listener,
            truncated: msg.truncated,
        });
        self.0.arrived.notify_all();
        true
    }
}

/// A receiver running on its own thread.
pub struct Running {
    pub addrs: Vec<SocketAddr>,
    pub collect: Arc<Collect>,
    pub health: Arc<Health>,
    stop: Stop,
    thread: Option<JoinHandle<Result<(), String>>>,
}

impl Running {
    pub fn start(config: &SyslogInputConfig) -> Running {
        Running::start_with(config, Arc::new(Collect::default()))
    }

    pub fn start_with(config: &SyslogInputConfig, collect: Arc<Collect>) -> Running {
        let receiver = Receiver::bind(config).expect("bind");
        let addrs = receiver.local_addrs();
        let health = Health::new();
        let stop = Stop::new();
        let thread = {
            let (deliver, health, stop) = (Keep(collect.clone()), health.clone(), stop.clone());
            std::thread::spawn(move || receiver.run(deliver, health, stop))
        };
        Running {
            addrs,
            collect,
            health,
            stop,
            thread: Some(thread),
        }
    }

    pub fn addr(&self, i: usize) -> SocketAddr {
        self.addrs[i]
    }

    pub fn port(&self, i: usize) -> u16 {
        self.addrs[i].port()
    }

    /// Stops, waits for `run` to return (within 5 s), and gives the health counters.
    pub fn stop(mut self) -> HealthSnapshot {
        self.stop.trigger();
        let started = Instant::now();
        let thread = self.thread.take().expect("running");
        while !thread.is_finished() {
            assert!(
                started.elapsed() < Duration::from_secs(5),
                "the receiver did not stop within 5 s"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        thread.join().expect("run panicked").expect("run failed");
        self.health.snapshot()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.stop.trigger();
        // A test that failed is unwinding: the stop is enough, do not wait.
    }
}

/// `[inputs.syslog]` with these listeners, everything else default.
pub fn config(listeners: Vec<ListenerConfig>) -> SyslogInputConfig {
    SyslogInputConfig {
        enabled: true,
        listeners,
        ..SyslogInputConfig::default()
    }
}

pub fn on_loopback(protocol: ListenerProtocol) -> ListenerConfig {
    ListenerConfig::new("127.0.0.1:0", protocol)
}

/// A TLS listener on loopback with this certificate and key.
pub fn tls_listener(cert: &Path, key: &Path) -> ListenerConfig {
    ListenerConfig {
        tls_cert: Some(cert.to_path_buf()),
        tls_key: Some(key.to_path_buf()),
        ..on_loopback(ListenerProtocol::Tls)
    }
}

/// Runs a tool, failing the test (never skipping it) when it is missing or fails.
pub fn run_tool(program: &str, args: &[&str]) -> std::process::Output {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run {program} (run scripts/setup.sh, which installs it): {e}")
        });
    assert!(
        out.status.success(),
        "{program} {args:?} failed: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A self-signed certificate for `localhost` and 127.0.0.1 with a P-256 key (PKCS#8, as
/// `openssl req -newkey` writes it): (cert.pem, key.pem).
pub fn self_signed(dir: &Path) -> (PathBuf, PathBuf) {
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
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
            path(&key),
            "-out",
            path(&cert),
            "-days",
            "2",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost,IP:127.0.0.1",
        ],
    );
    (cert, key)
}

/// A certificate for an existing key.
pub fn cert_for_key(key: &Path, cert: &Path) {
    run_tool(
        "openssl",
        &[
            "req",
            "-x509",
            "-key",
            path(key),
            "-out",
            path(cert),
            "-days",
            "2",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost,IP:127.0.0.1",
        ],
    );
}

pub fn path(p: &Path) -> &str {
    p.to_str().expect("utf-8 temp path")
}

/// A native-tls client that trusts `cert` (the self-signed certificate is its own CA).
#[cfg(feature = "tls")]
pub fn tls_client(cert: &Path, addr: SocketAddr) -> native_tls::TlsStream<std::net::TcpStream> {
    let pem = std::fs::read(cert).expect("read cert");
    let connector = native_tls::TlsConnector::builder()
        .add_root_certificate(native_tls::Certificate::from_pem(&pem).expect("cert"))
        .build()
        .expect("connector");
    let tcp = std::net::TcpStream::connect(addr).expect("connect");
    connector.connect("localhost", tcp).expect("TLS handshake")
}

/// `LEN SP MSG`.
pub fn octet(msg: &str) -> Vec<u8> {
    format!("{} {msg}", msg.len()).into_bytes()
}

/// A counter from a snapshot (0 when absent), non-loss or loss.
pub fn count(s: &HealthSnapshot, name: &str) -> u64 {
    s.counts.get(name).copied().unwrap_or(0)
}

pub fn loss(s: &HealthSnapshot, name: &str) -> u64 {
    s.losses.get(name).copied().unwrap_or(0)
}
