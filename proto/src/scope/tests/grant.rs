//! A grant's scope: validation of every field, and the rules of `GrantScope::within`.

use super::*;

fn grant_refused(edit: impl FnOnce(&mut pb::GrantScope)) -> (&'static str, String) {
    let mut w = narrowing().to_wire();
    edit(&mut w);
    match GrantScope::from_wire(&w, grant_purposes()) {
        Err(Rejection::BadField { field, problem }) => (field, problem),
        other => panic!("expected bad-field, got {other:?}"),
    }
}

#[test]
fn a_grant_scope_round_trips_and_narrows_something() {
    let g = narrowing();
    assert_eq!(GrantScope::from_wire(&g.to_wire(), grant_purposes()), Ok(g));
    let (field, problem) = grant_refused(|w| w.version = 3);
    assert_eq!(
        (field, problem.as_str()),
        ("grant.scope.version", "scope version 3 is not supported: 1")
    );
    assert_eq!(grant_refused(|w| w.version = 0).0, "grant.scope.version");
    let nothing = |w: &mut pb::GrantScope| {
        *w = pb::GrantScope {
            version: SCOPE_VERSION,
            ..Default::default()
        };
    };
    assert_eq!(grant_refused(nothing).0, "grant.scope");
}

#[test]
fn every_refused_grant_scope_names_its_field() {
    let cases: Vec<(&str, GrantEdit)> = vec![
        (
            "grant.scope.zones",
            grant_edit(|w| w.zones = (1..=17).collect()),
        ),
        ("grant.scope.zones", grant_edit(|w| w.zones = vec![0])),
        ("grant.scope.zones", grant_edit(|w| w.zones = vec![2, 1])),
        ("grant.scope.zones", grant_edit(|w| w.zones = vec![1, 1])),
        (
            "grant.scope.sensors",
            grant_edit(|w| w.sensors = (1..=65).collect()),
        ),
        ("grant.scope.sensors", grant_edit(|w| w.sensors = vec![0])),
        (
            "grant.scope.sensors",
            grant_edit(|w| w.sensors = vec![3, 2]),
        ),
        (
            "grant.scope.sensor_kinds",
            grant_edit(|w| w.sensor_kinds = vec![1; 17]),
        ),
        (
            "grant.scope.sensor_kinds",
            grant_edit(|w| w.sensor_kinds = vec![0]),
        ),
        (
            "grant.scope.sensor_kinds",
            grant_edit(|w| w.sensor_kinds = vec![99]),
        ),
        (
            "grant.scope.sensor_kinds",
            grant_edit(|w| w.sensor_kinds = vec![2, 2]),
        ),
        (
            "grant.scope.windows",
            grant_edit(|w| w.windows = vec![window(1, 0, 60); 9]),
        ),
        (
            "grant.scope.windows",
            grant_edit(|w| w.windows = vec![window(0, 0, 60)]),
        ),
        (
            "grant.scope.windows",
            grant_edit(|w| w.windows = vec![window(1, 0, 60), window(1, 0, 60)]),
        ),
        (
            "grant.scope.windows",
            grant_edit(|w| w.windows = vec![window(1, 1200, 360)]),
        ),
        (
            "grant.scope.forms",
            grant_edit(|w| {
                w.forms = vec![
                    pb::PurposeForm {
                        purpose: Purpose::Billing as i32,
                        form: Form::Raw as i32,
                    };
                    17
                ];
            }),
        ),
        (
            "grant.scope.forms.purpose",
            grant_edit(|w| w.forms[0].purpose = 0),
        ),
        (
            "grant.scope.forms.purpose",
            // Not one of the grant's purposes.
            grant_edit(|w| w.forms[0].purpose = Purpose::ServiceProvision as i32),
        ),
        (
            "grant.scope.forms.purpose",
            grant_edit(|w| {
                let (purpose, form) = (w.forms[0].purpose, w.forms[0].form);
                w.forms.push(pb::PurposeForm { purpose, form });
            }),
        ),
        (
            "grant.scope.forms.form",
            grant_edit(|w| w.forms[0].form = 0),
        ),
        (
            "grant.scope.forms.form",
            grant_edit(|w| w.forms[0].form = 9),
        ),
    ];
    for (i, (field, edit)) in cases.into_iter().enumerate() {
        assert_eq!(grant_refused(edit).0, field, "case {i}");
    }
    // The kinds keep no order on the wire that matters: [3, 1] reads as {1, 3}.
    let mut w = narrowing().to_wire();
    w.sensor_kinds = vec![3, 1];
    let g = GrantScope::from_wire(&w, grant_purposes()).expect("valid");
    assert!(g.sensor_kinds.contains(SensorKind::Camera) && g.sensor_kinds.len() == 2);
}

