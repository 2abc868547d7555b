//! The state machine of a consultation, counting stances, the reasons left unanswered, and the
//! refusals' words.

use super::*;
use crate::vocab::{ObjectionReason as R, ObjectionSet};

fn id(n: u8) -> EntryId {
    EntryId([n; 32])
}

fn draft() -> DraftFacts {
    DraftFacts {
        id: id(1),
        collector: FeedId([9; 32]),
        version: 2,
        time_ms: 1_000,
        closes_ms: 2_000,
        gated: true,
        superseded_ms: None,
        first_approval: None,
        first_changes_required: None,
    }
}

fn outcome(n: u8, time_ms: u64, approved: bool) -> OutcomeFacts {
    OutcomeFacts {
        id: id(n),
        time_ms,
        approved,
    }
}

#[test]
fn open_until_closes_then_awaiting() {
    let d = draft();
    assert_eq!(state(&d, 1_000), State::Open);
    assert_eq!(state(&d, 1_999), State::Open);
    assert_eq!(state(&d, 2_000), State::AwaitingOutcome);
    assert_eq!(in_effect_from(&d), NEVER);
}

#[test]
fn the_first_outcome_decides() {
    let approved = DraftFacts {
        first_approval: Some(outcome(5, 2_500, true)),
        ..draft()
    };
    assert_eq!(state(&approved, 0), State::Approved { from_ms: 2_500 });
    assert_eq!(state(&approved, 9_999), State::Approved { from_ms: 2_500 });
    assert_eq!(in_effect_from(&approved), 2_500);
    let refused = DraftFacts {
        first_changes_required: Some(outcome(5, 2_500, false)),
        ..draft()
    };
    assert_eq!(
        state(&refused, 3_000),
        State::ChangesRequired { at_ms: 2_500 }
    );
    assert_eq!(in_effect_from(&refused), NEVER);
    // A voluntary consultation is in effect whatever happens.
    for d in [draft(), refused] {
        assert_eq!(in_effect_from(&DraftFacts { gated: false, ..d }), ALWAYS);
    }
}

#[test]
fn a_newer_version_withdraws_an_undecided_draft() {
    let withdrawn = DraftFacts {
        superseded_ms: Some(1_500),
        ..draft()
    };
    assert_eq!(state(&withdrawn, 1_600), State::Withdrawn { at_ms: 1_500 });
    assert_eq!(in_effect_from(&withdrawn), NEVER);
    // An outcome after the supersession does not count; one before it does.
    let late = DraftFacts {
        superseded_ms: Some(3_000),
        first_approval: Some(outcome(5, 3_000, true)),
        ..draft()
    };
    assert_eq!(state(&late, 4_000), State::Withdrawn { at_ms: 3_000 });
    assert_eq!(in_effect_from(&late), NEVER);
    let early = DraftFacts {
        superseded_ms: Some(3_001),
        ..late
    };
    assert_eq!(state(&early, 4_000), State::Approved { from_ms: 3_000 });
    assert_eq!(in_effect_from(&early), 3_000);
}

#[test]
fn changes_required_wins_over_any_approval_whatever_their_times() {
    // A veto dated after an approval still keeps the draft out of effect (fail closed), and an
    // approval dated before a veto cannot overturn it; only outcomes after a newer version are
    // ignored.
    for (approval, veto) in [(2_500, 2_600), (2_600, 2_500)] {
        let mut d = draft();
        for o in [outcome(4, approval, true), outcome(5, veto, false)] {
            d.note_outcome(o);
        }
        assert_eq!(state(&d, 9_999), State::ChangesRequired { at_ms: veto });
        assert_eq!(in_effect_from(&d), NEVER);
    }
    let mut d = DraftFacts {
        superseded_ms: Some(2_550),
        ..draft()
    };
    d.note_outcome(outcome(4, 2_500, true));
    d.note_outcome(outcome(5, 2_600, false));
    assert_eq!(state(&d, 9_999), State::Approved { from_ms: 2_500 });
    // Of several approvals, the first by (time, id) sets when the draft takes effect.
    let mut d = draft();
    for o in [
        outcome(7, 2_700, true),
        outcome(3, 2_600, true),
        outcome(2, 2_600, true),
    ] {
        d.note_outcome(o);
    }
    assert_eq!(in_effect_from(&d), 2_600);
    assert_eq!(d.first_approval.map(|o| o.id), Some(id(2)));
}

#[test]
fn outcomes_are_ordered_by_time_then_id() {
    let a = outcome(7, 2_500, true);
    let b = outcome(3, 2_500, false);
    let c = outcome(1, 2_600, true);
    // Any arrival order gives the same first.
    for order in [[a, b, c], [c, b, a], [b, c, a], [a, c, b]] {
        let first_of = order.into_iter().fold(None, first);
        assert_eq!(first_of, Some(b));
    }
    assert_eq!(first(None, c), Some(c));
}

#[test]
fn states_have_names_times_and_wire_values() {
    let all = [
        State::Open,
        State::AwaitingOutcome,
        State::Approved { from_ms: 5 },
        State::ChangesRequired { at_ms: 6 },
        State::Withdrawn { at_ms: 7 },
    ];
    let names: Vec<&str> = all.iter().map(State::name).collect();
    assert_eq!(
        names,
        [
            "open",
            "awaiting-outcome",
            "approved",
            "changes-required",
            "withdrawn"
        ]
    );
    for s in all {
        assert_eq!(State::from_wire(s.to_wire() as i32, s.at_ms()), Some(s));
    }
    assert_eq!(State::from_wire(0, 0), None);
    assert_eq!(State::from_wire(99, 0), None);
}

