//! The forms a collector keeps data in, applied to its observations: what a policy's
//! [`FormSpec`] means for a stored record, so that a gateway stores exactly the form a check
//! allowed (spec "Scope and form").
//!
//! - **raw**: the observation as made.
//! - **pseudonymised**: the subject's feed replaced by a keyed hash ([`pseudonym`]) under a key
//!   only the collector holds ([`PseudonymKey`], never on the ledger, zeroised on drop); exact
//!   time and place kept. Still personal data (GDPR Art. 4(5)).
//! - **binned**: pseudonymised, the time floored to the start of its interval ([`bin_time`],
//!   aligned to local midnight at the policy's fixed UTC offset) and the cell coarsened to the
//!   stated H3 resolution ([`bin_cell`]).
//! - **aggregated**: no per-person record at all. Observations go into an [`Aggregator`], which
//!   counts them per (time bin, cell) and releases a group only once its bin has ended and only
//!   if it holds at least `k` **distinct** subjects; smaller groups are suppressed (dropped, only
//!   their number is reported). Released or suppressed, a group is forgotten. A released group
//!   gives the number of subjects and the mean of the subjects' own means: every subject weighs
//!   the same, and the number of observations (one subject's activity, once the others are
//!   subtracted) is not given out.
//!
//! The ledger records what the collector declared and what each check allowed; it cannot see the
//! stored data. The collector is accountable for applying the form: these functions are the
//! SDK's way of doing it. Floating point is used for the values only (means, moving averages):
//! no decision depends on it.
//!
//! ```no_run
//! # fn demo(spec: &consent_proto::scope::FormSpec, obs: consent_client::transforms::Observation)
//! #     -> Result<(), getrandom::Error> {
//! use consent_client::transforms::{self, Aggregator, Applied, PseudonymKey};
//! let key = PseudonymKey::generate()?; // keep it: pseudonyms must stay stable across restarts
//! let mut aggregator = Aggregator::new(spec, 60);
//! match transforms::apply(spec, &key, 60, obs) {
//!     Applied::Record(_record) => { /* store the record */ }
//!     Applied::Aggregate => {
//!         if let Some(a) = aggregator.as_mut() {
//!             a.add(&key, &obs);
//!         }
//!     }
//! }
//! # Ok(()) }
//! ```

use std::collections::BTreeMap;
use std::fmt;

use consent_proto::h3::Cell;
use consent_proto::ids::FeedId;
use consent_proto::scope::{Context, FormSpec, Sensor};
use consent_proto::vocab::Form;
use h3o::{CellIndex, Resolution};
use zeroize::Zeroizing;

/// Domain of the pseudonym hash: `BLAKE3-keyed(key, PSEUDONYM_DOMAIN || subject feed id)`.
pub const PSEUDONYM_DOMAIN: &[u8] = b"consent-ledger/pseudonym/v1";

/// One observation as a sensor gateway receives it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Observation {
    /// The subject (the pairwise feed the gateway knows the person by).
    pub subject: FeedId,
    /// When it was made, Unix ms.
    pub observed_ms: u64,
    /// Where it was made, at the sensor's resolution.
    pub cell: CellIndex,
    /// The reading (a count, a level, an amount).
    pub value: f64,
}

impl Observation {
    /// The check context of this observation made by `sensor` (as the gateway's policy declares
    /// it: the context names its id and its kind, so that a grant under another policy version,
    /// where the id may be another kind of sensor, does not cover it), for storing it in `form`.
    pub fn context(&self, sensor: Option<&Sensor>, form: Option<Form>) -> Context {
        Context {
            sensor: sensor.map(|s| s.id),
            sensor_kind: sensor.map(|s| s.kind),
            cell: ledger_cell(self.cell),
            observed_ms: Some(self.observed_ms),
            form,
        }
    }
}

/// An h3o cell as the ledger's [`Cell`] (the same 64-bit index).
pub fn ledger_cell(cell: CellIndex) -> Option<Cell> {
    Cell::new(u64::from(cell))
}

/// The collector's key for pseudonyms. Never on the ledger; zeroised on drop; `Debug` prints no
/// byte of it.
pub struct PseudonymKey(Zeroizing<[u8; 32]>);

impl PseudonymKey {
    /// A new random key. Keep it (encrypted): pseudonyms made under another key do not match.
    pub fn generate() -> Result<Self, getrandom::Error> {
        let mut key = Zeroizing::new([0u8; 32]);
        getrandom::fill(&mut key[..])?;
        Ok(Self(key))
    }

    /// A key from its 32 bytes (as loaded from the collector's key store); zeroise the caller's
    /// copy after.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(Zeroizing::new(bytes))
    }
}

impl fmt::Debug for PseudonymKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PseudonymKey(<redacted>)")
    }
}

