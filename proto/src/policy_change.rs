//! What changes between two versions of a collector's policy, computed, never declared: every
//! change is an item with a direction (it widens what is collected, narrows it, or neither), a
//! stable code and one plain sentence ([`compare`]); and whether a version keeps an id with
//! another meaning ([`redefined`], `id-redefined`). Validation reads [`Change::widens`] (a
//! widening needs a consultation, crate docs "Consultations"); the CLI and the transparency site
//! show the sentences.
//!
//! An absent scope is the empty scope: anywhere, any sensor, any time, any form. Integers only
//! (cells, minutes of the week), so every node computes the same directions.

use std::collections::BTreeSet;
use std::fmt;

use crate::body::Policy;
use crate::h3::Cell;
use crate::pb;
use crate::scope::words::{form_text, sensor_text, utc_offset_text};
use crate::scope::{FormSpec, MINUTES_PER_DAY, PolicyScope, TimeWindow, Zone};
use crate::vocab::{Purpose, SensorKind};

#[cfg(test)]
mod tests;

/// Whether a change widens what is collected, narrows it, or neither.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// It allows more (a purpose, a place, a longer retention, ...). A line that both widens and
    /// narrows (a zone moved) widens.
    Widens,
    /// It allows less.
    Narrows,
    /// Neither (a name, a contact, an address).
    Neutral,
}

impl Direction {
    /// `widens`, `narrows`, `neutral`.
    pub fn name(self) -> &'static str {
        match self {
            Direction::Widens => "widens",
            Direction::Narrows => "narrows",
            Direction::Neutral => "neutral",
        }
    }

    /// The wire form.
    pub fn to_wire(self) -> pb::ChangeDirection {
        match self {
            Direction::Widens => pb::ChangeDirection::Widens,
            Direction::Narrows => pb::ChangeDirection::Narrows,
            Direction::Neutral => pb::ChangeDirection::Neutral,
        }
    }

    fn of(widens: bool, narrows: bool) -> Direction {
        if widens {
            Direction::Widens
        } else if narrows {
            Direction::Narrows
        } else {
            Direction::Neutral
        }
    }
}

/// One change: its direction, the code of its dimension and a plain sentence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeItem {
    /// Widens, narrows or neither.
    pub direction: Direction,
    /// `purposes`, `categories`, `retention`, `recipients`, `jurisdiction`, `document`, `zones`,
    /// `sensors`, `windows`, `forms`, `name`, `contact`, `document_url`.
    pub code: &'static str,
    /// One sentence for people.
    pub sentence: String,
}

impl ChangeItem {
    /// The wire form.
    pub fn to_wire(&self) -> pb::ChangeItem {
        pb::ChangeItem {
            direction: self.direction.to_wire() as i32,
            code: self.code.to_string(),
            sentence: self.sentence.clone(),
        }
    }
}

/// Every change from one version to another, in a fixed order (purposes, categories, retention,
/// recipients, name, law, contact, document address, document, zones, sensors, windows, forms).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Change {
    /// The items; empty: nothing changed that is shown.
    pub items: Vec<ChangeItem>,
}

/// The overall kind of a change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChangeKind {
    /// Some item widens.
    Widening,
    /// No item widens, some narrows.
    Narrowing,
    /// Neither.
    Unchanged,
}

impl ChangeKind {
    /// `widening`, `narrowing`, `unchanged`.
    pub fn name(self) -> &'static str {
        match self {
            ChangeKind::Widening => "widening",
            ChangeKind::Narrowing => "narrowing",
            ChangeKind::Unchanged => "unchanged",
        }
    }
}

/// The sentence [`Change::sentences`] gives when nothing changed.
pub const NO_CHANGE: &str = "No change in what is collected, why, for how long or with whom.";

impl Change {
    /// Whether any item widens.
    pub fn widens(&self) -> bool {
        self.items.iter().any(|i| i.direction == Direction::Widens)
    }

