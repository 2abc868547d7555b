//! Consent scoped to zones, sensors, time windows and forms, through one node's gRPC API: checks
//! with random observation contexts agree with the reference evaluator (written apart from the
//! rule, over the wire types) and with the pure reference ledger; a missing context is a deny
//! naming what is missing; a context the node cannot read is INVALID_ARGUMENT naming the check;
//! receipts sign the context and its digest; revocation still wins over every scope; a sensor id
//! a later policy version gives to another kind of sensor does not pass under an older grant.

#[path = "../../proto/tests/reference/mod.rs"]
#[allow(missing_docs)]
mod reference;

use std::collections::HashMap;

use consent_proto::Entry;
use consent_proto::decide::Query;
use consent_proto::fixtures::{self, DAY, T0};
use consent_proto::memory::MemoryLedger;
use consent_proto::pb::entry_payload::Body as WireBody;
use consent_proto::pb::{self, Decision, Reason};
use consent_proto::scope::{Context, GrantScope};
use consent_proto::validate::Verdict;
use consent_proto::vocab::{CategorySet, DataCategory, Form, Purpose, PurposeSet, SensorKind};
use consent_tests::harness::submit_ok;
use consent_tests::scope::{
    FAR_CELL, NOT_A_CELL, Resident, Rng, Street, form_of, full_context, random_context,
    random_resident, street, street_grant,
};
use consent_tests::single::check_request;
use tonic::Code;

/// What the tests compare of an answer: decision, reason, grant named, required form.
type Answer = (Decision, Reason, Option<[u8; 32]>, Form);

fn answer_of(r: &pb::CheckResponse) -> Answer {
    (
        r.decision(),
        r.reason(),
        (r.grant.len() == 32).then(|| {
            let mut id = [0u8; 32];
            id.copy_from_slice(&r.grant);
            id
        }),
        r.required_form(),
    )
}

fn answer_of_outcome(o: &consent_proto::decide::Outcome) -> Answer {
    (
        o.decision,
        o.reason,
        o.grant.map(|g| g.0),
        o.required_form.unwrap_or(Form::Unspecified),
    )
}

/// The street policy's first purpose that offers forms, and a category it declares.
fn formed_purpose(s: &Street) -> (Purpose, DataCategory) {
    let purpose = s
        .policy
        .purposes
        .iter()
        .find(|p| !s.scope.offers(*p).is_empty())
        .unwrap_or_else(|| panic!("the street policy offers forms for some purpose"));
    let category = s
        .policy
        .categories
        .iter()
        .next()
        .unwrap_or_else(|| panic!("the street policy declares a category"));
    (purpose, category)
}

/// A resident of `s` granting `purpose` x `category` under the street policy, narrowed by
/// `scope`, submitted: `(author, grant)`.
async fn resident(
    s: &Street,
    label: &str,
    purpose: Purpose,
    category: DataCategory,
    scope: Option<GrantScope>,
) -> (consent_proto::entry::Author, Entry) {
    let (mut author, inception) = fixtures::author(consent_proto::vocab::Role::Citizen, label, T0);
    let grant = fixtures::append(
        &mut author,
        T0 + DAY,
        street_grant(
            &s.scene,
            &s.policy,
            [purpose].into_iter().collect::<PurposeSet>(),
            [category].into_iter().collect::<CategorySet>(),
            T0,
            None,
            scope,
        ),
    );
    let mut ledger = s.node.ledger().await;
    submit_ok(&mut ledger, &inception).await;
    submit_ok(&mut ledger, &grant).await;
    (author, grant)
}

