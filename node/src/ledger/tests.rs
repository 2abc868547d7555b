//! Write-path tests on the memory engine: pending time-outs, group commits, replay equivalence.

use std::collections::HashSet;
use std::sync::Arc;

use consent_proto::fixtures::{self, DAY, T0};
use consent_proto::memory::MemoryLedger;
use consent_proto::scope::Context;
use consent_proto::validate::Verdict;
use consent_proto::vocab::{DataCategory as C, Purpose as P, RequestKind, Role};

use super::{Ledger, LedgerConfig, Outcome, Source};
use crate::clock::Clock;
use crate::store::KvStore;
use crate::store::memory::MemoryStore;

fn open(config: LedgerConfig) -> (Ledger, super::WriterThread, fixtures::Scene) {
    let scene = fixtures::scene(T0);
    let registrars: HashSet<_> = [scene.registrar.feed()].into_iter().collect();
    let (ledger, writer) =
        Ledger::open(Arc::new(MemoryStore::new()), registrars, "test", config).expect("open");
    (ledger, writer, scene)
}

#[tokio::test]
async fn pending_entries_time_out() {
    const TTL: u64 = 60_000;
    let clock = Clock::manual(T0 + DAY);
    let (ledger, writer, _) = open(LedgerConfig {
        pending_ttl_ms: TTL,
        clock: clock.clone(),
        ..LedgerConfig::default()
    });
    let (mut c, _) = fixtures::author(Role::Citizen, "orphan", T0);
    let e = fixtures::append(
        &mut c,
        T0,
        fixtures::request(consent_proto::FeedId([1; 32]), RequestKind::Access),
    );
    let out = ledger.submit(vec![e]).await.expect("submit");
    assert!(matches!(out[0], Outcome::Pending { .. }));
    assert_eq!(ledger.stats().pending, 1);
    // Kept for its whole time-out...
    clock.advance(TTL);
    ledger.tick().await;
    // The tick is processed in order: an empty submission after it sees its effect.
    ledger.submit(vec![]).await.expect("barrier");
    assert_eq!(ledger.stats().pending, 1, "kept for its whole time-out");
    // ...and dropped once it is over.
    clock.advance(1);
    ledger.tick().await;
    ledger.submit(vec![]).await.expect("barrier");
    assert_eq!(ledger.stats().pending, 0);
    ledger.shutdown().await;
    drop(ledger);
    writer.join();
}

#[tokio::test]
async fn the_store_agrees_with_the_reference_ledger() {
    // The same random-ish history through the node's write path and through the pure reference
    // ledger gives the same verdicts and the same decisions.
    let (ledger, writer, mut scene) = open(LedgerConfig::default());
    let mut reference = MemoryLedger::new([scene.registrar.feed()]);
    let now = ledger.now_ms();
    let mut entries = scene.entries.clone();
    let mut citizens = Vec::new();
    for i in 0..40 {
        let (mut c, c0) = fixtures::author(Role::Citizen, &format!("c{i}"), T0);
        entries.push(c0);
        let purposes: &[P] = if i % 2 == 0 {
            &[P::ServiceProvision]
        } else {
            &[P::Research, P::ThirdPartySharing]
        };
        let g = fixtures::append(
            &mut c,
            T0 + DAY,
            fixtures::grant(
                scene.collector.feed(),
                scene.policy,
                purposes,
                &[C::Location],
                T0,
                None,
            ),
        );
        entries.push(g.clone());
        if i % 3 == 0 {
            entries.push(fixtures::append(
                &mut c,
                T0 + 2 * DAY,
                fixtures::revoke(g.id, i % 2 == 0),
            ));
        }
        if i % 5 == 0 {
            entries.push(fixtures::append(
                &mut c,
                T0 + 3 * DAY,
                fixtures::request(scene.collector.feed(), RequestKind::OptOutSale),
            ));
        }
        citizens.push(c.feed());
    }
    let collector = scene.collector.feed();
    entries.push(fixtures::append(
        &mut scene.registrar,
        T0 + DAY,
        fixtures::suspend(collector),
    ));
    entries.push(fixtures::append(
        &mut scene.registrar,
        T0 + 2 * DAY,
        fixtures::accredit(collector, T0 + 100 * DAY),
    ));
    // Submit in uneven groups, some out of order (reversed pairs) to exercise pending, and
    // compare every decision after each group: checks' caches must follow every commit.
    let mut queries = Vec::new();
    for subject in &citizens {
        for purpose in [P::ServiceProvision, P::Research, P::ThirdPartySharing] {
            for at in [T0, T0 + 50 * DAY, T0 + 150 * DAY] {
                queries.push(consent_proto::decide::Query {
                    subject: *subject,
                    collector,
                    purpose,
                    category: C::Location,
                    at_ms: at,
                    context: consent_proto::scope::Context::NONE,
                });
            }
        }
    }
    for chunk in entries.chunks(7) {
        let mut reversed = chunk.to_vec();
        reversed.reverse();
        ledger.submit(reversed).await.expect("submit");
        for e in chunk {
            let v = reference.submit(e, now);
            assert!(
                matches!(v, Verdict::Accept { .. }),
                "reference refused {e:?}: {v:?}"
            );
        }
        for q in &queries {
            let (ours, _) = ledger.check(q).expect("check");
            assert_eq!(ours, reference.check(q), "{q:?}");
        }
    }
    assert_eq!(ledger.stats().log_size, entries.len() as u64);
    assert_eq!(ledger.stats().pending, 0);
    ledger.full_check().expect("full check");
    ledger.shutdown().await;
    drop(ledger);
    writer.join();
}

