//! Scope validation and the scope rule: one test per validation rule (every `bad-field` case of a
//! policy's and a grant's scope), per rule of [`GrantScope::within`], and per branch of
//! [`evaluate`] and [`required_form`].

use super::*;
use crate::fixtures::{
    IN_STREET, IN_WHARF, OUTSIDE_STREET, STREET_CELLS, WHARF_CELLS, street_scope,
};
use crate::pb::{self, Reason};
use crate::validate::Rejection;
use crate::vocab::PurposeSet;

/// 2025-06-16T00:00:00Z, a Monday.
const MONDAY: u64 = 1_750_032_000_000;
const MINUTE: u64 = 60_000;
const HOUR: u64 = 60 * MINUTE;
const DAY: u64 = 24 * HOUR;
/// Monday 10:00 UTC: 11:00 in the street policy's +01:00.
const AT: u64 = MONDAY + 10 * HOUR;

fn cell(raw: u64) -> Cell {
    match Cell::new(raw) {
        Some(c) => c,
        None => panic!("{raw:x} must be a cell"),
    }
}

/// The first `n` resolution-`res` descendants of the hexagon `parent`, ascending.
fn descendants(parent: u64, res: u8, n: usize) -> Vec<u64> {
    let p = u64::from(cell(parent).resolution());
    let res = u64::from(res);
    let count = 7u64.pow(u32::try_from(res - p).expect("a few levels"));
    (0..count)
        .take(n)
        .map(|k| {
            let mut k = k;
            let mut h = (parent & !(0xF << 52)) | (res << 52);
            for i in (p + 1..=res).rev() {
                let shift = 3 * (15 - i);
                h = (h & !(7 << shift)) | ((k % 7) << shift);
                k /= 7;
            }
            assert!(is_valid(h), "{h:x}");
            h
        })
        .collect()
}

fn is_valid(h: u64) -> bool {
    crate::h3::is_cell(h)
}

/// A resolution-8 hexagon around the street (base cell 12, not a pentagon).
const PARENT_8: u64 = 0x8819690823fffff;

fn street_purposes() -> PurposeSet {
    [
        Purpose::ServiceProvision,
        Purpose::UrbanPlanning,
        Purpose::Billing,
        Purpose::EnvironmentalMonitoring,
    ]
    .into_iter()
    .collect()
}

/// The field a policy scope is refused for, once `edit` changed the street's wire scope.
fn policy_refused(edit: impl FnOnce(&mut pb::PolicyScope)) -> (&'static str, String) {
    let mut w = street_scope().to_wire();
    edit(&mut w);
    match PolicyScope::from_wire(&w, street_purposes()) {
        Err(Rejection::BadField { field, problem }) => (field, problem),
        other => panic!("expected bad-field, got {other:?}"),
    }
}

fn policy_accepted(edit: impl FnOnce(&mut pb::PolicyScope)) -> PolicyScope {
    let mut w = street_scope().to_wire();
    edit(&mut w);
    match PolicyScope::from_wire(&w, street_purposes()) {
        Ok(s) => s,
        Err(e) => panic!("expected a valid scope, got {e}"),
    }
}

type PolicyEdit = Box<dyn FnOnce(&mut pb::PolicyScope)>;
type GrantEdit = Box<dyn FnOnce(&mut pb::GrantScope)>;

fn policy_edit(f: impl FnOnce(&mut pb::PolicyScope) + 'static) -> PolicyEdit {
    Box::new(f)
}

fn grant_edit(f: impl FnOnce(&mut pb::GrantScope) + 'static) -> GrantEdit {
    Box::new(f)
}

fn zone(id: u32, resolution: u32, cells: Vec<u64>) -> pb::Zone {
    pb::Zone {
        id,
        name: format!("zone {id}"),
        resolution,
        cells,
    }
}

