//! Tests of the send queue: ordering, due entries, withdrawals, held and refused entries.

use super::*;
use consent_proto::body::{Body, Request};
use consent_proto::vocab::RequestKind;

const SECRET: [u8; 32] = [7; 32];

/// A feed's inception and a request after it.
pub(super) fn feed(collector: u8) -> (Entry, Entry) {
    let c = FeedId([collector; 32]);
    let (mut author, inception) =
        crate::wallet::pairwise_inception(&SECRET, &c).expect("inception");
    let request = author
        .append(
            1_772_446_051_123,
            Body::Request(Request {
                collector: c,
                kind: RequestKind::Access,
                details_digest: None,
                on_behalf: None,
            }),
        )
        .expect("request");
    (inception, request)
}

#[test]
fn items_leave_by_due_time_and_each_feed_in_order() {
    let (a0, a1) = feed(1);
    let (b0, b1) = feed(2);
    let mut q = Queue::default();
    // Feed a's request is due before its inception (a plan never does that, a hand-edited
    // file might): the inception goes first, at the request's time.
    q.push(Queued::new(&a1, "a", "request", 100, "n"))
        .expect("push");
    q.push(Queued::new(&b0, "b", "feed inception", 50, "n"))
        .expect("push");
    q.push(Queued::new(&a0, "a", "feed inception", 500, "n"))
        .expect("push");
    q.push(Queued::new(&b1, "b", "request", 300, "n"))
        .expect("push");
    assert_eq!(q.order(), vec![1, 2, 0, 3]);
    assert_eq!(q.due(10), Vec::<usize>::new());
    assert_eq!(q.due(60), vec![1]);
    assert_eq!(
        q.due(100),
        vec![1, 2, 0],
        "a's inception goes with its request"
    );
    assert_eq!(q.due(1_000), vec![1, 2, 0, 3]);
    assert_eq!(q.last_of(&a0.feed).map(|e| e.id), Some(a1.id));
    assert_eq!(
        q.of_feed(&b0.feed)
            .iter()
            .map(|(i, _)| *i)
            .collect::<Vec<_>>(),
        vec![1, 3]
    );
    // What nodes accepted: the highest seq is kept.
    q.record_sent(&a1, "n1");
    q.record_sent(&a0, "n2");
    assert_eq!(
        q.sent_of(&a0.feed).map(|s| (s.seq, s.node.as_str())),
        Some((1, "n1"))
    );
    assert!(q.sent_of(&FeedId([0; 32])).is_none());
}

/// A feed's inception and, after it, a request and then a revocation of nothing (a
/// withdrawal: it leaves at once).
fn feed_with_withdrawal(collector: u8) -> (Entry, Entry, Entry) {
    let c = FeedId([collector; 32]);
    let (mut author, inception) =
        crate::wallet::pairwise_inception(&SECRET, &c).expect("inception");
    let request = author
        .append(
            1_772_446_051_123,
            Body::Request(Request {
                collector: c,
                kind: RequestKind::Access,
                details_digest: None,
                on_behalf: None,
            }),
        )
        .expect("request");
    let revocation = author
        .append(
            1_772_446_051_123,
            Body::Revoke(consent_proto::body::Revoke {
                grant: EntryId([3; 32]),
                erase: false,
                on_behalf: None,
            }),
        )
        .expect("revocation");
    (inception, request, revocation)
}

