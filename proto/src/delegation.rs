//! Delegation (crate docs, "Delegation"): the pure rules that the node, the collector SDK's cache
//! and [`crate::memory::MemoryLedger`] share, so each reads a delegated statement alike.
//!
//! A delegated statement lives in the delegate's own feed and names the person it speaks for and
//! the delegation it relies on ([`crate::body::OnBehalf`]). Validity checks the delegation as
//! signed (powers, collectors, purposes, `from_ms <= time < valid_until`); whether an
//! undelegation ended it is never a validity question. It is this module's rule: a delegated
//! statement **counts** only when signed inside its delegation as the entries present end it
//! ([`DelegationState::counts`]): a grant or an endorsement before the earliest `void_from_ms`, a
//! revocation or an opt-out before the earliest undelegation's signed time
//! ([`DelegationState::withdrawal_counts`]), so that withdrawing a delegate never brings back
//! what it withdrew. An ex-delegate can neither consent nor withdraw in the person's name any
//! more, and what it signed before the end stays (it can always take back a grant it signed:
//! [`revocation_counts`]).

use crate::body::{Body, Delegation, Undelegation};
use crate::consultation::Refusal;
use crate::entry::Entry;
use crate::ids::{EntryId, FeedId};
use crate::limits::{DAY_MS, DELEGATED_ENTRY_TOLERANCE_MS, MAX_CLOCK_SKEW_MS};
use crate::pb;
use crate::vocab::{DelegatedPower, DelegationKind};

/// The coming-of-age instant of a child born so that it comes of age on `year-month-day`: UTC
/// midnight of that date, Unix ms (what a GUARDIAN delegation's `valid_until` holds). `None` for
/// a date that does not exist or is before 1970-01-01. Proleptic Gregorian calendar (H. Hinnant's
/// `days_from_civil`).
pub fn coming_of_age_ms(year: i32, month: u8, day: u8) -> Option<u64> {
    if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
        return None;
    }
    let y = i64::from(year) - i64::from(month <= 2);
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    u64::try_from(days).ok()?.checked_mul(DAY_MS)
}

fn days_in_month(year: i32, month: u8) -> u8 {
    match month {
        4 | 6 | 9 | 11 => 30,
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        _ => 31,
    }
}

/// From when an undelegation signed at `entry_time_ms` voids its delegation: its
/// `void_from_ms`, or by default `entry_time_ms - MAX_CLOCK_SKEW_MS` (saturating at 0), so that
/// a delegate cannot slip in a statement dated just before the withdrawal it learnt of.
pub fn void_from(u: &Undelegation, entry_time_ms: u64) -> u64 {
    u.void_from_ms
        .unwrap_or_else(|| entry_time_ms.saturating_sub(MAX_CLOCK_SKEW_MS))
}

/// The power a delegated body needs: `Grant` for a grant and an endorsement, `Revoke` for a
/// revocation (a delegation giving `Grant` gives it too: [`crate::vocab::PowerSet::allows`]),
/// `Request` for a request; `None` for a body no delegate signs in someone's name.
pub fn power_needed(body: &Body) -> Option<DelegatedPower> {
    match body {
        Body::Grant(_) | Body::Endorsement(_) => Some(DelegatedPower::Grant),
        Body::Revoke(_) => Some(DelegatedPower::Revoke),
        Body::Request(_) => Some(DelegatedPower::Request),
        _ => None,
    }
}

/// A delegation as the rule reads it: built from the `Delegation` entry
/// ([`DelegationState::of`]) and the `Undelegation`s present ([`DelegationState::undelegated`],
/// in any order: the end is their minimum).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DelegationState {
    /// The `Delegation` entry.
    pub id: EntryId,
    /// The person who gave it (the feed holding the entry).
    pub person: FeedId,
    /// The delegate feed it names.
    pub delegate: FeedId,
    /// Assistant or guardian.
    pub kind: DelegationKind,
    /// The `Delegation` entry's signed time, Unix ms: nothing signed before counts.
    pub from_ms: u64,
    /// Exclusive end for consenting statements (grants, endorsements), Unix ms: the minimum of
    /// its `valid_until` and every present undelegation's [`void_from`]; `u64::MAX`: none.
    pub end_ms: u64,
    /// Exclusive end for withdrawals (revocations, opt-outs), Unix ms: the minimum of its
    /// `valid_until` and every present undelegation's signed time. Never before `end_ms`
    /// (`void_from_ms` is at most the undelegation's time), so an undelegation never undoes a
    /// withdrawal the delegate signed before it was signed.
    pub withdrawals_end_ms: u64,
    /// A guardian delegation's co-guardian, whose endorsement every grant under it needs.
    pub co_signer: Option<FeedId>,
}

