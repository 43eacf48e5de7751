//! Torn-tail repair: after a crash, power loss or full disk the alert log may end in a
//! partial line (or zeros). At open, a complete alert merely missing its newline gets
//! it; anything else after the last whole alert is cut off and saved beside the log, so
//! the log never holds a corrupt line and every alert written before stays.
//!
//! May touch: the alert log and the `.torn-<time>` file it writes beside it.

use super::annotate;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The torn-tail check reads at most this much from the end of the log.
const TAIL_SCAN_LIMIT: u64 = 16 * 1024 * 1024;
/// ... and looks at most at this many trailing lines.
const TAIL_SCAN_LINES: usize = 64;

/// What [`repair_torn_tail`] found at the end of a log after a crash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TailRepair {
    /// The last alert was complete but its newline was missing; the newline was added.
    NewlineAdded,
    /// Trailing bytes that are not whole alerts (a torn line, zeros from a power loss)
    /// were cut off the log and saved here.
    MovedAside {
        /// The file holding the removed bytes (`alerts.jsonl.torn-<UTC time>`).
        path: PathBuf,
        /// How many bytes were removed.
        bytes: u64,
        /// The log's length after the cut: every byte before it is untouched.
        kept_bytes: u64,
    },
}

/// Checks the end of the log at `path` for a line torn by a crash, power loss or a full
/// disk: a last line without newline, or trailing lines that are not JSON objects.
/// A complete JSON object merely missing its newline gets the newline; anything else
/// is cut off and saved to `<path>.torn-<UTC time>`. Lines before are never touched.
/// Returns what was done; `None` when the log is fine or absent.
pub fn repair_torn_tail(path: &Path) -> io::Result<Option<TailRepair>> {
    let mut file = match OpenOptions::new().read(true).write(true).open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(annotate(e, "open the alert log to check its end", path)),
    };
    // A writer still running (the old sink during a reload, another process) may be in
    // the middle of a line: only repair a tail that stays the same for a moment.
    let mut scan = scan_tail(&mut file)?;
    for _ in 0..5 {
        if scan.verdict == Verdict::Clean {
            return Ok(None);
        }
        std::thread::sleep(Duration::from_millis(50));
        if file.metadata()?.len() == scan.len {
            break;
        }
        scan = scan_tail(&mut file)?;
    }
    let TailScan {
        len,
        floor,
        tail,
        verdict,
    } = scan;
    let good = match verdict {
        Verdict::Clean => return Ok(None),
        Verdict::AddNewline => {
            file.seek(SeekFrom::End(0))?;
            file.write_all(b"\n")?;
            file.sync_data()?;
            return Ok(Some(TailRepair::NewlineAdded));
        }
        Verdict::Cut(good) => good,
    };
    let cut = floor + good as u64;
    let aside = torn_path(path);
    let mut out = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&aside)
        .map_err(|e| annotate(e, "save the torn end of the alert log to", &aside))?;
    out.write_all(&tail[good..])?;
    out.sync_all()?;
    file.set_len(cut)?;
    file.sync_all()?;
    Ok(Some(TailRepair::MovedAside {
        path: aside,
        bytes: len - cut,
        kept_bytes: cut,
    }))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Clean,
    AddNewline,
    /// Keep this many bytes of the tail.
    Cut(usize),
}

struct TailScan {
    len: u64,
    /// File offset of `tail[0]`.
    floor: u64,
    tail: Vec<u8>,
    verdict: Verdict,
}

