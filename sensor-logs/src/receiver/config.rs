//! `[inputs.syslog]`: the syslog receiver's listeners (UDP, TCP, TLS), how TCP streams
//! are framed, and the bounds that keep a flood from taking the collector host's memory.
//!
//! [`SyslogInputConfig::validate`] checks meaning by building what it can: addresses are
//! parsed, and a TLS listener's certificate and key are loaded and tried in a handshake,
//! so a key that does not match its certificate is a config error, not a failed start.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;

/// Largest `max_message_bytes`: a frame this long is still buffered whole per connection.
pub const MAX_MESSAGE_BYTES_LIMIT: usize = 16 * 1024 * 1024;
/// Smallest `max_message_bytes`: RFC 5426 requires receivers to take 480 octets.
pub const MIN_MESSAGE_BYTES: usize = 480;
/// Largest `queue_capacity`: the UDP queue's slots are allocated up front.
pub const MAX_QUEUE_CAPACITY: usize = 1_000_000;

/// What a listener speaks. An unknown name is a config error listing these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ListenerProtocol {
    /// One message per datagram (RFC 5426).
    Udp,
    /// A TCP stream of framed messages (RFC 6587).
    Tcp,
    /// The same inside TLS (RFC 5425).
    Tls,
}

impl ListenerProtocol {
    /// The name as written in the config.
    pub fn as_str(self) -> &'static str {
        match self {
            ListenerProtocol::Udp => "udp",
            ListenerProtocol::Tcp => "tcp",
            ListenerProtocol::Tls => "tls",
        }
    }
}

impl fmt::Display for ListenerProtocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a TCP or TLS stream is cut into messages. UDP ignores it (a datagram is a
/// message). A frame the rules reject (no count in `octet_counted` mode, a count over
/// 64 MiB) is counted in the loss counter `syslog.framing` and the stream resyncs on
/// the next LF; the connection stays open.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Framing {
    /// Decided per frame, as rsyslog's imtcp does: a frame that starts with 1 to 9
    /// digits and a space is octet-counted (`LEN SP MSG`, RFC 6587 3.4.1), any other is
    /// ended by LF (3.4.2). Senders may mix both on one connection.
    #[default]
    Auto,
    /// Octet counting only; a frame without a valid count is a framing error.
    OctetCounted,
    /// LF only; for devices whose messages can start with `digits SP` (no PRI), which
    /// `auto` would take for a count.
    Lf,
}

/// One socket the receiver listens on: an element of `listeners`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListenerConfig {
    /// `ip:port` to listen on (`0.0.0.0:514`, `[::]:6514`); a port in use is a start-up
    /// error naming it. Port 0 picks a free port (tests).
    pub address: String,
    /// `udp`, `tcp` or `tls`.
    pub protocol: ListenerProtocol,
    /// TLS: PEM file with the server certificate, then any intermediates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_cert: Option<PathBuf>,
    /// TLS: PEM file with the certificate's unencrypted private key: PKCS#8 (`BEGIN
    /// PRIVATE KEY`), PKCS#1 RSA (`BEGIN RSA PRIVATE KEY`) or SEC1 EC (`BEGIN EC PRIVATE
    /// KEY`). Encrypted keys are refused (there is no passphrase to give).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_key: Option<PathBuf>,
    /// TCP and TLS: `auto`, `octet_counted` or `lf`.
    #[serde(default)]
    pub framing: Framing,
    /// TCP and TLS: connections served at once; more are refused (closed at once) and
    /// counted in the loss counter `syslog.refused`.
    #[serde(default = "default_max_connections")]
    pub max_connections: usize,
    /// TCP and TLS: a connection that sent part of a message and then nothing for this
    /// long is closed (counted in `syslog.stalled`; an unfinished octet-counted frame is
    /// lost, `syslog.incomplete`), so a stalled peer cannot hold a connection slot.
    #[serde(default = "default_stall_timeout_secs")]
    pub stall_timeout_secs: u64,
}

fn default_max_connections() -> usize {
    256
}

fn default_stall_timeout_secs() -> u64 {
    60
}

impl ListenerConfig {
    /// A listener with the defaults for everything but address and protocol.
    pub fn new(address: impl Into<String>, protocol: ListenerProtocol) -> ListenerConfig {
        ListenerConfig {
            address: address.into(),
            protocol,
            tls_cert: None,
            tls_key: None,
            framing: Framing::Auto,
            max_connections: default_max_connections(),
            stall_timeout_secs: default_stall_timeout_secs(),
        }
    }

    /// The parsed address, when it is one.
    pub fn socket_addr(&self) -> Option<SocketAddr> {
        self.address.parse().ok()
    }
}

