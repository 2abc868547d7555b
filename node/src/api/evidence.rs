//! The log evidence a decision receipt carries: the node's latest signed checkpoint (with its
//! cosignatures) and inclusion proofs, in that checkpoint's tree, of the grant the decision
//! names, of the Delegation a delegated grant rests on, and — for a deny because of a
//! revocation — of the revocation, whose id the signed payload names (found by [`revocation`]
//! before signing). Evidence is best effort: an entry newer than the latest checkpoint gets no
//! proof (Log.GetInclusionProof later).

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

/// The entry that revoked `grant` (a grant in `subject`'s name), with its arrival index: what a
/// `REVOKED` decision receipt names. A counting revocation by another feed than the grant's
/// (the person's of a delegate's grant, a delegate's) is read from its rows; otherwise the
/// grant's own feed revoked it: reads at most [`REVOCATION_SCAN`] entries of that feed after the
/// grant, a page of [`REVOCATION_PAGE`] at a time, and stops early once `cancel` is set (store
/// reads: call it off the async threads); `None` if not found there.
pub(crate) fn revocation(
    ledger: &Ledger,
    subject: &FeedId,
    grant: &EntryId,
    cancel: &Cancel,
) -> Option<(u64, EntryId)> {
    let (_, entry) = ledger.entry(grant).ok().flatten()?;
    let Body::Grant(g) = &entry.body else {
        return None;
    };
    if g.on_behalf.map_or(entry.feed, |o| o.person) != *subject {
        return None;
    }
    if let Some(found) = ledger.counting_revocation(subject, grant).ok().flatten() {
        return Some(found);
    }
    let feed = entry.feed;
    let mut from = entry.seq.saturating_add(1);
    let mut left = REVOCATION_SCAN;
    while left > 0 && !cancel.is_set() {
        let want = left.min(REVOCATION_PAGE);
        let page = ledger.feed_entries(&feed, from, want).ok()?;
        // The grant's own feed's revocation, in someone's name or not (another feed's is an `h`
        // row, read above).
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
/// names, of the Delegation it rests on (`answer.delegated`, if any), and that of `revocation`
/// (the one the signed payload names, if any).
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
    if let Some(delegated) = &answer.delegated
        && let Ok(delegation) = EntryId::from_slice(&delegated.delegation)
        && let Ok(Some((index, _))) = ledger.entry(&delegation)
    {
        receipt.delegation_inclusion = inclusion(ledger, index, size, delegation);
    }
}

fn inclusion(ledger: &Ledger, index: u64, size: u64, entry: EntryId) -> Option<pb::InclusionProof> {
    Some(ledger.tree().inclusion(index, size, entry)?.to_pb())
}
