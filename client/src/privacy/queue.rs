//! The send queue: entries the wallet signed and sends later ([`super::schedule`]), kept in one
//! file beside the keystore (`<keystore>.queue`, e.g. `keystore.queue` for `keystore.json`) so
//! that they survive the CLI exiting.
//!
//! The entries are signed and public once sent, but which collectors a person uses is private,
//! so the file is encrypted like the keystore: XChaCha20-Poly1305 under
//! `BLAKE3-derive-key("consent-ledger wallet v1 send queue key", master secret)` (only the
//! unlocked wallet can read or write it; no second passphrase), with the format string as
//! associated data. It is written atomically (a new temporary file of mode 0600, never reached
//! through a link, fsynced, renamed over the queue, the directory fsynced), and a command changes
//! it only while it holds the queue's lock file (`<queue>.lock`, created exclusively; a lock
//! older than [`LOCK_STALE`] is left by a crashed command and taken over), so two `consent`
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
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use consent_proto::Entry;
use consent_proto::ids::FeedId;
use consent_proto::vocab::Role;
use serde::{Deserialize, Serialize};

/// Format tag of the file.
pub const FORMAT: &str = "consent-queue/v1";
/// Most entries the queue holds (`consent wallet prepare` for every collector of a city, and a
/// few sittings).
pub const MAX_ITEMS: usize = 1_024;
/// Largest queue file read: every entry at its 8 KiB limit, hex, with room to spare.
const MAX_FILE_BYTES: u64 = 48 * 1024 * 1024;
/// A lock file older than this was left by a command that crashed.
pub const LOCK_STALE: Duration = Duration::from_secs(300);
/// How long a command waits for another to release the lock.
pub const LOCK_WAIT: Duration = Duration::from_secs(30);
const QUEUE_KEY: &str = "consent-ledger wallet v1 send queue key";
const CIPHER: &str = "xchacha20poly1305";

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

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Sealed {
    format: String,
    cipher: String,
    nonce: String,
    ciphertext: String,
}

fn cipher(secret: &[u8; 32]) -> XChaCha20Poly1305 {
    let key = crate::wallet::derive(QUEUE_KEY, &[secret]);
    XChaCha20Poly1305::new(key.as_ref().into())
}

/// Reads the queue at `path` with the wallet's master `secret`; an empty queue when there is no
/// file.
pub fn load(path: &Path, secret: &[u8; 32]) -> Result<Queue, QueueError> {
    let invalid = |message: String| QueueError::Invalid {
        path: path.to_path_buf(),
        message,
    };
    let io = |source| QueueError::Io {
        path: path.to_path_buf(),
        source,
    };
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Queue::default()),
        Err(e) => return Err(io(e)),
    };
    if !meta.is_file() {
        return Err(invalid("not a regular file".into()));
    }
    if meta.len() > MAX_FILE_BYTES {
        return Err(invalid(format!(
            "{} bytes, more than a queue holds",
            meta.len()
        )));
    }
    let text = std::fs::read_to_string(path).map_err(io)?;
    let sealed: Sealed = serde_json::from_str(&text).map_err(|e| invalid(e.to_string()))?;
    if sealed.format != FORMAT || sealed.cipher != CIPHER {
        return Err(invalid(format!("unsupported format {:?}", sealed.format)));
    }
    let nonce: [u8; 24] = hex::decode(&sealed.nonce)
        .ok()
        .and_then(|n| n.try_into().ok())
        .ok_or_else(|| invalid("nonce".into()))?;
    let ciphertext = hex::decode(&sealed.ciphertext).map_err(|e| invalid(e.to_string()))?;
    let plain = zeroize::Zeroizing::new(
        cipher(secret)
            .decrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: &ciphertext,
                    aad: FORMAT.as_bytes(),
                },
            )
            .map_err(|_| {
                invalid("it does not decrypt with this wallet's key, or was altered".into())
            })?,
    );
    let queue: Queue = serde_json::from_slice(&plain).map_err(|e| invalid(e.to_string()))?;
    if queue.items.len() > MAX_ITEMS {
        return Err(invalid(format!("more than {MAX_ITEMS} entries")));
    }
    if let Some(e) = queue.items.iter().find_map(|q| q.decode().err()) {
        return Err(invalid(e));
    }
    Ok(queue)
}

