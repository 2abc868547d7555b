//! Decision-rule table tests, run through the reference ledger so that validation and the rule
//! are exercised together.

use crate::body::Body;
use crate::decide::{AccreditationFacts, Facts, GrantFacts, Outcome, Query, decide};
use crate::entry::Author;
use crate::fixtures::*;
use crate::ids::EntryId;
use crate::memory::MemoryLedger;
use crate::pb::{Decision, Reason};
use crate::scope::{Context, GrantScope};
use crate::validate::Verdict;
use crate::vocab::{DataCategory as C, Form, Purpose as P, RequestKind, Role, SensorKind};
use std::collections::HashSet;

struct World {
    ledger: MemoryLedger,
    scene: Scene,
    citizen: Author,
}

const NOW: u64 = T0 + 10 * DAY;

fn submit(ledger: &mut MemoryLedger, entry: &crate::entry::Entry) {
    let verdict = ledger.submit(entry, NOW);
    assert!(
        matches!(verdict, Verdict::Accept { .. }),
        "fixture entry refused: {verdict:?}"
    );
}

fn world() -> World {
    let scene = scene(T0);
    let mut ledger = MemoryLedger::new([scene.registrar.feed()]);
    for e in &scene.entries {
        submit(&mut ledger, e);
    }
    let (citizen, c0) = author(Role::Citizen, "alice", T0);
    submit(&mut ledger, &c0);
    World {
        ledger,
        scene,
        citizen,
    }
}

impl World {
    fn add(&mut self, time: u64, body: crate::body::Body) -> EntryId {
        let e = append(&mut self.citizen, time, body);
        submit(&mut self.ledger, &e);
        e.id
    }
    fn grant(
        &mut self,
        time: u64,
        purposes: &[P],
        categories: &[C],
        from: u64,
        until: Option<u64>,
    ) -> EntryId {
        let body = grant(
            self.scene.collector.feed(),
            self.scene.policy,
            purposes,
            categories,
            from,
            until,
        );
        self.add(time, body)
    }
    fn check(&self, purpose: P, category: C, at_ms: u64) -> (Decision, Reason, Option<EntryId>) {
        let q = Query {
            subject: self.citizen.feed(),
            collector: self.scene.collector.feed(),
            purpose,
            category,
            at_ms,
            context: Context::NONE,
        };
        let o = self.ledger.check(&q);
        (o.decision, o.reason, o.grant)
    }
}

#[test]
fn grant_allows_within_its_window_and_names_itself() {
    let mut w = world();
    let g = w.grant(
        T0 + DAY,
        &[P::ServiceProvision],
        &[C::Location],
        T0 + DAY,
        Some(T0 + 5 * DAY),
    );
    assert_eq!(
        w.check(P::ServiceProvision, C::Location, T0 + DAY),
        (Decision::Allow, Reason::Granted, Some(g))
    );
    assert_eq!(
        w.check(P::ServiceProvision, C::Location, T0 + 5 * DAY - 1),
        (Decision::Allow, Reason::Granted, Some(g))
    );
    // valid_until is exclusive, valid_from inclusive.
    assert_eq!(
        w.check(P::ServiceProvision, C::Location, T0 + 5 * DAY),
        (Decision::Deny, Reason::Expired, Some(g))
    );
    assert_eq!(
        w.check(P::ServiceProvision, C::Location, T0 + DAY - 1),
        (Decision::Deny, Reason::NotYetValid, Some(g))
    );
}

#[test]
fn open_ended_grant_has_no_expiry() {
    let mut w = world();
    let g = w.grant(T0 + DAY, &[P::Research], &[C::Mobility], T0, None);
    assert_eq!(
        w.check(P::Research, C::Mobility, T0 + 300 * DAY),
        (Decision::Allow, Reason::Granted, Some(g))
    );
}

#[test]
fn coverage_reasons() {
    let mut w = world();
    assert_eq!(w.check(P::Research, C::Location, NOW).1, Reason::NoGrant);
    let g = w.grant(T0 + DAY, &[P::ServiceProvision], &[C::Location], T0, None);
    assert_eq!(
        w.check(P::Research, C::Location, NOW),
        (Decision::Deny, Reason::PurposeNotCovered, Some(g))
    );
    assert_eq!(
        w.check(P::ServiceProvision, C::Mobility, NOW),
        (Decision::Deny, Reason::CategoryNotCovered, Some(g))
    );
}

