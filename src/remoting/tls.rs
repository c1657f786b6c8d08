//! TLS as Apache RocketMQ 4.x's `TlsSystemConfig` / `TlsHelper` configure it.
//!
//! Server side, `tls.server.mode`:
//! - `disabled`: plain only; a TLS hello is just a bad frame, and the
//!   connection is closed (Java closes it too).
//! - `permissive` (the default): plain and TLS on the same port, told apart
//!   by the first byte (0x16, a TLS handshake record), as Java's
//!   `HandshakeHandler` does.
//! - `enforcing`: TLS only; a plain client is closed without an answer.
//!
//! Client side (the broker's own connections to name servers), `tls.enable`,
//! whose default is true when the mode is `enforcing` (as `BrokerStartup`
//! sets it).
//!
//! Keys are read from the broker/namesrv config file under the names Java
//! reads as system properties; then, as `TlsHelper.extractTlsConfigFromFile`
//! does, from `tls.config.file` (default `/etc/rocketmq/tls.properties`),
//! whose values win, except for `tls.server.mode` and `tls.enable`.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::WebPkiClientVerifier;
use rustls::{DigitallySignedStruct, DistinguishedName, RootCertStore, SignatureScheme};

pub const TLS_SERVER_MODE: &str = "tls.server.mode";
pub const TLS_ENABLE: &str = "tls.enable";
pub const TLS_CONFIG_FILE: &str = "tls.config.file";
pub const TLS_TEST_MODE_ENABLE: &str = "tls.test.mode.enable";
pub const TLS_SERVER_NEED_CLIENT_AUTH: &str = "tls.server.need.client.auth";
pub const TLS_SERVER_KEYPATH: &str = "tls.server.keyPath";
pub const TLS_SERVER_KEYPASSWORD: &str = "tls.server.keyPassword";
pub const TLS_SERVER_CERTPATH: &str = "tls.server.certPath";
pub const TLS_SERVER_AUTHCLIENT: &str = "tls.server.authClient";
pub const TLS_SERVER_TRUSTCERTPATH: &str = "tls.server.trustCertPath";
pub const TLS_CLIENT_KEYPATH: &str = "tls.client.keyPath";
pub const TLS_CLIENT_KEYPASSWORD: &str = "tls.client.keyPassword";
pub const TLS_CLIENT_CERTPATH: &str = "tls.client.certPath";
pub const TLS_CLIENT_AUTHSERVER: &str = "tls.client.authServer";
pub const TLS_CLIENT_TRUSTCERTPATH: &str = "tls.client.trustCertPath";

pub const DEFAULT_TLS_CONFIG_FILE: &str = "/etc/rocketmq/tls.properties";

