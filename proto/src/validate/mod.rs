//! Whether an entry may extend its feed, given the ledger so far: pure functions over a
//! [`LedgerView`] that return a typed [`Rejection`] for every reason an entry is refused.
//!
//! This module holds the verdict's types and the order of the checks ([`validate_preverified`]).
//! The reasons of a refusal are in `rejection.rs`; the checks of an entry against its feed before
//! its body is read (the author's keys, an inception, a gap, time) in `feed.rs`; the body rules
//! of step 8 in `policy.rs` (policies and their consultations), `consent.rs` (accreditations,
//! suspensions, grants, revocations, requests, acks) and `delegation.rs` (delegations,
//! undelegations, endorsements, and the delegation checks of any entry with `on_behalf`).
//!
//! # The order of the checks
//!
//! The reason a refusal names, when several apply, depends on the order, and for some delegated
//! entries so does the verdict: a check that needs an entry the node does not hold makes the entry
//! pending, so an entry that would fail a later check (a revocation in someone's name, signed out
//! of its delegation's force, of a grant not held yet) is pending in this order and refused in one
//! that checks that first. So every implementation checks in this order. An entry is first decoded
//! ([`Entry::from_signed`]: size, signature length, protobuf, canonical encoding, a body, each
//! field, the seq/feed/prev form). Then the first rule that applies decides. "Signed by K" is the
//! signature rule of [`crate::sig`] under key K; a node may verify signatures ahead, in
//! parallel (consent-node does), and the verdict is the same.
//!
//! **At a seq the node holds** (`seq <= head`), the signature decides before anything is called an
//! equivocation:
//! 1. no entry held at that seq (a hole: the node's own damage): `unproven-conflict`;
//! 2. the same id as the entry held: duplicate (the same bytes as an entry already verified);
//! 3. the feed is frozen: `feed-frozen`;
//! 4. signed by the author's keys as of `seq - 1` ([`author_signed`]): equivocation;
//! 5. otherwise `unproven-conflict` (never `bad-signature`: it may be the author's, on a branch
//!    that rotated earlier).
//!
//! **Of a feed the node does not know**: an inception is checked for its time (`time-too-old`,
//! `time-in-future`), then, for a registrar, the genesis (`registrar-not-in-genesis`), then signed
//! by its own key (`bad-signature`), and accepted; any other entry is pending, awaiting seq 0, its
//! signature unchecked (see the crate docs, *Pending entries*).
//!
//! **Of a feed the node knows, at `seq > head`**:
//! 1. the feed is frozen: `feed-frozen`;
//! 2. `seq > head + 1`: a `Rotation` not signed by the key it names is `bad-signature`;
//!    otherwise pending, awaiting `seq - 1`, *verified* if the feed's current key signed it (a
//!    `Rotation`: if its key hashes to the committed next-key digest), else *unverifiable* (see
//!    the crate docs, *Pending entries*);
//! 3. `prev` is not the head's id: `wrong-prev` (before the signature: it depends on which branch
//!    the node holds);
//! 4. time: `time-too-old`, `time-in-future`, `time-before-prev`, in that order;
//! 5. the body is not allowed for the feed's role: `body-not-allowed`;
//! 6. a `Rotation`: its key does not hash to the committed digest (`rotation-key-not-committed`),
//!    then not signed by that key (`bad-signature`); otherwise accepted;
//! 7. any other body: not signed by the key in force: `bad-signature`;
//! 8. the body's references and rules, the signature verified (a reference the node does not
//!    hold makes the entry pending):
//!    - `Policy`: a version above the collector's last (`policy-version-not-increasing`); then,
//!      compared with the previous version `prev` and the last version that is no draft `base`
//!      (both held: earlier entries of the feed; none for a first policy): `id-redefined`
//!      ([`crate::policy_change::redefined`] against `prev`, then `base`); then, when it has a
//!      consultation, `consultation-too-short` (`closes_ms <= time_ms`, or a widening shorter
//!      than the genesis's `widening_min_days`) and `consultation-too-long` (over
//!      [`MAX_CONSULTATION_DAYS`](crate::limits::MAX_CONSULTATION_DAYS)); without one, a
//!      widening on a network whose genesis has `[consultation]` is
//!      `widening-without-consultation` (crate docs, "Consultations");
//!    - `Stance`: the draft held (else pending), a `Policy` with a consultation
//!      (`not-a-consultation`), the stance's time in `[draft time, closes_ms)`
//!      (`outside-consultation-window`);
//!    - `ConsultationResponse`: the draft held and of the responding feed
//!      (`not-own-consultation`: never pending), a `Policy` with a consultation
//!      (`not-a-consultation`);
//!    - `ConsultationOutcome`: the draft held (else pending), a `Policy` with a consultation
//!      (`not-a-consultation`), signed at or after the draft and, when approving, at or after
//!      `closes_ms` (`outcome-too-early`); then each listed response in list order held (else
//!      pending), a `ConsultationResponse` naming this draft (`response-not-for-draft`);
//!    - `Accreditation`: the collector known (else pending), a collector feed
//!      (`not-a-collector`), then `valid_until` after the entry's time (`accreditation-expired`);
//!    - `Suspension`, `Request`: the collector known (else pending), a collector feed
//!      (`not-a-collector`); a `Request` with `on_behalf` first passes the delegation checks,
//!      `collector-not-delegated` and `delegation-not-in-force`;
//!    - `Grant`: in a *minor's feed* (its seq-1 entry a GUARDIAN `Delegation` whose
//!      `valid_until` is after the entry's time): `minor-feed`; with `on_behalf`, the delegation
//!      checks (below), then `collector-not-delegated`, `purpose-not-delegated` (the first
//!      purpose outside, by wire number), `delegation-not-in-force`; then the collector known
//!      (else pending) and a collector feed (`not-a-collector`); the
//!      policy entry held (else pending), a `Policy` of that collector (`policy-not-of-collector`);
//!      then `purpose-not-in-policy`, `category-not-in-policy`, `retention-exceeds-policy`;
//!      then, for a grant with a scope, [`crate::scope::GrantScope::within`] the policy's scope
//!      (an empty one for a policy without): `zone-not-in-policy`, `sensor-not-in-policy`,
//!      `window-not-in-policy`, `form-not-offered`, the first offending item in list order (of
//!      sensor kinds, the lowest wire number);
//!    - `Revoke`: with `on_behalf`, the delegation checks; the grant held (else pending: it may
//!      be another feed's), a `Grant` this feed may revoke (`unknown-grant`). The grant's
//!      subject is its `on_behalf.person`, else the feed that signed it. Without `on_behalf`: a
//!      grant this feed signed, or one whose subject is this feed; with `on_behalf`, a grant
//!      whose subject is `on_behalf.person`. Then, with `on_behalf`, `collector-not-delegated`
//!      (the grant's collector) and `delegation-not-in-force`; then not revoked by this same feed
//!      before (`already-revoked`, [`LedgerView::revoked_by`]);
//!    - `Delegation`: `delegate` or `co_signer` this feed (`bad-field`); a GUARDIAN delegation
//!      stands at seq 1, or at seq 2 after a GUARDIAN delegation with the same `valid_until`
//!      that it mirrors: both have a `co_signer` or neither has, and when they have, each
//!      `co_signer` is the other delegation's `delegate` (`guardian-misplaced`); any other
//!      delegation in a minor's feed is `minor-feed`;
//!    - `Undelegation`: `void_from_ms` after the entry's time (`bad-field`); the delegation held
//!      (else pending: a delegate resigns from another feed's), a `Delegation` of this feed or
//!      naming this feed as delegate (`unknown-delegation`); of a GUARDIAN delegation, in a
//!      minor's feed: `minor-feed`;
//!    - `Endorsement`: the delegation checks; the grant held (else pending), a `Grant` whose
//!      `on_behalf.person` is this one's and whose delegation names this feed as `co_signer`
//!      (`not-endorsable`); then `collector-not-delegated`, `purpose-not-delegated` (of the
//!      grant) and `delegation-not-in-force`;
//!    - `Ack`: the request or revocation held (else pending), a `Request` naming this collector
//!      or an erasing `Revoke` of a grant to it (`ack-not-for-collector`).
//!
//!    The `bad-field`s of this step (`on_behalf.person`, a delegation's `delegate` or
//!    `co_signer` equal to this feed, an undelegation's `void_from_ms` after its time) come
//!    after the signature; the other field rules of these bodies are decoding's, before
//!    anything else. The *delegation checks* of an entry with `on_behalf` (in the delegate's
//!    own feed): `on_behalf.person` is not this feed (`bad-field`); the delegation held (else
//!    pending; when the grant a revocation or endorsement names is missing too, the delegation
//!    is what `missing` names), a `Delegation` in `on_behalf.person`'s feed naming this feed as
//!    its delegate (`not-delegated`), giving the power the body needs (`power-not-delegated`: a
//!    grant or an endorsement GRANT, a revocation REVOKE or GRANT, a request REQUEST). Whether an
//!    undelegation ended the delegation is no validity question ([`crate::delegation`]): the
//!    entry is judged by signed times alone, so every node judges it alike in any arrival order.
//!
//! **Equivocation evidence.** A second entry at an existing seq `s` is evidence against the author
//! when the author's keys *as of seq `s - 1`* signed it: the key in force after `s - 1`, or, for a
//! `Rotation`, the committed next key it introduces (see [`author_signed`]). Comparing against the
//! key this node holds *at* `s` would not do: if one branch rotates at `s` and the other does not,
//! each node would find the other branch's entry badly signed. A conflicting entry that the keys as
//! of `s - 1` did not sign may still be the author's, on a branch that rotated earlier: it is
//! refused as [`Rejection::UnprovenConflict`], which names where to fetch the sender's branch from,
//! and, like [`Rejection::WrongPrev`], says nothing about the sender (see [`Rejection::blameless`]).