    /// Widening if any item widens, else narrowing if any narrows, else unchanged.
    pub fn kind(&self) -> ChangeKind {
        if self.widens() {
            ChangeKind::Widening
        } else if self.items.iter().any(|i| i.direction == Direction::Narrows) {
            ChangeKind::Narrowing
        } else {
            ChangeKind::Unchanged
        }
    }

    /// The items that widen.
    pub fn widening_items(&self) -> impl Iterator<Item = &ChangeItem> {
        self.items
            .iter()
            .filter(|i| i.direction == Direction::Widens)
    }

    /// The codes of the items, in order (a code may repeat: one zone line each).
    pub fn codes(&self) -> Vec<&'static str> {
        self.items.iter().map(|i| i.code).collect()
    }

    /// One sentence per item; when there is none, [`NO_CHANGE`].
    pub fn sentences(&self) -> Vec<String> {
        if self.items.is_empty() {
            return vec![NO_CHANGE.to_string()];
        }
        self.items.iter().map(|i| i.sentence.clone()).collect()
    }

    fn push(&mut self, direction: Direction, code: &'static str, sentence: String) {
        self.items.push(ChangeItem {
            direction,
            code,
            sentence,
        });
    }
}

/// Every change from `old` to `new` (crate docs, "Consultations", the table of what widens).
pub fn compare(old: &Policy, new: &Policy) -> Change {
    let mut out = Change::default();
    let listed =
        |out: &mut Change, d: Direction, code: &'static str, what: &str, items: Vec<String>| {
            if !items.is_empty() {
                out.push(d, code, format!("{what}: {}.", items.join(", ")));
            }
        };
    let purposes = |a: &Policy, b: &Policy| -> Vec<String> {
        a.purposes
            .iter()
            .filter(|x| !b.purposes.contains(*x))
            .map(|x| x.plain().to_string())
            .collect()
    };
    let categories = |a: &Policy, b: &Policy| -> Vec<String> {
        a.categories
            .iter()
            .filter(|x| !b.categories.contains(*x))
            .map(|x| x.plain().to_string())
            .collect()
    };
    let recipients = |a: &Policy, b: &Policy| -> Vec<String> {
        a.recipients
            .iter()
            .filter(|r| !b.recipients.contains(r))
            .cloned()
            .collect()
    };
    use Direction::{Narrows, Neutral, Widens};
    listed(
        &mut out,
        Widens,
        "purposes",
        "Now also used for",
        purposes(new, old),
    );
    listed(
        &mut out,
        Narrows,
        "purposes",
        "No longer used for",
        purposes(old, new),
    );
    listed(
        &mut out,
        Widens,
        "categories",
        "Now also collects",
        categories(new, old),
    );
    listed(
        &mut out,
        Narrows,
        "categories",
        "No longer collects",
        categories(old, new),
    );
    if old.retention_days != new.retention_days {
        out.push(
            Direction::of(new.retention_days > old.retention_days, true),
            "retention",
            format!(
                "Keeps data for up to {} days (was {}).",
                new.retention_days, old.retention_days
            ),
        );
    }
    listed(
        &mut out,
        Widens,
        "recipients",
        "Now also shares data with",
        recipients(new, old),
    );
    listed(
        &mut out,
        Narrows,
        "recipients",
        "No longer shares data with",
        recipients(old, new),
    );
    for (o, n, what, code, direction) in [
        (&old.name, &new.name, "Name", "name", Neutral),
        // The ledger cannot tell which law protects more: any change fails closed.
        (
            &old.jurisdiction,
            &new.jurisdiction,
            "Applicable law",
            "jurisdiction",
            Widens,
        ),
        (&old.contact, &new.contact, "Contact", "contact", Neutral),
        (
            &old.document_url,
            &new.document_url,
            "Policy document address",
            "document_url",
            Neutral,
        ),
    ] {
        if o != n {
            out.push(
                direction,
                code,
                format!("{what} changed from \u{201c}{o}\u{201d} to \u{201c}{n}\u{201d}."),
            );
        }
    }
    if old.document_digest != new.document_digest {
        // The ledger cannot read the document: fail closed.
        out.push(
            Widens,
            "document",
            "The policy document itself changed (new digest).".into(),
        );
    }
    let none = PolicyScope::default();
    let (o, n) = (
        old.scope.as_ref().unwrap_or(&none),
        new.scope.as_ref().unwrap_or(&none),
    );
    zone_changes(o, n, &mut out);
    sensor_changes(o, n, &mut out);
    window_changes(o, n, &mut out);
    form_changes(o, n, new, &mut out);
    out
}

