//! TLS settings, loaded once at start: the certificate the proxy shows its
//! clients, and how it talks to the upstream.
//!
//! Both sides use rustls with the ring provider, passed explicitly rather
//! than installed as the process default (many proxies share one test
//! process).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{ClientConfig, VerifierBuilderError, WebPkiServerVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{
    CertificateError, DigitallySignedStruct, RootCertStore, ServerConfig, SignatureScheme,
};
use thiserror::Error;

use super::conn::Conn;
use tokio_rustls::{TlsAcceptor, TlsConnector};

/// The ALPN protocol name PostgreSQL 17 and later use and check.
const ALPN: &[u8] = b"postgresql";

#[derive(Debug, Error)]
pub enum TlsError {
    /// A PEM file that cannot be read, or is not PEM.
    #[error("cannot read {what} {path}: {source}")]
    Read {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: pem::Error,
    },
    #[error("cannot read {what} {path}: no PEM certificate in the file")]
    NoCertificate { what: &'static str, path: PathBuf },
    /// rustls refused what it was given (`what`: the flags behind it).
    #[error("{what}: {source}")]
    Rejected {
        what: &'static str,
        #[source]
        source: rustls::Error,
    },
    /// The certificates of `--upstream-ca` make no verifier.
    #[error("--upstream-ca: {0}")]
    Verifier(#[source] VerifierBuilderError),
    /// Settings that do not go together.
    #[error("{0}")]
    Invalid(String),
}

/// How the proxy connects to the upstream, as libpq's `sslmode`. clap
/// reads it from its kebab-case name (`verify-full`) and lists the names
/// when given another.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum UpstreamTlsMode {
    /// Plain TCP.
    Disable,
    /// TLS when the server offers it, else plain.
    #[default]
    Prefer,
    /// TLS or no connection; the certificate is not checked.
    Require,
    /// TLS with a certificate signed by `--upstream-ca`, for any host name.
    VerifyCa,
    /// TLS with a certificate signed by `--upstream-ca` for the upstream's
    /// host name.
    VerifyFull,
}

impl UpstreamTlsMode {
    pub fn as_str(self) -> &'static str {
        match self {
            UpstreamTlsMode::Disable => "disable",
            UpstreamTlsMode::Prefer => "prefer",
            UpstreamTlsMode::Require => "require",
            UpstreamTlsMode::VerifyCa => "verify-ca",
            UpstreamTlsMode::VerifyFull => "verify-full",
        }
    }
}

/// TLS towards clients: the acceptor, and whether plaintext is refused.
#[derive(Clone)]
pub struct ClientTls {
    pub acceptor: Option<TlsAcceptor>,
    pub required: bool,
    /// The certificate clients are shown (the chain's first).
    pub certificate: Option<CertificateDer<'static>>,
}

impl ClientTls {
    /// From `--tls-cert`, `--tls-key` and `--tls-required`.
    pub fn load(
        cert: Option<&Path>,
        key: Option<&Path>,
        required: bool,
    ) -> Result<ClientTls, TlsError> {
        let (cert, key) = match (cert, key) {
            (Some(cert), Some(key)) => (cert, key),
            (None, None) if required => {
                return Err(TlsError::Invalid(
                    "--tls-required needs --tls-cert and --tls-key".to_owned(),
                ));
            }
            (None, None) => {
                return Ok(ClientTls {
                    acceptor: None,
                    required,
                    certificate: None,
                });
            }
            (Some(_), None) => return Err(TlsError::Invalid("--tls-cert needs --tls-key".into())),
            (None, Some(_)) => return Err(TlsError::Invalid("--tls-key needs --tls-cert".into())),
        };
        let chain = certificates(cert, "--tls-cert")?;
        let certificate = chain.first().cloned();
        let key = private_key(key, "--tls-key")?;
        let mut config = ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(rejected("protocol versions"))?
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .map_err(rejected("--tls-cert and --tls-key"))?;
        config.alpn_protocols = vec![ALPN.to_vec()];
        Ok(ClientTls {
            acceptor: Some(TlsAcceptor::from(Arc::new(config))),
            required,
            certificate,
        })
    }
}

/// TLS towards the upstream.
#[derive(Clone)]
pub struct UpstreamTls {
    pub mode: UpstreamTlsMode,
    /// `None` when the mode is `disable`.
    pub connector: Option<TlsConnector>,
    /// The name the server's certificate is checked against (verify-full).
    pub server_name: ServerName<'static>,
}

