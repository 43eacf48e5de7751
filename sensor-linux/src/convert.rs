//! Kernel records → ECS [`Event`]s.
//!
//! ## Field rules
//! - `process.executable`: the path given to `execve`, made absolute against the working
//!   directory when it was relative (`./x` → `/home/u/x`); `process.name` is its file
//!   name. The file the kernel actually loaded (symlinks resolved; a `#!` script's
//!   interpreter) goes to `picket.executable_real` when it differs.
//! - `process.args` is the full argument area as the kernel holds it after `execve`,
//!   up to `max_args_bytes`; `process.args_count` is the kernel's argc even when the list
//!   was cut, and a cut list sets `picket.args_truncated`.
//! - **Bytes that are not UTF-8** (argv, paths) are never dropped silently: the string
//!   fields carry them lossily (each bad sequence becomes U+FFFD), and the exact bytes
//!   go alongside as lower-case hex: `picket.args_raw_hex` is an array as long as
//!   `process.args` holding the hex of every argument that was not UTF-8 and `null` for
//!   the others (present only when at least one was not); `picket.executable_raw_hex`
//!   and `picket.working_directory_raw_hex` likewise for those paths.
//! - Times: the kernel stamps CLOCK_BOOTTIME nanoseconds; they become wall-clock time by
//!   adding the current `CLOCK_REALTIME − CLOCK_BOOTTIME` offset (re-sampled every
//!   second, so NTP steps are followed and time spent suspended is counted).
//! - `user.*` is the real uid, `user.effective.*` the effective uid, `group.*` the real
//!   gid; `picket.user_groups` and `picket.user_shell` describe the effective user (its
//!   groups and login shell in the user database), for AN0904's UserContextScope.
//! - `picket.login_uid` and `picket.session_id` are left out when the kernel has them
//!   unset (`(u32)-1`: a process no login session started). On a kernel that keeps
//!   neither (built without CONFIG_AUDIT) they are left out too, and exec events list
//!   them in `picket.fields_unavailable`, so "not logged in" and "cannot know" differ.
//! - Fork events carry no `process.name`/`executable`: the child still runs its
//!   parent's image, and the process table copies the parent's. The forking thread's
//!   `comm` is kept in `picket.comm`.
//! - Connection-table reads (`event.category: process`, `event.type: info`,
//!   `event.action: connection-table-read`) carry the reader's task fields as an exec
//!   does (user, groups and shell for UserContextScope, login uid, parent), what it
//!   read in `picket.enumeration` (`method`, `tables`, `count`, and `first_seen` /
//!   `last_seen` when reads were folded), and the file it runs as the kernel has it
//!   (`/proc/PID/exe`) in `picket.executable_real` with its SHA-256 in
//!   `process.hash.sha256`, when still readable. Name, arguments and ancestry come from
//!   the process table, which knows the process from its exec.

use crate::enumeration::{method_name, Pending};
use crate::record::{
    ExecRecord, Record, TaskRecord, F_ARGS_TRUNCATED, F_ARGS_UNREADABLE, F_CWD_TRUNCATED,
    F_EXE_TRUNCATED, F_FILENAME_TRUNCATED, F_HAS_TTY, F_NO_LOGINUID,
};
use chrono::{DateTime, Utc};
use sensor_core::event::{
    entity_id, CharDevice, Enumeration, Event, Host, ParentProcess, Tty, User, UserRef,
};
use sensor_core::users::UserResolver;
use serde_json::{json, Value};

/// The name recorded in `picket.collector`.
pub const COLLECTOR_NAME: &str = "linux-ebpf";

/// `CLOCK_REALTIME − CLOCK_BOOTTIME`, in nanoseconds: boot-time stamp + offset = wall time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BootOffset(pub i128);

impl BootOffset {
    /// The wall-clock time of a CLOCK_BOOTTIME stamp.
    pub fn wall(self, boot_ns: u64) -> DateTime<Utc> {
        let ns = i128::from(boot_ns) + self.0;
        let ns = i64::try_from(ns).unwrap_or(if ns < 0 { 0 } else { i64::MAX });
        DateTime::<Utc>::from_timestamp_nanos(ns)
    }
}

