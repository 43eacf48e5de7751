//! The pipeline's accounting invariant under random sink failures: every event the
//! pipeline accepts is analysed or counted, and every alert it raises is delivered to the
//! sink or counted as lost, exactly: the delivered ones in order and none twice.
//!
//! Each round (a seed) drives the real pipeline (`sensor_core::pipeline::run`) with the
//! real ECS replay collector over a generated NDJSON load of Linux discovery commands
//! (`ss`, `netstat`, `lsof -i`, ... with a marker each) among benign commands and
//! malformed lines, the real analytics engine, and the real alert log
//! (`JsonlFileSink`, `fsync = "always"` or `"never"`, a small `max_bytes` in some
//! rounds so it rotates) on a tmpfs of its own, behind an alert queue of 1 to 512 (so
//! the sink's group-commit bursts run from a few alerts to its cap of 256). The alerts raised are known from a run
//! of the same load into a sink that never fails (the replay clock makes it
//! deterministic).
//!
//! Failures come on a schedule drawn from the seed, keyed to the sink calls (`write`,
//! `write_deferred`, `sync`) the pipeline makes, so they fall in the middle of bursts:
//! - Real (the file system's own `ENOSPC`): before a given call the tmpfs is filled
//!   (a filler file up to the last page, or leaving one to three pages, so a burst fails
//!   part way through) or freed again. The file sink then cuts unsynced lines back off,
//!   keeps alerts in memory, refuses them past its bound (set low, 8 to 40 alerts), and
//!   its retry thread writes them when space returns.
//! - Injected by a wrapper sink, for what a tmpfs cannot do on demand: a transient
//!   `write` / `write_deferred` error (the alert is not handed to the file sink), and a
//!   `sync` that fails either before the file sink syncs or after it synced (tmpfs
//!   never fails an fsync).
//!
//! At the end of each round: input lines = events analysed + malformed lines counted;
//! alerts raised (health) = the clean run's alerts; every line in the log files (rotated
//! ones oldest first, then the live one) is whole, one of those alerts, none twice and
//! in their order; and lines in the log + `sink.file` losses = alerts raised.
//!
//! The test also asserts that the rounds together did inject each kind of fault and
//! saw a burst fail part way (a write failing after lines of its burst were written,
//! which stay in the log while the rest is kept), so a change that stops the faults
//! from landing fails it.
//!
//! The schedule is deterministic; the interleaving with the retry thread (every 500 ms)
//! is not, and the invariant must hold for any. Needs root for the tmpfs (CI runs as
//! root): it fails, never skips, without.
#![cfg(target_os = "linux")]

mod common;
use analytics::config::{AnalyticsConfig, RulesConfig};
use analytics::Engine;
use common::Tmpfs;
use sensor_core::alert::Alert;
use sensor_core::collector::Shutdown;
use sensor_core::health::Health;
use sensor_core::pipeline::{self, Clock, PipelineOptions};
use sensor_core::replay::{EcsParser, LineReplay};
use sensor_core::sink::{rotated_path, AlertSink};
use sinks::{FileSinkConfig, FsyncPolicy, JsonlFileSink};
use std::collections::{BTreeMap, HashMap};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

/// Seeds of the rounds; `PICKET_INVARIANT_SEEDS=N` runs seeds 1..=N instead, for a
/// longer search.
fn seeds() -> Vec<u64> {
    match std::env::var("PICKET_INVARIANT_SEEDS") {
        Ok(n) => (1..=n.parse::<u64>().expect("PICKET_INVARIANT_SEEDS: a number")).collect(),
        Err(_) => vec![
            1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 0xdead, 0xbeef, 20261201,
        ],
    }
}

/// xorshift64*: small, seeded, the same on every machine.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// A generated replay input: its path, how many lines it has and how many are malformed.
struct Load {
    path: PathBuf,
    lines: u64,
    malformed: u64,
}

