//! TLS on the gRPC listener (`[tls]`): the rustls server configuration new connections are
//! accepted with, and the [`Reloader`] that replaces its certificate while the node runs.
//!
//! **Why tokio-rustls here rather than tonic's `ServerTlsConfig`.** tonic's TLS config takes one
//! identity when the server is built; a node must serve a renewed certificate (ACME renews every
//! 60 to 90 days, a city's CA on its own schedule) without a restart, which would drop every call
//! in flight and every watch stream. rustls does that with a certificate resolver
//! ([`ResolvesServerCert`]) asked at each handshake, which tonic's config does not take. tonic's
//! TLS feature is this same rustls (and tokio-rustls, with the ring provider of `tls-ring`)
//! underneath, so nothing else changes: [`super::connections`] runs each connection's handshake
//! on a task of its own and hands tonic the finished stream, whose `TlsConnectInfo` gives the
//! services the client's address (`Request::remote_addr`) and its certificate chain
//! (`Request::peer_certs`).
//!
//! **Reload.** On SIGHUP, and whenever the certificate or key file changes (both are read every
//! [`RELOAD_POLL`] and their contents compared: a timestamp could miss a rewrite within one
//! clock tick), the pair is checked (the key must be the certificate's); a good pair is served
//! to every handshake from then on, while connections already open keep the certificate they
//! were made with; a pair that cannot be used is logged and the previous one kept, and tried
//! again when the files change again. `client_ca` is read at start only.
//!
//! **Client certificates** (`client_ca`, `client_auth`): rustls's `WebPkiClientVerifier` checks
//! them against the configured CAs; "optional" lets clients without one connect too.
//!
//! TODO(issue 19, later part): bind a collector's session to the client certificate it was
//! opened over (`Authenticate` records the certificate, later calls must come over it), so that
//! a token replayed over another connection or certificate is refused, and let an operator admit
//! only known collectors by an id the certificate carries. Today a client certificate only
//! decides whether the connection is accepted.

use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use rustls::{RootCertStore, ServerConfig};
use tokio_util::sync::CancellationToken;
use zeroize::Zeroizing;

/// How often the [`Reloader`] looks at the certificate and key files.
pub(crate) const RELOAD_POLL: Duration = Duration::from_secs(2);

/// Largest certificate, key or CA file read.
const MAX_PEM_BYTES: u64 = 1024 * 1024;

/// The protocol the listener speaks inside TLS (ALPN): HTTP/2 only, as gRPC does.
const ALPN_H2: &[u8] = b"h2";

/// The files TLS is served with.
#[derive(Debug, Clone)]
pub(crate) struct TlsFiles {
    /// The node's certificate chain (PEM).
    pub(crate) cert: PathBuf,
    /// Its private key (PEM).
    pub(crate) key: PathBuf,
    /// Client certificates, when asked for.
    pub(crate) clients: Option<ClientCerts>,
}

/// Which client certificates the node accepts.
#[derive(Debug, Clone)]
pub(crate) struct ClientCerts {
    /// The CA certificates (PEM) that issue them.
    pub(crate) ca: PathBuf,
    /// Whether a client must present one (otherwise it may).
    pub(crate) required: bool,
}

/// Why TLS cannot be served with the configured files.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file cannot be read or does not hold what it should.
    #[error("[tls] {what} {}: {why}", .path.display())]
    File {
        /// Which key of `[tls]` names it.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// Why.
        why: String,
    },
    /// The private key is not the certificate's.
    #[error(
        "[tls] the key in {} is not the key of the certificate in {} ({why}): give the key the certificate was issued for",
        .key.display(), .cert.display()
    )]
    KeyMismatch {
        /// The certificate file.
        cert: PathBuf,
        /// The key file.
        key: PathBuf,
        /// What rustls found.
        why: String,
    },
    /// rustls refused the configuration.
    #[error("[tls] {0}")]
    Config(String),
}

/// The TLS the gRPC listener accepts connections with (its certificate replaced by the
/// [`Reloader`] made with it).
#[derive(Clone)]
pub struct ServerTls {
    config: Arc<ServerConfig>,
}

impl fmt::Debug for ServerTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerTls")
            .field("alpn", &"h2")
            .finish_non_exhaustive()
    }
}

impl ServerTls {
    /// What accepts a connection's handshake.
    pub(crate) fn acceptor(&self) -> tokio_rustls::TlsAcceptor {
        tokio_rustls::TlsAcceptor::from(Arc::clone(&self.config))
    }
}

