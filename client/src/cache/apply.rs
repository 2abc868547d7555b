//! Applying the collector's watch stream to the cache's facts, event by event in stream order:
//! grants (with their policies' scopes), revocations, opt-outs, registrars' statements, frozen
//! feeds, the collector's policy versions and which are drafts, and the subjects for whom a
//! delegate signed something (the node decides for those).

use std::sync::Arc;
use std::time::Instant;

use consent_proto::Entry;
use consent_proto::body::Body;
use consent_proto::decide::{AccreditationFacts, GrantFacts};
use consent_proto::ids::{EntryId, FeedId};
use consent_proto::pb::{self, WatchKind};
use consent_proto::scope::ScopeFacts;
use consent_proto::vocab::RequestKind;

use super::{BadEvent, BadPolicy, DecisionCache, Facts};

impl DecisionCache {
    /// Adds one of the collector's policy entries, so that grants under it can be applied (and
    /// judged against its scope). Adding it again changes nothing.
    pub fn add_policy(&self, entry: &Entry) -> Result<(), BadPolicy> {
        let bad = |why| BadPolicy { id: entry.id, why };
        let Body::Policy(policy) = &entry.body else {
            return Err(bad("it is not a policy"));
        };
        if entry.feed != self.0.me {
            return Err(bad("it is not this collector's"));
        }
        let mut facts = self.0.facts.write().map_err(|_| bad("cache poisoned"))?;
        if let std::collections::hash_map::Entry::Vacant(slot) = facts.policies.entry(entry.id) {
            slot.insert(policy.scope.clone().map(Arc::new));
            // Without the node's word (a POLICY event), a version with a consultation may be a
            // draft: the node decides for its grants.
            if policy.consultation.is_some() {
                facts.drafts.insert(entry.id);
            }
        }
        Ok(())
    }

    /// The policy a GRANT `event` needs and the cache does not know (add it with
    /// [`DecisionCache::add_policy`] before applying the event); `None` for any other event, and
    /// for one that does not decode (applying it says why).
    pub fn missing_policy(&self, event: &pb::WatchEvent) -> Option<EntryId> {
        if event.kind() != WatchKind::Grant {
            return None;
        }
        let entry = Entry::from_signed(event.entry.as_ref()?).ok()?;
        let Body::Grant(grant) = &entry.body else {
            return None;
        };
        if grant.collector != self.0.me {
            return None;
        }
        let facts = self.read().ok()?;
        (!facts.policies.contains_key(&grant.policy)).then_some(grant.policy)
    }

    /// Applies one event of this collector's watch stream (in stream order).
    pub fn apply(&self, event: &pb::WatchEvent) -> Result<(), BadEvent> {
        let kind = event.kind();
        let bad = |why: &str| BadEvent {
            kind,
            why: why.to_string(),
        };
        if event.cursor.len() != 24 {
            return Err(bad("cursor is not 24 bytes"));
        }
        let entry = match kind {
            WatchKind::Heartbeat | WatchKind::Expired | WatchKind::Frozen => None,
            WatchKind::Unspecified => return Err(bad("unknown kind")),
            _ => {
                let signed = event.entry.as_ref().ok_or_else(|| bad("no entry"))?;
                Some(Entry::from_signed(signed).map_err(|e| bad(&e.to_string()))?)
            }
        };
        let mut facts = self.0.facts.write().map_err(|_| bad("cache poisoned"))?;
        match (kind, entry) {
            (WatchKind::Policy, Some(entry)) => {
                apply_policy(&mut facts, self.0.me, &entry, event.gated).map_err(&bad)?
            }
            // Counts and outcomes: the node decides for grants under drafts.
            (WatchKind::Stances | WatchKind::Outcome, Some(_)) => {}
            (WatchKind::Frozen, _) => {
                let feed: [u8; 32] = event
                    .feed
                    .as_ref()
                    .try_into()
                    .map_err(|_| bad("feed is not 32 bytes"))?;
                let feed = FeedId(feed);
                facts.frozen.insert(feed);
                for a in &mut facts.accreditations {
                    if let AccreditationFacts::Accredited {
                        registrar,
                        registrar_frozen,
                        ..
                    } = a
                        && *registrar == feed
                    {
                        *registrar_frozen = true;
                    }
                }
            }
            (_, Some(entry)) => {
                apply_entry(&mut facts, self.0.me, &entry).map_err(|e| bad(e.as_str()))?
            }
            _ => {}
        }
        facts.cursor = event.cursor.clone();
        let mut index = [0u8; 8];
        index.copy_from_slice(&event.cursor[..8]);
        facts.position = u64::from_be_bytes(index);
        facts.heard = Some(Instant::now());
        if kind == WatchKind::Heartbeat {
            facts.live = true;
        }
        let now = (facts.position, facts.live);
        drop(facts);
        self.0.position.send_replace(now);
        Ok(())
    }
}

