//! Throwaway CAs and certificates, and clients that trust them, for the tests of the listener.

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

    /// A client certificate whose subject alternative names are the URIs `uris`.
    pub(crate) fn issue_uris(&self, uris: &[String]) -> Issued {
        let mut params = rcgen::CertificateParams::default();
        params.subject_alt_names = uris
            .iter()
            .map(|uri| {
                rcgen::SanType::URI(rcgen::Ia5String::try_from(uri.as_str()).expect("ASCII URI"))
            })
            .collect();
        params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
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
        ClientCerts {
            ca: path,
            required,
            collectors: None,
        }
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
