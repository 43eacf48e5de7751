//! The collector seam: each OS crate implements [`Collector`]; the pipeline runs it.

use crate::channel::{Batch, BatchTx};
use crate::event::Event;
use crate::health::{Counter, Health};
use crate::host::HostIdentity;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::sync::{mpsc, watch};

/// Boxed future a collector runs as.
pub type CollectorFuture = Pin<Box<dyn Future<Output = Result<(), CollectorError>> + Send>>;

/// A source of process events: live (eBPF, eslogger, ETW) or recorded (replay).
pub trait Collector: Send {
    /// Short name recorded in `picket.collector` (`linux-ebpf`, `replay-ecs`, ...).
    fn name(&self) -> &'static str;

    /// The host whose events this collector sees, for a live collector: it stamps this
    /// identity on its events, and the pipeline applies `[general] host_name` to them.
    /// Replays report none: their events name their own hosts.
    fn host(&self) -> Option<HostIdentity> {
        None
    }

    /// Runs until the source ends or `shutdown` fires, sending events to `out`. Loss
    /// counters are registered through `out.health()`.
    fn run(self: Box<Self>, out: EventSender, shutdown: Shutdown) -> CollectorFuture;
}

/// Why a collector stopped or could not start.
#[derive(Debug)]
pub enum CollectorError {
    /// This collector does not run on this OS.
    Unsupported {
        /// The collector.
        collector: &'static str,
        /// The OS it needs.
        needs: &'static str,
    },
    /// Missing privilege, capability, kernel feature or tool, with how to fix it.
    Prerequisite(String),
    /// The input could not be read.
    Io {
        /// What was being read.
        what: String,
        /// The error.
        source: std::io::Error,
    },
    /// Any other failure, described.
    Failed(String),
}

impl fmt::Display for CollectorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CollectorError::Unsupported { collector, needs } => write!(
                f,
                "the {collector} collector is unsupported on this OS ({}); it runs on {needs}",
                std::env::consts::OS
            ),
            CollectorError::Prerequisite(msg) | CollectorError::Failed(msg) => f.write_str(msg),
            CollectorError::Io { what, source } => write!(f, "cannot read {what}: {source}"),
        }
    }
}

impl std::error::Error for CollectorError {}

/// The sending end of the bounded event channel, with the health registry. The
/// pipeline gives each collector its own, which stamps that collector's host
/// ([`Collector::host`]) on its events, so a log input's devices keep their own names.
#[derive(Debug, Clone)]
pub struct EventSender {
    tx: Tx,
    health: Arc<Health>,
    dropped: Counter,
    host: Option<Arc<HostStamp>>,
    ready: Option<Arc<ReadyLatch>>,
}

/// The channel behind a sender: the pipeline's, or a plain one (tests and tools that
/// read events themselves; an ack is called as soon as the event is in it).
#[derive(Debug, Clone)]
enum Tx {
    Pipeline(BatchTx),
    Plain(mpsc::Sender<Event>),
}

/// Called once an event is through the whole pipeline: analysed, and every alert it
/// raised handed to the sinks (written, or counted as lost). The argument says whether
/// it raised any. A file input saves its read offset here, so a restart resumes after
/// what was fully dealt with: no gap, and no alert written twice.
pub struct Ack(Box<dyn FnOnce(bool) + Send>);

impl Ack {
    /// An acknowledgement that calls `f`.
    pub fn new(f: impl FnOnce(bool) + Send + 'static) -> Ack {
        Ack(Box::new(f))
    }

    /// Calls it.
    pub fn done(self, raised_alerts: bool) {
        (self.0)(raised_alerts);
    }
}

impl fmt::Debug for Ack {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Ack")
    }
}

#[derive(Debug)]
struct HostStamp {
    identity: HostIdentity,
    name_overridden: bool,
}

/// The collector state turns `Running` once every collector said it runs.
#[derive(Debug)]
struct ReadyLatch {
    waiting: AtomicUsize,
}