/// 60 residents with random scoped grants (seeded), 2,000 random contexts in two batches of
/// 1,000: the node answers each exactly as the reference evaluator (`proto/tests/reference`,
/// written apart from the rule, over the wire types) and the reference ledger do (decision,
/// reason, grant named, required form).
#[tokio::test]
async fn scoped_checks_agree_with_the_reference() {
    let s = street().await;
    let mut rng = Rng::new(0x5c0_9e20);
    let now = consent_node::clock::Clock::system().now_ms();
    let collector = s.scene.collector.feed();
    let mut memory = MemoryLedger::new([s.scene.registrar.feed()]);
    for e in &s.scene.entries {
        let verdict = memory.submit(e, now);
        assert!(matches!(verdict, Verdict::Accept { .. }), "{verdict:?}");
    }
    let mut residents = Vec::new();
    let mut ledger = s.node.ledger().await;
    for i in 0..60 {
        let r = random_resident(&mut rng, &s, &format!("resident-{i}"));
        for e in &r.entries {
            submit_ok(&mut ledger, e).await;
            let verdict = memory.submit(e, now);
            assert!(matches!(verdict, Verdict::Accept { .. }), "{verdict:?}");
        }
        residents.push(r);
    }
    // The reference evaluator's inputs, on the wire: the policy's scope and each resident's
    // grant as signed.
    let policies = reference_policies(&s);
    let grants: HashMap<Vec<u8>, Vec<reference::Grant>> = residents
        .iter()
        .map(|r| (r.author.feed().0.to_vec(), vec![reference_grant(r)]))
        .collect();
    let purposes: Vec<Purpose> = Purpose::ALL.to_vec();
    let categories: Vec<DataCategory> = s.policy.categories.iter().collect();
    let mut consent = s.node.consent(&s.scene.collector).await;
    let mut allowed = 0usize;
    let mut reasons = std::collections::HashSet::new();
    for round in 0..2 {
        let mut checks = Vec::with_capacity(1_000);
        for _ in 0..1_000 {
            let r = rng.pick(&residents);
            let consent_proto::body::Body::Grant(g) = &r.grant.body else {
                panic!("a resident's grant is a grant");
            };
            // Mostly what the grant covers (so that enough checks reach the scope); sometimes
            // anything the policy declares, or a purpose it does not.
            let (purpose, category) = if rng.chance(7, 10) {
                (
                    *rng.pick(&g.purposes.iter().collect::<Vec<_>>()),
                    *rng.pick(&g.categories.iter().collect::<Vec<_>>()),
                )
            } else if rng.chance(1, 3) {
                (*rng.pick(&purposes), *rng.pick(&categories))
            } else {
                (
                    *rng.pick(&s.policy.purposes.iter().collect::<Vec<_>>()),
                    *rng.pick(&categories),
                )
            };
            let mut check = check_request(r.author.feed(), collector, purpose, category);
            check.at_ms = now;
            check.context = Some(random_context(&mut rng, &s.scope));
            checks.push(check);
        }
        let answers = consent
            .check_batch(pb::CheckBatchRequest {
                checks: checks.clone(),
            })
            .await
            .expect("batch")
            .into_inner()
            .decisions;
        assert_eq!(answers.len(), checks.len());
        for (i, (check, answer)) in checks.iter().zip(&answers).enumerate() {
            let ours = answer_of(answer);
            let query = Query {
                subject: consent_proto::FeedId::from_slice(&check.subject).expect("subject"),
                collector,
                purpose: check.purpose(),
                category: check.category(),
                at_ms: check.at_ms,
                context: Context::from_wire(check.context.as_ref()).expect("a readable context"),
            };
            let from_memory = answer_of_outcome(&memory.check(&query));
            assert_eq!(ours, from_memory, "round {round} check {i}: {check:?}");
            let from_reference = reference_answer(&policies, &grants, check);
            assert_eq!(ours, from_reference, "round {round} check {i}: {check:?}");
            if ours.0 == Decision::Allow {
                allowed += 1;
            }
            reasons.insert(ours.1);
        }
    }
    // The draw reaches both answers and the scope reasons, not just one corner.
    assert!((20..1_980).contains(&allowed), "{allowed} of 2,000 allowed");
    for reason in [
        Reason::ContextMissingSensor,
        Reason::ContextMissingCell,
        Reason::SensorNotCovered,
        Reason::ZoneNotCovered,
        Reason::TimeNotCovered,
        Reason::FormNotCovered,
        Reason::Revoked,
    ] {
        assert!(reasons.contains(&reason), "no {reason:?} in {reasons:?}");
    }
}

/// The street policy's scope on the wire, by policy entry id (the reference's input).
fn reference_policies(s: &Street) -> HashMap<[u8; 32], pb::PolicyScope> {
    s.scene
        .entries
        .iter()
        .filter_map(|e| match e.body.to_wire() {
            WireBody::Policy(p) => p.scope.map(|scope| (e.id.0, scope)),
            _ => None,
        })
        .collect()
}