fn load(rng: &mut Rng, dir: &Path, events: usize) -> Load {
    let discovery: &[&[&str]] = &[
        &["ss", "-tan"],
        &["ss", "-antp"],
        &["netstat", "-an"],
        &["netstat", "-tulpn"],
        &["lsof", "-i"],
    ];
    let benign: &[&[&str]] = &[&["git", "status"], &["ls", "-l"], &["cat", "notes"]];
    let path = dir.join("load.ndjson");
    let mut out = String::new();
    let (mut lines, mut malformed) = (0, 0);
    for i in 0..events {
        lines += 1;
        if rng.chance(4) {
            malformed += 1;
            out.push_str("{\"@timestamp\": not json\n");
            continue;
        }
        let argv: Vec<String> = if rng.chance(70) {
            let base = discovery[rng.below(discovery.len() as u64) as usize];
            base.iter()
                .map(|s| s.to_string())
                .chain([format!("marker-{i}")])
                .collect()
        } else {
            benign[rng.below(benign.len() as u64) as usize]
                .iter()
                .map(|s| s.to_string())
                .collect()
        };
        let user = ["alice", "bob", "carol"][rng.below(3) as usize];
        let line = serde_json::json!({
            "@timestamp": format!("2026-11-20T10:{:02}:{:02}Z", (i / 60) % 60, i % 60),
            "host": {"name": format!("lnx{}", rng.below(3)), "os": {"type": "linux"}},
            "user": {"id": "1000", "name": user},
            "event": {"type": ["start"], "category": ["process"], "action": "exec"},
            "process": {
                "pid": 1000 + i,
                "name": argv[0],
                "executable": format!("/usr/bin/{}", argv[0]),
                "args": argv,
                "command_line": argv.join(" "),
                "parent": {"pid": 999, "name": "bash"}
            }
        });
        out.push_str(&line.to_string());
        out.push('\n');
    }
    std::fs::write(&path, out).expect("write the load");
    Load {
        path,
        lines,
        malformed,
    }
}

fn engine() -> Engine {
    let config = AnalyticsConfig {
        fold_window_secs: 0,
        ..AnalyticsConfig::default()
    };
    let (e, errors) = Engine::build(&config, &RulesConfig::default(), &[]);
    assert!(errors.is_empty(), "{errors:?}");
    e
}

/// What an alert is, without what names the run: when it was written (`@timestamp`)
/// and its own id (`event.id`, which embeds the process id).
fn identity(line: &[u8]) -> String {
    let mut v: serde_json::Value = serde_json::from_slice(line).unwrap_or_else(|e| {
        panic!(
            "not a whole alert line ({e}): {:?}",
            String::from_utf8_lossy(line)
        )
    });
    let obj = v.as_object_mut().expect("an object");
    obj.remove("@timestamp");
    if let Some(event) = obj.get_mut("event").and_then(|e| e.as_object_mut()) {
        event.remove("id");
    }
    v.to_string()
}

/// Keeps every line, never fails: the clean run.
#[derive(Clone, Default)]
struct Memory(Arc<Mutex<Vec<String>>>);