impl DelegationState {
    /// The state of delegation `d`, entry `id` of `person`'s feed signed at `time_ms`, before any
    /// undelegation: it ends at its `valid_until` (`u64::MAX` without one).
    pub fn of(id: EntryId, person: FeedId, time_ms: u64, d: &Delegation) -> Self {
        DelegationState {
            id,
            person,
            delegate: d.delegate,
            kind: d.kind,
            from_ms: time_ms,
            end_ms: d.valid_until.unwrap_or(u64::MAX),
            withdrawals_end_ms: d.valid_until.unwrap_or(u64::MAX),
            co_signer: d.co_signer,
        }
    }

    /// Takes an undelegation signed at `signed_ms` voiding it from `void_from_ms`
    /// ([`void_from`]) into account.
    pub fn undelegated(&mut self, void_from_ms: u64, signed_ms: u64) {
        self.end_ms = self.end_ms.min(void_from_ms);
        self.withdrawals_end_ms = self.withdrawals_end_ms.min(signed_ms);
    }

    /// Whether a grant or an endorsement signed at `signed_ms` under this delegation counts:
    /// `from_ms <= signed_ms < end_ms`.
    pub fn counts(&self, signed_ms: u64) -> bool {
        self.from_ms <= signed_ms && signed_ms < self.end_ms
    }

    /// Whether a revocation or an opt-out signed at `signed_ms` under this delegation counts:
    /// `from_ms <= signed_ms <= withdrawals_end_ms` (a withdrawal signed in the same millisecond
    /// as the undelegation counts: withdrawal wins a tie; one at `valid_until` is not valid).
    pub fn withdrawal_counts(&self, signed_ms: u64) -> bool {
        self.from_ms <= signed_ms && signed_ms <= self.withdrawals_end_ms
    }
}

/// The delegation a delegated grant rests on, as a decision reports it (`CheckResponse.delegated`,
/// `DecisionPayload.delegated`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DelegationUsed {
    /// The `Delegation` entry.
    pub delegation: EntryId,
    /// The delegate feed that signed the grant.
    pub delegate: FeedId,
    /// Assistant or guardian ("made by a guardian", reported also after coming of age).
    pub kind: DelegationKind,
    /// For a 2-of-2 grant, the co-guardian's endorsement that counted.
    pub endorsement: Option<EntryId>,
}

impl DelegationUsed {
    /// The wire form.
    pub fn to_wire(&self) -> pb::DelegationUsed {
        let b = |bytes: &[u8; 32]| prost::bytes::Bytes::copy_from_slice(bytes);
        pb::DelegationUsed {
            delegation: b(&self.delegation.0),
            delegate: b(&self.delegate.0),
            kind: self.kind as i32,
            endorsement: self.endorsement.map(|e| b(&e.0)).unwrap_or_default(),
        }
    }

    /// From the wire form; `None` when an id is not 32 bytes (an endorsement 0 or 32) or the kind
    /// is unspecified or unknown.
    pub fn from_wire(w: &pb::DelegationUsed) -> Option<DelegationUsed> {
        Some(DelegationUsed {
            delegation: EntryId::from_slice(&w.delegation).ok()?,
            delegate: FeedId::from_slice(&w.delegate).ok()?,
            kind: DelegationKind::from_wire(w.kind)?,
            endorsement: match w.endorsement.len() {
                0 => None,
                _ => Some(EntryId::from_slice(&w.endorsement).ok()?),
            },
        })
    }
}

/// What the rule reads of a delegated grant ([`crate::decide::GrantFacts::via`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Via {
    /// Its delegation, ended by the undelegations present.
    pub delegation: DelegationState,
    /// The grant's signed time, Unix ms.
    pub signed_ms: u64,
    /// Under a delegation with a co-signer: the endorsement that counts
    /// ([`counting_endorsement`]); `None`: none (or no co-signer).
    pub endorsement: Option<EntryId>,
}

impl Via {
    /// What a decision naming the grant reports.
    pub fn used(&self) -> DelegationUsed {
        DelegationUsed {
            delegation: self.delegation.id,
            delegate: self.delegation.delegate,
            kind: self.delegation.kind,
            endorsement: self.endorsement,
        }
    }

