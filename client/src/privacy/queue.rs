//! The send queue: entries the wallet signed and sends later ([`super::schedule`]), kept in one
//! file beside the keystore (`<keystore>.queue`, e.g. `keystore.queue` for `keystore.json`) so
//! that they survive the CLI exiting.
//!
//! The entries are signed and public once sent, but which collectors a person uses is private,
//! so the file is encrypted like the keystore: XChaCha20-Poly1305 under
//! `BLAKE3-derive-key("consent-ledger wallet v1 send queue key", master secret)` (only the
//! unlocked wallet can read or write it; no second passphrase), with the format string as
//! associated data. It is written atomically (a new temporary file of mode 0600, never reached
//! through a link, fsynced, renamed over the queue, the directory fsynced: `file`), and a command
//! reads, changes or sends it only while it holds the queue's lock (`lock`: an advisory lock of
//! the operating system on `<queue>.lock`, released by the kernel when its holder ends), so two
//! `consent` processes (a person's command and a timer's `consent queue`) never lose each other's
//! changes.
//!
//! File format (`consent-queue/v1`):
//! ```json
//! { "format": "consent-queue/v1", "cipher": "xchacha20poly1305",
//!   "nonce": "<hex 24>", "ciphertext": "<hex>" }
//! ```
//! The plaintext is the JSON of [`Queue`]:
//! - the entries waiting ([`Queued`]: each as signed, with its collector, what it is, when it is
//!   due, the node it goes to, and whether it was ever handed to a node: until then it can be
//!   withdrawn without anyone seeing it);
//! - the entries set aside because they conflict with what a node holds in their feed (another
//!   device, or a restored copy of this wallet, signed there): never sent, said by every command
//!   until the person drops them (`consent queue --drop`);
//! - per feed, the last entries a node accepted from this wallet and which node ([`Sent`]): a node
//!   that answers an older head for the feed lags; the wallet brings it up to date with those
//!   entries, or refuses to sign on it (that would fork the feed);
//! - the entries a node refused for good ([`Refusal`]), shown by `consent queue` and `consent
//!   list` until the person acknowledges them (`consent queue --ack`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use consent_proto::Entry;
use consent_proto::ids::{EntryId, FeedId};
use consent_proto::vocab::Role;
use serde::{Deserialize, Serialize};

mod file;
mod lock;

pub use file::{load, save};
pub use lock::{LOCK_WAIT, LOCK_WAIT_WITHDRAWAL, QueueLock};

/// Format tag of the file.
pub const FORMAT: &str = "consent-queue/v1";
/// Most entries the queue holds (`consent wallet prepare` for every collector of a city, and a
/// few sittings).
pub const MAX_ITEMS: usize = 1_024;
/// Most accepted entries kept per feed ([`Sent::entries`]), to bring a lagging node up to date.
pub const SENT_KEPT: usize = 16;
/// Most refusals kept until acknowledged ([`Queue::refused`]); the oldest go first.
pub const MAX_REFUSED: usize = 64;

/// Send-queue failures, each with what to do.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    /// I/O.
    #[error("send queue {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Unreadable, altered, or not this wallet's.
    #[error(
        "the send queue {path} cannot be read ({message}); nothing was signed: if it is not this \
         wallet's, move it away (entries it held that no node accepted yet are then never sent: \
         sign them again)"
    )]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// Another command holds the lock.
    #[error(
        "the send queue {0} is in use by another consent command; try again when it ends (the \
         lock is released when that command ends, however it ends)"
    )]
    Busy(PathBuf),
    /// The queue is full.
    #[error(
        "the send queue holds {MAX_ITEMS} entries already; send them first: consent queue \
         --send-now"
    )]
    Full,
}

/// One entry waiting to be sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Queued {
    /// The entry exactly as signed: hex of the encoded `SignedEntry`.
    pub entry: String,
    /// The collector its pairwise feed is for (`col1…`).
    pub collector: String,
    /// What it is, for people: `feed inception`, `grant`, `revocation`, `request`, `rotation`.
    pub what: String,
    /// When it is due, Unix ms.
    pub due_ms: u64,
    /// The node it goes to (URL).
    pub node: String,
    /// Handed to a node at least once (set and saved before the submit): it may be public, so
    /// it can no longer be withdrawn unseen, only revoked.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub attempted: bool,
    /// Why it is set aside ([`Queue::held`]), never to be sent: it conflicts with what a node
    /// holds in its feed (another device, or a restored copy of this wallet, signed there);
    /// sending it would fork the feed and freeze it. The person drops it (`consent queue
    /// --drop`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub held: Option<String>,
}

