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
//! session starts (used only to learn parents, never reported as new processes).
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
//! version resource ([`crate::pe::OriginalFileNameCache`]), and the parent's name,
//! executable and command line from [`ProcessTracker`], which remembers the processes
//! this session has seen (the pipeline's own process table fills what it knows too).
//! Lost events reported by the session go to the `etw_lost` loss counter.

use crate::cmdline::split_command_line;
use chrono::{DateTime, Utc};
use sensor_core::collector::{Collector, CollectorFuture, EventSender, Shutdown};
use sensor_core::config::WindowsCollectorConfig;
use sensor_core::event::{file_name, Event, HostOs, ParentProcess, Pe};
use std::collections::HashMap;

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
}

impl WindowsCollector {
    /// A collector with the `[collector.windows]` settings. The session name must be
    /// 1 to 1024 characters without NUL (what `StartTrace` accepts).
    pub fn new(config: &WindowsCollectorConfig) -> Result<Self, crate::Error> {
        let name = &config.session_name;
        if name.trim().is_empty() || name.chars().count() > 1024 || name.contains('\0') {
            return Err(crate::Error::InvalidConfig(format!(
                "collector.windows.session_name must be 1 to 1024 characters without NUL, found {name:?}"
            )));
        }
        Ok(Self {
            config: config.clone(),
        })
    }
}

impl Collector for WindowsCollector {
    fn name(&self) -> &'static str {
        COLLECTOR_NAME
    }

    fn host(&self) -> Option<sensor_core::HostIdentity> {
        Some(sensor_core::HostIdentity::this_host())
    }

    fn run(self: Box<Self>, out: EventSender, shutdown: Shutdown) -> CollectorFuture {
        #[cfg(windows)]
        {
            Box::pin(live::run(self.config, out, shutdown))
        }
        #[cfg(not(windows))]
        {
            let _ = (self.config, out, shutdown);
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
    /// This host's name.
    fn host_name(&self) -> Option<String>;
}

/// What the collector remembers of a process, to name the parents of its children.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct KnownProcess {
    /// `process.name`.
    pub name: Option<String>,
    /// `process.executable`.
    pub executable: Option<String>,
    /// `process.command_line`.
    pub command_line: Option<String>,
    /// `process.args`.
    pub args: Vec<String>,
    /// `process.entity_id`.
    pub entity_id: Option<String>,
    /// `process.start`.
    pub start: Option<DateTime<Utc>>,
}

/// Processes seen by this session, by pid; forgotten when they end. Bounded: when full,
/// the oldest-started half is dropped.
#[derive(Debug)]
pub struct ProcessTracker {
    by_pid: HashMap<u32, KnownProcess>,
    capacity: usize,
}

impl Default for ProcessTracker {
    fn default() -> Self {
        Self::new(65_536)
    }
}

impl ProcessTracker {
    /// A tracker for at most `capacity` live processes.
    pub fn new(capacity: usize) -> Self {
        Self {
            by_pid: HashMap::new(),
            capacity: capacity.max(2),
        }
    }

    /// Remembers `pid`.
    pub fn insert(&mut self, pid: u32, known: KnownProcess) {
        if self.by_pid.len() >= self.capacity && !self.by_pid.contains_key(&pid) {
            let mut starts: Vec<_> = self.by_pid.iter().map(|(p, k)| (k.start, *p)).collect();
            starts.sort();
            for (_, p) in starts.iter().take(self.capacity / 2) {
                self.by_pid.remove(p);
            }
        }
        self.by_pid.insert(pid, known);
    }

    /// What is known of `pid`.
    pub fn get(&self, pid: u32) -> Option<&KnownProcess> {
        self.by_pid.get(&pid)
    }

    /// Forgets `pid`.
    pub fn remove(&mut self, pid: u32) -> Option<KnownProcess> {
        self.by_pid.remove(&pid)
    }

    /// Number of processes known.
    pub fn len(&self) -> usize {
        self.by_pid.len()
    }

