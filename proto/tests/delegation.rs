//! Delegation, property-tested: on 10,000 random histories (a person with two assistants, a
//! child with two guardians under 2 of 2; random delegations, undelegations with and without
//! `void_from_ms`, endorsements, own and delegated grants, revocations and opt-outs, each
//! submitted to `MemoryLedger` and kept only when accepted), the decision rule
//! (`consent_proto::decide` through `MemoryLedger::check`) agrees with a second implementation
//! written from the specification over the wire types (`tests/reference/delegation.rs`) on
//! eight random questions each: decision, reason, the grant named, and the delegation it rests
//! on with its counting endorsement.

#[path = "common/scope_cases.rs"]
mod cases;
#[path = "reference/delegation.rs"]
mod reference;

use consent_proto::body::{
    Accreditation, Body, Delegation, Endorsement, Grant, OnBehalf, Policy, Request, Revoke,
    Undelegation,
};
use consent_proto::decide::Query;
use consent_proto::entry::{Author, Entry};
use consent_proto::ids::{Digest, EntryId, FeedId};
use consent_proto::keys::SecretKey;
use consent_proto::memory::MemoryLedger;
use consent_proto::scope::Context;
use consent_proto::validate::Verdict;
use consent_proto::vocab::{
    DataCategory, DelegatedPower, DelegationKind, Purpose, PurposeSet, RequestKind, Role,
};
use proptest::prelude::*;

use cases::{DAY, MINUTE, Rng, T};

const HOUR: u64 = 60 * MINUTE;
/// The validating node's clock: after every generated entry.
const CLOCK: u64 = T + 400 * DAY;
/// The purposes of the collector's policy.
const PURPOSES: [Purpose; 3] = [
    Purpose::ServiceProvision,
    Purpose::Research,
    Purpose::ThirdPartySharing,
];
/// Its categories.
const CATEGORIES: [DataCategory; 2] = [DataCategory::Location, DataCategory::Mobility];
const POWERS: [DelegatedPower; 3] = [
    DelegatedPower::Grant,
    DelegatedPower::Revoke,
    DelegatedPower::Request,
];

fn key(label: &str) -> SecretKey {
    SecretKey::from_seed(blake3::hash(label.as_bytes()).as_bytes())
}

fn author(role: Role, label: &str) -> (Author, Entry) {
    match Author::incept(
        role,
        key(&format!("delegation/{label}/0")),
        key(&format!("delegation/{label}/1")),
        T,
    ) {
        Ok(pair) => pair,
        Err(e) => panic!("{label}: {e}"),
    }
}

/// The feeds of one history, by index: 0 the person, 1 and 2 its assistants' delegate feeds, 3
/// the child, 4 and 5 its guardians' delegate feeds.
const PERSON: usize = 0;
const CHILD: usize = 3;

struct History {
    seed: u64,
    ledger: MemoryLedger,
    /// Every accepted entry, as the reference reads it.
    accepted: Vec<reference::Accepted>,
    authors: Vec<Author>,
    collector: FeedId,
    policy: EntryId,
    /// Delegations given by the person (any delegate).
    person_delegations: Vec<EntryId>,
    /// The child's two guardian delegations.
    guardians: [EntryId; 2],
    /// Every grant accepted, with the person it is for.
    grants: Vec<(EntryId, FeedId)>,
    comes_of_age_ms: u64,
}

impl History {
    /// Submits `body` signed by author `who` at `time_ms`; keeps it (and advances the author)
    /// only when accepted.
    fn offer(&mut self, who: usize, time_ms: u64, body: Body) -> Option<Entry> {
        let e = match self.authors[who].sign_next(time_ms, &body) {
            Ok(e) => e,
            Err(e) => panic!(
                "seed {}: a generated body is structurally valid: {e}",
                self.seed
            ),
        };
        match self.ledger.submit(&e, CLOCK) {
            Verdict::Accept { .. } => {
                self.authors[who] = self.authors[who].clone().with_head(e.seq, e.id);
                self.keep(&e);
                Some(e)
            }
            _ => None,
        }
    }

    fn keep(&mut self, e: &Entry) {
        let body = e.body.to_wire();
        self.accepted.push(reference::Accepted {
            id: e.id.0,
            feed: e.feed.0,
            seq: e.seq,
            time_ms: e.time_ms,
            body,
        });
    }

