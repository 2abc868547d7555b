//! Collector sessions over mutual TLS on a real node: a session token is bound to the client
//! certificate it was issued over (replayed over another certificate, or none, it is refused
//! with `certificate-mismatch`); a certificate naming a collector opens sessions for that
//! collector only; and `[tls] collectors` admits only the listed collectors' certificates at
//! the handshake, the SDK saying so in one line.

use std::path::{Path, PathBuf};
use std::time::Duration;

use consent_client::collector::{Bearer, authenticate};
use consent_client::transport::{self, TlsOptions};
use consent_node::Node;
use consent_node::config::{ClientAuth, TlsSection};
use consent_node::devcerts::{DevCerts, generate_for};
use consent_proto::entry::Author;
use consent_proto::fixtures::{self, T0};
use consent_proto::ids::FeedId;
use consent_proto::pb;
use consent_proto::pb::consent_client::ConsentClient;
use consent_proto::vocab::{DataCategory as C, Purpose as P, Role};
use consent_tests::harness::{TestNode, fixture_genesis, submit_ok};
use prost::bytes::Bytes;
use tonic::Code;
use tonic::transport::Channel;

/// One development set's files in `dir`: the CA, the node's pair, the collector's pair.
struct Files {
    ca: PathBuf,
    node: (PathBuf, PathBuf),
    collector: (PathBuf, PathBuf),
}

fn write(dir: &Path, name: &str, certs: &DevCerts) -> Files {
    let path = |file: &str| dir.join(format!("{name}-{file}"));
    let files = Files {
        ca: path("ca.pem"),
        node: (path("node.pem"), path("node.key")),
        collector: (path("collector.pem"), path("collector.key")),
    };
    for (file, text) in [
        (&files.ca, &certs.ca_cert),
        (&files.node.0, &certs.node_cert),
        (&files.node.1, &certs.node_key),
        (&files.collector.0, &certs.collector_cert),
        (&files.collector.1, &certs.collector_key),
    ] {
        std::fs::write(file, text).expect("write");
    }
    files
}

/// A node with the scene's collector, a rival collector and a citizen, stopped; and the three.
async fn scene_node() -> (TestNode, Author, Author, FeedId) {
    let mut t = TestNode::start(&fixture_genesis()).await;
    let scene = fixtures::scene(T0);
    let (rival, rival0) = fixtures::author(Role::Collector, "rival", T0);
    let (alice, alice0) = fixtures::author(Role::Citizen, "alice", T0);
    let mut ledger = t.ledger().await;
    for e in scene.entries.iter().chain([&rival0, &alice0]) {
        submit_ok(&mut ledger, e).await;
    }
    t.stop().await;
    (t, scene.collector, rival, alice.feed())
}

/// Starts `t` serving TLS with `node`'s pair, accepting client certificates of the CAs in
/// `client_cas`, `required` or not, from the listed `collectors` only if any.
async fn start(
    t: &TestNode,
    node: &Files,
    client_cas: &[&Files],
    required: bool,
    collectors: Vec<String>,
) -> Node {
    let bundle = t.dir.join("client-cas.pem");
    let cas: Vec<String> = client_cas
        .iter()
        .map(|f| std::fs::read_to_string(&f.ca).expect("CA"))
        .collect();
    std::fs::write(&bundle, cas.concat()).expect("write");
    let mut config = t.config();
    config.tls = TlsSection {
        cert: Some(node.node.0.clone()),
        key: Some(node.node.1.clone()),
        client_ca: Some(bundle),
        client_auth: if required {
            ClientAuth::Required
        } else {
            ClientAuth::Optional
        },
        collectors,
    };
    match Node::start(config).await {
        Ok(node) => node,
        Err(e) => panic!("the node does not start over TLS: {e}"),
    }
}

fn url(node: &Node) -> String {
    format!("https://127.0.0.1:{}", node.grpc_addr().port())
}

/// The SDK's TLS options: trust `ca`, present `identity`.
fn options(ca: &Files, identity: Option<&Files>) -> TlsOptions {
    TlsOptions {
        ca_cert: Some(ca.ca.clone()),
        client_cert: identity.map(|f| f.collector.clone()),
        ..TlsOptions::default()
    }
}

async fn channel(node: &Node, ca: &Files, identity: Option<&Files>) -> Channel {
    transport::channel(&url(node), &options(ca, identity))
        .await
        .expect("connects")
}

fn question(subject: FeedId, collector: FeedId) -> pb::CheckRequest {
    pb::CheckRequest {
        subject: Bytes::copy_from_slice(&subject.0),
        collector: Bytes::copy_from_slice(&collector.0),
        purpose: P::ServiceProvision as i32,
        category: C::Location as i32,
        ..Default::default()
    }
}