/// Whether `cell` lies in one of `zones` (the zone's resolution at most the cell's, its parent
/// there one of the zone's cells).
fn covered(cell: Cell, zones: &[Zone]) -> bool {
    zones.iter().any(|z| z.contains(cell))
}

/// Whether some cell of `zone` lies in none of `zones`.
fn uncovered(zone: &Zone, zones: &[Zone]) -> bool {
    zone.cells.iter().any(|c| !covered(*c, zones))
}

fn zone_changes(o: &PolicyScope, n: &PolicyScope, out: &mut Change) {
    match (o.zones.is_empty(), n.zones.is_empty()) {
        (true, true) => {}
        (true, false) => out.push(
            Direction::Narrows,
            "zones",
            format!(
                "Now collects only in its zones: {}.",
                n.zones
                    .iter()
                    .map(|z| format!("zone {} {}", z.id, z.name))
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
        ),
        (false, true) => out.push(
            Direction::Widens,
            "zones",
            "Now collects anywhere (it declares no zone).".into(),
        ),
        (false, false) => {
            for z in &n.zones {
                match o.zones.iter().find(|x| x.id == z.id) {
                    None => out.push(
                        Direction::of(uncovered(z, &o.zones), false),
                        "zones",
                        format!("Now also collects in zone {} {}.", z.id, z.name),
                    ),
                    Some(x) if x.cells != z.cells || x.resolution != z.resolution => out.push(
                        Direction::of(uncovered(z, &o.zones), uncovered(x, &n.zones)),
                        "zones",
                        format!(
                            "Zone {} {} changed its area (now {}, was {}).",
                            z.id,
                            z.name,
                            cells_text(z.cells.len()),
                            cells_text(x.cells.len())
                        ),
                    ),
                    Some(_) => {}
                }
            }
            for x in &o.zones {
                if !n.zones.iter().any(|z| z.id == x.id) {
                    out.push(
                        Direction::of(false, uncovered(x, &n.zones)),
                        "zones",
                        format!("No longer collects in zone {} {}.", x.id, x.name),
                    );
                }
            }
        }
    }
}

/// `1 cell`, `2 cells`.
fn cells_text(n: usize) -> String {
    if n == 1 {
        "1 cell".into()
    } else {
        format!("{n} cells")
    }
}

fn sensor_changes(o: &PolicyScope, n: &PolicyScope, out: &mut Change) {
    if o.sensors == n.sensors {
        return;
    }
    // No sensor declared: any sensor.
    let adds = |a: &PolicyScope, b: &PolicyScope| {
        !a.sensors.is_empty()
            && (b.sensors.is_empty() || b.sensors.iter().any(|s| a.sensor(s.id).is_none()))
    };
    let list = |s: &PolicyScope| {
        if s.sensors.is_empty() {
            "any sensor".to_string()
        } else {
            s.sensors
                .iter()
                .map(|x| sensor_text(x.id, x.kind, x.zone))
                .collect::<Vec<_>>()
                .join("; ")
        }
    };
    out.push(
        Direction::of(adds(o, n), adds(n, o)),
        "sensors",
        format!("Sensors are now: {} (were: {}).", list(n), list(o)),
    );
}

/// Minutes of the week (Monday 00:00 UTC is 0), 10,080 bits.
const WEEK_MINUTES: usize = 7 * MINUTES_PER_DAY as usize;
type Week = [u64; WEEK_MINUTES.div_ceil(64)];

/// The UTC minutes of the week `windows` cover, each window read in `offset` (local = UTC +
/// offset); every minute when there is no window.
fn week(windows: &[TimeWindow], offset: i16) -> Week {
    let mut bits: Week = [0; WEEK_MINUTES.div_ceil(64)];
    if windows.is_empty() {
        for i in 0..WEEK_MINUTES {
            bits[i / 64] |= 1u64 << (i % 64);
        }
        return bits;
    }
    for w in windows {
        for day in 0..7i64 {
            if (w.days >> day) & 1 == 0 {
                continue;
            }
            for minute in w.start_minute..w.end_minute {
                let local = day * i64::from(MINUTES_PER_DAY) + i64::from(minute);
                let utc = (local - i64::from(offset)).rem_euclid(WEEK_MINUTES as i64) as usize;
                bits[utc / 64] |= 1u64 << (utc % 64);
            }
        }
    }
    bits
}

/// Whether `a` covers a minute `b` does not.
fn beyond(a: &Week, b: &Week) -> bool {
    a.iter().zip(b).any(|(x, y)| x & !y != 0)
}

fn window_changes(o: &PolicyScope, n: &PolicyScope, out: &mut Change) {
    if o.windows == n.windows
        && (n.windows.is_empty() || o.utc_offset_minutes == n.utc_offset_minutes)
    {
        return;
    }
    let (ow, nw) = (
        week(&o.windows, o.utc_offset_minutes),
        week(&n.windows, n.utc_offset_minutes),
    );
    let list = |s: &PolicyScope| {
        if s.windows.is_empty() {
            "at any time".to_string()
        } else {
            format!(
                "{} ({})",
                s.windows
                    .iter()
                    .map(TimeWindow::to_string)
                    .collect::<Vec<_>>()
                    .join(", "),
                utc_offset_text(s.utc_offset_minutes)
            )
        }
    };
    out.push(
        Direction::of(beyond(&nw, &ow), beyond(&ow, &nw)),
        "windows",
        format!("Collects now {} (was {}).", list(n), list(o)),
    );
}

/// Whether `a` is at least as protective as `b` (crate docs, "Consultations"): a higher rank, or
/// the same form with bins at least as long, cells at least as coarse and (aggregated) groups at
/// least as large.
pub fn at_least_as_protective(a: &FormSpec, b: &FormSpec) -> bool {
    match (a, b) {
        _ if a.form().rank() != b.form().rank() => a.form().rank() > b.form().rank(),
        (
            FormSpec::Binned {
                interval_s: ai,
                resolution: ar,
            },
            FormSpec::Binned {
                interval_s: bi,
                resolution: br,
            },
        ) => ai >= bi && ar <= br,
        (
            FormSpec::Aggregated {
                interval_s: ai,
                resolution: ar,
                min_group: ak,
            },
            FormSpec::Aggregated {
                interval_s: bi,
                resolution: br,
                min_group: bk,
            },
        ) => ai >= bi && ar <= br && ak >= bk,
        _ => true,
    }
}

/// Whether some offer of `a` is less protective than every offer of `b` (no offer of `b` it is at
/// least as protective as). With `b` empty (any form), never; with `a` empty and `b` not, always.
fn weaker_offer(a: &[FormSpec], b: &[FormSpec]) -> bool {
    if b.is_empty() {
        return false;
    }
    a.is_empty()
        || a.iter()
            .any(|x| !b.iter().any(|y| at_least_as_protective(x, y)))
}

fn form_changes(o: &PolicyScope, n: &PolicyScope, new: &Policy, out: &mut Change) {
    let purposes: BTreeSet<i32> = o
        .forms
        .iter()
        .chain(&n.forms)
        .map(|f| f.purpose as i32)
        .collect();
    for p in purposes {
        let offers = |s: &PolicyScope| {
            s.forms
                .iter()
                .find(|f| f.purpose as i32 == p)
                .map(|f| f.offers.clone())
                .unwrap_or_default()
        };
        let (before, after) = (offers(o), offers(n));
        if before == after {
            continue;
        }
        let purpose = Purpose::from_wire(p);
        // Only a purpose the new version still has can be widened.
        let kept = purpose.is_some_and(|p| new.purposes.contains(p));
        // "kept as observed: …", "kept as binned: …", "kept in any form".
        let words = |offers: &[FormSpec]| {
            if offers.is_empty() {
                "in any form".to_string()
            } else {
                offers
                    .iter()
                    .map(|f| {
                        let t = form_text(f);
                        if t.starts_with("as ") {
                            t
                        } else {
                            format!("as {t}")
                        }
                    })
                    .collect::<Vec<_>>()
                    .join(" or ")
            }
        };
        let name = purpose.map_or("a purpose", |p| p.plain());
        let sentence = if kept {
            format!(
                "For {name}, now kept {} (was kept {}).",
                words(&after),
                words(&before)
            )
        } else {
            // A purpose dropped with its offers: the purposes line already says it.
            format!(
                "For {name}, no longer a purpose: its forms are gone (was kept {}).",
                words(&before)
            )
        };
        out.push(
            Direction::of(
                kept && weaker_offer(&after, &before),
                weaker_offer(&before, &after),
            ),
            "forms",
            sentence,
        );
    }
}

/// An id a policy version keeps with another meaning than an earlier version gave it
/// (`id-redefined`): grants and checks read ids in the numbering of the version they name, so an
/// id must not change what it names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Redefined {
    /// A sensor id kept for a sensor of another kind.
    Sensor {
        /// The id.
        id: u32,
        /// Its kind in the earlier version.
        was: SensorKind,
        /// Its kind in the new one.
        now: SensorKind,
    },
    /// A zone id kept for an area disjoint from the one it named.
    Zone {
        /// The id.
        id: u32,
    },
}

