//! `consent.v1.Node`: identity, network and counters.

use std::time::Instant;

use consent_proto::keys::PublicKey;
use consent_proto::pb;
use prost::bytes::Bytes;
use tonic::{Request, Response, Status};

use crate::ledger::{Ledger, now_ms};

/// Facts fixed at start.
#[derive(Debug, Clone)]
pub struct NodeInfo {
    /// Node public key.
    pub key: PublicKey,
    /// Network id.
    pub network_id: String,
    /// Genesis digest.
    pub genesis_digest: String,
    /// When the node started.
    pub started: Instant,
    /// Replication, when on.
    pub p2p: Option<crate::p2p::P2pHandle>,
}

/// The Node service.
pub struct NodeService {
    ledger: Ledger,
    info: NodeInfo,
}

impl NodeService {
    /// Serves status.
    pub fn new(ledger: Ledger, info: NodeInfo) -> Self {
        Self { ledger, info }
    }
}

#[tonic::async_trait]
impl pb::node_server::Node for NodeService {
    async fn status(
        &self,
        _: Request<pb::StatusRequest>,
    ) -> Result<Response<pb::StatusResponse>, Status> {
        let stats = self.ledger.stats();
        Ok(Response::new(pb::StatusResponse {
            node_key: Bytes::copy_from_slice(&self.info.key.to_bytes()),
            node_id: self.info.key.to_text("node"),
            network_id: self.info.network_id.clone(),
            genesis_digest: self.info.genesis_digest.clone(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            uptime_s: self.info.started.elapsed().as_secs(),
            entries: stats.log_size,
            feeds: stats.feeds,
            pending: stats.pending,
            frozen_feeds: stats.frozen,
            store_bytes: self.ledger.store_bytes(),
            time_ms: now_ms(),
            peers: match &self.info.p2p {
                Some(p2p) => p2p.peers().await.len() as u32,
                None => 0,
            },
            peer_id: self
                .info
                .p2p
                .as_ref()
                .map(|p| p.peer_id().to_string())
                .unwrap_or_default(),
        }))
    }
}
