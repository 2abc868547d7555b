//! A second implementation of step 5 of the decision rule with delegation (crate docs,
//! "Delegation"), written from the specification's text over the **wire** types alone
//! (`consent_proto::pb`) and the accepted entries as a plain list, sharing no code with
//! `consent_proto::decide`, `consent_proto::delegation` or `consent_proto::memory`: linear scans,
//! its own time arithmetic. The property test `proto/tests/delegation.rs` compares the two.
//!
//! It assumes the entries were accepted by a node (so every delegated entry names a delegation
//! held), steps 1 to 4 of the rule pass (the subject is a known citizen feed, not frozen; the
//! collector accredited at the time asked), grants are unscoped under policies in effect, and
//! at most 1,024 grants of either kind name the collector (it does not apply
//! `GRANTS_CONSIDERED`).

#![allow(dead_code)]

use consent_proto::pb;
use consent_proto::pb::entry_payload::Body as Wire;

/// An accepted entry.
#[derive(Debug, Clone)]
pub struct Accepted {
    /// Its entry id.
    pub id: [u8; 32],
    /// Its feed.
    pub feed: [u8; 32],
    /// Its seq.
    pub seq: u64,
    /// Its signed time, Unix ms.
    pub time_ms: u64,
    /// The body, as on the wire.
    pub body: Wire,
}

/// A check: steps 5 and 6 only (no context).
#[derive(Debug, Clone, Copy)]
pub struct Question {
    /// The subject's feed.
    pub subject: [u8; 32],
    /// The collector's feed.
    pub collector: [u8; 32],
    /// Wire number of the purpose.
    pub purpose: i32,
    /// Wire number of the category.
    pub category: i32,
    /// The time asked about.
    pub at_ms: u64,
}

/// What the rule answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Answer {
    /// Allow or deny.
    pub decision: pb::Decision,
    /// Why.
    pub reason: pb::Reason,
    /// The grant named.
    pub grant: Option<[u8; 32]>,
    /// When the grant named is a delegate's: (delegation id, delegate feed, kind wire number,
    /// counting endorsement).
    pub delegated: Option<Delegated>,
}

/// (delegation id, delegate feed, kind wire number, counting endorsement).
pub type Delegated = ([u8; 32], [u8; 32], i32, Option<[u8; 32]>);

/// 5 minutes: an undelegation's default void_from is its time minus this.
const SKEW_MS: u64 = 300_000;

fn id32(bytes: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    if bytes.len() == 32 {
        out.copy_from_slice(bytes);
    }
    out
}

/// A delegation as read from the entries: from, end (exclusive) for grants and endorsements and
/// for withdrawals, delegate, kind, co-signer.
struct Held {
    from_ms: u64,
    end_ms: u64,
    withdrawals_end_ms: u64,
    delegate: [u8; 32],
    kind: i32,
    co_signer: Option<[u8; 32]>,
}

fn delegation(entries: &[Accepted], id: &[u8; 32]) -> Option<Held> {
    let entry = entries.iter().find(|e| e.id == *id)?;
    let Wire::Delegation(d) = &entry.body else {
        return None;
    };
    let mut end_ms = if d.valid_until == 0 {
        u64::MAX
    } else {
        d.valid_until
    };
    let mut withdrawals_end_ms = end_ms;
    for e in entries {
        if let Wire::Undelegation(u) = &e.body
            && id32(&u.delegation) == *id
        {
            let void_from = if u.void_from_ms == 0 {
                e.time_ms.saturating_sub(SKEW_MS)
            } else {
                u.void_from_ms
            };
            if void_from < end_ms {
                end_ms = void_from;
            }
            if e.time_ms < withdrawals_end_ms {
                withdrawals_end_ms = e.time_ms;
            }
        }
    }
    Some(Held {
        from_ms: entry.time_ms,
        end_ms,
        withdrawals_end_ms,
        delegate: id32(&d.delegate),
        kind: d.kind,
        co_signer: (!d.co_signer.is_empty()).then(|| id32(&d.co_signer)),
    })
}

/// Whether a grant or an endorsement signed at `t` under the delegation `id` counts.
fn counts(entries: &[Accepted], id: &[u8; 32], t: u64) -> bool {
    match delegation(entries, id) {
        Some(h) => h.from_ms <= t && t < h.end_ms,
        None => false,
    }
}

