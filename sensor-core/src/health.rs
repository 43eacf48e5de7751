//! Health counters: events seen, alerts written, and every place that can lose data.
//!
//! Each stage that can drop registers a named loss counter here (`kernel_ringbuf`,
//! `event_channel`, `malformed_input`, `eslogger_seq_gap`, `alert_sink`, ...). Counters are
//! lock-free atomics on the hot path; a snapshot goes to the status file and logs.
//! The collector's state is a typed value on a watch channel, so a service manager can
//! wait for `Running` instead of polling a string; detectors report their own counts.

use crate::detect::DetectorCounts;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// A shared counter handle.
pub type Counter = Arc<AtomicU64>;

/// The registry of counters for one Picket process.
#[derive(Debug)]
pub struct Health {
    /// Events received from collectors.
    pub events_seen: AtomicU64,
    /// Alerts produced by detectors.
    pub alerts_raised: AtomicU64,
    /// Alerts every sink accepted: written, or kept in memory for the sink's retry. An
    /// alert a sink keeps and loses later is counted here and in that sink's losses too.
    pub alerts_written: AtomicU64,
    /// Processes the process table forgot to stay within its bounds (per host and in
    /// total) while they were still running.
    pub process_evictions: AtomicU64,
    losses: Mutex<BTreeMap<String, Counter>>,
    counts: Mutex<BTreeMap<String, Counter>>,
    notes: Mutex<BTreeMap<String, String>>,
    detector: Mutex<DetectorCounts>,
    collector_state: tokio::sync::watch::Sender<CollectorState>,
}

/// Where the collector is in its life.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "String", from = "String")]
pub enum CollectorState {
    /// Loading or attaching; nothing delivered yet.
    #[default]
    Starting,
    /// Attached and delivering.
    Running,
    /// Ended on its own or at shutdown.
    Stopped,
    /// Stopped with an error.
    Failed(String),
}

impl From<CollectorState> for String {
    fn from(state: CollectorState) -> String {
        state.to_string()
    }
}

/// Reads the words [`std::fmt::Display`] writes (the status file's `collector.state`).
impl From<String> for CollectorState {
    fn from(text: String) -> CollectorState {
        match text.as_str() {
            "starting" => CollectorState::Starting,
            "running" => CollectorState::Running,
            "stopped" => CollectorState::Stopped,
            other => {
                CollectorState::Failed(other.strip_prefix("failed: ").unwrap_or(other).to_string())
            }
        }
    }
}

impl std::fmt::Display for CollectorState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CollectorState::Starting => f.write_str("starting"),
            CollectorState::Running => f.write_str("running"),
            CollectorState::Stopped => f.write_str("stopped"),
            CollectorState::Failed(e) => write!(f, "failed: {e}"),
        }
    }
}

/// A point-in-time copy of the counters.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, Default)]
pub struct HealthSnapshot {
    /// Events received from collectors.
    pub events_seen: u64,
    /// Alerts produced.
    pub alerts_raised: u64,
    /// Alerts every sink accepted (see [`Health::alerts_written`]).
    pub alerts_written: u64,
    /// Alerts folded (the detector's own count).
    pub alerts_folded: u64,
    /// Running processes the process table evicted to stay bounded.
    #[serde(default)]
    pub process_evictions: u64,
    /// The detector's counts.
    #[serde(default)]
    pub detector: DetectorCounts,
    /// Losses per stage.
    pub losses: BTreeMap<String, u64>,
    /// Latest warning per topic (schema drift, sequence gaps, sink errors...).
    pub notes: BTreeMap<String, String>,
    /// What inputs counted that is not a loss: messages received per input and peer,
    /// oversized messages capped, unused kinds skipped (`syslog.tcp.received`, ...);
    /// faults recovered from (`state_dir.recreated`, `sink.file.outages`,
    /// `config.reload_failed`, `syslog.stalled`, ...); `sink.file.kept` is a gauge.
    #[serde(default)]
    pub counts: BTreeMap<String, u64>,
}

impl Default for Health {
    fn default() -> Self {
        Health {
            events_seen: AtomicU64::new(0),
            alerts_raised: AtomicU64::new(0),
            alerts_written: AtomicU64::new(0),
            process_evictions: AtomicU64::new(0),
            losses: Mutex::default(),
            counts: Mutex::default(),
            notes: Mutex::default(),
            detector: Mutex::default(),
            collector_state: tokio::sync::watch::Sender::new(CollectorState::Starting),
        }
    }
}

impl Health {
    /// A new, shared registry.
    pub fn new() -> Arc<Health> {
        Arc::new(Health::default())
    }

    /// Records the detector's counts (the pipeline calls this on every tick).
    pub fn set_detector_counts(&self, counts: DetectorCounts) {
        *self.detector.lock().unwrap_or_else(|p| p.into_inner()) = counts;
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

    /// The (non-loss) counter `name`, created at 0 on first use.
    pub fn counter(&self, name: &str) -> Counter {
        let mut map = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        map.entry(name.to_string()).or_default().clone()
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

    /// Records the collector's state.
    pub fn set_collector_state(&self, state: CollectorState) {
        self.collector_state.send_replace(state);
    }

    /// The collector's state now.
    pub fn collector_state(&self) -> CollectorState {
        self.collector_state.borrow().clone()
    }

    /// A receiver that sees every change of the collector's state.
    pub fn watch_collector_state(&self) -> tokio::sync::watch::Receiver<CollectorState> {
        self.collector_state.subscribe()
    }

    /// Copies every counter.
    pub fn snapshot(&self) -> HealthSnapshot {
        let losses = self.losses.lock().unwrap_or_else(|p| p.into_inner());
        let notes = self.notes.lock().unwrap_or_else(|p| p.into_inner());
        let counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        let detector = *self.detector.lock().unwrap_or_else(|p| p.into_inner());
        HealthSnapshot {
            events_seen: self.events_seen.load(Ordering::Relaxed),
            alerts_raised: self.alerts_raised.load(Ordering::Relaxed),
            alerts_written: self.alerts_written.load(Ordering::Relaxed),
            alerts_folded: detector.alerts_folded,
            process_evictions: self.process_evictions.load(Ordering::Relaxed),
            detector,
            losses: losses
                .iter()
                .map(|(k, v)| (k.clone(), v.load(Ordering::Relaxed)))
                .collect(),
            notes: notes.clone(),
            counts: counts
                .iter()
                .map(|(k, v)| (k.clone(), v.load(Ordering::Relaxed)))
                .collect(),
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