/// The subject's pseudonym: `BLAKE3-keyed(key, "consent-ledger/pseudonym/v1" || subject)`.
/// Deterministic under one key (records of one person stay linkable for the collector), and
/// unlinkable to the feed without the key.
pub fn pseudonym(key: &PseudonymKey, subject: &FeedId) -> [u8; 32] {
    let mut hasher = blake3::Hasher::new_keyed(&key.0);
    hasher.update(PSEUDONYM_DOMAIN);
    hasher.update(&subject.0);
    *hasher.finalize().as_bytes()
}

/// The start (Unix ms) of the bin of `interval_s` seconds holding `observed_ms`, bins aligned to
/// local midnight at the fixed `utc_offset_minutes` (the interval divides a day). Integer
/// arithmetic, floored as the spec's local time is; a start before 1970 reads as 0.
pub fn bin_time(observed_ms: u64, interval_s: u32, utc_offset_minutes: i16) -> u64 {
    let interval = i128::from(interval_s.max(1)) * 1_000;
    let offset = i128::from(utc_offset_minutes) * 60_000;
    let local = i128::from(observed_ms) + offset;
    let start = local.div_euclid(interval) * interval - offset;
    u64::try_from(start).unwrap_or(0)
}

/// The parent of `cell` at `resolution` (the cell itself at its own resolution); `None` when
/// the cell is coarser than that or the resolution is not an H3 one (> 15).
pub fn bin_cell(cell: CellIndex, resolution: u8) -> Option<CellIndex> {
    Resolution::try_from(resolution)
        .ok()
        .and_then(|r| cell.parent(r))
}

/// A cell as kept in `resolution`: its parent there, or the cell itself when it is already
/// coarser (it says less than the form asks for).
fn coarsened(cell: CellIndex, resolution: u8) -> CellIndex {
    bin_cell(cell, resolution).unwrap_or(cell)
}

/// A per-person record in the form it is stored.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Record {
    /// As observed.
    Raw(Observation),
    /// The subject replaced by its pseudonym.
    Pseudonymised {
        /// [`pseudonym`] of the subject.
        pseudonym: [u8; 32],
        /// When, Unix ms.
        observed_ms: u64,
        /// Where.
        cell: CellIndex,
        /// The reading.
        value: f64,
    },
    /// Pseudonymised, time floored, place coarsened.
    Binned {
        /// [`pseudonym`] of the subject.
        pseudonym: [u8; 32],
        /// Start of the time bin, Unix ms.
        bin_start_ms: u64,
        /// The cell at the form's resolution.
        cell: CellIndex,
        /// The reading.
        value: f64,
    },
}

impl Record {
    /// The form this record is in.
    pub fn form(&self) -> Form {
        match self {
            Record::Raw(_) => Form::Raw,
            Record::Pseudonymised { .. } => Form::Pseudonymised,
            Record::Binned { .. } => Form::Binned,
        }
    }
}

/// What [`apply`] made of an observation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Applied {
    /// A record to store.
    Record(Record),
    /// Nothing to store per person: feed the observation to an [`Aggregator`] for this spec.
    Aggregate,
}

/// The observation in the form `spec` describes, under the policy's `utc_offset_minutes`.
pub fn apply(
    spec: &FormSpec,
    key: &PseudonymKey,
    utc_offset_minutes: i16,
    obs: Observation,
) -> Applied {
    let record = match *spec {
        FormSpec::Raw => Record::Raw(obs),
        FormSpec::Pseudonymised => Record::Pseudonymised {
            pseudonym: pseudonym(key, &obs.subject),
            observed_ms: obs.observed_ms,
            cell: obs.cell,
            value: obs.value,
        },
        FormSpec::Binned {
            interval_s,
            resolution,
        } => Record::Binned {
            pseudonym: pseudonym(key, &obs.subject),
            bin_start_ms: bin_time(obs.observed_ms, interval_s, utc_offset_minutes),
            cell: coarsened(obs.cell, resolution),
            value: obs.value,
        },
        FormSpec::Aggregated { .. } => return Applied::Aggregate,
    };
    Applied::Record(record)
}

/// One group of an [`Aggregator`]: the pseudonyms of its distinct subjects, while it is open.
#[derive(Debug)]
struct Group {
    cell: CellIndex,
    /// Per member (pseudonym): observations and the sum of their values, so each member weighs
    /// the same in the released mean however many observations it produced.
    members: BTreeMap<[u8; 32], (u64, f64)>,
}

/// One released group: at least `k` distinct subjects in one (time bin, cell).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AggregateRow {
    /// Start of the time bin, Unix ms.
    pub bin_start_ms: u64,
    /// The cell at the form's resolution.
    pub cell: CellIndex,
    /// Distinct subjects (>= k).
    pub subjects: u32,
    /// Mean over the subjects of each subject's mean value: every subject weighs the same, so
    /// one very active subject cannot dominate the figure (and the number of observations,
    /// which would reveal that subject's activity, is not given out).
    pub mean: f64,
}

/// What [`Aggregator::release`] gave out.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Released {
    /// Groups of at least `k` distinct subjects, by bin then cell.
    pub rows: Vec<AggregateRow>,
    /// Groups dropped for holding fewer than `k` distinct subjects.
    pub suppressed: usize,
}