/// Whether a revocation or an opt-out signed at `t` under the delegation `id` counts: at or
/// before the earliest undelegation was signed, whatever its void_from.
fn withdrawal_counts(entries: &[Accepted], id: &[u8; 32], t: u64) -> bool {
    match delegation(entries, id) {
        Some(h) => h.from_ms <= t && t <= h.withdrawals_end_ms,
        None => false,
    }
}

fn on_behalf(body: &Wire) -> Option<([u8; 32], [u8; 32])> {
    let o = match body {
        Wire::Grant(g) => g.on_behalf.as_ref(),
        Wire::Revoke(r) => r.on_behalf.as_ref(),
        Wire::Request(r) => r.on_behalf.as_ref(),
        Wire::Endorsement(x) => x.on_behalf.as_ref(),
        _ => None,
    }?;
    Some((id32(&o.person), id32(&o.delegation)))
}

/// A grant as the rule reads it.
struct Candidate<'a> {
    entry: &'a Accepted,
    grant: &'a pb::Grant,
    /// `(delegation id, person)` for a delegate's grant.
    via: Option<([u8; 32], [u8; 32])>,
}

fn revoked(entries: &[Accepted], c: &Candidate<'_>) -> bool {
    let person = c.via.map(|(_, p)| p);
    entries.iter().any(|e| {
        let Wire::Revoke(r) = &e.body else {
            return false;
        };
        if id32(&r.grant) != c.entry.id {
            return false;
        }
        // The grant's own feed, the person it is for, or a delegate inside its delegation.
        if e.feed == c.entry.feed || Some(e.feed) == person {
            return true;
        }
        match on_behalf(&e.body) {
            Some((_, d)) => withdrawal_counts(entries, &d, e.time_ms),
            None => false,
        }
    })
}

fn is_opt_out(r: &pb::Request, collector: &[u8; 32]) -> bool {
    r.kind == pb::RequestKind::OptOutSale as i32 && id32(&r.collector) == *collector
}

/// The counting endorsement of a delegate's grant under a delegation with `co_signer`.
fn endorsement(entries: &[Accepted], grant: &[u8; 32], co_signer: &[u8; 32]) -> Option<[u8; 32]> {
    let mut best: Option<(u64, [u8; 32])> = None;
    for e in entries {
        let Wire::Endorsement(x) = &e.body else {
            continue;
        };
        if id32(&x.grant) != *grant || e.feed != *co_signer {
            continue;
        }
        let Some((_, own)) = on_behalf(&e.body) else {
            continue;
        };
        let Some(h) = delegation(entries, &own) else {
            continue;
        };
        if h.delegate != e.feed || !(h.from_ms <= e.time_ms && e.time_ms < h.end_ms) {
            continue;
        }
        let key = (e.time_ms, e.id);
        if best.is_none_or(|b| key < b) {
            best = Some(key);
        }
    }
    best.map(|(_, id)| id)
}

