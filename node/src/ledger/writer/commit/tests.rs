//! The writer under a failing store (a test double: a memory store whose apply, flush or reads
//! fail when told to): a failed commit whose re-read of the store fails too stops the writer,
//! which then writes neither the abandoned group's counters nor a start-up position; entries
//! whose flush failed are announced once a later flush made them durable, never before; and
//! the announcement channel holds the largest group whole.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use consent_proto::Entry;
use consent_proto::fixtures::{self, T0};
use consent_proto::vocab::Role;

use tokio::sync::broadcast;

use super::super::super::tables::meta;
use super::super::super::tree::{Frontier, LogTree};
use super::super::super::{Accepted, Ledger, LedgerConfig, LedgerError, Stats};
use super::super::{Item, Outcome, Source, Writer};
use crate::store::memory::MemoryStore;
use crate::store::{KvStore, Pair, Scan, StoreError, Write};

/// A memory store that fails when told to: `apply` (and, once an apply failed, every read
/// after it: a disk gone), `flush`, `get`.
struct Failing {
    inner: MemoryStore,
    apply: AtomicBool,
    flush: AtomicBool,
    get: AtomicBool,
}

impl Failing {
    fn new() -> Arc<Self> {
        Arc::new(Failing {
            inner: MemoryStore::new(),
            apply: AtomicBool::new(false),
            flush: AtomicBool::new(false),
            get: AtomicBool::new(false),
        })
    }

    fn heal(&self) {
        for flag in [&self.apply, &self.flush, &self.get] {
            flag.store(false, Ordering::SeqCst);
        }
    }
}

fn injected() -> StoreError {
    StoreError::Engine("injected failure".into())
}

impl KvStore for Failing {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        if self.get.load(Ordering::SeqCst) {
            return Err(injected());
        }
        self.inner.get(key)
    }
    fn scan_prefix(&self, prefix: &[u8]) -> Scan<'_> {
        self.inner.scan_prefix(prefix)
    }
    fn scan_range(&self, from: &[u8], to: &[u8]) -> Scan<'_> {
        self.inner.scan_range(from, to)
    }
    fn last_with_prefix(&self, prefix: &[u8]) -> Result<Option<Pair>, StoreError> {
        self.inner.last_with_prefix(prefix)
    }
    fn apply(&self, writes: Vec<Write>) -> Result<(), StoreError> {
        if self.apply.load(Ordering::SeqCst) {
            self.get.store(true, Ordering::SeqCst);
            return Err(injected());
        }
        self.inner.apply(writes)
    }
    fn flush(&self) -> Result<(), StoreError> {
        if self.flush.load(Ordering::SeqCst) {
            return Err(injected());
        }
        self.inner.flush()
    }
    fn size_on_disk(&self) -> Result<u64, StoreError> {
        self.inner.size_on_disk()
    }
}

/// `n` citizens' inceptions, from the `from`-th.
fn entries(from: usize, n: usize) -> Vec<Entry> {
    (from..from + n)
        .map(|i| fixtures::author(Role::Citizen, &format!("f{i}"), T0).1)
        .collect()
}

fn items(from: usize, n: usize) -> Vec<Item> {
    entries(from, n)
        .into_iter()
        .map(|entry| Item {
            entry,
            verified_under: None,
            source: Source::Local,
            admit: false,
        })
        .collect()
}

fn all_accepted(outcomes: Vec<Outcome>) {
    assert!(
        outcomes
            .iter()
            .all(|o| matches!(o, Outcome::Accepted { .. })),
        "{outcomes:?}"
    );
}

/// A writer on `store` that saves start-up positions, as a checked start opens it.
fn writer_on(store: &Arc<Failing>) -> Writer {
    let store: Arc<dyn KvStore> = store.clone();
    let tree = Arc::new(LogTree::new(Frontier::default(), Arc::clone(&store)));
    Writer::open(
        store,
        Arc::new(Stats::default()),
        Arc::new(HashSet::new()),
        tree,
        LedgerConfig::default(),
    )
    .expect("open")
    .saving_positions()
}

/// The apply of a group fails, and so does every read after it: the writer cannot learn the
/// counters the store holds, and its own still count the abandoned group. It writes nothing
/// more — no later group (which would store those counters), no start-up position (which a
/// start would take as checked) — even once the store works again.
#[test]
fn a_failed_commit_whose_re_read_fails_stops_the_writer_and_it_writes_nothing_more() {
    let failing = Failing::new();
    let mut writer = writer_on(&failing);
    writer.save_position();
    all_accepted(writer.replay(items(0, 5)).expect("replay"));
    let counters = failing.inner.get(meta::COUNTERS).expect("get");
    let position = failing.inner.get(meta::STARTUP).expect("get");
    assert!(counters.is_some() && position.is_some());

    failing.apply.store(true, Ordering::SeqCst);
    writer.replay(items(5, 3)).expect_err("the commit fails");
    assert!(writer.failed, "the writer stops writing");

    failing.heal();
    writer
        .replay(items(8, 2))
        .expect_err("nothing is written any more");
    writer.save_position();
    assert_eq!(failing.inner.get(meta::COUNTERS).expect("get"), counters);
    assert_eq!(failing.inner.get(meta::STARTUP).expect("get"), position);
}

