//! The policy file: errors naming their line and column, the examples, area covering, each bad
//! `[scope]` item, the entry size limit, and the text parsers.

use std::collections::BTreeSet;

use consent_proto::limits::MAX_CELLS_PER_ZONE;
use consent_proto::scope::{EVERY_DAY, FormSpec, TimeWindow};
use consent_proto::vocab::SensorKind;

use super::*;

fn write(dir: &Path, text: &str) -> std::path::PathBuf {
    let path = dir.join("policy.toml");
    std::fs::write(&path, text).expect("write");
    path
}

const GOOD: &str = r#"name = "Riverside Parking"
purposes = ["service-provision"]
categories = ["vehicle"]
retention_days = 90
jurisdiction = "EU/GDPR"
document_url = "https://parking.example/privacy/v1"
document_digest = "0000000000000000000000000000000000000000000000000000000000000000"
contact = "dpo@parking.example"
"#;

#[test]
fn errors_are_one_line_naming_the_file_line_and_column() {
    let dir = tempfile::tempdir().expect("dir");
    assert!(load(&write(dir.path(), GOOD), 1).is_ok());

    let unknown = GOOD.replace(
        "[\"service-provision\"]",
        "[\"service-provision\", \"spying\"]",
    );
    let err = load(&write(dir.path(), &unknown), 1).expect_err("unknown purpose");
    let text = err.to_string();
    assert!(!text.contains('\n'), "{text}");
    assert!(text.contains("policy.toml:2:"), "{text}");
    assert!(text.contains("unknown purpose \"spying\""), "{text}");

    let broken = GOOD.replace("retention_days = 90", "retention_days = ninety");
    let err = load(&write(dir.path(), &broken), 1).expect_err("bad toml");
    let text = err.to_string();
    assert!(!text.contains('\n'), "{text}");
    assert!(text.contains("policy.toml:4:"), "{text}");
}

fn examples() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples")
}

#[test]
fn the_street_example_loads_with_sorted_cells_of_each_zones_resolution() {
    let body = load(&examples().join("street-policy.toml"), 1).expect("loads");
    let size = entry_size(&body);
    assert!(size > 600 && size < MAX_ENTRY_BYTES, "{size} bytes");
    let Body::Policy(p) = body else {
        panic!("a policy");
    };
    let scope = p.scope.expect("a scope");
    assert_eq!(scope.utc_offset_minutes, 60);
    assert_eq!(
        scope
            .zones
            .iter()
            .map(|z| (z.id, z.resolution))
            .collect::<Vec<_>>(),
        [(1, 12), (2, 11)]
    );
    for z in &scope.zones {
        assert!(!z.cells.is_empty() && z.cells.len() <= MAX_CELLS_PER_ZONE);
        assert!(
            z.cells.windows(2).all(|w| w[0] < w[1]),
            "sorted, no duplicate"
        );
        assert!(z.cells.iter().all(|c| c.resolution() == z.resolution));
    }
    assert_eq!(
        scope
            .sensors
            .iter()
            .map(|s| (s.id, s.kind, s.zone))
            .collect::<Vec<_>>(),
        [
            (1, SensorKind::NumberPlateReader, Some(1)),
            (2, SensorKind::AirQuality, Some(2)),
            (3, SensorKind::WifiCounter, Some(2)),
        ]
    );
    assert_eq!(
        scope.windows,
        [TimeWindow {
            days: 0x3f,
            start_minute: 7 * 60,
            end_minute: 19 * 60
        }]
    );
    let offers = |p: Purpose| {
        scope
            .forms
            .iter()
            .find(|f| f.purpose == p)
            .map(|f| f.offers.clone())
            .unwrap_or_default()
    };
    assert_eq!(
        offers(Purpose::Billing),
        [FormSpec::Raw, FormSpec::Pseudonymised]
    );
    assert_eq!(
        offers(Purpose::UrbanPlanning),
        [
            FormSpec::Binned {
                interval_s: 3600,
                resolution: 9
            },
            FormSpec::Aggregated {
                interval_s: 3600,
                resolution: 8,
                min_group: 10
            }
        ]
    );
    // The plain example stays valid, without a scope.
    let Body::Policy(plain) = load(&examples().join("policy.toml"), 1).expect("loads") else {
        panic!("a policy");
    };
    assert!(plain.scope.is_none());
}

#[test]
fn an_area_is_covered_by_the_cells_of_its_corners_and_centre() {
    let area = [
        [52.09190, 5.11935],
        [52.09196, 5.11975],
        [52.09050, 5.12060],
        [52.09043, 5.12020],
    ];
    let cells = cover_area(&area, 12).expect("covered");
    let res = h3o::Resolution::try_from(12u8).expect("res");
    let cell = |lat: f64, lng: f64| u64::from(h3o::LatLng::new(lat, lng).expect("ll").to_cell(res));
    for [lat, lng] in area {
        assert!(cells.contains(&cell(lat, lng)), "corner {lat},{lng}");
    }
    assert!(cells.contains(&cell(52.09120, 5.11998)), "centre");
    assert!(!cells.contains(&cell(52.0950, 5.1150)), "far outside");
    let huge = [[52.0, 5.0], [52.0, 5.5], [52.3, 5.5], [52.3, 5.0]];
    let err = cover_area(&huge, 12).expect_err("too many cells");
    assert!(err.contains("coarser resolution"), "{err}");
    assert!(cover_area(&area[..2], 12).is_err());
}