/// A check over `channel` with `token`: Ok, or the status code and `consent-reason`.
async fn check(
    channel: Channel,
    token: &str,
    ask: &pb::CheckRequest,
) -> Result<(), (Code, String)> {
    let bearer = Bearer::new(token).expect("token");
    let mut client = ConsentClient::with_interceptor(channel, bearer);
    match tokio::time::timeout(Duration::from_secs(10), client.check(ask.clone())).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(status)) => {
            let reason = status
                .metadata()
                .get("consent-reason")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string();
            Err((status.code(), reason))
        }
        Err(_) => Err((Code::DeadlineExceeded, "no answer in 10 s".into())),
    }
}

async fn stop(node: Node) {
    node.shutdown();
    node.join().await.expect("the node stops cleanly");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_works_only_over_the_client_certificate_it_was_issued_over() {
    let (t, me, _rival, alice) = scene_node().await;
    let a = write(&t.dir, "a", &generate_for(None).expect("certs"));
    let b = write(&t.dir, "b", &generate_for(None).expect("certs"));
    let node = start(&t, &a, &[&a, &b], false, Vec::new()).await;
    let ask = question(alice, me.feed());
    let mismatch = Err((Code::Unauthenticated, "certificate-mismatch".to_string()));

    let over_a = channel(&node, &a, Some(&a)).await;
    let (token, _) = authenticate(over_a.clone(), me.key(), me.feed())
        .await
        .expect("session over a's certificate");
    assert_eq!(check(over_a, &token, &ask).await, Ok(()));
    let again_a = channel(&node, &a, Some(&a)).await;
    assert_eq!(
        check(again_a, &token, &ask).await,
        Ok(()),
        "a new connection with the same certificate keeps the session"
    );
    assert_eq!(
        check(channel(&node, &a, Some(&b)).await, &token, &ask).await,
        mismatch,
        "another collector certificate (of a CA the node trusts) cannot use the token"
    );
    assert_eq!(
        check(channel(&node, &a, None).await, &token, &ask).await,
        mismatch,
        "nor can a connection without a certificate"
    );

    let bare = channel(&node, &a, None).await;
    let (bare_token, _) = authenticate(bare.clone(), me.key(), me.feed())
        .await
        .expect("session without a certificate (optional)");
    assert_eq!(check(bare, &bare_token, &ask).await, Ok(()));
    assert_eq!(
        check(channel(&node, &a, Some(&a)).await, &bare_token, &ask).await,
        mismatch,
        "a token issued without a certificate is not taken over one"
    );
    stop(node).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_naming_a_collector_opens_sessions_for_that_collector_only() {
    let (t, me, rival, alice) = scene_node().await;
    let named = write(
        &t.dir,
        "rival",
        &generate_for(Some(rival.feed())).expect("certs"),
    );
    let node = start(&t, &named, &[&named], true, Vec::new()).await;
    let over = channel(&node, &named, Some(&named)).await;
    match authenticate(over.clone(), me.key(), me.feed()).await {
        Err(e) => {
            let text = e.to_string();
            assert!(text.contains("certificate-collector"), "{text}");
            assert!(
                text.contains(&rival.feed().typed(Role::Collector).to_string()),
                "names the certificate's collector: {text}"
            );
        }
        Ok(_) => panic!("another collector's certificate opened a session for me"),
    }
    let (token, _) = authenticate(over.clone(), rival.key(), rival.feed())
        .await
        .expect("the certificate's own collector");
    assert_eq!(
        check(over, &token, &question(alice, rival.feed())).await,
        Ok(())
    );
    stop(node).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listed_collectors_only_complete_the_handshake() {
    let (t, me, rival, alice) = scene_node().await;
    let mine = write(&t.dir, "me", &generate_for(Some(me.feed())).expect("certs"));
    let theirs = write(
        &t.dir,
        "rival",
        &generate_for(Some(rival.feed())).expect("certs"),
    );
    let unnamed = write(&t.dir, "unnamed", &generate_for(None).expect("certs"));
    let listed = vec![me.feed().typed(Role::Collector).to_string()];
    let node = start(&t, &mine, &[&mine, &theirs, &unnamed], true, listed).await;

    let over = channel(&node, &mine, Some(&mine)).await;
    let (token, _) = authenticate(over.clone(), me.key(), me.feed())
        .await
        .expect("the listed collector");
    assert_eq!(
        check(over, &token, &question(alice, me.feed())).await,
        Ok(())
    );
    for (who, identity) in [
        ("an unlisted collector", &theirs),
        ("no collector", &unnamed),
    ] {
        let tls = options(&mine, Some(identity));
        let refused = match transport::channel(&url(&node), &tls).await {
            Err(e) => e.to_string(),
            Ok(channel) => {
                let status = pb::node_client::NodeClient::new(channel)
                    .status(pb::StatusRequest {})
                    .await
                    .expect_err("refused after the handshake");
                transport::call_failure(&url(&node), &tls, &status)
                    .await
                    .map(|e| e.to_string())
                    .unwrap_or_else(|| panic!("{who}: not read as a TLS failure: {status}"))
            }
        };
        assert!(
            refused.contains("refused the client certificate")
                && refused.contains("does not admit"),
            "{who}: {refused}"
        );
        assert!(!refused.contains('\n'), "one line: {refused}");
    }
    stop(node).await;
}
