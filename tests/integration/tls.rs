//! TLS on both sides: psql with sslmode=require and verify-full against the
//! proxy's certificate, and a PostgreSQL that accepts TLS connections only
//! (and SCRAM), so that every session below also proves that SCRAM works
//! when TLS ends at the proxy.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
use softdel::pgcluster::{ClusterOptions, TempCluster};
use softdel::proxy::{ProxyConfig, UpstreamTlsMode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::clients::{psql, run};
use crate::common::{SCRAM_USER, TestProxy, raw};

/// A CA and two certificates it signed, both for `localhost` only (no IP
/// address): one for the proxy, one for the TLS-only server.
pub struct Pki {
    pub ca: PathBuf,
    pub proxy_cert: PathBuf,
    pub proxy_key: PathBuf,
    server_cert: String,
    server_key: String,
    /// The server's certificate and key, for a proxy that shows it.
    pub server_cert_file: PathBuf,
    pub server_key_file: PathBuf,
    /// A CA that signed nothing here.
    pub other_ca: PathBuf,
    /// A client certificate for `CERT_USER`, for the proxy to show the
    /// server.
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
    ca_pem: String,
}

/// The role that logs in by certificate only.
const CERT_USER: &str = "certuser";

pub fn pki() -> &'static Pki {
    static PKI: OnceLock<Pki> = OnceLock::new();
    PKI.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("softdel-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let ca = authority("softdel test CA");
        let leaf = |name: &str| {
            let key = KeyPair::generate().unwrap();
            let mut params = CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
            params.distinguished_name.push(DnType::CommonName, name);
            let cert = params.signed_by(&key, &ca).unwrap();
            (cert.pem(), key.serialize_pem())
        };
        let (proxy_cert, proxy_key) = leaf("softdel proxy");
        let (server_cert, server_key) = leaf("postgres");
        let (client_cert, client_key) = leaf(CERT_USER);
        let write = |name: &str, text: &str| {
            let path = dir.join(name);
            std::fs::write(&path, text).unwrap();
            path
        };
        Pki {
            ca: write("ca.pem", &ca.pem()),
            other_ca: write("other-ca.pem", &authority("another CA").pem()),
            proxy_cert: write("proxy.pem", &proxy_cert),
            proxy_key: write("proxy.key", &proxy_key),
            server_cert_file: write("server.pem", &server_cert),
            server_key_file: write("server.key", &server_key),
            client_cert: write("client.pem", &client_cert),
            client_key: write("client.key", &client_key),
            server_cert,
            server_key,
            ca_pem: ca.pem(),
        }
    })
}

fn authority(name: &str) -> CertifiedIssuer<'static, KeyPair> {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap()
}

/// A PostgreSQL that refuses connections without TLS, with `scramuser`
/// logging in by SCRAM (it offers SCRAM-SHA-256-PLUS over TLS).
pub fn tls_cluster() -> &'static TempCluster {
    static CLUSTER: OnceLock<TempCluster> = OnceLock::new();
    CLUSTER.get_or_init(|| {
        let pki = pki();
        let options = ClusterOptions {
            hba: vec![
                "hostnossl all all 127.0.0.1/32 reject".to_owned(),
                format!("hostssl all {} 127.0.0.1/32 scram-sha-256", SCRAM_USER.0),
                format!("hostssl all {CERT_USER} 127.0.0.1/32 cert"),
            ],
            settings: vec![
                ("ssl".into(), "on".into()),
                ("ssl_cert_file".into(), "server.crt".into()),
                ("ssl_key_file".into(), "server.key".into()),
                ("ssl_ca_file".into(), "ca.crt".into()),
            ],
            files: vec![
                ("server.crt".into(), pki.server_cert.clone().into_bytes()),
                ("server.key".into(), pki.server_key.clone().into_bytes()),
                ("ca.crt".into(), pki.ca_pem.clone().into_bytes()),
            ],
        };
        let cluster = TempCluster::start(&options).expect("start a TLS-only PostgreSQL");
        let setup = format!(
            "SET password_encryption = 'scram-sha-256'; CREATE ROLE {} LOGIN PASSWORD '{}'; \
             CREATE ROLE {CERT_USER} LOGIN;",
            SCRAM_USER.0,
            SCRAM_USER.1.replace('\'', "''"),
        );
        cluster
            .psql("postgres", &setup)
            .expect("create the SCRAM role");
        cluster
    })
}

