//! The network as the transparency page shows it: the nodes this node knows of and who runs
//! them (names from the genesis file), this node's latest checkpoint and who cosigned it, the
//! checkpoints it cosigned for the others, any proof that a node forked its log, and any proof
//! that a collector or registrar signed two histories of its feed.

use std::collections::BTreeMap;

use consent_proto::entry::Entry;
use consent_proto::vocab::Role;
use serde::Serialize;

use super::view::date;
use crate::log::checkpoints::Checkpoints;
use crate::log::witness::Witness;

/// A checkpoint of a node's log.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct CheckpointView {
    /// Entries in the log it commits to.
    pub size: u64,
    /// Merkle root, hex.
    pub root: String,
    /// When the node signed it, RFC 3339.
    pub signed_at: String,
    /// Nodes that cosigned it (this node's own checkpoint only; for the others, this node is
    /// the cosigner).
    pub cosigned_by: Vec<String>,
}

/// A node of the network.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct NodeView {
    /// Its id (`node1…`).
    pub id: String,
    /// Who runs it, when the genesis file names it.
    pub operator: Option<String>,
    /// Whether this is the node serving the page.
    pub serving_this_page: bool,
    /// Its latest checkpoint this node holds: its own, or the last it cosigned for the other.
    pub checkpoint: Option<CheckpointView>,
}

/// Two checkpoints one node signed for the same log size with different roots.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ForkView {
    /// The node that forked its log.
    pub node: String,
    /// Who runs it, when known.
    pub operator: Option<String>,
    /// The first signed note, as text anyone can verify.
    pub first_note: String,
    /// The conflicting note.
    pub second_note: String,
}

/// A collector or registrar that signed two different entries at one position of its feed:
/// the proof is the two signed entries, which anyone can fetch by id and verify.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct EquivocationView {
    /// The feed (`col1…` or `reg1…`).
    pub feed: String,
    /// Its public name, when known.
    pub name: Option<String>,
    /// The position signed twice.
    pub seq: u64,
    /// The entry this node held (`ent1…`).
    pub held: String,
    /// The conflicting entry.
    pub conflicting: String,
}

/// The network page.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct NetworkView {
    /// Network id from the genesis file.
    pub network_id: String,
    /// Digest of the genesis file.
    pub genesis_digest: String,
    /// Peers connected to this node now.
    pub peers_connected: u32,
    /// The nodes: this one first, then the others by id.
    pub nodes: Vec<NodeView>,
    /// Proofs of forked logs; empty in a healthy network.
    pub forks: Vec<ForkView>,
    /// Collectors and registrars caught signing two histories (their feeds are frozen).
    pub equivocations: Vec<EquivocationView>,
    /// Citizens' feeds frozen for the same reason (a count: citizens are never named).
    pub frozen_citizen_feeds: super::view::Count,
}

/// Most frozen feeds listed.
const MAX_FROZEN_LISTED: usize = 1000;

/// Where the network page's facts come from.
#[derive(Clone)]
pub(crate) struct Sources {
    /// Network id.
    pub network_id: String,
    /// Genesis digest.
    pub genesis_digest: String,
    /// Public names of node and registrar ids.
    pub names: BTreeMap<String, String>,
    /// This node's checkpoints.
    pub checkpoints: Checkpoints,
    /// What it witnesses (replication on).
    pub witness: Option<Witness>,
    /// Replication (peers).
    pub p2p: Option<crate::p2p::P2pHandle>,
    /// Frozen feeds and their proofs.
    pub ledger: crate::ledger::Ledger,
}