#[test]
fn revocation_after_grant_denies_and_grant_after_revocation_allows_again() {
    let mut w = world();
    let g1 = w.grant(T0 + DAY, &[P::ServiceProvision], &[C::Location], T0, None);
    w.add(T0 + 2 * DAY, revoke(g1, false));
    assert_eq!(
        w.check(P::ServiceProvision, C::Location, NOW),
        (Decision::Deny, Reason::Revoked, Some(g1))
    );
    // Revocation is not time-scoped: even a check about the past is denied (fail closed).
    assert_eq!(
        w.check(P::ServiceProvision, C::Location, T0 + DAY).1,
        Reason::Revoked
    );
    let g2 = w.grant(
        T0 + 3 * DAY,
        &[P::ServiceProvision],
        &[C::Location],
        T0 + 3 * DAY,
        None,
    );
    assert_eq!(
        w.check(P::ServiceProvision, C::Location, NOW),
        (Decision::Allow, Reason::Granted, Some(g2))
    );
}

#[test]
fn newest_covering_grant_is_named() {
    let mut w = world();
    let g1 = w.grant(T0 + DAY, &[P::ServiceProvision], &[C::Location], T0, None);
    let g2 = w.grant(
        T0 + DAY,
        &[P::ServiceProvision],
        &[C::Location, C::Vehicle],
        T0,
        None,
    );
    assert_eq!(w.check(P::ServiceProvision, C::Location, NOW).2, Some(g2));
    w.add(T0 + 2 * DAY, revoke(g2, false));
    assert_eq!(
        w.check(P::ServiceProvision, C::Location, NOW),
        (Decision::Allow, Reason::Granted, Some(g1))
    );
}

#[test]
fn opt_out_of_sale_denies_sharing_only() {
    let mut w = world();
    let g = w.grant(
        T0 + DAY,
        &[P::ServiceProvision, P::ThirdPartySharing],
        &[C::Location],
        T0,
        None,
    );
    let collector = w.scene.collector.feed();
    w.add(T0 + 2 * DAY, request(collector, RequestKind::OptOutSale));
    assert_eq!(
        w.check(P::ThirdPartySharing, C::Location, NOW),
        (Decision::Deny, Reason::OptedOut, Some(g))
    );
    assert_eq!(
        w.check(P::ServiceProvision, C::Location, NOW).0,
        Decision::Allow
    );
    // A new explicit grant after the opt-out counts.
    let g2 = w.grant(
        T0 + 3 * DAY,
        &[P::ThirdPartySharing],
        &[C::Location],
        T0,
        None,
    );
    assert_eq!(
        w.check(P::ThirdPartySharing, C::Location, NOW),
        (Decision::Allow, Reason::Granted, Some(g2))
    );
}

#[test]
fn accreditation_window_and_suspension() {
    let mut w = world();
    w.grant(T0 + DAY, &[P::ServiceProvision], &[C::Location], T0, None);
    // Accredited from T0 (its entry time) for ACCREDITATION_DAYS.
    assert_eq!(
        w.check(P::ServiceProvision, C::Location, T0 - 1).1,
        Reason::CollectorNotAccredited
    );
    assert_eq!(
        w.check(
            P::ServiceProvision,
            C::Location,
            T0 + (ACCREDITATION_DAYS - 1) * DAY
        )
        .0,
        Decision::Allow
    );
    assert_eq!(
        w.check(
            P::ServiceProvision,
            C::Location,
            T0 + ACCREDITATION_DAYS * DAY
        )
        .1,
        Reason::CollectorNotAccredited
    );
    let collector = w.scene.collector.feed();
    let s = append(&mut w.scene.registrar, T0 + 2 * DAY, suspend(collector));
    submit(&mut w.ledger, &s);
    assert_eq!(
        w.check(P::ServiceProvision, C::Location, NOW),
        (Decision::Deny, Reason::CollectorNotAccredited, None)
    );
    // Re-accreditation replaces the suspension.
    let a = append(
        &mut w.scene.registrar,
        T0 + 3 * DAY,
        accredit(collector, T0 + 30 * DAY),
    );
    submit(&mut w.ledger, &a);
    assert_eq!(
        w.check(P::ServiceProvision, C::Location, NOW).0,
        Decision::Allow
    );
}

#[test]
fn unknown_subject_and_unknown_collector() {
    let w = world();
    let q = Query {
        subject: crate::ids::FeedId([9; 32]),
        collector: w.scene.collector.feed(),
        purpose: P::ServiceProvision,
        category: C::Location,
        at_ms: NOW,
        context: Context::NONE,
    };
    let o = w.ledger.check(&q);
    assert_eq!(
        (o.decision, o.reason, o.subject_head),
        (Decision::Deny, Reason::UnknownSubject, None)
    );
    let q = Query {
        subject: w.citizen.feed(),
        collector: crate::ids::FeedId([9; 32]),
        ..q
    };
    assert_eq!(w.ledger.check(&q).reason, Reason::CollectorNotAccredited);
    // A collector's own feed is not a subject.
    let q = Query {
        subject: w.scene.collector.feed(),
        collector: w.scene.collector.feed(),
        ..q
    };
    assert_eq!(w.ledger.check(&q).reason, Reason::UnknownSubject);
}

