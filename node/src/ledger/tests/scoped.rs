//! Scoped grants through the write path: stored with their policy, decided with a context.

use super::*;

/// The first time at or after `from` (15-minute steps) inside `window`, in local time at
/// `offset` minutes from UTC.
fn time_in(window: &consent_proto::scope::TimeWindow, offset: i16, from: u64) -> u64 {
    let step = 15 * 60_000;
    let mut t = from - from % step;
    for _ in 0..(8 * 24 * 4) {
        let (weekday, minute) = consent_proto::scope::local_time(t, offset);
        if window.contains(weekday, minute) {
            return t;
        }
        t += step;
    }
    panic!("no time in {window:?} the week after {from}")
}

/// A grant narrowing a scoped policy is stored with the policy and its narrowing; one taking the
/// whole scoped policy with the policy alone; one under a policy without a scope with none (as
/// every layout-4 grant). Checks with and without context answer as the reference ledger does,
/// from the store (cache miss) and from the caches (hit) alike, and the store passes the full
/// check.
#[tokio::test]
async fn a_scoped_grant_is_stored_with_its_policy() {
    use consent_proto::body::Body;
    use consent_proto::decide::Query;
    use consent_proto::scope::{FormSpec, GrantScope};
    use consent_proto::vocab::Form;
    use prost::Message;

    use crate::ledger::tables::{self, GrantRecord, ScopeRecord};

    let mut scene = fixtures::street_scene(T0);
    let registrars: HashSet<_> = [scene.registrar.feed()].into_iter().collect();
    let store: Arc<dyn KvStore> = Arc::new(MemoryStore::new());
    let (ledger, writer) = Ledger::open(
        Arc::clone(&store),
        registrars,
        "test",
        LedgerConfig::default(),
    )
    .expect("open");
    let now = ledger.now_ms();
    let mut reference = MemoryLedger::new([scene.registrar.feed()]);
    let Some(Body::Policy(policy)) = scene
        .entries
        .iter()
        .find(|e| e.id == scene.policy)
        .map(|e| e.body.clone())
    else {
        panic!("the street scene holds its policy");
    };
    let scope = policy
        .scope
        .clone()
        .expect("the street policy declares a scope");
    let purpose = policy
        .purposes
        .iter()
        .find(|p| scope.offers(*p).len() >= 2)
        .expect("a purpose offered in two forms");
    let category = policy.categories.iter().next().expect("a category");
    let form = |spec: &FormSpec| match spec {
        FormSpec::Raw => Form::Raw,
        FormSpec::Pseudonymised => Form::Pseudonymised,
        FormSpec::Binned { .. } => Form::Binned,
        FormSpec::Aggregated { .. } => Form::Aggregated,
    };
    let offers = scope.offers(purpose);
    let (least, floor) = (form(&offers[0]), form(&offers[offers.len() - 1]));
    let zone = &scope.zones[0];
    let narrowing = GrantScope {
        zones: vec![zone.id],
        sensors: Vec::new(),
        sensor_kinds: Default::default(),
        windows: Vec::new(),
        forms: vec![(purpose, floor)],
    };
    let collector = scene.collector.feed();
    let grant = |scope: Option<GrantScope>| {
        let Body::Grant(mut g) =
            fixtures::grant(collector, scene.policy, &[purpose], &[category], T0, None)
        else {
            panic!("a grant");
        };
        g.retention_days = g.retention_days.min(policy.retention_days);
        g.scope = scope;
        Body::Grant(g)
    };
    let (mut narrow, n0) = fixtures::author(Role::Citizen, "narrow", T0);
    let n1 = fixtures::append(&mut narrow, T0 + DAY, grant(Some(narrowing.clone())));
    let (mut whole, w0) = fixtures::author(Role::Citizen, "whole", T0);
    let w1 = fixtures::append(&mut whole, T0 + DAY, grant(None));
    // Another collector, accredited, whose policy declares no scope.
    let (mut plain, p0) = fixtures::author(Role::Collector, "plain", T0);
    let plain_policy = fixtures::append(&mut plain, T0, fixtures::policy(1));
    let accredited = fixtures::append(
        &mut scene.registrar,
        T0,
        fixtures::accredit(plain.feed(), T0 + fixtures::ACCREDITATION_DAYS * DAY),
    );
    let (mut other, o0) = fixtures::author(Role::Citizen, "other", T0);
    let o1 = fixtures::append(
        &mut other,
        T0 + DAY,
        fixtures::grant(
            plain.feed(),
            plain_policy.id,
            &[P::ServiceProvision],
            &[C::Location],
            T0,
            None,
        ),
    );
    let mut entries = scene.entries.clone();
    entries.extend([
        n0,
        n1.clone(),
        w0,
        w1.clone(),
        p0,
        plain_policy,
        accredited,
        o0,
        o1.clone(),
    ]);
    ledger.submit(entries.clone()).await.expect("submit");
    for e in &entries {
        let v = reference.submit(e, now);
        assert!(matches!(v, Verdict::Accept { .. }), "reference: {v:?}");
    }

    let record = |subject: &consent_proto::FeedId, collector, seq| -> GrantRecord {
        let value = store
            .get(&tables::grant_key(subject, &collector, seq))
            .expect("get")
            .expect("stored");
        tables::decode(&value, "grant").expect("decodes")
    };
    let narrowed = record(&narrow.feed(), collector, n1.seq);
    assert_eq!(
        narrowed.scope,
        Some(ScopeRecord {
            policy: scene.policy.0,
            narrowing: narrowing.to_wire().encode_to_vec(),
        })
    );
    let facts = narrowed
        .facts(
            n1.seq,
            Some(Arc::new(scope.clone())),
            consent_proto::consultation::ALWAYS,
        )
        .expect("facts");
    let facts = facts.scope.expect("scoped");
    assert_eq!(facts.grant.as_ref(), Some(&narrowing));
    assert_eq!(*facts.policy, scope);
    assert_eq!(
        record(&whole.feed(), collector, w1.seq).scope,
        Some(ScopeRecord {
            policy: scene.policy.0,
            narrowing: Vec::new(),
        })
    );
    assert_eq!(record(&other.feed(), plain.feed(), o1.seq).scope, None);

    // Contexts: none, full, each part wrong (the sensor's kind too), the form below the floor.
    let observed = scope
        .windows
        .first()
        .map_or(T0 + DAY, |w| time_in(w, scope.utc_offset_minutes, T0 + DAY));
    let full = Context {
        sensor: scope.sensors.first().map(|s| s.id),
        sensor_kind: scope.sensors.first().map(|s| s.kind),
        cell: zone.cells.first().copied(),
        observed_ms: Some(observed),
        form: Some(floor),
    };
    let contexts = [
        Context::NONE,
        full,
        Context {
            form: Some(least),
            ..full
        },
        Context {
            sensor: Some(999),
            ..full
        },
        Context {
            cell: zone.cells.first().and_then(|c| c.parent(0)),
            ..full
        },
        Context {
            observed_ms: None,
            ..full
        },
        Context {
            sensor_kind: consent_proto::vocab::SensorKind::ALL
                .iter()
                .copied()
                .find(|k| Some(*k) != full.sensor_kind),
            ..full
        },
    ];
    let mut queries = Vec::new();
    for (subject, collector, purpose, category) in [
        (narrow.feed(), collector, purpose, category),
        (whole.feed(), collector, purpose, category),
        (other.feed(), plain.feed(), P::ServiceProvision, C::Location),
    ] {
        for context in contexts {
            queries.push(Query {
                subject,
                collector,
                purpose,
                category,
                at_ms: now,
                context,
            });
        }
    }
    for q in &queries {
        let expected = reference.check(q);
        let (missed, _) = ledger.check(q).expect("check");
        assert_eq!(missed, expected, "{q:?}");
        let (hit, _) = ledger.check_cached(q).expect("cached after a check");
        assert_eq!(hit, expected, "{q:?}");
    }
    // The narrowed grant: allowed in full, the floor required; below it, refused naming it.
    let (allowed, _) = ledger.check(&queries[1]).expect("check");
    assert_eq!(
        (allowed.reason, allowed.required_form),
        (consent_proto::pb::Reason::Granted, Some(floor))
    );
    let (below, _) = ledger.check(&queries[2]).expect("check");
    assert_eq!(
        (below.reason, below.required_form),
        (consent_proto::pb::Reason::FormNotCovered, Some(floor))
    );
    // The unscoped grant needs no context.
    let (plain_answer, _) = ledger.check(&queries[2 * contexts.len()]).expect("check");
    assert_eq!(plain_answer.reason, consent_proto::pb::Reason::Granted);
    assert_eq!(plain_answer.required_form, None);
    ledger.full_check().expect("full check");
    ledger.shutdown().await;
    drop(ledger);
    writer.join();
}
