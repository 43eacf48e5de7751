//! The pipeline's accounting under sink failures the input chooses. The input generates
//! an ECS NDJSON load (Linux discovery commands and Windows `net use`, which raise
//! alerts, benign commands, malformed, wrongly typed, oversized and blank lines), the
//! pipeline's settings (alert queue, batch size, precheck threads, 16 extra rules or
//! none) and the alert log's (fsync, rotation, in-memory bound), and a schedule of
//! faults keyed to the sink calls. The real pipeline (`sensor_core::pipeline::run`, the
//! ECS replay collector, the analytics engine) writes to two sinks:
//!
//! - the real alert log (`JsonlFileSink`) behind a wrapper that, before a call, caps
//!   the file size (`RLIMIT_FSIZE` a few bytes past the log's length: the kernel writes
//!   part of the line, then fails with EFBIG, a real partial write), lifts the cap
//!   again, fails a write without calling the sink, or fails a sync before or after the
//!   sink synced;
//! - a memory sink whose writes fail on a pattern from the input.
//!
//! Then, from the project's counters (health) and what the sinks hold:
//! - non-blank lines = events analysed + `malformed_input` + `oversized_input`;
//! - alerts raised (health, and the run's report by rule) = the alerts handed to each
//!   sink;
//! - the log's lines (rotated files, oldest first, then the live one) are whole, each
//!   one of the alerts, none twice and in order; logged + `sink.file` losses = raised,
//!   and nothing is still kept (`sink.file.kept` 0);
//! - the memory sink's alerts in order; held + `sink.mem` losses = raised;
//! - `alerts_written` = the alerts every sink accepted.
#![no_main]

use analytics::{AnalyticsConfig, Engine, RuleSource, RulesConfig};
use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use sensor_core::alert::Alert;
use sensor_core::collector::Shutdown;
use sensor_core::health::Health;
use sensor_core::pipeline::{self, Clock, PipelineOptions};
use sensor_core::replay::{EcsParser, LineReplay};
use sensor_core::sink::{rotated_path, AlertSink};
use sinks::{FileSinkConfig, FsyncPolicy, JsonlFileSink};
use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, Once, OnceLock};

const MAX_RECORD_BYTES: usize = 2048;

// --- the file-size cap ---------------------------------------------------------------

/// The soft `RLIMIT_FSIZE` the process started with, restored after every run.
fn original_limit() -> libc::rlimit {
    static ORIGINAL: OnceLock<(u64, u64)> = OnceLock::new();
    let (cur, max) = *ORIGINAL.get_or_init(|| {
        let mut r = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit writes the struct it is given.
        let rc = unsafe { libc::getrlimit(libc::RLIMIT_FSIZE, &mut r) };
        assert_eq!(rc, 0, "getrlimit");
        (r.rlim_cur, r.rlim_max)
    });
    libc::rlimit {
        rlim_cur: cur,
        rlim_max: max,
    }
}

fn set_file_size_cap(bytes: Option<u64>) {
    let mut r = original_limit();
    if let Some(b) = bytes {
        r.rlim_cur = b.min(r.rlim_max);
    }
    // SAFETY: setrlimit reads the struct it is given; lowering the soft limit and
    // raising it back up to the hard one needs no privilege.
    unsafe { libc::setrlimit(libc::RLIMIT_FSIZE, &r) };
}

/// Once: a write past the cap fails with EFBIG instead of killing the process
/// (SIGXFSZ), and a panic lifts the cap first so its report and the crash input can be
/// written.
fn setup() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let _ = original_limit();
        // SAFETY: ignoring a signal installs no handler code.
        unsafe { libc::signal(libc::SIGXFSZ, libc::SIG_IGN) };
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            set_file_size_cap(None);
            previous(info);
        }));
    });
}

// --- the load ------------------------------------------------------------------------

struct Load {
    text: String,
    /// Lines that are not blank: the records the replay reads.
    records: u64,
}