#[test]
fn equivocation_freezes_the_subject() {
    let mut w = world();
    w.grant(T0 + DAY, &[P::ServiceProvision], &[C::Location], T0, None);
    // Sign a different entry at the same seq (1) with the same key.
    let fork_author = Author::resume(
        Role::Citizen,
        key("alice/0"),
        key("alice/1"),
        w.citizen.feed(),
        0,
        w_head0(&w),
    );
    let fork = fork_author
        .sign_next(
            T0 + DAY,
            &grant(
                w.scene.collector.feed(),
                w.scene.policy,
                &[P::Research],
                &[C::Location],
                T0,
                None,
            ),
        )
        .expect("sign");
    assert!(matches!(
        w.ledger.submit(&fork, NOW),
        Verdict::Equivocation { .. }
    ));
    let (d, r, _) = w.check(P::ServiceProvision, C::Location, NOW);
    assert_eq!((d, r), (Decision::Deny, Reason::SubjectFrozen));
}

fn w_head0(w: &World) -> EntryId {
    use crate::validate::LedgerView;
    match w.ledger.entry_at(&w.citizen.feed(), 0) {
        Ok(Some(e)) => e.id,
        _ => EntryId([0; 32]),
    }
}

#[test]
fn frozen_collector_and_frozen_registrar_deny() {
    let w = world();
    let registrars: HashSet<_> = [w.scene.registrar.feed()].into_iter().collect();
    let mut subject = w_state(&w, w.citizen.feed());
    let mut collector = w_state(&w, w.scene.collector.feed());
    let grants = vec![GrantFacts {
        id: EntryId([1; 32]),
        seq: 1,
        purposes: [P::Research].into_iter().collect(),
        categories: [C::Location].into_iter().collect(),
        valid_from: 0,
        valid_until: None,
        revoked: false,
        scope: None,
        in_effect_from: crate::consultation::ALWAYS,
        time_ms: 0,
        via: None,
    }];
    let acc = |frozen| {
        vec![AccreditationFacts::Accredited {
            registrar: w.scene.registrar.feed(),
            from_ms: 0,
            until_ms: u64::MAX,
            registrar_frozen: frozen,
        }]
    };
    let q = Query {
        subject: w.citizen.feed(),
        collector: w.scene.collector.feed(),
        purpose: P::Research,
        category: C::Location,
        at_ms: NOW,
        context: Context::NONE,
    };
    let run = |s: &crate::validate::FeedState,
               c: &crate::validate::FeedState,
               a: &[AccreditationFacts]| {
        decide(
            &q,
            &Facts {
                subject: Some(s),
                collector: Some(c),
                grants: &grants,
                opt_out_seq: None,
                delegated: &[],
                opt_out_ms: None,
                delegated_opt_out_ms: None,
                accreditations: a,
                registrars: &registrars,
            },
        )
        .reason
    };
    assert_eq!(run(&subject, &collector, &acc(false)), Reason::Granted);
    assert_eq!(
        run(&subject, &collector, &acc(true)),
        Reason::CollectorNotAccredited
    );
    // A registrar not in the genesis does not count.
    let other = vec![AccreditationFacts::Accredited {
        registrar: crate::ids::FeedId([7; 32]),
        from_ms: 0,
        until_ms: u64::MAX,
        registrar_frozen: false,
    }];
    assert_eq!(
        run(&subject, &collector, &other),
        Reason::CollectorNotAccredited
    );
    collector.frozen = true;
    assert_eq!(
        run(&subject, &collector, &acc(false)),
        Reason::CollectorFrozen
    );
    subject.frozen = true;
    assert_eq!(
        run(&subject, &collector, &acc(false)),
        Reason::SubjectFrozen
    );
}

fn w_state(w: &World, feed: crate::ids::FeedId) -> crate::validate::FeedState {
    use crate::validate::LedgerView;
    match w.ledger.feed(&feed) {
        Ok(Some(s)) => s,
        _ => panic!("fixture feed missing"),
    }
}

