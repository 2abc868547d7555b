//! Starting real nodes for tests.

use std::path::{Path, PathBuf};

use consent_client::collector::{Bearer, SessionClient};
use consent_node::Node;
use consent_node::clock::Clock;
use consent_node::config::Config;
use consent_node::genesis::Genesis;
use consent_proto::Entry;
use consent_proto::pb;
use consent_proto::pb::consent_client::ConsentClient;
use consent_proto::pb::ledger_client::LedgerClient;
use consent_proto::pb::node_client::NodeClient;
use tonic::transport::Channel;

/// A node under test and its data directory.
pub struct TestNode {
    /// The running node (None while stopped).
    pub node: Option<Node>,
    /// Storage engine (`None`: the node's default).
    pub engine: Option<consent_node::config::Engine>,
    /// Peers to dial at start.
    pub bootstrap: Vec<String>,
    /// Its data directory (kept across restarts).
    pub dir: PathBuf,
    /// The node's clock (kept across restarts): the system clock, or a manual one the test
    /// moves ([`TestNode::start_with_clock`]).
    pub clock: Clock,
    /// `[ledger] max_pending` at the next (re)start (`None`: the default).
    pub max_pending: Option<u64>,
    genesis_path: PathBuf,
    _temp: Option<tempfile::TempDir>,
}

/// Writes `genesis` into `dir` and returns its path.
pub fn write_genesis(dir: &Path, genesis: &Genesis) -> PathBuf {
    let path = dir.join("genesis.toml");
    let text = match genesis.to_toml() {
        Ok(t) => t,
        Err(e) => panic!("genesis does not serialise: {e}"),
    };
    if let Err(e) = std::fs::write(&path, text) {
        panic!("cannot write genesis: {e}");
    }
    path
}

/// A citizen `label` incepted at `incepted_ms`, and its grant (signed at `granted_ms`) to the
/// scene's collector for `purpose` over location data, valid from `T0` until revoked.
pub use consent_proto::fixtures::citizen_granting_at as citizen_granting;

/// The fixture scene's collector, as every test's collector.
pub fn scene_collector() -> consent_proto::entry::Author {
    consent_proto::fixtures::scene(consent_proto::fixtures::T0).collector
}

/// A genesis naming the fixture registrar.
pub fn fixture_genesis() -> Genesis {
    let (registrar, _) = consent_proto::fixtures::author(
        consent_proto::vocab::Role::Registrar,
        "registrar",
        consent_proto::fixtures::T0,
    );
    Genesis {
        network_id: "test".into(),
        registrars: vec![
            registrar
                .feed()
                .typed(consent_proto::vocab::Role::Registrar)
                .to_string(),
        ],
        bootstrap: vec![],
        nodes: vec![],
        members_only: false,
        names: Default::default(),
        consultation: None,
    }
}

impl TestNode {
    /// Starts a node on 127.0.0.1:0 in a fresh temporary directory.
    pub async fn start(genesis: &Genesis) -> TestNode {
        TestNode::start_with_clock(genesis, Clock::system()).await
    }

    /// [`TestNode::start`] with `clock` as the node's clock: a manual one
    /// (`Clock::manual`) lets the test move the node's time instead of waiting for it.
    pub async fn start_with_clock(genesis: &Genesis, clock: Clock) -> TestNode {
        // Logs when RUST_LOG is set (e.g. RUST_LOG=consent_node=debug).
        if std::env::var_os("RUST_LOG").is_some() {
            let _ = tracing_subscriber::fmt()
                .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
                .try_init();
        }
        let temp = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let dir = temp.path().join("node");
        let genesis_path = write_genesis(temp.path(), genesis);
        let mut t = TestNode {
            engine: Default::default(),
            bootstrap: Vec::new(),
            node: None,
            dir,
            clock,
            max_pending: None,
            genesis_path,
            _temp: Some(temp),
        };
        t.restart().await;
        t
    }

    /// Starts a node whose key is `key` (so that its id can be listed in the genesis before it
    /// first starts), dialing `peers` at start.
    pub async fn start_as(
        genesis: &Genesis,
        key: &consent_proto::keys::SecretKey,
        peers: &[&TestNode],
    ) -> TestNode {
        let temp = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let dir = temp.path().join("node");
        if let Err(e) = std::fs::create_dir_all(&dir) {
            panic!("data dir: {e}");
        }
        let seed = key.to_seed();
        if let Err(e) = std::fs::write(dir.join(consent_node::identity::KEY_FILE), &seed[..]) {
            panic!("node key: {e}");
        }
        let genesis_path = write_genesis(temp.path(), genesis);
        let mut t = TestNode {
            engine: Default::default(),
            bootstrap: peers.iter().flat_map(|p| p.p2p_addrs()).collect(),
            node: None,
            dir,
            clock: Clock::system(),
            max_pending: None,
            genesis_path,
            _temp: Some(temp),
        };
        t.restart().await;
        t
    }