/// The file a process runs, as `/proc/PID/exe` showed it when its read was handed on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExeInfo {
    /// The path (`readlink /proc/PID/exe`).
    pub path: String,
    /// Its SHA-256 in lower-case hex, when it could be read.
    pub sha256: Option<String>,
}

/// Turns records into events. Holds what is the same for every event.
#[derive(Debug)]
pub struct Converter {
    host: Host,
    host_id: String,
    offset: BootOffset,
    users: UserResolver,
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 15)] as char);
    }
    s
}

/// `{ts:x}-{pid:x}-{tag}`, the event's id, built by hand: this runs for every event.
fn event_id(ts_boot_ns: u64, pid: u32, tag: char) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut id = String::with_capacity(16 + 1 + 8 + 2);
    for v in [ts_boot_ns, u64::from(pid)] {
        let digits = (64 - v.leading_zeros()).div_ceil(4).max(1);
        for shift in (0..digits).rev() {
            id.push(DIGITS[((v >> (shift * 4)) & 15) as usize] as char);
        }
        id.push('-');
    }
    id.push(tag);
    id
}

/// Bytes as a string, plus whether they were valid UTF-8.
fn text(bytes: &[u8]) -> (String, bool) {
    match std::str::from_utf8(bytes) {
        Ok(s) => (s.to_string(), true),
        Err(_) => (String::from_utf8_lossy(bytes).into_owned(), false),
    }
}

/// Splits the argument area into arguments. Each argument ends in a NUL; a cut area
/// ends inside the last argument, which is kept as far as it goes.
pub fn split_args(area: &[u8]) -> Vec<&[u8]> {
    if area.is_empty() {
        return Vec::new();
    }
    let body = area.strip_suffix(&[0]).unwrap_or(area);
    body.split(|&b| b == 0).collect()
}

/// `dir` + `path` when `path` is relative, with `.` components dropped.
pub fn absolute(path: &[u8], cwd: &[u8]) -> Vec<u8> {
    if path.first() == Some(&b'/') || cwd.is_empty() {
        return path.to_vec();
    }
    let mut out = cwd.to_vec();
    for part in path.split(|&b| b == b'/') {
        if part.is_empty() || part == b"." {
            continue;
        }
        if out.last() != Some(&b'/') {
            out.push(b'/');
        }
        out.extend_from_slice(part);
    }
    out
}

/// A kernel tty name as a device path: `pts3` → `/dev/pts/3`, `tty1` → `/dev/tty1`.
pub fn tty_path(name: &str) -> String {
    match name.strip_prefix("pts") {
        Some(n) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => {
            format!("/dev/pts/{n}")
        }
        _ => format!("/dev/{name}"),
    }
}

/// The exit code a shell would show for a wait status: the code, or 128 + signal.
pub fn exit_code(status: i32) -> (i64, Option<i64>) {
    let signal = status & 0x7f;
    if signal == 0 {
        (i64::from((status >> 8) & 0xff), None)
    } else {
        (128 + i64::from(signal), Some(i64::from(signal)))
    }
}

impl Converter {
    /// A converter stamping `host` on every event.
    pub fn new(host: Host, offset: BootOffset) -> Self {
        let host_id = host
            .id
            .clone()
            .or_else(|| host.name.clone())
            .unwrap_or_else(|| "localhost".into());
        Self {
            host,
            host_id,
            offset,
            users: UserResolver::new(),
        }
    }

    /// Replaces the boot-to-wall offset (sampled again every second).
    pub fn set_offset(&mut self, offset: BootOffset) {
        self.offset = offset;
    }

