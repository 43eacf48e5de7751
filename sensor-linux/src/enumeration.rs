//! Connection-table reads (`EV_ENUM` records) before they become events: which table
//! a record names, and the folding of one process's repeated reads into one event.
//!
//! The kernel side already makes one pass over a `/proc/net` table one record (only the
//! read() chunk at offset 0 is reported) and one sock_diag dump request one record.
//! Here a process's records of one method within `window` of its first become one
//! [`Pending`] read: the tables in the order first read and how many reads there were.
//! It is handed on when the window closes, when the process exits (so a short-lived
//! tool's event does not wait for the window), or at shutdown. Plain data and logic, on
//! every OS.

use crate::convert::ExeInfo;
use crate::record::{EnumRecord, TaskRecord, M_PROCFS, M_SOCK_DIAG};
use std::collections::HashMap;

/// Reads held at once; past this a new read is handed on at once, unfolded, so memory
/// stays bounded whatever the kernel sends.
pub const MAX_PENDING: usize = 4096;

/// `procfs` or `sock_diag`: `picket.enumeration.method`.
pub fn method_name(method: u32) -> &'static str {
    match method {
        M_PROCFS => "procfs",
        M_SOCK_DIAG => "sock_diag",
        _ => "unknown",
    }
}

/// The table a record reads, in the names of `/proc/net`: a procfs record names its
/// file (`tcp6`); a sock_diag request is named by family and protocol the same way
/// (`AF_INET6` + `IPPROTO_TCP` → `tcp6`, `AF_UNIX` → `unix`), so one list of tables
/// covers both methods.
pub fn table_name(rec: &EnumRecord<'_>) -> String {
    if rec.method == M_PROCFS {
        return String::from_utf8_lossy(rec.table).into_owned();
    }
    const AF_UNIX: u16 = 1;
    const AF_INET: u16 = 2;
    const AF_INET6: u16 = 10;
    const AF_NETLINK: u16 = 16;
    const AF_PACKET: u16 = 17;
    const AF_VSOCK: u16 = 40;
    const AF_XDP: u16 = 44;
    match rec.family {
        AF_INET | AF_INET6 => {
            let v6 = if rec.family == AF_INET6 { "6" } else { "" };
            let base = match rec.protocol {
                6 => "tcp",
                17 => "udp",
                33 => "dccp",
                132 => "sctp",
                136 => "udplite",
                255 => "raw",
                p => return format!("inet{v6}-protocol-{p}"),
            };
            format!("{base}{v6}")
        }
        AF_UNIX => "unix".into(),
        AF_PACKET => "packet".into(),
        AF_NETLINK => "netlink".into(),
        AF_VSOCK => "vsock".into(),
        AF_XDP => "xdp".into(),
        f => format!("family-{f}"),
    }
}

/// One process's reads of one method, folded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    /// The reader at its first read (`comm` is in [`Pending::comm`]).
    pub task: TaskRecord<'static>,
    /// The reader's `comm` at its first read.
    pub comm: Vec<u8>,
    /// [`M_PROCFS`] or [`M_SOCK_DIAG`].
    pub method: u32,
    /// Tables read, in the order first read, each once.
    pub tables: Vec<String>,
    /// Reads folded in (at least 1).
    pub count: u64,
    /// CLOCK_BOOTTIME ns of the first read.
    pub first_ns: u64,
    /// CLOCK_BOOTTIME ns of the last read.
    pub last_ns: u64,
    /// What the process ran when its first read was taken (`/proc/PID/exe`, looked up
    /// then: by its exit the process is gone).
    pub exe: Option<ExeInfo>,
}

impl Pending {
    /// One read, nothing folded in yet.
    pub fn new(rec: &EnumRecord<'_>) -> Pending {
        Pending {
            task: TaskRecord {
                comm: &[],
                ..rec.task.clone()
            },
            comm: rec.task.comm.to_vec(),
            method: rec.method,
            tables: vec![table_name(rec)],
            count: 1,
            first_ns: rec.task.ts_boot_ns,
            last_ns: rec.task.ts_boot_ns,
            exe: None,
        }
    }

    /// The reader as a task record, `comm` included.
    pub fn task(&self) -> TaskRecord<'_> {
        TaskRecord {
            comm: &self.comm,
            ..self.task.clone()
        }
    }
}

