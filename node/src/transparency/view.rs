//! What the transparency page publishes, as plain data: the JSON API serialises these types as
//! they are, and the HTML pages render the same values. Every count that could point at a person
//! goes through [`Count::of`], the one place the k-anonymity threshold is applied.

use std::collections::BTreeMap;
use std::time::{Duration, UNIX_EPOCH};

use consent_proto::body::{Body, Policy};
use consent_proto::consultation::{self, DraftFacts, State, Tally};
use consent_proto::entry::Entry;
use consent_proto::ids::{EntryId, FeedId};
use consent_proto::policy_change::{self, Direction};
pub(crate) use consent_proto::scope::words::utc_offset_text;
use consent_proto::scope::words::{cell_area_text, form_text, sensor_text};
use consent_proto::scope::{FormSpec, PolicyScope, TimeWindow};
use consent_proto::vocab::{DataCategory, Form, ObjectionReason, Purpose, RequestKind, Role};
use serde::Serialize;

use super::register::{Collector, Current, PolicyVersion, ScopeCounts, Standing};
use crate::ledger::AnswerStats;
use crate::ledger::{ConsultationRead, ConsultationSummary};

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
    /// Its public consultation, when the collector put it to one (absent otherwise).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consultation: Option<PolicyConsultationView>,
}

/// Where a policy version's public consultation stands, as its collector's page shows it.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct PolicyConsultationView {
    /// `open`, `awaiting-outcome`, `approved`, `changes-required` or `withdrawn`.
    pub state: &'static str,
    /// The state in plain words, with its date.
    pub state_text: String,
    /// The version widens what is collected: a draft, in effect only once a registrar approves
    /// it after the window (false: a voluntary consultation, the version applies at once).
    pub widening: bool,
    /// When the window closes (RFC 3339, UTC).
    pub closes_at: String,
    /// The consultation's page.
    pub page: String,
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
    /// Consents delegates signed in a person's name (on its own page and API object). They are
    /// counted apart: the figures above count the consents people signed themselves.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delegated: Option<DelegatedView>,
}

/// Consents of one kind of delegate: in force now, and ever given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub(crate) struct InForceView {
    /// In force now, as checks decide: not revoked, started, not ended, signed before the
    /// delegation ended, and (a grant two guardians must sign) endorsed.
    pub in_force: Count,
    /// Ever given.
    pub total: Count,
}

/// Consents signed by delegates in a represented person's name, by kind of delegation: counts
/// only (never who delegated to whom), each through [`Count::of`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub(crate) struct DelegatedView {
    /// Signed by assistants (an adult asked someone to help).
    pub assistant: InForceView,
    /// Signed by guardians of a child (also those signed before the child came of age).
    pub guardian: InForceView,
}

/// The delegated consents under threshold `k`, from `(in force, total)` per kind.
pub(crate) fn delegated_view(assistant: (u64, u64), guardian: (u64, u64), k: u64) -> DelegatedView {
    let kind = |(in_force, total): (u64, u64)| InForceView {
        in_force: Count::of(in_force, k),
        total: Count::of(total, k),
    };
    DelegatedView {
        assistant: kind(assistant),
        guardian: kind(guardian),
    }
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
    /// Its policy version in effect now and the one before it
    /// ([`super::register::current_policy`]).
    pub current: Option<Current>,
}

