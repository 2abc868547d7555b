//! `compare` and `redefined`: each row of the widening table both ways, the neutral changes, and
//! the sentences the transparency site showed before they moved here.

use super::*;
use crate::body::Body;
use crate::fixtures;
use crate::ids::Digest;
use crate::scope::{EVERY_DAY, Sensor};

fn parking() -> Policy {
    let Body::Policy(p) = fixtures::policy(1) else {
        unreachable!("a policy")
    };
    p
}

fn street() -> Policy {
    let Body::Policy(p) = fixtures::street_policy() else {
        unreachable!("a policy")
    };
    p
}

/// The street policy with its scope edited.
fn scoped(edit: impl FnOnce(&mut PolicyScope)) -> Policy {
    let mut p = street();
    if let Some(scope) = p.scope.as_mut() {
        edit(scope);
    }
    p
}

/// `narrow -> wide` widens (naming `code`) and `wide -> narrow` narrows (and does not widen).
fn widens_one_way(narrow: &Policy, wide: &Policy, code: &str) {
    let up = compare(narrow, wide);
    assert_eq!(up.kind(), ChangeKind::Widening, "{up:?}");
    assert!(up.widening_items().any(|i| i.code == code), "{up:?}");
    let down = compare(wide, narrow);
    assert_eq!(down.kind(), ChangeKind::Narrowing, "{down:?}");
    assert!(down.codes().contains(&code), "{down:?}");
}

/// `a -> b` and `b -> a` both widen (fail closed, or a move).
fn widens_both_ways(a: &Policy, b: &Policy, code: &str) {
    for (x, y) in [(a, b), (b, a)] {
        let c = compare(x, y);
        assert!(c.widens(), "{c:?}");
        assert!(c.widening_items().any(|i| i.code == code), "{c:?}");
    }
}

/// `a -> b` changes something shown, and nothing that widens or narrows.
fn neutral(a: &Policy, b: &Policy, code: &str) {
    let c = compare(a, b);
    assert_eq!(c.kind(), ChangeKind::Unchanged, "{c:?}");
    assert_eq!(c.codes(), vec![code], "{c:?}");
    assert!(c.items.iter().all(|i| i.direction == Direction::Neutral));
}

#[test]
fn the_same_policy_changes_nothing() {
    for p in [parking(), street()] {
        let c = compare(&p, &p);
        assert_eq!(c.kind(), ChangeKind::Unchanged);
        assert!(c.items.is_empty());
        assert_eq!(c.sentences(), vec![NO_CHANGE.to_string()]);
    }
}

#[test]
fn policy_changes_are_said_in_plain_words() {
    // The transparency site's test, unchanged, on the sentences that moved here.
    let old = parking();
    let mut new = old.clone();
    new.version = 2;
    new.retention_days = old.retention_days * 2;
    new.purposes.insert(Purpose::Marketing);
    new.recipients.push("Ad network".into());
    let said = compare(&old, &new).sentences().join(" ");
    assert!(said.contains("Now also used for: marketing."), "{said}");
    assert!(
        said.contains("Now also shares data with: Ad network."),
        "{said}"
    );
    assert!(
        said.contains(&format!("(was {})", old.retention_days)),
        "{said}"
    );
    let same = compare(&old, &old).sentences();
    assert_eq!(same.len(), 1);
    assert!(same[0].starts_with("No change"));
    // The version alone is no change.
    assert!(
        compare(
            &old,
            &Policy {
                version: 9,
                ..old.clone()
            }
        )
        .items
        .is_empty()
    );
}

#[test]
fn purposes_categories_retention_and_recipients_widen_when_added_or_longer() {
    let p = parking();
    let mut more = p.clone();
    more.purposes.insert(Purpose::Marketing);
    widens_one_way(&p, &more, "purposes");
    let mut more = p.clone();
    more.categories.insert(crate::vocab::DataCategory::Health);
    widens_one_way(&p, &more, "categories");
    let longer = Policy {
        retention_days: p.retention_days + 1,
        ..p.clone()
    };
    widens_one_way(&p, &longer, "retention");
    let mut more = p.clone();
    more.recipients.push("Ad network".into());
    widens_one_way(&p, &more, "recipients");
    // Recipients compare as exact bytes: a respelling widens (and narrows).
    let mut respelled = p.clone();
    respelled.recipients = vec!["city transport department".into()];
    assert!(compare(&p, &respelled).widens());
}

