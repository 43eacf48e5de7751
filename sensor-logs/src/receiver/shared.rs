//! What every listener thread of one running receiver shares: the consumer, the stop
//! signal, and the health counters (registered once, then plain atomics, so the hot path
//! takes no lock and builds no counter name).
//!
//! Threads count into local tallies and add them to the shared counters once per read,
//! not once per message: at hundreds of thousands of messages a second, one shared
//! cache line bounced between cores per message would be the bottleneck.

use super::{Deliver, Message, StopSignal, Transport};
use sensor_core::health::{Counter, Health};
use std::cell::Cell;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

/// Distinct peer addresses with their own counter; the rest share
/// `syslog.peer.other.messages`, so spoofed UDP sources cannot grow the status file.
pub(crate) const MAX_TRACKED_PEERS: usize = 1024;

/// Counters of one transport.
#[derive(Debug)]
pub(crate) struct TransportCounters {
    /// `syslog.<t>.messages`: messages delivered.
    pub(crate) messages: Counter,
    /// `syslog.<t>.connections`: connections accepted (TCP, TLS).
    pub(crate) connections: Counter,
}

/// Every counter the receiver writes.
#[derive(Debug)]
pub(crate) struct Counters {
    pub(crate) udp: TransportCounters,
    pub(crate) tcp: TransportCounters,
    pub(crate) tls: TransportCounters,
    /// `syslog.oversized` (not a loss: the message is delivered, capped).
    pub(crate) oversized: Counter,
    /// Loss `syslog.framing`: frames rejected by the framing rules.
    pub(crate) framing: Counter,
    /// Loss `syslog.incomplete`: a connection ended inside an octet-counted frame.
    pub(crate) incomplete: Counter,
    /// Loss `syslog.udp_queue`: datagrams dropped because the queue was full.
    pub(crate) udp_queue: Counter,
    /// Loss `syslog.udp_kernel`: datagrams the kernel dropped (SO_RXQ_OVFL, Linux).
    pub(crate) udp_kernel: Counter,
    /// Loss `syslog.tls_handshake`: TLS handshakes that failed.
    #[cfg_attr(not(feature = "tls"), allow(dead_code))]
    pub(crate) tls_handshake: Counter,
    /// Loss `syslog.refused`: connections refused over `max_connections`.
    pub(crate) refused: Counter,
    /// Loss `syslog.undelivered`: messages read after the consumer went away.
    pub(crate) undelivered: Counter,
    /// `syslog.stalled` (not a loss itself): connections closed for stalling mid-message.
    pub(crate) stalled: Counter,
}

impl Counters {
    /// Registers the counters of the transports in use (so each shows 0 from the start)
    /// and keeps unregistered stand-ins for the others.
    pub(crate) fn new(health: &Health, transports: &[Transport]) -> Counters {
        let uses = |t: Transport| transports.contains(&t);
        let streams = uses(Transport::Tcp) || uses(Transport::Tls);
        let count = |name: &str, used: bool| {
            if used {
                health.counter(name)
            } else {
                Counter::default()
            }
        };
        let loss = |name: &str, used: bool| {
            if used {
                health.loss_counter(name)
            } else {
                Counter::default()
            }
        };
        let transport = |t: Transport| TransportCounters {
            messages: count(&format!("syslog.{}.messages", t.as_str()), uses(t)),
            connections: count(
                &format!("syslog.{}.connections", t.as_str()),
                uses(t) && t != Transport::Udp,
            ),
        };
        Counters {
            udp: transport(Transport::Udp),
            tcp: transport(Transport::Tcp),
            tls: transport(Transport::Tls),
            oversized: count("syslog.oversized", !transports.is_empty()),
            framing: loss("syslog.framing", streams),
            incomplete: loss("syslog.incomplete", streams),
            udp_queue: loss("syslog.udp_queue", uses(Transport::Udp)),
            udp_kernel: loss(
                "syslog.udp_kernel",
                uses(Transport::Udp) && cfg!(target_os = "linux"),
            ),
            tls_handshake: loss("syslog.tls_handshake", uses(Transport::Tls)),
            refused: loss("syslog.refused", streams),
            undelivered: loss("syslog.undelivered", !transports.is_empty()),
            stalled: count("syslog.stalled", streams),
        }
    }

    pub(crate) fn transport(&self, t: Transport) -> &TransportCounters {
        match t {
            Transport::Udp => &self.udp,
            Transport::Tcp => &self.tcp,
            Transport::Tls => &self.tls,
        }
    }
}

/// `syslog.peer.<ip>.messages`, for at most [`MAX_TRACKED_PEERS`] addresses.
#[derive(Debug)]
pub(crate) struct PeerCounts {
    health: Arc<Health>,
    cap: usize,
    peers: Mutex<HashMap<IpAddr, Counter>>,
    other: OnceLock<Counter>,
}

impl PeerCounts {
    pub(crate) fn new(health: Arc<Health>, cap: usize) -> PeerCounts {
        PeerCounts {
            health,
            cap,
            peers: Mutex::default(),
            other: OnceLock::new(),
        }
    }

