//! TLS on a real ferromq process (`tls.server.mode` and friends), with a
//! rustls client: enforcing refuses plain and serves TLS, permissive serves
//! both, disabled serves plain only, a configured certificate is the one
//! presented, client auth `require` refuses a client without a certificate.

mod common;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use common::raw::{self, Raw};
use common::start_fresh;
use ferromq::remoting::RemotingCommand;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, SignatureScheme};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

const GET_ROUTEINFO_BY_TOPIC: i32 = 105;

/// No `/etc/rocketmq/tls.properties` of the machine may leak in.
const NO_TLS_FILE: &str = "tls.config.file=/nonexistent/tls.properties\n";

#[allow(deprecated)]
fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Accepts any server certificate (what Java's test mode does).
#[derive(Debug)]
struct AnyCert(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for AnyCert {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(m, c, d, &self.0.signature_verification_algorithms)
    }
    fn verify_tls13_signature(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(m, c, d, &self.0.signature_verification_algorithms)
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

fn insecure_client(
    client_cert: Option<(CertificateDer<'static>, PrivateKeyDer<'static>)>,
) -> ClientConfig {
    let p = provider();
    let b = ClientConfig::builder_with_provider(p.clone())
        .with_safe_default_protocol_versions()
        .unwrap()
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyCert(p)));
    match client_cert {
        Some((c, k)) => b.with_client_auth_cert(vec![c], k).unwrap(),
        None => b.with_no_client_auth(),
    }
}

async fn tls_connect(addr: &str, cfg: ClientConfig) -> std::io::Result<TlsStream<TcpStream>> {
    let tcp = TcpStream::connect(addr).await?;
    let name = ServerName::try_from("localhost").unwrap();
    tokio::time::timeout(
        Duration::from_secs(10),
        TlsConnector::from(Arc::new(cfg)).connect(name, tcp),
    )
    .await
    .map_err(|_| std::io::Error::other("handshake timed out"))?
}

/// Sends `cmd` and reads up to its response, skipping the broker's requests.
async fn call(
    s: &mut TlsStream<TcpStream>,
    mut cmd: RemotingCommand,
    opaque: i32,
) -> std::io::Result<RemotingCommand> {
    cmd.opaque = opaque;
    s.write_all(&cmd.encode()).await?;
    s.flush().await?;
    loop {
        let mut len = [0u8; 4];
        tokio::time::timeout(Duration::from_secs(10), s.read_exact(&mut len))
            .await
            .map_err(|_| std::io::Error::other("no response in 10 s"))??;
        let mut frame = vec![0u8; u32::from_be_bytes(len) as usize];
        s.read_exact(&mut frame).await?;
        let r = RemotingCommand::decode(Bytes::from(frame)).unwrap();
        if r.is_response() && r.opaque == opaque {
            return Ok(r);
        }
    }
}

/// A send and a pull of the same message over TLS.
async fn send_and_pull(addr: &str, topic: &str) {
    let mut s = tls_connect(addr, insecure_client(None))
        .await
        .expect("TLS handshake");
    let r = call(&mut s, raw::send(topic, 0, b"over tls"), 1)
        .await
        .unwrap();
    assert_eq!(r.code, 0, "send over TLS: {:?}", r.remark);
    let r = call(&mut s, raw::pull("g", topic, 0, 0, 0), 2)
        .await
        .unwrap();
    assert_eq!(r.code, 0, "pull over TLS: {:?}", r.remark);
    let body = r.body.expect("pulled messages");
    assert!(
        body.windows(8).any(|w| w == b"over tls"),
        "the message body comes back"
    );
}

/// True when a plain client gets an answer to a request.
fn plain_served(addr: &str) -> bool {
    let mut c = Raw::connect(addr);
    c.write(raw::max_offset("TBW102", 0));
    c.read_response().is_ok()
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn fast_addr(s: &common::Server) -> String {
    let port: u16 = s.broker_addr.rsplit(':').next().unwrap().parse().unwrap();
    format!("127.0.0.1:{}", port - 2)
}

#[test]
fn enforcing_refuses_plain_and_serves_tls_on_every_port() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_fresh(
        dir.path(),
        &format!("{NO_TLS_FILE}tls.server.mode=enforcing\n"),
    );
    let ns = format!("127.0.0.1:{}", server.namesrv_port);
    for addr in [&server.broker_addr, &fast_addr(&server), &ns] {
        let mut c = Raw::connect(addr);
        c.write(raw::max_offset("TBW102", 0));
        assert!(
            c.closed_by_server(),
            "{addr}: a plain client is closed without an answer"
        );
    }
    rt().block_on(async {
        send_and_pull(&server.broker_addr, "TlsEnforcing").await;
        send_and_pull(&fast_addr(&server), "TlsEnforcingFast").await;
        // The broker registered with the (enforcing) name server over TLS:
        // tls.enable defaults to true in enforcing mode.
        let mut s = tls_connect(&ns, insecure_client(None)).await.unwrap();
        let r = call(
            &mut s,
            RemotingCommand::request(GET_ROUTEINFO_BY_TOPIC, 0).with_ext("topic", "TBW102"),
            1,
        )
        .await
        .unwrap();
        assert_eq!(
            r.code, 0,
            "route over TLS from the name server: {:?}",
            r.remark
        );
        let body = String::from_utf8_lossy(r.body.as_deref().unwrap()).to_string();
        assert!(body.contains("broker-a"), "{body}");
    });
}

#[test]
fn permissive_serves_plain_and_tls_on_the_same_port() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_fresh(dir.path(), NO_TLS_FILE);
    assert!(plain_served(&server.broker_addr));
    assert!(plain_served(&fast_addr(&server)));
    assert!(plain_served(&format!("127.0.0.1:{}", server.namesrv_port)));
    rt().block_on(send_and_pull(&server.broker_addr, "TlsPermissive"));
    // A plain send and pull still work beside TLS ones.
    let r = raw::roundtrip(
        &server.broker_addr,
        &raw::send("TlsPermissive", 0, b"plain"),
    );
    assert_eq!(r.code, 0);
    assert!(plain_served(&server.broker_addr));
}