#[test]
fn a_new_law_or_document_widens_either_way() {
    let p = parking();
    let law = Policy {
        jurisdiction: "US-CA/CCPA".into(),
        ..p.clone()
    };
    widens_both_ways(&p, &law, "jurisdiction");
    let document = Policy {
        document_digest: Digest([3; 32]),
        ..p.clone()
    };
    widens_both_ways(&p, &document, "document");
    assert_eq!(
        compare(&p, &document).sentences(),
        vec!["The policy document itself changed (new digest).".to_string()]
    );
}

#[test]
fn names_contacts_and_addresses_are_neutral() {
    let p = parking();
    neutral(
        &p,
        &Policy {
            name: "Renamed".into(),
            ..p.clone()
        },
        "name",
    );
    neutral(
        &p,
        &Policy {
            contact: "privacy@parking.example".into(),
            ..p.clone()
        },
        "contact",
    );
    neutral(
        &p,
        &Policy {
            document_url: "https://parking.example/v2".into(),
            ..p.clone()
        },
        "document_url",
    );
    // A zone renamed, a sensor's zone tie changed, an offset without windows: nothing that widens.
    let renamed = scoped(|s| s.zones[0].name = "Wharf".into());
    assert!(compare(&street(), &renamed).items.is_empty());
    let retied = scoped(|s| s.sensors[0].zone = Some(2));
    neutral(&street(), &retied, "sensors");
    let no_windows = scoped(|s| s.windows.clear());
    let shifted = Policy {
        scope: no_windows.scope.clone().map(|mut s| {
            s.utc_offset_minutes = 0;
            s
        }),
        ..no_windows.clone()
    };
    assert!(compare(&no_windows, &shifted).items.is_empty());
}

#[test]
fn zones_widen_where_a_new_cell_lies_outside_every_old_zone() {
    let s = street();
    // Zone 2 (resolution 11) is not covered by zone 1 (resolution 12, finer): dropping it narrows.
    let one_zone = scoped(|s| s.zones.truncate(1));
    widens_one_way(&one_zone, &s, "zones");
    assert!(
        compare(&one_zone, &s)
            .sentences()
            .iter()
            .any(|l| l.starts_with("Now also collects in zone 2"))
    );
    // No zone: anywhere.
    let anywhere = scoped(|s| s.zones.clear());
    widens_one_way(&s, &anywhere, "zones");
    assert!(
        compare(&s, &anywhere)
            .sentences()
            .contains(&"Now collects anywhere (it declares no zone).".to_string())
    );
    // Zone 2 moved to a cell outside it: the one line both widens and narrows, so it widens.
    let moved = scoped(|s| {
        s.zones[1] = Zone {
            id: 2,
            name: "elsewhere".into(),
            resolution: 12,
            cells: vec![Cell::new(fixtures::OUTSIDE_STREET).expect("a cell")],
        }
    });
    widens_both_ways(&s, &moved, "zones");
    // Zone 2 shrunk to one of its cells: narrows only.
    let shrunk = scoped(|s| s.zones[1].cells.truncate(1));
    widens_one_way(&shrunk, &s, "zones");
    // A new zone inside an old one widens nothing.
    let inner = scoped(|s| {
        let first = s.zones[1].cells[0];
        s.zones.push(Zone {
            id: 3,
            name: "inner".into(),
            resolution: 11,
            cells: vec![first],
        })
    });
    let c = compare(&s, &inner);
    assert_eq!(c.kind(), ChangeKind::Unchanged, "{c:?}");
    assert_eq!(c.codes(), vec!["zones"]);
}

#[test]
fn sensors_widen_with_a_new_id_or_none_declared() {
    let s = street();
    let more = scoped(|s| {
        s.sensors.push(Sensor {
            id: 5,
            kind: SensorKind::Noise,
            zone: None,
        })
    });
    widens_one_way(&s, &more, "sensors");
    let any = scoped(|s| s.sensors.clear());
    widens_one_way(&s, &any, "sensors");
    assert!(compare(&s, &any).sentences()[0].starts_with("Sensors are now: any sensor (were: 1 "));
}