fn load(u: &mut Unstructured) -> Result<Load> {
    let alerting: &[&[&str]] = &[
        &["ss", "-tan"],
        &["netstat", "-an"],
        &["lsof", "-i"],
        &["ss", "-antp"],
    ];
    let benign: &[&[&str]] = &[&["git", "status"], &["ls", "-l"], &["cat", "notes"]];
    let n = u.int_in_range(1..=120u16)?;
    let mut text = String::new();
    let mut records = 0;
    let mut t = 0u32;
    for i in 0..n {
        t += u32::from(u.int_in_range(0..=3u8)?);
        let kind = u.int_in_range(0..=19u8)?;
        if kind == 19 {
            text.push_str("   \n");
            continue;
        }
        records += 1;
        match kind {
            15 => text.push_str("{\"@timestamp\": not json\n"),
            16 => text.push_str("[1, 2]\n"),
            17 => text.push_str(
                "{\"@timestamp\":\"2026-11-20T10:00:00Z\",\"process\":{\"pid\":\"x\"}}\n",
            ),
            _ => {
                let windows = kind == 0;
                let mut argv: Vec<String> = if windows {
                    vec!["net.exe".into(), "use".into()]
                } else if kind < 10 {
                    u.choose(alerting)?.iter().map(|s| s.to_string()).collect()
                } else {
                    u.choose(benign)?.iter().map(|s| s.to_string()).collect()
                };
                argv.push(format!("marker-{i}"));
                if kind == 18 {
                    argv.push("x".repeat(MAX_RECORD_BYTES));
                }
                let name = argv[0].clone();
                let (os, exe) = if windows {
                    ("windows", format!("C:\\Windows\\System32\\{name}"))
                } else {
                    ("linux", format!("/usr/bin/{name}"))
                };
                let user = *u.choose(&["alice", "bob", "carol"])?;
                let line = serde_json::json!({
                    "@timestamp": format!("2026-11-20T{:02}:{:02}:{:02}Z", 10 + t / 3600, (t / 60) % 60, t % 60),
                    "host": {"name": format!("h{}", u.int_in_range(0..=2u8)?), "os": {"type": os}},
                    "user": {"id": "1000", "name": user},
                    "event": {"type": ["start"], "category": ["process"], "action": "exec"},
                    "process": {
                        "pid": 1000 + u32::from(i),
                        "name": name,
                        "executable": exe,
                        "args": argv,
                        "command_line": argv.join(" "),
                        "parent": {"pid": 999, "name": "bash"}
                    }
                });
                text.push_str(&line.to_string());
                text.push('\n');
            }
        }
    }
    Ok(Load { text, records })
}

/// 16 rules beside the built-in one, so the engine hands its rules to the precheck
/// threads; several may match one event, so one event raises alerts in rule order.
fn extra_rules() -> Vec<RuleSource> {
    let names = ["ss", "netstat", "lsof", "net.exe"];
    (0..16)
        .map(|i| {
            let q = match i % 4 {
                0 => format!("process where process.name : \"{}\"", names[i / 4]),
                1 => format!("process where process.args : \"-*{}*\"", ["t", "a", "i", "n"][i / 4]),
                2 => format!("process where startsWith(process.name, \"{}\")", &names[i / 4][..1]),
                _ => format!("process where user.name == \"{}\"", ["alice", "bob", "carol", "dave"][i / 4]),
            };
            RuleSource {
                origin: format!("r{i}.toml"),
                text: format!("[rule]\nrule_id = \"r{i}\"\nname = \"r{i}\"\nlanguage = \"eql\"\nquery = '''\n{q}\n'''\n"),
            }
        })
        .collect()
}

fn analytics() -> &'static analytics::Analytics {
    static BUILT: OnceLock<analytics::Analytics> = OnceLock::new();
    BUILT.get_or_init(|| {
        let config = AnalyticsConfig {
            fold_window_secs: 0,
            ..AnalyticsConfig::default()
        };
        analytics::Analytics::build(&config).0
    })
}

fn engine(extra: bool) -> Engine {
    let sources = if extra { extra_rules() } else { Vec::new() };
    let (e, errors) =
        Engine::with_analytics(analytics().clone(), &RulesConfig::default(), &sources);
    assert!(errors.is_empty(), "{errors:?}");
    e
}

