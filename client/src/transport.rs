//! Connections to a node: [`channel`] builds every gRPC channel the SDK opens, in plain HTTP/2
//! for an `http://` URL and over TLS (rustls) for an `https://` one, and says in one line what
//! failed ([`ConnectError`]): a certificate from an unknown CA, an expired one, one for another
//! name, a node that requires a client certificate or refuses the one presented, nothing
//! listening, a plaintext node behind an `https://` URL.
//!
//! The TLS settings are [`TlsOptions`]: the CA that signs the node's certificate (else the
//! system's trusted roots), and a client certificate for a node that asks for one (mutual TLS).
//! The TLS handshake must end within 5 seconds, as must the TCP connection.

use std::error::Error as StdError;
use std::path::{Path, PathBuf};
use std::time::{Duration, UNIX_EPOCH};

use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use rustls::{AlertDescription, CertificateError};
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};
use zeroize::Zeroizing;

/// How long the TCP connection may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long the TLS handshake may take, once connected.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);
/// How long one call may take.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// TLS settings for `https://` node URLs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsOptions {
    /// PEM file of the CA certificate(s) the node's certificate must chain to; without it, the
    /// system's trusted roots. Given, only it is trusted.
    pub ca_cert: Option<PathBuf>,
    /// PEM files of a client certificate and its private key, presented to a node that asks
    /// for one (mutual TLS).
    pub client_cert: Option<(PathBuf, PathBuf)>,
    /// The name the node's certificate must hold, when it is not the URL's host (connecting by
    /// address to a node whose certificate names its host).
    pub domain: Option<String>,
}

impl TlsOptions {
    /// Whether nothing is set (the default: system roots, no client certificate).
    pub fn is_empty(&self) -> bool {
        self.ca_cert.is_none() && self.client_cert.is_none() && self.domain.is_none()
    }

    /// What the node's certificate is checked against, in words.
    fn trusted(&self) -> String {
        match &self.ca_cert {
            Some(path) => format!("the CA in {}", path.display()),
            None => "a CA this system trusts".to_string(),
        }
    }
}

