//! Validation of consultations (step 8: policies, stances, responses, outcomes).

use super::*;

/// A network whose genesis asks 14 days for a widening's consultation.
const MIN_DAYS: u32 = 14;
/// When the consultation entries below are submitted: after every window.
const LATE: u64 = T0 + 60 * DAY;

fn consultation_world(rules: Option<u32>) -> W {
    let mut w = world();
    w.ledger.require_consultations(
        rules.map(|widening_min_days| crate::consultation::Rules { widening_min_days }),
    );
    w
}

fn policy_body(version: u32, edit: impl FnOnce(&mut crate::body::Policy)) -> Body {
    let Body::Policy(mut p) = policy(version) else {
        unreachable!("a policy")
    };
    edit(&mut p);
    Body::Policy(p)
}

fn with_window(closes_ms: u64) -> impl FnOnce(&mut crate::body::Policy) {
    move |p: &mut crate::body::Policy| {
        p.consultation = Some(crate::body::Consultation { closes_ms })
    }
}

/// The street policy `version`, edited.
fn street_version(version: u32, edit: impl FnOnce(&mut crate::body::Policy)) -> Body {
    let Body::Policy(mut p) = street_policy() else {
        unreachable!("a policy")
    };
    p.version = version;
    edit(&mut p);
    Body::Policy(p)
}

fn state_of(ledger: &MemoryLedger, feed: FeedId) -> crate::validate::FeedState {
    use crate::validate::LedgerView;
    match ledger.feed(&feed) {
        Ok(Some(s)) => s,
        _ => panic!("feed missing"),
    }
}

fn signed(author: &Author, time_ms: u64, body: &Body) -> Entry {
    author.sign_next(time_ms, body).expect("structurally valid")
}

fn submitted(ledger: &mut MemoryLedger, author: &mut Author, time_ms: u64, body: Body) -> Entry {
    let e = append(author, time_ms, body);
    let v = ledger.submit(&e, LATE);
    assert!(
        matches!(v, Verdict::Accept { .. }),
        "expected accept, got {v:?}"
    );
    e
}

#[test]
fn a_widening_needs_a_long_enough_consultation_where_the_genesis_asks_for_one() {
    let mut w = consultation_world(Some(MIN_DAYS));
    let t = T0 + DAY;
    let min_ms = u64::from(MIN_DAYS) * DAY;
    let marketing = |p: &mut crate::body::Policy| {
        p.purposes.insert(P::Marketing);
    };
    let col = &w.scene.collector;
    // No consultation.
    let e = signed(col, t, &policy_body(2, marketing));
    assert_eq!(
        rejected(w.ledger.submit(&e, LATE)),
        Rejection::WideningWithoutConsultation(vec!["purposes"])
    );
    // Too short, by a millisecond, or closing before it opens; too long.
    for closes_ms in [t + min_ms - 1, t, t - 1] {
        let e = signed(col, t, &draft_policy(2, closes_ms));
        assert_eq!(
            rejected(w.ledger.submit(&e, LATE)),
            Rejection::ConsultationTooShort { min_ms }
        );
    }
    let e = signed(col, t, &draft_policy(2, t + 365 * DAY + 1));
    assert_eq!(
        rejected(w.ledger.submit(&e, LATE)),
        Rejection::ConsultationTooLong
    );
    // A version that does not widen may have a short voluntary consultation, but not an empty one.
    let e = signed(col, t, &policy_body(2, with_window(t)));
    assert_eq!(
        rejected(w.ledger.submit(&e, LATE)),
        Rejection::ConsultationTooShort { min_ms: 1 }
    );
    let voluntary = signed(col, t, &policy_body(2, with_window(t + 1)));
    assert!(matches!(
        w.ledger.clone().submit(&voluntary, LATE),
        Verdict::Accept { .. }
    ));
    // A version that narrows needs none.
    let narrower = signed(col, t, &policy_body(2, |p| p.retention_days = 30));
    assert!(matches!(
        w.ledger.clone().submit(&narrower, LATE),
        Verdict::Accept { .. }
    ));
    // The exact minimum is enough: a draft. The base stays at version 1.
    let draft = submitted(
        &mut w.ledger,
        &mut w.scene.collector,
        t,
        draft_policy(2, t + min_ms),
    );
    let state = state_of(&w.ledger, w.scene.collector.feed());
    assert_eq!(state.policy_head, Some(draft.id));
    assert_eq!(state.policy_base, Some(w.scene.policy));
    assert_eq!(w.ledger.draft_facts(&draft.id).map(|d| d.gated), Some(true));
    // A voluntary consultation's version is the new base.
    let mut w2 = consultation_world(Some(MIN_DAYS));
    let v2 = submitted(
        &mut w2.ledger,
        &mut w2.scene.collector,
        t,
        policy_body(2, with_window(t + DAY)),
    );
    let state = state_of(&w2.ledger, w2.scene.collector.feed());
    assert_eq!(
        (state.policy_head, state.policy_base),
        (Some(v2.id), Some(v2.id))
    );
    assert_eq!(w2.ledger.draft_facts(&v2.id).map(|d| d.gated), Some(false));
}

