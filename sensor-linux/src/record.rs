//! The records the eBPF programs write to the ring buffer (`bpf/events.h`), parsed.
//!
//! Parsing checks every length against the record it came in: a short or inconsistent
//! record is an error the caller counts and skips, never a panic. Integers are
//! native-endian (the kernel writes them; user space reads them on the same machine).

use std::fmt;

/// `EV_EXEC`.
pub const EV_EXEC: u32 = 1;
/// `EV_FORK`.
pub const EV_FORK: u32 = 2;
/// `EV_EXIT`.
pub const EV_EXIT: u32 = 3;

/// `sizeof(struct ev_hdr)`.
pub const HDR_LEN: usize = 88;
/// `sizeof(struct exec_ev)`.
pub const EXEC_HDR_LEN: usize = HDR_LEN + 112;

/// argv was longer than the capture limit.
pub const F_ARGS_TRUNCATED: u32 = 1 << 0;
/// Reading the argument area failed.
pub const F_ARGS_UNREADABLE: u32 = 1 << 1;
/// The exec filename was longer than PATH_MAX.
pub const F_FILENAME_TRUNCATED: u32 = 1 << 2;
/// The working directory was deeper or longer than the kernel side walks.
pub const F_CWD_TRUNCATED: u32 = 1 << 3;
/// The executable's path was deeper or longer than the kernel side walks.
pub const F_EXE_TRUNCATED: u32 = 1 << 4;
/// No user address space.
pub const F_NO_MM: u32 = 1 << 5;
/// A controlling terminal is attached.
pub const F_HAS_TTY: u32 = 1 << 6;

/// Slots of the kernel's per-CPU `lost` counter array.
pub mod lost_slot {
    /// An exec record did not fit in the ring buffer.
    pub const EXEC: u32 = 0;
    /// A fork record did not fit.
    pub const FORK: u32 = 1;
    /// An exit record did not fit.
    pub const EXIT: u32 = 2;
    /// No scratch slot for the CPU (exec dropped).
    pub const SCRATCH: u32 = 3;
    /// Number of slots.
    pub const COUNT: u32 = 4;
}

/// What every record carries about the task. Byte fields borrow from the ring buffer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskRecord<'a> {
    /// Process id (tgid).
    pub pid: u32,
    /// The thread that triggered the event.
    pub tid: u32,
    /// Real parent's tgid.
    pub ppid: u32,
    /// Event time, CLOCK_BOOTTIME ns.
    pub ts_boot_ns: u64,
    /// Process start, CLOCK_BOOTTIME ns.
    pub start_boot_ns: u64,
    /// Parent's start, CLOCK_BOOTTIME ns.
    pub parent_start_boot_ns: u64,
    /// Real uid.
    pub uid: u32,
    /// Effective uid.
    pub euid: u32,
    /// Real gid.
    pub gid: u32,
    /// Effective gid.
    pub egid: u32,
    /// Audit login uid (`u32::MAX` when unset).
    pub loginuid: u32,
    /// Audit session id (`u32::MAX` when unset).
    pub sessionid: u32,
    /// Exit events: the wait status.
    pub exit_code: i32,
    /// `comm`, without the NUL padding.
    pub comm: &'a [u8],
}

/// An exec record. Byte fields borrow from the ring buffer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExecRecord<'a> {
    /// The task fields.
    pub task: TaskRecord<'a>,
    /// cgroup v2 id.
    pub cgroup_id: u64,
    /// argc as the kernel counted it.
    pub argc: u32,
    /// Bytes in the argument area.
    pub args_size: u32,
    /// `F_*` flags.
    pub flags: u32,
    /// Terminal major number.
    pub tty_major: u32,
    /// Terminal minor number.
    pub tty_minor: u32,
    /// Terminal name as the kernel has it (`pts3`, `tty1`).
    pub tty_name: &'a [u8],
    /// The captured argument area (NUL-separated).
    pub args: &'a [u8],
    /// The path given to execve.
    pub filename: &'a [u8],
    /// The working directory.
    pub cwd: &'a [u8],
    /// The file the kernel loaded, symlinks resolved.
    pub exe: &'a [u8],
}

