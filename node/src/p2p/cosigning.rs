//! The cosigning protocol (witnessing between nodes), the answering side: give out signed
//! checkpoints with consistency proofs, take cosignatures of our checkpoints (from members, or
//! without a member list from the sending node itself: see [`crate::log::checkpoints`]), and
//! take evidence of forks (see [`crate::log::witness`] for the protocol and what is kept).

use consent_proto::keys::PublicKey;
use consent_proto::note::{MAX_NOTE_BYTES, SignedNote, key_of};
use libp2p::PeerId;
use serde_bytes::ByteBuf;

use super::protocol::{SyncRequest, SyncResponse};
use crate::ledger::Ledger;
use crate::log::checkpoints::Checkpoints;
use crate::log::witness::{Evidence, Fork, Witness};

/// The node key of a peer: its libp2p identity is the node key (Ed25519), and Noise proved the
/// peer holds it.
pub(crate) fn key_of_peer(peer: &PeerId) -> Option<PublicKey> {
    let key = libp2p::identity::PublicKey::try_decode_protobuf(peer.as_ref().digest()).ok()?;
    let bytes = key.try_into_ed25519().ok()?.to_bytes();
    PublicKey::from_bytes(&bytes).ok()
}

/// The peer id of the node with this key.
pub(crate) fn peer_of_key(key: &PublicKey) -> Option<PeerId> {
    let key = libp2p::identity::ed25519::PublicKey::try_from_bytes(&key.to_bytes()).ok()?;
    Some(libp2p::identity::PublicKey::from(key).to_peer_id())
}

/// The verifiable-log parts the p2p task serves and drives.
#[derive(Clone)]
pub struct LogParts {
    /// This node's checkpoints.
    pub checkpoints: Checkpoints,
    /// What it witnesses of others.
    pub witness: Witness,
}

/// The rate cost of a witnessing request, or why it breaks the protocol.
pub(super) fn cost(request: &SyncRequest) -> Result<f64, String> {
    let too_long = |s: &str| s.len() > MAX_NOTE_BYTES;
    match request {
        SyncRequest::Checkpoint { at: None, .. } => Ok(2.0),
        // Signs a note.
        SyncRequest::Checkpoint { at: Some(_), .. } => Ok(10.0),
        // Each line may cost a signature check.
        SyncRequest::Cosign { note } if !too_long(note) => {
            Ok((2.0 * note.lines().count() as f64).max(4.0))
        }
        SyncRequest::Fork { first, second } if !too_long(first) && !too_long(second) => Ok(4.0),
        SyncRequest::Cosign { .. } | SyncRequest::Fork { .. } => {
            Err("a checkpoint note is at most 16 KiB".into())
        }
        _ => Err("not a witnessing request".into()),
    }
}

/// Answers a witnessing request from `peer`; a fork newly proven is returned to be spread.
/// Tree reads and signing run off the async threads; what is kept is saved through the ledger's
/// writer before the answer.
pub(super) async fn answer(
    ledger: &Ledger,
    log: &LogParts,
    peer: PeerId,
    request: SyncRequest,
) -> (SyncResponse, Option<Fork>) {
    let refused = |why: String| (SyncResponse::Refused(why), None);
    match request {
        SyncRequest::Checkpoint { at, since } => {
            let (ledger, log) = (ledger.clone(), log.clone());
            tokio::task::spawn_blocking(move || (checkpoint(&ledger, &log, at, since), None))
                .await
                .unwrap_or_else(|e| (super::refused_internal(&e), None))
        }
        SyncRequest::Cosign { note } => {
            let Ok(note) = SignedNote::parse(&note) else {
                return refused("not a checkpoint note".into());
            };
            let lines = note
                .signatures
                .iter()
                .filter(|s| s.cosigned_at.is_some())
                .filter_map(|line| Some((line.clone(), key_of(&line.name)?)))
                .collect();
            let sender = key_of_peer(&peer);
            match log
                .checkpoints
                .add_cosignatures(&note.checkpoint, lines, sender)
                .await
            {
                Ok(true) => (SyncResponse::Done, None),
                Ok(false) => refused(
                    "no valid cosignature of the latest checkpoint by a member of the network \
                     (without a member list: by the sending node)"
                        .into(),
                ),
                Err(e) => (super::refused_internal(&e), None),
            }
        }
        SyncRequest::Fork { first, second } => match log.witness.evidence(&first, &second).await {
            Ok(Evidence::New(fork)) => (SyncResponse::Done, Some(fork)),
            Ok(Evidence::Known) => (SyncResponse::Done, None),
            Ok(Evidence::Refused(why)) => refused(why.into()),
            Err(e) => (super::refused_internal(&e), None),
        },
        _ => refused("not a witnessing request".into()),
    }
}

/// This node's latest checkpoint (or, `at` a size, its tree then, signed now) with a consistency
/// proof from `since` (blocking: the tree may read blocks of the log).
fn checkpoint(ledger: &Ledger, log: &LogParts, at: Option<u64>, since: u64) -> SyncResponse {
    let refused = SyncResponse::Refused;
    let note = match at {
        // The latest signed (the node signs one a second when its log grew).
        None => match log.checkpoints.latest() {
            Some(note) => note,
            None => return refused("no checkpoint signed yet".into()),
        },
        Some(size) => match log.checkpoints.sign_at(size) {
            Some(note) => note,
            None => return refused(format!("no durable tree of size {size} here")),
        },
    };
    let Some(proof) = ledger.tree().consistency(since, note.checkpoint.size) else {
        return refused(format!(
            "cannot prove from size {since} to {}",
            note.checkpoint.size
        ));
    };
    let proof = proof.iter().map(|h| ByteBuf::from(h.to_vec())).collect();
    SyncResponse::Checkpoint {
        note: note.to_text(),
        proof,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_peer_id_names_its_node_key_and_back() {
        let key = consent_proto::fixtures::key("node");
        let mut seed = key.to_seed();
        let keypair =
            libp2p::identity::Keypair::ed25519_from_bytes(seed.as_mut()).expect("keypair");
        let peer = keypair.public().to_peer_id();
        assert_eq!(key_of_peer(&peer), Some(key.public()));
        assert_eq!(peer_of_key(&key.public()), Some(peer));
    }
}
