//! Forwarding alerts to a syslog collector: RFC 5424 messages whose MSG is the ECS JSON
//! alert, over TCP with octet-counting framing (RFC 6587), TLS (RFC 5425) or UDP
//! (RFC 5426).
//!
//! [`SyslogSink::write`] only formats the message and puts it on a bounded queue; one
//! sender thread per sink connects, reconnects with exponential backoff and writes. When
//! the queue is full the new alert is refused with an error, which the pipeline counts
//! as a loss (`sink.syslog`). Nothing leaves the queue without being written to a
//! connection or counted.
//!
//! ## What "delivered" means (the honest guarantee)
//! Syslog has no acknowledgements, and a TCP `write` that succeeds only put the bytes in
//! the kernel. So the sender keeps a window of what it wrote on the current connection
//! and, on Linux, asks the kernel how many of those bytes the collector's TCP has not
//! acknowledged yet (`SIOCOUTQ`, still readable after a reset). When the connection
//! breaks:
//! - alerts whose bytes the collector's TCP never acknowledged cannot have been read by
//!   it: they are put back at the head of the queue and sent again on the next
//!   connection. No duplicates, no loss.
//! - if the collector closed cleanly (FIN: its kernel only sends that when the
//!   collector read everything it had received), the acknowledged alerts were read:
//!   delivered, exactly once.
//! - if the connection was reset (RST: the collector crashed or closed with unread
//!   data), TCP cannot say which acknowledged alerts were read. The acknowledged alerts
//!   written in the last [`UNCONFIRMED_WINDOW`] before the connection's last write are
//!   counted as **unconfirmed** (`sink.syslog.unconfirmed` in the health status): each
//!   may or may not have arrived. They are not resent, so there are never duplicates.
//!
//! So for TCP and TLS: every alert arrives at most once, and
//! `arrived + dropped <= sent <= arrived + dropped + unconfirmed`, with `unconfirmed = 0`
//! whenever the collector never resets a connection. At shutdown the sender half-closes
//! the connection and waits (up to `flush_timeout_secs`) for the collector to close its
//! side, which it does only after reading everything. Collectors that need more than this
//! should use a protocol with application acknowledgements (RELP).
//!
//! UDP is fire-and-forget: a datagram to a stopped collector is lost without a trace
//! unless the kernel reports an ICMP "port unreachable", which is counted as one
//! unconfirmed alert (the current alert is retried).

use crate::alert::{Alert, Severity};
use crate::config::syslog::{split_host_port, SyslogSinkConfig};
use crate::health::Health;
use crate::sink::AlertSink;
use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::{Shutdown as NetShutdown, SocketAddr, TcpStream, ToSocketAddrs, UdpSocket};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Acknowledged alerts written this long before a connection's last write are counted as
/// unconfirmed when the connection is reset.
pub const UNCONFIRMED_WINDOW: Duration = Duration::from_millis(500);
/// First reconnect delay; it doubles up to `max_backoff_secs`.
const INITIAL_BACKOFF: Duration = Duration::from_millis(100);
/// Timeout for one TCP connect attempt and for the TLS handshake.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// A write blocked this long (collector not reading) breaks the connection.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// Most written alerts remembered per connection.
const WINDOW_LIMIT: usize = 1_000_000;

/// Why a syslog sink could not start.
#[derive(Debug, thiserror::Error)]
pub enum SyslogError {
    /// The `[sinks.syslog]` settings do not validate.
    #[error("invalid [sinks.syslog] settings: {0}")]
    Config(String),
    /// TLS was asked for but this build has no TLS (the `tls` feature is off).
    #[error("protocol \"tls\" needs a Picket built with the `tls` feature")]
    TlsUnavailable,
    /// The CA file could not be read or parsed.
    #[error("cannot load the TLS CA file {path}: {message}")]
    TlsCa {
        /// The file.
        path: String,
        /// What went wrong.
        message: String,
    },
    /// The TLS library refused the settings.
    #[error("cannot set up TLS: {0}")]
    Tls(String),
    /// The sender thread could not be started.
    #[error("cannot start the syslog sender thread: {0}")]
    Thread(#[source] io::Error),
}

/// Transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// TCP with octet-counting framing.
    Tcp,
    /// TLS with octet-counting framing.
    Tls,
    /// One datagram per message.
    Udp,
}

/// Counters of one syslog sink (also reported to the health registry).
#[derive(Debug, Default)]
pub struct SyslogStats {
    /// Alerts accepted onto the queue.
    pub queued: AtomicU64,
    /// Alerts written to a connection (a resent alert counts once per write).
    pub written: AtomicU64,
    /// Alerts put back on the queue because the collector's TCP never acknowledged them.
    pub resent: AtomicU64,
    /// Alerts refused because the queue was full (the pipeline counts these).
    pub dropped_queue_full: AtomicU64,
    /// Alerts refused because they exceed `max_message_bytes` (the pipeline counts these).
    pub dropped_too_large: AtomicU64,
    /// Alerts still queued when the shutdown timeout passed.
    pub dropped_at_shutdown: AtomicU64,
    /// Alerts that may or may not have arrived (connection reset; ICMP unreachable).
    pub unconfirmed: AtomicU64,
    /// Successful connections.
    pub connects: AtomicU64,
}

