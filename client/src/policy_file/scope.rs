//! The `[scope]` table of a policy file ([`ScopeFile`] and its items), checked item by item
//! into a `PolicyScope` so that each error names its line and column.

use std::collections::{BTreeMap, BTreeSet};

use consent_proto::h3::Cell;
use consent_proto::limits::{
    MAX_CELLS_PER_POLICY, MAX_CELLS_PER_ZONE, MAX_FORM_OFFERS, MAX_GROUP, MAX_SENSORS, MAX_WINDOWS,
    MAX_ZONE_NAME_BYTES, MAX_ZONES, MIN_GROUP,
};
use consent_proto::scope::{
    EVERY_DAY, FormSpec, PolicyScope, PurposeForms, Sensor, TimeWindow, Zone,
};
use consent_proto::vocab::{Form, Purpose, PurposeSet, SensorKind};
use serde::Deserialize;
use toml::Spanned;

use super::Loc;
use super::area::cover_area;
use super::text::{
    check_interval, parse_cell, parse_days, parse_hours, parse_interval, parse_utc_offset,
    split_window,
};

/// The `[scope]` table.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScopeFile {
    /// The fixed offset from UTC that windows are written in (`"+01:00"`, `"UTC"`); no DST.
    pub utc_offset: Option<Spanned<String>>,
    /// The sensors.
    #[serde(default)]
    pub sensors: Vec<SensorFile>,
    /// Time windows.
    #[serde(default)]
    pub windows: Vec<WindowFile>,
    /// Zones (`[[scope.zone]]`).
    #[serde(default)]
    pub zone: Vec<ZoneFile>,
    /// Forms offered, by purpose name (`[scope.forms]`): names or `{ form, interval,
    /// resolution, k }` tables.
    #[serde(default)]
    pub forms: BTreeMap<Spanned<String>, Spanned<Vec<toml::Value>>>,
}

/// One `sensors` item.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SensorFile {
    /// Its id (>= 1, unique).
    pub id: Spanned<u32>,
    /// Its kind (`consent vocab`).
    pub kind: Spanned<String>,
    /// The zone it stands in (informational); absent: not tied to a zone.
    pub zone: Option<Spanned<u32>>,
}

/// One `windows` item.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WindowFile {
    /// Days (`"mon-fri"`, `"sat,sun"`, `"all"`); absent: every day.
    pub days: Option<Spanned<String>>,
    /// Hours (`"07:00-19:00"`; `"22:00-06:00"` is split at midnight); absent: the whole day.
    pub hours: Option<Spanned<String>>,
}

/// One `[[scope.zone]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ZoneFile {
    /// Its id (>= 1, unique).
    pub id: Spanned<u32>,
    /// Its public name.
    pub name: Spanned<String>,
    /// The H3 resolution of its cells (0..=15).
    pub resolution: Spanned<u8>,
    /// Corners of the area, `[lat, lng]` in degrees (WGS84).
    pub area: Option<Spanned<Vec<[f64; 2]>>>,
    /// Or the H3 cells themselves, hex.
    pub cells: Option<Vec<Spanned<String>>>,
}

