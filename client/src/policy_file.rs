//! The collector's policy file (TOML), turned into a `Policy` entry body.
//!
//! ```toml
//! name = "Riverside Parking - street parking"   # public name, 1..=120 bytes
//! purposes = ["service-provision", "billing"]   # names as in `consent vocab`
//! categories = ["vehicle", "location"]
//! retention_days = 90
//! recipients = ["Payment processor"]            # optional
//! jurisdiction = "EU/GDPR"
//! document_url = "https://parking.example/privacy/v1"
//! document = "privacy-policy.md"                # the full text; its BLAKE3 digest goes on the ledger
//! # document_digest = "<64 hex>"                # instead of `document`
//! contact = "dpo@parking.example"
//!
//! [scope]                                       # optional: where, which sensors, when, in what form
//! utc_offset = "+01:00"                         # fixed all year: no daylight saving time
//! sensors = [ { id = 1, kind = "number-plate-reader", zone = 1 } ]
//! windows = [ { days = "mon-sat", hours = "07:00-19:00" } ]
//! [[scope.zone]]
//! id = 1
//! name = "Oudegracht wharf"
//! resolution = 12
//! area = [[52.09190, 5.11935], [52.09196, 5.11975], [52.09050, 5.12060]]   # or cells = ["8c1f…"]
//! [scope.forms]
//! billing = ["raw", "pseudonymised"]
//! urban-planning = [ { form = "aggregated", interval = "1h", resolution = 8, k = 10 } ]
//! ```
//! The version is not in the file: `consent collector init` publishes version 1 and
//! `consent collector policy update` the next one. `client/examples/street-policy.toml`
//! documents every key of `[scope]`.
//!
//! An `area` (WGS84 `[lat, lng]` corners) becomes the H3 cells of the zone's resolution that
//! cover it ([`cover_area`]); the cells are what is signed and published. The text parsers
//! ([`parse_days`], [`parse_hours`], [`split_window`], [`parse_interval`], [`parse_utc_offset`])
//! are the ones `consent grant` uses for its flags.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;
use std::path::Path;

use consent_proto::body::{Body, Policy};
use consent_proto::h3::Cell;
use consent_proto::ids::Digest;
use consent_proto::limits::{
    MAX_CELLS_PER_POLICY, MAX_CELLS_PER_ZONE, MAX_ENTRY_BYTES, MAX_FORM_OFFERS, MAX_GROUP,
    MAX_INTERVAL_S, MAX_SENSORS, MAX_UTC_OFFSET_MINUTES, MAX_WINDOWS, MAX_ZONE_NAME_BYTES,
    MAX_ZONES, MIN_GROUP, MIN_INTERVAL_S, MIN_UTC_OFFSET_MINUTES, UTC_OFFSET_STEP_MINUTES,
};
use consent_proto::pb;
use consent_proto::scope::{
    EVERY_DAY, FormSpec, PolicyScope, PurposeForms, Sensor, TimeWindow, Zone,
};
use consent_proto::vocab::{DataCategory, Form, Purpose, PurposeSet, SensorKind};
use prost::Message as _;
use serde::Deserialize;
use toml::Spanned;

/// The file's fields.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyFile {
    /// Public name.
    pub name: String,
    /// Purpose names (with where they are in the file, for errors).
    pub purposes: Vec<toml::Spanned<String>>,
    /// Category names.
    pub categories: Vec<toml::Spanned<String>>,
    /// Retention, days.
    pub retention_days: u32,
    /// Recipients.
    #[serde(default)]
    pub recipients: Vec<String>,
    /// Jurisdiction.
    pub jurisdiction: String,
    /// URL of the document.
    pub document_url: String,
    /// Path of the document, relative to the policy file.
    pub document: Option<String>,
    /// Or its digest, hex.
    pub document_digest: Option<String>,
    /// DPO contact.
    pub contact: String,
    /// Where, with which sensors, when and in what form data is collected (optional).
    #[serde(default)]
    pub scope: Option<ScopeFile>,
}

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

