//! The start-up check from the start-up position (`at_start`, `since`) against the complete
//! check: damage after the position is refused, a position that does not describe the store
//! falls back to the complete check (which still finds damage before it), every kind of entry
//! after a position passes, and the work of a start is the entries after the position and a row
//! per 64 entries before it, not the log.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use consent_proto::Entry;
use consent_proto::body::Body;
use consent_proto::fixtures::{self, DAY, T0};
use consent_proto::ids::{EntryId, FeedId};
use consent_proto::vocab::ObjectionReason::RetentionTooLong;
use consent_proto::vocab::{Purpose as P, RequestKind, Role};

use super::super::tables::{self, FeedRecord, GrantRecord, StartupPosition, meta};
use super::super::tree::BLOCK;
use super::super::{Ledger, LedgerConfig, Outcome, WriterThread};
use super::{at_start, structure, structure_and_tree};
use crate::clock::Clock;
use crate::store::memory::MemoryStore;
use crate::store::{KvStore, Pair, Scan, StoreError, Write};

/// A store that counts the rows it is asked for (each `get`, each pair a scan yields).
struct Counting {
    inner: Arc<dyn KvStore>,
    reads: AtomicU64,
}

impl Counting {
    fn counted<'a>(&'a self, scan: Scan<'a>) -> Scan<'a> {
        Box::new(scan.inspect(move |_| {
            self.reads.fetch_add(1, Ordering::Relaxed);
        }))
    }

    fn reads(&self) -> u64 {
        self.reads.load(Ordering::Relaxed)
    }
}

impl KvStore for Counting {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        self.reads.fetch_add(1, Ordering::Relaxed);
        self.inner.get(key)
    }
    fn scan_prefix(&self, prefix: &[u8]) -> Scan<'_> {
        self.counted(self.inner.scan_prefix(prefix))
    }
    fn scan_range(&self, from: &[u8], to: &[u8]) -> Scan<'_> {
        self.counted(self.inner.scan_range(from, to))
    }
    fn scan_prefix_rev(&self, prefix: &[u8]) -> Scan<'_> {
        self.counted(self.inner.scan_prefix_rev(prefix))
    }
    fn last_with_prefix(&self, prefix: &[u8]) -> Result<Option<Pair>, StoreError> {
        self.reads.fetch_add(1, Ordering::Relaxed);
        self.inner.last_with_prefix(prefix)
    }
    fn apply(&self, writes: Vec<Write>) -> Result<(), StoreError> {
        self.inner.apply(writes)
    }
    fn flush(&self) -> Result<(), StoreError> {
        self.inner.flush()
    }
    fn size_on_disk(&self) -> Result<u64, StoreError> {
        self.inner.size_on_disk()
    }
}

fn open(store: &Arc<dyn KvStore>, registrars: &HashSet<FeedId>) -> (Ledger, WriterThread) {
    Ledger::open(
        Arc::clone(store),
        registrars.clone(),
        "test",
        LedgerConfig::default(),
    )
    .expect("open")
}

async fn stop(ledger: Ledger, writer: WriterThread) {
    ledger.shutdown().await;
    drop(ledger);
    writer.join();
}

/// Submits `entries`, all of which must be accepted; returns their arrival indexes by id.
async fn submit(ledger: &Ledger, entries: Vec<Entry>) -> HashMap<EntryId, u64> {
    let outcomes = ledger.submit(entries).await.expect("submit");
    outcomes
        .iter()
        .map(|o| match o {
            Outcome::Accepted { id, index } => (*id, *index),
            other => panic!("not accepted: {other:?}"),
        })
        .collect()
}

fn position(store: &dyn KvStore) -> StartupPosition {
    let value = store.get(meta::STARTUP).expect("get").expect("a position");
    StartupPosition::decode(&value).expect("a sound position")
}