fn window(days: u32, start_minute: u32, end_minute: u32) -> pb::TimeWindow {
    pb::TimeWindow {
        days,
        start_minute,
        end_minute,
    }
}

fn spec(form: Form, interval_s: u32, resolution: u32, min_group: u32) -> pb::FormSpec {
    pb::FormSpec {
        form: form as i32,
        interval_s,
        resolution,
        min_group,
    }
}

#[test]
fn the_street_scope_round_trips_through_the_wire() {
    let scope = street_scope();
    assert_eq!(
        PolicyScope::from_wire(&scope.to_wire(), street_purposes()),
        Ok(scope)
    );
}

#[test]
fn a_policy_scope_has_version_1_and_declares_something() {
    let (field, problem) = policy_refused(|w| w.version = 2);
    assert_eq!(field, "policy.scope.version");
    assert_eq!(problem, "scope version 2 is not supported: 1");
    assert_eq!(policy_refused(|w| w.version = 0).0, "policy.scope.version");
    let nothing = |w: &mut pb::PolicyScope| {
        w.zones.clear();
        w.sensors.clear();
        w.windows.clear();
        w.forms.clear();
    };
    assert_eq!(policy_refused(nothing).0, "policy.scope");
    // Any one dimension is enough.
    policy_accepted(|w| {
        w.zones.clear();
        w.sensors.clear();
        w.forms.clear();
    });
}

#[test]
fn the_utc_offset_is_a_quarter_hour_between_minus_12_and_plus_14() {
    for bad in [-735, 855, 7, -1, 841, -721] {
        assert_eq!(
            policy_refused(|w| w.utc_offset_minutes = bad).0,
            "policy.scope.utc_offset_minutes",
            "{bad}"
        );
    }
    for good in [-720, 840, 0, 345, -570] {
        assert_eq!(
            policy_accepted(|w| w.utc_offset_minutes = good).utc_offset_minutes,
            i16::try_from(good).expect("small")
        );
    }
}

#[test]
fn zones_are_bounded_ascending_and_well_formed() {
    let z = "policy.scope.zones";
    assert_eq!(
        policy_refused(|w| w.zones = (1..=17)
            .map(|id| zone(id, 12, vec![WHARF_CELLS[0]]))
            .collect())
        .0,
        z
    );
    policy_accepted(|w| {
        w.zones = (1..=16)
            .map(|id| zone(id, 12, vec![WHARF_CELLS[0]]))
            .collect()
    });
    assert_eq!(
        policy_refused(|w| w.zones[0].id = 0).0,
        "policy.scope.zones.id"
    );
    assert_eq!(
        policy_refused(|w| w.zones[1].id = 1).0,
        "policy.scope.zones.id"
    );
    for name in [
        String::new(),
        "x".repeat(65),
        " wharf".into(),
        "a\nb".into(),
    ] {
        assert_eq!(
            policy_refused(|w| w.zones[0].name = name.clone()).0,
            "policy.scope.zones.name",
            "{name:?}"
        );
    }
    policy_accepted(|w| w.zones[0].name = "x".repeat(64));
    assert_eq!(
        policy_refused(|w| w.zones[0].resolution = 16).0,
        "policy.scope.zones.resolution"
    );
}

