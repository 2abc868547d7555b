//! What the node a feed's queued entries go to holds, against them ([`settle`]: ready, lagging,
//! or in conflict), and bringing a node that lags up to date with the entries this wallet keeps
//! ([`catch_up`]). The rules are in the `send` module docs.

use consent_client::keystore::Keystore;
use consent_client::node::{ClientError, NodeConnection};
use consent_client::privacy::queue::Queue;
use consent_client::wallet;
use consent_proto::Entry;
use consent_proto::ids::{EntryId, FeedId, TypedFeedId};
use consent_proto::pb;
use consent_proto::vocab::Role;

use super::flushed::Flushed;

/// What the node a feed's queued entries go to holds, against them ([`settle`]).
pub enum Standing {
    /// The queued entries (if any are left) follow the node's head: they may be sent, or signed
    /// after. `head`: the node's head, when it knows the feed.
    Ready {
        /// The node's head.
        head: Option<pb::GetHeadResponse>,
    },
    /// The node does not yet hold the entry the queue's first one follows: try again later.
    Lagging(String),
    /// The node holds another entry where the queue's chain goes: the queued entries are held.
    Conflict(String),
}

/// Why entries are held, for people.
fn conflict_text(url: &str, feed: &FeedId, seq: u64) -> String {
    format!(
        "{url} holds another entry at #{seq} of your feed {}: another device, or a restored copy \
         of this wallet, signed there. These queued entries were NOT sent (sending them would \
         fork your feed, and a forked feed is frozen); what they say was never public: drop \
         them (consent queue --drop ID) and sign it again if you still mean it",
        feed.typed(Role::Citizen)
    )
}

/// The inception of the pairwise feed for the collector `collector` names (`col1…`), when it is
/// `feed`'s: a lagging node can be given it (it is derived, never stored).
fn inception_of(ks: &Keystore, collector: &str, feed: &FeedId) -> Option<Entry> {
    let c = TypedFeedId::parse_role(collector, Role::Collector).ok()?;
    let (_, inception) = wallet::pairwise_inception(ks.master(), &c).ok()?;
    (inception.feed == *feed).then_some(inception)
}

/// Brings `node` up to seq `upto` of `feed` with the entries this wallet keeps of it (the last
/// accepted ones, `Queue::sent_entries`, and its derived `inception`), when it lags: a node that
/// gossip did not reach yet, or that lost them. Only entries above the node's head are
/// submitted (never one at a seq it holds). Whether the node then holds `upto`.
pub async fn catch_up(
    node: &mut NodeConnection,
    q: &Queue,
    inception: Option<&Entry>,
    feed: &FeedId,
    upto: u64,
) -> Result<bool, ClientError> {
    let have = node.head(feed).await?.map(|h| h.seq);
    if have.is_some_and(|s| s >= upto) {
        return Ok(true);
    }
    let from = have.map_or(0, |s| s + 1);
    let mut kept = q.sent_entries(feed);
    if let Some(i) = inception
        && !kept.iter().any(|e| e.seq == 0)
    {
        kept.insert(0, i.clone());
    }
    let chain: Vec<Entry> = kept
        .into_iter()
        .filter(|e| e.seq >= from && e.seq <= upto)
        .collect();
    if chain.first().map(|e| e.seq) != Some(from) || chain.len() as u64 != upto + 1 - from {
        return Ok(false);
    }
    let results = node.submit_batch(&chain).await?;
    Ok(results.len() == chain.len()
        && results.iter().all(|r| {
            r.as_ref().is_ok_and(|resp| {
                matches!(
                    resp.status(),
                    pb::SubmitStatus::Accepted | pb::SubmitStatus::Duplicate
                )
            })
        }))
}

