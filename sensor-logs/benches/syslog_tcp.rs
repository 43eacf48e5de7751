//! Syslog over TCP on loopback: Picket's receiver against a real rsyslogd (imtcp into
//! omfile), side by side in one run, fed the same bytes by the same client.
//!
//! `cargo bench -p sensor-logs --bench syslog_tcp` sends N RFC 5424 messages (default
//! 1,000,000; `PICKET_BENCH_MESSAGES` overrides) of about 200 bytes, octet-counted, from
//! one client thread over one connection, and prints messages per second for each, the
//! ratio, and messages lost (for rsyslog: N minus the lines in its output file, counted
//! once the file stops growing). The numbers are measured, never asserted. Run by
//! `cargo test --benches` (without `--bench`), it does a quick 10,000-message pass.

use sensor_logs::receiver::{ListenerConfig, ListenerProtocol, Receiver, Stop, SyslogInputConfig};
use sensor_logs::Message;
use std::io::{BufWriter, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const RSYSLOGD: &str = "/usr/sbin/rsyslogd";
/// Give up waiting when nothing more arrived for this long.
const STALL: Duration = Duration::from_secs(10);

fn main() {
    let bench = std::env::args().any(|a| a == "--bench");
    let n: u64 = match std::env::var("PICKET_BENCH_MESSAGES") {
        Ok(v) => v.parse().expect("PICKET_BENCH_MESSAGES is a number"),
        Err(_) if bench => 1_000_000,
        Err(_) => 10_000,
    };
    let stream = build_stream(n);
    println!(
        "syslog over TCP loopback: {n} octet-counted RFC 5424 messages, {:.0} bytes each on average, one connection",
        stream.len() as f64 / n as f64
    );
    let ours = bench_receiver(&stream, n, None);
    print_result("picket receiver", n, &ours);
    // The same work rsyslog's omfile does after receiving: each message as a line in a
    // buffered file, so the comparison is not only of a counter against a writer.
    let dir = tempfile::tempdir().expect("tempdir");
    let to_file = bench_receiver(&stream, n, Some(&dir.path().join("out.log")));
    print_result("picket receiver -> file", n, &to_file);
    let theirs = bench_rsyslog(&stream, n);
    print_result("rsyslogd imtcp->omfile", n, &theirs);
    println!(
        "ratio (receiver / rsyslogd): {:.2}x counting, {:.2}x writing a file",
        rate(n, &ours) / rate(n, &theirs),
        rate(n, &to_file) / rate(n, &theirs)
    );
}

struct Outcome {
    elapsed: Duration,
    received: u64,
}

fn rate(n: u64, o: &Outcome) -> f64 {
    o.received.min(n) as f64 / o.elapsed.as_secs_f64()
}

fn print_result(name: &str, n: u64, o: &Outcome) {
    println!(
        "{name:>24}: {:>10.0} msg/s  ({:.3} s, {} received, {} lost)",
        rate(n, o),
        o.elapsed.as_secs_f64(),
        o.received,
        n.saturating_sub(o.received)
    );
}

/// The whole client stream, built before timing so both sides get the same bytes and the
/// client's formatting is not measured.
fn build_stream(n: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(n as usize * 220);
    for i in 0..n {
        let msg = format!(
            "<166>1 2024-05-01T12:{:02}:{:02}.{:06}Z esxi-{:02}.lab.example.com Hostd 2101 - - [Originator@6876 sub=Vimsvc.TaskManager opID=esxui-{:04x}-{:04x} user=root] Task Created : haTask-ha-root-pool-vim.ResourcePool.updateConfig-{i}",
            (i / 60) % 60,
            i % 60,
            i % 1_000_000,
            i % 16,
            i % 65_536,
            (i * 7) % 65_536,
        );
        write!(out, "{} {msg}", msg.len()).expect("write to a Vec");
    }
    out
}

/// Writes the stream in 64 KiB pieces, as a forwarder's socket would.
fn send(addr: SocketAddr, stream: Arc<Vec<u8>>) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut s = TcpStream::connect(addr).expect("connect");
        for chunk in stream.chunks(64 * 1024) {
            s.write_all(chunk).expect("write");
        }
    })
}

