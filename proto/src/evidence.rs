//! Offline verification of a decision receipt with its log evidence, under a witness policy:
//! the node's signature on the decision; the checkpoint note signed by that same node; at least
//! `k` of the policy's witnesses cosigning it; and inclusion of the grant the decision names
//! (and of the revocation, when one is given) in that checkpoint's tree. Pure: no I/O.

use crate::keys::PublicKey;
use crate::merkle::{self, Hash, ProofError};
use crate::note::{Checkpoint, NODE_PREFIX, NoteError, SignedNote, key_of};
use crate::pb;
use crate::receipt::{self, ReceiptError};

/// Which witnesses count, and how many must have cosigned.
#[derive(Debug, Clone, Default)]
pub struct WitnessPolicy {
    witnesses: Vec<(String, PublicKey)>,
    required: usize,
}

impl WitnessPolicy {
    /// `required` of the witnesses named (node ids) must have cosigned.
    pub fn new(names: &[String], required: usize) -> Result<Self, EvidenceError> {
        let witnesses = names
            .iter()
            .map(|n| {
                key_of(n)
                    .map(|k| (n.clone(), k))
                    .ok_or_else(|| EvidenceError::BadPolicy(format!("{n:?} is not a node id")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        if required > witnesses.len() {
            return Err(EvidenceError::BadPolicy(format!(
                "{required} cosignatures required of {} witnesses named",
                witnesses.len()
            )));
        }
        Ok(Self {
            witnesses,
            required,
        })
    }
}

/// Why the evidence does not hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EvidenceError {
    /// The policy itself is wrong.
    #[error("witness policy: {0}")]
    BadPolicy(String),
    /// The decision's signature.
    #[error(transparent)]
    Receipt(#[from] ReceiptError),
    /// Witnesses are required but the receipt carries no checkpoint.
    #[error("the receipt carries no checkpoint, and the policy requires cosignatures")]
    NoCheckpoint,
    /// The checkpoint note.
    #[error(transparent)]
    Checkpoint(#[from] NoteError),
    /// The checkpoint is another node's.
    #[error("the checkpoint is not signed by the node that signed the decision")]
    NotTheNodesCheckpoint,
    /// Not enough witnesses.
    #[error("{have} of the required {need} witnesses cosigned the checkpoint")]
    TooFewWitnesses {
        /// Valid cosignatures by policy witnesses.
        have: usize,
        /// Required.
        need: usize,
    },
    /// An inclusion proof.
    #[error("the {what} inclusion proof: {error}")]
    Inclusion {
        /// Which.
        what: &'static str,
        /// Why.
        error: ProofError,
    },
    /// A proof about another entry or tree than it should be.
    #[error("the {0} inclusion proof is about another entry or tree")]
    WrongProof(&'static str),
}

/// What a verified decision receipt establishes.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifiedDecision {
    /// The node that decided.
    pub node: PublicKey,
    /// What it decided, and on what.
    pub payload: pb::DecisionPayload,
    /// Its checkpoint, when the receipt carries one.
    pub checkpoint: Option<Checkpoint>,
    /// The policy's witnesses that cosigned it.
    pub cosigned_by: Vec<String>,
    /// The named grant is proven in the checkpoint's log.
    pub grant_included: bool,
    /// The revocation given is proven in the checkpoint's log.
    pub revocation_included: bool,
}

/// Verifies `receipt` and its evidence under `policy`.
pub fn verify_decision(
    receipt: &pb::DecisionReceipt,
    policy: &WitnessPolicy,
) -> Result<VerifiedDecision, EvidenceError> {
    let (node, payload) = receipt::verify_decision(receipt)?;
    let mut out = VerifiedDecision {
        node,
        payload,
        checkpoint: None,
        cosigned_by: Vec::new(),
        grant_included: false,
        revocation_included: false,
    };
    if receipt.checkpoint.is_empty() {
        return if policy.required > 0 {
            Err(EvidenceError::NoCheckpoint)
        } else {
            Ok(out)
        };
    }
    let note = SignedNote::parse(&receipt.checkpoint)?;
    if note.checkpoint.origin != node.to_text(NODE_PREFIX) {
        return Err(EvidenceError::NotTheNodesCheckpoint);
    }
    note.verify(&node)?;
    out.cosigned_by = note
        .cosigned_by(&policy.witnesses)
        .into_iter()
        .map(String::from)
        .collect();
    if out.cosigned_by.len() < policy.required {
        return Err(EvidenceError::TooFewWitnesses {
            have: out.cosigned_by.len(),
            need: policy.required,
        });
    }
    if let Some(p) = &receipt.grant_inclusion {
        if p.entry_id != out.payload.grant {
            return Err(EvidenceError::WrongProof("grant"));
        }
        included(p, &note.checkpoint, "grant")?;
        out.grant_included = true;
    }
    if let Some(p) = &receipt.revocation_inclusion {
        included(p, &note.checkpoint, "revocation")?;
        out.revocation_included = true;
    }
    out.checkpoint = Some(note.checkpoint);
    Ok(out)
}

/// Checks one inclusion proof against a checkpoint.
pub fn included(
    proof: &pb::InclusionProof,
    checkpoint: &Checkpoint,
    what: &'static str,
) -> Result<(), EvidenceError> {
    if proof.tree_size != checkpoint.size || proof.entry_id.len() != 32 {
        return Err(EvidenceError::WrongProof(what));
    }
    let hashes = proof
        .hashes
        .iter()
        .map(|h| h.as_ref().try_into())
        .collect::<Result<Vec<Hash>, _>>()
        .map_err(|_| EvidenceError::WrongProof(what))?;
    merkle::verify_inclusion(
        &merkle::leaf_hash(&proof.entry_id),
        proof.index,
        proof.tree_size,
        &hashes,
        &checkpoint.root,
    )
    .map_err(|error| EvidenceError::Inclusion { what, error })
}

#[cfg(test)]
mod tests;