#[test]
fn zone_cells_are_h3_cells_of_the_zone_resolution_strictly_ascending() {
    let c = "policy.scope.zones.cells";
    let cases: Vec<PolicyEdit> = vec![
        policy_edit(|w| w.zones[0].cells.clear()),
        policy_edit(|w| w.zones[0].cells.push(1)),
        policy_edit(|w| w.zones[0].cells.push(0x8c19690822801fe)),
        // A resolution-11 cell in a resolution-12 zone.
        policy_edit(|w| w.zones[0].cells[0] = STREET_CELLS[0]),
        policy_edit(|w| w.zones[0].cells.swap(0, 1)),
        policy_edit(|w| {
            let first = w.zones[0].cells[0];
            w.zones[0].cells.insert(0, first);
        }),
        // 257 cells in one zone.
        policy_edit(|w| w.zones[0].cells = descendants(PARENT_8, 12, 257)),
        // 513 cells in all.
        policy_edit(|w| {
            let many = descendants(PARENT_8, 12, 513);
            w.zones = vec![
                zone(1, 12, many[..256].to_vec()),
                zone(2, 12, many[256..512].to_vec()),
                zone(3, 12, many[512..].to_vec()),
            ];
        }),
    ];
    for (i, edit) in cases.into_iter().enumerate() {
        assert_eq!(policy_refused(edit).0, c, "case {i}");
    }
    // 512 cells in all, 256 in a zone, is the limit.
    let many = descendants(PARENT_8, 12, 512);
    let scope = policy_accepted(|w| {
        w.zones = vec![
            zone(1, 12, many[..256].to_vec()),
            zone(2, 12, many[256..].to_vec()),
        ];
    });
    assert_eq!(
        scope.zones.iter().map(|z| z.cells.len()).sum::<usize>(),
        512
    );
}

#[test]
fn sensors_are_bounded_ascending_of_a_known_kind_and_zone() {
    let sensor = |id, kind: SensorKind, zone| pb::Sensor {
        id,
        kind: kind as i32,
        zone,
    };
    assert_eq!(
        policy_refused(|w| w.sensors = (1..=65)
            .map(|id| sensor(id, SensorKind::Noise, 0))
            .collect())
        .0,
        "policy.scope.sensors"
    );
    policy_accepted(|w| {
        w.sensors = (1..=64)
            .map(|id| sensor(id, SensorKind::Noise, 0))
            .collect()
    });
    assert_eq!(
        policy_refused(|w| w.sensors[0].id = 0).0,
        "policy.scope.sensors.id"
    );
    assert_eq!(
        policy_refused(|w| w.sensors[1].id = 1).0,
        "policy.scope.sensors.id"
    );
    assert_eq!(
        policy_refused(|w| w.sensors[0].kind = 0).0,
        "policy.scope.sensors.kind"
    );
    assert_eq!(
        policy_refused(|w| w.sensors[0].kind = 99).0,
        "policy.scope.sensors.kind"
    );
    assert_eq!(
        policy_refused(|w| w.sensors[0].zone = 3).0,
        "policy.scope.sensors.zone"
    );
    // Zone 0: not tied to a zone.
    assert_eq!(
        policy_accepted(|w| w.sensors[0].zone = 0).sensors[0].zone,
        None
    );
}

#[test]
fn windows_are_bounded_and_never_wrap() {
    let f = "policy.scope.windows";
    assert_eq!(
        policy_refused(|w| w.windows = vec![window(1, 0, 60); 9]).0,
        f
    );
    policy_accepted(|w| w.windows = (0..8).map(|i| window(1, i * 60, i * 60 + 60)).collect());
    let (field, why) = policy_refused(|w| w.windows = vec![window(1, 0, 60), window(1, 0, 60)]);
    assert_eq!(field, f);
    assert!(why.contains("the same window as [0]"), "{why}");
    for (days, start, end) in [
        (0, 0, 60),
        (128, 0, 60),
        (1, 60, 60),
        (1, 120, 60),
        (1, 0, 1441),
        (1, 1440, 1440),
        (1, 1320, 360),
    ] {
        assert_eq!(
            policy_refused(|w| w.windows = vec![window(days, start, end)]).0,
            f,
            "{days} {start}..{end}"
        );
    }
    policy_accepted(|w| w.windows = vec![window(127, 0, 1440), window(64, 1439, 1440)]);
}