/// The `[scope]` table as a `PolicyScope`, checked item by item so that each error names its
/// place in the file (the node's own checks run afterwards on the whole body).
pub(super) fn scope_of(
    file: &ScopeFile,
    purposes: PurposeSet,
    loc: &Loc,
) -> anyhow::Result<PolicyScope> {
    let utc_offset_minutes = match &file.utc_offset {
        Some(o) => parse_utc_offset(o.get_ref()).map_err(|e| loc.err(Some(o.span()), e))?,
        None if !file.windows.is_empty() => {
            return Err(loc.err(
                file.windows
                    .iter()
                    .find_map(|w| w.days.as_ref().or(w.hours.as_ref()).map(|s| s.span())),
                "windows need `utc_offset` in [scope]: the fixed offset from UTC their times are \
                 written in, e.g. \"+01:00\" (used all year: no daylight saving time)",
            ));
        }
        None => 0,
    };

    if file.zone.len() > MAX_ZONES {
        return Err(loc.err(
            file.zone.get(MAX_ZONES).map(|z| z.id.span()),
            format!("{} zones; the limit is {MAX_ZONES}", file.zone.len()),
        ));
    }
    let mut zones: Vec<Zone> = Vec::new();
    for z in &file.zone {
        let id = *z.id.get_ref();
        if id == 0 {
            return Err(loc.err(Some(z.id.span()), "zone ids start at 1"));
        }
        if zones.iter().any(|x| x.id == id) {
            return Err(loc.err(Some(z.id.span()), format!("zone {id} is declared twice")));
        }
        let name = z.name.get_ref();
        if name.trim().is_empty() || name.len() > MAX_ZONE_NAME_BYTES {
            return Err(loc.err(
                Some(z.name.span()),
                format!("zone {id}: the name must be 1..={MAX_ZONE_NAME_BYTES} bytes"),
            ));
        }
        let resolution = *z.resolution.get_ref();
        if resolution > 15 {
            return Err(loc.err(
                Some(z.resolution.span()),
                format!("zone {id}: resolution {resolution} is not an H3 resolution (0..=15)"),
            ));
        }
        let (raw, span) = match (&z.area, &z.cells) {
            (Some(area), None) => (
                cover_area(area.get_ref(), resolution)
                    .map_err(|e| loc.err(Some(area.span()), format!("zone {id} area: {e}")))?,
                area.span(),
            ),
            (None, Some(cells)) => {
                let mut raw = BTreeSet::new();
                for c in cells {
                    let cell = parse_cell(c.get_ref())
                        .map_err(|e| loc.err(Some(c.span()), format!("zone {id}: {e}")))?;
                    if cell.resolution() != resolution {
                        return Err(loc.err(
                            Some(c.span()),
                            format!(
                                "zone {id}: cell {} is of resolution {}, the zone's is {resolution}",
                                c.get_ref().trim(),
                                cell.resolution()
                            ),
                        ));
                    }
                    raw.insert(cell.raw());
                }
                (raw.into_iter().collect(), z.id.span())
            }
            _ => {
                return Err(loc.err(
                    Some(z.id.span()),
                    format!(
                        "zone {id}: give exactly one of `area` ([[lat, lng], ...], at least 3 \
                         corners) or `cells` ([\"8b1f...\", ...], H3 cells in hex)"
                    ),
                ));
            }
        };
        if raw.is_empty() {
            return Err(loc.err(Some(span), format!("zone {id} has no cell")));
        }
        if raw.len() > MAX_CELLS_PER_ZONE {
            return Err(loc.err(
                Some(span),
                format!(
                    "zone {id} has {} cells at resolution {resolution}; the limit is \
                     {MAX_CELLS_PER_ZONE}: choose a coarser resolution or a smaller area",
                    raw.len()
                ),
            ));
        }
        let cells = raw
            .iter()
            .map(|r| {
                Cell::new(*r).ok_or_else(|| {
                    loc.err(
                        Some(span.clone()),
                        format!("zone {id}: {r:x} is not an H3 cell"),
                    )
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        zones.push(Zone {
            id,
            name: name.clone(),
            resolution,
            cells,
        });
    }
    zones.sort_by_key(|z| z.id);
    let total: usize = zones.iter().map(|z| z.cells.len()).sum();
    if total > MAX_CELLS_PER_POLICY {
        return Err(loc.err(
            file.zone.first().map(|z| z.id.span()),
            format!(
                "the zones have {total} cells in all; the limit is {MAX_CELLS_PER_POLICY}: choose \
                 coarser resolutions or smaller areas"
            ),
        ));
    }
    let declared = || {
        zones
            .iter()
            .map(|z| z.id.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };

    if file.sensors.len() > MAX_SENSORS {
        return Err(loc.err(
            file.sensors.get(MAX_SENSORS).map(|s| s.id.span()),
            format!("{} sensors; the limit is {MAX_SENSORS}", file.sensors.len()),
        ));
    }
    let mut sensors: Vec<Sensor> = Vec::new();
    for s in &file.sensors {
        let id = *s.id.get_ref();
        if id == 0 {
            return Err(loc.err(Some(s.id.span()), "sensor ids start at 1"));
        }
        if sensors.iter().any(|x| x.id == id) {
            return Err(loc.err(Some(s.id.span()), format!("sensor {id} is declared twice")));
        }
        let kind = SensorKind::from_name(s.kind.get_ref())
            .map_err(|e| loc.err(Some(s.kind.span()), format!("sensor {id}: {e}")))?;
        let zone = match &s.zone {
            None => None,
            Some(z) => {
                let zid = *z.get_ref();
                if !zones.iter().any(|x| x.id == zid) {
                    let what = if zones.is_empty() {
                        "this policy declares no zone".to_string()
                    } else {
                        format!("declared zones: {}", declared())
                    };
                    return Err(loc.err(
                        Some(z.span()),
                        format!(
                            "sensor {id}: zone {zid} is not declared ({what}); leave `zone` out \
                             for a sensor not tied to a zone"
                        ),
                    ));
                }
                Some(zid)
            }
        };
        sensors.push(Sensor { id, kind, zone });
    }
    sensors.sort_by_key(|s| s.id);

    let mut windows: Vec<TimeWindow> = Vec::new();
    for w in &file.windows {
        let days = match &w.days {
            Some(d) => parse_days(d.get_ref()).map_err(|e| loc.err(Some(d.span()), e))?,
            None => EVERY_DAY,
        };
        let hours = match &w.hours {
            Some(h) => Some(parse_hours(h.get_ref()).map_err(|e| loc.err(Some(h.span()), e))?),
            None => None,
        };
        if w.days.is_none() && w.hours.is_none() {
            return Err(loc.err(
                None,
                "a window in [scope] windows says neither `days` nor `hours`",
            ));
        }
        windows.extend(split_window(days, hours));
    }
    if windows.len() > MAX_WINDOWS {
        return Err(loc.err(
            file.windows
                .first()
                .and_then(|w| w.days.as_ref().or(w.hours.as_ref()).map(|s| s.span())),
            format!(
                "{} windows (a window past midnight counts twice); the limit is {MAX_WINDOWS}",
                windows.len()
            ),
        ));
    }

    let mut forms: Vec<PurposeForms> = Vec::new();
    for (name, offers) in &file.forms {
        let purpose =
            Purpose::from_name(name.get_ref()).map_err(|e| loc.err(Some(name.span()), e))?;
        if !purposes.contains(purpose) {
            return Err(loc.err(
                Some(name.span()),
                format!(
                    "forms for {purpose}: the policy does not declare this purpose (purposes: {})",
                    purposes
                        .iter()
                        .map(|p| p.name())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
        let list = offers.get_ref();
        if list.is_empty() || list.len() > MAX_FORM_OFFERS {
            return Err(loc.err(
                Some(offers.span()),
                format!("forms for {purpose}: offer 1..={MAX_FORM_OFFERS} forms, one of each"),
            ));
        }
        let mut specs: Vec<FormSpec> = Vec::new();
        for v in list {
            let spec = parse_offer(v)
                .map_err(|e| loc.err(Some(offers.span()), format!("forms for {purpose}: {e}")))?;
            if specs.iter().any(|s| s.form() == spec.form()) {
                return Err(loc.err(
                    Some(offers.span()),
                    format!(
                        "forms for {purpose}: {} is offered twice",
                        spec.form().name()
                    ),
                ));
            }
            specs.push(spec);
        }
        specs.sort_by_key(|s| s.form().rank());
        forms.push(PurposeForms {
            purpose,
            offers: specs,
        });
    }
    forms.sort_by_key(|f| f.purpose as i32);

    if zones.is_empty() && sensors.is_empty() && windows.is_empty() && forms.is_empty() {
        return Err(loc.err(
            file.utc_offset.as_ref().map(|o| o.span()),
            "[scope] declares nothing: declare zones, sensors, windows or forms, or remove it",
        ));
    }
    Ok(PolicyScope {
        utc_offset_minutes,
        zones,
        sensors,
        windows,
        forms,
    })
}

/// One offer of `[scope.forms]`: a name (`"raw"`, `"pseudonymised"`) or a table
/// `{ form = "binned", interval = "1h", resolution = 9 }` (aggregated adds `k`).
fn parse_offer(v: &toml::Value) -> Result<FormSpec, String> {
    let (name, table) = match v {
        toml::Value::String(s) => (s.as_str(), None),
        toml::Value::Table(t) => {
            for key in t.keys() {
                if !matches!(key.as_str(), "form" | "interval" | "resolution" | "k") {
                    return Err(format!(
                        "unknown key `{key}` in an offer (keys: form, interval, resolution, k)"
                    ));
                }
            }
            let name = t
                .get("form")
                .and_then(toml::Value::as_str)
                .ok_or("an offer table needs `form = \"...\"`")?;
            (name, Some(t))
        }
        _ => {
            return Err(
                "an offer is a form name or a table { form = \"...\", interval = \"1h\", \
                 resolution = 9, k = 10 }"
                    .into(),
            );
        }
    };
    let form = Form::from_name(name).map_err(|e| e.to_string())?;
    let get = |key: &str| table.and_then(|t| t.get(key));
    let interval = get("interval")
        .map(|v| match v {
            toml::Value::String(s) => parse_interval(s),
            toml::Value::Integer(n) => u32::try_from(*n)
                .map_err(|_| format!("interval {n} is not a number of seconds"))
                .and_then(check_interval),
            _ => Err("interval is a duration like \"15m\" or \"1h\"".into()),
        })
        .transpose()?;
    let integer =
        |key: &str, range: std::ops::RangeInclusive<u32>| -> Result<Option<u32>, String> {
            get(key)
                .map(|v| {
                    v.as_integer()
                        .and_then(|n| u32::try_from(n).ok())
                        .filter(|n| range.contains(n))
                        .ok_or_else(|| {
                            format!(
                                "{key} must be a whole number in {}..={}",
                                range.start(),
                                range.end()
                            )
                        })
                })
                .transpose()
        };
    let resolution = integer("resolution", 0..=15)?;
    let k = integer("k", MIN_GROUP..=MAX_GROUP)?;
    let example = match form {
        Form::Binned => "{ form = \"binned\", interval = \"1h\", resolution = 9 }",
        _ => "{ form = \"aggregated\", interval = \"1h\", resolution = 8, k = 10 }",
    };
    match (form, interval, resolution, k) {
        (Form::Raw, None, None, None) => Ok(FormSpec::Raw),
        (Form::Pseudonymised, None, None, None) => Ok(FormSpec::Pseudonymised),
        (Form::Raw | Form::Pseudonymised, ..) => Err(format!(
            "{} takes no interval, resolution or k: write \"{}\"",
            form.name(),
            form.name()
        )),
        (Form::Binned, Some(interval_s), Some(res), None) => Ok(FormSpec::Binned {
            interval_s,
            resolution: res as u8,
        }),
        (Form::Aggregated, Some(interval_s), Some(res), Some(min_group)) => {
            Ok(FormSpec::Aggregated {
                interval_s,
                resolution: res as u8,
                min_group,
            })
        }
        (Form::Binned | Form::Aggregated, ..) => Err(format!(
            "{} needs exactly its parameters, e.g. {example}",
            form.name()
        )),
        _ => Err(format!("{} cannot be offered", form.name())),
    }
}