/// How long a new connection may stay silent before its first byte tells
/// plain from TLS, and how long a TLS handshake may take.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The first byte of a TLS handshake record.
pub const HANDSHAKE_MAGIC: u8 = 0x16;

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{key}: cannot read {path}: {err}")]
    Read { key: &'static str, path: PathBuf, err: std::io::Error },
    #[error("{key}: {path}: {what}")]
    Bad { key: &'static str, path: PathBuf, what: String },
    #[error("cannot read {TLS_CONFIG_FILE} {0}: {1}")]
    ConfigFile(PathBuf, String),
    #[error("{0}")]
    Missing(String),
    #[error("TLS setup failed: {0}")]
    Rustls(#[from] rustls::Error),
    #[error("cannot generate the self-signed test certificate: {0}")]
    SelfSigned(#[from] rcgen::Error),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsMode {
    Disabled,
    Permissive,
    Enforcing,
}

impl TlsMode {
    /// As `TlsMode.parse`: exact lower-case names, anything else permissive.
    pub fn parse(s: &str) -> TlsMode {
        match s {
            "disabled" => TlsMode::Disabled,
            "enforcing" => TlsMode::Enforcing,
            _ => TlsMode::Permissive,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            TlsMode::Disabled => "disabled",
            TlsMode::Permissive => "permissive",
            TlsMode::Enforcing => "enforcing",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    None,
    Optional,
    Require,
}

impl ClientAuth {
    /// As `TlsHelper.parseClientAuthMode`: case-insensitive, else none.
    pub fn parse(s: &str) -> ClientAuth {
        match s.trim().to_ascii_uppercase().as_str() {
            "OPTIONAL" => ClientAuth::Optional,
            "REQUIRE" => ClientAuth::Require,
            _ => ClientAuth::None,
        }
    }
}

/// Every TLS key, after the config file and `tls.config.file` are applied.
#[derive(Debug, Clone)]
pub struct TlsSettings {
    pub mode: TlsMode,
    /// `tls.enable`: the broker's outbound connections use TLS.
    pub enable: bool,
    pub config_file: PathBuf,
    pub test_mode: bool,
    pub server_need_client_auth: ClientAuth,
    pub server_key_path: Option<PathBuf>,
    pub server_key_password: Option<String>,
    pub server_cert_path: Option<PathBuf>,
    pub server_auth_client: bool,
    pub server_trust_cert_path: Option<PathBuf>,
    pub client_key_path: Option<PathBuf>,
    pub client_key_password: Option<String>,
    pub client_cert_path: Option<PathBuf>,
    pub client_auth_server: bool,
    pub client_trust_cert_path: Option<PathBuf>,
}

impl TlsSettings {
    /// The server side, or None when the mode is `disabled`.
    pub fn server(&self) -> Result<Option<Arc<ServerTls>>, TlsError> {
        if self.mode == TlsMode::Disabled {
            return Ok(None);
        }
        let provider = provider();
        let (chain, key) = match (&self.server_cert_path, &self.server_key_path) {
            (Some(cert), Some(key)) => (
                load_certs(TLS_SERVER_CERTPATH, cert)?,
                load_key(TLS_SERVER_KEYPATH, key, self.server_key_password.as_deref())?,
            ),
            (None, None) if self.test_mode => self_signed()?,
            (Some(_), None) => return Err(TlsError::Missing(format!("{TLS_SERVER_CERTPATH} is set but {TLS_SERVER_KEYPATH} is not"))),
            (None, Some(_)) => return Err(TlsError::Missing(format!("{TLS_SERVER_KEYPATH} is set but {TLS_SERVER_CERTPATH} is not"))),
            (None, None) => {
                return Err(TlsError::Missing(format!(
                    "{TLS_SERVER_MODE}={} with {TLS_TEST_MODE_ENABLE}=false needs {TLS_SERVER_CERTPATH} and {TLS_SERVER_KEYPATH} \
                     (or {TLS_SERVER_MODE}=disabled)",
                    self.mode.name()
                )))
            }
        };
        let builder =
            rustls::ServerConfig::builder_with_provider(provider.clone()).with_safe_default_protocol_versions()?;
        let builder = match self.server_need_client_auth {
            ClientAuth::None => builder.with_no_client_auth(),
            auth => {
                let optional = auth == ClientAuth::Optional;
                let verifier: Arc<dyn ClientCertVerifier> = if self.server_auth_client {
                    let path = self.server_trust_cert_path.as_ref().ok_or_else(|| {
                        TlsError::Missing(format!("{TLS_SERVER_AUTHCLIENT}=true needs {TLS_SERVER_TRUSTCERTPATH}"))
                    })?;
                    let roots = load_roots(TLS_SERVER_TRUSTCERTPATH, path)?;
                    let b = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone());
                    let b = if optional { b.allow_unauthenticated() } else { b };
                    b.build().map_err(|e| TlsError::Missing(format!("{TLS_SERVER_TRUSTCERTPATH}: {e}")))?
                } else {
                    // Java's InsecureTrustManagerFactory: any certificate the
                    // client proves it holds the key of.
                    Arc::new(AnyClientCert { provider: provider.clone(), mandatory: !optional })
                };
                builder.with_client_cert_verifier(verifier)
            }
        };
        let config = builder.with_single_cert(chain, key)?;
        Ok(Some(Arc::new(ServerTls { mode: self.mode, acceptor: tokio_rustls::TlsAcceptor::from(Arc::new(config)) })))
    }

    /// The client side for the broker's outbound connections, or None when
    /// `tls.enable` is false.
    pub fn client(&self) -> Result<Option<ClientTls>, TlsError> {
        if !self.enable {
            return Ok(None);
        }
        let provider = provider();
        let builder =
            rustls::ClientConfig::builder_with_provider(provider.clone()).with_safe_default_protocol_versions()?;
        // Test mode, or authServer off: Java's InsecureTrustManagerFactory.
        let builder = if self.test_mode || !self.client_auth_server {
            builder.dangerous().with_custom_certificate_verifier(Arc::new(AnyServerCert { provider: provider.clone() }))
        } else {
            let path = self.client_trust_cert_path.as_ref().ok_or_else(|| {
                TlsError::Missing(format!("{TLS_CLIENT_AUTHSERVER}=true needs {TLS_CLIENT_TRUSTCERTPATH}"))
            })?;
            builder.with_root_certificates(load_roots(TLS_CLIENT_TRUSTCERTPATH, path)?)
        };
        // Test mode presents no client certificate, as Java's.
        let config = match (&self.client_cert_path, &self.client_key_path) {
            (Some(cert), Some(key)) if !self.test_mode => builder.with_client_auth_cert(
                load_certs(TLS_CLIENT_CERTPATH, cert)?,
                load_key(TLS_CLIENT_KEYPATH, key, self.client_key_password.as_deref())?,
            )?,
            _ => builder.with_no_client_auth(),
        };
        Ok(Some(ClientTls { connector: tokio_rustls::TlsConnector::from(Arc::new(config)) }))
    }
}

/// The ring provider: pure Rust and assembly, no cmake or C toolchain
/// beyond what `cc` finds everywhere.
#[allow(deprecated)] // ring lacks the post-quantum groups; see the README
fn provider() -> Arc<CryptoProvider> {
    static P: OnceLock<Arc<CryptoProvider>> = OnceLock::new();
    P.get_or_init(|| Arc::new(rustls::crypto::ring::default_provider())).clone()
}

/// A self-signed certificate for this run, as Java's test mode makes with
/// netty's `SelfSignedCertificate`.
fn self_signed() -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), TlsError> {
    let mut names = vec!["localhost".to_string(), "127.0.0.1".to_string()];
    if let Ok(h) = std::fs::read_to_string("/proc/sys/kernel/hostname") {
        let h = h.trim();
        if !h.is_empty() && h != "localhost" {
            names.push(h.to_string());
        }
    }
    let ck = rcgen::generate_simple_self_signed(names)?;
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(ck.signing_key.serialize_der()));
    Ok((vec![ck.cert.der().clone()], key))
}

fn read(key: &'static str, path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|err| TlsError::Read { key, path: path.into(), err })
}

/// An X.509 chain in PEM, as `SslContextBuilder.forServer(certChainFile, …)` takes.
pub fn load_certs(key: &'static str, path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let bytes = read(key, path)?;
    let certs: Vec<_> = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<_, _>>()
        .map_err(|e| TlsError::Bad { key, path: path.into(), what: format!("not a PEM certificate chain: {e}") })?;
    if certs.is_empty() {
        return Err(TlsError::Bad { key, path: path.into(), what: "no CERTIFICATE in PEM".into() });
    }
    Ok(certs)
}

fn load_roots(key: &'static str, path: &Path) -> Result<RootCertStore, TlsError> {
    let mut roots = RootCertStore::empty();
    for c in load_certs(key, path)? {
        roots.add(c).map_err(|e| TlsError::Bad {
            key,
            path: path.into(),
            what: format!("not a usable trust certificate: {e}"),
        })?;
    }
    Ok(roots)
}

/// A private key in PEM: PKCS#8 (what Java takes), encrypted PKCS#8 with
/// `password` (PBES2), and also PKCS#1 and SEC1.
pub fn load_key(key: &'static str, path: &Path, password: Option<&str>) -> Result<PrivateKeyDer<'static>, TlsError> {
    let bytes = read(key, path)?;
    let bad = |what: String| TlsError::Bad { key, path: path.into(), what };
    let text = String::from_utf8_lossy(&bytes);
    if text.contains("-----BEGIN ENCRYPTED PRIVATE KEY-----") {
        let password = password.ok_or_else(|| bad("the key is encrypted and no key password is set".into()))?;
        let (label, doc) = pkcs8::der::SecretDocument::from_pem(&text).map_err(|e| bad(format!("bad PEM: {e}")))?;
        if label != "ENCRYPTED PRIVATE KEY" {
            return Err(bad(format!("unexpected PEM label {label}")));
        }
        let info = pkcs8::EncryptedPrivateKeyInfoRef::try_from(doc.as_bytes())
            .map_err(|e| bad(format!("not an encrypted PKCS#8 key: {e}")))?;
        let plain =
            info.decrypt(password).map_err(|e| bad(format!("cannot decrypt the key (wrong password?): {e}")))?;
        return Ok(PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(plain.as_bytes().to_vec())));
    }
    PrivateKeyDer::from_pem_slice(&bytes).map_err(|e| bad(format!("no PEM private key (PKCS#8, PKCS#1 or SEC1): {e}")))
}

/// Server side of a listening port.
pub struct ServerTls {
    pub mode: TlsMode,
    pub acceptor: tokio_rustls::TlsAcceptor,
}

/// Client side of outbound connections.
#[derive(Clone)]
pub struct ClientTls {
    pub connector: tokio_rustls::TlsConnector,
}

impl ClientTls {
    /// The name the server certificate is checked against: the host part
    /// of `addr` (an IP address or a DNS name).
    pub fn server_name(addr: &str) -> ServerName<'static> {
        let host = match addr.rsplit_once(':') {
            Some((h, _)) => h.trim_start_matches('[').trim_end_matches(']'),
            None => addr,
        };
        ServerName::try_from(host.to_string()).unwrap_or_else(|_| ServerName::try_from("localhost").unwrap())
    }
}

static OUTBOUND: OnceLock<Option<ClientTls>> = OnceLock::new();

/// Sets, once per process, how `RemotingClient` pools connect (as Java's
/// process-wide `TlsSystemConfig`). Later calls are ignored.
pub fn set_outbound(tls: Option<ClientTls>) {
    let _ = OUTBOUND.set(tls);
}

/// The process-wide outbound TLS, if `set_outbound` turned it on.
pub fn outbound() -> Option<ClientTls> {
    OUTBOUND.get().cloned().flatten()
}

/// Both verifiers (Java's `InsecureTrustManagerFactory`) accept any
/// certificate but still check that the peer holds its key, with the
/// provider's algorithms; the two rustls traits ask for the same three
/// methods, so they are written once here.
macro_rules! handshake_signatures_checked {
    () => {
        fn verify_tls12_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            verify_tls12_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
        }

        fn verify_tls13_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            verify_tls13_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
        }

        fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
            self.provider.signature_verification_algorithms.supported_schemes()
        }
    };
}