    /// Starts a node that dials `peers` (their p2p addresses) at start.
    pub async fn start_with_peers(genesis: &Genesis, peers: &[&TestNode]) -> TestNode {
        let mut node = TestNode::start(genesis).await;
        node.stop().await;
        node.bootstrap = peers.iter().flat_map(|p| p.p2p_addrs()).collect();
        node.restart().await;
        node
    }

    /// The node's p2p handle (panics when replication is off).
    pub fn p2p(&self) -> &consent_node::p2p::P2pHandle {
        self.running()
            .p2p()
            .unwrap_or_else(|| panic!("replication is off"))
    }

    /// Its first TCP p2p address.
    pub fn tcp_addr(&self) -> String {
        self.p2p_addrs()
            .into_iter()
            .find(|a| a.contains("/tcp/"))
            .unwrap_or_else(|| panic!("no tcp listen address"))
    }

    /// This node's dialable p2p addresses.
    pub fn p2p_addrs(&self) -> Vec<String> {
        self.running()
            .p2p()
            .map(|p| p.listen_addrs().iter().map(|a| a.to_string()).collect())
            .unwrap_or_default()
    }

    /// The configuration used.
    pub fn config(&self) -> Config {
        let mut config = Config {
            data_dir: self.dir.clone(),
            grpc_listen: "127.0.0.1:0"
                .parse()
                .unwrap_or_else(|e| panic!("addr: {e}")),
            genesis: Some(self.genesis_path.clone()),
            store: consent_node::config::StoreSection {
                engine: self.engine,
                ..Default::default()
            },
            p2p: consent_node::config::P2pSection {
                bootstrap: self.bootstrap.clone(),
                ..Default::default()
            },
            clock: self.clock.clone(),
            ..Config::default()
        };
        if let Some(max_pending) = self.max_pending {
            config.ledger.max_pending = max_pending;
        }
        config
    }

    /// (Re)starts the node on its data directory.
    pub async fn restart(&mut self) {
        assert!(self.node.is_none(), "stop the node before restarting it");
        match Node::start(self.config()).await {
            Ok(node) => self.node = Some(node),
            Err(e) => panic!("node does not start: {e}"),
        }
    }

    /// Orderly shutdown; waits until flushed.
    pub async fn stop(&mut self) {
        if let Some(node) = self.node.take() {
            node.shutdown();
            if let Err(e) = node.join().await {
                panic!("node did not stop cleanly: {e}");
            }
        }
    }

    fn running(&self) -> &Node {
        match &self.node {
            Some(n) => n,
            None => panic!("node is stopped"),
        }
    }

    /// The gRPC URL.
    pub fn url(&self) -> String {
        self.running().grpc_url()
    }

    async fn channel(&self) -> Channel {
        match Channel::from_shared(self.url()) {
            Ok(endpoint) => match endpoint.connect().await {
                Ok(c) => c,
                Err(e) => panic!("cannot connect: {e}"),
            },
            Err(e) => panic!("bad url: {e}"),
        }
    }

    /// A Ledger client.
    pub async fn ledger(&self) -> LedgerClient<Channel> {
        LedgerClient::new(self.channel().await)
    }

    /// A Ledger client whose connection comes from `local`, another loopback address such as
    /// 127.0.0.2: a node tells clients apart by IP address (each one's share of the pending
    /// space), and every other client of a test connects from 127.0.0.1. Linux routes the whole
    /// of 127.0.0.0/8 to the loopback interface.
    pub async fn ledger_from(&self, local: std::net::IpAddr) -> LedgerClient<Channel> {
        let endpoint = match Channel::from_shared(self.url()) {
            Ok(endpoint) => endpoint.local_address(Some(local)),
            Err(e) => panic!("bad url: {e}"),
        };
        match endpoint.connect().await {
            Ok(c) => LedgerClient::new(c),
            Err(e) => panic!("cannot connect from {local}: {e}"),
        }
    }

    /// A Consent client in a session of `collector` (authenticated with its current key).
    pub async fn consent(&self, collector: &consent_proto::entry::Author) -> SessionClient {
        self.try_consent(collector)
            .await
            .unwrap_or_else(|e| panic!("collector session: {e}"))
    }