#[tokio::test]
async fn cached_collector_facts_follow_suspension_and_reaccreditation() {
    let (ledger, writer, mut scene) = open(LedgerConfig::default());
    let collector = scene.collector.feed();
    let q = |subject| consent_proto::decide::Query {
        subject,
        collector,
        purpose: P::ServiceProvision,
        category: C::Location,
        at_ms: Clock::system().now_ms(),
        context: consent_proto::scope::Context::NONE,
    };
    // The collector is checked before its registrar exists: not accredited, and cached so.
    ledger
        .submit(vec![scene.entries[1].clone(), scene.entries[2].clone()])
        .await
        .expect("collector");
    let (mut c, c0) = fixtures::author(Role::Citizen, "cached", T0);
    let g = fixtures::append(
        &mut c,
        T0 + DAY,
        fixtures::grant(
            collector,
            scene.policy,
            &[P::ServiceProvision],
            &[C::Location],
            T0,
            None,
        ),
    );
    ledger.submit(vec![c0, g]).await.expect("citizen");
    let reason = |ledger: &Ledger| ledger.check(&q(c.feed())).expect("check").0.reason;
    assert_eq!(
        reason(&ledger),
        consent_proto::pb::Reason::CollectorNotAccredited
    );
    ledger
        .submit(vec![scene.entries[0].clone(), scene.entries[3].clone()])
        .await
        .expect("registrar");
    assert_eq!(reason(&ledger), consent_proto::pb::Reason::Granted);
    let s = fixtures::append(&mut scene.registrar, T0 + DAY, fixtures::suspend(collector));
    ledger.submit(vec![s]).await.expect("suspend");
    assert_eq!(
        reason(&ledger),
        consent_proto::pb::Reason::CollectorNotAccredited
    );
    let a = fixtures::append(
        &mut scene.registrar,
        T0 + 2 * DAY,
        fixtures::accredit(collector, ledger.now_ms() + DAY),
    );
    ledger.submit(vec![a]).await.expect("re-accredit");
    assert_eq!(reason(&ledger), consent_proto::pb::Reason::Granted);
    ledger.shutdown().await;
    drop(ledger);
    writer.join();
}

