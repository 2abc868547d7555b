//! Sending queued entries: the ones a [`Pick`] selects, each feed's in order to its node after
//! [`settle`], and the queue updated with what became of them ([`send_queued`]).

use consent_client::keystore::Keystore;
use consent_client::privacy;
use consent_client::privacy::queue::{self, Queue, QueueLock, Queued, Refusal};
use consent_client::time;
use consent_proto::Entry;
use consent_proto::ids::{EntryId, FeedId};

use super::answer::{Answer, submit_all};
use super::flushed::Flushed;
use super::nodes::Nodes;
use super::standing::{Standing, settle};

/// Which queued entries to send.
#[derive(Clone)]
pub enum Pick {
    /// What one run sends at this moment (`Queue::due_now`: every due withdrawal's feed, and the
    /// most overdue other feed).
    Due(u64),
    /// [`Pick::Due`], and every due entry of these feeds (a command's own).
    DueWith(u64, Vec<FeedId>),
    /// The due entries of these feeds only (a withdrawal's: nothing else delays it).
    Own(u64, Vec<FeedId>),
    /// Every entry of this feed.
    Feed(FeedId),
    /// All of them.
    All,
}

/// Sends the queued entries `pick` selects, each feed's in order to its node after [`settle`],
/// and updates the queue: sent ones leave it, a refused one leaves it with every later entry of
/// its feed (the refusal is kept until acknowledged), conflicting ones are held, the others stay
/// (and so do the later entries of their feed).
pub async fn send_queued(ks: &Keystore, nodes: &mut Nodes, pick: Pick) -> anyhow::Result<Flushed> {
    let path = queue::path_for(ks.path());
    let _lock = QueueLock::take(&path)?;
    let mut q = queue::load(&path, ks.master())?;
    if forget_unsent(ks, &mut q) {
        queue::save(&path, ks.master(), &q)?;
    }
    let chosen: Vec<usize> = match &pick {
        Pick::Due(now) => q.due_now(*now),
        Pick::DueWith(now, own) => {
            let base = q.due_now(*now);
            q.due(*now)
                .into_iter()
                .filter(|i| {
                    base.contains(i) || q.items[*i].decode().is_ok_and(|e| own.contains(&e.feed))
                })
                .collect()
        }
        Pick::Own(now, own) => q
            .due(*now)
            .into_iter()
            .filter(|i| q.items[*i].decode().is_ok_and(|e| own.contains(&e.feed)))
            .collect(),
        Pick::All => q.order(),
        Pick::Feed(feed) => {
            let of: Vec<usize> = q.of_feed(feed).into_iter().map(|(i, _)| i).collect();
            q.order().into_iter().filter(|i| of.contains(i)).collect()
        }
    };
    let mut out = Flushed {
        attention: (q.held.len(), q.refused.len()),
        ..Flushed::default()
    };
    if chosen.is_empty() {
        return Ok(out);
    }
    // By entry id (places move as entries leave), and the feeds in the order they first come.
    let mut ids: Vec<EntryId> = Vec::new();
    let mut feeds: Vec<FeedId> = Vec::new();
    for &i in &chosen {
        let e = q.items[i].decode().map_err(anyhow::Error::msg)?;
        if !feeds.contains(&e.feed) {
            feeds.push(e.feed);
        }
        ids.push(e.id);
    }
    for feed in &feeds {
        send_feed(ks, nodes, &mut q, &path, feed, &ids, &mut out).await?;
    }
    queue::save(&path, ks.master(), &q)?;
    out.attention = (q.held.len(), q.refused.len());
    Ok(out)
}