impl SyslogStats {
    /// Every alert counted as dropped.
    pub fn dropped(&self) -> u64 {
        self.dropped_queue_full.load(Ordering::Relaxed)
            + self.dropped_too_large.load(Ordering::Relaxed)
            + self.dropped_at_shutdown.load(Ordering::Relaxed)
    }
}

struct Msg {
    bytes: Vec<u8>,
}

#[derive(Default)]
struct State {
    queue: VecDeque<Msg>,
    /// A message taken by the sender and not yet written or put back.
    in_flight: bool,
    shutdown: bool,
    /// While shutting down: give up delivering after this.
    deadline: Option<Instant>,
    last_error: String,
}

struct Shared {
    state: Mutex<State>,
    /// Wakes the sender (new message, shutdown).
    wake: Condvar,
    /// Wakes `flush` (queue drained).
    drained: Condvar,
    stats: Arc<SyslogStats>,
    health: Mutex<Arc<Health>>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
    fn health(&self) -> Arc<Health> {
        self.health
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

/// The syslog alert sink.
pub struct SyslogSink {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
    facility: u8,
    app_name: String,
    max_bytes: usize,
    capacity: usize,
    flush_timeout: Duration,
    seq: u64,
    address: String,
    /// A flush already waited its full timeout: shutdown does not wait again.
    flush_timed_out: bool,
}

impl std::fmt::Debug for SyslogSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SyslogSink")
            .field("address", &self.address)
            .field("capacity", &self.capacity)
            .finish_non_exhaustive()
    }
}