/// A proxy that terminates TLS (required) and connects to the TLS-only
/// server as `mode` says, at `host`.
async fn tls_proxy(mode: UpstreamTlsMode, host: &str, ca: Option<&Path>) -> TestProxy {
    let pki = pki();
    proxy_showing(&pki.proxy_cert, &pki.proxy_key, mode, host, ca).await
}

async fn proxy_showing(
    cert: &Path,
    key: &Path,
    mode: UpstreamTlsMode,
    host: &str,
    ca: Option<&Path>,
) -> TestProxy {
    let upstream = format!("{host}:{}", tls_cluster().port());
    TestProxy::start_with(|config: &mut ProxyConfig| {
        config.upstream = upstream;
        config.tls_cert = Some(cert.to_owned());
        config.tls_key = Some(key.to_owned());
        config.tls_required = true;
        config.upstream_tls = mode;
        config.upstream_ca = ca.map(Path::to_owned);
    })
    .await
}

/// A libpq connection string to the proxy as the SCRAM user. Channel
/// binding is off: it cannot cross a proxy that shows its own certificate
/// (see `channel_binding_needs_the_servers_certificate`).
fn conninfo(proxy: &TestProxy, extra: &str) -> String {
    format!(
        "host=localhost hostaddr=127.0.0.1 port={} dbname=postgres user={} password='{}' connect_timeout=10 channel_binding=disable {extra}",
        proxy.addr.port(),
        SCRAM_USER.0,
        SCRAM_USER.1,
    )
}

/// What the server says about the session's own connection: whether the
/// upstream leg is encrypted, and who logged in.
const WHO_AM_I: &str = "SELECT ssl, current_user FROM pg_stat_ssl WHERE pid = pg_backend_pid()";

async fn psql_query(conninfo: &str, sql: &str) -> Result<String, String> {
    let (ok, out, err) = run(&psql(), &[conninfo, "-X", "-A", "-t", "-c", sql], None).await;
    if ok { Ok(out) } else { Err(err) }
}

#[tokio::test]
async fn psql_verify_full_through_the_proxy_to_a_tls_only_server() {
    let pki = pki();
    let proxy = tls_proxy(UpstreamTlsMode::VerifyFull, "localhost", Some(&pki.ca)).await;
    let verify_full = format!("sslmode=verify-full sslrootcert={}", pki.ca.display());
    let out = psql_query(&conninfo(&proxy, &verify_full), WHO_AM_I).await;
    assert_eq!(out.as_deref(), Ok("t|scramuser\n"));

    let out = psql_query(&conninfo(&proxy, "sslmode=require"), "SELECT 40 + 2").await;
    assert_eq!(out.as_deref(), Ok("42\n"));

    // psql checks the proxy's certificate: another CA, another name.
    let other = format!("sslmode=verify-full sslrootcert={}", pki.other_ca.display());
    let err = psql_query(&conninfo(&proxy, &other), "SELECT 1")
        .await
        .unwrap_err();
    assert!(err.contains("certificate verify failed"), "{err}");
    let wrong_name = conninfo(&proxy, &verify_full).replace("host=localhost", "host=db.example");
    let err = psql_query(&wrong_name, "SELECT 1").await.unwrap_err();
    assert!(
        err.contains("does not match host name \"db.example\""),
        "{err}"
    );
    proxy.stop().await;
}

#[tokio::test]
async fn plaintext_clients_are_refused_when_tls_is_required() {
    let pki = pki();
    let proxy = tls_proxy(UpstreamTlsMode::VerifyFull, "localhost", Some(&pki.ca)).await;
    let err = psql_query(&conninfo(&proxy, "sslmode=disable"), "SELECT 1")
        .await
        .unwrap_err();
    assert!(
        err.contains("FATAL:  softdel: TLS is required: connect with sslmode=require or stricter"),
        "{err}"
    );
    let err = crate::common::connect(&proxy.url(SCRAM_USER.0, Some(SCRAM_USER.1), "postgres"))
        .await
        .expect_err("refused");
    let code = err.as_db_error().map(|e| e.code().code().to_owned());
    assert_eq!(code.as_deref(), Some("28000"), "{err}");
    proxy.stop().await;
}

