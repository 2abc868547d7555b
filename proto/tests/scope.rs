//! Scopes, property-tested: the decision rule (`consent_proto::decide`, through
//! `MemoryLedger::check` on signed entries, and `decide_grants` on the facts alone) agrees with
//! a second implementation written from the specification over the wire types
//! (`tests/reference/mod.rs`) on 10,000 random cases: a random valid policy scope (or none),
//! half the time a later policy version that gives some sensor ids to other kinds (attacker
//! review M1; after a version without sensors, since consecutive versions may not), one to four grants under either version with random narrowings within it,
//! validity, revocations and an opt-out, and eight random questions with random contexts each
//! (the sensor named in either version's numbering, its kind sometimes wrong or missing). And
//! `consent_proto::h3` agrees with h3o, an independent H3 implementation, on every cell of
//! 10,000 random points at every resolution, their parents, and on which 64-bit values are
//! cells.

#[path = "common/scope_cases.rs"]
mod cases;
mod reference;

use std::collections::HashMap;
use std::sync::Arc;

use consent_proto::body::{Body, Grant, Policy, Request, Revoke};
use consent_proto::decide::{GrantFacts, Query, decide_grants};
use consent_proto::entry::{Author, Entry};
use consent_proto::h3::{Cell, PENTAGONS, is_cell};
use consent_proto::ids::Digest;
use consent_proto::keys::SecretKey;
use consent_proto::memory::MemoryLedger;
use consent_proto::pb;
use consent_proto::scope::{PolicyScope, ScopeFacts};
use consent_proto::validate::Verdict;
use consent_proto::vocab::{RequestKind, Role};
use proptest::prelude::*;
use prost::bytes::Bytes;

use cases::{DAY, MINUTE, Rng, T};

fn key(label: &str) -> SecretKey {
    SecretKey::from_seed(blake3::hash(label.as_bytes()).as_bytes())
}

fn author(role: Role, label: &str) -> (Author, Entry) {
    match Author::incept(
        role,
        key(&format!("{label}/0")),
        key(&format!("{label}/1")),
        T,
    ) {
        Ok(pair) => pair,
        Err(e) => panic!("{label}: {e}"),
    }
}

fn append(author: &mut Author, time_ms: u64, body: Body) -> Entry {
    match author.append(time_ms, body) {
        Ok(e) => e,
        Err(e) => panic!("a generated entry is structurally valid: {e}"),
    }
}

fn accept(ledger: &mut MemoryLedger, e: &Entry, seed: u64) {
    let verdict = ledger.submit(e, T + 30 * DAY);
    assert!(
        matches!(verdict, Verdict::Accept { .. }),
        "seed {seed}: {:?} refused: {verdict:?}",
        e.body.kind()
    );
}

