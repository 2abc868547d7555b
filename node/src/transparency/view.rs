//! What the transparency page publishes, as plain data: the JSON API serialises these types as
//! they are, and the HTML pages render the same values. Every count that could point at a person
//! goes through [`Count::of`], the one place the k-anonymity threshold is applied.

use std::collections::BTreeMap;
use std::time::{Duration, UNIX_EPOCH};

use consent_proto::body::Policy;
use consent_proto::ids::FeedId;
pub(crate) use consent_proto::scope::words::utc_offset_text;
use consent_proto::scope::words::{cell_area_text, interval_text};
use consent_proto::scope::{FormSpec, PolicyScope, TimeWindow};
use consent_proto::vocab::{DataCategory, Form, Purpose, RequestKind, Role, SensorKind};
use serde::Serialize;

use super::register::{Collector, PolicyVersion, ScopeCounts, Standing};
use crate::ledger::AnswerStats;

/// A published count: exact when at least k, otherwise only that it is below k.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Count {
    /// The count (>= k).
    Exactly(u64),
    /// Fewer than this (k); zero included, so "none" and "one person" look the same.
    FewerThan(u64),
}

impl Count {
    /// `n` as published under threshold `k`.
    pub(crate) fn of(n: u64, k: u64) -> Count {
        if n >= k {
            Count::Exactly(n)
        } else {
            Count::FewerThan(k)
        }
    }
}

impl std::fmt::Display for Count {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Count::Exactly(n) => write!(f, "{n}"),
            Count::FewerThan(k) => write!(f, "< {k}"),
        }
    }
}

/// A vocabulary term: its short name and what it means.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Term {
    /// Short name (`location`, `research`, ...), as the wallet spells it.
    pub name: &'static str,
    /// What it means, in plain words.
    pub meaning: &'static str,
}

/// A collector's policy in plain words.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct PolicyView {
    /// Version (1, 2, ...).
    pub version: u32,
    /// The policy entry's id (`ent1…`).
    pub entry: String,
    /// When the collector signed it (RFC 3339, UTC).
    pub signed_at: String,
    /// The collector's public name.
    pub name: String,
    /// What it uses data for.
    pub purposes: Vec<Term>,
    /// Which data it collects.
    pub categories: Vec<Term>,
    /// Longest it keeps data, days.
    pub retention_days: u32,
    /// Who it shares data with.
    pub recipients: Vec<String>,
    /// Applicable law.
    pub jurisdiction: String,
    /// The full policy document.
    pub document_url: String,
    /// BLAKE3 digest of that document (`dig1…`), to check the copy you read.
    pub document_digest: String,
    /// Data-protection contact.
    pub contact: String,
    /// Where, with which sensors, when and in what form it collects, one plain sentence each
    /// (empty when the policy declares no scope).
    pub scope: Vec<String>,
    /// What changed from the version before, in plain words (empty for the first).
    pub changes: Vec<String>,
}

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

/// What one registrar says of a collector.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct StandingView {
    /// The registrar's id (`reg1…`).
    pub registrar: String,
    /// Its public name, if the network's genesis gives one.
    pub registrar_name: Option<String>,
    /// `accredited`, `expired` or `suspended`.
    pub status: &'static str,
    /// Until when (accredited or expired), RFC 3339.
    pub until: Option<String>,
    /// The registrar's public reason (suspended).
    pub reason: Option<String>,
}

/// How a collector answers requests and erasure demands.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct AnswersView {
    /// Requests and revocations asking for erasure it received.
    pub received: Count,
    /// Of which it acknowledged with a signed answer.
    pub answered: Count,
    /// Median and 95th percentile of the time to answer, in hours (published only when at
    /// least k answers exist).
    pub median_hours: Option<f64>,
    /// See `median_hours`.
    pub p95_hours: Option<f64>,
    /// Not answered and older than the deadline.
    pub overdue: Count,
    /// Answered, but after the deadline.
    pub answered_late: Count,
    /// The deadline, days.
    pub deadline_days: u64,
}

