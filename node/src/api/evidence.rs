//! The log evidence a decision receipt carries: the node's latest signed checkpoint (with its
//! cosignatures) and inclusion proofs, in that checkpoint's tree, of the grant the decision
//! names and — for a deny because of a revocation — of the revocation. Evidence is best effort:
//! an entry newer than the latest checkpoint gets no proof (Log.GetInclusionProof later).

use consent_proto::body::Body;
use consent_proto::ids::{EntryId, FeedId};
use consent_proto::pb;

use crate::checkpoints::Checkpoints;
use crate::ledger::Ledger;

/// Most entries of the subject's feed read to find a revocation.
const REVOCATION_SCAN: usize = 1_000;

/// Adds the evidence to `receipt`.
pub fn attach(
    ledger: &Ledger,
    checkpoints: &Checkpoints,
    request: &pb::CheckRequest,
    answer: &pb::CheckResponse,
    receipt: &mut pb::DecisionReceipt,
) {
    let Some(note) = checkpoints.latest() else {
        return;
    };
    let size = note.checkpoint.size;
    receipt.checkpoint = note.to_text();
    let Ok(grant) = EntryId::from_slice(&answer.grant) else {
        return;
    };
    let Ok(Some((index, entry))) = ledger.entry(&grant) else {
        return;
    };
    receipt.grant_inclusion = inclusion(ledger, index, size, grant);
    if answer.reason() == pb::Reason::Revoked
        && let Ok(subject) = FeedId::from_slice(&request.subject)
        && let Ok(later) = ledger.feed_entries(&subject, entry.seq + 1, REVOCATION_SCAN)
        && let Some((index, revocation)) = later
            .into_iter()
            .find(|(_, e)| matches!(&e.body, Body::Revoke(r) if r.grant == grant))
    {
        receipt.revocation_inclusion = inclusion(ledger, index, size, revocation.id);
    }
}

fn inclusion(ledger: &Ledger, index: u64, size: u64, entry: EntryId) -> Option<pb::InclusionProof> {
    Some(ledger.tree().inclusion(index, size, entry)?.to_pb())
}
