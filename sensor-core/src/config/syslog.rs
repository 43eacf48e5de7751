//! `[sinks.syslog]`: forwarding alerts to a syslog collector (rsyslog, syslog-ng, Vector,
//! Splunk, ...): RFC 5424 messages whose MSG is the ECS JSON alert, over TCP with
//! octet-counting framing (RFC 6587), TLS (RFC 5425) or UDP (RFC 5426).
//!
//! The delivery guarantee is documented on [`crate::syslog`].

use serde::{Deserialize, Serialize};

/// Syslog facility names (RFC 5424 section 6.2.1), in code order: `kern` is 0, `local7` 23.
pub const FACILITIES: [&str; 24] = [
    "kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron", "authpriv",
    "ftp", "ntp", "audit", "alert", "clock", "local0", "local1", "local2", "local3", "local4",
    "local5", "local6", "local7",
];

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
    pub protocol: String,
    /// Facility name: `kern` ... `local7`.
    pub facility: String,
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
    /// TLS: PEM file of the CA(s) that signed the collector's certificate; empty = the
    /// system's trusted roots.
    pub tls_ca_file: String,
    /// TLS: name to verify in the collector's certificate; empty = the host of `address`.
    pub tls_server_name: String,
}

impl Default for SyslogSinkConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            address: "127.0.0.1:514".into(),
            protocol: "tcp".into(),
            facility: "local0".into(),
            app_name: "picket".into(),
            queue_capacity: 10_000,
            max_backoff_secs: 30,
            flush_timeout_secs: 5,
            max_message_bytes: 65_536,
            tls_ca_file: String::new(),
            tls_server_name: String::new(),
        }
    }
}

impl SyslogSinkConfig {
    /// The facility's code (0–23), if the name is known.
    pub fn facility_code(&self) -> Option<u8> {
        FACILITIES
            .iter()
            .position(|f| f.eq_ignore_ascii_case(&self.facility))
            .and_then(|i| u8::try_from(i).ok())
    }

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
            matches!(self.protocol.as_str(), "tcp" | "tls" | "udp"),
            "protocol",
            format!(
                "expected \"tcp\", \"tls\" or \"udp\", found {:?}",
                self.protocol
            ),
        );
        check(
            self.facility_code().is_some(),
            "facility",
            format!(
                "expected one of {}, found {:?}",
                FACILITIES.join(", "),
                self.facility
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
        let max = if self.protocol == "udp" {
            65_507
        } else {
            16 * 1024 * 1024
        };
        check(
            (480..=max).contains(&self.max_message_bytes),
            "max_message_bytes",
            format!(
                "expected 480 to {max} bytes for protocol {:?}, found {}",
                self.protocol, self.max_message_bytes
            ),
        );
        check(
            self.protocol == "tls"
                || (self.tls_ca_file.is_empty() && self.tls_server_name.is_empty()),
            "protocol",
            "tls_ca_file or tls_server_name is set but protocol is not \"tls\"".into(),
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
        let c = SyslogSinkConfig {
            address: "nowhere".into(),
            protocol: "relp".into(),
            facility: "local9".into(),
            app_name: "has space".into(),
            queue_capacity: 0,
            max_backoff_secs: 0,
            flush_timeout_secs: 601,
            max_message_bytes: 10,
            ..SyslogSinkConfig::default()
        };
        let mut problems = Vec::new();
        c.validate(&mut problems);
        let fields: Vec<&str> = problems.iter().map(|(f, _)| f.as_str()).collect();
        for f in [
            "address",
            "protocol",
            "facility",
            "app_name",
            "queue_capacity",
            "max_backoff_secs",
            "flush_timeout_secs",
            "max_message_bytes",
        ] {
            assert!(
                fields.contains(&format!("sinks.syslog.{f}").as_str()),
                "{f} missing from {problems:?}"
            );
        }
        let mut none = Vec::new();
        SyslogSinkConfig::default().validate(&mut none);
        assert!(none.is_empty(), "{none:?}");
    }

    #[test]
    fn udp_messages_are_capped_by_the_datagram_size() {
        let c = SyslogSinkConfig {
            protocol: "udp".into(),
            max_message_bytes: 65_536,
            ..SyslogSinkConfig::default()
        };
        let mut problems = Vec::new();
        c.validate(&mut problems);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].0, "sinks.syslog.max_message_bytes");
        assert_eq!(SyslogSinkConfig::default().facility_code(), Some(16));
    }
}
