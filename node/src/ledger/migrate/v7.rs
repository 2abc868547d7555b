//! Layout 6 → 7: the delegation tables start empty, so one write sets the layout version.

use super::super::tables::meta;
use super::LAYOUT_7;
use crate::store::{KvStore, StoreError};

/// Layout 6 to 7: the new tables start empty, so the one write sets the version.
pub(super) fn from_6(store: &dyn KvStore) -> Result<(), StoreError> {
    tracing::info!(
        "migrating the store from layout 6 to 7: the delegation tables start empty (no stored entry is a delegation)"
    );
    store.apply(vec![(
        meta::SCHEMA.to_vec(),
        Some(LAYOUT_7.to_be_bytes().to_vec()),
    )])?;
    store.flush()
}
