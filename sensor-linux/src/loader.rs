//! Loading and attaching the eBPF programs with aya, and reading what they write.
//!
//! Order of checks, so a failure names its cause: privileges (root, or CAP_BPF +
//! CAP_PERFMON), kernel BTF, then the object load (map creation), then each program
//! through the verifier, then attachment. RLIMIT_MEMLOCK is raised when possible; a
//! refusal is not an error because kernels >= 5.11 account BPF memory to the cgroup
//! instead (it is logged, and a warning on older kernels).
//!
//! Only the exec program is required. When the kernel lacks the hook of the fork or
//! exit program, or of a connection-table program (an fentry on a function this
//! kernel does not have, or has in a module), or refuses to load or attach it, the
//! tracer runs without it: the
//! collector says what is missing and what that costs ([`ProgramStatus`]), in the log
//! and in health. When the exec program cannot run, loading fails with an error naming
//! the kernel release, the program and what to do.

use crate::config::LinuxCollectorConfig;
use crate::error::{chain, Error};
use crate::kernel_errors::{load_error, program_error};
use crate::programs::{HookKind, ProgramState, ProgramStatus};
use crate::record::lost_slot;
use aya::maps::{MapData, PerCpuArray, RingBuf};
use aya::programs::{BtfTracePoint, FEntry, ProgramError};
use aya::{Btf, Ebpf, EbpfLoader};
use std::path::Path;

// OBJECTS: (argv capacity, eBPF object) for each of bpf/layout.rs's ARGS_CAPS.
include!(concat!(env!("OUT_DIR"), "/objects.rs"));

/// One program of the tracer, and what Picket loses when a kernel cannot run it.
struct ProgramSpec {
    name: &'static str,
    tracepoint: &'static str,
    kind: HookKind,
    /// What goes missing without it; `None` for the one program Picket cannot do without.
    without: Option<&'static str>,
}

/// What is lost without a procfs connection-table program.
const WITHOUT_PROCFS: &str = "reads of these /proc/net tables are not seen by behaviour \
     (AN0904 still matches the reading programs by name)";

/// In attach order: exit and fork before exec, so that by the time an exec can be seen
/// the lifecycle around it is seen too; the connection-table programs last, so the
/// process that reads a table is known by then.
const PROGRAMS: [ProgramSpec; 9] = [
    ProgramSpec {
        name: "handle_exit",
        tracepoint: "sched_process_exit",
        kind: HookKind::Tracepoint,
        without: Some(
            "no exit events: process.exit_code is not reported, and ended processes stay in \
             the process table until it evicts them",
        ),
    },
    ProgramSpec {
        name: "handle_fork",
        tracepoint: "sched_process_fork",
        kind: HookKind::Tracepoint,
        without: Some(
            "no fork events: a process is first seen when it execs, and one that never execs \
             is not seen",
        ),
    },
    ProgramSpec {
        name: "handle_exec",
        tracepoint: "sched_process_exec",
        kind: HookKind::Tracepoint,
        without: None,
    },
    ProgramSpec {
        name: "handle_tcp_seq",
        tracepoint: "tcp_seq_start",
        kind: HookKind::Fentry,
        without: Some(WITHOUT_PROCFS),
    },
    ProgramSpec {
        name: "handle_udp_seq",
        tracepoint: "udp_seq_start",
        kind: HookKind::Fentry,
        without: Some(WITHOUT_PROCFS),
    },
    ProgramSpec {
        name: "handle_raw_seq",
        tracepoint: "raw_seq_start",
        kind: HookKind::Fentry,
        without: Some(WITHOUT_PROCFS),
    },
    ProgramSpec {
        name: "handle_unix_seq",
        tracepoint: "unix_seq_start",
        kind: HookKind::Fentry,
        without: Some(WITHOUT_PROCFS),
    },
    ProgramSpec {
        name: "handle_packet_seq",
        tracepoint: "packet_seq_start",
        kind: HookKind::Fentry,
        without: Some(WITHOUT_PROCFS),
    },
    ProgramSpec {
        name: "handle_sock_diag",
        tracepoint: "sock_diag_rcv_msg",
        kind: HookKind::Fentry,
        without: Some(
            "NETLINK_SOCK_DIAG dump requests (what ss and programs like it send) are not \
             seen by behaviour (AN0904 still matches ss by name)",
        ),
    },
];

const BTF_PATH: &str = "/sys/kernel/btf/vmlinux";