/// Reads and checks `files` and makes the listener's TLS and its reloader. Registers for SIGHUP
/// at once (from then on SIGHUP no longer ends the process), so call it on the runtime.
pub(crate) fn load(files: TlsFiles) -> Result<(ServerTls, Reloader), TlsError> {
    let contents = Contents::now(&files.cert, &files.key);
    let seen = contents.stamps();
    let current = Arc::new(Current::new(contents.certified(&files.cert, &files.key)?));
    let config = server_config(Arc::clone(&current), files.clients.as_ref())?;
    tracing::info!(
        cert = %files.cert.display(),
        client_certificates = match &files.clients {
            None => "none",
            Some(c) if c.required => "required",
            Some(_) => "optional",
        },
        "gRPC is served over TLS"
    );
    let reloader = Reloader {
        files,
        current,
        seen,
        hangups: hangups(),
    };
    Ok((
        ServerTls {
            config: Arc::new(config),
        },
        reloader,
    ))
}

/// The crypto provider tonic's `tls-ring` uses. Named explicitly: libp2p builds rustls with
/// aws-lc-rs too, so rustls has no single default.
fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// TLS 1.3 and 1.2, HTTP/2 by ALPN, the certificate from `resolver`, and client certificates as
/// `clients` says.
fn server_config(
    resolver: Arc<Current>,
    clients: Option<&ClientCerts>,
) -> Result<ServerConfig, TlsError> {
    let provider = provider();
    let builder = ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Config(e.to_string()))?;
    let builder = match clients {
        None => builder.with_no_client_auth(),
        Some(clients) => {
            let mut roots = RootCertStore::empty();
            for ca in certificates("client_ca", &clients.ca)? {
                roots.add(ca).map_err(|e| TlsError::File {
                    what: "client_ca",
                    path: clients.ca.clone(),
                    why: format!("a certificate rustls cannot take as a CA: {e}"),
                })?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
            let verifier = match clients.required {
                true => verifier,
                false => verifier.allow_unauthenticated(),
            };
            let verifier = verifier
                .build()
                .map_err(|e| TlsError::Config(format!("client_ca: {e}")))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut config = builder.with_cert_resolver(resolver);
    config.alpn_protocols = vec![ALPN_H2.to_vec()];
    Ok(config)
}

/// The contents of `path` (at most [`MAX_PEM_BYTES`]), wiped from memory when dropped.
fn read(what: &'static str, path: &Path) -> Result<Zeroizing<Vec<u8>>, TlsError> {
    let fail = |why: String| TlsError::File {
        what,
        path: path.to_path_buf(),
        why,
    };
    let mut bytes = Zeroizing::new(Vec::new());
    std::fs::File::open(path)
        .and_then(|file| file.take(MAX_PEM_BYTES + 1).read_to_end(&mut bytes))
        .map_err(|e| fail(e.to_string()))?;
    if bytes.len() as u64 > MAX_PEM_BYTES {
        return Err(fail("larger than 1 MiB: not a PEM file".into()));
    }
    Ok(bytes)
}

/// Every certificate in the PEM file `path` (at least one).
fn certificates(what: &'static str, path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    parse_certificates(what, path, &read(what, path)?)
}

/// Every certificate in `pem`, read from `path` (at least one).
fn parse_certificates(
    what: &'static str,
    path: &Path,
    pem: &[u8],
) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let fail = |why: String| TlsError::File {
        what,
        path: path.to_path_buf(),
        why,
    };
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| fail(format!("not PEM: {e}")))?;
    if certs.is_empty() {
        return Err(fail(
            "holds no certificate (-----BEGIN CERTIFICATE-----)".into(),
        ));
    }
    Ok(certs)
}

/// The certificate chain `cert_pem` (read from `cert`) with the private key `key_pem` (read from
/// `key`), checked to be its key.
fn certified_key(
    cert: &Path,
    cert_pem: &[u8],
    key: &Path,
    key_pem: &[u8],
) -> Result<CertifiedKey, TlsError> {
    let chain = parse_certificates("cert", cert, cert_pem)?;
    let bad_key = |why: String| TlsError::File {
        what: "key",
        path: key.to_path_buf(),
        why,
    };
    let der = PrivateKeyDer::from_pem_slice(key_pem).map_err(|e| {
        bad_key(format!(
            "holds no private key (PEM: PKCS#8, PKCS#1 or SEC1): {e}"
        ))
    })?;
    let signing = provider()
        .key_provider
        .load_private_key(der)
        .map_err(|e| bad_key(format!("a private key rustls cannot use: {e}")))?;
    let certified = CertifiedKey::new(chain, signing);
    certified.keys_match().map_err(|e| TlsError::KeyMismatch {
        cert: cert.to_path_buf(),
        key: key.to_path_buf(),
        why: e.to_string(),
    })?;
    Ok(certified)
}

