//! The live Windows collector: process start and end from ETW.
//!
//! ## Which ETW source, and why
//! Two kernel sources report process creation:
//! - the manifest provider `Microsoft-Windows-Kernel-Process` (ProcessStart, event 1)
//!   carries the image name and parent pid but **no command line and no user SID**;
//! - the NT Kernel Logger's classic `Process` events (MOF class `Process_V4_TypeGroup1`,
//!   enabled by `EVENT_TRACE_FLAG_PROCESS`) carry `CommandLine` (UTF-16) and `UserSID`
//!   as well as `ProcessId`, `ParentId`, `SessionId`, `ExitStatus` and `ImageFileName`.
//!
//! The Elastic rule reads `process.args` and `user.id`, so Picket uses the kernel logger
//! (through `ferrisetw`'s `KernelTrace`, a private system-logger session on Windows 8 and
//! later, so it does not fight other tools for the single "NT Kernel Logger").
//! Opcode 1 is a start, 2 an end, 3/4 the rundown of processes already running when the
//! session opens and closes (dropped: see [`map_kernel_process`]).
//!
//! ## Never panicking on event data
//! `ferrisetw`'s parser has limits: counted strings hit `unimplemented!()` (and a panic
//! in a callback ends the process), and `UserSID` arrives as a WBEM SID, a `TOKEN_USER`
//! header in front of the SID. So the live code only asks `ferrisetw` for `u32`s and raw
//! bytes, and every decoding step (strings, SIDs, timestamps) is the plain code in this
//! module, which is bounds-checked and unit-tested on every OS.
//!
//! ## Enrichment
//! `ImageFileName` is the kernel's 15-character short name, so the full path comes from
//! the process itself (`QueryFullProcessImageNameW`) while it is still starting; failing
//! that, from the command line's first argument. The user's name and domain come from
//! `LookupAccountSidW` (cached per SID), `process.pe.original_file_name` from the image's
//! version resource ([`crate::pe::OriginalFileNameCache`]). An event names its parent by
//! pid only, as the kernel does: the parent's name, executable and command line, and
//! `picket.ancestors`, come from the pipeline's [`sensor_core::process_table::ProcessTable`],
//! as for every collector; `host.*` comes from the identity the collector reports.
//! Lost events reported by the session go to the `etw_lost` loss counter.

use crate::cmdline::split_command_line;
use crate::config::WindowsCollectorConfig;
use chrono::{DateTime, Utc};
use sensor_core::collector::{Collector, CollectorFuture, EventSender, Shutdown};
use sensor_core::event::{file_name, Event, ParentProcess, Pe};
use sensor_core::HostIdentity;

#[cfg(windows)]
mod live;

/// `picket.collector` of live Windows events.
pub const COLLECTOR_NAME: &str = "windows-etw";

/// Kernel `Process` event opcodes.
pub mod opcode {
    /// A process started.
    pub const START: u8 = 1;
    /// A process ended.
    pub const END: u8 = 2;
    /// Rundown at session start: a process that was already running.
    pub const DC_START: u8 = 3;
    /// Rundown at session end.
    pub const DC_END: u8 = 4;
}

/// The live ETW collector (`windows-etw`). On other OSes `run` returns
/// [`sensor_core::CollectorError::Unsupported`].
#[derive(Debug, Clone)]
pub struct WindowsCollector {
    config: WindowsCollectorConfig,
    // Read once: reported to the pipeline and keyed into every `process.entity_id`.
    host: HostIdentity,
}

impl WindowsCollector {
    /// A collector with the `[collector.windows]` settings. The session name must be
    /// 1 to 1024 characters without NUL (what `StartTrace` accepts).
    pub fn new(config: &WindowsCollectorConfig) -> Result<Self, crate::Error> {
        if let Some(problem) = config.session_name_problem() {
            return Err(crate::Error::InvalidConfig(format!(
                "collector.windows.session_name {problem}"
            )));
        }
        Ok(Self {
            config: config.clone(),
            host: HostIdentity::this_host(),
        })
    }
}

