//! Layout 8 → 9: each person with a Delegation (`j` rows) gets its delegating mark (a `g` row),
//! which a decision reads with one point read instead of scanning the person's delegations.
//! The marks are written [`BATCH`] persons per batch; they are idempotent, so a migration killed
//! part-way (the store still says 8) simply runs again; the last batch sets layout 9.

use super::super::tables::{SCHEMA_VERSION, meta, prefix};
use super::BATCH;
use crate::store::{KvStore, StoreError, Write};

/// Layout 8 to 9; the last batch sets version 9.
pub(super) fn from_8(store: &dyn KvStore) -> Result<(), StoreError> {
    tracing::info!(
        "migrating the store from layout 8 to 9: each person with a delegation is marked (one row per such person)"
    );
    let mut writes: Vec<Write> = Vec::new();
    let mut marked = 0usize;
    for person in super::super::delegations::delegating_persons(store) {
        // The key the writer writes (`tables::delegating_key`).
        writes.push((
            [&[prefix::DELEGATING][..], &person?[..]].concat(),
            Some(Vec::new()),
        ));
        marked += 1;
        if writes.len() == BATCH {
            store.apply(std::mem::take(&mut writes))?;
        }
    }
    writes.push((
        meta::SCHEMA.to_vec(),
        Some(SCHEMA_VERSION.to_be_bytes().to_vec()),
    ));
    store.apply(writes)?;
    store.flush()?;
    tracing::info!(persons = marked, "delegating marks written");
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::sync::Arc;

    use crate::ledger::tables::{self, meta, prefix};
    use crate::ledger::{Ledger, LedgerConfig, fsck};
    use crate::store::memory::MemoryStore;
    use crate::store::{KvStore, Write};

    fn marks(store: &dyn KvStore) -> Vec<Vec<u8>> {
        store
            .scan_prefix(&[prefix::DELEGATING])
            .map(|pair| pair.map(|(k, _)| k))
            .collect::<Result<_, _>>()
            .expect("marks")
    }

    /// A store of layout 8 (delegations, no marks) gets exactly the marks the writer writes and
    /// layout 9, and passes the full check; without the marks, the full check says what is
    /// missing.
    #[tokio::test]
    async fn a_layout_8_store_gets_the_delegating_marks() {
        let store: Arc<dyn KvStore> = Arc::new(MemoryStore::new());
        let w = crate::ledger::delegations::tests::world();
        let registrars: HashSet<_> = [w.scene.registrar.feed()].into_iter().collect();
        let (ledger, writer) = Ledger::open(
            Arc::clone(&store),
            registrars.clone(),
            "test",
            LedgerConfig::default(),
        )
        .expect("open");
        ledger.submit(w.entries.clone()).await.expect("submit");
        ledger.shutdown().await;
        drop(ledger);
        writer.join();
        let written = marks(&*store);
        assert!(!written.is_empty(), "the world has a person who delegates");

        // Back to layout 8: no marks.
        let unmark: Vec<Write> = written.iter().map(|k| (k.clone(), None)).collect();
        store.apply(unmark).expect("unmark");
        store
            .apply(vec![(
                meta::SCHEMA.to_vec(),
                Some(8u32.to_be_bytes().to_vec()),
            )])
            .expect("layout 8");
        let damaged = fsck::full(&*store, &registrars).expect_err("marks missing");
        assert!(
            damaged.to_string().contains("no delegating mark"),
            "{damaged}"
        );

        fsck::prepare(&*store, "test").expect("layout 8 migrates");
        assert_eq!(marks(&*store), written);
        assert_eq!(
            store.get(meta::SCHEMA).expect("get"),
            Some(tables::SCHEMA_VERSION.to_be_bytes().to_vec())
        );
        fsck::full(&*store, &registrars).expect("the migrated store passes the full check");
    }
}
