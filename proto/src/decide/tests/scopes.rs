//! Scopes: step 6 of the rule, through the reference ledger.

use super::*;

/// 2025-06-16T10:00:00Z, a Monday: 11:00 at the street policy's +01:00.
const MONDAY_10: u64 = 1_750_032_000_000 + 10 * 3_600_000;

struct Street {
    ledger: MemoryLedger,
    scene: Scene,
    citizen: Author,
    /// The time of the citizen's last entry (times never decrease along a feed).
    last: u64,
}

fn street_world() -> Street {
    let scene = street_scene(T0);
    let mut ledger = MemoryLedger::new([scene.registrar.feed()]);
    for e in &scene.entries {
        submit(&mut ledger, e);
    }
    let (citizen, c0) = author(Role::Citizen, "bea", T0);
    submit(&mut ledger, &c0);
    Street {
        ledger,
        scene,
        citizen,
        last: T0,
    }
}

impl Street {
    fn add(&mut self, time: u64, body: Body) -> EntryId {
        self.last = self.last.max(time);
        let e = append(&mut self.citizen, self.last, body);
        submit(&mut self.ledger, &e);
        e.id
    }
    /// A grant of `purposes` over location data under `policy`, narrowed by `scope`.
    fn grant_under(
        &mut self,
        policy: EntryId,
        purposes: &[P],
        scope: GrantScope,
        from: u64,
        until: Option<u64>,
    ) -> EntryId {
        let mut body = scoped_grant(
            self.scene.collector.feed(),
            policy,
            purposes,
            &[C::Location],
            scope,
        );
        if let Body::Grant(g) = &mut body {
            g.valid_from = from;
            g.valid_until = until;
        }
        self.add(T0 + DAY, body)
    }
    fn grant(&mut self, purposes: &[P], scope: GrantScope) -> EntryId {
        self.grant_under(self.scene.policy, purposes, scope, T0, None)
    }
    fn check(&self, purpose: P, at_ms: u64, context: Context) -> Outcome {
        self.ledger.check(&Query {
            subject: self.citizen.feed(),
            collector: self.scene.collector.feed(),
            purpose,
            category: C::Location,
            at_ms,
            context,
        })
    }
}

/// A full context: `sensor` (with the kind the street policy gives it, a camera for an id it
/// does not declare), the cell `raw`, observed at `observed_ms`, kept as `form`.
fn seen(sensor: u32, raw: u64, observed_ms: u64, form: Form) -> Context {
    Context {
        sensor: Some(sensor),
        sensor_kind: Some(
            street_scope()
                .sensor(sensor)
                .map_or(SensorKind::Camera, |s| s.kind),
        ),
        cell: crate::h3::Cell::new(raw),
        observed_ms: Some(observed_ms),
        form: Some(form),
    }
}

fn answer(o: &Outcome) -> (Decision, Reason, Option<EntryId>, Option<Form>) {
    (o.decision, o.reason, o.grant, o.required_form)
}

#[test]
fn a_scoped_grant_allows_inside_its_scope_and_names_what_is_missing() {
    let mut w = street_world();
    let g = w.grant(&[P::Billing], GrantScope::default());
    let inside = seen(1, IN_WHARF, MONDAY_10, Form::Raw);
    assert_eq!(
        answer(&w.check(P::Billing, MONDAY_10, inside)),
        (Decision::Allow, Reason::Granted, Some(g), Some(Form::Raw))
    );
    // The policy's scope binds a grant that narrows nothing.
    assert_eq!(
        answer(&w.check(P::Billing, MONDAY_10, Context::NONE)),
        (
            Decision::Deny,
            Reason::ContextMissingSensor,
            Some(g),
            Some(Form::Raw)
        )
    );
    let outside = seen(1, OUTSIDE_STREET, MONDAY_10, Form::Raw);
    assert_eq!(
        w.check(P::Billing, MONDAY_10, outside).reason,
        Reason::ZoneNotCovered
    );
    // 03:00 local is outside the policy's window.
    let night = seen(1, IN_WHARF, MONDAY_10 - 8 * 3_600_000, Form::Raw);
    assert_eq!(
        w.check(P::Billing, MONDAY_10, night).reason,
        Reason::TimeNotCovered
    );
}

