//! The server side of syslog over TLS (RFC 5425) through `native-tls`: the platform's own
//! library (the system OpenSSL on Linux), as the syslog sink uses for its client side, so
//! no crypto is compiled into Picket. Without the `tls` feature a stand-in refuses
//! `protocol = "tls"` in validation.
//!
//! The identity is a PEM certificate (chain) and its private key; [`super::pem`] turns the
//! key into the PKCS#8 that `native_tls::Identity::from_pkcs8` requires. Loading ends
//! with a handshake against ourselves, because OpenSSL accepts a key that does not match
//! the certificate and only fails every real handshake later.
//!
//! May touch: the certificate and key files named in the config.

use std::fmt;
#[cfg(feature = "tls")]
use std::net::TcpStream;
use std::path::Path;
#[cfg(feature = "tls")]
use std::time::Instant;

/// A certificate or key problem, tied to the config field to report it on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TlsError {
    field: &'static str,
    message: String,
}

impl TlsError {
    /// `tls_cert` or `tls_key`.
    pub(crate) fn field(&self) -> &'static str {
        self.field
    }
}

impl fmt::Display for TlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// A loaded server identity, cheap to clone (the context is shared).
#[cfg(feature = "tls")]
#[derive(Clone)]
pub(crate) struct Acceptor(native_tls::TlsAcceptor);

#[cfg(feature = "tls")]
impl fmt::Debug for Acceptor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Acceptor")
    }
}

/// A TLS connection to a peer.
#[cfg(feature = "tls")]
pub(crate) type TlsStream = native_tls::TlsStream<TcpStream>;

#[cfg(feature = "tls")]
impl Acceptor {
    /// Loads `cert` and `key`, builds the acceptor (TLS 1.2 or later) and proves the key
    /// belongs to the certificate with one in-process handshake.
    pub(crate) fn load(cert: &Path, key: &Path) -> Result<Acceptor, TlsError> {
        let cert_err = |message: String| TlsError {
            field: "tls_cert",
            message: format!("{}: {message}", cert.display()),
        };
        let key_err = |message: String| TlsError {
            field: "tls_key",
            message: format!("{}: {message}", key.display()),
        };
        let cert_pem = std::fs::read(cert).map_err(|e| cert_err(format!("cannot read: {e}")))?;
        let key_pem = std::fs::read(key).map_err(|e| key_err(format!("cannot read: {e}")))?;
        native_tls::Certificate::from_pem(&cert_pem)
            .map_err(|e| cert_err(format!("not a PEM certificate: {e}")))?;
        let pkcs8 = super::pem::pkcs8_pem(&key_pem).map_err(|e| key_err(e.to_string()))?;
        let identity = native_tls::Identity::from_pkcs8(&cert_pem, &pkcs8)
            .map_err(|e| key_err(format!("cannot load the key: {e}")))?;
        let acceptor = native_tls::TlsAcceptor::builder(identity)
            .min_protocol_version(Some(native_tls::Protocol::Tlsv12))
            .build()
            .map_err(|e| key_err(format!("cannot use this certificate and key: {e}")))?;
        let acceptor = Acceptor(acceptor);
        acceptor.self_test().map_err(|e| {
            key_err(format!(
                "a test handshake with this key and {} failed (does the key belong to the certificate?): {e}",
                cert.display()
            ))
        })?;
        Ok(acceptor)
    }

    /// One handshake over a socket pair, with a client that trusts anything: it fails
    /// only when the server cannot sign with its key for its certificate.
    #[cfg(unix)]
    fn self_test(&self) -> Result<(), String> {
        use std::io::{Read, Write};
        use std::os::unix::net::UnixStream;
        let timeout = Some(std::time::Duration::from_secs(5));
        let (server, client) = UnixStream::pair().map_err(|e| e.to_string())?;
        for s in [&server, &client] {
            s.set_read_timeout(timeout).map_err(|e| e.to_string())?;
            s.set_write_timeout(timeout).map_err(|e| e.to_string())?;
        }
        let connector = native_tls::TlsConnector::builder()
            .danger_accept_invalid_certs(true)
            .danger_accept_invalid_hostnames(true)
            .build()
            .map_err(|e| e.to_string())?;
        let peer = std::thread::spawn(move || -> Result<(), String> {
            let mut tls = connector
                .connect("localhost", client)
                .map_err(|e| e.to_string())?;
            // One byte both ways, so a TLS 1.3 handshake has really finished.
            tls.write_all(b"x").map_err(|e| e.to_string())?;
            let _ = tls.shutdown();
            Ok(())
        });
        let served = self.0.accept(server).map_err(|e| e.to_string());
        let read = served.and_then(|mut tls| {
            let mut byte = [0u8; 1];
            tls.read_exact(&mut byte).map_err(|e| e.to_string())
        });
        let client = peer
            .join()
            .unwrap_or_else(|_| Err("the test client panicked".into()));
        read.and(client)
    }

    /// SChannel and Secure Transport check the pair when the identity is built.
    #[cfg(not(unix))]
    fn self_test(&self) -> Result<(), String> {
        Ok(())
    }

    /// Runs the server handshake on an accepted connection, waiting at most until
    /// `deadline` and giving up early once `stop` says so. The socket's read timeout
    /// must be short: each timeout is a chance to look at the clock and `stop`.
    pub(crate) fn accept(
        &self,
        tcp: TcpStream,
        deadline: Instant,
        stop: &dyn Fn() -> bool,
    ) -> Result<TlsStream, String> {
        let mut attempt = self.0.accept(tcp);
        loop {
            match attempt {
                Ok(tls) => return Ok(tls),
                Err(native_tls::HandshakeError::Failure(e)) => return Err(e.to_string()),
                Err(native_tls::HandshakeError::WouldBlock(mid)) => {
                    if stop() {
                        return Err("shutting down".into());
                    }
                    if Instant::now() >= deadline {
                        return Err("the peer did not finish the handshake in time".into());
                    }
                    attempt = mid.handshake();
                }
            }
        }
    }
}

/// Stand-in when the `tls` feature is off: a TLS listener cannot be configured.
#[cfg(not(feature = "tls"))]
#[derive(Debug, Clone)]
pub(crate) struct Acceptor;

#[cfg(not(feature = "tls"))]
impl Acceptor {
    pub(crate) fn load(_cert: &Path, _key: &Path) -> Result<Acceptor, TlsError> {
        Err(TlsError {
            field: "tls_cert",
            message: "TLS is not built into this Picket (the sensor-logs \"tls\" feature)".into(),
        })
    }
}
