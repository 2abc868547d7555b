//! The rule with delegated grants through the reference ledger: validation, the materialised
//! facts ([`MemoryLedger::delegated_facts`]) and the rule together.

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