#[test]
fn forms_name_the_policys_purposes_once_with_ascending_well_formed_offers() {
    let purpose = "policy.scope.forms.purpose";
    let offers = "policy.scope.forms.offers";
    let raw = || spec(Form::Raw, 0, 0, 0);
    assert_eq!(
        policy_refused(|w| {
            w.forms = (0..17)
                .map(|_| pb::PurposeForms {
                    purpose: Purpose::Billing as i32,
                    offers: vec![raw()],
                })
                .collect();
        })
        .0,
        "policy.scope.forms"
    );
    assert_eq!(policy_refused(|w| w.forms[0].purpose = 0).0, purpose);
    assert_eq!(
        policy_refused(|w| w.forms[0].purpose = Purpose::Research as i32).0,
        purpose
    );
    assert_eq!(
        policy_refused(|w| w.forms[1].purpose = w.forms[0].purpose).0,
        purpose
    );
    let bad_offers: Vec<Vec<pb::FormSpec>> = vec![
        vec![],
        vec![raw(); 5],
        vec![raw(), raw()],
        // Aggregated before binned: not ascending by rank.
        vec![
            spec(Form::Aggregated, 3600, 8, 3),
            spec(Form::Binned, 3600, 9, 0),
        ],
        vec![spec(Form::Unspecified, 0, 0, 0)],
        vec![pb::FormSpec { form: 9, ..raw() }],
        // Parameters that do not belong to the form.
        vec![spec(Form::Raw, 60, 0, 0)],
        vec![spec(Form::Raw, 0, 1, 0)],
        vec![spec(Form::Pseudonymised, 0, 0, 2)],
        vec![spec(Form::Binned, 3600, 9, 3)],
        // Intervals: too short, not dividing a day, too long; resolutions; k.
        vec![spec(Form::Binned, 0, 9, 0)],
        vec![spec(Form::Binned, 59, 9, 0)],
        vec![spec(Form::Binned, 420, 9, 0)],
        vec![spec(Form::Binned, 172_800, 9, 0)],
        vec![spec(Form::Binned, 3600, 16, 0)],
        vec![spec(Form::Aggregated, 3600, 8, 1)],
        vec![spec(Form::Aggregated, 3600, 8, 1001)],
        vec![spec(Form::Aggregated, 3600, 8, 0)],
        vec![spec(Form::Aggregated, 7, 8, 3)],
    ];
    for (i, bad) in bad_offers.into_iter().enumerate() {
        assert_eq!(
            policy_refused(|w| w.forms[1].offers = bad).0,
            offers,
            "case {i}"
        );
    }
    let edges = policy_accepted(|w| {
        w.forms[1].offers = vec![
            spec(Form::Raw, 0, 0, 0),
            spec(Form::Pseudonymised, 0, 0, 0),
            spec(Form::Binned, 60, 15, 0),
            spec(Form::Aggregated, 86_400, 0, 2),
        ];
        w.forms[3].offers = vec![spec(Form::Aggregated, 1_800, 0, 1_000)];
    });
    assert_eq!(
        edges.offers(Purpose::UrbanPlanning)[3],
        FormSpec::Aggregated {
            interval_s: 86_400,
            resolution: 0,
            min_group: 2
        }
    );
    assert_eq!(
        edges
            .offer(Purpose::EnvironmentalMonitoring, Form::Aggregated)
            .and_then(FormSpec::min_group),
        Some(1_000)
    );
}

fn grant_purposes() -> PurposeSet {
    [Purpose::UrbanPlanning, Purpose::Billing]
        .into_iter()
        .collect()
}

fn narrowing() -> GrantScope {
    GrantScope {
        zones: vec![1],
        sensors: vec![1],
        sensor_kinds: [SensorKind::AirQuality].into_iter().collect(),
        windows: vec![TimeWindow {
            days: 0x1f,
            start_minute: 7 * 60,
            end_minute: 19 * 60,
        }],
        forms: vec![(Purpose::UrbanPlanning, Form::Aggregated)],
    }
}

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

fn street(grant: Option<GrantScope>) -> ScopeFacts {
    ScopeFacts {
        policy: Arc::new(street_scope()),
        grant,
    }
}