/// One collector on the register.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct CollectorView {
    /// Its id (`col1…`).
    pub id: String,
    /// Its public name (from its current policy).
    pub name: Option<String>,
    /// Accredited now by at least one of the network's registrars.
    pub accredited: bool,
    /// Each registrar's statement.
    pub standing: Vec<StandingView>,
    /// Caught signing two histories: its feed is frozen and checks for it answer deny.
    pub frozen: bool,
    /// Its current policy (none published yet: it cannot receive valid consent).
    pub policy: Option<PolicyView>,
    /// Consents in force now.
    pub grants_in_force: Count,
    /// Consents ever given to it.
    pub grants_total: Count,
    /// Consents withdrawn.
    pub revocations: Count,
    /// Of which also asked for erasure.
    pub erasure_revocations: Count,
    /// Requests by kind.
    pub requests: BTreeMap<&'static str, Count>,
    /// How it answers (present on a collector's own page and its API object).
    pub answers: Option<AnswersView>,
    /// Earlier policy versions, newest first (on its own page; the latest 20).
    pub history: Vec<PolicyView>,
    /// Earlier policy versions not in `history` (older than the 20 shown).
    pub history_not_shown: u64,
    /// Its current policy's scope with consents per zone and form (on its own page and API
    /// object, when the policy declares one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<ScopeView>,
}

/// Everything needed to describe a collector, taken from the register under its lock.
pub(crate) struct CollectorFacts<'a> {
    /// The collector's feed.
    pub feed: FeedId,
    /// Its register entry.
    pub collector: &'a Collector,
    /// Now, Unix ms.
    pub now_ms: u64,
    /// The threshold.
    pub k: u64,
    /// Public names of registrars and nodes.
    pub names: &'a BTreeMap<String, String>,
    /// Its feed is frozen.
    pub frozen: bool,
}

impl CollectorFacts<'_> {
    /// The register line (no history, no answer times).
    pub(crate) fn summary(&self) -> CollectorView {
        let c = self.collector;
        let k = self.k;
        let standing: Vec<StandingView> = c
            .standing
            .iter()
            .map(|(registrar, s)| standing_view(registrar, s, self.now_ms, self.names))
            .collect();
        CollectorView {
            id: self.feed.typed(Role::Collector).to_string(),
            name: c.policy().map(|p| p.policy.name.clone()),
            accredited: standing.iter().any(|s| s.status == "accredited"),
            standing,
            frozen: self.frozen,
            policy: c.policy().map(|p| policy_view(p, c.previous())),
            grants_in_force: Count::of(c.grants_in_force(self.now_ms), k),
            grants_total: Count::of(c.grants, k),
            revocations: Count::of(c.revocations, k),
            erasure_revocations: Count::of(c.erase_revocations, k),
            requests: RequestKind::ALL
                .iter()
                .zip(c.requests)
                .map(|(kind, n)| (kind.name(), Count::of(n, k)))
                .collect(),
            answers: None,
            history: Vec::new(),
            history_not_shown: 0,
            scope: None,
        }
    }

    /// The collector's own page: the summary, its answer record and its policy history, from
    /// `history` (its latest policy versions, oldest first, as read from the store; see
    /// [`super::register::read_policies`]).
    pub(crate) fn detail(
        &self,
        answers: &AnswerStats,
        deadline: Duration,
        history: &[PolicyVersion],
    ) -> CollectorView {
        let mut view = self.summary();
        let k = self.k;
        let enough = answers.answered >= k;
        let hours = |ms: Option<u64>| ms.filter(|_| enough).map(|ms| round1(ms as f64 / 3.6e6));
        view.answers = Some(AnswersView {
            received: Count::of(answers.requests, k),
            answered: Count::of(answers.answered, k),
            median_hours: hours(answers.median_ms),
            p95_hours: hours(answers.p95_ms),
            overdue: Count::of(answers.overdue, k),
            answered_late: Count::of(answers.late, k),
            deadline_days: deadline.as_secs() / 86_400,
        });
        // The versions before the current one (a version that arrived since the ids were read
        // is left out).
        let current = self.collector.policy().map(|p| p.id);
        let earlier = history
            .iter()
            .position(|v| Some(v.id) == current)
            .map_or(history, |i| &history[..i]);
        view.history = (0..earlier.len())
            .rev()
            .take(super::register::HISTORY_SHOWN)
            .map(|i| policy_view(&earlier[i], i.checked_sub(1).map(|j| &earlier[j])))
            .collect();
        view.history_not_shown = self
            .collector
            .versions
            .saturating_sub(1 + view.history.len() as u64);
        view.scope = self.collector.policy().and_then(|current| {
            let scope = current.policy.scope.as_ref()?;
            let counts = self.collector.scope_counts.get(&current.id);
            let map = (!scope.zones.is_empty()).then(|| format!("/collectors/{}/map.svg", view.id));
            Some(scope_view(scope, counts, k, map))
        });
        view
    }
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

