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

/// Steps 5 and 6 with delegated grants, over hand-built facts (the ledger-level cases are in
/// `delegated_ledger` below).
mod delegated_rule {
    use std::sync::Arc;

    use super::*;
    use crate::decide::{GrantAnswer, SubjectGrants, decide_grants, decide_subject};
    use crate::delegation::{DelegationState, DelegationUsed, Via};
    use crate::ids::FeedId;
    use crate::vocab::DelegationKind;

    fn id(n: u8) -> EntryId {
        EntryId([n; 32])
    }

    fn q(purpose: P) -> Query {
        Query {
            subject: FeedId([1; 32]),
            collector: FeedId([2; 32]),
            purpose,
            category: C::Location,
            at_ms: NOW,
            context: Context::NONE,
        }
    }

    /// A delegation from `T0` ending at `end_ms`, with `co_signer`.
    fn state(end_ms: u64, co_signer: Option<FeedId>) -> DelegationState {
        DelegationState {
            id: id(200),
            person: FeedId([1; 32]),
            delegate: FeedId([3; 32]),
            kind: if co_signer.is_some() {
                DelegationKind::Guardian
            } else {
                DelegationKind::Assistant
            },
            from_ms: T0,
            end_ms,
            withdrawals_end_ms: end_ms,
            co_signer,
        }
    }

    fn grant_fact(n: u8, seq: u64, time_ms: u64, purpose: P, via: Option<Via>) -> GrantFacts {
        GrantFacts {
            id: id(n),
            seq,
            purposes: [purpose].into_iter().collect(),
            categories: [C::Location].into_iter().collect(),
            valid_from: T0,
            valid_until: None,
            revoked: false,
            scope: None,
            in_effect_from: crate::consultation::ALWAYS,
            time_ms,
            via: via.map(Arc::new),
        }
    }

    fn delegated(
        n: u8,
        time_ms: u64,
        purpose: P,
        d: DelegationState,
        endorsement: Option<EntryId>,
    ) -> GrantFacts {
        grant_fact(
            n,
            1,
            time_ms,
            purpose,
            Some(Via {
                delegation: d,
                signed_ms: time_ms,
                endorsement,
            }),
        )
    }

    fn decided(purpose: P, s: &SubjectGrants<'_>) -> (Decision, Reason, Option<EntryId>) {
        let a = decide_subject(&q(purpose), s);
        (a.decision, a.reason, a.grant)
    }

    #[test]
    fn a_grant_signed_after_the_undelegation_bound_is_withdrawn() {
        let mut d = state(u64::MAX, None);
        d.undelegated(T0 + 2 * DAY, T0 + 2 * DAY);
        let before = delegated(10, T0 + 2 * DAY - 1, P::Research, d, None);
        let at = delegated(11, T0 + 2 * DAY, P::Research, d, None);
        let only = |g: &GrantFacts| {
            let list = [g.clone()];
            decide_subject(
                &q(P::Research),
                &SubjectGrants {
                    delegated: &list,
                    ..SubjectGrants::default()
                },
            )
        };
        let a = only(&before);
        assert_eq!(
            (a.decision, a.reason, a.grant),
            (Decision::Allow, Reason::Granted, Some(id(10)))
        );
        assert_eq!(
            a.delegated,
            Some(DelegationUsed {
                delegation: id(200),
                delegate: FeedId([3; 32]),
                kind: DelegationKind::Assistant,
                endorsement: None,
            })
        );
        let a = only(&at);
        assert_eq!(
            (a.decision, a.reason, a.grant),
            (Decision::Deny, Reason::DelegationWithdrawn, Some(id(11)))
        );
        assert!(
            a.delegated.is_some(),
            "a deny naming a delegated grant reports it too"
        );
        // Revoked and opted out come first; not yet valid after.
        let mut revoked = at.clone();
        revoked.revoked = true;
        assert_eq!(only(&revoked).reason, Reason::Revoked);
        let mut later = before.clone();
        later.valid_from = NOW + 1;
        assert_eq!(only(&later).reason, Reason::NotYetValid);
        // A delegated grant without its delegation's facts fails closed.
        let mut bare = before.clone();
        bare.via = None;
        assert_eq!(only(&bare).reason, Reason::DelegationWithdrawn);
    }