/// Why no channel to a node could be had, or why a new connection failed: one line each,
/// saying what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConnectError {
    /// The URL does not parse, or its scheme is neither `http` nor `https`.
    #[error(
        "{url} is not a node URL ({why}); use e.g. http://127.0.0.1:50051, or https://host:port for TLS"
    )]
    BadUrl {
        /// The URL given.
        url: String,
        /// What is wrong with it.
        why: String,
    },
    /// TLS options were given with an `http://` URL: they would be ignored, and the call sent
    /// in clear.
    #[error(
        "a CA or client certificate was given for {url}, a plaintext URL: use https:// to talk TLS, or drop them"
    )]
    TlsOptionsWithoutTls {
        /// The URL given.
        url: String,
    },
    /// A certificate or key file cannot be used.
    #[error("{what} {}: {why}", path.display())]
    BadFile {
        /// Which file ("the CA certificate", "the client certificate", "the client key").
        what: &'static str,
        /// Its path.
        path: PathBuf,
        /// What is wrong.
        why: String,
    },
    /// No CA given and the system trusts none.
    #[error(
        "no CA to check {url} against: this system has no trusted certificates; pass --ca-cert FILE"
    )]
    NoRoots {
        /// The URL given.
        url: String,
    },
    /// TLS could not be set up with these options.
    #[error("cannot set up TLS for {url}: {message}")]
    TlsSetup {
        /// The URL given.
        url: String,
        /// What failed.
        message: String,
    },
    /// The node's certificate does not chain to a trusted CA.
    #[error(
        "the node at {url} presented a certificate not signed by {trusted}: pass --ca-cert with the CA that signed it"
    )]
    UnknownCa {
        /// The URL given.
        url: String,
        /// What was trusted: "the CA in FILE", or the system's roots.
        trusted: String,
    },
    /// The node's certificate has expired.
    #[error("the node at {url} presented an expired certificate{when}: its operator must renew it")]
    Expired {
        /// The URL given.
        url: String,
        /// When it ended, when known (` (it ended ..., it is now ...)`).
        when: String,
    },
    /// The node's certificate is not valid yet.
    #[error(
        "the node at {url} presented a certificate that is not valid yet{when}: check this machine's clock"
    )]
    NotYetValid {
        /// The URL given.
        url: String,
        /// When it begins, when known.
        when: String,
    },
    /// The node's certificate is for another name.
    #[error(
        "the node at {url} presented a certificate for {presented}, not for {expected}: connect by a name it holds"
    )]
    NameMismatch {
        /// The URL given.
        url: String,
        /// The name checked (the URL's host, or [`TlsOptions::domain`]).
        expected: String,
        /// The names the certificate holds, when known.
        presented: String,
    },
    /// The node's certificate is refused for another reason (revoked, not a server
    /// certificate, malformed).
    #[error("the node at {url} presented a certificate that cannot be trusted: {why}")]
    BadCertificate {
        /// The URL given.
        url: String,
        /// Why.
        why: String,
    },
    /// The node requires a client certificate and none was presented.
    #[error("the node at {url} requires a client certificate: pass --client-cert and --client-key")]
    ClientCertRequired {
        /// The URL given.
        url: String,
    },
    /// The node refused the client certificate presented.
    #[error("the node at {url} refused the client certificate: {why}")]
    ClientCertRefused {
        /// The URL given.
        url: String,
        /// Why, as far as the node's alert says.
        why: String,
    },
    /// Nothing listens there.
    #[error(
        "cannot reach the node at {url}: connection refused (is consentd running there? set --node or CONSENT_NODE)"
    )]
    Refused {
        /// The URL given.
        url: String,
    },
    /// An `https://` URL, and the server there does not answer in TLS.
    #[error(
        "the server at {url} does not speak TLS ({why}): if the node serves plain text there, use http://; a TLS node also closes connections at once when it holds as many as it may (from this address or in all): try again later"
    )]
    NotTls {
        /// The URL given.
        url: String,
        /// What it did instead.
        why: String,
    },
    /// The server speaks TLS but not HTTP/2: not a gRPC port.
    #[error("the server at {url} speaks TLS but not HTTP/2: is that the node's gRPC port?")]
    NotGrpc {
        /// The URL given.
        url: String,
    },
    /// Another TLS failure.
    #[error("TLS with the node at {url} failed: {message}")]
    Tls {
        /// The URL given.
        url: String,
        /// What failed.
        message: String,
    },
    /// Any other failure to connect.
    #[error("cannot reach the node at {url}: {message}")]
    Unreachable {
        /// The URL given.
        url: String,
        /// What happened.
        message: String,
    },
}

/// A node address as a URL: `host:port` (what `<data-dir>/grpc.addr` holds) means
/// `http://host:port`; anything with a scheme is kept as it is.
pub fn node_url(address: &str) -> String {
    let address = address.trim();
    if address.contains("://") {
        address.to_string()
    } else {
        format!("http://{address}")
    }
}

/// Whether `url` asks for TLS.
fn is_https(url: &str) -> bool {
    url.get(..8)
        .is_some_and(|scheme| scheme.eq_ignore_ascii_case("https://"))
}

/// A channel to the node at `url` (`http://` or `https://`, see [`node_url`]), connected now:
/// every channel the SDK opens is made here.
pub async fn channel(url: &str, tls: &TlsOptions) -> Result<Channel, ConnectError> {
    endpoint(url, tls)?
        .connect()
        .await
        .map_err(|e| classify(url, tls, &e))
}

/// The endpoint [`channel`] connects to, with its timeouts and, for `https://`, its TLS
/// settings (the files are read and checked here). TLS options with an `http://` URL are
/// refused rather than ignored.
pub fn endpoint(url: &str, tls: &TlsOptions) -> Result<Endpoint, ConnectError> {
    let bad = |why: String| ConnectError::BadUrl {
        url: url.to_string(),
        why,
    };
    let endpoint = Endpoint::from_shared(url.to_string())
        .map_err(|e| bad(e.to_string()))?
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(CALL_TIMEOUT)
        .tcp_nodelay(true);
    // (http parses the scheme ignoring case: `HTTPS://` is `https`, for tonic too.)
    let scheme = endpoint.uri().scheme_str().map(str::to_string);
    match scheme.as_deref() {
        Some("http") if tls.is_empty() => Ok(endpoint),
        Some("http") => Err(ConnectError::TlsOptionsWithoutTls {
            url: url.to_string(),
        }),
        Some("https") => endpoint
            .tls_config(client_tls(tls)?)
            .map_err(|e| setup_failure(url, &e)),
        Some(other) => Err(bad(format!("{other}:// is neither http:// nor https://"))),
        None => Err(bad("it has no http:// or https://".to_string())),
    }
}