#[test]
fn without_the_genesis_section_a_widening_needs_no_consultation_but_one_still_gates_it() {
    let mut w = consultation_world(None);
    let t = T0 + DAY;
    let e = signed(
        &w.scene.collector,
        t,
        &policy_body(2, |p| {
            p.purposes.insert(P::Marketing);
        }),
    );
    assert!(matches!(
        w.ledger.clone().submit(&e, LATE),
        Verdict::Accept { .. }
    ));
    // A one-millisecond window is long enough; the version is still a draft.
    let draft = submitted(
        &mut w.ledger,
        &mut w.scene.collector,
        t,
        draft_policy(2, t + 1),
    );
    let state = state_of(&w.ledger, w.scene.collector.feed());
    assert_eq!(state.policy_base, Some(w.scene.policy));
    assert_eq!(w.ledger.draft_facts(&draft.id).map(|d| d.gated), Some(true));
}

#[test]
fn a_version_is_compared_with_the_previous_one_and_with_the_last_that_is_no_draft() {
    let mut w = consultation_world(Some(MIN_DAYS));
    let t = T0 + DAY;
    let Body::Policy(drafted) = draft_policy(3, t + 15 * DAY) else {
        unreachable!("a policy")
    };
    submitted(
        &mut w.ledger,
        &mut w.scene.collector,
        t,
        draft_policy(2, t + 15 * DAY),
    );
    // Republishing the draft's content without a consultation: no change from the previous
    // version, but a widening from the base (version 1).
    let again = crate::body::Policy {
        consultation: None,
        ..drafted.clone()
    };
    let e = signed(&w.scene.collector, t + DAY, &Body::Policy(again));
    assert_eq!(
        rejected(w.ledger.submit(&e, LATE)),
        Rejection::WideningWithoutConsultation(vec!["purposes"])
    );
    // Going back to version 1's content withdraws the draft and needs no consultation.
    let back = submitted(&mut w.ledger, &mut w.scene.collector, t + DAY, policy(3));
    let state = state_of(&w.ledger, w.scene.collector.feed());
    assert_eq!(
        (state.policy_head, state.policy_base),
        (Some(back.id), Some(back.id))
    );
}

#[test]
fn an_id_kept_with_another_meaning_is_refused_against_the_previous_version_and_the_base() {
    let (mut ledger, mut street, _) = street_world();
    let t = T0 + DAY;
    let noise_at_2 = |p: &mut crate::body::Policy| {
        if let Some(s) = p.scope.as_mut() {
            s.sensors[1].kind = SensorKind::Noise;
        }
    };
    // Sensor 2, a camera, as a noise sensor.
    let e = signed(&street.collector, t, &street_version(2, noise_at_2));
    assert_eq!(
        rejected(ledger.submit(&e, LATE)),
        Rejection::IdRedefined(crate::policy_change::Redefined::Sensor {
            id: 2,
            was: SensorKind::Camera,
            now: SensorKind::Noise
        })
    );
    // A draft drops sensor 2 and adds a purpose; the next version gives id 2 to a noise sensor:
    // not a redefinition of the draft's ids, but of the base's.
    submitted(
        &mut ledger,
        &mut street.collector,
        t,
        street_version(2, |p| {
            p.purposes.insert(P::Marketing);
            if let Some(s) = p.scope.as_mut() {
                s.sensors.remove(1);
            }
            p.consultation = Some(crate::body::Consultation { closes_ms: t + DAY });
        }),
    );
    let e = signed(&street.collector, t + DAY, &street_version(3, noise_at_2));
    assert!(matches!(
        rejected(ledger.submit(&e, LATE)),
        Rejection::IdRedefined(crate::policy_change::Redefined::Sensor { id: 2, .. })
    ));
}