/// The loaded, attached tracer.
pub(crate) struct Loaded {
    /// The ring buffer the programs write to.
    pub(crate) ring: RingBuf<MapData>,
    /// The programs (dropping them detaches) and the loss counters.
    pub(crate) kernel: Kernel,
    /// The argv capacity of the object in use.
    pub(crate) args_cap: u32,
    /// Each program, attached or missing.
    pub(crate) programs: Vec<ProgramStatus>,
    /// `collector.linux.enumeration_window_ms`.
    pub(crate) enumeration_window_ms: u64,
}

/// What stays in the kernel: programs, links and the `lost` counters.
pub(crate) struct Kernel {
    /// Owns the programs and their links: dropping it detaches everything.
    _ebpf: Ebpf,
    lost: PerCpuArray<MapData, u64>,
}

impl std::fmt::Debug for Loaded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Loaded")
            .field("args_cap", &self.args_cap)
            .field("programs", &self.programs)
            .finish_non_exhaustive()
    }
}

impl Kernel {
    /// Sum over CPUs of each `lost` slot: [exec, fork, exit, scratch, enumeration].
    pub(crate) fn lost(&self) -> [u64; lost_slot::COUNT as usize] {
        let mut out = [0u64; lost_slot::COUNT as usize];
        for (slot, total) in out.iter_mut().enumerate() {
            if let Ok(values) = self.lost.get(&(slot as u32), 0) {
                *total = values.iter().copied().fold(0u64, u64::wrapping_add);
            }
        }
        out
    }
}

/// The effective capability set of the calling thread (`CapEff`; capabilities are per
/// thread, so /proc/thread-self rather than /proc/self).
fn effective_caps() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/thread-self/status")
        .or_else(|_| std::fs::read_to_string("/proc/self/status"))
        .ok()?;
    let line = status.lines().find(|l| l.starts_with("CapEff:"))?;
    u64::from_str_radix(line.trim_start_matches("CapEff:").trim(), 16).ok()
}

const CAP_SYS_ADMIN: u32 = 21;
const CAP_PERFMON: u32 = 38;
const CAP_BPF: u32 = 39;

fn check_privileges() -> Result<(), Error> {
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { libc::geteuid() };
    let Some(caps) = effective_caps() else {
        return if euid == 0 {
            Ok(())
        } else {
            Err(Error::NotPrivileged {
                detail: format!("running as uid {euid} and /proc/self/status is unreadable"),
            })
        };
    };
    let has = |c: u32| caps & (1u64 << c) != 0;
    if (has(CAP_BPF) && has(CAP_PERFMON)) || has(CAP_SYS_ADMIN) {
        return Ok(());
    }
    let mut missing = Vec::new();
    if !has(CAP_BPF) {
        missing.push("CAP_BPF");
    }
    if !has(CAP_PERFMON) {
        missing.push("CAP_PERFMON");
    }
    Err(Error::NotPrivileged {
        detail: format!(
            "running as uid {euid} without {} (effective capabilities {caps:#x})",
            missing.join(" and ")
        ),
    })
}

/// The running kernel's release (`6.1.0-57-cloud-amd64`), for error messages.
pub(crate) fn kernel_release() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|r| r.trim().to_string())
        .unwrap_or_else(|e| format!("(release unknown: /proc/sys/kernel/osrelease: {e})"))
}

/// `(major, minor)` of the running kernel.
fn kernel_version() -> Option<(u32, u32)> {
    let release = kernel_release();
    let mut parts = release.split(['.', '-']);
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some((major, minor))
}

fn raise_memlock() {
    let unlimited = libc::rlimit {
        rlim_cur: libc::RLIM_INFINITY,
        rlim_max: libc::RLIM_INFINITY,
    };
    // SAFETY: a valid rlimit struct is passed by reference.
    let rc = unsafe { libc::setrlimit(libc::RLIMIT_MEMLOCK, &unlimited) };
    if rc == 0 {
        return;
    }
    let err = std::io::Error::last_os_error();
    match kernel_version() {
        Some(v) if v < (5, 11) => tracing::warn!(
            error = %err,
            "Cannot raise RLIMIT_MEMLOCK; kernels before 5.11 charge BPF maps to it, so loading may fail"
        ),
        _ => tracing::debug!(
            error = %err,
            "Cannot raise RLIMIT_MEMLOCK; not needed on kernels >= 5.11 (memory cgroup accounting)"
        ),
    }
}