#[test]
fn only_the_newest_grants_considered_are_read() {
    use crate::decide::{GRANTS_CONSIDERED, decide_grants};
    let id = |seq: u64| {
        let mut b = [0u8; 32];
        b[..8].copy_from_slice(&seq.to_be_bytes());
        EntryId(b)
    };
    let fact = |seq: u64, purpose: P| GrantFacts {
        id: id(seq),
        seq,
        purposes: [purpose].into_iter().collect(),
        categories: [C::Location].into_iter().collect(),
        valid_from: 0,
        valid_until: None,
        revoked: false,
        scope: None,
        in_effect_from: crate::consultation::ALWAYS,
        time_ms: 0,
        via: None,
    };
    let q = |purpose| Query {
        subject: crate::ids::FeedId([1; 32]),
        collector: crate::ids::FeedId([2; 32]),
        purpose,
        category: C::Location,
        at_ms: NOW,
        context: Context::NONE,
    };
    // Seq 1 grants service provision; every later grant, research only.
    let newest = GRANTS_CONSIDERED as u64 + 1;
    let mut grants: Vec<GrantFacts> = (2..=newest).map(|s| fact(s, P::Research)).collect();
    grants.push(fact(1, P::ServiceProvision));
    assert_eq!(grants.len(), GRANTS_CONSIDERED + 1);
    // One grant too many: the oldest falls out, whatever the order given.
    let service = decide_grants(&q(P::ServiceProvision), &grants, None);
    assert_eq!(
        service,
        (
            Decision::Deny,
            Reason::PurposeNotCovered,
            Some(id(newest)),
            None
        )
    );
    grants.reverse();
    assert_eq!(
        decide_grants(&q(P::ServiceProvision), &grants, None),
        service
    );
    assert_eq!(
        decide_grants(&q(P::Research), &grants, None),
        (Decision::Allow, Reason::Granted, Some(id(newest)), None)
    );
    // At the limit, every grant is read.
    grants.retain(|g| g.seq != newest);
    assert_eq!(
        decide_grants(&q(P::ServiceProvision), &grants, None),
        (Decision::Allow, Reason::Granted, Some(id(1)), None)
    );
}

#[test]
fn question_time_marks_past_and_future_questions() {
    use crate::decide::{QUESTION_TIME_TOLERANCE_MS as TOL, asked_at, question_time};
    use crate::pb::QuestionTime;
    assert_eq!(asked_at(0, NOW), NOW);
    assert_eq!(asked_at(T0, NOW), T0);
    assert_eq!(question_time(NOW, NOW), QuestionTime::Current);
    assert_eq!(question_time(NOW - TOL, NOW), QuestionTime::Current);
    assert_eq!(question_time(NOW + TOL, NOW), QuestionTime::Current);
    assert_eq!(question_time(NOW - TOL - 1, NOW), QuestionTime::Past);
    assert_eq!(question_time(NOW + TOL + 1, NOW), QuestionTime::Future);
    assert_eq!(question_time(0, NOW), QuestionTime::Past);
    assert_eq!(question_time(u64::MAX, NOW), QuestionTime::Future);
}

#[test]
fn freshness_denies_a_stale_or_behind_answer_and_nothing_else() {
    use super::{Demand, fresh};
    let none = Demand::default();
    assert!(fresh(&none, None, 0, 1_000), "no demand, no deny");
    let recent = Demand {
        max_staleness_ms: 500,
        min_subject_seq: 0,
    };
    assert!(fresh(&recent, None, 600, 1_000));
    assert!(
        fresh(&recent, None, 500, 1_000),
        "exactly the limit is fresh"
    );
    assert!(!fresh(&recent, None, 499, 1_000), "older than the limit");
    assert!(
        !fresh(&recent, None, 0, 1_000),
        "never heard from the network"
    );
    assert!(
        fresh(&recent, None, 2_000, 1_000),
        "a contact after now is not stale"
    );
    let token = Demand {
        max_staleness_ms: 0,
        min_subject_seq: 3,
    };
    assert!(fresh(&token, Some(3), 0, 0));
    assert!(!fresh(&token, Some(2), 0, 0), "behind the token");
    assert!(!fresh(&token, None, 0, 0), "unknown subject, token given");
}

// ---- Scopes: step 6 of the rule, through the reference ledger ----

/// 2025-06-16T10:00:00Z, a Monday: 11:00 at the street policy's +01:00.
const MONDAY_10: u64 = 1_750_032_000_000 + 10 * 3_600_000;

struct Street {
    ledger: MemoryLedger,
    scene: Scene,
    citizen: Author,
    /// The time of the citizen's last entry (times never decrease along a feed).
    last: u64,
}

fn street_world() -> Street {
    let scene = street_scene(T0);
    let mut ledger = MemoryLedger::new([scene.registrar.feed()]);
    for e in &scene.entries {
        submit(&mut ledger, e);
    }
    let (citizen, c0) = author(Role::Citizen, "bea", T0);
    submit(&mut ledger, &c0);
    Street {
        ledger,
        scene,
        citizen,
        last: T0,
    }
}

