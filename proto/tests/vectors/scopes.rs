//! Scopes: H3 cells, local times, scoped policies and grants, seeded scope decisions, context digests.

use super::*;

// ---- Scopes ----

pub(super) fn cells(raw: &[u64]) -> Vec<Cell> {
    raw.iter()
        .map(|r| match Cell::new(*r) {
            Some(c) => c,
            None => panic!("{r:x} is a cell"),
        })
        .collect()
}

/// Zone 1 of the vectors' scoped policy (resolution 10).
pub(super) const QUAY: [u64; 2] = [0x8a196908221ffff, 0x8a19690822f7fff];
/// Zone 2 (resolution 11).
pub(super) const SQUARE: [u64; 3] = [0x8b1969082294fff, 0x8b19690822b0fff, 0x8b19690822b2fff];
/// A resolution-12 cell in the quay (a descendant of its second cell).
pub(super) const IN_QUAY: u64 = 0x8c19690822f29ff;
/// A resolution-13 cell in the square (the centre child of its first cell).
pub(super) const IN_SQUARE: u64 = 0x8d196908229403f;
/// A resolution-12 cell in neither zone.
pub(super) const ELSEWHERE: u64 = 0x8c1969091c8dbff;
/// The resolution-9 parent of the quay's second cell: coarser than the zone.
pub(super) const AROUND_QUAY: u64 = 0x8919690822fffff;

/// The collector's second policy's scope (+01:00): zones 1 (the quay, resolution 10) and 2 (the
/// square, 11); sensors 1 a number-plate reader in zone 1, 2 an air-quality sensor in zone 2, 3
/// a Wi-Fi counter; mon-fri 07:00-19:00 and sat 09:00-17:00; service provision raw, research
/// pseudonymised or aggregated (1 h, resolution 8, k 10), third-party sharing aggregated (a day,
/// resolution 7, k 20).
pub(super) fn vector_policy_scope() -> PolicyScope {
    PolicyScope {
        utc_offset_minutes: 60,
        zones: vec![
            Zone {
                id: 1,
                name: "Harbour quay".into(),
                resolution: 10,
                cells: cells(&QUAY),
            },
            Zone {
                id: 2,
                name: "Market square".into(),
                resolution: 11,
                cells: cells(&SQUARE),
            },
        ],
        sensors: vec![
            Sensor {
                id: 1,
                kind: SensorKind::NumberPlateReader,
                zone: Some(1),
            },
            Sensor {
                id: 2,
                kind: SensorKind::AirQuality,
                zone: Some(2),
            },
            Sensor {
                id: 3,
                kind: SensorKind::WifiCounter,
                zone: None,
            },
        ],
        windows: vec![
            TimeWindow {
                days: 0x1f,
                start_minute: 7 * 60,
                end_minute: 19 * 60,
            },
            TimeWindow {
                days: 0x20,
                start_minute: 9 * 60,
                end_minute: 17 * 60,
            },
        ],
        forms: vec![
            PurposeForms {
                purpose: Purpose::ServiceProvision,
                offers: vec![FormSpec::Raw],
            },
            PurposeForms {
                purpose: Purpose::Research,
                offers: vec![
                    FormSpec::Pseudonymised,
                    FormSpec::Aggregated {
                        interval_s: 3_600,
                        resolution: 8,
                        min_group: 10,
                    },
                ],
            },
            PurposeForms {
                purpose: Purpose::ThirdPartySharing,
                offers: vec![FormSpec::Aggregated {
                    interval_s: 86_400,
                    resolution: 7,
                    min_group: 20,
                }],
            },
        ],
    }
}

