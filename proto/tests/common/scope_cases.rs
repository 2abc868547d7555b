//! Seeded random scopes, grants and contexts, shared by the property tests (`tests/scope.rs`)
//! and the test vectors' `scope_decisions` (`tests/vectors/`). Everything follows from one
//! `u64` seed (SplitMix64), so a failing case is reproduced from its seed alone. Policy scopes
//! are valid by construction (cells: random descendants of three fixed resolution-7 hexagons
//! around Utrecht, zones of resolution 8 to 12); grant scopes lie within their policy's.

#![allow(dead_code)]

use consent_proto::h3::Cell;
use consent_proto::scope::{
    Context, FormSpec, GrantScope, PolicyScope, PurposeForms, Sensor, TimeWindow, Zone,
};
use consent_proto::vocab::{
    CategorySet, DataCategory, Form, Purpose, PurposeSet, SensorKind, SensorKindSet,
};

/// 2025-06-16T00:00:00Z, a Monday: the cases' times are around it.
pub const T: u64 = 1_750_032_000_000;
/// One minute, ms.
pub const MINUTE: u64 = 60_000;
/// One day, ms.
pub const DAY: u64 = 86_400_000;

/// Three resolution-7 hexagons (none a pentagon) around 52.09 N 5.12 E.
pub const PARENTS: [u64; 3] = [0x871969082ffffff, 0x871969090ffffff, 0x87196908effffff];

/// The purposes of every generated policy (third-party sharing, for opt-outs).
pub const PURPOSES: [Purpose; 5] = [
    Purpose::ServiceProvision,
    Purpose::Research,
    Purpose::ThirdPartySharing,
    Purpose::UrbanPlanning,
    Purpose::Billing,
];

/// The categories of every generated policy.
pub const CATEGORIES: [DataCategory; 2] = [DataCategory::Location, DataCategory::Mobility];

/// The sensor kinds generated policies use (few, so grants' kinds often match).
pub const KINDS: [SensorKind; 4] = [
    SensorKind::Camera,
    SensorKind::AirQuality,
    SensorKind::WifiCounter,
    SensorKind::NumberPlateReader,
];

/// Every form, by rank.
pub const FORMS: [Form; 4] = [
    Form::Raw,
    Form::Pseudonymised,
    Form::Binned,
    Form::Aggregated,
];

/// SplitMix64.
pub struct Rng(u64);

impl Rng {
    /// A generator for `seed`.
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    /// The next 64 bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0; the slight bias does not matter here).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// True `percent` times in a hundred.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    /// One of `items` (not empty).
    pub fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize]
    }

    /// A subset of `items`, each kept with probability one half, in their order.
    pub fn subset<T: Copy>(&mut self, items: &[T]) -> Vec<T> {
        items.iter().copied().filter(|_| self.chance(50)).collect()
    }

    /// A non-empty subset of `items` (not empty).
    pub fn some_of<T: Copy>(&mut self, items: &[T]) -> Vec<T> {
        let mut s = self.subset(items);
        if s.is_empty() {
            s.push(self.pick(items));
        }
        s
    }
}

/// `cell` made finer by `digits` (each 0..=6): its descendant at `resolution + digits.len()`.
pub fn finer(cell: u64, digits: &[u64]) -> u64 {
    let r = (cell >> 52) & 0xF;
    let mut h = (cell & !(0xF << 52)) | ((r + digits.len() as u64) << 52);
    for (k, d) in digits.iter().enumerate() {
        let i = r + 1 + k as u64;
        let shift = 3 * (15 - i);
        h = (h & !(7 << shift)) | (*d << shift);
    }
    h
}

/// A random descendant of the hexagon `cell`, `levels` finer.
pub fn random_finer(rng: &mut Rng, cell: u64, levels: u64) -> u64 {
    let digits: Vec<u64> = (0..levels).map(|_| rng.below(7)).collect();
    finer(cell, &digits)
}

fn cell(raw: u64) -> Cell {
    match Cell::new(raw) {
        Some(c) => c,
        None => panic!("generated {raw:x} is not a cell"),
    }
}

/// A random window: some days, a span of half hours.
pub fn window(rng: &mut Rng) -> TimeWindow {
    let start = rng.below(48) as u16 * 30;
    let end = start + 30 * (1 + rng.below(u64::from((1440 - start) / 30)) as u16);
    TimeWindow {
        days: 1 + rng.below(127) as u8,
        start_minute: start,
        end_minute: end,
    }
}

