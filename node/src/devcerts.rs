//! `consentd tls dev-certs`: throwaway certificates for development, the demo and the devnet: a
//! CA, a node certificate for this machine (127.0.0.1, ::1 and localhost) and a collector's
//! client certificate, both signed by that CA. The CA's key is not kept: to change anything,
//! make a new set (`--force`). Never for a real network: there the certificates come from the
//! city's CA or ACME (docs/operators.md).

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use consent_proto::auth::CERT_COLLECTOR_URI;
use consent_proto::ids::FeedId;
use consent_proto::vocab::Role;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose,
    Ia5String, IsCa, KeyPair, KeyUsagePurpose, SanType,
};

/// How long the node's and the collector's certificates are valid, in days (the CA's: ten times
/// as long).
pub const VALID_DAYS: u32 = 365;

/// The names the node's certificate holds.
pub const NODE_NAMES: [&str; 3] = ["127.0.0.1", "::1", "localhost"];

/// The CA's certificate: what clients trust (`--ca-cert`) and the node checks client
/// certificates against (`client_ca`).
pub const CA_CERT: &str = "ca.pem";
/// The node's certificate (`[tls] cert`).
pub const NODE_CERT: &str = "node-tls.pem";
/// The node's private key (`[tls] key`), mode 0600.
pub const NODE_KEY: &str = "node-tls.key";
/// The collector's client certificate (`--client-cert`).
pub const COLLECTOR_CERT: &str = "collector.pem";
/// The collector's private key (`--client-key`), mode 0600.
pub const COLLECTOR_KEY: &str = "collector.key";

const DAY: Duration = Duration::from_secs(86_400);

/// A set of development certificates and keys, PEM.
#[derive(Clone)]
pub struct DevCerts {
    /// The CA's certificate.
    pub ca_cert: String,
    /// The node's certificate: a TLS server for [`NODE_NAMES`].
    pub node_cert: String,
    /// The node's private key (PKCS#8).
    pub node_key: String,
    /// A collector's certificate: a TLS client.
    pub collector_cert: String,
    /// The collector's private key (PKCS#8).
    pub collector_key: String,
    /// When the node's and the collector's certificates end.
    pub not_after: SystemTime,
}

/// Why `tls dev-certs` wrote nothing, or not everything.
#[derive(Debug, thiserror::Error)]
pub enum DevCertsError {
    /// Files of an earlier set are in the way.
    #[error("{} already there; pass --force to replace them", list(.0))]
    Exists(Vec<PathBuf>),
    /// rcgen failed (or a date is out of range).
    #[error("cannot make the certificates: {0}")]
    Generate(String),
    /// A directory or file cannot be written.
    #[error("cannot write {}: {source}", path.display())]
    Write {
        /// What was being written.
        path: PathBuf,
        /// Why it failed.
        source: std::io::Error,
    },
}

