//! The pipeline: collector → bounded channel → process table → detector → alert queue →
//! sinks.
//!
//! Backpressure is explicit: the collector waits when the event channel is full (the
//! kernel ring buffer, which counts its own drops, absorbs bursts), and the detector
//! waits when the alert queue is full, so an alert once produced is never dropped here.
//! On shutdown (or when a replay ends) the channel drains, the detector flushes its
//! pending state and every sink is flushed before [`run`] returns.

use crate::alert::Alert;
use crate::channel::{self, Batch};
use crate::collector::{Ack, Collector, CollectorError, EventSender, Shutdown};
use crate::detect::{Detector, Prechecked};
use crate::event::Event;
use crate::health::CollectorState;
use crate::health::Health;
use crate::host::HostIdentity;
use crate::precheck::PrecheckPool;
use crate::process_table::ProcessTable;
use crate::sink::AlertSink;
use chrono::{DateTime, Utc};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// Which clock drives detector ticks (fold windows, correlation expiry).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Clock {
    /// Wall clock, one tick a second: live collection.
    Wall,
    /// The events' own timestamps: replay, so a replay gives the alerts the live run gave.
    Event,
}

/// How to run the pipeline.
#[derive(Debug, Clone)]
pub struct PipelineOptions {
    /// Bounded event channel capacity.
    pub channel_capacity: usize,
    /// Bounded alert queue capacity.
    pub alert_queue_capacity: usize,
    /// Process table capacity.
    pub process_table_capacity: usize,
    /// Seed the process table from running processes.
    pub seed_process_table: bool,
    /// Tick clock.
    pub clock: Clock,
    /// `[general] host_name`: replaces `host.name` on the events of a live collector's
    /// own host ([`Collector::host`]); replayed events keep the hosts they name.
    pub host_name: Option<String>,
    /// Hash of the config in force, stamped on every alert.
    pub config_hash: String,
    /// Helper threads that check a batch's stateless rules ([`Detector::precheck`])
    /// while the detector works through earlier batches (0: the detector checks them).
    pub precheck_threads: usize,
}

/// A change pushed into a running pipeline.
pub enum Control {
    /// Swap in a new detector (and optionally new sinks) built from a reloaded config.
    /// The new detector takes over the old one's state; events in flight are not lost
    /// because the swap happens between two events on the detector task.
    Reload {
        /// The new detector.
        detector: Box<dyn Detector>,
        /// New sinks, or `None` to keep the current ones.
        sinks: Option<Vec<Box<dyn AlertSink>>>,
        /// Hash of the new config.
        config_hash: String,
    },
}

impl std::fmt::Debug for Control {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Control::Reload { config_hash, .. } => {
                write!(f, "Control::Reload({config_hash})")
            }
        }
    }
}

/// What a finished run reports.
#[derive(Debug, Default, Clone)]
pub struct RunReport {
    /// Events processed.
    pub events: u64,
    /// Alerts sent to sinks, per `rule.name` (in order of first appearance).
    pub alerts_by_rule: Vec<(String, u64)>,
    /// Why the collector stopped, if it failed.
    pub collector_error: Option<String>,
}

enum SinkMsg {
    Alert(Box<Alert>),
    Swap(Vec<Box<dyn AlertSink>>),
    /// The event's alerts (if any) are queued before this: acknowledge it once they are
    /// written. Carries whether there were any.
    Ack(Ack, bool),
}