/// Folds reads by (process, method) within a window of the first.
#[derive(Debug)]
pub struct Aggregator {
    window_ns: u64,
    pending: HashMap<(u32, u32), Pending>,
}

impl Aggregator {
    /// Folding over `window_ms` milliseconds; 0 hands every read on as it comes.
    pub fn new(window_ms: u64) -> Aggregator {
        Aggregator {
            window_ns: window_ms.saturating_mul(1_000_000),
            pending: HashMap::new(),
        }
    }

    /// Reads held now.
    pub fn len(&self) -> usize {
        self.pending.len()
    }

    /// True when nothing is held.
    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    /// Takes one record; returns a read to hand on now (no folding, or no room).
    /// `exe` is asked (once per new read, with the pid) what the process runs.
    pub fn add(
        &mut self,
        rec: &EnumRecord<'_>,
        exe: impl FnOnce(u32) -> Option<ExeInfo>,
    ) -> Option<Pending> {
        let fresh = |rec: &EnumRecord<'_>, exe: Option<ExeInfo>| Pending {
            exe,
            ..Pending::new(rec)
        };
        if self.window_ns == 0 {
            return Some(fresh(rec, exe(rec.task.pid)));
        }
        let key = (rec.task.pid, rec.method);
        if let Some(p) = self.pending.get_mut(&key) {
            // A record of a new process with a reused pid starts its own read.
            if p.task.start_boot_ns == rec.task.start_boot_ns {
                p.count += 1;
                p.last_ns = p.last_ns.max(rec.task.ts_boot_ns);
                let table = table_name(rec);
                if !p.tables.contains(&table) {
                    p.tables.push(table);
                }
                return None;
            }
            let old = self.pending.remove(&key);
            self.pending.insert(key, fresh(rec, exe(rec.task.pid)));
            return old;
        }
        let read = fresh(rec, exe(rec.task.pid));
        if self.pending.len() >= MAX_PENDING {
            return Some(read);
        }
        self.pending.insert(key, read);
        None
    }

    /// Moves the reads whose window closed by `now_boot_ns` into `out`, oldest first.
    pub fn take_due(&mut self, now_boot_ns: u64, out: &mut Vec<Pending>) {
        let window = self.window_ns;
        self.take_where(out, |p| now_boot_ns.saturating_sub(p.first_ns) >= window);
    }

    /// Moves the reads of process `pid` into `out` (it exited).
    pub fn take_pid(&mut self, pid: u32, out: &mut Vec<Pending>) {
        self.take_where(out, |p| p.task.pid == pid);
    }

    /// Moves every read into `out` (shutdown).
    pub fn take_all(&mut self, out: &mut Vec<Pending>) {
        self.take_where(out, |_| true);
    }

    fn take_where(&mut self, out: &mut Vec<Pending>, due: impl Fn(&Pending) -> bool) {
        if self.pending.is_empty() {
            return;
        }
        let before = out.len();
        let keys: Vec<(u32, u32)> = self
            .pending
            .iter()
            .filter(|(_, p)| due(p))
            .map(|(k, _)| *k)
            .collect();
        for k in keys {
            if let Some(p) = self.pending.remove(&k) {
                out.push(p);
            }
        }
        out[before..].sort_by_key(|p| p.first_ns);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    impl Aggregator {
        /// `add` with no executable look-up.
        fn add_plain(&mut self, rec: &EnumRecord<'_>) -> Option<Pending> {
            self.add(rec, |_| None)
        }
    }

    #[test]
    fn the_executable_is_looked_up_once_when_a_read_starts() {
        let mut agg = Aggregator::new(1000);
        let mut asked = Vec::new();
        for at in [1, 2, 3] {
            let exe = |pid| {
                asked.push(pid);
                Some(ExeInfo {
                    path: "/tmp/xq".into(),
                    sha256: None,
                })
            };
            assert_eq!(agg.add(&rec(9, M_PROCFS, b"tcp", 0, at), exe), None);
        }
        assert_eq!(asked, vec![9]);
        let mut out = Vec::new();
        agg.take_all(&mut out);
        assert_eq!(
            out[0].exe.as_ref().map(|e| e.path.as_str()),
            Some("/tmp/xq")
        );
    }

    fn rec(
        pid: u32,
        method: u32,
        table: &'static [u8],
        family: u16,
        at: u64,
    ) -> EnumRecord<'static> {
        EnumRecord {
            task: TaskRecord {
                pid,
                tid: pid,
                ts_boot_ns: at,
                start_boot_ns: 7,
                comm: b"xq",
                ..TaskRecord::default()
            },
            method,
            family,
            protocol: 6,
            nl_type: 20,
            nl_flags: 0x301,
            table,
        }
    }

    #[test]
    fn tables_are_named_alike_for_both_methods() {
        assert_eq!(table_name(&rec(1, M_PROCFS, b"tcp6", 0, 0)), "tcp6");
        assert_eq!(table_name(&rec(1, M_SOCK_DIAG, b"", 2, 0)), "tcp");
        assert_eq!(table_name(&rec(1, M_SOCK_DIAG, b"", 10, 0)), "tcp6");
        assert_eq!(table_name(&rec(1, M_SOCK_DIAG, b"", 1, 0)), "unix");
        assert_eq!(table_name(&rec(1, M_SOCK_DIAG, b"", 17, 0)), "packet");
        let mut udp6 = rec(1, M_SOCK_DIAG, b"", 10, 0);
        udp6.protocol = 17;
        assert_eq!(table_name(&udp6), "udp6");
        udp6.protocol = 99;
        assert_eq!(table_name(&udp6), "inet6-protocol-99");
        assert_eq!(table_name(&rec(1, M_SOCK_DIAG, b"", 99, 0)), "family-99");
    }

    #[test]
    fn reads_fold_per_process_and_method_within_the_window() {
        let mut agg = Aggregator::new(1000);
        let ms = 1_000_000;
        assert_eq!(agg.add_plain(&rec(5, M_PROCFS, b"tcp", 0, 10 * ms)), None);
        assert_eq!(agg.add_plain(&rec(5, M_PROCFS, b"tcp6", 0, 20 * ms)), None);
        assert_eq!(agg.add_plain(&rec(5, M_PROCFS, b"tcp", 0, 30 * ms)), None);
        assert_eq!(agg.add_plain(&rec(5, M_SOCK_DIAG, b"", 1, 40 * ms)), None);
        assert_eq!(agg.add_plain(&rec(6, M_PROCFS, b"unix", 0, 50 * ms)), None);
        assert_eq!(agg.len(), 3);
        let mut out = Vec::new();
        agg.take_due(500 * ms, &mut out);
        assert!(out.is_empty(), "no window has closed");
        agg.take_due(1015 * ms, &mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].tables, vec!["tcp", "tcp6"]);
        assert_eq!(
            (out[0].count, out[0].first_ns, out[0].last_ns),
            (3, 10 * ms, 30 * ms)
        );
        assert_eq!(out[0].task().comm, b"xq");
        out.clear();
        agg.take_pid(5, &mut out);
        assert_eq!(out.len(), 1, "the exit hands on what the process still had");
        assert_eq!(
            (out[0].method, out[0].tables.clone()),
            (M_SOCK_DIAG, vec!["unix".to_string()])
        );
        out.clear();
        agg.take_all(&mut out);
        assert_eq!(out.len(), 1);
        assert!(agg.is_empty());
    }

    #[test]
    fn no_window_hands_every_read_on_and_a_reused_pid_starts_anew() {
        let mut now = Aggregator::new(0);
        assert!(now.add_plain(&rec(5, M_PROCFS, b"tcp", 0, 1)).is_some());
        assert!(now.is_empty());
        let mut agg = Aggregator::new(1000);
        assert_eq!(agg.add_plain(&rec(5, M_PROCFS, b"tcp", 0, 1)), None);
        let mut reused = rec(5, M_PROCFS, b"udp", 0, 2);
        reused.task.start_boot_ns = 8;
        let old = agg
            .add_plain(&reused)
            .expect("the old process's read is handed on");
        assert_eq!(old.tables, vec!["tcp"]);
        assert_eq!(agg.len(), 1);
    }

    #[test]
    fn held_reads_are_bounded() {
        let mut agg = Aggregator::new(1000);
        for pid in 0..MAX_PENDING as u32 {
            assert_eq!(agg.add_plain(&rec(pid, M_PROCFS, b"tcp", 0, 1)), None);
        }
        assert!(agg
            .add_plain(&rec(u32::MAX, M_PROCFS, b"tcp", 0, 1))
            .is_some());
        assert_eq!(agg.len(), MAX_PENDING);
    }
}
