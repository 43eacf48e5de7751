//! The sender thread of a syslog sink: takes messages off the queue, connects and
//! reconnects with exponential backoff, writes, and keeps the accounting honest when a
//! connection breaks (see the guarantee in the module above): alerts the collector's TCP
//! never acknowledged are resent, alerts that may or may not have arrived are counted as
//! unconfirmed (`sink.syslog.unconfirmed`), and what is still queued at the shutdown
//! deadline is counted as dropped (`sink.syslog`).
//!
//! May touch: the connection (through `connection.rs`), the queue, the health registry.

use super::connection::{classify, connect, Conn, Peer};
use super::queue::{Msg, Shared};
use super::tls::Tls;
use super::UNCONFIRMED_WINDOW;
use crate::config::SyslogProtocol;
use std::collections::VecDeque;
use std::io;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// First reconnect delay; it doubles up to `max_backoff_secs`.
const INITIAL_BACKOFF: Duration = Duration::from_millis(100);
/// Most written alerts remembered per connection.
const WINDOW_LIMIT: usize = 1_000_000;

/// An alert written on the current connection, remembered until it is surely past the
/// point where a reset could lose it.
struct Sent {
    msg: Msg,
    /// Connection byte offset just past the message.
    end: u64,
    at: Instant,
}

pub(super) struct Sender {
    pub(super) shared: Arc<Shared>,
    pub(super) host: String,
    pub(super) port: u16,
    pub(super) protocol: SyslogProtocol,
    pub(super) tls: Option<Tls>,
    pub(super) max_backoff: Duration,
    /// `host:port` as configured, for logs and notes.
    pub(super) address: String,
}

impl Sender {
    /// Delivers queued messages until shutdown, then settles and counts what is left.
    pub(super) fn run(self) {
        let mut conn: Option<Conn> = None;
        let mut window: VecDeque<Sent> = VecDeque::new();
        let mut backoff = INITIAL_BACKOFF;
        while let Some(msg) = self.shared.next() {
            if conn.is_none() {
                match connect(&self.host, self.port, self.protocol, self.tls.as_ref()) {
                    Ok(c) => {
                        self.shared.stats.connects.fetch_add(1, Ordering::Relaxed);
                        tracing::info!(address = %self.address, "Connected to the syslog collector");
                        conn = Some(c);
                        backoff = INITIAL_BACKOFF;
                    }
                    Err(e) => {
                        self.set_error(format!("cannot connect to {}: {e}", self.address));
                        self.shared.put_back(vec![msg]);
                        self.shared.sleep(backoff);
                        backoff = (backoff * 2).min(self.max_backoff);
                        continue;
                    }
                }
            }
            let Some(c) = conn.as_mut() else {
                self.shared.put_back(vec![msg]);
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
                    self.shared.done_in_flight();
                    if self.protocol != SyslogProtocol::Udp {
                        window.push_back(Sent {
                            msg,
                            end,
                            at: Instant::now(),
                        });
                        prune(c, &mut window);
                    }
                }
                Err(e) if self.protocol == SyslogProtocol::Udp => {
                    // An ICMP error from an earlier datagram: that one is unaccounted
                    // for; this one was not sent.
                    if e.kind() == io::ErrorKind::ConnectionRefused {
                        self.unconfirmed(1, "the collector's UDP port is unreachable");
                    }
                    self.set_error(format!("cannot send to {}: {e}", self.address));
                    self.shared.put_back(vec![msg]);
                    conn = None;
                    self.shared.sleep(backoff);
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

    fn set_error(&self, e: String) {
        if let Some(queued) = self.shared.record_error(&e) {
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
            self.shared.done_in_flight();
        } else {
            resend.extend(pending);
        }
        self.shared.put_back(resend);
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
        let deadline = self.shared.deadline().unwrap_or_else(Instant::now);
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
        let left = self.shared.drop_rest();
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
