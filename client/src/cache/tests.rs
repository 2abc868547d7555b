//! The cache applied to hand-made streams: each kind of event moves the decision as the node's
//! rule does; nothing is answered before the catch-up or from an old stream; bad events change
//! nothing.

use std::time::Duration;

use consent_proto::Entry;
use consent_proto::fixtures::{self, DAY, T0};
use consent_proto::pb::{self, Decision, Reason, WatchKind};
use consent_proto::vocab::{DataCategory as C, Purpose as P, RequestKind, Role};
use prost::bytes::Bytes;

use super::{CacheConfig, DecisionCache, Stale};

fn cursor(index: u64, freeze: u64) -> Bytes {
    let mut c = Vec::new();
    c.extend_from_slice(&index.to_be_bytes());
    c.extend_from_slice(&0u64.to_be_bytes());
    c.extend_from_slice(&freeze.to_be_bytes());
    Bytes::from(c)
}

/// Feeds events to a cache, numbering log events.
struct Stream {
    cache: DecisionCache,
    index: u64,
    freezes: u64,
}

impl Stream {
    fn new(me: consent_proto::FeedId, config: CacheConfig) -> Self {
        Self {
            cache: DecisionCache::new(me, config),
            index: 0,
            freezes: 0,
        }
    }

    fn entry(&mut self, kind: WatchKind, entry: &Entry) {
        self.index += 1;
        let event = pb::WatchEvent {
            kind: kind as i32,
            cursor: cursor(self.index, self.freezes),
            index: self.index - 1,
            entry: Some(entry.to_signed()),
            ..Default::default()
        };
        self.cache.apply(&event).expect("applies");
    }

    fn frozen(&mut self, feed: consent_proto::FeedId) {
        self.freezes += 1;
        let event = pb::WatchEvent {
            kind: WatchKind::Frozen as i32,
            cursor: cursor(self.index, self.freezes),
            feed: Bytes::copy_from_slice(&feed.0),
            ..Default::default()
        };
        self.cache.apply(&event).expect("applies");
    }

    fn heartbeat(&mut self) {
        let event = pb::WatchEvent {
            kind: WatchKind::Heartbeat as i32,
            cursor: cursor(self.index, self.freezes),
            ..Default::default()
        };
        self.cache.apply(&event).expect("applies");
    }
}

const AT: u64 = T0 + 2 * DAY;

fn ask(s: &Stream, subject: consent_proto::FeedId, purpose: P) -> (Decision, Reason) {
    let c = s
        .cache
        .check_at(subject, purpose, C::Location, AT)
        .expect("fresh");
    (c.decision, c.reason)
}

#[test]
fn every_kind_of_event_moves_the_decision_as_the_rule_does() {
    let mut scene = fixtures::scene(T0);
    let me = scene.collector.feed();
    let mut s = Stream::new(me, CacheConfig::default());
    s.cache.add_policy(&scene.entries[2]).expect("the policy");
    // Before the first heartbeat nothing is answered.
    assert_eq!(
        s.cache.check_at(me, P::Research, C::Location, AT),
        Err(Stale::NotLive)
    );
    s.entry(WatchKind::Accredited, &scene.entries[3]);
    s.heartbeat();
    let (mut alice, _) = fixtures::author(Role::Citizen, "alice", T0);
    assert_eq!(
        ask(&s, alice.feed(), P::ServiceProvision),
        (Decision::Deny, Reason::NoGrant)
    );
    let purposes = [P::ServiceProvision, P::ThirdPartySharing];
    let grant = fixtures::append(
        &mut alice,
        T0 + DAY,
        fixtures::grant(me, scene.policy, &purposes, &[C::Location], T0, None),
    );
    s.entry(WatchKind::Grant, &grant);
    assert_eq!(
        ask(&s, alice.feed(), P::ServiceProvision),
        (Decision::Allow, Reason::Granted)
    );
    assert_eq!(
        ask(&s, alice.feed(), P::Research),
        (Decision::Deny, Reason::PurposeNotCovered)
    );
    assert_eq!(
        ask(&s, alice.feed(), P::ThirdPartySharing),
        (Decision::Allow, Reason::Granted)
    );
    let opt_out = fixtures::append(
        &mut alice,
        T0 + DAY,
        fixtures::request(me, RequestKind::OptOutSale),
    );
    s.entry(WatchKind::Request, &opt_out);
    assert_eq!(
        ask(&s, alice.feed(), P::ThirdPartySharing),
        (Decision::Deny, Reason::OptedOut)
    );
    assert_eq!(
        ask(&s, alice.feed(), P::ServiceProvision),
        (Decision::Allow, Reason::Granted)
    );
    let revoke = fixtures::append(&mut alice, T0 + DAY, fixtures::revoke(grant.id, true));
    s.entry(WatchKind::Revoke, &revoke);
    assert_eq!(
        ask(&s, alice.feed(), P::ServiceProvision),
        (Decision::Deny, Reason::Revoked)
    );

    // A second citizen, then the registrar suspends and re-accredits.
    let (mut bob, _) = fixtures::author(Role::Citizen, "bob", T0);
    let grant = fixtures::append(
        &mut bob,
        T0 + DAY,
        fixtures::grant(me, scene.policy, &purposes, &[C::Location], T0, None),
    );
    s.entry(WatchKind::Grant, &grant);
    assert_eq!(ask(&s, bob.feed(), P::ServiceProvision).0, Decision::Allow);
    let suspension = fixtures::append(&mut scene.registrar, T0 + DAY, fixtures::suspend(me));
    s.entry(WatchKind::Suspended, &suspension);
    assert_eq!(
        ask(&s, bob.feed(), P::ServiceProvision),
        (Decision::Deny, Reason::CollectorNotAccredited)
    );
    let again = fixtures::append(
        &mut scene.registrar,
        T0 + DAY,
        fixtures::accredit(me, T0 + 100 * DAY),
    );
    s.entry(WatchKind::Accredited, &again);
    assert_eq!(ask(&s, bob.feed(), P::ServiceProvision).0, Decision::Allow);

    // Freezes: the subject, then the registrar, then the collector itself.
    let (carol, _) = fixtures::author(Role::Citizen, "carol", T0);
    s.frozen(bob.feed());
    assert_eq!(
        ask(&s, bob.feed(), P::ServiceProvision),
        (Decision::Deny, Reason::SubjectFrozen)
    );
    s.frozen(scene.registrar.feed());
    assert_eq!(
        ask(&s, carol.feed(), P::ServiceProvision),
        (Decision::Deny, Reason::CollectorNotAccredited)
    );
    s.frozen(me);
    assert_eq!(
        ask(&s, carol.feed(), P::ServiceProvision),
        (Decision::Deny, Reason::CollectorFrozen)
    );
    assert_eq!(s.cache.position(), s.index);
    assert_eq!(s.cache.cursor(), cursor(s.index, 3));
}