/// Compares what `node` holds of `feed` with the feed's queued entries in `q` (see the `send`
/// module docs): those the node holds already are recorded as sent and leave the queue (into
/// `out.sent`); on a conflict the queued entries from there on are held (into `out.held`); a
/// node that lags is brought up to date first when the wallet keeps what it lacks.
pub async fn settle(
    node: &mut NodeConnection,
    ks: &Keystore,
    q: &mut Queue,
    feed: &FeedId,
    out: &mut Flushed,
) -> Result<Standing, ClientError> {
    let url = node.url().to_string();
    // The queued entries must follow one another (defence in depth: two commands signing in one
    // feed at once would put two entries at one seq on the wire, and freeze the feed). From the
    // first that does not, they are held, never sent.
    let queued: Vec<Entry> = q.of_feed(feed).into_iter().map(|(_, e)| e).collect();
    if let Some(seq) = first_break(&queued) {
        let why = format!(
            "the queued entries of your feed {} do not follow one another at #{seq} (two \
             commands signed there at once); they were NOT sent (sending them would fork your \
             feed): drop the ones you no longer mean (consent queue --drop ID) and sign again",
            feed.typed(Role::Citizen)
        );
        for (e, item) in q.hold_from(feed, seq, &why) {
            out.held.push((e, item, why.clone()));
        }
    }
    let of = q.of_feed(feed);
    let Some((first_at, first)) = of.first().cloned() else {
        return Ok(Standing::Ready {
            head: node.head(feed).await?,
        });
    };
    let inception = inception_of(ks, &q.items[first_at].collector, feed);
    let mut caught_up = false;
    loop {
        let head = node.head(feed).await?;
        let hold = |q: &mut Queue, out: &mut Flushed, seq: u64, why: String| {
            for (e, item) in q.hold_from(feed, seq, &why) {
                out.held.push((e, item, why.clone()));
            }
            Standing::Conflict(why)
        };
        let Some(h) = &head else {
            if first.seq == 0 {
                return Ok(Standing::Ready { head: None });
            }
            if !caught_up && catch_up(node, q, inception.as_ref(), feed, first.seq - 1).await? {
                caught_up = true;
                continue;
            }
            return Ok(Standing::Lagging(format!(
                "{url} does not know this feed yet"
            )));
        };
        if h.frozen {
            let why = format!(
                "{url} holds your feed {} frozen: two entries were signed at one of its seqs \
                 (another device, or a restored copy of this wallet); nothing more is sent to it",
                feed.typed(Role::Citizen)
            );
            return Ok(hold(q, out, first.seq, why));
        }
        let head_id = EntryId::from_slice(&h.head).ok();
        if h.seq + 1 < first.seq {
            if !caught_up && catch_up(node, q, inception.as_ref(), feed, first.seq - 1).await? {
                caught_up = true;
                continue;
            }
            return Ok(Standing::Lagging(format!(
                "{url} holds your feed up to #{} only, and the queued entries start at #{}",
                h.seq, first.seq
            )));
        }
        if h.seq + 1 == first.seq {
            if first.prev.is_some() && first.prev == head_id {
                return Ok(Standing::Ready { head });
            }
            return Ok(hold(q, out, first.seq, conflict_text(&url, feed, h.seq)));
        }
        // The node holds entries at the queued seqs: each must be this wallet's.
        let mut there: Vec<Entry> = Vec::new();
        let mut conflict_at = None;
        for (_, e) in &of {
            if e.seq > h.seq {
                break;
            }
            match node.entry(&e.id).await? {
                Some(x) if x.id == e.id && x.feed == *feed => there.push(e.clone()),
                _ => {
                    conflict_at = Some(e.seq);
                    break;
                }
            }
        }
        for e in &there {
            q.record_sent(e, &url);
            if let Some(i) = q.find(&e.id) {
                let item = q.items.remove(i);
                out.sent.push((e.clone(), item, url.clone()));
            }
        }
        if let Some(seq) = conflict_at {
            return Ok(hold(q, out, seq, conflict_text(&url, feed, seq)));
        }
        return Ok(Standing::Ready { head });
    }
}

/// Brings `to` up to seq `upto` of `feed` with the entries `from` holds, when it lags: a grant
/// made on another device, or sent to another node, that a revocation is about to be signed
/// after (re-review N3: signed at a head without it, the revocation would fork the feed, or wait
/// as pending for a grant the node never gets). The entries are signed: `to` checks them as it
/// checks any. Whether `to` then holds `upto`.
pub async fn relay(
    from: &mut NodeConnection,
    to: &mut NodeConnection,
    feed: &FeedId,
    upto: u64,
) -> Result<bool, ClientError> {
    let have = to.head(feed).await?;
    if have.as_ref().is_some_and(|h| h.seq >= upto) {
        return Ok(true);
    }
    let start = have.as_ref().map_or(0, |h| h.seq + 1);
    // A few entries at most (a citizen's feed, another device's lead): a node that claims more
    // is not followed (re-review M5).
    if upto - start >= consent_proto::limits::MAX_SUBMIT_BATCH as u64 {
        return Ok(false);
    }
    let chain = from.feed_between(feed, start, upto).await?;
    // Of this feed, one chain from `to`'s head on (re-review L1): `to` checks signatures.
    let head = have.and_then(|h| EntryId::from_slice(&h.head).ok());
    if !continues(&chain, feed, head, start, upto) {
        return Ok(false);
    }
    for part in chain.chunks(consent_proto::limits::MAX_SUBMIT_BATCH) {
        let results = to.submit_batch(part).await?;
        let all_held = results.len() == part.len()
            && results.iter().all(|r| {
                r.as_ref().is_ok_and(|resp| {
                    matches!(
                        resp.status(),
                        pb::SubmitStatus::Accepted | pb::SubmitStatus::Duplicate
                    )
                })
            });
        if !all_held {
            return Ok(false);
        }
    }
    Ok(to.head(feed).await?.is_some_and(|h| h.seq >= upto))
}