impl CollectorFacts<'_> {
    /// The consultation of its kept policy version `id`, if it was put to one.
    fn consultation(&self, id: &EntryId) -> Option<PolicyConsultationView> {
        self.collector
            .consultation(id)
            .map(|facts| policy_consultation_view(facts, self.now_ms))
    }

    /// A policy version in plain words, with its consultation.
    fn version(&self, v: &PolicyVersion, before: Option<&PolicyVersion>) -> PolicyView {
        let mut view = policy_view(v, before);
        view.consultation = self.consultation(&v.id);
        view
    }

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
            name: self
                .current
                .as_ref()
                .map(|p| &p.version)
                .or(c.policy())
                .map(|p| p.policy.name.clone()),
            accredited: standing.iter().any(|s| s.status == "accredited"),
            standing,
            frozen: self.frozen,
            policy: self
                .current
                .as_ref()
                .map(|p| self.version(&p.version, p.before.as_ref())),
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
            delegated: None,
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
        // Every other version, newest first: earlier ones, and later drafts not (yet) in effect.
        let current = self.current.as_ref().map(|p| p.version.id);
        view.history = (0..history.len())
            .rev()
            .filter(|&i| Some(history[i].id) != current)
            .take(super::register::HISTORY_SHOWN)
            .map(|i| self.version(&history[i], i.checked_sub(1).map(|j| &history[j])))
            .collect();
        view.history_not_shown = self
            .collector
            .versions
            .saturating_sub(u64::from(current.is_some()) + view.history.len() as u64);
        view.scope = self
            .current
            .as_ref()
            .map(|p| &p.version)
            .and_then(|current| {
                let scope = current.policy.scope.as_ref()?;
                let counts = self.collector.scope_counts.get(&current.id);
                let map =
                    (!scope.zones.is_empty()).then(|| format!("/collectors/{}/map.svg", view.id));
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
pub(crate) fn policy_view(v: &PolicyVersion, before: Option<&PolicyVersion>) -> PolicyView {
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
        consultation: None,
    }
}

/// What changed between two versions of a policy, one plain sentence per change (the protocol's
/// comparison, [`consent_proto::policy_change::compare`], which also says what widens).
pub(crate) fn changes(old: &Policy, new: &Policy) -> Vec<String> {
    policy_change::compare(old, new).sentences()
}

/// The fixed reminder every consultation page and object carries.
pub(crate) const COUNTS_ARE_SIGNALS: &str = "Counts are signals to the registrar, not votes: a \
     person can hold many pseudonymous feeds.";

/// One change between two policy versions: whether it widens or narrows what is collected, its
/// stable code and its sentence ([`consent_proto::policy_change`]).
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ChangeView {
    /// `widens`, `narrows` or `neutral`.
    pub direction: &'static str,
    /// The dimension's code (`purposes`, `retention`, `zones`, ...).
    pub code: &'static str,
    /// The change in plain words.
    pub sentence: String,
}

/// What a draft changes compared with one earlier version.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ComparisonView {
    /// The earlier version's entry (`ent1…`).
    pub policy: String,
    /// Its version number.
    pub version: u32,
    /// Why it is compared: `base` (the last version that was not a draft) or `previous` (the
    /// version just before).
    pub role: &'static str,
    /// The changes, one per dimension that changed.
    pub items: Vec<ChangeView>,
}

/// Stances on one objection reason.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ReasonCountView {
    /// The reason's short name (`retention-too-long`, ...).
    pub reason: &'static str,
    /// The reason in plain words.
    pub meaning: &'static str,
    /// Objecting stances that give it.
    pub count: Count,
}

/// The stances of one group of feeds (each feed's latest stance).
#[derive(Debug, Clone, Serialize)]
pub(crate) struct TallyView {
    /// Stances supporting the draft.
    pub support: Count,
    /// Stances objecting to it.
    pub object: Count,
    /// Objections by reason, every reason in wire order (a stance may give several).
    pub reasons: Vec<ReasonCountView>,
}

/// The stances on a consultation, split by whether the feed holds a consent to the collector.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct CountsView {
    /// Feeds holding a grant to the collector (revoked or not): people with a consent to it.
    pub affected: TallyView,
    /// Every other feed.
    pub others: TallyView,
}

