//! `[sinks.syslog]` (the sinks room): forwarding alerts to a syslog collector (rsyslog,
//! syslog-ng, Vector, Splunk, ...): RFC 5424 messages whose MSG is the ECS JSON alert,
//! over TCP with octet-counting framing (RFC 6587), TLS (RFC 5425) or UDP (RFC 5426).
//!
//! The sink itself, and its delivery guarantee, are in [`crate::syslog`].

use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::PathBuf;

/// Transport to the collector. An unknown name is a config error listing these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SyslogProtocol {
    /// TCP with octet-counting framing (RFC 6587).
    Tcp,
    /// The same inside TLS (RFC 5425).
    Tls,
    /// One datagram per message (RFC 5426).
    Udp,
}

impl SyslogProtocol {
    /// The name as written in the config.
    pub fn as_str(self) -> &'static str {
        match self {
            SyslogProtocol::Tcp => "tcp",
            SyslogProtocol::Tls => "tls",
            SyslogProtocol::Udp => "udp",
        }
    }
}

impl fmt::Display for SyslogProtocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Syslog facility (RFC 5424 section 6.2.1); the discriminant is its code, `kern` 0 to
/// `local7` 23. Names are lower case, as syslog.conf writes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[allow(missing_docs)] // the names are the standard's
pub enum Facility {
    Kern = 0,
    User,
    Mail,
    Daemon,
    Auth,
    Syslog,
    Lpr,
    News,
    Uucp,
    Cron,
    Authpriv,
    Ftp,
    Ntp,
    Audit,
    Alert,
    Clock,
    Local0,
    Local1,
    Local2,
    Local3,
    Local4,
    Local5,
    Local6,
    Local7,
}

impl Facility {
    /// The facility's code, 0 to 23 (PRI = code * 8 + severity).
    pub fn code(self) -> u8 {
        self as u8
    }
}

/// `[sinks.syslog]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SyslogSinkConfig {
    /// Forward every alert to the collector.
    pub enabled: bool,
    /// Collector address, `host:port` (`[v6]:port` for IPv6 literals). The name is
    /// resolved again on every reconnect.
    pub address: String,
    /// `tcp` (octet counting, RFC 6587), `tls` (RFC 5425) or `udp` (RFC 5426).
    pub protocol: SyslogProtocol,
    /// Facility name: `kern` ... `local7`.
    pub facility: Facility,
    /// RFC 5424 APP-NAME: 1 to 48 printable US-ASCII characters, no spaces.
    pub app_name: String,
    /// Alerts kept in memory while the collector is slow or unreachable; when full,
    /// new alerts are counted as dropped (`sink.syslog`).
    pub queue_capacity: usize,
    /// Longest wait between reconnect attempts (the wait doubles from 100 ms up to this).
    pub max_backoff_secs: u64,
    /// At shutdown, how long to keep trying to deliver queued alerts before counting
    /// the rest as dropped.
    pub flush_timeout_secs: u64,
    /// Largest message (header plus JSON) sent; a larger alert is counted as dropped.
    /// UDP cannot carry more than 65507 bytes.
    pub max_message_bytes: usize,
    /// TLS: PEM file of the CA(s) that signed the collector's certificate; unset = the
    /// system's trusted roots.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_ca_file: Option<PathBuf>,
    /// TLS: name to verify in the collector's certificate; unset = the host of `address`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_server_name: Option<String>,
}

impl Default for SyslogSinkConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            address: "127.0.0.1:514".into(),
            protocol: SyslogProtocol::Tcp,
            facility: Facility::Local0,
            app_name: "picket".into(),
            queue_capacity: 10_000,
            max_backoff_secs: 30,
            flush_timeout_secs: 5,
            max_message_bytes: 65_536,
            tls_ca_file: None,
            tls_server_name: None,
        }
    }
}

impl SyslogSinkConfig {
    /// Splits `address` into host and port (`host:port`, `[v6]:port`).
    pub fn host_port(&self) -> Option<(&str, u16)> {
        split_host_port(&self.address)
    }

    /// Semantic checks, each as (field path, message).
    pub fn validate(&self, problems: &mut Vec<(String, String)>) {
        let mut check = |ok: bool, field: &str, msg: String| {
            if !ok {
                problems.push((format!("sinks.syslog.{field}"), msg));
            }
        };
        check(
            self.host_port().is_some(),
            "address",
            format!(
                "expected host:port (or [ipv6]:port) with a port from 1 to 65535, found {:?}",
                self.address
            ),
        );
        check(
            (1..=48).contains(&self.app_name.len())
                && self.app_name.bytes().all(|b| (33..=126).contains(&b)),
            "app_name",
            format!(
                "expected 1 to 48 printable ASCII characters without spaces, found {:?}",
                self.app_name
            ),
        );
        check(
            (1..=10_000_000).contains(&self.queue_capacity),
            "queue_capacity",
            format!(
                "expected 1 to 10000000 alerts, found {}",
                self.queue_capacity
            ),
        );
        check(
            (1..=3600).contains(&self.max_backoff_secs),
            "max_backoff_secs",
            format!(
                "expected 1 to 3600 seconds, found {}",
                self.max_backoff_secs
            ),
        );
        check(
            self.flush_timeout_secs <= 600,
            "flush_timeout_secs",
            format!(
                "expected 0 to 600 seconds, found {}",
                self.flush_timeout_secs
            ),
        );
        let max = if self.protocol == SyslogProtocol::Udp {
            65_507
        } else {
            16 * 1024 * 1024
        };
        check(
            (480..=max).contains(&self.max_message_bytes),
            "max_message_bytes",
            format!(
                "expected 480 to {max} bytes for protocol \"{}\", found {}",
                self.protocol, self.max_message_bytes
            ),
        );
        check(
            self.protocol == SyslogProtocol::Tls
                || (self.tls_ca_file.is_none() && self.tls_server_name.is_none()),
            "protocol",
            "tls_ca_file or tls_server_name is set but protocol is not \"tls\"".into(),
        );
        check(
            self.tls_ca_file
                .as_ref()
                .is_none_or(|p| !p.as_os_str().is_empty()),
            "tls_ca_file",
            "expected a PEM file path; leave the key out to use the system's trusted roots".into(),
        );
        check(
            self.tls_server_name
                .as_ref()
                .is_none_or(|n| !n.trim().is_empty()),
            "tls_server_name",
            "expected a host name; leave the key out to verify the host of address".into(),
        );
    }
}

