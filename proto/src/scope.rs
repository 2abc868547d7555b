//! Scope and form: where (zones of H3 cells), with which sensors, when (weekly windows of a fixed
//! local time) and in which forms a collector's policy collects ([`PolicyScope`]), how a
//! citizen's grant narrows that ([`GrantScope`]), the observation a check is about ([`Context`]),
//! and the rule that judges one against the others ([`evaluate`], [`required_form`]).
//!
//! The *effective scope* of a grant is the policy's declaration intersected with the grant's
//! narrowing ([`ScopeFacts`]): a dimension the policy declares constrains every grant to it, even
//! one that narrows nothing. A policy without a scope and a grant without one need no context:
//! the rule is then exactly what it was before scopes existed. The specification (crate docs,
//! "Scope and form") states every rule here in words; integers only, no floating point, no local
//! time zone, so every node, cache and client decides alike.

use std::fmt;
use std::sync::Arc;

use crate::body::text;
use crate::domain;
use crate::h3::{Cell, MAX_RESOLUTION};
use crate::limits::*;
use crate::pb::{self, Reason};
use crate::validate::Rejection;
use crate::vocab::{Form, Purpose, PurposeSet, SensorKind, SensorKindSet};

/// The only scope version: every present `PolicyScope` and `GrantScope` carries it.
pub const SCOPE_VERSION: u32 = 1;

/// Every day of the week, as [`TimeWindow::days`] bits.
pub const EVERY_DAY: u8 = 0x7f;

/// Minutes in a day: the latest [`TimeWindow::end_minute`].
pub const MINUTES_PER_DAY: u16 = 1_440;

/// A named set of H3 cells of one resolution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Zone {
    /// >= 1, unique in the policy.
    pub id: u32,
    /// Public name of the place.
    pub name: String,
    /// Resolution of every cell, 0..=15.
    pub resolution: u8,
    /// The cells, strictly ascending.
    pub cells: Vec<Cell>,
}

impl Zone {
    /// Whether an observation in `cell` is in the zone: `cell` is at least as fine as the zone
    /// and its parent at the zone's resolution is one of the zone's cells. A cell coarser than the
    /// zone is never in it (it reaches outside).
    pub fn contains(&self, cell: Cell) -> bool {
        cell.resolution() >= self.resolution
            && cell
                .parent(self.resolution)
                .is_some_and(|p| self.cells.binary_search(&p).is_ok())
    }
}

/// A sensor the collector operates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sensor {
    /// >= 1, unique in the policy.
    pub id: u32,
    /// Its kind.
    pub kind: SensorKind,
    /// The zone it stands in, if tied to one (informational: location is judged by the cell).
    pub zone: Option<u32>,
}

/// Days of the week and a span of minutes of local time. Never wraps past midnight.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TimeWindow {
    /// Bit 0 Monday ... bit 6 Sunday; 1..=127.
    pub days: u8,
    /// First minute inside, 0..=1439.
    pub start_minute: u16,
    /// First minute after, `start_minute + 1..=1440`.
    pub end_minute: u16,
}

impl TimeWindow {
    /// A window, if valid: `days` 1..=127, `start_minute < end_minute <= 1440`.
    pub fn new(days: u8, start_minute: u16, end_minute: u16) -> Option<TimeWindow> {
        let ok = (1..=EVERY_DAY).contains(&days)
            && start_minute < end_minute
            && end_minute <= MINUTES_PER_DAY;
        ok.then_some(TimeWindow {
            days,
            start_minute,
            end_minute,
        })
    }

    /// Whether local `weekday` (Monday 0) and `minute` of the day (0..=1439) are inside.
    pub fn contains(&self, weekday: u8, minute: u16) -> bool {
        weekday < 7
            && (self.days >> weekday) & 1 == 1
            && self.start_minute <= minute
            && minute < self.end_minute
    }

    /// Whether this window lies within `outer`: its days a subset, its minutes inside.
    pub fn within(&self, outer: &TimeWindow) -> bool {
        self.days & !outer.days == 0
            && self.start_minute >= outer.start_minute
            && self.end_minute <= outer.end_minute
    }

    /// The wire form.
    pub fn to_wire(&self) -> pb::TimeWindow {
        pb::TimeWindow {
            days: u32::from(self.days),
            start_minute: u32::from(self.start_minute),
            end_minute: u32::from(self.end_minute),
        }
    }

