//! The records the eBPF programs write to the ring buffer (`bpf/events.h`), parsed.
//!
//! Parsing checks every length against the record it came in: a short or inconsistent
//! record is an error the caller counts and skips, never a panic. Integers are
//! native-endian (the kernel writes them; user space reads them on the same machine).
//! Every offset comes from [`layout`] (`bpf/layout.rs`), which the build asserts
//! against the C structs, so the parser and the kernel side cannot disagree silently.

use std::fmt;

/// The records' byte layout (`bpf/layout.rs`, shared with build.rs).
pub mod layout {
    include!("../bpf/layout.rs");
}
use layout::{ENUM_EV, EV_HDR, EXEC_EV};

/// Offsets of the fields the parser reads, resolved from the table when compiling.
mod at {
    use super::layout::{ENUM_EV, EV_HDR, EXEC_EV};
    pub const KIND: usize = EV_HDR.field("kind").offset;
    pub const PID: usize = EV_HDR.field("pid").offset;
    pub const TID: usize = EV_HDR.field("tid").offset;
    pub const PPID: usize = EV_HDR.field("ppid").offset;
    pub const TS: usize = EV_HDR.field("ts_boot_ns").offset;
    pub const START: usize = EV_HDR.field("start_boot_ns").offset;
    pub const PARENT_START: usize = EV_HDR.field("parent_start_boot_ns").offset;
    pub const UID: usize = EV_HDR.field("uid").offset;
    pub const EUID: usize = EV_HDR.field("euid").offset;
    pub const GID: usize = EV_HDR.field("gid").offset;
    pub const EGID: usize = EV_HDR.field("egid").offset;
    pub const LOGINUID: usize = EV_HDR.field("loginuid").offset;
    pub const SESSIONID: usize = EV_HDR.field("sessionid").offset;
    pub const EXIT_CODE: usize = EV_HDR.field("exit_code").offset;
    pub const COMM: usize = EV_HDR.field("comm").offset;
    pub const COMM_LEN: usize = EV_HDR.field("comm").size;
    pub const CGROUP_ID: usize = EXEC_EV.field("cgroup_id").offset;
    pub const ARGC: usize = EXEC_EV.field("argc").offset;
    pub const ARGS_SIZE: usize = EXEC_EV.field("args_size").offset;
    pub const ARGS_LEN: usize = EXEC_EV.field("args_len").offset;
    pub const FILENAME_LEN: usize = EXEC_EV.field("filename_len").offset;
    pub const CWD_LEN: usize = EXEC_EV.field("cwd_len").offset;
    pub const EXE_LEN: usize = EXEC_EV.field("exe_len").offset;
    pub const FLAGS: usize = EXEC_EV.field("flags").offset;
    pub const TTY_MAJOR: usize = EXEC_EV.field("tty_major").offset;
    pub const TTY_MINOR: usize = EXEC_EV.field("tty_minor").offset;
    pub const TTY_NAME: usize = EXEC_EV.field("tty_name").offset;
    pub const TTY_NAME_LEN: usize = EXEC_EV.field("tty_name").size;
    pub const METHOD: usize = ENUM_EV.field("method").offset;
    pub const FAMILY: usize = ENUM_EV.field("family").offset;
    pub const PROTOCOL: usize = ENUM_EV.field("protocol").offset;
    pub const NL_TYPE: usize = ENUM_EV.field("nl_type").offset;
    pub const NL_FLAGS: usize = ENUM_EV.field("nl_flags").offset;
    pub const TABLE: usize = ENUM_EV.field("table").offset;
    pub const TABLE_LEN: usize = ENUM_EV.field("table").size;
}

/// `EV_EXEC`.
pub const EV_EXEC: u32 = 1;
/// `EV_FORK`.
pub const EV_FORK: u32 = 2;
/// `EV_EXIT`.
pub const EV_EXIT: u32 = 3;
/// `EV_ENUM`.
pub const EV_ENUM: u32 = 4;

/// `M_PROCFS`: a `/proc/net` table's seq_file.
pub const M_PROCFS: u32 = 1;
/// `M_SOCK_DIAG`: a NETLINK_SOCK_DIAG dump request.
pub const M_SOCK_DIAG: u32 = 2;

/// `sizeof(struct ev_hdr)`.
pub const HDR_LEN: usize = EV_HDR.size;
/// `sizeof(struct exec_ev)`.
pub const EXEC_HDR_LEN: usize = EXEC_EV.size;
/// `sizeof(struct enum_ev)`.
pub const ENUM_LEN: usize = ENUM_EV.size;

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
/// The kernel keeps no login uid or audit session (built without CONFIG_AUDIT).
pub const F_NO_LOGINUID: u32 = 1 << 7;

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
    /// A connection-table read record did not fit.
    pub const ENUM: u32 = 4;
    /// Number of slots.
    pub const COUNT: u32 = 5;
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