impl Street {
    fn add(&mut self, time: u64, body: Body) -> EntryId {
        self.last = self.last.max(time);
        let e = append(&mut self.citizen, self.last, body);
        submit(&mut self.ledger, &e);
        e.id
    }
    /// A grant of `purposes` over location data under `policy`, narrowed by `scope`.
    fn grant_under(
        &mut self,
        policy: EntryId,
        purposes: &[P],
        scope: GrantScope,
        from: u64,
        until: Option<u64>,
    ) -> EntryId {
        let mut body = scoped_grant(
            self.scene.collector.feed(),
            policy,
            purposes,
            &[C::Location],
            scope,
        );
        if let Body::Grant(g) = &mut body {
            g.valid_from = from;
            g.valid_until = until;
        }
        self.add(T0 + DAY, body)
    }
    fn grant(&mut self, purposes: &[P], scope: GrantScope) -> EntryId {
        self.grant_under(self.scene.policy, purposes, scope, T0, None)
    }
    fn check(&self, purpose: P, at_ms: u64, context: Context) -> Outcome {
        self.ledger.check(&Query {
            subject: self.citizen.feed(),
            collector: self.scene.collector.feed(),
            purpose,
            category: C::Location,
            at_ms,
            context,
        })
    }
}

/// A full context: `sensor` (with the kind the street policy gives it, a camera for an id it
/// does not declare), the cell `raw`, observed at `observed_ms`, kept as `form`.
fn seen(sensor: u32, raw: u64, observed_ms: u64, form: Form) -> Context {
    Context {
        sensor: Some(sensor),
        sensor_kind: Some(
            street_scope()
                .sensor(sensor)
                .map_or(SensorKind::Camera, |s| s.kind),
        ),
        cell: crate::h3::Cell::new(raw),
        observed_ms: Some(observed_ms),
        form: Some(form),
    }
}

fn answer(o: &Outcome) -> (Decision, Reason, Option<EntryId>, Option<Form>) {
    (o.decision, o.reason, o.grant, o.required_form)
}

#[test]
fn a_scoped_grant_allows_inside_its_scope_and_names_what_is_missing() {
    let mut w = street_world();
    let g = w.grant(&[P::Billing], GrantScope::default());
    let inside = seen(1, IN_WHARF, MONDAY_10, Form::Raw);
    assert_eq!(
        answer(&w.check(P::Billing, MONDAY_10, inside)),
        (Decision::Allow, Reason::Granted, Some(g), Some(Form::Raw))
    );
    // The policy's scope binds a grant that narrows nothing.
    assert_eq!(
        answer(&w.check(P::Billing, MONDAY_10, Context::NONE)),
        (
            Decision::Deny,
            Reason::ContextMissingSensor,
            Some(g),
            Some(Form::Raw)
        )
    );
    let outside = seen(1, OUTSIDE_STREET, MONDAY_10, Form::Raw);
    assert_eq!(
        w.check(P::Billing, MONDAY_10, outside).reason,
        Reason::ZoneNotCovered
    );
    // 03:00 local is outside the policy's window.
    let night = seen(1, IN_WHARF, MONDAY_10 - 8 * 3_600_000, Form::Raw);
    assert_eq!(
        w.check(P::Billing, MONDAY_10, night).reason,
        Reason::TimeNotCovered
    );
}

#[test]
fn expiry_validity_revocation_and_opt_out_win_over_every_scope_failure() {
    let mut w = street_world();
    let policy = w.scene.policy;
    let g = w.grant_under(
        policy,
        &[P::Billing],
        GrantScope::default(),
        T0 + DAY,
        Some(T0 + 5 * DAY),
    );
    for context in [Context::NONE, seen(9, OUTSIDE_STREET, 1, Form::Aggregated)] {
        assert_eq!(
            w.check(P::Billing, T0 + 6 * DAY, context).reason,
            Reason::Expired
        );
        assert_eq!(w.check(P::Billing, T0, context).reason, Reason::NotYetValid);
    }
    w.add(T0 + 2 * DAY, revoke(g, false));
    assert_eq!(
        answer(&w.check(P::Billing, T0 + 2 * DAY, Context::NONE)),
        (Decision::Deny, Reason::Revoked, Some(g), Some(Form::Raw))
    );
    // A second street policy that also declares sharing; an opt-out beats a missing context.
    let Body::Policy(mut sharing) = street_policy() else {
        panic!("a policy");
    };
    sharing.version = 2;
    sharing.purposes.insert(P::ThirdPartySharing);
    let v2 = append(&mut w.scene.collector, T0 + DAY, Body::Policy(sharing));
    submit(&mut w.ledger, &v2);
    let shared = w.grant_under(
        v2.id,
        &[P::ThirdPartySharing],
        GrantScope::default(),
        T0,
        None,
    );
    assert_eq!(
        w.check(P::ThirdPartySharing, NOW, Context::NONE).reason,
        Reason::ContextMissingSensor
    );
    w.add(
        T0 + 3 * DAY,
        request(w.scene.collector.feed(), RequestKind::OptOutSale),
    );
    assert_eq!(
        answer(&w.check(P::ThirdPartySharing, NOW, Context::NONE)),
        (Decision::Deny, Reason::OptedOut, Some(shared), None)
    );
}

