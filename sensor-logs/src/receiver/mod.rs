//! The syslog receiver's transport layer: what rsyslog's imudp, imtcp and imtcp-with-TLS
//! do for a collector host. It listens, frames and delivers raw messages; it does not
//! parse them (the caller turns each [`Message`] into an event).
//!
//! - [`Receiver::bind`] binds every listener at once, so a port in use is a start-up
//!   error naming the address; [`Receiver::run`] serves them later, on plain threads
//!   with blocking sockets (one per TCP or TLS connection, bounded by
//!   `max_connections`), and returns once stopped.
//! - Delivery is [`Deliver::deliver`], which may block. TCP and TLS push back through
//!   it: a connection's thread stops reading while its message is being taken, the
//!   peer's kernel buffer fills and the sender's own queue holds the rest, so a stream
//!   never drops. UDP cannot push back: its socket thread reads into a bounded queue
//!   (`queue_capacity`) that a delivery thread drains, and counts what does not fit.
//! - Shutdown loses nothing already read: each connection reads what its kernel
//!   already holds (briefly), delivers every complete frame and an unterminated last
//!   LF line, and the UDP queue is drained, before [`Receiver::run`] returns.
//!
//! - The caller calls `EventSender::mark_running` once [`Receiver::bind`] succeeded, and
//!   its [`Deliver`] may use `EventSender::blocking_send`: the receiver's threads are
//!   its own, not the async runtime's, so blocking them is how the pipeline's
//!   backpressure reaches TCP senders.
//!
//! Counters in [`Health`] (non-loss unless marked): `syslog.<udp|tcp|tls>.messages`,
//! `syslog.<tcp|tls>.connections`, `syslog.peer.<ip>.messages` (1024 addresses, then
//! `syslog.peer.other.messages`), `syslog.oversized`, `syslog.stalled` (connections
//! closed after half a message and `stall_timeout_secs` of silence); losses
//! `syslog.udp_queue`, `syslog.udp_kernel` (Linux), `syslog.framing`,
//! `syslog.incomplete`, `syslog.tls_handshake`, `syslog.refused`, `syslog.undelivered`. Framing errors,
//! incomplete frames, failed handshakes and refused connections also leave a note
//! naming the peer and listener of the latest one (UDP drops do not: a note per drop
//! would cost most when the receiver can least afford it).
//!
//! May touch: the sockets it listens on and the TLS certificate and key files.

pub mod config;
mod framing;
/// The stream framer, public only for the fuzz targets (`fuzz/`); not an API.
#[doc(hidden)]
pub mod fuzzing {
    pub use super::framing::{datagram, Framed, Framer, MAX_OCTET_COUNT};
}
#[cfg(feature = "tls")]
mod pem;
mod shared;
mod tcp;
mod tls;
mod udp;

pub use config::{Framing, ListenerConfig, ListenerProtocol, SyslogInputConfig};

use sensor_core::Health;
use shared::Shared;
use std::fmt;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// How a message arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    /// A UDP datagram.
    Udp,
    /// A TCP stream.
    Tcp,
    /// A TLS stream.
    Tls,
}

impl Transport {
    /// `udp`, `tcp` or `tls`, as in counter names.
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Udp => "udp",
            Transport::Tcp => "tcp",
            Transport::Tls => "tls",
        }
    }
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One received message, borrowed from the receiver's buffer for the length of the
/// [`Deliver::deliver`] call.
#[derive(Debug, Clone, Copy)]
pub struct Message<'a> {
    /// The message as sent, without framing and without trailing `\r`, `\n` or NUL;
    /// never empty. Not parsed, not checked for UTF-8.
    pub bytes: &'a [u8],
    /// The sender's address (an IPv4-mapped IPv6 address is given as IPv4).
    pub peer: SocketAddr,
    /// How it arrived.
    pub transport: Transport,
    /// Index of its listener in `listeners`.
    pub listener: usize,
    /// The local address of that listener.
    pub local: SocketAddr,
    /// The message was longer than `max_message_bytes` and these are its first bytes.
    pub truncated: bool,
}

/// Where the receiver hands messages. Called from many threads at once (one per
/// connection, one per UDP listener).
pub trait Deliver: Send + Sync + 'static {
    /// Takes one message. May block: that is how TCP and TLS apply backpressure.
    /// Returns false when the consumer is gone for good; the receiver then stops, and
    /// counts what it still reads as `syslog.undelivered`.
    fn deliver(&self, msg: Message<'_>) -> bool;
}

impl<F> Deliver for F
where
    F: Fn(Message<'_>) -> bool + Send + Sync + 'static,
{
    fn deliver(&self, msg: Message<'_>) -> bool {
        self(msg)
    }
}

/// Tells a running receiver to stop. Polled every 200 ms by each thread, so it must be
/// cheap.
pub trait StopSignal: Send + Sync + 'static {
    /// True once the receiver should stop.
    fn is_stopped(&self) -> bool;
}

/// A stop flag: clone it, hand one to [`Receiver::run`], [`Stop::trigger`] the other.
#[derive(Debug, Clone, Default)]
pub struct Stop(Arc<AtomicBool>);

impl Stop {
    /// A new, untriggered flag.
    pub fn new() -> Stop {
        Stop::default()
    }