    /// A folded connection-table read as an event (`read.exe`: what `/proc/PID/exe`
    /// said when the read started).
    pub fn enumeration(&self, read: &Pending) -> Event {
        let exe = read.exe.as_ref();
        let mut ev = Event::connection_table_read(self.offset.wall(read.first_ns));
        self.task(&mut ev, &read.task(), 'n');
        let mut e = Enumeration {
            method: Some(method_name(read.method).into()),
            tables: read.tables.clone(),
            count: Some(read.count),
            ..Enumeration::default()
        };
        if read.count > 1 {
            e.other.insert(
                "first_seen".into(),
                json!(self.offset.wall(read.first_ns).to_rfc3339()),
            );
            e.other.insert(
                "last_seen".into(),
                json!(self.offset.wall(read.last_ns).to_rfc3339()),
            );
        }
        ev.picket.enumeration = Some(e);
        if let Some(x) = exe {
            ev.picket
                .other
                .insert("executable_real".into(), Value::String(x.path.clone()));
            if let Some(h) = &x.sha256 {
                ev.process
                    .other
                    .insert("hash".into(), json!({ "sha256": h }));
            }
        }
        ev
    }

    /// The record as an event. A connection-table read becomes one event here, unfolded
    /// (the reader folds them first: [`Converter::enumeration`]).
    pub fn convert(&self, record: &Record<'_>) -> Event {
        match record {
            Record::Enum(r) => self.enumeration(&Pending::new(r)),
            Record::Exec(e) => self.exec(e),
            Record::Fork(t) => {
                let mut ev = Event::fork(self.offset.wall(t.ts_boot_ns));
                self.task(&mut ev, t, 'f');
                ev
            }
            Record::Exit(t) => {
                let mut ev = Event::exit(self.offset.wall(t.ts_boot_ns));
                self.task(&mut ev, t, 'x');
                let (code, signal) = exit_code(t.exit_code);
                ev.process.exit_code = Some(code);
                if let Some(sig) = signal {
                    ev.picket.other.insert("exit_signal".into(), json!(sig));
                }
                ev
            }
        }
    }

    /// The fields every kind shares.
    fn task(&self, ev: &mut Event, t: &TaskRecord<'_>, tag: char) {
        ev.event.id = Some(event_id(t.ts_boot_ns, t.pid, tag));
        ev.host = self.host.clone();
        let start = self.offset.wall(t.start_boot_ns);
        ev.process.pid = Some(t.pid);
        ev.process.start = Some(start);
        ev.process.entity_id = Some(entity_id(&self.host_id, t.pid, start));
        if t.ppid != 0 {
            let mut parent = ParentProcess {
                pid: Some(t.ppid),
                ..ParentProcess::default()
            };
            if t.parent_start_boot_ns != 0 {
                let pstart = self.offset.wall(t.parent_start_boot_ns);
                parent.start = Some(pstart);
                parent.entity_id = Some(entity_id(&self.host_id, t.ppid, pstart));
            }
            ev.process.parent = Some(Box::new(parent));
        }
        let real = self.users.user(t.uid);
        let effective = if t.euid == t.uid {
            real.clone()
        } else {
            self.users.user(t.euid)
        };
        ev.user = User {
            id: Some(t.uid.to_string()),
            name: real.as_ref().map(|u| u.name.clone()),
            effective: Some(UserRef {
                id: Some(t.euid.to_string()),
                name: effective.as_ref().map(|u| u.name.clone()),
                ..UserRef::default()
            }),
            ..User::default()
        };
        ev.group.id = Some(t.gid.to_string());
        ev.group.name = self.users.group_name(t.gid).map(|g| g.to_string());
        if t.egid != t.gid {
            ev.picket.other.insert(
                "effective_group".into(),
                json!({
                    "id": t.egid.to_string(),
                    "name": self.users.group_name(t.egid).map(|g| g.to_string()),
                }),
            );
        }
        ev.picket.collector = Some(COLLECTOR_NAME.into());
        ev.picket.login_uid = (t.loginuid != u32::MAX).then_some(t.loginuid);
        ev.picket.session_id = (t.sessionid != u32::MAX).then_some(t.sessionid);
        ev.picket
            .other
            .insert("comm".into(), Value::String(text(t.comm).0));
        // UserContextScope reads the effective user's groups and shell on what it judges.
        if tag == 'e' || tag == 'n' {
            if let Some(u) = &effective {
                ev.picket.user_groups.clone_from(&u.groups);
                ev.picket.user_shell.clone_from(&u.shell);
            }
        }
    }