#[test]
fn a_silent_client_is_closed_after_the_handshake_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_fresh(dir.path(), NO_TLS_FILE);
    let mut c = Raw::connect(&server.broker_addr);
    c.s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let started = std::time::Instant::now();
    assert!(c.closed_by_server());
    assert!(
        started.elapsed() >= Duration::from_secs(5),
        "not closed before the timeout"
    );
}

#[test]
fn disabled_serves_plain_and_closes_tls() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_fresh(
        dir.path(),
        &format!("{NO_TLS_FILE}tls.server.mode=disabled\n"),
    );
    assert!(plain_served(&server.broker_addr));
    rt().block_on(async {
        assert!(
            tls_connect(&server.broker_addr, insecure_client(None))
                .await
                .is_err(),
            "no TLS in disabled mode"
        );
    });
    assert!(plain_served(&server.broker_addr), "the broker lives on");
}

fn write_pair(
    dir: &Path,
    name: &str,
) -> (
    CertificateDer<'static>,
    std::path::PathBuf,
    std::path::PathBuf,
) {
    let ck =
        rcgen::generate_simple_self_signed(vec!["localhost".to_string(), "127.0.0.1".to_string()])
            .unwrap();
    let cert = dir.join(format!("{name}.crt"));
    let key = dir.join(format!("{name}.key"));
    std::fs::write(&cert, ck.cert.pem()).unwrap();
    std::fs::write(&key, ck.signing_key.serialize_pem()).unwrap();
    (ck.cert.der().clone(), cert, key)
}

#[test]
fn a_configured_certificate_is_the_one_presented() {
    let dir = tempfile::tempdir().unwrap();
    let (der, cert, key) = write_pair(dir.path(), "server");
    let server = start_fresh(
        dir.path(),
        &format!(
            "{NO_TLS_FILE}tls.server.mode=enforcing\ntls.test.mode.enable=false\ntls.server.certPath={}\ntls.server.keyPath={}\n",
            cert.display(),
            key.display()
        ),
    );
    rt().block_on(async {
        let s = tls_connect(&server.broker_addr, insecure_client(None))
            .await
            .unwrap();
        let presented = s.get_ref().1.peer_certificates().unwrap()[0].clone();
        assert_eq!(presented, der);
        send_and_pull(&server.broker_addr, "TlsConfiguredCert").await;
    });
}

