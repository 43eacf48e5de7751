//! Reading the alert log back: the log and its rotated files, oldest first
//! (`alerts.jsonl.N` … `.1`, then `alerts.jsonl`), so the output is in time order.
//! Rotation does not compress, so there are no compressed files to read.

use super::filter::Filter;
use sensor_core::sink::rotated_path;
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufRead, BufReader};
use std::path::{Path, PathBuf};

// One alert-log line and its parser live with the code that writes the log.
pub use sinks::file::{parse_line, LoggedAlert};

/// The log files behind `path`, oldest first.
pub fn log_files(path: &Path) -> Vec<PathBuf> {
    let mut rotated: Vec<PathBuf> = (1..=10_000)
        .map(|n| rotated_path(path, n))
        .take_while(|p| p.exists())
        .collect();
    rotated.reverse();
    if path.exists() {
        rotated.push(path.to_path_buf());
    }
    rotated
}

/// Reads the alerts that pass `filter`, oldest first; the second value counts lines
/// that are not alerts (a torn line after a crash, say).
pub fn read_matching(path: &Path, filter: &Filter) -> io::Result<(Vec<LoggedAlert>, u64)> {
    let files = log_files(path);
    if files.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!("no alert log at {}", path.display()),
        ));
    }
    let mut alerts = Vec::new();
    let mut bad = 0;
    for file in files {
        let reader = BufReader::new(File::open(&file)?);
        bad += scan(reader, filter, &mut |a| alerts.push(a))?;
    }
    Ok((alerts, bad))
}

/// How far the alert log says each file was read: per `log.file.path` in the evidence
/// of the last alerts (the last `window` bytes of the log and of its newest rotated
/// file), the highest record. A file input resumes past it, so a line whose alert was
/// written just before a crash, and whose position was not saved yet, is not read again.
pub fn last_records_by_file(path: &Path, window: u64) -> BTreeMap<PathBuf, u64> {
    use std::io::{Read, Seek, SeekFrom};
    let mut last = BTreeMap::new();
    for file in [rotated_path(path, 1), path.to_path_buf()] {
        let Ok(mut f) = File::open(&file) else {
            continue;
        };
        let len = f.metadata().map(|m| m.len()).unwrap_or(0);
        let start = len.saturating_sub(window);
        let mut bytes = Vec::new();
        if f.seek(SeekFrom::Start(start)).is_err() || f.read_to_end(&mut bytes).is_err() {
            continue;
        }
        // A window that starts inside a line begins at the next one.
        let from = if start == 0 {
            0
        } else {
            bytes
                .iter()
                .position(|&b| b == b'\n')
                .map_or(bytes.len(), |i| i + 1)
        };
        for line in bytes[from..].split(|&b| b == b'\n') {
            let Some(alert) = parse_line(line) else {
                continue;
            };
            let Some(evidence) = alert.value["picket"]["evidence"].as_array() else {
                continue;
            };
            for e in evidence {
                if let (Some(file), Some(record)) = (e["file"].as_str(), e["record"].as_u64()) {
                    let entry = last.entry(PathBuf::from(file)).or_insert(0);
                    *entry = (*entry).max(record);
                }
            }
        }
    }
    last
}

/// Feeds every matching alert of `reader` to `sink`; returns the count of bad lines.
pub fn scan(
    reader: impl BufRead,
    filter: &Filter,
    sink: &mut dyn FnMut(LoggedAlert),
) -> io::Result<u64> {
    let mut bad = 0;
    for line in reader.split(b'\n') {
        let line = line?;
        if line.is_empty() {
            continue;
        }
        match parse_line(&line) {
            Some(a) if filter.matches(&a.value) => sink(a),
            Some(_) => {}
            None => bad += 1,
        }
    }
    Ok(bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotated_logs_read_oldest_first() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("alerts.jsonl");
        std::fs::write(rotated_path(&path, 2), "{\"n\":1}\n").expect("w");
        std::fs::write(rotated_path(&path, 1), "{\"n\":2}\nnot json\n").expect("w");
        std::fs::write(&path, "{\"n\":3}\n").expect("w");
        let (alerts, bad) = read_matching(&path, &Filter::default()).expect("read");
        let order: Vec<i64> = alerts
            .iter()
            .filter_map(|a| a.value["n"].as_i64())
            .collect();
        assert_eq!(order, vec![1, 2, 3]);
        assert_eq!(bad, 1);
    }
}
