//! The register a saved form describes ([`restore`]), held to the bounds the register keeps in
//! memory: a state it could not hold is refused whole, with why.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

use consent_proto::consultation::{DraftFacts, OutcomeFacts};
use consent_proto::ids::{EntryId, FeedId};
use consent_proto::limits::{MAX_FORM_OFFERS, MAX_FORM_PURPOSES, MAX_ZONES};
use consent_proto::vocab::{Form, Purpose, RequestKind};

use super::super::{
    Collector, POLICIES_IN_MEMORY, POLICY_IDS_KEPT, PolicyVersion, Register, ScopeCounts, Standing,
};
use super::snapshot::registrars_digest;
use super::{Saved, SavedCollector, SavedDraft, SavedOutcome, SavedScope, SavedStanding};

/// The register `saved` describes, counting the statements of `registrars`, its latest policy
/// versions read by `policy` (from the store). `Err` says why it cannot be used: besides another
/// set of registrars or a policy the store lacks, a state outside what the register can hold in
/// memory (more policy ids than it keeps, scope counts or consultations of versions it does not
/// keep, more zones or (purpose, form) pairs than a scope has, a standing from a registrar the
/// genesis does not list, more revocations or grants not revoked than grants, a draft or a
/// collector listed twice).
pub(in super::super) fn restore<E, F>(
    saved: Saved,
    registrars: HashSet<FeedId>,
    mut policy: F,
) -> Result<Register, String>
where
    E: std::fmt::Display,
    F: FnMut(&EntryId) -> Result<Option<PolicyVersion>, E>,
{
    if saved.registrars != registrars_digest(&registrars) {
        return Err("it was built for other registrars than the genesis lists".into());
    }
    let mut register = Register::new(registrars);
    register.read_to = saved.log_size;
    for s in saved.collectors {
        let feed = FeedId(s.feed);
        let bad = |why: &str| format!("collector {feed:?}: {why}");
        counts_hold(&s).map_err(bad)?;
        let requests: [u64; RequestKind::ALL.len()] = s
            .requests
            .as_slice()
            .try_into()
            .map_err(|_| bad("request counts of another vocabulary"))?;
        let policy_ids: VecDeque<EntryId> = s.policy_ids.iter().map(|id| EntryId(*id)).collect();
        let kept: HashSet<&EntryId> = policy_ids.iter().collect();
        if kept.len() != policy_ids.len() {
            return Err(bad("a policy id listed twice"));
        }
        let mut recent = VecDeque::new();
        for id in policy_ids
            .iter()
            .skip(policy_ids.len().saturating_sub(POLICIES_IN_MEMORY))
        {
            match policy(id) {
                Ok(Some(version)) => recent.push_back(version),
                Ok(None) => return Err(format!("policy {id} is not in the store")),
                Err(e) => return Err(format!("cannot read policy {id}: {e}")),
            }
        }
        let mut scope_counts = HashMap::new();
        for (id, counts) in s.scope_counts {
            let id = EntryId(id);
            if !kept.contains(&id) {
                return Err(bad("scope counts of a policy version it does not keep"));
            }
            let counts = scope(counts).map_err(bad)?;
            if scope_counts.insert(id, counts).is_some() {
                return Err(bad("scope counts listed twice"));
            }
        }
        let mut consultations = HashMap::new();
        for d in s.consultations {
            let facts = facts(&d);
            if facts.collector != feed {
                return Err(bad("a consultation names another collector"));
            }
            if !kept.contains(&facts.id) {
                return Err(bad("a consultation of a policy version it does not keep"));
            }
            if register.drafts.insert(facts.id, feed).is_some() {
                return Err(format!("consultation {} is listed twice", facts.id));
            }
            consultations.insert(facts.id, facts);
        }
        let mut standing = BTreeMap::new();
        for (registrar, saved) in s.standing {
            let registrar = FeedId(registrar);
            if !register.registrars.contains(&registrar) {
                return Err(bad("a standing from a registrar the genesis does not list"));
            }
            let value = match saved {
                SavedStanding::Accredited { valid_until, at_ms } => {
                    Standing::Accredited { valid_until, at_ms }
                }
                SavedStanding::Suspended { reason, at_ms } => Standing::Suspended { reason, at_ms },
            };
            if standing.insert(registrar, value).is_some() {
                return Err(bad("a registrar's standing listed twice"));
            }
        }
        let starts = minutes(s.starts).map_err(bad)?;
        let ends = minutes(s.ends).map_err(bad)?;
        let collector = Collector {
            since_ms: s.since_ms,
            recent,
            policy_ids,
            versions: s.versions,
            standing,
            grants: s.grants,
            unrevoked: s.unrevoked,
            starts,
            ends,
            revocations: s.revocations,
            erase_revocations: s.erase_revocations,
            requests,
            scope_counts,
            consultations,
        };
        register.order.insert(collector.order(&feed));
        if register.collectors.insert(feed, collector).is_some() {
            return Err(format!("collector {feed:?} is listed twice"));
        }
    }
    Ok(register)
}