impl Collector for WindowsCollector {
    fn name(&self) -> &'static str {
        COLLECTOR_NAME
    }

    fn host(&self) -> Option<HostIdentity> {
        Some(self.host.clone())
    }

    fn run(self: Box<Self>, out: EventSender, shutdown: Shutdown) -> CollectorFuture {
        #[cfg(windows)]
        {
            let host_key = self.host.key().to_string();
            Box::pin(live::run(self.config, host_key, out, shutdown))
        }
        #[cfg(not(windows))]
        {
            let _ = (self.config, self.host, out, shutdown);
            Box::pin(async {
                Err(sensor_core::CollectorError::Unsupported {
                    collector: COLLECTOR_NAME,
                    needs: "Windows",
                })
            })
        }
    }
}

/// The fields of one kernel `Process` event, as raw values from the trace.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct KernelProcessRecord {
    /// The event opcode ([`opcode`]).
    pub opcode: u8,
    /// `EVENT_HEADER.TimeStamp`: FILETIME, 100 ns since 1601-01-01 UTC.
    pub filetime: i64,
    /// Pointer size of the logging machine (4 or 8), from the header flags.
    pub pointer_size: usize,
    /// `ProcessId`.
    pub pid: u32,
    /// `ParentId`.
    pub ppid: Option<u32>,
    /// `SessionId`.
    pub session_id: Option<u32>,
    /// `ExitStatus` (end events).
    pub exit_status: Option<i32>,
    /// `UserSID`, raw (maybe with its `TOKEN_USER` header).
    pub user_sid: Option<Vec<u8>>,
    /// `ImageFileName`, raw ANSI, maybe NUL-terminated.
    pub image_file_name: Option<Vec<u8>>,
    /// `CommandLine`, raw UTF-16LE, maybe NUL-terminated.
    pub command_line: Option<Vec<u8>>,
}

/// The OS look-ups the mapping needs; the live code asks Windows, tests give answers.
pub trait Enricher {
    /// Full image path of a running process.
    fn executable_path(&mut self, pid: u32) -> Option<String>;
    /// Account name and domain of a SID.
    fn account(&mut self, sid: &str) -> Option<(String, String)>;
    /// `OriginalFilename` of an image.
    fn original_file_name(&mut self, path: &str) -> Option<String>;
}

/// FILETIME (100 ns ticks since 1601) to UTC; `None` outside chrono's range.
pub fn filetime_to_utc(filetime: i64) -> Option<DateTime<Utc>> {
    const EPOCH_DIFF_TICKS: i64 = 116_444_736_000_000_000;
    let ticks = filetime.checked_sub(EPOCH_DIFF_TICKS)?;
    let secs = ticks.div_euclid(10_000_000);
    let nanos = u32::try_from(ticks.rem_euclid(10_000_000) * 100).ok()?;
    DateTime::from_timestamp(secs, nanos)
}

/// A NUL-terminated (or not) UTF-16LE string; an odd trailing byte is dropped.
pub fn decode_utf16z(bytes: &[u8]) -> String {
    let units: Vec<u16> = bytes
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .take_while(|u| *u != 0)
        .collect();
    String::from_utf16_lossy(&units)
}

/// A NUL-terminated (or not) ANSI string, read as Latin-1 so no byte is lost.
pub fn decode_ansiz(bytes: &[u8]) -> String {
    bytes
        .iter()
        .take_while(|b| **b != 0)
        .map(|b| char::from(*b))
        .collect()
}