impl AlertSink for Memory {
    fn name(&self) -> &str {
        "memory"
    }
    fn write(&mut self, _alert: &Alert, line: &str) -> io::Result<()> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(line.to_string());
        Ok(())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// One fault, before the sink call it is keyed to.
#[derive(Debug, Clone, Copy)]
enum Fault {
    /// Fill the tmpfs, leaving this many 4 KiB pages free.
    Fill(u64),
    /// Remove the filler.
    Free,
    /// This `write` / `write_deferred` fails without reaching the file sink.
    FailWrite,
    /// This `sync` fails before the file sink syncs.
    FailSyncBefore,
    /// This `sync` fails after the file sink synced.
    FailSyncAfter,
}

/// Faults keyed to the index of the sink call (writes and syncs counted together).
fn schedule(rng: &mut Rng, calls: u64) -> BTreeMap<u64, Fault> {
    let mut s = BTreeMap::new();
    let mut at = rng.below(20);
    while at < calls {
        let fault = match rng.below(10) {
            0..=2 => Fault::Fill(rng.below(4)),
            3..=5 => Fault::Free,
            6 | 7 => Fault::FailWrite,
            8 => Fault::FailSyncBefore,
            _ => Fault::FailSyncAfter,
        };
        s.insert(at, fault);
        let gap = if rng.chance(30) { 4 } else { 40 };
        at += 1 + rng.below(gap);
    }
    s
}

/// The file sink behind a schedule of faults.
struct Chaos {
    inner: JsonlFileSink,
    calls: u64,
    schedule: BTreeMap<u64, Fault>,
    /// A sync fault waiting for the next sync.
    pending_sync: Option<Fault>,
    filler: PathBuf,
    /// Writes since the last sync: the burst so far.
    burst: u64,
    injected: Arc<Mutex<HashMap<&'static str, u64>>>,
}

impl Chaos {
    fn count(&self, what: &'static str) {
        *self
            .injected
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(what)
            .or_default() += 1;
    }

    /// Notes the longest burst, and a write that failed after lines of its burst were
    /// written (a failure in the middle of a burst).
    fn observe_write(&mut self, kept_before: usize) {
        self.burst += 1;
        let mut stats = self.injected.lock().unwrap_or_else(|p| p.into_inner());
        let longest = stats.entry("longest burst").or_default();
        *longest = (*longest).max(self.burst);
        if self.burst > 1 && kept_before == 0 && self.inner.backlog_len() > 0 {
            *stats.entry("burst failed part way").or_default() += 1;
        }
    }

    /// Runs the fault due at this call; true when this write is to fail.
    fn before_call(&mut self, is_write: bool) -> bool {
        let due = self.schedule.get(&self.calls).copied();
        self.calls += 1;
        match due {
            Some(Fault::Fill(pages)) => {
                self.fill(pages);
                self.count("fill");
            }
            Some(Fault::Free) => {
                let _ = std::fs::remove_file(&self.filler);
                self.count("free");
            }
            Some(Fault::FailWrite) if is_write => {
                self.count("write error");
                return true;
            }
            Some(f @ (Fault::FailSyncBefore | Fault::FailSyncAfter)) => self.pending_sync = Some(f),
            Some(Fault::FailWrite) | None => {}
        }
        false
    }

    /// Grows the filler until the tmpfs is full, then gives back `pages` pages.
    fn fill(&mut self, pages: u64) {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.filler)
            .expect("filler");
        let chunk = [0u8; 4096];
        while f.write_all(&chunk).is_ok() {}
        let len = f.metadata().expect("filler size").len();
        f.set_len(len.saturating_sub(pages * 4096))
            .expect("shrink the filler");
    }
}

fn injected_error(what: &str) -> io::Error {
    io::Error::other(format!("injected {what} failure"))
}

