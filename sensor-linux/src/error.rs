//! Why the Linux collector could not start or stopped.

use sensor_core::collector::CollectorError;

/// Errors of the Linux collector. Each says what is missing and how to fix it.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Not running on Linux.
    #[error("the linux-ebpf collector runs only on Linux")]
    Unsupported,
    /// A configuration value the collector cannot use.
    #[error("collector.linux.{field}: {message}")]
    InvalidConfig {
        /// The field under `[collector.linux]`.
        field: &'static str,
        /// What is wrong with it.
        message: String,
    },
    /// Missing privilege: not root and lacking CAP_BPF + CAP_PERFMON (or CAP_SYS_ADMIN),
    /// or the kernel refused a BPF operation with EPERM.
    #[error(
        "loading the eBPF process tracer needs root, or CAP_BPF and CAP_PERFMON \
         (kernel >= 5.8; CAP_SYS_ADMIN on older kernels): {detail}. Run picket as root \
         (the systemd unit does), or grant the capabilities: \
         `setcap cap_bpf,cap_perfmon+ep /usr/bin/picket`"
    )]
    NotPrivileged {
        /// What was found (effective uid, capabilities, the failing operation).
        detail: String,
    },
    /// The kernel exposes no BTF, which CO-RE and BTF tracepoints need.
    #[error(
        "kernel BTF is unavailable ({detail}): the eBPF tracer needs a kernel built with \
         CONFIG_DEBUG_INFO_BTF=y (Linux >= 5.8; Debian, Ubuntu >= 20.10, RHEL/Alma >= 8.2 \
         and Fedora ship it), exposing /sys/kernel/btf/vmlinux"
    )]
    NoBtf {
        /// What failed.
        detail: String,
    },
    /// The kernel's verifier rejected a program.
    #[error(
        "the kernel verifier rejected the {program} program (tracepoint {tracepoint}) on \
         Linux {kernel}: {reason}. Picket's programs are proven on the kernels the README \
         lists under \"Linux kernels\"; on another kernel, run Picket on one of those, or \
         report this log with the kernel's release (`scripts/test-kernel.sh \
         /boot/vmlinuz-{kernel}` reproduces it in a VM)\n{log}"
    )]
    Verifier {
        /// Program name in the object.
        program: &'static str,
        /// The tracepoint it attaches to.
        tracepoint: &'static str,
        /// The running kernel's release.
        kernel: String,
        /// The load error (errno).
        reason: String,
        /// The verifier log (its last lines when long), headed by how long it was.
        log: String,
    },
    /// The kernel lacks a tracepoint or feature the tracer attaches to.
    #[error(
        "cannot attach the {program} program to tracepoint {tracepoint} on Linux {kernel}: \
         {detail}. The tracer needs BTF-enabled tracepoints (Linux >= 5.5) and the BPF ring \
         buffer (Linux >= 5.8): run Picket on such a kernel (the README's \"Linux kernels\" \
         lists those it is proven on)"
    )]
    Attach {
        /// Program name.
        program: &'static str,
        /// Tracepoint.
        tracepoint: &'static str,
        /// The running kernel's release.
        kernel: String,
        /// What failed.
        detail: String,
    },
    /// Loading the object or creating its maps failed for another reason.
    #[error("cannot load the eBPF object: {0}")]
    Load(String),
    /// Reading the ring buffer failed.
    #[error("reading the eBPF ring buffer failed: {0}")]
    Ring(#[source] std::io::Error),
}

impl Error {
    /// The error in one line, for a health note: a verifier rejection keeps only the
    /// last line of its log (the verdict), an attach failure only its detail.
    pub fn brief(&self) -> String {
        match self {
            Error::Verifier { reason, log, .. } => {
                // The log ends with statistics; the verdict is the line before them.
                let statistics = ["processed ", "verification time", "stack depth"];
                let verdict = log
                    .lines()
                    .rev()
                    .find(|l| !l.trim().is_empty() && !statistics.iter().any(|s| l.starts_with(s)));
                format!(
                    "the verifier rejected it ({reason}): {}",
                    verdict.unwrap_or("no log")
                )
            }
            Error::Attach { detail, .. } => format!("cannot load or attach it: {detail}"),
            other => other.to_string(),
        }
    }
}

impl From<Error> for CollectorError {
    fn from(e: Error) -> Self {
        match e {
            Error::Unsupported => CollectorError::Unsupported {
                collector: crate::convert::COLLECTOR_NAME,
                needs: "Linux",
            },
            Error::NotPrivileged { .. }
            | Error::NoBtf { .. }
            | Error::Verifier { .. }
            | Error::Attach { .. } => CollectorError::Prerequisite(e.to_string()),
            Error::Ring(source) => CollectorError::Io {
                what: "the eBPF ring buffer".into(),
                source,
            },
            Error::InvalidConfig { .. } | Error::Load(_) => CollectorError::Failed(e.to_string()),
        }
    }
}

/// An error and its sources, joined with ": ".
#[cfg(target_os = "linux")]
pub(crate) fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(src) = cur {
        let text = src.to_string();
        if !s.contains(&text) {
            s.push_str(": ");
            s.push_str(&text);
        }
        cur = src.source();
    }
    s
}
