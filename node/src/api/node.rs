//! `consent.v1.Node`: identity, network and counters. Every list in `Status` is bounded
//! ([`MAX_LISTED_PEERS`], [`MAX_LISTED_WITNESSED`], [`MAX_LISTED_FORKS`]), so its answer stays
//! far below the 4 MiB a gRPC client reads by default, whatever peers send; `NodeKey` answers
//! the node key alone, for clients that need it before they authenticate. `Status` also reports
//! the protocol versions the node speaks (consent-proto crate docs, "Versioning").

use std::time::Instant;

use consent_proto::keys::PublicKey;
use consent_proto::pb;
use prost::bytes::Bytes;
use tonic::{Request, Response, Status};

use crate::ledger::Ledger;
use crate::log::witness::Witness;

/// Most connected peers listed in `Status` (by peer id; the node keeps at most 256 connections).
pub(crate) const MAX_LISTED_PEERS: usize = 256;
/// Most witnessed origins listed in `Status` (the genesis lists at most 1,024 member nodes).
pub(crate) const MAX_LISTED_WITNESSED: usize = 1024;
/// Most fork proofs listed in `Status` (the witness keeps at most 64).
pub(crate) const MAX_LISTED_FORKS: usize = 64;

/// What the witness shows in `Status`: the origins it cosigned and the forks it holds, bounded.
fn witness_lists(witness: Option<&Witness>) -> (Vec<pb::Witnessed>, Vec<pb::ForkEvidence>) {
    let Some(witness) = witness else {
        return (Vec::new(), Vec::new());
    };
    let witnessed = witness
        .cosigned()
        .into_iter()
        .take(MAX_LISTED_WITNESSED)
        .map(|(origin, tree_size)| pb::Witnessed { origin, tree_size })
        .collect();
    let forks = witness
        .forks()
        .into_iter()
        .take(MAX_LISTED_FORKS)
        .map(|f| pb::ForkEvidence {
            origin: f.origin,
            first_note: f.first,
            second_note: f.second,
        })
        .collect();
    (witnessed, forks)
}

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
    /// This node's checkpoints.
    pub checkpoints: crate::log::checkpoints::Checkpoints,
    /// What it witnesses of other nodes, when replication is on.
    pub witness: Option<crate::log::witness::Witness>,
    /// The genesis's `[consultation]` section (shown in `Status`).
    pub consultation: Option<crate::genesis::ConsultationSection>,
}

/// The Node service.
pub(crate) struct NodeService {
    ledger: Ledger,
    info: NodeInfo,
}

impl NodeService {
    /// Serves status.
    pub(crate) fn new(ledger: Ledger, info: NodeInfo) -> Self {
        Self { ledger, info }
    }
}

#[tonic::async_trait]
impl pb::node_server::Node for NodeService {
    async fn answer_times(
        &self,
        request: Request<pb::AnswerTimesRequest>,
    ) -> Result<Response<pb::AnswerTimesResponse>, Status> {
        let collector = consent_proto::ids::FeedId(super::error::id32(
            "collector",
            &request.get_ref().collector,
        )?);
        // A few store reads: off the async threads.
        let (ledger, now) = (self.ledger.clone(), self.ledger.now_ms());
        let stats = super::blocking::read(move || {
            ledger
                .answer_stats(&collector, now)
                .map_err(tonic::Status::from)
        })
        .await?;
        Ok(Response::new(pb::AnswerTimesResponse {
            requests: stats.requests,
            answered: stats.answered,
            median_ms: stats.median_ms.unwrap_or(0),
            p95_ms: stats.p95_ms.unwrap_or(0),
            unanswered: stats.unanswered,
            oldest_unanswered_ms: stats.oldest_unanswered_ms.unwrap_or(0),
        }))
    }

    async fn node_key(
        &self,
        _: Request<pb::NodeKeyRequest>,
    ) -> Result<Response<pb::NodeKeyResponse>, Status> {
        Ok(Response::new(pb::NodeKeyResponse {
            node_key: Bytes::copy_from_slice(&self.info.key.to_bytes()),
            node_id: self.info.key.to_text("node"),
            network_id: self.info.network_id.clone(),
            genesis_digest: self.info.genesis_digest.clone(),
        }))
    }

