//! Migrations of older store layouts to [`SCHEMA_VERSION`], run at open before anything reads
//! the store. Each works in bounded batches and records how far it got in the same batch, so a
//! migration killed part-way resumes where it stopped.
//!
//! - **3 → 4**: feed records stop carrying their whole key history (which made every append to a
//!   feed that rotated often re-encode it); the history moves to `R` rows, one per rotation. Then
//!   the answer figures (tables `N`, `U`, `V`) are built from the stored requests, in the one
//!   batch that also sets the layout version.
//! - **4 → 5**: grant records gain their scope ([`tables::ScopeRecord`](super::tables::ScopeRecord)); no grant of layout 4
//!   has one, so each `G` row is re-encoded with none (postcard: its old bytes and a `0`). The
//!   last batch sets the layout version.
//! - **5 → 6**: feed records gain their latest and base Policy entries (for a collector, its
//!   last Policy entry, found by walking its seq index; no entry stored before layout 6 can
//!   hold a consultation, so the base is the same entry), each Policy entry its row in its
//!   collector's watch index (`W`, as this layout's writer stages it), and grant records their
//!   draft (none). The consultation tables start empty. The last batch sets the layout version.
//! - **6 → 7**: the delegation tables (`j`, `d`, `y`, `b`, `h`, `i`, `t`, `l`) start empty: no
//!   entry stored before layout 7 is a delegation or names one (an older release refuses them
//!   as non-canonical), and no other row changes. One write sets the layout version.
//! - **7 → 8**: the hash of each whole block of 64 entries of the arrival log (`k` rows) is
//!   computed from the log, [`BATCH`] blocks per batch with a cursor; the last batch sets the
//!   layout version. No start-up position is written: the first start finds none, runs the
//!   complete check once, and the writer saves one.
//! - **8 → 9**: each person with a Delegation gets its delegating mark (`g` rows), which
//!   decisions read instead of scanning for delegations; the last batch sets the layout version.
//!
//! A store of layout 3 to 7 goes through each step after it, in order.

#[cfg(test)]
mod downgrade;
mod v4;
mod v5;
mod v6;
mod v7;
mod v8;
mod v9;

#[cfg(test)]
pub(crate) use self::downgrade::{
    back_to_5, feeds_back_to_3, feeds_back_to_5, grant_rows_as_5, grants_back_to_4,
};
use self::v4::from_3;
use self::v5::from_4;
use self::v6::from_5;
use self::v7::from_6;
use self::v8::from_7;
use self::v9::from_8;
use super::tables::SCHEMA_VERSION;
use crate::store::{KvStore, StoreError};

/// Feed (or grant) records rewritten per batch; log blocks hashed per batch (7 → 8).
const BATCH: usize = 4_096;
/// Meta key holding the last feed record key migrated from layout 3 (while a migration runs).
const CURSOR_V3: &[u8] = b"Mmigrate3";
/// Meta key holding the last grant record key migrated from layout 4 (while a migration runs).
const CURSOR_V4: &[u8] = b"Mmigrate4";
/// Meta key holding the last feed or grant record key migrated from layout 5 (while a
/// migration runs): `F` keys first, then `G` keys.
const CURSOR_V5: &[u8] = b"Mmigrate5";
/// Meta key holding the next log block to hash while a migration from layout 7 runs (8 bytes,
/// BE).
const CURSOR_V7: &[u8] = b"Mmigrate7";

/// The layout version a store carries while it migrates from 3 to 4: no release reads it, so a
/// release older than the migration refuses the half-migrated store instead of misreading it,
/// and this one resumes.
pub(super) const MIGRATING_3_TO_4: u32 = 0x8000_0004;
/// The layout version a store carries while it migrates from 4 to 5 (as [`MIGRATING_3_TO_4`]).
pub(super) const MIGRATING_4_TO_5: u32 = 0x8000_0005;
/// The layout version a store carries while it migrates from 5 to 6 (as [`MIGRATING_3_TO_4`]).
pub(super) const MIGRATING_5_TO_6: u32 = 0x8000_0006;
/// The layout version a store carries while it migrates from 7 to 8 (as [`MIGRATING_3_TO_4`]).
pub(super) const MIGRATING_7_TO_8: u32 = 0x8000_0008;

