//! Step 8 for the delegation bodies (a `Delegation`, an `Undelegation`, an `Endorsement`), and
//! the delegation checks of any entry a delegate signs in a person's name (`on_behalf`): the
//! delegation named, its powers, collectors and purposes, its force at the entry's time, and
//! whether the feed is a minor's.

use super::{FeedState, LedgerView, Missing, Rejection, Verdict};
use super::{pending, reject};
use crate::body::{Body, BodyKind, Delegation, Endorsement, OnBehalf, Undelegation};
use crate::delegation::power_needed;
use crate::entry::Entry;
use crate::vocab::{DelegationKind, Purpose};

/// A `Delegation`: not to this feed, a guardian's where it stands, none other in a minor's feed.
pub(super) fn delegation<V: LedgerView>(
    view: &V,
    entry: &Entry,
    d: &Delegation,
    next: FeedState,
) -> Result<Verdict, V::Error> {
    if d.delegate == entry.feed {
        return reject(Rejection::BadField {
            field: "delegation.delegate",
            problem: "must not be this feed".into(),
        });
    }
    if d.co_signer == Some(entry.feed) {
        return reject(Rejection::BadField {
            field: "delegation.co_signer",
            problem: "must not be this feed".into(),
        });
    }
    if d.kind == DelegationKind::Guardian {
        let placed = match entry.seq {
            1 => true,
            // The second guardian mirrors the first: the same end, and 2 of 2 both ways or
            // neither (each names the other's delegate as its co-signer).
            2 => matches!(
                view.entry_at(&entry.feed, 1)?,
                Some(Entry { body: Body::Delegation(first), .. })
                    if first.kind == DelegationKind::Guardian
                        && first.valid_until == d.valid_until
                        && match (first.co_signer, d.co_signer) {
                            (None, None) => true,
                            (Some(a), Some(b)) => a == d.delegate && b == first.delegate,
                            _ => false,
                        }
            ),
            _ => false,
        };
        if !placed {
            return reject(Rejection::GuardianMisplaced);
        }
    }
    // The second guardian (at seq 2, checked above) is the one delegation a minor's feed
    // may sign.
    if d.kind != DelegationKind::Guardian
        && let Some(until_ms) = minor_until(view, entry)?
    {
        return reject(Rejection::MinorFeed {
            body: BodyKind::Delegation,
            until_ms,
        });
    }
    Ok(Verdict::Accept { state: next })
}

/// An `Undelegation`: of a delegation of or to this feed, not a guardian's in a minor's feed.
pub(super) fn undelegation<V: LedgerView>(
    view: &V,
    entry: &Entry,
    u: &Undelegation,
    next: FeedState,
) -> Result<Verdict, V::Error> {
    if u.void_from_ms.is_some_and(|t| t > entry.time_ms) {
        return reject(Rejection::BadField {
            field: "undelegation.void_from_ms",
            problem: "must not be after the entry's time".into(),
        });
    }
    // The delegation may be another feed's (a delegate resigning): pending until held.
    let Some(named) = view.entry(&u.delegation)? else {
        return pending(Missing::Entry(u.delegation));
    };
    let Body::Delegation(d) = &named.body else {
        return reject(Rejection::UnknownDelegation);
    };
    if named.feed != entry.feed && d.delegate != entry.feed {
        return reject(Rejection::UnknownDelegation);
    }
    if d.kind == DelegationKind::Guardian
        && let Some(until_ms) = minor_until(view, entry)?
    {
        return reject(Rejection::MinorFeed {
            body: BodyKind::Undelegation,
            until_ms,
        });
    }
    Ok(Verdict::Accept { state: next })
}

