//! The pure delegation rules: coming of age, void-from, when a delegated statement counts, the
//! counting endorsement, and the submit-path age check.

use super::*;
use crate::body::{Endorsement, OnBehalf, Undelegation};
use crate::consultation::admission::rfc3339;
use crate::fixtures::*;
use crate::vocab::{DataCategory as C, PowerSet, Purpose as P, PurposeSet, Role};

#[test]
fn coming_of_age_is_utc_midnight_of_the_date() {
    assert_eq!(coming_of_age_ms(1970, 1, 1), Some(0));
    assert_eq!(coming_of_age_ms(2034, 5, 1), Some(2_030_054_400_000));
    assert_eq!(coming_of_age_ms(2000, 2, 29), Some(951_782_400_000));
    assert_eq!(coming_of_age_ms(2100, 3, 1), Some(4_107_542_400_000));
    let t = coming_of_age_ms(2034, 5, 1).expect("a date");
    assert_eq!(rfc3339(t), "2034-05-01T00:00:00Z");
    assert_eq!(t % DAY_MS, 0);
    // Dates that do not exist, and dates before 1970.
    assert_eq!(coming_of_age_ms(2001, 2, 29), None);
    assert_eq!(coming_of_age_ms(2100, 2, 29), None);
    assert_eq!(coming_of_age_ms(2034, 4, 31), None);
    assert_eq!(coming_of_age_ms(2034, 13, 1), None);
    assert_eq!(coming_of_age_ms(2034, 0, 1), None);
    assert_eq!(coming_of_age_ms(2034, 1, 0), None);
    assert_eq!(coming_of_age_ms(1969, 12, 31), None);
    // Every day of a leap year follows the one before by exactly a day.
    let mut last = coming_of_age_ms(2023, 12, 31).expect("a date");
    for month in 1..=12u8 {
        for day in 1..=31u8 {
            if let Some(t) = coming_of_age_ms(2024, month, day) {
                assert_eq!(t, last + DAY_MS, "2024-{month}-{day}");
                last = t;
            }
        }
    }
    assert_eq!(coming_of_age_ms(2025, 1, 1), Some(last + DAY_MS));
}

#[test]
fn an_undelegation_voids_from_five_minutes_before_it_by_default() {
    let at = T0 + DAY;
    let default = Undelegation {
        delegation: EntryId([1; 32]),
        void_from_ms: None,
    };
    assert_eq!(void_from(&default, at), at - MAX_CLOCK_SKEW_MS);
    assert_eq!(void_from(&default, 1_000), 0);
    let chosen = Undelegation {
        void_from_ms: Some(T0),
        ..default
    };
    assert_eq!(void_from(&chosen, at), T0);
}

fn state(from_ms: u64, valid_until: Option<u64>, co_signer: Option<FeedId>) -> DelegationState {
    let d = Delegation {
        delegate: FeedId([2; 32]),
        powers: [DelegatedPower::Grant].into_iter().collect::<PowerSet>(),
        collectors: Vec::new(),
        purposes: PurposeSet::EMPTY,
        valid_until,
        kind: if co_signer.is_some() {
            DelegationKind::Guardian
        } else {
            DelegationKind::Assistant
        },
        co_signer,
    };
    DelegationState::of(EntryId([1; 32]), FeedId([3; 32]), from_ms, &d)
}