#[test]
fn windows_widen_by_the_utc_minutes_of_the_week() {
    let s = street();
    let shorter = scoped(|s| s.windows[0].end_minute = 20 * 60);
    widens_one_way(&shorter, &s, "windows");
    let any_time = scoped(|s| s.windows.clear());
    widens_one_way(&s, &any_time, "windows");
    // The same local hours an hour later in UTC: some minutes in, some out.
    let shifted = scoped(|s| s.utc_offset_minutes = 0);
    widens_both_ways(&s, &shifted, "windows");
    // The whole week in another offset covers the same minutes.
    let all = |offset| {
        scoped(|s| {
            s.windows = vec![TimeWindow {
                days: EVERY_DAY,
                start_minute: 0,
                end_minute: 1_440,
            }];
            s.utc_offset_minutes = offset;
        })
    };
    let c = compare(&all(60), &all(-300));
    assert_eq!(c.kind(), ChangeKind::Unchanged, "{c:?}");
    assert_eq!(c.codes(), vec!["windows"]);
}

#[test]
fn forms_widen_with_a_less_protective_offer() {
    let s = street();
    // Billing: raw or pseudonymised -> pseudonymised only.
    let billing = |offers: Vec<FormSpec>| {
        scoped(|s| {
            if let Some(f) = s.forms.iter_mut().find(|f| f.purpose == Purpose::Billing) {
                f.offers = offers;
            }
        })
    };
    widens_one_way(&billing(vec![FormSpec::Pseudonymised]), &s, "forms");
    // Urban planning: hourly bins -> half-hourly bins.
    let finer = scoped(|s| {
        s.forms[1].offers[0] = FormSpec::Binned {
            interval_s: 1_800,
            resolution: 9,
        }
    });
    widens_one_way(&s, &finer, "forms");
    // Coarser cells and larger groups are at least as protective.
    let aggregated = |resolution, min_group| {
        scoped(|s| {
            s.forms[1].offers = vec![FormSpec::Aggregated {
                interval_s: 3_600,
                resolution,
                min_group,
            }]
        })
    };
    widens_one_way(&aggregated(7, 10), &aggregated(8, 3), "forms");
    widens_one_way(&aggregated(8, 10), &aggregated(8, 3), "forms");
    // No forms offered for service provision: any form.
    let any = scoped(|s| s.forms.retain(|f| f.purpose != Purpose::ServiceProvision));
    widens_one_way(&s, &any, "forms");
    // Offers for a purpose the new version drops widen nothing.
    let mut dropped = any.clone();
    dropped.purposes = [
        Purpose::UrbanPlanning,
        Purpose::Billing,
        Purpose::EnvironmentalMonitoring,
    ]
    .into_iter()
    .collect();
    let c = compare(&s, &dropped);
    assert_eq!(c.kind(), ChangeKind::Narrowing, "{c:?}");
    assert!(at_least_as_protective(
        &FormSpec::Aggregated {
            interval_s: 60,
            resolution: 15,
            min_group: 2
        },
        &FormSpec::Binned {
            interval_s: 86_400,
            resolution: 0
        }
    ));
}

#[test]
fn an_id_kept_with_another_meaning_is_redefined() {
    let s = street();
    let camera_is_noise = scoped(|s| s.sensors[1].kind = SensorKind::Noise);
    assert_eq!(
        redefined(&s, &camera_is_noise),
        Some(Redefined::Sensor {
            id: 2,
            was: SensorKind::Camera,
            now: SensorKind::Noise
        })
    );
    let moved = scoped(|s| {
        s.zones[1] = Zone {
            id: 2,
            name: "elsewhere".into(),
            resolution: 12,
            cells: vec![Cell::new(fixtures::OUTSIDE_STREET).expect("a cell")],
        }
    });
    assert_eq!(redefined(&s, &moved), Some(Redefined::Zone { id: 2 }));
    assert!(redefined(&s, &moved).is_some_and(|r| r.to_string().contains("zone 2")));
    // Allowed: a new zone tie, a rename, a zone grown or shrunk, a sensor removed, a new id.
    for allowed in [
        scoped(|s| s.sensors[0].zone = None),
        scoped(|s| s.zones[0].name = "Wharf".into()),
        scoped(|s| s.zones[1].cells.truncate(3)),
        scoped(|s| {
            s.sensors.remove(1);
        }),
        scoped(|s| s.zones.clear()),
        parking(),
    ] {
        assert_eq!(redefined(&s, &allowed), None);
        assert_eq!(redefined(&allowed, &s), None);
    }
}