/// A resident's grant as the reference reads it: the body as signed, and whether it was revoked.
fn reference_grant(r: &Resident) -> reference::Grant {
    let WireBody::Grant(wire) = r.grant.body.to_wire() else {
        panic!("a resident's grant is a grant");
    };
    reference::Grant {
        id: r.grant.id.0,
        seq: r.grant.seq,
        wire,
        revoked: r.entries.iter().any(
            |e| matches!(&e.body, consent_proto::body::Body::Revoke(v) if v.grant == r.grant.id),
        ),
    }
}

/// The reference evaluator's answer to `check` (steps 5 and 6 of the rule: every subject here is
/// a known citizen, the collector accredited, no one opted out).
fn reference_answer(
    policies: &HashMap<[u8; 32], pb::PolicyScope>,
    grants: &HashMap<Vec<u8>, Vec<reference::Grant>>,
    check: &pb::CheckRequest,
) -> Answer {
    let mine = grants
        .get(&check.subject[..])
        .map_or(&[][..], Vec::as_slice);
    let a = reference::decide_grants(check, mine, policies, None);
    (
        a.decision,
        a.reason,
        a.grant,
        Form::try_from(a.required_form).unwrap_or(Form::Unspecified),
    )
}

/// A check without the context the policy needs is a deny naming the first part missing, in
/// the rule's order (sensor, cell, time, form); with all of it, an allow naming the form the
/// data must be kept in.
#[tokio::test]
async fn a_missing_context_is_a_deny_naming_what_is_missing() {
    let s = street().await;
    let (purpose, category) = formed_purpose(&s);
    let (citizen, grant) = resident(&s, "walker", purpose, category, None).await;
    let mut consent = s.node.consent(&s.scene.collector).await;
    let full = full_context(&s.scope, purpose);
    let ask = |ctx: Option<pb::ObservationContext>| {
        let mut check = check_request(citizen.feed(), s.scene.collector.feed(), purpose, category);
        check.context = ctx;
        check
    };
    // Each part the policy needs, given one after the other in the rule's order: each step is
    // denied for the next part missing.
    let mut expected = Vec::new();
    let mut given = pb::ObservationContext::default();
    if full.sensor != 0 {
        expected.push((Some(given), Reason::ContextMissingSensor));
        given.sensor = full.sensor;
        // An id without its kind is no sensor yet.
        expected.push((Some(given), Reason::ContextMissingSensor));
        given.sensor_kind = full.sensor_kind;
    }
    if full.cell != 0 {
        expected.push((Some(given), Reason::ContextMissingCell));
        given.cell = full.cell;
    }
    if !s.scope.windows.is_empty() {
        expected.push((Some(given), Reason::ContextMissingTime));
        given.observed_ms = full.observed_ms;
    }
    expected.push((Some(given), Reason::ContextMissingForm));
    // No context at all is as if every part were missing.
    expected.insert(0, (None, expected[0].1));
    for (ctx, reason) in expected {
        let r = consent.check(ask(ctx)).await.expect("check").into_inner();
        assert_eq!(
            (r.decision(), r.reason()),
            (Decision::Deny, reason),
            "{ctx:?}"
        );
        assert_eq!(
            r.grant.as_ref(),
            grant.id.0.as_slice(),
            "the grant is named"
        );
    }
    let r = consent
        .check(ask(Some(full)))
        .await
        .expect("check")
        .into_inner();
    assert_eq!(
        (r.decision(), r.reason()),
        (Decision::Allow, Reason::Granted)
    );
    // No floor in the grant: the least protective form the policy offers.
    assert_eq!(r.required_form(), form_of(&s.scope.offers(purpose)[0]));
    // A cell far from every zone, a sensor the policy does not declare.
    let mut far = full;
    far.cell = FAR_CELL;
    let r = consent
        .check(ask(Some(far)))
        .await
        .expect("check")
        .into_inner();
    assert_eq!(r.reason(), Reason::ZoneNotCovered);
    let mut unknown = full;
    unknown.sensor = 999;
    let r = consent
        .check(ask(Some(unknown)))
        .await
        .expect("check")
        .into_inner();
    assert_eq!(r.reason(), Reason::SensorNotCovered);
    // A declared sensor named with another kind than the policy gives it.
    let mut wrong_kind = full;
    wrong_kind.sensor_kind = SensorKind::ALL
        .iter()
        .map(|k| *k as i32)
        .find(|k| *k != full.sensor_kind)
        .expect("another kind");
    let r = consent
        .check(ask(Some(wrong_kind)))
        .await
        .expect("check")
        .into_inner();
    assert_eq!(r.reason(), Reason::SensorNotCovered);
}

