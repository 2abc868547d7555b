//! TLS on a real node's gRPC listener (`[tls]`), with throwaway CAs made here: a client
//! trusting the node's CA is answered, a plain-text client and one trusting another CA are
//! refused; a rewritten certificate is served to new connections within 5 s while a connection
//! already open keeps working; mutual TLS refuses clients without a certificate of the
//! collectors' CA; plain-text gRPC off loopback needs `--insecure-plaintext`; and the admin
//! calls, plain HTTP, are refused to a client on another address even with the token.

use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::time::Duration;

use consent_node::Node;
use consent_node::config::{ClientAuth, TlsSection};
use consent_node::node::StartError;
use consent_proto::pb;
use consent_proto::pb::node_client::NodeClient;
use consent_tests::eventually;
use consent_tests::harness::{TestNode, fixture_genesis};
use consent_tests::http::{request, status as http_status};
use consent_tests::tls::{Ca, Pair};
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Identity};

/// Writes `pair` as the node's certificate and key in `dir` (each through a rename, as a
/// renewal tool does) and names them in a `[tls]` section.
fn node_pair(dir: &Path, pair: &Pair) -> TlsSection {
    let (cert, key) = (dir.join("tls.crt"), dir.join("tls.key"));
    for (path, text) in [(&key, &pair.key), (&cert, &pair.cert)] {
        let fresh = path.with_extension("new");
        std::fs::write(&fresh, text).expect("write");
        std::fs::rename(&fresh, path).expect("rename");
    }
    TlsSection {
        cert: Some(cert),
        key: Some(key),
        ..TlsSection::default()
    }
}

/// Starts the stopped test node `t` on its data directory with `tls`.
async fn start_tls(t: &TestNode, tls: TlsSection) -> Node {
    let mut config = t.config();
    config.tls = tls;
    match Node::start(config).await {
        Ok(node) => node,
        Err(e) => panic!("the node does not start over TLS: {e}"),
    }
}

/// A test node's data directory, the node stopped (to be started with a config of the test's).
async fn stopped_node() -> TestNode {
    let mut t = TestNode::start(&fixture_genesis()).await;
    t.stop().await;
    t
}

/// A new connection to `addr` over TLS, trusting `ca` (PEM) for the name "localhost",
/// presenting `identity`: the channel, or why it failed.
async fn connect(addr: SocketAddr, ca: &str, identity: Option<&Pair>) -> Result<Channel, String> {
    let mut tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(ca))
        .domain_name("localhost");
    if let Some(pair) = identity {
        tls = tls.identity(Identity::from_pem(&pair.cert, &pair.key));
    }
    let endpoint = Channel::from_shared(format!("https://127.0.0.1:{}", addr.port()))
        .map_err(|e| e.to_string())?
        .tls_config(tls)
        .map_err(|e| e.to_string())?
        .connect_timeout(Duration::from_secs(5));
    endpoint.connect().await.map_err(|e| format!("{e:?}"))
}

/// `Node.Status` on `channel`.
async fn status(channel: Channel) -> Result<pb::StatusResponse, String> {
    let mut client = NodeClient::new(channel);
    let call = client.status(pb::StatusRequest {});
    match tokio::time::timeout(Duration::from_secs(10), call).await {
        Ok(Ok(response)) => Ok(response.into_inner()),
        Ok(Err(status)) => Err(status.to_string()),
        Err(_) => Err("no answer in 10 s".into()),
    }
}

/// `Node.Status` over a new TLS connection (see [`connect`]).
async fn status_over(addr: SocketAddr, ca: &str, identity: Option<&Pair>) -> Result<(), String> {
    status(connect(addr, ca, identity).await?).await.map(|_| ())
}

/// `Node.Status` over a new plain-text connection to `addr`.
async fn plain_status(addr: SocketAddr) -> Result<(), String> {
    let channel = Channel::from_shared(format!("http://127.0.0.1:{}", addr.port()))
        .map_err(|e| e.to_string())?
        .connect_timeout(Duration::from_secs(5))
        .connect()
        .await
        .map_err(|e| e.to_string())?;
    status(channel).await.map(|_| ())
}