/// A feed that rotated many times costs no more per append than one that never did: its record
/// keeps only the key in force (the history is in `R` rows), and a fork at an old seq is still
/// judged by the keys in force there.
#[tokio::test]
async fn rotations_do_not_grow_the_feed_record_and_old_keys_stay_reachable() {
    use consent_proto::entry::Author;

    let (ledger, writer, _) = open(LedgerConfig::default());
    let (mut author, inception) = fixtures::author(Role::Collector, "spinner", T0);
    let feed = author.feed();
    let first = fixtures::append(&mut author, T0 + 1, fixtures::policy(1));
    ledger
        .submit(vec![inception.clone(), first.clone()])
        .await
        .expect("submit");
    let record_len = |ledger: &Ledger| {
        ledger
            .store
            .get(&super::tables::feed_key(&feed))
            .expect("get")
            .expect("record")
            .len()
    };
    let before = record_len(&ledger);
    let mut rotations = Vec::new();
    for i in 0..200u64 {
        let next = fixtures::key(&format!("spinner/next/{i}"));
        rotations.push(author.rotate(T0 + 2 + i, next).expect("rotation"));
    }
    let outcomes = ledger.submit(rotations).await.expect("submit");
    assert!(
        outcomes
            .iter()
            .all(|o| matches!(o, Outcome::Accepted { .. }))
    );
    // Only the varints of the head seq and the key's seq widen (40 bytes per rotation before).
    assert!(
        record_len(&ledger) <= before + 4,
        "the record does not grow"
    );

    // A second entry at seq 1 signed with the inception's key (200 rotations ago) is still
    // recognised as the author's: an equivocation, not a bad signature.
    let fork = Author::resume(
        Role::Collector,
        fixtures::key("spinner/0"),
        fixtures::key("spinner/1"),
        feed,
        0,
        inception.id,
    )
    .sign_next(T0 + 1, &fixtures::policy(7))
    .expect("valid");
    let out = ledger.submit(vec![fork]).await.expect("submit");
    assert!(
        matches!(out[0], Outcome::Equivocation { seq: 1, .. }),
        "{out:?}"
    );
    ledger.shutdown().await;
    drop(ledger);
    writer.join();
}

/// Anti-entropy pages through the heads under a prefix, however many feeds share it.
#[tokio::test]
async fn heads_under_a_prefix_come_in_pages_that_cover_every_feed() {
    let (ledger, writer, _) = open(LedgerConfig::default());
    let mut entries = Vec::new();
    for i in 0..40 {
        let (_, e) = fixtures::author(Role::Citizen, &format!("h{i}"), T0);
        entries.push(e);
    }
    ledger.submit(entries.clone()).await.expect("submit");
    let mut all: Vec<[u8; 32]> = entries.iter().map(|e| e.feed.0).collect();
    all.sort();
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = ledger
            .heads_with_prefix(&[], after.as_ref(), 7)
            .expect("page");
        seen.extend(page.iter().map(|(f, ..)| *f));
        match page.last() {
            Some((last, ..)) if page.len() == 7 => after = Some(*last),
            _ => break,
        }
    }
    assert_eq!(seen, all);
    // Under a one-byte prefix, after a feed outside it.
    let prefix = [all[0][0]];
    let under: Vec<_> = all.iter().filter(|f| f[0] == prefix[0]).copied().collect();
    let page = ledger
        .heads_with_prefix(&prefix, Some(&[0u8; 32]), 100)
        .expect("page");
    assert_eq!(page.iter().map(|(f, ..)| *f).collect::<Vec<_>>(), under);
    let page = ledger
        .heads_with_prefix(&prefix, Some(&[0xff; 32]), 100)
        .expect("page");
    assert!(page.is_empty());
    ledger.shutdown().await;
    drop(ledger);
    writer.join();
}