fn spec(rng: &mut Rng, form: Form) -> FormSpec {
    let interval_s = rng.pick(&[60, 900, 3_600, 86_400]);
    let resolution = rng.below(16) as u8;
    match form {
        Form::Raw => FormSpec::Raw,
        Form::Pseudonymised => FormSpec::Pseudonymised,
        Form::Binned => FormSpec::Binned {
            interval_s,
            resolution,
        },
        _ => FormSpec::Aggregated {
            interval_s,
            resolution,
            min_group: 2 + rng.below(9) as u32,
        },
    }
}

/// A random policy scope over [`PURPOSES`], or none (about one in six, or when it declares
/// nothing).
pub fn policy_scope(rng: &mut Rng) -> Option<PolicyScope> {
    if rng.chance(15) {
        return None;
    }
    let utc_offset_minutes = (rng.below(105) as i16) * 15 - 720;
    let mut zones = Vec::new();
    let mut id = 0;
    for _ in 0..rng.below(4) {
        id += 1 + rng.below(3) as u32;
        let parent = rng.pick(&PARENTS);
        let resolution = 8 + rng.below(5) as u8;
        let mut cells: Vec<Cell> = (0..1 + rng.below(6))
            .map(|_| cell(random_finer(rng, parent, u64::from(resolution) - 7)))
            .collect();
        cells.sort();
        cells.dedup();
        zones.push(Zone {
            id,
            name: format!("zone {id}"),
            resolution,
            cells,
        });
    }
    let zone_ids: Vec<u32> = zones.iter().map(|z| z.id).collect();
    let mut sensors = Vec::new();
    let mut id = 0;
    for _ in 0..rng.below(7) {
        id += 1 + rng.below(3) as u32;
        let zone = (!zone_ids.is_empty() && rng.chance(50)).then(|| rng.pick(&zone_ids));
        sensors.push(Sensor {
            id,
            kind: rng.pick(&KINDS),
            zone,
        });
    }
    let mut windows: Vec<TimeWindow> = Vec::new();
    for _ in 0..rng.below(4) {
        let w = window(rng);
        // Each window once (rule 5b).
        if !windows.contains(&w) {
            windows.push(w);
        }
    }
    let mut forms = Vec::new();
    for purpose in PURPOSES {
        if rng.chance(40) {
            let offers = rng
                .some_of(&FORMS)
                .into_iter()
                .map(|f| spec(rng, f))
                .collect();
            forms.push(PurposeForms { purpose, offers });
        }
    }
    let scope = PolicyScope {
        utc_offset_minutes,
        zones,
        sensors,
        windows,
        forms,
    };
    (!scope.is_empty()).then_some(scope)
}

/// A random window within `outer`.
fn window_within(rng: &mut Rng, outer: &TimeWindow) -> TimeWindow {
    let days = outer.days & rng.below(128) as u8;
    let days = if days == 0 {
        outer.days & outer.days.wrapping_neg()
    } else {
        days
    };
    let span = u64::from(outer.end_minute - outer.start_minute);
    let a = rng.below(span);
    let b = a + 1 + rng.below(span - a);
    TimeWindow {
        days,
        start_minute: outer.start_minute + a as u16,
        end_minute: outer.start_minute + b as u16,
    }
}

/// A random narrowing of `policy` (empty when the policy has none) for a grant of `purposes`,
/// within it; `None` about two times in five, or when it narrows nothing.
pub fn grant_scope(
    rng: &mut Rng,
    policy: &PolicyScope,
    purposes: PurposeSet,
) -> Option<GrantScope> {
    if rng.chance(40) {
        return None;
    }
    let zone_ids: Vec<u32> = policy.zones.iter().map(|z| z.id).collect();
    let sensor_ids: Vec<u32> = policy.sensors.iter().map(|s| s.id).collect();
    let kinds: Vec<SensorKind> = KINDS
        .iter()
        .copied()
        .filter(|k| policy.sensors.iter().any(|s| s.kind == *k))
        .collect();
    let zones = if !zone_ids.is_empty() && rng.chance(35) {
        rng.some_of(&zone_ids)
    } else {
        Vec::new()
    };
    let sensors = if !sensor_ids.is_empty() && rng.chance(35) {
        rng.some_of(&sensor_ids)
    } else {
        Vec::new()
    };
    let sensor_kinds: SensorKindSet = if !kinds.is_empty() && rng.chance(25) {
        rng.some_of(&kinds).into_iter().collect()
    } else {
        SensorKindSet::EMPTY
    };
    let mut windows = Vec::new();
    if rng.chance(35) {
        for _ in 0..1 + rng.below(2) {
            let w = if policy.windows.is_empty() {
                window(rng)
            } else {
                let outer = rng.pick(&policy.windows);
                window_within(rng, &outer)
            };
            if !windows.contains(&w) {
                windows.push(w);
            }
        }
    }
    let mut forms = Vec::new();
    for purpose in purposes.iter() {
        let offered = policy.offers(purpose);
        if !offered.is_empty() && rng.chance(35) {
            forms.push((purpose, rng.pick(offered).form()));
        }
    }
    let scope = GrantScope {
        zones,
        sensors,
        sensor_kinds,
        windows,
        forms,
    };
    (!scope.is_empty()).then_some(scope)
}