    #[test]
    fn two_of_two_counts_only_with_a_counting_endorsement() {
        let co = FeedId([4; 32]);
        let d = state(u64::MAX, Some(co));
        let waiting = [delegated(10, T0 + DAY, P::Research, d, None)];
        let s = SubjectGrants {
            delegated: &waiting,
            ..SubjectGrants::default()
        };
        assert_eq!(
            decided(P::Research, &s),
            (Decision::Deny, Reason::EndorsementMissing, Some(id(10)))
        );
        let endorsed = [delegated(10, T0 + DAY, P::Research, d, Some(id(50)))];
        let s = SubjectGrants {
            delegated: &endorsed,
            ..SubjectGrants::default()
        };
        let a = decide_subject(&q(P::Research), &s);
        assert_eq!((a.decision, a.reason), (Decision::Allow, Reason::Granted));
        assert_eq!(a.delegated.and_then(|u| u.endorsement), Some(id(50)));
        assert_eq!(a.delegated.map(|u| u.kind), Some(DelegationKind::Guardian));
        // Withdrawn comes before a missing endorsement.
        let mut ended = d;
        ended.undelegated(T0, T0);
        let both = [delegated(10, T0 + DAY, P::Research, ended, None)];
        let s = SubjectGrants {
            delegated: &both,
            ..SubjectGrants::default()
        };
        assert_eq!(decided(P::Research, &s).1, Reason::DelegationWithdrawn);
    }

    #[test]
    fn own_grants_are_named_before_delegated_ones() {
        let d = state(u64::MAX, None);
        // Both allow: the own grant is named, whichever is newer.
        let own = [grant_fact(1, 5, T0 + DAY, P::Research, None)];
        let theirs = [delegated(10, T0 + 5 * DAY, P::Research, d, None)];
        let s = SubjectGrants {
            grants: &own,
            delegated: &theirs,
            ..SubjectGrants::default()
        };
        let a = decide_subject(&q(P::Research), &s);
        assert_eq!(
            (a.reason, a.grant, a.delegated),
            (Reason::Granted, Some(id(1)), None)
        );
        // The own grant revoked: the delegated one allows (a higher tier than covering).
        let mut revoked = own.clone();
        revoked[0].revoked = true;
        let s = SubjectGrants {
            grants: &revoked,
            delegated: &theirs,
            ..SubjectGrants::default()
        };
        assert_eq!(
            decided(P::Research, &s),
            (Decision::Allow, Reason::Granted, Some(id(10)))
        );
        // Both fail: the own grant's reason is named.
        let mut withdrawn_d = d;
        withdrawn_d.undelegated(T0, T0);
        let withdrawn = [delegated(10, T0 + 5 * DAY, P::Research, withdrawn_d, None)];
        let s = SubjectGrants {
            grants: &revoked,
            delegated: &withdrawn,
            ..SubjectGrants::default()
        };
        assert_eq!(
            decided(P::Research, &s),
            (Decision::Deny, Reason::Revoked, Some(id(1)))
        );
        // An own grant for another category only: the delegated covering grant is named.
        let mut mobility = own.clone();
        mobility[0].categories = [C::Mobility].into_iter().collect();
        let s = SubjectGrants {
            grants: &mobility,
            delegated: &withdrawn,
            ..SubjectGrants::default()
        };
        assert_eq!(
            decided(P::Research, &s),
            (Decision::Deny, Reason::DelegationWithdrawn, Some(id(10)))
        );
        // Newest among delegated grants: by (signed time, id).
        let pair = [
            delegated(12, T0 + 2 * DAY, P::Research, d, None),
            delegated(11, T0 + 2 * DAY, P::Research, d, None),
            delegated(13, T0 + DAY, P::Research, d, None),
        ];
        let s = SubjectGrants {
            delegated: &pair,
            ..SubjectGrants::default()
        };
        assert_eq!(decided(P::Research, &s).2, Some(id(12)));
    }

