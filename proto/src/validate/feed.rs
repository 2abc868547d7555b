//! The checks of an entry against its feed before its body is read: whether the author's keys
//! signed it at its seq (equivocation evidence), an inception of a feed not known yet, an entry
//! past the head (a gap), and its time.

use super::{FeedState, KeyState, Missing, Rejection, Rules, Verdict};
use crate::body::{Body, Inception};
use crate::entry::Entry;
use crate::keys::PublicKey;
use crate::limits::{MAX_CLOCK_SKEW_MS, MIN_TIME_MS};
use crate::vocab::Role;

/// Whether the author signed `entry` at its seq, given `before`: the feed's keys once the entry at
/// `seq - 1` is applied (`None` for an inception). True when the key in force signed it, or when it
/// is a `Rotation` to the committed next key signed by that key; for seq 0, when the inception's
/// own key signed it. Two different entries at one seq that both pass are an equivocation.
pub fn author_signed(entry: &Entry, before: Option<&KeyState>) -> bool {
    author_signed_with(entry, before, |key| {
        PublicKey::from_bytes(key).is_ok_and(|k| entry.verify(&k))
    })
}

pub(super) fn author_signed_with(
    entry: &Entry,
    before: Option<&KeyState>,
    signed_by: impl Fn(&[u8; 32]) -> bool,
) -> bool {
    match (entry.seq, before, &entry.body) {
        (0, _, Body::Inception(inception)) => signed_by(&inception.signing_key.to_bytes()),
        (0, _, _) | (_, None, _) => false,
        (_, Some(keys), body) => {
            signed_by(&keys.signing_key)
                || matches!(body, Body::Rotation(r)
                    if r.signing_key.next_key_digest() == keys.next_key_digest
                        && signed_by(&r.signing_key.to_bytes()))
        }
    }
}

/// An entry past `head + 1` of a known feed: pending on its predecessor, its signature checked
/// where the key that must have signed it is known. A `Rotation` names its own key: not signed by
/// it, it is refused (`bad-signature`); signed by it, it is verified when that key is the one the
/// feed committed to next (the first rotation after the head), and unverifiable otherwise (a
/// later rotation's key is not known yet). Any other entry is verified when the feed's current
/// key signed it, and otherwise unverifiable, not refused: a rotation may lie in the gap, and the
/// entry may be signed by the key it introduced.
pub(super) fn gap<E>(
    entry: &Entry,
    state: &FeedState,
    signed_by: impl Fn(&[u8; 32]) -> bool,
) -> Result<Verdict, E> {
    let verified = match &entry.body {
        Body::Rotation(rotation) => {
            if !signed_by(&rotation.signing_key.to_bytes()) {
                return Ok(Verdict::Reject(Rejection::BadSignature));
            }
            rotation.signing_key.next_key_digest() == state.next_key_digest
        }
        _ => signed_by(&state.signing_key),
    };
    Ok(Verdict::Pending {
        missing: Missing::Seq(entry.feed, entry.seq - 1),
        verified,
    })
}

pub(super) fn accept_inception(
    entry: &Entry,
    inception: &Inception,
    rules: &Rules<'_>,
    signed: bool,
) -> Verdict {
    if let Some(r) = time_problem(entry.time_ms, None, rules.now_ms) {
        return Verdict::Reject(r);
    }
    if inception.role == Role::Registrar && !rules.registrars.contains(&entry.feed) {
        return Verdict::Reject(Rejection::RegistrarNotInGenesis);
    }
    if !signed {
        return Verdict::Reject(Rejection::BadSignature);
    }
    Verdict::Accept {
        state: FeedState {
            role: inception.role,
            head_seq: 0,
            head_id: entry.id,
            head_time_ms: entry.time_ms,
            signing_key: inception.signing_key.to_bytes(),
            next_key_digest: inception.next_key_digest,
            frozen: false,
            policy_version: 0,
            policy_head: None,
            policy_base: None,
        },
    }
}

pub(super) fn time_problem(time_ms: u64, prev_ms: Option<u64>, now_ms: u64) -> Option<Rejection> {
    if time_ms < MIN_TIME_MS {
        return Some(Rejection::TimeTooOld(time_ms));
    }
    if time_ms > now_ms.saturating_add(MAX_CLOCK_SKEW_MS) {
        return Some(Rejection::TimeInFuture {
            time_ms,
            now_ms,
            skew_ms: MAX_CLOCK_SKEW_MS,
        });
    }
    match prev_ms {
        Some(prev_ms) if time_ms < prev_ms => Some(Rejection::TimeBeforePrev { time_ms, prev_ms }),
        _ => None,
    }
}