    fn from_wire(field: &'static str, i: usize, w: &pb::TimeWindow) -> Result<Self, Rejection> {
        let days = u8::try_from(w.days)
            .ok()
            .filter(|d| (1..=EVERY_DAY).contains(d));
        let Some(days) = days else {
            return Err(bad(
                field,
                format!("[{i}]: days must be 1..=127 (bit 0 Monday), got {}", w.days),
            ));
        };
        let start = u16::try_from(w.start_minute).ok();
        let end = u16::try_from(w.end_minute).ok();
        match (start, end) {
            (Some(start), Some(end)) if start < end && end <= MINUTES_PER_DAY => Ok(TimeWindow {
                days,
                start_minute: start,
                end_minute: end,
            }),
            _ => Err(bad(
                field,
                format!(
                    "[{i}]: minutes must satisfy start < end <= 1440 (no wrap past midnight), \
                     got {}..{}",
                    w.start_minute, w.end_minute
                ),
            )),
        }
    }
}

const DAY_NAMES: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

impl fmt::Display for TimeWindow {
    /// `mon-fri 07:00-19:00`, `mon,wed 00:00-24:00`, `every day 06:00-24:00`: runs of three or
    /// more days as `first-last`, other days listed, comma-separated.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.days & EVERY_DAY == EVERY_DAY {
            f.write_str("every day")?;
        } else {
            let mut parts = Vec::new();
            let mut d = 0usize;
            while d < 7 {
                if (self.days >> d) & 1 == 0 {
                    d += 1;
                    continue;
                }
                let start = d;
                while d + 1 < 7 && (self.days >> (d + 1)) & 1 == 1 {
                    d += 1;
                }
                match d - start {
                    0 => parts.push(DAY_NAMES[start].to_string()),
                    1 => {
                        parts.push(DAY_NAMES[start].to_string());
                        parts.push(DAY_NAMES[d].to_string());
                    }
                    _ => parts.push(format!("{}-{}", DAY_NAMES[start], DAY_NAMES[d])),
                }
                d += 1;
            }
            f.write_str(&parts.join(","))?;
        }
        let hm = |m: u16| format!("{:02}:{:02}", m / 60, m % 60);
        write!(f, " {}-{}", hm(self.start_minute), hm(self.end_minute))
    }
}

/// A form a policy offers for a purpose, with its parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FormSpec {
    /// As observed.
    Raw,
    /// The identifier replaced by a keyed hash.
    Pseudonymised,
    /// Pseudonymised, time floored to `interval_s`, cells coarsened to `resolution`.
    Binned {
        /// Time bin, seconds (60..=86,400, dividing 86,400).
        interval_s: u32,
        /// H3 resolution of the kept cells.
        resolution: u8,
    },
    /// Counts per (time bin, cell) over groups of at least `min_group` distinct subjects.
    Aggregated {
        /// Time bin, seconds.
        interval_s: u32,
        /// H3 resolution of the cells.
        resolution: u8,
        /// k: the fewest distinct subjects a released group holds (2..=1,000).
        min_group: u32,
    },
}

impl FormSpec {
    /// The form.
    pub fn form(&self) -> Form {
        match self {
            FormSpec::Raw => Form::Raw,
            FormSpec::Pseudonymised => Form::Pseudonymised,
            FormSpec::Binned { .. } => Form::Binned,
            FormSpec::Aggregated { .. } => Form::Aggregated,
        }
    }

    /// The time bin, seconds (binned and aggregated forms).
    pub fn interval_s(&self) -> Option<u32> {
        match self {
            FormSpec::Binned { interval_s, .. } | FormSpec::Aggregated { interval_s, .. } => {
                Some(*interval_s)
            }
            _ => None,
        }
    }

    /// The H3 resolution places are kept at (binned and aggregated forms).
    pub fn resolution(&self) -> Option<u8> {
        match self {
            FormSpec::Binned { resolution, .. } | FormSpec::Aggregated { resolution, .. } => {
                Some(*resolution)
            }
            _ => None,
        }
    }

    /// k (aggregated form).
    pub fn min_group(&self) -> Option<u32> {
        match self {
            FormSpec::Aggregated { min_group, .. } => Some(*min_group),
            _ => None,
        }
    }

    /// The wire form.
    pub fn to_wire(&self) -> pb::FormSpec {
        pb::FormSpec {
            form: self.form() as i32,
            interval_s: self.interval_s().unwrap_or(0),
            resolution: self.resolution().map_or(0, u32::from),
            min_group: self.min_group().unwrap_or(0),
        }
    }