impl EventSender {
    /// Wraps a plain channel sender (a test or tool reading the events itself). It
    /// stamps no host and reports readiness directly.
    pub fn new(tx: mpsc::Sender<Event>, health: Arc<Health>) -> Self {
        Self::with_tx(Tx::Plain(tx), health)
    }

    pub(crate) fn for_pipeline(tx: BatchTx, health: Arc<Health>) -> Self {
        Self::with_tx(Tx::Pipeline(tx), health)
    }

    fn with_tx(tx: Tx, health: Arc<Health>) -> Self {
        let dropped = health.loss_counter("event_channel");
        Self {
            tx,
            health,
            dropped,
            host: None,
            ready: None,
        }
    }

    /// Senders for `hosts.len()` collectors on one channel: the one at `i` stamps
    /// `hosts[i]` (with the `[general] host_name` override applied) on what it sends,
    /// and the collector state turns `Running` when all of them have marked running.
    pub fn for_collectors(
        &self,
        hosts: Vec<Option<HostIdentity>>,
        host_name: Option<&str>,
    ) -> Vec<EventSender> {
        let ready = Arc::new(ReadyLatch {
            waiting: AtomicUsize::new(hosts.len()),
        });
        hosts
            .into_iter()
            .map(|host| {
                let host = host.map(|mut identity| {
                    if let Some(name) = host_name {
                        identity.name = name.to_string();
                    }
                    Arc::new(HostStamp {
                        identity,
                        name_overridden: host_name.is_some(),
                    })
                });
                EventSender {
                    host,
                    ready: Some(ready.clone()),
                    ..self.clone()
                }
            })
            .collect()
    }

    fn stamp(&self, event: &mut Event) {
        if let Some(h) = &self.host {
            h.identity.fill(event, h.name_overridden);
        }
    }

    fn one(event: Event, ack: Option<Ack>) -> Batch {
        Batch {
            events: vec![event],
            ack,
            give_back: None,
        }
    }

    /// Sends, waiting for room (backpressure). Returns false when the pipeline is gone.
    pub async fn send(&self, mut event: Event) -> bool {
        self.stamp(&mut event);
        match &self.tx {
            Tx::Pipeline(tx) => tx.send(Self::one(event, None)).await,
            Tx::Plain(tx) => tx.send(event).await.is_ok(),
        }
    }

    /// Sends `events` in order as one hand-over, waiting for room: what a reader that
    /// has many events at once (a replay, a drained buffer) should use.
    pub async fn send_batch(&self, events: Vec<Event>) -> bool {
        self.hand_over(events, None).await
    }

    /// [`EventSender::send_batch`], with the analysed events handed back through
    /// `give_back` for the sending task to free and to reuse the vector: a live reader's
    /// allocations and frees then stay on its own thread.
    pub async fn send_batch_given_back(
        &self,
        events: Vec<Event>,
        give_back: &std::sync::mpsc::Sender<Vec<Event>>,
    ) -> bool {
        self.hand_over(events, Some(give_back.clone())).await
    }

    /// The one async hand-over both `send_batch*` go through.
    async fn hand_over(
        &self,
        mut events: Vec<Event>,
        give_back: Option<std::sync::mpsc::Sender<Vec<Event>>>,
    ) -> bool {
        events.iter_mut().for_each(|e| self.stamp(e));
        match &self.tx {
            Tx::Pipeline(tx) => {
                let batch = Batch {
                    events,
                    ack: None,
                    give_back,
                };
                tx.send(batch).await
            }
            Tx::Plain(tx) => {
                for event in events {
                    if tx.send(event).await.is_err() {
                        return false;
                    }
                }
                true
            }
        }
    }

