//! Grants under a policy draft: the cache leaves them to the node ([`Stale::Draft`]), and only
//! for the subjects that hold one.

use consent_proto::Entry;
use consent_proto::fixtures::{self, DAY, T0};
use consent_proto::pb::{self, Decision, Reason, WatchKind};
use consent_proto::vocab::{DataCategory as C, Purpose as P, Role};
use prost::bytes::Bytes;

use super::{CacheConfig, DecisionCache, Stale};

fn event(index: u64, kind: WatchKind, entry: Option<&Entry>, gated: bool) -> pb::WatchEvent {
    let mut cursor = Vec::new();
    cursor.extend_from_slice(&(index + 1).to_be_bytes());
    cursor.extend_from_slice(&[0; 16]);
    pb::WatchEvent {
        kind: kind as i32,
        cursor: Bytes::from(cursor),
        index,
        entry: entry.map(Entry::to_signed),
        gated,
        ..Default::default()
    }
}

#[test]
fn a_grant_under_a_draft_is_left_to_the_node() {
    let mut scene = fixtures::scene(T0);
    let me = scene.collector.feed();
    let cache = DecisionCache::new(me, CacheConfig::default());
    let mut index = 0;
    let mut apply = |kind, entry: Option<&Entry>, gated| {
        cache
            .apply(&event(index, kind, entry, gated))
            .expect("applies");
        index += 1;
    };
    apply(WatchKind::Policy, Some(&scene.entries[2]), false);
    apply(WatchKind::Accredited, Some(&scene.entries[3]), false);
    let draft = fixtures::append(
        &mut scene.collector,
        T0 + DAY,
        fixtures::draft_policy(2, T0 + 20 * DAY),
    );
    apply(WatchKind::Policy, Some(&draft), true);
    let (mut alice, _) = fixtures::author(Role::Citizen, "alice", T0);
    let (mut bob, _) = fixtures::author(Role::Citizen, "bob", T0);
    let purposes = [P::ServiceProvision];
    // Alice grants under the version in effect, Bob under the draft (a node that did not run
    // admission, e.g. one that got it from a peer, holds it).
    let on_v1 = fixtures::append(
        &mut alice,
        T0 + DAY,
        fixtures::grant(me, scene.policy, &purposes, &[C::Location], T0, None),
    );
    let on_draft = fixtures::append(
        &mut bob,
        T0 + DAY,
        fixtures::grant(me, draft.id, &purposes, &[C::Location], T0, None),
    );
    apply(WatchKind::Grant, Some(&on_v1), false);
    apply(WatchKind::Grant, Some(&on_draft), false);
    // A stance and an outcome change nothing the cache decides.
    let stance = fixtures::append(&mut alice, T0 + 2 * DAY, fixtures::stance(draft.id, &[]));
    apply(WatchKind::Stances, Some(&stance), false);
    apply(WatchKind::Heartbeat, None, false);
    let at = T0 + 2 * DAY;
    let alice_answer = cache
        .check_at(alice.feed(), P::ServiceProvision, C::Location, at)
        .map(|c| (c.decision, c.reason));
    assert_eq!(alice_answer, Ok((Decision::Allow, Reason::Granted)));
    assert_eq!(
        cache.check_at(bob.feed(), P::ServiceProvision, C::Location, at),
        Err(Stale::Draft(draft.id))
    );
    // A subject never heard of is still denied from memory.
    let (carol, _) = fixtures::author(Role::Citizen, "carol", T0);
    let carol_answer = cache
        .check_at(carol.feed(), P::ServiceProvision, C::Location, at)
        .map(|c| c.reason);
    assert_eq!(carol_answer, Ok(Reason::NoGrant));
}

#[test]
fn a_fetched_policy_with_a_consultation_counts_as_a_draft_unless_the_node_said_otherwise() {
    let mut scene = fixtures::scene(T0);
    let me = scene.collector.feed();
    let draft = fixtures::append(
        &mut scene.collector,
        T0 + DAY,
        fixtures::draft_policy(2, T0 + 20 * DAY),
    );
    let (mut alice, _) = fixtures::author(Role::Citizen, "alice", T0);
    let grant = fixtures::append(
        &mut alice,
        T0 + DAY,
        fixtures::grant(
            me,
            draft.id,
            &[P::ServiceProvision],
            &[C::Location],
            T0,
            None,
        ),
    );
    let at = T0 + 2 * DAY;
    // Fetched for the grant (no POLICY event seen): a draft.
    let accredited = Some(&scene.entries[3]);
    let cache = DecisionCache::new(me, CacheConfig::default());
    cache.add_policy(&draft).expect("the draft");
    for (i, (kind, entry)) in [
        (WatchKind::Accredited, accredited),
        (WatchKind::Grant, Some(&grant)),
        (WatchKind::Heartbeat, None),
    ]
    .into_iter()
    .enumerate()
    {
        cache
            .apply(&event(i as u64, kind, entry, false))
            .expect("applies");
    }
    assert_eq!(
        cache.check_at(alice.feed(), P::ServiceProvision, C::Location, at),
        Err(Stale::Draft(draft.id))
    );
    // The node's POLICY event says it does not widen (a voluntary consultation): in effect.
    let cache = DecisionCache::new(me, CacheConfig::default());
    cache
        .apply(&event(0, WatchKind::Policy, Some(&draft), false))
        .expect("policy");
    cache.add_policy(&draft).expect("again: changes nothing");
    for (i, (kind, entry)) in [
        (WatchKind::Accredited, accredited),
        (WatchKind::Grant, Some(&grant)),
        (WatchKind::Heartbeat, None),
    ]
    .into_iter()
    .enumerate()
    {
        cache
            .apply(&event(i as u64 + 1, kind, entry, false))
            .expect("applies");
    }
    let answer = cache
        .check_at(alice.feed(), P::ServiceProvision, C::Location, at)
        .map(|c| c.decision);
    assert_eq!(answer, Ok(Decision::Allow));
    // Another collector's policy in a POLICY event is refused.
    let other = fixtures::scene(T0 + 1);
    let foreign = DecisionCache::new(me, CacheConfig::default());
    assert!(
        foreign
            .apply(&event(0, WatchKind::Policy, Some(&other.entries[2]), false))
            .is_err()
    );
}