/// A form offer in plain words, with its parameters.
pub(crate) fn form_text(spec: &FormSpec) -> String {
    match *spec {
        FormSpec::Raw => "as observed: identifiers in clear, exact time and place".into(),
        FormSpec::Pseudonymised => {
            "pseudonymised: your identifier replaced by a keyed code, exact time and place".into()
        }
        FormSpec::Binned {
            interval_s,
            resolution,
        } => format!(
            "binned: pseudonymised, time {}, place to cells of {}",
            interval_text(interval_s),
            cell_area_text(resolution)
        ),
        FormSpec::Aggregated {
            interval_s,
            resolution,
            min_group,
        } => format!(
            "aggregated: no record about you, only counts over groups of at least {min_group} \
             people, {}, in cells of {}",
            interval_text(interval_s),
            cell_area_text(resolution)
        ),
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

fn sensor_text(id: u32, kind: SensorKind, zone: Option<u32>) -> String {
    match zone {
        Some(z) => format!("{id} {} in zone {z}", kind.plain()),
        None => format!("{id} {}", kind.plain()),
    }
}

/// What changed in the scope between two versions, one plain sentence per change (nothing when
/// the same). An absent scope declares nothing: anywhere, any sensor, any time, any form.
fn scope_changes(old: Option<&PolicyScope>, new: Option<&PolicyScope>, out: &mut Vec<String>) {
    let none = PolicyScope::default();
    let (old, new) = (old.unwrap_or(&none), new.unwrap_or(&none));
    match (old.zones.is_empty(), new.zones.is_empty()) {
        (true, false) => out.push(format!(
            "Now collects only in its zones: {}.",
            new.zones
                .iter()
                .map(|z| format!("zone {} {}", z.id, z.name))
                .collect::<Vec<_>>()
                .join("; ")
        )),
        (false, true) => out.push("Now collects anywhere (it declares no zone).".into()),
        _ => {
            for z in &new.zones {
                match old.zones.iter().find(|o| o.id == z.id) {
                    None => out.push(format!("Now also collects in zone {} {}.", z.id, z.name)),
                    Some(o) if o.cells != z.cells || o.resolution != z.resolution => {
                        out.push(format!(
                            "Zone {} {} changed its area ({} cells, was {}).",
                            z.id,
                            z.name,
                            z.cells.len(),
                            o.cells.len()
                        ))
                    }
                    Some(_) => {}
                }
            }
            for o in &old.zones {
                if !new.zones.iter().any(|z| z.id == o.id) {
                    out.push(format!("No longer collects in zone {} {}.", o.id, o.name));
                }
            }
        }
    }
    if old.sensors != new.sensors {
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
        out.push(format!(
            "Sensors are now: {} (were: {}).",
            list(new),
            list(old)
        ));
    }
    if old.windows != new.windows
        || (!new.windows.is_empty() && old.utc_offset_minutes != new.utc_offset_minutes)
    {
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
        out.push(format!("Collects now {} (was {}).", list(new), list(old)));
    }
    let purposes: std::collections::BTreeSet<i32> = old
        .forms
        .iter()
        .chain(&new.forms)
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
        let (before, after) = (offers(old), offers(new));
        if before != after {
            let words = |o: &[FormSpec]| {
                if o.is_empty() {
                    "any form".to_string()
                } else {
                    o.iter().map(form_text).collect::<Vec<_>>().join(" or ")
                }
            };
            let purpose = Purpose::from_wire(p).map_or("a purpose", |p| p.plain());
            out.push(format!(
                "For {purpose}, now kept as {} (was {}).",
                words(&after),
                words(&before)
            ));
        }
    }
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

fn standing_view(
    registrar: &FeedId,
    standing: &Standing,
    now_ms: u64,
    names: &BTreeMap<String, String>,
) -> StandingView {
    let id = registrar.typed(Role::Registrar).to_string();
    let registrar_name = names.get(&id).cloned();
    match standing {
        Standing::Accredited { valid_until, .. } => StandingView {
            registrar: id,
            registrar_name,
            status: if *valid_until > now_ms {
                "accredited"
            } else {
                "expired"
            },
            until: Some(date(*valid_until)),
            reason: None,
        },
        Standing::Suspended { reason, .. } => StandingView {
            registrar: id,
            registrar_name,
            status: "suspended",
            until: None,
            reason: Some(reason.clone()),
        },
    }
}

/// A policy version in plain words, with what changed from the version `before` it.
fn policy_view(v: &PolicyVersion, before: Option<&PolicyVersion>) -> PolicyView {
    let p = &v.policy;
    PolicyView {
        version: p.version,
        entry: v.id.to_string(),
        signed_at: date(v.at_ms),
        name: p.name.clone(),
        purposes: p.purposes.iter().map(purpose_term).collect(),
        categories: p.categories.iter().map(category_term).collect(),
        retention_days: p.retention_days,
        recipients: p.recipients.clone(),
        jurisdiction: p.jurisdiction.clone(),
        document_url: p.document_url.clone(),
        document_digest: p.document_digest.to_string(),
        contact: p.contact.clone(),
        scope: p.scope.as_ref().map(scope_sentences).unwrap_or_default(),
        changes: match before {
            Some(before) => changes(&before.policy, p),
            None => Vec::new(),
        },
    }
}

/// What changed between two versions of a policy, one plain sentence per change.
pub(crate) fn changes(old: &Policy, new: &Policy) -> Vec<String> {
    let mut out = Vec::new();
    let purposes = |a: &Policy, b: &Policy| -> Vec<&'static str> {
        a.purposes
            .iter()
            .filter(|x| !b.purposes.contains(*x))
            .map(|x| x.plain())
            .collect()
    };
    let categories = |a: &Policy, b: &Policy| -> Vec<&'static str> {
        a.categories
            .iter()
            .filter(|x| !b.categories.contains(*x))
            .map(|x| x.plain())
            .collect()
    };
    let recipients = |a: &Policy, b: &Policy| -> Vec<String> {
        a.recipients
            .iter()
            .filter(|r| !b.recipients.contains(r))
            .cloned()
            .collect()
    };
    let recipients_added = recipients(new, old);
    let recipients_removed = recipients(old, new);
    let listed = |items: Vec<&str>, what: &str, out: &mut Vec<String>| {
        if !items.is_empty() {
            out.push(format!("{what}: {}.", items.join(", ")));
        }
    };
    listed(purposes(new, old), "Now also used for", &mut out);
    listed(purposes(old, new), "No longer used for", &mut out);
    listed(categories(new, old), "Now also collects", &mut out);
    listed(categories(old, new), "No longer collects", &mut out);
    if old.retention_days != new.retention_days {
        out.push(format!(
            "Keeps data for up to {} days (was {}).",
            new.retention_days, old.retention_days
        ));
    }
    listed(
        recipients_added.iter().map(String::as_str).collect(),
        "Now also shares data with",
        &mut out,
    );
    listed(
        recipients_removed.iter().map(String::as_str).collect(),
        "No longer shares data with",
        &mut out,
    );
    for (old, new, what) in [
        (&old.name, &new.name, "Name"),
        (&old.jurisdiction, &new.jurisdiction, "Applicable law"),
        (&old.contact, &new.contact, "Contact"),
        (
            &old.document_url,
            &new.document_url,
            "Policy document address",
        ),
    ] {
        if old != new {
            out.push(format!(
                "{what} changed from \u{201c}{old}\u{201d} to \u{201c}{new}\u{201d}."
            ));
        }
    }
    if old.document_digest != new.document_digest {
        out.push("The policy document itself changed (new digest).".into());
    }
    scope_changes(old.scope.as_ref(), new.scope.as_ref(), &mut out);
    if out.is_empty() {
        out.push("No change in what is collected, why, for how long or with whom.".into());
    }
    out
}

