//! The per-run test CA and the leaf certificates it mints per host name.
//! Leaves are cached per (host, kind), so every case of a run shares them.

use std::collections::HashMap;
use std::io;
use std::net::IpAddr;
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose,
    SanType,
};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use time::{Duration, OffsetDateTime};

use crate::case::CertKind;

/// The name a [`CertKind::WrongName`] leaf is issued for; no case host may use it.
pub const WRONG_NAME: &str = "wrong-name.invalid";

/// Why a leaf could not be minted.
#[derive(Debug)]
#[non_exhaustive]
pub enum MintError {
    /// rcgen could not make the certificate (e.g. a host name it cannot encode).
    Certificate(rcgen::Error),
    /// rustls refused the certificate and key.
    Config(rustls::Error),
}

impl std::fmt::Display for MintError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MintError::Certificate(err) => write!(f, "cannot make the certificate: {err}"),
            MintError::Config(err) => write!(f, "rustls refused the certificate: {err}"),
        }
    }
}

impl std::error::Error for MintError {}

impl From<rcgen::Error> for MintError {
    fn from(err: rcgen::Error) -> Self {
        MintError::Certificate(err)
    }
}

/// A certificate authority made fresh for one run; clients trust only it.
pub struct TestCa {
    cert_pem: String,
    cert_der: CertificateDer<'static>,
    issuer: Issuer<'static, KeyPair>,
    /// Signs [`CertKind::Untrusted`] leaves; its certificate is never handed out.
    stranger: Issuer<'static, KeyPair>,
    provider: Arc<CryptoProvider>,
    leaves: Mutex<HashMap<(String, CertKind), Arc<rustls::ServerConfig>>>,
    /// Presented when a leaf cannot be minted for a name (a host rcgen cannot encode).
    fallback: Arc<rustls::ServerConfig>,
    client: OnceLock<Arc<rustls::ClientConfig>>,
}

impl TestCa {
    /// Make a new CA (real dates, `KeyCertSign`).
    pub fn new() -> Result<TestCa, rcgen::Error> {
        let (cert, issuer) = new_ca("hopcheck test CA")?;
        let (_, stranger) = new_ca("hopcheck untrusted CA")?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let fallback = mint(&issuer, &provider, WRONG_NAME, CertKind::WrongName).map_err(|err| match err {
            MintError::Certificate(err) => err,
            // rustls refuses a key only when it cannot use it.
            MintError::Config(err) => rcgen::Error::RingKeyRejected(err.to_string()),
        })?;
        Ok(TestCa {
            cert_pem: cert.pem(),
            cert_der: cert.der().clone(),
            issuer,
            stranger,
            provider,
            leaves: Mutex::new(HashMap::new()),
            fallback,
            client: OnceLock::new(),
        })
    }

    /// The CA certificate, PEM.
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// The CA certificate, DER (for in-process clients' root stores).
    pub fn cert_der(&self) -> CertificateDer<'static> {
        self.cert_der.clone()
    }

    /// Write the CA certificate as PEM (the CA file drivers are told to trust).
    pub fn write_pem(&self, path: &Path) -> io::Result<()> {
        std::fs::write(path, &self.cert_pem)
    }

    /// The crypto provider every config of this CA uses (ring, never the process default).
    pub fn provider(&self) -> Arc<CryptoProvider> {
        self.provider.clone()
    }

    /// A server config presenting a leaf for `host` of the given kind
    /// (minted on first use, then cached). ALPN `http/1.1` only.
    ///
    /// A host no certificate can name gets a leaf for [`WRONG_NAME`], which
    /// clients reject like any wrong name.
    pub fn server_config(&self, host: &str, kind: CertKind) -> Arc<rustls::ServerConfig> {
        self.try_server_config(host, kind)
            .unwrap_or_else(|_| self.fallback.clone())
    }

    /// Like [`TestCa::server_config`], reporting why a leaf could not be minted.
    pub fn try_server_config(&self, host: &str, kind: CertKind) -> Result<Arc<rustls::ServerConfig>, MintError> {
        let host = super::normalise_host(host);
        let key = (host, kind);
        // Minting takes well under a millisecond; holding the lock while doing
        // it keeps two connections from minting the same leaf twice.
        let mut leaves = self.leaves.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(config) = leaves.get(&key) {
            return Ok(config.clone());
        }
        let signer = match kind {
            CertKind::Untrusted => &self.stranger,
            CertKind::Valid | CertKind::Expired | CertKind::WrongName => &self.issuer,
        };
        let config = mint(signer, &self.provider, &key.0, kind)?;
        leaves.insert(key, config.clone());
        Ok(config)
    }

    /// A valid leaf for `host`, as PEM certificate and PEM private key, for
    /// servers outside the process (nginx and Caddy in the probe tests).
    pub fn leaf_pem(&self, host: &str) -> Result<(String, String), rcgen::Error> {
        let (cert, key) = leaf(&self.issuer, host, CertKind::Valid)?;
        Ok((cert.pem(), key.serialize_pem()))
    }

    /// A client config trusting only this CA (ring provider, ALPN `http/1.1`).
    pub fn client_config(&self) -> Arc<rustls::ClientConfig> {
        self.client
            .get_or_init(|| {
                let mut roots = rustls::RootCertStore::empty();
                // The certificate was made by rcgen a moment ago; were it refused,
                // the empty store would make every handshake fail visibly.
                let _ = roots.add(self.cert_der.clone());
                let mut config = rustls::ClientConfig::builder_with_provider(self.provider.clone())
                    .with_safe_default_protocol_versions()
                    .expect("ring supports the default protocol versions")
                    .with_root_certificates(roots)
                    .with_no_client_auth();
                config.alpn_protocols = vec![b"http/1.1".to_vec()];
                Arc::new(config)
            })
            .clone()
    }
}