/// Builds one random case from `seed` and checks eight random questions against the reference.
fn check_case(seed: u64) {
    let mut rng = Rng::new(seed);
    let (mut registrar, reg0) = author(Role::Registrar, "scope-prop/registrar");
    let (mut collector, col0) = author(Role::Collector, "scope-prop/collector");
    let (mut citizen, cit0) = author(Role::Citizen, "scope-prop/citizen");
    let mut ledger = MemoryLedger::new([registrar.feed()]);
    accept(&mut ledger, &reg0, seed);
    accept(&mut ledger, &col0, seed);

    let policy_body = |version: u32, scope: Option<PolicyScope>| {
        Body::Policy(Policy {
            version,
            name: "Property lab".into(),
            purposes: cases::PURPOSES.into_iter().collect(),
            categories: cases::CATEGORIES.into_iter().collect(),
            retention_days: 365,
            recipients: Vec::new(),
            jurisdiction: "EU/GDPR".into(),
            document_digest: Digest([7; 32]),
            document_url: "https://lab.example/privacy".into(),
            contact: "dpo@lab.example".into(),
            scope,
            consultation: None,
        })
    };
    let scope = cases::policy_scope(&mut rng);
    let policy = append(&mut collector, T, policy_body(1, scope.clone()));
    accept(&mut ledger, &policy, seed);
    // Half the time (when it declares sensors), a second version of the policy that gives some
    // sensor ids to sensors of other kinds.
    let declares_sensors = scope.as_ref().is_some_and(|s| !s.sensors.is_empty());
    let later_scope = if declares_sensors && rng.chance(50) {
        scope.as_ref().map(|s| cases::redeclared(&mut rng, s))
    } else {
        None
    };
    // Validation refuses giving an id another kind from one version to the next
    // (`id-redefined`), so a version without sensors comes between (ids that skip a version are
    // not tracked, and the rule must still read a sensor in its grant's version's numbering).
    let later = later_scope.as_ref().map(|s| {
        let mut between = scope.clone().unwrap_or_default();
        between.sensors.clear();
        let declares =
            |s: &PolicyScope| !(s.zones.is_empty() && s.windows.is_empty() && s.forms.is_empty());
        let between = declares(&between).then_some(between);
        let e = append(&mut collector, T + 1, policy_body(2, between));
        accept(&mut ledger, &e, seed);
        let e = append(&mut collector, T + 2, policy_body(3, Some(s.clone())));
        accept(&mut ledger, &e, seed);
        e
    });
    let accreditation = append(
        &mut registrar,
        T,
        Body::Accreditation(consent_proto::body::Accreditation {
            collector: collector.feed(),
            valid_until: T + 365 * DAY,
        }),
    );
    accept(&mut ledger, &accreditation, seed);
    accept(&mut ledger, &cit0, seed);

    let policy_scope = scope.clone().unwrap_or_default();
    let mut policies = HashMap::new();
    if let Some(s) = &scope {
        policies.insert(policy.id.0, s.to_wire());
    }
    if let (Some(e), Some(s)) = (&later, &later_scope) {
        policies.insert(e.id.0, s.to_wire());
    }
    // Each version a grant may name: its entry id, its scope (empty if none), and what the rule
    // reads of it.
    let mut versions = vec![(policy.id, policy_scope, scope.map(Arc::new))];
    if let (Some(e), Some(s)) = (&later, later_scope) {
        versions.push((e.id, s.clone(), Some(Arc::new(s))));
    }

    let mut time = T + MINUTE;
    let mut next_time = || {
        time += MINUTE;
        time
    };
    let mut grants: Vec<reference::Grant> = Vec::new();
    let mut facts: Vec<GrantFacts> = Vec::new();
    let mut opt_out_seq = None;
    let n = 1 + rng.below(4) as usize;
    let opt_out_after = rng.chance(25).then(|| rng.below(n as u64) as usize);
    for i in 0..n {
        let v = rng.below(versions.len() as u64) as usize;
        let (under, under_scope, under_facts) = &versions[v];
        let purposes = cases::purposes(&mut rng);
        let (valid_from, valid_until) = cases::validity(&mut rng);
        let grant = Grant {
            collector: collector.feed(),
            policy: *under,
            purposes,
            categories: cases::categories(&mut rng),
            retention_days: 30,
            valid_from,
            valid_until,
            scope: cases::grant_scope(&mut rng, under_scope, purposes),
            on_behalf: None,
        };
        let e = append(&mut citizen, next_time(), Body::Grant(grant.clone()));
        accept(&mut ledger, &e, seed);
        let pb::entry_payload::Body::Grant(wire) = e.body.to_wire() else {
            panic!("a grant");
        };
        grants.push(reference::Grant {
            id: e.id.0,
            seq: e.seq,
            wire,
            revoked: false,
        });
        facts.push(GrantFacts {
            id: e.id,
            seq: e.seq,
            purposes: grant.purposes,
            categories: grant.categories,
            valid_from,
            valid_until,
            revoked: false,
            scope: ScopeFacts::resolve(under_facts.clone(), grant.scope.clone()),
            in_effect_from: consent_proto::consultation::ALWAYS,
            time_ms: e.time_ms,
            via: None,
        });
        if opt_out_after == Some(i) {
            let r = append(
                &mut citizen,
                next_time(),
                Body::Request(Request {
                    collector: collector.feed(),
                    kind: RequestKind::OptOutSale,
                    details_digest: None,
                    on_behalf: None,
                }),
            );
            accept(&mut ledger, &r, seed);
            opt_out_seq = Some(r.seq);
        }
    }
    for (g, f) in grants.iter_mut().zip(facts.iter_mut()) {
        if rng.chance(25) {
            let r = append(
                &mut citizen,
                next_time(),
                Body::Revoke(Revoke {
                    grant: f.id,
                    erase: false,
                    on_behalf: None,
                }),
            );
            accept(&mut ledger, &r, seed);
            g.revoked = true;
            f.revoked = true;
        }
    }

    for q in 0..8 {
        // The gateway names its sensor in either version's numbering.
        let numbering = &versions[rng.below(versions.len() as u64) as usize].1;
        let query = Query {
            subject: citizen.feed(),
            collector: collector.feed(),
            purpose: cases::purpose(&mut rng),
            category: rng.pick(&cases::CATEGORIES),
            at_ms: cases::at(&mut rng),
            context: cases::context(&mut rng, numbering),
        };
        let outcome = ledger.check(&query);
        let ours = (
            outcome.decision,
            outcome.reason,
            outcome.grant.map(|g| g.0),
            outcome.required_form.map_or(0, |f| f as i32),
        );
        let question = pb::CheckRequest {
            subject: Bytes::copy_from_slice(&query.subject.0),
            collector: Bytes::copy_from_slice(&query.collector.0),
            purpose: query.purpose as i32,
            category: query.category as i32,
            at_ms: query.at_ms,
            context: query.context.to_wire(),
            ..Default::default()
        };
        let r = reference::decide_grants(&question, &grants, &policies, opt_out_seq);
        let theirs = (r.decision, r.reason, r.grant, r.required_form);
        assert_eq!(ours, theirs, "seed {seed}, question {q}: {query:?}");
        // The rule on the facts alone gives the same answer.
        let (decision, reason, grant, form) = decide_grants(&query, &facts, opt_out_seq);
        assert_eq!(
            (decision, reason, grant, form),
            (
                outcome.decision,
                outcome.reason,
                outcome.grant,
                outcome.required_form
            ),
            "seed {seed}, question {q}"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(10_000))]
    /// The rule and the reference agree on random scopes, grants and contexts.
    #[test]
    fn the_rule_agrees_with_the_reference_written_from_the_spec(seed in any::<u64>()) {
        check_case(seed);
    }
}

