use std::io;

use rustls::pki_types::ServerName;

use super::*;

const URL: &str = "https://127.0.0.1:50051";

/// A rustls error as a failed connection hands it over: inside tokio-rustls's I/O error, inside
/// tonic's `ConnectError`.
fn as_tonic_gives_it(e: rustls::Error) -> tonic::ConnectError {
    tonic::ConnectError(Box::new(io::Error::new(io::ErrorKind::InvalidData, e)))
}

/// What a failed connection with `tls` says about `e`: one line.
fn said(e: rustls::Error, tls: &TlsOptions) -> (ConnectError, String) {
    let error = classify(URL, tls, &as_tonic_gives_it(e));
    let text = error.to_string();
    assert!(!text.contains('\n'), "one line: {text}");
    (error, text)
}

fn with_ca() -> TlsOptions {
    TlsOptions {
        ca_cert: Some(PathBuf::from("/etc/city/ca.pem")),
        ..TlsOptions::default()
    }
}

fn with_client_cert() -> TlsOptions {
    TlsOptions {
        client_cert: Some(("c.pem".into(), "c.key".into())),
        ..with_ca()
    }
}

fn at(secs: u64) -> UnixTime {
    UnixTime::since_unix_epoch(Duration::from_secs(secs))
}

#[test]
fn an_unknown_ca_names_what_was_trusted() {
    let unknown = rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer);
    let (error, text) = said(unknown.clone(), &TlsOptions::default());
    assert!(matches!(error, ConnectError::UnknownCa { .. }), "{error:?}");
    assert!(
        text.contains("a CA this system trusts") && text.contains("--ca-cert"),
        "{text}"
    );
    let (_, text) = said(unknown, &with_ca());
    assert!(text.contains("the CA in /etc/city/ca.pem"), "{text}");
    // A certificate whose signature does not verify was not signed by that CA either.
    let (error, _) = said(
        rustls::Error::InvalidCertificate(CertificateError::BadSignature),
        &with_ca(),
    );
    assert!(matches!(error, ConnectError::UnknownCa { .. }), "{error:?}");
}

#[test]
fn an_expired_certificate_says_when_it_ended() {
    let (error, text) = said(
        rustls::Error::InvalidCertificate(CertificateError::ExpiredContext {
            time: at(1_800_000_000),
            not_after: at(1_700_000_000),
        }),
        &with_ca(),
    );
    assert!(matches!(error, ConnectError::Expired { .. }), "{error:?}");
    assert_eq!(
        text,
        "the node at https://127.0.0.1:50051 presented an expired certificate (it ended \
         2023-11-14T22:13:20Z, it is now 2027-01-15T08:00:00Z): its operator must renew it"
    );
    let (error, text) = said(
        rustls::Error::InvalidCertificate(CertificateError::Expired),
        &with_ca(),
    );
    assert!(matches!(error, ConnectError::Expired { .. }), "{error:?}");
    assert!(!text.contains("(it ended"), "{text}");
    let (error, text) = said(
        rustls::Error::InvalidCertificate(CertificateError::NotValidYetContext {
            time: at(1_700_000_000),
            not_before: at(1_800_000_000),
        }),
        &with_ca(),
    );
    assert!(
        matches!(error, ConnectError::NotYetValid { .. }),
        "{error:?}"
    );
    assert!(text.contains("clock"), "{text}");
}

#[test]
fn a_name_mismatch_says_both_names() {
    let (error, text) = said(
        rustls::Error::InvalidCertificate(CertificateError::NotValidForNameContext {
            expected: ServerName::try_from("node.example")
                .expect("a name")
                .to_owned(),
            presented: vec!["localhost".into(), "127.0.0.1".into()],
        }),
        &with_ca(),
    );
    assert!(
        matches!(error, ConnectError::NameMismatch { .. }),
        "{error:?}"
    );
    assert!(
        text.contains("a certificate for localhost, 127.0.0.1, not for node.example"),
        "{text}"
    );
    // Without the details, the name checked: the URL's host, or the domain set.
    let plain = || rustls::Error::InvalidCertificate(CertificateError::NotValidForName);
    let v6 = classify(
        "https://[::1]:50051",
        &with_ca(),
        &as_tonic_gives_it(plain()),
    );
    assert!(
        matches!(&v6, ConnectError::NameMismatch { expected, .. } if expected == "::1"),
        "{v6:?}"
    );
    let domain = TlsOptions {
        domain: Some("node.city".into()),
        ..with_ca()
    };
    let (error, _) = said(plain(), &domain);
    assert!(
        matches!(&error, ConnectError::NameMismatch { expected, .. } if expected == "node.city"),
        "{error:?}"
    );
}

