//! Answer times: the bucketing and the vouched-for times (pure), then histories written through
//! the writer at chosen arrival times: backdated entries move figures by at most the tolerance,
//! the figures read equal a brute-force computation over the same entries, and a layout-3 store
//! is migrated to figures equal to its records'.

use super::*;

#[test]
fn buckets_are_contiguous_and_their_ends_bound_what_they_hold() {
    let mut last = 0;
    for s in 0..100_000u64 {
        let i = bucket(s * 1000);
        assert!(i == last || i == last + 1, "{s} s: bucket {i} after {last}");
        last = i;
        let upper = bucket_upper_ms(i);
        assert!(upper > s * 1000, "{s} s in bucket {i} ending at {upper}");
        // At most one second above below 16 s, then at most 12.5 % (plus the second).
        assert!(upper <= (s * 1000) + 1000 + s * 1000 / 8, "{s} s: {upper}");
        assert_eq!(bucket(upper - 1), i);
        assert_eq!(bucket(upper), i + 1);
    }
    assert_eq!(reported_ms(0), 1000);
    assert_eq!(reported_ms(999), 1000);
    assert_eq!(reported_ms(15_999), 16_000);
    assert_eq!(reported_ms(16_000), 18_000);
    assert!(bucket(u64::MAX) < 512);
    assert_eq!(bucket_upper_ms(bucket(u64::MAX)), u64::MAX);
}

#[test]
fn backdating_moves_a_time_by_at_most_the_tolerance() {
    let now = 1_800_000_000_000;
    let twenty_twenty = 1_577_836_800_000;
    assert_eq!(asked_ms(twenty_twenty, now), now - TOLERANCE_MS);
    assert_eq!(
        asked_ms(now - 1000, now),
        now - 1000,
        "an honest time stands"
    );
    let asked = asked_ms(now, now);
    // An ack a month later, dated at the request.
    let later = now + DEADLINE_MS;
    assert_eq!(answered_ms(now, later, asked), later - TOLERANCE_MS);
    // An ack dated before its request is never earlier than it.
    assert_eq!(answered_ms(twenty_twenty, now, asked), asked);
}

#[test]
fn quantiles_are_the_ranked_answers_bucketed() {
    let mut s = AnswerSummary::default();
    assert_eq!(s.quantile_ms(1, 2), None);
    for took in [5_000, 1_000, 3_600_000, 40 * DAY_MS] {
        s.ask();
        s.answer(took);
    }
    s.ask();
    let mut sorted = [5_000u64, 1_000, 3_600_000, 40 * DAY_MS];
    sorted.sort_unstable();
    assert_eq!(s.quantile_ms(1, 2), Some(reported_ms(sorted[2])));
    assert_eq!(s.quantile_ms(95, 100), Some(reported_ms(sorted[3])));
    assert_eq!((s.requests, s.answered, s.late), (5, 4, 1));
}

mod histories {
    use std::collections::{BTreeMap, HashSet};
    use std::sync::Arc;

    use consent_proto::Entry;
    use consent_proto::body::{Ack, AckAnswer, Body};
    use consent_proto::entry::Author;
    use consent_proto::fixtures::{self, DAY, T0};
    use consent_proto::ids::EntryId;
    use consent_proto::limits::MIN_TIME_MS;
    use consent_proto::vocab::{DataCategory as C, Purpose as P, RequestKind, Role};

    use super::super::{AnswerStats, DEADLINE_MS, TOLERANCE_MS, read, reported_ms};
    use crate::ledger::tables::{self, AnswerRecord, meta, prefix};
    use crate::ledger::tree::{Frontier, LogTree};
    use crate::ledger::writer::{Item, Outcome, Writer, expected_answers};
    use crate::ledger::{LedgerConfig, Stats, fsck};
    use crate::store::KvStore;
    use crate::store::memory::MemoryStore;
    use consent_proto::ids::FeedId;

    /// When the histories' entries start reaching the node (its clock): well after T0.
    const NOW: u64 = T0 + 10 * DAY;

    /// A writer on an empty memory store, prepared as `Ledger::open` prepares it.
    fn writer(registrars: HashSet<FeedId>) -> (Arc<dyn KvStore>, Writer) {
        let store: Arc<dyn KvStore> = Arc::new(MemoryStore::new());
        fsck::prepare(&*store, "test").expect("prepare");
        let writer = Writer::open(
            Arc::clone(&store),
            Arc::new(Stats::default()),
            Arc::new(registrars),
            Arc::new(LogTree::new(Frontier::default(), Arc::clone(&store))),
            LedgerConfig::default(),
        )
        .expect("writer");
        (store, writer)
    }