#[test]
fn within_checks_zones_sensors_kinds_windows_and_forms_in_that_order() {
    let policy = street_scope();
    let ok = GrantScope {
        zones: vec![1, 2],
        sensors: vec![1, 4],
        sensor_kinds: [SensorKind::Camera].into_iter().collect(),
        windows: vec![TimeWindow {
            days: 0x1f,
            start_minute: 7 * 60,
            end_minute: 24 * 60,
        }],
        forms: vec![
            (Purpose::UrbanPlanning, Form::Aggregated),
            (Purpose::Billing, Form::Pseudonymised),
        ],
    };
    assert_eq!(ok.within(&policy), Ok(()));
    let all_bad = GrantScope {
        zones: vec![1, 3, 4],
        sensors: vec![2, 5],
        sensor_kinds: [SensorKind::Noise].into_iter().collect(),
        windows: vec![TimeWindow {
            days: 1,
            start_minute: 5 * 60,
            end_minute: 7 * 60,
        }],
        forms: vec![(Purpose::UrbanPlanning, Form::Raw)],
    };
    // The first offending item, in list order, of the first dimension that offends.
    assert_eq!(all_bad.within(&policy), Err(Rejection::ZoneNotInPolicy(3)));
    let g = GrantScope {
        zones: vec![2],
        ..all_bad.clone()
    };
    assert_eq!(
        g.within(&policy),
        Err(Rejection::SensorNotInPolicy {
            sensor: Some(5),
            kind: None
        })
    );
    let g = GrantScope {
        sensors: vec![2],
        ..g
    };
    assert_eq!(
        g.within(&policy),
        Err(Rejection::SensorNotInPolicy {
            sensor: None,
            kind: Some(SensorKind::Noise)
        })
    );
    let g = GrantScope {
        sensor_kinds: [SensorKind::AirQuality].into_iter().collect(),
        ..g
    };
    assert_eq!(
        g.within(&policy),
        Err(Rejection::WindowNotInPolicy(all_bad.windows[0]))
    );
    let g = GrantScope {
        windows: vec![TimeWindow {
            days: 1,
            start_minute: 6 * 60,
            end_minute: 7 * 60,
        }],
        ..g
    };
    assert_eq!(
        g.within(&policy),
        Err(Rejection::FormNotOffered {
            purpose: Purpose::UrbanPlanning,
            form: Form::Raw
        })
    );
    // Under a policy with no scope, only windows (in UTC) can narrow it.
    let none = PolicyScope::default();
    let windows = GrantScope {
        windows: ok.windows.clone(),
        ..GrantScope::default()
    };
    assert_eq!(windows.within(&none), Ok(()));
    assert_eq!(ok.within(&none), Err(Rejection::ZoneNotInPolicy(1)));
    let kinds = GrantScope {
        sensor_kinds: [SensorKind::Camera].into_iter().collect(),
        ..GrantScope::default()
    };
    assert!(matches!(
        kinds.within(&none),
        Err(Rejection::SensorNotInPolicy { kind: Some(_), .. })
    ));
}
