//! Which of the tracer's eBPF programs run on this kernel, and what is lost without one.
//! Plain data, on every OS (the loader that fills it in is Linux-only).

/// How one of the tracer's programs fared on this kernel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProgramStatus {
    /// The program's name in the eBPF object (`handle_exec`, `handle_fork`, `handle_exit`).
    pub program: &'static str,
    /// The tracepoint it attaches to.
    pub tracepoint: &'static str,
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
                "running without {} (tracepoint {}): {reason}; {consequence}",
                self.program, self.tracepoint
            )),
            ProgramState::Attached { .. } => None,
        }
    }
}
