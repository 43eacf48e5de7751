//! CloudTrail objects: Picket's reader (record splitter + record → ECS event) on a large
//! S3-style delivery object, plain and gzip, side by side in one run with the real
//! `zcat FILE | wc -l` (and `wc -l` on the plain copy) and with a plain
//! `serde_json::Value` parse of the same object.
//!
//! `cargo bench -p sensor-logs --bench cloudtrail` builds N records (default 500,000;
//! `PICKET_BENCH_RECORDS` overrides) by repeating every recorded record of
//! `shared/fixtures/cloud/aws` (TrailDiscover, Stratus Red Team, OTRF), one per line
//! inside `{"Records":[…]}`, into a temporary directory (plain, and gzip at level 1),
//! and prints records per second for each and the ratios. The numbers are measured,
//! never asserted. Run by `cargo test --benches` (without `--bench`), it does a quick
//! 10,000-record pass. A missing fixture directory fails it, naming the path.
//! `PICKET_BENCH_ONLY=reader` (the reader alone, plain) and `=mapping` (record → event
//! in memory, beside serde_json's IgnoredAny) are for a profiler.
//!
//! Numbers from `scripts/bench.sh --cloudtrail` (the whole replay, on both cores) are
//! in the project's notes; this bench is the reader alone, on one core. The reader
//! (records → events) was 147k records/s plain and 85k gzip before records were read
//! in place by `cloud/json.rs`; since then, and with zlib-rs using the CPU's CRC
//! instructions, a whole replay does about a quarter fewer instructions a record
//! (callgrind, 20 objects of 1,000: 48K to 35K plain, 62K to 42K gzip).

use sensor_logs::cloud::{self, read_object, CloudFormat, Item, RecordSplitter};
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

// As the picket binary allocates on Linux (see src/main.rs): the reader's cost per
// record is mostly small allocations.
#[cfg(target_os = "linux")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const FIXTURES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/fixtures/cloud/aws"
);

fn main() {
    let bench = std::env::args().any(|a| a == "--bench");
    let n: usize = match std::env::var("PICKET_BENCH_RECORDS") {
        Ok(v) => v.parse().expect("PICKET_BENCH_RECORDS is a number"),
        Err(_) if bench => 500_000,
        Err(_) => 10_000,
    };
    let records = fixture_records();
    if std::env::var("PICKET_BENCH_ONLY").as_deref() == Ok("mapping") {
        let t = Instant::now();
        for i in 0..n {
            let r = &records[i % records.len()];
            std::hint::black_box(cloud::cloudtrail_event(r.as_bytes(), "bench").expect("record"));
        }
        print_row("in memory: record → event", t.elapsed(), n);
        let t = Instant::now();
        for i in 0..n {
            let r = &records[i % records.len()];
            let v: serde::de::IgnoredAny = serde_json::from_slice(r.as_bytes()).expect("JSON");
            std::hint::black_box(v);
        }
        print_row("in memory: serde_json IgnoredAny", t.elapsed(), n);
        return;
    }
    let tmp = tempfile::tempdir().expect("temporary directory");
    let plain = tmp
        .path()
        .join("111122223333_CloudTrail_us-east-1_20240818T1515Z_bench.json");
    let gz = tmp
        .path()
        .join("111122223333_CloudTrail_us-east-1_20240818T1515Z_bench.json.gz");
    let t = Instant::now();
    let bytes = write_object(&plain, &records, n);
    gzip(&plain, &gz);
    let gz_bytes = std::fs::metadata(&gz).map(|m| m.len()).unwrap_or(0);
    println!(
        "CloudTrail S3-style object: {n} records ({} distinct recorded ones repeated), {:.1} MB plain ({:.0} bytes a record), {:.1} MB gzip level 1; built in {:.1} s",
        records.len(),
        bytes as f64 / 1e6,
        bytes as f64 / n as f64,
        gz_bytes as f64 / 1e6,
        t.elapsed().as_secs_f64()
    );
    // Warm the page cache for every contestant alike.
    let _ = std::fs::read(&plain);
    let _ = std::fs::read(&gz);

    if std::env::var("PICKET_BENCH_ONLY").as_deref() == Ok("reader") {
        // For a profiler: the reader alone, on the plain object.
        print_row(
            "plain: picket reader (records → events)",
            picket_reader(&plain, n),
            n,
        );
        return;
    }
    println!("{:<44} {:>12} {:>14}", "", "seconds", "records/s");
    let mut rows = Vec::new();
    for (label, path) in [("plain", &plain), ("gzip", &gz)] {
        let reader = best_of(2, || picket_reader(path, n));
        let split = best_of(2, || split_only(path, n));
        let validate = best_of(2, || split_and_skip(path, n));
        let value = best_of(1, || value_parse(path, n));
        let tool = if label == "gzip" {
            best_of(2, || {
                shell(&format!("zcat '{}' | wc -l", path.display()), n)
            })
        } else {
            best_of(2, || shell(&format!("wc -l < '{}'", path.display()), n))
        };
        let tool_name = if label == "gzip" {
            "zcat FILE | wc -l"
        } else {
            "wc -l < FILE"
        };
        print_row(
            &format!("{label}: picket reader (records → events)"),
            reader,
            n,
        );
        print_row(&format!("{label}: picket record splitter only"), split, n);
        print_row(
            &format!("{label}: splitter + serde_json IgnoredAny"),
            validate,
            n,
        );
        print_row(
            &format!("{label}: serde_json::Value parse of the object"),
            value,
            n,
        );
        print_row(&format!("{label}: {tool_name}"), tool, n);
        rows.push((label, tool_name, reader, value, tool));
    }
    for (label, tool_name, reader, value, tool) in rows {
        println!(
            "{label}: the reader takes {:.2}x the time of a serde_json::Value parse and {:.2}x that of `{tool_name}`",
            reader.as_secs_f64() / value.as_secs_f64(),
            reader.as_secs_f64() / tool.as_secs_f64(),
        );
    }
}

