//! gRPC requests as any client can send them: a real node (the default store, fjall, in a temp
//! dir, no p2p) runs in this process, holding a registrar, an accredited collector with a
//! policy; each input picks a method and its bytes go to the node as that method's request
//! message, unchanged, with the collector's session token (so Consent calls get past
//! authentication into decoding and validation). Any answer is fine; a panic, a hang or a dead
//! node is not.
#![no_main]

use std::sync::LazyLock;
use std::time::Duration;

use bytes::{Buf, BufMut, Bytes};
use consent_proto::fixtures::{self, T0};
use consent_proto::pb;
use consent_proto::vocab::Role;
use libfuzzer_sys::fuzz_target;
use tonic::Status;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::transport::Channel;

/// Unary methods a client can call.
const METHODS: &[&str] = &[
    "/consent.v1.Ledger/Submit",
    "/consent.v1.Ledger/SubmitBatch",
    "/consent.v1.Ledger/GetEntry",
    "/consent.v1.Ledger/GetFeed",
    "/consent.v1.Ledger/GetHead",
    "/consent.v1.Consent/Authenticate",
    "/consent.v1.Consent/Check",
    "/consent.v1.Consent/CheckBatch",
    "/consent.v1.Node/Status",
    "/consent.v1.Node/AnswerTimes",
    "/consent.v1.Log/GetCheckpoint",
    "/consent.v1.Log/GetInclusionProof",
    "/consent.v1.Log/GetConsistencyProof",
];

/// Sends bytes as they are; reads the answer as bytes.
#[derive(Clone, Default)]
struct Raw;

impl Encoder for Raw {
    type Item = Bytes;
    type Error = Status;
    fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put(item);
        Ok(())
    }
}

impl Decoder for Raw {
    type Item = Bytes;
    type Error = Status;
    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Bytes>, Status> {
        Ok(Some(src.copy_to_bytes(src.remaining())))
    }
}

impl Codec for Raw {
    type Encode = Bytes;
    type Decode = Bytes;
    type Encoder = Raw;
    type Decoder = Raw;
    fn encoder(&mut self) -> Raw {
        Raw
    }
    fn decoder(&mut self) -> Raw {
        Raw
    }
}

struct Target {
    runtime: tokio::runtime::Runtime,
    channel: Channel,
    token: String,
    _node: consent_node::Node,
    _dir: tempfile::TempDir,
}

static TARGET: LazyLock<Target> = LazyLock::new(|| {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    let scene = fixtures::scene(T0);
    let (node, channel, token) = runtime.block_on(async {
        let genesis = dir.path().join("genesis.toml");
        let g = consent_node::genesis::Genesis {
            network_id: "fuzz".into(),
            registrars: vec![scene.registrar.feed().typed(Role::Registrar).to_string()],
            bootstrap: vec![],
            nodes: vec![],
            members_only: false,
            names: Default::default(),
            consultation: None,
        };
        std::fs::write(&genesis, g.to_toml().expect("genesis")).expect("genesis file");
        let mut config = consent_node::Config {
            data_dir: dir.path().join("node"),
            grpc_listen: "127.0.0.1:0".parse().expect("address"),
            genesis: Some(genesis),
            log_level: "off".into(),
            ..consent_node::Config::default()
        };
        config.p2p.enabled = false;
        let node = consent_node::Node::start(config)
            .await
            .expect("node starts");
        let channel = Channel::from_shared(format!("http://{}", node.grpc_addr()))
            .expect("url")
            .connect()
            .await
            .expect("connect");
        let mut ledger = pb::ledger_client::LedgerClient::new(channel.clone());
        for e in &scene.entries {
            ledger
                .submit(pb::SubmitRequest {
                    entry: Some(e.to_signed()),
                })
                .await
                .expect("scene");
        }
        let (token, _) = consent_client::collector::authenticate(
            channel.clone(),
            scene.collector.key(),
            scene.collector.feed(),
        )
        .await
        .expect("session");
        (node, channel, token)
    });
    Target {
        runtime,
        channel,
        token,
        _node: node,
        _dir: dir,
    }
});

fuzz_target!(|data: &[u8]| {
    let Some((&pick, body)) = data.split_first() else {
        return;
    };
    let t = &*TARGET;
    let method = METHODS[pick as usize % METHODS.len()];
    t.runtime.block_on(async {
        let mut grpc = tonic::client::Grpc::new(t.channel.clone());
        grpc.ready().await.expect("the node is gone");
        let mut request = tonic::Request::new(Bytes::copy_from_slice(body));
        request.set_timeout(Duration::from_secs(10));
        if let Ok(value) = format!("Bearer {}", t.token).parse() {
            request.metadata_mut().insert("authorization", value);
        }
        let path = http::uri::PathAndQuery::from_static(method);
        if let Err(status) = grpc.unary(request, path, Raw).await {
            // The node answers bad input with a status; it never stops answering.
            assert!(
                !matches!(
                    status.code(),
                    tonic::Code::Unavailable | tonic::Code::DeadlineExceeded
                ),
                "{method}: {status}"
            );
        }
    });
});
