//! Offline verification of receipts with their log evidence, under a witness policy: the node's
//! signature on the receipt; the checkpoint note signed by that same node; at least `k` of the
//! policy's witnesses cosigning it; and inclusion in that checkpoint's tree — of the entry an
//! entry receipt names at its arrival index, or of the grant a decision names (and of the
//! revocation its signed payload names, when a proof is given; a revocation proof beside a
//! payload that names none is ignored). Pure: no I/O.

use crate::ids::EntryId;
use crate::keys::PublicKey;
use crate::merkle::{self, ProofError};
use crate::note::{Checkpoint, NODE_PREFIX, NoteError, SignedNote, key_of};
use crate::pb;
use crate::receipt::{self, ReceiptError, ReceiptFacts};

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
    /// The revocation the signed payload names is proven in the checkpoint's log. Always false
    /// when the payload names none (a receipt signed before `DecisionPayload.revocation`
    /// existed, or the node did not find the revocation): a proof beside such a payload is bound
    /// to nothing the node signed, so it is not checked and proves nothing.
    pub revocation_included: bool,
    /// The delegation the signed payload names (`DecisionPayload.delegated`) is proven in the
    /// checkpoint's log. Always false when the payload names none.
    pub delegation_included: bool,
    /// The time the decision is about, Unix ms (see [`receipt::decided_about`]).
    pub at_ms: u64,
    /// How that time relates to when the node decided: an allow for a `Past` question says a
    /// grant was in force then, not that there is consent now.
    pub when: pb::QuestionTime,
}

/// What a verified entry receipt establishes.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifiedEntry {
    /// The node, the entry, its arrival index, when.
    pub facts: ReceiptFacts,
    /// The checkpoint whose log holds it.
    pub checkpoint: Checkpoint,
    /// The policy's witnesses that cosigned it.
    pub cosigned_by: Vec<String>,
}

/// Verifies an entry receipt and its evidence under `policy`: the entry is at the receipt's
/// index in a log the node signed (and the witnesses cosigned).
pub fn verify_entry(
    receipt: &pb::EntryReceipt,
    policy: &WitnessPolicy,
) -> Result<VerifiedEntry, EvidenceError> {
    let signed = receipt
        .receipt
        .as_ref()
        .ok_or_else(|| ReceiptError::Malformed("no receipt".into()))?;
    let facts = receipt::verify(signed)?;
    if receipt.checkpoint.is_empty() {
        return Err(EvidenceError::NoCheckpoint);
    }
    let (checkpoint, cosigned_by) = checkpoint_of(&receipt.checkpoint, &facts.node, policy)?;
    let proof = receipt
        .inclusion
        .as_ref()
        .ok_or(EvidenceError::WrongProof("entry"))?;
    if EntryId::from_slice(&proof.entry_id).ok() != Some(facts.entry_id)
        || proof.index != facts.index
    {
        return Err(EvidenceError::WrongProof("entry"));
    }
    included(proof, &checkpoint, "entry")?;
    Ok(VerifiedEntry {
        facts,
        checkpoint,
        cosigned_by,
    })
}

/// The checkpoint in `text`, signed by `node`, with the policy's cosigners (enough of them).
fn checkpoint_of(
    text: &str,
    node: &PublicKey,
    policy: &WitnessPolicy,
) -> Result<(Checkpoint, Vec<String>), EvidenceError> {
    let note = SignedNote::parse(text)?;
    if note.checkpoint.origin != node.to_text(NODE_PREFIX) {
        return Err(EvidenceError::NotTheNodesCheckpoint);
    }
    note.verify(node)?;
    let cosigned: Vec<String> = note
        .cosigned_by(&policy.witnesses)
        .into_iter()
        .map(String::from)
        .collect();
    if cosigned.len() < policy.required {
        return Err(EvidenceError::TooFewWitnesses {
            have: cosigned.len(),
            need: policy.required,
        });
    }
    Ok((note.checkpoint, cosigned))
}

/// Verifies `receipt` and its evidence under `policy`. A grant proof must be of the grant the
/// signed payload names. A revocation proof must be of the revocation the signed payload names
/// (any other entry: [`EvidenceError::WrongProof`]); when the payload names none, the proof is
/// ignored and `revocation_included` stays false. Older REVOKED receipts, signed before the
/// payload named the revocation, carry such an unbound proof: they still verify, without it. To
/// use that proof, fetch the entry it names, check that it is a revocation of the receipt's
/// grant in the subject's feed, and check the proof with [`included`].
pub fn verify_decision(
    receipt: &pb::DecisionReceipt,
    policy: &WitnessPolicy,
) -> Result<VerifiedDecision, EvidenceError> {
    let (node, payload) = receipt::verify_decision(receipt)?;
    let (at_ms, when) = receipt::decided_about(&payload);
    let mut out = VerifiedDecision {
        node,
        payload,
        checkpoint: None,
        cosigned_by: Vec::new(),
        grant_included: false,
        revocation_included: false,
        delegation_included: false,
        at_ms,
        when,
    };
    if receipt.checkpoint.is_empty() {
        return if policy.required > 0 {
            Err(EvidenceError::NoCheckpoint)
        } else {
            Ok(out)
        };
    }
    let (checkpoint, cosigned_by) = checkpoint_of(&receipt.checkpoint, &node, policy)?;
    out.cosigned_by = cosigned_by;
    if let Some(p) = &receipt.grant_inclusion {
        if p.entry_id != out.payload.grant {
            return Err(EvidenceError::WrongProof("grant"));
        }
        included(p, &checkpoint, "grant")?;
        out.grant_included = true;
    }
    // Only the revocation the node signed for: a proof of any other entry is refused. With none
    // named (an older receipt), a proof is bound to nothing signed: ignored, it proves nothing.
    if let Some(p) = &receipt.revocation_inclusion
        && !out.payload.revocation.is_empty()
    {
        if p.entry_id != out.payload.revocation {
            return Err(EvidenceError::WrongProof("revocation"));
        }
        included(p, &checkpoint, "revocation")?;
        out.revocation_included = true;
    }
    out.checkpoint = Some(checkpoint);
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
    let hashes = merkle::hashes_from(&proof.hashes).ok_or(EvidenceError::WrongProof(what))?;
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
