//! Statements a delegate signed in someone's name: the cache leaves the represented person to
//! the node ([`Stale::Delegated`]), and only that person; a delegation-related entry it cannot
//! place is a bad event (the stream is resumed, nothing guessed).

use consent_proto::Entry;
use consent_proto::body::{Body, Delegation, OnBehalf, Undelegation};
use consent_proto::fixtures::{self, DAY, T0};
use consent_proto::ids::EntryId;
use consent_proto::pb::{self, Decision, Reason, WatchKind};
use consent_proto::vocab::{
    DataCategory as C, DelegatedPower, DelegationKind, Purpose as P, RequestKind, Role,
};
use prost::bytes::Bytes;

use super::{CacheConfig, DecisionCache, Stale};

fn event(index: u64, kind: WatchKind, entry: Option<&Entry>) -> pb::WatchEvent {
    let mut cursor = Vec::new();
    cursor.extend_from_slice(&(index + 1).to_be_bytes());
    cursor.extend_from_slice(&[0; 16]);
    pb::WatchEvent {
        kind: kind as i32,
        cursor: Bytes::from(cursor),
        index,
        entry: entry.map(Entry::to_signed),
        ..Default::default()
    }
}

/// `body` (a grant, revoke or request) signed in `person`'s name under `delegation`.
fn on_behalf(body: Body, person: consent_proto::FeedId, delegation: EntryId) -> Body {
    let ob = Some(OnBehalf { person, delegation });
    match body {
        Body::Grant(mut g) => {
            g.on_behalf = ob;
            Body::Grant(g)
        }
        Body::Revoke(mut r) => {
            r.on_behalf = ob;
            Body::Revoke(r)
        }
        Body::Request(mut r) => {
            r.on_behalf = ob;
            Body::Request(r)
        }
        other => other,
    }
}

#[test]
fn a_person_with_a_delegates_statement_is_left_to_the_node() {
    let scene = fixtures::scene(T0);
    let me = scene.collector.feed();
    let cache = DecisionCache::new(me, CacheConfig::default());
    let mut index = 0;
    let mut apply = |kind, entry: Option<&Entry>| {
        let r = cache.apply(&event(index, kind, entry));
        index += 1;
        r
    };
    apply(WatchKind::Policy, Some(&scene.entries[2])).expect("policy");
    apply(WatchKind::Accredited, Some(&scene.entries[3])).expect("accreditation");
    let (mut alice, _) = fixtures::author(Role::Citizen, "alice", T0);
    let (mut bob, _) = fixtures::author(Role::Citizen, "bob", T0);
    let (carol, _) = fixtures::author(Role::Citizen, "carol", T0);
    let (dave, _) = fixtures::author(Role::Citizen, "dave", T0);
    let (mut helper, _) = fixtures::author(Role::Citizen, "helper", T0);
    let purposes = [P::ServiceProvision];
    // Alice's own grant; Bob's delegation to the helper, who grants in Bob's name.
    let own = fixtures::append(
        &mut alice,
        T0 + DAY,
        fixtures::grant(me, scene.policy, &purposes, &[C::Location], T0, None),
    );
    let delegation = fixtures::append(
        &mut bob,
        T0 + DAY,
        Body::Delegation(Delegation {
            delegate: helper.feed(),
            powers: [DelegatedPower::Grant].into_iter().collect(),
            collectors: vec![me],
            purposes: Default::default(),
            valid_until: None,
            kind: DelegationKind::Assistant,
            co_signer: None,
        }),
    );
    let for_bob = fixtures::append(
        &mut helper,
        T0 + DAY,
        on_behalf(
            fixtures::grant(me, scene.policy, &purposes, &[C::Location], T0, None),
            bob.feed(),
            delegation.id,
        ),
    );
    // An opt-out in Carol's name, and an access request (which decides nothing) in Dave's.
    let opt_out = fixtures::append(
        &mut helper,
        T0 + DAY,
        on_behalf(
            fixtures::request(me, RequestKind::OptOutSale),
            carol.feed(),
            delegation.id,
        ),
    );
    let access = fixtures::append(
        &mut helper,
        T0 + DAY,
        on_behalf(
            fixtures::request(me, RequestKind::Access),
            dave.feed(),
            delegation.id,
        ),
    );
    apply(WatchKind::Grant, Some(&own)).expect("own grant");
    apply(WatchKind::Grant, Some(&for_bob)).expect("delegated grant");
    apply(WatchKind::Request, Some(&opt_out)).expect("delegated opt-out");
    apply(WatchKind::Request, Some(&access)).expect("delegated request");
    apply(WatchKind::Heartbeat, None).expect("heartbeat");
    let at = T0 + 2 * DAY;
    let ask = |who: consent_proto::FeedId| {
        cache
            .check_at(who, P::ServiceProvision, C::Location, at)
            .map(|c| (c.decision, c.reason))
    };
    assert_eq!(ask(alice.feed()), Ok((Decision::Allow, Reason::Granted)));
    assert_eq!(ask(bob.feed()), Err(Stale::Delegated(for_bob.id)));
    assert_eq!(ask(carol.feed()), Err(Stale::Delegated(opt_out.id)));
    assert_eq!(ask(dave.feed()), Ok((Decision::Deny, Reason::NoGrant)));
    // The delegate's own feed holds nothing in its own name.
    assert_eq!(ask(helper.feed()), Ok((Decision::Deny, Reason::NoGrant)));

    // A revocation in Alice's name: she too is left to the node from then on.
    let revoke = fixtures::append(
        &mut helper,
        T0 + DAY,
        on_behalf(fixtures::revoke(own.id, false), alice.feed(), delegation.id),
    );
    apply(WatchKind::Revoke, Some(&revoke)).expect("delegated revocation");
    assert_eq!(ask(alice.feed()), Err(Stale::Delegated(revoke.id)));

    // An undelegation the cache cannot place is refused, and changes nothing.
    let undelegation = fixtures::append(
        &mut bob,
        T0 + 2 * DAY,
        Body::Undelegation(Undelegation {
            delegation: delegation.id,
            void_from_ms: None,
        }),
    );
    assert!(apply(WatchKind::Revoke, Some(&undelegation)).is_err());
    assert_eq!(ask(bob.feed()), Err(Stale::Delegated(for_bob.id)));
}
