//! Each form on known inputs: the keyed hash, time bins at offsets and day edges, cell parents as
//! h3o computes them, and the aggregator's k over distinct subjects.

use consent_proto::ids::FeedId;
use consent_proto::scope::{FormSpec, Sensor};
use consent_proto::vocab::{Form, SensorKind};
use h3o::{CellIndex, LatLng, Resolution};

use super::*;

/// 2025-06-15T00:00:00Z (a Sunday), the midnight before the fixtures' T0.
const MIDNIGHT: u64 = 1_749_945_600_000;
const HOUR: u64 = 3_600_000;
const MINUTE: u64 = 60_000;
const DAY: u64 = 86_400_000;

fn key(byte: u8) -> PseudonymKey {
    PseudonymKey::from_bytes([byte; 32])
}

fn feed(byte: u8) -> FeedId {
    FeedId([byte; 32])
}

/// A res-12 cell on the Oudegracht (Utrecht).
fn fine() -> CellIndex {
    LatLng::new(52.0912, 5.1205)
        .expect("valid")
        .to_cell(Resolution::Twelve)
}

/// `c`'s parent at `res`.
fn up(c: CellIndex, res: Resolution) -> CellIndex {
    c.parent(res).expect("coarser")
}

/// Another res-12 cell in the same res-8 cell as [`fine`].
fn sibling() -> CellIndex {
    up(fine(), Resolution::Eight)
        .center_child(Resolution::Twelve)
        .expect("finer")
}

fn obs(subject: u8, observed_ms: u64, cell: CellIndex, value: f64) -> Observation {
    Observation {
        subject: feed(subject),
        observed_ms,
        cell,
        value,
    }
}

#[test]
fn an_observations_context_names_the_sensor_by_id_and_kind() {
    let o = obs(1, MIDNIGHT + HOUR, fine(), 1.0);
    let sensor = Sensor {
        id: 3,
        kind: SensorKind::AirQuality,
        zone: Some(2),
    };
    let c = o.context(Some(&sensor), Some(Form::Binned));
    assert_eq!(
        (c.sensor, c.sensor_kind, c.form),
        (Some(3), Some(SensorKind::AirQuality), Some(Form::Binned))
    );
    assert_eq!(c.observed_ms, Some(MIDNIGHT + HOUR));
    assert_eq!(c.cell.map(|x| x.raw()), Some(u64::from(fine())));
    let none = o.context(None, None);
    assert_eq!(
        (none.sensor, none.sensor_kind, none.form),
        (None, None, None)
    );
}

#[test]
fn a_pseudonym_is_the_keyed_hash_stable_under_one_key_and_differs_under_another() {
    let k = [7u8; 32];
    let s = feed(1);
    let expected = blake3::keyed_hash(&k, &[PSEUDONYM_DOMAIN, &s.0[..]].concat());
    assert_eq!(pseudonym(&key(7), &s), *expected.as_bytes());
    assert_eq!(pseudonym(&key(7), &s), pseudonym(&key(7), &s));
    assert_ne!(pseudonym(&key(7), &s), pseudonym(&key(8), &s));
    assert_ne!(pseudonym(&key(7), &s), pseudonym(&key(7), &feed(2)));
    assert_ne!(pseudonym(&key(7), &s), s.0, "the feed never shows through");
    assert_eq!(format!("{:?}", key(7)), "PseudonymKey(<redacted>)");
    let a = PseudonymKey::generate().expect("randomness");
    let b = PseudonymKey::generate().expect("randomness");
    assert_ne!(pseudonym(&a, &s), pseudonym(&b, &s));
}

