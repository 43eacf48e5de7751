//! TLS for the syslog sink (RFC 5425) through `native-tls`: the platform's own library,
//! so certificates follow the OS trust store unless `tls_ca_file` names the CA. Without
//! the `tls` feature a stand-in refuses `protocol = "tls"` at start.
//!
//! May touch: the CA file named by `tls_ca_file`.

use super::connection::Conn;
use super::connection::Counting;
#[cfg(feature = "tls")]
use super::connection::CONNECT_TIMEOUT;
use super::SyslogError;
use crate::config::SyslogSinkConfig;
use std::io;

/// TLS settings: a connector and the name to verify.
#[cfg(feature = "tls")]
pub(super) struct Tls {
    connector: native_tls::TlsConnector,
    server_name: String,
}

#[cfg(feature = "tls")]
impl Tls {
    /// Builds the connector (TLS 1.2 or later), trusting `tls_ca_file` when set, and
    /// verifying `tls_server_name`, else `host`.
    pub(super) fn new(config: &SyslogSinkConfig, host: &str) -> Result<Tls, SyslogError> {
        let mut builder = native_tls::TlsConnector::builder();
        builder.min_protocol_version(Some(native_tls::Protocol::Tlsv12));
        if let Some(ca_file) = &config.tls_ca_file {
            let ca_err = |message: String| SyslogError::TlsCa {
                path: ca_file.clone(),
                message,
            };
            let pem = std::fs::read(ca_file).map_err(|e| ca_err(e.to_string()))?;
            let cert =
                native_tls::Certificate::from_pem(&pem).map_err(|e| ca_err(e.to_string()))?;
            builder.add_root_certificate(cert);
        }
        let connector = builder
            .build()
            .map_err(|e| SyslogError::Tls(e.to_string()))?;
        let server_name = config
            .tls_server_name
            .clone()
            .unwrap_or_else(|| host.to_string());
        Ok(Tls {
            connector,
            server_name,
        })
    }

    /// Runs the handshake (bounded by the connect timeout) on a fresh TCP stream.
    pub(super) fn connect(&self, stream: Counting) -> io::Result<Conn> {
        stream.tcp.set_read_timeout(Some(CONNECT_TIMEOUT))?;
        let tls = self
            .connector
            .connect(&self.server_name, stream)
            .map_err(|e| io::Error::other(format!("TLS handshake failed: {e}")))?;
        tls.get_ref().tcp.set_read_timeout(None)?;
        Ok(Conn::Tls(Box::new(tls)))
    }
}

/// Stand-in when the `tls` feature is off: TLS cannot be configured.
#[cfg(not(feature = "tls"))]
pub(super) struct Tls;

#[cfg(not(feature = "tls"))]
impl Tls {
    pub(super) fn new(_config: &SyslogSinkConfig, _host: &str) -> Result<Tls, SyslogError> {
        Err(SyslogError::TlsUnavailable)
    }
    pub(super) fn connect(&self, _stream: Counting) -> io::Result<Conn> {
        Err(io::Error::other("TLS is not built in"))
    }
}