/// Steps 5 (and 6 without a context) of the rule, with delegated grants.
pub fn decide(entries: &[Accepted], q: &Question) -> Answer {
    let sale = q.purpose == pb::Purpose::SellData as i32
        || q.purpose == pb::Purpose::ThirdPartySharing as i32;
    // The subject's latest own opt-out (highest seq) and the latest counting delegated one.
    let mut own_opt_out: Option<(u64, u64)> = None;
    let mut delegated_opt_out: Option<u64> = None;
    for e in entries {
        let Wire::Request(r) = &e.body else {
            continue;
        };
        if !is_opt_out(r, &q.collector) {
            continue;
        }
        match on_behalf(&e.body) {
            None if e.feed == q.subject && own_opt_out.is_none_or(|(seq, _)| e.seq > seq) => {
                own_opt_out = Some((e.seq, e.time_ms));
            }
            Some((person, d))
                if person == q.subject
                    && withdrawal_counts(entries, &d, e.time_ms)
                    && delegated_opt_out.is_none_or(|t| e.time_ms > t) =>
            {
                delegated_opt_out = Some(e.time_ms);
            }
            _ => {}
        }
    }
    let mut own: Vec<Candidate<'_>> = Vec::new();
    let mut theirs: Vec<Candidate<'_>> = Vec::new();
    for e in entries {
        let Wire::Grant(g) = &e.body else {
            continue;
        };
        if id32(&g.collector) != q.collector {
            continue;
        }
        match on_behalf(&e.body) {
            None if e.feed == q.subject => own.push(Candidate {
                entry: e,
                grant: g,
                via: None,
            }),
            Some((person, d)) if person == q.subject => theirs.push(Candidate {
                entry: e,
                grant: g,
                via: Some((d, person)),
            }),
            _ => {}
        }
    }
    let fails = |c: &Candidate<'_>| -> Option<pb::Reason> {
        if revoked(entries, c) {
            return Some(pb::Reason::Revoked);
        }
        let by_delegate = delegated_opt_out.is_some_and(|t| t >= c.entry.time_ms);
        let by_subject = match c.via {
            None => own_opt_out.is_some_and(|(seq, _)| seq > c.entry.seq),
            Some(_) => own_opt_out.is_some_and(|(_, t)| t >= c.entry.time_ms),
        };
        if sale && (by_delegate || by_subject) {
            return Some(pb::Reason::OptedOut);
        }
        if let Some((d, _)) = c.via {
            let Some(h) = delegation(entries, &d) else {
                return Some(pb::Reason::DelegationWithdrawn);
            };
            let t = c.entry.time_ms;
            if !(h.from_ms <= t && t < h.end_ms) {
                return Some(pb::Reason::DelegationWithdrawn);
            }
            if let Some(co) = h.co_signer
                && endorsement(entries, &c.entry.id, &co).is_none()
            {
                return Some(pb::Reason::EndorsementMissing);
            }
        }
        if q.at_ms < c.grant.valid_from {
            return Some(pb::Reason::NotYetValid);
        }
        if c.grant.valid_until != 0 && q.at_ms >= c.grant.valid_until {
            return Some(pb::Reason::Expired);
        }
        None
    };
    // Tier 0 allows, 1 covers purpose and category, 2 covers the purpose, 3 names the collector.
    let keep = |tier: usize, c: &Candidate<'_>| -> bool {
        let purpose = c.grant.purposes.contains(&q.purpose);
        let covers = purpose && c.grant.categories.contains(&q.category);
        match tier {
            0 => covers && fails(c).is_none(),
            1 => covers,
            2 => purpose,
            _ => true,
        }
    };
    // The newest at a tier: own grants by seq, delegates' by (signed time, id).
    let newest = |list: &[Candidate<'_>], tier: usize| -> Option<usize> {
        let mut best: Option<usize> = None;
        for (i, c) in list.iter().enumerate() {
            if !keep(tier, c) {
                continue;
            }
            let newer = match best {
                None => true,
                Some(b) => {
                    let (x, y) = (c.entry, list[b].entry);
                    if c.via.is_none() {
                        x.seq > y.seq
                    } else {
                        (x.time_ms, x.id) > (y.time_ms, y.id)
                    }
                }
            };
            if newer {
                best = Some(i);
            }
        }
        best
    };
    let answer = |c: &Candidate<'_>, decision, reason| Answer {
        decision,
        reason,
        grant: Some(c.entry.id),
        delegated: c.via.map(|(d, _)| {
            let h = delegation(entries, &d);
            let kind = h.as_ref().map_or(0, |h| h.kind);
            let endorsed = h
                .as_ref()
                .and_then(|h| h.co_signer)
                .and_then(|co| endorsement(entries, &c.entry.id, &co));
            (d, c.entry.feed, kind, endorsed)
        }),
    };
    // At every tier the subject's own grants come first.
    for tier in 0..4 {
        for list in [own.as_slice(), theirs.as_slice()] {
            if let Some(i) = newest(list, tier) {
                let c = &list[i];
                return match tier {
                    0 => answer(c, pb::Decision::Allow, pb::Reason::Granted),
                    1 => answer(
                        c,
                        pb::Decision::Deny,
                        fails(c).unwrap_or(pb::Reason::NoGrant),
                    ),
                    2 => answer(c, pb::Decision::Deny, pb::Reason::CategoryNotCovered),
                    _ => answer(c, pb::Decision::Deny, pb::Reason::PurposeNotCovered),
                };
            }
        }
    }
    Answer {
        decision: pb::Decision::Deny,
        reason: pb::Reason::NoGrant,
        grant: None,
        delegated: None,
    }
}