    /// Writes `entries` as reaching the node at `at`; each must be accepted.
    fn arrive(writer: &mut Writer, entries: &[Entry], at: u64) {
        let items = entries
            .iter()
            .cloned()
            .map(|entry| Item {
                entry,
                verified_under: None,
                source: crate::ledger::Source::Local,
                admit: false,
            })
            .collect();
        for outcome in writer.replay_at(items, at).expect("commit") {
            assert!(matches!(outcome, Outcome::Accepted { .. }), "{outcome:?}");
        }
    }

    fn ack(collector: &mut Author, signed: u64, request: EntryId) -> Entry {
        fixtures::append(
            collector,
            signed,
            Body::Ack(Ack {
                request,
                answer: AckAnswer::Done,
            }),
        )
    }

    /// A request (or an erasure-asking withdrawal) as the brute force sees it: signed and
    /// arrival times, and its first acknowledgement's.
    struct Asked {
        collector: FeedId,
        signed: u64,
        arrived: u64,
        answer: Option<(u64, u64)>,
    }

    /// The figures, computed from scratch from every request, as the docs define them.
    fn brute(asked: &[Asked], collector: &FeedId, now: u64) -> AnswerStats {
        let mut s = AnswerStats::default();
        let mut times = Vec::new();
        for a in asked.iter().filter(|a| a.collector == *collector) {
            let at = a.signed.max(a.arrived.saturating_sub(TOLERANCE_MS));
            s.requests += 1;
            match a.answer {
                Some((signed, arrived)) => {
                    let done = signed.max(arrived.saturating_sub(TOLERANCE_MS)).max(at);
                    s.late += u64::from(done - at > DEADLINE_MS);
                    times.push(done - at);
                }
                None => {
                    s.unanswered += 1;
                    s.overdue += u64::from(now.saturating_sub(at) > DEADLINE_MS);
                    s.oldest_unanswered_ms =
                        Some(s.oldest_unanswered_ms.map_or(at, |o: u64| o.min(at)));
                }
            }
        }
        times.sort_unstable();
        let n = times.len();
        s.answered = n as u64;
        if n > 0 {
            s.median_ms = Some(reported_ms(times[(n / 2).min(n - 1)]));
            s.p95_ms = Some(reported_ms(times[(n * 95 / 100).min(n - 1)]));
        }
        s
    }

    /// Every `N`, `U` and `V` pair stored.
    fn aggregates(store: &dyn KvStore) -> BTreeMap<Vec<u8>, Vec<u8>> {
        [
            prefix::ANSWER_SUMMARY,
            prefix::UNANSWERED,
            prefix::UNANSWERED_DAYS,
        ]
        .iter()
        .flat_map(|t| store.scan_prefix(&[*t]))
        .collect::<Result<_, _>>()
        .expect("scan")
    }

    #[test]
    fn backdated_requests_and_acks_move_figures_by_at_most_the_tolerance() {
        let w = TOLERANCE_MS;
        let mut scene = fixtures::scene(T0);
        let collector = scene.collector.feed();
        let (store, mut writer) = writer([scene.registrar.feed()].into_iter().collect());
        arrive(&mut writer, &scene.entries, T0);
        // A request signed in 2020 (the earliest time the protocol accepts), reaching the node
        // now; and one signed a day after T0, reaching it now too.
        let (mut old, old0) = fixtures::author(Role::Citizen, "old", MIN_TIME_MS);
        let backdated = fixtures::append(
            &mut old,
            MIN_TIME_MS,
            fixtures::request(collector, RequestKind::Erasure),
        );
        let (mut bob, bob0) = fixtures::author(Role::Citizen, "bob", T0);
        let asked = fixtures::append(
            &mut bob,
            T0 + DAY,
            fixtures::request(collector, RequestKind::Access),
        );
        arrive(&mut writer, &[old0, backdated, bob0, asked.clone()], NOW);

        let figures = read(&*store, &collector, NOW).expect("read");
        assert_eq!((figures.requests, figures.unanswered), (2, 2));
        assert_eq!(figures.oldest_unanswered_ms, Some(NOW - w), "not 2020");
        assert_eq!(
            figures.overdue, 0,
            "known to this node for W only, not since 2020"
        );
        // Overdue once the deadline has passed since they reached the node, less W.
        let due = NOW - w + DEADLINE_MS;
        assert_eq!(read(&*store, &collector, due).expect("read").overdue, 0);
        assert_eq!(read(&*store, &collector, due + 1).expect("read").overdue, 2);

        // The collector answers 40 days after the request reached the node, with an ack dated
        // at the request.
        let late = NOW + 40 * DAY;
        arrive(
            &mut writer,
            &[ack(&mut scene.collector, T0 + DAY, asked.id)],
            late,
        );
        let figures = read(&*store, &collector, late).expect("read");
        assert_eq!(figures.answered, 1);
        assert_eq!(
            figures.median_ms,
            Some(reported_ms(40 * DAY)),
            "40 days, not 0 ms"
        );
        assert_eq!(figures.late, 1);
        assert_eq!(
            aggregates(&*store),
            expected_answers(&*store).expect("expected").aggregates
        );
    }

