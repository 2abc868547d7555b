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
//! again when the files change again. The `client_ca` file is looked at in the same way, and
//! its CAs check the client certificates of new handshakes once it changes.
//!
//! **Client certificates** (`client_ca`, `client_auth`, `collectors`): [`clients`]. A collector's
//! session is bound to the certificate it was opened over (`api::auth`).

mod clients;
mod reload;
#[cfg(test)]
pub(crate) mod testing;
#[cfg(test)]
mod tests;

use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustls::ServerConfig;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::sign::CertifiedKey;
use zeroize::Zeroizing;

use clients::Verifier;
pub(crate) use clients::{Binding, ClientCerts, named_collector};
pub(crate) use reload::Reloader;
use reload::{Contents, Current};

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
    let verifier = files
        .clients
        .as_ref()
        .map(Verifier::new)
        .transpose()?
        .map(Arc::new);
    let config = server_config(Arc::clone(&current), verifier.clone())?;
    tracing::info!(
        cert = %files.cert.display(),
        client_certificates = match &files.clients {
            None => "none",
            Some(c) if c.required => "required",
            Some(_) => "optional",
        },
        collectors_listed = files
            .clients
            .as_ref()
            .and_then(|c| c.collectors.as_ref())
            .map_or(0, Vec::len),
        "gRPC is served over TLS"
    );
    let reloader = Reloader::new(files, current, seen, verifier);
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

/// HTTP/2 by ALPN, the certificate from `resolver`, and client certificates checked by
/// `clients` (none asked for without it).
///
/// Without client certificates: TLS 1.3 and 1.2, with session resumption (rustls's defaults).
/// With them: TLS 1.3 only, so that a client's certificate (and the collector it names) never
/// crosses the network in clear, and no resumption — a resumed session would skip the
/// certificate check, so a client whose CA left `client_ca`, or whose certificate expired,
/// could go on resuming; each connection's certificate is checked afresh instead (a full
/// handshake costs ~1 ms, `docs/benchmarks.md`, and collectors keep their connections).
fn server_config(
    resolver: Arc<Current>,
    clients: Option<Arc<Verifier>>,
) -> Result<ServerConfig, TlsError> {
    let builder = ServerConfig::builder_with_provider(provider());
    let builder = match clients {
        None => builder.with_safe_default_protocol_versions(),
        Some(_) => builder.with_protocol_versions(&[&rustls::version::TLS13]),
    }
    .map_err(|e| TlsError::Config(e.to_string()))?;
    let checks_clients = clients.is_some();
    let builder = match clients {
        None => builder.with_no_client_auth(),
        Some(verifier) => builder.with_client_cert_verifier(verifier),
    };
    let mut config = builder.with_cert_resolver(resolver);
    config.alpn_protocols = vec![ALPN_H2.to_vec()];
    if checks_clients {
        config.session_storage = Arc::new(rustls::server::NoServerSessionStorage {});
        config.send_tls13_tickets = 0;
    }
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
