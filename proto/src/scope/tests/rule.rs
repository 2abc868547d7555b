//! The scope rule (`evaluate`): missing context, sensors and their kinds, cells and zones.

use super::*;

#[test]
fn resolve_is_none_only_without_policy_scope_and_narrowing() {
    assert_eq!(ScopeFacts::resolve(None, None), None);
    let p = Arc::new(street_scope());
    let s = ScopeFacts::resolve(Some(p.clone()), None).expect("scoped");
    assert_eq!((s.policy.as_ref(), s.grant.as_ref()), (p.as_ref(), None));
    let g = ScopeFacts::resolve(None, Some(narrowing())).expect("scoped");
    assert!(g.policy.is_empty());
}

#[test]
fn missing_context_is_named_sensor_then_cell_then_time_then_form() {
    let s = street(None);
    let p = Purpose::Billing;
    let mut c = Context::NONE;
    assert_eq!(evaluate(&s, p, &c), Err(Reason::ContextMissingSensor));
    // The sensor is its id and its kind: either alone is no sensor.
    c.sensor = Some(1);
    assert_eq!(evaluate(&s, p, &c), Err(Reason::ContextMissingSensor));
    c.sensor = None;
    c.sensor_kind = Some(SensorKind::NumberPlateReader);
    assert_eq!(evaluate(&s, p, &c), Err(Reason::ContextMissingSensor));
    c.sensor = Some(1);
    assert_eq!(evaluate(&s, p, &c), Err(Reason::ContextMissingCell));
    c.cell = Some(cell(IN_WHARF));
    assert_eq!(evaluate(&s, p, &c), Err(Reason::ContextMissingTime));
    c.observed_ms = Some(AT);
    assert_eq!(evaluate(&s, p, &c), Err(Reason::ContextMissingForm));
    c.form = Some(Form::Raw);
    assert_eq!(evaluate(&s, p, &c), Ok(()));
    // Missing beats not covered: an unknown sensor without a cell is a missing cell.
    let c = Context {
        sensor: Some(99),
        sensor_kind: Some(SensorKind::Camera),
        ..Context::NONE
    };
    assert_eq!(evaluate(&s, p, &c), Err(Reason::ContextMissingCell));
    // A purpose the policy offers no forms for needs no form; extra context is ignored.
    let c = Context {
        form: None,
        ..full(1, AT, IN_WHARF, Form::Raw)
    };
    assert_eq!(evaluate(&s, Purpose::Research, &c), Ok(()));
    let only_forms = ScopeFacts {
        policy: Arc::new(PolicyScope {
            forms: street_scope().forms,
            ..PolicyScope::default()
        }),
        grant: None,
    };
    assert_eq!(
        evaluate(&only_forms, p, &full(99, 1, OUTSIDE_STREET, Form::Raw)),
        Ok(())
    );
    // A policy without sensors ignores a sensor given without its kind, or a kind alone.
    for c in [
        Context {
            sensor_kind: None,
            ..full(99, 1, OUTSIDE_STREET, Form::Raw)
        },
        Context {
            sensor: None,
            ..full(99, 1, OUTSIDE_STREET, Form::Raw)
        },
    ] {
        assert_eq!(evaluate(&only_forms, p, &c), Ok(()), "{c:?}");
    }
    assert_eq!(
        evaluate(&only_forms, p, &Context::NONE),
        Err(Reason::ContextMissingForm)
    );
    assert_eq!(
        evaluate(&only_forms, Purpose::Research, &Context::NONE),
        Ok(())
    );
}

#[test]
fn sensors_are_covered_by_the_policy_then_by_the_grants_ids_or_kinds() {
    let p = Purpose::Billing;
    let at = |sensor| full(sensor, AT, IN_WHARF, Form::Raw);
    let s = street(None);
    for id in 1..=4 {
        assert_eq!(evaluate(&s, p, &at(id)), Ok(()), "{id}");
    }
    assert_eq!(evaluate(&s, p, &at(5)), Err(Reason::SensorNotCovered));
    let ids = street(Some(GrantScope {
        sensors: vec![1],
        ..GrantScope::default()
    }));
    assert_eq!(evaluate(&ids, p, &at(1)), Ok(()));
    assert_eq!(evaluate(&ids, p, &at(2)), Err(Reason::SensorNotCovered));
    let kinds = street(Some(GrantScope {
        sensor_kinds: [SensorKind::AirQuality].into_iter().collect(),
        ..GrantScope::default()
    }));
    assert_eq!(evaluate(&kinds, p, &at(3)), Ok(()));
    assert_eq!(evaluate(&kinds, p, &at(2)), Err(Reason::SensorNotCovered));
    let both = street(Some(GrantScope {
        sensors: vec![1],
        sensor_kinds: [SensorKind::AirQuality].into_iter().collect(),
        ..GrantScope::default()
    }));
    assert_eq!(evaluate(&both, p, &at(1)), Ok(()));
    assert_eq!(evaluate(&both, p, &at(3)), Ok(()));
    assert_eq!(evaluate(&both, p, &at(4)), Err(Reason::SensorNotCovered));
    assert_eq!(evaluate(&both, p, &at(9)), Err(Reason::SensorNotCovered));
}