#[test]
fn time_bins_align_to_local_midnight_at_every_offset() {
    // UTC, one hour.
    assert_eq!(bin_time(MIDNIGHT + 90 * MINUTE, 3_600, 0), MIDNIGHT + HOUR);
    assert_eq!(bin_time(MIDNIGHT, 3_600, 0), MIDNIGHT);
    assert_eq!(bin_time(MIDNIGHT - 1, 3_600, 0), MIDNIGHT - HOUR);
    // +01:00: 23:30Z is 00:30 local the next day; its hour starts at local midnight (23:00Z).
    assert_eq!(bin_time(MIDNIGHT - 30 * MINUTE, 3_600, 60), MIDNIGHT - HOUR);
    assert_eq!(
        bin_time(MIDNIGHT - 30 * MINUTE, 86_400, 60),
        MIDNIGHT - HOUR
    );
    assert_eq!(
        bin_time(MIDNIGHT - HOUR - 1, 86_400, 60),
        MIDNIGHT - HOUR - DAY
    );
    // 15 minutes at +01:00.
    assert_eq!(bin_time(MIDNIGHT + 7 * MINUTE + 5, 900, 60), MIDNIGHT);
    assert_eq!(
        bin_time(MIDNIGHT + 16 * MINUTE, 900, 60),
        MIDNIGHT + 15 * MINUTE
    );
    // -12:00: local midnight is 12:00Z.
    assert_eq!(
        bin_time(MIDNIGHT + 12 * HOUR - 1, 86_400, -720),
        MIDNIGHT + 12 * HOUR - DAY
    );
    assert_eq!(
        bin_time(MIDNIGHT + 12 * HOUR, 86_400, -720),
        MIDNIGHT + 12 * HOUR
    );
    // +14:00: local midnight is 10:00Z.
    assert_eq!(
        bin_time(MIDNIGHT + 10 * HOUR, 86_400, 840),
        MIDNIGHT + 10 * HOUR
    );
    assert_eq!(
        bin_time(MIDNIGHT + 10 * HOUR - 1, 86_400, 840),
        MIDNIGHT + 10 * HOUR - DAY
    );
    // The last minute of a local day stays in it.
    assert_eq!(
        bin_time(MIDNIGHT + 23 * HOUR - 1, 60, 60),
        MIDNIGHT + 23 * HOUR - MINUTE
    );
    // A bin that would start before 1970 reads as 0.
    assert_eq!(bin_time(0, 86_400, -720), 0);
    assert_eq!(bin_time(0, 3_600, 60), 0);
}

#[test]
fn a_binned_cell_is_its_h3o_parent_and_never_finer() {
    let c = CellIndex::try_from(0x08a7_54e6_4992_ffff_u64).expect("the spec's cell");
    assert_eq!(
        bin_cell(c, 9).map(u64::from),
        Some(0x0897_54e6_4993_ffff_u64)
    );
    assert_eq!(
        bin_cell(c, 0).map(u64::from),
        Some(0x0807_5fff_ffff_ffff_u64)
    );
    assert_eq!(bin_cell(c, 10), Some(c));
    assert_eq!(bin_cell(c, 11), None, "finer than the cell");
    assert_eq!(bin_cell(c, 16), None, "not a resolution");
    let fine = fine();
    for res in 0..=12u8 {
        let r = Resolution::try_from(res).expect("resolution");
        assert_eq!(bin_cell(fine, res), fine.parent(r));
        assert_eq!(
            bin_cell(fine, res).and_then(ledger_cell),
            ledger_cell(fine).and_then(|c| c.parent(res)),
            "the ledger's parent agrees at res {res}"
        );
    }
}

