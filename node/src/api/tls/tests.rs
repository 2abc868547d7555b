//! Tests of the listener's TLS: loading, reload, client certificates.

use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::CertificateDer;
use tokio_util::sync::CancellationToken;

use consent_proto::ids::FeedId;

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
        collectors: None,
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

/// The URI a certificate names `collector` by.
fn collector_uri(collector: FeedId) -> String {
    format!(
        "{}{}",
        consent_proto::auth::CERT_COLLECTOR_URI,
        collector.typed(consent_proto::vocab::Role::Collector)
    )
}

#[test]
fn a_certificate_names_at_most_one_collector_by_its_uri() {
    let ca = Ca::new("ca");
    let (a, b) = (FeedId([1; 32]), FeedId([2; 32]));
    let none = testing::der(&ca.issue(&["collector.example"]));
    assert_eq!(named_collector(&none), Ok(None));
    let other_uri = testing::der(&ca.issue_uris(&["https://collector.example/".into()]));
    assert_eq!(
        named_collector(&other_uri),
        Ok(None),
        "other URIs are not names"
    );
    let one = testing::der(&ca.issue_uris(&[collector_uri(a)]));
    assert_eq!(named_collector(&one), Ok(Some(a)));
    let two = testing::der(&ca.issue_uris(&[collector_uri(a), collector_uri(b)]));
    assert!(matches!(
        named_collector(&two),
        Err(clients::NameError::Several)
    ));
    let citizen = format!(
        "{}{}",
        consent_proto::auth::CERT_COLLECTOR_URI,
        a.typed(consent_proto::vocab::Role::Citizen)
    );
    let wrong_role = testing::der(&ca.issue_uris(&[citizen]));
    assert!(matches!(
        named_collector(&wrong_role),
        Err(clients::NameError::BadId(_))
    ));
    assert!(named_collector(&CertificateDer::from(vec![0x30, 0x03, 1, 2, 3])).is_err());
    assert_ne!(
        Binding::of(Some(std::slice::from_ref(&one))),
        Binding::of(Some(&[two]))
    );
    assert_eq!(
        Binding::of(Some(std::slice::from_ref(&one))),
        Binding::of(Some(&[one]))
    );
    assert_eq!(Binding::of(None), Binding::default());
}

