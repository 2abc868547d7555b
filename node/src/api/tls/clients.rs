//! Client certificates on the gRPC listener: the [`Verifier`] every handshake asks (the CAs of
//! `client_ca`, replaced when the file changes, and the collectors an operator admits), and what
//! a call's certificate means to the services: the [`Binding`] a session is bound to and the
//! collector a certificate names ([`named_collector`]).
//!
//! A certificate names its collector by one URI subject alternative name
//! `urn:consent-ledger:collector:col1…` ([`consent_proto::auth::CERT_COLLECTOR_URI`]). With
//! `[tls] collectors = [...]` the node admits, at the handshake, only certificates naming one of
//! them (the client sees the TLS alert `access_denied`); without it a certificate need not name
//! one, but one that does opens sessions for that collector only (see `api::auth`).

use std::collections::HashSet;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock};

use consent_proto::auth::CERT_COLLECTOR_URI;
use consent_proto::ids::{FeedId, TypedFeedId};
use consent_proto::vocab::Role;
use rustls::client::danger::HandshakeSignatureValid;
use rustls::pki_types::{CertificateDer, UnixTime};
use rustls::server::WebPkiClientVerifier;
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{
    CertificateError, DigitallySignedStruct, DistinguishedName, RootCertStore, SignatureScheme,
};
use x509_parser::extensions::GeneralName;

use super::{TlsError, certificates, parse_certificates, provider};

/// Which client certificates the node accepts.
#[derive(Debug, Clone)]
pub(crate) struct ClientCerts {
    /// The CA certificates (PEM) that issue them.
    pub(crate) ca: PathBuf,
    /// Whether a client must present one (otherwise it may).
    pub(crate) required: bool,
    /// When set, only certificates naming one of these collectors are admitted.
    pub(crate) collectors: Option<Vec<FeedId>>,
}

/// What a session is bound to: the first 16 bytes of the BLAKE3 hash of the client's
/// certificate (its DER), or zeros for a connection without one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Binding(pub(crate) [u8; 16]);

impl Binding {
    /// The binding of a connection whose client presented `chain` (end entity first).
    pub(crate) fn of(chain: Option<&[CertificateDer<'_>]>) -> Binding {
        match chain.and_then(|chain| chain.first()) {
            None => Binding::default(),
            Some(cert) => {
                let mut out = [0u8; 16];
                out.copy_from_slice(&blake3::hash(cert.as_ref()).as_bytes()[..16]);
                Binding(out)
            }
        }
    }
}

/// Why a client certificate's collector name cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum NameError {
    /// The certificate is not X.509 DER, or its subject alternative names are malformed.
    #[error("the client certificate cannot be parsed: {0}")]
    Unparsable(String),
    /// A collector URI whose id is not a collector's text id.
    #[error("the client certificate's collector name {0:?} is not a collector id (col1…)")]
    BadId(String),
    /// Two collector URIs.
    #[error("the client certificate names more than one collector")]
    Several,
}

/// The collector `cert` names by a URI subject alternative name, if any.
pub(crate) fn named_collector(cert: &CertificateDer<'_>) -> Result<Option<FeedId>, NameError> {
    let (_, parsed) = x509_parser::parse_x509_certificate(cert.as_ref())
        .map_err(|e| NameError::Unparsable(e.to_string()))?;
    let names = parsed
        .subject_alternative_name()
        .map_err(|e| NameError::Unparsable(e.to_string()))?;
    let mut found = None;
    for name in names.iter().flat_map(|n| n.value.general_names.iter()) {
        let GeneralName::URI(uri) = name else {
            continue;
        };
        let Some(id) = uri.strip_prefix(CERT_COLLECTOR_URI) else {
            continue;
        };
        let id = TypedFeedId::parse_role(id, Role::Collector)
            .map_err(|_| NameError::BadId((*uri).to_string()))?;
        if found.replace(id).is_some() {
            return Err(NameError::Several);
        }
    }
    Ok(found)
}

/// Checks client certificates at the handshake: against the CAs of `client_ca` (rustls's
/// WebPKI verifier, replaced by [`Verifier::set_roots`] when the file changes) and, when the
/// operator lists collectors, for a name among them.
pub(crate) struct Verifier {
    required: bool,
    collectors: Option<HashSet<FeedId>>,
    webpki: RwLock<Arc<dyn ClientCertVerifier>>,
}

impl fmt::Debug for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Verifier")
            .field("required", &self.required)
            .field("collectors", &self.collectors.as_ref().map(HashSet::len))
            .finish_non_exhaustive()
    }
}

impl Verifier {
    /// The verifier `clients` asks for, its CAs read now.
    pub(crate) fn new(clients: &ClientCerts) -> Result<Verifier, TlsError> {
        Ok(Verifier {
            required: clients.required,
            collectors: clients
                .collectors
                .as_ref()
                .map(|list| list.iter().copied().collect()),
            webpki: RwLock::new(webpki(
                &clients.ca,
                certificates("client_ca", &clients.ca)?,
            )?),
        })
    }

    /// Checks client certificates against the CAs in `pem` (the contents of the `client_ca`
    /// file `path`), from the next handshake on (connections already open keep theirs).
    pub(crate) fn set_roots(&self, path: &Path, pem: &[u8]) -> Result<(), TlsError> {
        let fresh = webpki(path, parse_certificates("client_ca", path, pem)?)?;
        *self.webpki.write().unwrap_or_else(PoisonError::into_inner) = fresh;
        Ok(())
    }

    fn webpki(&self) -> Arc<dyn ClientCertVerifier> {
        Arc::clone(&*self.webpki.read().unwrap_or_else(PoisonError::into_inner))
    }
}

/// rustls's WebPKI verifier for the CAs `cas`, read from `path` (a client without a
/// certificate is let through here; [`Verifier`] says whether one is required).
fn webpki(
    path: &Path,
    cas: Vec<CertificateDer<'static>>,
) -> Result<Arc<dyn ClientCertVerifier>, TlsError> {
    let mut roots = RootCertStore::empty();
    for ca in cas {
        roots.add(ca).map_err(|e| TlsError::File {
            what: "client_ca",
            path: path.to_path_buf(),
            why: format!("a certificate rustls cannot take as a CA: {e}"),
        })?;
    }
    WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider())
        .allow_unauthenticated()
        .build()
        .map_err(|e| TlsError::Config(format!("client_ca: {e}")))
}

impl ClientCertVerifier for Verifier {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        self.required
    }

    /// No hints: the CAs may change while the node runs, and clients present the one
    /// certificate they are configured with anyway.
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        let verified = self
            .webpki()
            .verify_client_cert(end_entity, intermediates, now)?;
        let Some(allowed) = &self.collectors else {
            return Ok(verified);
        };
        let refused = |why: String| {
            tracing::info!(%why, "TLS: client certificate refused");
            Err(rustls::Error::InvalidCertificate(
                CertificateError::ApplicationVerificationFailure,
            ))
        };
        match named_collector(end_entity) {
            Ok(Some(collector)) if allowed.contains(&collector) => Ok(verified),
            Ok(Some(collector)) => refused(format!(
                "it names collector {}, which [tls] collectors does not list",
                collector.typed(Role::Collector)
            )),
            Ok(None) => refused(format!(
                "it names no collector ({CERT_COLLECTOR_URI}col1…) and [tls] collectors is set"
            )),
            Err(e) => refused(e.to_string()),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki().verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki().verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.webpki().supported_verify_schemes()
    }
}