#[test]
fn apply_keeps_each_form_and_no_more() {
    let k = key(3);
    let o = obs(1, MIDNIGHT + 90 * MINUTE + 5, fine(), 2.5);
    assert_eq!(
        apply(&FormSpec::Raw, &k, 60, o),
        Applied::Record(Record::Raw(o))
    );
    let Applied::Record(p) = apply(&FormSpec::Pseudonymised, &k, 60, o) else {
        panic!("a record");
    };
    assert_eq!(
        p,
        Record::Pseudonymised {
            pseudonym: pseudonym(&k, &o.subject),
            observed_ms: o.observed_ms,
            cell: o.cell,
            value: 2.5,
        }
    );
    assert_eq!(p.form(), Form::Pseudonymised);
    let binned = FormSpec::Binned {
        interval_s: 3_600,
        resolution: 9,
    };
    let Applied::Record(b) = apply(&binned, &k, 60, o) else {
        panic!("a record");
    };
    assert_eq!(
        b,
        Record::Binned {
            pseudonym: pseudonym(&k, &o.subject),
            bin_start_ms: MIDNIGHT + HOUR,
            cell: up(fine(), Resolution::Nine),
            value: 2.5,
        }
    );
    assert_eq!(b.form(), Form::Binned);
    // A cell already coarser than the form's resolution is kept as it is.
    let coarse = obs(1, o.observed_ms, up(fine(), Resolution::Seven), 1.0);
    let Applied::Record(Record::Binned { cell: kept, .. }) = apply(&binned, &k, 60, coarse) else {
        panic!("a binned record");
    };
    assert_eq!(kept, up(fine(), Resolution::Seven));
    let aggregated = FormSpec::Aggregated {
        interval_s: 3_600,
        resolution: 8,
        min_group: 3,
    };
    assert_eq!(apply(&aggregated, &k, 60, o), Applied::Aggregate);
}

fn aggregated(k: u32) -> FormSpec {
    FormSpec::Aggregated {
        interval_s: 3_600,
        resolution: 8,
        min_group: k,
    }
}

#[test]
fn three_records_of_one_person_never_make_a_group_of_three() {
    let k = key(1);
    let mut a = Aggregator::new(&aggregated(3), 0).expect("aggregated");
    for i in 0..3 {
        assert!(a.add(&k, &obs(1, MIDNIGHT + i * MINUTE, fine(), 1.0)));
    }
    // Two people, many records: still fewer than 3 distinct subjects.
    for i in 0..5 {
        a.add(
            &k,
            &obs(2, MIDNIGHT + HOUR + i, up(fine(), Resolution::Ten), 1.0),
        );
        a.add(&k, &obs(3, MIDNIGHT + HOUR + i, sibling(), 1.0));
    }
    let released = a.release(MIDNIGHT + 2 * HOUR);
    assert_eq!(released.rows, Vec::new());
    assert_eq!(released.suppressed, 2);
    assert_eq!(a.open_groups(), 0, "suppressed groups are forgotten");
}

#[test]
fn groups_of_k_distinct_subjects_are_released_once_their_bin_ended_and_then_forgotten() {
    let k = key(1);
    assert!(Aggregator::new(&FormSpec::Raw, 60).is_none());
    assert!(
        Aggregator::new(
            &FormSpec::Binned {
                interval_s: 3_600,
                resolution: 9
            },
            60
        )
        .is_none()
    );
    let mut a = Aggregator::new(&aggregated(3), 60).expect("aggregated");
    // Local 10:00-11:00 at +01:00 is 09:00Z-10:00Z. Subjects 1..=3 in two fine cells of one
    // res-8 cell; subject 1 twice.
    let bin = MIDNIGHT + 9 * HOUR;
    a.add(&k, &obs(1, bin + MINUTE, fine(), 10.0));
    a.add(&k, &obs(1, bin + 2 * MINUTE, fine(), 20.0));
    a.add(&k, &obs(2, bin + 3 * MINUTE, sibling(), 30.0));
    a.add(
        &k,
        &obs(3, bin + HOUR - 1, up(fine(), Resolution::Eleven), 40.0),
    );
    // The next hour: only two subjects.
    a.add(&k, &obs(4, bin + HOUR, fine(), 1.0));
    a.add(&k, &obs(5, bin + HOUR + 1, fine(), 1.0));
    assert_eq!(a.open_groups(), 2);

    // Nothing has ended yet.
    assert_eq!(a.release(bin + HOUR - 1), Released::default());
    let first = a.release(bin + HOUR);
    assert_eq!(
        first.rows,
        vec![AggregateRow {
            bin_start_ms: bin,
            cell: up(fine(), Resolution::Eight),
            subjects: 3,
            // Subject 1's two readings count as one mean (15), beside 30 and 40.
            mean: 85.0 / 3.0,
        }]
    );
    assert_eq!(first.suppressed, 0);
    assert_eq!(a.open_groups(), 1, "the next hour is still open");
    // Released groups are forgotten: a late record of that hour is dropped, not re-counted.
    assert!(!a.add(&k, &obs(6, bin + 5, fine(), 1.0)));
    let second = a.release(bin + 3 * HOUR);
    assert_eq!(second.rows, Vec::new());
    assert_eq!(second.suppressed, 1);
    assert_eq!(a.release(bin + 10 * HOUR), Released::default());
    assert_eq!(a.open_groups(), 0);
}

