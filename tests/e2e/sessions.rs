//! Collector sessions on a real node: every way to be refused, and a collector that checks only
//! for itself.

use consent_client::collector::{Bearer, authenticate};
use consent_proto::fixtures::{self, T0};
use consent_proto::ids::FeedId;
use consent_proto::keys::SecretKey;
use consent_proto::pb;
use consent_proto::pb::consent_client::ConsentClient;
use consent_proto::vocab::{DataCategory as C, Purpose as P, Role};
use consent_tests::harness::{TestNode, fixture_genesis, submit_ok};
use prost::bytes::Bytes;
use tonic::Code;
use tonic::transport::Channel;

fn question(subject: FeedId, collector: FeedId) -> pb::CheckRequest {
    pb::CheckRequest {
        subject: Bytes::copy_from_slice(&subject.0),
        collector: Bytes::copy_from_slice(&collector.0),
        purpose: P::ServiceProvision as i32,
        category: C::Location as i32,
        at_ms: 0,
        ..Default::default()
    }
}

async fn channel(node: &TestNode) -> Channel {
    Channel::from_shared(node.url())
        .expect("url")
        .connect()
        .await
        .expect("connect")
}

/// A check with `authorization: <value>`: the status code it gets.
async fn check_with(node: &TestNode, value: &str, request: pb::CheckRequest) -> Code {
    let mut client = ConsentClient::new(channel(node).await);
    let mut call = tonic::Request::new(request);
    call.metadata_mut()
        .insert("authorization", value.parse().expect("ascii"));
    match client.check(call).await {
        Ok(_) => Code::Ok,
        Err(s) => s.code(),
    }
}

async fn authenticate_raw(
    node: &TestNode,
    collector: FeedId,
    node_key: [u8; 32],
    time_ms: u64,
    signature: Vec<u8>,
) -> Result<pb::AuthenticateResponse, tonic::Status> {
    ConsentClient::new(channel(node).await)
        .authenticate(pb::AuthenticateRequest {
            collector: Bytes::copy_from_slice(&collector.0),
            node_key: Bytes::copy_from_slice(&node_key),
            time_ms,
            signature: Bytes::from(signature),
        })
        .await
        .map(|r| r.into_inner())
}

/// `node`'s key.
async fn other_node_key(node: &TestNode) -> [u8; 32] {
    node.status()
        .await
        .node_key
        .as_ref()
        .try_into()
        .expect("32 bytes")
}

