//! What a caller without a session may make a real node spend: connections, `Authenticate` calls
//! and `GetLog`/`GetFeed` streams are bounded per client address, and a second address
//! (127.0.0.2: every 127.0.0.x is this host) is not held up by the first; a connection is told
//! how many HTTP/2 streams it may open.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use consent_node::api::{
    AUTH_BURST, REASON_KEY, STREAMS_PER_SOURCE, TOO_MANY_AUTHENTICATIONS, TOO_MANY_READ_STREAMS,
};
use consent_node::config::GrpcSection;
use consent_proto::fixtures::{self, T0};
use consent_proto::pb;
use consent_proto::pb::consent_client::ConsentClient;
use consent_proto::pb::ledger_client::LedgerClient;
use consent_proto::pb::node_client::NodeClient;
use consent_proto::vocab::Role;
use consent_tests::eventually;
use consent_tests::harness::{TestNode, fixture_genesis, submit_ok};
use consent_tests::net::WAIT;
use prost::bytes::Bytes;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tonic::Code;
use tonic::transport::{Channel, Endpoint};

/// The HTTP/2 client connection preface.
const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

fn endpoint_from(node: &TestNode, from: [u8; 4]) -> Endpoint {
    Endpoint::from_shared(node.url())
        .expect("url")
        .local_address(Some(IpAddr::from(from)))
}

/// A channel to `node` from the loopback address `from`.
async fn channel_from(node: &TestNode, from: [u8; 4]) -> Channel {
    endpoint_from(node, from).connect().await.expect("connect")
}

fn grpc_addr(node: &TestNode) -> SocketAddr {
    node.url()
        .trim_start_matches("http://")
        .parse()
        .expect("a socket address")
}

/// A TCP connection to `node`'s gRPC port from the loopback address `from`.
async fn tcp_from(node: &TestNode, from: [u8; 4]) -> TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket.bind(SocketAddr::from((from, 0))).expect("bind");
    socket.connect(grpc_addr(node)).await.expect("connect")
}