/// Drops from `q` the entries the keystore lists as never to be sent (`FeedState::unsent`:
/// withdrawn or dropped; a restored or older queue file may hold them again), saying so on
/// stderr; whether any left.
pub fn forget_unsent(ks: &Keystore, q: &mut Queue) -> bool {
    let unsent = ks.state.unsent();
    if unsent.is_empty() {
        return false;
    }
    let gone = q.forget(&unsent);
    for (e, item) in &gone {
        eprintln!(
            "consent: dropped your {} {} (collector {}) from the send queue, unsent: you had \
             withdrawn it or one it follows (the queue file held it again: restored from a \
             backup, or older)",
            item.what, e.id, item.collector
        );
    }
    !gone.is_empty()
}

/// Remembers in the keystore (not saved here) that `entry`, queued as `item`, will never be
/// sent ([`consent_client::keystore::FeedState::unsent`]), when it is of the pairwise feed its
/// item names (a delegate feed's entries are not remembered: the keystore keeps no state for
/// them there).
pub fn note_unsent(ks: &mut Keystore, entry: &Entry, item: &Queued) {
    let Ok(collector) = consent_proto::ids::TypedFeedId::parse_role(
        &item.collector,
        consent_proto::vocab::Role::Collector,
    ) else {
        return;
    };
    if consent_client::wallet::pairwise_feed(ks.master(), &collector) != entry.feed {
        return;
    }
    ks.state
        .pairwise
        .entry(item.collector.clone())
        .or_default()
        .note_unsent(&entry.id.to_string());
}

/// The `chosen` entries of `feed` still queued in `q`, by seq, with their items.
fn chosen_of(q: &Queue, feed: &FeedId, chosen: &[EntryId]) -> Vec<(Entry, Queued)> {
    q.of_feed(feed)
        .into_iter()
        .filter(|(_, e)| chosen.contains(&e.id))
        .map(|(i, e)| (e, q.items[i].clone()))
        .collect()
}

/// How long a feed whose node could not take its entries waits before a run tries it again
/// (other overdue feeds go first meanwhile: re-review N4).
const RETRY_AFTER_MS: u64 = 5 * 60 * 1000;

/// Puts off `feed`'s queued entries by [`RETRY_AFTER_MS`], unless it holds a withdrawal (tried
/// by every run: a withdrawal is never delayed on purpose).
fn put_off(q: &mut Queue, feed: &FeedId, withdrawal: bool) {
    if !withdrawal {
        q.postpone(feed, time::now_ms().saturating_add(RETRY_AFTER_MS));
    }
}

/// [`send_queued`] for one feed: the `chosen` entries of `feed` still queued.
async fn send_feed(
    ks: &Keystore,
    nodes: &mut Nodes,
    q: &mut Queue,
    path: &std::path::Path,
    feed: &FeedId,
    chosen: &[EntryId],
    out: &mut Flushed,
) -> anyhow::Result<()> {
    let of = q.of_feed(feed);
    let Some((first_at, _)) = of.first() else {
        return Ok(());
    };
    let mine = |q: &Queue| chosen_of(q, feed, chosen);
    let url = q.items[*first_at].node.clone();
    let withdrawal = of
        .iter()
        .any(|(_, e)| chosen.contains(&e.id) && privacy::handling(&e.body).at_once);
    let mut conn = match nodes.to(&url, withdrawal).await {
        Ok(c) => c,
        Err(e) => {
            let why = format!("{e:#}");
            for (e, item) in mine(&*q) {
                out.kept.push((e, item, why.clone()));
            }
            put_off(q, feed, withdrawal);
            return Ok(());
        }
    };
    let mut stuck = send_feed_on(ks, &mut conn, q, path, feed, chosen, out).await?;
    // A withdrawal its feed's node answers but does not take (it stalls, fails, lags, or holds
    // it pending) goes to `--node` instead, as one whose node cannot be reached does
    // (re-review H1): withdrawing is never harder. `settle` brings that node up to date first.
    if stuck && withdrawal && conn.url() != consent_client::node::node_url(nodes.main()) {
        let main = nodes.main().to_string();
        if let Ok(mut other) = nodes.to(&main, true).await {
            let why = out
                .kept
                .iter()
                .find(|(e, ..)| e.feed == *feed)
                .map_or_else(String::new, |(.., why)| format!(" ({why})"));
            eprintln!(
                "consent: {} did not take your withdrawal{why}; it goes to {main} instead (that \
                 node's operator sees it)",
                conn.url()
            );
            out.kept.retain(|(e, ..)| e.feed != *feed);
            stuck = send_feed_on(ks, &mut other, q, path, feed, chosen, out).await?;
        }
    }
    if stuck {
        put_off(q, feed, withdrawal);
    }
    Ok(())
}