    /// Checks and converts a wire spec; the error is the problem, in words.
    pub fn from_wire(w: &pb::FormSpec) -> Result<Self, String> {
        let form = Form::from_wire(w.form)
            .ok_or_else(|| format!("unknown or unspecified form {}", w.form))?;
        let interval = || {
            if (MIN_INTERVAL_S..=MAX_INTERVAL_S).contains(&w.interval_s)
                && MAX_INTERVAL_S.is_multiple_of(w.interval_s)
            {
                Ok(w.interval_s)
            } else {
                Err(format!(
                    "{form}: interval_s must be {MIN_INTERVAL_S}..={MAX_INTERVAL_S} and divide \
                     {MAX_INTERVAL_S}, got {}",
                    w.interval_s
                ))
            }
        };
        let resolution = || {
            u8::try_from(w.resolution)
                .ok()
                .filter(|r| *r <= MAX_RESOLUTION)
                .ok_or_else(|| format!("{form}: resolution must be 0..=15, got {}", w.resolution))
        };
        let zero = |what: &str, v: u32| {
            if v == 0 {
                Ok(())
            } else {
                Err(format!("{form}: {what} must be 0, got {v}"))
            }
        };
        Ok(match form {
            Form::Raw | Form::Pseudonymised => {
                zero("interval_s", w.interval_s)?;
                zero("resolution", w.resolution)?;
                zero("min_group", w.min_group)?;
                if form == Form::Raw {
                    FormSpec::Raw
                } else {
                    FormSpec::Pseudonymised
                }
            }
            Form::Binned => {
                let interval_s = interval()?;
                let resolution = resolution()?;
                zero("min_group", w.min_group)?;
                FormSpec::Binned {
                    interval_s,
                    resolution,
                }
            }
            Form::Aggregated => {
                let interval_s = interval()?;
                let resolution = resolution()?;
                if !(MIN_GROUP..=MAX_GROUP).contains(&w.min_group) {
                    return Err(format!(
                        "{form}: min_group must be {MIN_GROUP}..={MAX_GROUP}, got {}",
                        w.min_group
                    ));
                }
                FormSpec::Aggregated {
                    interval_s,
                    resolution,
                    min_group: w.min_group,
                }
            }
            Form::Unspecified => return Err("unspecified form".into()),
        })
    }
}

/// The forms a policy offers for one purpose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PurposeForms {
    /// The purpose.
    pub purpose: Purpose,
    /// 1..=4 specs, one per form, strictly ascending by rank.
    pub offers: Vec<FormSpec>,
}

/// What a policy declares. Lists of ids are sorted (strictly ascending), so two scopes compare
/// equal exactly when they declare the same.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PolicyScope {
    /// Local time = UTC + this many minutes, all year.
    pub utc_offset_minutes: i16,
    /// Zones, by id ascending.
    pub zones: Vec<Zone>,
    /// Sensors, by id ascending.
    pub sensors: Vec<Sensor>,
    /// Time windows.
    pub windows: Vec<TimeWindow>,
    /// Forms offered per purpose.
    pub forms: Vec<PurposeForms>,
}

/// How a grant narrows its policy's scope. Empty lists narrow nothing in that dimension.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GrantScope {
    /// Zone ids of the policy, ascending.
    pub zones: Vec<u32>,
    /// Sensor ids of the policy, ascending.
    pub sensors: Vec<u32>,
    /// Sensor kinds.
    pub sensor_kinds: SensorKindSet,
    /// Time windows (in the policy's UTC offset).
    pub windows: Vec<TimeWindow>,
    /// Per purpose, the least protective form accepted.
    pub forms: Vec<(Purpose, Form)>,
}

/// What the rule reads for one grant: its policy's declaration and the grant's narrowing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopeFacts {
    /// The policy's scope (empty when the policy declares none).
    pub policy: Arc<PolicyScope>,
    /// The grant's narrowing, if any.
    pub grant: Option<GrantScope>,
}

/// The observation a check is about. All `None` ([`Context::NONE`]): no context, as every check
/// was before scopes existed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Context {
    /// A sensor id of the policy.
    pub sensor: Option<u32>,
    /// Where the observation was made (any resolution).
    pub cell: Option<Cell>,
    /// When, Unix ms.
    pub observed_ms: Option<u64>,
    /// The form the collector will keep it in.
    pub form: Option<Form>,
}

/// Why a wire context is refused (INVALID_ARGUMENT at the API).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ContextError {
    /// `cell` is non-zero and not an H3 cell index.
    #[error("context.cell {0:x} is not an H3 cell index")]
    NotACell(u64),
    /// `form` is a number this release does not know.
    #[error("context.form: unknown form {0}")]
    UnknownForm(i32),
}

fn bad(field: &'static str, problem: impl Into<String>) -> Rejection {
    Rejection::BadField {
        field,
        problem: problem.into(),
    }
}

fn version(field: &'static str, v: u32) -> Result<(), Rejection> {
    if v == SCOPE_VERSION {
        Ok(())
    } else {
        Err(bad(
            field,
            format!("scope version {v} is not supported: {SCOPE_VERSION}"),
        ))
    }
}

fn at_most(field: &'static str, len: usize, max: usize) -> Result<(), Rejection> {
    if len > max {
        Err(bad(field, format!("at most {max}, got {len}")))
    } else {
        Ok(())
    }
}