/// Marks `person` as having a statement a delegate signed in its name
/// ([`Stale::Delegated`](super::Stale::Delegated)).
fn delegated(facts: &mut Facts, person: FeedId, entry: &Entry) {
    facts
        .subjects
        .entry(person)
        .or_default()
        .delegated
        .get_or_insert(entry.id);
}

/// Applies a log event's entry; changes nothing when it fails.
fn apply_entry(facts: &mut Facts, me: FeedId, entry: &Entry) -> Result<(), String> {
    match &entry.body {
        // Statements a delegate signed in someone's name: the node decides for that person.
        Body::Grant(g) if g.collector == me && g.on_behalf.is_some() => {
            if let Some(ob) = g.on_behalf {
                delegated(facts, ob.person, entry);
            }
        }
        Body::Revoke(r) if r.on_behalf.is_some() => {
            if let Some(ob) = r.on_behalf {
                delegated(facts, ob.person, entry);
            }
        }
        Body::Request(r) if r.collector == me && r.on_behalf.is_some() => {
            if let (RequestKind::OptOutSale, Some(ob)) = (r.kind, r.on_behalf) {
                delegated(facts, ob.person, entry);
            }
        }
        Body::Grant(g) if g.collector == me => {
            // The one constructor the node uses too: the policy's declaration and the grant's
            // narrowing (None when neither constrains anything).
            let Some(policy) = facts.policies.get(&g.policy) else {
                return Err(format!("policy {} not known: add_policy first", g.policy));
            };
            let scope = ScopeFacts::resolve(policy.clone(), g.scope.clone());
            if facts.drafts.contains(&g.policy) {
                facts.subjects.entry(entry.feed).or_default().draft = Some(g.policy);
            }
            let grants = &mut facts.subjects.entry(entry.feed).or_default().grants;
            if !grants.iter().any(|x| x.id == entry.id) {
                grants.push(GrantFacts {
                    id: entry.id,
                    seq: entry.seq,
                    purposes: g.purposes,
                    categories: g.categories,
                    valid_from: g.valid_from,
                    valid_until: g.valid_until,
                    revoked: false,
                    scope,
                    // The node decides drafts; a grant under a draft the cache knows of is stale
                    // (client part of issue 21).
                    in_effect_from: consent_proto::consultation::ALWAYS,
                    time_ms: entry.time_ms,
                    via: None,
                });
            }
        }
        Body::Revoke(r) => {
            if let Some(g) = facts
                .subjects
                .get_mut(&entry.feed)
                .and_then(|s| s.grants.iter_mut().find(|g| g.id == r.grant))
            {
                g.revoked = true;
            }
        }
        Body::Request(r) if r.collector == me => {
            if r.kind == RequestKind::OptOutSale {
                let s = facts.subjects.entry(entry.feed).or_default();
                s.opt_out_seq = s.opt_out_seq.max(Some(entry.seq));
            }
        }
        Body::Accreditation(a) if a.collector == me => {
            let registrar_frozen = facts.frozen.contains(&entry.feed);
            set_statement(
                facts,
                AccreditationFacts::Accredited {
                    registrar: entry.feed,
                    from_ms: entry.time_ms,
                    until_ms: a.valid_until,
                    registrar_frozen,
                },
            );
        }
        Body::Suspension(s) if s.collector == me => {
            set_statement(
                facts,
                AccreditationFacts::Suspended {
                    registrar: entry.feed,
                },
            );
        }
        _ => return Err("the entry does not concern this collector".to_string()),
    }
    Ok(())
}

/// Applies a `POLICY` event: one of the collector's own versions, a draft when `gated`.
fn apply_policy(
    facts: &mut Facts,
    me: FeedId,
    entry: &Entry,
    gated: bool,
) -> Result<(), &'static str> {
    let Body::Policy(policy) = &entry.body else {
        return Err("a POLICY event that carries no policy");
    };
    if entry.feed != me {
        return Err("a POLICY event with another collector's policy");
    }
    facts
        .policies
        .entry(entry.id)
        .or_insert_with(|| policy.scope.clone().map(Arc::new));
    if gated {
        facts.drafts.insert(entry.id);
    } else {
        facts.drafts.remove(&entry.id);
    }
    Ok(())
}

/// Replaces the registrar's statement.
fn set_statement(facts: &mut Facts, statement: AccreditationFacts) {
    let registrar = match &statement {
        AccreditationFacts::Accredited { registrar, .. }
        | AccreditationFacts::Suspended { registrar } => *registrar,
    };
    facts.registrars.insert(registrar);
    facts.accreditations.retain(|a| match a {
        AccreditationFacts::Accredited { registrar: r, .. }
        | AccreditationFacts::Suspended { registrar: r } => *r != registrar,
    });
    facts.accreditations.push(statement);
}