// --- the sinks -----------------------------------------------------------------------

#[derive(Debug, Clone, Copy)]
enum Fault {
    /// Cap the file size this many bytes past the live log's length.
    Cap(u16),
    Uncap,
    FailWrite,
    FailSyncBefore,
    FailSyncAfter,
}

fn schedule(u: &mut Unstructured) -> Result<BTreeMap<u64, Fault>> {
    let mut s = BTreeMap::new();
    let mut at = u64::from(u.int_in_range(0..=10u8)?);
    let n = u.int_in_range(0..=48u8)?;
    for _ in 0..n {
        let fault = match u.int_in_range(0..=9u8)? {
            0..=2 => Fault::Cap(u.int_in_range(0..=3000u16)?),
            3..=5 => Fault::Uncap,
            6 | 7 => Fault::FailWrite,
            8 => Fault::FailSyncBefore,
            _ => Fault::FailSyncAfter,
        };
        s.insert(at, fault);
        at += 1 + u64::from(u.int_in_range(0..=12u8)?);
    }
    Ok(s)
}

#[derive(Default)]
struct Seen {
    /// Every alert line handed to the file sink's wrapper, in order.
    handed: Vec<String>,
    /// Whether the file sink (or the wrapper) accepted each.
    file_ok: Vec<bool>,
    /// Whether the memory sink accepted each.
    mem_ok: Vec<bool>,
    /// What the memory sink holds.
    mem: Vec<String>,
}

type Shared = Arc<Mutex<Seen>>;

fn seen(s: &Shared) -> std::sync::MutexGuard<'_, Seen> {
    s.lock().unwrap_or_else(|p| p.into_inner())
}

struct Chaos {
    inner: JsonlFileSink,
    log: PathBuf,
    calls: u64,
    schedule: BTreeMap<u64, Fault>,
    pending_sync: Option<Fault>,
    seen: Shared,
}

impl Chaos {
    /// Runs the fault due at this call; true when this write is to fail.
    fn before_call(&mut self, is_write: bool) -> bool {
        let due = self.schedule.get(&self.calls).copied();
        self.calls += 1;
        match due {
            Some(Fault::Cap(extra)) => {
                let len = std::fs::metadata(&self.log).map_or(0, |m| m.len());
                set_file_size_cap(Some(len + u64::from(extra)));
            }
            Some(Fault::Uncap) => set_file_size_cap(None),
            Some(Fault::FailWrite) if is_write => return true,
            Some(f @ (Fault::FailSyncBefore | Fault::FailSyncAfter)) => self.pending_sync = Some(f),
            Some(Fault::FailWrite) | None => {}
        }
        false
    }

    fn written(&mut self, line: &str, defer: bool, alert: &Alert) -> io::Result<()> {
        let result = if self.before_call(true) {
            Err(io::Error::other("injected write failure"))
        } else if defer {
            self.inner.write_deferred(alert, line)
        } else {
            self.inner.write(alert, line)
        };
        let mut s = seen(&self.seen);
        s.handed.push(line.to_string());
        s.file_ok.push(result.is_ok());
        result
    }
}