    #[test]
    fn opt_outs_across_feeds_compare_signed_times() {
        let d = state(u64::MAX, None);
        let sale = P::ThirdPartySharing;
        let own = [grant_fact(1, 3, T0 + DAY, sale, None)];
        let theirs = [delegated(10, T0 + 2 * DAY, sale, d, None)];
        let answer = |grants: &[GrantFacts], delegated: &[GrantFacts], seq, ms, by_delegate| {
            decided(
                sale,
                &SubjectGrants {
                    grants,
                    delegated,
                    opt_out_seq: seq,
                    opt_out_ms: ms,
                    delegated_opt_out_ms: by_delegate,
                },
            )
            .1
        };
        // An own grant: by an own opt-out later in the feed, or a delegate's at or after it.
        assert_eq!(answer(&own, &[], Some(4), Some(T0), None), Reason::OptedOut);
        assert_eq!(
            answer(&own, &[], Some(2), Some(T0 + 5 * DAY), None),
            Reason::Granted
        );
        assert_eq!(
            answer(&own, &[], None, None, Some(T0 + DAY)),
            Reason::OptedOut
        );
        assert_eq!(
            answer(&own, &[], None, None, Some(T0 + DAY - 1)),
            Reason::Granted
        );
        // A delegated grant: by any opt-out signed at or after it.
        assert_eq!(
            answer(&[], &theirs, Some(9), Some(T0 + 2 * DAY), None),
            Reason::OptedOut
        );
        assert_eq!(
            answer(&[], &theirs, Some(9), Some(T0 + 2 * DAY - 1), None),
            Reason::Granted
        );
        assert_eq!(
            answer(&[], &theirs, None, None, Some(T0 + 2 * DAY)),
            Reason::OptedOut
        );
        assert_eq!(
            answer(&[], &theirs, None, None, Some(T0 + DAY)),
            Reason::Granted
        );
        // Only sale and sharing.
        let research = [delegated(10, T0 + 2 * DAY, P::Research, d, None)];
        let a = decided(
            P::Research,
            &SubjectGrants {
                delegated: &research,
                opt_out_ms: Some(NOW),
                delegated_opt_out_ms: Some(NOW),
                ..SubjectGrants::default()
            },
        );
        assert_eq!(a.1, Reason::Granted);
    }

    #[test]
    fn no_delegated_facts_means_todays_decisions() {
        // Own grants only: decide_subject and decide_grants agree, and no delegation is reported.
        let grants = [
            grant_fact(1, 1, 0, P::Research, None),
            grant_fact(2, 2, 0, P::ServiceProvision, None),
        ];
        for purpose in [
            P::Research,
            P::ServiceProvision,
            P::Marketing,
            P::ThirdPartySharing,
        ] {
            for opt_out_seq in [None, Some(1), Some(3)] {
                let a: GrantAnswer = decide_subject(
                    &q(purpose),
                    &SubjectGrants {
                        grants: &grants,
                        opt_out_seq,
                        ..SubjectGrants::default()
                    },
                );
                assert_eq!(
                    (a.decision, a.reason, a.grant, a.required_form),
                    decide_grants(&q(purpose), &grants, opt_out_seq)
                );
                assert_eq!(a.delegated, None);
            }
        }
        // The own grants' time is not read without a delegated opt-out (0 is fine).
        let a = decide_subject(
            &q(P::ThirdPartySharing),
            &SubjectGrants {
                grants: &[grant_fact(3, 1, 0, P::ThirdPartySharing, None)],
                opt_out_ms: Some(NOW),
                ..SubjectGrants::default()
            },
        );
        assert_eq!(a.reason, Reason::Granted);
    }
}

/// The rule with delegated grants through the reference ledger: validation, the materialised
/// facts ([`MemoryLedger::delegated_facts`]) and the rule together.
mod delegated_ledger {
    use super::*;
    use crate::entry::Entry;
    use crate::ids::FeedId;
    use crate::vocab::DelegationKind;

    const MINUTE: u64 = 60_000;

    fn dworld() -> (MemoryLedger, DelegationScene) {
        let d = delegation_scene(T0);
        let mut ledger = MemoryLedger::new([d.scene.registrar.feed()]);
        for e in &d.entries {
            submit(&mut ledger, e);
        }
        (ledger, d)
    }

    fn put(ledger: &mut MemoryLedger, author: &mut Author, time_ms: u64, body: Body) -> Entry {
        let e = append(author, time_ms, body);
        submit(ledger, &e);
        e
    }