/// tonic's TLS settings from `tls`, its files read and checked.
fn client_tls(tls: &TlsOptions) -> Result<ClientTlsConfig, ConnectError> {
    let mut config = ClientTlsConfig::new().timeout(HANDSHAKE_TIMEOUT);
    config = match &tls.ca_cert {
        Some(path) => config.ca_certificate(Certificate::from_pem(certificates(
            path,
            "the CA certificate",
        )?)),
        None => config.with_native_roots(),
    };
    if let Some((cert, key)) = &tls.client_cert {
        let cert = certificates(cert, "the client certificate")?;
        let key = private_key(key)?;
        config = config.identity(Identity::from_pem(cert, key.as_slice()));
    }
    if let Some(domain) = &tls.domain {
        config = config.domain_name(domain.clone());
    }
    Ok(config)
}

fn read(path: &Path, what: &'static str) -> Result<Zeroizing<Vec<u8>>, ConnectError> {
    std::fs::read(path)
        .map(Zeroizing::new)
        .map_err(|e| ConnectError::BadFile {
            what,
            path: path.to_path_buf(),
            why: format!("cannot read it ({e})"),
        })
}

/// The PEM file at `path`, which must hold at least one certificate.
fn certificates(path: &Path, what: &'static str) -> Result<Vec<u8>, ConnectError> {
    let bad = |why: String| ConnectError::BadFile {
        what,
        path: path.to_path_buf(),
        why,
    };
    let pem = read(path, what)?;
    let mut found = 0;
    for certificate in CertificateDer::pem_slice_iter(&pem) {
        certificate.map_err(|e| bad(format!("not a PEM file ({e})")))?;
        found += 1;
    }
    if found == 0 {
        return Err(bad(
            "no certificate in it (a PEM file with -----BEGIN CERTIFICATE----- is expected)".into(),
        ));
    }
    Ok(pem.to_vec())
}

/// The PEM file at `path`, which must hold a private key.
fn private_key(path: &Path) -> Result<Zeroizing<Vec<u8>>, ConnectError> {
    let what = "the client key";
    let pem = read(path, what)?;
    PrivateKeyDer::from_pem_slice(&pem).map_err(|e| ConnectError::BadFile {
        what,
        path: path.to_path_buf(),
        why: format!("no private key in it ({e})"),
    })?;
    Ok(pem)
}