/// What is wrong, collector, node key, time, signature, the code the node answers.
type BadStatement = (&'static str, FeedId, [u8; 32], u64, Vec<u8>, Code);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_refuse_every_bad_caller_and_collectors_check_only_for_themselves() {
    let genesis = fixture_genesis();
    let node = TestNode::start(&genesis).await;
    let other_node = TestNode::start(&genesis).await;
    let scene = fixtures::scene(T0);
    let (rival, rival0) = fixtures::author(Role::Collector, "rival", T0);
    let (alice, alice0) = fixtures::author(Role::Citizen, "alice", T0);
    for n in [&node, &other_node] {
        let mut ledger = n.ledger().await;
        for e in scene.entries.iter().chain([&rival0, &alice0]) {
            submit_ok(&mut ledger, e).await;
        }
    }
    let me = scene.collector.feed();
    let key = scene.collector.key();
    let ask = question(alice.feed(), me);

    // No session, or a malformed one.
    let mut anonymous = node.consent_without_session().await;
    let err = anonymous.check(ask.clone()).await.expect_err("no session");
    assert_eq!(err.code(), Code::Unauthenticated);
    assert!(err.message().contains("Authenticate"), "{}", err.message());
    for value in [
        "Basic abc",
        "Bearer",
        "Bearer 1234",
        &format!("Bearer {}", "zz".repeat(64)),
    ] {
        assert_eq!(
            check_with(&node, value, ask.clone()).await,
            Code::Unauthenticated,
            "{value}"
        );
    }

    // A good session works; a tampered token, or one from another node, does not.
    let (token, expires_ms) = authenticate(channel(&node).await, key, me)
        .await
        .expect("session");
    assert!(expires_ms > consent_client::time::now_ms());
    assert_eq!(
        check_with(&node, &format!("Bearer {token}"), ask.clone()).await,
        Code::Ok
    );
    let mut tampered = token.clone().into_bytes();
    tampered[10] = if tampered[10] == b'0' { b'1' } else { b'0' };
    let tampered = String::from_utf8(tampered).expect("ascii");
    assert_eq!(
        check_with(&node, &format!("Bearer {tampered}"), ask.clone()).await,
        Code::Unauthenticated
    );
    assert_eq!(
        check_with(&other_node, &format!("Bearer {token}"), ask.clone()).await,
        Code::Unauthenticated,
        "tokens are per node"
    );

    // Bad statements.
    let node_key = node
        .status()
        .await
        .node_key
        .as_ref()
        .try_into()
        .expect("32 bytes");
    let now = consent_client::time::now_ms();
    let node_pk = consent_proto::keys::PublicKey::from_bytes(&node_key).expect("key");
    let good = consent_proto::auth::sign(key, &node_pk, &me, now).to_vec();
    assert!(
        authenticate_raw(&node, me, node_key, now, good.clone())
            .await
            .is_ok()
    );
    let replayed = authenticate_raw(&node, me, node_key, now, good.clone())
        .await
        .expect_err("a statement opens one session");
    assert_eq!(replayed.code(), Code::Unauthenticated);
    assert_eq!(
        replayed
            .metadata()
            .get("consent-reason")
            .and_then(|v| v.to_str().ok()),
        Some("statement-replayed"),
        "{replayed:?}"
    );
    assert!(
        authenticate_raw(&other_node, me, other_node_key(&other_node).await, now, {
            let other_pk =
                consent_proto::keys::PublicKey::from_bytes(&other_node_key(&other_node).await)
                    .expect("key");
            consent_proto::auth::sign(key, &other_pk, &me, now).to_vec()
        })
        .await
        .is_ok(),
        "statements are per node: one for another node is its own"
    );
    let other_key = other_node
        .status()
        .await
        .node_key
        .as_ref()
        .try_into()
        .expect("32 bytes");
    let cases: Vec<BadStatement> = vec![
        (
            "another node's key",
            me,
            other_key,
            now,
            good.clone(),
            Code::Unauthenticated,
        ),
        (
            "a different time",
            me,
            node_key,
            now + 1,
            good.clone(),
            Code::Unauthenticated,
        ),
        (
            "a stale statement",
            me,
            node_key,
            now - 10 * 60_000,
            consent_proto::auth::sign(key, &node_pk, &me, now - 10 * 60_000).to_vec(),
            Code::Unauthenticated,
        ),
        (
            "someone else's key",
            me,
            node_key,
            now,
            consent_proto::auth::sign(&SecretKey::from_seed(&[7; 32]), &node_pk, &me, now).to_vec(),
            Code::Unauthenticated,
        ),
        (
            "a short signature",
            me,
            node_key,
            now,
            good[..63].to_vec(),
            Code::InvalidArgument,
        ),
        (
            "an unknown collector",
            FeedId([5; 32]),
            node_key,
            now,
            consent_proto::auth::sign(key, &node_pk, &FeedId([5; 32]), now).to_vec(),
            Code::Unauthenticated,
        ),
        (
            "a citizen",
            alice.feed(),
            node_key,
            now,
            consent_proto::auth::sign(alice.key(), &node_pk, &alice.feed(), now).to_vec(),
            Code::PermissionDenied,
        ),
    ];
    for (what, collector, nk, t, sig, code) in cases {
        let err = authenticate_raw(&node, collector, nk, t, sig)
            .await
            .expect_err(what);
        assert_eq!(err.code(), code, "{what}: {}", err.message());
    }

    // A collector checks only for itself, alone or in a batch.
    let mut session =
        ConsentClient::with_interceptor(channel(&node).await, Bearer::new(&token).expect("token"));
    let err = session
        .check(question(alice.feed(), rival.feed()))
        .await
        .expect_err("another collector");
    assert_eq!(err.code(), Code::PermissionDenied);
    let err = session
        .check_batch(pb::CheckBatchRequest {
            checks: vec![ask.clone(), question(alice.feed(), rival.feed())],
        })
        .await
        .expect_err("another collector in a batch");
    assert_eq!(err.code(), Code::PermissionDenied);
    assert_eq!(
        session
            .check_batch(pb::CheckBatchRequest {
                checks: vec![ask.clone(), ask.clone()],
            })
            .await
            .expect("own batch")
            .into_inner()
            .decisions
            .len(),
        2
    );

    // Rotating the collector's key ends its sessions.
    let mut collector = scene.collector;
    let rotation = collector
        .rotate(T0 + 1, SecretKey::from_seed(&[42; 32]))
        .expect("rotation");
    submit_ok(&mut node.ledger().await, &rotation).await;
    assert_eq!(
        check_with(&node, &format!("Bearer {token}"), ask.clone()).await,
        Code::Unauthenticated,
        "old session after a key rotation"
    );
    let (fresh, _) = authenticate(channel(&node).await, collector.key(), me)
        .await
        .expect("session with the new key");
    assert_eq!(
        check_with(&node, &format!("Bearer {fresh}"), ask).await,
        Code::Ok
    );
}