/// `ids` strictly ascending, none 0.
fn ascending_ids(field: &'static str, ids: &[u32]) -> Result<(), Rejection> {
    for (i, id) in ids.iter().enumerate() {
        if *id == 0 {
            return Err(bad(field, format!("[{i}]: ids are >= 1")));
        }
        if i > 0 && ids[i - 1] >= *id {
            return Err(bad(
                field,
                format!(
                    "[{i}]: ids must be strictly ascending, {id} follows {}",
                    ids[i - 1]
                ),
            ));
        }
    }
    Ok(())
}

fn utc_offset(minutes: i32) -> Result<i16, Rejection> {
    let in_range = (MIN_UTC_OFFSET_MINUTES..=MAX_UTC_OFFSET_MINUTES).contains(&minutes)
        && minutes % UTC_OFFSET_STEP_MINUTES == 0;
    match i16::try_from(minutes) {
        Ok(m) if in_range => Ok(m),
        _ => Err(bad(
            "policy.scope.utc_offset_minutes",
            format!(
                "must be {MIN_UTC_OFFSET_MINUTES}..={MAX_UTC_OFFSET_MINUTES} and a multiple of \
                 {UTC_OFFSET_STEP_MINUTES}, got {minutes}"
            ),
        )),
    }
}

fn zone_from_wire(i: usize, z: &pb::Zone) -> Result<Zone, Rejection> {
    let name =
        text("policy.scope.zones.name", &z.name, MAX_ZONE_NAME_BYTES).map_err(|e| match e {
            Rejection::BadField { field, problem } => bad(field, format!("[{i}]: {problem}")),
            other => other,
        })?;
    let Some(resolution) = u8::try_from(z.resolution)
        .ok()
        .filter(|r| *r <= MAX_RESOLUTION)
    else {
        return Err(bad(
            "policy.scope.zones.resolution",
            format!("[{i}]: must be 0..=15, got {}", z.resolution),
        ));
    };
    if z.cells.is_empty() || z.cells.len() > MAX_CELLS_PER_ZONE {
        return Err(bad(
            "policy.scope.zones.cells",
            format!(
                "[{i}]: 1..={MAX_CELLS_PER_ZONE} cells, got {}",
                z.cells.len()
            ),
        ));
    }
    let mut cells: Vec<Cell> = Vec::with_capacity(z.cells.len());
    for (j, raw) in z.cells.iter().enumerate() {
        let Some(cell) = Cell::new(*raw) else {
            return Err(bad(
                "policy.scope.zones.cells",
                format!("[{i}][{j}]: {raw:x} is not an H3 cell index"),
            ));
        };
        if cell.resolution() != resolution {
            return Err(bad(
                "policy.scope.zones.cells",
                format!(
                    "[{i}][{j}]: {cell} is of resolution {}, not the zone's {resolution}",
                    cell.resolution()
                ),
            ));
        }
        if cells.last().is_some_and(|last| *last >= cell) {
            return Err(bad(
                "policy.scope.zones.cells",
                format!("[{i}][{j}]: cells must be strictly ascending, {cell} is not"),
            ));
        }
        cells.push(cell);
    }
    Ok(Zone {
        id: z.id,
        name,
        resolution,
        cells,
    })
}