/// Why tonic refused the TLS settings.
fn setup_failure(url: &str, error: &(dyn StdError + 'static)) -> ConnectError {
    let mut no_roots = false;
    let mut key_mismatch = false;
    each_cause(error, |e| {
        // tonic's own error type is private; its message is what there is.
        no_roots |= e.to_string().contains("no native certs found");
        key_mismatch |= matches!(
            e.downcast_ref::<rustls::Error>(),
            Some(rustls::Error::InconsistentKeys(_))
        );
    });
    let url = url.to_string();
    if no_roots {
        ConnectError::NoRoots { url }
    } else if key_mismatch {
        ConnectError::TlsSetup {
            url,
            message: "the client key does not belong to the client certificate".into(),
        }
    } else {
        ConnectError::TlsSetup {
            url,
            message: source_chain(error),
        }
    }
}

/// What a failed connection to `url` says, in one line: a TLS failure ([`tls_failure`]),
/// nothing listening, a server that hangs up on a TLS handshake, or else the error's own words.
pub fn classify(url: &str, tls: &TlsOptions, error: &(dyn StdError + 'static)) -> ConnectError {
    if let Some(failure) = tls_failure(url, tls, error) {
        return failure;
    }
    let mut refused = false;
    let mut hung_up = false;
    each_cause(error, |e| {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            use std::io::ErrorKind;
            match io.kind() {
                ErrorKind::ConnectionRefused => refused = true,
                ErrorKind::UnexpectedEof
                | ErrorKind::ConnectionReset
                | ErrorKind::ConnectionAborted => hung_up = true,
                _ => {}
            }
        }
    });
    let url = url.to_string();
    if refused {
        ConnectError::Refused { url }
    } else if hung_up && is_https(&url) {
        // A plaintext HTTP/2 server reads a ClientHello as a bad preface and hangs up.
        ConnectError::NotTls {
            url,
            why: "it closed the connection during the TLS handshake".into(),
        }
    } else {
        ConnectError::Unreachable {
            url,
            message: source_chain(error),
        }
    }
}

/// The TLS failure behind `error`, if it is one: of a connection, or of the first call on a
/// new one (in TLS 1.3 a node refuses a client certificate only after the client has finished
/// its side of the handshake, so the refusal reaches the first call). `None` for anything else.
pub fn tls_failure(
    url: &str,
    tls: &TlsOptions,
    error: &(dyn StdError + 'static),
) -> Option<ConnectError> {
    let mut found: Option<rustls::Error> = None;
    let mut not_h2 = false;
    each_cause(error, |e| {
        if found.is_none() {
            found = match e.downcast_ref::<rustls::Error>() {
                Some(tls_error) => Some(tls_error.clone()),
                // The HTTP/2 layer keeps only the words of the TLS error it read (h2 copies an
                // I/O error's message, not the error): the alerts that matter are parsed back.
                None => alert_in(&e.to_string()).map(rustls::Error::AlertReceived),
            };
        }
        // tonic's own error type is private; its message is what there is.
        not_h2 |= e.to_string().contains("HTTP/2 was not negotiated");
    });
    match found {
        Some(e) => Some(from_rustls(url, tls, &e)),
        None if not_h2 => Some(ConnectError::NotGrpc {
            url: url.to_string(),
        }),
        None => None,
    }
}

/// Why a call on a connection to `url` failed, when TLS is why: what the error says
/// ([`tls_failure`]) or, when a TLS connection went down under the call without saying why
/// (CANCELLED, UNAVAILABLE or UNKNOWN), what a fresh handshake with the same settings meets
/// (the node's alert: see `transport/probe.rs`). `None` for anything else.
pub async fn call_failure(
    url: &str,
    tls: &TlsOptions,
    status: &tonic::Status,
) -> Option<ConnectError> {
    if let Some(failure) = tls_failure(url, tls, status) {
        return Some(failure);
    }
    match status.code() {
        tonic::Code::Cancelled | tonic::Code::Unavailable | tonic::Code::Unknown => {
            probe::probe(url, tls).await
        }
        _ => None,
    }
}

/// Visits `error` and its sources, and the error an `std::io::Error` wraps (its `source()`
/// skips that one: it returns the wrapped error's own source). At most 32 levels.
fn each_cause<'a>(
    error: &'a (dyn StdError + 'static),
    mut visit: impl FnMut(&'a (dyn StdError + 'static)),
) {
    let mut next = Some(error);
    for _ in 0..32 {
        let Some(e) = next else { return };
        visit(e);
        if let Some(inner) = e
            .downcast_ref::<std::io::Error>()
            .and_then(std::io::Error::get_ref)
        {
            let inner: &'a (dyn StdError + 'static) = inner;
            visit(inner);
        }
        next = e.source();
    }
}

/// The alerts a node sends about certificates, as rustls names them in
/// `received fatal alert: <name>`.
const CERTIFICATE_ALERTS: [AlertDescription; 10] = [
    AlertDescription::CertificateRequired,
    AlertDescription::UnknownCA,
    AlertDescription::CertificateExpired,
    AlertDescription::CertificateRevoked,
    AlertDescription::UnsupportedCertificate,
    AlertDescription::BadCertificate,
    AlertDescription::CertificateUnknown,
    AlertDescription::DecryptError,
    AlertDescription::AccessDenied,
    AlertDescription::HandshakeFailure,
];

/// The alert named in a message rustls wrote for `Error::AlertReceived`.
fn alert_in(text: &str) -> Option<AlertDescription> {
    let marker = rustls::Error::AlertReceived(AlertDescription::CloseNotify).to_string();
    // "received fatal alert: CloseNotify" without the name.
    let marker = marker.strip_suffix("CloseNotify")?;
    let rest = &text[text.find(marker)? + marker.len()..];
    let name: String = rest
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric())
        .collect();
    CERTIFICATE_ALERTS
        .into_iter()
        .find(|alert| format!("{alert:?}") == name)
}

