//! What delegates signed in a person's name, read from a node for the person's wallet: the
//! grants in force (`consent list`, the listing at coming of age) and the monitor's notices and
//! alerts (`consent wallet monitor`).
//!
//! "In force" follows the decision rule (crate docs of consent-proto, "Delegation"): a delegated
//! grant counts when signed inside its delegation (`DelegationState::counts`), and, under a 2-of-2
//! delegation, once an endorsement by the co-signer counts; it stops at a revocation by the
//! person or by a delegate whose own delegation counted when it revoked, and at its valid_until.

use std::collections::{BTreeMap, HashSet};

use consent_client::node::{Delegated, DelegationRecord, NodeConnection};
use consent_proto::Entry;
use consent_proto::body::{Body, Grant};
use consent_proto::ids::{EntryId, FeedId};
use consent_proto::vocab::{DelegationKind, Role};
use serde_json::json;

/// A grant a delegate made in the person's name.
#[derive(Debug, Clone)]
pub struct DelegatedGrant {
    /// The grant entry.
    pub id: EntryId,
    /// When the delegate signed it.
    pub time_ms: u64,
    /// The delegation it rests on.
    pub delegation: EntryId,
    /// Its kind (a guardian's, an assistant's).
    pub kind: DelegationKind,
    /// The delegate feed that signed it.
    pub delegate: FeedId,
    /// The grant.
    pub grant: Grant,
    /// Its entry (in the delegate's feed).
    pub entry: Entry,
}

/// The delegation an entry a delegate signed names (its `on_behalf`, or the delegation an
/// undelegation ends).
pub fn delegation_named(e: &Entry) -> Option<EntryId> {
    match &e.body {
        Body::Grant(g) => g.on_behalf.as_ref().map(|o| o.delegation),
        Body::Revoke(r) => r.on_behalf.as_ref().map(|o| o.delegation),
        Body::Request(r) => r.on_behalf.as_ref().map(|o| o.delegation),
        Body::Endorsement(x) => Some(x.on_behalf.delegation),
        Body::Undelegation(u) => Some(u.delegation),
        _ => None,
    }
}

/// What a node holds about the person's delegations: each delegation by id, and what delegates
/// signed naming the person, in arrival order.
pub struct Facts {
    /// Delegations the person gave.
    pub delegations: BTreeMap<EntryId, DelegationRecord>,
    /// Entries delegates signed in the person's name.
    pub signed: Vec<Delegated>,
}

impl Facts {
    /// Reads them from `node`.
    pub async fn read(node: &mut NodeConnection, person: &FeedId) -> anyhow::Result<Facts> {
        let delegations = node
            .list_delegations(person)
            .await?
            .into_iter()
            .filter(|d| d.person == *person)
            .map(|d| (d.id, d))
            .collect();
        let signed = node.list_delegated(person).await?;
        Ok(Facts {
            delegations,
            signed,
        })
    }

    /// Whether `e` (signed by a delegate) counts: its delegation is known and counts at its
    /// signed time.
    pub fn counts(&self, e: &Entry) -> bool {
        delegation_named(e)
            .and_then(|d| self.delegations.get(&d))
            .is_some_and(|d| d.counts_at(e.time_ms))
    }

    /// The delegated grants in force at `now`, given the person's own feed `own`.
    pub fn in_force(&self, own: &[Entry], now: u64) -> Vec<DelegatedGrant> {
        let mut revoked: HashSet<EntryId> = own
            .iter()
            .filter_map(|e| match &e.body {
                Body::Revoke(r) => Some(r.grant),
                _ => None,
            })
            .collect();
        for d in &self.signed {
            if let Body::Revoke(r) = &d.entry.body
                && self.counts(&d.entry)
            {
                revoked.insert(r.grant);
            }
        }
        let endorsed = |grant: &EntryId, co_signer: &FeedId| {
            self.signed.iter().any(|d| {
                matches!(&d.entry.body, Body::Endorsement(x) if x.grant == *grant)
                    && d.entry.feed == *co_signer
                    && self.counts(&d.entry)
            })
        };
        let mut out = Vec::new();
        for d in &self.signed {
            let Body::Grant(g) = &d.entry.body else {
                continue;
            };
            let Some(ob) = &g.on_behalf else { continue };
            let Some(record) = self.delegations.get(&ob.delegation) else {
                continue;
            };
            let lapsed = g.valid_until.is_some_and(|u| u <= now);
            let needs = record.delegation.co_signer;
            if revoked.contains(&d.entry.id)
                || lapsed
                || !record.counts_at(d.entry.time_ms)
                || needs.is_some_and(|c| !endorsed(&d.entry.id, &c))
            {
                continue;
            }
            out.push(DelegatedGrant {
                id: d.entry.id,
                time_ms: d.entry.time_ms,
                delegation: record.id,
                kind: record.delegation.kind,
                delegate: d.entry.feed,
                grant: g.clone(),
                entry: d.entry.clone(),
            });
        }
        out
    }
}