#[test]
fn one_run_sends_one_overdue_feed_and_every_withdrawal() {
    let (a0, a1) = feed(1);
    let (b0, b1) = feed(2);
    let (c0, c1, c2) = feed_with_withdrawal(3);
    let mut q = Queue::default();
    for (e, due) in [
        (&a0, 10),
        (&a1, 10),
        (&b0, 5),
        (&b1, 5),
        (&c0, 20),
        (&c1, 20),
    ] {
        q.push(Queued::new(e, "x", "x", due, "n")).expect("push");
    }
    q.push(Queued::new(&c2, "x", "revocation", 20, "n"))
        .expect("push");
    // Everything overdue: the most overdue feed (b), and c, whose revocation never waits.
    let run: Vec<FeedId> = q
        .due_now(100)
        .into_iter()
        .map(|i| q.items[i].decode().expect("entry").feed)
        .collect();
    assert!(run.contains(&b0.feed) && run.contains(&c0.feed), "{run:?}");
    assert!(!run.contains(&a0.feed), "a waits for the next run");
    // Feed order kept within each feed.
    let c_seqs: Vec<u64> = q
        .due_now(100)
        .into_iter()
        .filter_map(|i| q.items[i].decode().ok())
        .filter(|e| e.feed == c0.feed)
        .map(|e| e.seq)
        .collect();
    assert_eq!(c_seqs, vec![0, 1, 2]);
    // A feed whose entries conflict with a node: set aside, out of the chain, never picked;
    // the next feed is.
    let held = q.hold_from(&b0.feed, 0, "conflict");
    assert_eq!(held.len(), 2);
    assert!(q.held_in(&b0.feed).is_some() && q.of_feed(&b0.feed).is_empty());
    assert_eq!(q.held[0].held.as_deref(), Some("conflict"));
    let run: Vec<FeedId> = q
        .due_now(100)
        .into_iter()
        .map(|i| q.items[i].decode().expect("entry").feed)
        .collect();
    assert!(run.contains(&a0.feed) && !run.contains(&b0.feed), "{run:?}");
    assert_eq!(q.find(&a1.id), Some(1));
    assert_eq!(q.find(&b1.id), None);
    // Dropping a held entry drops what chains on it; the person decides.
    let gone = q.drop_held(&b0.id);
    assert_eq!(
        gone.iter().map(|(e, _)| e.seq).collect::<Vec<_>>(),
        vec![0, 1]
    );
    assert!(q.held.is_empty() && q.held_in(&b0.feed).is_none());
    // Dropping queued entries drops what chains on them.
    let gone = q.drop_from(&a0.feed, 1);
    assert_eq!(gone.len(), 1);
    assert_eq!(q.of_feed(&a0.feed).len(), 1);
}

/// Re-review N4: a feed whose node could not take its entries is put off, so the next run
/// sends another overdue feed instead of trying the stuck one again.
#[test]
fn a_feed_put_off_lets_the_next_run_send_another() {
    let (a0, a1) = feed(7);
    let (b0, b1) = feed(8);
    let mut q = Queue::default();
    for (e, due) in [(&a0, 10), (&a1, 10), (&b0, 20), (&b1, 20)] {
        q.push(Queued::new(e, "x", "x", due, "n")).expect("push");
    }
    let feeds = |q: &Queue, now| -> Vec<FeedId> {
        let mut f: Vec<FeedId> = q
            .due_now(now)
            .into_iter()
            .filter_map(|i| q.items[i].decode().ok().map(|e| e.feed))
            .collect();
        f.dedup();
        f
    };
    assert_eq!(feeds(&q, 100), vec![a0.feed], "the most overdue feed first");
    q.postpone(&a0.feed, 400);
    assert_eq!(feeds(&q, 100), vec![b0.feed], "then the other one");
    assert_eq!(
        feeds(&q, 400),
        vec![b0.feed],
        "the put-off feed once due again, after the other"
    );
    assert!(
        q.of_feed(&a0.feed)
            .iter()
            .all(|(i, _)| q.items[*i].due_ms == 400)
    );
    assert!(
        q.of_feed(&b0.feed)
            .iter()
            .all(|(i, _)| q.items[*i].due_ms == 20)
    );
}

/// Re-review N7: withdrawing a queued entry unseen never drops a withdrawal queued after it,
/// nor anything a node was handed.
#[test]
fn a_queued_entry_is_withdrawable_only_without_withdrawals_or_handed_entries_after_it() {
    let (c0, c1, c2) = feed_with_withdrawal(5);
    let mut q = Queue::default();
    for e in [&c0, &c1, &c2] {
        q.push(Queued::new(e, "x", "x", 10, "n")).expect("push");
    }
    assert!(
        !q.withdrawable(&c0.feed, 1),
        "the revocation after it would be lost"
    );
    assert!(q.withdrawable(&c0.feed, 2), "the last entry itself");
    let (a0, a1) = feed(6);
    q.push(Queued::new(&a0, "a", "feed inception", 10, "n"))
        .expect("push");
    q.push(Queued::new(&a1, "a", "request", 10, "n"))
        .expect("push");
    assert!(q.withdrawable(&a0.feed, 1));
    let at = q.find(&a1.id).expect("queued");
    q.items[at].attempted = true;
    assert!(
        !q.withdrawable(&a0.feed, 1),
        "handed to a node: revoked, never withdrawn"
    );
}