/// `[inputs.syslog]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SyslogInputConfig {
    /// Run the receiver.
    pub enabled: bool,
    /// Sockets to listen on, any number.
    pub listeners: Vec<ListenerConfig>,
    /// Longest message delivered. A longer one is capped: its first `max_message_bytes`
    /// are delivered marked truncated and counted in `syslog.oversized`; the rest of its
    /// line (LF framing) or frame (octet counting) is skipped.
    pub max_message_bytes: usize,
    /// UDP: datagrams held between the socket and delivery. When full, new datagrams
    /// are dropped and counted in the loss counter `syslog.udp_queue`. Each holds its
    /// message only (at most `max_message_bytes`), so the queue's memory is at most
    /// `queue_capacity` × `max_message_bytes` per UDP listener, typically far less.
    pub queue_capacity: usize,
    /// UDP: the socket's kernel receive buffer (SO_RCVBUF; as root beyond
    /// `net.core.rmem_max`), which absorbs bursts before the queue does.
    pub udp_receive_buffer_bytes: usize,
}

impl Default for SyslogInputConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            listeners: Vec::new(),
            max_message_bytes: 64 * 1024,
            queue_capacity: 16_384,
            udp_receive_buffer_bytes: 8 * 1024 * 1024,
        }
    }
}

