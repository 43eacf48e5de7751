//! EVTX → ECS events throughput, against two baselines from the `evtx` crate itself:
//! - `evtx iterate`: parse every chunk and record (binary XML to the crate's record
//!   model), no rendering;
//! - `evtx to JSON`: that plus rendering each record to a `serde_json::Value`, what
//!   `evtx_dump -o jsonl` does per record;
//! - `picket replay`: [`sensor_windows::replay::replay_evtx_file`], which renders each
//!   record, maps Sysmon 1 / 4688 to `Event`s and counts the rest.
//!
//! Input: the six EVTX-ATTACK-SAMPLES fixtures (206 records, 72 process events), read from
//! the page cache, in a loop for about two seconds per measurement. Then a large log,
//! built in a temporary directory from the one multi-chunk fixture (its header, then its
//! 17 chunks 20 times over: 340 chunks, 22 MB; the crate counts chunks by file size),
//! where picket replay parses chunks on one thread and then on one per core.
//! `cargo bench -p sensor-windows --bench evtx_replay` prints records/s, events/s and the
//! ratio to the JSON baseline. Under `cargo test` (no `--bench` argument) it runs each
//! measurement once as a smoke test.

use sensor_core::collector::Shutdown;
use sensor_core::health::Health;
use sensor_core::replay::ReplayStats;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

const FILES: [&str; 6] = [
    "LM_typical_IIS_webshell_sysmon_1_10_traces.evtx",
    "DE_RDP_Tunnel_5156.evtx",
    "LM_WMI_4624_4688_TargetHost.evtx",
    "discovery_sysmon_1_iis_pwd_and_config_discovery_appcmd.evtx",
    "de_portforward_netsh_rdp_sysmon_13_1.evtx",
    "rundll32_cmd_schtask.evtx",
];

fn fixtures() -> Vec<PathBuf> {
    let dir = Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/fixtures/windows/evtx/"
    ));
    FILES
        .iter()
        .map(|f| {
            let p = dir.join(f);
            assert!(p.is_file(), "missing fixture {}", p.display());
            p
        })
        .collect()
}

/// One pass over every file: (records, events).
type Pass = fn(&[PathBuf]) -> (u64, u64);

fn evtx_iterate(files: &[PathBuf]) -> (u64, u64) {
    let mut records = 0;
    for f in files {
        let mut parser = evtx::EvtxParser::from_path(f).expect("evtx");
        let settings = std::sync::Arc::new(evtx::ParserSettings::new());
        for chunk in parser.chunks() {
            let mut data = chunk.expect("chunk");
            let mut chunk = data.parse(settings.clone()).expect("parse");
            for r in chunk.iter() {
                std::hint::black_box(r.expect("record").event_record_id);
                records += 1;
            }
        }
    }
    (records, 0)
}

fn evtx_to_json(files: &[PathBuf]) -> (u64, u64) {
    let mut records = 0;
    for f in files {
        let mut parser = evtx::EvtxParser::from_path(f)
            .expect("evtx")
            .with_configuration(evtx::ParserSettings::new());
        for r in parser.records_json_value() {
            std::hint::black_box(r.expect("record").data);
            records += 1;
        }
    }
    (records, 0)
}

fn picket_replay(files: &[PathBuf]) -> (u64, u64) {
    picket_replay_on(0, files)
}

fn picket_replay_one_thread(files: &[PathBuf]) -> (u64, u64) {
    picket_replay_on(1, files)
}

/// `picket replay`'s reader with chunks parsed on `threads` threads (0: one per core).
fn picket_replay_on(threads: usize, files: &[PathBuf]) -> (u64, u64) {
    let threads = match threads {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    };
    let stats = ReplayStats::default();
    let health = Health::new();
    let (_trigger, shutdown) = Shutdown::new();
    let mut emit = |ev| {
        std::hint::black_box(ev);
        true
    };
    for f in files {
        sensor_windows::replay::replay_evtx_file_on(
            threads, f, &stats, &mut emit, &health, &shutdown,
        )
        .expect("replay");
    }
    assert_eq!(stats.malformed.load(Ordering::Relaxed), 0);
    (
        stats.records_read.load(Ordering::Relaxed),
        stats.events.load(Ordering::Relaxed),
    )
}