/// Runs collector → detector → sinks until the collector ends or `shutdown` fires,
/// then drains and flushes. Returns an error only if the collector failed to start or
/// failed before delivering anything; a collector that fails later is reported in the
/// [`RunReport`] after the drain.
pub async fn run(
    collectors: Vec<Box<dyn Collector>>,
    detector: Box<dyn Detector>,
    sinks: Vec<Box<dyn AlertSink>>,
    health: Arc<Health>,
    shutdown: Shutdown,
    mut controls: mpsc::Receiver<Control>,
    options: PipelineOptions,
) -> Result<RunReport, CollectorError> {
    let (event_tx, mut event_rx) = channel::channel(options.channel_capacity);
    let (alert_tx, alert_rx) = mpsc::channel::<SinkMsg>(options.alert_queue_capacity);

    // Each collector reports whose events it sees; its sender stamps them, with the
    // override applied. The first host a collector reports seeds the process table.
    let hosts: Vec<Option<HostIdentity>> = collectors.iter().map(|c| c.host()).collect();
    let mut table = ProcessTable::new(options.process_table_capacity);
    if options.seed_process_table {
        let key = match hosts.iter().flatten().next() {
            Some(h) if options.host_name.is_some() && h.id.is_none() => {
                options.host_name.as_deref().unwrap_or_default()
            }
            Some(h) => h.key(),
            None => "",
        };
        let n = table.seed_from_system(key);
        tracing::info!(processes = n, "Seeded the process table");
    }

    let sink_health = health.clone();
    let sink_thread = std::thread::Builder::new()
        .name("picket-sinks".into())
        .spawn(move || sink_loop(sinks, alert_rx, sink_health))
        .map_err(|e| CollectorError::Failed(format!("cannot start the sink thread: {e}")))?;

    let collector_names: Vec<&'static str> = collectors.iter().map(|c| c.name()).collect();
    // With one collector, delivering is proof of running; with several, each says so.
    let single = collectors.len() == 1;
    health.set_collector_state(CollectorState::Starting);
    let senders = EventSender::for_pipeline(event_tx, health.clone())
        .for_collectors(hosts, options.host_name.as_deref());
    let collector_tasks: Vec<_> = collectors
        .into_iter()
        .zip(senders)
        .map(|(collector, sender)| {
            let name = collector.name();
            let run = collector.run(sender, shutdown.clone());
            let health = health.clone();
            tokio::spawn(async move {
                let outcome = run.await;
                if let Err(e) = &outcome {
                    // Visible at once, while the other collectors go on.
                    tracing::error!(collector = name, error = %e, "Collector stopped with an error");
                    health.note(&format!("collector.{name}"), format!("stopped: {e}"));
                }
                outcome
            })
        })
        .collect();
    let loss_logger = tokio::spawn(log_losses(health.clone(), shutdown.clone()));

    let mut analysis = Analysis {
        detector,
        table,
        clock: options.clock,
        last_tick: None,
        alerts: Vec::new(),
        config_hash: options.config_hash.clone(),
        health: health.clone(),
        alert_tx,
        report: RunReport::default(),
    };
    let mut precheck_pool = PrecheckPool::new(options.precheck_threads);
    let mut ticker = tokio::time::interval(Duration::from_secs(1));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut controls_open = true;

    loop {
        tokio::select! {
            biased;
            control = controls.recv(), if controls_open => match control {
                Some(Control::Reload { detector: mut new, sinks, config_hash: hash }) => {
                    // Batches the old detector's precheck checked are the old detector's.
                    analysis.detect_in_flight(&mut precheck_pool).await;
                    new.take_state_from(analysis.detector.as_any_mut());
                    analysis.detector = new;
                    analysis.config_hash = hash;
                    if let Some(s) = sinks {
                        if analysis.alert_tx.send(SinkMsg::Swap(s)).await.is_err() {
                            tracing::error!("Sink thread is gone; cannot swap sinks");
                        }
                    }
                    tracing::info!(config_hash = %analysis.config_hash, "Swapped in the reloaded configuration");
                }
                None => controls_open = false,
            },
            // Keep the helpers fed before taking back what they have checked.
            batch = event_rx.recv(), if !precheck_pool.full() => {
                let Some(mut batch) = batch else { break };
                if single && analysis.report.events == 0 && health.collector_state() == CollectorState::Starting {
                    // A collector that delivers is running even if it never said so.
                    health.set_collector_state(CollectorState::Running);
                }
                health.events_seen.fetch_add(batch.events.len() as u64, Ordering::Relaxed);
                analysis.enrich(&mut batch.events);
                let precheck = analysis.detector.precheck();
                match precheck.filter(|_| precheck_pool.takes(batch.events.len())) {
                    Some(precheck) => precheck_pool.hand_over(precheck, batch),
                    None => {
                        analysis.detect_in_flight(&mut precheck_pool).await;
                        analysis.detect(batch, Vec::new()).await;
                    }
                }
            }
            checked = precheck_pool.take_back(), if precheck_pool.in_flight() > 0 => {
                if let Some((batch, checked)) = checked {
                    analysis.detect(batch, checked).await;
                }
            }
            _ = ticker.tick(), if options.clock == Clock::Wall => {
                analysis.tick(Utc::now(), false).await;
            }
        }
    }
    // The input has ended: what is still being checked is detected before the flush.
    analysis.detect_in_flight(&mut precheck_pool).await;
    drop(precheck_pool);

    let final_time = match options.clock {
        Clock::Wall => Utc::now(),
        Clock::Event => analysis.last_tick.unwrap_or_else(Utc::now),
    };
    analysis.tick(final_time, true).await;
    let Analysis {
        mut report,
        alert_tx,
        ..
    } = analysis;
    drop(alert_tx);
    loss_logger.abort();

    let mut errors = Vec::new();
    for (name, task) in collector_names.iter().zip(collector_tasks) {
        match task.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => errors.push((*name, e)),
            Err(e) => errors.push((*name, CollectorError::Failed(format!("task panicked: {e}")))),
        }
    }
    health.set_collector_state(match errors.first() {
        None => CollectorState::Stopped,
        Some((_, e)) => CollectorState::Failed(e.to_string()),
    });
    if !errors.is_empty() {
        if report.events == 0 {
            let _ = tokio::task::spawn_blocking(move || sink_thread.join()).await;
            let (_, first) = errors.swap_remove(0);
            return Err(first);
        }
        let text: Vec<String> = errors
            .iter()
            .map(|(name, e)| {
                if single {
                    e.to_string()
                } else {
                    format!("{name}: {e}")
                }
            })
            .collect();
        report.collector_error = Some(text.join("; "));
    }
    let _ = tokio::task::spawn_blocking(move || sink_thread.join()).await;
    log_loss_totals(&health);
    Ok(report)
}