/// The certificate served now: every handshake takes it ([`ResolvesServerCert`]), the
/// [`Reloader`] replaces it.
struct Current(RwLock<Arc<CertifiedKey>>);

impl Current {
    fn new(key: CertifiedKey) -> Current {
        Current(RwLock::new(Arc::new(key)))
    }

    fn get(&self) -> Arc<CertifiedKey> {
        Arc::clone(&*self.0.read().unwrap_or_else(PoisonError::into_inner))
    }

    fn set(&self, key: CertifiedKey) {
        *self.0.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(key);
    }
}

// Not derived: it would print the signing key's debug form.
impl fmt::Debug for Current {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Current")
    }
}

impl ResolvesServerCert for Current {
    fn resolve(&self, _client_hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.get())
    }
}

/// The certificate and key files as read at one moment.
struct Contents {
    cert: Result<Zeroizing<Vec<u8>>, TlsError>,
    key: Result<Zeroizing<Vec<u8>>, TlsError>,
}

/// What the files held: the BLAKE3 hash of each (`None`: it could not be read).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamps {
    cert: Option<blake3::Hash>,
    key: Option<blake3::Hash>,
}

impl Contents {
    fn now(cert: &Path, key: &Path) -> Contents {
        Contents {
            cert: read("cert", cert),
            key: read("key", key),
        }
    }

    fn stamps(&self) -> Stamps {
        let hash = |file: &Result<Zeroizing<Vec<u8>>, TlsError>| {
            file.as_ref()
                .ok()
                .map(|bytes| blake3::hash(bytes.as_slice()))
        };
        Stamps {
            cert: hash(&self.cert),
            key: hash(&self.key),
        }
    }

    /// The pair these contents hold (`cert` and `key` name the files, for errors).
    fn certified(self, cert: &Path, key: &Path) -> Result<CertifiedKey, TlsError> {
        certified_key(cert, &self.cert?, key, &self.key?)
    }
}

/// Reads the certificate and key again on SIGHUP and when the files change, and serves the new
/// pair if it can be used (see the module doc).
pub(crate) struct Reloader {
    files: TlsFiles,
    current: Arc<Current>,
    /// What the files held when last read.
    seen: Stamps,
    hangups: Hangups,
}

impl Reloader {
    /// Reloads until `stop` (the node stops accepting connections).
    pub(crate) async fn run(self, stop: CancellationToken) {
        self.run_every(RELOAD_POLL, stop).await;
    }

    /// [`Reloader::run`], looking at the files every `every`.
    async fn run_every(mut self, every: Duration, stop: CancellationToken) {
        let mut poll = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let asked = tokio::select! {
                () = stop.cancelled() => return,
                _ = poll.tick() => false,
                () = hangup(&mut self.hangups) => true,
            };
            self.reload(asked).await;
        }
    }

    /// Reads the pair again if the files changed (or `asked`, on SIGHUP) and serves it if it
    /// can be used; otherwise keeps the one served and says why.
    async fn reload(&mut self, asked: bool) {
        let (cert, key, seen) = (self.files.cert.clone(), self.files.key.clone(), self.seen);
        let looked = tokio::task::spawn_blocking(move || {
            let contents = Contents::now(&cert, &key);
            let now = contents.stamps();
            (asked || now != seen).then(|| (now, contents.certified(&cert, &key)))
        })
        .await;
        let (now, loaded) = match looked {
            Ok(Some(looked)) => looked,
            Ok(None) => return,
            Err(e) => {
                tracing::warn!(error = %e, "TLS: reading the certificate files failed");
                return;
            }
        };
        // A pair that cannot be used is tried again only once the files change again.
        self.seen = now;
        match loaded {
            Ok(key) => {
                self.current.set(key);
                tracing::info!(
                    cert = %self.files.cert.display(),
                    "TLS certificate reloaded: new connections get it, open ones keep theirs"
                );
            }
            Err(e) => tracing::warn!(
                error = %e,
                "TLS certificate not reloaded: still serving the previous one"
            ),
        }
    }
}

#[cfg(unix)]
type Hangups = Option<tokio::signal::unix::Signal>;
#[cfg(not(unix))]
type Hangups = ();