/// The client certificates `verifier` accepts now, of `certs`.
fn accepted(verifier: &clients::Verifier, certs: &[&CertificateDer<'static>]) -> Vec<bool> {
    use rustls::server::danger::ClientCertVerifier;
    certs
        .iter()
        .map(|cert| {
            verifier
                .verify_client_cert(cert, &[], rustls::pki_types::UnixTime::now())
                .is_ok()
        })
        .collect()
}

#[test]
fn listed_collectors_only_are_admitted_when_the_operator_lists_them() {
    use rustls::server::danger::ClientCertVerifier;
    let dir = tempfile::tempdir().expect("dir");
    let (ca, stranger_ca) = (Ca::new("collectors"), Ca::new("strangers"));
    let (listed, unlisted) = (FeedId([1; 32]), FeedId([2; 32]));
    let ca_file = dir.path().join("collectors.pem");
    std::fs::write(&ca_file, ca.pem()).expect("write");
    let certs = [
        testing::der(&ca.issue_uris(&[collector_uri(listed)])),
        testing::der(&ca.issue_uris(&[collector_uri(unlisted)])),
        testing::der(&ca.issue(&["collector.example"])),
        testing::der(&stranger_ca.issue_uris(&[collector_uri(listed)])),
    ];
    let all: Vec<&CertificateDer<'static>> = certs.iter().collect();
    let open = clients::Verifier::new(&ClientCerts {
        ca: ca_file.clone(),
        required: false,
        collectors: None,
    })
    .expect("verifier");
    assert!(!open.client_auth_mandatory());
    assert_eq!(accepted(&open, &all), [true, true, true, false]);
    let listed_only = clients::Verifier::new(&ClientCerts {
        ca: ca_file,
        required: true,
        collectors: Some(vec![listed]),
    })
    .expect("verifier");
    assert!(listed_only.client_auth_mandatory());
    assert_eq!(
        accepted(&listed_only, &all),
        [true, false, false, false],
        "only the listed collector's certificate, from the CA"
    );
}

/// A changed `client_ca` file checks the client certificates of new handshakes; one that
/// cannot be used keeps the CAs in use.
#[tokio::test]
async fn a_changed_client_ca_file_is_used_and_a_bad_one_keeps_the_last_good_one() {
    let dir = tempfile::tempdir().expect("dir");
    let (old_ca, new_ca) = (Ca::new("old collectors"), Ca::new("new collectors"));
    let node = old_ca.issue(&["localhost"]);
    let (_tls, mut reloader) =
        load(files(dir.path(), "node", &node, Some((&old_ca, true)))).expect("loads");
    let verifier = Arc::clone(&reloader.clients.as_ref().expect("client certificates").0);
    let (old, new) = (
        testing::der(&old_ca.issue(&["a.example"])),
        testing::der(&new_ca.issue(&["b.example"])),
    );
    assert_eq!(accepted(&verifier, &[&old, &new]), [true, false]);
    let ca_file = dir.path().join("node-clients.crt");
    std::fs::write(&ca_file, new_ca.pem()).expect("write");
    reloader.reload_clients(false).await;
    assert_eq!(accepted(&verifier, &[&old, &new]), [false, true]);
    std::fs::write(&ca_file, "not a certificate\n").expect("write");
    reloader.reload_clients(false).await;
    assert_eq!(
        accepted(&verifier, &[&old, &new]),
        [false, true],
        "a file that cannot be used keeps the CAs in use"
    );
}

/// One handshake of `connector` with `tls` (over an in-memory pipe), the client reading one
/// byte so that it takes the tickets the server sends after the handshake: what kind it was.
async fn handshake(
    tls: &ServerTls,
    connector: &tokio_rustls::TlsConnector,
) -> rustls::HandshakeKind {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (client_io, server_io) = tokio::io::duplex(64 * 1024);
    let server = async {
        let mut stream = tls.acceptor().accept(server_io).await.expect("server side");
        stream.write_all(b"x").await.expect("write");
        stream.flush().await.expect("flush");
        stream
    };
    let client = async {
        let name = rustls::pki_types::ServerName::try_from("localhost").expect("name");
        let mut stream = connector
            .connect(name, client_io)
            .await
            .expect("client side");
        let mut byte = [0u8; 1];
        stream.read_exact(&mut byte).await.expect("read");
        stream
    };
    let (client, _server) = tokio::join!(client, server);
    client.get_ref().1.handshake_kind().expect("handshake done")
}

/// Without client certificates a client resumes its session; with them, every connection is a
/// full handshake over TLS 1.3, so each one's certificate is checked (a resumed session would
/// skip the check: a client whose CA left `client_ca` could go on resuming).
#[tokio::test]
async fn client_certificates_turn_session_resumption_off() {
    let dir = tempfile::tempdir().expect("dir");
    let ca = Ca::new("ca");
    let node = ca.issue(&["localhost"]);
    let (open, _reloader) = load(files(dir.path(), "open", &node, None)).expect("loads");
    let connector = testing::client(&ca, None);
    assert_eq!(
        handshake(&open, &connector).await,
        rustls::HandshakeKind::Full
    );
    assert_eq!(
        handshake(&open, &connector).await,
        rustls::HandshakeKind::Resumed,
        "the test can see a resumption"
    );

    let collector = ca.issue(&["collector.example"]);
    let (checked, _reloader) =
        load(files(dir.path(), "checked", &node, Some((&ca, true)))).expect("loads");
    let connector = testing::client(&ca, Some(&collector));
    for _ in 0..2 {
        assert_eq!(
            handshake(&checked, &connector).await,
            rustls::HandshakeKind::Full
        );
    }
    assert_eq!(checked.config.send_tls13_tickets, 0);
    assert!(!checked.config.session_storage.can_cache());
}
