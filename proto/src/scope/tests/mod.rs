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

fn grant_purposes() -> PurposeSet {
    [Purpose::UrbanPlanning, Purpose::Billing]
        .into_iter()
        .collect()
}

mod grant;
mod rule;
mod windows;
mod wire;