fn put(store: &dyn KvStore, key: &[u8], value: Option<Vec<u8>>) {
    store.apply(vec![(key.to_vec(), value)]).expect("apply");
}

/// A store written as a node leaves it when it crashed after a clean restart: the scene and
/// `before` citizens, stopped cleanly (so the start-up position is at their end, `P`), then
/// `after` citizens each with a grant, without a position saved after them. Returns the store,
/// the registrars, `P`, and the citizens after it (with their grants).
async fn crashed_after(
    before: usize,
    after: usize,
) -> (Arc<dyn KvStore>, HashSet<FeedId>, u64, Vec<(FeedId, Entry)>) {
    let store: Arc<dyn KvStore> = Arc::new(MemoryStore::new());
    let scene = fixtures::scene(T0);
    let registrars: HashSet<FeedId> = [scene.registrar.feed()].into_iter().collect();
    let (ledger, writer) = open(&store, &registrars);
    let mut entries = scene.entries.clone();
    entries
        .extend((0..before).map(|i| fixtures::author(Role::Citizen, &format!("before-{i}"), T0).1));
    submit(&ledger, entries).await;
    stop(ledger, writer).await;
    let saved = store.get(meta::STARTUP).expect("get").expect("a position");
    let p = position(&*store).log_size;
    assert_eq!(p, (scene.entries.len() + before) as u64);

    let (ledger, writer) = open(&store, &registrars);
    let mut granted = Vec::new();
    let mut entries = Vec::new();
    for i in 0..after {
        let (citizen, inception, grant) =
            fixtures::citizen_granting(&scene, &format!("after-{i}"), P::Research);
        granted.push((citizen.feed(), grant.clone()));
        entries.extend([inception, grant]);
    }
    submit(&ledger, entries).await;
    stop(ledger, writer).await;
    // The crash came before a position was saved after them.
    put(&*store, meta::STARTUP, Some(saved));
    (store, registrars, p, granted)
}

/// `damage` (each row put or deleted) makes the start refuse the store with a finding that
/// contains `finding`; the store is restored after.
fn refused_at_start(store: &dyn KvStore, damage: Vec<Write>, finding: &str) {
    let restore: Vec<Write> = damage
        .iter()
        .map(|(key, _)| (key.clone(), store.get(key).expect("get")))
        .collect();
    store.apply(damage).expect("damage");
    let report = at_start(store).expect_err("a damaged store is refused at start");
    let text = report.to_string();
    assert!(text.contains(finding), "{finding:?} not in: {text}");
    store.apply(restore).expect("restore");
}

#[tokio::test]
async fn a_store_damaged_after_the_position_is_refused_at_start() {
    // 4 + 200 entries before the position; 80 after it, completing block 3 (192..256).
    let (store, _, p, granted) = crashed_after(200, 40).await;
    assert_eq!(p, 204);
    let started = at_start(&*store).expect("the store is sound");
    assert_eq!(started.from, Some(p), "checked from the position");
    let whole = structure_and_tree(&*store).expect("sound");
    assert_eq!(started.tree.size(), whole.size());
    assert_eq!(started.tree.root(), whole.root());

    let (feed, grant) = &granted[5];
    let Body::Grant(g) = &grant.body else {
        panic!("a grant")
    };
    let log_row = tables::log_key(p + 7);
    refused_at_start(&*store, vec![(log_row, None)], "jumps from index");
    refused_at_start(
        &*store,
        vec![(tables::seq_key(feed, 1), None)],
        "its seq index",
    );
    let record = store
        .get(&tables::feed_key(feed))
        .expect("get")
        .expect("a record");
    let mut record: FeedRecord = tables::decode(&record, "feed").expect("decode");
    record.head_seq = 0;
    refused_at_start(
        &*store,
        vec![(
            tables::feed_key(feed),
            Some(tables::encode(&record).expect("encode")),
        )],
        "head is seq 0",
    );
    refused_at_start(
        &*store,
        vec![(tables::grant_row(grant, g), None)],
        "no grant row",
    );
    refused_at_start(
        &*store,
        vec![(tables::entry_key(&grant.id), None)],
        "which is not stored",
    );
    let counters = store.get(meta::COUNTERS).expect("get").expect("counters");
    let mut more_feeds = counters.clone();
    more_feeds[15] = more_feeds[15].wrapping_add(1);
    refused_at_start(
        &*store,
        vec![(meta::COUNTERS.to_vec(), Some(more_feeds))],
        "the feed counter moved",
    );
    refused_at_start(&*store, vec![(tables::block_key(3), None)], "block row 3");
    refused_at_start(
        &*store,
        vec![(tables::block_key(9), Some(vec![0; 32]))],
        "past the arrival log",
    );

    // Damage before the position is not what a start reads: `check-store` finds it.
    let early = fixtures::author(Role::Citizen, "before-3", T0).0.feed();
    let row = tables::seq_key(&early, 0);
    let kept = store.get(&row).expect("get");
    put(&*store, &row, None);
    assert_eq!(at_start(&*store).expect("not read at start").from, Some(p));
    let report = structure(&*store).expect_err("check-store finds it");
    assert!(report.to_string().contains("no entries"), "{report}");
    put(&*store, &row, kept);
    structure(&*store).expect("restored");
}