/// The pipeline's analysing end: what detecting a batch reads and changes.
struct Analysis {
    detector: Box<dyn Detector>,
    table: ProcessTable,
    clock: Clock,
    last_tick: Option<DateTime<Utc>>,
    alerts: Vec<Alert>,
    config_hash: String,
    health: Arc<Health>,
    alert_tx: mpsc::Sender<SinkMsg>,
    report: RunReport,
}

impl Analysis {
    /// Gives each event its id and its process context. A whole batch is enriched
    /// before any of it is detected, so that its stateless rules can be checked on the
    /// precheck threads meanwhile; the detector reads only the event, not the table.
    fn enrich(&mut self, events: &mut [Event]) {
        for event in events {
            if event.event.id.is_none() {
                event.event.id = Some(stable_event_id(event));
            }
            self.table.observe(event);
        }
    }

    /// Runs the detector over `batch` in order (with its precheck's results, one per
    /// event, when it has them), forwards the alerts, then gives the events back and
    /// queues the batch's acknowledgement behind its alerts.
    async fn detect(&mut self, batch: Batch, checked: Vec<Prechecked>) {
        let Batch {
            events,
            ack,
            give_back,
        } = batch;
        let mut raised = false;
        let mut checked = checked.into_iter();
        for event in &events {
            self.report.events += 1;
            if self.clock == Clock::Event {
                let due = (self.last_tick)
                    .is_none_or(|t| event.timestamp - t >= chrono::TimeDelta::seconds(1));
                if due {
                    self.last_tick = Some(event.timestamp);
                    self.detector
                        .on_tick(event.timestamp, false, &mut self.alerts);
                    report_counts(&self.health, self.detector.as_ref(), &self.table);
                }
            }
            let before = self.alerts.len();
            match checked.next() {
                Some(c) => self
                    .detector
                    .on_prechecked_event(event, c, &mut self.alerts),
                None => self.detector.on_event(event, &mut self.alerts),
            }
            raised |= self.alerts.len() > before;
            if !self.alerts.is_empty() {
                self.forward().await;
            }
        }
        if let Some(back) = give_back {
            // If the sender is gone, the events are freed here after all.
            let _ = back.send(events);
        }
        if let Some(ack) = ack {
            // Through the sink queue, so it comes after the batch's alerts.
            if let Err(mpsc::error::SendError(SinkMsg::Ack(ack, raised))) =
                self.alert_tx.send(SinkMsg::Ack(ack, raised)).await
            {
                ack.done(raised);
            }
        }
    }