use std::collections::HashSet;

use crate::body::{Body, BodyKind};
use crate::consultation;
use crate::entry::Entry;
use crate::ids::{Digest, EntryId, FeedId};
use crate::keys::PublicKey;
use crate::vocab::Role;

mod consent;
mod delegation;
mod feed;
mod policy;
mod rejection;

pub use self::feed::author_signed;
pub use self::rejection::{Rejection, RejectionClass};

use self::feed::{accept_inception, author_signed_with, gap, time_problem};

/// What a node knows about one feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedState {
    /// Role fixed at inception.
    pub role: Role,
    /// Head sequence number.
    pub head_seq: u64,
    /// Head entry id.
    pub head_id: EntryId,
    /// Head entry time.
    pub head_time_ms: u64,
    /// Key that signs the next entry.
    /// Key that signs the next entry: the encoding of a [`PublicKey`] checked when the inception or
    /// rotation introducing it was accepted. Kept encoded: decompressing a point costs a third of
    /// a signature check, and most reads need no key.
    pub signing_key: [u8; 32],
    /// Digest of the key a rotation must introduce.
    pub next_key_digest: Digest,
    /// Frozen after an equivocation.
    pub frozen: bool,
    /// Last policy version (collectors; 0 before the first policy).
    pub policy_version: u32,
    /// The feed's latest Policy entry (collectors; `None` before the first).
    pub policy_head: Option<EntryId>,
    /// Its latest Policy entry that is not a draft (the *base*: crate docs, "Consultations").
    pub policy_base: Option<EntryId>,
}