impl AlertSink for Chaos {
    fn name(&self) -> &str {
        self.inner.name()
    }
    fn write(&mut self, alert: &Alert, line: &str) -> io::Result<()> {
        if self.before_call(true) {
            return Err(injected_error("write"));
        }
        self.inner.write(alert, line)
    }
    fn write_deferred(&mut self, alert: &Alert, line: &str) -> io::Result<()> {
        if self.before_call(true) {
            return Err(injected_error("write_deferred"));
        }
        let kept = self.inner.backlog_len();
        let result = self.inner.write_deferred(alert, line);
        self.observe_write(kept);
        result
    }
    fn sync(&mut self) -> io::Result<()> {
        self.before_call(false);
        self.burst = 0;
        match self.pending_sync.take() {
            Some(Fault::FailSyncBefore) => {
                self.count("sync error before");
                Err(injected_error("sync"))
            }
            Some(_) => {
                self.count("sync error after");
                self.inner.sync().and(Err(injected_error("sync")))
            }
            None => self.inner.sync(),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
    fn attach_health(&mut self, health: &Arc<Health>) {
        self.inner.attach_health(health)
    }
}

/// `queue`: the alert queue's capacity, which bounds how long the sink's bursts get.
fn options(queue: usize) -> PipelineOptions {
    PipelineOptions {
        channel_capacity: 64,
        alert_queue_capacity: queue,
        process_table_capacity: 4096,
        seed_process_table: false,
        clock: Clock::Event,
        host_name: None,
        config_hash: "invariant".into(),
        precheck_threads: 2,
    }
}

struct Outcome {
    events: u64,
    health: Arc<Health>,
    malformed: u64,
}

fn run(input: &Path, sink: Box<dyn AlertSink>, queue: usize) -> Outcome {
    let replay = LineReplay::new(vec![input.to_path_buf()], EcsParser).with_threads(1);
    let stats = replay.stats();
    let health = Health::new();
    let (_trigger, shutdown) = Shutdown::new();
    let (_ctl, controls) = tokio::sync::mpsc::channel(1);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let report = rt
        .block_on(pipeline::run(
            vec![Box::new(replay)],
            Box::new(engine()),
            vec![sink],
            health.clone(),
            shutdown,
            controls,
            options(queue),
        ))
        .expect("the pipeline runs");
    assert_eq!(report.collector_error, None);
    let raised: u64 = report.alerts_by_rule.iter().map(|(_, n)| n).sum();
    assert_eq!(health.snapshot().alerts_raised, raised);
    Outcome {
        events: report.events,
        health,
        malformed: stats.malformed.load(Ordering::Relaxed),
    }
}

/// Every line of the log and its rotated files, oldest first; asserts no partial line.
fn logged(log: &Path, keep_files: u32) -> Vec<String> {
    let mut files: Vec<PathBuf> = (1..=keep_files)
        .rev()
        .map(|n| rotated_path(log, n))
        .filter(|p| p.exists())
        .collect();
    files.push(log.to_path_buf());
    let mut out = Vec::new();
    for f in files {
        let bytes = std::fs::read(&f).expect("read the log");
        assert!(
            bytes.is_empty() || bytes.ends_with(b"\n"),
            "{} ends in a partial line",
            f.display()
        );
        for line in bytes.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
            out.push(identity(line));
        }
    }
    out
}

/// One round; returns what was injected and seen (counts by kind).
fn round(seed: u64, dir: &Path) -> HashMap<&'static str, u64> {
    let mut rng = Rng::new(seed);
    let events = 150 + rng.below(250) as usize;
    let input = load(&mut rng, dir, events);

    // The clean run: which alerts the load raises, in order.
    let clean = Memory::default();
    let lines = clean.0.clone();
    let baseline = run(&input.path, Box::new(clean), 512);
    let expected: Vec<String> = lines
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .iter()
        .map(|l| identity(l.as_bytes()))
        .collect();
    assert!(
        expected.len() >= 50,
        "seed {seed}: the load raises only {} alerts",
        expected.len()
    );
    let position: HashMap<&str, usize> = expected
        .iter()
        .enumerate()
        .map(|(i, a)| (a.as_str(), i))
        .collect();
    assert_eq!(
        position.len(),
        expected.len(),
        "seed {seed}: alerts are distinct"
    );

    // The faulty run.
    let mount = dir.join("disk");
    let _fs = Tmpfs::mount(
        &mount,
        "4m",
        "this test mounts a tmpfs to fill the alert log's disk",
    );
    let log = mount.join("alerts.jsonl");
    let rotate = rng.chance(50);
    let config = FileSinkConfig {
        fsync: if rng.chance(70) {
            FsyncPolicy::Always
        } else {
            FsyncPolicy::Never
        },
        max_bytes: if rotate { 16 * 1024 } else { 64 * 1024 * 1024 },
        keep_files: 1000,
        ..FileSinkConfig::default()
    };
    let backlog = 8 + rng.below(33) as usize;
    let queue = [1, 4, 32, 512][rng.below(4) as usize];
    let file = JsonlFileSink::open(&log, &config)
        .expect("open the alert log")
        .with_backlog_limit(backlog, 1024 * 1024);
    let injected = Arc::new(Mutex::new(HashMap::new()));
    let chaos = Chaos {
        inner: file,
        calls: 0,
        schedule: schedule(&mut rng, 3 * expected.len() as u64),
        pending_sync: None,
        filler: mount.join("filler"),
        burst: 0,
        injected: injected.clone(),
    };
    let out = run(&input.path, Box::new(chaos), queue);

