//! A collector as published: the register's line (standing, policy in effect, consent and
//! request figures) and its own page (answer times, policy history, scope), built from its
//! register entry by [`CollectorFacts`].

use std::collections::BTreeMap;
use std::time::Duration;

use consent_proto::ids::{EntryId, FeedId};
use consent_proto::vocab::{RequestKind, Role};
use serde::Serialize;

use super::consultation::policy_consultation_view;
use super::delegated::DelegatedView;
use super::policy::{PolicyConsultationView, PolicyView, policy_view};
use super::scope::{ScopeView, scope_view};
use super::{Count, date};
use crate::ledger::AnswerStats;
use crate::transparency::register::{Collector, Current, PolicyVersion, Standing};

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
    /// ([`crate::transparency::register::current_policy`]).
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
    /// [`crate::transparency::register::read_policies`]).
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
            .take(crate::transparency::register::HISTORY_SHOWN)
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
