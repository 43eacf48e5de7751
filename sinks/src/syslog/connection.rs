//! Connections to the collector: TCP, TLS over it, or UDP, and what the kernel can tell
//! about them — bytes written, bytes the collector's TCP has not acknowledged
//! (`SIOCOUTQ`, Linux), and whether the collector closed (FIN) or reset (RST).
//!
//! May touch: sockets to the configured collector.

use super::framing::octet_frame;
use super::tls::Tls;
use crate::config::SyslogProtocol;
use std::io::{self, Read, Write};
use std::net::{Shutdown as NetShutdown, SocketAddr, TcpStream, ToSocketAddrs, UdpSocket};
use std::time::{Duration, Instant};

/// Timeout for one TCP connect attempt and for the TLS handshake.
pub(super) const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// A write blocked this long (collector not reading) breaks the connection.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// A TCP stream that counts the bytes the kernel accepted, so TLS record bytes map to
/// message boundaries.
#[derive(Debug)]
pub(super) struct Counting {
    pub(super) tcp: TcpStream,
    pub(super) written: u64,
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
pub(super) enum Peer {
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
pub(super) fn classify(e: &io::Error) -> Peer {
    match e.kind() {
        io::ErrorKind::BrokenPipe => Peer::ClosedClean,
        io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionAborted => Peer::Reset,
        _ => Peer::Stalled,
    }
}

/// One connection to the collector.
pub(super) enum Conn {
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
    pub(super) fn written(&self) -> u64 {
        match self {
            Conn::Tcp(c) => c.written,
            #[cfg(feature = "tls")]
            Conn::Tls(t) => t.get_ref().written,
            Conn::Udp(_) => 0,
        }
    }

    pub(super) fn send(&mut self, msg: &[u8]) -> io::Result<()> {
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
    pub(super) fn unacked(&self) -> Option<u64> {
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
    pub(super) fn peer(&mut self) -> Peer {
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
    pub(super) fn close_cleanly(&mut self, deadline: Instant) -> bool {
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

/// Connects to `host:port` (resolved again on every call, trying each address) over
/// `protocol`; TLS when `tls` is given.
pub(super) fn connect(
    host: &str,
    port: u16,
    protocol: SyslogProtocol,
    tls: Option<&Tls>,
) -> io::Result<Conn> {
    let addrs: Vec<SocketAddr> = (host, port).to_socket_addrs()?.collect();
    let mut last = io::Error::new(io::ErrorKind::NotFound, "the name resolves to no address");
    for addr in addrs {
        let attempt = match protocol {
            SyslogProtocol::Udp => {
                let local: SocketAddr = if addr.is_ipv4() {
                    ([0, 0, 0, 0], 0).into()
                } else {
                    ([0u16; 8], 0).into()
                };
                UdpSocket::bind(local).and_then(|u| u.connect(addr).map(|()| Conn::Udp(u)))
            }
            SyslogProtocol::Tcp | SyslogProtocol::Tls => {
                TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT).and_then(|tcp| {
                    tcp.set_nodelay(true)?;
                    tcp.set_write_timeout(Some(WRITE_TIMEOUT))?;
                    let counting = Counting { tcp, written: 0 };
                    match tls {
                        Some(tls) => tls.connect(counting),
                        None => Ok(Conn::Tcp(counting)),
                    }
                })
            }
        };
        match attempt {
            Ok(c) => return Ok(c),
            Err(e) => last = e,
        }
    }
    Err(last)
}