#[test]
fn one_very_active_subject_does_not_dominate_the_mean() {
    let k = key(1);
    let mut a = Aggregator::new(&aggregated(10), 0).expect("aggregated");
    // Subject 1 reads 100 a thousand times; nine others read 0 once each.
    for i in 0..1_000 {
        a.add(&k, &obs(1, MIDNIGHT + i, fine(), 100.0));
    }
    for s in 2..=10 {
        a.add(&k, &obs(s, MIDNIGHT + MINUTE, fine(), 0.0));
    }
    let released = a.release(MIDNIGHT + HOUR);
    assert_eq!(released.rows.len(), 1);
    assert_eq!(released.rows[0].subjects, 10);
    // Per observation the mean would be 100,000 / 1,009 (about 99.1): subject 1's own value.
    assert_eq!(released.rows[0].mean, 10.0);
}

#[test]
fn a_spec_a_policy_could_not_declare_makes_no_aggregator() {
    for bad in [
        aggregated(1),
        aggregated(0),
        FormSpec::Aggregated {
            interval_s: 0,
            resolution: 8,
            min_group: 5,
        },
        FormSpec::Aggregated {
            interval_s: 7,
            resolution: 8,
            min_group: 5,
        },
    ] {
        assert!(Aggregator::new(&bad, 0).is_none(), "{bad:?}");
    }
    assert!(Aggregator::new(&aggregated(2), 0).is_some());
}

#[test]
fn the_moving_average_runs_per_cell_over_released_bins() {
    let a = up(fine(), Resolution::Eight);
    let b = LatLng::new(52.2, 5.3)
        .expect("valid")
        .to_cell(Resolution::Eight);
    assert_ne!(a, b);
    let row = |i: u64, cell: CellIndex, mean: f64| AggregateRow {
        bin_start_ms: MIDNIGHT + i * HOUR,
        cell,
        subjects: 3,
        mean,
    };
    // Cell a: 1, 2, 3, 4, 5 (given out of order); cell b: 10, 20 (bin 2 suppressed, absent).
    let rows = vec![
        row(3, a, 4.0),
        row(0, a, 1.0),
        row(0, b, 10.0),
        row(1, a, 2.0),
        row(2, a, 3.0),
        row(3, b, 20.0),
        row(4, a, 5.0),
    ];
    let averages = moving_average(&rows, 3);
    assert_eq!(
        averages,
        vec![
            (MIDNIGHT + 2 * HOUR, a, 2.0),
            (MIDNIGHT + 3 * HOUR, a, 3.0),
            (MIDNIGHT + 4 * HOUR, a, 4.0),
        ]
    );
    let pairs = moving_average(&rows, 2);
    assert!(pairs.contains(&(MIDNIGHT + 3 * HOUR, b, 15.0)));
    assert_eq!(pairs.len(), 5);
    assert_eq!(moving_average(&rows, 1).len(), rows.len());
    assert_eq!(moving_average(&rows, 0), Vec::new());
    assert_eq!(moving_average(&rows, 6), Vec::new());
}