/// One parsed record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record<'a> {
    /// A program image started.
    Exec(Box<ExecRecord<'a>>),
    /// A process was created.
    Fork(TaskRecord<'a>),
    /// A process ended.
    Exit(TaskRecord<'a>),
}

/// Why a record could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordError {
    /// Shorter than its fixed part.
    Short {
        /// Bytes received.
        len: usize,
        /// Bytes needed.
        need: usize,
    },
    /// An unknown record kind.
    UnknownKind(u32),
    /// The variable part is longer than the record.
    Lengths {
        /// Bytes the header announces.
        announced: usize,
        /// Bytes present.
        present: usize,
    },
}

impl fmt::Display for RecordError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecordError::Short { len, need } => {
                write!(f, "record of {len} bytes, at least {need} needed")
            }
            RecordError::UnknownKind(k) => write!(f, "unknown record kind {k}"),
            RecordError::Lengths { announced, present } => write!(
                f,
                "record announces {announced} bytes of strings, {present} present"
            ),
        }
    }
}

impl std::error::Error for RecordError {}

fn u32_at(b: &[u8], off: usize) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[off..off + 4]);
    u32::from_ne_bytes(a)
}

fn u64_at(b: &[u8], off: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[off..off + 8]);
    u64::from_ne_bytes(a)
}

/// Bytes up to the first NUL.
fn c_str(b: &[u8]) -> &[u8] {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    &b[..end]
}

fn parse_task(b: &[u8]) -> TaskRecord<'_> {
    TaskRecord {
        pid: u32_at(b, 4),
        tid: u32_at(b, 8),
        ppid: u32_at(b, 12),
        ts_boot_ns: u64_at(b, 16),
        start_boot_ns: u64_at(b, 24),
        parent_start_boot_ns: u64_at(b, 32),
        uid: u32_at(b, 40),
        euid: u32_at(b, 44),
        gid: u32_at(b, 48),
        egid: u32_at(b, 52),
        loginuid: u32_at(b, 56),
        sessionid: u32_at(b, 60),
        exit_code: u32_at(b, 64) as i32,
        comm: c_str(&b[72..88]),
    }
}

/// Parses one ring-buffer record.
pub fn parse(b: &[u8]) -> Result<Record<'_>, RecordError> {
    if b.len() < HDR_LEN {
        return Err(RecordError::Short {
            len: b.len(),
            need: HDR_LEN,
        });
    }
    let kind = u32_at(b, 0);
    match kind {
        EV_FORK => Ok(Record::Fork(parse_task(b))),
        EV_EXIT => Ok(Record::Exit(parse_task(b))),
        EV_EXEC => {
            if b.len() < EXEC_HDR_LEN {
                return Err(RecordError::Short {
                    len: b.len(),
                    need: EXEC_HDR_LEN,
                });
            }
            let lens = [
                u32_at(b, 104) as usize, // args_len
                u32_at(b, 108) as usize, // filename_len
                u32_at(b, 112) as usize, // cwd_len
                u32_at(b, 116) as usize, // exe_len
            ];
            let announced = lens.iter().fold(0usize, |a, &l| a.saturating_add(l));
            let present = b.len() - EXEC_HDR_LEN;
            if announced > present {
                return Err(RecordError::Lengths { announced, present });
            }
            let mut pos = EXEC_HDR_LEN;
            let mut take = |n: usize| {
                let s = &b[pos..pos + n];
                pos += n;
                s
            };
            let args = take(lens[0]);
            let filename = take(lens[1]);
            let cwd = take(lens[2]);
            let exe = take(lens[3]);
            Ok(Record::Exec(Box::new(ExecRecord {
                task: parse_task(b),
                cgroup_id: u64_at(b, 88),
                argc: u32_at(b, 96),
                args_size: u32_at(b, 100),
                flags: u32_at(b, 120),
                tty_major: u32_at(b, 124),
                tty_minor: u32_at(b, 128),
                tty_name: c_str(&b[136..200]),
                args,
                filename,
                cwd,
                exe,
            })))
        }
        other => Err(RecordError::UnknownKind(other)),
    }
}