fn reason(status: &tonic::Status) -> Option<&str> {
    status
        .metadata()
        .get(REASON_KEY)
        .and_then(|v| v.to_str().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authenticate_is_rate_limited_per_client_address() {
    let node = TestNode::start(&fixture_genesis()).await;
    let scene = fixtures::scene(T0);
    let mut ledger = node.ledger().await;
    for e in &scene.entries {
        submit_ok(&mut ledger, e).await;
    }
    // Statements signed for another node's key: each is refused at once, and each counts.
    let mut flood = ConsentClient::new(channel_from(&node, [127, 0, 0, 1]).await);
    let bad = pb::AuthenticateRequest {
        collector: Bytes::copy_from_slice(&scene.collector.feed().0),
        node_key: Bytes::from_static(&[9; 32]),
        time_ms: consent_client::time::now_ms(),
        signature: Bytes::from_static(&[0; 64]),
    };
    let mut answered = 0u32;
    let refused = loop {
        match flood.authenticate(bad.clone()).await {
            Err(s) if s.code() == Code::ResourceExhausted => break s,
            Err(s) => {
                assert_eq!(s.code(), Code::Unauthenticated, "{s:?}");
                answered += 1;
            }
            Ok(_) => panic!("a statement for another node's key was accepted"),
        }
        assert!(
            answered <= 10 * AUTH_BURST,
            "never refused after {answered} calls"
        );
    };
    assert!(answered >= AUTH_BURST, "refused after {answered} calls");
    assert_eq!(reason(&refused), Some(TOO_MANY_AUTHENTICATIONS));
    assert!(refused.message().starts_with(TOO_MANY_AUTHENTICATIONS));
    // Another address is not held up: the collector authenticates from there and checks.
    let (token, _) = consent_client::collector::authenticate(
        channel_from(&node, [127, 0, 0, 2]).await,
        scene.collector.key(),
        scene.collector.feed(),
    )
    .await
    .expect("a session from another address");
    assert_eq!(token.len(), 160);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_streams_are_limited_per_client_address() {
    const CITIZENS: usize = 300;
    let node = TestNode::start(&fixture_genesis()).await;
    // A log long enough that a stream whose client reads nothing cannot finish.
    let entries = (0..CITIZENS)
        .map(|i| {
            fixtures::author(Role::Citizen, &format!("c{i}"), T0)
                .1
                .to_signed()
        })
        .collect();
    let results = node
        .ledger()
        .await
        .submit_batch(pb::SubmitBatchRequest { entries })
        .await
        .expect("batch")
        .into_inner()
        .results;
    assert!(results.iter().all(|r| {
        r.response
            .as_ref()
            .is_some_and(|r| r.status == pb::SubmitStatus::Accepted as i32)
    }));
    // A client that reads nothing: a 1 KiB receive window per stream, never read.
    let slow = endpoint_from(&node, [127, 0, 0, 1])
        .initial_stream_window_size(Some(1024))
        .connect()
        .await
        .expect("connect");
    let mut slow = LedgerClient::new(slow);
    let mut held = Vec::new();
    for _ in 0..STREAMS_PER_SOURCE {
        let stream = slow
            .get_log(pb::GetLogRequest::default())
            .await
            .expect("a stream");
        held.push(stream.into_inner());
    }
    let refused = slow
        .get_log(pb::GetLogRequest::default())
        .await
        .expect_err("one stream too many from one address");
    assert_eq!(refused.code(), Code::ResourceExhausted);
    assert_eq!(reason(&refused), Some(TOO_MANY_READ_STREAMS));
    let first_feed = fixtures::author(Role::Citizen, "c0", T0).0.feed();
    let feed = pb::GetFeedRequest {
        feed: Bytes::copy_from_slice(&first_feed.0),
        ..Default::default()
    };
    let refused = slow
        .get_feed(feed.clone())
        .await
        .expect_err("GetFeed shares the count");
    assert_eq!(reason(&refused), Some(TOO_MANY_READ_STREAMS));

    // Another address is not held up: it reads the whole log, and a feed.
    let mut other = LedgerClient::new(channel_from(&node, [127, 0, 0, 2]).await);
    let mut log = other
        .get_log(pb::GetLogRequest::default())
        .await
        .expect("a stream")
        .into_inner();
    let mut read = 0;
    while log.message().await.expect("an entry").is_some() {
        read += 1;
    }
    assert_eq!(read, CITIZENS);
    let mut entries = other.get_feed(feed).await.expect("a feed").into_inner();
    assert!(entries.message().await.expect("an entry").is_some());

    // A stream its client closes frees its place.
    drop(held.pop());
    let _again = eventually(WAIT, "a place for the address again", || {
        let mut slow = slow.clone();
        async move { slow.get_log(pb::GetLogRequest::default()).await.ok() }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_are_limited_per_client_address() {
    let node = TestNode::start(&fixture_genesis()).await;
    let per_address = GrpcSection::default().max_connections_per_address;
    let mut open = Vec::new();
    for _ in 0..per_address {
        let mut tcp = tcp_from(&node, [127, 0, 0, 1]).await;
        tcp.write_all(PREFACE).await.expect("preface");
        open.push(tcp);
    }
    // One more from that address is closed at once: it reads the end of the stream.
    let mut one_more = tcp_from(&node, [127, 0, 0, 1]).await;
    let mut byte = [0u8; 1];
    let read = tokio::time::timeout(WAIT, one_more.read(&mut byte))
        .await
        .expect("closed in time");
    assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");
    // Another address is served.
    let status = NodeClient::new(channel_from(&node, [127, 0, 0, 2]).await)
        .status(pb::StatusRequest {})
        .await;
    assert!(status.is_ok(), "{status:?}");
    // A closed connection frees its place.
    drop(open.pop());
    eventually(
        WAIT,
        "a connection from the first address again",
        || async {
            let channel = endpoint_from(&node, [127, 0, 0, 1])
                .connect_timeout(Duration::from_secs(2))
                .connect()
                .await
                .ok()?;
            NodeClient::new(channel)
                .status(pb::StatusRequest {})
                .await
                .ok()
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_is_told_how_many_streams_it_may_open() {
    let node = TestNode::start(&fixture_genesis()).await;
    let mut tcp = tcp_from(&node, [127, 0, 0, 1]).await;
    tcp.write_all(PREFACE).await.expect("preface");
    // An empty SETTINGS frame: length 0, type 4, no flags, stream 0.
    tcp.write_all(&[0, 0, 0, 4, 0, 0, 0, 0, 0])
        .await
        .expect("settings");
    // The server's first frame is its SETTINGS: 6-byte (id, value) pairs.
    let mut header = [0u8; 9];
    tokio::time::timeout(WAIT, tcp.read_exact(&mut header))
        .await
        .expect("in time")
        .expect("a frame");
    assert_eq!(header[3], 4, "a SETTINGS frame first");
    let len = u32::from_be_bytes([0, header[0], header[1], header[2]]) as usize;
    let mut payload = vec![0u8; len];
    tcp.read_exact(&mut payload).await.expect("its settings");
    let max_streams = payload
        .chunks_exact(6)
        .find(|s| u16::from_be_bytes([s[0], s[1]]) == 3)
        .map(|s| u32::from_be_bytes([s[2], s[3], s[4], s[5]]));
    let expected = consent_node::api::streams_per_connection(
        GrpcSection::default().concurrency_per_connection,
    );
    assert_eq!(
        max_streams,
        Some(expected),
        "SETTINGS_MAX_CONCURRENT_STREAMS"
    );
}