#[test]
fn a_statement_counts_from_the_delegation_until_its_earliest_end() {
    let mut d = state(T0, Some(T0 + 10 * DAY), None);
    assert_eq!(d.end_ms, T0 + 10 * DAY);
    assert!(!d.counts(T0 - 1));
    assert!(d.counts(T0));
    assert!(d.counts(T0 + 10 * DAY - 1));
    assert!(!d.counts(T0 + 10 * DAY));
    // Undelegations in any order: the earliest end wins.
    d.undelegated(T0 + 5 * DAY, T0 + 5 * DAY);
    d.undelegated(T0 + 7 * DAY, T0 + 7 * DAY);
    assert_eq!(d.end_ms, T0 + 5 * DAY);
    let mut other = state(T0, Some(T0 + 10 * DAY), None);
    other.undelegated(T0 + 7 * DAY, T0 + 7 * DAY);
    other.undelegated(T0 + 5 * DAY, T0 + 5 * DAY);
    assert_eq!(other, d);
    assert!(d.counts(T0 + 5 * DAY - 1) && !d.counts(T0 + 5 * DAY));
    // Without valid_until it runs until undelegated.
    let open = state(T0, None, None);
    assert_eq!(open.end_ms, u64::MAX);
    assert!(open.counts(u64::MAX - 1));
    // Withdrawals: one's own always counts; a delegate's while its delegation does.
    assert!(withdrawal_counts(None));
    assert!(withdrawal_counts(Some((&d, T0 + DAY))));
    assert!(!withdrawal_counts(Some((&d, T0 + 6 * DAY))));
    // Revocations: the grant's own feed and its person always; a delegate while it counts.
    let (granter, person, other) = (FeedId([1; 32]), FeedId([3; 32]), FeedId([4; 32]));
    assert!(revocation_counts(granter, granter, None, None));
    assert!(revocation_counts(person, granter, Some(person), None));
    assert!(revocation_counts(
        other,
        granter,
        Some(person),
        Some((&d, T0 + DAY))
    ));
    assert!(!revocation_counts(
        other,
        granter,
        Some(person),
        Some((&d, T0 + 6 * DAY))
    ));
    assert!(!revocation_counts(other, granter, None, None));
}

#[test]
fn an_undelegation_voids_consent_from_void_from_but_withdrawals_until_it_was_signed() {
    // Undelegated at T0 + 5 days, voiding from T0 + 1 day (an explicit, earlier void_from).
    let mut d = state(T0, None, None);
    d.undelegated(T0 + DAY, T0 + 5 * DAY);
    assert_eq!((d.end_ms, d.withdrawals_end_ms), (T0 + DAY, T0 + 5 * DAY));
    // A grant signed on day 2 no longer counts; a revocation or opt-out signed then still does:
    // withdrawing a delegate never brings back what it withdrew.
    assert!(!d.counts(T0 + 2 * DAY));
    assert!(d.withdrawal_counts(T0 + 2 * DAY));
    assert!(withdrawal_counts(Some((&d, T0 + 2 * DAY))));
    let (granter, person, other) = (FeedId([1; 32]), FeedId([3; 32]), FeedId([4; 32]));
    assert!(revocation_counts(
        other,
        granter,
        Some(person),
        Some((&d, T0 + 2 * DAY))
    ));
    // In the undelegation's own millisecond a withdrawal still counts (withdrawal wins a tie);
    // after it nothing the delegate signs does.
    assert!(d.withdrawal_counts(T0 + 5 * DAY));
    assert!(!d.withdrawal_counts(T0 + 5 * DAY + 1));
    // Its own grant it can always take back, even then.
    assert!(revocation_counts(
        granter,
        granter,
        Some(person),
        Some((&d, T0 + 9 * DAY))
    ));
    // valid_until ends both.
    let mut until = state(T0, Some(T0 + 3 * DAY), None);
    until.undelegated(T0 + 4 * DAY, T0 + 4 * DAY);
    assert_eq!(
        (until.end_ms, until.withdrawals_end_ms),
        (T0 + 3 * DAY, T0 + 3 * DAY)
    );
}