    async fn status(
        &self,
        _: Request<pb::StatusRequest>,
    ) -> Result<Response<pb::StatusResponse>, Status> {
        let stats = self.ledger.stats();
        // Bytes on disk, off the async threads: fjall takes its journal's lock, which a commit
        // holds across its fsync; sled lists its blob files.
        let ledger = self.ledger.clone();
        let store_bytes = super::blocking::read(move || Ok(ledger.store_bytes())).await?;
        let latest = self.info.checkpoints.latest();
        let (witnessed, forks) = witness_lists(self.info.witness.as_ref());
        let p2p = match &self.info.p2p {
            Some(p2p) => p2p.status().await,
            None => Default::default(),
        };
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
            store_bytes,
            time_ms: self.ledger.now_ms(),
            peers: p2p.peers.len() as u32,
            peer_id: self
                .info
                .p2p
                .as_ref()
                .map(|p| p.peer_id().to_string())
                .unwrap_or_default(),
            peer_status: p2p
                .peers
                .into_iter()
                .take(MAX_LISTED_PEERS)
                .map(|p| pb::PeerStatus {
                    peer_id: p.peer_id.to_string(),
                    address: p.address,
                    connected_ms: p.connected_ms,
                    last_round_ms: p.last_round_ms,
                    in_sync_ms: p.in_sync_ms,
                    lag_feeds: p.lag_feeds,
                    entries_pulled: p.entries_pulled,
                    offences: p.offences,
                    score: p.score,
                })
                .collect(),
            last_round_ms: p2p.last_round_ms,
            banned_peers: p2p.banned as u32,
            sync_bytes_sent: p2p.bytes_sent,
            sync_bytes_received: p2p.bytes_received,
            checkpoint_size: latest.as_ref().map_or(0, |n| n.checkpoint.size),
            checkpoint_cosignatures: latest.as_ref().map_or(0, |n| {
                n.signatures
                    .iter()
                    .filter(|s| s.cosigned_at.is_some())
                    .count() as u32
            }),
            witnessed,
            forks,
            sync_protocols: vec![crate::p2p::protocol::sync_protocol(
                &self.info.genesis_digest,
            )],
            identify_version: crate::p2p::protocol::identify_version(&self.info.genesis_digest),
            rejection_reasons_version: consent_proto::reasons::REJECTION_REASONS_VERSION,
            store_layout_version: crate::ledger::tables::SCHEMA_VERSION,
            pending_evicted: stats.pending_evicted,
            consultation: self.info.consultation.map(|c| pb::ConsultationRules {
                widening_min_days: c.widening_min_days,
                objection_threshold: c.objection_threshold,
            }),
        }))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use consent_proto::fixtures;
    use consent_proto::note::{Checkpoint, NODE_PREFIX, SignedNote};
    use prost::Message;

    use super::*;
    use crate::log::witness::{MAX_FORKS, MAX_OTHERS_WITNESSED};
    use crate::members::Members;

    #[tokio::test]
    async fn status_stays_small_after_a_flood_of_witnessed_nodes_and_forks() {
        let (ledger, writer) = crate::ledger::in_memory(HashSet::new())();
        let witness = Witness::open(
            ledger.clone(),
            fixtures::key("witness"),
            Members::unlisted(),
        )
        .expect("open");
        // Peers that each get witnessed, then hand in a fork of their own log.
        for i in 0..2_000 {
            let key = fixtures::key(&format!("flood-{i}"));
            let note = |root: u8| {
                SignedNote::sign(
                    Checkpoint {
                        origin: key.public().to_text(NODE_PREFIX),
                        size: 1,
                        root: [root; 32],
                        time_ms: 1,
                    },
                    &key,
                )
                .to_text()
            };
            witness.observe(&note(1), 0, &[]).await.expect("observe");
            witness
                .evidence(&note(1), &note(2))
                .await
                .expect("evidence");
        }
        let (witnessed, forks) = witness_lists(Some(&witness));
        assert_eq!(witnessed.len(), MAX_OTHERS_WITNESSED);
        assert_eq!(forks.len(), MAX_FORKS);
        let status = pb::StatusResponse {
            witnessed,
            forks,
            ..Default::default()
        };
        let bytes = status.encoded_len();
        assert!(bytes < 128 * 1024, "Status is {bytes} bytes");
        drop(witness);
        ledger.shutdown().await;
        drop(ledger);
        writer.join();
    }
}