impl PolicyScope {
    /// Checks and converts a wire scope of a policy declaring `purposes` (every rule of the
    /// specification's *Scope and form*; each violation is `bad-field`).
    pub fn from_wire(w: &pb::PolicyScope, purposes: PurposeSet) -> Result<Self, Rejection> {
        version("policy.scope.version", w.version)?;
        if w.zones.is_empty() && w.sensors.is_empty() && w.windows.is_empty() && w.forms.is_empty()
        {
            return Err(bad(
                "policy.scope",
                "declares no zone, sensor, window or form: omit the scope instead",
            ));
        }
        let utc_offset_minutes = utc_offset(w.utc_offset_minutes)?;

        at_most("policy.scope.zones", w.zones.len(), MAX_ZONES)?;
        let ids: Vec<u32> = w.zones.iter().map(|z| z.id).collect();
        ascending_ids("policy.scope.zones.id", &ids)?;
        let total: usize = w.zones.iter().map(|z| z.cells.len()).sum();
        if total > MAX_CELLS_PER_POLICY {
            return Err(bad(
                "policy.scope.zones.cells",
                format!("at most {MAX_CELLS_PER_POLICY} cells in all zones, got {total}"),
            ));
        }
        let zones = w
            .zones
            .iter()
            .enumerate()
            .map(|(i, z)| zone_from_wire(i, z))
            .collect::<Result<Vec<_>, _>>()?;

        at_most("policy.scope.sensors", w.sensors.len(), MAX_SENSORS)?;
        let ids: Vec<u32> = w.sensors.iter().map(|s| s.id).collect();
        ascending_ids("policy.scope.sensors.id", &ids)?;
        let mut sensors = Vec::with_capacity(w.sensors.len());
        for (i, s) in w.sensors.iter().enumerate() {
            let kind = SensorKind::from_wire(s.kind).ok_or_else(|| {
                bad(
                    "policy.scope.sensors.kind",
                    format!("[{i}]: unknown or unspecified sensor kind {}", s.kind),
                )
            })?;
            let zone = match s.zone {
                0 => None,
                z if ids_contain(&zones, z) => Some(z),
                z => {
                    return Err(bad(
                        "policy.scope.sensors.zone",
                        format!("[{i}]: zone {z} is not a zone of the policy"),
                    ));
                }
            };
            sensors.push(Sensor {
                id: s.id,
                kind,
                zone,
            });
        }

        at_most("policy.scope.windows", w.windows.len(), MAX_WINDOWS)?;
        let windows = w
            .windows
            .iter()
            .enumerate()
            .map(|(i, x)| TimeWindow::from_wire("policy.scope.windows", i, x))
            .collect::<Result<Vec<_>, _>>()?;

        at_most("policy.scope.forms", w.forms.len(), MAX_FORM_PURPOSES)?;
        let mut seen = PurposeSet::EMPTY;
        let mut forms = Vec::with_capacity(w.forms.len());
        for (i, pf) in w.forms.iter().enumerate() {
            let purpose = Purpose::from_wire(pf.purpose).ok_or_else(|| {
                bad(
                    "policy.scope.forms.purpose",
                    format!("[{i}]: unknown or unspecified purpose {}", pf.purpose),
                )
            })?;
            if !purposes.contains(purpose) {
                return Err(bad(
                    "policy.scope.forms.purpose",
                    format!("[{i}]: {purpose} is not one of the policy's purposes"),
                ));
            }
            if !seen.insert(purpose) {
                return Err(bad(
                    "policy.scope.forms.purpose",
                    format!("[{i}]: {purpose} listed twice"),
                ));
            }
            if pf.offers.is_empty() || pf.offers.len() > MAX_FORM_OFFERS {
                return Err(bad(
                    "policy.scope.forms.offers",
                    format!(
                        "[{i}]: 1..={MAX_FORM_OFFERS} offers, got {}",
                        pf.offers.len()
                    ),
                ));
            }
            let mut offers: Vec<FormSpec> = Vec::with_capacity(pf.offers.len());
            for (j, o) in pf.offers.iter().enumerate() {
                let spec = FormSpec::from_wire(o)
                    .map_err(|p| bad("policy.scope.forms.offers", format!("[{i}][{j}]: {p}")))?;
                if offers
                    .last()
                    .is_some_and(|last| last.form().rank() >= spec.form().rank())
                {
                    return Err(bad(
                        "policy.scope.forms.offers",
                        format!(
                            "[{i}][{j}]: one offer per form, strictly ascending by rank \
                             (raw, pseudonymised, binned, aggregated); {} is not",
                            spec.form()
                        ),
                    ));
                }
                offers.push(spec);
            }
            forms.push(PurposeForms { purpose, offers });
        }

        Ok(PolicyScope {
            utc_offset_minutes,
            zones,
            sensors,
            windows,
            forms,
        })
    }

    /// The wire form (`version` 1).
    pub fn to_wire(&self) -> pb::PolicyScope {
        pb::PolicyScope {
            version: SCOPE_VERSION,
            utc_offset_minutes: i32::from(self.utc_offset_minutes),
            zones: self
                .zones
                .iter()
                .map(|z| pb::Zone {
                    id: z.id,
                    name: z.name.clone(),
                    resolution: u32::from(z.resolution),
                    cells: z.cells.iter().map(|c| c.raw()).collect(),
                })
                .collect(),
            sensors: self
                .sensors
                .iter()
                .map(|s| pb::Sensor {
                    id: s.id,
                    kind: s.kind as i32,
                    zone: s.zone.unwrap_or(0),
                })
                .collect(),
            windows: self.windows.iter().map(TimeWindow::to_wire).collect(),
            forms: self
                .forms
                .iter()
                .map(|pf| pb::PurposeForms {
                    purpose: pf.purpose as i32,
                    offers: pf.offers.iter().map(FormSpec::to_wire).collect(),
                })
                .collect(),
        }
    }

    /// Whether it declares nothing (no zone, sensor, window or form).
    pub fn is_empty(&self) -> bool {
        self.zones.is_empty()
            && self.sensors.is_empty()
            && self.windows.is_empty()
            && self.forms.is_empty()
    }

    /// The zone `id`.
    pub fn zone(&self, id: u32) -> Option<&Zone> {
        self.zones
            .binary_search_by_key(&id, |z| z.id)
            .ok()
            .map(|i| &self.zones[i])
    }

    /// The sensor `id`.
    pub fn sensor(&self, id: u32) -> Option<&Sensor> {
        self.sensors
            .binary_search_by_key(&id, |s| s.id)
            .ok()
            .map(|i| &self.sensors[i])
    }