/// Each bad item of `[scope]` is refused in one line naming its place.
#[test]
fn each_bad_scope_item_names_its_line_and_column() {
    let dir = tempfile::tempdir().expect("dir");
    let base = GOOD.replace(
        "[\"service-provision\"]",
        "[\"service-provision\", \"urban-planning\"]",
    );
    let cell = format!(
        "{:x}",
        u64::from(
            h3o::LatLng::new(52.0912, 5.1200)
                .expect("ll")
                .to_cell(h3o::Resolution::try_from(11u8).expect("res"))
        )
    );
    let zone = format!(
        "[[scope.zone]]\nid = 1\nname = \"Street\"\nresolution = 11\ncells = [\"{cell}\"]\n"
    );
    let ok = format!("{base}\n[scope]\nutc_offset = \"+01:00\"\n{zone}");
    assert!(load(&write(dir.path(), &ok), 1).is_ok(), "{ok}");
    // The scope starts at line 10 of `ok`.
    for (edit, says, line) in [
        (
            ("utc_offset = \"+01:00\"", "utc_offset = \"+01:07\""),
            "multiple of 15",
            11,
        ),
        (("id = 1", "id = 0"), "zone ids start at 1", 13),
        (
            ("resolution = 11", "resolution = 12"),
            "the zone's is 12",
            16,
        ),
        ((cell.as_str(), "xyz"), "is not an H3 cell index", 16),
        (
            (
                "[scope]\n",
                "[scope]\nsensors = [ { id = 1, kind = \"telescope\" } ]\n",
            ),
            "\"telescope\"",
            11,
        ),
        (
            (
                "[scope]\n",
                "[scope]\nsensors = [ { id = 1, kind = \"camera\", zone = 9 } ]\n",
            ),
            "zone 9 is not declared",
            11,
        ),
        (
            (
                "[scope]\n",
                "[scope]\nwindows = [ { days = \"mon-fry\" } ]\n",
            ),
            "unknown day",
            11,
        ),
        (
            ("[scope]\n", "[scope]\nwindows = [ { hours = \"7-19\" } ]\n"),
            "HH:MM-HH:MM",
            11,
        ),
        (
            (
                "name = \"Street\"\n",
                "name = \"Street\"\narea = [[52.0, 5.0], [52.1, 5.1], [52.0, 5.1]]\n",
            ),
            "exactly one of `area`",
            13,
        ),
    ] {
        let text = ok.replacen(edit.0, edit.1, 1);
        let err = load(&write(dir.path(), &text), 1).expect_err(says);
        let err = err.to_string();
        assert!(!err.contains('\n'), "{err}");
        assert!(err.contains(says), "{says}: {err}");
        assert!(
            err.contains(&format!("policy.toml:{line}:")),
            "line {line}: {err}"
        );
    }
    let forms = |offers: &str| format!("{ok}\n[scope.forms]\n{offers}\n");
    for (offers, says) in [
        ("billing = [\"raw\"]", "does not declare this purpose"),
        (
            "urban-planning = [\"binned\"]",
            "binned needs exactly its parameters",
        ),
        (
            "urban-planning = [ { form = \"aggregated\", interval = \"7m\", resolution = 8, k = 5 } ]",
            "divide a day",
        ),
        (
            "urban-planning = [ { form = \"aggregated\", interval = \"1h\", resolution = 8, k = 1 } ]",
            "k must be a whole number in 2..=1000",
        ),
        (
            "urban-planning = [\"raw\", \"raw\"]",
            "raw is offered twice",
        ),
        (
            "urban-planning = [ { form = \"raw\", k = 3 } ]",
            "takes no interval",
        ),
    ] {
        let text = forms(offers);
        let err = load(&write(dir.path(), &text), 1)
            .expect_err(says)
            .to_string();
        assert!(!err.contains('\n'), "{err}");
        assert!(err.contains(says), "{says}: {err}");
        assert!(err.contains("policy.toml:"), "{err}");
    }
    let empty = format!("{base}\n[scope]\nutc_offset = \"+01:00\"\n");
    let err = load(&write(dir.path(), &empty), 1)
        .expect_err("empty")
        .to_string();
    assert!(err.contains("declares nothing"), "{err}");
    let no_offset =
        format!("{base}\n[scope]\nwindows = [ {{ days = \"all\", hours = \"07:00-19:00\" }} ]\n");
    let err = load(&write(dir.path(), &no_offset), 1)
        .expect_err("offset")
        .to_string();
    assert!(err.contains("need `utc_offset`"), "{err}");
}