#[test]
fn the_observation_time_must_lie_within_the_grants_validity() {
    let mut w = street_world();
    let policy = w.scene.policy;
    let g = w.grant_under(
        policy,
        &[P::Billing],
        GrantScope::default(),
        MONDAY_10 - DAY,
        Some(MONDAY_10 + DAY),
    );
    let at = |observed| seen(1, IN_WHARF, observed, Form::Raw);
    assert_eq!(
        answer(&w.check(P::Billing, MONDAY_10, at(MONDAY_10))),
        (Decision::Allow, Reason::Granted, Some(g), Some(Form::Raw))
    );
    assert_eq!(
        w.check(P::Billing, MONDAY_10, at(MONDAY_10 - DAY)).decision,
        Decision::Allow
    );
    // Before valid_from, at valid_until: the window would cover both (11:00 local).
    for observed in [MONDAY_10 - DAY - 1, MONDAY_10 + DAY, MONDAY_10 - 2 * DAY] {
        assert_eq!(
            w.check(P::Billing, MONDAY_10, at(observed)).reason,
            Reason::TimeNotCovered,
            "{observed}"
        );
    }
    // An unscoped grant too: an observation from before the consent is not covered.
    let mut old = world();
    let g = old.grant(T0 + DAY, &[P::Research], &[C::Location], T0 + DAY, None);
    let q = |observed_ms| Query {
        subject: old.citizen.feed(),
        collector: old.scene.collector.feed(),
        purpose: P::Research,
        category: C::Location,
        at_ms: T0 + 2 * DAY,
        context: Context {
            observed_ms,
            ..Context::NONE
        },
    };
    assert_eq!(
        answer(&old.ledger.check(&q(Some(T0)))),
        (Decision::Deny, Reason::TimeNotCovered, Some(g), None)
    );
    assert_eq!(
        answer(&old.ledger.check(&q(Some(T0 + DAY)))),
        (Decision::Allow, Reason::Granted, Some(g), None)
    );
    assert_eq!(
        answer(&old.ledger.check(&q(None))),
        (Decision::Allow, Reason::Granted, Some(g), None)
    );
    // Other context of an unscoped grant is ignored.
    let mut extra = q(None);
    extra.context = seen(9, OUTSIDE_STREET, T0 + DAY, Form::Aggregated);
    assert_eq!(old.ledger.check(&extra).decision, Decision::Allow);
}

/// Attacker review M1, through the ledger: version 2 of the street policy gives sensor id 3 (an
/// air-quality sensor in version 1) to a camera. A gateway checking a camera observation in its
/// current numbering (sensor 3, a camera) is denied under a grant of version 1 that allows
/// air-quality sensors only; the same id with the kind version 1 gives it is allowed.
#[test]
fn a_sensor_id_a_later_policy_version_gives_to_another_kind_does_not_widen_an_old_grant() {
    let mut w = street_world();
    let air_only = w.grant(
        &[P::Billing],
        GrantScope {
            sensor_kinds: [SensorKind::AirQuality].into_iter().collect(),
            ..GrantScope::default()
        },
    );
    // Validation refuses a version that gives sensor 3 another kind than the version before it
    // (`id-redefined`), but ids that skip a version are not tracked: version 2 drops sensor 3
    // and version 3 brings it back as a camera. (Called v2 below: the camera's version.)
    let Body::Policy(mut dropped) = street_policy() else {
        panic!("a policy");
    };
    dropped.version = 2;
    let scope = dropped
        .scope
        .as_mut()
        .expect("the street policy has a scope");
    assert_eq!(scope.sensors[2].id, 3);
    scope.sensors.truncate(2);
    let dropped = append(&mut w.scene.collector, T0 + DAY / 2, Body::Policy(dropped));
    submit(&mut w.ledger, &dropped);
    let Body::Policy(mut v2) = street_policy() else {
        panic!("a policy");
    };
    v2.version = 3;
    let scope = v2.scope.as_mut().expect("the street policy has a scope");
    scope.sensors[2].kind = SensorKind::Camera;
    let v2 = append(&mut w.scene.collector, T0 + DAY, Body::Policy(v2));
    submit(&mut w.ledger, &v2);
    let camera = Context {
        sensor_kind: Some(SensorKind::Camera),
        ..seen(3, IN_STREET, MONDAY_10, Form::Raw)
    };
    assert_eq!(
        answer(&w.check(P::Billing, MONDAY_10, camera)),
        (
            Decision::Deny,
            Reason::SensorNotCovered,
            Some(air_only),
            Some(Form::Raw)
        )
    );
    let no_kind = Context {
        sensor_kind: None,
        ..camera
    };
    assert_eq!(
        w.check(P::Billing, MONDAY_10, no_kind).reason,
        Reason::ContextMissingSensor
    );
    let air = Context {
        sensor_kind: Some(SensorKind::AirQuality),
        ..camera
    };
    assert_eq!(
        answer(&w.check(P::Billing, MONDAY_10, air)),
        (
            Decision::Allow,
            Reason::Granted,
            Some(air_only),
            Some(Form::Raw)
        )
    );
    // A grant under version 2 reads sensor 3 as the camera.
    let camera_3 = w.grant_under(
        v2.id,
        &[P::Billing],
        GrantScope {
            sensors: vec![3],
            ..GrantScope::default()
        },
        T0,
        None,
    );
    assert_eq!(
        answer(&w.check(P::Billing, MONDAY_10, camera)),
        (
            Decision::Allow,
            Reason::Granted,
            Some(camera_3),
            Some(Form::Raw)
        )
    );
}