    /// Detects every batch the precheck threads hold, oldest first.
    async fn detect_in_flight(&mut self, pool: &mut PrecheckPool) {
        while let Some((batch, checked)) = pool.take_back().await {
            self.detect(batch, checked).await;
        }
    }

    /// A detector tick (`final_flush` at shutdown), its alerts forwarded.
    async fn tick(&mut self, now: DateTime<Utc>, final_flush: bool) {
        self.detector.on_tick(now, final_flush, &mut self.alerts);
        report_counts(&self.health, self.detector.as_ref(), &self.table);
        self.forward().await;
    }

    async fn forward(&mut self) {
        let (alerts, hash, health) = (&mut self.alerts, &self.config_hash, &self.health);
        forward(alerts, hash, health, &self.alert_tx, &mut self.report).await;
    }
}

async fn forward(
    alerts: &mut Vec<Alert>,
    config_hash: &str,
    health: &Health,
    alert_tx: &mpsc::Sender<SinkMsg>,
    report: &mut RunReport,
) {
    for mut alert in alerts.drain(..) {
        if alert.picket.config_hash.is_empty() {
            alert.picket.config_hash = config_hash.to_string();
        }
        health.alerts_raised.fetch_add(1, Ordering::Relaxed);
        match report
            .alerts_by_rule
            .iter_mut()
            .find(|(n, _)| *n == alert.rule.name)
        {
            Some((_, c)) => *c += 1,
            None => report.alerts_by_rule.push((alert.rule.name.clone(), 1)),
        }
        if alert_tx
            .send(SinkMsg::Alert(Box::new(alert)))
            .await
            .is_err()
        {
            // Only if the sink thread died: count it, never silently.
            health.add_loss("alert_queue", 1);
            tracing::error!("Alert queue closed: the sink thread stopped; alert counted as lost");
        }
    }
}

/// Copies the detector's and the process table's counts into health.
fn report_counts(health: &Health, detector: &dyn Detector, table: &ProcessTable) {
    health.set_detector_counts(detector.counts());
    health
        .process_evictions
        .store(table.evictions(), Ordering::Relaxed);
}

/// A stable id for an event whose source gave none: a hash of what makes it this
/// event (host, time, action, process, and where it was read), so a replay of the same
/// file gives the same ids. `pk-` marks ids Picket made.
pub fn stable_event_id(event: &Event) -> String {
    // FNV-1a: tiny, fast and deterministic across runs and builds.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut feed = |bytes: &[u8]| {
        for b in bytes.iter().chain(std::iter::once(&0xff)) {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    };
    fn text(o: &Option<String>) -> &[u8] {
        o.as_deref().unwrap_or("").as_bytes()
    }
    feed(crate::process_table::host_key(event).as_bytes());
    feed(
        &event
            .timestamp
            .timestamp_nanos_opt()
            .unwrap_or_default()
            .to_le_bytes(),
    );
    feed(text(&event.event.action));
    feed(&event.process.pid.unwrap_or_default().to_le_bytes());
    feed(text(&event.process.entity_id));
    feed(text(&event.process.command_line));
    let file = event.log.as_ref().and_then(|l| l.file.as_ref());
    feed(file.map_or(&[][..], |f| text(&f.path)));
    feed(&event.picket.record.unwrap_or_default().to_le_bytes());
    format!("pk-{h:016x}")
}

