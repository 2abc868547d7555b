//! Step 8 for the bodies of consent and the answers to it: a registrar's `Accreditation` and
//! `Suspension` of a collector, a citizen's `Grant`, `Revoke` and `Request` (in its own name or,
//! with the delegation checks of `delegation.rs`, in a person's), a collector's `Ack`.

use super::delegation::{delegation_for, minor_until, not_in_force, outside_purposes};
use super::{FeedState, LedgerView, Missing, Rejection, Verdict};
use super::{pending, reject};
use crate::body::{Accreditation, Ack, Body, BodyKind, Grant, Request, Revoke, Suspension};
use crate::entry::Entry;
use crate::ids::FeedId;
use crate::scope::PolicyScope;
use crate::vocab::Role;

/// An `Accreditation`: of a collector, valid after its time.
pub(super) fn accreditation<V: LedgerView>(
    view: &V,
    entry: &Entry,
    a: &Accreditation,
    next: FeedState,
) -> Result<Verdict, V::Error> {
    match collector_role(view, &a.collector)? {
        None => return pending(Missing::Feed(a.collector)),
        Some(false) => return reject(Rejection::NotACollector),
        Some(true) => {}
    }
    if a.valid_until <= entry.time_ms {
        return reject(Rejection::AccreditationExpired);
    }
    Ok(Verdict::Accept { state: next })
}

/// A `Suspension`: of a collector.
pub(super) fn suspension<V: LedgerView>(
    view: &V,
    s: &Suspension,
    next: FeedState,
) -> Result<Verdict, V::Error> {
    match collector_role(view, &s.collector)? {
        None => return pending(Missing::Feed(s.collector)),
        Some(false) => return reject(Rejection::NotACollector),
        Some(true) => {}
    }
    Ok(Verdict::Accept { state: next })
}

/// A `Grant`: not in a minor's feed, within its delegation, to a collector, within its policy.
pub(super) fn grant<V: LedgerView>(
    view: &V,
    entry: &Entry,
    grant: &Grant,
    next: FeedState,
) -> Result<Verdict, V::Error> {
    if let Some(until_ms) = minor_until(view, entry)? {
        return reject(Rejection::MinorFeed {
            body: BodyKind::Grant,
            until_ms,
        });
    }
    if let Some(on_behalf) = &grant.on_behalf {
        let (from_ms, delegation) = match delegation_for(view, entry, on_behalf)? {
            Ok(held) => held,
            Err(verdict) => return Ok(verdict),
        };
        if !delegation.covers_collector(&grant.collector) {
            return reject(Rejection::CollectorNotDelegated(grant.collector));
        }
        if let Some(p) = outside_purposes(&delegation, grant.purposes) {
            return reject(Rejection::PurposeNotDelegated(p));
        }
        if let Some(r) = not_in_force(entry, from_ms, &delegation) {
            return reject(r);
        }
    }
    match collector_role(view, &grant.collector)? {
        None => return pending(Missing::Feed(grant.collector)),
        Some(false) => return reject(Rejection::NotACollector),
        Some(true) => {}
    }
    let Some(policy_entry) = view.entry(&grant.policy)? else {
        return pending(Missing::Entry(grant.policy));
    };
    let Body::Policy(policy) = &policy_entry.body else {
        return reject(Rejection::PolicyNotOfCollector);
    };
    if policy_entry.feed != grant.collector {
        return reject(Rejection::PolicyNotOfCollector);
    }
    if !grant.purposes.is_subset(policy.purposes) {
        return reject(Rejection::PurposeNotInPolicy);
    }
    if !grant.categories.is_subset(policy.categories) {
        return reject(Rejection::CategoryNotInPolicy);
    }
    if grant.retention_days > policy.retention_days {
        return reject(Rejection::RetentionExceedsPolicy(policy.retention_days));
    }
    if let Some(scope) = &grant.scope {
        let none = PolicyScope::default();
        if let Err(r) = scope.within(policy.scope.as_ref().unwrap_or(&none)) {
            return reject(r);
        }
    }
    Ok(Verdict::Accept { state: next })
}