#[test]
fn the_tls_config_file_supplies_the_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let (der, cert, key) = write_pair(dir.path(), "server");
    let file = dir.path().join("tls.properties");
    std::fs::write(
        &file,
        format!(
            "tls.test.mode.enable=false\ntls.server.certPath={}\ntls.server.keyPath={}\n",
            cert.display(),
            key.display()
        ),
    )
    .unwrap();
    let server = start_fresh(dir.path(), &format!("tls.config.file={}\n", file.display()));
    rt().block_on(async {
        let s = tls_connect(&server.broker_addr, insecure_client(None))
            .await
            .unwrap();
        assert_eq!(s.get_ref().1.peer_certificates().unwrap()[0], der);
    });
}

#[test]
fn client_auth_require_refuses_a_client_without_a_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_fresh(
        dir.path(),
        &format!("{NO_TLS_FILE}tls.server.mode=enforcing\ntls.server.need.client.auth=require\n"),
    );
    rt().block_on(async {
        // TLS 1.3: the client finishes before the server checks, so the
        // refusal shows on the first request.
        let refused = match tls_connect(&server.broker_addr, insecure_client(None)).await {
            Err(_) => true,
            Ok(mut s) => call(&mut s, raw::max_offset("TBW102", 0), 1).await.is_err(),
        };
        assert!(refused, "a client without a certificate is refused");
        let ck = rcgen::generate_simple_self_signed(vec!["client".to_string()]).unwrap();
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(ck.signing_key.serialize_der()));
        let mut s = tls_connect(
            &server.broker_addr,
            insecure_client(Some((ck.cert.der().clone(), key))),
        )
        .await
        .unwrap();
        let r = call(&mut s, raw::max_offset("TBW102", 0), 1).await.unwrap();
        assert_eq!(r.code, 0);
    });
}

#[test]
fn client_auth_against_a_trust_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let (trusted_der, trusted_cert, trusted_key) = write_pair(dir.path(), "trusted");
    let server = start_fresh(
        dir.path(),
        &format!(
            "{NO_TLS_FILE}tls.server.mode=enforcing\ntls.server.need.client.auth=require\ntls.server.authClient=true\n\
             tls.server.trustCertPath={}\n",
            trusted_cert.display()
        ),
    );
    rt().block_on(async {
        let stranger = rcgen::generate_simple_self_signed(vec!["client".to_string()]).unwrap();
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
            stranger.signing_key.serialize_der(),
        ));
        let refused = match tls_connect(
            &server.broker_addr,
            insecure_client(Some((stranger.cert.der().clone(), key))),
        )
        .await
        {
            Err(_) => true,
            Ok(mut s) => call(&mut s, raw::max_offset("TBW102", 0), 1).await.is_err(),
        };
        assert!(
            refused,
            "a certificate the trust file does not hold is refused"
        );
        let pem = std::fs::read(&trusted_key).unwrap();
        let key = PrivateKeyDer::from_pem_slice(&pem).unwrap();
        let mut s = tls_connect(
            &server.broker_addr,
            insecure_client(Some((trusted_der, key))),
        )
        .await
        .unwrap();
        assert_eq!(
            call(&mut s, raw::max_offset("TBW102", 0), 1)
                .await
                .unwrap()
                .code,
            0
        );
    });
}

#[test]
fn an_unreadable_certificate_stops_the_start_with_its_name() {
    let dir = tempfile::tempdir().unwrap();
    let conf = common::write_conf(
        dir.path(),
        common::broker_port(),
        &format!(
            "{NO_TLS_FILE}tls.test.mode.enable=false\ntls.server.certPath={0}/missing.crt\ntls.server.keyPath={0}/missing.key\n",
            dir.path().display()
        ),
    );
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ferromq"))
        .args(["standalone", "-c"])
        .arg(&conf)
        .args(["--namesrv-port", &common::broker_port().to_string()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("tls.server.certPath: cannot read") && err.contains("missing.crt"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}