async fn stop(node: Node) {
    node.shutdown();
    node.join().await.expect("the node stops cleanly");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tls_node_answers_clients_of_its_ca_and_refuses_plaintext_and_other_cas() {
    let t = stopped_node().await;
    let ca = Ca::new("city ca");
    let node = start_tls(&t, node_pair(&t.dir, &ca.issue(&["localhost"]))).await;
    let addr = node.grpc_addr();
    assert!(
        node.grpc_url().starts_with("https://"),
        "{}",
        node.grpc_url()
    );

    status_over(addr, &ca.pem(), None)
        .await
        .expect("a client trusting the node's CA is answered");
    let other = Ca::new("another ca");
    let refused = status_over(addr, &other.pem(), None).await;
    assert!(
        refused.is_err(),
        "a client trusting another CA refuses the node"
    );
    assert!(
        plain_status(addr).await.is_err(),
        "a plain-text client is refused"
    );
    // The node still answers after those.
    status_over(addr, &ca.pem(), None).await.expect("answered");
    stop(node).await;

    // Files that cannot be used stop the start, saying which.
    let mut wrong = node_pair(&t.dir, &ca.issue(&["localhost"]));
    wrong.key = Some(t.dir.join("missing.key"));
    let mut config = t.config();
    config.tls = wrong;
    let err = Node::start(config).await.err().expect("refused");
    assert!(matches!(err, StartError::Tls(_)), "{err}");
    assert!(err.to_string().contains("missing.key"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rewritten_certificate_is_served_to_new_connections_while_open_ones_keep_working() {
    let t = stopped_node().await;
    let (first, second) = (Ca::new("first ca"), Ca::new("second ca"));
    let node = start_tls(&t, node_pair(&t.dir, &first.issue(&["localhost"]))).await;
    let addr = node.grpc_addr();
    let open = connect(addr, &first.pem(), None)
        .await
        .expect("a client of the first CA connects");
    status(open.clone()).await.expect("answered");

    // Renewed by another CA, the files rewritten in place (no signal: the node sees the change).
    node_pair(&t.dir, &second.issue(&["localhost", "renewed.example"]));
    eventually(
        Duration::from_secs(5),
        "a client trusting only the new CA to connect",
        || async { status_over(addr, &second.pem(), None).await.ok() },
    )
    .await;
    assert!(
        status_over(addr, &first.pem(), None).await.is_err(),
        "new connections get the new certificate"
    );
    // The connection opened before keeps its certificate and works (a reconnect would have
    // failed: the first CA no longer vouches for what the node serves).
    status(open.clone())
        .await
        .expect("the connection opened before still works");
    stop(node).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutual_tls_refuses_clients_without_a_certificate_of_the_collectors_ca() {
    let t = stopped_node().await;
    let (ca, collectors) = (Ca::new("city ca"), Ca::new("collectors ca"));
    let collector = collectors.issue(&["collector.example"]);
    let collectors_file = t.dir.join("collectors-ca.pem");
    std::fs::write(&collectors_file, collectors.pem()).expect("write");
    let required = TlsSection {
        client_ca: Some(collectors_file.clone()),
        client_auth: ClientAuth::Required,
        ..node_pair(&t.dir, &ca.issue(&["localhost"]))
    };
    let node = start_tls(&t, required).await;
    let addr = node.grpc_addr();
    assert!(
        status_over(addr, &ca.pem(), None).await.is_err(),
        "no client certificate: refused"
    );
    let stranger = ca.issue(&["stranger.example"]);
    assert!(
        status_over(addr, &ca.pem(), Some(&stranger)).await.is_err(),
        "a certificate of another CA: refused"
    );
    status_over(addr, &ca.pem(), Some(&collector))
        .await
        .expect("a collector's certificate is accepted");
    stop(node).await;

    let optional = TlsSection {
        client_ca: Some(collectors_file),
        client_auth: ClientAuth::Optional,
        ..node_pair(&t.dir, &ca.issue(&["localhost"]))
    };
    let node = start_tls(&t, optional).await;
    let addr = node.grpc_addr();
    status_over(addr, &ca.pem(), None)
        .await
        .expect("optional: a client without a certificate is answered");
    status_over(addr, &ca.pem(), Some(&collector))
        .await
        .expect("and one with a collector's certificate");
    stop(node).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plaintext_grpc_off_loopback_needs_the_flag_and_tls_does_not() {
    let t = stopped_node().await;
    let mut config = t.config();
    config.grpc_listen = "0.0.0.0:0".parse().expect("addr");
    let err = Node::start(config.clone()).await.err().expect("refused");
    assert!(matches!(err, StartError::Plaintext { .. }), "{err}");
    assert!(err.to_string().contains("--insecure-plaintext"), "{err}");
    assert!(err.to_string().contains("[tls]"), "{err}");

    let insecure = consent_node::Config {
        insecure_plaintext: true,
        ..config.clone()
    };
    let node = Node::start(insecure).await.expect("starts when told to");
    plain_status(node.grpc_addr())
        .await
        .expect("answered in plain text");
    stop(node).await;

    let ca = Ca::new("city ca");
    config.tls = node_pair(&t.dir, &ca.issue(&["localhost"]));
    let node = Node::start(config).await.expect("TLS needs no flag");
    status_over(node.grpc_addr(), &ca.pem(), None)
        .await
        .expect("answered over TLS");
    stop(node).await;
}

/// An address of this host other than loopback (the one its default route leaves from), if it
/// has one.
fn this_hosts_address() -> Option<IpAddr> {
    let socket = std::net::UdpSocket::bind("0.0.0.0:0").ok()?;
    // TEST-NET-1: connecting a UDP socket only picks a route; nothing is sent.
    socket.connect("192.0.2.1:9").ok()?;
    let ip = socket.local_addr().ok()?.ip();
    (!ip.is_loopback() && !ip.is_unspecified()).then_some(ip)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_calls_over_plain_http_from_another_address_are_refused_even_with_the_token() {
    let Some(ip) = this_hosts_address() else {
        eprintln!("SKIPPED: this host has no address but loopback");
        return;
    };
    let t = stopped_node().await;
    let token = "0123456789abcdef".repeat(4);
    let token_file = t.dir.join("admin.token");
    std::fs::write(&token_file, format!("{token}\n")).expect("token");
    let mut config = t.config();
    config.admin.token_file = Some(token_file);
    config.metrics.listen = "0.0.0.0:0".parse().expect("addr");
    let node = Node::start(config).await.expect("starts");
    let bound = std::fs::read_to_string(t.dir.join("metrics.addr")).expect("metrics.addr");
    let port = bound
        .trim()
        .parse::<SocketAddr>()
        .expect("an address")
        .port();
    let bearer = format!("Authorization: Bearer {token}");
    let there = SocketAddr::new(ip, port).to_string();
    let (head, body) = request(&there, "GET", "/admin/peers", &[&bearer]);
    assert_eq!(http_status(&head), 403, "{head}");
    assert!(body.contains("plain HTTP"), "{body}");
    let (head, _) = request(&there, "GET", "/metrics", &[]);
    assert_eq!(
        http_status(&head),
        200,
        "metrics are not admin calls: {head}"
    );
    let here = format!("127.0.0.1:{port}");
    let (head, body) = request(&here, "GET", "/admin/peers", &[&bearer]);
    assert_eq!(http_status(&head), 200, "{head} {body}");
    stop(node).await;
}

// What the SDK says (`consent_client::transport`, through which the `consent` CLI connects too),
// in one line, when a node's certificate has expired or holds another name, and when a node
// that requires client certificates refuses one of another CA or gets none.

use std::path::PathBuf;

use consent_client::node::{ClientError, NodeConnection};
use consent_client::transport::{ConnectError, TlsOptions};

/// `Node.Status` asked through the SDK of the node at `url` with `tls`: answered, or the SDK's
/// error (a refusal that reaches only the first call, as a client certificate's does in TLS
/// 1.3, included).
async fn sdk_status(url: &str, tls: &TlsOptions) -> Result<(), ClientError> {
    let mut node = NodeConnection::connect_with(url, tls).await?;
    node.status().await.map(|_| ())
}

/// The SDK's error as the CLI prints it, which must be one line.
fn one_line(error: &ClientError) -> String {
    let text = error.to_string();
    assert!(!text.contains('\n'), "one line: {text}");
    text
}

/// `text` written to the file `name` in `dir`.
fn file(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write");
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sdk_refuses_a_node_whose_certificate_has_expired_and_says_so() {
    let t = stopped_node().await;
    // A certificate for this machine's names (127.0.0.1 among them) that ended yesterday; the
    // CA that signed it is valid.
    let (now, day) = (std::time::SystemTime::now(), Duration::from_secs(86_400));
    let certs =
        consent_node::devcerts::generate_valid(now - day * 30, now - day).expect("certificates");
    let expired = Pair {
        cert: certs.node_cert.clone(),
        key: certs.node_key.clone(),
    };
    let node = start_tls(&t, node_pair(&t.dir, &expired)).await;
    let url = node.grpc_url();
    let tls = TlsOptions {
        ca_cert: Some(file(&t.dir, "ca.pem", &certs.ca_cert)),
        ..TlsOptions::default()
    };

    let error = sdk_status(&url, &tls)
        .await
        .expect_err("an expired certificate is refused");
    let text = one_line(&error);
    assert!(
        matches!(error, ClientError::Connect(ConnectError::Expired { .. })),
        "{error:?}"
    );
    assert!(
        text.starts_with(&format!(
            "the node at {url} presented an expired certificate (it ended "
        )),
        "{text}"
    );
    assert!(text.ends_with(": its operator must renew it"), "{text}");
    stop(node).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sdk_refuses_a_certificate_for_another_name_and_says_which_names() {
    let t = stopped_node().await;
    let ca = Ca::new("city ca");
    let node = start_tls(&t, node_pair(&t.dir, &ca.issue(&["other.example"]))).await;
    let url = node.grpc_url();
    assert!(url.starts_with("https://127.0.0.1:"), "{url}");
    let tls = TlsOptions {
        ca_cert: Some(file(&t.dir, "ca.pem", &ca.pem())),
        ..TlsOptions::default()
    };

    let error = sdk_status(&url, &tls)
        .await
        .expect_err("a certificate for another name is refused");
    let text = one_line(&error);
    assert!(
        matches!(
            &error,
            ClientError::Connect(ConnectError::NameMismatch { expected, .. })
                if expected.as_str() == "127.0.0.1"
        ),
        "{error:?}"
    );
    assert!(
        text.contains("presented a certificate for ")
            && text.contains("other.example")
            && text.contains("not for 127.0.0.1"),
        "{text}"
    );
    // Told the name the certificate holds, the same client is answered: only the name was wrong.
    let by_name = TlsOptions {
        domain: Some("other.example".into()),
        ..tls
    };
    sdk_status(&url, &by_name)
        .await
        .expect("answered when checking the certificate against its own name");
    stop(node).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn required_client_certificates_refuse_one_of_another_ca_and_the_sdk_says_so() {
    let t = stopped_node().await;
    let (ca, collectors, other) = (
        Ca::new("city ca"),
        Ca::new("collectors ca"),
        Ca::new("another ca"),
    );
    let required = TlsSection {
        client_ca: Some(file(&t.dir, "collectors-ca.pem", &collectors.pem())),
        client_auth: ClientAuth::Required,
        ..node_pair(&t.dir, &ca.issue(&["127.0.0.1"]))
    };
    let node = start_tls(&t, required).await;
    let url = node.grpc_url();
    let trusting = TlsOptions {
        ca_cert: Some(file(&t.dir, "ca.pem", &ca.pem())),
        ..TlsOptions::default()
    };
    let presenting = |name: &str, pair: &Pair| TlsOptions {
        client_cert: Some((
            file(&t.dir, &format!("{name}.crt"), &pair.cert),
            file(&t.dir, &format!("{name}.key"), &pair.key),
        )),
        ..trusting.clone()
    };

    // A client certificate of a CA the node does not know, and one of the node's own CA (which
    // issues servers' certificates here, not collectors'): both refused, each saying why.
    for (name, issuer) in [("stranger", &other), ("city-client", &ca)] {
        let tls = presenting(name, &issuer.issue(&["collector.example"]));
        let error = sdk_status(&url, &tls)
            .await
            .expect_err("a client certificate of another CA is refused");
        let text = one_line(&error);
        assert!(
            matches!(
                error,
                ClientError::Connect(ConnectError::ClientCertRefused { .. })
            ),
            "{name}: {error:?}"
        );
        assert_eq!(
            text,
            format!(
                "the node at {url} refused the client certificate: it is not signed by a CA \
                 the node trusts for clients"
            )
        );
    }
    // Without one: the node requires it, and the SDK names the flags.
    let error = sdk_status(&url, &trusting)
        .await
        .expect_err("no client certificate is refused");
    let text = one_line(&error);
    assert!(
        matches!(
            error,
            ClientError::Connect(ConnectError::ClientCertRequired { .. })
        ),
        "{error:?}"
    );
    assert!(text.contains("--client-cert"), "{text}");
    // A collector's certificate is answered, through the same SDK path.
    let collector = presenting("collector", &collectors.issue(&["collector.example"]));
    sdk_status(&url, &collector)
        .await
        .expect("a certificate of the collectors' CA is answered");
    stop(node).await;
}
