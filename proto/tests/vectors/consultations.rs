//! Consultations: the network, validation sequences and their verdicts.

use super::*;

// ---- Consultations ----

/// Keys of `consultation_validation`'s own feeds (seeds `BLAKE3(label)`, as every key).
pub(super) const V_COLLECTOR_0: &str = "vectors/consultation/collector/0";
pub(super) const V_COLLECTOR_1: &str = "vectors/consultation/collector/1";
pub(super) const V_CITIZEN_0: &str = "vectors/consultation/citizen/0";
pub(super) const V_CITIZEN_1: &str = "vectors/consultation/citizen/1";
/// `widening_min_days` of the networks of `consultation_validation` whose genesis has the section.
pub(super) const V_MIN_DAYS: u32 = 14;

/// `consultation_validation`'s first policy: the vectors' scope, three purposes, 90 days.
pub(super) fn v_policy() -> Policy {
    Policy {
        version: 1,
        name: "Harbour City Sensors".into(),
        purposes: [
            Purpose::ServiceProvision,
            Purpose::Research,
            Purpose::ThirdPartySharing,
        ]
        .into_iter()
        .collect(),
        categories: [DataCategory::Location, DataCategory::Mobility]
            .into_iter()
            .collect(),
        retention_days: 90,
        recipients: Vec::new(),
        jurisdiction: "EU/GDPR".into(),
        document_digest: digest("vectors/consultation policy document"),
        document_url: "https://sensors.example/privacy".into(),
        contact: "dpo@sensors.example".into(),
        scope: Some(vector_policy_scope()),
        consultation: None,
    }
}

/// A verdict as the vectors name it: `accept`, `pending`, `duplicate`, `equivocation`, or the
/// rejection's code.
pub(super) fn verdict_name(v: &Verdict) -> String {
    match v {
        Verdict::Accept { .. } => "accept".into(),
        Verdict::Pending { .. } => "pending".into(),
        Verdict::Duplicate { .. } => "duplicate".into(),
        Verdict::Equivocation { .. } => "equivocation".into(),
        Verdict::Reject(r) => r.code().into(),
    }
}

/// The network of `consultation_validation`: the dev registrar, a collector with its first
/// policy and a citizen.
pub(super) struct VNet {
    pub(super) history: Vec<Named>,
    pub(super) registrar: Author,
    pub(super) collector: Author,
    pub(super) citizen: Author,
}

pub(super) fn v_net() -> VNet {
    let (registrar, reg0) = signed("the dev registrar", dev::registrar());
    let (mut collector, col0) = signed(
        "the collector",
        Author::incept(Role::Collector, key(V_COLLECTOR_0), key(V_COLLECTOR_1), T),
    );
    let (citizen, cit0) = signed(
        "the citizen",
        Author::incept(Role::Citizen, key(V_CITIZEN_0), key(V_CITIZEN_1), T),
    );
    let v1 = signed(
        "the first policy",
        collector.append(T + HOUR, Body::Policy(v_policy())),
    );
    VNet {
        history: vec![
            Named {
                name: "registrar-inception",
                signer: REGISTRAR_0,
                role: Role::Registrar,
                entry: reg0,
            },
            Named {
                name: "collector-inception",
                signer: V_COLLECTOR_0,
                role: Role::Collector,
                entry: col0,
            },
            Named {
                name: "policy",
                signer: V_COLLECTOR_0,
                role: Role::Collector,
                entry: v1,
            },
            Named {
                name: "citizen-inception",
                signer: V_CITIZEN_0,
                role: Role::Citizen,
                entry: cit0,
            },
        ],
        registrar,
        collector,
        citizen,
    }
}

/// A ledger of a network with `min_days` (`None`: no `[consultation]`) holding `history`.
pub(super) fn v_ledger(history: &[Entry], min_days: Option<u32>) -> MemoryLedger {
    let mut ledger = MemoryLedger::new([history[0].feed]);
    ledger.require_consultations(
        min_days.map(|widening_min_days| consultation::Rules { widening_min_days }),
    );
    for e in history {
        let verdict = ledger.submit(e, NOW);
        assert!(matches!(verdict, Verdict::Accept { .. }), "{verdict:?}");
    }
    ledger
}

/// One case of `consultation_validation`: entries submitted in order after the history, each
/// with the verdict expected (checked here, while generating).
pub(super) struct VCase {
    pub(super) about: &'static str,
    pub(super) min_days: Option<u32>,
    pub(super) entries: Vec<Named>,
    pub(super) verdicts: Vec<&'static str>,
}