#[test]
fn the_counting_endorsement_is_the_co_signers_earliest_inside_its_own_delegation() {
    let co = FeedId([9; 32]);
    let stranger = FeedId([8; 32]);
    let mut own = state(T0, None, None);
    own.delegate = co;
    let mut ended = own;
    ended.undelegated(T0 + 2 * DAY, T0 + 2 * DAY);
    let (a, b, c, x) = (
        EntryId([0xa; 32]),
        EntryId([0xb; 32]),
        EntryId([0xc; 32]),
        EntryId([0x1; 32]),
    );
    // The earliest by (time, id); an endorsement by another feed never counts.
    let list = [
        (b, co, T0 + DAY, &own),
        (a, co, T0 + DAY, &own),
        (c, co, T0 + 3 * DAY, &own),
        (x, stranger, T0, &own),
    ];
    assert_eq!(counting_endorsement(Some(co), &list), Some(a));
    assert_eq!(counting_endorsement(None, &list), None);
    assert_eq!(counting_endorsement(Some(stranger), &list), None);
    // Signed after the co-signer's own delegation ended: it does not count.
    let late = [(c, co, T0 + 3 * DAY, &ended), (b, co, T0 + DAY, &ended)];
    assert_eq!(counting_endorsement(Some(co), &late), Some(b));
    assert_eq!(counting_endorsement(Some(co), &late[..1]), None);
    assert_eq!(counting_endorsement(Some(co), &[]), None);
}

#[test]
fn what_a_decision_reports_round_trips_on_the_wire() {
    let d = state(T0, Some(T0 + 10 * DAY), Some(FeedId([7; 32])));
    let via = Via {
        delegation: d,
        signed_ms: T0 + DAY,
        endorsement: None,
    };
    assert!(via.counts() && via.awaits_endorsement());
    let used = via.used();
    assert_eq!(
        (used.delegation, used.delegate, used.kind, used.endorsement),
        (d.id, d.delegate, DelegationKind::Guardian, None)
    );
    assert_eq!(DelegationUsed::from_wire(&used.to_wire()), Some(used));
    let endorsed = DelegationUsed {
        endorsement: Some(EntryId([4; 32])),
        ..used
    };
    assert_eq!(
        DelegationUsed::from_wire(&endorsed.to_wire()),
        Some(endorsed)
    );
    let mut wire = endorsed.to_wire();
    wire.kind = 0;
    assert_eq!(DelegationUsed::from_wire(&wire), None);
    let mut wire = endorsed.to_wire();
    wire.endorsement = prost::bytes::Bytes::from_static(&[1; 31]);
    assert_eq!(DelegationUsed::from_wire(&wire), None);
}

#[test]
fn entries_signed_in_someones_name_are_refused_at_submit_when_older_than_the_tolerance() {
    let scene = scene(T0);
    let (mut delegate, _) = author(Role::Citizen, "delegate", T0);
    let on_behalf = OnBehalf {
        person: FeedId([5; 32]),
        delegation: EntryId([6; 32]),
    };
    let signed = T0 + DAY;
    let mut body = grant(
        scene.collector.feed(),
        scene.policy,
        &[P::Research],
        &[C::Location],
        T0,
        None,
    );
    if let Body::Grant(g) = &mut body {
        g.on_behalf = Some(on_behalf);
    }
    let delegated = append(&mut delegate, signed, body);
    let tolerance = crate::limits::DELEGATED_ENTRY_TOLERANCE_MS;
    assert_eq!(admission(&delegated, signed + tolerance), None);
    assert_eq!(
        admission(&delegated, signed + tolerance + 1),
        Some(Refusal::DelegatedEntryTooOld {
            signed_ms: signed,
            now_ms: signed + tolerance + 1,
        })
    );
    // An undelegation and an endorsement are checked too; an own grant and a delegation not.
    let undelegation = append(
        &mut delegate,
        signed,
        Body::Undelegation(Undelegation {
            delegation: on_behalf.delegation,
            void_from_ms: None,
        }),
    );
    let endorsement = append(
        &mut delegate,
        signed,
        Body::Endorsement(Endorsement {
            grant: delegated.id,
            on_behalf,
        }),
    );
    let own = append(&mut delegate, signed, location_grant(&scene, P::Research));
    let late = signed + DAY;
    assert!(admission(&undelegation, late).is_some());
    assert!(admission(&endorsement, late).is_some());
    assert_eq!(admission(&own, late), None);
    assert!(is_delegated(&delegated) && !is_delegated(&own));
    assert_eq!(power_needed(&delegated.body), Some(DelegatedPower::Grant));
    assert_eq!(power_needed(&endorsement.body), Some(DelegatedPower::Grant));
    assert_eq!(power_needed(&undelegation.body), None);
}