#[test]
fn client_certificates_required_or_refused() {
    let alert = rustls::Error::AlertReceived;
    let (error, text) = said(
        alert(AlertDescription::CertificateRequired),
        &TlsOptions::default(),
    );
    assert!(
        matches!(error, ConnectError::ClientCertRequired { .. }),
        "{error:?}"
    );
    assert!(
        text.contains("--client-cert") && text.contains("--client-key"),
        "{text}"
    );
    for (sent, why) in [
        (
            AlertDescription::UnknownCA,
            "not signed by a CA the node trusts",
        ),
        (AlertDescription::CertificateExpired, "expired"),
        (AlertDescription::CertificateRevoked, "revoked"),
        (
            AlertDescription::UnsupportedCertificate,
            "not a TLS client certificate",
        ),
        (AlertDescription::AccessDenied, "does not admit this client"),
    ] {
        let (error, text) = said(alert(sent), &with_client_cert());
        assert!(
            matches!(error, ConnectError::ClientCertRefused { .. }),
            "{sent:?}: {error:?}"
        );
        assert!(text.contains(why), "{sent:?}: {text}");
    }
    // With no client certificate presented, a certificate alert is not about one.
    let (error, _) = said(alert(AlertDescription::UnknownCA), &with_ca());
    assert!(matches!(error, ConnectError::Tls { .. }), "{error:?}");
}

#[test]
fn a_refusal_after_the_handshake_is_read_from_the_first_call() {
    // In TLS 1.3 the node's alert reaches the first call; the HTTP/2 layer keeps only its words.
    let words = rustls::Error::AlertReceived(AlertDescription::CertificateRequired).to_string();
    let status =
        tonic::Status::from_error(io::Error::new(io::ErrorKind::ConnectionAborted, words).into());
    let failure = tls_failure(URL, &TlsOptions::default(), &status);
    assert!(
        matches!(failure, Some(ConnectError::ClientCertRequired { .. })),
        "{failure:?}"
    );
    // Any other refusal is not a TLS failure.
    let refused = tonic::Status::failed_precondition("the node is not fresh");
    assert_eq!(tls_failure(URL, &TlsOptions::default(), &refused), None);
    let gone = tonic::Status::unavailable("transport error");
    assert_eq!(tls_failure(URL, &with_ca(), &gone), None);
}

#[test]
fn alerts_are_read_back_by_their_whole_name() {
    assert_eq!(
        alert_in("h2 protocol error: received fatal alert: UnknownCA"),
        Some(AlertDescription::UnknownCA)
    );
    assert_eq!(
        alert_in("received fatal alert: BadCertificateHashValue"),
        None,
        "not BadCertificate"
    );
    assert_eq!(alert_in("connection reset"), None);
}

