//! Public consultations on collectors' policy versions as published: what a version changes
//! compared with the ones before, its window and state, the stances by group and objection
//! reason (each through [`Count::of`]), the collector's answers and the registrars' outcomes.

use std::collections::BTreeMap;

use consent_proto::body::{Body, Policy};
use consent_proto::consultation::{self, DraftFacts, State, Tally};
use consent_proto::entry::Entry;
use consent_proto::ids::EntryId;
use consent_proto::policy_change::{self, Direction};
use consent_proto::vocab::{ObjectionReason, Role};
use serde::Serialize;

use super::policy::{PolicyConsultationView, PolicyView, policy_view};
use super::{Count, date};
use crate::ledger::{ConsultationRead, ConsultationSummary};
use crate::transparency::register::PolicyVersion;

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

pub(super) fn policy_consultation_view(facts: &DraftFacts, now_ms: u64) -> PolicyConsultationView {
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
