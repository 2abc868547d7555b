//! Consultations: policy changes, states, decisions and counts.

use super::*;

/// The wire form of a policy and its JSON.
pub(super) fn policy_wire(p: &Policy) -> pb::Policy {
    match Body::Policy(p.clone()).to_wire() {
        WireBody::Policy(w) => w,
        _ => panic!("a policy"),
    }
}

/// `policy_changes`: pairs of policies and what [`consent_proto::policy_change::compare`] says.
pub(super) fn policy_changes_json() -> Value {
    let base = v_policy();
    let edit = |f: &dyn Fn(&mut Policy)| {
        let mut p = v_policy();
        p.version = 2;
        f(&mut p);
        p
    };
    let scope_edit = |f: &dyn Fn(&mut PolicyScope)| {
        edit(&|p: &mut Policy| {
            if let Some(s) = p.scope.as_mut() {
                f(s);
            }
        })
    };
    let pairs: Vec<(&str, Policy, Policy)> = vec![
        ("the same policy", base.clone(), base.clone()),
        (
            "a purpose added",
            base.clone(),
            edit(&|p: &mut Policy| {
                p.purposes.insert(Purpose::Marketing);
            }),
        ),
        (
            "a shorter retention",
            base.clone(),
            edit(&|p: &mut Policy| p.retention_days = 30),
        ),
        (
            "a recipient added, the law and the contact changed",
            base.clone(),
            edit(&|p: &mut Policy| {
                p.recipients.push("Port authority".into());
                p.jurisdiction = "EU/GDPR+NL/UAVG".into();
                p.contact = "privacy@sensors.example".into();
            }),
        ),
        (
            "renamed, new address",
            base.clone(),
            edit(&|p: &mut Policy| {
                p.name = "Harbour City Sensor Network".into();
                p.document_url = "https://sensors.example/privacy/v2".into();
            }),
        ),
        (
            "zone 1 moved elsewhere",
            base.clone(),
            scope_edit(&|s: &mut PolicyScope| {
                s.zones[0] = Zone {
                    id: 1,
                    name: "Elsewhere".into(),
                    resolution: 12,
                    cells: cells(&[ELSEWHERE]),
                }
            }),
        ),
        (
            "no zones: anywhere",
            base.clone(),
            scope_edit(&|s: &mut PolicyScope| {
                s.zones.clear();
                // A sensor may stand only in a zone of the policy.
                for sensor in &mut s.sensors {
                    sensor.zone = None;
                }
            }),
        ),
        (
            "sensor 3 removed, saturdays dropped",
            base.clone(),
            scope_edit(&|s: &mut PolicyScope| {
                s.sensors.truncate(2);
                s.windows.truncate(1);
            }),
        ),
        (
            "the same windows an hour later",
            base.clone(),
            scope_edit(&|s: &mut PolicyScope| s.utc_offset_minutes = 0),
        ),
        (
            "research kept only aggregated, with smaller groups",
            base.clone(),
            scope_edit(&|s: &mut PolicyScope| {
                s.forms[1].offers = vec![FormSpec::Aggregated {
                    interval_s: 3_600,
                    resolution: 8,
                    min_group: 5,
                }]
            }),
        ),
        (
            "a scope declared where there was none",
            Policy {
                scope: None,
                ..base.clone()
            },
            base.clone(),
        ),
    ];
    pairs
        .into_iter()
        .map(|(about, old, new)| {
            let change = consent_proto::policy_change::compare(&old, &new);
            let (ow, nw) = (policy_wire(&old), policy_wire(&new));
            json!({
                "about": about,
                "old": body_json(&WireBody::Policy(ow.clone())),
                "old_encoding": hx(ow.encode_to_vec()),
                "new": body_json(&WireBody::Policy(nw.clone())),
                "new_encoding": hx(nw.encode_to_vec()),
                "kind": change.kind().name(),
                "items": change.items.iter().map(|i| json!({
                    "direction": i.direction.name(),
                    "code": i.code,
                    "sentence": i.sentence,
                })).collect::<Vec<_>>(),
                "sentences": change.sentences(),
            })
        })
        .collect()
}