    fn exec(&self, e: &ExecRecord<'_>) -> Event {
        let mut ev = Event::exec(self.offset.wall(e.task.ts_boot_ns));
        self.task(&mut ev, &e.task, 'e');
        // Working directory.
        if !e.cwd.is_empty() {
            let (cwd, ok) = text(e.cwd);
            if !ok {
                ev.picket
                    .other
                    .insert("working_directory_raw_hex".into(), json!(hex(e.cwd)));
            }
            ev.process.working_directory = Some(cwd);
        }
        if e.flags & F_CWD_TRUNCATED != 0 {
            ev.picket
                .other
                .insert("working_directory_truncated".into(), json!(true));
        }

        // Executable.
        let exec_path = absolute(e.filename, e.cwd);
        if !e.exe.is_empty() && e.exe != exec_path {
            ev.picket
                .other
                .insert("executable_real".into(), Value::String(text(e.exe).0));
        }
        if e.flags & (F_FILENAME_TRUNCATED | F_EXE_TRUNCATED) != 0 {
            ev.picket
                .other
                .insert("executable_truncated".into(), json!(true));
        }
        let exe = match String::from_utf8(exec_path) {
            Ok(exe) => exe,
            Err(bad) => {
                let bytes = bad.into_bytes();
                ev.picket
                    .other
                    .insert("executable_raw_hex".into(), json!(hex(&bytes)));
                String::from_utf8_lossy(&bytes).into_owned()
            }
        };
        if !exe.is_empty() {
            ev.set_executable(exe);
        } else if !e.task.comm.is_empty() {
            ev.process.name = Some(text(e.task.comm).0);
        }

        // Arguments.
        let raw = split_args(e.args);
        let mut args = Vec::with_capacity(raw.len());
        // Only for an argument list with bytes that are not UTF-8 (rare).
        let mut raw_hex: Option<Vec<Value>> = None;
        for (i, a) in raw.iter().enumerate() {
            let (s, ok) = text(a);
            if !ok {
                raw_hex.get_or_insert_with(|| vec![Value::Null; i]);
            }
            if let Some(list) = raw_hex.as_mut() {
                list.push(if ok {
                    Value::Null
                } else {
                    Value::String(hex(a))
                });
            }
            args.push(s);
        }
        if let Some(list) = raw_hex {
            ev.picket
                .other
                .insert("args_raw_hex".into(), Value::Array(list));
        }
        if e.flags & F_ARGS_UNREADABLE != 0 {
            ev.picket
                .other
                .insert("args_unreadable".into(), json!(true));
        }
        ev.picket.args_truncated = e.flags & (F_ARGS_TRUNCATED | F_ARGS_UNREADABLE) != 0
            || (raw.len() as u64) < u64::from(e.argc);
        ev.set_argv(args);
        ev.process.args_count = Some(u64::from(e.argc).max(raw.len() as u64));

        // Terminal.
        let has_tty = e.flags & F_HAS_TTY != 0;
        ev.process.interactive = Some(has_tty);
        if has_tty {
            let mut tty = Tty {
                char_device: Some(CharDevice {
                    major: Some(e.tty_major),
                    minor: Some(e.tty_minor),
                    ..CharDevice::default()
                }),
                ..Tty::default()
            };
            let (name, _) = text(e.tty_name);
            if !name.is_empty() {
                tty.other
                    .insert("name".into(), Value::String(tty_path(&name)));
            }
            ev.process.tty = Some(tty);
        }

        ev.picket
            .other
            .insert("cgroup_id".into(), json!(e.cgroup_id));
        if e.flags & F_NO_LOGINUID != 0 {
            ev.picket.other.insert(
                "fields_unavailable".into(),
                json!(["picket.login_uid", "picket.session_id"]),
            );
        }
        ev
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sensor_core::event::{FieldValue, HostOs};

    fn converter() -> Converter {
        Converter::new(
            Host {
                name: Some("box".into()),
                id: Some("mid".into()),
                os: Some(HostOs {
                    os_type: Some("linux".into()),
                    ..HostOs::default()
                }),
                ..Host::default()
            },
            BootOffset(1_700_000_000_000_000_000),
        )
    }

    fn exec_record(args: &[u8], argc: u32, flags: u32) -> Record<'_> {
        Record::Exec(Box::new(ExecRecord {
            task: TaskRecord {
                pid: 10,
                tid: 10,
                ppid: 9,
                ts_boot_ns: 2_000_000_000,
                start_boot_ns: 1_500_000_000,
                parent_start_boot_ns: 1_000_000_000,
                uid: 0,
                euid: 0,
                gid: 0,
                egid: 0,
                loginuid: u32::MAX,
                sessionid: 4,
                exit_code: 0,
                comm: b"netstat",
            },
            cgroup_id: 99,
            argc,
            args_size: args.len() as u32,
            flags,
            tty_major: 136,
            tty_minor: 0,
            tty_name: b"pts0",
            args,
            filename: b"./netstat",
            cwd: b"/usr/bin",
            exe: b"/usr/bin/netstat",
        }))
    }

