//! Consultations: a grant under a draft counts only from the draft's approval.

use super::*;

/// When the draft of [`draft_world`] closes.
const CLOSES: u64 = T0 + 3 * DAY;

/// The world with a draft (version 2, adding marketing) signed at `T0 + DAY` and closing at
/// [`CLOSES`], and alice's grant for marketing under it (replicated: a node refuses it on
/// submission, `policy-draft`, but a peer's copy is valid). Returns the draft and the grant.
fn draft_world() -> (World, EntryId, EntryId) {
    let mut w = world();
    let draft = append(&mut w.scene.collector, T0 + DAY, draft_policy(2, CLOSES));
    submit(&mut w.ledger, &draft);
    let body = grant(
        w.scene.collector.feed(),
        draft.id,
        &[P::Marketing],
        &[C::Location],
        T0,
        None,
    );
    let g = w.add(T0 + DAY, body);
    (w, draft.id, g)
}

impl World {
    fn decide_draft(&mut self, time: u64, draft: EntryId, approved: bool) -> u64 {
        let e = append(
            &mut self.scene.registrar,
            time,
            outcome(draft, approved, "Decided after the consultation.", &[]),
        );
        submit(&mut self.ledger, &e);
        e.time_ms
    }
}

#[test]
fn a_grant_under_a_draft_denies_until_the_draft_is_approved() {
    let (mut w, draft, g) = draft_world();
    let not_in_effect = (Decision::Deny, Reason::PolicyNotInEffect, Some(g));
    // Open, then awaiting the registrar.
    assert_eq!(
        w.check(P::Marketing, C::Location, T0 + 2 * DAY),
        not_in_effect
    );
    assert_eq!(
        w.check(P::Marketing, C::Location, CLOSES + DAY),
        not_in_effect
    );
    // Approved an hour after the window: in effect from then on, not before (a past `at`).
    let from = w.decide_draft(CLOSES + 3_600_000, draft, true);
    assert_eq!(
        w.check(P::Marketing, C::Location, from),
        (Decision::Allow, Reason::Granted, Some(g))
    );
    assert_eq!(w.check(P::Marketing, C::Location, from - 1), not_in_effect);
    // A later approval changes nothing: the first sets the time.
    w.decide_draft(CLOSES + DAY, draft, true);
    assert_eq!(
        w.check(P::Marketing, C::Location, from),
        (Decision::Allow, Reason::Granted, Some(g))
    );
    // But a registrar's "changes required", even signed later, keeps the draft out of effect
    // (fail closed), for past questions too.
    w.decide_draft(CLOSES + 2 * DAY, draft, false);
    for at in [from, NOW] {
        assert_eq!(w.check(P::Marketing, C::Location, at), not_in_effect);
    }
}

#[test]
fn a_draft_with_changes_required_or_withdrawn_never_takes_effect() {
    let (mut w, draft, g) = draft_world();
    w.decide_draft(T0 + 2 * DAY, draft, false);
    // (Later than NOW the collector's accreditation lapses, which a check names first.)
    for at in [T0 + 2 * DAY, CLOSES, NOW] {
        assert_eq!(
            w.check(P::Marketing, C::Location, at),
            (Decision::Deny, Reason::PolicyNotInEffect, Some(g))
        );
    }
    // Withdrawn by a newer version before any outcome; an approval after it does not count.
    let (mut w, draft, g) = draft_world();
    let v3 = append(&mut w.scene.collector, T0 + 2 * DAY, policy(3));
    submit(&mut w.ledger, &v3);
    w.decide_draft(CLOSES, draft, true);
    assert_eq!(
        w.check(P::Marketing, C::Location, NOW),
        (Decision::Deny, Reason::PolicyNotInEffect, Some(g))
    );
}

#[test]
fn revoked_expired_and_not_yet_valid_come_before_not_in_effect() {
    let (mut w, draft, g) = draft_world();
    let before = |w: &World, at| w.check(P::Marketing, C::Location, at).1;
    let revoked = w.add(T0 + 2 * DAY, revoke(g, false));
    assert_ne!(revoked, g);
    assert_eq!(before(&w, T0 + 2 * DAY), Reason::Revoked);
    w.decide_draft(CLOSES, draft, true);
    assert_eq!(before(&w, NOW), Reason::Revoked);
    // A grant under the draft that lapses before the question: expired.
    let (mut w, _, _) = draft_world();
    let collector = w.scene.collector.feed();
    let Some(draft) = w
        .ledger
        .heads()
        .find(|(f, _)| **f == collector)
        .and_then(|(_, s)| s.policy_head)
    else {
        panic!("the collector has a policy")
    };
    let body = grant(
        collector,
        draft,
        &[P::Marketing],
        &[C::Location],
        T0,
        Some(T0 + 2 * DAY),
    );
    let lapsing = w.add(T0 + DAY, body);
    assert_eq!(
        w.check(P::Marketing, C::Location, T0 + 3 * DAY),
        (Decision::Deny, Reason::Expired, Some(lapsing))
    );
    // Grants under the version in effect are not touched by the draft.
    w.grant(T0 + DAY, &[P::Research], &[C::Location], T0, None);
    assert_eq!(
        w.check(P::Research, C::Location, T0 + 2 * DAY).0,
        Decision::Allow
    );
}
