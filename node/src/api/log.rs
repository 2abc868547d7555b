//! `consent.v1.Log`: the node's signed checkpoints and the Merkle proofs that tie entries and
//! older checkpoints to them. Proofs are only given for tree sizes up to the latest signed
//! checkpoint, so every proof can be checked against a root the node has signed.

use consent_proto::ids::EntryId;
use consent_proto::merkle::Hash;
use consent_proto::note::SignedNote;
use consent_proto::pb;
use prost::bytes::Bytes;
use tonic::{Request, Response, Status};

use super::blocking::read;
use super::error::{self, id32};
use crate::ledger::Ledger;
use crate::log::checkpoints::Checkpoints;

/// The Log service.
pub(crate) struct LogService {
    ledger: Ledger,
    checkpoints: Checkpoints,
}

impl LogService {
    /// Serves `ledger`'s tree and `checkpoints`.
    pub(crate) fn new(ledger: Ledger, checkpoints: Checkpoints) -> Self {
        Self {
            ledger,
            checkpoints,
        }
    }

    /// The latest checkpoint (signing one first if none exists yet).
    async fn latest(&self) -> Result<SignedNote, Status> {
        match self.checkpoints.latest() {
            Some(note) => Ok(note),
            None => self
                .checkpoints
                .refresh()
                .await?
                .ok_or_else(error::no_checkpoint_yet),
        }
    }

    /// `requested` (0: the latest checkpoint's size), refused above the latest checkpoint.
    async fn tree_size(&self, requested: u64) -> Result<u64, Status> {
        let signed = self.latest().await?.checkpoint.size;
        match requested {
            0 => Ok(signed),
            n if n <= signed => Ok(n),
            n => Err(error::beyond_checkpoint(n, signed)),
        }
    }
}

fn hashes(list: Vec<Hash>) -> Vec<Bytes> {
    list.into_iter()
        .map(|h| Bytes::copy_from_slice(&h))
        .collect()
}

#[tonic::async_trait]
impl pb::log_server::Log for LogService {
    async fn get_checkpoint(
        &self,
        _: Request<pb::GetCheckpointRequest>,
    ) -> Result<Response<pb::GetCheckpointResponse>, Status> {
        let note = self.latest().await?;
        Ok(Response::new(pb::GetCheckpointResponse {
            note: note.to_text(),
            tree_size: note.checkpoint.size,
            root_hash: Bytes::copy_from_slice(&note.checkpoint.root),
            time_ms: note.checkpoint.time_ms,
        }))
    }

    async fn get_inclusion_proof(
        &self,
        request: Request<pb::GetInclusionProofRequest>,
    ) -> Result<Response<pb::InclusionProof>, Status> {
        let r = request.into_inner();
        let size = self.tree_size(r.tree_size).await?;
        // The entry's index and the proof's hashes are store reads: off the async threads.
        let ledger = self.ledger.clone();
        let proof = read(move || {
            let (index, entry) = match r.entry {
                Some(pb::get_inclusion_proof_request::Entry::Index(i)) => {
                    let id = ledger.entry_at(i)?.ok_or_else(|| error::no_entry_at(i))?;
                    (i, id)
                }
                Some(pb::get_inclusion_proof_request::Entry::EntryId(id)) => {
                    let id = EntryId(id32("entry_id", &id)?);
                    let (i, _) = ledger.entry(&id)?.ok_or_else(|| error::no_entry(&id))?;
                    (i, id)
                }
                None => return Err(error::entry_unnamed()),
            };
            ledger
                .tree()
                .inclusion(index, size, entry)
                .ok_or_else(|| error::not_in_tree(index, size))
        })
        .await?;
        Ok(Response::new(proof.to_pb()))
    }

    async fn get_consistency_proof(
        &self,
        request: Request<pb::GetConsistencyProofRequest>,
    ) -> Result<Response<pb::ConsistencyProof>, Status> {
        let r = request.into_inner();
        let new = self.tree_size(r.new_size).await?;
        if r.old_size > new {
            return Err(error::old_above_new(r.old_size, new));
        }
        let (ledger, old) = (self.ledger.clone(), r.old_size);
        let proof = read(move || {
            ledger
                .tree()
                .consistency(old, new)
                .ok_or_else(error::tree_behind_checkpoint)
        })
        .await?;
        Ok(Response::new(pb::ConsistencyProof {
            old_size: r.old_size,
            new_size: new,
            hashes: hashes(proof),
        }))
    }
}