    /// The counter for `ip` (canonical: an IPv4-mapped IPv6 address counts as IPv4).
    pub(crate) fn get(&self, ip: IpAddr) -> Counter {
        let mut peers = self.peers.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(c) = peers.get(&ip) {
            return c.clone();
        }
        if peers.len() >= self.cap {
            return self
                .other
                .get_or_init(|| self.health.counter("syslog.peer.other.messages"))
                .clone();
        }
        let c = self.health.counter(&format!("syslog.peer.{ip}.messages"));
        peers.insert(ip, c.clone());
        c
    }
}

/// A thread's tallies, added to the shared counters by [`Shared::flush`]. Cells, so the
/// framing callback and the read loop can both hold it.
#[derive(Debug, Default)]
pub(crate) struct Tally {
    pub(crate) messages: Cell<u64>,
    pub(crate) oversized: Cell<u64>,
    pub(crate) framing: Cell<u64>,
    pub(crate) incomplete: Cell<u64>,
}

impl Tally {
    pub(crate) fn add(cell: &Cell<u64>, n: u64) {
        cell.set(cell.get() + n);
    }
}

/// The state one running receiver's threads share.
pub(crate) struct Shared {
    deliver: Box<dyn Deliver>,
    stop: Box<dyn StopSignal>,
    gone: AtomicBool,
    halted: AtomicBool,
    pub(crate) health: Arc<Health>,
    pub(crate) counters: Counters,
    pub(crate) peers: PeerCounts,
    pub(crate) max_message_bytes: usize,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("gone", &self.gone)
            .field("counters", &self.counters)
            .finish_non_exhaustive()
    }
}

impl Shared {
    pub(crate) fn new(
        deliver: Box<dyn Deliver>,
        stop: Box<dyn StopSignal>,
        health: Arc<Health>,
        transports: &[Transport],
        max_message_bytes: usize,
    ) -> Shared {
        Shared {
            deliver,
            stop,
            gone: AtomicBool::new(false),
            halted: AtomicBool::new(false),
            counters: Counters::new(&health, transports),
            peers: PeerCounts::new(health.clone(), MAX_TRACKED_PEERS),
            health,
            max_message_bytes,
        }
    }

    /// Stop reading: asked to, or the consumer is gone.
    pub(crate) fn should_stop(&self) -> bool {
        self.gone.load(Ordering::Relaxed)
            || self.halted.load(Ordering::Relaxed)
            || self.stop.is_stopped()
    }

    /// Stops every thread as a stop signal would (the receiver could not start whole).
    pub(crate) fn abandon(&self) {
        self.halted.store(true, Ordering::Relaxed);
    }

    /// Hands one message to the consumer. Once the consumer said it is gone, every
    /// message still read is counted as undelivered instead.
    pub(crate) fn deliver(&self, msg: Message<'_>) -> bool {
        if self.gone.load(Ordering::Relaxed) {
            self.counters.undelivered.fetch_add(1, Ordering::Relaxed);
            return false;
        }
        if self.deliver.deliver(msg) {
            return true;
        }
        self.counters.undelivered.fetch_add(1, Ordering::Relaxed);
        if !self.gone.swap(true, Ordering::Relaxed) {
            self.health.note(
                "syslog.undelivered",
                "the consumer of syslog messages went away; the receiver stopped",
            );
        }
        false
    }

    /// Adds a thread's tallies to the shared counters and resets them.
    pub(crate) fn flush(&self, t: Transport, peer: &Counter, tally: &Tally) {
        let add = |c: &Counter, n: u64| {
            if n > 0 {
                c.fetch_add(n, Ordering::Relaxed);
            }
        };
        let messages = tally.messages.take();
        add(&self.counters.transport(t).messages, messages);
        add(peer, messages);
        add(&self.counters.oversized, tally.oversized.take());
        add(&self.counters.framing, tally.framing.take());
        add(&self.counters.incomplete, tally.incomplete.take());
    }

    /// The consumer said it is gone.
    pub(crate) fn is_gone(&self) -> bool {
        self.gone.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peers_beyond_the_cap_share_one_counter() {
        let health = Health::new();
        let peers = PeerCounts::new(health.clone(), 2);
        let ips: Vec<IpAddr> = ["10.0.0.1", "10.0.0.2", "10.0.0.3", "::1"]
            .iter()
            .map(|s| s.parse().expect("ip"))
            .collect();
        for ip in &ips {
            peers.get(*ip).fetch_add(1, Ordering::Relaxed);
        }
        peers.get(ips[0]).fetch_add(1, Ordering::Relaxed);
        let counts = health.snapshot().counts;
        assert_eq!(counts.get("syslog.peer.10.0.0.1.messages"), Some(&2));
        assert_eq!(counts.get("syslog.peer.10.0.0.2.messages"), Some(&1));
        assert_eq!(counts.get("syslog.peer.other.messages"), Some(&2));
        assert_eq!(counts.get("syslog.peer.10.0.0.3.messages"), None);
    }
}
