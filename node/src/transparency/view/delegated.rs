//! The consents delegates (assistants, guardians) signed in a represented person's name, as a
//! collector's page publishes them: counted apart from the consents people signed themselves,
//! counts only, each through [`Count::of`].

use serde::Serialize;

use super::Count;

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
