//! Public consultation before a policy widens, on real nodes: a widening needs a consultation of
//! at least the genesis's window while a narrowing applies at once; a draft takes effect only
//! after its window, the collector's answers to the reasons many people raised, and a registrar's
//! approval; changes required keep it out of effect for good; a newer version withdraws an open
//! draft; a feed's later stance replaces its earlier one; counts agree on every node, survive a
//! restart, and reach a node that missed the whole consultation; the collector's watch reports
//! it. Time is a manual clock moved by the test (standing in the past, so that a window passes
//! before the present, where collector sessions are opened); nothing sleeps for time to pass.

use consent_proto::Entry;
use consent_proto::body::Body;
use consent_proto::entry::Author;
use consent_proto::fixtures::{self, DAY, T0};
use consent_proto::ids::EntryId;
use consent_proto::pb;
use consent_proto::vocab::{DataCategory as C, ObjectionReason as R, Purpose as P, PurposeSet};
use consent_tests::consultation::{
    self as k, HOUR, THRESHOLD, WINDOW_DAYS, clock_days_ago, cluster, consultation_genesis, counts,
    outcome, reason_count, refused, response, stance, submit_all, summary, tally, to_present,
};
use consent_tests::harness::{TestNode, submit_ok};
use consent_tests::net::{WAIT, same_entries};
use consent_tests::single::check_request;
use tokio_stream::StreamExt;
use tonic::Code;

/// The scene's collector's version 1 with `edit` applied, as version `version`.
fn policy(version: u32, edit: impl FnOnce(&mut consent_proto::body::Policy)) -> Body {
    let Body::Policy(mut p) = fixtures::policy(version) else {
        panic!("fixtures::policy is a policy");
    };
    edit(&mut p);
    Body::Policy(p)
}

/// `set` without `removed`.
fn without(set: PurposeSet, removed: &[P]) -> PurposeSet {
    set.iter().filter(|p| !removed.contains(p)).collect()
}

/// A grant of `purpose` over location data to the scene's collector under `policy`, valid from
/// `T0` until revoked.
fn grant_under(scene: &fixtures::Scene, policy: EntryId, purpose: P) -> Body {
    fixtures::grant(
        scene.collector.feed(),
        policy,
        &[purpose],
        &[C::Location],
        T0,
        None,
    )
}

/// The scene's collector's check of `purpose` over location data about `subject`, at `at_ms` (0:
/// now).
async fn decide(
    node: &TestNode,
    scene: &fixtures::Scene,
    subject: &Author,
    purpose: P,
    at_ms: u64,
) -> pb::CheckResponse {
    let mut request = check_request(subject.feed(), scene.collector.feed(), purpose, C::Location);
    request.at_ms = at_ms;
    node.consent(&scene.collector)
        .await
        .check(request)
        .await
        .expect("check")
        .into_inner()
}