    /// The forms offered for `purpose` (empty: none declared, no form is required).
    pub fn offers(&self, purpose: Purpose) -> &[FormSpec] {
        self.forms
            .iter()
            .find(|pf| pf.purpose == purpose)
            .map(|pf| pf.offers.as_slice())
            .unwrap_or(&[])
    }

    /// The offer of `form` for `purpose`, if any.
    pub fn offer(&self, purpose: Purpose, form: Form) -> Option<&FormSpec> {
        self.offers(purpose).iter().find(|o| o.form() == form)
    }
}

fn ids_contain(zones: &[Zone], id: u32) -> bool {
    zones.binary_search_by_key(&id, |z| z.id).is_ok()
}

impl GrantScope {
    /// Checks and converts a wire narrowing of a grant covering `purposes` (structural rules
    /// only; [`GrantScope::within`] checks it against the policy). Each violation is `bad-field`.
    pub fn from_wire(w: &pb::GrantScope, purposes: PurposeSet) -> Result<Self, Rejection> {
        version("grant.scope.version", w.version)?;
        if w.zones.is_empty()
            && w.sensors.is_empty()
            && w.sensor_kinds.is_empty()
            && w.windows.is_empty()
            && w.forms.is_empty()
        {
            return Err(bad(
                "grant.scope",
                "narrows nothing: omit the scope instead (the grant then covers the whole policy)",
            ));
        }
        at_most("grant.scope.zones", w.zones.len(), MAX_ZONES)?;
        ascending_ids("grant.scope.zones", &w.zones)?;
        at_most("grant.scope.sensors", w.sensors.len(), MAX_SENSORS)?;
        ascending_ids("grant.scope.sensors", &w.sensors)?;
        at_most(
            "grant.scope.sensor_kinds",
            w.sensor_kinds.len(),
            MAX_SENSOR_KINDS,
        )?;
        let mut sensor_kinds = SensorKindSet::EMPTY;
        for (i, k) in w.sensor_kinds.iter().enumerate() {
            let kind = SensorKind::from_wire(*k).ok_or_else(|| {
                bad(
                    "grant.scope.sensor_kinds",
                    format!("[{i}]: unknown or unspecified sensor kind {k}"),
                )
            })?;
            if !sensor_kinds.insert(kind) {
                return Err(bad(
                    "grant.scope.sensor_kinds",
                    format!("[{i}]: {kind} listed twice"),
                ));
            }
        }
        at_most("grant.scope.windows", w.windows.len(), MAX_WINDOWS)?;
        let windows = w
            .windows
            .iter()
            .enumerate()
            .map(|(i, x)| TimeWindow::from_wire("grant.scope.windows", i, x))
            .collect::<Result<Vec<_>, _>>()?;
        at_most("grant.scope.forms", w.forms.len(), MAX_FORM_PURPOSES)?;
        let mut seen = PurposeSet::EMPTY;
        let mut forms = Vec::with_capacity(w.forms.len());
        for (i, pf) in w.forms.iter().enumerate() {
            let purpose = Purpose::from_wire(pf.purpose).ok_or_else(|| {
                bad(
                    "grant.scope.forms.purpose",
                    format!("[{i}]: unknown or unspecified purpose {}", pf.purpose),
                )
            })?;
            if !purposes.contains(purpose) {
                return Err(bad(
                    "grant.scope.forms.purpose",
                    format!("[{i}]: {purpose} is not one of the grant's purposes"),
                ));
            }
            if !seen.insert(purpose) {
                return Err(bad(
                    "grant.scope.forms.purpose",
                    format!("[{i}]: {purpose} listed twice"),
                ));
            }
            let form = Form::from_wire(pf.form).ok_or_else(|| {
                bad(
                    "grant.scope.forms.form",
                    format!("[{i}]: unknown or unspecified form {}", pf.form),
                )
            })?;
            forms.push((purpose, form));
        }
        Ok(GrantScope {
            zones: w.zones.clone(),
            sensors: w.sensors.clone(),
            sensor_kinds,
            windows,
            forms,
        })
    }

    /// The wire form (`version` 1; sensor kinds in wire order).
    pub fn to_wire(&self) -> pb::GrantScope {
        pb::GrantScope {
            version: SCOPE_VERSION,
            zones: self.zones.clone(),
            sensors: self.sensors.clone(),
            sensor_kinds: self.sensor_kinds.iter().map(|k| k as i32).collect(),
            windows: self.windows.iter().map(TimeWindow::to_wire).collect(),
            forms: self
                .forms
                .iter()
                .map(|(p, f)| pb::PurposeForm {
                    purpose: *p as i32,
                    form: *f as i32,
                })
                .collect(),
        }
    }

    /// Whether it narrows nothing.
    pub fn is_empty(&self) -> bool {
        self.zones.is_empty()
            && self.sensors.is_empty()
            && self.sensor_kinds.is_empty()
            && self.windows.is_empty()
            && self.forms.is_empty()
    }