/// The files behind `--upstream-ca`, `--upstream-cert` and `--upstream-key`.
#[derive(Clone, Copy, Debug, Default)]
pub struct UpstreamTlsFiles<'a> {
    pub ca: Option<&'a Path>,
    pub cert: Option<&'a Path>,
    pub key: Option<&'a Path>,
}

impl UpstreamTls {
    /// For the upstream `addr` (`host:port`), from `--upstream-tls` and
    /// the files.
    pub fn load(
        addr: &str,
        mode: UpstreamTlsMode,
        files: &UpstreamTlsFiles<'_>,
    ) -> Result<UpstreamTls, TlsError> {
        let ca = files.ca;
        let server_name = ServerName::try_from(host_of(addr).to_owned()).map_err(|_| {
            TlsError::Invalid(format!("upstream {addr:?} has no valid host name for TLS"))
        })?;
        let verifying = matches!(
            mode,
            UpstreamTlsMode::VerifyCa | UpstreamTlsMode::VerifyFull
        );
        let provider = provider();
        let verifier: Arc<dyn ServerCertVerifier> = match (verifying, ca) {
            (false, Some(_)) => {
                return Err(TlsError::Invalid(format!(
                    "--upstream-ca is used only with --upstream-tls verify-ca or verify-full, not {}",
                    mode.as_str()
                )));
            }
            (false, None) => Arc::new(AnyCertificate(Arc::clone(&provider))),
            (true, None) => {
                return Err(TlsError::Invalid(format!(
                    "--upstream-tls {} needs --upstream-ca (the CA that signed the server's certificate)",
                    mode.as_str()
                )));
            }
            (true, Some(ca)) => {
                let mut roots = RootCertStore::empty();
                for cert in certificates(ca, "--upstream-ca")? {
                    roots.add(cert).map_err(rejected("--upstream-ca"))?;
                }
                let webpki = WebPkiServerVerifier::builder_with_provider(
                    Arc::new(roots),
                    Arc::clone(&provider),
                )
                .build()
                .map_err(TlsError::Verifier)?;
                match mode {
                    UpstreamTlsMode::VerifyCa => Arc::new(AnyName(webpki)),
                    _ => webpki,
                }
            }
        };
        let builder = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(rejected("protocol versions"))?
            .dangerous()
            .with_custom_certificate_verifier(verifier);
        let mut config = match client_identity(mode, files)? {
            Some((chain, key)) => builder
                .with_client_auth_cert(chain, key)
                .map_err(rejected("--upstream-cert and --upstream-key"))?,
            None => builder.with_no_client_auth(),
        };
        config.alpn_protocols = vec![ALPN.to_vec()];
        let connector =
            (mode != UpstreamTlsMode::Disable).then(|| TlsConnector::from(Arc::new(config)));
        Ok(UpstreamTls {
            mode,
            connector,
            server_name,
        })
    }
}

/// The certificate chain and key the proxy shows the upstream, if any.
type Identity = (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>);

fn client_identity(
    mode: UpstreamTlsMode,
    files: &UpstreamTlsFiles<'_>,
) -> Result<Option<Identity>, TlsError> {
    let (cert, key) = match (files.cert, files.key) {
        (None, None) => return Ok(None),
        (Some(_), None) => {
            return Err(TlsError::Invalid(
                "--upstream-cert needs --upstream-key".into(),
            ));
        }
        (None, Some(_)) => {
            return Err(TlsError::Invalid(
                "--upstream-key needs --upstream-cert".into(),
            ));
        }
        (Some(cert), Some(key)) => (cert, key),
    };
    if mode == UpstreamTlsMode::Disable {
        return Err(TlsError::Invalid(
            "--upstream-cert is shown over TLS only: not with --upstream-tls disable".into(),
        ));
    }
    let chain = certificates(cert, "--upstream-cert")?;
    let key = private_key(key, "--upstream-key")?;
    Ok(Some((chain, key)))
}