pub(super) fn outcome_json(o: &OutcomeFacts, frozen: bool) -> Value {
    json!({"id": hx(o.id.0), "time_ms": o.time_ms, "approved": o.approved, "frozen": frozen})
}

/// The earliest approval and the earliest request for changes among the counted outcomes: not
/// signed by a frozen registrar feed and, when the draft is superseded, strictly before it.
pub(super) fn firsts(
    outcomes: &[(OutcomeFacts, bool)],
    superseded_ms: Option<u64>,
) -> (Option<OutcomeFacts>, Option<OutcomeFacts>) {
    let counted = move || {
        outcomes
            .iter()
            .filter(move |(o, frozen)| !frozen && superseded_ms.is_none_or(|s| o.time_ms < s))
            .map(|(o, _)| *o)
    };
    (
        counted()
            .filter(|o| o.approved)
            .fold(None, consultation::first),
        counted()
            .filter(|o| !o.approved)
            .fold(None, consultation::first),
    )
}

/// `consultation_states`: a draft's facts, its outcomes (any order) and a clock; the state, its
/// time and from when grants under it count.
pub(super) fn consultation_states_json() -> Value {
    let id = |n: u8| consent_proto::EntryId([n; 32]);
    let o = |n: u8, time_ms: u64, approved: bool| {
        (
            OutcomeFacts {
                id: id(n),
                time_ms,
                approved,
            },
            false,
        )
    };
    // Signed by a registrar feed that is frozen (its equivocation proven): not counted.
    let frozen = |n: u8, time_ms: u64, approved: bool| (o(n, time_ms, approved).0, true);
    let opened = T;
    let closes = T + 14 * DAY;
    /// (about, gated, superseded_ms, outcomes (each with whether its registrar is frozen), now_ms)
    type Case = (
        &'static str,
        bool,
        Option<u64>,
        Vec<(OutcomeFacts, bool)>,
        u64,
    );
    let cases: Vec<Case> = vec![
        ("open", true, None, vec![], closes - 1),
        ("awaiting the outcome", true, None, vec![], closes),
        (
            "approved",
            true,
            None,
            vec![o(5, closes + HOUR, true)],
            closes + DAY,
        ),
        (
            "changes required",
            true,
            None,
            vec![o(5, closes + HOUR, false)],
            closes + DAY,
        ),
        (
            "changes required during the window",
            true,
            None,
            vec![o(5, opened + DAY, false)],
            opened + 2 * DAY,
        ),
        (
            "an approval and a request for changes at one time: changes required",
            true,
            None,
            vec![o(9, closes, true), o(3, closes, false)],
            closes + DAY,
        ),
        (
            "an approval, then changes required by another registrar: changes required",
            true,
            None,
            vec![o(1, closes + DAY, false), o(9, closes + HOUR, true)],
            closes + 2 * DAY,
        ),
        (
            "changes required, then an approval by another registrar: changes required",
            true,
            None,
            vec![o(9, closes + DAY, true), o(1, closes + HOUR, false)],
            closes + 2 * DAY,
        ),
        (
            "two requests for changes: the earlier time",
            true,
            None,
            vec![o(1, closes + DAY, false), o(9, closes + HOUR, false)],
            closes + 2 * DAY,
        ),
        (
            "two approvals at one time: the smaller id",
            true,
            None,
            vec![o(9, closes, true), o(3, closes, true)],
            closes + DAY,
        ),
        (
            "a frozen registrar's approval does not count: awaiting the outcome",
            true,
            None,
            vec![frozen(5, closes + HOUR, true)],
            closes + DAY,
        ),
        (
            "a frozen registrar's request for changes does not count: the other's approval decides",
            true,
            None,
            vec![frozen(3, closes, false), o(9, closes + HOUR, true)],
            closes + DAY,
        ),
        (
            "changes required after a newer version does not count: the approval before it decides",
            true,
            Some(closes + DAY),
            vec![o(9, closes + HOUR, true), o(3, closes + DAY, false)],
            closes + 2 * DAY,
        ),
        ("withdrawn", true, Some(opened + DAY), vec![], closes + DAY),
        (
            "approved after being withdrawn: withdrawn",
            true,
            Some(closes + HOUR),
            vec![o(5, closes + HOUR, true)],
            closes + DAY,
        ),
        (
            "approved before a newer version",
            true,
            Some(closes + HOUR + 1),
            vec![o(5, closes + HOUR, true)],
            closes + DAY,
        ),
        (
            "a voluntary consultation, open",
            false,
            None,
            vec![],
            opened,
        ),
        (
            "a voluntary consultation with changes required",
            false,
            None,
            vec![o(5, closes, false)],
            closes + DAY,
        ),
        (
            "a voluntary consultation approved: in effect all along",
            false,
            None,
            vec![o(5, closes, true)],
            closes + DAY,
        ),
    ];
    cases
        .into_iter()
        .map(|(about, gated, superseded_ms, outcomes, now_ms)| {
            let (first_approval, first_changes_required) = firsts(&outcomes, superseded_ms);
            let facts = DraftFacts {
                id: id(1),
                collector: FeedId([2; 32]),
                version: 2,
                time_ms: opened,
                closes_ms: closes,
                gated,
                superseded_ms,
                first_approval,
                first_changes_required,
            };
            let state = consultation::state(&facts, now_ms);
            json!({
                "about": about,
                "time_ms": facts.time_ms,
                "closes_ms": facts.closes_ms,
                "gated": gated,
                "superseded_ms": superseded_ms,
                "outcomes": outcomes
                    .iter()
                    .map(|(o, frozen)| outcome_json(o, *frozen))
                    .collect::<Vec<_>>(),
                "now_ms": now_ms,
                "state": state.name(),
                "state_wire": state.to_wire().as_str_name(),
                "state_ms": state.at_ms(),
                "in_effect_from": consultation::in_effect_from(&facts),
            })
        })
        .collect()
}