impl fmt::Display for Redefined {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Redefined::Sensor { id, was, now } => write!(
                f,
                "sensor {id} was {was} in an earlier version and is {now} here: an id keeps its \
                 meaning; give the new sensor a new id"
            ),
            Redefined::Zone { id } => write!(
                f,
                "zone {id} names an area disjoint from the one it named in an earlier version: \
                 an id keeps its meaning; give the new place a new id"
            ),
        }
    }
}

/// The first id `new` keeps with another meaning than in `old`: sensors by id ascending (another
/// kind), then zones by id ascending (disjoint areas: no cell in common once both are read at the
/// coarser of their two resolutions).
pub fn redefined(old: &Policy, new: &Policy) -> Option<Redefined> {
    let (Some(o), Some(n)) = (old.scope.as_ref(), new.scope.as_ref()) else {
        return None;
    };
    for s in &n.sensors {
        if let Some(was) = o.sensor(s.id)
            && was.kind != s.kind
        {
            return Some(Redefined::Sensor {
                id: s.id,
                was: was.kind,
                now: s.kind,
            });
        }
    }
    for z in &n.zones {
        if let Some(was) = o.zone(z.id)
            && disjoint(was, z)
        {
            return Some(Redefined::Zone { id: z.id });
        }
    }
    None
}

/// Whether two zones share no area: their cells, read at the coarser of the two resolutions, have
/// none in common.
fn disjoint(a: &Zone, b: &Zone) -> bool {
    let r = a.resolution.min(b.resolution);
    let up = |z: &Zone| -> BTreeSet<Cell> { z.cells.iter().filter_map(|c| c.parent(r)).collect() };
    up(a).is_disjoint(&up(b))
}
