//! The delegation tables (`j`, `d`, `y`, `b`, `h`, `i`, `t`, `l`): their key builders and the
//! records stored in them.

use consent_proto::ids::{EntryId, FeedId};
use serde::{Deserialize, Serialize};

use super::{GrantRecord, key, prefix};
use crate::store::StoreError;

/// Undelegations a [`DelegationRecord`] lists at most (the first ones to arrive); every one
/// present counts for its end, listed or not.
pub const UNDELEGATIONS_LISTED: usize = 16;

/// `j` person delegation
pub fn delegation_key(person: &FeedId, delegation: &EntryId) -> Vec<u8> {
    key(prefix::DELEGATION, &[&person.0, &delegation.0])
}
/// `g` person: the person has at least one Delegation.
pub fn delegating_key(person: &FeedId) -> Vec<u8> {
    key(prefix::DELEGATING, &[&person.0])
}
/// `j` person
pub fn delegation_prefix(person: &FeedId) -> Vec<u8> {
    key(prefix::DELEGATION, &[&person.0])
}
/// `d` person collector time grant
pub fn delegated_grant_key(
    person: &FeedId,
    collector: &FeedId,
    time_ms: u64,
    grant: &EntryId,
) -> Vec<u8> {
    key(
        prefix::DELEGATED_GRANT,
        &[&person.0, &collector.0, &time_ms.to_be_bytes(), &grant.0],
    )
}
/// `d` person collector
pub fn delegated_grant_prefix(person: &FeedId, collector: &FeedId) -> Vec<u8> {
    key(prefix::DELEGATED_GRANT, &[&person.0, &collector.0])
}
/// `y` delegation collector
pub fn delegation_collector_key(delegation: &EntryId, collector: &FeedId) -> Vec<u8> {
    key(prefix::DELEGATION_COLLECTOR, &[&delegation.0, &collector.0])
}
/// `y` delegation
pub fn delegation_collector_prefix(delegation: &EntryId) -> Vec<u8> {
    key(prefix::DELEGATION_COLLECTOR, &[&delegation.0])
}
/// `b` grant endorser endorsement
pub fn endorsement_key(grant: &EntryId, endorser: &FeedId, endorsement: &EntryId) -> Vec<u8> {
    key(
        prefix::ENDORSEMENT,
        &[&grant.0, &endorser.0, &endorsement.0],
    )
}
/// `b` grant
pub fn endorsement_prefix(grant: &EntryId) -> Vec<u8> {
    key(prefix::ENDORSEMENT, &[&grant.0])
}
/// `h` grant revoker
pub fn revocation_key(grant: &EntryId, revoker: &FeedId) -> Vec<u8> {
    key(prefix::REVOCATION, &[&grant.0, &revoker.0])
}
/// `h` grant
pub fn revocation_prefix(grant: &EntryId) -> Vec<u8> {
    key(prefix::REVOCATION, &[&grant.0])
}
/// `i` person collector time request
pub fn delegated_opt_out_key(
    person: &FeedId,
    collector: &FeedId,
    time_ms: u64,
    request: &EntryId,
) -> Vec<u8> {
    key(
        prefix::DELEGATED_OPT_OUT,
        &[&person.0, &collector.0, &time_ms.to_be_bytes(), &request.0],
    )
}
/// `i` person collector
pub fn delegated_opt_out_prefix(person: &FeedId, collector: &FeedId) -> Vec<u8> {
    key(prefix::DELEGATED_OPT_OUT, &[&person.0, &collector.0])
}
/// `t` delegate person delegation
pub fn delegation_by_delegate_key(
    delegate: &FeedId,
    person: &FeedId,
    delegation: &EntryId,
) -> Vec<u8> {
    key(
        prefix::DELEGATION_BY_DELEGATE,
        &[&delegate.0, &person.0, &delegation.0],
    )
}
/// `t` delegate
pub fn delegation_by_delegate_prefix(delegate: &FeedId) -> Vec<u8> {
    key(prefix::DELEGATION_BY_DELEGATE, &[&delegate.0])
}
/// `l` person index
pub fn delegated_log_key(person: &FeedId, index: u64) -> Vec<u8> {
    key(prefix::DELEGATED_LOG, &[&person.0, &index.to_be_bytes()])
}

/// A Delegation entry as checks and listings read it (its `j` row): what the decision rule
/// needs of it ([`Self::state`]), and its end by the Undelegations present. Its powers,
/// collectors and purposes are read from the entry (validity checks them, the rule does not).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DelegationRecord {
    /// The delegate feed.
    pub delegate: [u8; 32],
    /// `DelegationKind` wire number.
    pub kind: i32,
    /// The Delegation entry's signed time (it counts from then).
    pub from_ms: u64,
    /// `valid_until` (0: until undelegated).
    pub valid_until: u64,
    /// The co-signer whose endorsement each grant under it needs (guardians, 2-of-2).
    pub co_signer: Option<[u8; 32]>,
    /// The earliest `void_from_ms` of the Undelegations present (`None`: none is).
    pub undelegated_ms: Option<u64>,
    /// The earliest signed time of the Undelegations present (`None`: none is): where the
    /// delegate's withdrawals stop counting.
    pub withdrawn_ms: Option<u64>,
    /// The first [`UNDELEGATIONS_LISTED`] Undelegations to arrive, in arrival order.
    pub undelegations: Vec<[u8; 32]>,
}