    #[test]
    fn a_kernel_without_login_uids_leaves_them_empty_and_says_so() {
        let ev = converter().convert(&exec_record(b"ss\0", 1, F_NO_LOGINUID));
        assert_eq!(ev.field("picket.login_uid"), FieldValue::Missing);
        assert_eq!(
            ev.picket.other.get("fields_unavailable"),
            Some(&json!(["picket.login_uid", "picket.session_id"]))
        );
        let ordinary = converter().convert(&exec_record(b"ss\0", 1, 0));
        assert_eq!(ordinary.picket.other.get("fields_unavailable"), None);
    }

    #[test]
    fn the_event_id_is_boot_time_and_pid_in_hex_and_the_kind() {
        for (ts, pid, tag) in [
            (0, 0, 'e'),
            (2_000_000_000, 10, 'f'),
            (u64::MAX, u32::MAX, 'x'),
        ] {
            assert_eq!(event_id(ts, pid, tag), format!("{ts:x}-{pid:x}-{tag}"));
        }
        let ev = converter().convert(&exec_record(b"ss\0", 1, 0));
        assert_eq!(ev.event.id.as_deref(), Some("77359400-a-e"));
    }

    #[test]
    fn exec_fields() {
        let ev = converter().convert(&exec_record(b"netstat\0-tan\0", 2, F_HAS_TTY));
        assert_eq!(ev.process.pid, Some(10));
        assert_eq!(ev.field("process.parent.pid"), FieldValue::Int(9));
        assert_eq!(ev.process.executable.as_deref(), Some("/usr/bin/netstat"));
        assert_eq!(ev.process.name.as_deref(), Some("netstat"));
        assert_eq!(ev.process.args, vec!["netstat", "-tan"]);
        assert_eq!(ev.process.args_count, Some(2));
        assert_eq!(ev.process.command_line.as_deref(), Some("netstat -tan"));
        assert_eq!(ev.process.working_directory.as_deref(), Some("/usr/bin"));
        assert_eq!(ev.process.interactive, Some(true));
        let tty = ev.process.tty.as_ref().expect("tty");
        assert_eq!(tty.other.get("name"), Some(&json!("/dev/pts/0")));
        assert_eq!(
            tty.char_device.as_ref().and_then(|c| c.major.zip(c.minor)),
            Some((136, 0))
        );
        assert_eq!(ev.field("user.id"), FieldValue::Str("0"));
        assert_eq!(ev.field("user.name"), FieldValue::Str("root"));
        assert_eq!(ev.field("user.effective.name"), FieldValue::Str("root"));
        assert_eq!(ev.field("picket.collector"), FieldValue::Str("linux-ebpf"));
        assert_eq!(ev.field("picket.cgroup_id"), FieldValue::Int(99));
        assert_eq!(ev.field("picket.login_uid"), FieldValue::Missing);
        assert_eq!(ev.picket.session_id, Some(4));
        assert!(!ev.picket.args_truncated);
        assert!(!ev.picket.user_groups.is_empty());
        assert!(matches!(ev.field("picket.user_shell"), FieldValue::Str(s) if s.starts_with('/')));
        // Same path resolved and given: no executable_real.
        assert_eq!(ev.field("picket.executable_real"), FieldValue::Missing);
        // Boot-time 2 s after an offset of 1.7e9 s.
        assert_eq!(ev.timestamp.timestamp(), 1_700_000_002);
        assert_eq!(
            ev.process.start.map(|s| s.timestamp_millis()),
            Some(1_700_000_001_500)
        );
        assert_eq!(
            ev.process.entity_id.as_deref(),
            Some("mid-10-1700000001500000000")
        );
        assert_eq!(
            ev.process
                .parent
                .as_ref()
                .and_then(|p| p.entity_id.as_deref()),
            Some("mid-9-1700000001000000000")
        );
    }

