//! What the transparency page publishes, as plain data: the JSON API serialises these types as
//! they are, and the HTML pages render the same values. Every count that could point at a person
//! goes through [`Count::of`], the one place the k-anonymity threshold is applied.
//!
//! - [`collector`]: a collector as the register lists it and as its own page shows it.
//! - [`policy`]: a policy version in plain words, and what changed from the one before.
//! - [`scope`]: where, with which sensors, when and in what form it collects, with consents.
//! - [`delegated`]: the consents delegates signed in a person's name, counted apart.
//! - [`consultation`]: public consultations on policy versions: changes, stances, outcomes.

mod collector;
mod consultation;
mod delegated;
mod policy;
mod scope;

use std::time::{Duration, UNIX_EPOCH};

use consent_proto::vocab::{DataCategory, Purpose, RequestKind};
use serde::Serialize;

pub(crate) use collector::{CollectorFacts, CollectorView, StandingView};
pub(crate) use consultation::{
    COUNTS_ARE_SIGNALS, ChangeView, ConsultationSummaryView, ConsultationView, TallyView,
    consultation_summary, consultation_view,
};
pub(crate) use delegated::{DelegatedView, delegated_view};
pub(crate) use policy::{PolicyConsultationView, PolicyView};
pub(crate) use scope::ScopeView;

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
    use super::policy::changes;
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
