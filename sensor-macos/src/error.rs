//! Errors of the macOS collector, and how eslogger's own failures are recognised.

use sensor_core::CollectorError;

/// Where Full Disk Access is granted, as System Settings names it (macOS 13 and later).
pub const FULL_DISK_ACCESS_PANE: &str = "System Settings › Privacy & Security › Full Disk Access";

/// Why the macOS collector cannot run.
#[derive(Debug, thiserror::Error)]
pub enum MacosError {
    /// Endpoint Security refused eslogger because the process responsible for it (Picket)
    /// has no Full Disk Access (TCC).
    #[error(
        "eslogger ({eslogger}) was refused by Endpoint Security: the process responsible for \
         it lacks Full Disk Access (TCC). Grant Full Disk Access to the picket binary \
         ({picket}) in {FULL_DISK_ACCESS_PANE} (click +, add that file, switch it on), then \
         restart Picket (sudo launchctl kickstart -k system/com.picket.sensor). Picket must \
         also run as root. eslogger said: {stderr}"
    )]
    FullDiskAccess {
        /// eslogger's path.
        eslogger: String,
        /// Picket's own executable, which is what must be granted access.
        picket: String,
        /// The end of eslogger's stderr.
        stderr: String,
    },
    /// Endpoint Security clients must run as root.
    #[error(
        "eslogger must run as root (Endpoint Security refuses other users): run Picket as \
         root (the launchd daemon com.picket.sensor does), and grant the picket binary \
         Full Disk Access in {FULL_DISK_ACCESS_PANE}. {detail}"
    )]
    NotRoot {
        /// What showed it (eslogger's stderr, or Picket's own check).
        detail: String,
    },
    /// eslogger lacks the Endpoint Security entitlement (it is Apple's signed tool; this
    /// means the binary at the configured path is not Apple's eslogger).
    #[error(
        "{eslogger} is not entitled to use Endpoint Security: point \
         collector.macos.eslogger_path at Apple's /usr/bin/eslogger. eslogger said: {stderr}"
    )]
    NotEntitled {
        /// eslogger's path.
        eslogger: String,
        /// The end of eslogger's stderr.
        stderr: String,
    },
    /// No eslogger at the configured path.
    #[error(
        "cannot start eslogger at {eslogger}: {source}. eslogger ships with macOS 13 \
         (Ventura) and later; on older macOS Picket cannot collect live events (set \
         collector.macos.eslogger_path if it lives elsewhere)"
    )]
    EsloggerMissing {
        /// eslogger's path.
        eslogger: String,
        /// The spawn error.
        source: std::io::Error,
    },
    /// The followed file could not be read.
    #[error("cannot follow eslogger output in {path}: {source}")]
    Tail {
        /// The file.
        path: String,
        /// The error.
        source: std::io::Error,
    },
    /// `collector.macos.source = "tail"` without a file to follow.
    #[error("collector.macos.tail_path: expected the file eslogger writes when collector.macos.source is \"tail\"")]
    NoTailPath,
}

impl From<MacosError> for CollectorError {
    fn from(e: MacosError) -> Self {
        match e {
            MacosError::Tail { path, source } => CollectorError::Io {
                what: format!("eslogger output {path}"),
                source,
            },
            MacosError::NoTailPath => CollectorError::Failed(e.to_string()),
            other => CollectorError::Prerequisite(other.to_string()),
        }
    }
}

/// A failure eslogger reports on stderr that restarting will not cure (or, for
/// [`EsloggerFailure::TooManyClients`], may cure later).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EsloggerFailure {
    /// `ES_NEW_CLIENT_RESULT_ERR_NOT_PERMITTED`: no Full Disk Access (TCC).
    FullDiskAccess,
    /// `ES_NEW_CLIENT_RESULT_ERR_NOT_PRIVILEGED`: not running as root.
    NotRoot,
    /// `ES_NEW_CLIENT_RESULT_ERR_NOT_ENTITLED`.
    NotEntitled,
    /// `ES_NEW_CLIENT_RESULT_ERR_TOO_MANY_CLIENTS`: worth retrying with backoff.
    TooManyClients,
}

impl EsloggerFailure {
    /// True when retrying cannot help until someone changes the system.
    pub fn is_fatal(self) -> bool {
        !matches!(self, EsloggerFailure::TooManyClients)
    }
}

/// Recognises the Endpoint Security client-creation failures in eslogger's stderr. The
/// wording is not API, so both the `es_new_client_result_t` names and the plain-language
/// phrases (as libEndpointSecurity logs them, e.g. "Caller lacks TCC authorization for
/// Full Disk Access") are matched, case-insensitively.
pub fn classify_eslogger_failure(stderr: &str) -> Option<EsloggerFailure> {
    let s = stderr.to_ascii_lowercase();
    let any = |needles: &[&str]| needles.iter().any(|n| s.contains(n));
    if any(&[
        "err_not_permitted",
        "not permitted",
        "tcc",
        "full disk access",
    ]) {
        Some(EsloggerFailure::FullDiskAccess)
    } else if any(&[
        "err_not_privileged",
        "not privileged",
        "super-user",
        "superuser",
        "run as root",
        "must be root",
    ]) {
        Some(EsloggerFailure::NotRoot)
    } else if any(&["err_not_entitled", "not entitled"]) {
        Some(EsloggerFailure::NotEntitled)
    } else if any(&["err_too_many_clients", "too many clients"]) {
        Some(EsloggerFailure::TooManyClients)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_creation_failures_are_recognised() {
        use EsloggerFailure::*;
        let cases = [
            ("ERROR: es_new_client: ES_NEW_CLIENT_RESULT_ERR_NOT_PERMITTED", Some(FullDiskAccess)),
            (
                "(libEndpointSecurity.dylib) Failed to open service: 0xe00002d8: Caller lacks TCC authorization for Full Disk Access",
                Some(FullDiskAccess),
            ),
            ("es_new_client failed: ES_NEW_CLIENT_RESULT_ERR_NOT_PRIVILEGED", Some(NotRoot)),
            ("eslogger must be run as super-user", Some(NotRoot)),
            ("ES_NEW_CLIENT_RESULT_ERR_NOT_ENTITLED", Some(NotEntitled)),
            ("ES_NEW_CLIENT_RESULT_ERR_TOO_MANY_CLIENTS", Some(TooManyClients)),
            ("Segmentation fault", None),
            ("", None),
        ];
        for (stderr, want) in cases {
            assert_eq!(classify_eslogger_failure(stderr), want, "{stderr}");
        }
        assert!(FullDiskAccess.is_fatal() && NotRoot.is_fatal() && !TooManyClients.is_fatal());
    }

    #[test]
    fn full_disk_access_error_says_what_to_grant_and_where() {
        let e = MacosError::FullDiskAccess {
            eslogger: "/usr/bin/eslogger".into(),
            picket: "/usr/local/bin/picket".into(),
            stderr: "ES_NEW_CLIENT_RESULT_ERR_NOT_PERMITTED".into(),
        };
        let text = CollectorError::from(e).to_string();
        for needle in [
            "Full Disk Access",
            "/usr/local/bin/picket",
            "System Settings › Privacy & Security › Full Disk Access",
            "root",
            "ES_NEW_CLIENT_RESULT_ERR_NOT_PERMITTED",
        ] {
            assert!(text.contains(needle), "{needle:?} missing from: {text}");
        }
    }
}