impl SyslogInputConfig {
    /// Semantic checks, each as (field path, message), e.g.
    /// `inputs.syslog.listeners[1].tls_cert`. TLS listeners' files are loaded and tried.
    pub fn validate(&self, problems: &mut Vec<(String, String)>) {
        let mut check = |ok: bool, field: &str, msg: String| {
            if !ok {
                problems.push((format!("inputs.syslog.{field}"), msg));
            }
        };
        check(
            !self.enabled || !self.listeners.is_empty(),
            "listeners",
            "the receiver is enabled but has no listeners: add one, e.g. { address = \"0.0.0.0:514\", protocol = \"udp\" }".into(),
        );
        check(
            (MIN_MESSAGE_BYTES..=MAX_MESSAGE_BYTES_LIMIT).contains(&self.max_message_bytes),
            "max_message_bytes",
            format!(
                "expected {MIN_MESSAGE_BYTES} to {MAX_MESSAGE_BYTES_LIMIT} bytes, found {}",
                self.max_message_bytes
            ),
        );
        check(
            (1..=MAX_QUEUE_CAPACITY).contains(&self.queue_capacity),
            "queue_capacity",
            format!(
                "expected 1 to {MAX_QUEUE_CAPACITY} messages, found {}",
                self.queue_capacity
            ),
        );
        check(
            (4096..=1024 * 1024 * 1024).contains(&self.udp_receive_buffer_bytes),
            "udp_receive_buffer_bytes",
            format!(
                "expected 4096 bytes to 1 GiB, found {}",
                self.udp_receive_buffer_bytes
            ),
        );
        let mut seen: Vec<(SocketAddr, bool)> = Vec::new();
        for (i, l) in self.listeners.iter().enumerate() {
            let at = |field: &str| format!("listeners[{i}].{field}");
            match l.socket_addr() {
                None => check(
                    false,
                    &at("address"),
                    format!(
                        "expected ip:port (or [ipv6]:port), such as \"0.0.0.0:514\", found {:?}",
                        l.address
                    ),
                ),
                Some(addr) => {
                    // UDP and TCP may share a port number; two stream listeners (or two
                    // UDP ones) on one address cannot both bind.
                    let stream = l.protocol != ListenerProtocol::Udp;
                    let clash = addr.port() != 0 && seen.contains(&(addr, stream));
                    check(
                        !clash,
                        &at("address"),
                        format!(
                            "{} is already used by an earlier {} listener",
                            l.address,
                            if stream { "TCP or TLS" } else { "UDP" }
                        ),
                    );
                    seen.push((addr, stream));
                }
            }
            check(
                (1..=65_536).contains(&l.max_connections),
                &at("max_connections"),
                format!("expected 1 to 65536, found {}", l.max_connections),
            );
            check(
                (1..=86_400).contains(&l.stall_timeout_secs),
                &at("stall_timeout_secs"),
                format!("expected 1 to 86400, found {}", l.stall_timeout_secs),
            );
            for (field, path) in [("tls_cert", &l.tls_cert), ("tls_key", &l.tls_key)] {
                check(
                    path.as_ref().is_none_or(|p| !p.as_os_str().is_empty()),
                    &at(field),
                    "expected a PEM file path, found an empty string".into(),
                );
            }
            if l.protocol == ListenerProtocol::Tls {
                check(
                    l.tls_cert.is_some(),
                    &at("tls_cert"),
                    "a tls listener needs tls_cert, the PEM certificate (chain) it presents".into(),
                );
                check(
                    l.tls_key.is_some(),
                    &at("tls_key"),
                    "a tls listener needs tls_key, the PEM private key of tls_cert".into(),
                );
                if let (Some(cert), Some(key)) = (&l.tls_cert, &l.tls_key) {
                    if !cert.as_os_str().is_empty() && !key.as_os_str().is_empty() {
                        if let Err(e) = super::tls::Acceptor::load(cert, key) {
                            check(false, &at(e.field()), e.to_string());
                        }
                    }
                }
            } else {
                check(
                    l.tls_cert.is_none() && l.tls_key.is_none(),
                    &at("protocol"),
                    format!(
                        "tls_cert or tls_key is set but protocol is \"{}\", not \"tls\"",
                        l.protocol
                    ),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A root with only `[inputs.syslog]`, to parse the section through the real loader.
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
    #[serde(deny_unknown_fields, default)]
    struct Root {
        inputs: RootInputs,
    }

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
    #[serde(deny_unknown_fields, default)]
    struct RootInputs {
        syslog: SyslogInputConfig,
    }

    impl sensor_core::ConfigRoot for Root {
        type Built = ();
        fn build(&self) -> Result<(), sensor_core::config::Problems> {
            let mut problems = Vec::new();
            self.inputs.syslog.validate(&mut problems);
            problems.is_empty().then_some(()).ok_or(problems)
        }
    }

    #[test]
    fn a_full_section_parses() {
        let text = r#"[inputs.syslog]
enabled = true
max_message_bytes = 8192
queue_capacity = 100
listeners = [
  { address = "0.0.0.0:514", protocol = "udp" },
  { address = "[::]:601", protocol = "tcp", framing = "lf", max_connections = 10 },
  { address = "127.0.0.1:602", protocol = "tcp", framing = "octet_counted" },
]
"#;
        let root: Root = sensor_core::config::from_toml_str(text, "t.toml").expect("valid");
        let c = &root.inputs.syslog;
        assert!(c.enabled);
        assert_eq!(c.max_message_bytes, 8192);
        assert_eq!(c.listeners.len(), 3);
        assert_eq!(c.listeners[0].protocol, ListenerProtocol::Udp);
        assert_eq!(c.listeners[0].max_connections, 256);
        assert_eq!(c.listeners[1].framing, Framing::Lf);
        assert_eq!(c.listeners[1].max_connections, 10);
        assert_eq!(c.listeners[2].framing, Framing::OctetCounted);
        let mut none = Vec::new();
        SyslogInputConfig::default().validate(&mut none);
        assert!(none.is_empty(), "{none:?}");
    }

    #[test]
    fn every_bad_field_is_reported_by_its_path() {
        let text = r#"[inputs.syslog]
enabled = true
max_message_bytes = 10
queue_capacity = 0
listeners = [
  { address = "0.0.0.0:514", protocol = "udp", tls_cert = "/x.pem" },
  { address = "nowhere", protocol = "tcp", max_connections = 0 },
  { address = "127.0.0.1:6514", protocol = "tls" },
  { address = "127.0.0.1:6515", protocol = "tls", tls_cert = "/nonexistent/c.pem", tls_key = "/nonexistent/k.pem" },
  { address = "0.0.0.0:514", protocol = "udp" },
]
"#;
        let errs = sensor_core::config::from_toml_str::<Root>(text, "t.toml").expect_err("bad");
        for (line, field) in [
            (3, "max_message_bytes"),
            (4, "queue_capacity"),
            (6, "listeners[0].protocol"),
            (7, "listeners[1].address"),
            (7, "listeners[1].max_connections"),
            (9, "listeners[3].tls_cert"),
            (10, "listeners[4].address"),
        ] {
            let field = format!("inputs.syslog.{field}");
            assert!(
                errs.0.iter().any(|e| e.field == field && e.line == line),
                "{field} on line {line} missing from:\n{errs}"
            );
        }
        // Missing keys have no line of their own; they are still named.
        for field in ["listeners[2].tls_cert", "listeners[2].tls_key"] {
            let field = format!("inputs.syslog.{field}");
            assert!(errs.0.iter().any(|e| e.field == field), "{field}:\n{errs}");
        }
        let cert = errs
            .0
            .iter()
            .find(|e| e.field == "inputs.syslog.listeners[3].tls_cert");
        assert!(
            cert.is_some_and(|e| e.message.contains("/nonexistent/c.pem")),
            "the error names the file:\n{errs}"
        );
    }

    #[test]
    fn unknown_names_fail_while_parsing() {
        for text in [
            "[inputs.syslog]\nlisteners = [{ address = \"0.0.0.0:514\", protocol = \"relp\" }]\n",
            "[inputs.syslog]\nlisteners = [{ address = \"0.0.0.0:514\", protocol = \"tcp\", framing = \"crlf\" }]\n",
            "[inputs.syslog]\nlisteners = [{ address = \"0.0.0.0:514\", protocol = \"tcp\", colour = 1 }]\n",
            "[inputs.syslog]\nlisteners = [{ protocol = \"tcp\" }]\n",
            "[inputs.syslog]\nport = 514\n",
        ] {
            let errs = sensor_core::config::from_toml_str::<Root>(text, "t.toml");
            assert!(errs.is_err(), "{text}");
        }
    }

    #[test]
    fn enabled_without_listeners_is_an_error() {
        let c = SyslogInputConfig {
            enabled: true,
            ..SyslogInputConfig::default()
        };
        let mut problems = Vec::new();
        c.validate(&mut problems);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].0, "inputs.syslog.listeners");
    }
}
