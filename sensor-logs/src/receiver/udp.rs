//! UDP listeners (RFC 5426): one datagram is one message. UDP has no backpressure, so
//! the socket thread never waits on the consumer: it reads into a bounded queue that a
//! delivery thread drains, and a datagram that finds the queue full is dropped and
//! counted (`syslog.udp_queue`). Before that, the kernel's receive buffer is enlarged to
//! absorb bursts, and on Linux SO_RXQ_OVFL reports how many datagrams the kernel itself
//! dropped on this socket (`syslog.udp_kernel`): every drop is counted on one side or
//! the other. (Kernel drops are seen with the next datagram that arrives.)
//!
//! May touch: the listening UDP socket.

use super::framing::datagram;
use super::shared::{Shared, Tally};
use super::tcp::{canonical, POLL};
use super::{Message, Transport};
use sensor_core::health::Counter;
use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::atomic::Ordering;
use std::sync::mpsc::{self, TryRecvError, TrySendError};
use std::sync::Arc;

/// The largest datagram UDP can carry, and so the receive buffer (a larger message is
/// capped before it is queued, so the queue holds at most `max_message_bytes` each).
const MAX_DATAGRAM: usize = 65_536;
/// At shutdown, the datagrams still in the kernel buffer are taken for at most this
/// long, so senders that keep sending cannot hold the shutdown.
const DRAIN_LIMIT: std::time::Duration = std::time::Duration::from_secs(1);

/// A bound UDP listener.
#[derive(Debug)]
pub(crate) struct UdpListener {
    index: usize,
    socket: UdpSocket,
    pub(crate) local: SocketAddr,
    /// The receive buffer asked for and the one the kernel granted, when smaller.
    short_buffer: Option<(usize, usize)>,
}

/// A datagram waiting for delivery.
struct Datagram {
    bytes: Box<[u8]>,
    peer: SocketAddr,
    truncated: bool,
}

impl UdpListener {
    /// Binds `addr` and prepares the socket: a larger receive buffer, kernel drop
    /// reports, a read timeout to see the stop signal.
    pub(crate) fn bind(index: usize, addr: SocketAddr, rcvbuf: usize) -> io::Result<UdpListener> {
        let socket = UdpSocket::bind(addr)?;
        let local = socket.local_addr()?;
        socket.set_read_timeout(Some(POLL))?;
        let granted = sys::set_receive_buffer(&socket, rcvbuf);
        sys::report_drops(&socket)?;
        Ok(UdpListener {
            index,
            socket,
            local,
            short_buffer: granted.filter(|&g| g < rcvbuf).map(|g| (rcvbuf, g)),
        })
    }