#[test]
fn of_two_scoped_grants_an_allowing_one_is_named_else_the_newest() {
    let mut w = street_world();
    let older = w.grant(
        &[P::Billing],
        GrantScope {
            sensors: vec![1],
            forms: vec![(P::Billing, Form::Pseudonymised)],
            ..GrantScope::default()
        },
    );
    let newer = w.grant(
        &[P::Billing],
        GrantScope {
            sensors: vec![2],
            ..GrantScope::default()
        },
    );
    let by = |sensor, form| seen(sensor, IN_WHARF, MONDAY_10, form);
    assert_eq!(
        answer(&w.check(P::Billing, MONDAY_10, by(1, Form::Pseudonymised))),
        (
            Decision::Allow,
            Reason::Granted,
            Some(older),
            Some(Form::Pseudonymised)
        )
    );
    assert_eq!(
        answer(&w.check(P::Billing, MONDAY_10, by(2, Form::Raw))),
        (
            Decision::Allow,
            Reason::Granted,
            Some(newer),
            Some(Form::Raw)
        )
    );
    // Neither allows: the newest covering grant is named, with its own first failure.
    assert_eq!(
        answer(&w.check(P::Billing, MONDAY_10, by(3, Form::Raw))),
        (
            Decision::Deny,
            Reason::SensorNotCovered,
            Some(newer),
            Some(Form::Raw)
        )
    );
    // The older grant's floor refuses raw; the newer does not cover sensor 1.
    assert_eq!(
        answer(&w.check(P::Billing, MONDAY_10, by(1, Form::Raw))),
        (
            Decision::Deny,
            Reason::SensorNotCovered,
            Some(newer),
            Some(Form::Raw)
        )
    );
    // Revoked, the newer grant is still the newest covering one: a deny names it as revoked.
    w.add(T0 + 2 * DAY, revoke(newer, false));
    assert_eq!(
        answer(&w.check(P::Billing, MONDAY_10, by(1, Form::Raw))),
        (
            Decision::Deny,
            Reason::Revoked,
            Some(newer),
            Some(Form::Raw)
        )
    );
    assert_eq!(
        answer(&w.check(P::Billing, MONDAY_10, by(1, Form::Pseudonymised))),
        (
            Decision::Allow,
            Reason::Granted,
            Some(older),
            Some(Form::Pseudonymised)
        )
    );
}

#[test]
fn unscoped_grants_require_no_form() {
    let mut w = world();
    let g = w.grant(T0 + DAY, &[P::Research], &[C::Location], T0, None);
    let o = w.ledger.check(&Query {
        subject: w.citizen.feed(),
        collector: w.scene.collector.feed(),
        purpose: P::Research,
        category: C::Location,
        at_ms: NOW,
        context: Context::NONE,
    });
    assert_eq!(
        answer(&o),
        (Decision::Allow, Reason::Granted, Some(g), None)
    );
    // A street grant for a purpose the policy offers no forms for does not exist (every street
    // purpose has forms); a purpose not covered names no form either.
    let mut s = street_world();
    let g = s.grant(&[P::Billing], GrantScope::default());
    assert_eq!(
        answer(&s.check(P::UrbanPlanning, MONDAY_10, Context::NONE)),
        (Decision::Deny, Reason::PurposeNotCovered, Some(g), None)
    );
}

// ---- Consultations: a grant under a draft counts only from the draft's approval ----

/// When the draft of [`draft_world`] closes.
const CLOSES: u64 = T0 + 3 * DAY;