#[test]
fn nothing_listening_and_a_plaintext_server_on_an_https_url() {
    let io_error = |kind: io::ErrorKind| tonic::ConnectError(Box::new(io::Error::from(kind)));
    let refused = classify(URL, &with_ca(), &io_error(io::ErrorKind::ConnectionRefused));
    assert!(
        matches!(refused, ConnectError::Refused { .. }),
        "{refused:?}"
    );
    assert!(refused.to_string().contains("connection refused"));
    // A plaintext HTTP/2 server hangs up on a ClientHello.
    for kind in [io::ErrorKind::UnexpectedEof, io::ErrorKind::ConnectionReset] {
        let hung_up = classify(URL, &with_ca(), &io_error(kind));
        assert!(
            matches!(hung_up, ConnectError::NotTls { .. }),
            "{hung_up:?}"
        );
        assert!(hung_up.to_string().contains("use http://"), "{hung_up}");
    }
    let plain = classify(
        "http://127.0.0.1:50051",
        &TlsOptions::default(),
        &io_error(io::ErrorKind::UnexpectedEof),
    );
    assert!(
        matches!(plain, ConnectError::Unreachable { .. }),
        "{plain:?}"
    );
    // A server that answers in something else than TLS (an HTTP/1 "400 Bad Request").
    let (error, _) = said(
        rustls::Error::InvalidMessage(rustls::InvalidMessage::InvalidContentType),
        &with_ca(),
    );
    assert!(matches!(error, ConnectError::NotTls { .. }), "{error:?}");
    // TLS, but no HTTP/2: a web server rather than the gRPC port.
    let web = tonic::ConnectError("HTTP/2 was not negotiated.".into());
    let error = classify(URL, &with_ca(), &web);
    assert!(matches!(error, ConnectError::NotGrpc { .. }), "{error:?}");
}

#[test]
fn node_urls_and_tls_options_are_checked_before_connecting() {
    assert!(endpoint("http://127.0.0.1:50051", &TlsOptions::default()).is_ok());
    assert!(matches!(
        endpoint("http://127.0.0.1:50051", &with_ca()),
        Err(ConnectError::TlsOptionsWithoutTls { .. })
    ));
    assert!(matches!(
        endpoint("ftp://127.0.0.1:50051", &TlsOptions::default()),
        Err(ConnectError::BadUrl { .. })
    ));
    assert!(is_https("HTTPS://node.city") && !is_https("http://node.city"));
    // Without a CA, the system's roots (a machine may have none).
    match endpoint(URL, &TlsOptions::default()) {
        Ok(_) | Err(ConnectError::NoRoots { .. }) => {}
        Err(other) => panic!("system roots: {other}"),
    }

    let dir = tempfile::tempdir().expect("tempdir");
    let certs = consent_node::devcerts::generate().expect("development certificates");
    let file = |name: &str, contents: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, contents).expect("write");
        path
    };
    let ca = file("ca.pem", &certs.ca_cert);
    let client = (
        file("collector.pem", &certs.collector_cert),
        file("collector.key", &certs.collector_key),
    );
    let options = TlsOptions {
        ca_cert: Some(ca.clone()),
        client_cert: Some(client.clone()),
        domain: None,
    };
    assert!(endpoint(URL, &options).is_ok());
    assert!(endpoint("https://[::1]:50051", &options).is_ok());

    let missing = TlsOptions {
        ca_cert: Some(dir.path().join("nowhere.pem")),
        ..TlsOptions::default()
    };
    let error = endpoint(URL, &missing).expect_err("no such file");
    assert!(
        matches!(
            error,
            ConnectError::BadFile {
                what: "the CA certificate",
                ..
            }
        ),
        "{error:?}"
    );
    assert!(error.to_string().contains("cannot read it"), "{error}");
    // A key where the CA should be.
    let key_as_ca = TlsOptions {
        ca_cert: Some(client.1.clone()),
        ..TlsOptions::default()
    };
    let error = endpoint(URL, &key_as_ca).expect_err("no certificate");
    assert!(
        error.to_string().contains("no certificate in it"),
        "{error}"
    );
    // A certificate where the key should be.
    let cert_as_key = TlsOptions {
        client_cert: Some((client.0.clone(), client.0.clone())),
        ..options.clone()
    };
    let error = endpoint(URL, &cert_as_key).expect_err("no key");
    assert!(
        matches!(
            error,
            ConnectError::BadFile {
                what: "the client key",
                ..
            }
        ),
        "{error:?}"
    );
}

#[test]
fn a_key_that_is_not_the_certificates_is_said_so() {
    let error = from_rustls(
        URL,
        &with_client_cert(),
        &rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch),
    );
    assert!(
        error
            .to_string()
            .contains("does not belong to the client certificate"),
        "{error}"
    );
}

#[test]
fn node_addresses_become_urls() {
    assert_eq!(node_url("127.0.0.1:50051"), "http://127.0.0.1:50051");
    assert_eq!(node_url("https://node.city:443"), "https://node.city:443");
}