#[test]
fn generated_policy_scopes_are_valid_and_round_trip() {
    let mut rng = Rng::new(20);
    for _ in 0..2_000 {
        if let Some(scope) = cases::policy_scope(&mut rng) {
            let purposes = cases::PURPOSES.into_iter().collect();
            assert_eq!(
                PolicyScope::from_wire(&scope.to_wire(), purposes),
                Ok(scope)
            );
        }
    }
}

fn resolution(r: u8) -> h3o::Resolution {
    match h3o::Resolution::try_from(r) {
        Ok(r) => r,
        Err(e) => panic!("{e}"),
    }
}

#[test]
fn proto_h3_agrees_with_h3o_on_every_resolution_of_10000_points() {
    let mut rng = Rng::new(3);
    for _ in 0..10_000 {
        // Anywhere on Earth; a point in [-90, 90] x [-180, 180) from 53 random bits each.
        let unit = |rng: &mut Rng| (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        let lat = unit(&mut rng) * 180.0 - 90.0;
        let lng = unit(&mut rng) * 360.0 - 180.0;
        let point = match h3o::LatLng::new(lat, lng) {
            Ok(p) => p,
            Err(e) => panic!("{lat} {lng}: {e}"),
        };
        for r in 0..=15u8 {
            let theirs = point.to_cell(resolution(r));
            let raw = u64::from(theirs);
            let Some(ours) = Cell::new(raw) else {
                panic!("h3o's cell {raw:x} is no cell here");
            };
            assert_eq!(ours.resolution(), r);
            for p in 0..=r {
                let expected = theirs.parent(resolution(p)).map(u64::from);
                assert_eq!(ours.parent(p).map(Cell::raw), expected, "{raw:x} at {p}");
            }
            assert_eq!(ours.parent(r + 1), None);
            assert_eq!(ours.to_string(), theirs.to_string());
        }
    }
}

#[test]
fn is_cell_agrees_with_h3o_on_random_and_mutated_indexes() {
    let mut rng = Rng::new(4);
    let agree = |h: u64| {
        assert_eq!(is_cell(h), h3o::CellIndex::try_from(h).is_ok(), "{h:x}");
    };
    for _ in 0..100_000 {
        agree(rng.next_u64());
    }
    // Valid cells with one bit flipped, and with one digit set to anything.
    for _ in 0..20_000 {
        let parent = rng.pick(&cases::PARENTS);
        let levels = rng.below(9);
        let valid = cases::random_finer(&mut rng, parent, levels);
        agree(valid);
        agree(valid ^ (1 << rng.below(64)));
        let digit = 1 + rng.below(15);
        let shift = 3 * (15 - digit);
        agree((valid & !(7 << shift)) | (rng.below(8) << shift));
        // The resolution field changed alone.
        agree((valid & !(0xF << 52)) | (rng.below(16) << 52));
    }
    // Every base cell at resolutions 0 to 2 with every digit: the pentagons' deleted children.
    for base in 0..128u64 {
        let res0 = (0x08u64 << 56) | (base << 45) | ((1u64 << 45) - 1);
        agree(res0);
        for d1 in 0..8u64 {
            let res1 = (res0 & !(0xF << 52) & !(7 << 42)) | (1 << 52) | (d1 << 42);
            agree(res1);
            for d2 in 0..8u64 {
                agree((res1 & !(0xF << 52) & !(7 << 39)) | (2 << 52) | (d2 << 39));
            }
        }
        assert_eq!(
            PENTAGONS.contains(&base),
            base < 122
                && h3o::CellIndex::try_from(res0)
                    .map(|c| c.is_pentagon())
                    .unwrap_or(false)
        );
    }
}
