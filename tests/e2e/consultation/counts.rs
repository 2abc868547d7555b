//! Stances and their counts: a feed's later stance replaces its earlier one; the counts agree on
//! every node, survive a restart, and reach a node that missed the whole consultation; the
//! collector's watch reports the draft, its counts and the outcome.

use consent_proto::Entry;
use consent_proto::fixtures::{self, DAY, T0};
use consent_proto::ids::EntryId;
use consent_proto::pb;
use consent_proto::vocab::ObjectionReason as R;
use consent_tests::consultation::{
    self as k, HOUR, THRESHOLD, WINDOW_DAYS, clock_days_ago, cluster, consultation_genesis, counts,
    outcome, reason_count, response, stance, submit_all, summary, tally,
};
use consent_tests::harness::{TestNode, submit_ok};
use consent_tests::net::{WAIT, same_entries};
use tokio_stream::StreamExt;

use super::people;

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