/// An `Endorsement`: by the co-signer its grant's delegation names, within its own delegation.
pub(super) fn endorsement<V: LedgerView>(
    view: &V,
    entry: &Entry,
    e: &Endorsement,
    next: FeedState,
) -> Result<Verdict, V::Error> {
    let (from_ms, delegation) = match delegation_for(view, entry, &e.on_behalf)? {
        Ok(held) => held,
        Err(verdict) => return Ok(verdict),
    };
    let Some(granted) = view.entry(&e.grant)? else {
        return pending(Missing::Entry(e.grant));
    };
    let Body::Grant(g) = &granted.body else {
        return reject(Rejection::NotEndorsable);
    };
    let Some(theirs) = g.on_behalf.filter(|o| o.person == e.on_behalf.person) else {
        return reject(Rejection::NotEndorsable);
    };
    // The grant's delegation is held: the grant was accepted after it.
    let endorsable = matches!(
        view.entry(&theirs.delegation)?,
        Some(Entry { body: Body::Delegation(d), .. }) if d.co_signer == Some(entry.feed)
    );
    if !endorsable {
        return reject(Rejection::NotEndorsable);
    }
    if !delegation.covers_collector(&g.collector) {
        return reject(Rejection::CollectorNotDelegated(g.collector));
    }
    if let Some(p) = outside_purposes(&delegation, g.purposes) {
        return reject(Rejection::PurposeNotDelegated(p));
    }
    if let Some(r) = not_in_force(entry, from_ms, &delegation) {
        return reject(r);
    }
    Ok(Verdict::Accept { state: next })
}

/// The delegation a delegated `entry` names in `on_behalf`, with its signed time: a
/// `Delegation` of `on_behalf.person` naming `entry.feed` as delegate (`not-delegated`), giving
/// the power the body needs (`power-not-delegated`). `Err` holds the verdict otherwise:
/// `bad-field` when `on_behalf.person` is the entry's own feed, pending while the delegation is
/// not held (it is in another feed).
pub(super) fn delegation_for<V: LedgerView>(
    view: &V,
    entry: &Entry,
    on_behalf: &OnBehalf,
) -> Result<Result<(u64, Delegation), Verdict>, V::Error> {
    if on_behalf.person == entry.feed {
        return Ok(Err(Verdict::Reject(Rejection::BadField {
            field: "on_behalf.person",
            problem: "must not be this feed".into(),
        })));
    }
    let Some(held) = view.entry(&on_behalf.delegation)? else {
        return Ok(Err(Verdict::Pending {
            missing: Missing::Entry(on_behalf.delegation),
            verified: true,
        }));
    };
    let (feed, time_ms) = (held.feed, held.time_ms);
    let Body::Delegation(delegation) = held.body else {
        return Ok(Err(Verdict::Reject(Rejection::NotDelegated)));
    };
    if feed != on_behalf.person || delegation.delegate != entry.feed {
        return Ok(Err(Verdict::Reject(Rejection::NotDelegated)));
    }
    if !power_needed(&entry.body).is_some_and(|p| delegation.powers.allows(p)) {
        return Ok(Err(Verdict::Reject(Rejection::PowerNotDelegated(
            entry.body.kind(),
        ))));
    }
    Ok(Ok((time_ms, delegation)))
}

/// The first purpose (in wire order) of `purposes` that `d` does not let its delegate grant.
pub(super) fn outside_purposes(
    d: &Delegation,
    purposes: crate::vocab::PurposeSet,
) -> Option<Purpose> {
    if d.purposes.is_empty() {
        return None;
    }
    purposes.iter().find(|p| !d.purposes.contains(*p))
}

/// `delegation-not-in-force` when `entry` is signed before its delegation (signed at
/// `from_ms`) or at or after its `valid_until`.
pub(super) fn not_in_force(entry: &Entry, from_ms: u64, d: &Delegation) -> Option<Rejection> {
    let outside =
        entry.time_ms < from_ms || d.valid_until.is_some_and(|until| entry.time_ms >= until);
    outside.then_some(Rejection::DelegationNotInForce {
        signed_ms: entry.time_ms,
        from_ms,
        until_ms: d.valid_until,
    })
}

/// The coming-of-age instant when `entry`'s feed is a minor's at the entry's time: its seq-1
/// entry is a GUARDIAN delegation whose `valid_until` is after `entry.time_ms`.
pub(super) fn minor_until<V: LedgerView>(view: &V, entry: &Entry) -> Result<Option<u64>, V::Error> {
    if entry.seq < 2 {
        return Ok(None);
    }
    Ok(match view.entry_at(&entry.feed, 1)? {
        Some(Entry {
            body: Body::Delegation(d),
            ..
        }) if d.kind == DelegationKind::Guardian => {
            d.valid_until.filter(|until| *until > entry.time_ms)
        }
        _ => None,
    })
}
