//! The follower against a real ledger: a register built by following the writer equals one
//! read from the whole log, whichever way the entries came (announced, or read from the store
//! after falling behind), and a saved register plus the entries after it equals a full read;
//! `check-store --full`'s comparison of the saved register with the log.

use std::collections::HashSet;
use std::sync::RwLock;

use consent_proto::fixtures::{self, DAY, T0};
use consent_proto::ids::{EntryId, FeedId};
use consent_proto::vocab::{
    DataCategory as C, DelegatedPower, DelegationKind, ObjectionReason, Purpose as P, RequestKind,
    Role,
};

use super::*;
use crate::clock::Clock;
use crate::genesis::ConsultationSection;
use crate::ledger::{LedgerConfig, Outcome, WriterThread};
use crate::store::memory::MemoryStore;
use crate::transparency::register::Register;

/// When the collector's second version, a widening, is put to consultation.
const DRAFTED: u64 = T0 + 5 * DAY;
/// When its window closes.
const CLOSES: u64 = DRAFTED + 20 * DAY;

/// A log in three parts, in an order a node accepts: two collectors, the registrar's
/// accreditations; citizens' grants (one signed to start later, one with an end), their
/// own revocations (one asking for erasure) and requests; a person's assistant granting
/// and asking in the person's name, and the person revoking that grant; the collector's
/// widening put to consultation, stances on it, its approval and a grant under it; then
/// (part three) more grants, a revocation, a request and a suspension.
struct Log {
    registrars: HashSet<FeedId>,
    collector: FeedId,
    draft: EntryId,
    parts: [Vec<Entry>; 3],
}

