//! Steps 5 and 6 with delegated grants, over hand-built facts (the ledger-level cases are in
//! `delegated_ledger` below).

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
