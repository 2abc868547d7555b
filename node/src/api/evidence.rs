//! The log evidence a decision receipt carries: the node's latest signed checkpoint (with its
//! cosignatures) and inclusion proofs, in that checkpoint's tree, of the grant the decision
//! names, of the Delegation a delegated grant rests on, and — for a deny because of a
//! revocation — of the revocation, whose id the signed payload names (found by [`revocation`]
//! before signing). Evidence is best effort: an entry newer than the latest checkpoint gets no
//! proof (Log.GetInclusionProof later).
//!
//! [`Evidence`] owns what it keeps between receipts: the latest checkpoint's text (computed once
//! per note, not per receipt) and the inclusion proofs it computed, by entry and checkpoint size
//! (a collector checks the same subjects again and again between two checkpoints; a new
//! checkpoint is a new size, so a proof is never served for another tree).

use std::sync::RwLock;

use consent_proto::body::Body;
use consent_proto::ids::{EntryId, FeedId};
use consent_proto::note::SignedNote;
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

/// Proofs kept (each about 1 KiB at most: 64 hashes; a few hundred bytes at city sizes).
const PROOFS_CACHED: usize = 16_384;

/// The evidence decision receipts carry, and what is kept between receipts.
pub(crate) struct Evidence {
    checkpoints: Checkpoints,
    /// The latest checkpoint, as last seen, and its text.
    text: RwLock<Option<(SignedNote, String)>>,
    /// Inclusion proofs by entry and tree size (`None`: not in that tree).
    proofs: quick_cache::sync::Cache<(EntryId, u64), Option<pb::InclusionProof>>,
}

impl Evidence {
    /// Evidence from `checkpoints`, nothing kept yet.
    pub(crate) fn new(checkpoints: Checkpoints) -> Self {
        Self {
            checkpoints,
            text: RwLock::new(None),
            proofs: quick_cache::sync::Cache::new(PROOFS_CACHED),
        }
    }

    /// Adds the evidence to `receipt`: the latest checkpoint, the inclusion of the grant
    /// `answer` names, of the Delegation it rests on (`answer.delegated`, if any), and that of
    /// `revocation` (the one the signed payload names, if any).
    pub(crate) fn attach(
        &self,
        ledger: &Ledger,
        answer: &pb::CheckResponse,
        revocation: Option<(u64, EntryId)>,
        receipt: &mut pb::DecisionReceipt,
    ) {
        let Some(note) = self.checkpoints.latest() else {
            return;
        };
        let size = note.checkpoint.size;
        receipt.checkpoint = self.text(note);
        if let Ok(grant) = EntryId::from_slice(&answer.grant) {
            receipt.grant_inclusion = self.inclusion(ledger, grant, None, size);
        }
        if let Some((index, id)) = revocation {
            receipt.revocation_inclusion = self.inclusion(ledger, id, Some(index), size);
        }
        if let Some(delegated) = &answer.delegated
            && let Ok(delegation) = EntryId::from_slice(&delegated.delegation)
        {
            receipt.delegation_inclusion = self.inclusion(ledger, delegation, None, size);
        }
    }

    /// [`Evidence::attach`] from what is kept only (no store read, for an async thread), for an
    /// answer whose receipt names no revocation: `false` when a proof it needs is not kept.
    pub(crate) fn attach_kept(
        &self,
        answer: &pb::CheckResponse,
        receipt: &mut pb::DecisionReceipt,
    ) -> bool {
        let Some(note) = self.checkpoints.latest() else {
            return true;
        };
        let size = note.checkpoint.size;
        let kept = |named: &[u8]| match EntryId::from_slice(named) {
            Ok(id) => self.proofs.get(&(id, size)),
            Err(_) => Some(None),
        };
        let Some(grant) = kept(&answer.grant) else {
            return false;
        };
        let delegation = match &answer.delegated {
            Some(d) => match kept(&d.delegation) {
                Some(proof) => proof,
                None => return false,
            },
            None => None,
        };
        receipt.checkpoint = self.text(note);
        receipt.grant_inclusion = grant;
        receipt.delegation_inclusion = delegation;
        true
    }

    /// The text of `note` (with the cosignatures it has now), computed once per note.
    fn text(&self, note: SignedNote) -> String {
        if let Ok(kept) = self.text.read()
            && let Some((seen, text)) = kept.as_ref()
            && *seen == note
        {
            return text.clone();
        }
        let text = note.to_text();
        if let Ok(mut kept) = self.text.write() {
            *kept = Some((note, text.clone()));
        }
        text
    }

    /// The proof that `entry` (at `index`, when known) is in the tree of `size` leaves; kept
    /// unless the store failed to answer.
    fn inclusion(
        &self,
        ledger: &Ledger,
        entry: EntryId,
        index: Option<u64>,
        size: u64,
    ) -> Option<pb::InclusionProof> {
        if let Some(kept) = self.proofs.get(&(entry, size)) {
            return kept;
        }
        let index = match index {
            Some(index) => index,
            None => ledger.entry_index(&entry).ok()??,
        };
        let proof = ledger
            .tree()
            .inclusion(index, size, entry)
            .map(|p| p.to_pb());
        // An entry past the checkpoint has no proof in its tree: that too is kept for this size.
        if proof.is_some() || index >= size {
            self.proofs.insert((entry, size), proof.clone());
        }
        proof
    }
}
