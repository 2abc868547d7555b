//! Why a TLS connection went down under a call, found by asking again: under TLS 1.3 a node
//! refuses a client certificate only after the client has finished its side of the handshake,
//! so the refusal (a TLS alert) reaches the client while its first request is already on the
//! way, and the HTTP/2 layer may then fail that request as merely "canceled", without the
//! alert. [`probe`] makes one fresh handshake with the same settings and reads what the node
//! answers: its alert, if it refuses, read before anything else is sent.

use std::sync::Arc;
use std::time::Duration;

use rustls::RootCertStore;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::io::AsyncReadExt as _;
use tokio::net::TcpStream;

use super::{CONNECT_TIMEOUT, ConnectError, HANDSHAKE_TIMEOUT, TlsOptions, from_rustls};

/// How long the probe waits, after its handshake, for the node to refuse it. A node decides
/// at once; one that accepts waits for the HTTP/2 preface the probe never sends.
const VERDICT_WAIT: Duration = Duration::from_secs(2);

/// The TLS failure a new connection to `url` with `tls` meets, if any: `None` when the node
/// accepts it, when `url` is not `https://`, or when the probe itself cannot be made (the
/// original error then stands).
pub(crate) async fn probe(url: &str, tls: &TlsOptions) -> Option<ConnectError> {
    let uri: tonic::codegen::http::Uri = url.parse().ok()?;
    if !uri.scheme_str()?.eq_ignore_ascii_case("https") {
        return None;
    }
    let host = uri.host()?.trim_matches(['[', ']']).to_string();
    let port = uri.port_u16().unwrap_or(443);
    let name = tls.domain.clone().unwrap_or_else(|| host.clone());
    let name = ServerName::try_from(name).ok()?;
    let config = Arc::new(client_config(tls)?);
    let tcp = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect((host.as_str(), port)))
        .await
        .ok()?
        .ok()?;
    let connector = tokio_rustls::TlsConnector::from(config);
    let mut stream =
        match tokio::time::timeout(HANDSHAKE_TIMEOUT, connector.connect(name, tcp)).await {
            Err(_) => return None,
            Ok(Err(e)) => return rustls_error(&e).map(|e| from_rustls(url, tls, &e)),
            Ok(Ok(stream)) => stream,
        };
    let mut byte = [0u8; 1];
    match tokio::time::timeout(VERDICT_WAIT, stream.read(&mut byte)).await {
        Ok(Err(e)) => rustls_error(&e).map(|e| from_rustls(url, tls, &e)),
        _ => None,
    }
}

/// The rustls error an I/O error of tokio-rustls carries.
fn rustls_error(error: &std::io::Error) -> Option<rustls::Error> {
    error
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        .cloned()
}

/// The rustls settings tonic builds from `tls` (the same roots, identity and ALPN), or `None`
/// if they cannot be built (the channel was made with them, so that does not happen).
fn client_config(tls: &TlsOptions) -> Option<rustls::ClientConfig> {
    let mut roots = RootCertStore::empty();
    match &tls.ca_cert {
        Some(path) => {
            let pem = std::fs::read(path).ok()?;
            for cert in CertificateDer::pem_slice_iter(&pem) {
                roots.add(cert.ok()?).ok()?;
            }
        }
        None => {
            for cert in rustls_native_certs::load_native_certs().certs {
                let _ = roots.add(cert);
            }
        }
    }
    let builder = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .ok()?
    .with_root_certificates(roots);
    let mut config = match &tls.client_cert {
        None => builder.with_no_client_auth(),
        Some((cert, key)) => {
            let chain = CertificateDer::pem_slice_iter(&std::fs::read(cert).ok()?)
                .collect::<Result<Vec<_>, _>>()
                .ok()?;
            let key =
                PrivateKeyDer::from_pem_slice(&zeroize::Zeroizing::new(std::fs::read(key).ok()?))
                    .ok()?;
            builder.with_client_auth_cert(chain, key).ok()?
        }
    };
    config.alpn_protocols = vec![b"h2".to_vec()];
    Some(config)
}