    fn ask(ledger: &MemoryLedger, subject: FeedId, collector: FeedId, purpose: P) -> Outcome {
        ledger.check(&Query {
            subject,
            collector,
            purpose,
            category: C::Location,
            at_ms: NOW,
            context: Context::NONE,
        })
    }

    #[test]
    fn a_grant_signed_after_the_undelegation_bound_is_withdrawn() {
        let (mut ledger, mut d) = dworld();
        let (person, collector) = (d.person.feed(), d.collector());
        let t = T0 + 2 * DAY;
        let early = d.grant(d.for_person(), P::Research);
        let early = put(&mut ledger, &mut d.delegate, t - 10 * MINUTE, early);
        put(
            &mut ledger,
            &mut d.person,
            t,
            undelegate(d.delegation.id, None),
        );
        // Signed a minute before the undelegation: inside its default five minutes, void.
        let late = d.grant(d.for_person(), P::ServiceProvision);
        let late = put(&mut ledger, &mut d.delegate, t - MINUTE, late);
        let o = ask(&ledger, person, collector, P::Research);
        assert_eq!(
            (o.decision, o.reason, o.grant),
            (Decision::Allow, Reason::Granted, Some(early.id))
        );
        assert_eq!(
            o.delegated.map(|u| (u.delegation, u.delegate, u.kind)),
            Some((
                d.delegation.id,
                d.delegate.feed(),
                DelegationKind::Assistant
            ))
        );
        let o = ask(&ledger, person, collector, P::ServiceProvision);
        assert_eq!(
            (o.decision, o.reason, o.grant),
            (Decision::Deny, Reason::DelegationWithdrawn, Some(late.id))
        );
    }

    #[test]
    fn grants_signed_before_an_undelegation_stay_until_revoked() {
        let (mut ledger, mut d) = dworld();
        let (person, collector) = (d.person.feed(), d.collector());
        let g = d.grant(d.for_person(), P::Research);
        let g = put(&mut ledger, &mut d.delegate, T0 + DAY, g);
        put(
            &mut ledger,
            &mut d.person,
            T0 + 2 * DAY,
            undelegate(d.delegation.id, None),
        );
        assert_eq!(
            ask(&ledger, person, collector, P::Research).reason,
            Reason::Granted
        );
        // The person revokes it alone.
        put(
            &mut ledger,
            &mut d.person,
            T0 + 3 * DAY,
            revoke(g.id, false),
        );
        let o = ask(&ledger, person, collector, P::Research);
        assert_eq!((o.reason, o.grant), (Reason::Revoked, Some(g.id)));
        // The delegate's own feed has no grant of its own.
        assert_eq!(
            ask(&ledger, d.delegate.feed(), collector, P::Research).reason,
            Reason::NoGrant
        );
    }

    #[test]
    fn two_of_two_counts_only_with_a_counting_endorsement() {
        let (mut ledger, mut d) = dworld();
        let (child, collector) = (d.child.feed(), d.collector());
        let g = d.grant(d.for_child_by_guardian(), P::Research);
        let g = put(&mut ledger, &mut d.guardian, T0 + DAY, g);
        let o = ask(&ledger, child, collector, P::Research);
        assert_eq!(
            (o.reason, o.grant),
            (Reason::EndorsementMissing, Some(g.id))
        );
        let endorsement = endorse(g.id, d.for_child_by_co_guardian());
        let e = put(&mut ledger, &mut d.co_guardian, T0 + 2 * DAY, endorsement);
        let o = ask(&ledger, child, collector, P::Research);
        assert_eq!((o.decision, o.reason), (Decision::Allow, Reason::Granted));
        assert_eq!(
            o.delegated.map(|u| (u.kind, u.endorsement)),
            Some((DelegationKind::Guardian, Some(e.id)))
        );
        // After coming of age, the answer still says a guardian made the grant.
        let later = ledger.check(&Query {
            subject: child,
            collector,
            purpose: P::Research,
            category: C::Location,
            at_ms: d.comes_of_age_ms + DAY,
            context: Context::NONE,
        });
        assert_eq!(later.decision, Decision::Allow);
        assert_eq!(
            later.delegated.map(|u| u.kind),
            Some(DelegationKind::Guardian)
        );
        // The co-guardian resigns, void from before its endorsement: the endorsement stops
        // counting, and the grant waits for another.
        put(
            &mut ledger,
            &mut d.co_guardian,
            T0 + 3 * DAY,
            undelegate(d.co_guardian_delegation.id, Some(T0 + DAY)),
        );
        assert_eq!(
            ask(&ledger, child, collector, P::Research).reason,
            Reason::EndorsementMissing
        );
    }