/// A world with a 14-day draft (version 2) signed at `T0 + DAY`, closing at `T0 + 15 * DAY`.
fn drafted() -> (W, Entry) {
    let mut w = consultation_world(Some(MIN_DAYS));
    let draft = submitted(
        &mut w.ledger,
        &mut w.scene.collector,
        T0 + DAY,
        draft_policy(2, T0 + 15 * DAY),
    );
    (w, draft)
}

#[test]
fn a_stance_names_a_consultation_and_is_signed_while_it_is_open() {
    let (mut w, draft) = drafted();
    let closes_ms = T0 + 15 * DAY;
    let object = [crate::vocab::ObjectionReason::RetentionTooLong];
    let unknown = EntryId([7; 32]);
    let e = signed(&w.alice, T0 + 2 * DAY, &stance(unknown, &[]));
    assert_eq!(
        w.ledger.submit(&e, LATE),
        Verdict::Pending {
            missing: Missing::Entry(unknown),
            verified: true
        }
    );
    for not_one in [w.scene.policy, w.scene.entries[3].id] {
        let e = signed(&w.alice, T0 + 2 * DAY, &stance(not_one, &object));
        assert_eq!(
            rejected(w.ledger.submit(&e, LATE)),
            Rejection::NotAConsultation
        );
    }
    for time in [T0 + DAY - 1, closes_ms] {
        let e = signed(&w.alice, time, &stance(draft.id, &object));
        assert_eq!(
            rejected(w.ledger.submit(&e, LATE)),
            Rejection::OutsideConsultationWindow {
                opened_ms: T0 + DAY,
                closes_ms
            }
        );
    }
    submitted(
        &mut w.ledger,
        &mut w.alice,
        T0 + DAY,
        stance(draft.id, &object),
    );
    submitted(
        &mut w.ledger,
        &mut w.alice,
        closes_ms - 1,
        stance(draft.id, &[]),
    );
    // The latest counts; alice holds no grant to the collector.
    let counts = w.ledger.consultation_counts(&draft.id);
    assert_eq!((counts.others.support, counts.others.object), (1, 0));
    assert_eq!(counts.affected, crate::consultation::Tally::default());
    // Only citizens take a stance.
    let e = signed(&w.scene.collector, T0 + 2 * DAY, &stance(draft.id, &[]));
    assert!(matches!(
        rejected(w.ledger.submit(&e, LATE)),
        Rejection::BodyNotAllowed { .. }
    ));
}

#[test]
fn a_response_answers_the_collectors_own_consultation() {
    let (mut w, draft) = drafted();
    let reason = crate::vocab::ObjectionReason::RetentionTooLong;
    // Another collector's draft, an entry not held, its own policy without a consultation.
    let (other, o0) = author(Role::Collector, "other collector", T0);
    accept(&mut w.ledger, &o0);
    let e = signed(
        &other,
        T0 + 2 * DAY,
        &response(draft.id, reason, "We keep less."),
    );
    assert_eq!(
        rejected(w.ledger.submit(&e, LATE)),
        Rejection::NotOwnConsultation
    );
    let e = signed(
        &w.scene.collector,
        T0 + 2 * DAY,
        &response(EntryId([7; 32]), reason, "We keep less."),
    );
    assert_eq!(
        rejected(w.ledger.submit(&e, LATE)),
        Rejection::NotOwnConsultation
    );
    let e = signed(
        &w.scene.collector,
        T0 + 2 * DAY,
        &response(w.scene.policy, reason, "We keep less."),
    );
    assert_eq!(
        rejected(w.ledger.submit(&e, LATE)),
        Rejection::NotAConsultation
    );
    submitted(
        &mut w.ledger,
        &mut w.scene.collector,
        T0 + 2 * DAY,
        response(
            draft.id,
            reason,
            "We keep location data for 30 days at most.",
        ),
    );
    // Responses may come after the window.
    submitted(
        &mut w.ledger,
        &mut w.scene.collector,
        T0 + 20 * DAY,
        response(draft.id, reason, "Updated: 20 days."),
    );
}