/// A grant with a floor for a purpose: a less protective form is FORM_NOT_COVERED and the answer
/// names the floor; checked again with it, allowed.
#[tokio::test]
async fn a_form_below_the_floor_is_refused_with_the_form_required() {
    let s = street().await;
    let (purpose, offers) = s
        .policy
        .purposes
        .iter()
        .map(|p| (p, s.scope.offers(p)))
        .find(|(_, offers)| offers.len() >= 2)
        .unwrap_or_else(|| panic!("the street policy offers two forms for some purpose"));
    let least = form_of(&offers[0]);
    let floor = form_of(&offers[offers.len() - 1]);
    let category = s.policy.categories.iter().next().expect("a category");
    let narrowing = GrantScope {
        zones: Vec::new(),
        sensors: Vec::new(),
        sensor_kinds: Default::default(),
        windows: Vec::new(),
        forms: vec![(purpose, floor)],
    };
    let (citizen, _) = resident(&s, "careful", purpose, category, Some(narrowing)).await;
    let mut consent = s.node.consent(&s.scene.collector).await;
    let mut check = check_request(citizen.feed(), s.scene.collector.feed(), purpose, category);
    let mut ctx = full_context(&s.scope, purpose);
    ctx.form = least as i32;
    check.context = Some(ctx);
    let r = consent
        .check(check.clone())
        .await
        .expect("check")
        .into_inner();
    assert_eq!(
        (r.decision(), r.reason(), r.required_form()),
        (Decision::Deny, Reason::FormNotCovered, floor)
    );
    ctx.form = floor as i32;
    check.context = Some(ctx);
    let r = consent.check(check).await.expect("check").into_inner();
    assert_eq!(
        (r.decision(), r.reason(), r.required_form()),
        (Decision::Allow, Reason::Granted, floor)
    );
}

/// A cell that is no H3 cell index, an unknown form or sensor kind, or a sensor kind without a
/// sensor, is INVALID_ARGUMENT naming the field; in a batch, the whole call, naming the check. A
/// sensor id or a time is never refused.
#[tokio::test]
async fn an_unreadable_context_is_invalid_argument_naming_the_check() {
    let s = street().await;
    let (purpose, category) = formed_purpose(&s);
    let (citizen, _) = resident(&s, "typo", purpose, category, None).await;
    let mut consent = s.node.consent(&s.scene.collector).await;
    let good = {
        let mut c = check_request(citizen.feed(), s.scene.collector.feed(), purpose, category);
        c.context = Some(full_context(&s.scope, purpose));
        c
    };
    let mut bad_cell = good.clone();
    if let Some(ctx) = bad_cell.context.as_mut() {
        ctx.cell = NOT_A_CELL;
    }
    let err = consent
        .check(bad_cell.clone())
        .await
        .expect_err("not a cell");
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
    assert!(err.message().contains("context.cell"), "{}", err.message());
    let mut bad_form = good.clone();
    if let Some(ctx) = bad_form.context.as_mut() {
        ctx.form = 9;
    }
    let err = consent.check(bad_form).await.expect_err("unknown form");
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
    assert!(err.message().contains("form"), "{}", err.message());
    let mut bad_kind = good.clone();
    if let Some(ctx) = bad_kind.context.as_mut() {
        ctx.sensor_kind = 99;
    }
    let err = consent.check(bad_kind).await.expect_err("unknown kind");
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
    assert_eq!(err.message(), "context.sensor_kind: unknown sensor kind 99");
    let mut kind_alone = good.clone();
    if let Some(ctx) = kind_alone.context.as_mut() {
        ctx.sensor = 0;
        ctx.sensor_kind = SensorKind::Camera as i32;
    }
    let err = consent.check(kind_alone).await.expect_err("a kind alone");
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
    assert_eq!(
        err.message(),
        "context.sensor_kind camera is given without context.sensor"
    );
    // In a batch: the call, naming the item.
    let err = consent
        .check_batch(pb::CheckBatchRequest {
            checks: vec![good.clone(), bad_cell, good.clone()],
        })
        .await
        .expect_err("a bad item");
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
    assert!(
        err.message().starts_with("check 1: ") && err.message().contains("context.cell"),
        "{}",
        err.message()
    );
    // Any sensor id and any time are read (and judged by the rule, not refused).
    let mut odd = good.clone();
    if let Some(ctx) = odd.context.as_mut() {
        ctx.sensor = u32::MAX;
        ctx.observed_ms = u64::MAX;
    }
    let r = consent
        .check(odd)
        .await
        .expect("a deny, not an error")
        .into_inner();
    assert_eq!(r.decision(), Decision::Deny);
}