    fn feed(&self, who: usize) -> FeedId {
        self.authors[who].feed()
    }
}

fn setup(seed: u64) -> History {
    let (mut registrar, r0) = author(Role::Registrar, "registrar");
    let (mut collector, c0) = author(Role::Collector, "collector");
    let policy = Body::Policy(Policy {
        version: 1,
        name: "Delegation test collector".into(),
        purposes: PURPOSES.into_iter().collect(),
        categories: CATEGORIES.into_iter().collect(),
        retention_days: 365,
        recipients: Vec::new(),
        jurisdiction: "EU/GDPR".into(),
        document_digest: Digest(*blake3::hash(b"delegation policy").as_bytes()),
        document_url: "https://collector.example/privacy".into(),
        contact: "dpo@collector.example".into(),
        scope: None,
        consultation: None,
    });
    let p = collector.append(T, policy).expect("a valid policy");
    let a = registrar
        .append(
            T,
            Body::Accreditation(Accreditation {
                collector: collector.feed(),
                valid_until: T + 1_000 * DAY,
            }),
        )
        .expect("a valid accreditation");
    let mut ledger = MemoryLedger::new([registrar.feed()]);
    let mut history = History {
        seed,
        ledger: MemoryLedger::default(),
        accepted: Vec::new(),
        authors: Vec::new(),
        collector: collector.feed(),
        policy: p.id,
        person_delegations: Vec::new(),
        guardians: [EntryId([0; 32]); 2],
        grants: Vec::new(),
        comes_of_age_ms: T - T % DAY + 30 * DAY,
    };
    for e in [&r0, &c0, &p, &a] {
        assert!(matches!(ledger.submit(e, CLOCK), Verdict::Accept { .. }));
        history.keep(e);
    }
    for label in [
        "person",
        "assistant-1",
        "assistant-2",
        "child",
        "guardian-1",
        "guardian-2",
    ] {
        let (author, inception) = author(Role::Citizen, label);
        assert!(matches!(
            ledger.submit(&inception, CLOCK),
            Verdict::Accept { .. }
        ));
        history.keep(&inception);
        history.authors.push(author);
    }
    history.ledger = ledger;
    // The child's guardians, at seq 1 and 2, each naming the other as co-signer.
    for (i, (delegate, co_signer)) in [(4, 5), (5, 4)].into_iter().enumerate() {
        let body = Body::Delegation(Delegation {
            delegate: history.feed(delegate),
            powers: POWERS.into_iter().collect(),
            collectors: Vec::new(),
            purposes: PurposeSet::EMPTY,
            valid_until: Some(history.comes_of_age_ms),
            kind: DelegationKind::Guardian,
            co_signer: Some(history.feed(co_signer)),
        });
        match history.offer(CHILD, T + HOUR, body) {
            Some(e) => history.guardians[i] = e.id,
            None => panic!("seed {seed}: the guardian delegations are valid"),
        }
    }
    history
}

/// A random grant body to the collector (its on_behalf set by the caller).
fn grant_body(rng: &mut Rng, h: &History, now: u64) -> Grant {
    let valid_from = match rng.below(3) {
        0 => T,
        1 => now,
        _ => now + rng.below(10) * DAY,
    };
    Grant {
        collector: h.collector,
        policy: h.policy,
        purposes: rng.some_of(&PURPOSES).into_iter().collect(),
        categories: rng.some_of(&CATEGORIES).into_iter().collect(),
        retention_days: 30,
        valid_from,
        valid_until: rng.chance(30).then(|| valid_from + 1 + rng.below(40) * DAY),
        scope: None,
        on_behalf: None,
    }
}

fn opt_out(h: &History, on_behalf: Option<OnBehalf>) -> Body {
    Body::Request(Request {
        collector: h.collector,
        kind: RequestKind::OptOutSale,
        details_digest: None,
        on_behalf,
    })
}

/// A void_from for an undelegation signed at `now`: the default, or a time before it.
fn void_from(rng: &mut Rng, now: u64) -> Option<u64> {
    match rng.below(3) {
        0 => None,
        1 => Some(now),
        _ => Some(now.saturating_sub(rng.below(5 * DAY)).max(T)),
    }
}

