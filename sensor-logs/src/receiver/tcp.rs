//! TCP and TLS listeners: an accept loop per listener and one thread per connection, so
//! a peer that sends half a frame and stalls holds only its own thread. Each connection
//! reads, frames ([`super::framing`]) and delivers in turn; while [`super::Deliver`]
//! blocks, nothing is read, which is the backpressure a stream sender expects.
//!
//! Sockets are blocking with a short read timeout, so every thread sees the stop signal
//! within [`POLL`] without a wake-up mechanism of its own.
//!
//! May touch: the listening sockets and the connections they accept.

use super::config::{Framing, ListenerConfig, ListenerProtocol};
use super::framing::{Framed, Framer};
use super::shared::{Shared, Tally};
use super::tls::Acceptor;
use super::{Message, Transport};
use sensor_core::health::RateLimitedWarn;
use std::io::{self, Read};
use std::net::{Shutdown as NetShutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How often a blocked thread looks at the stop signal.
pub(crate) const POLL: Duration = Duration::from_millis(200);
/// Longest a TLS handshake may take.
#[cfg(feature = "tls")]
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// A write (TLS handshake records, close_notify) blocked this long gives up.
const WRITE_TIMEOUT: Duration = Duration::from_secs(5);
/// At shutdown, a connection keeps reading what its peer already sent while data keeps
/// coming within this gap...
const DRAIN_GAP: Duration = Duration::from_millis(50);
/// ...but no longer than this in all, so a peer that never pauses cannot hold shutdown.
const DRAIN_LIMIT: Duration = Duration::from_secs(1);
/// Connection threads need little stack: buffers are on the heap.
const CONNECTION_STACK: usize = 512 * 1024;

static ACCEPT_WARN: RateLimitedWarn = RateLimitedWarn::new(Duration::from_secs(60));

/// A bound TCP or TLS listener.
#[derive(Debug)]
pub(crate) struct StreamListener {
    index: usize,
    listener: TcpListener,
    pub(crate) local: SocketAddr,
    tls: Option<Acceptor>,
    framing: Framing,
    max_connections: usize,
    stall_timeout: Duration,
}

/// What one connection's thread needs besides its socket.
struct Conn {
    shared: Arc<Shared>,
    transport: Transport,
    listener: usize,
    local: SocketAddr,
    peer: SocketAddr,
    framing: Framing,
    stall_timeout: Duration,
    /// The connection's slot under `max_connections`, given back before the peer is
    /// told of the close, so a peer that reconnects at once finds it free.
    slot: std::cell::Cell<Option<ActiveGuard>>,
}

impl StreamListener {
    /// Binds `addr`; for TLS, `tls` holds the loaded identity.
    pub(crate) fn bind(
        index: usize,
        addr: SocketAddr,
        config: &ListenerConfig,
        tls: Option<Acceptor>,
    ) -> io::Result<StreamListener> {
        if config.protocol == ListenerProtocol::Tls && tls.is_none() {
            return Err(io::Error::other(
                "a tls listener needs tls_cert and tls_key",
            ));
        }
        let listener = TcpListener::bind(addr)?;
        // Non-blocking, so the accept loop can wait with a timeout and see the stop
        // signal; accepted sockets are made blocking again.
        listener.set_nonblocking(true)?;
        let local = listener.local_addr()?;
        Ok(StreamListener {
            index,
            listener,
            local,
            tls,
            framing: config.framing,
            max_connections: config.max_connections,
            stall_timeout: Duration::from_secs(config.stall_timeout_secs),
        })
    }

    pub(crate) fn transport(&self) -> Transport {
        if self.tls.is_some() {
            Transport::Tls
        } else {
            Transport::Tcp
        }
    }

    /// The accept loop; returns once stopped and every connection thread has ended.
    pub(crate) fn serve(self, shared: &Arc<Shared>) {
        let transport = self.transport();
        let active = Arc::new(AtomicUsize::new(0));
        let mut connections: Vec<JoinHandle<()>> = Vec::new();
        while !shared.should_stop() {
            let (stream, peer) = match self.listener.accept() {
                Ok(accepted) => accepted,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    wait_readable(&self.listener, POLL);
                    continue;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    // Out of descriptors or memory, or a connection aborted before it
                    // was accepted: the listener itself is fine, so wait and go on.
                    let msg = format!("accept on {} {} failed: {e}", transport, self.local);
                    if ACCEPT_WARN.check().is_some() {
                        tracing::warn!("{msg}");
                    }
                    shared.health.note("syslog.accept", msg);
                    std::thread::sleep(Duration::from_millis(100));
                    continue;
                }
            };
            let peer = canonical(peer);
            reap(&mut connections, shared);
            if active.load(Ordering::Acquire) >= self.max_connections {
                refuse(shared, stream, peer, &self, "max_connections reached");
                continue;
            }
            let conn = Conn {
                shared: shared.clone(),
                transport,
                listener: self.index,
                local: self.local,
                peer,
                framing: self.framing,
                stall_timeout: self.stall_timeout,
                slot: std::cell::Cell::new(Some(ActiveGuard::new(active.clone()))),
            };
            let tls = self.tls.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("syslog-{transport}-conn"))
                .stack_size(CONNECTION_STACK)
                .spawn(move || conn.run(stream, tls));
            match spawned {
                Ok(handle) => connections.push(handle),
                Err(e) => {
                    // The closure (with the stream) is dropped: the peer sees a close.
                    let msg = format!("cannot start a thread for {peer}: {e}");
                    shared.counters.refused.fetch_add(1, Ordering::Relaxed);
                    shared.health.note("syslog.refused", msg);
                }
            }
        }
        for handle in connections {
            joined(handle, shared);
        }
    }
}