fn stance(feed: u8, seq: u64, object: &[R], affected: bool) -> StanceFacts {
    StanceFacts {
        feed: FeedId([feed; 32]),
        seq,
        support: object.is_empty(),
        reasons: object.iter().copied().collect(),
        affected,
    }
}

#[test]
fn the_latest_stance_of_each_feed_counts() {
    let stances = [
        stance(1, 3, &[R::RetentionTooLong, R::Other], true),
        stance(1, 5, &[], true), // replaces the objection
        stance(2, 4, &[R::RetentionTooLong], false),
        stance(2, 2, &[], false), // older: replaced
        stance(3, 1, &[R::ThirdPartySharing, R::RetentionTooLong], false),
        stance(4, 9, &[R::PurposeTooBroad], true),
    ];
    let counts = count(&stances);
    assert_eq!(counts.affected.support, 1);
    assert_eq!(counts.affected.object, 1);
    assert_eq!(counts.affected.reason(R::PurposeTooBroad), 1);
    assert_eq!(counts.affected.reason(R::Other), 0);
    assert_eq!(counts.others.support, 0);
    assert_eq!(counts.others.object, 2);
    assert_eq!(counts.others.reason(R::RetentionTooLong), 2);
    assert_eq!(counts.others.reasons, [0, 2, 1, 0, 0, 0]);
    let total = counts.total();
    assert_eq!((total.support, total.object), (1, 3));
    // Order does not matter.
    let mut reversed = stances;
    reversed.reverse();
    assert_eq!(count(&reversed), counts);
    // Round trip through the wire, with only non-zero reasons listed.
    let wire = counts.to_wire();
    assert_eq!(wire.others.as_ref().map(|t| t.reasons.len()), Some(2));
    assert_eq!(Counts::from_wire(&wire), counts);
    assert_eq!(count(&[]), Counts::default());
}

#[test]
fn counts_kept_as_stances_arrive_equal_counting_them_all() {
    // Each feed's stances arrive in seq order (a node accepts a feed in order); feed 1 granted
    // between its two stances, so its later stance is affected and its earlier one was not.
    let arrivals = [
        stance(1, 3, &[R::RetentionTooLong, R::Other], false),
        stance(2, 2, &[], false),
        stance(1, 5, &[R::Other], true),
        stance(3, 1, &[R::ThirdPartySharing], false),
        stance(2, 4, &[R::RetentionTooLong], false),
        stance(3, 2, &[], false),
    ];
    let mut kept = Counts::default();
    let mut latest: std::collections::HashMap<FeedId, StanceFacts> = Default::default();
    for s in &arrivals {
        kept.replace(latest.get(&s.feed), s);
        latest.insert(s.feed, *s);
        let so_far = &arrivals[..=arrivals.iter().position(|x| x == s).unwrap_or(0)];
        assert_eq!(kept, count(so_far));
    }
    assert_eq!(kept.affected.reasons, [0, 0, 0, 0, 0, 1]);
    assert_eq!((kept.others.support, kept.others.object), (1, 1));
}

#[test]
fn reasons_raised_by_the_threshold_need_a_response() {
    let stances = [
        stance(1, 1, &[R::RetentionTooLong], true),
        stance(2, 1, &[R::RetentionTooLong, R::Other], false),
        stance(3, 1, &[R::Other], false),
        stance(4, 1, &[R::SensorPlacement], false),
    ];
    let counts = count(&stances);
    // Both groups count towards the threshold.
    let raised: ObjectionSet = [R::RetentionTooLong, R::Other].into_iter().collect();
    assert_eq!(counts.raised(2), raised);
    assert_eq!(counts.raised(3), ObjectionSet::EMPTY);
    assert_eq!(counts.raised(1).len(), 3);
    assert_eq!(unanswered(&counts, 2, ObjectionSet::EMPTY), raised);
    let one: ObjectionSet = [R::Other].into_iter().collect();
    assert_eq!(
        unanswered(&counts, 2, one),
        [R::RetentionTooLong].into_iter().collect::<ObjectionSet>()
    );
    assert!(unanswered(&counts, 2, raised).is_empty());
    assert!(unanswered(&Counts::default(), 1, ObjectionSet::EMPTY).is_empty());
}

#[test]
fn refusals_say_the_state_in_words() {
    let refusal = Refusal::PolicyDraft {
        policy: id(1),
        state: StateText(State::Approved {
            from_ms: 1_802_000_000_000,
        }),
    };
    assert_eq!(refusal.code(), "policy-draft");
    let text = refusal.to_string();
    assert!(
        text.contains("approved, in effect from 2027-02-07T11:33:20Z"),
        "{text}"
    );
    let closed = Refusal::ConsultationClosed {
        state: StateText(State::Withdrawn { at_ms: 0 }),
    };
    assert_eq!(
        closed.to_string(),
        "the consultation is closed (withdrawn at 1970-01-01T00:00:00Z)"
    );
    let unanswered = Refusal::ConsultationUnanswered {
        reasons: [R::RetentionTooLong, R::Other].into_iter().collect(),
        threshold: 3,
    };
    assert!(
        unanswered
            .to_string()
            .ends_with("no response listed: retention-too-long, other")
    );
    assert_eq!(admission::rfc3339(951_782_400_000), "2000-02-29T00:00:00Z");
    assert_eq!(admission::rfc3339(u64::MAX), "9999-12-31T23:59:59Z");
}