/// The kind the street policy gives `sensor` (a camera for an id it does not declare).
fn kind_of(sensor: u32) -> SensorKind {
    street_scope()
        .sensor(sensor)
        .map_or(SensorKind::Camera, |s| s.kind)
}

/// An observation by the street's `sensor`, named with the kind the street policy gives it.
fn full(sensor: u32, at: u64, raw_cell: u64, form: Form) -> Context {
    Context {
        sensor: Some(sensor),
        sensor_kind: Some(kind_of(sensor)),
        cell: Some(cell(raw_cell)),
        observed_ms: Some(at),
        form: Some(form),
    }
}

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

#[test]
fn local_time_floors_and_counts_weekdays_from_thursday() {
    assert_eq!(local_time(0, 0), (3, 0));
    assert_eq!(local_time(0, -60), (2, 23 * 60));
    assert_eq!(local_time(MONDAY, 0), (0, 0));
    assert_eq!(local_time(MONDAY - 1, 0), (6, 1439));
    assert_eq!(local_time(MONDAY + 10 * HOUR, 840), (1, 0));
    assert_eq!(local_time(MONDAY + 10 * HOUR - 1, 840), (0, 1439));
    assert_eq!(local_time(MONDAY + 10 * HOUR, -720), (6, 22 * 60));
    assert_eq!(local_time(MONDAY + 12 * HOUR, -720), (0, 0));
    let (weekday, minute) = local_time(u64::MAX, 840);
    assert!(weekday < 7 && minute < 1440);
}

fn windowed(offset: i16, days: u8, start_minute: u16, end_minute: u16) -> ScopeFacts {
    ScopeFacts {
        policy: Arc::new(PolicyScope {
            utc_offset_minutes: offset,
            windows: vec![TimeWindow {
                days,
                start_minute,
                end_minute,
            }],
            ..PolicyScope::default()
        }),
        grant: None,
    }
}

fn when(t: u64) -> Context {
    Context {
        observed_ms: Some(t),
        ..Context::NONE
    }
}

#[test]
fn windows_include_their_start_and_exclude_their_end() {
    let p = Purpose::Billing;
    // Mondays, the whole day, in UTC.
    let monday = windowed(0, 1, 0, 1440);
    assert_eq!(evaluate(&monday, p, &when(MONDAY)), Ok(()));
    assert_eq!(evaluate(&monday, p, &when(MONDAY + DAY - MINUTE)), Ok(()));
    assert_eq!(evaluate(&monday, p, &when(MONDAY + DAY - 1)), Ok(()));
    assert_eq!(
        evaluate(&monday, p, &when(MONDAY + DAY)),
        Err(Reason::TimeNotCovered)
    );
    assert_eq!(
        evaluate(&monday, p, &when(MONDAY - 1)),
        Err(Reason::TimeNotCovered)
    );
    assert_eq!(evaluate(&monday, p, &when(MONDAY + 7 * DAY)), Ok(()));
    let office = windowed(0, 1, 7 * 60, 19 * 60);
    assert_eq!(
        evaluate(&office, p, &when(MONDAY + 7 * HOUR - 1)),
        Err(Reason::TimeNotCovered)
    );
    assert_eq!(evaluate(&office, p, &when(MONDAY + 7 * HOUR)), Ok(()));
    assert_eq!(evaluate(&office, p, &when(MONDAY + 19 * HOUR - 1)), Ok(()));
    assert_eq!(
        evaluate(&office, p, &when(MONDAY + 19 * HOUR)),
        Err(Reason::TimeNotCovered)
    );
    // The last minute of a day.
    let last = windowed(0, 1, 1439, 1440);
    assert_eq!(evaluate(&last, p, &when(MONDAY + DAY - MINUTE)), Ok(()));
    assert_eq!(
        evaluate(&last, p, &when(MONDAY + DAY - MINUTE - 1)),
        Err(Reason::TimeNotCovered)
    );
}