impl AlertSink for Chaos {
    fn name(&self) -> &str {
        self.inner.name()
    }
    fn write(&mut self, alert: &Alert, line: &str) -> io::Result<()> {
        self.written(line, false, alert)
    }
    fn write_deferred(&mut self, alert: &Alert, line: &str) -> io::Result<()> {
        self.written(line, true, alert)
    }
    fn sync(&mut self) -> io::Result<()> {
        self.before_call(false);
        match self.pending_sync.take() {
            Some(Fault::FailSyncBefore) => Err(io::Error::other("injected sync failure")),
            Some(_) => self
                .inner
                .sync()
                .and(Err(io::Error::other("injected sync failure"))),
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

/// Keeps what it is given, failing writes on a cycle of the input's choosing.
struct Flaky {
    fails: Vec<bool>,
    n: usize,
    seen: Shared,
}

impl AlertSink for Flaky {
    fn name(&self) -> &str {
        "mem"
    }
    fn write(&mut self, _alert: &Alert, line: &str) -> io::Result<()> {
        let fail = !self.fails.is_empty() && self.fails[self.n % self.fails.len()];
        self.n += 1;
        let mut s = seen(&self.seen);
        s.mem_ok.push(!fail);
        if fail {
            return Err(io::Error::other("injected memory sink failure"));
        }
        s.mem.push(line.to_string());
        Ok(())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

// --- running -------------------------------------------------------------------------

fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime")
    })
}

struct Settings {
    queue: usize,
    batch: usize,
    precheck_threads: usize,
    extra_rules: bool,
}

struct Outcome {
    events: u64,
    raised_by_rule: u64,
    health: Arc<Health>,
}

fn run(input: &Path, sinks: Vec<Box<dyn AlertSink>>, s: &Settings) -> Outcome {
    let replay = LineReplay::new(vec![input.to_path_buf()], EcsParser)
        .with_threads(1)
        .with_batch_events(s.batch)
        .with_max_record_bytes(MAX_RECORD_BYTES);
    let health = Health::new();
    let (_trigger, shutdown) = Shutdown::new();
    let (_ctl, controls) = tokio::sync::mpsc::channel(1);
    let options = PipelineOptions {
        channel_capacity: 64,
        alert_queue_capacity: s.queue,
        process_table_capacity: 4096,
        seed_process_table: false,
        clock: Clock::Event,
        host_name: None,
        config_hash: "fuzz".into(),
        precheck_threads: s.precheck_threads,
    };
    let report = runtime()
        .block_on(pipeline::run(
            vec![Box::new(replay)],
            Box::new(engine(s.extra_rules)),
            sinks,
            health.clone(),
            shutdown,
            controls,
            options,
        ))
        .expect("the pipeline runs");
    assert_eq!(report.collector_error, None);
    Outcome {
        events: report.events,
        raised_by_rule: report.alerts_by_rule.iter().map(|(_, n)| n).sum(),
        health,
    }
}

/// Every line of the log and its rotated files, oldest first; panics on a partial line.
fn logged(log: &Path) -> Vec<String> {
    let mut files: Vec<PathBuf> = (1..=1000)
        .rev()
        .map(|n| rotated_path(log, n))
        .filter(|p| p.exists())
        .collect();
    files.push(log.to_path_buf());
    let mut out = Vec::new();
    for f in files {
        let bytes = std::fs::read(&f).unwrap_or_default();
        assert!(
            bytes.is_empty() || bytes.ends_with(b"\n"),
            "{} ends in a partial line",
            f.display()
        );
        for line in bytes.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
            out.push(String::from_utf8_lossy(line).into_owned());
        }
    }
    out
}

/// `got` is `all` with some left out: in order, none twice (alerts are distinct).
fn assert_in_order(got: &[String], all: &[String], what: &str, context: &str) {
    let mut next = 0;
    for g in got {
        match all[next..].iter().position(|a| a == g) {
            Some(i) => next += i + 1,
            None => panic!("{what}: an alert out of order, twice, or never raised: {g}\n{context}"),
        }
    }
}

fn temp_base() -> &'static Path {
    static BASE: OnceLock<PathBuf> = OnceLock::new();
    BASE.get_or_init(|| {
        let shm = Path::new("/dev/shm");
        if shm.is_dir() {
            shm.to_path_buf()
        } else {
            std::env::temp_dir()
        }
    })
}