/// SIGHUP, listened for from now on (`None` if it cannot be: the files are still looked at).
#[cfg(unix)]
fn hangups() -> Hangups {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::hangup()) {
        Ok(hangups) => Some(hangups),
        Err(e) => {
            tracing::warn!(
                error = %e,
                "TLS: cannot listen for SIGHUP; the certificate is still reloaded when its files change"
            );
            None
        }
    }
}

#[cfg(not(unix))]
fn hangups() -> Hangups {}

/// The next SIGHUP (never, if there is none to listen to).
#[cfg(unix)]
async fn hangup(hangups: &mut Hangups) {
    if let Some(signal) = hangups.as_mut()
        && signal.recv().await.is_some()
    {
        return;
    }
    *hangups = None;
    std::future::pending::<()>().await
}

#[cfg(not(unix))]
async fn hangup(_: &mut Hangups) {
    std::future::pending::<()>().await
}

/// Throwaway CAs and certificates, and clients that trust them, for the tests of the listener.
#[cfg(test)]
pub(crate) mod testing {
    use std::path::Path;
    use std::sync::Arc;

    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};

    use super::{ClientCerts, TlsFiles};

    /// A CA.
    pub(crate) struct Ca {
        cert: rcgen::Certificate,
        key: rcgen::KeyPair,
    }

    /// A certificate and its key, PEM.
    pub(crate) struct Issued {
        pub(crate) cert: String,
        pub(crate) key: String,
    }

    impl Ca {
        pub(crate) fn new(name: &str) -> Ca {
            let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
            params
                .distinguished_name
                .push(rcgen::DnType::CommonName, name);
            params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
            let key = rcgen::KeyPair::generate().expect("CA key");
            let cert = params.self_signed(&key).expect("CA certificate");
            Ca { cert, key }
        }

        /// A certificate for `names` (DNS names or IP addresses) signed by this CA.
        pub(crate) fn issue(&self, names: &[&str]) -> Issued {
            let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
            let params = rcgen::CertificateParams::new(names).expect("params");
            let key = rcgen::KeyPair::generate().expect("key");
            let cert = params
                .signed_by(&key, &self.cert, &self.key)
                .expect("certificate");
            Issued {
                cert: cert.pem(),
                key: key.serialize_pem(),
            }
        }

        pub(crate) fn pem(&self) -> String {
            self.cert.pem()
        }
    }

    /// Writes `issued` as `dir/<name>.crt` and `dir/<name>.key` and names them, with client
    /// certificates from `clients` (a CA's file, required or not).
    pub(crate) fn files(
        dir: &Path,
        name: &str,
        issued: &Issued,
        clients: Option<(&Ca, bool)>,
    ) -> TlsFiles {
        let (cert, key) = (
            dir.join(format!("{name}.crt")),
            dir.join(format!("{name}.key")),
        );
        std::fs::write(&cert, &issued.cert).expect("cert file");
        std::fs::write(&key, &issued.key).expect("key file");
        let clients = clients.map(|(ca, required)| {
            let path = dir.join(format!("{name}-clients.crt"));
            std::fs::write(&path, ca.pem()).expect("client CA file");
            ClientCerts { ca: path, required }
        });
        TlsFiles { cert, key, clients }
    }

    /// A client trusting `ca`, speaking h2, presenting `identity` if given.
    pub(crate) fn client(ca: &Ca, identity: Option<&Issued>) -> tokio_rustls::TlsConnector {
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(CertificateDer::from_pem_slice(ca.pem().as_bytes()).expect("CA"))
            .expect("root");
        let builder = rustls::ClientConfig::builder_with_provider(super::provider())
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_root_certificates(roots);
        let mut config = match identity {
            None => builder.with_no_client_auth(),
            Some(issued) => builder
                .with_client_auth_cert(
                    vec![CertificateDer::from_pem_slice(issued.cert.as_bytes()).expect("cert")],
                    PrivateKeyDer::from_pem_slice(issued.key.as_bytes()).expect("key"),
                )
                .expect("client identity"),
        };
        config.alpn_protocols = vec![super::ALPN_H2.to_vec()];
        tokio_rustls::TlsConnector::from(Arc::new(config))
    }

    /// The DER of the certificate in `issued`.
    pub(crate) fn der(issued: &Issued) -> CertificateDer<'static> {
        CertificateDer::from_pem_slice(issued.cert.as_bytes()).expect("cert")
    }
}

#[cfg(test)]
mod tests {
    use super::testing::{Ca, files};
    use super::*;