#[tokio::test]
async fn plaintext_after_sslrequest_drops_the_connection() {
    let proxy = tls_proxy(UpstreamTlsMode::Require, "localhost", None).await;
    // The SSLRequest with a StartupMessage right behind it, unencrypted.
    let mut stream = tokio::net::TcpStream::connect(proxy.addr).await.unwrap();
    let mut bytes = softdel::protocol::SSL_REQUEST.to_vec();
    bytes.extend_from_slice(&raw::startup("postgres", "postgres"));
    stream.write_all(&bytes).await.unwrap();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer).await;
    assert_eq!(answer.first(), Some(&b'S'), "{answer:?}");
    assert!(
        !answer.windows(2).any(|w| w == b"R\0"),
        "no authentication may start: {answer:?}"
    );

    // Answered 'S', then a plaintext StartupMessage instead of a TLS
    // handshake: dropped without a session.
    let mut stream = tokio::net::TcpStream::connect(proxy.addr).await.unwrap();
    stream
        .write_all(&softdel::protocol::SSL_REQUEST)
        .await
        .unwrap();
    let mut s = [0u8; 1];
    stream.read_exact(&mut s).await.unwrap();
    assert_eq!(&s, b"S");
    let startup = raw::startup("postgres", "postgres");
    stream.write_all(&startup).await.unwrap();
    let mut rest = Vec::new();
    let _ = stream.read_to_end(&mut rest).await;
    assert!(!rest.contains(&b'Z'), "no session: {rest:?}");

    // The proxy is unharmed.
    let out = psql_query(&conninfo(&proxy, "sslmode=require"), "SELECT 1").await;
    assert_eq!(out.as_deref(), Ok("1\n"));
    proxy.stop().await;
}

#[tokio::test]
async fn upstream_tls_modes() {
    let pki = pki();
    let require = "sslmode=require";
    for (mode, host, ca) in [
        (UpstreamTlsMode::Prefer, "127.0.0.1", None),
        (UpstreamTlsMode::Require, "127.0.0.1", None),
        (
            UpstreamTlsMode::VerifyCa,
            "127.0.0.1",
            Some(pki.ca.as_path()),
        ),
        (
            UpstreamTlsMode::VerifyFull,
            "localhost",
            Some(pki.ca.as_path()),
        ),
    ] {
        let proxy = tls_proxy(mode, host, ca).await;
        let out = psql_query(&conninfo(&proxy, require), WHO_AM_I).await;
        assert_eq!(out.as_deref(), Ok("t|scramuser\n"), "{mode:?} {host}");
        proxy.stop().await;
    }

    // The server refuses plaintext: its own FATAL reaches the client.
    let proxy = tls_proxy(UpstreamTlsMode::Disable, "127.0.0.1", None).await;
    let err = psql_query(&conninfo(&proxy, require), "SELECT 1")
        .await
        .unwrap_err();
    assert!(err.contains("no encryption"), "{err}");
    proxy.stop().await;

    // verify-full checks the name: the certificate is for localhost only.
    for (mode, host, ca, expected) in [
        (
            UpstreamTlsMode::VerifyFull,
            "127.0.0.1",
            &pki.ca,
            "certificate not valid for name \"127.0.0.1\"",
        ),
        (
            UpstreamTlsMode::VerifyFull,
            "localhost",
            &pki.other_ca,
            "UnknownIssuer",
        ),
        (
            UpstreamTlsMode::VerifyCa,
            "127.0.0.1",
            &pki.other_ca,
            "UnknownIssuer",
        ),
    ] {
        let proxy = tls_proxy(mode, host, Some(ca)).await;
        let err = psql_query(&conninfo(&proxy, require), "SELECT 1")
            .await
            .unwrap_err();
        assert!(
            err.contains("could not connect to upstream") && err.contains("TLS handshake failed"),
            "{mode:?} {host}: {err}"
        );
        assert!(err.contains(expected), "{mode:?} {host}: {err}");
        proxy.stop().await;
    }
}