fn print_row(label: &str, d: Duration, n: usize) {
    println!(
        "{label:<44} {:>12.3} {:>14.0}",
        d.as_secs_f64(),
        n as f64 / d.as_secs_f64()
    );
}

fn best_of(runs: usize, mut f: impl FnMut() -> Duration) -> Duration {
    (0..runs).map(|_| f()).min().unwrap_or_default()
}

/// Every recorded record, as compact JSON text.
fn fixture_records() -> Vec<String> {
    let mut out = Vec::new();
    for dir in ["traildiscover", "stratus-red-team", "otrf"] {
        let root = PathBuf::from(FIXTURES).join(dir);
        assert!(
            root.is_dir(),
            "recorded fixture {} is missing (see shared/fixtures/README.md)",
            root.display()
        );
        for path in cloud::list_objects(&root).expect("fixture listing") {
            let text = std::fs::read_to_string(&path).expect("fixture");
            let values: Vec<serde_json::Value> = match serde_json::from_str(&text) {
                Ok(serde_json::Value::Array(a)) => a,
                Ok(one) => vec![one],
                Err(_) => text
                    .lines()
                    .filter(|l| !l.trim().is_empty())
                    .map(|l| serde_json::from_str(l).expect("NDJSON line"))
                    .collect(),
            };
            out.extend(values.iter().map(|v| v.to_string()));
        }
    }
    assert!(!out.is_empty(), "no records under {FIXTURES}");
    out
}

/// `{"Records":[` + n records, one a line + `]}`; returns its size.
fn write_object(path: &Path, records: &[String], n: usize) -> u64 {
    let mut w = BufWriter::with_capacity(1 << 20, std::fs::File::create(path).expect("create"));
    w.write_all(b"{\"Records\":[\n").expect("write");
    for i in 0..n {
        if i > 0 {
            w.write_all(b",\n").expect("write");
        }
        w.write_all(records[i % records.len()].as_bytes())
            .expect("write");
    }
    w.write_all(b"\n]}\n").expect("write");
    w.flush().expect("flush");
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

fn gzip(src: &Path, dst: &Path) {
    let mut input = std::fs::File::open(src).expect("open");
    let mut enc = flate2::write::GzEncoder::new(
        BufWriter::new(std::fs::File::create(dst).expect("create")),
        flate2::Compression::fast(),
    );
    std::io::copy(&mut input, &mut enc).expect("compress");
    enc.finish().expect("finish").flush().expect("flush");
}

fn picket_reader(path: &Path, n: usize) -> Duration {
    let t = Instant::now();
    let mut events = 0usize;
    let read = read_object(
        path,
        CloudFormat::CloudTrail,
        "bench",
        cloud::DEFAULT_MAX_RECORD_BYTES,
        0,
        &mut |_, outcome| {
            if let Ok(e) = outcome {
                events += 1;
                std::hint::black_box(e);
            }
            true
        },
    );
    let d = t.elapsed();
    assert!(read.error.is_none(), "{:?}", read.error);
    assert_eq!(events, n, "every record an event");
    d
}

fn split_only(path: &Path, n: usize) -> Duration {
    let t = Instant::now();
    let mut s = RecordSplitter::new(
        cloud::open_object(path).expect("open"),
        cloud::DEFAULT_MAX_RECORD_BYTES,
        &[b"Records"],
    );
    let mut count = 0usize;
    while let Some(item) = s.next().expect("split") {
        if let Item::Object(b) = item {
            std::hint::black_box(b);
            count += 1;
        }
    }
    let d = t.elapsed();
    assert_eq!(count, n);
    d
}

/// The splitter, then serde_json over each record without keeping anything: the
/// floor of any serde_json parse of the records.
fn split_and_skip(path: &Path, n: usize) -> Duration {
    let t = Instant::now();
    let mut s = RecordSplitter::new(
        cloud::open_object(path).expect("open"),
        cloud::DEFAULT_MAX_RECORD_BYTES,
        &[b"Records"],
    );
    let mut count = 0usize;
    while let Some(item) = s.next().expect("split") {
        if let Item::Object(b) = item {
            let skipped: serde::de::IgnoredAny = serde_json::from_slice(b).expect("JSON");
            std::hint::black_box(skipped);
            count += 1;
        }
    }
    let d = t.elapsed();
    assert_eq!(count, n);
    d
}

fn value_parse(path: &Path, n: usize) -> Duration {
    let t = Instant::now();
    let mut bytes = Vec::new();
    cloud::open_object(path)
        .expect("open")
        .read_to_end(&mut bytes)
        .expect("read");
    let v: serde_json::Value = serde_json::from_slice(&bytes).expect("JSON");
    let count = v["Records"].as_array().map_or(0, Vec::len);
    let d = t.elapsed();
    assert_eq!(count, n);
    drop(v);
    d
}

fn shell(cmd: &str, n: usize) -> Duration {
    let t = Instant::now();
    let out = Command::new("sh").arg("-c").arg(cmd).output().expect("sh");
    let d = t.elapsed();
    assert!(
        out.status.success(),
        "{cmd}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: usize = String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .expect("a line count");
    // Records one a line, plus the wrapper's opening and closing lines.
    assert_eq!(lines, n + 2, "{cmd}");
    d
}
