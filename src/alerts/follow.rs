//! `picket alerts --follow`: the alerts already logged (the last N that pass the
//! filter, across rotated files), then every new one as it is written, through
//! sensor-core's file tailer, so rotation by the file sink (rename, new file) and
//! truncation are followed and a line is shown only once it is complete.

use super::filter::Filter;
use super::read::{log_files, parse_line, scan, LoggedAlert};
use sensor_core::lines::Chunk;
use sensor_core::tail::{self, FileTail, TailLine, TailStart};
use std::fs::File;
use std::io::{self, BufReader};
use std::path::Path;
use std::time::Duration;

/// The alert a followed line holds, if it is one that passes `filter`.
fn matching(line: &TailLine<'_>, filter: &Filter) -> Option<LoggedAlert> {
    match line.chunk {
        // A line cut short by rotation does not parse, and is not shown.
        Chunk::Line(bytes) => parse_line(bytes).filter(|a| filter.matches(&a.value)),
        Chunk::TooLong(_) => None,
    }
}

/// Shows the last `last` matching alerts already logged, then tails the log at `path`:
/// every new line that passes `filter` goes to `emit`, until `stop` says so or `emit`
/// fails (a closed pipe, say). `poll` bounds how long a missed file-system event can
/// delay a line.
pub fn follow(
    path: &Path,
    filter: &Filter,
    last: usize,
    poll: Duration,
    stop: &dyn Fn() -> bool,
    emit: &mut dyn FnMut(&LoggedAlert) -> io::Result<()>,
) -> io::Result<()> {
    // Opened first, so nothing written while the rotated files are read is missed.
    let mut tail = FileTail::new(path, TailStart::Beginning);
    let mut backlog: Vec<LoggedAlert> = Vec::new();
    for old in log_files(path).iter().filter(|p| p.as_path() != path) {
        if let Ok(f) = File::open(old) {
            scan(BufReader::new(f), filter, &mut |a| backlog.push(a))?;
        }
    }
    tail.poll(&mut |line| {
        backlog.extend(matching(&line, filter));
        true
    })?;
    for a in &backlog[backlog.len().saturating_sub(last)..] {
        emit(a)?;
    }
    drop(backlog);

    let mut failed = None;
    tail::follow(&mut tail, poll, stop, &mut |line| {
        let Some(alert) = matching(&line, filter) else {
            return true;
        };
        match emit(&alert) {
            Ok(()) => true,
            Err(e) => {
                failed = Some(e);
                false
            }
        }
    })?;
    failed.map_or(Ok(()), Err)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sensor_core::sink::rotated_path;
    use std::io::Write;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex};

    #[test]
    fn follow_sees_new_lines_across_rotation_and_holds_partial_lines() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("alerts.jsonl");
        std::fs::write(&path, "{\"n\":1}\n{\"n\":2}\n").expect("w");
        let seen = Arc::new(Mutex::new(Vec::<i64>::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (seen2, stop2, path2) = (seen.clone(), stop.clone(), path.clone());
        let t = std::thread::spawn(move || {
            follow(
                &path2,
                &Filter::default(),
                1,
                Duration::from_millis(10),
                &|| stop2.load(Ordering::Relaxed),
                &mut |a| {
                    if let Some(n) = a.value["n"].as_i64() {
                        seen2.lock().expect("lock").push(n);
                    }
                    Ok(())
                },
            )
        });
        let wait_for = |n: usize| {
            let deadline = std::time::Instant::now() + Duration::from_secs(10);
            while seen.lock().expect("lock").len() < n {
                assert!(
                    std::time::Instant::now() < deadline,
                    "follow saw {:?}",
                    seen.lock().expect("lock")
                );
                std::thread::sleep(Duration::from_millis(5));
            }
        };
        wait_for(1);
        let append = |p: &Path, s: &str| {
            let mut f = std::fs::OpenOptions::new()
                .append(true)
                .create(true)
                .open(p)
                .expect("open");
            f.write_all(s.as_bytes()).expect("append");
        };
        append(&path, "{\"n\":3}\n{\"n\"");
        wait_for(2);
        append(&path, ":4}\n");
        wait_for(3);
        // Rotate: the old file gets one more line first, then a new file appears.
        append(&path, "{\"n\":5}\n");
        std::fs::rename(&path, rotated_path(&path, 1)).expect("rotate");
        append(&rotated_path(&path, 1), "{\"n\":6}\n");
        append(&path, "{\"n\":7}\n");
        wait_for(6);
        stop.store(true, Ordering::Relaxed);
        t.join().expect("join").expect("follow");
        assert_eq!(*seen.lock().expect("lock"), vec![2, 3, 4, 5, 6, 7]);
    }
}