fn one(data: &[u8]) -> Result<()> {
    let mut u = Unstructured::new(data);
    let settings = Settings {
        queue: *u.choose(&[1usize, 4, 32, 512])?,
        batch: *u.choose(&[1usize, 7, 8, 64])?,
        precheck_threads: u.int_in_range(0..=2u8)?.into(),
        extra_rules: u.arbitrary()?,
    };
    let config = FileSinkConfig {
        fsync: if u.arbitrary()? {
            FsyncPolicy::Always
        } else {
            FsyncPolicy::Never
        },
        max_bytes: if u.arbitrary()? { 4096 } else { 64 << 20 },
        keep_files: 1000,
        ..FileSinkConfig::default()
    };
    let backlog = u.int_in_range(1..=40u8)?.into();
    let schedule = schedule(&mut u)?;
    let n_fails = u.int_in_range(0..=8u8)?;
    let mut fails = Vec::new();
    for _ in 0..n_fails {
        fails.push(u.ratio(1, 3)?);
    }
    // The load last: it takes whatever bytes are left.
    let input = load(&mut u)?;
    let context = format!(
        "queue {}, batch {}, precheck threads {}, extra rules {}, fsync {:?}, max_bytes {}, backlog {backlog}, schedule {schedule:?}, memory sink fails {fails:?}",
        settings.queue, settings.batch, settings.precheck_threads, settings.extra_rules,
        config.fsync, config.max_bytes
    );

    set_file_size_cap(None);
    let dir = tempfile::tempdir_in(temp_base()).expect("tempdir");
    let path = dir.path().join("load.ndjson");
    std::fs::write(&path, &input.text).expect("write the load");

    let log = dir.path().join("alerts.jsonl");
    let shared: Shared = Arc::default();
    let file = JsonlFileSink::open(&log, &config)
        .expect("open the alert log")
        .with_backlog_limit(backlog, 1 << 20);
    let chaos = Chaos {
        inner: file,
        log: log.clone(),
        calls: 0,
        schedule,
        pending_sync: None,
        seen: shared.clone(),
    };
    let flaky = Flaky {
        fails,
        n: 0,
        seen: shared.clone(),
    };
    let out = run(&path, vec![Box::new(chaos), Box::new(flaky)], &settings);
    set_file_size_cap(None);

    let snap = out.health.snapshot();
    let loss = |k: &str| snap.losses.get(k).copied().unwrap_or(0);
    let s = seen(&shared);
    let context = format!("{context}\nhealth: {snap:?}\nload:\n{}", input.text);

    // Events: each record analysed or counted.
    assert_eq!(snap.events_seen, out.events, "events seen\n{context}");
    assert_eq!(
        out.events + loss("malformed_input") + loss("oversized_input"),
        input.records,
        "records = analysed + malformed + oversized\n{context}"
    );

    // Alerts raised: every one handed to each sink once.
    let raised = snap.alerts_raised;
    assert_eq!(raised, out.raised_by_rule, "alerts by rule\n{context}");
    assert_eq!(
        s.handed.len() as u64,
        raised,
        "alerts handed to the file sink\n{context}"
    );
    assert_eq!(
        s.mem_ok.len() as u64,
        raised,
        "alerts handed to the memory sink\n{context}"
    );
    // Each alert has its own id, so the order checks below can tell them apart.
    let mut distinct = s.handed.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(
        distinct.len(),
        s.handed.len(),
        "alerts are distinct\n{context}"
    );

    // The alert log: in order, once each, or counted.
    let written = logged(&log);
    assert_in_order(&written, &s.handed, "alert log", &context);
    assert_eq!(
        written.len() as u64 + loss("sink.file") + loss("alert_queue"),
        raised,
        "logged {} + sink.file {} + alert_queue {} = raised {raised}\n{context}",
        written.len(),
        loss("sink.file"),
        loss("alert_queue")
    );
    assert_eq!(
        snap.counts.get("sink.file.kept").copied().unwrap_or(0),
        0,
        "alerts still kept after the run\n{context}"
    );

    // The memory sink.
    assert_in_order(&s.mem, &s.handed, "memory sink", &context);
    assert_eq!(
        s.mem.len() as u64 + loss("sink.mem") + loss("alert_queue"),
        raised,
        "memory sink: held + sink.mem = raised\n{context}"
    );
    // `alerts_written`: the alerts every sink accepted.
    let accepted = (s.file_ok.iter().zip(&s.mem_ok))
        .filter(|(f, m)| **f && **m)
        .count() as u64;
    assert_eq!(snap.alerts_written, accepted, "alerts_written\n{context}");
    Ok(())
}

fuzz_target!(|data: &[u8]| {
    setup();
    let _ = one(data);
    set_file_size_cap(None);
});