/// Runs `pass` for about `budget`; returns (records/s, events/s).
fn measure(files: &[PathBuf], pass: Pass, budget: Duration) -> (f64, f64) {
    pass(files); // warm-up
    let start = Instant::now();
    let (mut records, mut events) = (0u64, 0u64);
    loop {
        let (r, e) = pass(files);
        records += r;
        events += e;
        if start.elapsed() >= budget {
            break;
        }
    }
    let secs = start.elapsed().as_secs_f64();
    (records as f64 / secs, events as f64 / secs)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let files = fixtures();
    // The machine is shared: interleave the three measurements in rounds and report
    // medians, so a burst of other load hits all three alike.
    let (rounds, budget) = if full {
        (7, Duration::from_secs(1))
    } else {
        (1, Duration::ZERO)
    };
    let (mut iter, mut json, mut ours, mut ours_events) = (vec![], vec![], vec![], vec![]);
    let (mut vs_json, mut vs_iter) = (vec![], vec![]);
    for _ in 0..rounds {
        let (i, _) = measure(&files, evtx_iterate, budget);
        let (j, _) = measure(&files, evtx_to_json, budget);
        let (o, e) = measure(&files, picket_replay, budget);
        iter.push(i);
        json.push(j);
        ours.push(o);
        ours_events.push(e);
        vs_json.push(o / j);
        vs_iter.push(o / i);
    }
    if full {
        println!("median of {rounds} interleaved rounds, 1 thread each:");
        println!("evtx iterate   {:>10.0} records/s", median(iter));
        println!("evtx to JSON   {:>10.0} records/s", median(json));
        println!(
            "picket replay  {:>10.0} records/s  {:>9.0} events/s",
            median(ours),
            median(ours_events)
        );
        println!(
            "ratio picket replay / evtx to JSON: {:.2}; / evtx iterate: {:.2}",
            median(vs_json),
            median(vs_iter)
        );
    }
    large_log(&files, rounds, budget, full);
}

/// The large log: the crate's single-thread rates beside picket replay on one thread and
/// on one per core (the same events either way).
fn large_log(files: &[PathBuf], rounds: usize, budget: Duration, full: bool) {
    let source = files
        .iter()
        .find(|f| std::fs::metadata(f).map_or(0, |m| m.len()) > 4096 + 65536)
        .expect("a multi-chunk fixture");
    let bytes = std::fs::read(source).expect("read fixture");
    let tmp = tempfile::tempdir().expect("tempdir");
    let big = tmp.path().join("large.evtx");
    let mut out = bytes[..4096].to_vec();
    for _ in 0..20 {
        out.extend_from_slice(&bytes[4096..]);
    }
    std::fs::write(&big, &out).expect("write large log");
    let big = [big];
    let (one, all) = (picket_replay_one_thread(&big), picket_replay(&big));
    assert_eq!(one, all, "same records and events on one thread and on all");
    let (mut json, mut one_t, mut all_t) = (vec![], vec![], vec![]);
    for _ in 0..rounds {
        json.push(measure(&big, evtx_to_json, budget).0);
        one_t.push(measure(&big, picket_replay_one_thread, budget).0);
        all_t.push(measure(&big, picket_replay, budget).0);
    }
    if full {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let (json, one_t, all_t) = (median(json), median(one_t), median(all_t));
        println!(
            "large log ({} MB, {} records), median of {rounds} rounds:",
            out.len() / 1_000_000,
            one.0
        );
        println!("evtx to JSON, 1 thread       {json:>10.0} records/s");
        println!("picket replay, 1 thread      {one_t:>10.0} records/s");
        println!("picket replay, {cores} threads     {all_t:>10.0} records/s");
        println!(
            "ratio to evtx to JSON: {:.2} on 1 thread, {:.2} on {cores}",
            one_t / json,
            all_t / json
        );
    }
}
