//! The log evidence a decision receipt carries: the node's latest signed checkpoint (with its
//! cosignatures) and inclusion proofs, in that checkpoint's tree, of the grant the decision
//! names and — for a deny because of a revocation — of the revocation, whose id the signed
//! payload names (found by [`revocation`] before signing). Evidence is best effort: an entry
//! newer than the latest checkpoint gets no proof (Log.GetInclusionProof later).

use consent_proto::body::Body;
use consent_proto::ids::{EntryId, FeedId};
use consent_proto::pb;

use super::blocking::Cancel;
use crate::ledger::Ledger;
use crate::log::checkpoints::Checkpoints;

/// Most entries of the subject's feed read to find a revocation.
const REVOCATION_SCAN: usize = 1_000;
/// Entries read at a time while looking for a revocation (the request is checked between pages).
const REVOCATION_PAGE: usize = 100;

/// The entry of `subject`'s feed that revoked `grant`, with its arrival index: what a `REVOKED`
/// decision receipt names. Reads at most [`REVOCATION_SCAN`] entries after the grant, a page of
/// [`REVOCATION_PAGE`] at a time, and stops early once `cancel` is set (store reads: call it off
/// the async threads); `None` if not found there.
pub(crate) fn revocation(
    ledger: &Ledger,
    subject: &FeedId,
    grant: &EntryId,
    cancel: &Cancel,
) -> Option<(u64, EntryId)> {
    let (_, entry) = ledger.entry(grant).ok().flatten()?;
    if entry.feed != *subject {
        return None;
    }
    let mut from = entry.seq.saturating_add(1);
    let mut left = REVOCATION_SCAN;
    while left > 0 && !cancel.is_set() {
        let want = left.min(REVOCATION_PAGE);
        let page = ledger.feed_entries(subject, from, want).ok()?;
        if let Some((index, e)) = page
            .iter()
            .find(|(_, e)| matches!(&e.body, Body::Revoke(r) if r.grant == *grant))
        {
            return Some((*index, e.id));
        }
        if page.len() < want {
            return None;
        }
        from = from.saturating_add(page.len() as u64);
        left -= page.len();
    }
    None
}

/// Adds the evidence to `receipt`: the latest checkpoint, the inclusion of the grant `answer`
/// names, and that of `revocation` (the one the signed payload names, if any).
pub(crate) fn attach(
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