    #[test]
    fn figures_equal_a_brute_force_computation_over_the_same_entries() {
        let mut scene = fixtures::scene(T0);
        let collector = scene.collector.feed();
        let (mut kiosk, kiosk0) = fixtures::author(Role::Collector, "kiosk", T0);
        let (store, mut writer) = writer([scene.registrar.feed()].into_iter().collect());
        arrive(&mut writer, &scene.entries, T0);
        arrive(&mut writer, &[kiosk0], T0);

        let mut rng = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng
        };
        // What reaches the node when: a citizen's entries, or a collector's answer to request
        // `i` (signed at the request's time, or honestly).
        enum Event {
            Citizen(Vec<Entry>),
            Answer(usize, bool),
        }
        let mut asked: Vec<Asked> = Vec::new();
        let mut ids: Vec<EntryId> = Vec::new();
        let mut events: Vec<(u64, Event)> = Vec::new();
        for i in 0..120 {
            let arrived = NOW + next() % (60 * DAY);
            let signed = match next() % 3 {
                0 => arrived - next() % TOLERANCE_MS,
                1 => MIN_TIME_MS + next() % (400 * DAY),
                _ => arrived + next() % (4 * 60_000),
            };
            let (mut citizen, c0) = fixtures::author(Role::Citizen, &format!("c{i}"), MIN_TIME_MS);
            let to = if i % 3 == 0 { kiosk.feed() } else { collector };
            let entries = if i % 4 == 0 && to == collector {
                let grant = fixtures::append(
                    &mut citizen,
                    signed,
                    fixtures::grant(
                        collector,
                        scene.policy,
                        &[P::ServiceProvision],
                        &[C::Location],
                        MIN_TIME_MS,
                        None,
                    ),
                );
                let revoke =
                    fixtures::append(&mut citizen, signed, fixtures::revoke(grant.id, true));
                vec![c0, grant, revoke]
            } else {
                let kind = RequestKind::ALL[i % RequestKind::ALL.len()];
                vec![
                    c0,
                    fixtures::append(&mut citizen, signed, fixtures::request(to, kind)),
                ]
            };
            let id = entries.last().map(|e| e.id).expect("an entry");
            ids.push(id);
            asked.push(Asked {
                collector: to,
                signed,
                arrived,
                answer: None,
            });
            events.push((arrived, Event::Citizen(entries)));
            if next() % 4 != 0 {
                let answered = arrived + next() % (50 * DAY);
                events.push((answered, Event::Answer(i, next() % 2 == 0)));
                if next() % 8 == 0 {
                    // A second acknowledgement, which does not count.
                    events.push((answered + next() % DAY, Event::Answer(i, false)));
                }
            }
        }
        events.sort_by_key(|(at, _)| *at);
        // Collectors sign in time order: a backdated ack is no earlier than their last entry.
        let mut last_signed = [T0, T0];
        for (at, event) in events {
            match event {
                Event::Citizen(entries) => arrive(&mut writer, &entries, at),
                Event::Answer(i, backdated) => {
                    let (author, last) = if asked[i].collector == collector {
                        (&mut scene.collector, &mut last_signed[0])
                    } else {
                        (&mut kiosk, &mut last_signed[1])
                    };
                    let wanted = if backdated {
                        asked[i].signed
                    } else {
                        at - next() % TOLERANCE_MS
                    };
                    let signed = wanted.max(*last);
                    *last = signed;
                    arrive(&mut writer, &[ack(author, signed, ids[i])], at);
                    if asked[i].answer.is_none() {
                        asked[i].answer = Some((signed, at));
                    }
                }
            }
        }
        for now in [
            NOW,
            NOW + 20 * DAY,
            NOW + 45 * DAY,
            NOW + 75 * DAY,
            NOW + 400 * DAY,
        ] {
            for c in [collector, kiosk.feed()] {
                assert_eq!(
                    read(&*store, &c, now).expect("read"),
                    brute(&asked, &c, now),
                    "at {now}"
                );
            }
        }
        let expected = expected_answers(&*store).expect("expected");
        assert!(expected.fixes.is_empty());
        assert_eq!(aggregates(&*store), expected.aggregates);
    }

    #[test]
    fn a_layout_3_store_is_migrated_to_figures_its_records_give() {
        let mut scene = fixtures::scene(T0);
        let collector = scene.collector.feed();
        let (store, mut writer) = writer([scene.registrar.feed()].into_iter().collect());
        arrive(&mut writer, &scene.entries, T0);
        let mut requests = Vec::new();
        for i in 0..3 {
            let (mut c, c0) = fixtures::author(Role::Citizen, &format!("c{i}"), T0);
            let r = fixtures::append(
                &mut c,
                T0 + DAY,
                fixtures::request(collector, RequestKind::Access),
            );
            requests.push(r.id);
            arrive(&mut writer, &[c0, r], T0 + DAY + i * 60_000);
        }
        for (i, r) in requests.iter().take(2).enumerate() {
            let at = T0 + 2 * DAY + i as u64 * 3_600_000;
            arrive(&mut writer, &[ack(&mut scene.collector, at, *r)], at);
        }
        drop(writer);
        // Layout 3 had the K records (timed by signed times) but none of the figures; a record
        // from then may be answered before it was asked.
        let mut writes: Vec<crate::store::Write> =
            aggregates(&*store).into_keys().map(|k| (k, None)).collect();
        let legacy = tables::answer_key(&collector, &EntryId([7; 32]));
        let record = AnswerRecord {
            asked_ms: T0 + 5 * DAY,
            answered_ms: Some(T0 + 4 * DAY),
        };
        writes.push((
            legacy.clone(),
            Some(tables::encode(&record).expect("encode")),
        ));
        writes.push((meta::SCHEMA.to_vec(), Some(3u32.to_be_bytes().to_vec())));
        store.apply(writes).expect("apply");
        crate::ledger::migrate::feeds_back_to_3(&*store).expect("feeds back to layout 3");
        assert!(aggregates(&*store).is_empty());

        fsck::prepare(&*store, "test").expect("migrated");
        assert_eq!(
            store.get(meta::SCHEMA).expect("get"),
            Some(tables::SCHEMA_VERSION.to_be_bytes().to_vec())
        );
        let fixed: AnswerRecord =
            tables::decode(&store.get(&legacy).expect("get").expect("kept"), "answer")
                .expect("decode");
        assert_eq!(
            fixed.answered_ms,
            Some(T0 + 5 * DAY),
            "raised to when it was asked"
        );
        let records: Vec<Asked> = store
            .scan_prefix(&tables::answer_key(&collector, &EntryId([0; 32]))[..33])
            .map(|pair| {
                let (_, v) = pair.expect("scan");
                let r: AnswerRecord = tables::decode(&v, "answer").expect("decode");
                Asked {
                    collector,
                    signed: r.asked_ms,
                    arrived: r.asked_ms,
                    answer: r.answered_ms.map(|a| (a, a)),
                }
            })
            .collect();
        assert_eq!(records.len(), 4);
        for now in [T0 + 3 * DAY, T0 + 40 * DAY] {
            assert_eq!(
                read(&*store, &collector, now).expect("read"),
                brute(&records, &collector, now)
            );
        }
        assert_eq!(
            aggregates(&*store),
            expected_answers(&*store).expect("expected").aggregates
        );

        // Any other layout is refused with what to do.
        store
            .apply(vec![(
                meta::SCHEMA.to_vec(),
                Some(2u32.to_be_bytes().to_vec()),
            )])
            .expect("apply");
        let refused = fsck::prepare(&*store, "test").expect_err("layout 2");
        assert!(refused.to_string().contains("move the data"), "{refused}");
    }
}