    /// Asks the receiver to stop.
    pub fn trigger(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    /// True once triggered.
    pub fn is_triggered(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

impl StopSignal for Stop {
    fn is_stopped(&self) -> bool {
        self.is_triggered()
    }
}

/// The pipeline's own shutdown signal stops the receiver too.
impl StopSignal for sensor_core::Shutdown {
    fn is_stopped(&self) -> bool {
        self.is_triggered()
    }
}

/// A bound listener, not yet served.
#[derive(Debug)]
enum Bound {
    Udp(udp::UdpListener),
    Stream(tcp::StreamListener),
}

/// Every listener of `[inputs.syslog]`, bound.
#[derive(Debug)]
pub struct Receiver {
    listeners: Vec<Bound>,
    max_message_bytes: usize,
    queue_capacity: usize,
}

impl Receiver {
    /// Validates `config` and binds each listener (loading TLS identities), so that
    /// every start-up problem shows here: the error names the field and the address.
    /// Whether the input is `enabled` is the caller's business.
    pub fn bind(config: &SyslogInputConfig) -> Result<Receiver, String> {
        let mut problems = Vec::new();
        config.validate(&mut problems);
        if !problems.is_empty() {
            let lines: Vec<String> = problems.iter().map(|(f, m)| format!("{f}: {m}")).collect();
            return Err(lines.join("; "));
        }
        let mut listeners = Vec::with_capacity(config.listeners.len());
        for (index, l) in config.listeners.iter().enumerate() {
            let field = format!("inputs.syslog.listeners[{index}]");
            let addr = l
                .socket_addr()
                .ok_or_else(|| format!("{field}.address: not an ip:port: {:?}", l.address))?;
            let cannot = |e: std::io::Error| {
                format!(
                    "{field}.address: cannot listen on {} {addr}: {e}",
                    l.protocol
                )
            };
            let bound = match l.protocol {
                ListenerProtocol::Udp => Bound::Udp(
                    udp::UdpListener::bind(index, addr, config.udp_receive_buffer_bytes)
                        .map_err(cannot)?,
                ),
                ListenerProtocol::Tcp | ListenerProtocol::Tls => {
                    let tls = match (&l.tls_cert, &l.tls_key) {
                        (Some(cert), Some(key)) if l.protocol == ListenerProtocol::Tls => Some(
                            tls::Acceptor::load(cert, key)
                                .map_err(|e| format!("{field}.{}: {e}", e.field()))?,
                        ),
                        _ => None,
                    };
                    Bound::Stream(tcp::StreamListener::bind(index, addr, l, tls).map_err(cannot)?)
                }
            };
            listeners.push(bound);
        }
        Ok(Receiver {
            listeners,
            max_message_bytes: config.max_message_bytes,
            queue_capacity: config.queue_capacity,
        })
    }

    /// The bound address of each listener, in config order (the real port where the
    /// config said 0).
    pub fn local_addrs(&self) -> Vec<SocketAddr> {
        self.listeners
            .iter()
            .map(|l| match l {
                Bound::Udp(u) => u.local,
                Bound::Stream(s) => s.local,
            })
            .collect()
    }

    /// Serves every listener until `stop` says so (or `deliver` returns false), then
    /// delivers what was already read and returns. Blocks the calling thread; the
    /// listeners and connections run on threads of their own.
    pub fn run<D: Deliver, S: StopSignal>(
        self,
        deliver: D,
        health: Arc<Health>,
        stop: S,
    ) -> Result<(), String> {
        let transports: Vec<Transport> = self
            .listeners
            .iter()
            .map(|l| match l {
                Bound::Udp(_) => Transport::Udp,
                Bound::Stream(s) => s.transport(),
            })
            .collect();
        let shared = Arc::new(Shared::new(
            Box::new(deliver),
            Box::new(stop),
            health,
            &transports,
            self.max_message_bytes,
        ));
        let queue_capacity = self.queue_capacity;
        let mut threads = Vec::new();
        let mut failed = None;
        for listener in self.listeners {
            let shared = shared.clone();
            let (name, spawned) = match listener {
                Bound::Udp(u) => (
                    format!("syslog-udp {}", u.local),
                    std::thread::Builder::new()
                        .name("syslog-udp".into())
                        .spawn(move || u.serve(&shared, queue_capacity)),
                ),
                Bound::Stream(s) => (
                    format!("syslog-{} {}", s.transport(), s.local),
                    std::thread::Builder::new()
                        .name(format!("syslog-{}", s.transport()))
                        .spawn(move || s.serve(&shared)),
                ),
            };
            match spawned {
                Ok(handle) => threads.push((name, handle)),
                Err(e) => {
                    failed = Some(format!("cannot start the {name} thread: {e}"));
                    break;
                }
            }
        }
        if failed.is_some() {
            // Stop the listeners already running rather than serve half the config.
            shared.abandon();
        }
        for (name, handle) in threads {
            if handle.join().is_err() && failed.is_none() {
                failed = Some(format!("the {name} thread panicked"));
            }
        }
        match failed {
            Some(e) => {
                shared.health.note("syslog.receiver", e.clone());
                Err(e)
            }
            None => Ok(()),
        }
    }
}