/// Hands the heap freed after loading (the parsed BTF copies) back to the OS; glibc
/// keeps freed memory otherwise, which would show as ~15 MB of resident memory that
/// Picket no longer uses.
fn release_freed_heap() {
    #[cfg(target_env = "gnu")]
    // SAFETY: malloc_trim has no preconditions.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Highest possible CPU id + 1 (`/sys/devices/system/cpu/possible`, e.g. `0-3,8-11`).
fn possible_cpu_slots() -> u32 {
    let text = std::fs::read_to_string("/sys/devices/system/cpu/possible").unwrap_or_default();
    let max = text
        .trim()
        .split(',')
        .filter_map(|range| range.rsplit('-').next()?.trim().parse::<u32>().ok())
        .max();
    match max {
        Some(m) => m + 1,
        None => std::thread::available_parallelism().map_or(1, |n| n.get() as u32),
    }
}

/// The object with the smallest argv capacity that holds `max_args` bytes.
fn object_for(max_args: u32) -> Result<(&'static [u8], u32), Error> {
    OBJECTS
        .iter()
        .find(|(cap, _)| *cap >= max_args)
        .map(|(cap, obj)| (*obj, *cap))
        .ok_or_else(|| Error::InvalidConfig {
            field: "max_args_bytes",
            message: format!(
                "{max_args} is above the largest capacity built in ({} bytes)",
                OBJECTS.last().map_or(0, |(cap, _)| *cap)
            ),
        })
}

/// Checks the configuration values the loader depends on.
pub(crate) fn validate(config: &LinuxCollectorConfig) -> Result<(), Error> {
    let max_args = u32::try_from(config.max_args_bytes).map_err(|_| Error::InvalidConfig {
        field: "max_args_bytes",
        message: format!("{} is too large", config.max_args_bytes),
    })?;
    object_for(max_args)?;
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) }.max(4096) as usize;
    let ring = config.ring_buffer_bytes;
    if !ring.is_power_of_two() || ring < page || u32::try_from(ring).is_err() {
        return Err(Error::InvalidConfig {
            field: "ring_buffer_bytes",
            message: format!(
                "{ring} must be a power of two, at least the page size ({page}) and below 4 GiB"
            ),
        });
    }
    Ok(())
}