#[test]
fn the_fixed_offset_moves_windows_across_a_day_boundary() {
    let p = Purpose::Billing;
    // +14:00: Monday 10:00 UTC is Tuesday 00:00.
    let tuesday = windowed(840, 0b10, 0, 60);
    assert_eq!(evaluate(&tuesday, p, &when(MONDAY + 10 * HOUR)), Ok(()));
    assert_eq!(
        evaluate(&tuesday, p, &when(MONDAY + 10 * HOUR - 1)),
        Err(Reason::TimeNotCovered)
    );
    // −12:00: Monday 10:00 UTC is Sunday 22:00.
    let sunday = windowed(-720, 0b100_0000, 22 * 60, 1440);
    assert_eq!(evaluate(&sunday, p, &when(MONDAY + 10 * HOUR)), Ok(()));
    assert_eq!(
        evaluate(&sunday, p, &when(MONDAY + 12 * HOUR)),
        Err(Reason::TimeNotCovered)
    );
}

#[test]
fn grant_windows_narrow_the_policys_and_need_a_time_on_their_own() {
    let p = Purpose::Billing;
    let s = street(Some(GrantScope {
        windows: vec![TimeWindow {
            days: 0x1f,
            start_minute: 7 * 60,
            end_minute: 19 * 60,
        }],
        ..GrantScope::default()
    }));
    let at = |t| full(1, t, IN_WHARF, Form::Raw);
    assert_eq!(evaluate(&s, p, &at(AT)), Ok(()));
    // Saturday 11:00 local: the policy's window, not the grant's.
    assert_eq!(
        evaluate(&s, p, &at(AT + 5 * DAY)),
        Err(Reason::TimeNotCovered)
    );
    // Monday 06:30 local.
    assert_eq!(
        evaluate(&s, p, &at(MONDAY + 5 * HOUR + 30 * MINUTE)),
        Err(Reason::TimeNotCovered)
    );
    // Monday 05:30 local: outside the policy's window too.
    assert_eq!(
        evaluate(&s, p, &at(MONDAY + 4 * HOUR + 30 * MINUTE)),
        Err(Reason::TimeNotCovered)
    );
    // Under a policy without scope, grant windows are in UTC and need a time.
    let utc = ScopeFacts::resolve(
        None,
        Some(GrantScope {
            windows: vec![TimeWindow {
                days: 1,
                start_minute: 0,
                end_minute: 60,
            }],
            ..GrantScope::default()
        }),
    )
    .expect("scoped");
    assert_eq!(
        evaluate(&utc, p, &Context::NONE),
        Err(Reason::ContextMissingTime)
    );
    assert_eq!(evaluate(&utc, p, &when(MONDAY + 59 * MINUTE)), Ok(()));
    assert_eq!(
        evaluate(&utc, p, &when(MONDAY + HOUR)),
        Err(Reason::TimeNotCovered)
    );
}