    // Events: each line analysed or counted.
    assert_eq!(out.malformed, input.malformed, "seed {seed}");
    assert_eq!(out.events, baseline.events, "seed {seed}");
    assert_eq!(
        out.events + out.malformed,
        input.lines,
        "seed {seed}: every input line analysed or counted"
    );
    let snap = out.health.snapshot();
    assert_eq!(snap.events_seen, out.events, "seed {seed}");
    assert_eq!(
        snap.losses.get("malformed_input").copied().unwrap_or(0),
        input.malformed,
        "seed {seed}"
    );

    // Alerts: written in order and once, or counted.
    assert_eq!(snap.alerts_raised, expected.len() as u64, "seed {seed}");
    let written = logged(&log, config.keep_files);
    let mut last: Option<usize> = None;
    for a in &written {
        let at = *position
            .get(a.as_str())
            .unwrap_or_else(|| panic!("seed {seed}: a logged alert that was never raised: {a}"));
        assert!(
            last.is_none_or(|l| at > l),
            "seed {seed}: alert #{at} logged after #{last:?}: out of order or twice"
        );
        last = Some(at);
    }
    let lost = snap.losses.get("sink.file").copied().unwrap_or(0);
    let queue_lost = snap.losses.get("alert_queue").copied().unwrap_or(0);
    let injected = injected.lock().unwrap_or_else(|p| p.into_inner()).clone();
    eprintln!(
        "seed {seed}: {} lines, {} alerts raised, {} logged, {lost} counted lost, alerts_written {}; fsync {:?}, rotate {rotate}, backlog {backlog}, queue {queue}; injected {injected:?}",
        input.lines,
        expected.len(),
        written.len(),
        snap.alerts_written,
        config.fsync,
    );
    // `alerts_written` counts what every sink accepted, kept in memory included, so an
    // alert kept and then lost is in it and in `sink.file` too (see the report).
    assert!(
        (written.len() as u64..=expected.len() as u64).contains(&snap.alerts_written),
        "seed {seed}: alerts_written {} outside logged {}..=raised {}",
        snap.alerts_written,
        written.len(),
        expected.len()
    );
    assert_eq!(
        written.len() as u64 + lost + queue_lost,
        expected.len() as u64,
        "seed {seed}: logged ({}) + counted lost ({lost} + {queue_lost}) = raised ({}); injected {injected:?}",
        written.len(),
        expected.len()
    );
    injected
}

#[test]
fn every_alert_is_logged_in_order_or_counted_under_random_sink_failures() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut total: HashMap<&'static str, u64> = HashMap::new();
    for seed in seeds() {
        let round_dir = dir.path().join(format!("seed-{seed}"));
        std::fs::create_dir_all(&round_dir).expect("round dir");
        for (what, n) in round(seed, &round_dir) {
            let t = total.entry(what).or_default();
            *t = if what == "longest burst" {
                (*t).max(n)
            } else {
                *t + n
            };
        }
    }
    eprintln!("all rounds: {total:?}");
    // The rounds exercise what the doc says they do.
    for what in [
        "fill",
        "free",
        "write error",
        "sync error before",
        "sync error after",
        "burst failed part way",
    ] {
        assert!(
            total.get(what).copied().unwrap_or(0) > 0,
            "no {what} in any round: {total:?}"
        );
    }
    assert!(total["longest burst"] >= 8, "bursts too short: {total:?}");
}