impl std::fmt::Debug for TestCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestCa").finish_non_exhaustive()
    }
}

/// A self-signed CA certificate and the issuer that signs with its key.
fn new_ca(name: &str) -> Result<(rcgen::Certificate, Issuer<'static, KeyPair>), rcgen::Error> {
    let now = OffsetDateTime::now_utc();
    let mut params = CertificateParams::default();
    params.distinguished_name.remove(DnType::CommonName);
    params.distinguished_name.push(DnType::CommonName, name);
    params.distinguished_name.push(DnType::OrganizationName, "hopcheck");
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params.not_before = now - Duration::days(1);
    params.not_after = now + Duration::days(30);
    let key = KeyPair::generate()?;
    let cert = params.self_signed(&key)?;
    Ok((cert, Issuer::new(params, key)))
}

/// A leaf certificate of `kind` for `host` (`a,b` names several) and its key.
fn leaf(
    signer: &Issuer<'static, KeyPair>,
    host: &str,
    kind: CertKind,
) -> Result<(rcgen::Certificate, KeyPair), rcgen::Error> {
    let now = OffsetDateTime::now_utc();
    let name = match kind {
        CertKind::WrongName => WRONG_NAME,
        CertKind::Valid | CertKind::Untrusted | CertKind::Expired => host,
    };
    let mut params = CertificateParams::default();
    params.distinguished_name.remove(DnType::CommonName);
    params.distinguished_name.push(DnType::CommonName, name);
    // `a,b` names several subjects at once (the no-SNI loopback leaf).
    params.subject_alt_names = name
        .split(',')
        .map(|name| match name.parse::<IpAddr>() {
            Ok(ip) => Ok(SanType::IpAddress(ip)),
            Err(_) => Ok(SanType::DnsName(name.try_into()?)),
        })
        .collect::<Result<_, rcgen::Error>>()?;
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.use_authority_key_identifier_extension = true;
    (params.not_before, params.not_after) = match kind {
        CertKind::Expired => (rcgen::date_time_ymd(2020, 1, 1), rcgen::date_time_ymd(2021, 1, 1)),
        CertKind::Valid | CertKind::Untrusted | CertKind::WrongName => {
            (now - Duration::days(1), now + Duration::days(30))
        }
    };
    let key = KeyPair::generate()?;
    let cert = params.signed_by(&key, signer)?;
    Ok((cert, key))
}

/// Mint a leaf of `kind` for `host` signed by `signer`, wrapped in a server config.
fn mint(
    signer: &Issuer<'static, KeyPair>,
    provider: &Arc<CryptoProvider>,
    host: &str,
    kind: CertKind,
) -> Result<Arc<rustls::ServerConfig>, MintError> {
    let (cert, key) = leaf(signer, host, kind)?;
    let key_der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    let mut config = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .and_then(|builder| {
            builder
                .with_no_client_auth()
                .with_single_cert(vec![cert.der().clone()], key_der)
        })
        .map_err(MintError::Config)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use rustls::pki_types::pem::PemObject;

    use super::*;
    use crate::origin::test_client::ca;

    #[test]
    fn leaves_are_minted_once_per_host_and_kind() {
        let ca = ca();
        let first = ca.server_config("cache.test", CertKind::Valid);
        let again = ca.server_config("Cache.Test.", CertKind::Valid);
        let expired = ca.server_config("cache.test", CertKind::Expired);
        assert!(
            Arc::ptr_eq(&first, &again),
            "the spelling is normalised before the cache"
        );
        assert!(!Arc::ptr_eq(&first, &expired));
    }

    #[test]
    fn configs_offer_only_http_1_1() {
        let ca = ca();
        assert_eq!(
            ca.server_config("alpn.test", CertKind::Valid).alpn_protocols,
            [b"http/1.1".to_vec()]
        );
        assert_eq!(ca.client_config().alpn_protocols, [b"http/1.1".to_vec()]);
    }

    #[test]
    fn a_host_no_certificate_can_name_gets_the_wrong_name_leaf() {
        let ca = ca();
        let err = ca
            .try_server_config("caf\u{e9}.test", CertKind::Valid)
            .expect_err("not IA5");
        assert!(matches!(err, MintError::Certificate(_)), "{err}");
        let fallback = ca.server_config("caf\u{e9}.test", CertKind::Valid);
        let wrong = ca.server_config(WRONG_NAME, CertKind::WrongName);
        // Both present a leaf for WRONG_NAME, minted separately.
        assert!(!Arc::ptr_eq(&fallback, &wrong));
        assert_eq!(fallback.alpn_protocols, wrong.alpn_protocols);
    }

    #[test]
    fn the_pem_file_holds_the_der_certificate() {
        let ca = ca();
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("ca.pem");
        ca.write_pem(&path).expect("write");
        let read = CertificateDer::from_pem_file(&path).expect("one PEM certificate");
        assert_eq!(read, ca.cert_der());
        assert_eq!(std::fs::read_to_string(&path).expect("read"), ca.cert_pem());
    }
}