/// Read access to the ledger that validation needs. The node implements it over its store
/// (plus entries staged earlier in the same commit).
pub trait LedgerView {
    /// Storage error.
    type Error;
    /// A feed's state.
    fn feed(&self, feed: &FeedId) -> Result<Option<FeedState>, Self::Error>;
    /// An accepted entry by id.
    fn entry(&self, id: &EntryId) -> Result<Option<Entry>, Self::Error>;
    /// The accepted entry at `(feed, seq)`.
    fn entry_at(&self, feed: &FeedId, seq: u64) -> Result<Option<Entry>, Self::Error>;
    /// The author's keys once the accepted entry at `(feed, seq)` is applied (for equivocation
    /// evidence at `seq + 1`); `None` when the feed holds no entry at `seq`.
    fn keys_after(&self, feed: &FeedId, seq: u64) -> Result<Option<KeyState>, Self::Error>;
    /// Whether `feed` revoked `grant` in an entry accepted earlier (a `Revoke` of `feed` naming
    /// it). Since a grant may be revoked by several feeds (its own, the person's, delegates'),
    /// `already-revoked` asks about the revoking feed alone: the verdict then depends on that
    /// feed's own earlier entries, never on other feeds' arrival order.
    fn revoked_by(&self, grant: &EntryId, feed: &FeedId) -> Result<bool, Self::Error>;
}

