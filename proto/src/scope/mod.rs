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
//!
//! This module holds the types. The protobuf forms and every structural check of them are in
//! `wire.rs`; time windows and local time in `time.rs`; the rules that judge (a grant's
//! narrowing against its policy, an observation against a grant's effective scope, the form
//! required) and the context digest in `rule.rs`.

use std::sync::Arc;

use crate::h3::Cell;
use crate::vocab::{Form, Purpose, SensorKind, SensorKindSet};

mod rule;
mod time;
mod wire;
pub mod words;

pub use self::rule::{context_digest, evaluate, required_form};
pub use self::time::{EVERY_DAY, MINUTES_PER_DAY, TimeWindow, local_time};

/// The only scope version: every present `PolicyScope` and `GrantScope` carries it.
pub const SCOPE_VERSION: u32 = 1;

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
///
/// The sensor is named by its id *and* its kind: an id is read in the numbering of the policy
/// version a grant names, and a later version may give the same id to a sensor of another kind.
/// The rule reads the sensor as given only when both are ([`evaluate`]); a kind without an id is
/// refused on the wire ([`ContextError::SensorKindWithoutSensor`]) and, built in Rust, is read as
/// no sensor.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Context {
    /// A sensor id of the policy.
    pub sensor: Option<u32>,
    /// The kind of that sensor, as the collector knows it: the rule requires it to be the kind
    /// the grant's policy version declares for `sensor`.
    pub sensor_kind: Option<SensorKind>,
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
    /// `sensor_kind` is a number this release does not know.
    #[error("context.sensor_kind: unknown sensor kind {0}")]
    UnknownSensorKind(i32),
    /// `sensor_kind` is given and `sensor` is not (a kind names no sensor by itself).
    #[error("context.sensor_kind {0} is given without context.sensor")]
    SensorKindWithoutSensor(SensorKind),
}

impl PolicyScope {
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

impl GrantScope {
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
        sensor_kind: None,
        cell: None,
        observed_ms: None,
        form: None,
    };
}

#[cfg(test)]
mod tests;
