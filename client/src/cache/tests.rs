//! The cache applied to hand-made streams: each kind of event moves the decision as the node's
//! rule does; nothing is answered before the catch-up or from an old stream; bad events change
//! nothing; a grant waits for its policy, and a scoped one is judged with the observation's
//! context.

use std::time::Duration;

use consent_proto::Entry;
use consent_proto::body::Body;
use consent_proto::fixtures::{self, DAY, T0};
use consent_proto::pb::{self, Decision, Reason, WatchKind};
use consent_proto::scope::{Context, GrantScope};
use consent_proto::vocab::{
    DataCategory as C, Form, Purpose as P, RequestKind, Role, SensorKind, SensorKindSet,
};
use prost::bytes::Bytes;

use super::{BadEvent, CacheConfig, DecisionCache, Stale};

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

    /// The next log event, carrying `entry`.
    fn event(&self, kind: WatchKind, entry: &Entry) -> pb::WatchEvent {
        pb::WatchEvent {
            kind: kind as i32,
            cursor: cursor(self.index + 1, self.freezes),
            index: self.index,
            entry: Some(entry.to_signed()),
            ..Default::default()
        }
    }

    fn try_entry(&mut self, kind: WatchKind, entry: &Entry) -> Result<(), BadEvent> {
        let event = self.event(kind, entry);
        self.cache.apply(&event)?;
        self.index += 1;
        Ok(())
    }

    fn entry(&mut self, kind: WatchKind, entry: &Entry) {
        self.try_entry(kind, entry).expect("applies");
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

/// A grant scope narrowing nothing yet (each test sets what it narrows).
fn narrowing() -> GrantScope {
    GrantScope {
        zones: Vec::new(),
        sensors: Vec::new(),
        sensor_kinds: SensorKindSet::EMPTY,
        windows: Vec::new(),
        forms: Vec::new(),
    }
}

/// The scene's policy entry.
fn policy_entry(scene: &fixtures::Scene) -> &Entry {
    scene
        .entries
        .iter()
        .find(|e| e.id == scene.policy)
        .expect("the scene holds its policy")
}

/// The scene's accreditation entry.
fn accreditation(scene: &fixtures::Scene) -> &Entry {
    scene
        .entries
        .iter()
        .find(|e| matches!(e.body, Body::Accreditation(_)))
        .expect("the scene accredits its collector")
}

#[test]
fn a_grant_is_applied_only_once_its_policy_is_known() {
    let scene = fixtures::street_scene(T0);
    let me = scene.collector.feed();
    let mut s = Stream::new(me, CacheConfig::default());
    s.entry(WatchKind::Accredited, accreditation(&scene));
    s.heartbeat();
    let (mut alice, _) = fixtures::author(Role::Citizen, "alice", T0);
    let grant = fixtures::append(
        &mut alice,
        T0 + DAY,
        fixtures::scoped_grant(
            me,
            scene.policy,
            &[P::ServiceProvision],
            &[C::Location],
            GrantScope {
                zones: vec![1],
                ..narrowing()
            },
        ),
    );
    let event = s.event(WatchKind::Grant, &grant);
    assert_eq!(s.cache.missing_policy(&event), Some(scene.policy));
    let before = s.cache.cursor();
    let refused = s
        .try_entry(WatchKind::Grant, &grant)
        .expect_err("no policy");
    assert!(
        refused.why.contains("not known: add_policy first"),
        "{refused}"
    );
    assert_eq!(s.cache.cursor(), before, "nothing applied");

    // Only the collector's own policies are taken.
    assert!(s.cache.add_policy(&grant).is_err(), "not a policy");
    let (mut other, _) = fixtures::author(Role::Collector, "another collector", T0);
    let theirs = fixtures::append(&mut other, T0, fixtures::policy(1));
    assert!(s.cache.add_policy(&theirs).is_err(), "another collector's");

    s.cache
        .add_policy(policy_entry(&scene))
        .expect("the policy");
    s.cache
        .add_policy(policy_entry(&scene))
        .expect("twice is fine");
    assert_eq!(s.cache.missing_policy(&event), None);
    s.entry(WatchKind::Grant, &grant);
    s.heartbeat();
    assert_eq!(
        ask(&s, alice.feed(), P::ServiceProvision),
        (Decision::Deny, Reason::ContextMissingSensor),
        "the street policy declares sensors: a check without context names what is missing"
    );
}

#[test]
fn a_scoped_grant_is_judged_with_the_context_and_revocation_still_wins() {
    let scene = fixtures::street_scene(T0);
    let me = scene.collector.feed();
    let mut s = Stream::new(me, CacheConfig::default());
    s.cache
        .add_policy(policy_entry(&scene))
        .expect("the policy");
    s.entry(WatchKind::Accredited, accreditation(&scene));
    let Body::Policy(policy) = &policy_entry(&scene).body else {
        panic!("a policy");
    };
    let scope = policy.scope.as_ref().expect("the street policy is scoped");
    let wharf = scope.zone(1).expect("zone 1").cells[0];
    let street = scope.zone(2).expect("zone 2").cells[0];
    let category = policy.categories.iter().next().expect("a category");

    let (mut alice, _) = fixtures::author(Role::Citizen, "alice", T0);
    let grant = fixtures::append(
        &mut alice,
        T0 + DAY,
        fixtures::scoped_grant(
            me,
            scene.policy,
            &[P::ServiceProvision, P::UrbanPlanning],
            &[category],
            GrantScope {
                zones: vec![1],
                ..narrowing()
            },
        ),
    );
    s.entry(WatchKind::Grant, &grant);
    s.heartbeat();
    let subject = alice.feed();
    // Sensor 1 (the number-plate reader) on the wharf, Tuesday 17:26 local (+01:00), kept raw.
    let seen = Context {
        sensor: Some(1),
        sensor_kind: Some(SensorKind::NumberPlateReader),
        cell: Some(wharf),
        observed_ms: Some(AT),
        form: Some(Form::Raw),
    };
    let cache = s.cache.clone();
    let check = |purpose: P, context: Context| {
        let c = cache
            .check_with(subject, purpose, category, &context, AT)
            .expect("fresh");
        (c.decision, c.reason, c.required_form)
    };
    let service = P::ServiceProvision;
    assert_eq!(
        check(service, seen),
        (Decision::Allow, Reason::Granted, Some(Form::Raw))
    );
    let deny = |reason| (Decision::Deny, reason, Some(Form::Raw));
    assert_eq!(
        check(service, Context::NONE),
        deny(Reason::ContextMissingSensor)
    );
    let no_cell = Context { cell: None, ..seen };
    assert_eq!(check(service, no_cell), deny(Reason::ContextMissingCell));
    let unknown_sensor = Context {
        sensor: Some(99),
        ..seen
    };
    assert_eq!(
        check(service, unknown_sensor),
        deny(Reason::SensorNotCovered)
    );
    // The sensor is its id and its kind, the kind the grant's policy version declares.
    let no_kind = Context {
        sensor_kind: None,
        ..seen
    };
    assert_eq!(check(service, no_kind), deny(Reason::ContextMissingSensor));
    let wrong_kind = Context {
        sensor_kind: Some(SensorKind::Camera),
        ..seen
    };
    assert_eq!(check(service, wrong_kind), deny(Reason::SensorNotCovered));
    // The street zone is not in the grant (and its cell is coarser than the wharf's zone).
    let on_the_street = Context {
        cell: Some(street),
        ..seen
    };
    assert_eq!(check(service, on_the_street), deny(Reason::ZoneNotCovered));
    // 00:26 local: outside the policy's 06:00-24:00.
    let at_night = Context {
        observed_ms: Some(AT - 17 * 3_600_000),
        ..seen
    };
    assert_eq!(check(service, at_night), deny(Reason::TimeNotCovered));
    // Urban planning is offered binned or aggregated, never raw: the answer says which form.
    let planning = P::UrbanPlanning;
    assert_eq!(
        check(planning, seen),
        (Decision::Deny, Reason::FormNotCovered, Some(Form::Binned))
    );
    let binned = Context {
        form: Some(Form::Binned),
        ..seen
    };
    assert_eq!(
        check(planning, binned),
        (Decision::Allow, Reason::Granted, Some(Form::Binned))
    );
    let no_form = Context { form: None, ..seen };
    assert_eq!(check(planning, no_form).1, Reason::ContextMissingForm);

    // Revocation wins over everything the context says.
    let revoke = fixtures::append(&mut alice, T0 + DAY, fixtures::revoke(grant.id, true));
    s.entry(WatchKind::Revoke, &revoke);
    assert_eq!(check(service, seen).1, Reason::Revoked);
    assert_eq!(check(planning, binned).1, Reason::Revoked);
}