#[test]
fn a_sensor_is_covered_only_with_the_kind_its_policy_declares() {
    let p = Purpose::Billing;
    let seen = |sensor, kind| Context {
        sensor_kind: kind,
        ..full(sensor, AT, IN_STREET, Form::Raw)
    };
    for grant in [
        None,
        Some(GrantScope {
            sensors: vec![3],
            ..GrantScope::default()
        }),
        Some(GrantScope {
            sensor_kinds: [SensorKind::AirQuality].into_iter().collect(),
            ..GrantScope::default()
        }),
    ] {
        let s = street(grant.clone());
        // Sensor 3 is the street's air-quality sensor: right kind, wrong kind, no kind.
        assert_eq!(
            evaluate(&s, p, &seen(3, Some(SensorKind::AirQuality))),
            Ok(()),
            "{grant:?}"
        );
        for wrong in [
            SensorKind::Camera,
            SensorKind::WifiCounter,
            SensorKind::Noise,
        ] {
            assert_eq!(
                evaluate(&s, p, &seen(3, Some(wrong))),
                Err(Reason::SensorNotCovered),
                "{grant:?} {wrong}"
            );
        }
        assert_eq!(
            evaluate(&s, p, &seen(3, None)),
            Err(Reason::ContextMissingSensor),
            "{grant:?}"
        );
    }
    // A kind missing is missing context, before a missing cell; a wrong kind is judged with the
    // other coverage, after every missing part.
    let no_cell = Context {
        cell: None,
        ..seen(3, Some(SensorKind::Camera))
    };
    assert_eq!(
        evaluate(&street(None), p, &no_cell),
        Err(Reason::ContextMissingCell)
    );
    let neither = Context {
        sensor_kind: None,
        ..no_cell
    };
    assert_eq!(
        evaluate(&street(None), p, &neither),
        Err(Reason::ContextMissingSensor)
    );
}

/// Attacker review M1: a later policy version gives sensor id 3, an air-quality sensor in the
/// version a grant names, to a camera. A gateway that checks a camera observation in its current
/// numbering names sensor 3 with the kind camera, and every grant under the old version denies
/// it: one allowing air-quality sensors by kind, one allowing sensor 3 by id, and one covering
/// the whole old policy. Under the new version the same context is judged by the new numbering.
#[test]
fn a_sensor_id_redefined_by_a_later_policy_version_is_denied_under_a_grant_of_the_old() {
    let v1 = street_scope();
    assert_eq!(v1.sensor(3).map(|s| s.kind), Some(SensorKind::AirQuality));
    let mut v2 = street_scope();
    v2.sensors[2].kind = SensorKind::Camera;
    assert_eq!(v2.sensor(3).map(|s| s.kind), Some(SensorKind::Camera));
    let under = |policy: &PolicyScope, grant: Option<GrantScope>| ScopeFacts {
        policy: Arc::new(policy.clone()),
        grant,
    };
    let p = Purpose::Billing;
    let camera = Context {
        sensor_kind: Some(SensorKind::Camera),
        ..full(3, AT, IN_STREET, Form::Raw)
    };
    let air = Context {
        sensor_kind: Some(SensorKind::AirQuality),
        ..camera
    };
    let air_only = GrantScope {
        sensor_kinds: [SensorKind::AirQuality].into_iter().collect(),
        ..GrantScope::default()
    };
    let sensor_3 = GrantScope {
        sensors: vec![3],
        ..GrantScope::default()
    };
    for grant in [Some(air_only.clone()), Some(sensor_3.clone()), None] {
        let old = under(&v1, grant.clone());
        assert_eq!(
            evaluate(&old, p, &camera),
            Err(Reason::SensorNotCovered),
            "{grant:?}"
        );
        assert_eq!(evaluate(&old, p, &air), Ok(()), "{grant:?}");
    }
    // Under the new version, sensor 3 is the camera: a grant of it by id allows the camera and
    // no longer an air-quality sensor of that id.
    let new = under(&v2, Some(sensor_3));
    assert_eq!(evaluate(&new, p, &camera), Ok(()));
    assert_eq!(evaluate(&new, p, &air), Err(Reason::SensorNotCovered));
    assert_eq!(
        evaluate(&under(&v2, Some(air_only)), p, &camera),
        Err(Reason::SensorNotCovered)
    );
}

