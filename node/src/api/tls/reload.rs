//! Replacing the listener's certificate, and the CAs that check client certificates, while the
//! node runs: the [`Current`] pair every handshake is served, and the [`Reloader`] that reads
//! the files again (see the module doc of `api::tls`).

use std::fmt;
use std::path::Path;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use tokio_util::sync::CancellationToken;
use zeroize::Zeroizing;

use super::clients::Verifier;
use super::{RELOAD_POLL, TlsError, TlsFiles, certified_key, read};

/// The certificate served now: every handshake takes it ([`ResolvesServerCert`]), the
/// [`Reloader`] replaces it.
pub(super) struct Current(RwLock<Arc<CertifiedKey>>);

impl Current {
    pub(super) fn new(key: CertifiedKey) -> Current {
        Current(RwLock::new(Arc::new(key)))
    }

    pub(super) fn get(&self) -> Arc<CertifiedKey> {
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
pub(super) struct Contents {
    cert: Result<Zeroizing<Vec<u8>>, TlsError>,
    key: Result<Zeroizing<Vec<u8>>, TlsError>,
}

/// What the files held: the BLAKE3 hash of each (`None`: it could not be read).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Stamps {
    cert: Option<blake3::Hash>,
    key: Option<blake3::Hash>,
}

impl Contents {
    pub(super) fn now(cert: &Path, key: &Path) -> Contents {
        Contents {
            cert: read("cert", cert),
            key: read("key", key),
        }
    }

    pub(super) fn stamps(&self) -> Stamps {
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
    pub(super) fn certified(self, cert: &Path, key: &Path) -> Result<CertifiedKey, TlsError> {
        certified_key(cert, &self.cert?, key, &self.key?)
    }
}

/// Reads the certificate and key again on SIGHUP and when the files change, and serves the new
/// pair if it can be used (see the module doc).
pub(crate) struct Reloader {
    files: TlsFiles,
    pub(super) current: Arc<Current>,
    /// What the files held when last read.
    seen: Stamps,
    /// What checks client certificates, and what the `client_ca` file held when last read.
    pub(super) clients: Option<(Arc<Verifier>, Option<blake3::Hash>)>,
    hangups: Hangups,
}

impl Reloader {
    /// Reloads `files` into `current` (their contents now: `seen`) and the `client_ca` file into
    /// `verifier`. Registers for SIGHUP at once (from then on SIGHUP no longer ends the process).
    pub(super) fn new(
        files: TlsFiles,
        current: Arc<Current>,
        seen: Stamps,
        verifier: Option<Arc<Verifier>>,
    ) -> Reloader {
        let clients = verifier.map(|verifier| {
            let seen = files.clients.as_ref().and_then(|c| ca_stamp(&c.ca));
            (verifier, seen)
        });
        Reloader {
            files,
            current,
            seen,
            clients,
            hangups: hangups(),
        }
    }

    /// Reloads until `stop` (the node stops accepting connections).
    pub(crate) async fn run(self, stop: CancellationToken) {
        self.run_every(RELOAD_POLL, stop).await;
    }

    /// [`Reloader::run`], looking at the files every `every`.
    pub(super) async fn run_every(mut self, every: Duration, stop: CancellationToken) {
        let mut poll = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let asked = tokio::select! {
                () = stop.cancelled() => return,
                _ = poll.tick() => false,
                () = hangup(&mut self.hangups) => true,
            };
            self.reload(asked).await;
            self.reload_clients(asked).await;
        }
    }

    /// Reads the `client_ca` file again if it changed (or `asked`) and checks the client
    /// certificates of new handshakes with its CAs; a file that cannot be used is logged and the
    /// CAs in use kept.
    pub(super) async fn reload_clients(&mut self, asked: bool) {
        let (Some(files), Some((verifier, seen))) =
            (self.files.clients.as_ref(), &mut self.clients)
        else {
            return;
        };
        let (verifier, before) = (Arc::clone(verifier), *seen);
        let path = files.ca.clone();
        // One read, both compared and parsed: a file rewritten in between cannot leave the
        // CAs of an older version in use under the newer version's stamp.
        let looked = tokio::task::spawn_blocking(move || {
            let pem = read("client_ca", &path);
            let now = pem.as_ref().ok().map(|pem| blake3::hash(pem.as_slice()));
            (asked || now != before).then(|| {
                let loaded = pem.and_then(|pem| verifier.set_roots(&path, &pem));
                (now, loaded)
            })
        })
        .await;
        let (now, loaded) = match looked {
            Ok(Some(looked)) => looked,
            Ok(None) => return,
            Err(e) => {
                tracing::warn!(error = %e, "TLS: reading the client_ca file failed");
                return;
            }
        };
        *seen = now;
        match loaded {
            Ok(()) => tracing::info!(
                client_ca = ?self.files.clients.as_ref().map(|c| c.ca.display().to_string()),
                "TLS client CAs reloaded: new connections are checked against them"
            ),
            Err(e) => tracing::warn!(
                error = %e,
                "TLS client CAs not reloaded: still checking against the previous ones"
            ),
        }
    }

    /// Reads the pair again if the files changed (or `asked`, on SIGHUP) and serves it if it
    /// can be used; otherwise keeps the one served and says why.
    pub(super) async fn reload(&mut self, asked: bool) {
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

/// The BLAKE3 hash of the `client_ca` file's contents (`None`: it cannot be read).
fn ca_stamp(path: &Path) -> Option<blake3::Hash> {
    read("client_ca", path)
        .ok()
        .map(|bytes| blake3::hash(bytes.as_slice()))
}

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