/// A purpose as a term.
pub(crate) fn purpose_term(p: Purpose) -> Term {
    Term {
        name: p.name(),
        meaning: p.plain(),
    }
}

/// A data category as a term.
pub(crate) fn category_term(c: DataCategory) -> Term {
    Term {
        name: c.name(),
        meaning: c.plain(),
    }
}

/// A request kind as a term.
pub(crate) fn request_term(r: RequestKind) -> Term {
    Term {
        name: r.name(),
        meaning: r.plain(),
    }
}

/// Unix ms as an RFC 3339 UTC time to the second.
pub(crate) fn date(ms: u64) -> String {
    let t = UNIX_EPOCH + Duration::from_millis(ms.min(253_402_300_799_000));
    humantime::format_rfc3339_seconds(t).to_string()
}

/// The vocabulary, for the rights page and `/api/v1/vocabulary`.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Vocabulary {
    /// Purposes a collector may ask consent for.
    pub purposes: Vec<Term>,
    /// Data categories.
    pub categories: Vec<Term>,
    /// Requests a citizen can make.
    pub requests: Vec<Term>,
}

impl Vocabulary {
    /// The vocabulary of this protocol version.
    pub(crate) fn current() -> Self {
        Self {
            purposes: Purpose::ALL.iter().copied().map(purpose_term).collect(),
            categories: DataCategory::ALL
                .iter()
                .copied()
                .map(category_term)
                .collect(),
            requests: RequestKind::ALL.iter().copied().map(request_term).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use consent_proto::fixtures;

    #[test]
    fn counts_below_k_are_never_published_exactly() {
        for n in 0..5 {
            assert_eq!(Count::of(n, 5), Count::FewerThan(5));
            assert_eq!(Count::of(n, 5).to_string(), "< 5");
        }
        assert_eq!(Count::of(5, 5).to_string(), "5");
        let json = serde_json::to_string(&Count::of(2, 5)).expect("json");
        assert_eq!(json, r#"{"fewer_than":5}"#);
        assert!(!json.contains('2'));
        assert_eq!(
            serde_json::to_string(&Count::of(7, 5)).expect("json"),
            r#"{"exactly":7}"#
        );
    }

    #[test]
    fn policy_changes_are_said_in_plain_words() {
        let consent_proto::body::Body::Policy(old) = fixtures::policy(1) else {
            panic!("a policy");
        };
        let mut new = old.clone();
        new.version = 2;
        new.retention_days = old.retention_days * 2;
        new.purposes.insert(Purpose::Marketing);
        new.recipients.push("Ad network".into());
        let said = changes(&old, &new).join(" ");
        assert!(said.contains("Now also used for: marketing."), "{said}");
        assert!(
            said.contains("Now also shares data with: Ad network."),
            "{said}"
        );
        assert!(
            said.contains(&format!("(was {})", old.retention_days)),
            "{said}"
        );
        let same = changes(&old, &old);
        assert_eq!(same.len(), 1);
        assert!(same[0].starts_with("No change"));
    }

    #[test]
    fn dates_are_rfc3339_utc() {
        assert_eq!(date(0), "1970-01-01T00:00:00Z");
        assert_eq!(date(u64::MAX), "9999-12-31T23:59:59Z");
    }
}
