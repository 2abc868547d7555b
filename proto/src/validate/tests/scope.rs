//! Validation of scoped grants against their policy's scope (zones, sensors, windows, forms),
//! and refused scopes on the wire.

use super::*;

type GrantEdit = Box<dyn Fn(&mut pb::GrantScope)>;
type PolicyEdit = Box<dyn Fn(&mut pb::PolicyScope)>;

fn grant_edit(f: impl Fn(&mut pb::GrantScope) + 'static) -> GrantEdit {
    Box::new(f)
}

fn policy_edit(f: impl Fn(&mut pb::PolicyScope) + 'static) -> PolicyEdit {
    Box::new(f)
}

#[test]
fn a_grant_scope_is_checked_against_the_policy_scope_after_the_other_grant_rules() {
    let (mut ledger, street, bea) = street_world();
    let mut submit = |purposes: &[P], retention_days: u32, scope: GrantScope| {
        let mut body = scoped_grant(
            street.collector.feed(),
            street.policy,
            purposes,
            &[C::Location],
            scope,
        );
        if let Body::Grant(g) = &mut body {
            g.retention_days = retention_days;
        }
        let e = bea.sign_next(T0 + DAY, &body).expect("structurally valid");
        ledger.submit(&e, NOW)
    };
    let evening = TimeWindow {
        days: EVERY_DAY,
        start_minute: 18 * 60,
        end_minute: 24 * 60,
    };
    let early = TimeWindow {
        days: EVERY_DAY,
        start_minute: 5 * 60,
        end_minute: 7 * 60,
    };
    let bad = GrantScope {
        zones: vec![1, 7, 9],
        sensors: vec![2, 9],
        sensor_kinds: [SensorKind::Noise].into_iter().collect(),
        windows: vec![evening, early],
        forms: vec![(P::UrbanPlanning, Form::Raw)],
    };
    let planning = [P::UrbanPlanning];
    // The grant rules before the scope: purpose, then retention.
    let no_floors = GrantScope {
        forms: Vec::new(),
        ..bad.clone()
    };
    assert_eq!(
        rejected(submit(&[P::Research], 30, no_floors)),
        Rejection::PurposeNotInPolicy
    );
    assert_eq!(
        rejected(submit(&planning, 366, bad.clone())),
        Rejection::RetentionExceedsPolicy(365)
    );
    // Then zones, sensor ids, sensor kinds, windows, forms; the first offending item named.
    assert_eq!(
        rejected(submit(&planning, 30, bad.clone())),
        Rejection::ZoneNotInPolicy(7)
    );
    let bad = GrantScope {
        zones: vec![1, 2],
        ..bad
    };
    assert_eq!(
        rejected(submit(&planning, 30, bad.clone())),
        Rejection::SensorNotInPolicy {
            sensor: Some(9),
            kind: None
        }
    );
    let bad = GrantScope {
        sensors: vec![2],
        ..bad
    };
    assert_eq!(
        rejected(submit(&planning, 30, bad.clone())),
        Rejection::SensorNotInPolicy {
            sensor: None,
            kind: Some(SensorKind::Noise)
        }
    );
    let bad = GrantScope {
        sensor_kinds: [SensorKind::AirQuality].into_iter().collect(),
        ..bad
    };
    assert_eq!(
        rejected(submit(&planning, 30, bad.clone())),
        Rejection::WindowNotInPolicy(early)
    );
    let bad = GrantScope {
        windows: vec![evening],
        ..bad
    };
    assert_eq!(
        rejected(submit(&planning, 30, bad.clone())),
        Rejection::FormNotOffered {
            purpose: P::UrbanPlanning,
            form: Form::Raw
        }
    );
    let good = GrantScope {
        forms: vec![(P::UrbanPlanning, Form::Aggregated)],
        ..bad
    };
    assert!(matches!(
        submit(&planning, 30, good),
        Verdict::Accept { .. }
    ));
}