#[tokio::test]
async fn a_position_that_does_not_describe_the_store_falls_back_to_the_complete_check() {
    let (store, registrars, p, _) = crashed_after(150, 10).await;
    let sound = store.get(meta::STARTUP).expect("get").expect("a position");
    let good = position(&*store);
    let log_size = p + 20;
    let other = |position: StartupPosition| position.encode().expect("encode");
    let mut flipped = sound.clone();
    flipped[3] ^= 0x10;
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("a flipped byte", flipped.clone()),
        (
            "another root",
            other(StartupPosition {
                root: [1; 32],
                ..good.clone()
            }),
        ),
        (
            "another last entry",
            other(StartupPosition {
                last: [2; 32],
                ..good.clone()
            }),
        ),
        (
            "beyond the log",
            other(StartupPosition {
                log_size: log_size + 10,
                ..good.clone()
            }),
        ),
        (
            "impossible counters",
            other(StartupPosition {
                feeds: good.log_size + 1,
                ..good.clone()
            }),
        ),
    ];
    for (what, value) in cases {
        put(&*store, meta::STARTUP, Some(value));
        let started = at_start(&*store).unwrap_or_else(|r| panic!("{what}: {r}"));
        assert_eq!(started.from, None, "{what}: the complete check ran");
        assert_eq!(started.tree.size(), log_size);
        let report = structure(&*store).expect_err("check-store reports the position");
        assert!(
            report.to_string().contains("start-up position"),
            "{what}: {report}"
        );
    }
    put(&*store, meta::STARTUP, Some(sound.clone()));
    assert_eq!(at_start(&*store).expect("sound").from, Some(p));

    // A damaged block row before the position: its root is not the position's, and the
    // complete check finds the row.
    let row = store.get(&tables::block_key(0)).expect("get");
    put(&*store, &tables::block_key(0), Some(vec![7; 32]));
    let report = at_start(&*store).expect_err("the complete check finds the block row");
    assert!(report.to_string().contains("block row 0"), "{report}");
    put(&*store, &tables::block_key(0), row);

    // A damaged position and damage before it: the complete check, and check-store, find it.
    put(&*store, meta::STARTUP, Some(flipped));
    let early = fixtures::author(Role::Citizen, "before-3", T0).0.feed();
    let seq = tables::seq_key(&early, 0);
    let kept = store.get(&seq).expect("get");
    put(&*store, &seq, None);
    let report = at_start(&*store).expect_err("found by the complete check");
    assert!(report.to_string().contains("no entries"), "{report}");
    let report = structure(&*store)
        .expect_err("and by check-store")
        .to_string();
    assert!(report.contains("no entries"), "{report}");
    assert!(report.contains("start-up position is damaged"), "{report}");
    put(&*store, &seq, kept);

    // With the position still damaged, the node starts (the complete check) and saves a new
    // one, which the next start uses.
    let (ledger, writer) = open(&store, &registrars);
    stop(ledger, writer).await;
    assert_eq!(position(&*store).log_size, log_size);
    assert_eq!(at_start(&*store).expect("sound").from, Some(log_size));
    structure(&*store).expect("check-store passes");
}