    #[test]
    fn non_utf8_arguments_keep_their_bytes_in_hex() {
        let ev = converter().convert(&exec_record(b"printf\0ok\0\xff\xfeA\0", 3, 0));
        assert_eq!(ev.process.args, vec!["printf", "ok", "\u{FFFD}\u{FFFD}A"]);
        assert_eq!(
            ev.picket.other.get("args_raw_hex"),
            Some(&json!([null, null, "fffe41"]))
        );
        let first = converter().convert(&exec_record(b"\xff\0ok\0", 2, 0));
        assert_eq!(
            first.picket.other.get("args_raw_hex"),
            Some(&json!(["ff", null]))
        );
        let valid = converter().convert(&exec_record(b"printf\0ok\0", 2, 0));
        assert!(valid.picket.other.get("args_raw_hex").is_none());
        assert!(valid.picket.other.get("executable_raw_hex").is_none());
    }

    #[test]
    fn a_non_utf8_executable_keeps_its_bytes_in_hex() {
        let Record::Exec(mut e) = exec_record(b"x\0", 1, 0) else {
            unreachable!("an exec record")
        };
        e.filename = b"/tmp/\xffx";
        e.exe = b"";
        let ev = converter().convert(&Record::Exec(e));
        assert_eq!(ev.process.executable.as_deref(), Some("/tmp/\u{FFFD}x"));
        assert_eq!(ev.process.name.as_deref(), Some("\u{FFFD}x"));
        assert_eq!(
            ev.picket.other.get("executable_raw_hex"),
            Some(&json!("2f746d702fff78"))
        );
    }

    #[test]
    fn truncation_is_flagged_and_the_partial_argument_kept() {
        // argc says 3, the area was cut inside the second argument.
        let ev = converter().convert(&exec_record(b"echo\0aaaa", 3, F_ARGS_TRUNCATED));
        assert!(ev.picket.args_truncated);
        assert_eq!(ev.process.args, vec!["echo", "aaaa"]);
        assert_eq!(ev.process.args_count, Some(3));
        assert_eq!(ev.field("picket.args_truncated"), FieldValue::Bool(true));
    }

    #[test]
    fn empty_arguments_survive() {
        assert_eq!(split_args(b"a\0\0b\0"), vec![&b"a"[..], b"", b"b"]);
        assert_eq!(split_args(b"\0"), vec![&b""[..]]);
        assert!(split_args(b"").is_empty());
    }