/// A consultation as listed: who, which version, its window and state, and the stances.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ConsultationSummaryView {
    /// The policy version put to consultation (`ent1…`).
    pub draft: String,
    /// Its page on this site.
    pub page: String,
    /// The collector (`col1…`).
    pub collector: String,
    /// The collector's public name, as the version states it.
    pub name: String,
    /// The version number.
    pub version: u32,
    /// It widens what is collected: a draft, in effect only once a registrar approves it after
    /// the window (false: a voluntary consultation on a version in effect at once).
    pub widening: bool,
    /// When the version was signed: the window opens (RFC 3339, UTC).
    pub opened_at: String,
    /// When the window closes (exclusive).
    pub closes_at: String,
    /// Time left while open, in words (`13 days`).
    pub time_left: Option<String>,
    /// `open`, `awaiting-outcome`, `approved`, `changes-required` or `withdrawn`.
    pub state: &'static str,
    /// Approved: in effect from; changes required: decided at; withdrawn: superseded at.
    pub state_at: Option<String>,
    /// The state in plain words.
    pub state_text: String,
    /// What it widens (a draft), else what it changes: at most three items.
    pub changes: Vec<ChangeView>,
    /// The stances, each count through the threshold.
    pub counts: CountsView,
}

/// A collector's answer to one objection reason.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ResponseView {
    /// Its entry (`ent1…`).
    pub entry: String,
    /// The reason answered (short name).
    pub reason: &'static str,
    /// The reason in plain words.
    pub meaning: &'static str,
    /// The collector's answer, as signed.
    pub text: String,
    /// BLAKE3 digest of a longer answer published elsewhere (`dig1…`).
    pub document_digest: Option<String>,
    /// When it was signed.
    pub signed_at: String,
}

/// A registrar's outcome.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct OutcomeView {
    /// Its entry (`ent1…`).
    pub entry: String,
    /// `approved` or `changes-required`.
    pub result: &'static str,
    /// The registrar's public text.
    pub text: String,
    /// The registrar (`reg1…`).
    pub registrar: String,
    /// Its public name, if the genesis gives one.
    pub registrar_name: Option<String>,
    /// When it was signed (an approval takes effect then).
    pub signed_at: String,
    /// The collector's responses it relied on (`ent1…`).
    pub responses: Vec<String>,
    /// This is the outcome that counts: the first by time, signed before any newer version.
    pub counts: bool,
}

/// One consultation in full.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ConsultationView {
    /// As listed.
    pub summary: ConsultationSummaryView,
    /// The version put to consultation, in plain words.
    pub policy: PolicyView,
    /// What it changes, compared with the versions validity compared it with.
    pub compared: Vec<ComparisonView>,
    /// The collector's latest answer to each reason, in reason order.
    pub responses: Vec<ResponseView>,
    /// Every outcome, first by time first.
    pub outcomes: Vec<OutcomeView>,
    /// [`COUNTS_ARE_SIGNALS`].
    pub note: &'static str,
}

fn direction_name(d: Direction) -> &'static str {
    match d {
        Direction::Widens => "widens",
        Direction::Narrows => "narrows",
        Direction::Neutral => "neutral",
    }
}

fn tally_view(t: &Tally, k: u64) -> TallyView {
    TallyView {
        support: Count::of(t.support, k),
        object: Count::of(t.object, k),
        reasons: ObjectionReason::ALL
            .iter()
            .map(|r| ReasonCountView {
                reason: r.name(),
                meaning: r.plain(),
                count: Count::of(t.reason(*r), k),
            })
            .collect(),
    }
}

/// The state's date, if it has one.
fn state_ms(state: &State) -> Option<u64> {
    match *state {
        State::Open | State::AwaitingOutcome => None,
        State::Approved { from_ms } => Some(from_ms),
        State::ChangesRequired { at_ms } | State::Withdrawn { at_ms } => Some(at_ms),
    }
}