/// Every kind of entry the write path stages rows for, all after the position saved when the
/// ledger opened an empty store (`P` = 0): the check from it passes, builds the tree the
/// complete check builds, and misses none of the rows they wrote.
#[tokio::test]
async fn every_kind_of_entry_after_the_position_passes_and_each_row_it_wrote_is_checked() {
    const DRAFTED: u64 = T0 + DAY;
    const CLOSES: u64 = DRAFTED + 14 * DAY;
    let store: Arc<dyn KvStore> = Arc::new(MemoryStore::new());
    let mut w = crate::ledger::delegations::tests::world();
    let registrars: HashSet<FeedId> = [w.scene.registrar.feed()].into_iter().collect();
    let (ledger, writer) = Ledger::open(
        Arc::clone(&store),
        registrars.clone(),
        "test",
        LedgerConfig {
            clock: Clock::manual(CLOSES + 1),
            ..LedgerConfig::default()
        },
    )
    .expect("open");
    let collector = w.scene.collector.feed();
    let on_behalf = fixtures::on_behalf(w.person.feed(), w.delegation.id);
    // A citizen's grant, revoked by itself; a request in the person's name; the person's
    // revocation of the assistant's grant; the person's undelegation.
    let (mut citizen, c0, own) = fixtures::citizen_granting(&w.scene, "citizen", P::Research);
    let own_revoke = fixtures::append(&mut citizen, T0 + 2 * DAY, fixtures::revoke(own.id, false));
    let request = fixtures::append(
        &mut w.delegate,
        T0 + 2 * DAY + 1,
        fixtures::in_name_of(on_behalf, fixtures::request(collector, RequestKind::Access)),
    );
    let their_revoke = fixtures::append(
        &mut w.person,
        T0 + 3 * DAY,
        fixtures::revoke(w.grant.id, false),
    );
    let undelegation = fixtures::append(
        &mut w.person,
        T0 + 4 * DAY,
        fixtures::undelegate(w.delegation.id, None),
    );
    // A consultation, a stance on it, the collector's response, the registrar's outcome.
    let draft = fixtures::append(
        &mut w.scene.collector,
        DRAFTED,
        fixtures::draft_policy(2, CLOSES),
    );
    let (mut stancer, s0) = fixtures::author(Role::Citizen, "stancer", T0);
    let stance = fixtures::append(
        &mut stancer,
        DRAFTED + 1,
        fixtures::stance(draft.id, &[RetentionTooLong]),
    );
    let response = fixtures::append(
        &mut w.scene.collector,
        DRAFTED + 3,
        fixtures::response(draft.id, RetentionTooLong, "we keep data 30 days"),
    );
    let outcome = fixtures::append(
        &mut w.scene.registrar,
        CLOSES + 1,
        fixtures::outcome(draft.id, true, "answered", &[response.id]),
    );
    let mut entries = w.entries.clone();
    entries.extend([
        c0,
        own.clone(),
        own_revoke,
        request.clone(),
        their_revoke,
        undelegation,
        draft.clone(),
        s0,
        stance,
        response,
        outcome.clone(),
    ]);
    let n = entries.len() as u64;
    let indexes = submit(&ledger, entries).await;
    let started = at_start(&*store).expect("every kind of entry passes");
    assert_eq!(started.from, Some(0));
    assert_eq!(started.tree.size(), n);
    assert_eq!(Some(started.tree.root()), ledger.tree().root_at(n));
    structure(&*store).expect("and the complete check");

    let person = w.person.feed();
    let Body::Grant(delegated) = &w.grant.body else {
        panic!("a grant")
    };
    let Body::Grant(g) = &own.body else {
        panic!("a grant")
    };
    let index = |e: &Entry| indexes[&e.id];
    let rows: Vec<(&str, Vec<u8>)> = vec![
        ("grant", tables::grant_row(&own, g)),
        ("delegated grant", tables::grant_row(&w.grant, delegated)),
        (
            "delegated-log",
            tables::delegated_log_key(&person, index(&w.grant)),
        ),
        (
            "delegated-log",
            tables::delegated_log_key(&person, index(&request)),
        ),
        (
            "revocation row",
            tables::revocation_key(&w.grant.id, &person),
        ),
        ("consultation", tables::consultation_key(&draft.id)),
        ("stance", tables::stance_key(&draft.id, &stancer.feed())),
        (
            "response",
            tables::response_key(&draft.id, RetentionTooLong as i32 as u8),
        ),
        (
            "outcome",
            tables::outcome_key(&draft.id, outcome.time_ms, &outcome.id),
        ),
        (
            "delegation",
            tables::delegation_key(&person, &w.delegation.id),
        ),
        (
            "delegation-by-delegate",
            tables::delegation_by_delegate_key(&w.delegate.feed(), &person, &w.delegation.id),
        ),
    ];
    for (finding, key) in rows {
        assert!(store.get(&key).expect("get").is_some(), "{finding} row");
        refused_at_start(&*store, vec![(key, None)], finding);
    }
    // The citizen's own revocation marked its grant's record.
    let key = tables::grant_row(&own, g);
    let value = store.get(&key).expect("get").expect("a record");
    let mut record: GrantRecord = tables::decode(&value, "grant").expect("decode");
    assert!(record.revoked);
    record.revoked = false;
    refused_at_start(
        &*store,
        vec![(key, Some(tables::encode(&record).expect("encode")))],
        "not revoked",
    );
    at_start(&*store).expect("restored");
    stop(ledger, writer).await;
}