/// A failed flush whose re-read of the store works leaves the writer writing: the counters are
/// the store's (the group was applied), and the next group follows it.
#[test]
fn a_failed_commit_whose_re_read_works_goes_on() {
    let failing = Failing::new();
    let mut writer = writer_on(&failing);
    all_accepted(writer.replay(items(0, 5)).expect("replay"));
    failing.flush.store(true, Ordering::SeqCst);
    writer.replay(items(5, 3)).expect_err("the flush fails");
    assert!(!writer.failed, "the store could be read again");
    failing.heal();
    let outcomes = writer.replay(items(8, 2)).expect("replay");
    assert!(
        matches!(
            outcomes[..],
            [
                Outcome::Accepted { index: 8, .. },
                Outcome::Accepted { index: 9, .. }
            ]
        ),
        "the applied group counts, the next follows it: {outcomes:?}"
    );
}

/// Through the ledger: the writer thread ends, so the node's supervisor stops the node
/// (`Ledger::writer_stopped`), and the failed submission was not acknowledged.
#[tokio::test]
async fn the_writer_thread_ends_when_it_cannot_read_the_store_after_a_failed_commit() {
    let failing = Failing::new();
    let store: Arc<dyn KvStore> = failing.clone();
    let (ledger, writer) =
        Ledger::open(store, HashSet::new(), "test", LedgerConfig::default()).expect("open");
    all_accepted(ledger.submit(entries(0, 3)).await.expect("submit"));
    failing.apply.store(true, Ordering::SeqCst);
    let failed = ledger.submit(entries(3, 2)).await;
    assert!(matches!(failed, Err(LedgerError::Store(_))), "{failed:?}");
    tokio::time::timeout(Duration::from_secs(30), ledger.writer_stopped())
        .await
        .expect("the writer thread ends");
    failing.heal();
    assert!(
        ledger.submit(entries(5, 1)).await.is_err(),
        "nothing is written any more"
    );
    drop(ledger);
    writer.join();
}

/// The arrival indexes announced on `rx` so far.
fn announced(rx: &mut broadcast::Receiver<Arc<Accepted>>) -> Vec<Option<u64>> {
    let mut out = Vec::new();
    while let Ok(accepted) = rx.try_recv() {
        out.push(accepted.index);
    }
    out
}

/// Entries whose flush failed are in the store but not known durable: they are not announced
/// (the register and gossip would run ahead of the disk). Once a later flush succeeds — one the
/// writer makes for them when the next group writes nothing, or a later group's — they are, in
/// order, before that group's own.
#[test]
fn entries_whose_flush_failed_are_announced_once_a_later_flush_succeeds() {
    let failing = Failing::new();
    let (tx, mut rx) = broadcast::channel(64);
    let mut writer = writer_on(&failing).announcing(tx);
    all_accepted(writer.replay(items(0, 2)).expect("replay"));
    assert_eq!(announced(&mut rx), [Some(0), Some(1)]);
    let durable = |writer: &Writer| writer.stats.durable_size.load(Ordering::Acquire);

    failing.flush.store(true, Ordering::SeqCst);
    writer.replay(items(2, 3)).expect_err("the flush fails");
    assert!(
        announced(&mut rx).is_empty(),
        "not known durable: not announced"
    );
    assert_eq!(durable(&writer), 2);
    failing.heal();
    let again = writer.replay(items(0, 1)).expect("replay");
    assert!(
        matches!(again[..], [Outcome::Duplicate { .. }]),
        "a group that writes nothing: {again:?}"
    );
    assert_eq!(announced(&mut rx), [Some(2), Some(3), Some(4)]);
    assert_eq!(durable(&writer), 5);

    failing.flush.store(true, Ordering::SeqCst);
    writer.replay(items(5, 1)).expect_err("the flush fails");
    failing.heal();
    all_accepted(writer.replay(items(6, 1)).expect("replay"));
    assert_eq!(announced(&mut rx), [Some(5), Some(6)]);
    assert_eq!(durable(&writer), 7);
}

/// A group of more than 4,096 entries (the channel's size before) is announced whole: a
/// receiver that keeps up misses none of it.
#[tokio::test]
async fn a_group_larger_than_4096_entries_is_announced_whole() {
    const N: usize = 5_000;
    let (ledger, writer) = crate::ledger::in_memory(HashSet::new())();
    let mut rx = ledger.accepted();
    all_accepted(ledger.submit(entries(0, N)).await.expect("submit"));
    let expected: Vec<Option<u64>> = (0..N as u64).map(Some).collect();
    assert_eq!(announced(&mut rx), expected);
    ledger.shutdown().await;
    drop(ledger);
    writer.join();
}