/// Where the queued entries of one feed (by seq) stop following one another (a seq repeated or
/// skipped, or a `prev` that is not the entry before): the lower seq of the first pair that does
/// not, from which they are held. `None` when they form one chain.
fn first_break(entries: &[Entry]) -> Option<u64> {
    entries
        .windows(2)
        .find(|w| w[1].seq != w[0].seq + 1 || w[1].prev != Some(w[0].id))
        .map(|w| w[0].seq.min(w[1].seq))
}

/// Whether `chain` is exactly the entries `start..=upto` of `feed`, each after the one before and
/// the first after `head` (the receiving node's head; `None` when it does not know the feed, and
/// then `start` is 0, the inception, which follows nothing).
fn continues(chain: &[Entry], feed: &FeedId, head: Option<EntryId>, start: u64, upto: u64) -> bool {
    let mut prev = head;
    let mut seq = start;
    for e in chain {
        if e.feed != *feed || e.seq != seq || (seq > 0 && e.prev != prev) {
            return false;
        }
        prev = Some(e.id);
        seq += 1;
    }
    seq == upto + 1
}

#[cfg(test)]
mod tests {
    use super::*;
    use consent_proto::body::{Body, Request};
    use consent_proto::vocab::RequestKind;

    /// A pairwise feed's inception and `n` requests after it, signed from `at` on: two calls
    /// with different times give two histories of one feed (another device signing at the same
    /// seqs).
    fn feed(n: usize, at: u64) -> Vec<Entry> {
        let collector = FeedId([9; 32]);
        let (mut author, inception) =
            wallet::pairwise_inception(&[3; 32], &collector).expect("inception");
        let mut out = vec![inception];
        for k in 0..n {
            out.push(
                author
                    .append(
                        at + k as u64,
                        Body::Request(Request {
                            collector,
                            kind: RequestKind::Access,
                            details_digest: None,
                            on_behalf: None,
                        }),
                    )
                    .expect("request"),
            );
        }
        out
    }

    #[test]
    fn queued_entries_that_do_not_chain_are_found_where_they_stop() {
        let a = feed(3, 1_772_446_051_000);
        let b = feed(3, 1_772_446_052_000);
        assert_eq!(first_break(&a), None, "one chain, inception included");
        assert_eq!(first_break(&a[1..]), None, "from a later seq");
        // Two entries at one seq (two commands signed at once).
        let twice = vec![a[0].clone(), a[1].clone(), b[1].clone()];
        assert_eq!(first_break(&twice), Some(1));
        // A seq skipped.
        let gap = vec![a[0].clone(), a[1].clone(), a[3].clone()];
        assert_eq!(first_break(&gap), Some(1));
        // The right seq, on another history.
        let other = vec![a[0].clone(), a[1].clone(), b[2].clone()];
        assert_eq!(first_break(&other), Some(1));
    }

    #[test]
    fn a_relay_takes_only_the_feeds_next_entries_after_the_receivers_head() {
        let a = feed(3, 1_772_446_051_000);
        let b = feed(3, 1_772_446_052_000);
        let f = a[0].feed;
        // A node that knows nothing: from the inception.
        assert!(continues(&a, &f, None, 0, 3));
        // A node at #1: #2 and #3, after its head.
        assert!(continues(&a[2..], &f, Some(a[1].id), 2, 3));
        // Short of what was claimed, or longer.
        assert!(!continues(&a[2..3], &f, Some(a[1].id), 2, 3));
        assert!(!continues(&a[2..], &f, Some(a[1].id), 2, 2));
        // Another history after the receiver's head, or another feed's entries.
        assert!(!continues(&b[2..], &f, Some(a[1].id), 2, 3));
        let other_feed = {
            let (_, i) = wallet::pairwise_inception(&[4; 32], &FeedId([9; 32])).expect("inception");
            i.feed
        };
        assert!(!continues(&a[2..], &other_feed, Some(a[1].id), 2, 3));
        // Nothing to relay is not a chain up to a later seq.
        assert!(!continues(&[], &f, Some(a[1].id), 2, 3));
    }
}
