//! The records of the grant table (`G`, and the grant inside a `d` row): a grant as checks read
//! it, its scope, and the grant records older layouts stored (read only to migrate).

use std::sync::Arc;

use consent_proto::decide::GrantFacts;
use consent_proto::ids::EntryId;
use consent_proto::pb;
use consent_proto::scope::{GrantScope, PolicyScope, ScopeFacts};
use consent_proto::vocab::{CategorySet, PurposeSet};
use serde::{Deserialize, Serialize};

use crate::store::StoreError;

/// A grant as checks read it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrantRecord {
    /// Grant entry id.
    pub id: [u8; 32],
    /// Purpose bits.
    pub purposes: u32,
    /// Category bits.
    pub categories: u32,
    /// Valid from.
    pub valid_from: u64,
    /// Valid until (0: open).
    pub valid_until: u64,
    /// Revoked.
    pub revoked: bool,
    /// `Some` iff the grant's policy declares a scope or the grant narrows one; `None`: the
    /// rule needs no context for this grant (every grant of layout 4).
    pub scope: Option<ScopeRecord>,
    /// The policy the grant names when it is a draft (a widening put to consultation): the
    /// grant counts only once the draft takes effect. `None` for every other grant.
    pub draft: Option<[u8; 32]>,
}

/// What a scoped grant's record keeps of its scope: the policy that declares it (read through
/// the checks' policy cache) and the grant's own narrowing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScopeRecord {
    /// The policy entry the grant names.
    pub policy: [u8; 32],
    /// The grant's narrowing: the canonical `pb::GrantScope` bytes; empty: it narrows nothing.
    pub narrowing: Vec<u8>,
}

impl ScopeRecord {
    /// The record of a grant under `policy` (whose scope is `policy_scope`) narrowing by `grant`:
    /// `None` when neither has a scope.
    pub fn of(
        policy: &EntryId,
        policy_scope: Option<&PolicyScope>,
        grant: Option<&GrantScope>,
    ) -> Option<Self> {
        if policy_scope.is_none() && grant.is_none() {
            return None;
        }
        Some(ScopeRecord {
            policy: policy.0,
            narrowing: grant
                .map(|g| prost::Message::encode_to_vec(&g.to_wire()))
                .unwrap_or_default(),
        })
    }

    /// The grant's narrowing, decoded and validated again (`purposes`: the grant's).
    pub fn narrowing(&self, purposes: PurposeSet) -> Result<Option<GrantScope>, StoreError> {
        if self.narrowing.is_empty() {
            return Ok(None);
        }
        let wire: pb::GrantScope = prost::Message::decode(self.narrowing.as_slice())
            .map_err(|e| StoreError::Corrupt(format!("grant scope does not decode: {e}")))?;
        GrantScope::from_wire(&wire, purposes)
            .map(Some)
            .map_err(|e| StoreError::Corrupt(format!("stored grant scope is not valid: {e}")))
    }
}

impl GrantRecord {
    /// The decision-rule view. `policy_scope` is the scope of the policy [`Self::scope`] names
    /// (`None` if it declares none, or if the grant is unscoped: then it is not read);
    /// `in_effect_from` is when the grant's policy takes effect
    /// (`consent_proto::consultation::ALWAYS` unless it is a draft: [`Self::draft`]).
    pub fn facts(
        &self,
        seq: u64,
        policy_scope: Option<Arc<PolicyScope>>,
        in_effect_from: u64,
    ) -> Result<GrantFacts, StoreError> {
        let purposes = PurposeSet::from_bits(self.purposes);
        let scope = match &self.scope {
            None => None,
            Some(record) => ScopeFacts::resolve(policy_scope, record.narrowing(purposes)?),
        };
        Ok(GrantFacts {
            id: EntryId(self.id),
            seq,
            purposes,
            categories: CategorySet::from_bits(self.categories),
            valid_from: self.valid_from,
            valid_until: (self.valid_until != 0).then_some(self.valid_until),
            revoked: self.revoked,
            scope,
            in_effect_from,
            // Own grants: read only against a delegated opt-out (none before delegation).
            time_ms: 0,
            via: None,
        })
    }
}

/// A grant record as layout version 4 stored it (no scope), read only to migrate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrantRecordV4 {
    /// Grant entry id.
    pub id: [u8; 32],
    /// Purpose bits.
    pub purposes: u32,
    /// Category bits.
    pub categories: u32,
    /// Valid from.
    pub valid_from: u64,
    /// Valid until (0: open).
    pub valid_until: u64,
    /// Revoked.
    pub revoked: bool,
}

impl From<GrantRecordV4> for GrantRecordV5 {
    fn from(old: GrantRecordV4) -> Self {
        GrantRecordV5 {
            id: old.id,
            purposes: old.purposes,
            categories: old.categories,
            valid_from: old.valid_from,
            valid_until: old.valid_until,
            revoked: old.revoked,
            scope: None,
        }
    }
}

/// A grant record as layout version 5 stored it (no draft), read only to migrate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrantRecordV5 {
    /// Grant entry id.
    pub id: [u8; 32],
    /// Purpose bits.
    pub purposes: u32,
    /// Category bits.
    pub categories: u32,
    /// Valid from.
    pub valid_from: u64,
    /// Valid until (0: open).
    pub valid_until: u64,
    /// Revoked.
    pub revoked: bool,
    /// Its scope.
    pub scope: Option<ScopeRecord>,
}

impl From<GrantRecordV5> for GrantRecord {
    fn from(old: GrantRecordV5) -> Self {
        GrantRecord {
            id: old.id,
            purposes: old.purposes,
            categories: old.categories,
            valid_from: old.valid_from,
            valid_until: old.valid_until,
            revoked: old.revoked,
            scope: old.scope,
            draft: None,
        }
    }
}