/// The layout the 5 → 6 step ends at (6 → 7 follows it).
const LAYOUT_6: u32 = 6;
/// The layout the 6 → 7 step ends at (7 → 8 follows it).
const LAYOUT_7: u32 = 7;
/// The layout the 7 → 8 step ends at (8 → 9 follows it).
const LAYOUT_8: u32 = 8;

/// Whether a store of layout `version` (or half-way through a migration) is migrated at open.
pub(super) fn migrates_from(version: u32) -> bool {
    matches!(
        version,
        3 | 4
            | 5
            | 6
            | 7
            | 8
            | MIGRATING_3_TO_4
            | MIGRATING_4_TO_5
            | MIGRATING_5_TO_6
            | MIGRATING_7_TO_8
    )
}

/// The layout a store of `version` is being migrated from (for messages).
pub(super) fn from_layout(version: u32) -> u32 {
    match version {
        MIGRATING_3_TO_4 => 3,
        MIGRATING_4_TO_5 => 4,
        MIGRATING_5_TO_6 => 5,
        MIGRATING_7_TO_8 => 7,
        v => v,
    }
}

/// Migrates a store of layout `version` to [`SCHEMA_VERSION`], one layout after the other;
/// `Ok(false)` if there is no migration from that version.
pub(super) fn migrate(store: &dyn KvStore, version: u32) -> Result<bool, StoreError> {
    if !migrates_from(version) {
        return Ok(false);
    }
    if version == LAYOUT_8 {
        from_8(store)?;
        tracing::info!("store migrated to layout {SCHEMA_VERSION}");
        return Ok(true);
    }
    if version == 3 || version == MIGRATING_3_TO_4 {
        from_3(store)?;
    }
    if matches!(version, 3 | 4 | MIGRATING_3_TO_4 | MIGRATING_4_TO_5) {
        from_4(store)?;
    }
    let from_7_on = matches!(version, LAYOUT_7 | MIGRATING_7_TO_8);
    if version != LAYOUT_6 && !from_7_on {
        from_5(store)?;
    }
    if !from_7_on {
        from_6(store)?;
    }
    from_7(store)?;
    from_8(store)?;
    tracing::info!("store migrated to layout {SCHEMA_VERSION}");
    Ok(true)
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::sync::Arc;

    use consent_proto::fixtures::{self, T0};
    use consent_proto::ids::FeedId;
    use consent_proto::vocab::Role;

    use super::v4::feed_records_from_3;
    use super::*;
    use crate::ledger::tables::{self, FeedRecord, meta, prefix};
    use crate::ledger::{Ledger, LedgerConfig, fsck};
    use crate::store::Write;
    use crate::store::memory::MemoryStore;

    /// A feed that rotated twice, written by this build, turned back into layout 3 (as the build
    /// before it wrote it), migrates to the same records and rows, and passes the full check.
    #[tokio::test]
    async fn a_layout_3_store_migrates_to_the_same_state() {
        let store: Arc<dyn KvStore> = Arc::new(MemoryStore::new());
        let registrars: HashSet<FeedId> = HashSet::new();
        let (ledger, writer) = Ledger::open(
            Arc::clone(&store),
            registrars.clone(),
            "test",
            LedgerConfig::default(),
        )
        .expect("open");
        let (mut author, inception) = fixtures::author(Role::Collector, "rotating", T0);
        let mut entries = vec![inception];
        for i in 0..5u64 {
            if i % 2 == 1 {
                let next = fixtures::key(&format!("rotating/next/{i}"));
                entries.push(author.rotate(T0 + i + 1, next).expect("rotation"));
            } else {
                entries.push(fixtures::append(
                    &mut author,
                    T0 + i + 1,
                    fixtures::policy(i as u32 + 1),
                ));
            }
        }
        let feed = author.feed();
        ledger.submit(entries).await.expect("submit");
        ledger.shutdown().await;
        drop(ledger);
        writer.join();

        let current: FeedRecord = tables::decode(
            &store
                .get(&tables::feed_key(&feed))
                .expect("get")
                .expect("record"),
            "feed",
        )
        .expect("decode");
        let rows: Vec<_> = store
            .scan_prefix(&[prefix::ROTATION])
            .collect::<Result<_, _>>()
            .expect("rows");
        assert_eq!(rows.len(), 2, "two rotations, two rows");
        feeds_back_to_3(&*store).expect("back to layout 3");
        store
            .apply(vec![(
                meta::SCHEMA.to_vec(),
                Some(3u32.to_be_bytes().to_vec()),
            )])
            .expect("downgrade");

        // A version without a migration is refused, naming what to do.
        let migrated = fsck::prepare(&*store, "test");
        assert!(migrated.is_ok(), "layout 3 migrates: {migrated:?}");
        let migrated: FeedRecord = tables::decode(
            &store
                .get(&tables::feed_key(&feed))
                .expect("get")
                .expect("record"),
            "feed",
        )
        .expect("decode");
        assert_eq!(migrated, current);
        let again: Vec<_> = store
            .scan_prefix(&[prefix::ROTATION])
            .collect::<Result<_, _>>()
            .expect("rows");
        assert_eq!(again, rows);
        assert!(store.get(CURSOR_V3).expect("get").is_none());
        assert_eq!(
            store.get(meta::SCHEMA).expect("get"),
            Some(SCHEMA_VERSION.to_be_bytes().to_vec())
        );
        fsck::full(&*store, &registrars).expect("the migrated store passes the full check");

        // Killed between the feed records and the answer figures: the store says it is
        // migrating (an older release refuses it), and the next start finishes the job.
        feeds_back_to_3(&*store).expect("back to layout 3");
        store
            .apply(vec![(
                meta::SCHEMA.to_vec(),
                Some(MIGRATING_3_TO_4.to_be_bytes().to_vec()),
            )])
            .expect("mark");
        feed_records_from_3(&*store).expect("first phase");
        fsck::prepare(&*store, "test").expect("resumes");
        assert_eq!(
            store.get(meta::SCHEMA).expect("get"),
            Some(SCHEMA_VERSION.to_be_bytes().to_vec())
        );
        fsck::full(&*store, &registrars).expect("the resumed migration passes the full check");

        store
            .apply(vec![(
                meta::SCHEMA.to_vec(),
                Some(2u32.to_be_bytes().to_vec()),
            )])
            .expect("write");
        let err = fsck::prepare(&*store, "test").expect_err("layout 2 is refused");
        assert!(err.to_string().contains("layout version 2"), "{err}");
    }

    fn layout(store: &dyn KvStore) -> Vec<u8> {
        store.get(meta::SCHEMA).expect("get").expect("a layout")
    }

    fn set_layout(store: &dyn KvStore, version: u32) {
        store
            .apply(vec![(
                meta::SCHEMA.to_vec(),
                Some(version.to_be_bytes().to_vec()),
            )])
            .expect("write");
    }

    fn grant_rows(store: &dyn KvStore) -> Vec<(Vec<u8>, Vec<u8>)> {
        store
            .scan_prefix(&[prefix::GRANT])
            .collect::<Result<_, _>>()
            .expect("rows")
    }

    /// Grants written by this build (some revoked), turned back into layout 4 (no scope, as the
    /// build before wrote them), migrate to the same rows and pass the full check; a migration
    /// killed half-way resumes; a layout-3 store goes through 4 to 5; layout 2 is refused.
    #[tokio::test]
    async fn a_layout_4_store_migrates_to_the_same_state() {
        use consent_proto::vocab::Purpose;

        let store: Arc<dyn KvStore> = Arc::new(MemoryStore::new());
        let scene = fixtures::scene(T0);
        let registrars: HashSet<FeedId> = [scene.registrar.feed()].into_iter().collect();
        let (ledger, writer) = Ledger::open(
            Arc::clone(&store),
            registrars.clone(),
            "test",
            LedgerConfig::default(),
        )
        .expect("open");
        let mut entries = scene.entries.clone();
        for i in 0..6 {
            let (mut citizen, inception, grant) =
                fixtures::citizen_granting(&scene, &format!("c{i}"), Purpose::ServiceProvision);
            let id = grant.id;
            entries.extend([inception, grant]);
            if i % 2 == 0 {
                entries.push(fixtures::append(
                    &mut citizen,
                    T0 + 2 * fixtures::DAY,
                    fixtures::revoke(id, false),
                ));
            }
        }
        ledger.submit(entries).await.expect("submit");
        ledger.shutdown().await;
        drop(ledger);
        writer.join();

        let current = grant_rows(&*store);
        assert_eq!(current.len(), 6);
        // The layout a migration ends at (this build's).
        let v5 = SCHEMA_VERSION.to_be_bytes().to_vec();

        // Layout 4: every row migrates to the same bytes.
        feeds_back_to_5(&*store).expect("feeds back to layout 5");
        grants_back_to_4(&*store).expect("back to layout 4");
        assert_ne!(
            grant_rows(&*store),
            current,
            "layout 4 encodes grants without a scope"
        );
        set_layout(&*store, 4);
        fsck::prepare(&*store, "test").expect("layout 4 migrates");
        assert_eq!(grant_rows(&*store), current);
        assert_eq!(layout(&*store), v5);
        assert!(store.get(CURSOR_V4).expect("get").is_none());
        fsck::full(&*store, &registrars).expect("the migrated store passes the full check");

        // Killed after the first half of the rows: the store says it is migrating (the release
        // before refuses it), the cursor names the last row done, and the next start finishes.
        feeds_back_to_5(&*store).expect("feeds back to layout 5");
        let current_5 = grant_rows_as_5(&current).expect("as layout 5");
        grants_back_to_4(&*store).expect("back to layout 4");
        let half = &current_5[..3];
        let mut writes: Vec<_> = half
            .iter()
            .map(|(k, v)| (k.clone(), Some(v.clone())))
            .collect();
        writes.push((CURSOR_V4.to_vec(), Some(half[2].0.clone())));
        store.apply(writes).expect("first half");
        set_layout(&*store, MIGRATING_4_TO_5);
        fsck::prepare(&*store, "test").expect("resumes");
        assert_eq!(grant_rows(&*store), current);
        assert_eq!(layout(&*store), v5);
        assert!(store.get(CURSOR_V4).expect("get").is_none());
        fsck::full(&*store, &registrars).expect("the resumed migration passes the full check");

        // Layout 3 (feed records with their keys inline, grants without a scope): 3 to 4 to 5
        // to 6.
        grants_back_to_4(&*store).expect("back to layout 4");
        feeds_back_to_3(&*store).expect("back to layout 3");
        set_layout(&*store, 3);
        fsck::prepare(&*store, "test").expect("layout 3 migrates through 4");
        assert_eq!(grant_rows(&*store), current);
        assert_eq!(layout(&*store), v5);
        fsck::full(&*store, &registrars).expect("3 to 5 passes the full check");

        // Another layout is refused, saying what to do.
        set_layout(&*store, 2);
        let err = fsck::prepare(&*store, "test").expect_err("layout 2 is refused");
        let err = err.to_string();
        assert!(err.contains("layout version 2"), "{err}");
        assert!(err.contains("versions 3, 4, 5, 6, 7 and 8"), "{err}");
        assert!(err.contains("move the data directory aside"), "{err}");
    }

    fn feed_rows(store: &dyn KvStore) -> Vec<(Vec<u8>, Vec<u8>)> {
        store
            .scan_prefix(&[prefix::FEED])
            .collect::<Result<_, _>>()
            .expect("rows")
    }

    fn watch_rows(store: &dyn KvStore) -> Vec<(Vec<u8>, Vec<u8>)> {
        store
            .scan_prefix(&[prefix::WATCH])
            .collect::<Result<_, _>>()
            .expect("rows")
    }

    /// A store written by this build (a collector whose last entry, after its second policy,
    /// is a rotation; citizens with grants), turned back into layout 5, migrates to the same
    /// feed, grant and watch rows: the collector's head and base are its last Policy entry,
    /// citizens and the registrar have none, each policy version is in the collector's watch
    /// index. Killed half-way, it resumes; layout 2 is refused.
    #[tokio::test]
    async fn a_layout_5_store_migrates_to_6_with_policy_heads() {
        use consent_proto::vocab::Purpose;

        let store: Arc<dyn KvStore> = Arc::new(MemoryStore::new());
        let mut scene = fixtures::scene(T0);
        let registrars: HashSet<FeedId> = [scene.registrar.feed()].into_iter().collect();
        let (ledger, writer) = Ledger::open(
            Arc::clone(&store),
            registrars.clone(),
            "test",
            LedgerConfig::default(),
        )
        .expect("open");
        let mut entries = scene.entries.clone();
        let v2 = fixtures::append(&mut scene.collector, T0 + 1, fixtures::policy(2));
        let v2_id = v2.id;
        entries.push(v2);
        entries.push(
            scene
                .collector
                .rotate(T0 + 2, fixtures::key("collector/next/2"))
                .expect("rotation"),
        );
        for i in 0..5 {
            let (_, inception, grant) =
                fixtures::citizen_granting(&scene, &format!("c{i}"), Purpose::ServiceProvision);
            entries.extend([inception, grant]);
        }
        let outcomes = ledger.submit(entries).await.expect("submit");
        assert!(
            outcomes
                .iter()
                .all(|o| matches!(o, crate::ledger::Outcome::Accepted { .. })),
            "{outcomes:?}"
        );
        ledger.shutdown().await;
        drop(ledger);
        writer.join();

        let feeds = feed_rows(&*store);
        let grants = grant_rows(&*store);
        let watch = watch_rows(&*store);
        let collector: FeedRecord = tables::decode(
            &store
                .get(&tables::feed_key(&scene.collector.feed()))
                .expect("get")
                .expect("record"),
            "feed",
        )
        .expect("decode");
        assert_eq!(collector.policy_head, Some(v2_id.0));
        assert_eq!(collector.policy_base, Some(v2_id.0));

        back_to_5(&*store).expect("back to layout 5");
        assert_ne!(feed_rows(&*store), feeds, "layout 5 has no policy entries");
        assert_ne!(
            watch_rows(&*store),
            watch,
            "layout 5 watched no policy versions"
        );
        set_layout(&*store, 5);
        fsck::prepare(&*store, "test").expect("layout 5 migrates");
        assert_eq!(feed_rows(&*store), feeds);
        assert_eq!(grant_rows(&*store), grants);
        assert_eq!(watch_rows(&*store), watch);
        assert_eq!(layout(&*store), SCHEMA_VERSION.to_be_bytes().to_vec());
        assert!(store.get(CURSOR_V5).expect("get").is_none());
        fsck::full(&*store, &registrars).expect("the migrated store passes the full check");

        // Killed after the feed records and two grants: the store says it is migrating (the
        // release before refuses it), and the next start finishes from the cursor.
        back_to_5(&*store).expect("back to layout 5");
        let mut writes: Vec<_> = feeds
            .iter()
            .chain(&watch)
            .chain(&grants[..2])
            .map(|(k, v)| (k.clone(), Some(v.clone())))
            .collect();
        writes.push((CURSOR_V5.to_vec(), Some(grants[1].0.clone())));
        store.apply(writes).expect("first part");
        set_layout(&*store, MIGRATING_5_TO_6);
        fsck::prepare(&*store, "test").expect("resumes");
        assert_eq!(feed_rows(&*store), feeds);
        assert_eq!(grant_rows(&*store), grants);
        assert_eq!(watch_rows(&*store), watch);
        assert_eq!(layout(&*store), SCHEMA_VERSION.to_be_bytes().to_vec());
        fsck::full(&*store, &registrars).expect("the resumed migration passes the full check");

        set_layout(&*store, 2);
        let err = fsck::prepare(&*store, "test")
            .expect_err("layout 2 is refused")
            .to_string();
        assert!(err.contains("versions 3, 4, 5, 6, 7 and 8"), "{err}");
    }

    /// Every row but the layout version, in key order.
    fn rows(store: &dyn KvStore) -> Vec<(Vec<u8>, Vec<u8>)> {
        store
            .scan_prefix(&[])
            .filter(|pair| {
                pair.as_ref()
                    .map_or(true, |(k, _)| k.as_slice() != meta::SCHEMA)
            })
            .collect::<Result<_, _>>()
            .expect("rows")
    }

    /// A store of layout 6 (consultations, no delegation: no such entry could be stored) is
    /// stamped layout 7, then 8 (block rows: none for a log shorter than a block), with every
    /// row unchanged, passes the full check, and takes delegations afterwards; a layout-5 store
    /// goes through 6, 7 and 8.
    #[tokio::test]
    async fn a_layout_6_store_migrates() {
        use consent_proto::vocab::Purpose;

        let store: Arc<dyn KvStore> = Arc::new(MemoryStore::new());
        let scene = fixtures::scene(T0);
        let registrars: HashSet<FeedId> = [scene.registrar.feed()].into_iter().collect();
        let open = || {
            Ledger::open(
                Arc::clone(&store),
                registrars.clone(),
                "test",
                LedgerConfig::default(),
            )
            .expect("open")
        };
        let (ledger, writer) = open();
        let mut entries = scene.entries.clone();
        for i in 0..3 {
            let (_, inception, grant) =
                fixtures::citizen_granting(&scene, &format!("c{i}"), Purpose::ServiceProvision);
            entries.extend([inception, grant]);
        }
        ledger.submit(entries).await.expect("submit");
        ledger.shutdown().await;
        drop(ledger);
        writer.join();
        let before = rows(&*store);

        set_layout(&*store, 6);
        fsck::prepare(&*store, "test").expect("layout 6 migrates");
        assert_eq!(layout(&*store), SCHEMA_VERSION.to_be_bytes().to_vec());
        assert_eq!(SCHEMA_VERSION, 9);
        assert_eq!(
            rows(&*store),
            before,
            "6 to 7 changes no row, 7 to 8 hashes the log's blocks as the writer did"
        );
        fsck::full(&*store, &registrars).expect("the migrated store passes the full check");

        // Layout 5 (no policy entries in feed records, no consultation tables): 5 to 6 to 7.
        back_to_5(&*store).expect("back to layout 5");
        set_layout(&*store, 5);
        fsck::prepare(&*store, "test").expect("layout 5 migrates through 6");
        assert_eq!(layout(&*store), SCHEMA_VERSION.to_be_bytes().to_vec());
        assert_eq!(rows(&*store), before);

        // The migrated store takes a delegation and a grant under it.
        let (ledger, writer) = open();
        let w = crate::ledger::delegations::tests::world();
        let outcomes = ledger
            .submit(w.entries[w.scene.entries.len()..].to_vec())
            .await
            .expect("submit");
        assert!(
            outcomes
                .iter()
                .all(|o| matches!(o, crate::ledger::Outcome::Accepted { .. })),
            "{outcomes:?}"
        );
        ledger.shutdown().await;
        drop(ledger);
        writer.join();
        fsck::full(&*store, &registrars).expect("with delegations, the full check passes");
    }

    /// A store of layout 7 (no block rows, no start-up position) gets exactly the block rows
    /// the writer writes, one per whole block of its log, and layout 8; killed part-way, it
    /// resumes from its cursor. Its first start finds no position and checks the whole store;
    /// the writer then saves one, which the next start uses.
    #[tokio::test]
    async fn a_layout_7_store_migrates_to_8_with_the_logs_block_rows() {
        let store: Arc<dyn KvStore> = Arc::new(MemoryStore::new());
        let scene = fixtures::scene(T0);
        let registrars: HashSet<FeedId> = [scene.registrar.feed()].into_iter().collect();
        let open = || {
            Ledger::open(
                Arc::clone(&store),
                registrars.clone(),
                "test",
                LedgerConfig::default(),
            )
            .expect("open")
        };
        let (ledger, writer) = open();
        let mut entries = scene.entries.clone();
        entries.extend((0..200).map(|i| fixtures::author(Role::Citizen, &format!("c{i}"), T0).1));
        ledger.submit(entries).await.expect("submit");
        ledger.shutdown().await;
        drop(ledger);
        writer.join();
        let blocks = |store: &dyn KvStore| -> Vec<(Vec<u8>, Vec<u8>)> {
            store
                .scan_prefix(&[prefix::BLOCK])
                .collect::<Result<_, _>>()
                .expect("rows")
        };
        let written = blocks(&*store);
        assert_eq!(written.len(), 204 / 64, "a row per whole block");
        let before = rows(&*store);
        // Layout 7: no block rows, no start-up position.
        let back_to_7 = |store: &dyn KvStore| {
            let mut writes: Vec<Write> = blocks(store)
                .into_iter()
                .map(|(key, _)| (key, None))
                .collect();
            writes.push((meta::STARTUP.to_vec(), None));
            writes.push((meta::SCHEMA.to_vec(), Some(7u32.to_be_bytes().to_vec())));
            store.apply(writes).expect("back to layout 7");
        };
        back_to_7(&*store);
        fsck::prepare(&*store, "test").expect("layout 7 migrates");
        assert_eq!(blocks(&*store), written);
        assert_eq!(layout(&*store), SCHEMA_VERSION.to_be_bytes().to_vec());
        assert!(store.get(CURSOR_V7).expect("get").is_none());

        // Killed after the first block: the store says it is migrating (the release before
        // refuses it), the cursor names the next block, and the next start finishes.
        back_to_7(&*store);
        store
            .apply(vec![
                (written[0].0.clone(), Some(written[0].1.clone())),
                (CURSOR_V7.to_vec(), Some(1u64.to_be_bytes().to_vec())),
                (
                    meta::SCHEMA.to_vec(),
                    Some(MIGRATING_7_TO_8.to_be_bytes().to_vec()),
                ),
            ])
            .expect("first batch");
        fsck::prepare(&*store, "test").expect("resumes");
        assert_eq!(blocks(&*store), written);
        assert_eq!(layout(&*store), SCHEMA_VERSION.to_be_bytes().to_vec());
        assert!(store.get(CURSOR_V7).expect("get").is_none());

        // The first start finds no position and checks the whole store; the writer saves one.
        assert_eq!(fsck::at_start(&*store).expect("sound").from, None);
        let (ledger, writer) = open();
        ledger.shutdown().await;
        drop(ledger);
        writer.join();
        assert_eq!(rows(&*store), before, "the rows a layout-8 writer wrote");
        assert_eq!(fsck::at_start(&*store).expect("sound").from, Some(204));
        fsck::full(&*store, &registrars).expect("the migrated store passes the full check");
    }
}