#[derive(Debug)]
struct AnyServerCert {
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for AnyServerCert {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    handshake_signatures_checked!();
}

#[derive(Debug)]
struct AnyClientCert {
    provider: Arc<CryptoProvider>,
    mandatory: bool,
}

impl ClientCertVerifier for AnyClientCert {
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn client_auth_mandatory(&self) -> bool {
        self.mandatory
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        Ok(ClientCertVerified::assertion())
    }

    handshake_signatures_checked!();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_and_client_auth_parse_as_java() {
        assert_eq!(TlsMode::parse("enforcing"), TlsMode::Enforcing);
        assert_eq!(TlsMode::parse("disabled"), TlsMode::Disabled);
        assert_eq!(TlsMode::parse("ENFORCING"), TlsMode::Permissive);
        assert_eq!(TlsMode::parse("bogus"), TlsMode::Permissive);
        assert_eq!(ClientAuth::parse("Require"), ClientAuth::Require);
        assert_eq!(ClientAuth::parse("optional"), ClientAuth::Optional);
        assert_eq!(ClientAuth::parse("x"), ClientAuth::None);
    }

    #[test]
    fn keys_load_plain_and_encrypted() {
        let dir = tempfile::tempdir().unwrap();
        let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
        let plain = dir.path().join("key.pem");
        std::fs::write(&plain, ck.signing_key.serialize_pem()).unwrap();
        assert!(matches!(load_key(TLS_SERVER_KEYPATH, &plain, None).unwrap(), PrivateKeyDer::Pkcs8(_)));
        let doc = pkcs8::PrivateKeyInfoRef::try_from(ck.signing_key.serialized_der()).unwrap();
        let params =
            pkcs8::pkcs5::pbes2::Parameters::generate_pbkdf2_sha256_aes256cbc(2048, b"saltsalt", [7; 16]).unwrap();
        let enc = doc.encrypt_with_params(params, "secret").unwrap();
        let enc_pem = enc.to_pem("ENCRYPTED PRIVATE KEY", pkcs8::LineEnding::LF).unwrap();
        let encrypted = dir.path().join("enc.pem");
        std::fs::write(&encrypted, enc_pem.as_bytes()).unwrap();
        let k = load_key(TLS_SERVER_KEYPATH, &encrypted, Some("secret")).unwrap();
        assert_eq!(k.secret_der(), ck.signing_key.serialized_der());
        let e = load_key(TLS_SERVER_KEYPATH, &encrypted, Some("wrong")).unwrap_err().to_string();
        assert!(e.contains("wrong password"), "{e}");
        let e = load_key(TLS_SERVER_KEYPATH, &encrypted, None).unwrap_err().to_string();
        assert!(e.contains("no key password"), "{e}");
    }
}
