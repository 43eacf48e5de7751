//! The ETW sessions (Windows only): a private kernel-logger session with the process
//! flag, a callback that turns each event into a [`KernelProcessRecord`] using only
//! `u32` and raw-byte reads, and the Windows look-ups behind [`Enricher`]; and a user
//! session on `Microsoft-Windows-WMI-Activity` whose operation events (id 11) become
//! `wmi-operation` events ([`crate::wmi`]), read the same careful way. Without the WMI
//! session (it cannot start) the collector runs on and says so in health.

use super::{map_kernel_process, opcode, Enricher, KernelProcessRecord};
use crate::config::WindowsCollectorConfig;
use crate::pe::OriginalFileNameCache;
use ferrisetw::parser::Parser;
use ferrisetw::provider::kernel_providers::PROCESS_PROVIDER;
use ferrisetw::provider::Provider;
use ferrisetw::schema_locator::SchemaLocator;
use ferrisetw::trace::{KernelTrace, TraceTrait, UserTrace};
use ferrisetw::EventRecord;
use sensor_core::collector::{CollectorError, EventSender, Shutdown};
use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// `EVENT_HEADER_FLAG_32_BIT_HEADER`: the event was logged by a 32-bit machine.
const EVENT_HEADER_FLAG_32_BIT_HEADER: u16 = 0x0020;

/// Runs the session until `shutdown`. `host_key` is this machine's
/// [`sensor_core::HostIdentity::key`], for `process.entity_id`.
pub(super) async fn run(
    config: WindowsCollectorConfig,
    host_key: String,
    out: EventSender,
    mut shutdown: Shutdown,
) -> Result<(), CollectorError> {
    let session = config.session_name.clone();
    let health = out.health().clone();
    let lost = health.loss_counter("etw_lost");
    let unparsed = health.loss_counter("malformed_input");
    let enricher = Arc::new(Mutex::new(WinEnricher::new()));

    let callback_out = out.clone();
    let callback_enricher = enricher.clone();
    let provider = Provider::kernel(&PROCESS_PROVIDER)
        .add_callback(move |record: &EventRecord, locator: &SchemaLocator| {
            let raw = match read_record(record, locator) {
                Ok(Some(raw)) => raw,
                Ok(None) => return, // another opcode of the process provider
                Err(()) => {
                    unparsed.fetch_add(1, Ordering::Relaxed);
                    return;
                }
            };
            let event = {
                let mut enricher = callback_enricher.lock().unwrap_or_else(|p| p.into_inner());
                map_kernel_process(&raw, &host_key, &mut *enricher)
            };
            if let Some(event) = event {
                // Never block the ETW delivery thread: a full channel is counted.
                callback_out.try_send(event);
            }
        })
        .build();

    // A session of this name left behind by a crashed run would make StartTrace fail.
    let _ = ferrisetw::trace::stop_trace_by_name(&session);
    let (trace, handle) = KernelTrace::new()
        .named(session.clone())
        .enable(provider)
        .start()
        .map_err(|e| {
            CollectorError::Prerequisite(format!(
                "cannot start the ETW kernel session {session:?}: {e:?}; \
                 the windows-etw collector must run as Administrator or LocalSystem"
            ))
        })?;
    // ProcessTrace blocks while the session delivers events; it returns when the session
    // is stopped (by us, below) or fails.
    let (done_tx, mut done_rx) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("picket-etw".into())
        .spawn(move || {
            let _ = done_tx.send(KernelTrace::process_from_handle(handle));
        })
        .map_err(|e| CollectorError::Failed(format!("cannot start the ETW thread: {e}")))?;
    tracing::info!(session = %session, "ETW kernel process session started");
    let wmi = start_wmi_session(&session, &out);

    let mut seen_lost = 0u64;
    let mut tick = tokio::time::interval(Duration::from_secs(5));
    let mut ended = None;
    loop {
        tokio::select! {
            _ = shutdown.wait() => break,
            result = &mut done_rx => {
                ended = Some(format!("{result:?}"));
                break;
            }
            _ = tick.tick() => {
                if let Some(total) = query_lost_events(&session) {
                    if total > seen_lost {
                        lost.fetch_add(total - seen_lost, Ordering::Relaxed);
                        tracing::warn!(session = %session, lost = total - seen_lost, "ETW session lost events");
                        seen_lost = total;
                    }
                }
            }
        }
    }
    if let Some(total) = query_lost_events(&session) {
        if total > seen_lost {
            lost.fetch_add(total - seen_lost, Ordering::Relaxed);
        }
    }
    if let Some(wmi) = wmi {
        if let Err(e) = wmi.stop() {
            tracing::warn!(error = ?e, "Stopping the ETW WMI-Activity session failed");
        }
    }
    let stopped = trace.stop();
    if let Some(how) = ended {
        return Err(CollectorError::Failed(format!(
            "the ETW session {session:?} ended by itself: {how}"
        )));
    }
    stopped.map_err(|e| CollectorError::Failed(format!("stopping the ETW session: {e:?}")))?;
    tracing::info!(session = %session, "ETW kernel process session stopped");
    Ok(())
}