/// Writes `queue` to `path` atomically, encrypted for the wallet's master `secret`; an empty
/// queue with nothing recorded removes the file.
pub fn save(path: &Path, secret: &[u8; 32], queue: &Queue) -> Result<(), QueueError> {
    let io = |source| QueueError::Io {
        path: path.to_path_buf(),
        source,
    };
    if queue.items.is_empty() && queue.sent.is_empty() {
        return match std::fs::remove_file(path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io(e)),
            _ => Ok(()),
        };
    }
    let plain = zeroize::Zeroizing::new(
        serde_json::to_vec(queue).map_err(|e| io(std::io::Error::other(e)))?,
    );
    let mut nonce = [0u8; 24];
    getrandom::fill(&mut nonce)
        .map_err(|e| io(std::io::Error::other(format!("no randomness: {e}"))))?;
    let ciphertext = cipher(secret)
        .encrypt(
            XNonce::from_slice(&nonce),
            Payload {
                msg: &plain,
                aad: FORMAT.as_bytes(),
            },
        )
        .map_err(|e| io(std::io::Error::other(e.to_string())))?;
    let sealed = Sealed {
        format: FORMAT.into(),
        cipher: CIPHER.into(),
        nonce: hex::encode(nonce),
        ciphertext: hex::encode(ciphertext),
    };
    let text = serde_json::to_string_pretty(&sealed).map_err(|e| io(std::io::Error::other(e)))?;
    let tmp = with_suffix(path, ".tmp");
    let mut f = create_temp(&tmp)?;
    f.write_all(text.as_bytes()).map_err(io)?;
    f.sync_all().map_err(io)?;
    drop(f);
    std::fs::rename(&tmp, path).map_err(io)?;
    // The rename itself survives a crash once the directory is synced (best effort: not every
    // platform opens a directory).
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
        && let Ok(d) = std::fs::File::open(dir)
    {
        let _ = d.sync_all();
    }
    Ok(())
}

/// A new temporary file, mode 0600, never reached through a link; a regular file left by a
/// crashed save is replaced, anything else refused.
fn create_temp(tmp: &Path) -> Result<std::fs::File, QueueError> {
    let io = |source| QueueError::Io {
        path: tmp.to_path_buf(),
        source,
    };
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    match options.open(tmp) {
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        other => return other.map_err(io),
    }
    if !std::fs::symlink_metadata(tmp)
        .map_err(io)?
        .file_type()
        .is_file()
    {
        return Err(QueueError::Invalid {
            path: tmp.to_path_buf(),
            message: "something other than a file is where the queue writes its temporary file; \
                      remove it"
                .into(),
        });
    }
    std::fs::remove_file(tmp).map_err(io)?;
    options.open(tmp).map_err(io)
}

/// Locks held by this process, by lock file, with how many guards share each.
static HELD: Mutex<Vec<(PathBuf, usize)>> = Mutex::new(Vec::new());

/// The queue's lock: while a command holds it, no other `consent` process changes the queue.
/// Taken again in the same process it is shared (a command and the functions it calls).
#[derive(Debug)]
pub struct QueueLock {
    lock: PathBuf,
}

impl QueueLock {
    /// Takes the lock of the queue at `queue`, waiting up to [`LOCK_WAIT`] for another command.
    pub fn take(queue: &Path) -> Result<QueueLock, QueueError> {
        Self::take_within(queue, LOCK_WAIT)
    }