#[test]
fn an_outcome_comes_after_the_window_when_it_approves_and_lists_responses_to_its_draft() {
    let (mut w, draft) = drafted();
    let closes_ms = T0 + 15 * DAY;
    let reason = crate::vocab::ObjectionReason::Other;
    let answer = submitted(
        &mut w.ledger,
        &mut w.scene.collector,
        T0 + 2 * DAY,
        response(draft.id, reason, "Marketing only with a separate consent."),
    );
    let a_stance = submitted(
        &mut w.ledger,
        &mut w.alice,
        T0 + 2 * DAY,
        stance(draft.id, &[]),
    );
    let reg = &w.scene.registrar;
    let unknown = EntryId([7; 32]);
    let e = signed(reg, closes_ms, &outcome(unknown, true, "Approved.", &[]));
    assert_eq!(
        w.ledger.submit(&e, LATE),
        Verdict::Pending {
            missing: Missing::Entry(unknown),
            verified: true
        }
    );
    let e = signed(
        reg,
        closes_ms,
        &outcome(w.scene.policy, true, "Approved.", &[]),
    );
    assert_eq!(
        rejected(w.ledger.submit(&e, LATE)),
        Rejection::NotAConsultation
    );
    let e = signed(
        reg,
        closes_ms - 1,
        &outcome(draft.id, true, "Approved.", &[]),
    );
    assert_eq!(
        rejected(w.ledger.submit(&e, LATE)),
        Rejection::OutcomeTooEarly {
            not_before: closes_ms
        }
    );
    let e = signed(
        reg,
        T0 + DAY - 1,
        &outcome(draft.id, false, "Changes.", &[]),
    );
    assert_eq!(
        rejected(w.ledger.submit(&e, LATE)),
        Rejection::OutcomeTooEarly {
            not_before: T0 + DAY
        }
    );
    // Listed responses: held (else pending), responses to this draft.
    let e = signed(
        reg,
        closes_ms,
        &outcome(draft.id, true, "Approved.", &[unknown]),
    );
    assert_eq!(
        w.ledger.submit(&e, LATE),
        Verdict::Pending {
            missing: Missing::Entry(unknown),
            verified: true
        }
    );
    let e = signed(
        reg,
        closes_ms,
        &outcome(draft.id, true, "Approved.", &[answer.id, a_stance.id]),
    );
    assert_eq!(
        rejected(w.ledger.submit(&e, LATE)),
        Rejection::ResponseNotForDraft(a_stance.id)
    );
    // Changes may be required during the window; an approval after it. Validity does not look
    // at other outcomes (the state rule does: changes required wins).
    let mut w2_ledger = w.ledger.clone();
    let mut reg2 = w.scene.registrar.clone();
    let early = submitted(
        &mut w2_ledger,
        &mut reg2,
        T0 + 2 * DAY,
        outcome(draft.id, false, "Say how long data is kept.", &[]),
    );
    submitted(
        &mut w2_ledger,
        &mut reg2,
        closes_ms,
        outcome(draft.id, true, "Approved.", &[answer.id]),
    );
    assert_eq!(
        w2_ledger
            .draft_facts(&draft.id)
            .and_then(|d| d.first_changes_required)
            .map(|o| o.id),
        Some(early.id)
    );
    let approval = submitted(
        &mut w.ledger,
        &mut w.scene.registrar,
        closes_ms,
        outcome(draft.id, true, "Approved.", &[answer.id]),
    );
    let facts = w.ledger.draft_facts(&draft.id).expect("a consultation");
    assert_eq!(
        crate::consultation::in_effect_from(&facts),
        approval.time_ms
    );
    // Only registrars record outcomes.
    let e = signed(
        &w.alice,
        closes_ms,
        &outcome(draft.id, true, "Approved.", &[]),
    );
    assert!(matches!(
        rejected(w.ledger.submit(&e, LATE)),
        Rejection::BodyNotAllowed { .. }
    ));
}

