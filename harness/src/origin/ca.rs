//! The per-run test CA and the leaf certificates it mints per host name.

use std::sync::Arc;

use crate::case::CertKind;

/// A certificate authority made fresh for one run; clients trust only it.
pub struct TestCa {
    cert_pem: String,
}

impl TestCa {
    /// Make a new CA (real dates, `KeyCertSign`).
    pub fn new() -> Result<TestCa, rcgen::Error> {
        todo!("test CA")
    }

    /// The CA certificate, PEM.
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// The CA certificate, DER (for in-process clients' root stores).
    pub fn cert_der(&self) -> rustls::pki_types::CertificateDer<'static> {
        todo!("test CA")
    }

    /// A server config presenting a leaf for `host` of the given kind
    /// (minted on first use, then cached). ALPN `http/1.1` only.
    pub fn server_config(&self, host: &str, kind: CertKind) -> Arc<rustls::ServerConfig> {
        let _ = (host, kind);
        todo!("test CA")
    }
}
