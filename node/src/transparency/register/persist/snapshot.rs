//! The register's saved form taken from the register in memory ([`saved`]): what is kept of each
//! collector, hash maps in key order so that the same register saves to the same bytes.

use std::collections::HashSet;

use consent_proto::consultation::{DraftFacts, OutcomeFacts};
use consent_proto::ids::FeedId;

use super::super::{Collector, Register, ScopeCounts, Standing};
use super::{Saved, SavedCollector, SavedDraft, SavedOutcome, SavedScope, SavedStanding};

/// A digest of a set of registrars (in id order).
pub(super) fn registrars_digest(registrars: &HashSet<FeedId>) -> [u8; 32] {
    let mut ids: Vec<&FeedId> = registrars.iter().collect();
    ids.sort();
    let mut h = blake3::Hasher::new();
    for id in ids {
        h.update(&id.0);
    }
    *h.finalize().as_bytes()
}

/// `register`'s saved form, describing the log up to its position, whose Merkle root is `root`.
pub(in super::super) fn saved(register: &Register, root: [u8; 32]) -> Saved {
    Saved {
        log_size: register.read_to,
        root,
        registrars: registrars_digest(&register.registrars),
        collectors: register
            .collectors
            .iter()
            .map(|(feed, c)| collector(feed, c))
            .collect(),
    }
}

/// What is saved of one collector (hash maps in key order: the file's bytes do not depend on
/// their order).
fn collector(feed: &FeedId, c: &Collector) -> SavedCollector {
    let mut scope_counts: Vec<([u8; 32], SavedScope)> = c
        .scope_counts
        .iter()
        .map(|(id, s)| (id.0, scope_form(s)))
        .collect();
    scope_counts.sort_by_key(|(id, _)| *id);
    let mut consultations: Vec<SavedDraft> = c.consultations.values().map(draft).collect();
    consultations.sort_by_key(|d| d.id);
    SavedCollector {
        feed: feed.0,
        since_ms: c.since_ms,
        policy_ids: c.policy_ids.iter().map(|id| id.0).collect(),
        versions: c.versions,
        standing: c
            .standing
            .iter()
            .map(|(registrar, s)| (registrar.0, standing_form(s)))
            .collect(),
        grants: c.grants,
        unrevoked: c.unrevoked,
        starts: c.starts.iter().map(|(m, n)| (*m, *n)).collect(),
        ends: c.ends.iter().map(|(m, n)| (*m, *n)).collect(),
        revocations: c.revocations,
        erase_revocations: c.erase_revocations,
        requests: c.requests.to_vec(),
        scope_counts,
        consultations,
    }
}

fn standing_form(s: &Standing) -> SavedStanding {
    match s {
        Standing::Accredited { valid_until, at_ms } => SavedStanding::Accredited {
            valid_until: *valid_until,
            at_ms: *at_ms,
        },
        Standing::Suspended { reason, at_ms } => SavedStanding::Suspended {
            reason: reason.clone(),
            at_ms: *at_ms,
        },
    }
}

fn scope_form(s: &ScopeCounts) -> SavedScope {
    SavedScope {
        every_zone: s.every_zone,
        zones: s.zones.iter().map(|(z, n)| (*z, *n)).collect(),
        floors: s
            .floors
            .iter()
            .map(|((p, f), n)| (*p as i32, *f as i32, *n))
            .collect(),
        unfloored: s.unfloored.iter().map(|(p, n)| (*p as i32, *n)).collect(),
    }
}

fn draft(f: &DraftFacts) -> SavedDraft {
    let outcome = |o: Option<OutcomeFacts>| {
        o.map(|o| SavedOutcome {
            id: o.id.0,
            time_ms: o.time_ms,
            approved: o.approved,
        })
    };
    SavedDraft {
        id: f.id.0,
        collector: f.collector.0,
        version: f.version,
        time_ms: f.time_ms,
        closes_ms: f.closes_ms,
        gated: f.gated,
        superseded_ms: f.superseded_ms,
        first_approval: outcome(f.first_approval),
        first_changes_required: outcome(f.first_changes_required),
    }
}