    /// Whether the grant was signed inside its delegation as ended now.
    pub fn counts(&self) -> bool {
        self.delegation.counts(self.signed_ms)
    }

    /// Whether the grant still awaits the co-signer's counting endorsement.
    pub fn awaits_endorsement(&self) -> bool {
        self.delegation.co_signer.is_some() && self.endorsement.is_none()
    }
}

/// The endorsement that makes a grant under a delegation with co-signer `co_signer` count: of
/// `endorsements` (each `(endorsement id, endorser feed, signed time, the endorser's own
/// delegation as ended now)`, any order), the earliest by `(signed time, id bytes)` whose endorser
/// is `co_signer`, is that delegation's delegate, and whose delegation counts at its signed time.
/// `None` when `co_signer` is `None`, or no endorsement qualifies.
pub fn counting_endorsement(
    co_signer: Option<FeedId>,
    endorsements: &[(EntryId, FeedId, u64, &DelegationState)],
) -> Option<EntryId> {
    let co_signer = co_signer?;
    endorsements
        .iter()
        .filter(|(_, endorser, signed_ms, d)| {
            *endorser == co_signer && d.delegate == *endorser && d.counts(*signed_ms)
        })
        .min_by_key(|(id, _, signed_ms, _)| (*signed_ms, id.0))
        .map(|(id, ..)| *id)
}

/// Whether a revocation or an opt-out counts: the feed's own (`None`) always; a delegate's
/// (`Some((its delegation as ended now, its signed time))`) when signed before the delegation
/// ended for withdrawals ([`DelegationState::withdrawal_counts`]).
pub fn withdrawal_counts(via: Option<(&DelegationState, u64)>) -> bool {
    via.is_none_or(|(d, signed_ms)| d.withdrawal_counts(signed_ms))
}

/// Whether a valid revocation withdraws the grant it names: signed by the grant's own feed
/// (`revoker == granter`) or by the person it was made for (`person`, for a delegate's grant),
/// it always does; signed by a delegate in someone's name (`via`: that revocation's delegation as
/// ended now, and its signed time), when signed before the delegation ended for withdrawals. The
/// materialised `revoked` of [`crate::decide::GrantFacts`] is whether any revocation present
/// withdraws the grant.
pub fn revocation_counts(
    revoker: FeedId,
    granter: FeedId,
    person: Option<FeedId>,
    via: Option<(&DelegationState, u64)>,
) -> bool {
    revoker == granter
        || person == Some(revoker)
        || via.is_some_and(|(d, signed_ms)| d.withdrawal_counts(signed_ms))
}

/// Whether the rule reads a statement in someone's name (an entry carrying `on_behalf`, or an
/// endorsement) signed by a feed that is `frozen` (it signed two different entries at one seq):
/// never. Nodes may hold different branches of a frozen feed, and they learn different forks of
/// it first, so nothing it signed in someone's name is read, whatever its seq: its grants are as
/// if absent, its endorsements do not count, and its revocations and opt-outs withdraw nothing
/// (the person, told by its wallet's monitor, withdraws again itself). What every node reads of
/// it is then the same as soon as every node knows the feed is frozen.
pub fn read_in_someones_name(frozen: bool) -> bool {
    !frozen
}

/// Whether `entry` is one the submit path checks for its age ([`admission`]): signed in someone's
/// name (`on_behalf`, an endorsement), or an undelegation.
pub fn is_delegated(entry: &Entry) -> bool {
    entry.body.on_behalf().is_some() || matches!(entry.body, Body::Undelegation(_))
}

/// The refusal at submission (only the node a client submits to applies it, after validation
/// accepted the entry) of an entry signed in someone's name, an undelegation or an endorsement
/// whose `time_ms` is more than [`DELEGATED_ENTRY_TOLERANCE_MS`] before the node's clock `now_ms`:
/// `delegated-entry-too-old`. With the default `void_from_ms`, it voids statements a delegate
/// backdates after learning of its withdrawal (crate docs, "Delegation").
pub fn admission(entry: &Entry, now_ms: u64) -> Option<Refusal> {
    (is_delegated(entry) && entry.time_ms.saturating_add(DELEGATED_ENTRY_TOLERANCE_MS) < now_ms)
        .then_some(Refusal::DelegatedEntryTooOld {
            signed_ms: entry.time_ms,
            now_ms,
        })
}

#[cfg(test)]
mod tests;