impl Queued {
    /// An item for `entry`.
    pub fn new(entry: &Entry, collector: &str, what: &str, due_ms: u64, node: &str) -> Queued {
        Queued {
            entry: hex::encode(entry.encode()),
            collector: collector.to_string(),
            what: what.to_string(),
            due_ms,
            node: node.to_string(),
            attempted: false,
            held: None,
        }
    }

    /// The entry, decoded.
    pub fn decode(&self) -> Result<Entry, String> {
        let bytes = hex::decode(&self.entry).map_err(|e| format!("an entry's hex: {e}"))?;
        Entry::decode(&bytes).map_err(|e| format!("an entry: {e}"))
    }
}

/// The last entries of a feed a node accepted from this wallet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sent {
    /// The highest seq.
    pub seq: u64,
    /// The node that accepted it (URL).
    pub node: String,
    /// The last [`SENT_KEPT`] accepted entries (hex, by seq), to bring a node that lags up to
    /// date instead of refusing to sign on it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub entries: Vec<String>,
}

/// An entry a node refused for good, dropped from the queue with the entries of its feed after
/// it, kept here so that every command can say so until the person acknowledges it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refusal {
    /// The entry id (`ent1…`).
    pub entry: String,
    /// What it was (`grant`, ...).
    pub what: String,
    /// The collector its feed is for.
    pub collector: String,
    /// Why: the node's refusal, or "an earlier entry of its feed was refused".
    pub why: String,
    /// When, Unix ms.
    pub at_ms: u64,
}

/// What the queue file holds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Queue {
    /// Entries waiting, in the order they were queued.
    #[serde(default)]
    pub items: Vec<Queued>,
    /// Per feed (`cit1…`), the last entries a node accepted from this wallet.
    #[serde(default)]
    pub sent: BTreeMap<String, Sent>,
    /// Entries refused for good, until acknowledged.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub refused: Vec<Refusal>,
    /// Entries set aside, never to be sent: they conflict with what a node holds in their feed
    /// (each says why, [`Queued::held`]). They are out of their feed's chain (what is signed
    /// next follows the node's head), and stay here until the person drops them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub held: Vec<Queued>,
}

impl Queue {
    /// Adds an item (refused when [`MAX_ITEMS`] wait already).
    pub fn push(&mut self, item: Queued) -> Result<(), QueueError> {
        if self.items.len() >= MAX_ITEMS {
            return Err(QueueError::Full);
        }
        self.items.push(item);
        Ok(())
    }