/// A consultation's state in plain words.
pub(crate) fn state_text(state: &State, facts: &DraftFacts) -> String {
    let day = |ms: u64| date(ms).get(..10).unwrap_or_default().to_string();
    match (*state, facts.gated) {
        (State::Open, _) => format!("open until {}", date(facts.closes_ms)),
        (State::AwaitingOutcome, true) => format!(
            "closed on {}; waiting for a registrar's outcome (not in effect until approved)",
            day(facts.closes_ms)
        ),
        (State::AwaitingOutcome, false) => format!("closed on {}", day(facts.closes_ms)),
        (State::Approved { from_ms }, true) => {
            format!("approved by a registrar: in effect from {}", date(from_ms))
        }
        (State::Approved { from_ms }, false) => {
            format!("approved by a registrar on {}", day(from_ms))
        }
        (State::ChangesRequired { at_ms }, true) => format!(
            "a registrar required changes on {}: this version never takes effect",
            day(at_ms)
        ),
        (State::ChangesRequired { at_ms }, false) => format!(
            "a registrar asked for changes on {} (the version stays in effect: it widens nothing)",
            day(at_ms)
        ),
        (State::Withdrawn { at_ms }, _) => format!(
            "withdrawn on {}: a newer version replaced it before any outcome",
            day(at_ms)
        ),
    }
}

/// Time left until `closes_ms`, in words (`None` once closed).
pub(crate) fn time_left(now_ms: u64, closes_ms: u64) -> Option<String> {
    const HOUR: u64 = 3_600_000;
    let left = closes_ms.checked_sub(now_ms).filter(|l| *l > 0)?;
    Some(if left >= 2 * 24 * HOUR {
        format!("{} days", left / (24 * HOUR))
    } else if left >= 2 * HOUR {
        format!("{} hours", left / HOUR)
    } else {
        format!("{} minutes", left.div_ceil(60_000).max(1))
    })
}

fn policy_consultation_view(facts: &DraftFacts, now_ms: u64) -> PolicyConsultationView {
    let state = consultation::state(facts, now_ms);
    PolicyConsultationView {
        state: state.name(),
        state_text: state_text(&state, facts),
        widening: facts.gated,
        closes_at: date(facts.closes_ms),
        page: format!("/consultations/{}", facts.id),
    }
}

/// A consultation as listed, with `changes` its first change items (see
/// [`ConsultationView::summary`]).
pub(crate) fn consultation_summary(
    s: &ConsultationSummary,
    changes: Vec<ChangeView>,
    now_ms: u64,
    k: u64,
) -> ConsultationSummaryView {
    let f = &s.facts;
    ConsultationSummaryView {
        draft: f.id.to_string(),
        page: format!("/consultations/{}", f.id),
        collector: f.collector.typed(Role::Collector).to_string(),
        name: s.name.clone(),
        version: f.version,
        widening: f.gated,
        opened_at: date(f.time_ms),
        closes_at: date(f.closes_ms),
        time_left: matches!(s.state, State::Open)
            .then(|| time_left(now_ms, f.closes_ms))
            .flatten(),
        state: s.state.name(),
        state_at: state_ms(&s.state).map(date),
        state_text: state_text(&s.state, f),
        changes,
        counts: CountsView {
            affected: tally_view(&s.counts.affected, k),
            others: tally_view(&s.counts.others, k),
        },
    }
}

/// The first three things a consultation's version widens (a draft) or else changes, from its
/// comparisons, without repeating a sentence.
pub(crate) fn headline_changes(compared: &[ComparisonView]) -> Vec<ChangeView> {
    let widening: Vec<&ChangeView> = compared
        .iter()
        .flat_map(|c| &c.items)
        .filter(|i| i.direction == "widens")
        .collect();
    let pool: Vec<&ChangeView> = if widening.is_empty() {
        compared.iter().flat_map(|c| &c.items).collect()
    } else {
        widening
    };
    let mut out: Vec<ChangeView> = Vec::new();
    for item in pool {
        if out.len() == 3 {
            break;
        }
        if !out.iter().any(|o| o.sentence == item.sentence) {
            out.push(item.clone());
        }
    }
    out
}