fn sink_loop(
    mut sinks: Vec<Box<dyn AlertSink>>,
    mut rx: mpsc::Receiver<SinkMsg>,
    health: Arc<Health>,
) {
    // Sinks that lose alerts on their own (a full syslog queue, a backlog still held at
    // shutdown) count them in the health registry.
    for sink in sinks.iter_mut() {
        sink.attach_health(&health);
    }
    static WARN: crate::health::RateLimitedWarn =
        crate::health::RateLimitedWarn::new(Duration::from_secs(10));
    // Group commit: the alerts already queued are written as one burst and synced
    // once, before anything waits on them (an ack) and at the burst's end.
    let mut unsynced = 0usize;
    loop {
        if unsynced >= MAX_UNSYNCED_ALERTS {
            sync_sinks(&mut sinks, &mut unsynced);
        }
        let msg = match rx.try_recv() {
            Ok(msg) => msg,
            Err(_) => {
                sync_sinks(&mut sinks, &mut unsynced);
                match rx.blocking_recv() {
                    Some(msg) => msg,
                    None => break,
                }
            }
        };
        match msg {
            SinkMsg::Alert(alert) => {
                let line = alert.to_json_line();
                let mut ok = true;
                for sink in sinks.iter_mut() {
                    if let Err(e) = sink.write_deferred(&alert, &line) {
                        ok = false;
                        health.add_loss(&format!("sink.{}", sink.name()), 1);
                        health.note(&format!("sink.{}", sink.name()), e.to_string());
                        if let Some(suppressed) = WARN.check() {
                            tracing::error!(sink = sink.name(), error = %e, suppressed, "Alert sink write failed; alert counted as lost for this sink");
                        }
                    }
                }
                unsynced += 1;
                if ok {
                    health.alerts_written.fetch_add(1, Ordering::Relaxed);
                }
            }
            SinkMsg::Ack(ack, raised) => {
                sync_sinks(&mut sinks, &mut unsynced);
                ack.done(raised)
            }
            SinkMsg::Swap(mut new) => {
                for sink in sinks.iter_mut() {
                    let _ = sink.flush();
                }
                unsynced = 0;
                for sink in new.iter_mut() {
                    sink.attach_health(&health);
                }
                sinks = new;
            }
        }
    }
    for sink in sinks.iter_mut() {
        if let Err(e) = sink.flush() {
            tracing::error!(sink = sink.name(), error = %e, "Flushing alert sink failed");
        }
    }
}

/// Most alerts written between two syncs, so a long burst still reaches the disk.
const MAX_UNSYNCED_ALERTS: usize = 256;

/// Syncs the sinks if alerts were written since the last sync. A sink that cannot keeps
/// or counts those alerts itself ([`AlertSink::sync`]); here it is only logged.
fn sync_sinks(sinks: &mut [Box<dyn AlertSink>], unsynced: &mut usize) {
    if *unsynced == 0 {
        return;
    }
    *unsynced = 0;
    static WARN: crate::health::RateLimitedWarn =
        crate::health::RateLimitedWarn::new(Duration::from_secs(10));
    for sink in sinks.iter_mut() {
        if let Err(e) = sink.sync() {
            if let Some(suppressed) = WARN.check() {
                tracing::error!(sink = sink.name(), error = %e, suppressed, "Alert sink sync failed; its alerts are kept for its retry");
            }
        }
    }
}

/// Logs loss counters that moved, at most every 10 s.
async fn log_losses(health: Arc<Health>, mut shutdown: Shutdown) {
    let mut last = health.snapshot().losses;
    loop {
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(10)) => {}
            _ = shutdown.wait() => return,
        }
        let now = health.snapshot().losses;
        for (stage, n) in &now {
            let before = last.get(stage).copied().unwrap_or(0);
            if *n > before {
                tracing::warn!(stage = %stage, lost = n - before, total = n, "Events or alerts lost");
            }
        }
        last = now;
    }
}