/// Opening a store whose position is `P` entries back, with `k` entries after it, reads the
/// `P / 64` block rows, at most a block's worth of the log before `P`, and a few rows per entry
/// after it: not the log. The complete check reads every entry.
#[tokio::test]
async fn a_start_reads_the_entries_after_the_position_and_a_row_per_block_not_the_log() {
    const BEFORE: usize = 64 * 50;
    const AFTER: usize = 10;
    let (store, registrars, p, _) = crashed_after(BEFORE, AFTER).await;
    let k = 2 * AFTER as u64;
    let counting = Arc::new(Counting {
        inner: Arc::clone(&store),
        reads: AtomicU64::new(0),
    });
    let (ledger, writer) = Ledger::open(
        Arc::clone(&counting) as Arc<dyn KvStore>,
        registrars,
        "test",
        LedgerConfig::default(),
    )
    .expect("open");
    let reads = counting.reads();
    let bound = p / BLOCK + BLOCK + 20 * k + 40;
    assert!(
        reads <= bound,
        "opening read {reads} rows, more than {bound} for {p} entries before the position and {k} after"
    );
    assert_eq!(ledger.tree().size(), p + k);
    stop(ledger, writer).await;
    // The position saved at that start is at the end: the next start reads fewer still.
    assert_eq!(position(&*store).log_size, p + k);

    let before = counting.reads();
    structure_and_tree(&*counting).expect("sound");
    assert!(
        counting.reads() - before > 2 * p,
        "the complete check reads the whole log"
    );
}