/// Loads the tracer into the kernel and attaches it. From the moment this returns,
/// every exec, fork and exit is written to the ring buffer (or counted as lost).
pub(crate) fn load(
    config: &LinuxCollectorConfig,
    overrides: &TracepointOverrides,
) -> Result<Loaded, Error> {
    validate(config)?;
    check_privileges()?;
    if !Path::new(BTF_PATH).exists() {
        return Err(Error::NoBtf {
            detail: format!("{BTF_PATH} does not exist"),
        });
    }
    // Parsed kernel BTF takes ~10 MB of heap. aya's loader parses its own copy (for
    // CO-RE relocations) and the programs need one more (for the tracepoint ids), so
    // the copies are made one at a time, each freed before the next: two at once
    // would double Picket's load-time peak RSS. This first parse only checks that the
    // BTF is usable, so that failure names its cause.
    drop(Btf::from_sys_fs().map_err(|e| Error::NoBtf {
        detail: format!("cannot parse {BTF_PATH}: {}", chain(&e)),
    })?);
    raise_memlock();

    let max_args = config.max_args_bytes as u32;
    let (object, args_cap) = object_for(max_args)?;
    let ring_bytes = config.ring_buffer_bytes as u32;
    let cpus = possible_cpu_slots();
    // Wake the reader at once only when a quarter of the ring is unread; below that it
    // collects records on its poll timer (reader::POLL_INTERVAL).
    let wakeup_bytes = u64::from(ring_bytes / 4);
    let mut ebpf = EbpfLoader::new()
        .set_max_entries("events", ring_bytes)
        .set_max_entries("scratch", cpus)
        .set_global("cfg_max_args", &max_args, true)
        .set_global("cfg_wakeup_bytes", &wakeup_bytes, true)
        .set_global("cfg_self_tgid", &std::process::id(), true)
        .load(object)
        .map_err(|e| load_error(&e))?;

    let btf = Btf::from_sys_fs().map_err(|e| Error::NoBtf {
        detail: format!("cannot parse {BTF_PATH}: {}", chain(&e)),
    })?;
    let kernel = kernel_release();
    let mut programs = Vec::with_capacity(PROGRAMS.len());
    for spec in &PROGRAMS {
        let tracepoint = tracepoint_for(spec, overrides);
        match load_and_attach(&mut ebpf, spec, tracepoint, &btf, &kernel) {
            Ok(verified_instructions) => programs.push(ProgramStatus {
                program: spec.name,
                tracepoint,
                kind: spec.kind,
                state: ProgramState::Attached {
                    verified_instructions,
                },
            }),
            // An fentry program refused with EPERM after the tracepoint programs
            // loaded is not a lack of privileges (those were just proven): the kernel
            // does not allow BPF trampolines here (an LSM policy, or a kernel without
            // direct-call ftrace). That costs this program, not the tracer.
            Err(Error::NotPrivileged { detail }) if spec.kind == HookKind::Fentry => {
                let status = ProgramStatus {
                    program: spec.name,
                    tracepoint,
                    kind: spec.kind,
                    state: ProgramState::Missing {
                        reason: format!(
                            "the kernel refused the fentry program although the tracepoint \
                             programs loaded, so it does not allow BPF trampolines here \
                             ({detail})"
                        ),
                        consequence: spec.without.unwrap_or("it does not run"),
                    },
                };
                if let Some(note) = status.missing_note() {
                    tracing::warn!(kernel = %kernel, "eBPF tracer {note}");
                }
                programs.push(status);
            }
            // Without privileges nothing else would load either; and without exec
            // there is nothing to trace.
            Err(e @ Error::NotPrivileged { .. }) => return Err(e),
            Err(e) => match spec.without {
                None => return Err(e),
                Some(consequence) => {
                    let status = ProgramStatus {
                        program: spec.name,
                        tracepoint,
                        kind: spec.kind,
                        state: ProgramState::Missing {
                            reason: e.brief(),
                            consequence,
                        },
                    };
                    if let Some(note) = status.missing_note() {
                        tracing::warn!(kernel = %kernel, error = %e, "eBPF tracer {note}");
                    }
                    programs.push(status);
                }
            },
        }
    }
    drop(btf);
    release_freed_heap();

    let ring_map = ebpf
        .take_map("events")
        .ok_or_else(|| Error::Load("map `events` missing from the object".into()))?;
    let ring = RingBuf::try_from(ring_map).map_err(|e| Error::Load(chain(&e)))?;
    let lost_map = ebpf
        .take_map("lost")
        .ok_or_else(|| Error::Load("map `lost` missing from the object".into()))?;
    let lost = PerCpuArray::try_from(lost_map).map_err(|e| Error::Load(chain(&e)))?;
    let attached: Vec<&str> = programs
        .iter()
        .filter(|p| matches!(p.state, ProgramState::Attached { .. }))
        .map(|p| p.tracepoint)
        .collect();
    let verified: Vec<String> = programs
        .iter()
        .filter_map(|p| match p.state {
            ProgramState::Attached {
                verified_instructions: Some(n),
            } => Some(format!("{}={n}", p.program)),
            _ => None,
        })
        .collect();
    tracing::info!(
        kernel = %kernel,
        ring_buffer_bytes = ring_bytes,
        max_args_bytes = max_args,
        args_capacity = args_cap,
        cpu_slots = cpus,
        verified_instructions = %verified.join(" "),
        "Attached the eBPF process tracer ({})",
        attached.join(", ")
    );
    Ok(Loaded {
        ring,
        kernel: Kernel { _ebpf: ebpf, lost },
        args_cap,
        programs,
        enumeration_window_ms: config.enumeration_window_ms,
    })
}

/// Test hook: tracepoints to attach programs to instead of their own (`(program,
/// tracepoint)`). Naming one the kernel does not have shows how the collector runs on
/// a kernel without that hook; nothing else uses it.
pub(crate) type TracepointOverrides = [(&'static str, &'static str)];

fn tracepoint_for(spec: &ProgramSpec, overrides: &TracepointOverrides) -> &'static str {
    overrides
        .iter()
        .find(|(program, _)| *program == spec.name)
        .map_or(spec.tracepoint, |(_, tp)| tp)
}