fn from_rustls(url: &str, tls: &TlsOptions, error: &rustls::Error) -> ConnectError {
    let url = url.to_string();
    match error {
        rustls::Error::InvalidCertificate(e) => from_certificate(url, tls, e),
        rustls::Error::AlertReceived(alert) => from_alert(url, tls, *alert),
        rustls::Error::InvalidMessage(_) | rustls::Error::InappropriateMessage { .. } => {
            ConnectError::NotTls {
                url,
                why: format!("its answer is not TLS: {error}"),
            }
        }
        rustls::Error::InconsistentKeys(_) => ConnectError::TlsSetup {
            url,
            message: "the client key does not belong to the client certificate".into(),
        },
        other => ConnectError::Tls {
            url,
            message: other.to_string(),
        },
    }
}

fn from_certificate(url: String, tls: &TlsOptions, error: &CertificateError) -> ConnectError {
    let date = |t: &UnixTime| {
        humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_secs(t.as_secs()))
    };
    match error {
        CertificateError::UnknownIssuer | CertificateError::BadSignature => {
            ConnectError::UnknownCa {
                url,
                trusted: tls.trusted(),
            }
        }
        CertificateError::Expired => ConnectError::Expired {
            url,
            when: String::new(),
        },
        CertificateError::ExpiredContext {
            time, not_after, ..
        } => ConnectError::Expired {
            url,
            when: format!(" (it ended {}, it is now {})", date(not_after), date(time)),
        },
        CertificateError::NotValidYet => ConnectError::NotYetValid {
            url,
            when: String::new(),
        },
        CertificateError::NotValidYetContext {
            time, not_before, ..
        } => ConnectError::NotYetValid {
            url,
            when: format!(
                " (it begins {}, it is now {})",
                date(not_before),
                date(time)
            ),
        },
        CertificateError::NotValidForName => ConnectError::NameMismatch {
            expected: expected_name(&url, tls),
            presented: "other names".into(),
            url,
        },
        CertificateError::NotValidForNameContext {
            expected,
            presented,
            ..
        } => ConnectError::NameMismatch {
            url,
            expected: expected.to_str().into_owned(),
            presented: if presented.is_empty() {
                "no name".into()
            } else {
                presented.join(", ")
            },
        },
        CertificateError::Revoked => ConnectError::BadCertificate {
            url,
            why: "it is revoked".into(),
        },
        CertificateError::InvalidPurpose | CertificateError::InvalidPurposeContext { .. } => {
            ConnectError::BadCertificate {
                url,
                why: "it is not a TLS server certificate (its extended key usage)".into(),
            }
        }
        other => ConnectError::BadCertificate {
            url,
            why: other.to_string(),
        },
    }
}

/// The name a node's certificate is checked against: [`TlsOptions::domain`], else the URL's host.
fn expected_name(url: &str, tls: &TlsOptions) -> String {
    if let Some(domain) = &tls.domain {
        return domain.clone();
    }
    url.parse::<tonic::transport::Uri>()
        .ok()
        .and_then(|uri| uri.host().map(|h| h.trim_matches(['[', ']']).to_string()))
        .unwrap_or_else(|| url.to_string())
}

fn from_alert(url: String, tls: &TlsOptions, alert: AlertDescription) -> ConnectError {
    let why = match alert {
        AlertDescription::CertificateRequired => return ConnectError::ClientCertRequired { url },
        AlertDescription::UnknownCA => "it is not signed by a CA the node trusts for clients",
        AlertDescription::CertificateExpired => "it has expired, or is not valid yet",
        AlertDescription::CertificateRevoked => "it is revoked",
        AlertDescription::UnsupportedCertificate => {
            "it is not a TLS client certificate (its extended key usage)"
        }
        AlertDescription::AccessDenied => {
            "the node does not admit this client (a node that lists its collectors admits only \
             certificates naming one of them)"
        }
        AlertDescription::BadCertificate
        | AlertDescription::CertificateUnknown
        | AlertDescription::DecryptError => "the node cannot accept it",
        other => {
            return ConnectError::Tls {
                url,
                message: format!("the node ended the handshake ({other:?})"),
            };
        }
    };
    if tls.client_cert.is_some() {
        ConnectError::ClientCertRefused {
            url,
            why: why.to_string(),
        }
    } else {
        ConnectError::Tls {
            url,
            message: format!("the node ended the handshake ({alert:?})"),
        }
    }
}

/// An error and its causes in one line, each said once.
fn source_chain(e: &dyn StdError) -> String {
    let mut parts = vec![e.to_string()];
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if parts.last().is_none_or(|last| !last.contains(&text)) {
            parts.push(text);
        }
        source = s.source();
    }
    parts.join(": ")
}

mod probe;
#[cfg(test)]
mod tests;