/// Waits until `progress()` reaches `n`, or stops moving for [`STALL`]; returns when
/// the last progress was seen and how far it got.
fn wait(n: u64, start: Instant, mut progress: impl FnMut() -> u64) -> Outcome {
    let mut last = 0;
    let mut last_at = Instant::now();
    loop {
        let now = progress();
        if now != last {
            last = now;
            last_at = Instant::now();
        }
        if now >= n || last_at.elapsed() > STALL {
            return Outcome {
                elapsed: last_at - start,
                received: now,
            };
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

fn bench_receiver(stream: &[u8], n: u64, file: Option<&Path>) -> Outcome {
    let config = SyslogInputConfig {
        enabled: true,
        listeners: vec![ListenerConfig::new("127.0.0.1:0", ListenerProtocol::Tcp)],
        ..SyslogInputConfig::default()
    };
    let receiver = Receiver::bind(&config).expect("bind");
    let addr = receiver.local_addrs()[0];
    let count = Arc::new(AtomicU64::new(0));
    let bytes = Arc::new(AtomicU64::new(0));
    let stop = Stop::new();
    let health = sensor_core::Health::new();
    let writer = file.map(|p| {
        let f = std::fs::File::create(p).expect("create output file");
        Arc::new(Mutex::new(BufWriter::with_capacity(256 * 1024, f)))
    });
    let run = {
        let (count, bytes, stop, health) =
            (count.clone(), bytes.clone(), stop.clone(), health.clone());
        let writer = writer.clone();
        std::thread::spawn(move || {
            receiver.run(
                move |m: Message<'_>| {
                    match &writer {
                        Some(w) => {
                            let mut w = w.lock().expect("writer");
                            w.write_all(m.bytes).expect("write");
                            w.write_all(b"\n").expect("write");
                        }
                        // Touch the bytes, as a parser would start to.
                        None => {
                            bytes.fetch_add(
                                m.bytes.len() as u64 + u64::from(m.bytes[0]),
                                Ordering::Relaxed,
                            );
                        }
                    }
                    count.fetch_add(1, Ordering::Relaxed);
                    true
                },
                health,
                stop,
            )
        })
    };
    let stream = Arc::new(stream.to_vec());
    let start = Instant::now();
    let client = send(addr, stream);
    let mut outcome = wait(n, start, || count.load(Ordering::Relaxed));
    if let Some(w) = &writer {
        w.lock().expect("writer").flush().expect("flush");
        outcome.elapsed = start.elapsed();
    }
    client.join().expect("client");
    stop.trigger();
    run.join().expect("run").expect("receiver ran");
    let losses = health.total_losses();
    if losses > 0 {
        println!("receiver counted losses: {:?}", health.snapshot().losses);
    }
    outcome
}

struct Rsyslog {
    child: Child,
}

impl Drop for Rsyslog {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn bench_rsyslog(stream: &[u8], n: u64) -> Outcome {
    assert!(
        Path::new(RSYSLOGD).exists(),
        "{RSYSLOGD} is missing: run scripts/setup.sh (Debian package rsyslog)"
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let out: PathBuf = d.join("out.log");
    // rsyslog as a collector host would run it: imtcp into a file, the raw message per
    // line, a large write buffer; its queues are the defaults (imtcp is flow-controlled
    // by them, so it pushes back rather than dropping, as the receiver does).
    let config = format!(
        r#"global(workDirectory="{dir}" maxMessageSize="64k")
module(load="imtcp")
input(type="imtcp" address="127.0.0.1" port="{port}" ruleset="bench")
template(name="raw" type="string" string="%rawmsg%\n")
ruleset(name="bench") {{
  action(type="omfile" file="{out}" template="raw" ioBufferSize="256k")
}}
"#,
        dir = d.display(),
        out = out.display()
    );
    let conf = d.join("rsyslog.conf");
    std::fs::write(&conf, &config).expect("write config");
    let child = Command::new(RSYSLOGD)
        .arg("-n")
        .arg("-f")
        .arg(&conf)
        .arg("-i")
        .arg(d.join("rsyslogd.pid"))
        .spawn()
        .expect("start rsyslogd");
    let mut rsyslog = Rsyslog { child };
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let ready = Instant::now();
    while TcpStream::connect(addr).is_err() {
        if let Ok(Some(status)) = rsyslog.child.try_wait() {
            panic!("rsyslogd exited ({status}); config:\n{config}");
        }
        assert!(
            ready.elapsed() < Duration::from_secs(20),
            "rsyslogd did not listen"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let stream = Arc::new(stream.to_vec());
    let start = Instant::now();
    let client = send(addr, stream);
    let mut lines = LineCounter::new(&out);
    let outcome = wait(n, start, || lines.count());
    client.join().expect("client");
    drop(rsyslog);
    outcome
}

/// Counts the lines of a growing file, reading only what was appended.
struct LineCounter {
    path: PathBuf,
    file: Option<std::fs::File>,
    lines: u64,
    buf: Vec<u8>,
}

impl LineCounter {
    fn new(path: &Path) -> LineCounter {
        LineCounter {
            path: path.to_path_buf(),
            file: None,
            lines: 0,
            buf: vec![0; 1 << 20],
        }
    }

    fn count(&mut self) -> u64 {
        if self.file.is_none() {
            self.file = std::fs::File::open(&self.path).ok();
        }
        if let Some(f) = &mut self.file {
            while let Ok(k) = f.read(&mut self.buf) {
                if k == 0 {
                    break;
                }
                self.lines += self.buf[..k].iter().filter(|&&b| b == b'\n').count() as u64;
            }
        }
        self.lines
    }
}