/// Starts the WMI-Activity session (`<session>-wmi`) on its own thread; `None`, with a
/// health note, when it cannot start.
fn start_wmi_session(session: &str, out: &EventSender) -> Option<UserTrace> {
    let name = format!("{session}-wmi");
    let health = out.health().clone();
    let unparsed = health.loss_counter("malformed_input");
    let callback_out = out.clone();
    let provider = Provider::by_guid(crate::wmi::WMI_ACTIVITY_GUID)
        .add_callback(move |record: &EventRecord, locator: &SchemaLocator| {
            // Event 11 is an operation's start; the others (errors, provider loads)
            // are not queries.
            if record.event_id() != 11 {
                return;
            }
            let Ok(schema) = locator.event_schema(record) else {
                unparsed.fetch_add(1, Ordering::Relaxed);
                return;
            };
            let parser = Parser::create(record, &schema);
            let bytes = |name: &str| parser.try_parse::<Vec<u8>>(name).ok();
            let op = crate::wmi::LiveOperation {
                filetime: record.raw_timestamp(),
                client_pid: parser.try_parse::<u32>("ClientProcessId").ok(),
                operation: bytes("Operation"),
                user: bytes("User"),
                namespace: bytes("NamespaceName"),
                client_machine: bytes("ClientMachine"),
            };
            match crate::wmi::map_live(&op, super::COLLECTOR_NAME) {
                Some(event) => {
                    callback_out.try_send(event);
                }
                None => {
                    unparsed.fetch_add(1, Ordering::Relaxed);
                }
            }
        })
        .build();
    let _ = ferrisetw::trace::stop_trace_by_name(&name);
    match UserTrace::new()
        .named(name.clone())
        .enable(provider)
        .start()
    {
        Ok((trace, handle)) => {
            let spawned = std::thread::Builder::new()
                .name("picket-etw-wmi".into())
                .spawn(move || {
                    let _ = UserTrace::process_from_handle(handle);
                });
            if let Err(e) = spawned {
                health.note(
                    "etw.wmi_activity",
                    format!("no WMI-Activity events: cannot start its ETW thread: {e}"),
                );
                return None;
            }
            tracing::info!(session = %name, "ETW WMI-Activity session started");
            Some(trace)
        }
        Err(e) => {
            let note = format!(
                "no WMI-Activity events (AN0903's WmiQueries sees no live WMI queries): \
                 cannot start the ETW session {name:?}: {e:?}"
            );
            tracing::warn!("{note}");
            health.note("etw.wmi_activity", note);
            None
        }
    }
}

/// Reads one kernel process event with only `u32`/`i32` and `Vec<u8>` property reads
/// (the ones `ferrisetw` cannot panic on). `Ok(None)` for the provider's other opcodes
/// and the rundown, which the mapping drops, `Err` for an event without a schema or a
/// pid.
fn read_record(
    record: &EventRecord,
    locator: &SchemaLocator,
) -> Result<Option<KernelProcessRecord>, ()> {
    let op = record.opcode();
    if !matches!(op, opcode::START | opcode::END) {
        return Ok(None);
    }
    let schema = locator.event_schema(record).map_err(|_| ())?;
    let parser = Parser::create(record, &schema);
    let pid = parser.try_parse::<u32>("ProcessId").map_err(|_| ())?;
    let bytes = |name: &str| parser.try_parse::<Vec<u8>>(name).ok();
    Ok(Some(KernelProcessRecord {
        opcode: op,
        filetime: record.raw_timestamp(),
        pointer_size: if record.event_flags() & EVENT_HEADER_FLAG_32_BIT_HEADER != 0 {
            4
        } else {
            8
        },
        pid,
        ppid: parser.try_parse::<u32>("ParentId").ok(),
        session_id: parser.try_parse::<u32>("SessionId").ok(),
        exit_status: parser.try_parse::<i32>("ExitStatus").ok(),
        user_sid: bytes("UserSID"),
        image_file_name: bytes("ImageFileName"),
        command_line: bytes("CommandLine"),
    }))
}

/// Windows look-ups, cached.
struct WinEnricher {
    accounts: HashMap<String, Option<(String, String)>>,
    pe: OriginalFileNameCache,
}

impl WinEnricher {
    fn new() -> Self {
        Self {
            accounts: HashMap::new(),
            pe: OriginalFileNameCache::default(),
        }
    }
}