impl SyslogSink {
    /// Validates `config`, loads TLS material and starts the sender thread. It does not
    /// wait for a connection: an unreachable collector is retried in the background.
    pub fn start(config: &SyslogSinkConfig) -> Result<SyslogSink, SyslogError> {
        let mut problems = Vec::new();
        config.validate(&mut problems);
        if let Some((field, message)) = problems.first() {
            return Err(SyslogError::Config(format!("{field}: {message}")));
        }
        let (host, port) = config
            .host_port()
            .ok_or_else(|| SyslogError::Config("address".into()))?;
        let protocol = match config.protocol.as_str() {
            "udp" => Protocol::Udp,
            "tls" => Protocol::Tls,
            _ => Protocol::Tcp,
        };
        let tls = match protocol {
            Protocol::Tls => Some(tls::Tls::new(config, host)?),
            _ => None,
        };
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            wake: Condvar::new(),
            drained: Condvar::new(),
            stats: Arc::new(SyslogStats::default()),
            health: Mutex::new(Health::new()),
        });
        let sender = Sender {
            shared: shared.clone(),
            host: host.to_string(),
            port,
            protocol,
            tls,
            max_backoff: Duration::from_secs(config.max_backoff_secs),
            address: config.address.clone(),
        };
        let thread = std::thread::Builder::new()
            .name("picket-syslog".into())
            .spawn(move || sender.run())
            .map_err(SyslogError::Thread)?;
        Ok(SyslogSink {
            shared,
            thread: Some(thread),
            facility: config.facility_code().unwrap_or(16),
            app_name: config.app_name.clone(),
            max_bytes: config.max_message_bytes,
            capacity: config.queue_capacity,
            flush_timeout: Duration::from_secs(config.flush_timeout_secs),
            seq: 0,
            flush_timed_out: false,
            address: config.address.clone(),
        })
    }

    /// The sink's counters.
    pub fn stats(&self) -> Arc<SyslogStats> {
        self.shared.stats.clone()
    }

    /// Alerts waiting to be sent.
    pub fn queued(&self) -> usize {
        self.shared.lock().queue.len()
    }

    /// Stops the sender: it keeps delivering for up to `flush_timeout_secs`, closes the
    /// connection cleanly, and counts what is left. Called by `Drop` too.
    pub fn shutdown(&mut self) {
        {
            let mut st = self.shared.lock();
            if !st.shutdown {
                st.shutdown = true;
                let wait = if self.flush_timed_out {
                    Duration::ZERO
                } else {
                    self.flush_timeout
                };
                st.deadline = Some(Instant::now() + wait);
            }
        }
        self.shared.wake.notify_all();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for SyslogSink {
    fn drop(&mut self) {
        self.shutdown();
    }
}

impl AlertSink for SyslogSink {
    fn name(&self) -> &str {
        "syslog"
    }

    fn write(&mut self, alert: &Alert, line: &str) -> io::Result<()> {
        self.seq += 1;
        let bytes = format_message(alert, line, self.facility, &self.app_name, self.seq);
        let stats = &self.shared.stats;
        if bytes.len() > self.max_bytes {
            stats.dropped_too_large.fetch_add(1, Ordering::Relaxed);
            return Err(io::Error::other(format!(
                "syslog message of {} bytes exceeds max_message_bytes ({}); alert not forwarded",
                bytes.len(),
                self.max_bytes
            )));
        }
        let mut st = self.shared.lock();
        if st.queue.len() >= self.capacity {
            stats.dropped_queue_full.fetch_add(1, Ordering::Relaxed);
            return Err(io::Error::other(format!(
                "syslog queue full ({} alerts) for {}: {}",
                self.capacity,
                self.address,
                if st.last_error.is_empty() {
                    "collector too slow"
                } else {
                    &st.last_error
                }
            )));
        }
        st.queue.push_back(Msg { bytes });
        drop(st);
        stats.queued.fetch_add(1, Ordering::Relaxed);
        self.shared.wake.notify_one();
        Ok(())
    }

    /// Waits (up to `flush_timeout_secs`) until every queued alert has been written.
    fn flush(&mut self) -> io::Result<()> {
        let deadline = Instant::now() + self.flush_timeout;
        let mut st = self.shared.lock();
        while !st.queue.is_empty() || st.in_flight {
            let now = Instant::now();
            if now >= deadline || self.thread.is_none() {
                self.flush_timed_out = true;
                return Err(io::Error::other(format!(
                    "{} alerts not yet sent to {}: {}",
                    st.queue.len() + usize::from(st.in_flight),
                    self.address,
                    st.last_error
                )));
            }
            st = self
                .shared
                .drained
                .wait_timeout(st, deadline - now)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
        self.flush_timed_out = false;
        Ok(())
    }

    fn attach_health(&mut self, health: &Arc<Health>) {
        health.loss_counter("sink.syslog");
        health.loss_counter("sink.syslog.unconfirmed");
        *self.shared.health.lock().unwrap_or_else(|p| p.into_inner()) = health.clone();
    }
}

/// Syslog severity for an alert severity: critical 2, high 3, medium 4, low 5.
pub fn syslog_severity(severity: Severity) -> u8 {
    match severity {
        Severity::Critical => 2,
        Severity::High => 3,
        Severity::Medium => 4,
        Severity::Low => 5,
    }
}

/// One RFC 5424 message (without transport framing):
/// `<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID [meta sequenceId="n"] JSON`.
pub fn format_message(
    alert: &Alert,
    json: &str,
    facility: u8,
    app_name: &str,
    seq: u64,
) -> Vec<u8> {
    let pri = u16::from(facility) * 8 + u16::from(syslog_severity(alert.severity()));
    let timestamp = alert.timestamp.format("%Y-%m-%dT%H:%M:%S%.6fZ");
    let host = header_field(alert.host.name.as_deref().unwrap_or(""), 255);
    let app = header_field(app_name, 48);
    // RFC 5424 7.3.1: sequenceId runs 1..=2147483647 and wraps.
    let seq_id = (seq.saturating_sub(1) % 2_147_483_647) + 1;
    let mut out = format!(
        "<{pri}>1 {timestamp} {host} {app} {} alert [meta sequenceId=\"{seq_id}\"] ",
        std::process::id()
    )
    .into_bytes();
    out.extend_from_slice(json.as_bytes());
    out
}

/// A header field: printable US-ASCII only (others become `_`), at most `max` bytes,
/// `-` when empty.
fn header_field(s: &str, max: usize) -> String {
    let cleaned: String = s
        .chars()
        .map(|c| if ('!'..='~').contains(&c) { c } else { '_' })
        .take(max)
        .collect();
    if cleaned.is_empty() {
        "-".into()
    } else {
        cleaned
    }
}

/// Octet-counting framing (RFC 6587 3.4.1): `LEN SP MSG`.
pub fn octet_frame(msg: &[u8]) -> Vec<u8> {
    let mut out = format!("{} ", msg.len()).into_bytes();
    out.extend_from_slice(msg);
    out
}

/// A TCP stream that counts the bytes the kernel accepted, so TLS record bytes map to
/// message boundaries.
#[derive(Debug)]
struct Counting {
    tcp: TcpStream,
    written: u64,
}

impl Read for Counting {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.tcp.read(buf)
    }
}

impl Write for Counting {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.tcp.write(buf)?;
        self.written += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.tcp.flush()
    }
}

/// How the collector left a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Peer {
    Open,
    /// FIN (possibly followed by a reset for data sent after it): the collector's kernel
    /// sends a FIN only when the collector closed with nothing unread, so everything it
    /// acknowledged was read, and nothing sent later can have been read.
    ClosedClean,
    /// RST without FIN: it dropped data it had acknowledged but not read, if any; data
    /// it never acknowledged is gone with the connection.
    Reset,
    /// A write timed out or failed otherwise: the collector may still be alive and read
    /// (and our kernel may still deliver) anything written.
    Stalled,
}