/// A feed's keys at one point of its chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyState {
    /// The key that signs the next entry that is not a rotation (encoded [`PublicKey`]).
    pub signing_key: [u8; 32],
    /// The digest the key of the next rotation must have.
    pub next_key_digest: Digest,
    /// Seq of the inception or rotation that introduced `signing_key`.
    pub since: u64,
}

/// Network-wide rules the node applies.
#[derive(Debug, Clone)]
pub struct Rules<'a> {
    /// Registrar feeds listed in the genesis.
    pub registrars: &'a HashSet<FeedId>,
    /// The node's clock, Unix ms.
    pub now_ms: u64,
    /// The genesis's `[consultation]` rules; `None`: the network requires no consultation.
    pub consultation: Option<consultation::Rules>,
}

/// What is awaited before a pending entry can be accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Missing {
    /// The entry at `(feed, seq)` (the predecessor, or the whole feed from seq 0).
    Seq(FeedId, u64),
    /// The entry with this id (a cross-feed reference).
    Entry(EntryId),
    /// The feed's inception.
    Feed(FeedId),
}

/// The verdict on one entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Append it; the feed's state becomes `state`.
    Accept {
        /// The feed's state after the entry.
        state: FeedState,
    },
    /// The node already holds this entry (same payload).
    Duplicate {
        /// The id of the entry held.
        existing: EntryId,
    },
    /// Hold it until `missing` arrives. `verified` is true when a key of the feed signed it:
    /// always for a missing reference (the entry is at `head + 1` and passed every check that
    /// does not need the reference); past `head + 1`, when the feed's current key signed it (or,
    /// for a `Rotation`, when it is signed by the key the feed committed to next). An entry of a
    /// feed the node does not know is never verified: no key of it is known. What a node does
    /// with each kind is in the crate's specification, *Pending entries*.
    Pending {
        /// What is awaited.
        missing: Missing,
        /// Whether a key of the feed signed it.
        verified: bool,
    },
    /// A second valid entry at an existing `(feed, seq)` with another id: keep both as proof, freeze the feed.
    Equivocation {
        /// The entry the node held at that seq.
        existing: Box<Entry>,
    },
    /// Refuse it.
    Reject(Rejection),
}

#[cfg(test)]
mod tests;

/// Decides what to do with a structurally valid entry.
pub fn validate<V: LedgerView>(
    entry: &Entry,
    view: &V,
    rules: &Rules<'_>,
) -> Result<Verdict, V::Error> {
    validate_preverified(entry, None, view, rules)
}