/// Whether SCRAM channel binding can work through the proxy: the client's
/// TLS session ends here and the server's starts here, and the binding
/// (`tls-server-end-point`) is the hash of the certificate each side sees.
/// It matches only when the proxy shows the server's own certificate.
pub fn binding_survives(client: &Conn, upstream: &Conn, ours: Option<&CertificateDer<'_>>) -> bool {
    let Conn::ToServer(tls) = upstream else {
        return false;
    };
    let theirs = tls.get_ref().1.peer_certificates().and_then(|c| c.first());
    client.is_tls() && ours.is_some() && theirs == ours
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// rustls's refusal of what `what` gave it.
fn rejected(what: &'static str) -> impl FnOnce(rustls::Error) -> TlsError {
    move |source| TlsError::Rejected { what, source }
}

/// The certificates in a PEM file; at least one.
fn certificates(path: &Path, what: &'static str) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let read = |source| TlsError::Read {
        what,
        path: path.to_owned(),
        source,
    };
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(read)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(read)?;
    if certs.is_empty() {
        return Err(TlsError::NoCertificate {
            what,
            path: path.to_owned(),
        });
    }
    Ok(certs)
}

fn private_key(path: &Path, what: &'static str) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_file(path).map_err(|source| TlsError::Read {
        what,
        path: path.to_owned(),
        source,
    })
}

/// `host` of `host:port`, `[v6]:port` or a bare host.
pub fn host_of(addr: &str) -> &str {
    if let Some(rest) = addr.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match addr.rsplit_once(':') {
        Some((host, _)) => host,
        None => addr,
    }
}

/// `require` and `prefer`: encryption without authentication, as in libpq.
/// The handshake's signatures are still checked (the peer holds the key of
/// the certificate it shows).
#[derive(Debug)]
struct AnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
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

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// `verify-ca`: the chain must lead to the CA; the name is not checked.
#[derive(Debug)]
struct AnyName(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for AnyName {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let verified =
            self.0
                .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now);
        match verified {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts() {
        assert_eq!(host_of("db.internal:5432"), "db.internal");
        assert_eq!(host_of("127.0.0.1:5432"), "127.0.0.1");
        assert_eq!(host_of("[::1]:5432"), "::1");
        assert_eq!(host_of("db"), "db");
    }

    #[test]
    fn modes() {
        use clap::ValueEnum;
        for mode in ["disable", "prefer", "require", "verify-ca", "verify-full"] {
            let parsed = UpstreamTlsMode::from_str(mode, false).unwrap();
            assert_eq!(parsed.as_str(), mode);
        }
        assert!(UpstreamTlsMode::from_str("verify", false).is_err());
    }

    #[test]
    fn bad_settings_are_explained() {
        let err = |r: Result<ClientTls, TlsError>| r.err().unwrap().to_string();
        assert!(err(ClientTls::load(None, None, true)).contains("--tls-required needs"));
        assert!(err(ClientTls::load(Some(Path::new("/x")), None, false)).contains("--tls-key"));
        let missing = err(ClientTls::load(
            Some(Path::new("/nonexistent/cert.pem")),
            Some(Path::new("/nonexistent/key.pem")),
            false,
        ));
        assert!(
            missing.contains("cannot read --tls-cert /nonexistent/cert.pem"),
            "{missing}"
        );
        let up = |mode, ca: Option<&Path>| {
            let files = UpstreamTlsFiles {
                ca,
                ..UpstreamTlsFiles::default()
            };
            UpstreamTls::load("db:5432", mode, &files)
                .err()
                .unwrap()
                .to_string()
        };
        assert!(up(UpstreamTlsMode::VerifyFull, None).contains("needs --upstream-ca"));
        assert!(up(UpstreamTlsMode::Require, Some(Path::new("/ca"))).contains("only with"));
    }

    #[test]
    fn file_errors_keep_their_cause() {
        use std::error::Error as _;
        let dir = std::env::temp_dir().join(format!("softdel-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let empty = dir.join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        let load = |cert: &Path| {
            ClientTls::load(Some(cert), Some(cert), false)
                .err()
                .unwrap()
        };

        let missing = load(Path::new("/nonexistent/cert.pem"));
        let cause = missing.source().expect("the IO error behind it");
        assert!(cause.to_string().contains("No such file"), "{cause}");
        assert!(matches!(
            missing,
            TlsError::Read {
                what: "--tls-cert",
                ..
            }
        ));

        let none = load(&empty);
        assert!(matches!(none, TlsError::NoCertificate { .. }), "{none}");
        assert!(none.to_string().contains("no PEM certificate"), "{none}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
