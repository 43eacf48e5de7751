//! The bounded queue between the syslog sink (which only formats and enqueues, on the
//! pipeline's sink thread) and its sender thread (which connects and writes).
//!
//! Nothing leaves the queue without being written or counted: the sender takes one
//! message at a time (`in_flight`), and puts back at the head whatever a broken
//! connection did not deliver. Put-back messages do not count against the capacity;
//! they were accepted already.
//!
//! May touch: nothing outside memory; it is shared state behind one mutex.

use super::SyslogStats;
use sensor_core::Health;
use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// How long the idle sender sleeps before looking at the queue again on its own.
const IDLE_WAKE: Duration = Duration::from_millis(500);

/// One formatted RFC 5424 message, without framing.
#[derive(Debug)]
pub(super) struct Msg {
    pub(super) bytes: Vec<u8>,
}

#[derive(Default)]
struct State {
    queue: VecDeque<Msg>,
    /// A message taken by the sender and not yet written or put back.
    in_flight: bool,
    shutdown: bool,
    /// While shutting down: give up delivering after this.
    deadline: Option<Instant>,
    /// Why the collector is unavailable, if it is; empty when the last write worked.
    last_error: String,
}

/// The queue and what the sink and its sender share besides it.
pub(super) struct Shared {
    state: Mutex<State>,
    /// Wakes the sender (new message, shutdown).
    wake: Condvar,
    /// Wakes `flush` (queue drained).
    drained: Condvar,
    pub(super) stats: Arc<SyslogStats>,
    health: Mutex<Arc<Health>>,
}

impl Shared {
    pub(super) fn new() -> Shared {
        Shared {
            state: Mutex::new(State::default()),
            wake: Condvar::new(),
            drained: Condvar::new(),
            stats: Arc::new(SyslogStats::default()),
            health: Mutex::new(Health::new()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The health registry losses are reported to (a private one until attached).
    pub(super) fn health(&self) -> Arc<Health> {
        self.health
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub(super) fn attach_health(&self, health: &Arc<Health>) {
        *self.health.lock().unwrap_or_else(|p| p.into_inner()) = health.clone();
    }

    /// Messages waiting to be sent.
    pub(super) fn len(&self) -> usize {
        self.lock().queue.len()
    }

    // ---- the sink's side ----

    /// Enqueues `msg` unless `capacity` messages wait already; then the error says why
    /// the queue is not draining (the collector's last error, if any).
    pub(super) fn push(&self, msg: Msg, capacity: usize) -> Result<(), String> {
        let mut st = self.lock();
        if st.queue.len() >= capacity {
            return Err(if st.last_error.is_empty() {
                "collector too slow".into()
            } else {
                st.last_error.clone()
            });
        }
        st.queue.push_back(msg);
        drop(st);
        self.wake.notify_one();
        Ok(())
    }

    /// Waits until every queued message has been written, up to `deadline` (or not at
    /// all when the sender is gone). On time-out: how many are left, and why.
    pub(super) fn wait_drained(
        &self,
        deadline: Instant,
        sender_running: bool,
    ) -> Result<(), (usize, String)> {
        let mut st = self.lock();
        while !st.queue.is_empty() || st.in_flight {
            let now = Instant::now();
            if now >= deadline || !sender_running {
                let left = st.queue.len() + usize::from(st.in_flight);
                return Err((left, st.last_error.clone()));
            }
            st = self
                .drained
                .wait_timeout(st, deadline - now)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
        Ok(())
    }

    /// Tells the sender to stop once the queue is empty or `wait` has passed.
    pub(super) fn begin_shutdown(&self, wait: Duration) {
        {
            let mut st = self.lock();
            if !st.shutdown {
                st.shutdown = true;
                st.deadline = Some(Instant::now() + wait);
            }
        }
        self.wake.notify_all();
    }

    // ---- the sender's side ----

    /// Waits for the next message; `None` means stop (shutdown and queue empty, or the
    /// shutdown deadline passed).
    pub(super) fn next(&self) -> Option<Msg> {
        let mut st = self.lock();
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
            self.drained.notify_all();
            st = self
                .wake
                .wait_timeout(st, IDLE_WAKE)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }

    /// The message taken by [`Shared::next`] was written (or counted): the collector is
    /// reachable again.
    pub(super) fn done_in_flight(&self) {
        let mut st = self.lock();
        st.in_flight = false;
        st.last_error.clear();
        if st.queue.is_empty() {
            self.drained.notify_all();
        }
    }

    /// Puts messages back at the head of the queue, oldest first.
    pub(super) fn put_back(&self, msgs: Vec<Msg>) {
        let mut st = self.lock();
        for m in msgs.into_iter().rev() {
            st.queue.push_front(m);
        }
        st.in_flight = false;
    }

    /// Records why the collector is unavailable; returns the queue length when the
    /// reason changed (worth a log line), `None` when it is the same as before.
    pub(super) fn record_error(&self, error: &str) -> Option<usize> {
        let mut st = self.lock();
        if st.last_error == error {
            return None;
        }
        error.clone_into(&mut st.last_error);
        Some(st.queue.len())
    }

    /// The shutdown deadline, once shutdown has begun.
    pub(super) fn deadline(&self) -> Option<Instant> {
        self.lock().deadline
    }

    /// Sleeps `d`, but not past the shutdown deadline; wakes early when shutdown starts.
    pub(super) fn sleep(&self, d: Duration) {
        let st = self.lock();
        let d = match st.deadline {
            Some(deadline) => d.min(deadline.saturating_duration_since(Instant::now())),
            None => d,
        };
        if !d.is_zero() {
            let _ = self.wake.wait_timeout(st, d);
        }
    }

    /// At shutdown: empties the queue and returns how many messages were never sent.
    pub(super) fn drop_rest(&self) -> u64 {
        let mut st = self.lock();
        let left = st.queue.len() as u64;
        st.queue.clear();
        st.in_flight = false;
        drop(st);
        self.drained.notify_all();
        left
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(b: &str) -> Msg {
        Msg {
            bytes: b.as_bytes().to_vec(),
        }
    }

    #[test]
    fn bounded_and_put_back_keeps_order_beyond_the_bound() {
        let q = Shared::new();
        q.push(msg("a"), 2).expect("room");
        q.push(msg("b"), 2).expect("room");
        assert_eq!(q.push(msg("c"), 2), Err("collector too slow".into()));
        assert_eq!(q.record_error("refused"), Some(2));
        assert_eq!(
            q.record_error("refused"),
            None,
            "same reason, no new log line"
        );
        assert_eq!(q.push(msg("c"), 2), Err("refused".into()));
        let a = q.next().expect("a");
        let b = q.next().expect("b");
        q.push(msg("c"), 2).expect("room again");
        q.put_back(vec![a, b]);
        assert_eq!(q.len(), 3, "put-back messages may exceed the capacity");
        let order: Vec<Vec<u8>> = (0..3).filter_map(|_| q.next()).map(|m| m.bytes).collect();
        assert_eq!(order, [b"a".to_vec(), b"b".to_vec(), b"c".to_vec()]);
    }

    #[test]
    fn shutdown_stops_the_sender_and_counts_the_rest() {
        let q = Shared::new();
        q.push(msg("a"), 10).expect("room");
        q.begin_shutdown(Duration::ZERO);
        assert!(q.next().is_none(), "the deadline has passed");
        assert_eq!(
            q.wait_drained(Instant::now(), false),
            Err((1, String::new()))
        );
        assert_eq!(q.drop_rest(), 1);
        assert_eq!(q.wait_drained(Instant::now(), false), Ok(()));
    }
}