    /// The end-entity certificate served now.
    fn served(reloader: &Reloader) -> CertificateDer<'static> {
        reloader.current.get().cert[0].clone()
    }

    #[tokio::test]
    async fn files_that_cannot_be_used_stop_the_start_with_what_is_wrong() {
        let dir = tempfile::tempdir().expect("dir");
        let ca = Ca::new("ca");
        let (a, b) = (ca.issue(&["localhost"]), ca.issue(&["localhost"]));
        let mut wrong = files(dir.path(), "a", &a, None);
        wrong.key = files(dir.path(), "b", &b, None).key;
        let err = load(wrong).err().expect("refused");
        assert!(matches!(err, TlsError::KeyMismatch { .. }), "{err}");
        let mut missing = files(dir.path(), "a", &a, None);
        missing.cert = dir.path().join("nothing.crt");
        let err = load(missing).err().expect("refused");
        assert!(matches!(err, TlsError::File { what: "cert", .. }), "{err}");
        let mut junk = files(dir.path(), "a", &a, None);
        std::fs::write(&junk.key, "not a key\n").expect("write");
        let err = load(junk.clone()).err().expect("refused");
        assert!(matches!(err, TlsError::File { what: "key", .. }), "{err}");
        junk.key = files(dir.path(), "a", &a, None).key;
        std::fs::write(&junk.cert, "-----BEGIN CERTIFICATE-----\nxx\n").expect("write");
        assert!(load(junk).is_err());
        let clients = files(dir.path(), "c", &a, Some((&ca, true)));
        let no_ca = ClientCerts {
            ca: dir.path().join("c.key"),
            required: true,
        };
        let err = load(TlsFiles {
            clients: Some(no_ca),
            ..clients
        })
        .err()
        .expect("refused");
        assert!(
            matches!(
                err,
                TlsError::File {
                    what: "client_ca",
                    ..
                }
            ),
            "{err}"
        );
    }

    /// A changed pair is served from the next look on; a pair that cannot be used leaves the
    /// one served in place; files that did not change are not read again.
    #[tokio::test]
    async fn a_changed_pair_is_served_and_a_bad_one_keeps_the_last_good_one() {
        let dir = tempfile::tempdir().expect("dir");
        let ca = Ca::new("ca");
        let first = ca.issue(&["localhost"]);
        let (_tls, mut reloader) = load(files(dir.path(), "node", &first, None)).expect("loads");
        assert_eq!(served(&reloader), testing::der(&first));
        reloader.reload(false).await;
        assert_eq!(served(&reloader), testing::der(&first), "nothing changed");

        let second = ca.issue(&["localhost", "second.example"]);
        files(dir.path(), "node", &second, None);
        reloader.reload(false).await;
        assert_eq!(served(&reloader), testing::der(&second));

        let third = ca.issue(&["localhost", "third.example.org"]);
        std::fs::write(dir.path().join("node.crt"), &third.cert).expect("write");
        reloader.reload(false).await;
        assert_eq!(
            served(&reloader),
            testing::der(&second),
            "the new certificate with the old key is refused"
        );
        std::fs::write(dir.path().join("node.key"), &third.key).expect("write");
        reloader.reload(false).await;
        assert_eq!(
            served(&reloader),
            testing::der(&third),
            "now the pair is whole"
        );
    }

    /// SIGHUP reloads at once (the files are not looked at otherwise here).
    #[cfg(unix)]
    #[tokio::test]
    async fn sighup_reloads_the_pair() {
        let dir = tempfile::tempdir().expect("dir");
        let ca = Ca::new("ca");
        let first = ca.issue(&["localhost"]);
        // The handler is registered by `load`, before the signal is sent.
        let (_tls, reloader) = load(files(dir.path(), "node", &first, None)).expect("loads");
        let current = Arc::clone(&reloader.current);
        let stop = CancellationToken::new();
        let running = tokio::spawn(reloader.run_every(Duration::from_secs(3600), stop.clone()));
        let second = ca.issue(&["localhost", "second.example"]);
        files(dir.path(), "node", &second, None);
        let sent = std::process::Command::new("kill")
            .args(["-HUP", &std::process::id().to_string()])
            .status()
            .expect("kill runs");
        assert!(sent.success());
        let reloaded = tokio::time::timeout(Duration::from_secs(10), async {
            while current.get().cert[0] != testing::der(&second) {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
        .await;
        assert!(reloaded.is_ok(), "SIGHUP reloads the certificate");
        stop.cancel();
        running.await.expect("the reloader ends with the stop");
    }
}