/// Maps one kernel `Process` event to what the kernel says of it (pid, parent pid,
/// image, command line, SID, session, exit status). `host_key` is this machine's
/// [`HostIdentity::key`], for `process.entity_id`. The parent is named by pid only: the
/// pipeline's process table fills the rest from earlier events and learns from these.
/// `None` for the rundown, unknown opcodes and a timestamp out of range.
///
/// The rundown is dropped: the pipeline seeds the table from the running processes
/// (name and parent of each, image and command line of those it may open) just before
/// the session opens, and as starts the rundown would look like new launches.
pub fn map_kernel_process(
    rec: &KernelProcessRecord,
    host_key: &str,
    enricher: &mut dyn Enricher,
) -> Option<Event> {
    let ts = filetime_to_utc(rec.filetime)?;
    let started = match rec.opcode {
        opcode::START => true,
        opcode::END => false,
        _ => return None,
    };
    let mut ev = if started {
        Event::exec(ts)
    } else {
        Event::exit(ts)
    };
    let short_name = rec
        .image_file_name
        .as_deref()
        .map(decode_ansiz)
        .filter(|s| !s.is_empty());
    let command_line = rec
        .command_line
        .as_deref()
        .map(decode_utf16z)
        .filter(|s| !s.trim().is_empty());
    let args = command_line
        .as_deref()
        .map(split_command_line)
        .unwrap_or_default();
    // Only a starting process can still be asked for its image.
    let executable = started
        .then(|| enricher.executable_path(rec.pid))
        .flatten()
        .or_else(|| args.first().filter(|a| a.contains('\\')).cloned());
    ev.process.pid = Some(rec.pid);
    ev.process.name = executable
        .as_deref()
        .map(|e| file_name(e).to_string())
        .or(short_name);
    ev.process.command_line = command_line;
    if !args.is_empty() {
        ev.set_argv(args);
    }
    if started {
        ev.process.entity_id = Some(sensor_core::event::entity_id(host_key, rec.pid, ts));
        ev.process.start = Some(ts);
        if let Some(ofn) = executable
            .as_deref()
            .and_then(|path| enricher.original_file_name(path))
        {
            ev.process.pe = Some(Pe {
                original_file_name: Some(ofn),
                ..Pe::default()
            });
        }
    } else {
        ev.process.exit_code = rec.exit_status.map(i64::from);
    }
    ev.process.executable = executable;
    if let Some(ppid) = rec.ppid {
        ev.process.parent = Some(Box::new(ParentProcess {
            pid: Some(ppid),
            ..ParentProcess::default()
        }));
    }
    if let Some(sid) = rec
        .user_sid
        .as_deref()
        .and_then(|b| crate::sid::sid_from_etw_bytes(b, rec.pointer_size))
    {
        if let Some((name, domain)) = enricher.account(&sid) {
            ev.user.name = Some(name);
            ev.user.domain = Some(domain);
        }
        ev.user.id = Some(sid);
    }
    ev.picket.session_id = rec.session_id;
    ev.picket.collector = Some(COLLECTOR_NAME.into());
    Some(ev)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sensor_core::process_table::{ProcessInfo, ProcessTable};

    struct Fake;
    impl Enricher for Fake {
        fn executable_path(&mut self, pid: u32) -> Option<String> {
            (pid == 788).then(|| r"C:\Windows\System32\net.exe".to_string())
        }
        fn account(&mut self, sid: &str) -> Option<(String, String)> {
            (sid == "S-1-5-21-1-2-3-1001").then(|| ("alice".into(), "WS01".into()))
        }
        fn original_file_name(&mut self, path: &str) -> Option<String> {
            path.ends_with("net.exe").then(|| "net.exe".to_string())
        }
    }

    /// What the live collector passes: this machine's `HostIdentity::key()`.
    const HOST_KEY: &str = "WS01";

    /// Maps `rec` and runs it through `table` as the pipeline does: `host.*` from the
    /// collector's identity first, then the process table.
    fn map_and_observe(rec: &KernelProcessRecord, table: &mut ProcessTable) -> Option<Event> {
        let mut ev = map_kernel_process(rec, HOST_KEY, &mut Fake)?;
        ev.host.name = Some(HOST_KEY.into());
        table.observe(&mut ev);
        Some(ev)
    }

    fn utf16z(s: &str) -> Vec<u8> {
        s.encode_utf16()
            .chain([0])
            .flat_map(u16::to_le_bytes)
            .collect()
    }

    fn sid_with_header() -> Vec<u8> {
        let mut b = vec![0xAAu8; 8];
        b.extend_from_slice(&[0u8; 8]);
        b.extend_from_slice(&[1, 5, 0, 0, 0, 0, 0, 5]);
        for sub in [21u32, 1, 2, 3, 1001] {
            b.extend_from_slice(&sub.to_le_bytes());
        }
        b
    }

    // 2019-05-24T01:33:53.1124866Z as FILETIME.
    const FT: i64 = 132_031_352_331_124_866;

    #[test]
    fn session_name_is_checked() {
        let mut config = WindowsCollectorConfig::default();
        assert!(WindowsCollector::new(&config).is_ok());
        config.session_name = " ".into();
        let err = WindowsCollector::new(&config).expect_err("blank");
        assert!(err.to_string().contains("session_name"), "{err}");
        config.session_name = "x".repeat(1025);
        assert!(WindowsCollector::new(&config).is_err());
    }

    #[cfg(not(windows))]
    #[test]
    fn live_collection_is_unsupported_off_windows() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        let collector =
            WindowsCollector::new(&WindowsCollectorConfig::default()).expect("valid config");
        assert_eq!(collector.name(), "windows-etw");
        let err = rt.block_on(async {
            let (tx, _rx) = tokio::sync::mpsc::channel(1);
            let out = EventSender::new(tx, sensor_core::Health::new());
            let (_t, shutdown) = Shutdown::new();
            Box::new(collector)
                .run(out, shutdown)
                .await
                .expect_err("unsupported")
        });
        assert!(
            matches!(
                err,
                sensor_core::CollectorError::Unsupported {
                    needs: "Windows",
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn filetimes() {
        let t = filetime_to_utc(FT).expect("in range");
        assert_eq!(t.to_rfc3339(), "2019-05-24T01:33:53.112486600+00:00");
        assert_eq!(
            filetime_to_utc(116_444_736_000_000_000).map(|t| t.timestamp()),
            Some(0)
        );
        assert_eq!(filetime_to_utc(i64::MIN), None);
    }

    #[test]
    fn strings_decode_without_panicking() {
        assert_eq!(decode_utf16z(&utf16z("net  user")), "net  user");
        assert_eq!(decode_utf16z(b"n\0e\0t"), "ne", "odd trailing byte dropped");
        assert_eq!(decode_utf16z(&[]), "");
        assert_eq!(decode_ansiz(b"net.exe\0\0"), "net.exe");
        assert_eq!(decode_ansiz(b"caf\xe9.exe"), "café.exe");
    }

    fn start(pid: u32, ppid: u32, filetime: i64, image: &[u8], cmd: &str) -> KernelProcessRecord {
        KernelProcessRecord {
            opcode: opcode::START,
            filetime,
            pointer_size: 8,
            pid,
            ppid: Some(ppid),
            image_file_name: Some(image.to_vec()),
            command_line: Some(utf16z(cmd)),
            ..Default::default()
        }
    }

    fn end(pid: u32, filetime: i64, image: &[u8]) -> KernelProcessRecord {
        KernelProcessRecord {
            opcode: opcode::END,
            filetime,
            pointer_size: 8,
            pid,
            exit_status: Some(2),
            image_file_name: Some(image.to_vec()),
            ..Default::default()
        }
    }

    const CMD: &str = r#""c:\windows\system32\cmd.exe" /c net user"#;

    #[test]
    fn start_events_get_their_parent_from_the_process_table() {
        let mut table = ProcessTable::new(1024);
        let cmd = start(2404, 2580, FT - 10_000_000, b"cmd.exe\0", CMD);
        let cmd_ev = map_and_observe(&cmd, &mut table).expect("start event");
        assert_eq!(
            cmd_ev.process.executable.as_deref(),
            Some(r"c:\windows\system32\cmd.exe"),
            "executable from argv[0] when the process cannot be asked"
        );

        let mut child = start(788, 2404, FT, b"net.exe\0", "net  user");
        child.session_id = Some(0);
        child.user_sid = Some(sid_with_header());
        let mapped = map_kernel_process(&child, HOST_KEY, &mut Fake).expect("start event");
        assert_eq!(mapped.host.name, None, "host.* is the pipeline's");
        let p = mapped.process.parent.as_deref().expect("parent");
        assert_eq!(
            (p.pid, p.name.as_deref()),
            (Some(2404), None),
            "the kernel names the parent by pid only"
        );

        let ev = map_and_observe(&child, &mut table).expect("start event");
        assert_eq!(ev.process.name.as_deref(), Some("net.exe"));
        assert_eq!(ev.process.args, vec!["net", "user"]);
        assert_eq!(ev.user.id.as_deref(), Some("S-1-5-21-1-2-3-1001"));
        assert_eq!(ev.user.name.as_deref(), Some("alice"));
        assert_eq!(ev.picket.session_id, Some(0));
        let start_time = filetime_to_utc(FT).expect("in range");
        assert_eq!(
            ev.process.entity_id,
            Some(sensor_core::event::entity_id(HOST_KEY, 788, start_time))
        );
        assert_eq!(
            ev.process
                .pe
                .as_ref()
                .and_then(|p| p.original_file_name.as_deref()),
            Some("net.exe")
        );
        let p = ev.process.parent.as_deref().expect("parent");
        assert_eq!(p.name.as_deref(), Some("cmd.exe"));
        assert_eq!(
            p.args,
            vec![r"c:\windows\system32\cmd.exe", "/c", "net", "user"]
        );
        assert_eq!(p.entity_id, cmd_ev.process.entity_id);
        let ancestors: Vec<_> = ev
            .picket
            .ancestors
            .iter()
            .map(|a| (a.pid, a.name.as_deref()))
            .collect();
        assert_eq!(
            ancestors,
            vec![(Some(2404), Some("cmd.exe")), (Some(2580), None)]
        );
        assert_eq!(ev.picket.collector.as_deref(), Some(COLLECTOR_NAME));

        let ev = map_and_observe(&end(788, FT + 1, b"net.exe\0"), &mut table).expect("end event");
        assert_eq!(ev.process.exit_code, Some(2));
        assert_eq!(ev.process.name.as_deref(), Some("net.exe"));
        assert!(table.get(HOST_KEY, 788).is_some_and(|p| p.exited));
    }

    #[test]
    fn a_pid_reused_after_an_end_names_the_new_process_as_parent() {
        let mut table = ProcessTable::new(1024);
        map_and_observe(&start(2404, 2580, FT, b"cmd.exe\0", CMD), &mut table).expect("start");
        map_and_observe(&end(2404, FT + 1, b"cmd.exe\0"), &mut table).expect("end");
        let ping = r"C:\Windows\System32\PING.EXE -n 1 localhost";
        map_and_observe(&start(2404, 2580, FT + 2, b"PING.EXE\0", ping), &mut table)
            .expect("start reusing the pid");
        let child = start(
            790,
            2404,
            FT + 3,
            b"conhost.exe\0",
            "conhost.exe 0xffffffff",
        );
        let ev = map_and_observe(&child, &mut table).expect("start");
        let p = ev.process.parent.as_deref().expect("parent");
        assert_eq!(p.name.as_deref(), Some("PING.EXE"));
    }

    #[test]
    fn rundown_is_dropped_and_the_seeded_table_names_running_parents() {
        for op in [opcode::DC_START, opcode::DC_END] {
            let mut rundown = start(2404, 2580, FT - 10_000_000, b"cmd.exe\0", CMD);
            rundown.opcode = op;
            assert!(
                map_kernel_process(&rundown, HOST_KEY, &mut Fake).is_none(),
                "rundown opcode {op}"
            );
        }
        // What the pipeline's seed_from_system records of a process already running.
        let mut table = ProcessTable::new(1024);
        let args: Vec<String> = split_command_line(CMD);
        table.insert(
            HOST_KEY,
            ProcessInfo {
                pid: 2404,
                ppid: 2580,
                name: Some("cmd.exe".into()),
                executable: Some(r"C:\Windows\System32\cmd.exe".into()),
                command_line: Some(CMD.into()),
                args: args.clone(),
                ..ProcessInfo::default()
            },
        );
        let ev = map_and_observe(&start(788, 2404, FT, b"net.exe\0", "net  user"), &mut table)
            .expect("start event");
        let p = ev.process.parent.as_deref().expect("parent");
        assert_eq!(p.name.as_deref(), Some("cmd.exe"));
        assert_eq!(
            p.executable.as_deref(),
            Some(r"C:\Windows\System32\cmd.exe")
        );
        assert_eq!(p.args, args);
    }

    #[test]
    fn garbage_fields_never_panic_and_the_table_stays_bounded() {
        // The smallest table ProcessTable allows; the events teach far more processes.
        let mut table = ProcessTable::new(16);
        let mut mapped = 0;
        for len in 0..100 {
            let junk: Vec<u8> = (0..len).map(|i| (i * 37 + 11) as u8).collect();
            let rec = KernelProcessRecord {
                opcode: opcode::START,
                filetime: FT,
                pointer_size: 8,
                pid: len as u32,
                ppid: Some(1),
                user_sid: Some(junk.clone()),
                image_file_name: Some(junk.clone()),
                command_line: Some(junk),
                ..Default::default()
            };
            mapped += usize::from(map_and_observe(&rec, &mut table).is_some());
        }
        assert_eq!(mapped, 100, "garbage strings still make events");
        assert!(table.len() <= 16, "bounded: {}", table.len());
    }
}