/// Builds the bytes the kernel would write for `rec` (tests and fuzzing).
#[doc(hidden)]
pub fn encode(rec: &Record<'_>) -> Vec<u8> {
    fn task(b: &mut Vec<u8>, kind: u32, t: &TaskRecord) {
        for v in [kind, t.pid, t.tid, t.ppid] {
            b.extend_from_slice(&v.to_ne_bytes());
        }
        for v in [t.ts_boot_ns, t.start_boot_ns, t.parent_start_boot_ns] {
            b.extend_from_slice(&v.to_ne_bytes());
        }
        for v in [t.uid, t.euid, t.gid, t.egid, t.loginuid, t.sessionid] {
            b.extend_from_slice(&v.to_ne_bytes());
        }
        b.extend_from_slice(&t.exit_code.to_ne_bytes());
        b.extend_from_slice(&0u32.to_ne_bytes());
        let mut comm = [0u8; 16];
        let n = t.comm.len().min(15);
        comm[..n].copy_from_slice(&t.comm[..n]);
        b.extend_from_slice(&comm);
    }
    let mut b = Vec::new();
    match rec {
        Record::Fork(t) => task(&mut b, EV_FORK, t),
        Record::Exit(t) => task(&mut b, EV_EXIT, t),
        Record::Exec(e) => {
            task(&mut b, EV_EXEC, &e.task);
            b.extend_from_slice(&e.cgroup_id.to_ne_bytes());
            for v in [
                e.argc,
                e.args_size,
                e.args.len() as u32,
                e.filename.len() as u32,
                e.cwd.len() as u32,
                e.exe.len() as u32,
                e.flags,
                e.tty_major,
                e.tty_minor,
                0,
            ] {
                b.extend_from_slice(&v.to_ne_bytes());
            }
            let mut tty = [0u8; 64];
            let n = e.tty_name.len().min(63);
            tty[..n].copy_from_slice(&e.tty_name[..n]);
            b.extend_from_slice(&tty);
            for part in [e.args, e.filename, e.cwd, e.exe] {
                b.extend_from_slice(part);
            }
        }
    }
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample_exec() -> ExecRecord<'static> {
        ExecRecord {
            task: TaskRecord {
                pid: 4242,
                tid: 4242,
                ppid: 17,
                ts_boot_ns: 5_000_000_123,
                start_boot_ns: 4_999_000_000,
                parent_start_boot_ns: 1_000,
                uid: 1000,
                euid: 0,
                gid: 100,
                egid: 100,
                loginuid: 1000,
                sessionid: 3,
                exit_code: 0,
                comm: b"ss",
            },
            cgroup_id: 77,
            argc: 2,
            args_size: 8,
            flags: F_HAS_TTY,
            tty_major: 136,
            tty_minor: 3,
            tty_name: b"pts3",
            args: b"ss\0-tan\0",
            filename: b"/usr/bin/ss",
            cwd: b"/root",
            exe: b"/usr/bin/ss",
        }
    }

    #[test]
    fn exec_round_trips_through_the_kernel_layout() {
        let rec = Record::Exec(Box::new(sample_exec()));
        let bytes = encode(&rec);
        assert_eq!(
            bytes.len(),
            EXEC_HDR_LEN + 8 + 11 + 5 + 11,
            "header size is the C struct's"
        );
        assert_eq!(parse(&bytes), Ok(rec));
    }

    #[test]
    fn fork_and_exit_round_trip() {
        let mut t = sample_exec().task;
        t.exit_code = 256 * 3;
        for rec in [Record::Fork(t.clone()), Record::Exit(t)] {
            let bytes = encode(&rec);
            assert_eq!(bytes.len(), HDR_LEN);
            assert_eq!(parse(&bytes), Ok(rec));
        }
    }

    #[test]
    fn malformed_records_are_errors_not_panics() {
        let good = encode(&Record::Exec(Box::new(sample_exec())));
        for cut in [
            0,
            3,
            HDR_LEN - 1,
            HDR_LEN + 5,
            EXEC_HDR_LEN - 1,
            good.len() - 1,
        ] {
            assert!(parse(&good[..cut]).is_err(), "cut at {cut}");
        }
        let mut bad = good.clone();
        bad[104..108].copy_from_slice(&u32::MAX.to_ne_bytes());
        assert!(matches!(parse(&bad), Err(RecordError::Lengths { .. })));
        let mut unknown = good;
        unknown[0..4].copy_from_slice(&9u32.to_ne_bytes());
        assert_eq!(parse(&unknown), Err(RecordError::UnknownKind(9)));
    }
}
