//! What a process runs, as the kernel has it: `/proc/PID/exe`'s path and the SHA-256 of
//! the file, for connection-table reads (AN0904's allowlist matches on both). Hashes
//! are cached by file identity (device, inode, size, mtime), so an agent that reads the
//! tables every few seconds costs one hash per binary, not one per read.

use crate::convert::ExeInfo;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::io::Read;
use std::os::unix::fs::MetadataExt;

/// Files larger than this are not hashed (the path is still reported).
const MAX_HASHED_BYTES: u64 = 512 * 1024 * 1024;
/// Hashes remembered; the cache is emptied when full.
const CACHE_ENTRIES: usize = 1024;

/// (device, inode, size, mtime in ns): a file's identity while it is unchanged.
type FileId = (u64, u64, u64, i128);

/// Looks executables up and remembers their hashes.
#[derive(Debug, Default)]
pub(crate) struct ExeLookup {
    hashes: HashMap<FileId, Option<String>>,
}

impl ExeLookup {
    /// `/proc/pid/exe` now; `None` once the process is gone (or for a kernel thread).
    pub(crate) fn lookup(&mut self, pid: u32) -> Option<ExeInfo> {
        let link = format!("/proc/{pid}/exe");
        let path = std::fs::read_link(&link).ok()?;
        // Opened through the link: the very file the process runs, even if replaced or
        // deleted since.
        let sha256 = std::fs::File::open(&link).ok().and_then(|f| self.hash(f));
        Some(ExeInfo {
            path: path.to_string_lossy().into_owned(),
            sha256,
        })
    }

    fn hash(&mut self, mut file: std::fs::File) -> Option<String> {
        let meta = file.metadata().ok()?;
        let id: FileId = (
            meta.dev(),
            meta.ino(),
            meta.size(),
            i128::from(meta.mtime()) * 1_000_000_000 + i128::from(meta.mtime_nsec()),
        );
        if let Some(h) = self.hashes.get(&id) {
            return h.clone();
        }
        let hash = (meta.size() <= MAX_HASHED_BYTES)
            .then(|| {
                let mut hasher = Sha256::new();
                let mut buf = vec![0u8; 64 * 1024];
                loop {
                    match file.read(&mut buf) {
                        Ok(0) => break,
                        Ok(n) => hasher.update(&buf[..n]),
                        Err(_) => return None,
                    }
                }
                Some(hex(&hasher.finalize()))
            })
            .flatten();
        if self.hashes.len() >= CACHE_ENTRIES {
            self.hashes.clear();
        }
        self.hashes.insert(id, hash.clone());
        hash
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_found_and_hashed_like_sha256sum() {
        let mut lookup = ExeLookup::default();
        let me = lookup.lookup(std::process::id()).expect("own exe");
        let path = std::env::current_exe().expect("current_exe");
        assert_eq!(me.path, path.to_string_lossy());
        let bytes = std::fs::read(&path).expect("read own exe");
        assert_eq!(me.sha256, Some(hex(&Sha256::digest(&bytes))));
        assert_eq!(lookup.hashes.len(), 1);
        assert_eq!(
            lookup.lookup(std::process::id()),
            Some(me),
            "cached, same answer"
        );
        assert_eq!(lookup.lookup(u32::MAX), None, "no such process");
    }
}
