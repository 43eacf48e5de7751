//! The serde_json baseline `scripts/bench.sh --cloudtrail` puts beside `picket replay
//! --format cloudtrail`: every object of a trail tree read (gzip inflated with the same
//! flate2 backend as Picket), parsed whole into a `serde_json::Value`, and its records
//! counted, on one thread and then on one thread per core (objects dealt round-robin),
//! with no pipeline behind it.
//!
//! Usage: `cargo run --release -p sensor-logs --example cloudtrail_baseline -- DIR`
//! Prints `value-1 RECORDS SECONDS` and `value-N RECORDS SECONDS`.

use sensor_logs::cloud::{list_objects, open_object};
use std::io::Read;
use std::path::PathBuf;
use std::time::Instant;

// As the picket binary allocates on Linux, so the baseline is not slowed by malloc.
#[cfg(target_os = "linux")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn records_in(objects: &[PathBuf]) -> std::io::Result<u64> {
    let mut records = 0;
    let mut bytes = Vec::new();
    for path in objects {
        bytes.clear();
        open_object(path)?.read_to_end(&mut bytes)?;
        let doc: serde_json::Value = serde_json::from_slice(&bytes)?;
        records += doc["Records"].as_array().map_or(0, |r| r.len() as u64);
    }
    Ok(records)
}

fn main() -> std::io::Result<()> {
    let Some(dir) = std::env::args().nth(1) else {
        eprintln!("usage: cloudtrail_baseline DIR");
        std::process::exit(2);
    };
    let mut objects = list_objects(dir.as_ref())?;
    objects.sort();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    for threads in [1, cores] {
        let start = Instant::now();
        let shares: Vec<Vec<PathBuf>> = (0..threads)
            .map(|t| objects.iter().skip(t).step_by(threads).cloned().collect())
            .collect();
        let records = std::thread::scope(|s| {
            let handles: Vec<_> = shares
                .iter()
                .map(|share| s.spawn(move || records_in(share)))
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|_| Err(std::io::Error::other("panicked")))
                })
                .sum::<std::io::Result<u64>>()
        })?;
        let secs = start.elapsed().as_secs_f64();
        println!("value-{threads} {records} {secs:.3}");
    }
    Ok(())
}