    /// [`QueueLock::take`], waiting at most `wait`.
    pub fn take_within(queue: &Path, wait: Duration) -> Result<QueueLock, QueueError> {
        let lock = with_suffix(queue, ".lock");
        {
            let mut held = HELD.lock().unwrap_or_else(|e| e.into_inner());
            if let Some((_, n)) = held.iter_mut().find(|(p, _)| *p == lock) {
                *n += 1;
                return Ok(QueueLock { lock });
            }
        }
        let started = Instant::now();
        loop {
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&lock)
            {
                Ok(mut f) => {
                    let _ = writeln!(f, "{}", std::process::id());
                    HELD.lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push((lock.clone(), 1));
                    return Ok(QueueLock { lock });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let stale = std::fs::metadata(&lock)
                        .and_then(|m| m.modified())
                        .ok()
                        .and_then(|t| t.elapsed().ok())
                        .is_some_and(|age| age > LOCK_STALE);
                    if stale {
                        let _ = std::fs::remove_file(&lock);
                        continue;
                    }
                    if started.elapsed() >= wait {
                        return Err(QueueError::Busy(queue.to_path_buf()));
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(source) => return Err(QueueError::Io { path: lock, source }),
            }
        }
    }
}

impl Drop for QueueLock {
    fn drop(&mut self) {
        let mut held = HELD.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(at) = held.iter().position(|(p, _)| *p == self.lock) {
            held[at].1 -= 1;
            if held[at].1 == 0 {
                held.remove(at);
                let _ = std::fs::remove_file(&self.lock);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use consent_proto::body::{Body, Request};
    use consent_proto::vocab::RequestKind;

    const SECRET: [u8; 32] = [7; 32];

    /// A feed's inception and a request after it.
    fn feed(collector: u8) -> (Entry, Entry) {
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
    fn the_queue_round_trips_encrypted_and_private() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = path_for(&dir.path().join("keystore.json"));
        assert_eq!(path, dir.path().join("keystore.queue"));
        assert_eq!(load(&path, &SECRET).expect("no file"), Queue::default());
        let (inception, request) = feed(1);
        let mut q = Queue::default();
        q.push(Queued::new(
            &inception,
            "col1secret",
            "feed inception",
            5,
            "http://n:1",
        ))
        .expect("push");
        q.push(Queued::new(
            &request,
            "col1secret",
            "request",
            9,
            "http://n:1",
        ))
        .expect("push");
        q.record_sent(&inception, "http://n:2");
        save(&path, &SECRET, &q).expect("save");
        assert_eq!(load(&path, &SECRET).expect("load"), q);
        let text = std::fs::read_to_string(&path).expect("read");
        assert!(!text.contains("col1secret") && !text.contains(&q.items[0].entry[..40]));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert!(
            !with_suffix(&path, ".tmp").exists(),
            "the temporary file is gone"
        );
        // Another wallet's key, or a flipped byte: refused, never half-read.
        assert!(matches!(
            load(&path, &[8; 32]),
            Err(QueueError::Invalid { .. })
        ));
        let sealed: serde_json::Value = serde_json::from_str(&text).expect("json");
        let ct = sealed["ciphertext"].as_str().expect("ct").to_string();
        let flipped = format!(
            "{}{}",
            if ct.starts_with('0') { "1" } else { "0" },
            &ct[1..]
        );
        std::fs::write(&path, text.replace(&ct, &flipped)).expect("write");
        assert!(matches!(
            load(&path, &SECRET),
            Err(QueueError::Invalid { .. })
        ));
        // Empty and with nothing recorded: the file goes.
        save(&path, &SECRET, &Queue::default()).expect("save empty");
        assert!(!path.exists());
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

    #[test]
    fn one_process_at_a_time_and_a_crashed_lock_is_taken_over() {
        let dir = tempfile::tempdir().expect("tempdir");
        let queue = dir.path().join("keystore.queue");
        let lock_file = with_suffix(&queue, ".lock");
        {
            let first = QueueLock::take(&queue).expect("free");
            assert!(lock_file.exists());
            // The same process shares it (a command and what it calls).
            let again = QueueLock::take_within(&queue, Duration::ZERO).expect("shared");
            drop(again);
            assert!(lock_file.exists(), "held while the first guard lives");
            drop(first);
        }
        assert!(!lock_file.exists(), "released");
        // Another process's lock (a file this process did not create): busy.
        std::fs::write(&lock_file, "12345\n").expect("write");
        assert!(matches!(
            QueueLock::take_within(&queue, Duration::ZERO),
            Err(QueueError::Busy(_))
        ));
        // Left by a crash long ago: taken over.
        let old = std::time::SystemTime::now() - LOCK_STALE - Duration::from_secs(1);
        std::fs::File::options()
            .write(true)
            .open(&lock_file)
            .expect("open")
            .set_modified(old)
            .expect("set mtime");
        let taken = QueueLock::take_within(&queue, Duration::ZERO).expect("stale lock taken over");
        drop(taken);
        assert!(!lock_file.exists());
    }
}