/// Counts observations per (time bin, cell) for one AGGREGATED [`FormSpec`], and gives out only
/// groups of at least `k` distinct subjects. It holds pseudonyms (never feeds) of the open
/// groups' members, only until their bin is released; call [`Aggregator::release`] as time
/// passes.
#[derive(Debug)]
pub struct Aggregator {
    interval_s: u32,
    resolution: u8,
    min_group: u32,
    utc_offset_minutes: i16,
    /// Open groups by (bin start, cell index).
    groups: BTreeMap<(u64, u64), Group>,
    /// Every bin that ended before this (Unix ms) was released: later observations of such
    /// bins are dropped, so each (bin, cell) is given out at most once.
    released_before: u64,
}

impl Aggregator {
    /// An aggregator for `spec` under the policy's `utc_offset_minutes`; `None` unless `spec` is
    /// AGGREGATED and valid as a policy may declare it ([`FormSpec::from_wire`]: k >= 2, an
    /// interval that divides a day): a spec built in code with k = 1 or an interval of 0 is
    /// refused, not silently adjusted.
    pub fn new(spec: &FormSpec, utc_offset_minutes: i16) -> Option<Self> {
        FormSpec::from_wire(&spec.to_wire()).ok()?;
        match *spec {
            FormSpec::Aggregated {
                interval_s,
                resolution,
                min_group,
            } => Some(Self {
                interval_s,
                resolution,
                min_group,
                utc_offset_minutes,
                groups: BTreeMap::new(),
                released_before: 0,
            }),
            _ => None,
        }
    }

    /// The bin length, ms.
    fn interval_ms(&self) -> u64 {
        u64::from(self.interval_s) * 1_000
    }

    /// Counts `obs` in its group; false (dropped) when its bin was already released.
    pub fn add(&mut self, key: &PseudonymKey, obs: &Observation) -> bool {
        let bin = bin_time(obs.observed_ms, self.interval_s, self.utc_offset_minutes);
        if bin.saturating_add(self.interval_ms()) <= self.released_before {
            return false;
        }
        let cell = coarsened(obs.cell, self.resolution);
        let group = self
            .groups
            .entry((bin, u64::from(cell)))
            .or_insert_with(|| Group {
                cell,
                members: BTreeMap::new(),
            });
        let member = group
            .members
            .entry(pseudonym(key, &obs.subject))
            .or_insert((0, 0.0));
        member.0 += 1;
        member.1 += obs.value;
        true
    }

    /// Groups whose bin ended at or before `before_ms`: released if they hold at least `k`
    /// DISTINCT subjects, otherwise dropped (only their number is reported). Released or
    /// dropped, they are forgotten.
    pub fn release(&mut self, before_ms: u64) -> Released {
        let mut out = Released::default();
        let Some(last_start) = before_ms.checked_sub(self.interval_ms()) else {
            return out;
        };
        // Groups with bin start <= last_start have ended; `split_off` keeps the rest.
        let open = match last_start.checked_add(1) {
            Some(first_open) => self.groups.split_off(&(first_open, 0)),
            None => BTreeMap::new(),
        };
        let ended = std::mem::replace(&mut self.groups, open);
        self.released_before = self.released_before.max(before_ms);
        for ((bin_start_ms, _), group) in ended {
            let subjects = u32::try_from(group.members.len()).unwrap_or(u32::MAX);
            if subjects < self.min_group {
                out.suppressed += 1;
                continue;
            }
            let means: f64 = group
                .members
                .values()
                .map(|(count, sum)| sum / *count as f64)
                .sum();
            out.rows.push(AggregateRow {
                bin_start_ms,
                cell: group.cell,
                subjects,
                mean: means / f64::from(subjects),
            });
        }
        out
    }

    /// Open groups (not yet released), for monitoring.
    pub fn open_groups(&self) -> usize {
        self.groups.len()
    }
}

/// The moving average of the means of released rows, per cell over `window` consecutive
/// released bins of that cell (a suppressed bin is absent, not zero): one value per row that
/// ends a full window, as `(bin start, cell, average)`, by bin then cell. Unweighted (a mean of
/// means). The input is already aggregated, so the output stays so.
pub fn moving_average(rows: &[AggregateRow], window: usize) -> Vec<(u64, CellIndex, f64)> {
    if window == 0 {
        return Vec::new();
    }
    let mut by_cell: BTreeMap<u64, Vec<&AggregateRow>> = BTreeMap::new();
    for row in rows {
        by_cell.entry(u64::from(row.cell)).or_default().push(row);
    }
    let mut out = Vec::new();
    for series in by_cell.values_mut() {
        series.sort_by_key(|r| r.bin_start_ms);
        for run in series.windows(window) {
            let last = run[run.len() - 1];
            let average = run.iter().map(|r| r.mean).sum::<f64>() / window as f64;
            out.push((last.bin_start_ms, last.cell, average));
        }
    }
    out.sort_by_key(|(bin, cell, _)| (*bin, u64::from(*cell)));
    out
}

#[cfg(test)]
mod tests;