/// `h3`: indexes that are and are not cells, and parents at every resolution.
pub(super) fn h3_json() -> Value {
    let base = |b: u64| (0x08u64 << 56) | (b << 45) | ((1u64 << 45) - 1);
    let child = |b: u64, digits: &[u64]| cases::finer(base(b), digits);
    let cell = 0x8a754e64992ffff_u64;
    let indexes: Vec<(u64, &str)> = vec![
        (cell, "a cell of resolution 10"),
        (0x8c19690822801ff, "a cell of resolution 12"),
        (0x8f19690822f292a, "a cell of resolution 15"),
        (base(0), "base cell 0 at resolution 0"),
        (base(121), "base cell 121, the last"),
        (base(122), "base cell 122 does not exist"),
        (base(4), "pentagon base cell 4"),
        (
            child(4, &[1]),
            "pentagon 4, first non-zero digit 1: deleted",
        ),
        (child(4, &[2]), "pentagon 4, first digit 2"),
        (
            child(117, &[1]),
            "pentagon 117, first non-zero digit 1: deleted",
        ),
        (
            child(4, &[0, 1]),
            "pentagon 4, digits 0 1: first non-zero 1, deleted",
        ),
        (
            child(4, &[2, 1]),
            "pentagon 4, digits 2 1: first non-zero 2",
        ),
        (child(4, &[0, 0]), "pentagon 4, digits 0 0"),
        (child(5, &[1]), "hexagon base cell 5, digit 1"),
        (0, "zero"),
        (u64::MAX, "every bit set"),
        (cell | (1 << 63), "the high bit set"),
        (
            (cell & !(0xF << 59)) | (2 << 59),
            "mode 2 (a directed edge)",
        ),
        (cell | (1 << 56), "a reserved bit set"),
        (cell | (7 << 15), "a used digit 7"),
        (cell & !1, "an unused digit not 7"),
    ];
    let parents: Vec<Value> = [cell, 0x8f19690822f292a, child(4, &[2, 1])]
        .into_iter()
        .flat_map(|raw| {
            (0..=16u8).map(move |r| {
                let parent = Cell::new(raw).and_then(|c| c.parent(r));
                json!({
                    "cell": format!("{raw:x}"),
                    "resolution": r,
                    "parent": parent.map_or(Value::Null, |p| json!(p.to_string())),
                })
            })
        })
        .collect();
    json!({
        "indexes": indexes.iter().map(|(i, about)| json!({
            "index": format!("{i:x}"),
            "valid": h3::is_cell(*i),
            "about": about,
        })).collect::<Vec<_>>(),
        "parents": parents,
    })
}

/// `local_time`: weekday (Monday 0) and minute of the day at a fixed offset.
pub(super) fn local_time_json() -> Value {
    let monday = cases::T;
    let hour = 3_600_000;
    let times: Vec<(u64, i16)> = vec![
        (0, 0),
        (0, -60),
        (monday, 0),
        (monday - 1, 0),
        (monday + 10 * hour, 840),
        (monday + 10 * hour - 1, 840),
        (monday + 10 * hour, -720),
        (monday + 12 * hour, -720),
        (T, 60),
        (T, -345),
        (u64::MAX, 840),
        (u64::MAX, -720),
    ];
    Value::Array(
        times
            .into_iter()
            .map(|(observed_ms, offset)| {
                let (weekday, minute) = local_time(observed_ms, offset);
                json!({
                    "observed_ms": observed_ms,
                    "utc_offset_minutes": offset,
                    "weekday": weekday,
                    "minute": minute,
                })
            })
            .collect(),
    )
}

/// The bytes a context digest hashes after its domain.
pub(super) fn context_input(c: &pb::ObservationContext) -> Vec<u8> {
    let mut input = domain::CONTEXT.to_vec();
    input.extend_from_slice(&c.sensor.to_be_bytes());
    input.push((c.sensor_kind & 0xff) as u8);
    input.extend_from_slice(&c.cell.to_be_bytes());
    input.extend_from_slice(&c.observed_ms.to_be_bytes());
    input.push((c.form & 0xff) as u8);
    input
}