#[tokio::test]
async fn thousands_of_grants_to_one_collector_bound_the_work_of_every_check() {
    // Finding 4 of the security review: a citizen (or anyone with a free collector) signs
    // thousands of grants to one collector, then CheckBatch hammers that pair. Every check took
    // the view lock, which the writer then waits for, and checks queue behind a waiting writer.
    // The work one view does is now bounded, whatever the pair holds, and so is every wait.
    use consent_proto::decide::{GRANTS_CONSIDERED, Query};
    use consent_proto::pb::{Decision, Reason};
    use std::sync::atomic::Ordering;

    let (ledger, writer, scene) = open(LedgerConfig::default());
    let collector = scene.collector.feed();
    let now = ledger.now_ms();
    let mut reference = MemoryLedger::new([scene.registrar.feed()]);
    let mut entries = scene.entries.clone();
    // The heavy citizen: one grant for service provision, then 5,000 for research only.
    let (mut heavy, h0) = fixtures::author(Role::Citizen, "heavy", T0);
    entries.push(h0);
    let grant = |purpose| {
        fixtures::grant(
            collector,
            scene.policy,
            &[purpose],
            &[C::Location],
            T0,
            None,
        )
    };
    entries.push(fixtures::append(
        &mut heavy,
        T0 + DAY,
        grant(P::ServiceProvision),
    ));
    for _ in 0..5_000 {
        entries.push(fixtures::append(&mut heavy, T0 + DAY, grant(P::Research)));
    }
    let newest = entries.last().expect("grants").id;
    // Another citizen, with one grant.
    let (light, l0, light_grant) = fixtures::citizen_granting(&scene, "light", P::ServiceProvision);
    entries.push(l0);
    entries.push(light_grant.clone());
    for chunk in entries.chunks(1_000) {
        let out = ledger.submit(chunk.to_vec()).await.expect("submit");
        assert!(
            out.iter().all(|o| matches!(o, Outcome::Accepted { .. })),
            "every entry accepted"
        );
    }
    for e in &entries {
        let v = reference.submit(e, now);
        assert!(matches!(v, Verdict::Accept { .. }), "reference: {v:?}");
    }

    let q = |subject, purpose| Query {
        subject,
        collector,
        purpose,
        category: C::Location,
        at_ms: now,
        context: consent_proto::scope::Context::NONE,
    };
    let work = |ledger: &Ledger| ledger.counters().view_work_max.load(Ordering::Relaxed);
    // Read from the store, then examined by the rule: GRANTS_CONSIDERED each at most.
    let bound = 2 * GRANTS_CONSIDERED as u64;

    // The heavy pair answers by the documented rule: only its newest GRANTS_CONSIDERED grants
    // count, so the first one (service provision) is out of reach, and the newest allows
    // research. The reference ledger, handed all 5,001 grants, applies the same rule.
    let research = ledger
        .check(&q(heavy.feed(), P::Research))
        .expect("check")
        .0;
    assert_eq!(
        (research.decision, research.reason, research.grant),
        (Decision::Allow, Reason::Granted, Some(newest))
    );
    assert_eq!(research, reference.check(&q(heavy.feed(), P::Research)));
    let service = ledger
        .check(&q(heavy.feed(), P::ServiceProvision))
        .expect("check")
        .0;
    assert_eq!(
        (service.decision, service.reason, service.grant),
        (Decision::Deny, Reason::PurposeNotCovered, Some(newest))
    );
    assert_eq!(
        service,
        reference.check(&q(heavy.feed(), P::ServiceProvision))
    );
    assert!(
        work(&ledger) <= bound,
        "a check of the heavy pair did {} grant facts of work under one view",
        work(&ledger)
    );

    // A whole batch over the heavy pair, as CheckBatch runs it: each check from a view of its
    // own, so no view (which the writer, and every check behind it, waits for) holds more than
    // one check's work. One view for the batch was 1,000 checks' work: over a million facts.
    let batch: Vec<Query> = (0..1_000).map(|_| q(heavy.feed(), P::Research)).collect();
    let outcomes = ledger.check_each(&batch).expect("batch");
    assert!(outcomes.iter().all(|(o, _)| *o == research));
    assert!(
        work(&ledger) <= bound,
        "one view did {} grant facts of work during the batch",
        work(&ledger)
    );
    // The cached answer (what a unary Check answers inline) is the same.
    assert_eq!(
        ledger
            .check_cached(&q(heavy.feed(), P::Research))
            .map(|(o, _)| o),
        Some(research)
    );
    assert_eq!(
        ledger.check_cached(&q(consent_proto::FeedId([9; 32]), P::Research)),
        None,
        "an uncached subject goes to a blocking thread"
    );

    // Another grant lands (the heavy subject's cached facts go stale): re-reading the pair is
    // bounded the same way. The other citizen's checks are unaffected.
    let more = fixtures::append(&mut heavy, T0 + DAY, grant(P::Research));
    ledger.submit(vec![more.clone()]).await.expect("one more");
    let again = ledger
        .check(&q(heavy.feed(), P::Research))
        .expect("check")
        .0;
    assert_eq!(again.grant, Some(more.id));
    let other = ledger
        .check(&q(light.feed(), P::ServiceProvision))
        .expect("check")
        .0;
    assert_eq!(
        (other.decision, other.grant),
        (Decision::Allow, Some(light_grant.id))
    );
    assert!(work(&ledger) <= bound, "{} > {bound}", work(&ledger));

    ledger.shutdown().await;
    drop(ledger);
    writer.join();
}

