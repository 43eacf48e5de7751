//! Size-based rotation of the alert log: `alerts.jsonl` becomes `alerts.jsonl.1`, the
//! older files shift up by one, and the oldest beyond `keep_files` is removed. Also how
//! a log file is opened (append-only, mode 0640 on Unix).
//!
//! May touch: the alert log and its rotated siblings.

use super::annotate;
use sensor_core::sink::rotated_path;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::Path;

/// Mode of newly created alert logs: analysts in the owning group may read them.
#[cfg(unix)]
const ALERT_LOG_MODE: u32 = 0o640;

/// Shifts `path` to `path.1` (and `.1` to `.2`, ...), keeping `keep_files` rotated files,
/// and opens a fresh, empty log at `path`. With `keep_files` 0 the log is simply removed.
pub(super) fn rotate(path: &Path, keep_files: u32) -> io::Result<File> {
    // A rotation that renamed the log but could not open the new one (read-only
    // directory, no inodes) is finished by the retry without shifting the files again.
    if !path.exists() {
        return open_append(path);
    }
    if keep_files == 0 {
        fs::remove_file(path).or_else(ignore_not_found)?;
    } else {
        fs::remove_file(rotated_path(path, keep_files)).or_else(ignore_not_found)?;
        for n in (1..keep_files).rev() {
            fs::rename(rotated_path(path, n), rotated_path(path, n + 1))
                .or_else(ignore_not_found)?;
        }
        fs::rename(path, rotated_path(path, 1))?;
    }
    open_append(path)
}

/// Opens (creating it) the log for appending; each write lands at the end even when
/// another writer appends too.
pub(super) fn open_append(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(ALERT_LOG_MODE);
    }
    options
        .open(path)
        .map_err(|e| annotate(e, "open the alert log", path))
}

/// A rotated file that is not there yet is not an error.
fn ignore_not_found(e: io::Error) -> io::Result<()> {
    if e.kind() == io::ErrorKind::NotFound {
        Ok(())
    } else {
        Err(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotation_shifts_files_and_drops_the_oldest() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("alerts.jsonl");
        fs::write(&path, "current\n").expect("write");
        fs::write(rotated_path(&path, 1), "one\n").expect("write");
        fs::write(rotated_path(&path, 2), "two\n").expect("write");
        let fresh = rotate(&path, 2).expect("rotate");
        assert_eq!(fresh.metadata().expect("meta").len(), 0);
        assert_eq!(fs::read_to_string(&path).expect("log"), "");
        assert_eq!(
            fs::read_to_string(rotated_path(&path, 1)).expect(".1"),
            "current\n"
        );
        assert_eq!(
            fs::read_to_string(rotated_path(&path, 2)).expect(".2"),
            "one\n"
        );
        assert!(!rotated_path(&path, 3).exists(), "the oldest was removed");
    }

    #[test]
    fn a_rotation_whose_open_failed_is_finished_without_shifting_again() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("alerts.jsonl");
        // What a rename that worked and an open that failed leave behind.
        fs::write(rotated_path(&path, 1), "current\n").expect("write");
        fs::write(rotated_path(&path, 2), "one\n").expect("write");
        rotate(&path, 2).expect("rotate");
        assert_eq!(fs::read_to_string(&path).expect("log"), "");
        assert_eq!(
            fs::read_to_string(rotated_path(&path, 1)).expect(".1"),
            "current\n"
        );
        assert_eq!(
            fs::read_to_string(rotated_path(&path, 2)).expect(".2"),
            "one\n"
        );
    }

    #[test]
    fn keeping_no_files_starts_the_log_over() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("alerts.jsonl");
        fs::write(&path, "current\n").expect("write");
        rotate(&path, 0).expect("rotate");
        assert_eq!(fs::read_to_string(&path).expect("log"), "");
        assert!(!rotated_path(&path, 1).exists());
    }
}