/// `context_digests`: the digest of a few contexts, with the bytes hashed.
pub(super) fn context_digests_json() -> Value {
    let contexts = [
        pb::ObservationContext::default(),
        pb::ObservationContext {
            sensor: 2,
            sensor_kind: SensorKind::AirQuality as i32,
            cell: IN_QUAY,
            observed_ms: cases::T + 9 * HOUR,
            form: Form::Aggregated as i32,
        },
        // The same observation said to be by a camera: only the kind's byte differs.
        pb::ObservationContext {
            sensor: 2,
            sensor_kind: SensorKind::Camera as i32,
            cell: IN_QUAY,
            observed_ms: cases::T + 9 * HOUR,
            form: Form::Aggregated as i32,
        },
        pb::ObservationContext {
            sensor: 3,
            ..Default::default()
        },
        pb::ObservationContext {
            cell: IN_SQUARE,
            form: Form::Raw as i32,
            ..Default::default()
        },
    ];
    json!({
        "domain": String::from_utf8_lossy(domain::CONTEXT),
        "items": contexts.iter().map(|c| json!({
            "context": context_json(c),
            "input": hx(context_input(c)),
            "digest": hx(receipt::context_digest(c)),
        })).collect::<Vec<_>>(),
    })
}

/// One grant of a scope decision vector.
#[derive(Clone)]
pub(super) struct GrantCase {
    pub(super) purposes: PurposeSet,
    pub(super) categories: CategorySet,
    pub(super) valid_from: u64,
    pub(super) valid_until: Option<u64>,
    pub(super) revoked: bool,
    pub(super) scope: Option<GrantScope>,
}

/// One scope decision: a policy (an index into the policies, `None`: a policy without scope),
/// one grant (seq 1), an opt-out's seq, and the question.
#[derive(Clone)]
pub(super) struct DecisionCase {
    pub(super) about: Option<&'static str>,
    pub(super) policy: Option<usize>,
    pub(super) grant: GrantCase,
    pub(super) opt_out_seq: Option<u64>,
    pub(super) purpose: Purpose,
    pub(super) category: DataCategory,
    pub(super) at_ms: u64,
    pub(super) context: Context,
}

/// What the rule says about `c`: decision, reason, required form.
pub(super) fn decide_case(
    policies: &[Option<PolicyScope>],
    c: &DecisionCase,
) -> (pb::Decision, pb::Reason, Option<Form>) {
    decide_case_in(policies, c, consent_proto::consultation::ALWAYS)
}

/// [`decide_case`] for a grant whose policy is in effect from `in_effect_from`.
pub(super) fn decide_case_in(
    policies: &[Option<PolicyScope>],
    c: &DecisionCase,
    in_effect_from: u64,
) -> (pb::Decision, pb::Reason, Option<Form>) {
    let policy = c.policy.and_then(|i| policies[i].clone()).map(Arc::new);
    let facts = GrantFacts {
        id: EntryId([1; 32]),
        seq: 1,
        purposes: c.grant.purposes,
        categories: c.grant.categories,
        valid_from: c.grant.valid_from,
        valid_until: c.grant.valid_until,
        revoked: c.grant.revoked,
        scope: ScopeFacts::resolve(policy, c.grant.scope.clone()),
        in_effect_from,
        time_ms: 0,
        via: None,
    };
    let query = Query {
        subject: FeedId([2; 32]),
        collector: FeedId([3; 32]),
        purpose: c.purpose,
        category: c.category,
        at_ms: c.at_ms,
        context: c.context,
    };
    let (decision, reason, _, form) = decide_grants(&query, &[facts], c.opt_out_seq);
    (decision, reason, form)
}

/// Wire numbers of a set's values.
pub(super) fn wire_numbers<T>(
    items: impl Iterator<Item = T>,
    number: impl Fn(T) -> i32,
) -> Vec<i32> {
    items.map(number).collect()
}