#[test]
fn a_cell_is_covered_when_it_is_at_least_as_fine_as_a_zone_and_inside_it() {
    let p = Purpose::Billing;
    let at = |raw| full(1, AT, raw, Form::Raw);
    let s = street(None);
    let wharf = cell(IN_WHARF);
    // Finer (13), equal (12) and coarser (11) than the wharf; the res-11 parent is not a
    // street cell either.
    assert_eq!(evaluate(&s, p, &at(IN_WHARF)), Ok(()));
    let equal = wharf.parent(12).expect("a parent");
    assert!(WHARF_CELLS.contains(&equal.raw()));
    assert_eq!(evaluate(&s, p, &at(equal.raw())), Ok(()));
    let coarser = wharf.parent(11).expect("a parent");
    assert!(!STREET_CELLS.contains(&coarser.raw()));
    assert_eq!(
        evaluate(&s, p, &at(coarser.raw())),
        Err(Reason::ZoneNotCovered)
    );
    assert_eq!(
        evaluate(&s, p, &at(OUTSIDE_STREET)),
        Err(Reason::ZoneNotCovered)
    );
    assert_eq!(evaluate(&s, p, &at(IN_STREET)), Ok(()));
    // A street cell (res 11) is covered by zone 2, not by the finer wharf.
    assert_eq!(evaluate(&s, p, &at(STREET_CELLS[0])), Ok(()));
    let wharf_only = street(Some(GrantScope {
        zones: vec![1],
        ..GrantScope::default()
    }));
    assert_eq!(evaluate(&wharf_only, p, &at(IN_WHARF)), Ok(()));
    assert_eq!(
        evaluate(&wharf_only, p, &at(STREET_CELLS[0])),
        Err(Reason::ZoneNotCovered)
    );
    assert_eq!(
        evaluate(&wharf_only, p, &at(IN_STREET)),
        Err(Reason::ZoneNotCovered)
    );
    let street_only = street(Some(GrantScope {
        zones: vec![2],
        ..GrantScope::default()
    }));
    assert_eq!(evaluate(&street_only, p, &at(IN_STREET)), Ok(()));
    assert_eq!(
        evaluate(&street_only, p, &at(IN_WHARF)),
        Err(Reason::ZoneNotCovered)
    );
}

#[test]
fn cells_of_a_pentagon_zone_are_judged_by_the_same_rule() {
    // Base cell 4 is a pentagon: its resolution-1 children have digits 0, 2..=6 (1 is deleted).
    let base4 = (0x08u64 << 56) | (4 << 45) | ((1u64 << 45) - 1);
    let child = |d: u64| (base4 & !(0xF << 52) & !(7 << 42)) | (1 << 52) | (d << 42);
    let policy = PolicyScope {
        zones: vec![Zone {
            id: 1,
            name: "pentagon".into(),
            resolution: 1,
            cells: vec![cell(child(0)), cell(child(2))],
        }],
        ..PolicyScope::default()
    };
    let s = ScopeFacts {
        policy: Arc::new(policy),
        grant: None,
    };
    let ctx = |raw| Context {
        cell: Some(cell(raw)),
        ..Context::NONE
    };
    // Resolution-3 descendants (digits 2 and 3 below) of child 2 and of child 3.
    let below = |parent: u64| (parent & !(0xF << 52) & !(0o77 << 36)) | (3 << 52) | (0o23 << 36);
    assert_eq!(
        evaluate(&s, Purpose::Billing, &ctx(below(child(2)))),
        Ok(())
    );
    assert_eq!(evaluate(&s, Purpose::Billing, &ctx(child(0))), Ok(()));
    assert_eq!(
        evaluate(&s, Purpose::Billing, &ctx(below(child(3)))),
        Err(Reason::ZoneNotCovered)
    );
    assert_eq!(
        evaluate(&s, Purpose::Billing, &ctx(base4)),
        Err(Reason::ZoneNotCovered)
    );
    // The deleted child is no cell at all.
    assert_eq!(Cell::new(child(1)), None);
}
