//! The state machine of a consultation, counting stances, and the reasons left unanswered.

use super::*;

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
        first_outcome: None,
    }
}

#[test]
fn open_until_closes_then_awaiting() {
    let d = draft();
    assert_eq!(state(&d, 1_999), State::Open);
    assert_eq!(state(&d, 2_000), State::AwaitingOutcome);
    assert_eq!(in_effect_from(&d), NEVER);
}