/// [`validate`], where the caller already verified the signature under `verified_under` (for
/// example in parallel, before the single-threaded write path). Any other key is verified here.
pub fn validate_preverified<V: LedgerView>(
    entry: &Entry,
    verified_under: Option<&[u8; 32]>,
    view: &V,
    rules: &Rules<'_>,
) -> Result<Verdict, V::Error> {
    let signed_by = |key: &[u8; 32]| {
        verified_under == Some(key) || PublicKey::from_bytes(key).is_ok_and(|k| entry.verify(&k))
    };
    let reject = |r| Ok(Verdict::Reject(r));
    let state = view.feed(&entry.feed)?;

    // Existing seq: duplicate or equivocation.
    if let Some(state) = &state {
        if entry.seq <= state.head_seq {
            let Some(existing) = view.entry_at(&entry.feed, entry.seq)? else {
                // Heads imply every entry below them is held: a hole is this node's damage, not
                // the sender's fault.
                return reject(Rejection::UnprovenConflict {
                    seq: entry.seq,
                    fetch_from: 0,
                });
            };
            if existing.id == entry.id {
                return Ok(Verdict::Duplicate {
                    existing: existing.id,
                });
            }
            if state.frozen {
                return reject(Rejection::FeedFrozen);
            }
            let before = match entry.seq {
                0 => None,
                seq => match view.keys_after(&entry.feed, seq - 1)? {
                    Some(keys) => Some(keys),
                    // A hole below the head: nothing to compare with here.
                    None => {
                        return reject(Rejection::UnprovenConflict {
                            seq: entry.seq,
                            fetch_from: 0,
                        });
                    }
                },
            };
            if author_signed_with(entry, before.as_ref(), signed_by) {
                return Ok(Verdict::Equivocation {
                    existing: Box::new(existing),
                });
            }
            return reject(Rejection::UnprovenConflict {
                seq: entry.seq,
                fetch_from: before.map_or(0, |k| k.since),
            });
        }
        if state.frozen {
            return reject(Rejection::FeedFrozen);
        }
    }

    let Some(state) = state else {
        return match &entry.body {
            Body::Inception(inception) => Ok(accept_inception(
                entry,
                inception,
                rules,
                signed_by(&inception.signing_key.to_bytes()),
            )),
            // A `Rotation` is signed by the key it names wherever it stands: one that is not can
            // never be accepted. Any other entry of an unknown feed is unverifiable: no key of
            // the feed is known (and a `Rotation`'s own key proves nothing about the feed).
            Body::Rotation(rotation) if !signed_by(&rotation.signing_key.to_bytes()) => {
                reject(Rejection::BadSignature)
            }
            _ => Ok(Verdict::Pending {
                missing: Missing::Seq(entry.feed, 0),
                verified: false,
            }),
        };
    };

    if entry.seq > state.head_seq + 1 {
        return gap(entry, &state, signed_by);
    }
    if entry.prev != Some(state.head_id) {
        let fetch_from = view
            .keys_after(&entry.feed, state.head_seq)?
            .map_or(0, |k| k.since);
        return reject(Rejection::WrongPrev {
            head_seq: state.head_seq,
            fetch_from,
        });
    }
    if let Some(r) = time_problem(entry.time_ms, Some(state.head_time_ms), rules.now_ms) {
        return reject(r);
    }
    let kind = entry.body.kind();
    if !kind.allowed_for(state.role) || kind == BodyKind::Inception {
        return reject(Rejection::BodyNotAllowed {
            role: state.role,
            body: kind,
        });
    }

    let mut next = FeedState {
        head_seq: entry.seq,
        head_id: entry.id,
        head_time_ms: entry.time_ms,
        ..state.clone()
    };
    match &entry.body {
        Body::Rotation(rotation) => {
            if rotation.signing_key.next_key_digest() != state.next_key_digest {
                return reject(Rejection::RotationKeyNotCommitted);
            }
            if !signed_by(&rotation.signing_key.to_bytes()) {
                return reject(Rejection::BadSignature);
            }
            next.signing_key = rotation.signing_key.to_bytes();
            next.next_key_digest = rotation.next_key_digest;
            return Ok(Verdict::Accept { state: next });
        }
        _ => {
            if !signed_by(&state.signing_key) {
                return reject(Rejection::BadSignature);
            }
        }
    }

    // References and body rules; the signature is verified from here on.
    match &entry.body {
        Body::Policy(policy) => policy::policy(view, rules, entry, &state, policy, next),
        Body::Stance(stance) => policy::stance(view, entry, stance, next),
        Body::Response(response) => policy::response(view, entry, response, next),
        Body::Outcome(outcome) => policy::outcome(view, entry, outcome, next),
        Body::Accreditation(a) => consent::accreditation(view, entry, a, next),
        Body::Suspension(s) => consent::suspension(view, s, next),
        Body::Grant(grant) => consent::grant(view, entry, grant, next),
        Body::Revoke(revoke) => consent::revoke(view, entry, revoke, next),
        Body::Request(request) => consent::request(view, entry, request, next),
        Body::Delegation(d) => delegation::delegation(view, entry, d, next),
        Body::Undelegation(u) => delegation::undelegation(view, entry, u, next),
        Body::Endorsement(e) => delegation::endorsement(view, entry, e, next),
        Body::Ack(ack) => consent::ack(view, entry, ack, next),
        Body::Inception(_) | Body::Rotation(_) => Ok(Verdict::Accept { state: next }),
    }
}

/// A rejection as step 8's body rules return it.
fn reject<E>(rejection: Rejection) -> Result<Verdict, E> {
    Ok(Verdict::Reject(rejection))
}

/// Waiting for `missing`, the signature already verified, as step 8's body rules return it.
fn pending<E>(missing: Missing) -> Result<Verdict, E> {
    Ok(Verdict::Pending {
        missing,
        verified: true,
    })
}