impl DelegationRecord {
    /// The record of a Delegation entry signed at `time_ms`, with no Undelegation yet.
    pub fn of(time_ms: u64, d: &consent_proto::body::Delegation) -> Self {
        DelegationRecord {
            delegate: d.delegate.0,
            kind: d.kind as i32,
            from_ms: time_ms,
            valid_until: d.valid_until.unwrap_or(0),
            co_signer: d.co_signer.map(|f| f.0),
            undelegated_ms: None,
            withdrawn_ms: None,
            undelegations: Vec::new(),
        }
    }

    /// Records an Undelegation `id` signed at `signed_ms` voiding the delegation from
    /// `void_from_ms` on.
    pub fn undelegate(&mut self, id: &EntryId, void_from_ms: u64, signed_ms: u64) {
        self.undelegated_ms = Some(
            self.undelegated_ms
                .map_or(void_from_ms, |v| v.min(void_from_ms)),
        );
        self.withdrawn_ms = Some(self.withdrawn_ms.map_or(signed_ms, |v| v.min(signed_ms)));
        if self.undelegations.len() < UNDELEGATIONS_LISTED && !self.undelegations.contains(&id.0) {
            self.undelegations.push(id.0);
        }
    }

    /// Its end, exclusive: the earliest of `valid_until` and every Undelegation's
    /// `void_from_ms` (`u64::MAX`: none).
    pub fn end_ms(&self) -> u64 {
        let until = if self.valid_until == 0 {
            u64::MAX
        } else {
            self.valid_until
        };
        until.min(self.undelegated_ms.unwrap_or(u64::MAX))
    }

    /// Where the delegate's revocations and opt-outs stop counting, exclusive: the earliest of
    /// `valid_until` and every Undelegation's signed time (`u64::MAX`: none).
    pub fn withdrawals_end_ms(&self) -> u64 {
        let until = if self.valid_until == 0 {
            u64::MAX
        } else {
            self.valid_until
        };
        until.min(self.withdrawn_ms.unwrap_or(u64::MAX))
    }

    /// When Undelegations ended it before `valid_until` (0: they did not).
    pub fn ended_early_ms(&self) -> u64 {
        let end = self.end_ms();
        match self.undelegated_ms {
            Some(v) if v == end && (self.valid_until == 0 || v < self.valid_until) => v,
            _ => 0,
        }
    }

    /// The kind.
    pub fn kind(&self) -> Result<consent_proto::vocab::DelegationKind, StoreError> {
        consent_proto::vocab::DelegationKind::from_wire(self.kind)
            .ok_or_else(|| StoreError::Corrupt("delegation record with a bad kind".into()))
    }

    /// The delegation as the decision rule reads it: the Delegation `id` of `person`'s feed.
    pub fn state(
        &self,
        id: EntryId,
        person: FeedId,
    ) -> Result<consent_proto::delegation::DelegationState, StoreError> {
        Ok(consent_proto::delegation::DelegationState {
            id,
            person,
            delegate: FeedId(self.delegate),
            kind: self.kind()?,
            from_ms: self.from_ms,
            end_ms: self.end_ms(),
            withdrawals_end_ms: self.withdrawals_end_ms(),
            co_signer: self.co_signer.map(FeedId),
        })
    }
}

/// A grant signed by a delegate on behalf of the person (its `d` row): the grant's record as
/// for an own grant ([`GrantRecord`]; `revoked` only by a Revoke of the delegate's own feed
/// in someone's name or not: every other feed's revocation is an `h` row), and where it comes
/// from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DelegatedGrantRecord {
    /// The grant as checks read it.
    pub grant: GrantRecord,
    /// Its seq in the delegate's feed.
    pub seq: u64,
    /// The delegate feed that signed it.
    pub delegate: [u8; 32],
    /// The Delegation it names.
    pub delegation: [u8; 32],
}

/// An Endorsement of a delegated grant (its `b` row).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndorsementRecord {
    /// The Delegation the endorser acts under (of the same person).
    pub delegation: [u8; 32],
    /// The Endorsement's signed time.
    pub signed_ms: u64,
}

/// A revocation of a grant by a feed other than the grant's (its `h` row).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevocationRecord {
    /// The Revoke entry.
    pub revoke: [u8; 32],
    /// The Delegation it was signed under (`None`: the person's own revocation of a delegate's
    /// grant, which always counts).
    pub delegation: Option<[u8; 32]>,
    /// Its signed time.
    pub signed_ms: u64,
}