pub(super) fn decision_case_json(policies: &[Option<PolicyScope>], c: &DecisionCase) -> Value {
    let (decision, reason, form) = decide_case(policies, c);
    let purposes = wire_numbers(c.grant.purposes.iter(), |p| p as i32);
    let categories = wire_numbers(c.grant.categories.iter(), |x| x as i32);
    let mut v = json!({
        "policy": c.policy,
        "grant": {
            "seq": 1,
            "purposes": purpose_names(&purposes),
            "categories": category_names(&categories),
            "valid_from": c.grant.valid_from,
            "valid_until": c.grant.valid_until.unwrap_or(0),
            "revoked": c.grant.revoked,
            "scope": c.grant.scope.as_ref().map_or(Value::Null, |g| grant_scope_json(&g.to_wire())),
        },
        "opt_out_seq": c.opt_out_seq,
        "question": {
            "purpose": purpose_names(&[c.purpose as i32])[0],
            "category": category_names(&[c.category as i32])[0],
            "at_ms": c.at_ms,
            "context": c.context.to_wire().as_ref().map_or(Value::Null, context_json),
        },
        "decision": decision.as_str_name(),
        "reason": reason.as_str_name(),
        "required_form": form.unwrap_or(Form::Unspecified).as_str_name(),
    });
    if let Some(about) = c.about {
        v["about"] = json!(about);
    }
    v
}

/// `base`, described by `about` and changed by `edit`.
pub(super) fn edge(
    base: &DecisionCase,
    about: &'static str,
    edit: impl Fn(&mut DecisionCase),
) -> DecisionCase {
    let mut c = base.clone();
    c.about = Some(about);
    edit(&mut c);
    c
}

/// A grant scope narrowed by `edit`.
pub(super) fn narrowing(edit: impl Fn(&mut GrantScope)) -> Option<GrantScope> {
    let mut g = GrantScope::default();
    edit(&mut g);
    Some(g)
}

/// `scope_decisions`: the edges, then 2,000 seeded cases over 21 policies (the vectors' scoped
/// policy first, then 20 random ones, some without scope).
pub(super) fn scope_decisions_json() -> Value {
    let mut rng = cases::Rng::new(2_000);
    let mut policies: Vec<Option<PolicyScope>> = vec![Some(vector_policy_scope())];
    for _ in 0..20 {
        policies.push(cases::policy_scope(&mut rng));
    }
    let mut out: Vec<Value> = edge_cases()
        .iter()
        .map(|c| decision_case_json(&policies, c))
        .collect();
    for _ in 0..2_000 {
        let index = rng.below(policies.len() as u64) as usize;
        let policy = policies[index].clone().unwrap_or_default();
        let purposes = cases::purposes(&mut rng);
        let categories = cases::categories(&mut rng);
        let (valid_from, valid_until) = cases::validity(&mut rng);
        let revoked = rng.chance(20);
        let scope = cases::grant_scope(&mut rng, &policy, purposes);
        let opt_out_seq = rng.chance(15).then_some(2);
        let case = DecisionCase {
            about: None,
            policy: Some(index),
            grant: GrantCase {
                purposes,
                categories,
                valid_from,
                valid_until,
                revoked,
                scope,
            },
            opt_out_seq,
            purpose: cases::purpose(&mut rng),
            category: rng.pick(&cases::CATEGORIES),
            at_ms: cases::at(&mut rng),
            context: cases::context(&mut rng, &policy),
        };
        out.push(decision_case_json(&policies, &case));
    }
    json!({
        "purposes": purpose_names(&cases::PURPOSES.map(|p| p as i32)),
        "categories": category_names(&cases::CATEGORIES.map(|c| c as i32)),
        "policies": policies
            .iter()
            .map(|p| p.as_ref().map_or(Value::Null, |s| policy_scope_json(&s.to_wire())))
            .collect::<Vec<_>>(),
        "cases": out,
    })
}