/// The counts a collector's state must hold to, as the register keeps them: at most
/// [`POLICY_IDS_KEPT`] policy ids, no more than it published; no more revocations, nor grants
/// not revoked, than grants; no more erasing revocations than revocations; no more grants
/// starting later, nor ending, than grants not revoked.
fn counts_hold(s: &SavedCollector) -> Result<(), &'static str> {
    if s.policy_ids.len() > POLICY_IDS_KEPT {
        return Err("too many policy ids");
    }
    if s.policy_ids.len() as u64 > s.versions {
        return Err("more policy ids than versions");
    }
    if s.unrevoked > s.grants || s.revocations > s.grants || s.erase_revocations > s.revocations {
        return Err("more revocations or grants not revoked than grants");
    }
    let total = |minutes: &[(u64, u64)]| {
        minutes
            .iter()
            .try_fold(0u64, |sum, (_, n)| sum.checked_add(*n))
    };
    if total(s.starts.as_slice()).is_none_or(|n| n > s.unrevoked)
        || total(s.ends.as_slice()).is_none_or(|n| n > s.unrevoked)
    {
        return Err("more grants starting or ending than grants not revoked");
    }
    Ok(())
}

/// Counts by minute, as [`Collector`] keeps them (no minute twice, none zero).
fn minutes(saved: Vec<(u64, u64)>) -> Result<BTreeMap<u64, u64>, &'static str> {
    let len = saved.len();
    let map: BTreeMap<u64, u64> = saved.into_iter().collect();
    if map.len() != len || map.values().any(|n| *n == 0) {
        return Err("counts by minute listed twice or zero");
    }
    Ok(map)
}

/// A scoped version's counts, within what a scope has: at most [`MAX_ZONES`] zones and
/// [`MAX_FORM_PURPOSES`] × [`MAX_FORM_OFFERS`] (purpose, form) pairs, each once, of known
/// purposes and forms.
fn scope(s: SavedScope) -> Result<ScopeCounts, &'static str> {
    if s.zones.len() > MAX_ZONES || s.floors.len() > MAX_FORM_PURPOSES * MAX_FORM_OFFERS {
        return Err("more zones or (purpose, form) pairs than a scope has");
    }
    let unknown = "an unknown purpose or form";
    let mut floors = BTreeMap::new();
    for (p, f, n) in s.floors {
        let key = (
            Purpose::from_wire(p).ok_or(unknown)?,
            Form::from_wire(f).ok_or(unknown)?,
        );
        if floors.insert(key, n).is_some() {
            return Err("a (purpose, form) pair listed twice");
        }
    }
    let mut unfloored = BTreeMap::new();
    for (p, n) in s.unfloored {
        if unfloored
            .insert(Purpose::from_wire(p).ok_or(unknown)?, n)
            .is_some()
        {
            return Err("a purpose listed twice");
        }
    }
    let zones_len = s.zones.len();
    let zones: BTreeMap<u32, u64> = s.zones.into_iter().collect();
    if zones.len() != zones_len {
        return Err("a zone listed twice");
    }
    Ok(ScopeCounts {
        every_zone: s.every_zone,
        zones,
        floors,
        unfloored,
    })
}

fn facts(d: &SavedDraft) -> DraftFacts {
    let outcome = |o: Option<SavedOutcome>| {
        o.map(|o| OutcomeFacts {
            id: EntryId(o.id),
            time_ms: o.time_ms,
            approved: o.approved,
        })
    };
    DraftFacts {
        id: EntryId(d.id),
        collector: FeedId(d.collector),
        version: d.version,
        time_ms: d.time_ms,
        closes_ms: d.closes_ms,
        gated: d.gated,
        superseded_ms: d.superseded_ms,
        first_approval: outcome(d.first_approval),
        first_changes_required: outcome(d.first_changes_required),
    }
}