#[test]
fn consultation_fields_are_checked_on_the_wire() {
    let w = world();
    let draft = Bytes::from(vec![1; 32]);
    let stance_with = |kind: i32, reasons: Vec<i32>, digest: usize| {
        pb::entry_payload::Body::Stance(pb::Stance {
            draft: draft.clone(),
            kind,
            reasons,
            details_digest: Bytes::from(vec![2; digest]),
        })
    };
    let cases = [
        (stance_with(0, vec![], 0), "stance.kind"),
        (stance_with(9, vec![], 0), "stance.kind"),
        (stance_with(2, vec![], 0), "stance.reasons"),
        (stance_with(2, vec![1, 1], 0), "stance.reasons"),
        (stance_with(2, vec![0], 0), "stance.reasons"),
        (stance_with(2, vec![7], 0), "stance.reasons"),
        (
            stance_with(2, vec![1, 2, 3, 4, 5, 6, 1], 0),
            "stance.reasons",
        ),
        (stance_with(1, vec![1], 0), "stance.reasons"),
        (stance_with(1, vec![], 31), "stance.details_digest"),
        (
            pb::entry_payload::Body::Stance(pb::Stance {
                draft: Bytes::from(vec![1; 31]),
                kind: 1,
                ..Default::default()
            }),
            "stance.draft",
        ),
        (
            pb::entry_payload::Body::Response(pb::ConsultationResponse {
                draft: draft.clone(),
                reason: 0,
                text: "x".into(),
                document_digest: Bytes::new(),
            }),
            "response.reason",
        ),
        (
            pb::entry_payload::Body::Response(pb::ConsultationResponse {
                draft: draft.clone(),
                reason: 1,
                text: " padded".into(),
                document_digest: Bytes::new(),
            }),
            "response.text",
        ),
        (
            pb::entry_payload::Body::Response(pb::ConsultationResponse {
                draft: draft.clone(),
                reason: 1,
                text: "x".repeat(281),
                document_digest: Bytes::new(),
            }),
            "response.text",
        ),
        (
            pb::entry_payload::Body::Outcome(pb::ConsultationOutcome {
                draft: draft.clone(),
                result: 3,
                text: "x".into(),
                responses: vec![],
            }),
            "outcome.result",
        ),
        (
            pb::entry_payload::Body::Outcome(pb::ConsultationOutcome {
                draft: draft.clone(),
                result: 1,
                text: String::new(),
                responses: vec![],
            }),
            "outcome.text",
        ),
        (
            pb::entry_payload::Body::Outcome(pb::ConsultationOutcome {
                draft: draft.clone(),
                result: 1,
                text: "x".into(),
                responses: vec![draft.clone(); 2],
            }),
            "outcome.responses",
        ),
        (
            pb::entry_payload::Body::Outcome(pb::ConsultationOutcome {
                draft: draft.clone(),
                result: 1,
                text: "x".into(),
                responses: (0..7u8).map(|i| Bytes::from(vec![i; 32])).collect(),
            }),
            "outcome.responses",
        ),
        (
            pb::entry_payload::Body::Outcome(pb::ConsultationOutcome {
                draft: draft.clone(),
                result: 1,
                text: "x".into(),
                responses: vec![Bytes::from(vec![1; 33])],
            }),
            "outcome.responses",
        ),
    ];
    for (body, field) in cases {
        let mut p = next_payload(&w, w.grant_body());
        p.body = Some(body);
        match resigned(p, &key("alice/0")) {
            Err(Rejection::BadField { field: f, .. }) => assert_eq!(f, field),
            other => panic!("expected bad field {field}, got {other:?}"),
        }
    }
    // A window of 0 is no window.
    let mut p = next_payload(&w, policy(2));
    if let Some(pb::entry_payload::Body::Policy(policy)) = &mut p.body {
        policy.consultation = Some(pb::PolicyConsultation { closes_ms: 0 });
    }
    assert!(matches!(
        resigned(p, &key("alice/0")),
        Err(Rejection::BadField {
            field: "policy.consultation.closes_ms",
            ..
        })
    ));
    // The domain round-trips.
    for body in [
        stance(EntryId([1; 32]), &[crate::vocab::ObjectionReason::Other]),
        stance(EntryId([1; 32]), &[]),
        response(EntryId([1; 32]), crate::vocab::ObjectionReason::Other, "x"),
        outcome(EntryId([1; 32]), false, "x", &[EntryId([2; 32])]),
        draft_policy(2, T0),
    ] {
        assert_eq!(Body::from_wire(&body.to_wire()), Ok(body));
    }
}