/// [`send_feed`] on the connection `conn`: whether entries were kept (the node lags, cannot be
/// asked, or did not take one: pending, no answer), each said in `out.kept`.
async fn send_feed_on(
    ks: &Keystore,
    conn: &mut consent_client::node::NodeConnection,
    q: &mut Queue,
    path: &std::path::Path,
    feed: &FeedId,
    chosen: &[EntryId],
    out: &mut Flushed,
) -> anyhow::Result<bool> {
    let mine = |q: &Queue| chosen_of(q, feed, chosen);
    let standing = match settle(conn, ks, q, feed, out).await {
        Ok(s) => s,
        Err(e) => Standing::Lagging(e.to_string()),
    };
    match standing {
        Standing::Ready { .. } => {}
        Standing::Lagging(why) => {
            for (e, item) in mine(&*q) {
                out.kept.push((e, item, why.clone()));
            }
            return Ok(true);
        }
        Standing::Conflict(_) => return Ok(false),
    }
    let batch = mine(&*q);
    if batch.is_empty() {
        return Ok(false);
    }
    // From here on they may be public: saved before the submit, so that a command killed after
    // it still knows (such an entry is revoked, never withdrawn unseen).
    for (e, _) in &batch {
        if let Some(i) = q.find(&e.id) {
            q.items[i].attempted = true;
        }
    }
    queue::save(path, ks.master(), q)?;
    let to = conn.url().to_string();
    let answers = submit_all(conn, &batch).await;
    let mut rest: Option<String> = None;
    for ((e, mut item), answer) in batch.into_iter().zip(answers) {
        item.attempted = true;
        if let Some(why) = &rest {
            if q.find(&e.id).is_some() {
                out.kept.push((e, item, why.clone()));
            }
            continue;
        }
        match answer {
            Answer::Held => {
                q.record_sent(&e, &to);
                if let Some(i) = q.find(&e.id) {
                    q.items.remove(i);
                }
                out.sent.push((e, item, to.clone()));
            }
            Answer::Kept(why) => {
                rest = Some(format!("an earlier entry of its feed waits ({why})"));
                out.kept.push((e, item, why));
            }
            Answer::Conflict(why) => {
                let why = format!(
                    "{to} refused it as conflicting with what it holds ({why}); it was not sent \
                     again: drop it (consent queue --drop ID), and sign again what you still mean"
                );
                for (later, later_item) in q.hold_from(feed, e.seq, &why) {
                    out.held.push((later, later_item, why.clone()));
                }
                // Everything after it is set aside with it (reported just above).
                break;
            }
            Answer::Refused(err) => {
                let now = time::now_ms();
                let gone = q.drop_from(feed, e.seq);
                for (k, (g, gitem)) in gone.into_iter().enumerate() {
                    let why = if k == 0 {
                        err.to_string()
                    } else {
                        "an earlier entry of its feed was refused".to_string()
                    };
                    q.refuse(Refusal {
                        entry: g.id.to_string(),
                        what: gitem.what.clone(),
                        collector: gitem.collector.clone(),
                        why,
                        at_ms: now,
                    });
                    if k > 0 {
                        out.abandoned.push((g, gitem));
                    }
                }
                out.dropped.push((e, item, err));
                break;
            }
        }
    }
    // Kept (pending at the node, or no answer): the other feeds go first meanwhile (N4).
    Ok(rest.is_some())
}