#[test]
fn expiry_validity_revocation_and_opt_out_win_over_every_scope_failure() {
    let mut w = street_world();
    let policy = w.scene.policy;
    let g = w.grant_under(
        policy,
        &[P::Billing],
        GrantScope::default(),
        T0 + DAY,
        Some(T0 + 5 * DAY),
    );
    for context in [Context::NONE, seen(9, OUTSIDE_STREET, 1, Form::Aggregated)] {
        assert_eq!(
            w.check(P::Billing, T0 + 6 * DAY, context).reason,
            Reason::Expired
        );
        assert_eq!(w.check(P::Billing, T0, context).reason, Reason::NotYetValid);
    }
    w.add(T0 + 2 * DAY, revoke(g, false));
    assert_eq!(
        answer(&w.check(P::Billing, T0 + 2 * DAY, Context::NONE)),
        (Decision::Deny, Reason::Revoked, Some(g), Some(Form::Raw))
    );
    // A second street policy that also declares sharing; an opt-out beats a missing context.
    let Body::Policy(mut sharing) = street_policy() else {
        panic!("a policy");
    };
    sharing.version = 2;
    sharing.purposes.insert(P::ThirdPartySharing);
    let v2 = append(&mut w.scene.collector, T0 + DAY, Body::Policy(sharing));
    submit(&mut w.ledger, &v2);
    let shared = w.grant_under(
        v2.id,
        &[P::ThirdPartySharing],
        GrantScope::default(),
        T0,
        None,
    );
    assert_eq!(
        w.check(P::ThirdPartySharing, NOW, Context::NONE).reason,
        Reason::ContextMissingSensor
    );
    w.add(
        T0 + 3 * DAY,
        request(w.scene.collector.feed(), RequestKind::OptOutSale),
    );
    assert_eq!(
        answer(&w.check(P::ThirdPartySharing, NOW, Context::NONE)),
        (Decision::Deny, Reason::OptedOut, Some(shared), None)
    );
}

#[test]
fn the_observation_time_must_lie_within_the_grants_validity() {
    let mut w = street_world();
    let policy = w.scene.policy;
    let g = w.grant_under(
        policy,
        &[P::Billing],
        GrantScope::default(),
        MONDAY_10 - DAY,
        Some(MONDAY_10 + DAY),
    );
    let at = |observed| seen(1, IN_WHARF, observed, Form::Raw);
    assert_eq!(
        answer(&w.check(P::Billing, MONDAY_10, at(MONDAY_10))),
        (Decision::Allow, Reason::Granted, Some(g), Some(Form::Raw))
    );
    assert_eq!(
        w.check(P::Billing, MONDAY_10, at(MONDAY_10 - DAY)).decision,
        Decision::Allow
    );
    // Before valid_from, at valid_until: the window would cover both (11:00 local).
    for observed in [MONDAY_10 - DAY - 1, MONDAY_10 + DAY, MONDAY_10 - 2 * DAY] {
        assert_eq!(
            w.check(P::Billing, MONDAY_10, at(observed)).reason,
            Reason::TimeNotCovered,
            "{observed}"
        );
    }
    // An unscoped grant too: an observation from before the consent is not covered.
    let mut old = world();
    let g = old.grant(T0 + DAY, &[P::Research], &[C::Location], T0 + DAY, None);
    let q = |observed_ms| Query {
        subject: old.citizen.feed(),
        collector: old.scene.collector.feed(),
        purpose: P::Research,
        category: C::Location,
        at_ms: T0 + 2 * DAY,
        context: Context {
            observed_ms,
            ..Context::NONE
        },
    };
    assert_eq!(
        answer(&old.ledger.check(&q(Some(T0)))),
        (Decision::Deny, Reason::TimeNotCovered, Some(g), None)
    );
    assert_eq!(
        answer(&old.ledger.check(&q(Some(T0 + DAY)))),
        (Decision::Allow, Reason::Granted, Some(g), None)
    );
    assert_eq!(
        answer(&old.ledger.check(&q(None))),
        (Decision::Allow, Reason::Granted, Some(g), None)
    );
    // Other context of an unscoped grant is ignored.
    let mut extra = q(None);
    extra.context = seen(9, OUTSIDE_STREET, T0 + DAY, Form::Aggregated);
    assert_eq!(old.ledger.check(&extra).decision, Decision::Allow);
}