/// Joins the connection threads that have ended, so the list stays as long as the
/// connections open and a panic in one is noted, not lost.
fn reap(connections: &mut Vec<JoinHandle<()>>, shared: &Shared) {
    let mut i = 0;
    while i < connections.len() {
        if connections[i].is_finished() {
            joined(connections.swap_remove(i), shared);
        } else {
            i += 1;
        }
    }
}

fn joined(handle: JoinHandle<()>, shared: &Shared) {
    if handle.join().is_err() {
        shared
            .health
            .note("syslog.receiver", "a syslog connection thread panicked");
    }
}

/// Closes a connection at once and counts it.
fn refuse(
    shared: &Shared,
    stream: TcpStream,
    peer: SocketAddr,
    listener: &StreamListener,
    why: &str,
) {
    shared.counters.refused.fetch_add(1, Ordering::Relaxed);
    shared.health.note(
        "syslog.refused",
        format!(
            "refused {peer} on {} {}: {why} ({})",
            listener.transport(),
            listener.local,
            listener.max_connections
        ),
    );
    let _ = stream.shutdown(NetShutdown::Both);
}

/// Counts a connection as active for as long as its thread runs.
struct ActiveGuard(Arc<AtomicUsize>);

impl ActiveGuard {
    fn new(active: Arc<AtomicUsize>) -> ActiveGuard {
        active.fetch_add(1, Ordering::AcqRel);
        ActiveGuard(active)
    }
}

impl Drop for ActiveGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// An IPv4-mapped IPv6 peer (a dual-stack `[::]` listener) as the IPv4 address it is.
pub(crate) fn canonical(addr: SocketAddr) -> SocketAddr {
    SocketAddr::new(addr.ip().to_canonical(), addr.port())
}

/// A connection's stream, plain or TLS, with the TCP socket under it.
trait Stream: Read {
    fn tcp(&self) -> &TcpStream;
    /// Ends the connection politely (TLS: close_notify).
    fn close(&mut self) {
        let _ = self.tcp().shutdown(NetShutdown::Both);
    }
}

impl Stream for TcpStream {
    fn tcp(&self) -> &TcpStream {
        self
    }
}

#[cfg(feature = "tls")]
impl Stream for super::tls::TlsStream {
    fn tcp(&self) -> &TcpStream {
        self.get_ref()
    }
    fn close(&mut self) {
        let _ = self.shutdown();
        let _ = self.get_ref().shutdown(NetShutdown::Both);
    }
}

impl Conn {
    fn run(self, stream: TcpStream, tls: Option<Acceptor>) {
        let setup = stream
            .set_nonblocking(false)
            .and_then(|()| stream.set_read_timeout(Some(POLL)))
            .and_then(|()| stream.set_write_timeout(Some(WRITE_TIMEOUT)));
        if let Err(e) = setup {
            self.shared.health.note(
                "syslog.accept",
                format!("{}: cannot set up: {e}", self.peer),
            );
            return;
        }
        let counters = self.shared.counters.transport(self.transport);
        counters.connections.fetch_add(1, Ordering::Relaxed);
        match tls {
            None => self.pump(stream),
            #[cfg(feature = "tls")]
            Some(acceptor) => {
                let deadline = Instant::now() + HANDSHAKE_TIMEOUT;
                let shared = self.shared.clone();
                match acceptor.accept(stream, deadline, &|| shared.should_stop()) {
                    Ok(tls) => self.pump(tls),
                    // Stopped mid-handshake: nothing was sent yet, nothing is lost.
                    Err(_) if self.shared.should_stop() => {}
                    Err(e) => {
                        self.shared
                            .counters
                            .tls_handshake
                            .fetch_add(1, Ordering::Relaxed);
                        self.shared.health.note(
                            "syslog.tls_handshake",
                            format!(
                                "TLS handshake with {} on {} failed: {e}",
                                self.peer, self.local
                            ),
                        );
                    }
                }
            }
            #[cfg(not(feature = "tls"))]
            Some(_) => {}
        }
    }