    /// The least protective form accepted for `purpose`, if the grant sets one.
    pub fn floor(&self, purpose: Purpose) -> Option<Form> {
        self.forms
            .iter()
            .find(|(p, _)| *p == purpose)
            .map(|(_, f)| *f)
    }

    /// Whether it lies within `policy`'s scope (an empty [`PolicyScope`] for a policy without
    /// one), checked in this order, the first offending item in list order named:
    /// `zone-not-in-policy` (a zone id the policy does not declare), `sensor-not-in-policy` (a
    /// sensor id it does not declare, then a kind none of its sensors has),
    /// `window-not-in-policy` (when the policy declares windows, a window within none of them),
    /// `form-not-offered` (a floor the policy does not offer for that purpose).
    pub fn within(&self, policy: &PolicyScope) -> Result<(), Rejection> {
        if let Some(z) = self.zones.iter().find(|z| policy.zone(**z).is_none()) {
            return Err(Rejection::ZoneNotInPolicy(*z));
        }
        if let Some(s) = self.sensors.iter().find(|s| policy.sensor(**s).is_none()) {
            return Err(Rejection::SensorNotInPolicy {
                sensor: Some(*s),
                kind: None,
            });
        }
        if let Some(k) = self
            .sensor_kinds
            .iter()
            .find(|k| !policy.sensors.iter().any(|s| s.kind == *k))
        {
            return Err(Rejection::SensorNotInPolicy {
                sensor: None,
                kind: Some(k),
            });
        }
        if !policy.windows.is_empty()
            && let Some(w) = self
                .windows
                .iter()
                .find(|w| !policy.windows.iter().any(|outer| w.within(outer)))
        {
            return Err(Rejection::WindowNotInPolicy(*w));
        }
        if let Some((purpose, form)) = self
            .forms
            .iter()
            .find(|(p, f)| policy.offer(*p, *f).is_none())
        {
            return Err(Rejection::FormNotOffered {
                purpose: *purpose,
                form: *form,
            });
        }
        Ok(())
    }
}

impl ScopeFacts {
    /// What the rule reads for a grant under a policy: `None` when the policy declares no scope
    /// and the grant narrows nothing (the rule is then the one without scopes), else both, the
    /// policy's scope empty when it has none. The one constructor the node, the SDK cache and
    /// [`crate::memory::MemoryLedger`] use.
    pub fn resolve(
        policy: Option<Arc<PolicyScope>>,
        grant: Option<GrantScope>,
    ) -> Option<Arc<ScopeFacts>> {
        if policy.is_none() && grant.is_none() {
            return None;
        }
        Some(Arc::new(ScopeFacts {
            policy: policy.unwrap_or_default(),
            grant,
        }))
    }
}

impl Context {
    /// No context.
    pub const NONE: Context = Context {
        sensor: None,
        cell: None,
        observed_ms: None,
        form: None,
    };

    /// The context of a check (absent: [`Context::NONE`]). Zero values are "not given"; a
    /// non-zero cell that is not an H3 cell and an unknown form number are refused. Sensor ids and
    /// times are never refused (an unknown sensor is a deny, not an error).
    pub fn from_wire(w: Option<&pb::ObservationContext>) -> Result<Context, ContextError> {
        let Some(w) = w else {
            return Ok(Context::NONE);
        };
        let cell = match w.cell {
            0 => None,
            raw => Some(Cell::new(raw).ok_or(ContextError::NotACell(raw))?),
        };
        let form = match w.form {
            0 => None,
            f => Some(Form::from_wire(f).ok_or(ContextError::UnknownForm(f))?),
        };
        Ok(Context {
            sensor: (w.sensor != 0).then_some(w.sensor),
            cell,
            observed_ms: (w.observed_ms != 0).then_some(w.observed_ms),
            form,
        })
    }

    /// The wire form; `None` when nothing is given.
    pub fn to_wire(&self) -> Option<pb::ObservationContext> {
        (*self != Context::NONE).then(|| pb::ObservationContext {
            sensor: self.sensor.unwrap_or(0),
            cell: self.cell.map_or(0, Cell::raw),
            observed_ms: self.observed_ms.unwrap_or(0),
            form: self.form.map_or(0, |f| f as i32),
        })
    }

    /// The context digest ([`context_digest`] of its wire form, zeros for what is not given).
    pub fn digest(&self) -> [u8; 32] {
        context_digest(
            self.sensor.unwrap_or(0),
            self.cell.map_or(0, Cell::raw),
            self.observed_ms.unwrap_or(0),
            self.form.map_or(0, |f| f as i32),
        )
    }
}