/// Classifies a failed read or write. After a FIN, Linux reports a later reset as
/// `EPIPE` (the socket was in CLOSE_WAIT); a reset of an open connection is
/// `ECONNRESET`.
fn classify(e: &io::Error) -> Peer {
    match e.kind() {
        io::ErrorKind::BrokenPipe => Peer::ClosedClean,
        io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionAborted => Peer::Reset,
        _ => Peer::Stalled,
    }
}

enum Conn {
    Tcp(Counting),
    #[cfg(feature = "tls")]
    Tls(Box<native_tls::TlsStream<Counting>>),
    Udp(UdpSocket),
}

impl Conn {
    fn tcp(&self) -> Option<&TcpStream> {
        match self {
            Conn::Tcp(c) => Some(&c.tcp),
            #[cfg(feature = "tls")]
            Conn::Tls(t) => Some(&t.get_ref().tcp),
            Conn::Udp(_) => None,
        }
    }

    /// Bytes the kernel accepted on this connection so far.
    fn written(&self) -> u64 {
        match self {
            Conn::Tcp(c) => c.written,
            #[cfg(feature = "tls")]
            Conn::Tls(t) => t.get_ref().written,
            Conn::Udp(_) => 0,
        }
    }

    fn send(&mut self, msg: &[u8]) -> io::Result<()> {
        match self {
            Conn::Tcp(c) => c.write_all(&octet_frame(msg)),
            #[cfg(feature = "tls")]
            Conn::Tls(t) => {
                t.write_all(&octet_frame(msg))?;
                t.flush()
            }
            Conn::Udp(u) => u.send(msg).map(|_| ()),
        }
    }

    /// Bytes written that the peer's TCP has not acknowledged (Linux only).
    fn unacked(&self) -> Option<u64> {
        #[cfg(target_os = "linux")]
        {
            use std::os::fd::AsRawFd;
            let fd = self.tcp()?.as_raw_fd();
            let mut n: libc::c_int = 0;
            // SAFETY: TIOCOUTQ (SIOCOUTQ) writes one int through the pointer we pass; `fd`
            // is a live socket owned by `self`.
            let rc = unsafe { libc::ioctl(fd, libc::TIOCOUTQ, &mut n) };
            (rc == 0).then(|| u64::try_from(n).unwrap_or(0))
        }
        #[cfg(not(target_os = "linux"))]
        {
            None
        }
    }

    /// Looks, without blocking, whether the collector has closed or reset the connection.
    fn peer(&mut self) -> Peer {
        let Some(tcp) = self.tcp() else {
            return Peer::Open;
        };
        if tcp.set_nonblocking(true).is_err() {
            return Peer::Stalled;
        }
        let state = match self {
            Conn::Tcp(c) => drain_nonblocking(&mut c.tcp),
            #[cfg(feature = "tls")]
            Conn::Tls(t) => match raw_state(&t.get_ref().tcp) {
                // TLS records waiting (session tickets, close_notify): let TLS read
                // them, then look at the raw socket again.
                Peer::Open if raw_has_data(&t.get_ref().tcp) => match drain_nonblocking(t.as_mut())
                {
                    Peer::Open => Peer::Open,
                    Peer::ClosedClean => match raw_state(&t.get_ref().tcp) {
                        Peer::Open => Peer::Reset,
                        other => other,
                    },
                    other => other,
                },
                other => other,
            },
            Conn::Udp(_) => Peer::Open,
        };
        if let Some(tcp) = self.tcp() {
            if tcp.set_nonblocking(false).is_err() {
                return Peer::Stalled;
            }
        }
        state
    }

    /// Half-closes and waits for the collector to close its side (it does so after
    /// reading everything). True when it did before `deadline`.
    fn close_cleanly(&mut self, deadline: Instant) -> bool {
        #[cfg(feature = "tls")]
        if let Conn::Tls(t) = self {
            let _ = t.shutdown();
        }
        let Some(tcp) = self.tcp() else {
            return true;
        };
        if tcp.shutdown(NetShutdown::Write).is_err() {
            return false;
        }
        let mut tcp = tcp;
        let mut buf = [0u8; 4096];
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() || tcp.set_read_timeout(Some(left)).is_err() {
                return false;
            }
            match tcp.read(&mut buf) {
                Ok(0) => return true,
                Ok(_) => continue,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => return false,
            }
        }
    }
}

/// Reads and discards whatever the peer sent, without blocking.
fn drain_nonblocking(r: &mut impl Read) -> Peer {
    let mut buf = [0u8; 4096];
    loop {
        match r.read(&mut buf) {
            Ok(0) => return Peer::ClosedClean,
            Ok(_) => continue,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Peer::Open,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return classify(&e),
        }
    }
}