    #[test]
    fn either_guardian_revokes_alone() {
        let (mut ledger, mut d) = dworld();
        let (child, collector) = (d.child.feed(), d.collector());
        let g = d.grant(d.for_child_by_guardian(), P::Research);
        let g = put(&mut ledger, &mut d.guardian, T0 + DAY, g);
        let endorsement = endorse(g.id, d.for_child_by_co_guardian());
        put(&mut ledger, &mut d.co_guardian, T0 + DAY, endorsement);
        assert_eq!(
            ask(&ledger, child, collector, P::Research).reason,
            Reason::Granted
        );
        // No endorsement needed to withdraw: the co-guardian revokes the guardian's grant.
        let undo = in_name_of(d.for_child_by_co_guardian(), revoke(g.id, false));
        put(&mut ledger, &mut d.co_guardian, T0 + 2 * DAY, undo);
        assert_eq!(
            ask(&ledger, child, collector, P::Research).reason,
            Reason::Revoked
        );
        // The guardian alone, on another grant.
        let h = d.grant(d.for_child_by_guardian(), P::ServiceProvision);
        let h = put(&mut ledger, &mut d.guardian, T0 + 2 * DAY, h);
        let endorsement = endorse(h.id, d.for_child_by_co_guardian());
        put(&mut ledger, &mut d.co_guardian, T0 + 2 * DAY, endorsement);
        assert_eq!(
            ask(&ledger, child, collector, P::ServiceProvision).reason,
            Reason::Granted
        );
        put(
            &mut ledger,
            &mut d.guardian,
            T0 + 3 * DAY,
            revoke(h.id, false),
        );
        assert_eq!(
            ask(&ledger, child, collector, P::ServiceProvision).reason,
            Reason::Revoked
        );
    }

    #[test]
    fn an_ex_delegates_revocation_and_opt_out_do_not_count() {
        let sharing = P::ThirdPartySharing;
        // Ended first: the delegate's revocation and opt-out, signed after, change nothing.
        let (mut ledger, mut d) = dworld();
        let (person, collector) = (d.person.feed(), d.collector());
        let own = put(
            &mut ledger,
            &mut d.person,
            T0 + DAY,
            location_grant(&d.scene, sharing),
        );
        let end = T0 + 2 * DAY;
        put(
            &mut ledger,
            &mut d.person,
            end,
            undelegate(d.delegation.id, Some(end)),
        );
        let after = T0 + 3 * DAY;
        let undo = in_name_of(d.for_person(), revoke(own.id, false));
        put(&mut ledger, &mut d.delegate, after, undo);
        let out = in_name_of(d.for_person(), request(collector, RequestKind::OptOutSale));
        put(&mut ledger, &mut d.delegate, after, out);
        let o = ask(&ledger, person, collector, sharing);
        assert_eq!(
            (o.decision, o.grant, o.delegated),
            (Decision::Allow, Some(own.id), None)
        );
        // While the delegation held, both count.
        let (mut ledger, mut d) = dworld();
        let own = put(
            &mut ledger,
            &mut d.person,
            T0 + DAY,
            location_grant(&d.scene, sharing),
        );
        let out = in_name_of(d.for_person(), request(collector, RequestKind::OptOutSale));
        put(&mut ledger, &mut d.delegate, T0 + DAY + HOUR_MS, out);
        assert_eq!(
            ask(&ledger, person, collector, sharing).reason,
            Reason::OptedOut
        );
        let undo = in_name_of(d.for_person(), revoke(own.id, false));
        put(&mut ledger, &mut d.delegate, T0 + DAY + 2 * HOUR_MS, undo);
        assert_eq!(
            ask(&ledger, person, collector, sharing).reason,
            Reason::Revoked
        );
    }

    const HOUR_MS: u64 = 60 * MINUTE;
}