#[test]
fn a_grant_stops_allowing_at_its_expiry_without_any_event() {
    let scene = fixtures::scene(T0);
    let me = scene.collector.feed();
    let mut s = Stream::new(me, CacheConfig::default());
    s.cache.add_policy(&scene.entries[2]).expect("the policy");
    s.entry(WatchKind::Accredited, &scene.entries[3]);
    let (mut alice, _) = fixtures::author(Role::Citizen, "alice", T0);
    let until = AT + 10;
    let grant = fixtures::append(
        &mut alice,
        T0 + DAY,
        fixtures::grant(
            me,
            scene.policy,
            &[P::Research],
            &[C::Location],
            T0 + DAY,
            Some(until),
        ),
    );
    s.entry(WatchKind::Grant, &grant);
    s.heartbeat();
    let at = |t| {
        s.cache
            .check_at(alice.feed(), P::Research, C::Location, t)
            .map(|c| (c.decision, c.reason))
    };
    assert_eq!(at(until - 1), Ok((Decision::Allow, Reason::Granted)));
    assert_eq!(at(until), Ok((Decision::Deny, Reason::Expired)));
    assert_eq!(at(T0 + DAY - 1), Ok((Decision::Deny, Reason::NotYetValid)));
}

#[test]
fn an_old_stream_or_a_disconnect_makes_the_cache_refuse_to_answer() {
    let scene = fixtures::scene(T0);
    let me = scene.collector.feed();
    let config = CacheConfig {
        max_stream_age: Duration::from_millis(1),
        ..CacheConfig::default()
    };
    let mut s = Stream::new(me, config);
    s.heartbeat();
    std::thread::sleep(Duration::from_millis(5));
    assert!(matches!(
        s.cache.check_at(me, P::Research, C::Location, AT),
        Err(Stale::TooOld(_))
    ));
    let mut s = Stream::new(me, CacheConfig::default());
    s.heartbeat();
    assert!(s.cache.check_at(me, P::Research, C::Location, AT).is_ok());
    s.cache.disconnected();
    assert_eq!(
        s.cache.check_at(me, P::Research, C::Location, AT),
        Err(Stale::NotLive)
    );
}

#[test]
fn bad_events_are_refused_and_change_nothing() {
    let scene = fixtures::scene(T0);
    let me = scene.collector.feed();
    let mut s = Stream::new(me, CacheConfig::default());
    s.entry(WatchKind::Accredited, &scene.entries[3]);
    s.heartbeat();
    let before = s.cache.cursor();
    let (mut alice, _) = fixtures::author(Role::Citizen, "alice", T0);
    let other = alice.feed();
    let to_other = fixtures::append(
        &mut alice,
        T0 + DAY,
        fixtures::grant(
            other,
            scene.policy,
            &[P::Research],
            &[C::Location],
            T0,
            None,
        ),
    );
    let mut garbled = to_other.to_signed();
    garbled.payload = Bytes::from_static(b"not an entry");
    let bad = [
        pb::WatchEvent {
            kind: WatchKind::Grant as i32,
            cursor: cursor(9, 0),
            ..Default::default()
        },
        pb::WatchEvent {
            kind: WatchKind::Grant as i32,
            cursor: Bytes::from_static(b"short"),
            entry: Some(to_other.to_signed()),
            ..Default::default()
        },
        pb::WatchEvent {
            kind: WatchKind::Grant as i32,
            cursor: cursor(9, 0),
            entry: Some(to_other.to_signed()),
            ..Default::default()
        },
        pb::WatchEvent {
            kind: WatchKind::Grant as i32,
            cursor: cursor(9, 0),
            entry: Some(garbled),
            ..Default::default()
        },
        pb::WatchEvent {
            kind: WatchKind::Frozen as i32,
            cursor: cursor(9, 1),
            feed: Bytes::from_static(b"short"),
            ..Default::default()
        },
        pb::WatchEvent {
            kind: 99,
            cursor: cursor(9, 0),
            ..Default::default()
        },
    ];
    for event in &bad {
        assert!(s.cache.apply(event).is_err(), "{event:?}");
    }
    assert_eq!(s.cache.cursor(), before);
    assert_eq!(
        ask(&s, alice.feed(), P::Research),
        (Decision::Deny, Reason::NoGrant)
    );
}