fn scan_tail(file: &mut File) -> io::Result<TailScan> {
    let len = file.metadata()?.len();
    let floor = len.saturating_sub(TAIL_SCAN_LIMIT);
    let mut tail = vec![0u8; usize::try_from(len - floor).unwrap_or(0)];
    file.seek(SeekFrom::Start(floor))?;
    file.read_exact(&mut tail)?;
    // `good`: length of the tail that is whole, valid lines.
    let mut good = tail.len();
    let mut first = true;
    for _ in 0..TAIL_SCAN_LINES {
        if good == 0 {
            break;
        }
        let ends_nl = tail[good - 1] == b'\n';
        let body_end = if ends_nl { good - 1 } else { good };
        let start = tail[..body_end]
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |p| p + 1);
        if start == 0 && floor > 0 {
            // A line longer than the scan limit: not an alert Picket wrote.
            good = 0;
            break;
        }
        let line = &tail[start..body_end];
        let valid = serde_json::from_slice::<serde_json::Value>(line).is_ok_and(|v| v.is_object());
        if valid && ends_nl {
            break;
        }
        if valid && first {
            return Ok(TailScan {
                len,
                floor,
                tail,
                verdict: Verdict::AddNewline,
            });
        }
        good = start;
        first = false;
    }
    let verdict = if good == tail.len() {
        Verdict::Clean
    } else {
        Verdict::Cut(good)
    };
    Ok(TailScan {
        len,
        floor,
        tail,
        verdict,
    })
}

/// `alerts.jsonl.torn-20240501T100000Z` (with `-N` if that exists already).
fn torn_path(path: &Path) -> PathBuf {
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ");
    let base = {
        let mut s = path.as_os_str().to_owned();
        s.push(format!(".torn-{stamp}"));
        PathBuf::from(s)
    };
    let mut candidate = base.clone();
    let mut n = 1;
    while candidate.exists() {
        let mut s = base.as_os_str().to_owned();
        s.push(format!("-{n}"));
        candidate = PathBuf::from(s);
        n += 1;
    }
    candidate
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::alert;
    use std::fs;

    fn lines_of(path: &Path) -> Vec<String> {
        fs::read_to_string(path)
            .expect("read")
            .lines()
            .map(str::to_string)
            .collect()
    }

    #[test]
    fn complete_alert_without_newline_gets_one() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("alerts.jsonl");
        let line = alert(1).to_json_line();
        fs::write(&path, &line).expect("write");
        assert_eq!(
            repair_torn_tail(&path).expect("repair"),
            Some(TailRepair::NewlineAdded)
        );
        assert_eq!(fs::read_to_string(&path).expect("log"), format!("{line}\n"));
        assert_eq!(repair_torn_tail(&path).expect("again"), None, "idempotent");
    }

    #[test]
    fn zeros_and_garbage_lines_at_the_end_are_moved_aside() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("alerts.jsonl");
        let good = format!("{}\n", alert(1).to_json_line());
        // A power loss can leave zeros; an old crash can leave a torn line followed by
        // a newline.
        let mut bytes = good.clone().into_bytes();
        bytes.extend_from_slice(b"{\"@timestamp\":\"2024\n");
        bytes.extend_from_slice(&[0u8; 4096]);
        fs::write(&path, &bytes).expect("write");
        let repair = repair_torn_tail(&path).expect("repair");
        assert!(
            matches!(&repair, Some(TailRepair::MovedAside { bytes, .. }) if *bytes == 4096 + 20),
            "{repair:?}"
        );
        assert_eq!(fs::read_to_string(&path).expect("log"), good);
        assert_eq!(repair_torn_tail(&path).expect("clean"), None);
    }

    #[test]
    fn a_clean_or_missing_log_is_left_alone() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("alerts.jsonl");
        assert_eq!(repair_torn_tail(&path).expect("missing"), None);
        let text = format!("{}\n", alert(1).to_json_line());
        fs::write(&path, &text).expect("write");
        assert_eq!(repair_torn_tail(&path).expect("clean"), None);
        assert_eq!(fs::read_to_string(&path).expect("log"), text);
        fs::write(&path, "").expect("empty");
        assert_eq!(repair_torn_tail(&path).expect("empty"), None);
        assert_eq!(lines_of(&path).len(), 0);
    }
}