fn mixed_log() -> Log {
    let mut scene = fixtures::scene(T0);
    let collector = scene.collector.feed();
    let mut one = scene.entries.clone();
    let (mut bikes, bikes0) = fixtures::author(Role::Collector, "bikes", T0);
    let bikes_policy = fixtures::append(&mut bikes, T0, fixtures::policy(1));
    let accredit = fixtures::append(
        &mut scene.registrar,
        T0 + DAY,
        fixtures::accredit(bikes.feed(), T0 + 400 * DAY),
    );
    one.extend([bikes0, bikes_policy, accredit]);

    let (mut person, p0) = fixtures::author(Role::Citizen, "person", T0);
    let (mut assistant, a0) = fixtures::author(Role::Citizen, "assistant", T0);
    let delegation = fixtures::append(
        &mut person,
        T0 + DAY,
        fixtures::delegation(
            assistant.feed(),
            DelegationKind::Assistant,
            &[
                DelegatedPower::Grant,
                DelegatedPower::Revoke,
                DelegatedPower::Request,
            ],
            &[collector],
            &[],
            None,
            None,
        ),
    );
    let on_behalf = fixtures::on_behalf(person.feed(), delegation.id);
    let delegated = fixtures::append(
        &mut assistant,
        T0 + 2 * DAY,
        fixtures::in_name_of(
            on_behalf,
            fixtures::location_grant(&scene, P::ServiceProvision),
        ),
    );
    one.extend([p0, a0, delegation, delegated.clone()]);

    let bodies = [
        fixtures::location_grant(&scene, P::ServiceProvision),
        fixtures::grant(
            collector,
            scene.policy,
            &[P::Research],
            &[C::Location],
            T0,
            Some(T0 + 40 * DAY),
        ),
        fixtures::grant(
            collector,
            scene.policy,
            &[P::ServiceProvision],
            &[C::Location],
            T0 + 30 * DAY,
            None,
        ),
        fixtures::location_grant(&scene, P::Research),
        fixtures::location_grant(&scene, P::ServiceProvision),
    ];
    let mut citizens = Vec::new();
    let mut granted = Vec::new();
    for (i, body) in bodies.into_iter().enumerate() {
        let (mut citizen, inception) = fixtures::author(Role::Citizen, &format!("c{i}"), T0);
        let grant = fixtures::append(&mut citizen, T0 + DAY, body);
        granted.push(grant.id);
        one.extend([inception, grant]);
        citizens.push(citizen);
    }
    let at = T0 + 2 * DAY;
    one.push(fixtures::append(
        &mut citizens[0],
        at,
        fixtures::revoke(granted[0], true),
    ));
    one.push(fixtures::append(
        &mut citizens[1],
        at,
        fixtures::revoke(granted[1], false),
    ));
    one.push(fixtures::append(
        &mut citizens[3],
        at,
        fixtures::request(collector, RequestKind::Access),
    ));
    one.push(fixtures::append(
        &mut citizens[4],
        at,
        fixtures::request(collector, RequestKind::Erasure),
    ));
    one.push(fixtures::append(
        &mut person,
        T0 + 3 * DAY,
        fixtures::revoke(delegated.id, false),
    ));
    one.push(fixtures::append(
        &mut assistant,
        T0 + 3 * DAY,
        fixtures::in_name_of(on_behalf, fixtures::request(collector, RequestKind::Access)),
    ));

    let draft = fixtures::append(
        &mut scene.collector,
        DRAFTED,
        fixtures::draft_policy(2, CLOSES),
    );
    let support = fixtures::append(
        &mut citizens[3],
        DRAFTED + 1,
        fixtures::stance(draft.id, &[]),
    );
    let objection = fixtures::append(
        &mut citizens[4],
        DRAFTED + 2,
        fixtures::stance(draft.id, &[ObjectionReason::RetentionTooLong]),
    );
    let approval = fixtures::append(
        &mut scene.registrar,
        CLOSES,
        fixtures::outcome(draft.id, true, "approved", &[]),
    );
    let (mut c5, c5_0) = fixtures::author(Role::Citizen, "c5", T0);
    let g5 = fixtures::append(
        &mut c5,
        CLOSES + 1,
        fixtures::grant(
            collector,
            draft.id,
            &[P::Marketing],
            &[C::Location],
            T0,
            None,
        ),
    );
    let two = vec![
        draft.clone(),
        support,
        objection,
        approval,
        c5_0,
        g5.clone(),
    ];

    let (mut c6, c6_0) = fixtures::author(Role::Citizen, "c6", T0);
    let g6 = fixtures::append(
        &mut c6,
        CLOSES + 3,
        fixtures::location_grant(&scene, P::ServiceProvision),
    );
    let (mut c7, c7_0) = fixtures::author(Role::Citizen, "c7", T0);
    let g7 = fixtures::append(
        &mut c7,
        CLOSES + 3,
        fixtures::grant(
            collector,
            draft.id,
            &[P::Marketing],
            &[C::Location],
            T0,
            Some(CLOSES + 10 * DAY),
        ),
    );
    let three = vec![
        c6_0,
        g6,
        c7_0,
        g7,
        fixtures::append(&mut c5, CLOSES + 4, fixtures::revoke(g5.id, true)),
        fixtures::append(
            &mut c6,
            CLOSES + 4,
            fixtures::request(collector, RequestKind::Portability),
        ),
        fixtures::append(
            &mut scene.registrar,
            CLOSES + 5,
            fixtures::suspend(collector),
        ),
    ];
    Log {
        registrars: [scene.registrar.feed()].into_iter().collect(),
        collector,
        draft: draft.id,
        parts: [one, two, three],
    }
}

/// A ledger on a memory store whose network requires consultations, its clock after every
/// entry of [`mixed_log`].
fn open(log: &Log) -> (Ledger, WriterThread) {
    let config = LedgerConfig {
        clock: Clock::manual(CLOSES + DAY),
        consultation: Some(ConsultationSection {
            widening_min_days: 14,
            objection_threshold: 1_000,
        }),
        ..LedgerConfig::default()
    };
    Ledger::open(
        Arc::new(MemoryStore::new()),
        log.registrars.clone(),
        "test",
        config,
    )
    .expect("open")
}

async fn close(ledger: Ledger, writer: WriterThread) {
    ledger.shutdown().await;
    drop(ledger);
    writer.join();
}

/// Submits `entries` a few at a time (several commits), expecting each accepted; returns
/// their arrival indexes.
async fn submit(ledger: &Ledger, entries: &[Entry]) -> Vec<u64> {
    let mut indexes = Vec::new();
    for chunk in entries.chunks(4) {
        let outcomes = ledger.submit(chunk.to_vec()).await.expect("submit");
        for (entry, outcome) in chunk.iter().zip(outcomes) {
            match outcome {
                Outcome::Accepted { index, .. } => indexes.push(index),
                other => panic!("{}: {other:?}", entry.id),
            }
        }
    }
    indexes
}