/// A receipt signs the question with its context, and `context_digest` is the context's digest
/// (empty without a context); it verifies offline.
#[tokio::test]
async fn a_receipt_signs_the_context_and_its_digest() {
    let s = street().await;
    let (purpose, category) = formed_purpose(&s);
    let (citizen, grant) = resident(&s, "kept", purpose, category, None).await;
    let mut consent = s.node.consent(&s.scene.collector).await;
    let ctx = full_context(&s.scope, purpose);
    let mut check = check_request(citizen.feed(), s.scene.collector.feed(), purpose, category);
    check.context = Some(ctx);
    check.receipt = true;
    let r = consent
        .check(check.clone())
        .await
        .expect("check")
        .into_inner();
    assert_eq!(r.decision(), Decision::Allow);
    let receipt = r.receipt.expect("a receipt");
    let (_, said) = consent_proto::receipt::verify_decision(&receipt).expect("verifies");
    assert_eq!(said.question.as_ref().and_then(|q| q.context), Some(ctx));
    assert_eq!(
        said.context_digest.as_ref(),
        consent_proto::receipt::context_digest(&ctx).as_slice()
    );
    assert_eq!(said.context_digest.len(), 32);
    assert_eq!(
        said.context_digest.as_ref(),
        Context::from_wire(Some(&ctx))
            .expect("readable")
            .digest()
            .as_slice()
    );
    assert_eq!(said.grant.as_ref(), grant.id.0.as_slice());
    // Without a context (a deny: the policy needs one), the digest is empty.
    check.context = None;
    let r = consent.check(check).await.expect("check").into_inner();
    let (_, said) =
        consent_proto::receipt::verify_decision(&r.receipt.expect("a receipt")).expect("verifies");
    assert_eq!(said.reason(), Reason::ContextMissingSensor);
    assert!(said.context_digest.is_empty());
}

/// A revoked scoped grant is REVOKED whatever the context: inside the scope, outside it, or
/// missing.
#[tokio::test]
async fn revocation_still_wins_over_every_scope() {
    let s = street().await;
    let (purpose, category) = formed_purpose(&s);
    let zone = s.scope.zones.first().map(|z| z.id);
    let narrowing = GrantScope {
        zones: zone.into_iter().collect(),
        sensors: Vec::new(),
        sensor_kinds: Default::default(),
        windows: Vec::new(),
        forms: Vec::new(),
    };
    let (mut citizen, grant) = resident(&s, "leaving", purpose, category, Some(narrowing)).await;
    let revoke = fixtures::append(&mut citizen, T0 + 2 * DAY, fixtures::revoke(grant.id, true));
    submit_ok(&mut s.node.ledger().await, &revoke).await;
    let mut consent = s.node.consent(&s.scene.collector).await;
    let full = full_context(&s.scope, purpose);
    let mut far = full;
    far.cell = FAR_CELL;
    for ctx in [Some(full), Some(far), None] {
        let mut check = check_request(citizen.feed(), s.scene.collector.feed(), purpose, category);
        check.context = ctx;
        let r = consent.check(check).await.expect("check").into_inner();
        assert_eq!(
            (r.decision(), r.reason()),
            (Decision::Deny, Reason::Revoked),
            "{ctx:?}"
        );
        assert_eq!(r.grant.as_ref(), grant.id.0.as_slice());
    }
}