/// A policy at every limit at once is over 8 KiB: the loader says how big it is.
#[test]
fn a_policy_too_big_for_one_entry_names_its_size() {
    let dir = tempfile::tempdir().expect("dir");
    let res = h3o::Resolution::try_from(12u8).expect("res");
    let mut text = GOOD
        .replace(
            "name = \"Riverside Parking\"",
            &format!("name = \"{}\"", "n".repeat(120)),
        )
        .replace(
            "https://parking.example/privacy/v1",
            &format!("https://parking.example/{}", "p".repeat(480)),
        )
        .replace(
            "contact = \"dpo@parking.example\"",
            &format!(
                "contact = \"{}\"\nrecipients = [{}]",
                "c".repeat(200),
                vec![format!("\"{}\"", "r".repeat(120)); 16].join(", ")
            ),
        );
    text += "\n[scope]\nutc_offset = \"+01:00\"\n";
    text += &format!(
        "windows = [{}]\n",
        ["mon", "tue", "wed", "thu", "fri", "sat", "sun", "mon-fri"]
            .iter()
            .map(|d| format!("{{ days = \"{d}\", hours = \"07:15-19:45\" }}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    text += &format!(
        "sensors = [{}]\n",
        (1..=64)
            .map(|i| format!("{{ id = {i}, kind = \"camera\", zone = {} }}", 1 + i % 16))
            .collect::<Vec<_>>()
            .join(", ")
    );
    for z in 0..16u32 {
        let cells: BTreeSet<u64> = (0..32u32)
            .map(|i| {
                let (lat, lng) = (
                    52.0 + f64::from(z) * 0.01 + f64::from(i / 8) * 0.0005,
                    5.0 + f64::from(i % 8) * 0.0008,
                );
                u64::from(h3o::LatLng::new(lat, lng).expect("ll").to_cell(res))
            })
            .collect();
        text += &format!(
            "[[scope.zone]]\nid = {}\nname = \"{}\"\nresolution = 12\ncells = [{}]\n",
            z + 1,
            "z".repeat(64),
            cells
                .iter()
                .map(|c| format!("\"{c:x}\""))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let err = load(&write(dir.path(), &text), 1)
        .expect_err("too big")
        .to_string();
    assert!(err.contains("bytes, over the limit of 8192"), "{err}");
    assert!(err.contains("cells"), "{err}");
}

#[test]
fn days_hours_intervals_and_offsets_parse_as_people_write_them() {
    assert_eq!(parse_days("mon-fri"), Ok(0x1f));
    assert_eq!(parse_days("sat,sun"), Ok(0x60));
    assert_eq!(parse_days("Monday, wed-thu"), Ok(0b1101));
    assert_eq!(parse_days("fri-mon"), Ok(0b111_0001));
    assert_eq!(parse_days("all"), Ok(EVERY_DAY));
    assert!(parse_days("funday").is_err());
    assert_eq!(parse_hours("07:00-19:00"), Ok((420, 1140)));
    assert_eq!(parse_hours("18:30-24:00"), Ok((1110, 1440)));
    assert_eq!(parse_hours("18:30-00:00"), Ok((1110, 1440)));
    assert_eq!(parse_hours("22:00-06:00"), Ok((1320, 360)));
    assert!(parse_hours("07:00-07:00").is_err());
    assert!(parse_hours("25:00-26:00").is_err());
    // Past midnight: Friday and Saturday nights run into Saturday and Sunday mornings.
    assert_eq!(
        split_window(0x30, Some((1320, 360))),
        [
            TimeWindow {
                days: 0x30,
                start_minute: 1320,
                end_minute: 1440
            },
            TimeWindow {
                days: 0x60,
                start_minute: 0,
                end_minute: 360
            }
        ]
    );
    // Sunday night runs into Monday.
    assert_eq!(split_window(0x40, Some((1320, 360)))[1].days, 0x01);
    assert_eq!(parse_interval("15m"), Ok(900));
    assert_eq!(parse_interval("1h"), Ok(3600));
    assert_eq!(parse_interval("1d"), Ok(86_400));
    assert!(parse_interval("7m").is_err());
    assert!(parse_interval("30s").is_err());
    assert_eq!(parse_utc_offset("+01:00"), Ok(60));
    assert_eq!(parse_utc_offset("-05:30"), Ok(-330));
    assert_eq!(parse_utc_offset("UTC"), Ok(0));
    assert_eq!(parse_utc_offset("+14:00"), Ok(840));
    assert!(parse_utc_offset("+14:15").is_err());
    assert!(parse_utc_offset("+01:10").is_err());
    assert_eq!(utc_offset_text(60), "UTC+01:00");
    assert_eq!(utc_offset_text(-330), "UTC-05:30");
    assert_eq!(utc_offset_text(0), "UTC");
}