impl Sources {
    /// The network page as of now; `register` names collectors, `k` hides small counts.
    pub(crate) async fn view(&self, register: &super::register::Shared, k: u64) -> NetworkView {
        // Frozen feeds and their proofs are store reads: on a blocking thread.
        let (sources, shared) = (self.clone(), register.clone());
        let (equivocations, frozen_citizen_feeds) =
            tokio::task::spawn_blocking(move || sources.equivocations(&shared))
                .await
                .unwrap_or_default();
        let own_id = self.checkpoints.origin().to_string();
        let own = self.checkpoints.latest().map(|note| CheckpointView {
            size: note.checkpoint.size,
            root: hex::encode(note.checkpoint.root),
            signed_at: date(note.checkpoint.time_ms),
            cosigned_by: note
                .signatures
                .iter()
                .filter(|s| s.cosigned_at.is_some())
                .map(|s| s.name.clone())
                .collect(),
        });
        let mut others: BTreeMap<String, Option<CheckpointView>> = self
            .names
            .keys()
            .filter(|id| id.starts_with("node1") && **id != own_id)
            .map(|id| (id.clone(), None))
            .collect();
        if let Some(w) = &self.witness {
            for c in w.cosigned_checkpoints() {
                let view = CheckpointView {
                    size: c.size,
                    root: hex::encode(c.root),
                    signed_at: date(c.time_ms),
                    cosigned_by: Vec::new(),
                };
                others.insert(c.origin, Some(view));
            }
        }
        let operator = |id: &str| self.names.get(id).cloned();
        let mut nodes = vec![NodeView {
            operator: operator(&own_id),
            id: own_id,
            serving_this_page: true,
            checkpoint: own,
        }];
        nodes.extend(others.into_iter().map(|(id, checkpoint)| NodeView {
            operator: operator(&id),
            id,
            serving_this_page: false,
            checkpoint,
        }));
        let forks = self
            .witness
            .as_ref()
            .map(|w| w.forks())
            .unwrap_or_default()
            .into_iter()
            .map(|f| ForkView {
                operator: operator(&f.origin),
                node: f.origin,
                first_note: f.first,
                second_note: f.second,
            })
            .collect();
        let peers_connected = match &self.p2p {
            Some(p2p) => p2p.status().await.peers.len() as u32,
            None => 0,
        };
        NetworkView {
            network_id: self.network_id.clone(),
            genesis_digest: self.genesis_digest.clone(),
            peers_connected,
            nodes,
            forks,
            equivocations,
            frozen_citizen_feeds: super::view::Count::of(frozen_citizen_feeds, k),
        }
    }

    /// Frozen collectors and registrars with their proofs, and how many citizens' feeds are frozen.
    /// Blocking (store reads).
    fn equivocations(&self, register: &super::register::Shared) -> (Vec<EquivocationView>, u64) {
        let frozen = match self.ledger.frozen_feeds(MAX_FROZEN_LISTED) {
            Ok(f) => f,
            Err(e) => {
                tracing::error!(error = %e, "transparency: cannot read frozen feeds");
                return (Vec::new(), 0);
            }
        };
        let Ok(register) = register.read() else {
            return (Vec::new(), 0);
        };
        let mut listed = Vec::new();
        let mut citizens = 0;
        for feed in frozen {
            let (id, name) = if let Some(c) = register.collectors.get(&feed) {
                let name = c.policy().map(|p| p.policy.name.clone());
                (feed.typed(Role::Collector).to_string(), name)
            } else if self.ledger.registrars().contains(&feed) {
                let id = feed.typed(Role::Registrar).to_string();
                let name = self.names.get(&id).cloned();
                (id, name)
            } else {
                citizens += 1;
                continue;
            };
            for [held, conflicting] in self.ledger.proofs(&feed).unwrap_or_default() {
                let (Ok(held), Ok(conflicting)) =
                    (Entry::decode(&held), Entry::decode(&conflicting))
                else {
                    continue;
                };
                listed.push(EquivocationView {
                    feed: id.clone(),
                    name: name.clone(),
                    seq: held.seq,
                    held: held.id.to_string(),
                    conflicting: conflicting.id.to_string(),
                });
            }
        }
        (listed, citizens)
    }
}