#[test]
fn forms_must_be_offered_and_at_least_as_protective_as_the_floor() {
    let at = |form| full(1, AT, IN_WHARF, form);
    let s = street(None);
    assert_eq!(evaluate(&s, Purpose::Billing, &at(Form::Raw)), Ok(()));
    assert_eq!(
        evaluate(&s, Purpose::Billing, &at(Form::Pseudonymised)),
        Ok(())
    );
    // More protective but not offered.
    assert_eq!(
        evaluate(&s, Purpose::Billing, &at(Form::Binned)),
        Err(Reason::FormNotCovered)
    );
    assert_eq!(
        evaluate(&s, Purpose::UrbanPlanning, &at(Form::Raw)),
        Err(Reason::FormNotCovered)
    );
    let floors = street(Some(GrantScope {
        forms: vec![
            (Purpose::Billing, Form::Pseudonymised),
            (Purpose::UrbanPlanning, Form::Aggregated),
        ],
        ..GrantScope::default()
    }));
    assert_eq!(
        evaluate(&floors, Purpose::Billing, &at(Form::Raw)),
        Err(Reason::FormNotCovered)
    );
    assert_eq!(
        evaluate(&floors, Purpose::Billing, &at(Form::Pseudonymised)),
        Ok(())
    );
    assert_eq!(
        evaluate(&floors, Purpose::UrbanPlanning, &at(Form::Binned)),
        Err(Reason::FormNotCovered)
    );
    assert_eq!(
        evaluate(&floors, Purpose::UrbanPlanning, &at(Form::Aggregated)),
        Ok(())
    );
    // No floor for service provision: the policy's offers alone.
    assert_eq!(
        evaluate(&floors, Purpose::ServiceProvision, &at(Form::Raw)),
        Ok(())
    );
    // A context form the rule does not know stands for no offer.
    assert_eq!(
        evaluate(&s, Purpose::Billing, &at(Form::Unspecified)),
        Err(Reason::FormNotCovered)
    );
}

#[test]
fn the_required_form_is_the_floor_else_the_least_protective_offer() {
    let s = street(None);
    assert_eq!(required_form(&s, Purpose::Billing), Some(Form::Raw));
    assert_eq!(
        required_form(&s, Purpose::UrbanPlanning),
        Some(Form::Binned)
    );
    assert_eq!(
        required_form(&s, Purpose::EnvironmentalMonitoring),
        Some(Form::Pseudonymised)
    );
    assert_eq!(
        required_form(&s, Purpose::ServiceProvision),
        Some(Form::Raw)
    );
    assert_eq!(required_form(&s, Purpose::Research), None);
    let floors = street(Some(GrantScope {
        forms: vec![(Purpose::UrbanPlanning, Form::Aggregated)],
        ..GrantScope::default()
    }));
    assert_eq!(
        required_form(&floors, Purpose::UrbanPlanning),
        Some(Form::Aggregated)
    );
    assert_eq!(required_form(&floors, Purpose::Billing), Some(Form::Raw));
}

