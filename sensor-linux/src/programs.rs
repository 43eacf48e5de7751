//! Which of the tracer's eBPF programs run on this kernel, and what is lost without one.
//! Plain data, on every OS (the loader that fills it in is Linux-only).

/// How a program attaches to the kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HookKind {
    /// A BTF-enabled tracepoint (`tp_btf`): the process lifecycle.
    Tracepoint,
    /// The entry of a kernel function (`fentry`, found in the kernel's BTF): the
    /// functions that serve connection tables.
    Fentry,
}

impl HookKind {
    /// `tracepoint` or `fentry`, as the notes name it.
    pub fn as_str(self) -> &'static str {
        match self {
            HookKind::Tracepoint => "tracepoint",
            HookKind::Fentry => "fentry",
        }
    }
}

/// How one of the tracer's programs fared on this kernel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProgramStatus {
    /// The program's name in the eBPF object (`handle_exec`, `handle_tcp_seq`, ...).
    pub program: &'static str,
    /// The tracepoint or kernel function it attaches to.
    pub tracepoint: &'static str,
    /// Which of the two `tracepoint` names.
    pub kind: HookKind,
    /// Attached, or missing and why.
    pub state: ProgramState,
}

/// Whether a program runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProgramState {
    /// Verified and attached.
    Attached {
        /// Instructions the verifier processed (`bpf_prog_info.verified_insns`; kernels
        /// >= 5.16 report it).
        verified_instructions: Option<u32>,
    },
    /// The kernel could not run it; the tracer runs without it.
    Missing {
        /// What failed (the kernel's or aya's words).
        reason: String,
        /// What Picket loses without it.
        consequence: &'static str,
    },
}

impl ProgramStatus {
    /// One line for the log and health: what is missing, why, and what that costs.
    pub fn missing_note(&self) -> Option<String> {
        match &self.state {
            ProgramState::Missing {
                reason,
                consequence,
            } => Some(format!(
                "running without {} ({} {}): {reason}; {consequence}",
                self.program,
                self.kind.as_str(),
                self.tracepoint
            )),
            ProgramState::Attached { .. } => None,
        }
    }
}