/// Line and column (both from 1) of a byte offset.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before
        .rfind('\n')
        .map_or(before.len(), |n| before.len() - n - 1)
        + 1;
    (line, column)
}

/// Where errors point: the file and its text.
struct Loc<'a> {
    path: &'a Path,
    text: &'a str,
}

impl Loc<'_> {
    /// `file:line:column`, or the file alone.
    fn at(&self, span: Option<Range<usize>>) -> String {
        match span {
            Some(span) => {
                let (line, column) = line_column(self.text, span.start);
                format!("{}:{line}:{column}", self.path.display())
            }
            None => self.path.display().to_string(),
        }
    }

    /// One line naming the place and what is wrong there.
    fn err(&self, span: Option<Range<usize>>, what: impl std::fmt::Display) -> anyhow::Error {
        anyhow::anyhow!("policy file {}: {what}", self.at(span))
    }
}

/// Reads a policy file into a `Policy` body with `version`, checking it as a node would.
pub fn load(path: &Path, version: u32) -> anyhow::Result<Body> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("cannot read policy file {}: {e}", path.display()))?;
    if text.len() > 64 * 1024 {
        anyhow::bail!("policy file {} is over 64 KiB", path.display());
    }
    // Every error is one line naming the file, line and column (toml's own are several lines).
    let loc = Loc { path, text: &text };
    let file: PolicyFile =
        toml::from_str(&text).map_err(|e| loc.err(e.span(), e.message().replace('\n', " ")))?;
    let digest = match (&file.document, &file.document_digest) {
        (Some(doc), None) => {
            let doc_path = path.parent().unwrap_or(Path::new(".")).join(doc);
            let bytes = std::fs::read(&doc_path).map_err(|e| {
                anyhow::anyhow!("cannot read policy document {}: {e}", doc_path.display())
            })?;
            Digest(*blake3::hash(&bytes).as_bytes())
        }
        (None, Some(hex_digest)) => {
            let mut d = [0u8; 32];
            hex::decode_to_slice(hex_digest.trim(), &mut d)
                .map_err(|_| anyhow::anyhow!("document_digest must be 64 hex digits"))?;
            Digest(d)
        }
        _ => anyhow::bail!(
            "policy file {}: give exactly one of `document` (a path) or `document_digest`",
            path.display()
        ),
    };
    let purposes: PurposeSet = file
        .purposes
        .iter()
        .map(|p| Purpose::from_name(p.get_ref()).map_err(|e| loc.err(Some(p.span()), e)))
        .collect::<Result<_, _>>()?;
    let categories = file
        .categories
        .iter()
        .map(|c| DataCategory::from_name(c.get_ref()).map_err(|e| loc.err(Some(c.span()), e)))
        .collect::<Result<_, _>>()?;
    let scope = file
        .scope
        .as_ref()
        .map(|s| scope_of(s, purposes, &loc))
        .transpose()?;
    let cells: usize = scope
        .as_ref()
        .map_or(0, |s| s.zones.iter().map(|z| z.cells.len()).sum());
    let body = Body::Policy(Policy {
        version,
        name: file.name,
        purposes,
        categories,
        retention_days: file.retention_days,
        recipients: file.recipients,
        jurisdiction: file.jurisdiction,
        document_digest: digest,
        document_url: file.document_url,
        contact: file.contact,
        scope,
    });
    // The same structural checks a node applies.
    Body::from_wire(&body.to_wire())
        .map_err(|e| anyhow::anyhow!("policy file {}: {e}", path.display()))?;
    size_fits(path, entry_size(&body), cells)?;
    Ok(body)
}