#[test]
fn under_a_policy_without_scope_a_grant_may_narrow_only_windows() {
    let mut w = world();
    let scoped = |w: &W, scope: GrantScope| {
        scoped_grant(
            w.scene.collector.feed(),
            w.scene.policy,
            &[P::Research],
            &[C::Location],
            scope,
        )
    };
    let office = TimeWindow {
        days: 0x1f,
        start_minute: 7 * 60,
        end_minute: 19 * 60,
    };
    let cases = [
        (
            GrantScope {
                zones: vec![1],
                ..GrantScope::default()
            },
            Rejection::ZoneNotInPolicy(1),
        ),
        (
            GrantScope {
                sensors: vec![1],
                ..GrantScope::default()
            },
            Rejection::SensorNotInPolicy {
                sensor: Some(1),
                kind: None,
            },
        ),
        (
            GrantScope {
                sensor_kinds: [SensorKind::Camera].into_iter().collect(),
                ..GrantScope::default()
            },
            Rejection::SensorNotInPolicy {
                sensor: None,
                kind: Some(SensorKind::Camera),
            },
        ),
        (
            GrantScope {
                forms: vec![(P::Research, Form::Aggregated)],
                ..GrantScope::default()
            },
            Rejection::FormNotOffered {
                purpose: P::Research,
                form: Form::Aggregated,
            },
        ),
    ];
    for (scope, why) in cases {
        let body = scoped(&w, scope);
        assert_eq!(rejected(w.submit_next(body)), why);
    }
    let body = scoped(
        &w,
        GrantScope {
            windows: vec![office],
            ..GrantScope::default()
        },
    );
    assert!(matches!(w.submit_next(body), Verdict::Accept { .. }));
}

#[test]
fn every_refused_scope_on_the_wire_is_a_bad_field_naming_it() {
    let w = world();
    // A grant's scope: each edit of a valid narrowing, and the field it is refused for.
    let valid = || GrantScope {
        windows: vec![TimeWindow {
            days: 1,
            start_minute: 0,
            end_minute: 60,
        }],
        forms: vec![(P::ServiceProvision, Form::Raw)],
        ..GrantScope::default()
    };
    let grant_cases: Vec<(GrantEdit, &str)> = vec![
        (grant_edit(|g| g.version = 2), "grant.scope.version"),
        (
            grant_edit(|g| {
                *g = pb::GrantScope {
                    version: 1,
                    ..Default::default()
                }
            }),
            "grant.scope",
        ),
        // An empty message: no version either.
        (
            grant_edit(|g| *g = pb::GrantScope::default()),
            "grant.scope.version",
        ),
        (grant_edit(|g| g.zones = vec![2, 1]), "grant.scope.zones"),
        (grant_edit(|g| g.sensors = vec![0]), "grant.scope.sensors"),
        (
            grant_edit(|g| g.sensor_kinds = vec![0]),
            "grant.scope.sensor_kinds",
        ),
        (
            grant_edit(|g| g.windows[0].end_minute = 1441),
            "grant.scope.windows",
        ),
        (
            grant_edit(|g| g.forms[0].purpose = P::Research as i32),
            "grant.scope.forms.purpose",
        ),
        (
            grant_edit(|g| g.forms[0].form = 0),
            "grant.scope.forms.form",
        ),
    ];
    for (edit, field) in grant_cases {
        let body = scoped_grant(
            w.scene.collector.feed(),
            w.scene.policy,
            &[P::ServiceProvision],
            &[C::Location],
            valid(),
        );
        let mut p = next_payload(&w, body);
        if let Some(pb::entry_payload::Body::Grant(g)) = &mut p.body
            && let Some(scope) = &mut g.scope
        {
            edit(scope);
        }
        match resigned(p, &key("alice/0")) {
            Err(Rejection::BadField { field: f, .. }) => assert_eq!(f, field),
            other => panic!("expected bad field {field}, got {other:?}"),
        }
    }
    // A policy's scope, on a collector's policy entry (decoding alone judges it).
    let policy_cases: Vec<(PolicyEdit, &str)> = vec![
        (
            policy_edit(|s| *s = pb::PolicyScope::default()),
            "policy.scope.version",
        ),
        (
            policy_edit(|s| s.utc_offset_minutes = 50),
            "policy.scope.utc_offset_minutes",
        ),
        (
            policy_edit(|s| s.zones[0].cells[0] ^= 1),
            "policy.scope.zones.cells",
        ),
        (
            policy_edit(|s| s.sensors[0].zone = 5),
            "policy.scope.sensors.zone",
        ),
        (
            policy_edit(|s| s.forms[0].purpose = P::Marketing as i32),
            "policy.scope.forms.purpose",
        ),
        (
            policy_edit(|s| s.forms[1].offers[0].interval_s = 7),
            "policy.scope.forms.offers",
        ),
    ];
    for (edit, field) in policy_cases {
        let mut p = next_payload(&w, street_policy());
        if let Some(pb::entry_payload::Body::Policy(policy)) = &mut p.body
            && let Some(scope) = &mut policy.scope
        {
            edit(scope);
        }
        match resigned(p, &key("alice/0")) {
            Err(Rejection::BadField { field: f, .. }) => assert_eq!(f, field),
            other => panic!("expected bad field {field}, got {other:?}"),
        }
    }
}