    #[test]
    fn fork_and_exit() {
        let c = converter();
        let task = TaskRecord {
            pid: 20,
            ppid: 10,
            ts_boot_ns: 3,
            start_boot_ns: 3,
            exit_code: 9, // killed by SIGKILL
            comm: b"tokio-runtime-w",
            ..TaskRecord::default()
        };
        let fork = c.convert(&Record::Fork(task.clone()));
        assert_eq!(fork.event.action.as_deref(), Some("fork"));
        assert_eq!(fork.process.name, None);
        assert_eq!(
            fork.field("picket.comm"),
            FieldValue::Str("tokio-runtime-w")
        );
        let exit = c.convert(&Record::Exit(task));
        assert_eq!(exit.event.action.as_deref(), Some("exit"));
        assert_eq!(exit.process.exit_code, Some(137));
        assert_eq!(exit.field("picket.exit_signal"), FieldValue::Int(9));
        assert_eq!(exit_code(3 << 8), (3, None));
    }

    #[test]
    fn a_folded_read_carries_what_was_read_who_read_it_and_the_real_executable() {
        use crate::enumeration::Aggregator;
        use crate::record::{EnumRecord, M_PROCFS};
        let mut agg = Aggregator::new(1000);
        let task = TaskRecord {
            pid: 77,
            ppid: 70,
            ts_boot_ns: 2_000_000_000,
            start_boot_ns: 1_000_000_000,
            uid: 0,
            euid: 0,
            loginuid: 1000,
            sessionid: u32::MAX,
            comm: b"python3",
            ..TaskRecord::default()
        };
        for (table, at) in [(&b"tcp"[..], 0), (b"tcp6", 5_000_000), (b"tcp", 9_000_000)] {
            let rec = EnumRecord {
                task: TaskRecord {
                    ts_boot_ns: task.ts_boot_ns + at,
                    ..task.clone()
                },
                method: M_PROCFS,
                table,
                ..EnumRecord::default()
            };
            let exe = |_| {
                Some(ExeInfo {
                    path: "/usr/bin/python3.11".into(),
                    sha256: Some("ab".repeat(32)),
                })
            };
            assert_eq!(agg.add(&rec, exe), None);
        }
        let mut out = Vec::new();
        agg.take_all(&mut out);
        let ev = converter().enumeration(&out[0]);
        assert!(ev.is_connection_table_read());
        assert_eq!(ev.event.category, vec!["process"]);
        assert_eq!(ev.event.kind_type, vec!["info"]);
        assert_eq!(ev.process.pid, Some(77));
        assert_eq!(ev.field("process.parent.pid"), FieldValue::Int(70));
        assert_eq!(ev.field("user.name"), FieldValue::Str("root"));
        assert!(
            !ev.picket.user_groups.is_empty(),
            "groups for UserContextScope"
        );
        assert_eq!(ev.picket.login_uid, Some(1000));
        assert_eq!(ev.field("picket.comm"), FieldValue::Str("python3"));
        assert_eq!(
            ev.field("picket.enumeration.method"),
            FieldValue::Str("procfs")
        );
        assert_eq!(
            ev.picket.enumeration.as_ref().map(|e| e.tables.clone()),
            Some(vec!["tcp".to_string(), "tcp6".to_string()])
        );
        assert_eq!(ev.field("picket.enumeration.count"), FieldValue::Int(3));
        assert!(matches!(
            ev.field("picket.enumeration.last_seen"),
            FieldValue::Str(_)
        ));
        assert_eq!(
            ev.field("picket.executable_real"),
            FieldValue::Str("/usr/bin/python3.11")
        );
        let hash = "ab".repeat(32);
        assert_eq!(
            ev.field("process.hash.sha256"),
            FieldValue::Str(hash.as_str())
        );
        assert_eq!(
            ev.timestamp.timestamp(),
            1_700_000_002,
            "the first read's time"
        );
        assert_eq!(ev.process.name, None, "the process table names it");
    }

    #[test]
    fn paths() {
        assert_eq!(absolute(b"./x", b"/home/u"), b"/home/u/x");
        assert_eq!(absolute(b"bin/x", b"/"), b"/bin/x");
        assert_eq!(absolute(b"/bin/x", b"/home"), b"/bin/x");
        assert_eq!(tty_path("pts12"), "/dev/pts/12");
        assert_eq!(tty_path("tty1"), "/dev/tty1");
        assert_eq!(tty_path("ttyS0"), "/dev/ttyS0");
    }
}