    /// True when no process is known.
    pub fn is_empty(&self) -> bool {
        self.by_pid.is_empty()
    }
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

/// Maps one kernel `Process` event. Start and end events become `Event`s; the
/// rundown (opcodes 3 and 4) and unknown opcodes only update `tracker`. `None` also for
/// an event whose timestamp is out of range.
pub fn map_kernel_process(
    rec: &KernelProcessRecord,
    tracker: &mut ProcessTracker,
    enricher: &mut dyn Enricher,
) -> Option<Event> {
    let ts = filetime_to_utc(rec.filetime)?;
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
    match rec.opcode {
        opcode::START | opcode::DC_START => {
            let args = command_line
                .as_deref()
                .map(split_command_line)
                .unwrap_or_default();
            let executable = enricher
                .executable_path(rec.pid)
                .or_else(|| args.first().filter(|a| a.contains('\\')).cloned());
            let name = executable
                .as_deref()
                .map(|e| file_name(e).to_string())
                .or(short_name);
            let host = enricher.host_name();
            let entity_id = Some(sensor_core::event::entity_id(
                host.as_deref().unwrap_or("windows"),
                rec.pid,
                ts,
            ));
            let known = KnownProcess {
                name: name.clone(),
                executable: executable.clone(),
                command_line: command_line.clone(),
                args: args.clone(),
                entity_id: entity_id.clone(),
                start: Some(ts),
            };
            tracker.insert(rec.pid, known);
            if rec.opcode != opcode::START {
                return None;
            }
            let mut ev = Event::exec(ts);
            ev.process.pid = Some(rec.pid);
            ev.process.entity_id = entity_id;
            ev.process.start = Some(ts);
            ev.process.name = name;
            ev.process.executable = executable.clone();
            ev.process.command_line = command_line;
            if !args.is_empty() {
                ev.set_argv(args);
            }
            if let Some(path) = executable.as_deref() {
                if let Some(ofn) = enricher.original_file_name(path) {
                    ev.process.pe = Some(Pe {
                        original_file_name: Some(ofn),
                        ..Pe::default()
                    });
                }
            }
            if let Some(ppid) = rec.ppid {
                let mut parent = ParentProcess {
                    pid: Some(ppid),
                    ..ParentProcess::default()
                };
                if let Some(p) = tracker
                    .get(ppid)
                    .filter(|p| !matches!(p.start, Some(s) if s > ts))
                {
                    parent.name = p.name.clone();
                    parent.executable = p.executable.clone();
                    parent.command_line = p.command_line.clone();
                    parent.args = p.args.clone();
                    parent.entity_id = p.entity_id.clone();
                    parent.start = p.start;
                }
                ev.process.parent = Some(Box::new(parent));
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
            if let Some(session) = rec.session_id {
                ev.picket.session_id = Some(session);
            }
            finish(&mut ev, host);
            Some(ev)
        }
        opcode::END => {
            let known = tracker.remove(rec.pid).unwrap_or_default();
            let mut ev = Event::exit(ts);
            ev.process.pid = Some(rec.pid);
            ev.process.name = known.name.or(short_name);
            ev.process.executable = known.executable;
            ev.process.entity_id = known.entity_id;
            ev.process.start = known.start;
            ev.process.exit_code = rec.exit_status.map(i64::from);
            if let Some(ppid) = rec.ppid {
                ev.process.parent = Some(Box::new(ParentProcess {
                    pid: Some(ppid),
                    ..ParentProcess::default()
                }));
            }
            finish(&mut ev, enricher.host_name());
            Some(ev)
        }
        _ => None,
    }
}

fn finish(ev: &mut Event, host: Option<String>) {
    ev.host.name = host;
    ev.host.os = Some(HostOs {
        os_type: Some("windows".into()),
        family: Some("windows".into()),
        ..HostOs::default()
    });
    ev.picket.collector = Some(COLLECTOR_NAME.into());
}

#[cfg(test)]
mod tests {
    use super::*;

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
        fn host_name(&self) -> Option<String> {
            Some("WS01".into())
        }
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

    #[test]
    fn start_events_map_with_parent_from_the_tracker() {
        let mut tracker = ProcessTracker::default();
        let parent = KernelProcessRecord {
            opcode: opcode::DC_START,
            filetime: FT - 10_000_000,
            pointer_size: 8,
            pid: 2404,
            ppid: Some(2580),
            image_file_name: Some(b"cmd.exe\0".to_vec()),
            command_line: Some(utf16z(r#""c:\windows\system32\cmd.exe" /c net user"#)),
            ..Default::default()
        };
        assert!(
            map_kernel_process(&parent, &mut tracker, &mut Fake).is_none(),
            "rundown"
        );
        assert_eq!(
            tracker
                .get(2404)
                .and_then(|k| k.executable.clone())
                .as_deref(),
            Some(r"c:\windows\system32\cmd.exe"),
            "executable from argv[0] when the process cannot be asked"
        );

        let child = KernelProcessRecord {
            opcode: opcode::START,
            filetime: FT,
            pointer_size: 8,
            pid: 788,
            ppid: Some(2404),
            session_id: Some(0),
            user_sid: Some(sid_with_header()),
            image_file_name: Some(b"net.exe\0".to_vec()),
            command_line: Some(utf16z("net  user")),
            ..Default::default()
        };
        let ev = map_kernel_process(&child, &mut tracker, &mut Fake).expect("start event");
        assert_eq!(ev.process.name.as_deref(), Some("net.exe"));
        assert_eq!(ev.process.args, vec!["net", "user"]);
        assert_eq!(ev.user.id.as_deref(), Some("S-1-5-21-1-2-3-1001"));
        assert_eq!(ev.user.name.as_deref(), Some("alice"));
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
        assert_eq!(ev.picket.collector.as_deref(), Some(COLLECTOR_NAME));

        let end = KernelProcessRecord {
            opcode: opcode::END,
            filetime: FT + 1,
            pointer_size: 8,
            pid: 788,
            exit_status: Some(2),
            ..Default::default()
        };
        let ev = map_kernel_process(&end, &mut tracker, &mut Fake).expect("end event");
        assert_eq!(ev.process.exit_code, Some(2));
        assert_eq!(ev.process.name.as_deref(), Some("net.exe"));
        assert!(tracker.get(788).is_none());
    }

    #[test]
    fn garbage_fields_never_panic() {
        let mut tracker = ProcessTracker::new(4);
        for len in 0..40 {
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
            let _ = map_kernel_process(&rec, &mut tracker, &mut Fake);
        }
        assert!(tracker.len() <= 4, "bounded");
    }
}
