//! The cosigning protocol (witnessing), the asking side: every few seconds ask each connected
//! peer this node witnesses (every peer, or only members when the genesis lists them) for its
//! latest checkpoint with a consistency proof from the size cosigned for it, cosign what holds,
//! ask for history where it does not, and spread evidence of forks (see [`crate::log::witness`]).
//! What the witness checks and keeps (signatures, a save through the ledger's writer) is done in
//! a task of its own, which sends its conclusion back as a [`Command`]: the swarm task keeps
//! polling the swarm meanwhile.

use consent_proto::note::NODE_PREFIX;
use libp2p::PeerId;

use super::Task;
use crate::log::witness::{Fork, Seen};
use crate::p2p::cosigning::key_of_peer;
use crate::p2p::discipline::Offence;
use crate::p2p::protocol::{SyncRequest, SyncResponse};
use crate::p2p::{Command, Purpose};

/// The node id of a peer (its libp2p identity is the node key).
pub(super) fn origin_of(peer: &PeerId) -> Option<String> {
    Some(key_of_peer(peer)?.to_text(NODE_PREFIX))
}

impl Task {
    /// Asks every connected peer this node witnesses for its latest checkpoint.
    pub(super) fn witness_round(&mut self) {
        let peers: Vec<PeerId> = self.swarm.connected_peers().copied().collect();
        for peer in peers {
            let Some(origin) = origin_of(&peer) else {
                continue;
            };
            if !self.log.witness.witnesses(&origin) {
                continue;
            }
            let since = self.log.witness.since(&origin);
            self.ask(
                peer,
                SyncRequest::Checkpoint { at: None, since },
                Purpose::Checkpoint(since),
            );
        }
    }

    /// A peer's latest checkpoint, with a proof from `since`.
    pub(super) fn on_checkpoint(&mut self, peer: PeerId, since: u64, response: SyncResponse) {
        let SyncResponse::Checkpoint { note, proof } = response else {
            return;
        };
        let Some(proof) = consent_proto::merkle::hashes_from(&proof) else {
            self.offend(peer, Offence::BadMessage);
            return;
        };
        let origin = origin_of(&peer);
        if origin.is_none_or(|o| !note.starts_with(&format!("{o}\n"))) {
            tracing::debug!(%peer, "a peer answered with another node's checkpoint");
            return;
        }
        let witness = self.log.witness.clone();
        let tx = self.tx.clone();
        tokio::spawn(async move {
            let next = match witness.observe(&note, since, &proof).await {
                Ok(Seen::Cosigned(ours)) => Command::Ask {
                    peer,
                    request: SyncRequest::Cosign {
                        note: ours.to_text(),
                    },
                    purpose: Purpose::Done,
                },
                Ok(Seen::AskHistory(size)) => {
                    tracing::warn!(%peer, size, "a peer's checkpoint is not consistent with the one cosigned; asking for its tree at that size");
                    Command::Ask {
                        peer,
                        request: SyncRequest::Checkpoint {
                            at: Some(size),
                            since: 0,
                        },
                        purpose: Purpose::History,
                    }
                }
                Ok(Seen::Forked(fork)) => {
                    tracing::warn!(%peer, "a peer's stale checkpoint contradicts the one cosigned for its size: evidence that it forked its log, kept and spread");
                    Command::Spread { from: None, fork }
                }
                Ok(Seen::NotNewer | Seen::NotWitnessed) => return,
                Ok(Seen::Invalid(why)) => {
                    tracing::debug!(%peer, why, "invalid checkpoint");
                    Command::Offend {
                        peer,
                        offence: Offence::BadMessage,
                    }
                }
                Err(e) => {
                    tracing::error!(error = %e, "cannot keep a cosigned checkpoint");
                    return;
                }
            };
            let _ = tx.send(next).await;
        });
    }

    /// A peer's checkpoint at an earlier size: evidence if it contradicts what was cosigned.
    pub(super) fn on_history(&mut self, response: SyncResponse) {
        let SyncResponse::Checkpoint { note, .. } = response else {
            return;
        };
        let witness = self.log.witness.clone();
        let tx = self.tx.clone();
        tokio::spawn(async move {
            match witness.observe_history(&note).await {
                Ok(Some(fork)) => {
                    let _ = tx.send(Command::Spread { from: None, fork }).await;
                }
                Ok(None) => {}
                Err(e) => tracing::error!(error = %e, "cannot keep fork evidence"),
            }
        });
    }

    /// Tells every connected peer but `from` about a fork.
    pub(super) fn spread(&mut self, from: Option<PeerId>, fork: Fork) {
        let peers: Vec<PeerId> = self
            .swarm
            .connected_peers()
            .copied()
            .filter(|p| Some(*p) != from)
            .collect();
        for peer in peers {
            self.ask(
                peer,
                SyncRequest::Fork {
                    first: fork.first.clone(),
                    second: fork.second.clone(),
                },
                Purpose::Done,
            );
        }
    }
}