/// Nodes that froze a feed agree on its digest whichever branch each holds; before freezing, the
/// head counts.
#[test]
fn a_frozen_feed_digests_the_same_whatever_branch_is_held() {
    use super::head_digest;
    let feed = [7u8; 32];
    assert_eq!(
        head_digest(&feed, 3, &[1; 32], true),
        head_digest(&feed, 5, &[2; 32], true)
    );
    assert_ne!(
        head_digest(&feed, 3, &[1; 32], false),
        head_digest(&feed, 3, &[2; 32], false)
    );
    assert_ne!(
        head_digest(&feed, 3, &[1; 32], false),
        head_digest(&feed, 3, &[1; 32], true)
    );
}

/// The log module's rows go through the writer, are durable when the call returns, are there
/// after the store is opened again, and keep their keys on disk (`Mcheckpoint`, `Mwitness/`,
/// `Mfork/`), so stores written before keep working.
#[tokio::test]
async fn log_rows_saved_through_the_writer_are_there_after_reopening() {
    let store: Arc<dyn KvStore> = Arc::new(MemoryStore::new());
    let open = || {
        Ledger::open(
            Arc::clone(&store),
            HashSet::new(),
            "test",
            LedgerConfig::default(),
        )
        .expect("open")
    };
    let (ledger, writer) = open();
    assert_eq!(ledger.load_checkpoint().expect("load"), None);
    ledger.save_checkpoint("one".into()).await.expect("save");
    ledger.save_checkpoint("two".into()).await.expect("save");
    ledger
        .save_witnessed("node-a", "a", None)
        .await
        .expect("save");
    ledger
        .save_witnessed("node-b", "b", Some("node-a"))
        .await
        .expect("save");
    ledger.save_fork("node-c", "c", None).await.expect("save");
    ledger
        .save_fork("node-d", "d", Some("node-c"))
        .await
        .expect("save");
    ledger.shutdown().await;
    drop(ledger);
    writer.join();

    let (ledger, writer) = open();
    assert_eq!(
        ledger.load_checkpoint().expect("load"),
        Some(b"two".to_vec())
    );
    assert_eq!(ledger.load_witnessed().expect("load"), vec![b"b".to_vec()]);
    assert_eq!(ledger.load_forks().expect("load"), vec![b"d".to_vec()]);
    // The same keys as before they were declared in `tables`.
    assert_eq!(
        store.get(b"Mcheckpoint").expect("get"),
        Some(b"two".to_vec())
    );
    assert_eq!(
        store.get(b"Mwitness/node-b").expect("get"),
        Some(b"b".to_vec())
    );
    assert_eq!(
        store.get(b"Mfork/node-d").expect("get"),
        Some(b"d".to_vec())
    );
    // Not entries: the arrival log is untouched.
    assert_eq!(ledger.stats().log_size, 0);
    ledger.shutdown().await;
    drop(ledger);
    writer.join();
}

/// An entry of a feed nobody incepted (`n` picks the feed), signed by a throwaway key: the node
/// cannot tie it to any key, so it is parked unverifiable.
mod pending_space;
mod scoped;