/// Builds a case: `steps` give, for each entry, its name, author (0 collector, 1 citizen, 2
/// registrar), time, body and expected verdict; an accepted entry advances its author.
pub(super) fn v_case(
    net: &VNet,
    about: &'static str,
    min_days: Option<u32>,
    steps: Vec<(&'static str, usize, u64, Body, &'static str)>,
) -> VCase {
    let history: Vec<Entry> = net.history.iter().map(|n| n.entry.clone()).collect();
    let mut ledger = v_ledger(&history, min_days);
    let mut authors = [
        net.collector.clone(),
        net.citizen.clone(),
        net.registrar.clone(),
    ];
    let signers = [V_COLLECTOR_0, V_CITIZEN_0, REGISTRAR_0];
    let roles = [Role::Collector, Role::Citizen, Role::Registrar];
    let mut entries = Vec::new();
    let mut verdicts = Vec::new();
    for (name, who, time, body, expected) in steps {
        let entry = signed(name, authors[who].sign_next(time, &body));
        let verdict = ledger.submit(&entry, NOW);
        assert_eq!(verdict_name(&verdict), expected, "{about}: {name}");
        if let Verdict::Accept { .. } = verdict {
            signed(name, authors[who].append(time, body));
        }
        entries.push(Named {
            name,
            signer: signers[who],
            role: roles[who],
            entry,
        });
        verdicts.push(expected);
    }
    VCase {
        about,
        min_days,
        entries,
        verdicts,
    }
}