/// A node whose first session ends early (as after its clock jumped, the collector's
/// certificate was renewed, or its upgrade): the first check is refused with
/// `session-expired`, anything after answered; it counts the sessions it opened.
#[derive(Default, Clone)]
struct EndsFirstSession {
    sessions: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

#[tonic::async_trait]
impl pb::node_server::Node for EndsFirstSession {
    async fn status(
        &self,
        _: tonic::Request<pb::StatusRequest>,
    ) -> Result<tonic::Response<pb::StatusResponse>, tonic::Status> {
        Err(tonic::Status::unimplemented("status"))
    }

    async fn node_key(
        &self,
        _: tonic::Request<pb::NodeKeyRequest>,
    ) -> Result<tonic::Response<pb::NodeKeyResponse>, tonic::Status> {
        Ok(tonic::Response::new(pb::NodeKeyResponse {
            node_key: Bytes::copy_from_slice(&SecretKey::from_seed(&[9; 32]).public().to_bytes()),
            ..Default::default()
        }))
    }

    async fn answer_times(
        &self,
        _: tonic::Request<pb::AnswerTimesRequest>,
    ) -> Result<tonic::Response<pb::AnswerTimesResponse>, tonic::Status> {
        Err(tonic::Status::unimplemented("answer times"))
    }
}

#[tonic::async_trait]
impl pb::consent_server::Consent for EndsFirstSession {
    async fn authenticate(
        &self,
        _: tonic::Request<pb::AuthenticateRequest>,
    ) -> Result<tonic::Response<pb::AuthenticateResponse>, tonic::Status> {
        let n = self
            .sessions
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Ok(tonic::Response::new(pb::AuthenticateResponse {
            token: format!("{n:0160}"),
            expires_ms: consent_client::time::now_ms() + 15 * 60_000,
        }))
    }

    async fn check(
        &self,
        request: tonic::Request<pb::CheckRequest>,
    ) -> Result<tonic::Response<pb::CheckResponse>, tonic::Status> {
        let first = format!("Bearer {:0160}", 0);
        if request
            .metadata()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            == Some(&first)
        {
            let mut status = tonic::Status::unauthenticated("session expired: authenticate again");
            status
                .metadata_mut()
                .insert("consent-reason", "session-expired".parse().expect("ascii"));
            return Err(status);
        }
        Ok(tonic::Response::new(pb::CheckResponse::default()))
    }

    async fn check_batch(
        &self,
        _: tonic::Request<pb::CheckBatchRequest>,
    ) -> Result<tonic::Response<pb::CheckBatchResponse>, tonic::Status> {
        Err(tonic::Status::unimplemented("check batch"))
    }

    type WatchStream = futures::stream::Empty<Result<pb::WatchEvent, tonic::Status>>;

    async fn watch(
        &self,
        _: tonic::Request<pb::WatchRequest>,
    ) -> Result<tonic::Response<Self::WatchStream>, tonic::Status> {
        Err(tonic::Status::unimplemented("watch"))
    }
}

/// The SDK's collector authenticates again, once, when a check is refused UNAUTHENTICATED
/// before its session's time is up by its own clock, and the check is answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sdk_opens_a_new_session_when_the_node_ends_one_early() {
    let node = EndsFirstSession::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let serving = tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(pb::node_server::NodeServer::new(node.clone()))
            .add_service(pb::consent_server::ConsentServer::new(node.clone()))
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
    );
    let me = fixtures::scene(T0).collector;
    let mut collector = consent_client::collector::Collector::connect(
        &format!("http://{addr}"),
        me.key().clone(),
        me.feed(),
    )
    .await
    .expect("first session");
    collector
        .check(FeedId([1; 32]), P::ServiceProvision, C::Location)
        .await
        .expect("answered after one new session");
    assert_eq!(node.sessions.load(std::sync::atomic::Ordering::SeqCst), 2);
    serving.abort();
}