#[tokio::test]
async fn a_client_certificate_for_a_server_that_asks_for_one() {
    let pki = pki();
    let as_cert_user = |proxy: &TestProxy| {
        format!(
            "host=localhost hostaddr=127.0.0.1 port={} dbname=postgres user={CERT_USER} connect_timeout=10 sslmode=require",
            proxy.addr.port()
        )
    };
    // Without one, the server's refusal reaches the client.
    let proxy = tls_proxy(UpstreamTlsMode::VerifyFull, "localhost", Some(&pki.ca)).await;
    let err = psql_query(&as_cert_user(&proxy), "SELECT 1")
        .await
        .unwrap_err();
    assert!(
        err.contains("connection requires a valid client certificate"),
        "{err}"
    );
    proxy.stop().await;

    // With one, the server logs the session in by it; other roles still
    // log in as before.
    let upstream = format!("localhost:{}", tls_cluster().port());
    let proxy = TestProxy::start_with(|config: &mut ProxyConfig| {
        config.upstream = upstream;
        config.tls_cert = Some(pki.proxy_cert.clone());
        config.tls_key = Some(pki.proxy_key.clone());
        config.upstream_tls = UpstreamTlsMode::VerifyFull;
        config.upstream_ca = Some(pki.ca.clone());
        config.upstream_cert = Some(pki.client_cert.clone());
        config.upstream_key = Some(pki.client_key.clone());
    })
    .await;
    let out = psql_query(&as_cert_user(&proxy), WHO_AM_I).await;
    assert_eq!(out.as_deref(), Ok("t|certuser\n"));
    let out = psql_query(&conninfo(&proxy, "sslmode=require"), WHO_AM_I).await;
    assert_eq!(out.as_deref(), Ok("t|scramuser\n"));
    proxy.stop().await;
}

#[tokio::test]
async fn require_refuses_a_server_without_tls() {
    // The process's main cluster has TLS off.
    let proxy =
        TestProxy::start_with(|config| config.upstream_tls = UpstreamTlsMode::Require).await;
    let err = crate::common::connect(&proxy.url("postgres", None, "postgres"))
        .await
        .expect_err("refused");
    let message = err.as_db_error().map(|e| e.message().to_owned());
    assert!(
        message
            .as_deref()
            .is_some_and(|m| m.contains("the server does not support TLS (--upstream-tls require)")),
        "{err:?}"
    );
    proxy.stop().await;
}

#[tokio::test]
async fn channel_binding_needs_the_servers_certificate() {
    let pki = pki();
    let with_binding = |proxy: &TestProxy, binding: &str| {
        conninfo(proxy, "sslmode=require").replace("channel_binding=disable", binding)
    };
    // The proxy's own certificate: libpq says it could bind, the server
    // (over TLS) takes that for a downgrade and refuses; the client is
    // told what to do.
    let proxy = tls_proxy(UpstreamTlsMode::Require, "127.0.0.1", None).await;
    let err = psql_query(&with_binding(&proxy, "channel_binding=prefer"), "SELECT 1")
        .await
        .unwrap_err();
    assert!(
        err.contains("SCRAM channel binding negotiation error"),
        "{err}"
    );
    assert!(err.contains("HINT:  softdel terminates TLS"), "{err}");
    assert!(err.contains("channel_binding=disable"), "{err}");
    proxy.stop().await;

    // Showing the server's own certificate, the binding (a hash of it) is
    // the same on both legs: SCRAM-SHA-256-PLUS goes through.
    let proxy = proxy_showing(
        &pki.server_cert_file,
        &pki.server_key_file,
        UpstreamTlsMode::VerifyFull,
        "localhost",
        Some(&pki.ca),
    )
    .await;
    for binding in ["channel_binding=prefer", "channel_binding=require"] {
        let out = psql_query(&with_binding(&proxy, binding), WHO_AM_I).await;
        assert_eq!(out.as_deref(), Ok("t|scramuser\n"), "{binding}");
    }
    proxy.stop().await;
}

#[tokio::test]
async fn large_results_stream_over_tls_on_both_legs() {
    let pki = pki();
    let proxy = tls_proxy(UpstreamTlsMode::VerifyFull, "localhost", Some(&pki.ca)).await;
    let sql = "SELECT g, repeat('x', 200) FROM generate_series(1, 50000) g";
    let out = psql_query(&conninfo(&proxy, "sslmode=require"), sql)
        .await
        .expect("the whole result");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 50_000);
    assert_eq!(lines[49_999], format!("50000|{}", "x".repeat(200)));
    proxy.stop().await;
}
