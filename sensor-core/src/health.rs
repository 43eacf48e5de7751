//! Health counters: events seen, alerts written, and every place that can lose data.
//!
//! Each stage that can drop registers a named loss counter here (`kernel_ringbuf`,
//! `event_channel`, `malformed_input`, `eslogger_seq_gap`, `alert_sink`, ...). Counters are
//! lock-free atomics on the hot path; a snapshot goes to the status file and logs.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// A shared counter handle.
pub type Counter = Arc<AtomicU64>;

/// The registry of counters for one Picket process.
#[derive(Debug, Default)]
pub struct Health {
    /// Events received from collectors.
    pub events_seen: AtomicU64,
    /// Alerts produced by detectors.
    pub alerts_raised: AtomicU64,
    /// Alerts written by sinks.
    pub alerts_written: AtomicU64,
    /// Identical alerts folded into an earlier one.
    pub alerts_folded: AtomicU64,
    losses: Mutex<BTreeMap<String, Counter>>,
    notes: Mutex<BTreeMap<String, String>>,
    collector_state: Mutex<String>,
}

/// A point-in-time copy of the counters.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, Default)]
pub struct HealthSnapshot {
    /// Events received from collectors.
    pub events_seen: u64,
    /// Alerts produced.
    pub alerts_raised: u64,
    /// Alerts written by sinks.
    pub alerts_written: u64,
    /// Alerts folded.
    pub alerts_folded: u64,
    /// Losses per stage.
    pub losses: BTreeMap<String, u64>,
    /// Latest warning per topic (schema drift, sequence gaps, sink errors...).
    pub notes: BTreeMap<String, String>,
}

impl Health {
    /// A new, shared registry.
    pub fn new() -> Arc<Health> {
        Arc::new(Health::default())
    }

    /// The loss counter for `stage`, created at 0 on first use (so a stage that never
    /// lost anything still shows up as 0 in the status).
    pub fn loss_counter(&self, stage: &str) -> Counter {
        let mut map = self.losses.lock().unwrap_or_else(|p| p.into_inner());
        map.entry(stage.to_string()).or_default().clone()
    }

    /// Adds `n` to the loss counter for `stage`.
    pub fn add_loss(&self, stage: &str, n: u64) {
        self.loss_counter(stage).fetch_add(n, Ordering::Relaxed);
    }

    /// Total losses across stages.
    pub fn total_losses(&self) -> u64 {
        let map = self.losses.lock().unwrap_or_else(|p| p.into_inner());
        map.values().map(|c| c.load(Ordering::Relaxed)).sum()
    }

    /// Records the latest warning for a topic (shown in the status file).
    pub fn note(&self, topic: &str, message: impl Into<String>) {
        let mut map = self.notes.lock().unwrap_or_else(|p| p.into_inner());
        map.insert(topic.to_string(), message.into());
    }

    /// Records the collector's state (`starting`, `running`, `stopped`, `failed: ...`).
    pub fn set_collector_state(&self, state: impl Into<String>) {
        *self
            .collector_state
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = state.into();
    }

    /// The collector's state.
    pub fn collector_state(&self) -> String {
        self.collector_state
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Copies every counter.
    pub fn snapshot(&self) -> HealthSnapshot {
        let losses = self.losses.lock().unwrap_or_else(|p| p.into_inner());
        let notes = self.notes.lock().unwrap_or_else(|p| p.into_inner());
        HealthSnapshot {
            events_seen: self.events_seen.load(Ordering::Relaxed),
            alerts_raised: self.alerts_raised.load(Ordering::Relaxed),
            alerts_written: self.alerts_written.load(Ordering::Relaxed),
            alerts_folded: self.alerts_folded.load(Ordering::Relaxed),
            losses: losses
                .iter()
                .map(|(k, v)| (k.clone(), v.load(Ordering::Relaxed)))
                .collect(),
            notes: notes.clone(),
        }
    }
}

/// Logs at most one warning per `interval` per topic, counting the ones it held back,
/// so a flood of malformed input cannot flood the journal.
#[derive(Debug)]
pub struct RateLimitedWarn {
    interval: std::time::Duration,
    last: Mutex<Option<std::time::Instant>>,
    suppressed: AtomicU64,
}

impl RateLimitedWarn {
    /// A limiter allowing one message per `interval`.
    pub const fn new(interval: std::time::Duration) -> Self {
        Self {
            interval,
            last: Mutex::new(None),
            suppressed: AtomicU64::new(0),
        }
    }

    /// Returns `Some(n_suppressed_since_last)` when a message may be logged now.
    pub fn check(&self) -> Option<u64> {
        let now = std::time::Instant::now();
        let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        match *last {
            Some(t) if now.duration_since(t) < self.interval => {
                self.suppressed.fetch_add(1, Ordering::Relaxed);
                None
            }
            _ => {
                *last = Some(now);
                Some(self.suppressed.swap(0, Ordering::Relaxed))
            }
        }
    }
}