/// The encoded size of the signed entry that will carry `body` (with a seq and a time as large
/// as a real feed's), to compare with [`MAX_ENTRY_BYTES`] before signing.
pub fn entry_size(body: &Body) -> usize {
    let payload = pb::EntryPayload {
        feed: vec![0xff; 32].into(),
        seq: u64::from(u32::MAX),
        prev: vec![0xff; 32].into(),
        time_ms: 4_102_444_800_000, // 2100-01-01: as many varint bytes as any time until then
        body: Some(body.to_wire()),
    }
    .encoded_len();
    pb::SignedEntry {
        payload: vec![0xff; payload].into(),
        signature: vec![0xff; 64].into(),
    }
    .encoded_len()
}

/// Refuses a policy whose entry would be over the entry size limit, saying how big it is.
fn size_fits(path: &Path, size: usize, cells: usize) -> anyhow::Result<()> {
    if size > MAX_ENTRY_BYTES {
        anyhow::bail!(
            "policy file {}: the policy entry would be {size} bytes, over the limit of \
             {MAX_ENTRY_BYTES} bytes (8 KiB) for one entry; it declares {cells} cells (8 bytes \
             each): use fewer or coarser zones, fewer recipients or shorter texts",
            path.display()
        );
    }
    Ok(())
}

/// Corners of one zone's `area`.
const MAX_AREA_POINTS: usize = 64;