/// Attacker review M1, through the ledger: version 2 of the street policy gives sensor id 3 (an
/// air-quality sensor in version 1) to a camera. A gateway checking a camera observation in its
/// current numbering (sensor 3, a camera) is denied under a grant of version 1 that allows
/// air-quality sensors only; the same id with the kind version 1 gives it is allowed.
#[test]
fn a_sensor_id_a_later_policy_version_gives_to_another_kind_does_not_widen_an_old_grant() {
    let mut w = street_world();
    let air_only = w.grant(
        &[P::Billing],
        GrantScope {
            sensor_kinds: [SensorKind::AirQuality].into_iter().collect(),
            ..GrantScope::default()
        },
    );
    // Validation refuses a version that gives sensor 3 another kind than the version before it
    // (`id-redefined`), but ids that skip a version are not tracked: version 2 drops sensor 3
    // and version 3 brings it back as a camera. (Called v2 below: the camera's version.)
    let Body::Policy(mut dropped) = street_policy() else {
        panic!("a policy");
    };
    dropped.version = 2;
    let scope = dropped
        .scope
        .as_mut()
        .expect("the street policy has a scope");
    assert_eq!(scope.sensors[2].id, 3);
    scope.sensors.truncate(2);
    let dropped = append(&mut w.scene.collector, T0 + DAY / 2, Body::Policy(dropped));
    submit(&mut w.ledger, &dropped);
    let Body::Policy(mut v2) = street_policy() else {
        panic!("a policy");
    };
    v2.version = 3;
    let scope = v2.scope.as_mut().expect("the street policy has a scope");
    scope.sensors[2].kind = SensorKind::Camera;
    let v2 = append(&mut w.scene.collector, T0 + DAY, Body::Policy(v2));
    submit(&mut w.ledger, &v2);
    let camera = Context {
        sensor_kind: Some(SensorKind::Camera),
        ..seen(3, IN_STREET, MONDAY_10, Form::Raw)
    };
    assert_eq!(
        answer(&w.check(P::Billing, MONDAY_10, camera)),
        (
            Decision::Deny,
            Reason::SensorNotCovered,
            Some(air_only),
            Some(Form::Raw)
        )
    );
    let no_kind = Context {
        sensor_kind: None,
        ..camera
    };
    assert_eq!(
        w.check(P::Billing, MONDAY_10, no_kind).reason,
        Reason::ContextMissingSensor
    );
    let air = Context {
        sensor_kind: Some(SensorKind::AirQuality),
        ..camera
    };
    assert_eq!(
        answer(&w.check(P::Billing, MONDAY_10, air)),
        (
            Decision::Allow,
            Reason::Granted,
            Some(air_only),
            Some(Form::Raw)
        )
    );
    // A grant under version 2 reads sensor 3 as the camera.
    let camera_3 = w.grant_under(
        v2.id,
        &[P::Billing],
        GrantScope {
            sensors: vec![3],
            ..GrantScope::default()
        },
        T0,
        None,
    );
    assert_eq!(
        answer(&w.check(P::Billing, MONDAY_10, camera)),
        (
            Decision::Allow,
            Reason::Granted,
            Some(camera_3),
            Some(Form::Raw)
        )
    );
}

#[test]
fn of_two_scoped_grants_an_allowing_one_is_named_else_the_newest() {
    let mut w = street_world();
    let older = w.grant(
        &[P::Billing],
        GrantScope {
            sensors: vec![1],
            forms: vec![(P::Billing, Form::Pseudonymised)],
            ..GrantScope::default()
        },
    );
    let newer = w.grant(
        &[P::Billing],
        GrantScope {
            sensors: vec![2],
            ..GrantScope::default()
        },
    );
    let by = |sensor, form| seen(sensor, IN_WHARF, MONDAY_10, form);
    assert_eq!(
        answer(&w.check(P::Billing, MONDAY_10, by(1, Form::Pseudonymised))),
        (
            Decision::Allow,
            Reason::Granted,
            Some(older),
            Some(Form::Pseudonymised)
        )
    );
    assert_eq!(
        answer(&w.check(P::Billing, MONDAY_10, by(2, Form::Raw))),
        (
            Decision::Allow,
            Reason::Granted,
            Some(newer),
            Some(Form::Raw)
        )
    );
    // Neither allows: the newest covering grant is named, with its own first failure.
    assert_eq!(
        answer(&w.check(P::Billing, MONDAY_10, by(3, Form::Raw))),
        (
            Decision::Deny,
            Reason::SensorNotCovered,
            Some(newer),
            Some(Form::Raw)
        )
    );
    // The older grant's floor refuses raw; the newer does not cover sensor 1.
    assert_eq!(
        answer(&w.check(P::Billing, MONDAY_10, by(1, Form::Raw))),
        (
            Decision::Deny,
            Reason::SensorNotCovered,
            Some(newer),
            Some(Form::Raw)
        )
    );
    // Revoked, the newer grant is still the newest covering one: a deny names it as revoked.
    w.add(T0 + 2 * DAY, revoke(newer, false));
    assert_eq!(
        answer(&w.check(P::Billing, MONDAY_10, by(1, Form::Raw))),
        (
            Decision::Deny,
            Reason::Revoked,
            Some(newer),
            Some(Form::Raw)
        )
    );
    assert_eq!(
        answer(&w.check(P::Billing, MONDAY_10, by(1, Form::Pseudonymised))),
        (
            Decision::Allow,
            Reason::Granted,
            Some(older),
            Some(Form::Pseudonymised)
        )
    );
}

#[test]
fn unscoped_grants_require_no_form() {
    let mut w = world();
    let g = w.grant(T0 + DAY, &[P::Research], &[C::Location], T0, None);
    let o = w.ledger.check(&Query {
        subject: w.citizen.feed(),
        collector: w.scene.collector.feed(),
        purpose: P::Research,
        category: C::Location,
        at_ms: NOW,
        context: Context::NONE,
    });
    assert_eq!(
        answer(&o),
        (Decision::Allow, Reason::Granted, Some(g), None)
    );
    // A street grant for a purpose the policy offers no forms for does not exist (every street
    // purpose has forms); a purpose not covered names no form either.
    let mut s = street_world();
    let g = s.grant(&[P::Billing], GrantScope::default());
    assert_eq!(
        answer(&s.check(P::UrbanPlanning, MONDAY_10, Context::NONE)),
        (Decision::Deny, Reason::PurposeNotCovered, Some(g), None)
    );
}