    /// A Consent client in a session of `collector`, or why the node refused the session (for
    /// example: it has not yet replicated the collector's inception).
    pub async fn try_consent(
        &self,
        collector: &consent_proto::entry::Author,
    ) -> Result<SessionClient, String> {
        let channel = self.channel().await;
        let (token, _) = consent_client::collector::authenticate(
            channel.clone(),
            collector.key(),
            collector.feed(),
        )
        .await
        .map_err(|e| e.to_string())?;
        let bearer = Bearer::new(&token).map_err(|e| format!("token: {e}"))?;
        Ok(ConsentClient::with_interceptor(channel, bearer))
    }

    /// A Consent client with no session (every check is refused).
    pub async fn consent_without_session(&self) -> ConsentClient<Channel> {
        ConsentClient::new(self.channel().await)
    }

    /// A Node client.
    pub async fn status_client(&self) -> NodeClient<Channel> {
        NodeClient::new(self.channel().await)
    }

    /// A Log client.
    pub async fn log(&self) -> pb::log_client::LogClient<Channel> {
        pb::log_client::LogClient::new(self.channel().await)
    }
}

/// Submits one entry and returns the response or the status.
pub async fn submit(
    client: &mut LedgerClient<Channel>,
    entry: &Entry,
) -> Result<pb::SubmitResponse, tonic::Status> {
    client
        .submit(pb::SubmitRequest {
            entry: Some(entry.to_signed()),
        })
        .await
        .map(|r| r.into_inner())
}

/// Submits and expects ACCEPTED.
pub async fn submit_ok(client: &mut LedgerClient<Channel>, entry: &Entry) -> pb::SubmitResponse {
    match submit(client, entry).await {
        Ok(r) if r.status == pb::SubmitStatus::Accepted as i32 => r,
        other => panic!("expected ACCEPTED for {}, got {other:?}", entry.id),
    }
}

/// Sends raw bytes as the request message of `path` (e.g. "/consent.v1.Ledger/Submit").
pub async fn raw_call(
    url: &str,
    path: &'static str,
    body: Vec<u8>,
) -> Result<Vec<u8>, tonic::Status> {
    let channel = match Channel::from_shared(url.to_string()) {
        Ok(e) => match e.connect().await {
            Ok(c) => c,
            Err(e) => panic!("cannot connect: {e}"),
        },
        Err(e) => panic!("bad url: {e}"),
    };
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready()
        .await
        .map_err(|e| tonic::Status::unavailable(e.to_string()))?;
    grpc.unary(
        tonic::Request::new(body),
        tonic::codegen::http::uri::PathAndQuery::from_static(path),
        RawCodec,
    )
    .await
    .map(|r| r.into_inner())
}

/// A codec that sends and receives bytes unchanged.
#[derive(Clone, Copy, Default)]
pub struct RawCodec;

/// Raw encoder/decoder.
#[derive(Clone, Copy, Default)]
pub struct Raw;

impl tonic::codec::Codec for RawCodec {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = Raw;
    type Decoder = Raw;
    fn encoder(&mut self) -> Raw {
        Raw
    }
    fn decoder(&mut self) -> Raw {
        Raw
    }
}

impl tonic::codec::Encoder for Raw {
    type Item = Vec<u8>;
    type Error = tonic::Status;
    fn encode(
        &mut self,
        item: Vec<u8>,
        dst: &mut tonic::codec::EncodeBuf<'_>,
    ) -> Result<(), tonic::Status> {
        bytes::BufMut::put_slice(dst, &item);
        Ok(())
    }
}

impl tonic::codec::Decoder for Raw {
    type Item = Vec<u8>;
    type Error = tonic::Status;
    fn decode(
        &mut self,
        src: &mut tonic::codec::DecodeBuf<'_>,
    ) -> Result<Option<Vec<u8>>, tonic::Status> {
        let n = bytes::Buf::remaining(src);
        Ok(Some(bytes::Buf::copy_to_bytes(src, n).to_vec()))
    }
}

impl TestNode {
    /// `Node.Status`.
    pub async fn status(&self) -> pb::StatusResponse {
        match self
            .status_client()
            .await
            .status(pb::StatusRequest {})
            .await
        {
            Ok(r) => r.into_inner(),
            Err(e) => panic!("status failed: {e}"),
        }
    }

    /// `Ledger.GetHead` of a feed the node must know.
    pub async fn head(&self, feed: &consent_proto::FeedId) -> pb::GetHeadResponse {
        let request = pb::GetHeadRequest {
            feed: prost::bytes::Bytes::copy_from_slice(&feed.0),
            with_grants: false,
        };
        match self.ledger().await.get_head(request).await {
            Ok(r) => r.into_inner(),
            Err(e) => panic!("head of {feed:?} failed: {e}"),
        }
    }
}