fn log_loss_totals(health: &Health) {
    for (stage, n) in health.snapshot().losses {
        if n > 0 {
            tracing::warn!(stage = %stage, total = n, "Losses during this run");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::{Rule, Severity, Threat};
    use crate::detect::Precheck;
    use crate::event::FieldValue;
    use crate::replay::{EcsParser, LineReplay};
    use std::any::Any;
    use std::sync::Mutex;

    /// Keeps every line written (the real sinks live in the `sinks` crate).
    #[derive(Clone, Default)]
    struct MemorySink(Arc<Mutex<Vec<String>>>);

    impl AlertSink for MemorySink {
        fn name(&self) -> &str {
            "memory"
        }
        fn write(&mut self, _alert: &Alert, line: &str) -> std::io::Result<()> {
            self.0
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(line.to_string());
            Ok(())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// The lines a [`MemorySink`] kept, parsed.
    fn written_alerts(written: &Mutex<Vec<String>>) -> Vec<serde_json::Value> {
        written
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|l| serde_json::from_str(l).expect("json"))
            .collect()
    }

    /// A replay's options: the event clock, no seeding, two precheck helpers.
    fn replay_options(channel: usize, alert_queue: usize, config_hash: &str) -> PipelineOptions {
        PipelineOptions {
            channel_capacity: channel,
            alert_queue_capacity: alert_queue,
            process_table_capacity: 4096,
            seed_process_table: false,
            clock: Clock::Event,
            host_name: None,
            config_hash: config_hash.into(),
            precheck_threads: 2,
        }
    }

    /// Alerts on every `ss` start, folding nothing: enough to see events flow.
    struct SsDetector;

    impl Detector for SsDetector {
        fn on_event(&mut self, event: &Event, alerts: &mut Vec<Alert>) {
            if event.field("process.name") == FieldValue::Str("ss") {
                let rule = Rule {
                    id: "t".into(),
                    name: "ss seen".into(),
                    ..Rule::default()
                };
                alerts.push(Alert::for_event(
                    event,
                    rule,
                    Threat::default(),
                    Severity::Low,
                ));
            }
        }
        fn as_any_mut(&mut self) -> &mut dyn Any {
            self
        }
    }

    #[tokio::test]
    async fn replay_flows_to_the_sinks_and_skips_malformed_lines() {
        let dir = tempfile::tempdir().expect("tempdir");
        let input = dir.path().join("events.ndjson");
        std::fs::write(
            &input,
            concat!(
                r#"{"@timestamp":"2024-05-01T10:00:00Z","event":{"type":["start"]},"process":{"pid":100,"name":"bash","executable":"/bin/bash","parent":{"pid":1}}}"#, "\n",
                "{not json\n",
                r#"{"@timestamp":"2024-05-01T10:00:01Z","event":{"type":["start"]},"process":{"pid":101,"name":"ss","args":["ss","-tan"],"parent":{"pid":100}}}"#, "\n",
            ),
        )
        .expect("write input");
        let sink = MemorySink::default();
        let written = sink.0.clone();
        let replay = LineReplay::new(vec![input], EcsParser);
        let stats = replay.stats();
        let health = Health::new();
        let (_trigger, shutdown) = Shutdown::new();
        let (_ctl_tx, ctl_rx) = mpsc::channel(1);
        let options = replay_options(16, 16, "abc");
        let report = run(
            vec![Box::new(replay)],
            Box::new(SsDetector),
            vec![Box::new(sink)],
            health.clone(),
            shutdown,
            ctl_rx,
            options,
        )
        .await
        .expect("run");
        assert_eq!(report.events, 2);
        assert_eq!(stats.malformed.load(Ordering::Relaxed), 1);
        assert_eq!(health.snapshot().losses.get("malformed_input"), Some(&1));
        let lines = written_alerts(&written);
        assert_eq!(lines.len(), 1);
        assert_eq!(
            lines[0]["process"]["parent"]["name"], "bash",
            "parent filled from the table"
        );
        assert_eq!(lines[0]["picket"]["config_hash"], "abc");
        assert_eq!(health.snapshot().alerts_written, 1);
    }

    /// One alert per event, named after the generation of the detector whose precheck
    /// raised it (slowed, so that batches are on the helpers when the reload comes), its
    /// message the generation of the detector that took it back.
    struct Generation(u32);

    struct GenerationCheck(u32);

    fn generation_alert(event: &Event, generation: u32) -> Alert {
        let rule = Rule {
            name: format!("gen{generation}"),
            ..Rule::default()
        };
        Alert::for_event(event, rule, Threat::default(), Severity::Low)
    }

    impl Precheck for GenerationCheck {
        fn check(&self, events: &[Event], out: &mut Vec<Prechecked>) {
            std::thread::sleep(Duration::from_millis(1));
            for e in events {
                out.push(Prechecked(vec![generation_alert(e, self.0)]));
            }
        }
    }

    impl Detector for Generation {
        fn on_event(&mut self, event: &Event, alerts: &mut Vec<Alert>) {
            alerts.push(generation_alert(event, self.0));
        }
        fn precheck(&self) -> Option<Arc<dyn Precheck>> {
            Some(Arc::new(GenerationCheck(self.0)))
        }
        fn on_prechecked_event(&mut self, _: &Event, checked: Prechecked, alerts: &mut Vec<Alert>) {
            for mut alert in checked.0 {
                alert.message = format!("gen{}", self.0);
                alerts.push(alert);
            }
        }
        fn as_any_mut(&mut self) -> &mut dyn Any {
            self
        }
    }

    #[tokio::test]
    async fn a_reload_takes_back_the_old_detectors_batches_first_and_loses_none() {
        let dir = tempfile::tempdir().expect("tempdir");
        let input = dir.path().join("events.ndjson");
        let lines: String = (0..2_000)
            .map(|pid| {
                format!(
                    "{{\"@timestamp\":\"2024-05-01T10:00:00Z\",\"event\":{{\"type\":[\"start\"]}},\"process\":{{\"pid\":{pid},\"name\":\"x\"}}}}\n"
                )
            })
            .collect();
        std::fs::write(&input, lines).expect("write input");
        let sink = MemorySink::default();
        let written = sink.0.clone();
        let replay = LineReplay::new(vec![input], EcsParser);
        let health = Health::new();
        let (_trigger, shutdown) = Shutdown::new();
        let (ctl_tx, ctl_rx) = mpsc::channel(1);
        let seen = health.clone();
        let reloader = tokio::spawn(async move {
            while seen.events_seen.load(Ordering::Relaxed) < 500 {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            let reload = Control::Reload {
                detector: Box::new(Generation(2)),
                sinks: None,
                config_hash: "second".into(),
            };
            ctl_tx.send(reload).await.expect("pipeline running");
        });
        let options = replay_options(256, 4096, "first");
        let report = run(
            vec![Box::new(replay)],
            Box::new(Generation(1)),
            vec![Box::new(sink)],
            health.clone(),
            shutdown,
            ctl_rx,
            options,
        )
        .await
        .expect("run");
        reloader.await.expect("reloader");
        assert_eq!(report.events, 2_000);
        let alerts = written_alerts(&written);
        let pids: Vec<u64> = alerts
            .iter()
            .filter_map(|a| a["process"]["pid"].as_u64())
            .collect();
        assert_eq!(
            pids,
            (0..2_000).collect::<Vec<u64>>(),
            "every event, in order"
        );
        let generations: Vec<&str> = alerts
            .iter()
            .filter_map(|a| a["rule"]["name"].as_str())
            .collect();
        let first_new = generations
            .iter()
            .position(|g| *g == "gen2")
            .expect("reloaded");
        assert!(
            first_new >= 500,
            "reloaded after 500 events were seen, not at {first_new}"
        );
        // What the old detector's precheck raised is the old detector's, all of it
        // before the new one's.
        assert!(
            generations[first_new..].iter().all(|g| *g == "gen2"),
            "{generations:?}"
        );
        assert!(generations[..first_new].iter().all(|g| *g == "gen1"));
        // ... and the old detector, not the new one, took it back.
        let detected_by: Vec<&str> = alerts
            .iter()
            .filter_map(|a| a["message"].as_str())
            .collect();
        assert_eq!(
            detected_by.len(),
            2_000,
            "every batch went through a helper"
        );
        assert_eq!(detected_by, generations);
    }

    /// Sends `names` as process starts with an ack each, then (as a second collector)
    /// one event with a host of its own.
    struct AckedSource {
        names: Vec<&'static str>,
        log: Arc<Mutex<Vec<String>>>,
    }

    impl Collector for AckedSource {
        fn name(&self) -> &'static str {
            "acked"
        }
        fn host(&self) -> Option<HostIdentity> {
            Some(HostIdentity {
                name: "collector-host".into(),
                id: Some("machine-1".into()),
                os: Default::default(),
            })
        }
        fn run(
            self: Box<Self>,
            out: EventSender,
            _shutdown: Shutdown,
        ) -> crate::collector::CollectorFuture {
            Box::pin(async move {
                let AckedSource { names, log } = *self;
                tokio::task::spawn_blocking(move || {
                    for (i, name) in names.into_iter().enumerate() {
                        let mut ev = Event::exec(chrono::DateTime::UNIX_EPOCH);
                        ev.process.pid = Some(10 + i as u32);
                        ev.process.name = Some(name.into());
                        let log = log.clone();
                        let ack = crate::collector::Ack::new(move |raised| {
                            log.lock()
                                .unwrap_or_else(|p| p.into_inner())
                                .push(format!("ack {name} {raised}"));
                        });
                        assert!(out.blocking_send_acked(ev, ack));
                    }
                })
                .await
                .map_err(|e| CollectorError::Failed(e.to_string()))
            })
        }
    }

    /// One event that names its own host (a device), from a collector with none.
    struct DeviceSource;

    impl Collector for DeviceSource {
        fn name(&self) -> &'static str {
            "device"
        }
        fn run(
            self: Box<Self>,
            out: EventSender,
            _shutdown: Shutdown,
        ) -> crate::collector::CollectorFuture {
            Box::pin(async move {
                let mut ev = Event::exec(chrono::DateTime::UNIX_EPOCH);
                ev.process.name = Some("ss".into());
                ev.host.name = Some("router-7".into());
                out.send(ev).await;
                out.mark_running();
                Ok(())
            })
        }
    }

    /// The sink writes into the same log as the acks, to see their order.
    struct LoggingSink(Arc<Mutex<Vec<String>>>);

    impl AlertSink for LoggingSink {
        fn name(&self) -> &str {
            "logging"
        }
        fn write(&mut self, alert: &Alert, _line: &str) -> std::io::Result<()> {
            let host = alert.host.name.clone().unwrap_or_default();
            let what = alert.process.name.clone().unwrap_or_default();
            self.0
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(format!("alert {what} on {host}"));
            Ok(())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[tokio::test]
    async fn acks_come_after_their_alerts_and_each_collector_stamps_only_its_own_host() {
        let log = Arc::new(Mutex::new(Vec::new()));
        let source = AckedSource {
            names: vec!["bash", "ss", "ls"],
            log: log.clone(),
        };
        let health = Health::new();
        let (_trigger, shutdown) = Shutdown::new();
        let (_ctl_tx, ctl_rx) = mpsc::channel(1);
        let options = PipelineOptions {
            channel_capacity: 1,
            alert_queue_capacity: 1,
            process_table_capacity: 64,
            seed_process_table: false,
            clock: Clock::Event,
            host_name: Some("renamed".into()),
            config_hash: String::new(),
            precheck_threads: 0,
        };
        let report = run(
            vec![Box::new(source), Box::new(DeviceSource)],
            Box::new(SsDetector),
            vec![Box::new(LoggingSink(log.clone()))],
            health.clone(),
            shutdown,
            ctl_rx,
            options,
        )
        .await
        .expect("run");
        assert_eq!(report.events, 4);
        let log = log.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let acked: Vec<&String> = log.iter().filter(|l| !l.contains("router")).collect();
        assert_eq!(
            acked,
            [
                "ack bash false",
                "alert ss on renamed",
                "ack ss true",
                "ack ls false"
            ],
            "an ack follows its event's alert; the override names the collector's host"
        );
        assert!(
            log.contains(&"alert ss on router-7".to_string()),
            "the device keeps its own name: {log:?}"
        );
    }
}