#[test]
fn contexts_convert_from_the_wire_and_refuse_bad_cells_forms_and_kinds() {
    assert_eq!(Context::from_wire(None), Ok(Context::NONE));
    assert_eq!(
        Context::from_wire(Some(&pb::ObservationContext::default())),
        Ok(Context::NONE)
    );
    // A function, not a value: the message may or may not be `Copy`.
    let w = || pb::ObservationContext {
        sensor: 2,
        sensor_kind: SensorKind::Camera as i32,
        cell: IN_STREET,
        observed_ms: AT,
        form: Form::Binned as i32,
    };
    let c = Context::from_wire(Some(&w())).expect("valid");
    assert_eq!(c, full(2, AT, IN_STREET, Form::Binned));
    assert_eq!(c.to_wire(), Some(w()));
    assert_eq!(Context::NONE.to_wire(), None);
    let bad_cell = pb::ObservationContext {
        cell: 0x8c196908228ebfe,
        ..w()
    };
    let err = Context::from_wire(Some(&bad_cell)).expect_err("not a cell");
    assert_eq!(err, ContextError::NotACell(0x8c196908228ebfe));
    assert_eq!(
        err.to_string(),
        "context.cell 8c196908228ebfe is not an H3 cell index"
    );
    let bad_form = pb::ObservationContext { form: 9, ..w() };
    let err = Context::from_wire(Some(&bad_form)).expect_err("no such form");
    assert_eq!(err.to_string(), "context.form: unknown form 9");
    let bad_kind = pb::ObservationContext {
        sensor_kind: 99,
        ..w()
    };
    let err = Context::from_wire(Some(&bad_kind)).expect_err("no such kind");
    assert_eq!(err, ContextError::UnknownSensorKind(99));
    assert_eq!(
        err.to_string(),
        "context.sensor_kind: unknown sensor kind 99"
    );
    // A kind names no sensor by itself; a sensor without its kind is read (a deny when needed).
    let kind_alone = pb::ObservationContext { sensor: 0, ..w() };
    let err = Context::from_wire(Some(&kind_alone)).expect_err("a kind alone");
    assert_eq!(
        err,
        ContextError::SensorKindWithoutSensor(SensorKind::Camera)
    );
    assert_eq!(
        err.to_string(),
        "context.sensor_kind camera is given without context.sensor"
    );
    let id_alone = pb::ObservationContext {
        sensor_kind: 0,
        ..w()
    };
    let c2 = Context::from_wire(Some(&id_alone)).expect("valid");
    assert_eq!((c2.sensor, c2.sensor_kind), (Some(2), None));
    assert_eq!(c2.to_wire(), Some(id_alone));
    // In order: the cell, the form, the kind, a kind without a sensor.
    let all_bad = pb::ObservationContext {
        sensor: 0,
        sensor_kind: 99,
        form: 9,
        ..bad_cell
    };
    assert!(matches!(
        Context::from_wire(Some(&all_bad)),
        Err(ContextError::NotACell(_))
    ));
    let all_bad = pb::ObservationContext {
        cell: IN_STREET,
        ..all_bad
    };
    assert_eq!(
        Context::from_wire(Some(&all_bad)),
        Err(ContextError::UnknownForm(9))
    );
    let all_bad = pb::ObservationContext { form: 0, ..all_bad };
    assert_eq!(
        Context::from_wire(Some(&all_bad)),
        Err(ContextError::UnknownSensorKind(99))
    );
    // The digest covers every field, absent ones as zeros; the kind too.
    assert_ne!(c.digest(), Context { sensor: None, ..c }.digest());
    assert_ne!(
        c.digest(),
        Context {
            sensor_kind: Some(SensorKind::AirQuality),
            ..c
        }
        .digest()
    );
    assert_ne!(
        c.digest(),
        Context {
            sensor_kind: None,
            ..c
        }
        .digest()
    );
    assert_eq!(Context::NONE.digest(), context_digest(0, 0, 0, 0, 0));
    assert_eq!(
        c.digest(),
        context_digest(
            2,
            SensorKind::Camera as i32,
            IN_STREET,
            AT,
            Form::Binned as i32
        )
    );
}

#[test]
fn time_windows_print_their_days_and_hours() {
    let w = |days, start_minute, end_minute| TimeWindow {
        days,
        start_minute,
        end_minute,
    };
    assert_eq!(w(0x1f, 420, 1140).to_string(), "mon-fri 07:00-19:00");
    assert_eq!(w(0b101, 0, 1440).to_string(), "mon,wed 00:00-24:00");
    assert_eq!(w(0x7f, 360, 1440).to_string(), "every day 06:00-24:00");
    assert_eq!(w(0b11, 600, 660).to_string(), "mon,tue 10:00-11:00");
    assert_eq!(
        w(0b101_0111, 0, 1).to_string(),
        "mon-wed,fri,sun 00:00-00:01"
    );
    assert_eq!(w(0b110_0000, 0, 1).to_string(), "sat,sun 00:00-00:01");
    assert!(w(0b10, 480, 600).within(&w(0x1f, 420, 1140)));
    assert!(!w(0b10_0000, 480, 600).within(&w(0x1f, 420, 1140)));
    assert!(!w(0b10, 400, 600).within(&w(0x1f, 420, 1140)));
    assert!(!w(0b10, 480, 1200).within(&w(0x1f, 420, 1140)));
    assert_eq!(TimeWindow::new(0, 0, 60), None);
    assert_eq!(TimeWindow::new(1, 60, 60), None);
    assert_eq!(TimeWindow::new(1, 0, 1441), None);
    assert_eq!(TimeWindow::new(0x7f, 0, 1440), Some(w(0x7f, 0, 1440)));
}
