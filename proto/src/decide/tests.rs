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

mod consultations;
mod delegated_ledger;
mod delegated_rule;
mod scopes;