/// `consentd check-store` that finds damage before the start-up position (which no start
/// reads) deletes the position: the next start checks the whole store and refuses it, rather
/// than check only what came after the position and save a new one over the damage. A sound
/// store keeps its position.
#[tokio::test]
async fn check_store_that_finds_damage_makes_the_next_start_check_the_whole_store() {
    let (store, registrars, p, _) = crashed_after(100, 10).await;
    super::offline(&*store, &registrars, false).expect("sound");
    super::offline(&*store, &registrars, true).expect("sound, replayed");
    assert_eq!(
        at_start(&*store).expect("sound").from,
        Some(p),
        "a sound store keeps its position"
    );

    let early = fixtures::author(Role::Citizen, "before-3", T0).0.feed();
    let row = tables::seq_key(&early, 0);
    let kept = store.get(&row).expect("get");
    put(&*store, &row, None);
    assert_eq!(at_start(&*store).expect("not read at start").from, Some(p));
    let found = super::offline(&*store, &registrars, false).expect_err("check-store finds it");
    assert!(found.forgotten.is_ok(), "{found}");
    let text = found.to_string();
    assert!(
        text.contains("no entries") && text.contains("position was deleted"),
        "{text}"
    );
    assert!(store.get(meta::STARTUP).expect("get").is_none());
    let refused = at_start(&*store).expect_err("the next start checks the whole store");
    assert!(refused.to_string().contains("no entries"), "{refused}");

    // Repaired: the complete check passes (once), and a start saves a position again.
    put(&*store, &row, kept);
    assert_eq!(at_start(&*store).expect("repaired").from, None);
    let (ledger, writer) = open(&store, &registrars);
    stop(ledger, writer).await;
    assert!(at_start(&*store).expect("sound").from.is_some());
}

/// A feed frozen for equivocation before the start-up position whose record lost its frozen
/// flag (a bit flipped on disk) would answer checks by the normal rule — allow, where a frozen
/// feed always denies. Every start reads the whole freeze list (one read per frozen feed), so
/// the store is refused, not only by `check-store`.
#[tokio::test]
async fn a_freeze_before_the_position_whose_flag_was_lost_is_refused_at_start() {
    let store: Arc<dyn KvStore> = Arc::new(MemoryStore::new());
    let scene = fixtures::scene(T0);
    let collector = scene.collector.feed();
    let registrars: HashSet<FeedId> = [scene.registrar.feed()].into_iter().collect();
    let (ledger, writer) = open(&store, &registrars);
    let (citizen, inception) = fixtures::author(Role::Citizen, "two-faced", T0);
    let (mut one, mut other) = (citizen.clone(), citizen);
    let first = fixtures::append(
        &mut one,
        T0 + 1,
        fixtures::request(collector, RequestKind::Access),
    );
    let second = fixtures::append(
        &mut other,
        T0 + 2,
        fixtures::request(collector, RequestKind::Erasure),
    );
    let mut entries = scene.entries.clone();
    entries.extend([inception, first]);
    submit(&ledger, entries).await;
    let outcomes = ledger.submit(vec![second]).await.expect("submit");
    assert!(
        matches!(outcomes[0], Outcome::Equivocation { .. }),
        "{outcomes:?}"
    );
    stop(ledger, writer).await;
    let p = position(&*store);
    assert_eq!(p.frozen, 1, "the freeze is before the position");
    assert_eq!(at_start(&*store).expect("sound").from, Some(p.log_size));

    let feed = one.feed();
    let value = store
        .get(&tables::feed_key(&feed))
        .expect("get")
        .expect("a record");
    let mut record: FeedRecord = tables::decode(&value, "feed").expect("decode");
    assert!(record.frozen);
    record.frozen = false;
    refused_at_start(
        &*store,
        vec![(
            tables::feed_key(&feed),
            Some(tables::encode(&record).expect("encode")),
        )],
        "which is not frozen",
    );
    assert_eq!(at_start(&*store).expect("restored").from, Some(p.log_size));
}