/// Verifies and attaches one program; returns the verifier's instruction count.
fn load_and_attach(
    ebpf: &mut Ebpf,
    spec: &ProgramSpec,
    tracepoint: &'static str,
    btf: &Btf,
    kernel: &str,
) -> Result<Option<u32>, Error> {
    let program = spec.name;
    let attach_error = |e: ProgramError| Error::Attach {
        program,
        tracepoint,
        kernel: kernel.to_string(),
        detail: chain(&e),
    };
    let prog = ebpf
        .program_mut(program)
        .ok_or_else(|| Error::Load(format!("program {program} missing from the object")))?;
    // The two kinds load and attach alike, through different aya types. For fentry, a
    // function this kernel's vmlinux BTF lacks (absent, or in a module) fails at load,
    // by name, before anything reaches the kernel.
    macro_rules! load_and_attach {
        ($kind:ty) => {{
            let prog: &mut $kind = prog
                .try_into()
                .map_err(|e: ProgramError| Error::Load(chain(&e)))?;
            load_retrying(|| prog.load(tracepoint, btf))
                .map_err(|e| program_error(program, tracepoint, kernel, e))?;
            let verified = prog
                .info()
                .ok()
                .and_then(|info| info.verified_instruction_count());
            prog.attach().map_err(attach_error)?;
            Ok(verified)
        }};
    }
    match spec.kind {
        HookKind::Tracepoint => load_and_attach!(BtfTracePoint),
        HookKind::Fentry => load_and_attach!(FEntry),
    }
}

/// Blocks every maskable signal on the calling thread until dropped.
struct SignalsBlocked(libc::sigset_t);

impl SignalsBlocked {
    fn new() -> SignalsBlocked {
        // SAFETY: sigset_t is plain data; sigfillset/pthread_sigmask get valid pointers.
        unsafe {
            let mut all: libc::sigset_t = std::mem::zeroed();
            let mut old: libc::sigset_t = std::mem::zeroed();
            libc::sigfillset(&mut all);
            libc::pthread_sigmask(libc::SIG_BLOCK, &all, &mut old);
            SignalsBlocked(old)
        }
    }
}

impl Drop for SignalsBlocked {
    fn drop(&mut self) {
        // SAFETY: restores the mask saved in new().
        unsafe {
            libc::pthread_sigmask(libc::SIG_SETMASK, &self.0, std::ptr::null_mut());
        }
    }
}

/// Loads one program. The verifier gives up with EAGAIN whenever a signal is pending
/// for the loading thread, which says nothing about the program: a process that
/// spawns children gets a SIGCHLD queued now and then, and a SIGHUP reload can land at
/// any time. So signals are blocked on this thread for the few milliseconds of the
/// load (they are delivered right after), and EAGAIN is retried as libbpf does.
fn load_retrying(mut load: impl FnMut() -> Result<(), ProgramError>) -> Result<(), ProgramError> {
    const ATTEMPTS: u32 = 5;
    let _blocked = SignalsBlocked::new();
    let mut attempt = 1;
    loop {
        match load() {
            Err(ProgramError::LoadError { io_error, .. })
                if io_error.raw_os_error() == Some(libc::EAGAIN) && attempt < ATTEMPTS =>
            {
                tracing::debug!(
                    attempt,
                    "The verifier was interrupted (EAGAIN); loading again"
                );
                attempt += 1;
            }
            other => return other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smallest_object_that_fits_is_chosen() {
        assert_eq!(object_for(256).map(|o| o.1).ok(), Some(32 * 1024));
        assert_eq!(object_for(32 * 1024).map(|o| o.1).ok(), Some(32 * 1024));
        assert_eq!(
            object_for(32 * 1024 + 1).map(|o| o.1).ok(),
            Some(256 * 1024)
        );
        assert_eq!(object_for(1 << 20).map(|o| o.1).ok(), Some(1 << 20));
        assert!(object_for((1 << 20) + 1).is_err());
    }

    #[test]
    fn every_object_is_a_bpf_elf_with_btf() {
        let caps: Vec<u32> = OBJECTS.iter().map(|(cap, _)| *cap).collect();
        assert_eq!(
            caps,
            crate::record::layout::ARGS_CAPS,
            "one object per capacity"
        );
        for (_, obj) in OBJECTS {
            assert_eq!(&obj[..4], b"\x7fELF");
            // e_machine 247 = EM_BPF.
            assert_eq!(u16::from_le_bytes([obj[18], obj[19]]), 247);
            let has = |needle: &[u8]| obj.windows(needle.len()).any(|w| w == needle);
            assert!(has(b".BTF.ext"), "CO-RE needs .BTF.ext");
            assert!(has(b"tp_btf/sched_process_exec"));
        }
    }

    #[test]
    fn possible_cpus_cover_this_machine() {
        let n = std::thread::available_parallelism().map_or(1, |n| n.get() as u32);
        assert!(possible_cpu_slots() >= n);
    }
}