/// `BLAKE3("consent-ledger/context/v1" || sensor (u32 BE) || cell (u64 BE) || observed_ms (u64
/// BE) || form (1 byte: the low byte of its wire number))`.
pub fn context_digest(sensor: u32, cell: u64, observed_ms: u64, form: i32) -> [u8; 32] {
    let mut h = blake3::Hasher::new();
    h.update(domain::CONTEXT);
    h.update(&sensor.to_be_bytes());
    h.update(&cell.to_be_bytes());
    h.update(&observed_ms.to_be_bytes());
    h.update(&[(form & 0xff) as u8]);
    *h.finalize().as_bytes()
}

/// Local weekday (Monday 0 ... Sunday 6) and minute of the day (0..=1439) of `observed_ms` at a
/// fixed `utc_offset_minutes`: integers only, floor division as in the specification.
pub fn local_time(observed_ms: u64, utc_offset_minutes: i16) -> (u8, u16) {
    const DAY_MS: i128 = 86_400_000;
    let local = i128::from(observed_ms) + 60_000 * i128::from(utc_offset_minutes);
    let day = local.div_euclid(DAY_MS);
    let minute = (local - day * DAY_MS) / 60_000;
    // 1970-01-01 was a Thursday (weekday 3).
    let weekday = (day + 3).rem_euclid(7);
    (weekday as u8, minute as u16)
}

/// Step 6 of the decision rule: whether the observation `ctx` for `purpose` lies in the grant's
/// effective scope. Missing context first (sensor, cell, time, form, each only if a dimension
/// needs it), then coverage in the same order; the first failure is the reason.
pub fn evaluate(scope: &ScopeFacts, purpose: Purpose, ctx: &Context) -> Result<(), Reason> {
    let p = &*scope.policy;
    let g = scope.grant.as_ref();
    let offers = p.offers(purpose);
    let needs_sensor = !p.sensors.is_empty();
    let needs_cell = !p.zones.is_empty();
    let needs_time = !p.windows.is_empty() || g.is_some_and(|g| !g.windows.is_empty());
    let needs_form = !offers.is_empty();

    let sensor = match (needs_sensor, ctx.sensor) {
        (true, None) => return Err(Reason::ContextMissingSensor),
        (_, s) => s,
    };
    let cell = match (needs_cell, ctx.cell) {
        (true, None) => return Err(Reason::ContextMissingCell),
        (_, c) => c,
    };
    let observed = match (needs_time, ctx.observed_ms) {
        (true, None) => return Err(Reason::ContextMissingTime),
        (_, t) => t,
    };
    let form = match (needs_form, ctx.form) {
        (true, None) => return Err(Reason::ContextMissingForm),
        (_, f) => f,
    };

    if let (true, Some(id)) = (needs_sensor, sensor) {
        let s = p.sensor(id).ok_or(Reason::SensorNotCovered)?;
        if let Some(g) = g
            && !(g.sensors.is_empty() && g.sensor_kinds.is_empty())
            && g.sensors.binary_search(&id).is_err()
            && !g.sensor_kinds.contains(s.kind)
        {
            return Err(Reason::SensorNotCovered);
        }
    }
    if let (true, Some(cell)) = (needs_cell, cell) {
        let covered = match g.filter(|g| !g.zones.is_empty()) {
            Some(g) => g
                .zones
                .iter()
                .filter_map(|id| p.zone(*id))
                .any(|z| z.contains(cell)),
            None => p.zones.iter().any(|z| z.contains(cell)),
        };
        if !covered {
            return Err(Reason::ZoneNotCovered);
        }
    }
    if let (true, Some(t)) = (needs_time, observed) {
        let (weekday, minute) = local_time(t, p.utc_offset_minutes);
        let inside = |windows: &[TimeWindow]| windows.iter().any(|w| w.contains(weekday, minute));
        if !p.windows.is_empty() && !inside(p.windows.as_slice()) {
            return Err(Reason::TimeNotCovered);
        }
        if let Some(g) = g
            && !g.windows.is_empty()
            && !inside(g.windows.as_slice())
        {
            return Err(Reason::TimeNotCovered);
        }
    }
    if let (true, Some(f)) = (needs_form, form) {
        if !offers.iter().any(|o| o.form() == f) {
            return Err(Reason::FormNotCovered);
        }
        if let Some(floor) = g.and_then(|g| g.floor(purpose))
            && f.rank() < floor.rank()
        {
            return Err(Reason::FormNotCovered);
        }
    }
    Ok(())
}

/// The form data kept for `purpose` must be in under this scope: the grant's floor for the
/// purpose, else the least protective form the policy offers for it, else `None` (no form is
/// required).
pub fn required_form(scope: &ScopeFacts, purpose: Purpose) -> Option<Form> {
    scope
        .grant
        .as_ref()
        .and_then(|g| g.floor(purpose))
        .or_else(|| {
            scope
                .policy
                .offers(purpose)
                .iter()
                .map(FormSpec::form)
                .min_by_key(|f| f.rank())
        })
}

#[cfg(test)]
mod tests;
