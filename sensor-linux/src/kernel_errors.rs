//! How aya's and the kernel's refusals become [`Error`]s that name their cause: EPERM
//! anywhere in a chain means missing privileges, a BTF or CO-RE failure means missing
//! or unusable kernel BTF, and a verifier rejection keeps the tail of the verifier's
//! log (its verdict is at the end). Linux only; touches nothing.

use crate::error::{chain, Error};
use aya::programs::ProgramError;
use aya::EbpfError;

/// Verifier log lines kept in an error.
const LOG_TAIL: usize = 120;

fn is_eperm(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            if io.raw_os_error() == Some(libc::EPERM) {
                return true;
            }
        }
        cur = err.source();
    }
    let text = chain(e);
    text.contains("Operation not permitted") || text.contains("code -1, io error: EPERM")
}

pub(crate) fn load_error(e: &EbpfError) -> Error {
    if is_eperm(e) {
        return Error::NotPrivileged {
            detail: format!("the kernel refused: {}", chain(e)),
        };
    }
    if let EbpfError::BtfRelocationError(_) | EbpfError::BtfError(_) = e {
        return Error::NoBtf {
            detail: format!(
                "CO-RE relocation against the kernel's BTF failed: {}",
                chain(e)
            ),
        };
    }
    Error::Load(chain(e))
}

/// A verifier rejection with the tail of its log (the verdict is at the end).
fn verifier_error(
    program: &'static str,
    tracepoint: &'static str,
    kernel: &str,
    io_error: &std::io::Error,
    log: &str,
) -> Error {
    let lines: Vec<&str> = log.lines().collect();
    let tail = lines.len().saturating_sub(LOG_TAIL);
    let shown = if tail > 0 {
        format!(", last {LOG_TAIL} shown")
    } else {
        String::new()
    };
    Error::Verifier {
        program,
        tracepoint,
        kernel: kernel.to_string(),
        reason: io_error.to_string(),
        log: format!(
            "--- verifier log ({} lines{shown}) ---\n{}",
            lines.len(),
            lines[tail..].join("\n")
        ),
    }
}

pub(crate) fn program_error(
    program: &'static str,
    tracepoint: &'static str,
    kernel: &str,
    e: ProgramError,
) -> Error {
    if let ProgramError::LoadError {
        io_error,
        verifier_log,
    } = &e
    {
        if io_error.raw_os_error() == Some(libc::EPERM) {
            return Error::NotPrivileged {
                detail: format!("loading {program}: {io_error}"),
            };
        }
        return verifier_error(
            program,
            tracepoint,
            kernel,
            io_error,
            &verifier_log.to_string(),
        );
    }
    if is_eperm(&e) {
        return Error::NotPrivileged {
            detail: format!("loading {program}: {}", chain(&e)),
        };
    }
    Error::Attach {
        program,
        tracepoint,
        kernel: kernel.to_string(),
        detail: chain(&e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verifier_rejections_carry_the_log_tail() {
        let log: String = (1..=500)
            .map(|i| format!("{i}: insn\n"))
            .collect::<String>()
            + "R3 unbounded memory access\nprocessed 480 insns";
        let err = verifier_error(
            "handle_exec",
            "sched_process_exec",
            "6.1.0-57-cloud-amd64",
            &std::io::Error::from_raw_os_error(libc::EACCES),
            &log,
        );
        let text = err.to_string();
        assert!(
            text.contains("the kernel verifier rejected the handle_exec program"),
            "{text}"
        );
        assert!(text.contains("sched_process_exec"));
        assert!(text.contains("Linux 6.1.0-57-cloud-amd64"), "{text}");
        assert!(
            text.contains("scripts/test-kernel.sh"),
            "the fix is named: {text}"
        );
        assert!(text.contains("502 lines, last 120 shown"), "{text}");
        assert!(text.ends_with("R3 unbounded memory access\nprocessed 480 insns"));
        assert!(!text.contains("\n1: insn"), "the head is cut");
        assert!(matches!(
            sensor_core::collector::CollectorError::from(err),
            sensor_core::collector::CollectorError::Prerequisite(_)
        ));
    }
}