fn empty(ledger: &Ledger) -> Shared {
    Arc::new(RwLock::new(Register::new(ledger.registrars().clone())))
}

/// The register read from the whole log in the store, as a node without a saved register
/// builds it.
fn rebuilt(ledger: &Ledger) -> Shared {
    let register = empty(ledger);
    while let Some(at) = position(&register)
        && at < ledger.durable_size()
    {
        assert!(read_batch(ledger, &register, at, ledger.durable_size()).expect("read") > 0);
    }
    register
}

/// Waits until the follower has taken in the first `size` entries of the log.
async fn until_read(register: &Shared, size: u64) {
    let reached = tokio::time::timeout(Duration::from_secs(30), async {
        while position(register).is_some_and(|at| at < size) {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    })
    .await;
    assert!(reached.is_ok(), "the follower reads {size} entries");
}

fn same(a: &Shared, b: &Shared) {
    assert_eq!(*a.read().expect("lock"), *b.read().expect("lock"));
}

/// A follower started on an empty ledger takes every entry in from the writer's
/// announcements and ends with the register a read of the whole log gives.
#[tokio::test]
async fn following_the_writer_gives_the_register_reading_the_log_gives() {
    let log = mixed_log();
    let (ledger, writer) = open(&log);
    let register = empty(&ledger);
    let cancel = CancellationToken::new();
    let task = tokio::spawn(follow(
        ledger.clone(),
        register.clone(),
        ledger.accepted(),
        None,
        cancel.clone(),
    ));
    for part in &log.parts {
        submit(&ledger, part).await;
    }
    until_read(&register, ledger.durable_size()).await;
    same(&register, &rebuilt(&ledger));
    {
        let r = register.read().expect("lock");
        assert_eq!(r.collectors.len(), 2);
        let c = &r.collectors[&log.collector];
        assert_eq!((c.grants, c.revocations, c.erase_revocations), (8, 3, 2));
        let facts = c.consultation(&log.draft).expect("the draft is kept");
        assert!(facts.gated && facts.first_approval.is_some());
    }
    cancel.cancel();
    task.await.expect("the follower ends");
    close(ledger, writer).await;
}

/// Announced entries are taken in as announced, without reading the store: one the store
/// does not hold is counted; one before the register's position, and a frozen feed's
/// conflicting entry (no index), are not.
#[tokio::test]
async fn announced_entries_are_taken_in_without_reading_them_again() {
    let log = mixed_log();
    let (ledger, writer) = open(&log);
    submit(&ledger, &log.parts[0]).await;
    let size = ledger.durable_size();
    let (tx, rx) = broadcast::channel(16);
    let register = empty(&ledger);
    let cancel = CancellationToken::new();
    let task = tokio::spawn(follow(
        ledger.clone(),
        register.clone(),
        rx,
        None,
        cancel.clone(),
    ));
    until_read(&register, size).await;
    let grants = || register.read().expect("lock").collectors[&log.collector].grants;
    let before = grants();

    let (mut citizen, inception) = fixtures::author(Role::Citizen, "unstored", T0);
    let grant = fixtures::append(
        &mut citizen,
        T0 + DAY,
        fixtures::location_grant(&fixtures::scene(T0), P::ServiceProvision),
    );
    let announce = |index: Option<u64>, entry: &Entry| {
        Arc::new(Accepted {
            index,
            entry: entry.clone(),
            encoded: entry.encode(),
        })
    };
    for accepted in [
        announce(Some(0), &grant),
        announce(None, &grant),
        announce(Some(size), &inception),
        announce(Some(size + 1), &grant),
    ] {
        tx.send(accepted).expect("the follower listens");
    }
    until_read(&register, size + 2).await;
    assert_eq!(grants(), before + 1, "counted once, from the announcement");
    cancel.cancel();
    task.await.expect("the follower ends");
    close(ledger, writer).await;
}

/// A follower that falls behind the announcements (its channel holds 2) reads what it
/// missed from the store: the same register.
#[tokio::test]
async fn a_follower_behind_the_announcements_reads_what_it_missed_from_the_store() {
    let log = mixed_log();
    let (ledger, writer) = open(&log);
    submit(&ledger, &log.parts[0]).await;
    let (tx, rx) = broadcast::channel(2);
    let register = empty(&ledger);
    let cancel = CancellationToken::new();
    let task = tokio::spawn(follow(
        ledger.clone(),
        register.clone(),
        rx,
        None,
        cancel.clone(),
    ));
    until_read(&register, ledger.durable_size()).await;
    for part in &log.parts[1..] {
        let indexes = submit(&ledger, part).await;
        // Sent without yielding: the follower misses all but the last two.
        for (index, entry) in indexes.into_iter().zip(part) {
            let _ = tx.send(Arc::new(Accepted {
                index: Some(index),
                entry: entry.clone(),
                encoded: entry.encode(),
            }));
        }
    }
    until_read(&register, ledger.durable_size()).await;
    same(&register, &rebuilt(&ledger));
    cancel.cancel();
    task.await.expect("the follower ends");
    close(ledger, writer).await;
}

/// How the follower of the node whose key is `seed`'s saves in `dir`.
fn saving(dir: &std::path::Path, seed: u8) -> Saving {
    Saving {
        dir: dir.to_path_buf(),
        key: persist::FileKey::of(&consent_proto::keys::SecretKey::from_seed(&[seed; 32])),
    }
}

/// A follower that stops saves the register; the next one loads it and reads only the
/// entries after it (a state written with the node's key is taken as it is: one that says
/// more than the log proves it is used, and `check-store --full`'s comparison finds it and
/// deletes it), ending with the register of a full read. A damaged state, one written with
/// another key, or one of another log, is not used: the log is read from the start.
#[tokio::test]
async fn a_saved_register_and_the_entries_after_it_give_the_register_of_a_full_read() {
    let log = mixed_log();
    let (ledger, writer) = open(&log);
    let dir = tempfile::tempdir().expect("a temporary directory");
    let ours = saving(dir.path(), 1);
    let key = ours.key.clone();
    let start = |register: &Shared, cancel: &CancellationToken| {
        tokio::spawn(follow(
            ledger.clone(),
            register.clone(),
            ledger.accepted(),
            Some(ours.clone()),
            cancel.clone(),
        ))
    };
    submit(&ledger, &log.parts[0]).await;
    submit(&ledger, &log.parts[1]).await;
    let saved_at = ledger.durable_size();
    let first = empty(&ledger);
    let cancel = CancellationToken::new();
    let task = start(&first, &cancel);
    until_read(&first, saved_at).await;
    cancel.cancel();
    task.await.expect("the follower ends");
    let bytes = persist::read(dir.path())
        .expect("read")
        .expect("saved at its stop");
    let loaded = restore(&ledger, &bytes, &key).expect("it describes this log");
    assert_eq!(loaded.read_to, saved_at);
    assert_eq!(loaded, *first.read().expect("lock"));
    assert!(
        matches!(
            compare_saved(&ledger, &ours).expect("compared"),
            Compared::Same { log_size } if log_size == saved_at
        ),
        "the saved register is the log's"
    );

    // k more entries; a saved state that claims 1,000 more grants than the log holds.
    submit(&ledger, &log.parts[2]).await;
    let mut marked = restore(&ledger, &bytes, &key).expect("it describes this log");
    if let Some(c) = marked.collectors.get_mut(&log.collector) {
        c.grants += 1_000;
    }
    let root = ledger.tree().root_at(saved_at).expect("a root");
    persist::write(
        dir.path(),
        &persist::encode(&persist::saved(&marked, root), &key).expect("encodes"),
    )
    .expect("written");
    match compare_saved(&ledger, &ours).expect("compared") {
        Compared::Differs {
            log_size,
            what,
            deleted,
        } => {
            assert_eq!(log_size, saved_at);
            assert!(what.contains("1 collector"), "{what}");
            deleted.expect("deleted");
        }
        other => panic!("a register that says more than the log: {other:?}"),
    }
    assert_eq!(persist::read(dir.path()).expect("read"), None, "deleted");
    assert!(matches!(
        compare_saved(&ledger, &ours).expect("compared"),
        Compared::Absent
    ));
    persist::write(
        dir.path(),
        &persist::encode(&persist::saved(&marked, root), &key).expect("encodes"),
    )
    .expect("written again");
    let second = empty(&ledger);
    let cancel = CancellationToken::new();
    let task = start(&second, &cancel);
    until_read(&second, ledger.durable_size()).await;
    let full = rebuilt(&ledger);
    {
        let (second, full) = (second.read().expect("lock"), full.read().expect("lock"));
        assert_eq!(
            second.collectors[&log.collector].grants,
            full.collectors[&log.collector].grants + 1_000,
            "loaded, then only the entries after it read"
        );
    }
    cancel.cancel();
    task.await.expect("the follower ends");

    // The honest state saved at that stop, plus nothing: the full read's register.
    persist::write(
        dir.path(),
        &persist::encode(&persist::saved(&loaded, root), &key).expect("encodes"),
    )
    .expect("written");
    let third = empty(&ledger);
    let cancel = CancellationToken::new();
    let task = start(&third, &cancel);
    until_read(&third, ledger.durable_size()).await;
    same(&third, &full);
    cancel.cancel();
    task.await.expect("the follower ends");

    // Damaged (one byte flipped), written with another node's key, or of another log: the
    // whole log is read.
    let mut damaged = persist::encode(&persist::saved(&marked, root), &key).expect("encodes");
    if let Some(last) = damaged.last_mut() {
        *last ^= 0x55;
    }
    let other_key = persist::encode(&persist::saved(&marked, root), &saving(dir.path(), 2).key)
        .expect("encodes");
    assert!(
        restore(&ledger, &other_key, &key)
            .expect_err("another key")
            .contains("checksum")
    );
    let other_log = persist::encode(&persist::saved(&marked, [0; 32]), &key).expect("encodes");
    assert!(
        restore(&ledger, &other_log, &key)
            .expect_err("another log")
            .contains("another log")
    );
    for bytes in [damaged, other_key, other_log] {
        persist::write(dir.path(), &bytes).expect("written");
        let register = empty(&ledger);
        let cancel = CancellationToken::new();
        let task = start(&register, &cancel);
        until_read(&register, ledger.durable_size()).await;
        same(&register, &full);
        cancel.cancel();
        task.await.expect("the follower ends");
    }
    close(ledger, writer).await;
}

/// An entry the register cannot take in (here a revocation of a grant the store does not hold,
/// as a damaged store would give) is skipped and counted, and a register that skipped one is
/// never saved: the next start reads it again, so a store repaired meanwhile corrects the
/// figures instead of a saved undercount keeping them wrong.
#[tokio::test]
async fn a_register_that_skipped_an_entry_is_not_saved() {
    let log = mixed_log();
    let (ledger, writer) = open(&log);
    submit(&ledger, &log.parts[0]).await;
    let size = ledger.durable_size();
    let dir = tempfile::tempdir().expect("a temporary directory");
    let (tx, rx) = broadcast::channel(16);
    let register = empty(&ledger);
    let cancel = CancellationToken::new();
    let task = tokio::spawn(follow(
        ledger.clone(),
        register.clone(),
        rx,
        Some(saving(dir.path(), 1)),
        cancel.clone(),
    ));
    until_read(&register, size).await;
    let (mut citizen, _) = fixtures::author(Role::Citizen, "revoking", T0);
    let revoke = fixtures::append(
        &mut citizen,
        T0 + DAY,
        fixtures::revoke(EntryId([7; 32]), false),
    );
    tx.send(Arc::new(Accepted {
        index: Some(size),
        entry: revoke.clone(),
        encoded: revoke.encode(),
    }))
    .expect("the follower listens");
    until_read(&register, size + 1).await;
    assert_eq!(register.read().expect("lock").skipped, 1);
    cancel.cancel();
    task.await.expect("the follower ends");
    assert_eq!(
        persist::read(dir.path()).expect("read"),
        None,
        "not saved at the stop"
    );
    close(ledger, writer).await;
}