/// The world with a draft (version 2, adding marketing) signed at `T0 + DAY` and closing at
/// [`CLOSES`], and alice's grant for marketing under it (replicated: a node refuses it on
/// submission, `policy-draft`, but a peer's copy is valid). Returns the draft and the grant.
fn draft_world() -> (World, EntryId, EntryId) {
    let mut w = world();
    let draft = append(&mut w.scene.collector, T0 + DAY, draft_policy(2, CLOSES));
    submit(&mut w.ledger, &draft);
    let body = grant(
        w.scene.collector.feed(),
        draft.id,
        &[P::Marketing],
        &[C::Location],
        T0,
        None,
    );
    let g = w.add(T0 + DAY, body);
    (w, draft.id, g)
}

impl World {
    fn decide_draft(&mut self, time: u64, draft: EntryId, approved: bool) -> u64 {
        let e = append(
            &mut self.scene.registrar,
            time,
            outcome(draft, approved, "Decided after the consultation.", &[]),
        );
        submit(&mut self.ledger, &e);
        e.time_ms
    }
}

#[test]
fn a_grant_under_a_draft_denies_until_the_draft_is_approved() {
    let (mut w, draft, g) = draft_world();
    let not_in_effect = (Decision::Deny, Reason::PolicyNotInEffect, Some(g));
    // Open, then awaiting the registrar.
    assert_eq!(
        w.check(P::Marketing, C::Location, T0 + 2 * DAY),
        not_in_effect
    );
    assert_eq!(
        w.check(P::Marketing, C::Location, CLOSES + DAY),
        not_in_effect
    );
    // Approved an hour after the window: in effect from then on, not before (a past `at`).
    let from = w.decide_draft(CLOSES + 3_600_000, draft, true);
    assert_eq!(
        w.check(P::Marketing, C::Location, from),
        (Decision::Allow, Reason::Granted, Some(g))
    );
    assert_eq!(w.check(P::Marketing, C::Location, from - 1), not_in_effect);
    // A later approval changes nothing: the first sets the time.
    w.decide_draft(CLOSES + DAY, draft, true);
    assert_eq!(
        w.check(P::Marketing, C::Location, from),
        (Decision::Allow, Reason::Granted, Some(g))
    );
    // But a registrar's "changes required", even signed later, keeps the draft out of effect
    // (fail closed), for past questions too.
    w.decide_draft(CLOSES + 2 * DAY, draft, false);
    for at in [from, NOW] {
        assert_eq!(w.check(P::Marketing, C::Location, at), not_in_effect);
    }
}

#[test]
fn a_draft_with_changes_required_or_withdrawn_never_takes_effect() {
    let (mut w, draft, g) = draft_world();
    w.decide_draft(T0 + 2 * DAY, draft, false);
    // (Later than NOW the collector's accreditation lapses, which a check names first.)
    for at in [T0 + 2 * DAY, CLOSES, NOW] {
        assert_eq!(
            w.check(P::Marketing, C::Location, at),
            (Decision::Deny, Reason::PolicyNotInEffect, Some(g))
        );
    }
    // Withdrawn by a newer version before any outcome; an approval after it does not count.
    let (mut w, draft, g) = draft_world();
    let v3 = append(&mut w.scene.collector, T0 + 2 * DAY, policy(3));
    submit(&mut w.ledger, &v3);
    w.decide_draft(CLOSES, draft, true);
    assert_eq!(
        w.check(P::Marketing, C::Location, NOW),
        (Decision::Deny, Reason::PolicyNotInEffect, Some(g))
    );
}

#[test]
fn revoked_expired_and_not_yet_valid_come_before_not_in_effect() {
    let (mut w, draft, g) = draft_world();
    let before = |w: &World, at| w.check(P::Marketing, C::Location, at).1;
    let revoked = w.add(T0 + 2 * DAY, revoke(g, false));
    assert_ne!(revoked, g);
    assert_eq!(before(&w, T0 + 2 * DAY), Reason::Revoked);
    w.decide_draft(CLOSES, draft, true);
    assert_eq!(before(&w, NOW), Reason::Revoked);
    // A grant under the draft that lapses before the question: expired.
    let (mut w, _, _) = draft_world();
    let collector = w.scene.collector.feed();
    let Some(draft) = w
        .ledger
        .heads()
        .find(|(f, _)| **f == collector)
        .and_then(|(_, s)| s.policy_head)
    else {
        panic!("the collector has a policy")
    };
    let body = grant(
        collector,
        draft,
        &[P::Marketing],
        &[C::Location],
        T0,
        Some(T0 + 2 * DAY),
    );
    let lapsing = w.add(T0 + DAY, body);
    assert_eq!(
        w.check(P::Marketing, C::Location, T0 + 3 * DAY),
        (Decision::Deny, Reason::Expired, Some(lapsing))
    );
    // Grants under the version in effect are not touched by the draft.
    w.grant(T0 + DAY, &[P::Research], &[C::Location], T0, None);
    assert_eq!(
        w.check(P::Research, C::Location, T0 + 2 * DAY).0,
        Decision::Allow
    );
}