/// `consultation_decisions`: step 5's `POLICY_NOT_IN_EFFECT` for one unscoped grant whose policy is
/// in effect from `in_effect_from` (the approving outcome's time of a gated draft, `u64::MAX`
/// while it is not approved, 0 for a version that is not gated), and its place among the
/// other denials.
pub(super) fn consultation_decisions_json() -> Value {
    use consent_proto::consultation::{ALWAYS, NEVER};
    let a = T + 3 * DAY;
    let base = DecisionCase {
        about: None,
        policy: None,
        grant: GrantCase {
            purposes: [Purpose::Research].into_iter().collect(),
            categories: [DataCategory::Mobility].into_iter().collect(),
            valid_from: T,
            valid_until: None,
            revoked: false,
            scope: None,
        },
        opt_out_seq: None,
        purpose: Purpose::Research,
        category: DataCategory::Mobility,
        at_ms: a,
        context: Context::NONE,
    };
    let observed = |ms: u64| Context {
        observed_ms: Some(ms),
        ..Context::NONE
    };
    let cases: Vec<(DecisionCase, u64)> = vec![
        (
            edge(
                &base,
                "one millisecond before the approval: not in effect",
                |c| {
                    c.at_ms = a - 1;
                },
            ),
            a,
        ),
        (edge(&base, "at the approval: in effect", |_| {}), a),
        (
            edge(&base, "a draft not approved: never in effect", |c| {
                c.at_ms = a + 365 * DAY;
            }),
            NEVER,
        ),
        (
            edge(&base, "revoked: REVOKED comes first", |c| {
                c.at_ms = a - 1;
                c.grant.revoked = true;
            }),
            a,
        ),
        (
            edge(&base, "not yet valid: NOT_YET_VALID comes first", |c| {
                c.at_ms = a - 1;
                c.grant.valid_from = a;
            }),
            a,
        ),
        (
            edge(&base, "expired: EXPIRED comes first", |c| {
                c.at_ms = a - 1;
                c.grant.valid_until = Some(a - HOUR);
            }),
            a,
        ),
        (
            edge(
                &base,
                "observed outside the grant's validity: not in effect comes before TIME_NOT_COVERED",
                |c| {
                    c.at_ms = a - 1;
                    c.context = observed(T - 1);
                },
            ),
            a,
        ),
        (
            edge(
                &base,
                "observed before the approval, asked after it: allowed (at alone is compared)",
                |c| c.context = observed(a - HOUR),
            ),
            a,
        ),
        (
            edge(
                &base,
                "a version that is not gated: never POLICY_NOT_IN_EFFECT, whatever at is",
                |c| c.at_ms = T + 1,
            ),
            ALWAYS,
        ),
    ];
    json!({
        "cases": cases
            .iter()
            .map(|(c, in_effect_from)| {
                let mut v = decision_case_json(&[], c);
                let (decision, reason, form) = decide_case_in(&[], c, *in_effect_from);
                v["decision"] = json!(decision.as_str_name());
                v["reason"] = json!(reason.as_str_name());
                v["required_form"] = json!(form.unwrap_or(Form::Unspecified).as_str_name());
                v["in_effect_from"] = json!(in_effect_from);
                v
            })
            .collect::<Vec<_>>(),
    })
}

