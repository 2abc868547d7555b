//! The send queue: entries the wallet signed and sends later ([`super::schedule`]), kept in one
//! file beside the keystore (`<keystore>.queue`, e.g. `keystore.queue` for `keystore.json`) so
//! that they survive the CLI exiting.
//!
//! The entries are signed and public once sent, but which collectors a person uses is private,
//! so the file is encrypted like the keystore: XChaCha20-Poly1305 under
//! `BLAKE3-derive-key("consent-ledger wallet v1 send queue key", master secret)` (only the
//! unlocked wallet can read or write it; no second passphrase), with the format string as
//! associated data. It is written atomically (a new temporary file of mode 0600, never reached
//! through a link, fsynced, renamed over the queue, the directory fsynced: `file`), and a command changes
//! it only while it holds the queue's lock file (`<queue>.lock`, created exclusively, naming its
//! process; a lock whose process has ended, or older than [`LOCK_STALE`], was left by a crashed
//! command and is taken over), so two `consent`
//! processes (a person's command and a timer's `consent queue`) never lose each other's changes.
//!
//! File format (`consent-queue/v1`):
//! ```json
//! { "format": "consent-queue/v1", "cipher": "xchacha20poly1305",
//!   "nonce": "<hex 24>", "ciphertext": "<hex>" }
//! ```
//! The plaintext is the JSON of [`Queue`]: the entries waiting (each as signed, with its
//! collector, what it is, when it is due and the node it goes to), and per feed the last entry a
//! node accepted from this wallet and which node ([`Sent`]): a node that answers an older head
//! for the feed lags, and the wallet refuses to sign on it (that would fork the feed).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use consent_proto::Entry;
use consent_proto::ids::FeedId;
use consent_proto::vocab::Role;
use serde::{Deserialize, Serialize};

mod file;
mod lock;

pub use file::{load, save};
pub use lock::{LOCK_STALE, LOCK_WAIT, QueueLock};

/// Format tag of the file.
pub const FORMAT: &str = "consent-queue/v1";
/// Most entries the queue holds (`consent wallet prepare` for every collector of a city, and a
/// few sittings).
pub const MAX_ITEMS: usize = 1_024;

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
         wallet's, move it away (what it held was never sent)"
    )]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// Another command holds the lock.
    #[error(
        "the send queue {0} is in use by another consent command; try again when it ends (if no \
         consent command runs, remove {0}.lock)"
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
        }
    }

    /// The entry, decoded.
    pub fn decode(&self) -> Result<Entry, String> {
        let bytes = hex::decode(&self.entry).map_err(|e| format!("an entry's hex: {e}"))?;
        Entry::decode(&bytes).map_err(|e| format!("an entry: {e}"))
    }
}

/// The last entry of a feed a node accepted from this wallet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sent {
    /// Its seq.
    pub seq: u64,
    /// The node (URL).
    pub node: String,
}

/// What the queue file holds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Queue {
    /// Entries waiting, in the order they were queued.
    #[serde(default)]
    pub items: Vec<Queued>,
    /// Per feed (`cit1…`), the last entry a node accepted from this wallet through the queue or
    /// on another node than `--node`.
    #[serde(default)]
    pub sent: BTreeMap<String, Sent>,
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

    /// Records that `node` accepted `entry` (the highest seq is kept).
    pub fn record_sent(&mut self, entry: &Entry, node: &str) {
        let key = entry.feed.typed(Role::Citizen).to_string();
        let newer = self.sent.get(&key).is_none_or(|s| s.seq <= entry.seq);
        if newer {
            self.sent.insert(
                key,
                Sent {
                    seq: entry.seq,
                    node: node.to_string(),
                },
            );
        }
    }

    /// What a node accepted of `feed` from this wallet, as recorded.
    pub fn sent_of(&self, feed: &FeedId) -> Option<&Sent> {
        self.sent.get(&feed.typed(Role::Citizen).to_string())
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
mod tests {
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
}