/// `n` citizens `label…`, each incepted and, when `granting`, granting service provision to the
/// scene's collector under its version 1 (they are then "affected").
fn people(
    scene: &fixtures::Scene,
    label: &str,
    n: usize,
    granting: bool,
) -> (Vec<Author>, Vec<Entry>) {
    let mut entries = Vec::new();
    let mut authors = Vec::new();
    for (mut citizen, inception) in k::citizens(label, n) {
        entries.push(inception);
        if granting {
            entries.push(fixtures::append(
                &mut citizen,
                T0 + DAY,
                grant_under(scene, scene.policy, P::ServiceProvision),
            ));
        }
        authors.push(citizen);
    }
    (authors, entries)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_widening_needs_a_consultation_and_a_narrowing_applies_at_once() {
    let clock = clock_days_ago(0);
    let node = TestNode::start_with_clock(&consultation_genesis(), clock.clone()).await;
    let mut scene = fixtures::scene(T0);
    submit_all(&node, &scene.entries).await;
    let now = clock.now_ms();

    // Marketing added, no consultation: refused, naming what widens.
    let widening = fixtures::append(
        &mut scene.collector.clone(),
        now,
        policy(2, |p| {
            p.purposes.insert(P::Marketing);
        }),
    );
    refused(
        &node,
        &widening,
        Code::InvalidArgument,
        "widening-without-consultation",
    )
    .await;
    // A consultation one day shorter than the genesis's window: refused.
    let short = k::draft(&mut scene.collector.clone(), 2, now, WINDOW_DAYS - 1);
    refused(
        &node,
        &short,
        Code::InvalidArgument,
        "consultation-too-short",
    )
    .await;
    // Longer than a year: refused.
    let long = k::draft(&mut scene.collector.clone(), 2, now, 366);
    refused(&node, &long, Code::InvalidArgument, "consultation-too-long").await;

    // A narrowing (third-party sharing dropped, shorter retention) applies at once, without a
    // consultation: a grant under it allows.
    let narrowing = fixtures::append(
        &mut scene.collector,
        now,
        policy(2, |p| {
            p.purposes = without(p.purposes, &[P::ThirdPartySharing]);
            p.retention_days = 90;
        }),
    );
    submit_ok(&mut node.ledger().await, &narrowing).await;
    let (mut alice, a0) = fixtures::author(consent_proto::vocab::Role::Citizen, "alice", T0);
    let grant = fixtures::append(
        &mut alice,
        now,
        grant_under(&scene, narrowing.id, P::ServiceProvision),
    );
    submit_all(&node, &[a0, grant]).await;
    let r = decide(&node, &scene, &alice, P::ServiceProvision, 0).await;
    assert_eq!(
        (r.decision(), r.reason()),
        (pb::Decision::Allow, pb::Reason::Granted)
    );

    // The widening, put to a consultation of the genesis's window: accepted, as a draft.
    let draft = k::draft(&mut scene.collector, 3, now + 1, WINDOW_DAYS);
    submit_ok(&mut node.ledger().await, &draft).await;
    let s = summary(&node, &draft.id).await;
    assert!(s.widening, "marketing widens: a draft");
    assert_eq!(s.state(), pb::ConsultationState::Open);
    assert_eq!(s.version, 3);
    assert_eq!(s.closes_ms, now + 1 + WINDOW_DAYS * DAY);
    // A voluntary consultation on a version that widens nothing applies at once.
    let voluntary = fixtures::append(&mut scene.collector, now + 2, {
        let Body::Policy(mut p) = fixtures::draft_policy(4, now + 2 + DAY) else {
            panic!("a policy");
        };
        p.purposes = without(p.purposes, &[P::Marketing, P::ThirdPartySharing]);
        p.retention_days = 90;
        Body::Policy(p)
    });
    submit_ok(&mut node.ledger().await, &voluntary).await;
    assert!(!summary(&node, &voluntary.id).await.widening);
    assert_eq!(
        k::state(&node, &draft.id).await,
        pb::ConsultationState::Withdrawn,
        "the newer version withdrew the draft"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_draft_takes_effect_only_after_its_window_the_answers_and_the_registrars_approval() {
    let clock = clock_days_ago(20);
    let node = TestNode::start_with_clock(&consultation_genesis(), clock.clone()).await;
    let mut scene = fixtures::scene(T0);
    submit_all(&node, &scene.entries).await;
    let (mut affected, entries) = people(&scene, "objector", THRESHOLD as usize, true);
    submit_all(&node, &entries).await;

    let opened = clock.now_ms();
    let draft = k::draft(&mut scene.collector, 2, opened, WINDOW_DAYS);
    let closes = opened + WINDOW_DAYS * DAY;
    submit_ok(&mut node.ledger().await, &draft).await;
    // As many objections to the retention as the threshold: the reason is raised.
    assert!(clock.advance(HOUR));
    for citizen in &mut affected {
        let s = stance(citizen, &draft.id, clock.now_ms(), &[R::RetentionTooLong]);
        submit_ok(&mut node.ledger().await, &s).await;
    }
    let c = counts(&node, &draft.id).await;
    let objecting = tally(&c.affected);
    assert_eq!((objecting.support, objecting.object), (0, THRESHOLD));
    assert_eq!(reason_count(&objecting, R::RetentionTooLong), THRESHOLD);

    // Approved inside the window: too early.
    assert!(clock.advance(2 * DAY));
    let early = outcome(
        &mut scene.registrar.clone(),
        &draft.id,
        clock.now_ms(),
        true,
        &[],
    );
    refused(&node, &early, Code::InvalidArgument, "outcome-too-early").await;

    // The window closes: waiting for the registrar, the draft is still not in effect.
    assert!(clock.set(closes + HOUR));
    assert_eq!(
        k::state(&node, &draft.id).await,
        pb::ConsultationState::AwaitingOutcome
    );
    let (mut bob, b0) = fixtures::author(consent_proto::vocab::Role::Citizen, "bob", T0);
    submit_ok(&mut node.ledger().await, &b0).await;
    let on_draft = fixtures::append(
        &mut bob.clone(),
        clock.now_ms(),
        grant_under(&scene, draft.id, P::Marketing),
    );
    refused(&node, &on_draft, Code::FailedPrecondition, "policy-draft").await;
    // An approval that lists no answer to the raised reason: refused at admission.
    let unanswered = outcome(
        &mut scene.registrar.clone(),
        &draft.id,
        clock.now_ms(),
        true,
        &[],
    );
    let said = refused(
        &node,
        &unanswered,
        Code::FailedPrecondition,
        "consultation-unanswered",
    )
    .await;
    assert!(said.contains("retention-too-long"), "{said}");

    // The collector answers; the registrar approves relying on the answer.
    let answer = response(
        &mut scene.collector,
        &draft.id,
        clock.now_ms(),
        R::RetentionTooLong,
    );
    submit_ok(&mut node.ledger().await, &answer).await;
    assert!(clock.advance(HOUR));
    let approved_at = clock.now_ms();
    let approval = outcome(
        &mut scene.registrar,
        &draft.id,
        approved_at,
        true,
        &[answer.id],
    );
    submit_ok(&mut node.ledger().await, &approval).await;
    let s = summary(&node, &draft.id).await;
    assert_eq!(s.state(), pb::ConsultationState::Approved);
    assert_eq!(s.state_ms, approved_at, "in effect from the approval");

    // A grant under it is now accepted; it allows now, and a question about a time before the
    // approval is denied: the version was not in effect then.
    let grant = fixtures::append(
        &mut bob,
        clock.now_ms(),
        grant_under(&scene, draft.id, P::Marketing),
    );
    submit_ok(&mut node.ledger().await, &grant).await;
    to_present(&clock);
    let r = decide(&node, &scene, &bob, P::Marketing, 0).await;
    assert_eq!(
        (r.decision(), r.reason()),
        (pb::Decision::Allow, pb::Reason::Granted)
    );
    let r = decide(&node, &scene, &bob, P::Marketing, approved_at - 1).await;
    assert_eq!(
        (r.decision(), r.reason()),
        (pb::Decision::Deny, pb::Reason::PolicyNotInEffect)
    );
    let r = decide(&node, &scene, &bob, P::Marketing, approved_at).await;
    assert_eq!(r.decision(), pb::Decision::Allow, "from the approval on");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_grant_against_a_draft_is_refused() {
    let clock = clock_days_ago(0);
    let node = TestNode::start_with_clock(&consultation_genesis(), clock.clone()).await;
    let mut scene = fixtures::scene(T0);
    submit_all(&node, &scene.entries).await;
    let now = clock.now_ms();
    let draft = k::draft(&mut scene.collector, 2, now, WINDOW_DAYS);
    submit_ok(&mut node.ledger().await, &draft).await;

    let (mut alice, a0) = fixtures::author(consent_proto::vocab::Role::Citizen, "alice", T0);
    submit_ok(&mut node.ledger().await, &a0).await;
    let on_draft = fixtures::append(
        &mut alice.clone(),
        now,
        grant_under(&scene, draft.id, P::Marketing),
    );
    let said = refused(&node, &on_draft, Code::FailedPrecondition, "policy-draft").await;
    assert!(said.contains("draft under consultation"), "{said}");
    // The version in effect still takes consent, and decides as before.
    let grant = fixtures::append(
        &mut alice,
        now,
        grant_under(&scene, scene.policy, P::ServiceProvision),
    );
    submit_ok(&mut node.ledger().await, &grant).await;
    let r = decide(&node, &scene, &alice, P::ServiceProvision, 0).await;
    assert_eq!(
        (r.decision(), r.reason()),
        (pb::Decision::Allow, pb::Reason::Granted)
    );
    assert_eq!(r.grant.as_ref(), grant.id.0.as_slice());
}

/// A draft signed long before it is published would open its window before anyone could see
/// it (attacker review H2): the node it is submitted to refuses it, by its clock; ten minutes of
/// slack are allowed, and a peer's copy is not checked (admission is for submissions).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_draft_signed_long_before_it_is_submitted_is_refused() {
    let clock = clock_days_ago(0);
    let node = TestNode::start_with_clock(&consultation_genesis(), clock.clone()).await;
    let mut scene = fixtures::scene(T0);
    submit_all(&node, &scene.entries).await;
    let now = clock.now_ms();
    let backdated = k::draft(
        &mut scene.collector.clone(),
        2,
        now - WINDOW_DAYS * DAY,
        WINDOW_DAYS,
    );
    let said = refused(
        &node,
        &backdated,
        Code::FailedPrecondition,
        "draft-backdated",
    )
    .await;
    assert!(said.contains("sign it now"), "{said}");
    let slack = k::draft(&mut scene.collector, 2, now - 9 * 60_000, WINDOW_DAYS);
    submit_ok(&mut node.ledger().await, &slack).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_required_keeps_the_draft_out_of_effect_forever() {
    let clock = clock_days_ago(20);
    let node = TestNode::start_with_clock(&consultation_genesis(), clock.clone()).await;
    let mut scene = fixtures::scene(T0);
    submit_all(&node, &scene.entries).await;
    let (mut late, entries) = people(&scene, "late", 1, false);
    submit_all(&node, &entries).await;
    let draft = k::draft(&mut scene.collector, 2, clock.now_ms(), WINDOW_DAYS);
    submit_ok(&mut node.ledger().await, &draft).await;

    // Changes required may be decided inside the window.
    assert!(clock.advance(DAY));
    let decided_at = clock.now_ms();
    let decision = outcome(&mut scene.registrar, &draft.id, decided_at, false, &[]);
    submit_ok(&mut node.ledger().await, &decision).await;
    let s = summary(&node, &draft.id).await;
    assert_eq!(
        (s.state(), s.state_ms),
        (pb::ConsultationState::ChangesRequired, decided_at)
    );
    // Decided: no more stances, and no second outcome, even an approval after the window.
    let after = stance(&mut late[0], &draft.id, clock.now_ms(), &[]);
    refused(
        &node,
        &after,
        Code::FailedPrecondition,
        "consultation-closed",
    )
    .await;
    assert!(clock.advance(WINDOW_DAYS * DAY));
    let second = outcome(&mut scene.registrar, &draft.id, clock.now_ms(), true, &[]);
    refused(&node, &second, Code::FailedPrecondition, "outcome-exists").await;

    // Long after: still a draft nobody may grant under.
    to_present(&clock);
    assert_eq!(
        k::state(&node, &draft.id).await,
        pb::ConsultationState::ChangesRequired
    );
    let (mut alice, a0) = fixtures::author(consent_proto::vocab::Role::Citizen, "alice", T0);
    submit_ok(&mut node.ledger().await, &a0).await;
    let on_draft = fixtures::append(
        &mut alice,
        clock.now_ms(),
        grant_under(&scene, draft.id, P::Marketing),
    );
    refused(&node, &on_draft, Code::FailedPrecondition, "policy-draft").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_later_stance_of_a_feed_replaces_its_earlier_one() {
    let clock = clock_days_ago(0);
    let node = TestNode::start_with_clock(&consultation_genesis(), clock.clone()).await;
    let mut scene = fixtures::scene(T0);
    submit_all(&node, &scene.entries).await;
    let (mut with_grant, entries) = people(&scene, "holder", 1, true);
    submit_all(&node, &entries).await;
    let (mut others, entries) = people(&scene, "other", 1, false);
    submit_all(&node, &entries).await;
    let draft = k::draft(&mut scene.collector, 2, clock.now_ms(), WINDOW_DAYS);
    submit_ok(&mut node.ledger().await, &draft).await;

    let (holder, other) = (&mut with_grant[0], &mut others[0]);
    let mut at = clock.now_ms();
    let mut next = || {
        at += 1;
        at
    };
    for e in [
        stance(other, &draft.id, next(), &[R::PurposeTooBroad]),
        stance(holder, &draft.id, next(), &[]),
    ] {
        submit_ok(&mut node.ledger().await, &e).await;
    }
    let c = counts(&node, &draft.id).await;
    let (a, o) = (tally(&c.affected), tally(&c.others));
    assert_eq!((a.support, a.object), (1, 0));
    assert_eq!((o.support, o.object), (0, 1));
    assert_eq!(reason_count(&o, R::PurposeTooBroad), 1);

    // Each changes its mind: only the latest stance of a feed counts.
    for e in [
        stance(other, &draft.id, next(), &[]),
        stance(
            holder,
            &draft.id,
            next(),
            &[R::RetentionTooLong, R::ThirdPartySharing],
        ),
    ] {
        submit_ok(&mut node.ledger().await, &e).await;
    }
    let c = counts(&node, &draft.id).await;
    let (a, o) = (tally(&c.affected), tally(&c.others));
    assert_eq!((a.support, a.object), (0, 1));
    assert_eq!(
        (
            reason_count(&a, R::RetentionTooLong),
            reason_count(&a, R::ThirdPartySharing)
        ),
        (1, 1)
    );
    assert_eq!((o.support, o.object), (1, 0));
    assert_eq!(reason_count(&o, R::PurposeTooBroad), 0, "replaced");
}

/// The stance citizen `i` of [`counts_agree_on_every_node_and_survive_restart`] takes.
fn stance_of(i: usize) -> &'static [R] {
    match i % 3 {
        0 => &[],
        1 => &[R::RetentionTooLong],
        _ => &[R::PurposeTooBroad, R::ThirdPartySharing],
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counts_agree_on_every_node_and_survive_restart() {
    const CITIZENS: usize = 30;
    const HOLDERS: usize = 12;
    let clock = clock_days_ago(0);
    let mut nodes = cluster(&consultation_genesis(), &clock, 3).await;
    let mut scene = fixtures::scene(T0);
    let mut entries = scene.entries.clone();
    let (mut holders, granted) = people(&scene, "holder", HOLDERS, true);
    let (mut others, incepted) = people(&scene, "other", CITIZENS - HOLDERS, false);
    entries.extend(granted);
    entries.extend(incepted);
    let draft = k::draft(&mut scene.collector, 2, clock.now_ms(), WINDOW_DAYS);
    entries.push(draft.clone());
    let at = clock.now_ms();
    for (i, citizen) in holders.iter_mut().chain(others.iter_mut()).enumerate() {
        entries.push(stance(citizen, &draft.id, at, stance_of(i)));
    }
    submit_all(&nodes[0], &entries).await;
    let all: Vec<&TestNode> = nodes.iter().collect();
    same_entries(&all, entries.len() as u64).await;

    // Expected: holders are citizens 0..12, others 12..30.
    let expect = |range: std::ops::Range<usize>| {
        let mut t = pb::Tally::default();
        let mut reasons = [0u64; 6];
        for i in range {
            if stance_of(i).is_empty() {
                t.support += 1;
            } else {
                t.object += 1;
                for r in stance_of(i) {
                    reasons[*r as usize - 1] += 1;
                }
            }
        }
        (t.support, t.object, reasons)
    };
    let check = |c: &pb::ConsultationCounts| {
        for (t, range) in [
            (tally(&c.affected), 0..HOLDERS),
            (tally(&c.others), HOLDERS..CITIZENS),
        ] {
            let (support, object, reasons) = expect(range);
            assert_eq!((t.support, t.object), (support, object));
            for r in [
                R::RetentionTooLong,
                R::PurposeTooBroad,
                R::ThirdPartySharing,
            ] {
                assert_eq!(reason_count(&t, r), reasons[r as usize - 1], "{r:?}");
            }
        }
    };
    let first = get_all(&nodes, &draft.id).await;
    check(&first);

    // One node restarts: the same counts, from its store.
    nodes[1].stop().await;
    nodes[1].restart().await;
    assert_eq!(get_all(&nodes, &draft.id).await, first);
}

/// The counts of `draft` at every node, asserted equal.
async fn get_all(nodes: &[TestNode], draft: &EntryId) -> pb::ConsultationCounts {
    let mut seen = Vec::new();
    for node in nodes {
        seen.push(counts(node, draft).await);
    }
    for c in &seen[1..] {
        assert_eq!(c, &seen[0], "every node counts the same");
    }
    seen.swap_remove(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_missed_a_consultation_catches_up_by_anti_entropy() {
    let clock = clock_days_ago(20);
    let mut nodes = cluster(&consultation_genesis(), &clock, 3).await;
    let mut scene = fixtures::scene(T0);
    let (mut objectors, granted) = people(&scene, "objector", THRESHOLD as usize, true);
    let mut entries = scene.entries.clone();
    entries.extend(granted);
    submit_all(&nodes[0], &entries).await;
    let all: Vec<&TestNode> = nodes.iter().collect();
    same_entries(&all, entries.len() as u64).await;

    // C is away for the whole consultation.
    nodes[2].stop().await;
    let draft = k::draft(&mut scene.collector, 2, clock.now_ms(), WINDOW_DAYS);
    // Published when signed (a draft dated before the node's clock is refused: draft-backdated).
    submit_all(&nodes[0], std::slice::from_ref(&draft)).await;
    let mut later = vec![draft.clone()];
    assert!(clock.advance(HOUR));
    let stances: Vec<_> = objectors
        .iter_mut()
        .map(|citizen| stance(citizen, &draft.id, clock.now_ms(), &[R::SensorPlacement]))
        .collect();
    submit_all(&nodes[0], &stances).await;
    later.extend(stances);
    assert!(clock.advance(WINDOW_DAYS * DAY));
    let answer = response(
        &mut scene.collector,
        &draft.id,
        clock.now_ms(),
        R::SensorPlacement,
    );
    let approval = outcome(
        &mut scene.registrar,
        &draft.id,
        clock.now_ms(),
        true,
        &[answer.id],
    );
    submit_all(&nodes[0], &[answer.clone(), approval.clone()]).await;
    later.extend([answer, approval.clone()]);
    let total = (entries.len() + later.len()) as u64;
    same_entries(&[&nodes[0], &nodes[1]], total).await;
    let expected = get(&nodes[0], &draft.id).await;

    // C comes back and pulls what it missed from its peers.
    nodes[2].restart().await;
    same_entries(&[&nodes[2]], total).await;
    let caught_up = get(&nodes[2], &draft.id).await;
    assert_eq!(caught_up, expected);
    assert_eq!(
        caught_up.state(),
        pb::ConsultationState::Approved,
        "{caught_up:?}"
    );
    assert_eq!(caught_up.state_ms, approval.time_ms);
    assert_eq!(
        reason_count(&tally(&caught_up.affected), R::SensorPlacement),
        THRESHOLD
    );
}

/// [`k::summary`] and its counts, compared whole.
#[derive(Debug, PartialEq)]
struct Seen {
    state: i32,
    state_ms: u64,
    affected: Option<pb::Tally>,
    others: Option<pb::Tally>,
}

impl Seen {
    fn state(&self) -> pb::ConsultationState {
        pb::ConsultationState::try_from(self.state).unwrap_or(pb::ConsultationState::Unspecified)
    }
}

async fn get(node: &TestNode, draft: &EntryId) -> Seen {
    let s = summary(node, draft).await;
    let counts = s.counts.clone().unwrap_or_default();
    Seen {
        state: s.state,
        state_ms: s.state_ms,
        affected: counts.affected,
        others: counts.others,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_version_withdraws_the_open_draft() {
    let clock = clock_days_ago(0);
    let node = TestNode::start_with_clock(&consultation_genesis(), clock.clone()).await;
    let mut scene = fixtures::scene(T0);
    submit_all(&node, &scene.entries).await;
    let (mut citizens, entries) = people(&scene, "voice", 1, false);
    submit_all(&node, &entries).await;
    let now = clock.now_ms();
    let draft = k::draft(&mut scene.collector, 2, now, WINDOW_DAYS);
    submit_ok(&mut node.ledger().await, &draft).await;
    let s = stance(&mut citizens[0], &draft.id, now + 1, &[R::Other]);
    submit_ok(&mut node.ledger().await, &s).await;

    // Version 3 says what version 1 said: no widening against either, no consultation needed.
    let v3 = fixtures::append(&mut scene.collector, now + 2, fixtures::policy(3));
    submit_ok(&mut node.ledger().await, &v3).await;
    let s = summary(&node, &draft.id).await;
    assert_eq!(
        (s.state(), s.state_ms),
        (pb::ConsultationState::Withdrawn, now + 2)
    );
    // Withdrawn: no stance, no grant under it; version 3 takes consent at once.
    let late = stance(&mut citizens[0].clone(), &draft.id, now + 3, &[]);
    refused(
        &node,
        &late,
        Code::FailedPrecondition,
        "consultation-closed",
    )
    .await;
    let on_draft = fixtures::append(
        &mut citizens[0].clone(),
        now + 4,
        grant_under(&scene, draft.id, P::Marketing),
    );
    refused(&node, &on_draft, Code::FailedPrecondition, "policy-draft").await;
    let grant = fixtures::append(
        &mut citizens[0],
        now + 4,
        grant_under(&scene, v3.id, P::ServiceProvision),
    );
    submit_ok(&mut node.ledger().await, &grant).await;
    let r = decide(&node, &scene, &citizens[0], P::ServiceProvision, 0).await;
    assert_eq!(
        (r.decision(), r.reason()),
        (pb::Decision::Allow, pb::Reason::Granted)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_collectors_watch_reports_its_consultation() {
    let clock = clock_days_ago(0);
    let node = TestNode::start_with_clock(&consultation_genesis(), clock.clone()).await;
    let mut scene = fixtures::scene(T0);
    submit_all(&node, &scene.entries).await;
    let (mut voices, entries) = people(&scene, "voice", 2, false);
    submit_all(&node, &entries).await;
    let now = clock.now_ms();
    let draft = k::draft(&mut scene.collector, 2, now, WINDOW_DAYS);
    let mut later = vec![draft.clone()];
    later.push(stance(&mut voices[0], &draft.id, now + 1, &[]));
    later.push(stance(&mut voices[1], &draft.id, now + 1, &[R::Other]));
    let decision = outcome(&mut scene.registrar, &draft.id, now + 2, false, &[]);
    later.push(decision.clone());
    submit_all(&node, &later).await;

    let events = |consultations: bool| {
        let node = &node;
        let collector = &scene.collector;
        async move {
            let mut consent = node.consent(collector).await;
            let mut stream = consent
                .watch(pb::WatchRequest {
                    heartbeat_ms: 100,
                    consultations,
                    ..Default::default()
                })
                .await
                .expect("watch")
                .into_inner();
            let mut seen = Vec::new();
            let read = async {
                while let Some(event) = stream.next().await {
                    let event = event.expect("an event");
                    if event.kind() == pb::WatchKind::Heartbeat {
                        break;
                    }
                    seen.push(event);
                }
            };
            tokio::time::timeout(WAIT, read)
                .await
                .expect("the first heartbeat: everything before it sent");
            seen
        }
    };
    let id_of = |e: &pb::WatchEvent| {
        e.entry
            .as_ref()
            .and_then(|s| Entry::from_signed(s).ok())
            .map(|e| e.id)
    };

    let seen = events(true).await;
    let policy = seen
        .iter()
        .find(|e| e.kind() == pb::WatchKind::Policy && id_of(e) == Some(draft.id))
        .expect("a POLICY event for the draft");
    assert!(policy.gated, "the draft widens");
    let stances: Vec<&pb::WatchEvent> = seen
        .iter()
        .filter(|e| e.kind() == pb::WatchKind::Stances)
        .collect();
    let last = stances.last().expect("a STANCES event");
    assert_eq!(last.draft.as_ref(), draft.id.0.as_slice());
    let others = tally(&last.counts.clone().unwrap_or_default().others);
    assert_eq!((others.support, others.object), (1, 1));
    let decided = seen
        .iter()
        .find(|e| e.kind() == pb::WatchKind::Outcome)
        .expect("an OUTCOME event");
    assert_eq!(decided.draft.as_ref(), draft.id.0.as_slice());
    assert_eq!(id_of(decided), Some(decision.id));
    assert_eq!(decided.state(), pb::ConsultationState::ChangesRequired);

    // Without asking, an older collector sees none of these kinds.
    let seen = events(false).await;
    assert!(
        seen.iter().all(|e| !matches!(
            e.kind(),
            pb::WatchKind::Policy | pb::WatchKind::Stances | pb::WatchKind::Outcome
        )),
        "{seen:?}"
    );
}
