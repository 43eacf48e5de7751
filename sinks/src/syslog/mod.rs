//! Forwarding alerts to a syslog collector: RFC 5424 messages whose MSG is the ECS JSON
//! alert, over TCP with octet-counting framing (RFC 6587), TLS (RFC 5425) or UDP
//! (RFC 5426).
//!
//! [`SyslogSink::write`] only formats the message ([`format`](mod@format)) and puts it on a bounded
//! queue (`queue.rs`); one sender thread per sink (`sender.rs`) connects, reconnects with
//! exponential backoff and writes, framed by [`framing`], over a connection
//! (`connection.rs`, `tls.rs`). When the queue is full the new alert is refused with an
//! error, which the pipeline counts as a loss (`sink.syslog`). Nothing leaves the queue
//! without being written to a connection or counted.
//!
//! May touch: sockets to the configured collector, the TLS CA file, one sender thread.
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

pub mod format;
pub mod framing;

mod connection;
mod queue;
mod sender;
mod tls;

use crate::config::{split_host_port, Facility, SyslogProtocol, SyslogSinkConfig};
use format::format_message;
use queue::{Msg, Shared};
use sender::Sender;
use sensor_core::alert::Alert;
use sensor_core::sink::AlertSink;
use sensor_core::Health;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Acknowledged alerts written this long before a connection's last write are counted as
/// unconfirmed when the connection is reset.
pub const UNCONFIRMED_WINDOW: Duration = Duration::from_millis(500);

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
    #[error("cannot load the TLS CA file {}: {message}", path.display())]
    TlsCa {
        /// The file.
        path: PathBuf,
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

/// The syslog alert sink.
pub struct SyslogSink {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
    facility: Facility,
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
        let protocol = config.protocol;
        let tls = match protocol {
            SyslogProtocol::Tls => Some(tls::Tls::new(config, host)?),
            SyslogProtocol::Tcp | SyslogProtocol::Udp => None,
        };
        let shared = Arc::new(Shared::new());
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
            facility: config.facility,
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
        self.shared.len()
    }

    /// Stops the sender: it keeps delivering for up to `flush_timeout_secs`, closes the
    /// connection cleanly, and counts what is left. Called by `Drop` too.
    pub fn shutdown(&mut self) {
        let wait = if self.flush_timed_out {
            Duration::ZERO
        } else {
            self.flush_timeout
        };
        self.shared.begin_shutdown(wait);
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
        if let Err(why) = self.shared.push(Msg { bytes }, self.capacity) {
            stats.dropped_queue_full.fetch_add(1, Ordering::Relaxed);
            return Err(io::Error::other(format!(
                "syslog queue full ({} alerts) for {}: {why}",
                self.capacity, self.address,
            )));
        }
        stats.queued.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Waits (up to `flush_timeout_secs`) until every queued alert has been written.
    fn flush(&mut self) -> io::Result<()> {
        let deadline = Instant::now() + self.flush_timeout;
        if let Err((left, why)) = self.shared.wait_drained(deadline, self.thread.is_some()) {
            self.flush_timed_out = true;
            return Err(io::Error::other(format!(
                "{left} alerts not yet sent to {}: {why}",
                self.address
            )));
        }
        self.flush_timed_out = false;
        Ok(())
    }

    fn attach_health(&mut self, health: &Arc<Health>) {
        health.loss_counter("sink.syslog");
        health.loss_counter("sink.syslog.unconfirmed");
        self.shared.attach_health(health);
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
    use crate::test_support::alert_at_fixed_time as alert;
    use sensor_core::alert::Severity;
    use std::io::Read;
    use std::net::{TcpListener, TcpStream};

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
        framing::split_octet_frames(&data).expect("whole octet-counted frames")
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