/// The `[scope]` table as a `PolicyScope`, checked item by item so that each error names its
/// place in the file (the node's own checks run afterwards on the whole body).
fn scope_of(file: &ScopeFile, purposes: PurposeSet, loc: &Loc) -> anyhow::Result<PolicyScope> {
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

/// An H3 cell written in hex (`8b1f…`, H3's own text form; `0x` allowed).
pub fn parse_cell(text: &str) -> Result<Cell, String> {
    let t = text.trim();
    let digits = t.strip_prefix("0x").unwrap_or(t);
    u64::from_str_radix(digits, 16)
        .ok()
        .and_then(Cell::new)
        .ok_or_else(|| format!("{t:?} is not an H3 cell index (hex, like 8b1fa3c5a9d3fff)"))
}

/// Day names, Monday first (bit 0 of `TimeWindow.days`).
const DAY_NAMES: [&str; 7] = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

/// Days of the week as `TimeWindow.days` bits (bit 0 Monday … bit 6 Sunday): names (`mon`,
/// `monday`), ranges (`mon-fri`, `fri-mon` wraps), lists (`sat,sun`, `mon,wed-fri`), `all`,
/// `weekdays`, `weekend`.
pub fn parse_days(text: &str) -> Result<u8, String> {
    let t = text.trim().to_ascii_lowercase();
    match t.as_str() {
        "all" | "daily" | "every day" => return Ok(EVERY_DAY),
        "weekdays" => return Ok(0x1f),
        "weekend" => return Ok(0x60),
        _ => {}
    }
    let day = |name: &str| -> Result<u8, String> {
        let name = name.trim();
        DAY_NAMES
            .iter()
            .position(|d| name.len() >= 3 && d.starts_with(name))
            .map(|i| i as u8)
            .ok_or_else(|| {
                format!(
                    "unknown day {name:?} in {text:?}: use mon, tue, wed, thu, fri, sat, sun, \
                     ranges like mon-fri, lists like sat,sun, or all"
                )
            })
    };
    let mut days = 0u8;
    for part in t.split(',') {
        match part.split_once('-') {
            Some((from, to)) => {
                let (from, to) = (day(from)?, day(to)?);
                let mut d = from;
                loop {
                    days |= 1 << d;
                    if d == to {
                        break;
                    }
                    d = (d + 1) % 7;
                }
            }
            None => days |= 1 << day(part)?,
        }
    }
    Ok(days)
}

/// `HH:MM-HH:MM` as (start, end) minutes of the day. The end may be `24:00` (or `00:00`) for
/// midnight; an end before the start (`22:00-06:00`) runs past midnight: see [`split_window`].
pub fn parse_hours(text: &str) -> Result<(u16, u16), String> {
    let bad = || format!("hours {text:?}: write HH:MM-HH:MM, e.g. 07:00-19:00 (24:00 is midnight)");
    let (from, to) = text.trim().split_once('-').ok_or_else(bad)?;
    let minute = |t: &str| -> Option<u16> {
        let (h, m) = t.trim().split_once(':')?;
        let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
        (m < 60 && (h < 24 || (h == 24 && m == 0))).then_some(h * 60 + m)
    };
    let (start, end) = (minute(from).ok_or_else(bad)?, minute(to).ok_or_else(bad)?);
    if start == 1440 {
        return Err(format!("hours {text:?}: a window cannot start at 24:00"));
    }
    let end = if end == 0 { 1440 } else { end };
    if start == end {
        return Err(format!("hours {text:?}: the window is empty"));
    }
    Ok((start, end))
}

/// The windows for `days` and `hours` (absent: the whole day). A window past midnight
/// (`22:00-06:00`) becomes two: `days` 22:00-24:00, and the following days 00:00-06:00.
pub fn split_window(days: u8, hours: Option<(u16, u16)>) -> Vec<TimeWindow> {
    let days = days & EVERY_DAY;
    match hours {
        None => vec![TimeWindow {
            days,
            start_minute: 0,
            end_minute: 1440,
        }],
        Some((start, end)) if start < end => vec![TimeWindow {
            days,
            start_minute: start,
            end_minute: end,
        }],
        Some((start, end)) => {
            let next = ((days << 1) | (days >> 6)) & EVERY_DAY;
            let mut out = vec![TimeWindow {
                days,
                start_minute: start,
                end_minute: 1440,
            }];
            if end > 0 {
                out.push(TimeWindow {
                    days: next,
                    start_minute: 0,
                    end_minute: end,
                });
            }
            out
        }
    }
}

/// A bin length (`"15m"`, `"1h"`, `"1d"`, `"90s"`, or seconds) in seconds: 60..=86,400 and a
/// divisor of a day, so bins align to local midnight.
pub fn parse_interval(text: &str) -> Result<u32, String> {
    let t = text.trim().to_ascii_lowercase();
    let (number, unit) = match t.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => t.split_at(i),
        None => (t.as_str(), "s"),
    };
    let n: u32 = number
        .parse()
        .map_err(|_| format!("interval {text:?}: write a duration like 15m, 1h or 1d"))?;
    let unit = match unit.trim() {
        "s" | "sec" => 1,
        "m" | "min" => 60,
        "h" => 3_600,
        "d" => 86_400,
        _ => return Err(format!("interval {text:?}: units are s, m, h, d")),
    };
    check_interval(n.saturating_mul(unit))
}

fn check_interval(seconds: u32) -> Result<u32, String> {
    if !(MIN_INTERVAL_S..=MAX_INTERVAL_S).contains(&seconds)
        || !MAX_INTERVAL_S.is_multiple_of(seconds)
    {
        return Err(format!(
            "interval of {seconds} s: it must be 1 minute to 1 day and divide a day (15m, 1h, \
             6h, 1d ...)"
        ));
    }
    Ok(seconds)
}