/// A later version of `policy` that keeps every sensor id but gives about half of them another
/// kind (drawn from [`KINDS`], so sometimes the same): the reuse of ids the rule must not let
/// widen a grant of the earlier version (attacker review M1).
pub fn redeclared(rng: &mut Rng, policy: &PolicyScope) -> PolicyScope {
    let mut later = policy.clone();
    for s in &mut later.sensors {
        if rng.chance(50) {
            s.kind = rng.pick(&KINDS);
        }
    }
    later
}

/// A random observation: each part absent one time in five; cells inside a zone (at its
/// resolution or finer), coarser than a zone, or anywhere near. The sensor is named in the
/// numbering of `policy`: a declared id three times in four, with the kind `policy` gives it
/// seven times in ten, else a kind of [`KINDS`] (sometimes the same); its kind is absent one
/// time in ten, and always when the sensor is (the wire refuses a kind alone).
pub fn context(rng: &mut Rng, policy: &PolicyScope) -> Context {
    let sensor_ids: Vec<u32> = policy.sensors.iter().map(|s| s.id).collect();
    let sensor = (!rng.chance(20)).then(|| {
        if !sensor_ids.is_empty() && rng.chance(75) {
            rng.pick(&sensor_ids)
        } else {
            1 + rng.below(9) as u32
        }
    });
    let sensor_kind = sensor.and_then(|id| {
        if rng.chance(10) {
            return None;
        }
        let declared = policy.sensor(id).map(|s| s.kind);
        Some(match declared {
            Some(kind) if rng.chance(70) => kind,
            _ => rng.pick(&KINDS),
        })
    });
    let cell = (!rng.chance(20)).then(|| {
        let raw = if !policy.zones.is_empty() && rng.chance(60) {
            let zone = &policy.zones[rng.below(policy.zones.len() as u64) as usize];
            let inside = rng.pick(&zone.cells).raw();
            match rng.below(3) {
                0 => inside,
                1 => {
                    let levels = rng.below(4).min(15 - u64::from(zone.resolution));
                    random_finer(rng, inside, levels)
                }
                _ => {
                    let coarser = 7 + rng.below(u64::from(zone.resolution) - 7) as u8;
                    match Cell::new(inside).and_then(|c| c.parent(coarser)) {
                        Some(c) => c.raw(),
                        None => inside,
                    }
                }
            }
        } else {
            let parent = rng.pick(&PARENTS);
            let levels = 1 + rng.below(8);
            random_finer(rng, parent, levels)
        };
        cell(raw)
    });
    let observed_ms = (!rng.chance(20)).then(|| T - 3 * DAY + rng.below(17 * DAY));
    let form = (!rng.chance(20)).then(|| rng.pick(&FORMS));
    Context {
        sensor,
        sensor_kind,
        cell,
        observed_ms,
        form,
    }
}

/// A random validity: from (0, the day before [`T`], two or five days after) until (open, or
/// 3, 8 or 20 days after `T`, when after from).
pub fn validity(rng: &mut Rng) -> (u64, Option<u64>) {
    let from = rng.pick(&[0, T - DAY, T + 2 * DAY, T + 5 * DAY]);
    let until = rng
        .pick(&[
            None,
            Some(T + 3 * DAY),
            Some(T + 8 * DAY),
            Some(T + 20 * DAY),
        ])
        .filter(|u| *u > from);
    (from, until)
}

/// A non-empty subset of [`PURPOSES`].
pub fn purposes(rng: &mut Rng) -> PurposeSet {
    rng.some_of(&PURPOSES).into_iter().collect()
}

/// A non-empty subset of [`CATEGORIES`].
pub fn categories(rng: &mut Rng) -> CategorySet {
    rng.some_of(&CATEGORIES).into_iter().collect()
}

/// The time a question is about: within two weeks from [`T`].
pub fn at(rng: &mut Rng) -> u64 {
    T + rng.below(14 * DAY)
}

/// The purpose asked about: one of the policy's, or (one time in ten) marketing, which no
/// generated policy declares.
pub fn purpose(rng: &mut Rng) -> Purpose {
    if rng.chance(10) {
        Purpose::Marketing
    } else {
        rng.pick(&PURPOSES)
    }
}