/// One read of a connection table. Byte fields borrow from the ring buffer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EnumRecord<'a> {
    /// The reading task.
    pub task: TaskRecord<'a>,
    /// [`M_PROCFS`] or [`M_SOCK_DIAG`].
    pub method: u32,
    /// sock_diag: the address family asked for (`AF_INET` 2, `AF_INET6` 10, `AF_UNIX` 1).
    pub family: u16,
    /// sock_diag: the protocol asked for (`IPPROTO_TCP` 6, ...).
    pub protocol: u8,
    /// sock_diag: the request's `nlmsg_type`.
    pub nl_type: u16,
    /// sock_diag: the request's `nlmsg_flags`.
    pub nl_flags: u16,
    /// procfs: the table file's name (`tcp6`), without the NUL padding.
    pub table: &'a [u8],
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
    /// A process read a connection table.
    Enum(EnumRecord<'a>),
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

fn u16_at(b: &[u8], off: usize) -> u16 {
    let mut a = [0u8; 2];
    a.copy_from_slice(&b[off..off + 2]);
    u16::from_ne_bytes(a)
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
        pid: u32_at(b, at::PID),
        tid: u32_at(b, at::TID),
        ppid: u32_at(b, at::PPID),
        ts_boot_ns: u64_at(b, at::TS),
        start_boot_ns: u64_at(b, at::START),
        parent_start_boot_ns: u64_at(b, at::PARENT_START),
        uid: u32_at(b, at::UID),
        euid: u32_at(b, at::EUID),
        gid: u32_at(b, at::GID),
        egid: u32_at(b, at::EGID),
        loginuid: u32_at(b, at::LOGINUID),
        sessionid: u32_at(b, at::SESSIONID),
        exit_code: u32_at(b, at::EXIT_CODE) as i32,
        comm: c_str(&b[at::COMM..at::COMM + at::COMM_LEN]),
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
    let kind = u32_at(b, at::KIND);
    match kind {
        EV_FORK => Ok(Record::Fork(parse_task(b))),
        EV_EXIT => Ok(Record::Exit(parse_task(b))),
        EV_ENUM => {
            if b.len() < ENUM_LEN {
                return Err(RecordError::Short {
                    len: b.len(),
                    need: ENUM_LEN,
                });
            }
            Ok(Record::Enum(EnumRecord {
                task: parse_task(b),
                method: u32_at(b, at::METHOD),
                family: u16_at(b, at::FAMILY),
                protocol: b[at::PROTOCOL],
                nl_type: u16_at(b, at::NL_TYPE),
                nl_flags: u16_at(b, at::NL_FLAGS),
                table: c_str(&b[at::TABLE..at::TABLE + at::TABLE_LEN]),
            }))
        }
        EV_EXEC => {
            if b.len() < EXEC_HDR_LEN {
                return Err(RecordError::Short {
                    len: b.len(),
                    need: EXEC_HDR_LEN,
                });
            }
            let lens = [
                u32_at(b, at::ARGS_LEN) as usize,
                u32_at(b, at::FILENAME_LEN) as usize,
                u32_at(b, at::CWD_LEN) as usize,
                u32_at(b, at::EXE_LEN) as usize,
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
                cgroup_id: u64_at(b, at::CGROUP_ID),
                argc: u32_at(b, at::ARGC),
                args_size: u32_at(b, at::ARGS_SIZE),
                flags: u32_at(b, at::FLAGS),
                tty_major: u32_at(b, at::TTY_MAJOR),
                tty_minor: u32_at(b, at::TTY_MINOR),
                tty_name: c_str(&b[at::TTY_NAME..at::TTY_NAME + at::TTY_NAME_LEN]),
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
    fn put(b: &mut [u8], off: usize, bytes: &[u8]) {
        b[off..off + bytes.len()].copy_from_slice(bytes);
    }
    /// `bytes` NUL-terminated in a field of `cap` bytes (cut to fit, as the kernel does).
    fn put_str(b: &mut [u8], off: usize, cap: usize, bytes: &[u8]) {
        let n = bytes.len().min(cap - 1);
        put(b, off, &bytes[..n]);
    }
    fn task(b: &mut [u8], kind: u32, t: &TaskRecord) {
        put(b, at::KIND, &kind.to_ne_bytes());
        for (off, v) in [
            (at::PID, t.pid),
            (at::TID, t.tid),
            (at::PPID, t.ppid),
            (at::UID, t.uid),
            (at::EUID, t.euid),
            (at::GID, t.gid),
            (at::EGID, t.egid),
            (at::LOGINUID, t.loginuid),
            (at::SESSIONID, t.sessionid),
        ] {
            put(b, off, &v.to_ne_bytes());
        }
        for (off, v) in [
            (at::TS, t.ts_boot_ns),
            (at::START, t.start_boot_ns),
            (at::PARENT_START, t.parent_start_boot_ns),
        ] {
            put(b, off, &v.to_ne_bytes());
        }
        put(b, at::EXIT_CODE, &t.exit_code.to_ne_bytes());
        put_str(b, at::COMM, at::COMM_LEN, t.comm);
    }
    match rec {
        Record::Fork(t) | Record::Exit(t) => {
            let kind = if matches!(rec, Record::Fork(_)) {
                EV_FORK
            } else {
                EV_EXIT
            };
            let mut b = vec![0u8; HDR_LEN];
            task(&mut b, kind, t);
            b
        }
        Record::Enum(e) => {
            let mut b = vec![0u8; ENUM_LEN];
            task(&mut b, EV_ENUM, &e.task);
            put(&mut b, at::METHOD, &e.method.to_ne_bytes());
            put(&mut b, at::FAMILY, &e.family.to_ne_bytes());
            put(&mut b, at::PROTOCOL, &[e.protocol]);
            put(&mut b, at::NL_TYPE, &e.nl_type.to_ne_bytes());
            put(&mut b, at::NL_FLAGS, &e.nl_flags.to_ne_bytes());
            put_str(&mut b, at::TABLE, at::TABLE_LEN, e.table);
            b
        }
        Record::Exec(e) => {
            let strings = [e.args, e.filename, e.cwd, e.exe];
            let mut b = vec![0u8; EXEC_HDR_LEN + strings.iter().map(|s| s.len()).sum::<usize>()];
            task(&mut b, EV_EXEC, &e.task);
            put(&mut b, at::CGROUP_ID, &e.cgroup_id.to_ne_bytes());
            for (off, v) in [
                (at::ARGC, e.argc),
                (at::ARGS_SIZE, e.args_size),
                (at::ARGS_LEN, e.args.len() as u32),
                (at::FILENAME_LEN, e.filename.len() as u32),
                (at::CWD_LEN, e.cwd.len() as u32),
                (at::EXE_LEN, e.exe.len() as u32),
                (at::FLAGS, e.flags),
                (at::TTY_MAJOR, e.tty_major),
                (at::TTY_MINOR, e.tty_minor),
            ] {
                put(&mut b, off, &v.to_ne_bytes());
            }
            put_str(&mut b, at::TTY_NAME, at::TTY_NAME_LEN, e.tty_name);
            let mut pos = EXEC_HDR_LEN;
            for part in strings {
                put(&mut b, pos, part);
                pos += part.len();
            }
            b
        }
    }
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
    fn the_layout_table_tiles_each_struct_and_starts_exec_with_the_header() {
        for l in layout::LAYOUTS {
            let mut end = 0;
            for f in l.fields {
                assert_eq!(
                    f.offset, end,
                    "{}.{} leaves a gap or overlaps",
                    l.name, f.name
                );
                end += f.size;
            }
            assert_eq!(end, l.size, "{}'s fields end at its size", l.name);
        }
        let h = EXEC_EV.field("h");
        assert_eq!((h.offset, h.size), (0, EV_HDR.size));
        // The integer fields the parser reads as u32/u64 have those sizes.
        for name in ["pid", "uid", "loginuid", "exit_code", "kind"] {
            assert_eq!(EV_HDR.field(name).size, 4, "{name}");
        }
        for name in ["ts_boot_ns", "start_boot_ns", "parent_start_boot_ns"] {
            assert_eq!(EV_HDR.field(name).size, 8, "{name}");
        }
        assert_eq!(EXEC_EV.field("cgroup_id").size, 8);
        for name in ["argc", "args_len", "exe_len", "flags", "tty_minor"] {
            assert_eq!(EXEC_EV.field(name).size, 4, "{name}");
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
    fn enumeration_records_round_trip_and_short_ones_are_errors() {
        let rec = Record::Enum(EnumRecord {
            task: sample_exec().task,
            method: M_SOCK_DIAG,
            family: 10,
            protocol: 6,
            nl_type: 20,
            nl_flags: 0x301,
            table: b"",
        });
        let bytes = encode(&rec);
        assert_eq!(bytes.len(), ENUM_LEN);
        assert_eq!(parse(&bytes), Ok(rec));
        let procfs = Record::Enum(EnumRecord {
            task: sample_exec().task,
            method: M_PROCFS,
            table: b"udplite6",
            ..EnumRecord::default()
        });
        assert_eq!(parse(&encode(&procfs)), Ok(procfs));
        let good = encode(&Record::Enum(EnumRecord::default()));
        assert!(matches!(
            parse(&good[..ENUM_LEN - 1]),
            Err(RecordError::Short { need: ENUM_LEN, .. })
        ));
        assert_eq!(ENUM_EV.field("h").size, EV_HDR.size);
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