/// The policy in an entry, if it is a policy entry.
fn policy_of(e: &Entry) -> Option<&Policy> {
    match &e.body {
        Body::Policy(p) => Some(p),
        _ => None,
    }
}

/// A consultation in full, from the ledger's read, under threshold `k`.
pub(crate) fn consultation_view(
    read: &ConsultationRead,
    now_ms: u64,
    k: u64,
    names: &BTreeMap<String, String>,
) -> Option<ConsultationView> {
    let facts = &read.summary.facts;
    let draft = policy_of(&read.draft)?;
    let compared: Vec<ComparisonView> = read
        .compared
        .iter()
        .enumerate()
        .filter_map(|(i, e)| {
            let old = policy_of(e)?;
            Some(ComparisonView {
                policy: e.id.to_string(),
                version: old.version,
                role: if i == 0 { "base" } else { "previous" },
                items: policy_change::compare(old, draft)
                    .items
                    .into_iter()
                    .map(|item| ChangeView {
                        direction: direction_name(item.direction),
                        code: item.code,
                        sentence: item.sentence,
                    })
                    .collect(),
            })
        })
        .collect();
    let first = match read.summary.state {
        State::Approved { .. } => facts.first_approval.map(|o| o.id),
        State::ChangesRequired { .. } => facts.first_changes_required.map(|o| o.id),
        _ => None,
    };
    let responses = read
        .responses
        .iter()
        .filter_map(|e| match &e.body {
            Body::Response(r) => Some(ResponseView {
                entry: e.id.to_string(),
                reason: r.reason.name(),
                meaning: r.reason.plain(),
                text: r.text.clone(),
                document_digest: r.document_digest.map(|d| d.to_string()),
                signed_at: date(e.time_ms),
            }),
            _ => None,
        })
        .collect();
    let outcomes = read
        .outcomes
        .iter()
        .filter_map(|e| match &e.body {
            Body::Outcome(o) => {
                let registrar = e.feed.typed(Role::Registrar).to_string();
                Some(OutcomeView {
                    entry: e.id.to_string(),
                    result: o.result.name(),
                    text: o.text.clone(),
                    registrar_name: names.get(&registrar).cloned(),
                    registrar,
                    signed_at: date(e.time_ms),
                    responses: o.responses.iter().map(EntryId::to_string).collect(),
                    counts: first == Some(e.id),
                })
            }
            _ => None,
        })
        .collect();
    let version = PolicyVersion {
        id: read.draft.id,
        at_ms: read.draft.time_ms,
        policy: draft.clone(),
    };
    let mut policy = policy_view(&version, None);
    policy.consultation = Some(policy_consultation_view(facts, now_ms));
    let headline = headline_changes(&compared);
    Some(ConsultationView {
        summary: consultation_summary(&read.summary, headline, now_ms, k),
        policy,
        compared,
        responses,
        outcomes,
        note: COUNTS_ARE_SIGNALS,
    })
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
    fn delegated_consents_are_published_only_from_k() {
        let view = delegated_view((4, 5), (0, 1), 5);
        assert_eq!(view.assistant.in_force, Count::FewerThan(5));
        assert_eq!(view.assistant.total, Count::Exactly(5));
        assert_eq!(view.guardian.in_force, Count::FewerThan(5));
        assert_eq!(view.guardian.total, Count::FewerThan(5));
        let json = serde_json::to_value(view).expect("json");
        assert_eq!(
            json,
            serde_json::json!({
                "assistant": {"in_force": {"fewer_than": 5}, "total": {"exactly": 5}},
                "guardian": {"in_force": {"fewer_than": 5}, "total": {"fewer_than": 5}},
            })
        );
    }

    #[test]
    fn dates_are_rfc3339_utc() {
        assert_eq!(date(0), "1970-01-01T00:00:00Z");
        assert_eq!(date(u64::MAX), "9999-12-31T23:59:59Z");
    }
}