    /// Reads datagrams until stopped, then drains the socket and the queue.
    pub(crate) fn serve(self, shared: &Arc<Shared>, queue_capacity: usize) {
        if let Some((asked, granted)) = self.short_buffer {
            shared.health.note(
                "syslog.udp_receive_buffer",
                format!(
                    "UDP {}: the kernel gave a {granted}-byte receive buffer, not {asked} (raise net.core.rmem_max, or run as root)",
                    self.local
                ),
            );
        }
        let (tx, rx) = mpsc::sync_channel::<Datagram>(queue_capacity);
        let delivery = {
            let shared = shared.clone();
            let (index, local) = (self.index, self.local);
            std::thread::Builder::new()
                .name("syslog-udp-deliver".into())
                .spawn(move || deliver_all(&shared, rx, index, local))
        };
        let delivery = match delivery {
            Ok(handle) => handle,
            Err(e) => {
                shared.health.note(
                    "syslog.receiver",
                    format!("UDP {}: cannot start the delivery thread: {e}", self.local),
                );
                shared.abandon();
                return;
            }
        };
        let mut buf = vec![0u8; MAX_DATAGRAM];
        let mut kernel_drops = 0u32;
        let max = shared.max_message_bytes;
        let queue_full = &shared.counters.udp_queue;
        while !shared.should_stop() {
            match sys::recv(&self.socket, &mut buf) {
                Ok((n, peer, drops)) => {
                    count_kernel_drops(&shared.counters.udp_kernel, &mut kernel_drops, drops);
                    let Some((bytes, truncated)) = datagram(&buf[..n], max) else {
                        continue;
                    };
                    let d = Datagram {
                        bytes: bytes.into(),
                        peer: canonical(peer),
                        truncated,
                    };
                    match tx.try_send(d) {
                        Ok(()) => {}
                        Err(TrySendError::Full(_)) => {
                            queue_full.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(TrySendError::Disconnected(_)) => break,
                    }
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    // UDP sockets report ICMP errors of earlier sends and the like; the
                    // socket still works.
                    shared.health.note(
                        "syslog.udp",
                        format!("UDP {}: receive failed: {e}", self.local),
                    );
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
            }
        }
        if !shared.is_gone() && self.socket.set_nonblocking(true).is_ok() {
            // What the kernel holds was sent before we stopped: queue it, waiting for
            // room this time, as the delivery thread is still draining.
            let deadline = std::time::Instant::now() + DRAIN_LIMIT;
            while std::time::Instant::now() < deadline {
                let Ok((n, peer, drops)) = sys::recv(&self.socket, &mut buf) else {
                    break;
                };
                count_kernel_drops(&shared.counters.udp_kernel, &mut kernel_drops, drops);
                if let Some((bytes, truncated)) = datagram(&buf[..n], max) {
                    let d = Datagram {
                        bytes: bytes.into(),
                        peer: canonical(peer),
                        truncated,
                    };
                    if tx.send(d).is_err() {
                        break;
                    }
                }
            }
        }
        drop(tx);
        if delivery.join().is_err() {
            shared
                .health
                .note("syslog.receiver", "the UDP delivery thread panicked");
        }
    }
}

/// The kernel's count is cumulative for the socket: add what is new since last time.
fn count_kernel_drops(counter: &Counter, last: &mut u32, now: Option<u32>) {
    if let Some(now) = now {
        let new = now.wrapping_sub(*last);
        if new > 0 {
            counter.fetch_add(u64::from(new), Ordering::Relaxed);
        }
        *last = now;
    }
}

/// The delivery thread: until the socket thread hangs up and the queue is empty.
fn deliver_all(shared: &Shared, rx: mpsc::Receiver<Datagram>, listener: usize, local: SocketAddr) {
    let tally = Tally::default();
    // Peer counters by address, looked up in the shared table only on a miss. Bounded
    // like that table, since a UDP source address can be anything.
    let mut peers: HashMap<IpAddr, Counter> = HashMap::new();
    let none = Counter::default();
    loop {
        let d = match rx.try_recv() {
            Ok(d) => d,
            Err(TryRecvError::Empty) => {
                // Idle for now: publish the counts, then wait.
                shared.flush(Transport::Udp, &none, &tally);
                match rx.recv() {
                    Ok(d) => d,
                    Err(_) => break,
                }
            }
            Err(TryRecvError::Disconnected) => break,
        };
        let msg = Message {
            bytes: &d.bytes,
            peer: d.peer,
            transport: Transport::Udp,
            listener,
            local,
            truncated: d.truncated,
        };
        if shared.deliver(msg) {
            Tally::add(&tally.messages, 1);
            Tally::add(&tally.oversized, u64::from(d.truncated));
            if peers.len() > 2 * super::shared::MAX_TRACKED_PEERS {
                peers.clear();
            }
            peers
                .entry(d.peer.ip())
                .or_insert_with(|| shared.peers.get(d.peer.ip()))
                .fetch_add(1, Ordering::Relaxed);
        }
        if tally.messages.get() >= 4096 {
            shared.flush(Transport::Udp, &none, &tally);
        }
    }
    shared.flush(Transport::Udp, &none, &tally);
}

#[cfg(target_os = "linux")]
mod sys {
    //! recvmsg(2) with SO_RXQ_OVFL, and SO_RCVBUF(FORCE).

    use std::io;
    use std::mem::{size_of, MaybeUninit};
    use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6, UdpSocket};
    use std::os::fd::AsRawFd;

    fn set_int(socket: &UdpSocket, name: libc::c_int, value: libc::c_int) -> io::Result<()> {
        // SAFETY: a valid socket and a pointer to a c_int with its size.
        let rc = unsafe {
            libc::setsockopt(
                socket.as_raw_fd(),
                libc::SOL_SOCKET,
                name,
                (&value as *const libc::c_int).cast(),
                size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        if rc == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    }

    fn get_int(socket: &UdpSocket, name: libc::c_int) -> Option<libc::c_int> {
        let mut value: libc::c_int = 0;
        let mut len = size_of::<libc::c_int>() as libc::socklen_t;
        // SAFETY: a valid socket, a c_int to write into and its size.
        let rc = unsafe {
            libc::getsockopt(
                socket.as_raw_fd(),
                libc::SOL_SOCKET,
                name,
                (&mut value as *mut libc::c_int).cast(),
                &mut len,
            )
        };
        (rc == 0).then_some(value)
    }

    /// Asks for `bytes` of receive buffer: SO_RCVBUFFORCE passes `net.core.rmem_max`
    /// when we have CAP_NET_ADMIN, else SO_RCVBUF is capped by it. Returns what the
    /// kernel granted (it reports twice the usable size: its bookkeeping overhead).
    pub(super) fn set_receive_buffer(socket: &UdpSocket, bytes: usize) -> Option<usize> {
        let value = libc::c_int::try_from(bytes).unwrap_or(libc::c_int::MAX);
        if set_int(socket, libc::SO_RCVBUFFORCE, value).is_err() {
            let _ = set_int(socket, libc::SO_RCVBUF, value);
        }
        get_int(socket, libc::SO_RCVBUF)
            .and_then(|g| usize::try_from(g).ok())
            .map(|g| g / 2)
    }

    /// Turns on SO_RXQ_OVFL: each datagram then carries the socket's drop count.
    pub(super) fn report_drops(socket: &UdpSocket) -> io::Result<()> {
        set_int(socket, libc::SO_RXQ_OVFL, 1)
    }

    /// Control buffer for one SO_RXQ_OVFL message, aligned for cmsghdr.
    #[repr(C, align(8))]
    struct Control([u8; 64]);

    /// One datagram into `buf`: (length, sender, the socket's cumulative kernel drops
    /// when the kernel reported them).
    pub(super) fn recv(
        socket: &UdpSocket,
        buf: &mut [u8],
    ) -> io::Result<(usize, SocketAddr, Option<u32>)> {
        let mut addr = MaybeUninit::<libc::sockaddr_storage>::zeroed();
        let mut control = Control([0; 64]);
        let mut iov = libc::iovec {
            iov_base: buf.as_mut_ptr().cast(),
            iov_len: buf.len(),
        };
        // SAFETY: msghdr is plain data; all-zero is a valid empty value.
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        msg.msg_name = addr.as_mut_ptr().cast();
        msg.msg_namelen = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.0.as_mut_ptr().cast();
        msg.msg_controllen = control.0.len();
        // SAFETY: every pointer in `msg` points into live locals of the sizes given;
        // recvmsg writes at most those sizes.
        let n = unsafe { libc::recvmsg(socket.as_raw_fd(), &mut msg, 0) };
        let n = usize::try_from(n).map_err(|_| io::Error::last_os_error())?;
        let mut drops = None;
        // SAFETY: `msg` was filled by recvmsg; the CMSG macros walk its control buffer
        // within msg_controllen, and SO_RXQ_OVFL data is one u32.
        unsafe {
            let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
            while !cmsg.is_null() {
                if (*cmsg).cmsg_level == libc::SOL_SOCKET && (*cmsg).cmsg_type == libc::SO_RXQ_OVFL
                {
                    drops = Some(libc::CMSG_DATA(cmsg).cast::<u32>().read_unaligned());
                }
                cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
            }
        }
        // SAFETY: recvmsg wrote a sockaddr of msg_namelen bytes (zeroed beyond).
        let storage = unsafe { addr.assume_init() };
        let peer = to_socket_addr(&storage)?;
        Ok((n.min(buf.len()), peer, drops))
    }

    fn to_socket_addr(storage: &libc::sockaddr_storage) -> io::Result<SocketAddr> {
        match libc::c_int::from(storage.ss_family) {
            libc::AF_INET => {
                // SAFETY: the family says this storage holds a sockaddr_in, which it
                // is large and aligned enough for.
                let a = unsafe {
                    &*(storage as *const libc::sockaddr_storage).cast::<libc::sockaddr_in>()
                };
                let ip = Ipv4Addr::from(a.sin_addr.s_addr.to_ne_bytes());
                Ok(SocketAddr::V4(SocketAddrV4::new(
                    ip,
                    u16::from_be(a.sin_port),
                )))
            }
            libc::AF_INET6 => {
                // SAFETY: as above, for sockaddr_in6.
                let a = unsafe {
                    &*(storage as *const libc::sockaddr_storage).cast::<libc::sockaddr_in6>()
                };
                let ip = Ipv6Addr::from(a.sin6_addr.s6_addr);
                Ok(SocketAddr::V6(SocketAddrV6::new(
                    ip,
                    u16::from_be(a.sin6_port),
                    a.sin6_flowinfo,
                    a.sin6_scope_id,
                )))
            }
            family => Err(io::Error::other(format!(
                "recvmsg returned address family {family}"
            ))),
        }
    }
}

#[cfg(not(target_os = "linux"))]
mod sys {
    //! Portable fallback: no kernel drop count, the OS's default receive buffer.

    use std::io;
    use std::net::{SocketAddr, UdpSocket};

    pub(super) fn set_receive_buffer(_socket: &UdpSocket, _bytes: usize) -> Option<usize> {
        None
    }

    pub(super) fn report_drops(_socket: &UdpSocket) -> io::Result<()> {
        Ok(())
    }

    pub(super) fn recv(
        socket: &UdpSocket,
        buf: &mut [u8],
    ) -> io::Result<(usize, SocketAddr, Option<u32>)> {
        let (n, peer) = socket.recv_from(buf)?;
        Ok((n, peer, None))
    }
}