/// A `Revoke`: of a grant this feed may revoke, within its delegation, not revoked by it before.
pub(super) fn revoke<V: LedgerView>(
    view: &V,
    entry: &Entry,
    revoke: &Revoke,
    next: FeedState,
) -> Result<Verdict, V::Error> {
    let held = match &revoke.on_behalf {
        None => None,
        Some(on_behalf) => match delegation_for(view, entry, on_behalf)? {
            Ok(held) => Some(held),
            Err(verdict) => return Ok(verdict),
        },
    };
    // A grant of another feed (a delegate's, or the person's) may not have arrived yet;
    // one of this feed would be held (it comes earlier in the feed).
    let Some(granted) = view.entry(&revoke.grant)? else {
        return pending(Missing::Entry(revoke.grant));
    };
    let Body::Grant(g) = &granted.body else {
        return reject(Rejection::UnknownGrant);
    };
    // Whose grant this feed may revoke. The grant's subject is the person it was made in
    // the name of, else the feed that signed it. In its own name: a grant it signed, or
    // one whose subject it is (a delegate's in its name). In a person's name: a grant
    // whose subject is that person, never one a delegate of the person made for someone
    // else.
    let subject = g.on_behalf.map_or(granted.feed, |o| o.person);
    let concerns = match &revoke.on_behalf {
        None => granted.feed == entry.feed || subject == entry.feed,
        Some(on_behalf) => subject == on_behalf.person,
    };
    if !concerns {
        return reject(Rejection::UnknownGrant);
    }
    if let Some((from_ms, delegation)) = &held {
        if !delegation.covers_collector(&g.collector) {
            return reject(Rejection::CollectorNotDelegated(g.collector));
        }
        if let Some(r) = not_in_force(entry, *from_ms, delegation) {
            return reject(r);
        }
    }
    if view.revoked_by(&revoke.grant, &entry.feed)? {
        return reject(Rejection::AlreadyRevoked);
    }
    Ok(Verdict::Accept { state: next })
}

/// A `Request`: within its delegation, to a collector.
pub(super) fn request<V: LedgerView>(
    view: &V,
    entry: &Entry,
    request: &Request,
    next: FeedState,
) -> Result<Verdict, V::Error> {
    if let Some(on_behalf) = &request.on_behalf {
        let (from_ms, delegation) = match delegation_for(view, entry, on_behalf)? {
            Ok(held) => held,
            Err(verdict) => return Ok(verdict),
        };
        if !delegation.covers_collector(&request.collector) {
            return reject(Rejection::CollectorNotDelegated(request.collector));
        }
        if let Some(r) = not_in_force(entry, from_ms, &delegation) {
            return reject(r);
        }
    }
    match collector_role(view, &request.collector)? {
        None => return pending(Missing::Feed(request.collector)),
        Some(false) => return reject(Rejection::NotACollector),
        Some(true) => {}
    }
    Ok(Verdict::Accept { state: next })
}

/// An `Ack`: of a request to this collector, or of an erasing revocation of a grant to it.
pub(super) fn ack<V: LedgerView>(
    view: &V,
    entry: &Entry,
    ack: &Ack,
    next: FeedState,
) -> Result<Verdict, V::Error> {
    let Some(target) = view.entry(&ack.request)? else {
        return pending(Missing::Entry(ack.request));
    };
    let addressed_to = match &target.body {
        Body::Request(r) => Some(r.collector),
        Body::Revoke(r) if r.erase => match view.entry(&r.grant)? {
            Some(Entry {
                body: Body::Grant(g),
                ..
            }) => Some(g.collector),
            _ => None,
        },
        _ => None,
    };
    if addressed_to != Some(entry.feed) {
        return reject(Rejection::AckNotForCollector);
    }
    Ok(Verdict::Accept { state: next })
}

/// `None`: unknown feed; `Some(is_collector)` otherwise.
fn collector_role<V: LedgerView>(view: &V, feed: &FeedId) -> Result<Option<bool>, V::Error> {
    Ok(view.feed(feed)?.map(|s| s.role == Role::Collector))
}