fn list(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// A new set, valid from an hour ago (clocks differ a little) for [`VALID_DAYS`].
pub fn generate() -> Result<DevCerts, DevCertsError> {
    generate_for(None)
}

/// [`generate`], the collector's certificate naming `collector` if given (a URI subject
/// alternative name `urn:consent-ledger:collector:col1…`: a node then opens sessions over it
/// for that collector only, and can admit only listed collectors, `[tls] collectors`).
pub fn generate_for(collector: Option<FeedId>) -> Result<DevCerts, DevCertsError> {
    let now = SystemTime::now();
    generate_set(
        now - Duration::from_secs(3_600),
        now + DAY * VALID_DAYS,
        collector,
    )
}

/// A new set whose node and collector certificates are valid from `not_before` to `not_after`
/// (tests make expired ones with it); the CA is valid from an hour ago for ten times
/// [`VALID_DAYS`].
pub fn generate_valid(
    not_before: SystemTime,
    not_after: SystemTime,
) -> Result<DevCerts, DevCertsError> {
    generate_set(not_before, not_after, None)
}

/// [`generate_valid`], the collector's certificate naming `collector` if given.
pub fn generate_set(
    not_before: SystemTime,
    not_after: SystemTime,
    collector: Option<FeedId>,
) -> Result<DevCerts, DevCertsError> {
    let failed = |e: rcgen::Error| DevCertsError::Generate(e.to_string());
    let now = SystemTime::now();

    let ca_key = KeyPair::generate().map_err(failed)?;
    let mut ca = CertificateParams::default();
    // A name of its own per set: a client that trusts another set's CA then reads "unknown CA"
    // (verifiers find an issuer by name; two CAs of one name would read "bad signature").
    let tag = blake3::hash(ca_key.public_key_der().as_slice()).to_hex();
    ca.distinguished_name = name(&format!("consent-ledger development CA {}", &tag[..12]));
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    ca.not_before = date(now - Duration::from_secs(3_600))?;
    ca.not_after = date(now + DAY * (10 * VALID_DAYS))?;
    let ca_cert = ca.self_signed(&ca_key).map_err(failed)?;

    let node_key = KeyPair::generate().map_err(failed)?;
    let mut node = CertificateParams::new(
        NODE_NAMES
            .iter()
            .map(|n| n.to_string())
            .collect::<Vec<String>>(),
    )
    .map_err(failed)?;
    node.distinguished_name = name("consent-ledger development node");
    node.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    node.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    node.use_authority_key_identifier_extension = true;
    node.not_before = date(not_before)?;
    node.not_after = date(not_after)?;
    let node_cert = node
        .signed_by(&node_key, &ca_cert, &ca_key)
        .map_err(failed)?;

    let collector_key = KeyPair::generate().map_err(failed)?;
    let named = collector;
    let mut collector = CertificateParams::default();
    if let Some(id) = named {
        let uri = format!("{CERT_COLLECTOR_URI}{}", id.typed(Role::Collector));
        let uri = Ia5String::try_from(uri).map_err(failed)?;
        collector.subject_alt_names = vec![SanType::URI(uri)];
    }
    collector.distinguished_name = name("consent-ledger development collector");
    collector.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    collector.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    collector.use_authority_key_identifier_extension = true;
    collector.not_before = date(not_before)?;
    collector.not_after = date(not_after)?;
    let collector_cert = collector
        .signed_by(&collector_key, &ca_cert, &ca_key)
        .map_err(failed)?;

    Ok(DevCerts {
        ca_cert: ca_cert.pem(),
        node_cert: node_cert.pem(),
        node_key: node_key.serialize_pem(),
        collector_cert: collector_cert.pem(),
        collector_key: collector_key.serialize_pem(),
        not_after,
    })
}

fn name(common_name: &str) -> DistinguishedName {
    let mut name = DistinguishedName::new();
    name.push(
        DnType::OrganizationName,
        "consent-ledger (development only)",
    );
    name.push(DnType::CommonName, common_name);
    name
}

/// A certificate date, to the second.
fn date(t: SystemTime) -> Result<time::OffsetDateTime, DevCertsError> {
    let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    time::OffsetDateTime::from_unix_timestamp(i64::try_from(secs).unwrap_or(i64::MAX))
        .map_err(|e| DevCertsError::Generate(format!("date out of range: {e}")))
}

/// What [`write()`] wrote.
#[derive(Debug, Clone)]
pub struct Written {
    /// The directory, absolute.
    pub dir: PathBuf,
    /// Every file, in the order written.
    pub files: Vec<PathBuf>,
    /// When the node's and the collector's certificates end.
    pub not_after: SystemTime,
}

/// Makes a new set and writes it into `dir` (created if missing): the certificates mode 0644,
/// the keys 0600. Files of an earlier set are refused, all of them named and none touched,
/// unless `force`: then each is removed and written anew (so a key file gets mode 0600 even if
/// the old one had another).
pub fn write(dir: &Path, force: bool, collector: Option<FeedId>) -> Result<Written, DevCertsError> {
    let names = [CA_CERT, NODE_CERT, NODE_KEY, COLLECTOR_CERT, COLLECTOR_KEY];
    let existing: Vec<PathBuf> = names
        .iter()
        .map(|n| dir.join(n))
        .filter(|p| p.symlink_metadata().is_ok())
        .collect();
    if !existing.is_empty() && !force {
        return Err(DevCertsError::Exists(existing));
    }
    let certs = generate_for(collector)?;
    std::fs::create_dir_all(dir).map_err(|source| DevCertsError::Write {
        path: dir.to_path_buf(),
        source,
    })?;
    let dir = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    let mut files = Vec::new();
    for (name, contents, secret) in [
        (CA_CERT, &certs.ca_cert, false),
        (NODE_CERT, &certs.node_cert, false),
        (NODE_KEY, &certs.node_key, true),
        (COLLECTOR_CERT, &certs.collector_cert, false),
        (COLLECTOR_KEY, &certs.collector_key, true),
    ] {
        let path = dir.join(name);
        write_file(&path, contents, secret, force)?;
        files.push(path);
    }
    Ok(Written {
        dir,
        files,
        not_after: certs.not_after,
    })
}

/// Creates `path` (never through an existing file: with `force` that is removed first) with
/// mode 0600 for a secret, 0644 otherwise, and syncs it.
fn write_file(path: &Path, contents: &str, secret: bool, force: bool) -> Result<(), DevCertsError> {
    let failed = |source: std::io::Error| DevCertsError::Write {
        path: path.to_path_buf(),
        source,
    };
    if force {
        match std::fs::remove_file(path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(failed(e)),
        }
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(if secret { 0o600 } else { 0o644 });
    }
    #[cfg(not(unix))]
    let _ = secret;
    let mut file = options.open(path).map_err(failed)?;
    file.write_all(contents.as_bytes()).map_err(failed)?;
    file.sync_all().map_err(failed)
}

/// What to do with a written set: the node's `[tls]` lines and a client's flags.
pub fn instructions(written: &Written) -> String {
    let path = |name: &str| written.dir.join(name);
    // TOML strings, quoted and escaped as TOML wants them.
    let quoted = |name: &str| toml::Value::String(path(name).display().to_string()).to_string();
    let until = humantime::format_rfc3339_seconds(written.not_after);
    format!(
        "Development certificates (never for a real network): the node's for {names}, and a \
         collector's client certificate, valid until {until}, signed by the CA in {ca} (its key \
         was not kept).\n\
         \n\
         In the node's config file:\n\
         \n\
         [tls]\n\
         cert = {cert}\n\
         key = {key}\n\
         # Ask clients for a certificate signed by this CA (mutual TLS): \"optional\" lets\n\
         # citizens' wallets connect without one; \"required\" refuses them.\n\
         client_ca = {client_ca}\n\
         client_auth = \"optional\"\n\
         # Admit only collectors whose certificate names them (dev-certs --collector col1…;\n\
         # needs client_auth = \"required\"):\n\
         # collectors = [\"col1…\"]\n\
         \n\
         Clients:\n\
         \n\
         consent --node https://127.0.0.1:50051 --ca-cert {ca} \\\n  \
         --client-cert {collector_cert} --client-key {collector_key} ...\n",
        names = NODE_NAMES.join(", "),
        ca = path(CA_CERT).display(),
        cert = quoted(NODE_CERT),
        key = quoted(NODE_KEY),
        client_ca = quoted(CA_CERT),
        collector_cert = path(COLLECTOR_CERT).display(),
        collector_key = path(COLLECTOR_KEY).display(),
    )
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use rustls::client::danger::ServerCertVerifier as _;
    use rustls::pki_types::pem::PemObject as _;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
    use rustls::{CertificateError, Error};

    use super::*;

    fn der(pem: &str) -> CertificateDer<'static> {
        CertificateDer::from_pem_slice(pem.as_bytes()).expect("a PEM certificate")
    }

    /// How a TLS client that trusts `ca` checks a node's certificate, and how a node with
    /// `client_ca = ca` checks a client's.
    fn verifiers(
        ca: &str,
    ) -> (
        Arc<rustls::client::WebPkiServerVerifier>,
        Arc<dyn rustls::server::danger::ClientCertVerifier>,
    ) {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(der(ca)).expect("the CA is a trust anchor");
        let roots = Arc::new(roots);
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let server = rustls::client::WebPkiServerVerifier::builder_with_provider(
            roots.clone(),
            provider.clone(),
        )
        .build()
        .expect("server verifier");
        let client = rustls::server::WebPkiClientVerifier::builder_with_provider(roots, provider)
            .build()
            .expect("client verifier");
        (server, client)
    }

    fn server_name(name: &str) -> ServerName<'static> {
        ServerName::try_from(name)
            .expect("a server name")
            .to_owned()
    }

    #[test]
    fn the_ca_vouches_for_the_node_and_the_collector_and_nothing_else() {
        let certs = generate().expect("generated");
        let (server, client) = verifiers(&certs.ca_cert);
        let now = UnixTime::now();
        let node = der(&certs.node_cert);
        for name in NODE_NAMES {
            server
                .verify_server_cert(&node, &[], &server_name(name), &[], now)
                .unwrap_or_else(|e| panic!("the node's certificate for {name}: {e}"));
        }
        let elsewhere =
            server.verify_server_cert(&node, &[], &server_name("node.example"), &[], now);
        assert!(
            matches!(
                elsewhere,
                Err(Error::InvalidCertificate(
                    CertificateError::NotValidForName
                        | CertificateError::NotValidForNameContext { .. }
                ))
            ),
            "{elsewhere:?}"
        );
        client
            .verify_client_cert(&der(&certs.collector_cert), &[], now)
            .expect("the collector's certificate is a client certificate of the CA");
        // Each certificate is for its own side only.
        assert!(
            client.verify_client_cert(&node, &[], now).is_err(),
            "the node's certificate is no client certificate"
        );
        assert!(
            server
                .verify_server_cert(
                    &der(&certs.collector_cert),
                    &[],
                    &server_name("localhost"),
                    &[],
                    now
                )
                .is_err(),
            "the collector's certificate is no server certificate"
        );
        // Another set's CA vouches for none of them.
        let stranger = generate().expect("generated");
        let unknown = server.verify_server_cert(
            &der(&stranger.node_cert),
            &[],
            &server_name("localhost"),
            &[],
            now,
        );
        assert!(
            matches!(
                unknown,
                Err(Error::InvalidCertificate(CertificateError::UnknownIssuer))
            ),
            "{unknown:?}"
        );
        // The keys are what a TLS server and client load.
        PrivateKeyDer::from_pem_slice(certs.node_key.as_bytes()).expect("the node's key");
        PrivateKeyDer::from_pem_slice(certs.collector_key.as_bytes()).expect("the collector's key");
    }

    #[test]
    fn certificates_end_when_asked() {
        let now = SystemTime::now();
        let certs = generate_valid(now - DAY * 2, now - DAY).expect("generated");
        let (server, _) = verifiers(&certs.ca_cert);
        let expired = server.verify_server_cert(
            &der(&certs.node_cert),
            &[],
            &server_name("localhost"),
            &[],
            UnixTime::now(),
        );
        assert!(
            matches!(
                expired,
                Err(Error::InvalidCertificate(
                    CertificateError::Expired | CertificateError::ExpiredContext { .. }
                ))
            ),
            "{expired:?}"
        );
    }

    #[test]
    fn keys_are_written_0600_and_a_set_is_replaced_only_with_force() {
        let dir = tempfile::tempdir().expect("tempdir");
        let out = dir.path().join("certs");
        let written = write(&out, false, None).expect("written");
        assert_eq!(written.files.len(), 5);
        for file in &written.files {
            assert!(file.is_file(), "{} written", file.display());
        }
        #[cfg(unix)]
        let modes = || {
            use std::os::unix::fs::PermissionsExt;
            [NODE_KEY, COLLECTOR_KEY, NODE_CERT].map(|name| {
                std::fs::metadata(out.join(name))
                    .expect("metadata")
                    .permissions()
                    .mode()
                    & 0o777
            })
        };
        #[cfg(unix)]
        assert_eq!(modes(), [0o600, 0o600, 0o644]);
        let key = std::fs::read(out.join(NODE_KEY)).expect("read");

        match write(&out, false, None) {
            Err(DevCertsError::Exists(paths)) => assert_eq!(paths.len(), 5, "{paths:?}"),
            other => panic!("an existing set must be refused: {other:?}"),
        }
        assert_eq!(
            std::fs::read(out.join(NODE_KEY)).expect("read"),
            key,
            "untouched"
        );

        // A key left readable by others is written anew with mode 0600.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(out.join(NODE_KEY), std::fs::Permissions::from_mode(0o644))
                .expect("chmod");
        }
        write(&out, true, None).expect("replaced");
        assert_ne!(
            std::fs::read(out.join(NODE_KEY)).expect("read"),
            key,
            "a new key"
        );
        #[cfg(unix)]
        assert_eq!(modes(), [0o600, 0o600, 0o644]);

        let text = instructions(&written);
        for line in [
            "[tls]",
            "cert = \"",
            "key = \"",
            "client_ca = \"",
            "--ca-cert ",
        ] {
            assert!(text.contains(line), "{line:?} in:\n{text}");
        }
        assert!(text.contains(&written.dir.join(NODE_KEY).display().to_string()));
        let section = text
            .split("In the node's config file:\n\n")
            .nth(1)
            .and_then(|rest| rest.split("\n\nClients").next())
            .expect("the [tls] lines");
        let table: toml::Table = toml::from_str(section).expect("TOML");
        let tls: crate::config::TlsSection = table["tls"].clone().try_into().expect("[tls]");
        tls.check()
            .expect("the printed lines start a node as they are");
    }
}