pub(super) fn tally_json(t: &Tally) -> Value {
    json!({
        "support": t.support,
        "object": t.object,
        "reasons": ObjectionReason::ALL
            .iter()
            .filter(|r| t.reason(**r) > 0)
            .map(|r| json!({"reason": r.as_str_name(), "count": t.reason(*r)}))
            .collect::<Vec<_>>(),
    })
}

/// `consultation_counts`: stances of several feeds (any order) counted, and the reasons raised at
/// a threshold.
pub(super) fn consultation_counts_json() -> Value {
    use ObjectionReason as R;
    let stance = |feed: u8, seq: u64, object: &[R], affected: bool| StanceFacts {
        feed: FeedId([feed; 32]),
        seq,
        support: object.is_empty(),
        reasons: object.iter().copied().collect(),
        affected,
    };
    let cases: Vec<(&str, Vec<StanceFacts>, u64)> = vec![
        ("no stance", vec![], 1),
        (
            "a later stance of a feed replaces its earlier one",
            vec![
                stance(1, 4, &[], true),
                stance(1, 3, &[R::RetentionTooLong, R::Other], true),
                stance(2, 7, &[R::RetentionTooLong], false),
                stance(2, 9, &[R::SensorPlacement, R::Other], false),
            ],
            1,
        ),
        (
            "both groups count towards the threshold",
            vec![
                stance(1, 1, &[R::ThirdPartySharing], true),
                stance(2, 1, &[R::ThirdPartySharing, R::PurposeTooBroad], false),
                stance(3, 1, &[R::PurposeTooBroad], false),
                stance(4, 1, &[R::NotAnonymisedEnough], true),
                stance(5, 1, &[], false),
                stance(6, 2, &[], true),
            ],
            2,
        ),
    ];
    cases
        .into_iter()
        .map(|(about, stances, threshold)| {
            let counts = consultation::count(&stances);
            json!({
                "about": about,
                "stances": stances.iter().map(|s| json!({
                    "feed": hx(s.feed.0),
                    "seq": s.seq,
                    "kind": if s.support { "STANCE_KIND_SUPPORT" } else { "STANCE_KIND_OBJECT" },
                    "reasons": s.reasons.iter().map(|r| r.as_str_name()).collect::<Vec<_>>(),
                    "affected": s.affected,
                })).collect::<Vec<_>>(),
                "affected": tally_json(&counts.affected),
                "others": tally_json(&counts.others),
                "threshold": threshold,
                "raised": counts.raised(threshold).iter().map(|r| r.as_str_name()).collect::<Vec<_>>(),
            })
        })
        .collect()
}