/// A fixed offset from UTC (`"+01:00"`, `"-05:30"`, `"UTC"`) in minutes: -12:00..=+14:00, a
/// multiple of 15 minutes. It applies all year (no daylight saving time).
pub fn parse_utc_offset(text: &str) -> Result<i16, String> {
    let t = text.trim();
    let bad = || {
        format!("utc offset {text:?}: write +HH:MM or -HH:MM (e.g. \"+01:00\" for CET), or \"UTC\"")
    };
    if t.eq_ignore_ascii_case("utc") || t == "Z" {
        return Ok(0);
    }
    let (sign, rest) = match t.as_bytes().first() {
        Some(b'+') => (1i16, &t[1..]),
        Some(b'-') => (-1i16, &t[1..]),
        _ => return Err(bad()),
    };
    let (h, m) = rest.split_once(':').ok_or_else(bad)?;
    let (h, m): (i16, i16) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    if !(0..60).contains(&m) || !(0..=14).contains(&h) {
        return Err(bad());
    }
    let minutes = sign * (h * 60 + m);
    if !(MIN_UTC_OFFSET_MINUTES..=MAX_UTC_OFFSET_MINUTES).contains(&i32::from(minutes))
        || i32::from(minutes) % UTC_OFFSET_STEP_MINUTES != 0
    {
        return Err(format!(
            "utc offset {text:?}: it must lie in -12:00..=+14:00 and be a multiple of 15 minutes"
        ));
    }
    Ok(minutes)
}

/// An offset as people read it: `UTC`, `UTC+01:00`, `UTC-05:30`.
pub fn utc_offset_text(minutes: i16) -> String {
    if minutes == 0 {
        return "UTC".into();
    }
    let sign = if minutes < 0 { '-' } else { '+' };
    let m = minutes.unsigned_abs();
    format!("UTC{sign}{:02}:{:02}", m / 60, m % 60)
}

/// Average edge length of an H3 hexagon per resolution, metres (H3's published table).
const EDGE_M: [f64; 16] = [
    1_281_256.011,
    483_056.839,
    182_512.957,
    68_979.222,
    26_071.760,
    9_854.091,
    3_724.533,
    1_406.476,
    531.414,
    200.786,
    75.864,
    28.664,
    10.830,
    4.092,
    1.546,
    0.584,
];

/// Average area of an H3 hexagon per resolution, m² (H3's published table).
pub const CELL_AREA_M2: [f64; 16] = [
    4.357_449_416e12,
    6.097_884_418e11,
    8.680_178_040e10,
    1.239_343_466e10,
    1.770_347_654e9,
    2.529_038_582e8,
    3.612_906_216e7,
    5.161_293_360e6,
    7.373_275_976e5,
    1.053_325_134e5,
    1.504_750_190e4,
    2.149_643_129e3,
    3.070_919_470e2,
    4.387_027_810e1,
    6.267_197_100,
    0.895_310_100,
];