    /// Sends without waiting, for contexts that must not block (a reader thread that
    /// would otherwise stall a kernel buffer). A full channel counts the event as lost
    /// in `event_channel`; returns false then.
    pub fn try_send(&self, mut event: Event) -> bool {
        self.stamp(&mut event);
        let sent = match &self.tx {
            Tx::Pipeline(tx) => tx.try_send(Self::one(event, None)).is_ok(),
            Tx::Plain(tx) => tx.try_send(event).is_ok(),
        };
        if !sent {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
        sent
    }

    /// Sends from a plain (non-async) thread, blocking for room.
    pub fn blocking_send(&self, mut event: Event) -> bool {
        self.stamp(&mut event);
        match &self.tx {
            Tx::Pipeline(tx) => tx.blocking_send(Self::one(event, None)),
            Tx::Plain(tx) => tx.blocking_send(event).is_ok(),
        }
    }

    /// [`EventSender::send_batch`] from a plain (non-async) thread.
    pub fn blocking_send_batch(&self, events: Vec<Event>) -> bool {
        self.blocking_send_batch_acked(events, None)
    }

    /// [`EventSender::blocking_send_batch`], with the analysed events handed back
    /// through `give_back` for the sending thread to free: freeing is a good part of an
    /// event's cost, and there it is off the pipeline's one thread.
    pub fn blocking_send_batch_given_back(
        &self,
        events: Vec<Event>,
        give_back: &std::sync::mpsc::Sender<Vec<Event>>,
    ) -> bool {
        self.blocking_hand_over(events, None, Some(give_back.clone()))
    }

    /// [`EventSender::blocking_send`], calling `ack` once the event is through the
    /// pipeline. If the pipeline is gone, `ack` is dropped uncalled and this returns false.
    pub fn blocking_send_acked(&self, event: Event, ack: Ack) -> bool {
        self.blocking_send_batch_acked(vec![event], Some(ack))
    }

    /// Sends `events` in order from a plain thread, then calls `ack` (if any) once all
    /// of them are through the pipeline, with whether any raised an alert.
    pub fn blocking_send_batch_acked(&self, events: Vec<Event>, ack: Option<Ack>) -> bool {
        self.blocking_hand_over(events, ack, None)
    }

    /// The one blocking hand-over every `blocking_send_batch*` goes through.
    fn blocking_hand_over(
        &self,
        mut events: Vec<Event>,
        ack: Option<Ack>,
        give_back: Option<std::sync::mpsc::Sender<Vec<Event>>>,
    ) -> bool {
        events.iter_mut().for_each(|e| self.stamp(e));
        match &self.tx {
            Tx::Pipeline(tx) => tx.blocking_send(Batch {
                events,
                ack,
                give_back,
            }),
            Tx::Plain(tx) => {
                for event in events {
                    if tx.blocking_send(event).is_err() {
                        return false;
                    }
                }
                if let Some(ack) = ack {
                    ack.done(false);
                }
                true
            }
        }
    }

    /// Tells the pipeline the source is attached and delivering (after the eBPF programs
    /// attached, eslogger started, the ETW session opened, the syslog sockets bound).
    /// Drives `READY=1` for systemd and `collector.state` in the status file; with
    /// several collectors, once all of them have said so. Call it once per collector.
    pub fn mark_running(&self) {
        let all = match &self.ready {
            Some(latch) => latch.waiting.fetch_sub(1, Ordering::AcqRel) == 1,
            None => true,
        };
        if all {
            self.health
                .set_collector_state(crate::health::CollectorState::Running);
        }
    }

    /// The health registry, to register loss counters and notes.
    pub fn health(&self) -> &Arc<Health> {
        &self.health
    }
}

/// A shutdown signal shared by every task; cheap to clone.
#[derive(Debug, Clone)]
pub struct Shutdown(watch::Receiver<bool>);

/// Triggers a [`Shutdown`].
#[derive(Debug)]
pub struct ShutdownTrigger(watch::Sender<bool>);

impl Shutdown {
    /// A new signal and its trigger.
    pub fn new() -> (ShutdownTrigger, Shutdown) {
        let (tx, rx) = watch::channel(false);
        (ShutdownTrigger(tx), Shutdown(rx))
    }

    /// True once triggered.
    pub fn is_triggered(&self) -> bool {
        *self.0.borrow()
    }

    /// Resolves when triggered (at once if it already was, or if the trigger is gone).
    pub async fn wait(&mut self) {
        let _ = self.0.wait_for(|v| *v).await;
    }
}

impl ShutdownTrigger {
    /// Fires the signal.
    pub fn trigger(&self) {
        let _ = self.0.send(true);
    }
}