/// Issue 24: an entry a node was handed (it may hold it as pending) is found from any seq
/// before it, so that `consent queue --drop` refuses to drop it; held entries are not looked at.
#[test]
fn an_entry_handed_to_a_node_is_found_from_its_seq_and_before() {
    let (a0, a1) = feed(8);
    let mut q = Queue::default();
    q.push(Queued::new(&a0, "a", "feed inception", 10, "n1"))
        .expect("push");
    q.push(Queued::new(&a1, "a", "request", 10, "n1"))
        .expect("push");
    assert!(q.handed_from(&a0.feed, 0).is_none(), "never handed");
    let at = q.find(&a1.id).expect("queued");
    q.items[at].attempted = true;
    let handed = |q: &Queue, seq: u64| {
        q.handed_from(&a0.feed, seq)
            .map(|(e, item)| (e.id, item.node))
    };
    assert_eq!(
        handed(&q, 0),
        Some((a1.id, "n1".to_string())),
        "dropping the inception would drop the request after it"
    );
    assert_eq!(handed(&q, 1), Some((a1.id, "n1".to_string())));
    assert!(handed(&q, 2).is_none(), "nothing from seq 2 on");
    // Set aside for a conflict: out of the feed's chain, and not looked at.
    assert_eq!(q.hold_from(&a0.feed, 0, "conflict").len(), 2);
    assert!(handed(&q, 0).is_none());
}

#[test]
fn accepted_entries_are_kept_to_bring_a_lagging_node_up_and_refusals_until_acknowledged() {
    let c = FeedId([4; 32]);
    let (mut author, inception) =
        crate::wallet::pairwise_inception(&SECRET, &c).expect("inception");
    let mut q = Queue::default();
    q.record_sent(&inception, "n1");
    let mut all = vec![inception.clone()];
    for _ in 0..SENT_KEPT + 3 {
        let e = author
            .append(
                1_772_446_051_123,
                Body::Request(Request {
                    collector: c,
                    kind: RequestKind::Access,
                    details_digest: None,
                    on_behalf: None,
                }),
            )
            .expect("request");
        q.record_sent(&e, "n2");
        all.push(e);
    }
    let kept = q.sent_entries(&inception.feed);
    assert_eq!(kept.len(), SENT_KEPT);
    assert_eq!(
        kept.iter().map(|e| e.id).collect::<Vec<_>>(),
        all[all.len() - SENT_KEPT..]
            .iter()
            .map(|e| e.id)
            .collect::<Vec<_>>(),
        "the last ones, by seq"
    );
    assert_eq!(
        q.sent_of(&inception.feed).map(|s| (s.seq, s.node.as_str())),
        Some(((SENT_KEPT + 3) as u64, "n2"))
    );
    // An older one accepted again (a duplicate) changes nothing.
    q.record_sent(&all[2], "n3");
    assert_eq!(
        q.sent_of(&inception.feed).map(|s| s.seq),
        Some((SENT_KEPT + 3) as u64)
    );
    for n in 0..MAX_REFUSED + 2 {
        q.refuse(Refusal {
            entry: format!("ent{n}"),
            what: "grant".into(),
            collector: "col".into(),
            why: "no".into(),
            at_ms: n as u64,
        });
    }
    assert_eq!(q.refused.len(), MAX_REFUSED);
    assert_eq!(q.refused[0].entry, "ent2", "the oldest go first");
    assert!(!q.is_empty());
}

#[test]
fn the_queue_is_bounded() {
    let (a0, _) = feed(1);
    let mut q = Queue::default();
    for _ in 0..MAX_ITEMS {
        q.push(Queued::new(&a0, "a", "x", 0, "n")).expect("room");
    }
    assert!(matches!(
        q.push(Queued::new(&a0, "a", "x", 0, "n")),
        Err(QueueError::Full)
    ));
}

#[test]
fn entries_the_wallet_will_never_send_are_forgotten_with_what_follows_them() {
    let (a0, a1) = feed(1);
    let (b0, b1) = feed(2);
    let mut q = Queue::default();
    for (e, c, what) in [
        (&a0, "a", "feed inception"),
        (&a1, "a", "request"),
        (&b0, "b", "feed inception"),
    ] {
        q.push(Queued::new(e, c, what, 10, "n")).expect("push");
    }
    let mut held = Queued::new(&b1, "b", "request", 10, "n");
    held.held = Some("conflict".into());
    q.held.push(held);
    // A restored queue file holds a0 (and a1 after it) and b1, which the wallet withdrew.
    let gone = q.forget(&[a0.id.to_string(), b1.id.to_string(), "ent1unknown".into()]);
    let ids: Vec<EntryId> = gone.iter().map(|(e, _)| e.id).collect();
    assert_eq!(ids, vec![a0.id, a1.id, b1.id]);
    assert_eq!(q.items.len(), 1, "b's inception stays");
    assert_eq!(q.items[0].decode().map(|e| e.id), Ok(b0.id));
    assert!(q.held.is_empty());
    assert!(q.forget(&[a0.id.to_string()]).is_empty(), "idempotent");
}