/// The raw socket's state by a nonblocking peek: FIN, reset, or open (data or not).
#[cfg(feature = "tls")]
fn raw_state(tcp: &TcpStream) -> Peer {
    let mut b = [0u8; 1];
    match tcp.peek(&mut b) {
        Ok(0) => Peer::ClosedClean,
        Ok(_) => Peer::Open,
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => Peer::Open,
        Err(e) => classify(&e),
    }
}

/// Bytes waiting on the raw socket?
#[cfg(feature = "tls")]
fn raw_has_data(tcp: &TcpStream) -> bool {
    let mut b = [0u8; 1];
    matches!(tcp.peek(&mut b), Ok(n) if n > 0)
}

/// An alert written on the current connection, remembered until it is surely past the
/// point where a reset could lose it.
struct Sent {
    msg: Msg,
    /// Connection byte offset just past the message.
    end: u64,
    at: Instant,
}

struct Sender {
    shared: Arc<Shared>,
    host: String,
    port: u16,
    protocol: Protocol,
    tls: Option<tls::Tls>,
    max_backoff: Duration,
    address: String,
}

impl Sender {
    fn run(self) {
        let mut conn: Option<Conn> = None;
        let mut window: VecDeque<Sent> = VecDeque::new();
        let mut backoff = INITIAL_BACKOFF;
        while let Some(msg) = self.next() {
            if conn.is_none() {
                match self.connect() {
                    Ok(c) => {
                        self.shared.stats.connects.fetch_add(1, Ordering::Relaxed);
                        tracing::info!(address = %self.address, "Connected to the syslog collector");
                        conn = Some(c);
                        backoff = INITIAL_BACKOFF;
                    }
                    Err(e) => {
                        self.set_error(format!("cannot connect to {}: {e}", self.address));
                        self.put_back(vec![msg]);
                        self.sleep(backoff);
                        backoff = (backoff * 2).min(self.max_backoff);
                        continue;
                    }
                }
            }
            let Some(c) = conn.as_mut() else {
                self.put_back(vec![msg]);
                continue;
            };
            let peer = c.peer();
            if peer != Peer::Open {
                self.connection_lost(c, &mut window, peer, vec![msg], "seen before writing");
                conn = None;
                continue;
            }
            match c.send(&msg.bytes) {
                Ok(()) => {
                    self.shared.stats.written.fetch_add(1, Ordering::Relaxed);
                    let end = c.written();
                    self.done_in_flight();
                    if self.protocol != Protocol::Udp {
                        window.push_back(Sent {
                            msg,
                            end,
                            at: Instant::now(),
                        });
                        prune(c, &mut window);
                    }
                }
                Err(e) if self.protocol == Protocol::Udp => {
                    // An ICMP error from an earlier datagram: that one is unaccounted
                    // for; this one was not sent.
                    if e.kind() == io::ErrorKind::ConnectionRefused {
                        self.unconfirmed(1, "the collector's UDP port is unreachable");
                    }
                    self.set_error(format!("cannot send to {}: {e}", self.address));
                    self.put_back(vec![msg]);
                    conn = None;
                    self.sleep(backoff);
                    backoff = (backoff * 2).min(self.max_backoff);
                }
                Err(e) => {
                    // The write's own error says how the connection ended: a read now
                    // would see the reset already consumed and look like a FIN.
                    let peer = classify(&e);
                    let why = format!("write failed: {e}");
                    self.connection_lost(c, &mut window, peer, vec![msg], &why);
                    conn = None;
                }
            }
        }
        self.finish(conn, window);
    }