    /// Reads, frames and delivers until the peer closes or the receiver stops; then
    /// drains what the peer already sent and delivers every complete frame.
    fn pump<S: Stream>(&self, mut stream: S) {
        let shared = &*self.shared;
        let mut framer = Framer::new(self.framing, shared.max_message_bytes);
        let tally = Tally::default();
        let peer_counter = shared.peers.get(self.peer.ip());
        let mut emit = |f: Framed<'_>| -> bool {
            match f {
                Framed::Message { bytes, truncated } => {
                    let msg = Message {
                        bytes,
                        peer: self.peer,
                        transport: self.transport,
                        listener: self.listener,
                        local: self.local,
                        truncated,
                    };
                    if shared.deliver(msg) {
                        Tally::add(&tally.messages, 1);
                        Tally::add(&tally.oversized, u64::from(truncated));
                    }
                }
                Framed::BadFraming(why) => {
                    Tally::add(&tally.framing, 1);
                    shared.health.note(
                        "syslog.framing",
                        format!(
                            "{} on {} {}: {why}; skipped to the next LF",
                            self.peer, self.transport, self.local
                        ),
                    );
                }
                Framed::Incomplete => {
                    Tally::add(&tally.incomplete, 1);
                    shared.health.note(
                        "syslog.incomplete",
                        format!(
                            "{} on {} {}: the connection ended inside an octet-counted frame",
                            self.peer, self.transport, self.local
                        ),
                    );
                }
            }
            // Keep framing after the consumer is gone, so what was read is counted.
            true
        };
        let mut ended = false;
        let mut last_data = Instant::now();
        while !shared.should_stop() {
            match framer.read_from(&mut stream) {
                Ok(0) => {
                    ended = true;
                    break;
                }
                Ok(_) => {
                    last_data = Instant::now();
                    framer.frames(&mut emit);
                }
                Err(e) if is_timeout(&e) || e.kind() == io::ErrorKind::Interrupted => {
                    // Half a message and then silence: the peer is stuck; free the slot.
                    if framer.buffered() > 0 && last_data.elapsed() >= self.stall_timeout {
                        shared.counters.stalled.fetch_add(1, Ordering::Relaxed);
                        shared.health.note(
                            "syslog.stalled",
                            format!(
                                "{} on {} {}: closed after {}s without the rest of a message",
                                self.peer,
                                self.transport,
                                self.local,
                                self.stall_timeout.as_secs()
                            ),
                        );
                        ended = true;
                        break;
                    }
                }
                // A reset, or a TLS error (including a close without close_notify):
                // what came before it is good.
                Err(_) => {
                    ended = true;
                    break;
                }
            }
            shared.flush(self.transport, &peer_counter, &tally);
        }
        if !ended && !shared.is_gone() {
            drain(&mut stream, &mut framer, &mut emit);
        }
        framer.finish(&mut emit);
        shared.flush(self.transport, &peer_counter, &tally);
        drop(self.slot.take());
        stream.close();
    }
}

/// At shutdown: what the peer already sent (our kernel holds it and has acknowledged
/// it, so the sender thinks it delivered) is read and framed, bounded in time.
fn drain<S: Stream>(stream: &mut S, framer: &mut Framer, emit: &mut dyn FnMut(Framed<'_>) -> bool) {
    if stream.tcp().set_read_timeout(Some(DRAIN_GAP)).is_err() {
        return;
    }
    let deadline = Instant::now() + DRAIN_LIMIT;
    while Instant::now() < deadline {
        match framer.read_from(stream) {
            Ok(0) => return,
            Ok(_) => {
                framer.frames(emit);
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return,
        }
    }
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

/// Waits until `listener` has a connection to accept, or `timeout`.
#[cfg(target_os = "linux")]
fn wait_readable(listener: &TcpListener, timeout: Duration) {
    use std::os::fd::AsRawFd;
    let mut fds = libc::pollfd {
        fd: listener.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    let ms = libc::c_int::try_from(timeout.as_millis()).unwrap_or(libc::c_int::MAX);
    // SAFETY: `fds` is one valid pollfd for the duration of the call; poll only writes
    // its `revents`. An error (EINTR) just means we look again.
    unsafe {
        libc::poll(&mut fds, 1, ms);
    }
}

/// Without poll(2) here, a short sleep: accept latency of a few milliseconds.
#[cfg(not(target_os = "linux"))]
fn wait_readable(_listener: &TcpListener, timeout: Duration) {
    std::thread::sleep(timeout.min(Duration::from_millis(10)));
}