/// The H3 cells of `resolution` that cover `area` (corners `[lat, lng]` in degrees, in order):
/// every cell holding a point of the area or of its outline, found by sampling the area at a
/// quarter of the cells' edge length (so a sliver of a cell thinner than that may be left out:
/// the published cells are what counts). Sorted. Refuses an area that would need far more
/// cells than a zone may hold before computing them.
pub fn cover_area(area: &[[f64; 2]], resolution: u8) -> Result<Vec<u64>, String> {
    if area.len() < 3 || area.len() > MAX_AREA_POINTS {
        return Err(format!(
            "an area has 3..={MAX_AREA_POINTS} corners [lat, lng]; this one has {}",
            area.len()
        ));
    }
    for [lat, lng] in area {
        if !lat.is_finite() || !lng.is_finite() || lat.abs() > 85.0 || lng.abs() > 180.0 {
            return Err(format!(
                "[{lat}, {lng}] is not a [latitude, longitude] in degrees (|lat| <= 85)"
            ));
        }
    }
    let res = usize::from(resolution);
    let (Some(edge_m), Some(cell_m2)) = (EDGE_M.get(res), CELL_AREA_M2.get(res)) else {
        return Err(format!("resolution {resolution} is not 0..=15"));
    };
    let h3_res = h3o::Resolution::try_from(resolution)
        .map_err(|_| format!("resolution {resolution} is not 0..=15"))?;
    let lats = area.iter().map(|p| p[0]);
    let lngs = area.iter().map(|p| p[1]);
    let (min_lat, max_lat) = (
        lats.clone().fold(90.0, f64::min),
        lats.fold(-90.0, f64::max),
    );
    let (min_lng, max_lng) = (
        lngs.clone().fold(180.0, f64::min),
        lngs.fold(-180.0, f64::max),
    );
    if max_lng - min_lng > 90.0 || max_lat - min_lat > 45.0 {
        return Err("the area is too large (or crosses the antimeridian)".into());
    }
    // Metres per degree around the area (a plane is close enough for a city's zones).
    let m_lat = 111_320.0;
    let m_lng = 111_320.0 * ((min_lat + max_lat) / 2.0).to_radians().cos();
    let shoelace: f64 = (0..area.len())
        .map(|i| {
            let (a, b) = (area[i], area[(i + 1) % area.len()]);
            (a[1] * m_lng) * (b[0] * m_lat) - (b[1] * m_lng) * (a[0] * m_lat)
        })
        .sum();
    let area_m2 = shoelace.abs() / 2.0;
    let estimate = area_m2 / cell_m2;
    if estimate > (2 * MAX_CELLS_PER_ZONE) as f64 {
        return Err(format!(
            "the area is about {area_m2:.0} m², some {estimate:.0} cells of resolution \
             {resolution}; a zone holds at most {MAX_CELLS_PER_ZONE}: choose a coarser \
             resolution or a smaller area"
        ));
    }
    let step_m = edge_m / 4.0;
    let (dlat, dlng) = (step_m / m_lat, step_m / m_lng);
    let (ny, nx) = (
        ((max_lat - min_lat) / dlat).ceil(),
        ((max_lng - min_lng) / dlng).ceil(),
    );
    if ny * nx > 4_000_000.0 {
        return Err(format!(
            "the area's bounding box is too large for resolution {resolution}: choose a coarser \
             resolution or split the area"
        ));
    }
    let cell_at = |lat: f64, lng: f64| -> Result<u64, String> {
        let ll = h3o::LatLng::new(lat, lng).map_err(|e| e.to_string())?;
        Ok(u64::from(ll.to_cell(h3_res)))
    };
    let mut cells = BTreeSet::new();
    for i in 0..=(ny as u64) {
        let lat = (min_lat + i as f64 * dlat).min(max_lat);
        for j in 0..=(nx as u64) {
            let lng = (min_lng + j as f64 * dlng).min(max_lng);
            if inside(area, lat, lng) {
                cells.insert(cell_at(lat, lng)?);
            }
        }
    }
    // The outline, corners included: the cells it crosses cover the area's edge.
    for i in 0..area.len() {
        let (a, b) = (area[i], area[(i + 1) % area.len()]);
        let length_m = ((b[0] - a[0]) * m_lat).hypot((b[1] - a[1]) * m_lng);
        let n = (length_m / step_m).ceil().max(1.0) as u64;
        for t in 0..=n {
            let f = t as f64 / n as f64;
            cells.insert(cell_at(a[0] + (b[0] - a[0]) * f, a[1] + (b[1] - a[1]) * f)?);
        }
    }
    Ok(cells.into_iter().collect())
}

/// Whether (lat, lng) lies inside the polygon (even-odd rule, on the lat/lng plane).
fn inside(poly: &[[f64; 2]], lat: f64, lng: f64) -> bool {
    let mut inside = false;
    let mut j = poly.len() - 1;
    for i in 0..poly.len() {
        let ([yi, xi], [yj, xj]) = (poly[i], poly[j]);
        if (yi > lat) != (yj > lat) && lng < (xj - xi) * (lat - yi) / (yj - yi) + xi {
            inside = !inside;
        }
        j = i;
    }
    inside
}

#[cfg(test)]
mod tests {
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
        let cell =
            |lat: f64, lng: f64| u64::from(h3o::LatLng::new(lat, lng).expect("ll").to_cell(res));
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
        let no_offset = format!(
            "{base}\n[scope]\nwindows = [ {{ days = \"all\", hours = \"07:00-19:00\" }} ]\n"
        );
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
}