/// `host:port` or `[v6]:port` → (host, port); the port must be 1–65535 and the host
/// non-empty.
pub fn split_host_port(address: &str) -> Option<(&str, u16)> {
    let (host, port) = if let Some(rest) = address.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        (host, after.strip_prefix(':')?)
    } else {
        let (host, port) = address.rsplit_once(':')?;
        if host.contains(':') {
            return None;
        }
        (host, port)
    };
    let port: u16 = port.parse().ok()?;
    let host_ok = !host.is_empty() && !host.chars().any(|c| c.is_whitespace() || c == '/');
    (host_ok && port != 0).then_some((host, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A root with only `[sinks.syslog]`, to parse the section through the real loader.
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
    #[serde(deny_unknown_fields, default)]
    struct Root {
        sinks: RootSinks,
    }

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
    #[serde(deny_unknown_fields, default)]
    struct RootSinks {
        syslog: SyslogSinkConfig,
    }

    impl sensor_core::ConfigRoot for Root {
        type Built = ();
        fn build(&self) -> Result<(), sensor_core::config::Problems> {
            let mut problems = Vec::new();
            self.sinks.syslog.validate(&mut problems);
            problems.is_empty().then_some(()).ok_or(problems)
        }
    }

    #[test]
    fn addresses_split() {
        assert_eq!(split_host_port("127.0.0.1:514"), Some(("127.0.0.1", 514)));
        assert_eq!(split_host_port("[::1]:6514"), Some(("::1", 6514)));
        assert_eq!(
            split_host_port("logs.example:6514"),
            Some(("logs.example", 6514))
        );
        assert_eq!(split_host_port("::1:514"), None);
        assert_eq!(split_host_port("host:0"), None);
        assert_eq!(split_host_port("host"), None);
        assert_eq!(split_host_port(":514"), None);
        assert_eq!(split_host_port("host:99999"), None);
    }

    #[test]
    fn every_bad_field_is_reported() {
        // Names outside a fixed set fail while parsing, the rest in validation: one run
        // reports them all, each on its line.
        let text = "[sinks.syslog]\naddress = \"nowhere\"\nprotocol = \"relp\"\nfacility = \"local9\"\napp_name = \"has space\"\nqueue_capacity = 0\nmax_backoff_secs = 0\nflush_timeout_secs = 601\nmax_message_bytes = 10\n";
        let errs = sensor_core::config::from_toml_str::<Root>(text, "t.toml").expect_err("all bad");
        for (line, f) in [
            (2, "address"),
            (3, "protocol"),
            (4, "facility"),
            (5, "app_name"),
            (6, "queue_capacity"),
            (7, "max_backoff_secs"),
            (8, "flush_timeout_secs"),
            (9, "max_message_bytes"),
        ] {
            let field = format!("sinks.syslog.{f}");
            assert!(
                errs.0.iter().any(|e| e.field == field && e.line == line),
                "{f} on line {line} missing from:\n{errs}"
            );
        }
        let facility = errs.0.iter().find(|e| e.field == "sinks.syslog.facility");
        assert!(
            facility.is_some_and(|e| e.message.contains("local9") && e.message.contains("local7")),
            "the facility error names the value and the expected ones:\n{errs}"
        );
        let mut none = Vec::new();
        SyslogSinkConfig::default().validate(&mut none);
        assert!(none.is_empty(), "{none:?}");
    }

    #[test]
    fn udp_messages_are_capped_by_the_datagram_size() {
        let c = SyslogSinkConfig {
            protocol: SyslogProtocol::Udp,
            max_message_bytes: 65_536,
            ..SyslogSinkConfig::default()
        };
        let mut problems = Vec::new();
        c.validate(&mut problems);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].0, "sinks.syslog.max_message_bytes");
        assert_eq!(SyslogSinkConfig::default().facility.code(), 16);
        assert_eq!(Facility::Kern.code(), 0);
        assert_eq!(Facility::Local7.code(), 23);
    }

    #[test]
    fn empty_tls_settings_are_refused_rather_than_meaning_default() {
        let c = SyslogSinkConfig {
            protocol: SyslogProtocol::Tls,
            tls_ca_file: Some(PathBuf::new()),
            tls_server_name: Some(" ".into()),
            ..SyslogSinkConfig::default()
        };
        let mut problems = Vec::new();
        c.validate(&mut problems);
        let fields: Vec<&str> = problems.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(
            fields,
            ["sinks.syslog.tls_ca_file", "sinks.syslog.tls_server_name"],
            "{problems:?}"
        );
    }
}