/// The delegated grants in `person`'s name in force at `now`, as `node` holds them.
pub async fn in_force(
    node: &mut NodeConnection,
    person: &FeedId,
    now: u64,
) -> anyhow::Result<Vec<DelegatedGrant>> {
    let facts = Facts::read(node, person).await?;
    let own = node.feed(person).await?;
    Ok(facts.in_force(&own, now))
}

/// The arrival index of entry `id` on `node` (`None` if it does not hold it).
async fn arrival_index(node: &mut NodeConnection, id: &EntryId) -> anyhow::Result<Option<u64>> {
    let Some(e) = node.entry(id).await? else {
        return Ok(None);
    };
    Ok(node.arrival_index(&e.feed, e.seq).await?)
}

/// For the monitor: every entry delegates signed in `person`'s name on `node` (one notice each,
/// as JSON), and the loud alerts among them: an entry whose delegation did not count when it
/// was signed (or that the node does not list), or that arrived after an undelegation of its
/// delegation (its arrival index is evidence of the node that introduced it).
pub async fn monitor(
    node: &mut NodeConnection,
    url: &str,
    person: &FeedId,
) -> anyhow::Result<(Vec<serde_json::Value>, Vec<String>)> {
    let facts = Facts::read(node, person).await?;
    // The arrival index of each delegation's earliest undelegation on this node.
    let mut withdrawn_at: BTreeMap<EntryId, u64> = BTreeMap::new();
    for (id, d) in &facts.delegations {
        for u in &d.undelegations {
            if let Some(i) = arrival_index(node, u).await? {
                let at = withdrawn_at.entry(*id).or_insert(i);
                *at = (*at).min(i);
            }
        }
    }
    // Delegate feeds the node holds frozen: nothing they signed in the person's name is read.
    let mut frozen: BTreeMap<FeedId, bool> = BTreeMap::new();
    for d in &facts.signed {
        if let std::collections::btree_map::Entry::Vacant(slot) = frozen.entry(d.entry.feed) {
            let head = node.head(&d.entry.feed).await?;
            slot.insert(head.is_some_and(|h| h.frozen));
        }
    }
    let name = person.typed(Role::Citizen);
    let (mut notices, mut alerts) = (Vec::new(), Vec::new());
    for d in &facts.signed {
        let e = &d.entry;
        let delegate_frozen = frozen.get(&e.feed).copied().unwrap_or(false);
        let named = delegation_named(e);
        let record = named.and_then(|n| facts.delegations.get(&n));
        let counts = facts.counts(e);
        let late = named
            .and_then(|n| withdrawn_at.get(&n))
            .is_some_and(|&i| d.index > i);
        notices.push(json!({
            "node": url,
            "person": name.to_string(),
            "entry": e.id.to_string(),
            "body": e.body.kind().name(),
            "delegate": e.feed.typed(Role::Citizen).to_string(),
            "delegation": named.map(|n| n.to_string()),
            "kind": record.map(|r| r.delegation.kind.name()),
            "signed": consent_client::time::format(e.time_ms),
            "index": d.index,
            "counts": counts && !delegate_frozen,
            "delegate_frozen": delegate_frozen,
            "after_undelegation": late,
        }));
        let what = format!(
            "{url}: {} {} signed in the name of your feed {name} by delegate {} ({})",
            e.body.kind().name(),
            e.id,
            e.feed.typed(Role::Citizen),
            record.map_or("a delegation this node does not list", |r| r
                .delegation
                .kind
                .name())
        );
        if delegate_frozen && !matches!(e.body, Body::Undelegation(_)) {
            alerts.push(format!(
                "{what} no longer counts: that delegate's feed is frozen (it signed two different \
                 entries at one place), so nothing it signed in your name is read; if it was a \
                 revocation or an opt-out, do it again yourself; then end the delegation with \
                 `consent wallet undelegate`"
            ));
        } else if !counts && !matches!(e.body, Body::Undelegation(_)) {
            alerts.push(format!(
                "{what} does not count: it was signed outside its delegation (before it, or after \
                 it ended or was withdrawn); revoke it if it is a grant"
            ));
        }
        if late {
            alerts.push(format!(
                "{what} arrived (log index {}) after you withdrew that delegation: keep this as \
                 evidence of the node that introduced it",
                d.index
            ));
        }
    }
    Ok((notices, alerts))
}