    /// Waits for the next message; `None` means stop (shutdown and queue empty, or the
    /// shutdown deadline passed).
    fn next(&self) -> Option<Msg> {
        let mut st = self.shared.lock();
        loop {
            if st.shutdown
                && (st.queue.is_empty() || st.deadline.is_some_and(|d| Instant::now() >= d))
            {
                return None;
            }
            if let Some(m) = st.queue.pop_front() {
                st.in_flight = true;
                return Some(m);
            }
            self.shared.drained.notify_all();
            st = self
                .shared
                .wake
                .wait_timeout(st, Duration::from_millis(500))
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }

    fn done_in_flight(&self) {
        let mut st = self.shared.lock();
        st.in_flight = false;
        st.last_error.clear();
        if st.queue.is_empty() {
            self.shared.drained.notify_all();
        }
    }

    /// Puts messages back at the head of the queue, oldest first. Never counted against
    /// the capacity: they were accepted already.
    fn put_back(&self, msgs: Vec<Msg>) {
        let mut st = self.shared.lock();
        for m in msgs.into_iter().rev() {
            st.queue.push_front(m);
        }
        st.in_flight = false;
    }

    fn set_error(&self, e: String) {
        let mut st = self.shared.lock();
        let changed = st.last_error != e;
        let queued = st.queue.len();
        st.last_error.clone_from(&e);
        drop(st);
        if changed {
            tracing::warn!(address = %self.address, queued, error = %e, "Syslog collector unavailable; alerts are queued");
            self.shared.health().note("sink.syslog", e);
        }
    }

    fn unconfirmed(&self, n: u64, why: &str) {
        if n == 0 {
            return;
        }
        self.shared
            .stats
            .unconfirmed
            .fetch_add(n, Ordering::Relaxed);
        let health = self.shared.health();
        health.add_loss("sink.syslog.unconfirmed", n);
        health.note(
            "sink.syslog.unconfirmed",
            format!("{n} alerts may not have reached {}: {why}", self.address),
        );
        tracing::error!(address = %self.address, alerts = n, reason = why, "Syslog alerts unconfirmed: the collector may not have received them");
    }

    /// Sleeps `d`, but not past the shutdown deadline; wakes early when shutdown starts.
    fn sleep(&self, d: Duration) {
        let st = self.shared.lock();
        let d = match st.deadline {
            Some(deadline) => d.min(deadline.saturating_duration_since(Instant::now())),
            None => d,
        };
        if !d.is_zero() {
            let _ = self.shared.wake.wait_timeout(st, d);
        }
    }

    fn connect(&self) -> io::Result<Conn> {
        let addrs: Vec<SocketAddr> = (self.host.as_str(), self.port).to_socket_addrs()?.collect();
        let mut last = io::Error::new(io::ErrorKind::NotFound, "the name resolves to no address");
        for addr in addrs {
            let attempt = match self.protocol {
                Protocol::Udp => {
                    let local: SocketAddr = if addr.is_ipv4() {
                        ([0, 0, 0, 0], 0).into()
                    } else {
                        ([0u16; 8], 0).into()
                    };
                    UdpSocket::bind(local).and_then(|u| u.connect(addr).map(|()| Conn::Udp(u)))
                }
                Protocol::Tcp | Protocol::Tls => TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT)
                    .and_then(|tcp| {
                        tcp.set_nodelay(true)?;
                        tcp.set_write_timeout(Some(WRITE_TIMEOUT))?;
                        let counting = Counting { tcp, written: 0 };
                        match &self.tls {
                            Some(tls) => tls.connect(counting),
                            None => Ok(Conn::Tcp(counting)),
                        }
                    }),
            };
            match attempt {
                Ok(c) => return Ok(c),
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    /// The connection is gone: resend what its TCP never acknowledged, count what may
    /// have been lost, keep the rest as delivered.
    fn connection_lost(
        &self,
        conn: &Conn,
        window: &mut VecDeque<Sent>,
        peer: Peer,
        pending: Vec<Msg>,
        why: &str,
    ) {
        // Without SIOCOUTQ (not Linux) nothing is known to be unacknowledged.
        let acked = conn
            .unacked()
            .map(|outq| conn.written().saturating_sub(outq));
        let last_write = window.back().map(|s| s.at);
        let recent =
            |s: &Sent| last_write.is_some_and(|lw| lw.duration_since(s.at) <= UNCONFIRMED_WINDOW);
        let mut resend = Vec::new();
        let mut unconfirmed = 0u64;
        for s in window.drain(..) {
            let was_acked = acked.is_none_or(|a| s.end <= a);
            match (peer, was_acked) {
                // Never acknowledged, and the connection is gone for good: resend.
                (Peer::ClosedClean | Peer::Reset, false) => resend.push(s.msg),
                // Acknowledged before a FIN: read.
                (Peer::ClosedClean, true) if acked.is_some() => {}
                // Our kernel may still deliver it after we close: cannot resend.
                (Peer::Stalled | Peer::Open, false) => unconfirmed += 1,
                _ => unconfirmed += u64::from(recent(&s)),
            }
        }
        let n_resend = resend.len() as u64;
        self.shared
            .stats
            .resent
            .fetch_add(n_resend, Ordering::Relaxed);
        if matches!(peer, Peer::Stalled | Peer::Open) {
            // The message being written may be partly on its way.
            unconfirmed += pending.len() as u64;
            self.done_in_flight();
        } else {
            resend.extend(pending);
        }
        self.put_back(resend);
        let how = match peer {
            Peer::ClosedClean => "closed by the collector",
            Peer::Reset => "reset by the collector",
            Peer::Stalled | Peer::Open => "abandoned",
        };
        tracing::warn!(address = %self.address, how, resent = n_resend, unconfirmed, reason = why, "Syslog connection lost; reconnecting");
        self.set_error(format!("connection to {} {how}: {why}", self.address));
        self.unconfirmed(
            unconfirmed,
            &format!("the connection was {how} with alerts in flight"),
        );
    }

    /// Shutdown: close cleanly, settle the window, count what was never sent.
    fn finish(&self, conn: Option<Conn>, mut window: VecDeque<Sent>) {
        let deadline = self.shared.lock().deadline.unwrap_or_else(Instant::now);
        if let Some(mut c) = conn {
            if c.close_cleanly(deadline) {
                window.clear();
            } else {
                let acked = c.unacked().map(|q| c.written().saturating_sub(q));
                let n = window
                    .iter()
                    .filter(|s| {
                        acked.is_none_or(|a| s.end > a) || s.at.elapsed() <= UNCONFIRMED_WINDOW
                    })
                    .count() as u64;
                self.unconfirmed(n, "the collector did not confirm the end of the stream before the shutdown timeout");
            }
        }
        let mut st = self.shared.lock();
        let left = st.queue.len() as u64;
        st.queue.clear();
        st.in_flight = false;
        drop(st);
        self.shared.drained.notify_all();
        if left > 0 {
            self.shared
                .stats
                .dropped_at_shutdown
                .fetch_add(left, Ordering::Relaxed);
            let health = self.shared.health();
            health.add_loss("sink.syslog", left);
            health.note(
                "sink.syslog",
                format!(
                    "{left} alerts still queued for {} at shutdown were dropped",
                    self.address
                ),
            );
            tracing::error!(address = %self.address, alerts = left, "Syslog alerts still queued at shutdown were dropped");
        }
    }
}

/// Forgets window entries the collector's TCP acknowledged long enough before the last
/// write that a reset can no longer make them unconfirmed.
fn prune(conn: &Conn, window: &mut VecDeque<Sent>) {
    let acked = conn.unacked().map(|q| conn.written().saturating_sub(q));
    let Some(last) = window.back().map(|s| s.at) else {
        return;
    };
    while let Some(front) = window.front() {
        let old = last.duration_since(front.at) > UNCONFIRMED_WINDOW;
        let acked_front = acked.is_none_or(|a| front.end <= a);
        if (old && acked_front) || window.len() > WINDOW_LIMIT {
            window.pop_front();
        } else {
            break;
        }
    }
}

#[cfg(feature = "tls")]
mod tls {
    use super::{Conn, Counting, SyslogError, CONNECT_TIMEOUT};
    use crate::config::syslog::SyslogSinkConfig;
    use std::io;

    /// TLS settings: a connector and the name to verify.
    pub(super) struct Tls {
        connector: native_tls::TlsConnector,
        server_name: String,
    }

    impl Tls {
        pub(super) fn new(config: &SyslogSinkConfig, host: &str) -> Result<Tls, SyslogError> {
            let mut builder = native_tls::TlsConnector::builder();
            builder.min_protocol_version(Some(native_tls::Protocol::Tlsv12));
            if !config.tls_ca_file.is_empty() {
                let ca_err = |message: String| SyslogError::TlsCa {
                    path: config.tls_ca_file.clone(),
                    message,
                };
                let pem = std::fs::read(&config.tls_ca_file).map_err(|e| ca_err(e.to_string()))?;
                let cert =
                    native_tls::Certificate::from_pem(&pem).map_err(|e| ca_err(e.to_string()))?;
                builder.add_root_certificate(cert);
            }
            let connector = builder
                .build()
                .map_err(|e| SyslogError::Tls(e.to_string()))?;
            let server_name = if config.tls_server_name.is_empty() {
                host.to_string()
            } else {
                config.tls_server_name.clone()
            };
            Ok(Tls {
                connector,
                server_name,
            })
        }

        pub(super) fn connect(&self, stream: Counting) -> io::Result<Conn> {
            stream.tcp.set_read_timeout(Some(CONNECT_TIMEOUT))?;
            let tls = self
                .connector
                .connect(&self.server_name, stream)
                .map_err(|e| io::Error::other(format!("TLS handshake failed: {e}")))?;
            tls.get_ref().tcp.set_read_timeout(None)?;
            Ok(Conn::Tls(Box::new(tls)))
        }
    }
}

#[cfg(not(feature = "tls"))]
mod tls {
    use super::{Conn, Counting, SyslogError};
    use crate::config::syslog::SyslogSinkConfig;
    use std::io;

    /// Placeholder when the `tls` feature is off: TLS cannot be configured.
    pub(super) struct Tls;

    impl Tls {
        pub(super) fn new(_config: &SyslogSinkConfig, _host: &str) -> Result<Tls, SyslogError> {
            Err(SyslogError::TlsUnavailable)
        }
        pub(super) fn connect(&self, _stream: Counting) -> io::Result<Conn> {
            Err(io::Error::other("TLS is not built in"))
        }
    }
}

/// Resolves `address` the way the sink does (for `check-config` style probes).
pub fn resolve(address: &str) -> io::Result<Vec<SocketAddr>> {
    let (host, port) = split_host_port(address)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "expected host:port"))?;
    Ok((host, port).to_socket_addrs()?.collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::{Rule, Threat};
    use crate::event::Event;
    use chrono::TimeZone;
    use std::net::TcpListener;

    fn alert(marker: &str, severity: Severity) -> Alert {
        let mut ev = Event::exec(chrono::Utc::now());
        ev.set_argv(vec!["ss".into(), "-tan".into(), marker.into()]);
        ev.host.name = Some("web 1\u{1b}".into());
        let mut a = Alert::for_event(&ev, Rule::default(), Threat::default(), severity);
        a.timestamp = chrono::Utc
            .with_ymd_and_hms(2024, 5, 1, 10, 0, 0)
            .single()
            .expect("time");
        a
    }

    #[test]
    fn message_has_rfc5424_header_and_json_body() {
        let a = alert("m1", Severity::High);
        let json = a.to_json_line();
        let msg = format_message(&a, &json, 16, "picket", 7);
        let text = String::from_utf8(msg).expect("utf8");
        let expected_head = format!(
            "<131>1 2024-05-01T10:00:00.000000Z web_1_ picket {} alert [meta sequenceId=\"7\"] ",
            std::process::id()
        );
        assert!(text.starts_with(&expected_head), "{text}");
        assert_eq!(&text[expected_head.len()..], json);
        assert_eq!(octet_frame(b"abc"), b"3 abc");
    }

    fn config(address: String, capacity: usize) -> SyslogSinkConfig {
        SyslogSinkConfig {
            enabled: true,
            address,
            queue_capacity: capacity,
            max_backoff_secs: 1,
            flush_timeout_secs: 5,
            ..SyslogSinkConfig::default()
        }
    }

    /// Reads octet-counted frames until EOF.
    fn read_frames(mut s: TcpStream) -> Vec<Vec<u8>> {
        let mut data = Vec::new();
        s.read_to_end(&mut data).expect("read");
        let mut frames = Vec::new();
        let mut rest = &data[..];
        while !rest.is_empty() {
            let sp = rest.iter().position(|&b| b == b' ').expect("length");
            let len: usize = std::str::from_utf8(&rest[..sp])
                .expect("digits")
                .parse()
                .expect("number");
            frames.push(rest[sp + 1..sp + 1 + len].to_vec());
            rest = &rest[sp + 1 + len..];
        }
        frames
    }

    #[test]
    fn tcp_frames_arrive_in_order_and_shutdown_waits_for_the_collector() {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr").to_string();
        let reader = std::thread::spawn(move || {
            let (s, _) = listener.accept().expect("accept");
            read_frames(s)
        });
        let mut sink = SyslogSink::start(&config(addr, 100)).expect("start");
        let mut sent = Vec::new();
        for i in 0..50 {
            let a = alert(&format!("m{i}"), Severity::Low);
            let line = a.to_json_line();
            sink.write(&a, &line).expect("queued");
            sent.push(line);
        }
        sink.flush().expect("flush");
        let stats = sink.stats();
        drop(sink);
        let frames = reader.join().expect("reader");
        assert_eq!(frames.len(), 50);
        for (f, line) in frames.iter().zip(&sent) {
            assert!(f.ends_with(line.as_bytes()));
        }
        assert_eq!(stats.unconfirmed.load(Ordering::Relaxed), 0);
        assert_eq!(stats.dropped(), 0);
    }

    #[test]
    fn full_queue_refuses_and_counts_and_shutdown_counts_the_rest() {
        // Nothing listens on this port: the sender keeps retrying.
        let port = {
            let l = TcpListener::bind("127.0.0.1:0").expect("bind");
            l.local_addr().expect("addr").port()
        };
        let mut c = config(format!("127.0.0.1:{port}"), 10);
        c.flush_timeout_secs = 0;
        let mut sink = SyslogSink::start(&c).expect("start");
        let health = Health::new();
        sink.attach_health(&health);
        let mut refused = 0;
        for i in 0..30 {
            let a = alert(&format!("m{i}"), Severity::Low);
            if sink.write(&a, &a.to_json_line()).is_err() {
                refused += 1;
            }
        }
        let stats = sink.stats();
        assert!(refused >= 19, "{refused} refused");
        assert_eq!(stats.dropped_queue_full.load(Ordering::Relaxed), refused);
        drop(sink);
        assert_eq!(
            stats.dropped_at_shutdown.load(Ordering::Relaxed) + refused,
            30,
            "every alert either refused or counted at shutdown"
        );
        // The pipeline counts refusals itself; the sink counts what it dropped later.
        assert_eq!(
            health.snapshot().losses.get("sink.syslog").copied(),
            Some(30 - refused)
        );
        assert!(health.snapshot().notes.contains_key("sink.syslog"));
    }

    #[test]
    fn oversize_alert_is_refused() {
        let mut c = config("127.0.0.1:9".into(), 10);
        c.max_message_bytes = 600;
        c.flush_timeout_secs = 0;
        let mut sink = SyslogSink::start(&c).expect("start");
        let mut a = alert("m", Severity::Low);
        a.message = "x".repeat(1000);
        let err = sink.write(&a, &a.to_json_line()).expect_err("too large");
        assert!(err.to_string().contains("max_message_bytes"), "{err}");
        assert_eq!(sink.stats().dropped_too_large.load(Ordering::Relaxed), 1);
    }
}