/// `consultation_validation`: a history, then cases on networks with and without
/// `[consultation]`, each a sequence of entries with their verdicts.
pub(super) fn consultation_validation_json() -> Value {
    let net = v_net();
    let t = T + DAY;
    let edit = |f: &dyn Fn(&mut Policy)| {
        let mut p = v_policy();
        p.version = 2;
        f(&mut p);
        Body::Policy(p)
    };
    let marketing = |p: &mut Policy| {
        p.purposes.insert(Purpose::Marketing);
    };
    let draft_closing = |closes_ms: u64| {
        edit(&|p: &mut Policy| {
            p.purposes.insert(Purpose::Marketing);
            p.consultation = Some(Consultation { closes_ms });
        })
    };
    let min = Some(V_MIN_DAYS);
    let days = u64::from(V_MIN_DAYS) * DAY;
    let (c, z, r) = (0, 1, 2);
    let mut cases = vec![
        v_case(
            &net,
            "a widening without a consultation where the genesis asks for one",
            min,
            vec![(
                "policy-2",
                c,
                t,
                edit(&marketing),
                "widening-without-consultation",
            )],
        ),
        v_case(
            &net,
            "a widening without a consultation where the genesis does not",
            None,
            vec![("policy-2", c, t, edit(&marketing), "accept")],
        ),
        v_case(
            &net,
            "a widening's window one millisecond short, then exactly long enough",
            min,
            vec![
                (
                    "policy-2-short",
                    c,
                    t,
                    draft_closing(t + days - 1),
                    "consultation-too-short",
                ),
                ("policy-2", c, t, draft_closing(t + days), "accept"),
            ],
        ),
        v_case(
            &net,
            "a window over 365 days",
            min,
            vec![(
                "policy-2",
                c,
                t,
                draft_closing(t + 365 * DAY + 1),
                "consultation-too-long",
            )],
        ),
        v_case(
            &net,
            "a narrowing's voluntary window must still close after the entry",
            min,
            vec![
                (
                    "policy-2-empty-window",
                    c,
                    t,
                    edit(&|p: &mut Policy| {
                        p.retention_days = 30;
                        p.consultation = Some(Consultation { closes_ms: t });
                    }),
                    "consultation-too-short",
                ),
                (
                    "policy-2",
                    c,
                    t,
                    edit(&|p: &mut Policy| {
                        p.retention_days = 30;
                        p.consultation = Some(Consultation { closes_ms: t + 1 });
                    }),
                    "accept",
                ),
            ],
        ),
        v_case(
            &net,
            "sensor 2, an air-quality sensor, kept as a noise sensor",
            None,
            vec![(
                "policy-2",
                c,
                t,
                edit(&|p: &mut Policy| {
                    if let Some(s) = p.scope.as_mut() {
                        s.sensors[1].kind = SensorKind::Noise;
                    }
                }),
                "id-redefined",
            )],
        ),
        v_case(
            &net,
            "a draft's content republished without a consultation widens from the base",
            min,
            vec![
                ("policy-2-draft", c, t, draft_closing(t + days), "accept"),
                (
                    "policy-3",
                    c,
                    t + HOUR,
                    Body::Policy(Policy {
                        version: 3,
                        purposes: [
                            Purpose::ServiceProvision,
                            Purpose::Research,
                            Purpose::ThirdPartySharing,
                            Purpose::Marketing,
                        ]
                        .into_iter()
                        .collect(),
                        ..v_policy()
                    }),
                    "widening-without-consultation",
                ),
                (
                    "policy-3-as-1",
                    c,
                    t + HOUR,
                    Body::Policy(Policy {
                        version: 3,
                        ..v_policy()
                    }),
                    "accept",
                ),
            ],
        ),
    ];
    // Stances, responses and outcomes, under a one-day draft on a network without the section.
    let v1 = net.history[2].entry.id;
    let unknown = consent_proto::EntryId([7; 32]);
    let draft_entry = signed(
        "the draft",
        net.collector.sign_next(t, &draft_closing(t + DAY)),
    );
    let draft = draft_entry.id;
    let stance = |object: &[ObjectionReason], on: consent_proto::EntryId| {
        Body::Stance(Stance {
            draft: on,
            position: if object.is_empty() {
                Position::Support
            } else {
                Position::Object(object.iter().copied().collect::<ObjectionSet>())
            },
            details_digest: None,
        })
    };
    let respond = |on: consent_proto::EntryId| {
        Body::Response(ConsultationResponse {
            draft: on,
            reason: ObjectionReason::RetentionTooLong,
            text: "Location data is kept 30 days, not 90.".into(),
            document_digest: None,
        })
    };
    let decide = |approved: bool, responses: Vec<consent_proto::EntryId>| {
        Body::Outcome(ConsultationOutcome {
            draft,
            result: if approved {
                ConsultationResult::Approved
            } else {
                ConsultationResult::ChangesRequired
            },
            text: "Decided after the consultation.".into(),
            responses,
        })
    };
    let objecting = [ObjectionReason::RetentionTooLong];
    let stance_entry = signed("the stance", {
        let mut citizen = net.citizen.clone();
        citizen.append(t + HOUR, stance(&objecting, draft))
    });
    let response_entry = signed("the response", {
        let mut collector = net.collector.clone();
        signed("the draft", collector.append(t, draft_closing(t + DAY)));
        collector.append(t + 2 * HOUR, respond(draft))
    });
    // Ids keep their meaning: a zone moved to a disjoint area; a sensor id dropped by a gated
    // draft and kept with another kind by the next version (against the base, not `prev`).
    let elsewhere = Cell::new(ELSEWHERE)
        .and_then(|c| c.parent(10))
        .expect("a resolution-10 cell");
    cases.push(v_case(
        &net,
        "zone 1 moved to a disjoint area",
        None,
        vec![(
            "policy-2",
            c,
            t,
            edit(&|p: &mut Policy| {
                if let Some(s) = p.scope.as_mut() {
                    s.zones[0].cells = vec![elsewhere];
                }
            }),
            "id-redefined",
        )],
    ));
    let without_sensor_2 = edit(&|p: &mut Policy| {
        p.purposes.insert(Purpose::Marketing);
        p.consultation = Some(Consultation { closes_ms: t + DAY });
        if let Some(s) = p.scope.as_mut() {
            s.sensors.retain(|x| x.id != 2);
        }
    });
    let mut sensor_2_as_noise = v_policy();
    sensor_2_as_noise.version = 3;
    if let Some(s) = sensor_2_as_noise.scope.as_mut() {
        s.sensors[1].kind = SensorKind::Noise;
    }
    cases.push(v_case(
        &net,
        "a sensor id redefined against the base: the draft before it dropped the id",
        None,
        vec![
            ("policy-2-draft", c, t, without_sensor_2, "accept"),
            (
                "policy-3",
                c,
                t + HOUR,
                Body::Policy(sensor_2_as_noise),
                "id-redefined",
            ),
        ],
    ));
    // An approved draft stays gated: the base is still the version before it.
    let mut approved_content = v_policy();
    approved_content.version = 3;
    approved_content.purposes.insert(Purpose::Marketing);
    approved_content.name = "Harbour City Sensors and Offers".into();
    cases.push(v_case(
        &net,
        "an approved draft never becomes the base: its content republished without a consultation widens again",
        Some(1),
        vec![
            ("policy-2-draft", c, t, draft_closing(t + DAY), "accept"),
            ("approval", r, t + DAY, decide(true, vec![]), "accept"),
            (
                "policy-3",
                c,
                t + DAY + HOUR,
                Body::Policy(approved_content),
                "widening-without-consultation",
            ),
        ],
    ));
    // Roles: a stance is a citizen's, a response a collector's, an outcome a registrar's.
    cases.push(v_case(
        &net,
        "each consultation body from a feed of another role",
        None,
        vec![
            ("policy-2-draft", c, t, draft_closing(t + DAY), "accept"),
            (
                "stance-by-the-collector",
                c,
                t + HOUR,
                stance(&[], draft),
                "body-not-allowed",
            ),
            (
                "response-by-the-citizen",
                z,
                t + HOUR,
                respond(draft),
                "body-not-allowed",
            ),
            (
                "outcome-by-the-collector",
                c,
                t + DAY,
                decide(true, vec![]),
                "body-not-allowed",
            ),
        ],
    ));
    // The listed responses are judged in list order: the first that fails decides.
    cases.push(v_case(
        &net,
        "an outcome's listed responses in list order: not a response first, then missing first",
        None,
        vec![
            ("policy-2-draft", c, t, draft_closing(t + DAY), "accept"),
            ("stance", z, t + HOUR, stance(&objecting, draft), "accept"),
            (
                "approval-listing-a-stance-then-unknown",
                r,
                t + DAY,
                decide(true, vec![stance_entry.id, unknown]),
                "response-not-for-draft",
            ),
            (
                "approval-listing-unknown-then-a-stance",
                r,
                t + DAY,
                decide(true, vec![unknown, stance_entry.id]),
                "pending",
            ),
        ],
    ));
    // A response to the collector's earlier draft, listed by an outcome on its next draft.
    let v3_draft = Body::Policy(Policy {
        version: 3,
        consultation: Some(Consultation {
            closes_ms: t + 3 * HOUR + DAY,
        }),
        ..match &draft_closing(t + DAY) {
            Body::Policy(p) => p.clone(),
            _ => panic!("a policy"),
        }
    });
    let v3_entry = signed("the next draft", {
        let mut collector = net.collector.clone();
        signed("the draft", collector.append(t, draft_closing(t + DAY)));
        signed(
            "the response",
            collector.append(t + 2 * HOUR, respond(draft)),
        );
        collector.sign_next(t + 3 * HOUR, &v3_draft)
    });
    cases.push(v_case(
        &net,
        "an outcome listing a response to another draft of the same collector",
        None,
        vec![
            ("policy-2-draft", c, t, draft_closing(t + DAY), "accept"),
            ("response", c, t + 2 * HOUR, respond(draft), "accept"),
            (
                "policy-3-draft",
                c,
                t + 3 * HOUR,
                v3_draft.clone(),
                "accept",
            ),
            (
                "approval-of-3-listing-a-response-to-2",
                r,
                t + 3 * HOUR + DAY,
                Body::Outcome(ConsultationOutcome {
                    draft: v3_entry.id,
                    result: ConsultationResult::Approved,
                    text: "Decided after the consultation.".into(),
                    responses: vec![response_entry.id],
                }),
                "response-not-for-draft",
            ),
        ],
    ));
    cases.push(v_case(
        &net,
        "stances: on a draft not held, on a policy without a consultation, outside the window, inside it",
        None,
        vec![
            ("policy-2-draft", c, t, draft_closing(t + DAY), "accept"),
            ("stance-unknown", z, t + HOUR, stance(&[], unknown), "pending"),
            ("stance-on-policy-1", z, t + HOUR, stance(&objecting, v1), "not-a-consultation"),
            ("stance-early", z, t - 1, stance(&objecting, draft), "outside-consultation-window"),
            ("stance-late", z, t + DAY, stance(&[], draft), "outside-consultation-window"),
            ("stance", z, t + HOUR, stance(&objecting, draft), "accept"),
        ],
    ));
    cases.push(v_case(
        &net,
        "responses and outcomes",
        None,
        vec![
            ("policy-2-draft", c, t, draft_closing(t + DAY), "accept"),
            ("stance", z, t + HOUR, stance(&objecting, draft), "accept"),
            (
                "response-on-policy-1",
                c,
                t + 2 * HOUR,
                respond(v1),
                "not-a-consultation",
            ),
            (
                "response-on-a-stance",
                c,
                t + 2 * HOUR,
                respond(stance_entry.id),
                "not-own-consultation",
            ),
            ("response", c, t + 2 * HOUR, respond(draft), "accept"),
            (
                "outcome-before-the-draft",
                r,
                t - 1,
                decide(false, vec![]),
                "outcome-too-early",
            ),
            (
                "approval-in-the-window",
                r,
                t + DAY - 1,
                decide(true, vec![]),
                "outcome-too-early",
            ),
            (
                "approval-listing-a-stance",
                r,
                t + DAY,
                decide(true, vec![stance_entry.id]),
                "response-not-for-draft",
            ),
            (
                "approval-listing-unknown",
                r,
                t + DAY,
                decide(true, vec![unknown]),
                "pending",
            ),
            (
                "approval",
                r,
                t + DAY,
                decide(true, vec![response_entry.id]),
                "accept",
            ),
        ],
    ));
    assert_eq!(
        cases.last().map(|c| c.entries[0].entry.id),
        Some(draft_entry.id)
    );
    json!({
        "history": net.history.iter().map(named_json).collect::<Vec<_>>(),
        "cases": cases.iter().map(|c| json!({
            "about": c.about,
            "widening_min_days": c.min_days,
            "entries": c.entries.iter().map(named_json).collect::<Vec<_>>(),
            "verdicts": c.verdicts,
        })).collect::<Vec<_>>(),
    })
}
