//! A policy's scope as published: where (zones and their H3 cells), with which sensors, when
//! and in what form data is collected; with the consents per zone and per form (each through
//! [`Count::of`]) for the version in effect, or in plain sentences for any version.

pub(crate) use consent_proto::scope::words::utc_offset_text;
use consent_proto::scope::words::{cell_area_text, form_text, sensor_text};
use consent_proto::scope::{FormSpec, PolicyScope, TimeWindow};
use consent_proto::vocab::Form;
use serde::Serialize;

use super::{Count, Term, purpose_term};
use crate::transparency::register::ScopeCounts;

/// One zone of the current policy, with the consents that cover it.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ZoneView {
    /// Its id in the policy.
    pub id: u32,
    /// Its public name.
    pub name: String,
    /// The H3 resolution of its cells.
    pub resolution: u8,
    /// How large one of its cells is, in words (`~300 m²`).
    pub cell_area: String,
    /// Its H3 cells, hex.
    pub cells: Vec<String>,
    /// Consents (not withdrawn) that cover it: those narrowed to it and those to every zone.
    pub consents: Count,
}

/// One sensor of the current policy.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct SensorView {
    /// Its id in the policy.
    pub id: u32,
    /// Its kind's short name.
    pub kind: &'static str,
    /// Its kind in plain words.
    pub kind_plain: &'static str,
    /// The zone it stands in, if the policy says.
    pub zone: Option<u32>,
}

/// One form a purpose's data may be kept in, with the consents that accept it at most.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct OfferView {
    /// The form's short name.
    pub form: &'static str,
    /// The form with its parameters, in plain words.
    pub meaning: String,
    /// Bin length, seconds (binned, aggregated).
    pub interval_s: Option<u32>,
    /// H3 resolution of the place (binned, aggregated).
    pub resolution: Option<u8>,
    /// Smallest group published (aggregated).
    pub k: Option<u32>,
    /// Consents (not withdrawn) whose least protective accepted form for the purpose is this.
    pub consents: Count,
}

/// The forms offered for one purpose.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct PurposeFormsView {
    /// The purpose.
    pub purpose: Term,
    /// The forms, least protective first.
    pub offers: Vec<OfferView>,
}

/// The current policy's scope: where, with which sensors, when and in what form data is
/// collected, with consents per zone and per form (each through [`Count::of`]).
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ScopeView {
    /// The fixed offset windows are in (`UTC+01:00`), all year.
    pub utc_offset: String,
    /// The same, minutes.
    pub utc_offset_minutes: i16,
    /// Zones (none: it may collect anywhere).
    pub zones: Vec<ZoneView>,
    /// Sensors (none: any sensor).
    pub sensors: Vec<SensorView>,
    /// Time windows (none: at any time), e.g. `mon-sat 07:00-19:00`.
    pub windows: Vec<String>,
    /// Forms per purpose (a purpose not listed: any form).
    pub forms: Vec<PurposeFormsView>,
    /// The map of the zones' cells (SVG), when it declares zones.
    pub map: Option<String>,
}

/// The scope with consents per zone and per form, under threshold `k`.
pub(crate) fn scope_view(
    scope: &PolicyScope,
    counts: Option<&ScopeCounts>,
    k: u64,
    map: Option<String>,
) -> ScopeView {
    let none = ScopeCounts::default();
    let counts = counts.unwrap_or(&none);
    ScopeView {
        utc_offset: utc_offset_text(scope.utc_offset_minutes),
        utc_offset_minutes: scope.utc_offset_minutes,
        zones: scope
            .zones
            .iter()
            .map(|z| ZoneView {
                id: z.id,
                name: z.name.clone(),
                resolution: z.resolution,
                cell_area: cell_area_text(z.resolution),
                cells: z.cells.iter().map(|c| format!("{:x}", c.raw())).collect(),
                consents: Count::of(counts.in_zone(z.id), k),
            })
            .collect(),
        sensors: scope
            .sensors
            .iter()
            .map(|s| SensorView {
                id: s.id,
                kind: s.kind.name(),
                kind_plain: s.kind.plain(),
                zone: s.zone,
            })
            .collect(),
        windows: scope.windows.iter().map(TimeWindow::to_string).collect(),
        forms: scope
            .forms
            .iter()
            .map(|f| {
                let least = f
                    .offers
                    .iter()
                    .map(FormSpec::form)
                    .min_by_key(|form| form.rank())
                    .unwrap_or(Form::Unspecified);
                PurposeFormsView {
                    purpose: purpose_term(f.purpose),
                    offers: f
                        .offers
                        .iter()
                        .map(|o| OfferView {
                            form: o.form().name(),
                            meaning: form_text(o),
                            interval_s: o.interval_s(),
                            resolution: o.resolution(),
                            k: o.min_group(),
                            consents: Count::of(counts.with_floor(f.purpose, o.form(), least), k),
                        })
                        .collect(),
                }
            })
            .collect(),
        map,
    }
}

/// A scope in plain sentences (no counts): what a policy version declares.
pub(crate) fn scope_sentences(scope: &PolicyScope) -> Vec<String> {
    let mut out = Vec::new();
    if !scope.zones.is_empty() {
        out.push(format!(
            "Only in: {}.",
            scope
                .zones
                .iter()
                .map(|z| format!("zone {} {} ({} cells)", z.id, z.name, z.cells.len()))
                .collect::<Vec<_>>()
                .join("; ")
        ));
    }
    if !scope.sensors.is_empty() {
        out.push(format!(
            "With these sensors: {}.",
            scope
                .sensors
                .iter()
                .map(|s| sensor_text(s.id, s.kind, s.zone))
                .collect::<Vec<_>>()
                .join("; ")
        ));
    }
    if !scope.windows.is_empty() {
        out.push(format!(
            "Only at: {} ({}, all year: no daylight saving time).",
            scope
                .windows
                .iter()
                .map(TimeWindow::to_string)
                .collect::<Vec<_>>()
                .join(", "),
            utc_offset_text(scope.utc_offset_minutes)
        ));
    }
    for f in &scope.forms {
        out.push(format!(
            "For {}, kept only as: {}.",
            f.purpose.plain(),
            f.offers
                .iter()
                .map(|o| o.form().name())
                .collect::<Vec<_>>()
                .join(" or ")
        ));
    }
    out
}
