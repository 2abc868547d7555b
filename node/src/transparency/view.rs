//! What the transparency page publishes, as plain data: the JSON API serialises these types as
//! they are, and the HTML pages render the same values. Every count that could point at a person
//! goes through [`Count::of`], the one place the k-anonymity threshold is applied.

use std::collections::BTreeMap;
use std::time::{Duration, UNIX_EPOCH};

use consent_proto::body::Policy;
use consent_proto::ids::FeedId;
use consent_proto::vocab::{DataCategory, Purpose, RequestKind, Role};
use serde::Serialize;

use super::register::{Collector, PolicyVersion, Standing};
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
    /// What changed from the version before, in plain words (empty for the first).
    pub changes: Vec<String>,
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