    /// Whether the file would hold nothing (it is then removed).
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
            && self.sent.is_empty()
            && self.refused.is_empty()
            && self.held.is_empty()
    }

    /// The queued entries of `feed`, by seq, with their places in [`Queue::items`].
    pub fn of_feed(&self, feed: &FeedId) -> Vec<(usize, Entry)> {
        let mut out: Vec<(usize, Entry)> = self
            .items
            .iter()
            .enumerate()
            .filter_map(|(i, q)| q.decode().ok().map(|e| (i, e)))
            .filter(|(_, e)| e.feed == *feed)
            .collect();
        out.sort_by_key(|(_, e)| e.seq);
        out
    }

    /// The last queued entry of `feed`, if any.
    pub fn last_of(&self, feed: &FeedId) -> Option<Entry> {
        self.of_feed(feed).pop().map(|(_, e)| e)
    }

    /// The place of the queued entry `id`, if any.
    pub fn find(&self, id: &EntryId) -> Option<usize> {
        self.items
            .iter()
            .position(|q| q.decode().is_ok_and(|e| e.id == *id))
    }

    /// Why entries of `feed` are held, when some are ([`Queue::held`]).
    pub fn held_in(&self, feed: &FeedId) -> Option<String> {
        self.held
            .iter()
            .find(|q| q.decode().is_ok_and(|e| e.feed == *feed))
            .and_then(|q| q.held.clone())
    }

    /// Places in [`Queue::items`] in sending order: by due time, where an entry counts as due no
    /// later than any later entry of its feed, then by feed and seq (a feed always goes in
    /// order).
    pub fn order(&self) -> Vec<usize> {
        let mut keyed: Vec<(usize, FeedId, u64, u64)> = self
            .items
            .iter()
            .enumerate()
            .filter_map(|(i, q)| q.decode().ok().map(|e| (i, e.feed, e.seq, q.due_ms)))
            .collect();
        keyed.sort_by_key(|&(_, feed, seq, _)| (feed, seq));
        for k in (1..keyed.len()).rev() {
            if keyed[k - 1].1 == keyed[k].1 && keyed[k - 1].3 > keyed[k].3 {
                keyed[k - 1].3 = keyed[k].3;
            }
        }
        keyed.sort_by_key(|&(_, feed, seq, due)| (due, feed, seq));
        keyed.into_iter().map(|(i, ..)| i).collect()
    }

    /// Places of the items due at `now_ms` (as [`Queue::order`] counts them), in sending order.
    pub fn due(&self, now_ms: u64) -> Vec<usize> {
        let order = self.order();
        // An item is due when it or a later item of its feed is.
        let mut due_feeds: Vec<(FeedId, u64)> = Vec::new();
        for &i in &order {
            if self.items[i].due_ms <= now_ms
                && let Ok(e) = self.items[i].decode()
            {
                match due_feeds.iter_mut().find(|(f, _)| *f == e.feed) {
                    Some((_, seq)) => *seq = (*seq).max(e.seq),
                    None => due_feeds.push((e.feed, e.seq)),
                }
            }
        }
        order
            .into_iter()
            .filter(|&i| {
                self.items[i].decode().ok().is_some_and(|e| {
                    due_feeds
                        .iter()
                        .any(|(f, seq)| *f == e.feed && e.seq <= *seq)
                })
            })
            .collect()
    }

    /// What one run of the sender sends at `now_ms`, in sending order: the due entries of every
    /// feed whose due entries include a withdrawal (a revocation, an opt-out, an erasure or
    /// restriction request: never held back), and of **at most one other feed**, the most
    /// overdue. Entries of several feeds left overdue (no command ran at their moments) would
    /// otherwise leave back to back, adjacent in every node's log; one feed per run keeps them
    /// apart by the time between runs.
    pub fn due_now(&self, now_ms: u64) -> Vec<usize> {
        let due = self.due(now_ms);
        let mut feeds: Vec<(FeedId, bool)> = Vec::new();
        for &i in &due {
            let Ok(e) = self.items[i].decode() else {
                continue;
            };
            let withdrawal = crate::privacy::handling(&e.body).at_once;
            match feeds.iter_mut().find(|(f, _)| *f == e.feed) {
                Some((_, w)) => *w |= withdrawal,
                None => feeds.push((e.feed, withdrawal)),
            }
        }
        let other = feeds.iter().find(|(_, w)| !*w).map(|(f, _)| *f);
        let chosen: Vec<FeedId> = feeds
            .iter()
            .filter(|(f, w)| *w || Some(*f) == other)
            .map(|(f, _)| *f)
            .collect();
        due.into_iter()
            .filter(|&i| {
                self.items[i]
                    .decode()
                    .is_ok_and(|e| chosen.contains(&e.feed))
            })
            .collect()
    }

    /// Puts off to `until_ms` the queued entries of `feed` due before it: a feed whose node
    /// could not take them this run (down, lagging, answering pending). [`Self::due_now`] sends
    /// the most overdue other feed each run, so without this one stuck feed would be picked again
    /// and again while every other queued grant waited. Sending later only spreads more; the
    /// caller never puts off a feed with a withdrawal (those leave at once, whatever it costs).
    pub fn postpone(&mut self, feed: &FeedId, until_ms: u64) {
        for (i, _) in self.of_feed(feed) {
            if self.items[i].due_ms < until_ms {
                self.items[i].due_ms = until_ms;
            }
        }
    }

    /// Records that `node` accepted `entry` (the highest seq is kept, with the last
    /// [`SENT_KEPT`] entries).
    pub fn record_sent(&mut self, entry: &Entry, node: &str) {
        let key = entry.feed.typed(Role::Citizen).to_string();
        let s = self.sent.entry(key).or_insert_with(|| Sent {
            seq: entry.seq,
            node: node.to_string(),
            entries: Vec::new(),
        });
        if entry.seq >= s.seq {
            s.seq = entry.seq;
            s.node = node.to_string();
        }
        let mut kept: Vec<Entry> = s
            .entries
            .iter()
            .filter_map(|h| hex::decode(h).ok())
            .filter_map(|b| Entry::decode(&b).ok())
            .filter(|e| e.seq != entry.seq)
            .collect();
        kept.push(entry.clone());
        kept.sort_by_key(|e| e.seq);
        let from = kept.len().saturating_sub(SENT_KEPT);
        s.entries = kept[from..]
            .iter()
            .map(|e| hex::encode(e.encode()))
            .collect();
    }

    /// What a node accepted of `feed` from this wallet, as recorded.
    pub fn sent_of(&self, feed: &FeedId) -> Option<&Sent> {
        self.sent.get(&feed.typed(Role::Citizen).to_string())
    }

    /// The accepted entries of `feed` kept ([`Sent::entries`]), by seq.
    pub fn sent_entries(&self, feed: &FeedId) -> Vec<Entry> {
        self.sent_of(feed).map_or_else(Vec::new, |s| {
            s.entries
                .iter()
                .filter_map(|h| hex::decode(h).ok())
                .filter_map(|b| Entry::decode(&b).ok())
                .collect()
        })
    }

    /// Removes the queued entries of `feed` from `seq` on (they chain on one another), and
    /// returns them, by seq.
    pub fn drop_from(&mut self, feed: &FeedId, seq: u64) -> Vec<(Entry, Queued)> {
        let mut gone = Vec::new();
        let mut kept = Vec::new();
        for item in std::mem::take(&mut self.items) {
            match item.decode() {
                Ok(e) if e.feed == *feed && e.seq >= seq => gone.push((e, item)),
                _ => kept.push(item),
            }
        }
        self.items = kept;
        gone.sort_by_key(|(e, _)| e.seq);
        gone
    }

    /// Whether the queued entry of `feed` at `seq` may be withdrawn unseen with everything
    /// queued after it ([`Queue::drop_from`]): no entry of the feed from `seq` on was ever handed
    /// to a node, and none after it leaves at once (a revocation, an opt-out, an erasure or
    /// restriction request): withdrawing would drop those unsigned and unsent. Otherwise the
    /// entry is revoked behind them instead (re-review N7).
    pub fn withdrawable(&self, feed: &FeedId, seq: u64) -> bool {
        self.of_feed(feed).iter().all(|(i, e)| {
            e.seq < seq
                || (!self.items[*i].attempted
                    && (e.seq == seq || !crate::privacy::handling(&e.body).at_once))
        })
    }

    /// The first queued entry of `feed` from `seq` on that was handed to a node
    /// ([`Queued::attempted`]), with its item: it may be public already, or held by that node as
    /// pending and taken in once the node has what it waits for, so dropping it here would not
    /// undo it (`consent queue --drop` refuses; entries held for a conflict are out of the
    /// feed's chain, and are not looked at).
    pub fn handed_from(&self, feed: &FeedId, seq: u64) -> Option<(Entry, Queued)> {
        self.of_feed(feed)
            .into_iter()
            .find(|(i, e)| e.seq >= seq && self.items[*i].attempted)
            .map(|(i, e)| (e, self.items[i].clone()))
    }

    /// Sets the queued entries of `feed` from `seq` on aside, saying `why` ([`Queue::held`]:
    /// never sent); returns them, by seq.
    pub fn hold_from(&mut self, feed: &FeedId, seq: u64, why: &str) -> Vec<(Entry, Queued)> {
        let mut gone = self.drop_from(feed, seq);
        for (_, item) in &mut gone {
            item.held = Some(why.to_string());
            self.held.push(item.clone());
        }
        gone
    }

    /// Drops the held entry `id` ([`Queue::held`]) with the held entries of its feed after it
    /// (they chain on it); returns them, by seq.
    pub fn drop_held(&mut self, id: &EntryId) -> Vec<(Entry, Queued)> {
        let Some(target) = self
            .held
            .iter()
            .find_map(|q| q.decode().ok().filter(|e| e.id == *id))
        else {
            return Vec::new();
        };
        let mut gone = Vec::new();
        let mut kept = Vec::new();
        for item in std::mem::take(&mut self.held) {
            match item.decode() {
                Ok(e) if e.feed == target.feed && e.seq >= target.seq => gone.push((e, item)),
                _ => kept.push(item),
            }
        }
        self.held = kept;
        gone.sort_by_key(|(e, _)| e.seq);
        gone
    }

    /// Removes the queued and held entries whose ids (text) are in `unsent` (entries the wallet
    /// withdrew or dropped, never to be sent, that a restored or older queue file still holds),
    /// with the entries of their feeds after them (they chain on them); returns what left.
    pub fn forget(&mut self, unsent: &[String]) -> Vec<(Entry, Queued)> {
        let listed = |e: &Entry| unsent.iter().any(|u| *u == e.id.to_string());
        let mut gone = Vec::new();
        let firsts: Vec<Entry> = self
            .items
            .iter()
            .filter_map(|item| item.decode().ok())
            .filter(|e| listed(e))
            .collect();
        for e in firsts {
            gone.extend(self.drop_from(&e.feed, e.seq));
        }
        let held: Vec<Entry> = self
            .held
            .iter()
            .filter_map(|item| item.decode().ok())
            .filter(|e| listed(e))
            .collect();
        for e in held {
            gone.extend(self.drop_held(&e.id));
        }
        gone
    }

    /// Keeps a refusal until acknowledged (at most [`MAX_REFUSED`], the oldest dropped).
    pub fn refuse(&mut self, refusal: Refusal) {
        self.refused.push(refusal);
        let over = self.refused.len().saturating_sub(MAX_REFUSED);
        self.refused.drain(..over);
    }
}

/// The queue file of the keystore at `keystore`: the same name with the extension `queue`.
pub fn path_for(keystore: &Path) -> PathBuf {
    keystore.with_extension("queue")
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(suffix);
    PathBuf::from(p)
}

#[cfg(test)]
mod tests;