/// Attacker review M1, through the node: the collector publishes a second version of the street
/// policy that gives the id of its air-quality sensor to a camera. A gateway that checks a
/// camera observation in its current numbering (that id, kind camera) is denied
/// SENSOR_NOT_COVERED under a grant of version 1 to air-quality sensors only, and the receipt
/// signs the kind; named with the kind version 1 gives the id, it is allowed.
#[tokio::test]
async fn a_sensor_id_a_later_policy_version_gives_to_a_camera_does_not_pass_under_an_old_grant() {
    let mut s = street().await;
    let (purpose, category) = formed_purpose(&s);
    let air = s
        .scope
        .sensors
        .iter()
        .find(|x| x.kind == SensorKind::AirQuality)
        .map(|x| x.id)
        .unwrap_or_else(|| panic!("the street policy declares an air-quality sensor"));
    let air_only = GrantScope {
        sensor_kinds: [SensorKind::AirQuality].into_iter().collect(),
        ..GrantScope::default()
    };
    let (citizen, grant) = resident(&s, "dan", purpose, category, Some(air_only)).await;
    let mut camera = s.scope.clone();
    for x in &mut camera.sensors {
        if x.id == air {
            x.kind = SensorKind::Camera;
        }
    }
    let version = |version: u32, scope| {
        let mut p = s.policy.clone();
        p.version = version;
        p.scope = Some(scope);
        consent_proto::body::Body::Policy(p)
    };
    // The next version may not give the sensor's id to a camera (`id-redefined`).
    let mut attempt = s.scene.collector.clone();
    let redefined = fixtures::append(
        &mut attempt,
        T0 + DAY,
        version(s.policy.version + 1, camera.clone()),
    );
    consent_tests::consultation::refused(
        &s.node,
        &redefined,
        Code::InvalidArgument,
        "id-redefined",
    )
    .await;
    // Ids that skip a version are not tracked: a version without the sensor, then one that
    // brings its id back as a camera. A check must still read the sensor in the numbering of
    // the grant's version.
    let mut without = s.scope.clone();
    without.sensors.retain(|x| x.id != air);
    let v2 = fixtures::append(
        &mut s.scene.collector,
        T0 + DAY,
        version(s.policy.version + 1, without),
    );
    submit_ok(&mut s.node.ledger().await, &v2).await;
    let v3 = fixtures::append(
        &mut s.scene.collector,
        T0 + DAY + 1,
        version(s.policy.version + 2, camera),
    );
    submit_ok(&mut s.node.ledger().await, &v3).await;

    let mut consent = s.node.consent(&s.scene.collector).await;
    let mut ctx = full_context(&s.scope, purpose);
    ctx.sensor = air;
    ctx.sensor_kind = SensorKind::Camera as i32;
    let mut check = check_request(citizen.feed(), s.scene.collector.feed(), purpose, category);
    check.context = Some(ctx);
    check.receipt = true;
    let r = consent
        .check(check.clone())
        .await
        .expect("check")
        .into_inner();
    assert_eq!(
        (r.decision(), r.reason()),
        (Decision::Deny, Reason::SensorNotCovered)
    );
    assert_eq!(r.grant.as_ref(), grant.id.0.as_slice());
    let (_, said) =
        consent_proto::receipt::verify_decision(&r.receipt.expect("a receipt")).expect("verifies");
    assert_eq!(
        said.question
            .as_ref()
            .and_then(|q| q.context)
            .map(|c| c.sensor_kind),
        Some(SensorKind::Camera as i32)
    );
    assert_eq!(
        said.context_digest.as_ref(),
        consent_proto::receipt::context_digest(&ctx).as_slice()
    );
    ctx.sensor_kind = SensorKind::AirQuality as i32;
    check.context = Some(ctx);
    let r = consent.check(check).await.expect("check").into_inner();
    assert_eq!(
        (r.decision(), r.reason()),
        (Decision::Allow, Reason::Granted)
    );
    assert_eq!(r.grant.as_ref(), grant.id.0.as_slice());
}
