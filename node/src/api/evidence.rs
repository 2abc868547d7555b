//! The log evidence a decision receipt carries: the node's latest signed checkpoint (with its
//! cosignatures) and inclusion proofs, in that checkpoint's tree, of the grant the decision
//! names and — for a deny because of a revocation — of the revocation, whose id the signed
//! payload names (found by [`revocation`] before signing). Evidence is best effort: an entry
//! newer than the latest checkpoint gets no proof (Log.GetInclusionProof later).

use consent_proto::body::Body;
use consent_proto::ids::{EntryId, FeedId};
use consent_proto::pb;

use crate::checkpoints::Checkpoints;
use crate::ledger::Ledger;

/// Most entries of the subject's feed read to find a revocation.
const REVOCATION_SCAN: usize = 1_000;

/// The entry of `subject`'s feed that revoked `grant`, with its arrival index: what a `REVOKED`
/// decision receipt names. Reads at most [`REVOCATION_SCAN`] entries after the grant (store
/// reads: call it off the async threads); `None` if not found there.
pub fn revocation(ledger: &Ledger, subject: &FeedId, grant: &EntryId) -> Option<(u64, EntryId)> {
    let (_, entry) = ledger.entry(grant).ok().flatten()?;
    if entry.feed != *subject {
        return None;
    }
    ledger
        .feed_entries(subject, entry.seq.saturating_add(1), REVOCATION_SCAN)
        .ok()?
        .into_iter()
        .find(|(_, e)| matches!(&e.body, Body::Revoke(r) if r.grant == *grant))
        .map(|(index, e)| (index, e.id))
}

/// Adds the evidence to `receipt`: the latest checkpoint, the inclusion of the grant `answer`
/// names, and that of `revocation` (the one the signed payload names, if any).
pub fn attach(
    ledger: &Ledger,
    checkpoints: &Checkpoints,
    answer: &pb::CheckResponse,
    revocation: Option<(u64, EntryId)>,
    receipt: &mut pb::DecisionReceipt,
) {
    let Some(note) = checkpoints.latest() else {
        return;
    };
    let size = note.checkpoint.size;
    receipt.checkpoint = note.to_text();
    if let Ok(grant) = EntryId::from_slice(&answer.grant)
        && let Ok(Some((index, _))) = ledger.entry(&grant)
    {
        receipt.grant_inclusion = inclusion(ledger, index, size, grant);
    }
    if let Some((index, id)) = revocation {
        receipt.revocation_inclusion = inclusion(ledger, index, size, id);
    }
}

fn inclusion(ledger: &Ledger, index: u64, size: u64, entry: EntryId) -> Option<pb::InclusionProof> {
    Some(ledger.tree().inclusion(index, size, entry)?.to_pb())
}