/// Any grant accepted so far (or a made-up id, rarely).
fn some_grant(rng: &mut Rng, h: &History) -> EntryId {
    if h.grants.is_empty() || rng.chance(5) {
        return EntryId([rng.below(250) as u8 + 1; 32]);
    }
    h.grants[rng.below(h.grants.len() as u64) as usize].0
}

/// One random step by one of the feeds.
fn step(rng: &mut Rng, h: &mut History, now: u64) {
    let person = h.feed(PERSON);
    let child = h.feed(CHILD);
    match rng.below(15) {
        // The person: its own grant, revocation, opt-out, delegation, undelegation.
        0 | 1 => {
            let g = grant_body(rng, h, now);
            if let Some(e) = h.offer(PERSON, now, Body::Grant(g)) {
                h.grants.push((e.id, person));
            }
        }
        2 => {
            let grant = some_grant(rng, h);
            let body = Body::Revoke(Revoke {
                grant,
                erase: rng.chance(20),
                on_behalf: None,
            });
            h.offer(PERSON, now, body);
        }
        3 => {
            h.offer(PERSON, now, opt_out(h, None));
        }
        4 => {
            let delegate = h.feed(1 + rng.below(2) as usize);
            let mut collectors = match rng.below(3) {
                0 => Vec::new(),
                1 => vec![h.collector],
                _ => vec![h.collector, FeedId([7; 32])],
            };
            collectors.sort();
            let purposes: PurposeSet = if rng.chance(50) {
                PurposeSet::EMPTY
            } else {
                rng.some_of(&PURPOSES).into_iter().collect()
            };
            let body = Body::Delegation(Delegation {
                delegate,
                powers: rng.some_of(&POWERS).into_iter().collect(),
                collectors,
                purposes,
                valid_until: rng.chance(40).then(|| now + rng.below(30) * DAY + 1),
                kind: DelegationKind::Assistant,
                co_signer: None,
            });
            if let Some(e) = h.offer(PERSON, now, body) {
                h.person_delegations.push(e.id);
            }
        }
        5 if !h.person_delegations.is_empty() => {
            let d = h.person_delegations[rng.below(h.person_delegations.len() as u64) as usize];
            let body = Body::Undelegation(Undelegation {
                delegation: d,
                void_from_ms: void_from(rng, now),
            });
            h.offer(PERSON, now, body);
        }
        // An assistant, in the person's name (under any of the person's delegations: those
        // naming another feed are refused).
        6..=9 if !h.person_delegations.is_empty() => {
            let who = 1 + rng.below(2) as usize;
            let d = h.person_delegations[rng.below(h.person_delegations.len() as u64) as usize];
            let on_behalf = OnBehalf {
                person,
                delegation: d,
            };
            let body = match rng.below(4) {
                0 | 1 => Body::Grant(Grant {
                    on_behalf: Some(on_behalf),
                    ..grant_body(rng, h, now)
                }),
                2 => Body::Revoke(Revoke {
                    grant: some_grant(rng, h),
                    erase: false,
                    on_behalf: Some(on_behalf),
                }),
                _ => opt_out(h, Some(on_behalf)),
            };
            let granted = matches!(body, Body::Grant(_));
            if rng.chance(15) {
                // Resigning instead.
                let resign = Body::Undelegation(Undelegation {
                    delegation: d,
                    void_from_ms: void_from(rng, now),
                });
                h.offer(who, now, resign);
            } else if let Some(e) = h.offer(who, now, body)
                && granted
            {
                h.grants.push((e.id, person));
            }
        }
        // A guardian, in the child's name: a grant, an endorsement, a revocation, resigning.
        10..=13 => {
            let which = rng.below(2) as usize;
            let who = 4 + which;
            let on_behalf = OnBehalf {
                person: child,
                delegation: h.guardians[which],
            };
            match rng.below(5) {
                0 | 1 => {
                    let g = Grant {
                        on_behalf: Some(on_behalf),
                        ..grant_body(rng, h, now)
                    };
                    if let Some(e) = h.offer(who, now, Body::Grant(g)) {
                        h.grants.push((e.id, child));
                    }
                }
                2 => {
                    let grant = some_grant(rng, h);
                    h.offer(
                        who,
                        now,
                        Body::Endorsement(Endorsement { grant, on_behalf }),
                    );
                }
                3 => {
                    let body = Body::Revoke(Revoke {
                        grant: some_grant(rng, h),
                        erase: false,
                        on_behalf: Some(on_behalf),
                    });
                    h.offer(who, now, body);
                }
                _ => {
                    if rng.chance(30) {
                        let body = Body::Undelegation(Undelegation {
                            delegation: h.guardians[which],
                            void_from_ms: void_from(rng, now),
                        });
                        h.offer(who, now, body);
                    }
                }
            }
        }
        // The child itself: a grant (refused until it comes of age), an opt-out, a revocation.
        _ => match rng.below(3) {
            0 => {
                let g = grant_body(rng, h, now);
                if let Some(e) = h.offer(CHILD, now, Body::Grant(g)) {
                    h.grants.push((e.id, child));
                }
            }
            1 => {
                h.offer(CHILD, now, opt_out(h, None));
            }
            _ => {
                let body = Body::Revoke(Revoke {
                    grant: some_grant(rng, h),
                    erase: false,
                    on_behalf: None,
                });
                h.offer(CHILD, now, body);
            }
        },
    }
}