impl Enricher for WinEnricher {
    fn executable_path(&mut self, pid: u32) -> Option<String> {
        use windows_sys::Win32::Foundation::CloseHandle;
        use windows_sys::Win32::System::Threading::{
            OpenProcess, QueryFullProcessImageNameW, PROCESS_NAME_WIN32,
            PROCESS_QUERY_LIMITED_INFORMATION,
        };
        // SAFETY: OpenProcess has no memory preconditions; a null handle is checked.
        let handle = unsafe { OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, 0, pid) };
        if handle.is_null() {
            return None;
        }
        // Most paths fit in 1024 characters; long ones (up to 32767) get a second try.
        let mut found = None;
        for capacity in [1024usize, 32_768] {
            let mut buf = vec![0u16; capacity];
            let mut len = capacity as u32;
            // SAFETY: `buf` holds `len` u16s; the call writes at most that many and sets
            // `len` to the characters written.
            let ok = unsafe {
                QueryFullProcessImageNameW(handle, PROCESS_NAME_WIN32, buf.as_mut_ptr(), &mut len)
            };
            if ok != 0 {
                buf.truncate((len as usize).min(capacity));
                found = Some(String::from_utf16_lossy(&buf));
                break;
            }
        }
        // SAFETY: `handle` came from OpenProcess and is closed once.
        unsafe { CloseHandle(handle) };
        found
    }

    fn account(&mut self, sid: &str) -> Option<(String, String)> {
        if let Some(hit) = self.accounts.get(sid) {
            return hit.clone();
        }
        let found = lookup_account(sid);
        if self.accounts.len() > 4096 {
            self.accounts.clear();
        }
        self.accounts.insert(sid.to_string(), found.clone());
        found
    }

    fn original_file_name(&mut self, path: &str) -> Option<String> {
        self.pe.get(Path::new(path)).ok().flatten()
    }
}

/// `LookupAccountSidW` for a SID string: (name, domain).
fn lookup_account(sid: &str) -> Option<(String, String)> {
    use windows_sys::Win32::Foundation::{LocalFree, HLOCAL};
    use windows_sys::Win32::Security::Authorization::ConvertStringSidToSidW;
    use windows_sys::Win32::Security::{LookupAccountSidW, PSID, SID_NAME_USE};

    let wide: Vec<u16> = sid.encode_utf16().chain([0]).collect();
    let mut psid: PSID = std::ptr::null_mut();
    // SAFETY: `wide` is NUL-terminated; on success `psid` is allocated by the system and
    // freed with LocalFree below.
    if unsafe { ConvertStringSidToSidW(wide.as_ptr(), &mut psid) } == 0 || psid.is_null() {
        return None;
    }
    let mut name = vec![0u16; 256];
    let mut domain = vec![0u16; 256];
    let mut name_len = name.len() as u32;
    let mut domain_len = domain.len() as u32;
    let mut use_: SID_NAME_USE = 0;
    // SAFETY: the buffers hold the lengths passed; `psid` is a valid SID.
    let ok = unsafe {
        LookupAccountSidW(
            std::ptr::null(),
            psid,
            name.as_mut_ptr(),
            &mut name_len,
            domain.as_mut_ptr(),
            &mut domain_len,
            &mut use_,
        )
    };
    // SAFETY: `psid` was allocated by ConvertStringSidToSidW.
    unsafe { LocalFree(psid as HLOCAL) };
    if ok == 0 {
        return None;
    }
    name.truncate((name_len as usize).min(name.len()));
    domain.truncate((domain_len as usize).min(domain.len()));
    Some((
        String::from_utf16_lossy(&name),
        String::from_utf16_lossy(&domain),
    ))
}

/// Events the session has lost so far (`EventsLost` + `RealTimeBuffersLost`), from
/// `ControlTraceW(QUERY)`; `None` when the query fails.
fn query_lost_events(session: &str) -> Option<u64> {
    use windows_sys::Win32::System::Diagnostics::Etw::{
        ControlTraceW, EVENT_TRACE_CONTROL_QUERY, EVENT_TRACE_PROPERTIES,
    };
    static WARNED: AtomicU64 = AtomicU64::new(0);

    const NAME_CHARS: usize = 1024;
    let header = std::mem::size_of::<EVENT_TRACE_PROPERTIES>();
    let total = header + 2 * NAME_CHARS * 2;
    // u64 words keep the properties structure aligned.
    let mut buf = vec![0u64; total.div_ceil(8)];
    let props = buf.as_mut_ptr().cast::<EVENT_TRACE_PROPERTIES>();
    let wide: Vec<u16> = session.encode_utf16().chain([0]).collect();
    // SAFETY: `buf` is zeroed, aligned and `total` bytes long; the name offsets point
    // inside it; ControlTraceW writes only within BufferSize.
    let status = unsafe {
        (*props).Wnode.BufferSize = total as u32;
        (*props).LoggerNameOffset = header as u32;
        (*props).LogFileNameOffset = (header + NAME_CHARS * 2) as u32;
        ControlTraceW(
            Default::default(),
            wide.as_ptr(),
            props,
            EVENT_TRACE_CONTROL_QUERY,
        )
    };
    if status != 0 {
        if WARNED.fetch_add(1, Ordering::Relaxed) == 0 {
            tracing::warn!(
                session,
                status,
                "Cannot query the ETW session's lost-event counts"
            );
        }
        return None;
    }
    // SAFETY: ControlTraceW succeeded and filled the structure.
    let (events, buffers) = unsafe { ((*props).EventsLost, (*props).RealTimeBuffersLost) };
    Some(u64::from(events) + u64::from(buffers))
}
