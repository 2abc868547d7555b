//! The records of the feed tables (`F`, `R`): a feed's head and keys in force, the keys each
//! rotation replaced, and the feed records older layouts stored (read only to migrate).

use consent_proto::ids::{Digest, EntryId};
use consent_proto::validate::{FeedState, KeyState};
use consent_proto::vocab::Role;
use serde::{Deserialize, Serialize};

use crate::store::StoreError;

/// What the node keeps per feed: its head and the keys in force now. The key history lives apart
/// (`R` rows, one per rotation), so appending to a feed costs the same however often it rotated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedRecord {
    /// Role number.
    pub role: i32,
    /// Head seq.
    pub head_seq: u64,
    /// Head id.
    pub head_id: [u8; 32],
    /// Head time.
    pub head_time_ms: u64,
    /// The key in force (signs the next entry that is not a rotation).
    pub key: [u8; 32],
    /// Seq of the inception or rotation that introduced `key`.
    pub key_since: u64,
    /// Committed next-key digest.
    pub next_key_digest: [u8; 32],
    /// Frozen after an equivocation.
    pub frozen: bool,
    /// Last policy version.
    pub policy_version: u32,
    /// The feed's latest Policy entry (collectors; `None` before the first).
    pub policy_head: Option<[u8; 32]>,
    /// Its latest Policy entry that is not a draft (the *base* validity compares with).
    pub policy_base: Option<[u8; 32]>,
}

impl FeedRecord {
    /// The validation view of this record.
    pub fn state(&self) -> Result<FeedState, StoreError> {
        Ok(FeedState {
            role: Role::from_wire(self.role)
                .ok_or_else(|| StoreError::Corrupt("feed record with a bad role".into()))?,
            head_seq: self.head_seq,
            head_id: EntryId(self.head_id),
            head_time_ms: self.head_time_ms,
            signing_key: self.key,
            next_key_digest: Digest(self.next_key_digest),
            frozen: self.frozen,
            policy_version: self.policy_version,
            policy_head: self.policy_head.map(EntryId),
            policy_base: self.policy_base.map(EntryId),
        })
    }

    /// The keys in force now.
    pub fn keys(&self) -> KeyState {
        KeyState {
            signing_key: self.key,
            next_key_digest: Digest(self.next_key_digest),
            since: self.key_since,
        }
    }

    /// Advances the record to a new validated state at `seq`. For a rotation, returns the `R`
    /// row to store: the keys it replaced, so older keys stay reachable.
    pub fn advance(&mut self, state: &FeedState, rotated: bool) -> Option<RotationRecord> {
        let replaced = rotated.then(|| RotationRecord {
            previous: self.keys().into(),
        });
        self.head_seq = state.head_seq;
        self.head_id = state.head_id.0;
        self.head_time_ms = state.head_time_ms;
        self.key = state.signing_key;
        self.next_key_digest = state.next_key_digest.0;
        self.frozen = state.frozen;
        self.policy_version = state.policy_version;
        self.policy_head = state.policy_head.map(|id| id.0);
        self.policy_base = state.policy_base.map(|id| id.0);
        if rotated {
            self.key_since = state.head_seq;
        }
        replaced
    }

    /// A new record for an inception.
    pub fn incept(state: &FeedState) -> Self {
        FeedRecord {
            role: state.role as i32,
            head_seq: 0,
            head_id: state.head_id.0,
            head_time_ms: state.head_time_ms,
            key: state.signing_key,
            key_since: 0,
            next_key_digest: state.next_key_digest.0,
            frozen: false,
            policy_version: 0,
            policy_head: None,
            policy_base: None,
        }
    }
}

/// A feed record as layouts 4 and 5 stored it (no policy entries), read only to migrate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedRecordV5 {
    /// Role number.
    pub role: i32,
    /// Head seq.
    pub head_seq: u64,
    /// Head id.
    pub head_id: [u8; 32],
    /// Head time.
    pub head_time_ms: u64,
    /// The key in force.
    pub key: [u8; 32],
    /// Seq of the inception or rotation that introduced `key`.
    pub key_since: u64,
    /// Committed next-key digest.
    pub next_key_digest: [u8; 32],
    /// Frozen after an equivocation.
    pub frozen: bool,
    /// Last policy version.
    pub policy_version: u32,
}

impl FeedRecordV5 {
    /// The layout-6 record, with these policy entries (no Policy entry stored before layout 6
    /// can be a draft, so both are the latest Policy entry).
    pub fn upgrade(self, policy: Option<[u8; 32]>) -> FeedRecord {
        FeedRecord {
            role: self.role,
            head_seq: self.head_seq,
            head_id: self.head_id,
            head_time_ms: self.head_time_ms,
            key: self.key,
            key_since: self.key_since,
            next_key_digest: self.next_key_digest,
            frozen: self.frozen,
            policy_version: self.policy_version,
            policy_head: policy,
            policy_base: policy,
        }
    }
}

/// Keys as stored in a [`RotationRecord`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredKeys {
    /// The signing key.
    pub key: [u8; 32],
    /// The committed next-key digest.
    pub next_key_digest: [u8; 32],
    /// Seq of the inception or rotation that introduced it.
    pub since: u64,
}

impl From<KeyState> for StoredKeys {
    fn from(k: KeyState) -> Self {
        StoredKeys {
            key: k.signing_key,
            next_key_digest: k.next_key_digest.0,
            since: k.since,
        }
    }
}

impl From<StoredKeys> for KeyState {
    fn from(k: StoredKeys) -> Self {
        KeyState {
            signing_key: k.key,
            next_key_digest: Digest(k.next_key_digest),
            since: k.since,
        }
    }
}

/// The `R` row of a rotation at some seq: the keys in force before it (a chain back to the
/// inception through each `previous.since`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RotationRecord {
    /// The keys the rotation replaced.
    pub previous: StoredKeys,
}

/// A feed record as layout version 3 stored it (every key inline), read only to migrate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedRecordV3 {
    /// Role number.
    pub role: i32,
    /// Head seq.
    pub head_seq: u64,
    /// Head id.
    pub head_id: [u8; 32],
    /// Head time.
    pub head_time_ms: u64,
    /// Signing keys with the seq from which each signs (inception, then each rotation).
    pub keys: Vec<(u64, [u8; 32])>,
    /// Committed next-key digest.
    pub next_key_digest: [u8; 32],
    /// Frozen after an equivocation.
    pub frozen: bool,
    /// Last policy version.
    pub policy_version: u32,
}