/// Builds one random history from `seed` and checks eight random questions against the
/// reference.
fn check_case(seed: u64) {
    let mut rng = Rng::new(seed);
    let mut h = setup(seed);
    let mut now = T + 2 * HOUR;
    let steps = 4 + rng.below(20);
    for _ in 0..steps {
        now += match rng.below(10) {
            0 => rng.below(10) * DAY,
            1..=3 => rng.below(4) * MINUTE,
            _ => rng.below(12) * HOUR,
        };
        step(&mut rng, &mut h, now);
    }
    for q in 0..8 {
        let subject = if rng.chance(50) {
            h.feed(PERSON)
        } else {
            h.feed(CHILD)
        };
        let purpose = rng.pick(&PURPOSES);
        let category = rng.pick(&CATEGORIES);
        let at_ms = T + HOUR + rng.below(90 * DAY);
        let outcome = h.ledger.check(&Query {
            subject,
            collector: h.collector,
            purpose,
            category,
            at_ms,
            context: Context::NONE,
        });
        let expected = reference::decide(
            &h.accepted,
            &reference::Question {
                subject: subject.0,
                collector: h.collector.0,
                purpose: purpose as i32,
                category: category as i32,
                at_ms,
            },
        );
        let got = reference::Answer {
            decision: outcome.decision,
            reason: outcome.reason,
            grant: outcome.grant.map(|g| g.0),
            delegated: outcome.delegated.map(|u| {
                (
                    u.delegation.0,
                    u.delegate.0,
                    u.kind as i32,
                    u.endorsement.map(|e| e.0),
                )
            }),
        };
        assert_eq!(got, expected, "seed {seed}, question {q}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(10_000))]
    /// The rule and the reference agree on random histories with delegation.
    #[test]
    fn the_rule_agrees_with_the_reference_written_from_the_spec(seed in any::<u64>()) {
        check_case(seed);
    }
}

/// The generator reaches every kind of answer the delegation adds (so the property above is
/// not vacuous).
#[test]
fn the_histories_reach_every_delegated_answer() {
    use consent_proto::pb::Reason;
    let mut seen = std::collections::HashSet::new();
    let mut delegated_allow = false;
    for seed in 0..3_000u64 {
        let mut rng = Rng::new(seed);
        let mut h = setup(seed);
        let mut now = T + 2 * HOUR;
        for _ in 0..(4 + rng.below(20)) {
            now += rng.below(12) * HOUR;
            step(&mut rng, &mut h, now);
        }
        for subject in [h.feed(PERSON), h.feed(CHILD)] {
            for purpose in PURPOSES {
                let o = h.ledger.check(&Query {
                    subject,
                    collector: h.collector,
                    purpose,
                    category: DataCategory::Location,
                    at_ms: now,
                    context: Context::NONE,
                });
                seen.insert(o.reason);
                delegated_allow |= o.delegated.is_some() && o.reason == Reason::Granted;
            }
        }
    }
    for reason in [
        Reason::DelegationWithdrawn,
        Reason::EndorsementMissing,
        Reason::Revoked,
        Reason::OptedOut,
    ] {
        assert!(seen.contains(&reason), "{reason:?} never reached");
    }
    assert!(delegated_allow, "no delegated grant ever allowed");
}
