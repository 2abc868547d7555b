//! A collector's policy version in plain words, as its page, the register and a consultation
//! show it: what it collects and why, for how long, with whom it shares, where to read it in
//! full, and what changed from the version before.

use consent_proto::body::Policy;
use consent_proto::policy_change;
use serde::Serialize;

use super::scope::scope_sentences;
use super::{Term, category_term, date, purpose_term};
use crate::transparency::register::PolicyVersion;

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
