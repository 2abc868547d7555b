//! The protobuf forms of scopes, forms and contexts: `to_wire` of each, and `from_wire` with
//! every structural rule of the specification's *Scope and form* (each violation a `bad-field`
//! [`Rejection`] naming the field; a context's a [`ContextError`]). Whether a grant's narrowing
//! lies within its policy's scope is not structural: see [`GrantScope::within`].

use super::{
    Context, ContextError, EVERY_DAY, FormSpec, GrantScope, MINUTES_PER_DAY, PolicyScope,
    PurposeForms, SCOPE_VERSION, Sensor, TimeWindow, Zone,
};
use crate::body::text;
use crate::h3::{Cell, MAX_RESOLUTION};
use crate::limits::*;
use crate::pb;
use crate::validate::Rejection;
use crate::vocab::{Form, Purpose, PurposeSet, SensorKind, SensorKindSet};

impl TimeWindow {
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

impl FormSpec {
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

/// Rule 5b for windows: the author's order, each window once (a repeated window would give one
/// statement two encodings).
fn no_repeated_window(field: &'static str, windows: &[TimeWindow]) -> Result<(), Rejection> {
    for (i, window) in windows.iter().enumerate() {
        if let Some(j) = windows[..i].iter().position(|w| w == window) {
            return Err(bad(
                field,
                format!("[{i}]: the same window as [{j}] ({window}): give each window once"),
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
        no_repeated_window("policy.scope.windows", &windows)?;

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
        no_repeated_window("grant.scope.windows", &windows)?;
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
}

impl Context {
    /// The context of a check (absent: [`Context::NONE`]). Zero values are "not given"; refused,
    /// in this order: a non-zero cell that is not an H3 cell, an unknown form number, an unknown
    /// sensor kind number, a sensor kind without a sensor id. Sensor ids and times are never
    /// refused (an unknown sensor, or one of another kind, is a deny, not an error).
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
        let sensor_kind = match w.sensor_kind {
            0 => None,
            k => Some(SensorKind::from_wire(k).ok_or(ContextError::UnknownSensorKind(k))?),
        };
        if let (0, Some(kind)) = (w.sensor, sensor_kind) {
            return Err(ContextError::SensorKindWithoutSensor(kind));
        }
        Ok(Context {
            sensor: (w.sensor != 0).then_some(w.sensor),
            sensor_kind,
            cell,
            observed_ms: (w.observed_ms != 0).then_some(w.observed_ms),
            form,
        })
    }

    /// The wire form; `None` when nothing is given.
    pub fn to_wire(&self) -> Option<pb::ObservationContext> {
        (*self != Context::NONE).then(|| pb::ObservationContext {
            sensor: self.sensor.unwrap_or(0),
            sensor_kind: self.sensor_kind.map_or(0, |k| k as i32),
            cell: self.cell.map_or(0, Cell::raw),
            observed_ms: self.observed_ms.unwrap_or(0),
            form: self.form.map_or(0, |f| f as i32),
        })
    }
}
