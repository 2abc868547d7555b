//! `Consent.Watch`: a collector's stream of what concerns it, resumable from a cursor.
//!
//! The cursor is `next index (8, BE) ‖ expired-through ms (8, BE) ‖ next freeze (8, BE)`: every
//! log event with an arrival index below `next index`, every expiry at or before
//! `expired-through`, and every freeze numbered below `next freeze` has been sent. Log events come
//! from the collector's watch index in arrival order; freezes (which take no log index) from the
//! node's freeze list; expiries are sent when the node's clock passes them (checked every second
//! and at every heartbeat). Resuming sends exactly what the cursor has not covered, so nothing is
//! lost and nothing repeated. The first heartbeat follows the catch-up at once.
//!
//! A stream lives no longer than its session: it ends with UNAUTHENTICATED when the session
//! expires or the collector's key rotates (the client authenticates again and resumes from its
//! cursor). A collector may hold at most [`MAX_STREAMS_PER_COLLECTOR`] streams open on a node at
//! once ([`Watchers`]); one more is refused with RESOURCE_EXHAUSTED, reason
//! [`TOO_MANY_STREAMS`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use consent_proto::Entry;
use consent_proto::body::Body;
use consent_proto::ids::{EntryId, FeedId};
use consent_proto::pb;
use prost::bytes::Bytes;
use tokio::sync::mpsc;
use tonic::metadata::{MetadataMap, MetadataValue};
use tonic::{Code, Status};

use super::auth::Session;
use crate::ledger::{Ledger, now_ms};

/// Events read from the store per step.
const PAGE: usize = 512;
/// Default heartbeat interval.
const DEFAULT_HEARTBEAT_MS: u32 = 5_000;
/// How often expiries are looked for.
const EXPIRY_EVERY: Duration = Duration::from_secs(1);
/// Events buffered per stream before the sender waits for the client.
pub const BUFFER: usize = 256;
/// Watch streams one collector may have open at once on a node.
pub const MAX_STREAMS_PER_COLLECTOR: usize = 4;
/// Why a watch stream was refused for being one too many: the start of the status message, and
/// the value of its `consent-reason` metadata.
pub const TOO_MANY_STREAMS: &str = "too-many-watch-streams";

/// The watch streams open on a node, per collector.
#[derive(Debug, Clone, Default)]
pub struct Watchers(Arc<Mutex<HashMap<FeedId, usize>>>);

/// One admitted stream: its collector's count goes down when this is dropped.
#[derive(Debug)]
pub struct Slot {
    watchers: Watchers,
    collector: FeedId,
}

impl Watchers {
    /// Admits one more stream of `collector`, or refuses it (RESOURCE_EXHAUSTED) if it already has
    /// [`MAX_STREAMS_PER_COLLECTOR`] open.
    pub fn admit(&self, collector: FeedId) -> Result<Slot, Status> {
        let mut open = self
            .0
            .lock()
            .map_err(|_| Status::internal("watch stream registry unusable"))?;
        let n = open.entry(collector).or_insert(0);
        if *n >= MAX_STREAMS_PER_COLLECTOR {
            let mut metadata = MetadataMap::new();
            metadata.insert(
                "consent-reason",
                MetadataValue::from_static(TOO_MANY_STREAMS),
            );
            return Err(Status::with_metadata(
                Code::ResourceExhausted,
                format!(
                    "{TOO_MANY_STREAMS}: a collector may have {MAX_STREAMS_PER_COLLECTOR} watch \
                     streams open at once on a node; close one, or use another node"
                ),
                metadata,
            ));
        }
        *n += 1;
        Ok(Slot {
            watchers: self.clone(),
            collector,
        })
    }

    /// Streams `collector` has open.
    pub fn open(&self, collector: &FeedId) -> usize {
        self.0
            .lock()
            .map(|open| open.get(collector).copied().unwrap_or(0))
            .unwrap_or(0)
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let Ok(mut open) = self.watchers.0.lock()
            && let Some(n) = open.get_mut(&self.collector)
        {
            *n = n.saturating_sub(1);
            if *n == 0 {
                open.remove(&self.collector);
            }
        }
    }
}

/// Where a stream stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Cursor {
    /// First arrival index not yet covered.
    pub next_index: u64,
    /// Expiries at or before this time are covered.
    pub expired_through: u64,
    /// First freeze number not yet covered.
    pub next_freeze: u64,
}

impl Cursor {
    /// Parses a cursor (empty: the beginning).
    pub fn parse(bytes: &[u8]) -> Result<Self, Status> {
        if bytes.is_empty() {
            return Ok(Self::default());
        }
        if bytes.len() != 24 {
            return Err(Status::invalid_argument(format!(
                "cursor: 24 bytes from a WatchEvent expected, got {}",
                bytes.len()
            )));
        }
        let part = |i: usize| {
            let mut b = [0u8; 8];
            b.copy_from_slice(&bytes[i * 8..(i + 1) * 8]);
            u64::from_be_bytes(b)
        };
        Ok(Self {
            next_index: part(0),
            expired_through: part(1),
            next_freeze: part(2),
        })
    }

    /// Its wire form.
    pub fn encode(&self) -> Bytes {
        let mut out = Vec::with_capacity(24);
        out.extend_from_slice(&self.next_index.to_be_bytes());
        out.extend_from_slice(&self.expired_through.to_be_bytes());
        out.extend_from_slice(&self.next_freeze.to_be_bytes());
        Bytes::from(out)
    }
}

/// Validates the heartbeat interval.
pub fn heartbeat(ms: u32) -> Result<Duration, Status> {
    match ms {
        0 => Ok(Duration::from_millis(u64::from(DEFAULT_HEARTBEAT_MS))),
        100..=60_000 => Ok(Duration::from_millis(u64::from(ms))),
        _ => Err(Status::invalid_argument(
            "heartbeat_ms: 0 (default 5000) or 100..=60000",
        )),
    }
}

/// Runs one stream until the client goes away, the node shuts down, or `session` ends (expiry
/// or key rotation: the stream then ends with UNAUTHENTICATED).
pub async fn run(
    ledger: Ledger,
    session: Session,
    mut cursor: Cursor,
    heartbeat: Duration,
    tx: mpsc::Sender<Result<pb::WatchEvent, Status>>,
) {
    let collector = session.collector;
    // Subscribe before reading, so nothing committed in between is missed.
    let mut accepted = ledger.accepted();
    let mut expiry = tokio::time::interval(EXPIRY_EVERY);
    // Its first tick is immediate: the first heartbeat marks the end of the catch-up.
    let mut beat = tokio::time::interval(heartbeat);
    let ends = tokio::time::sleep(Duration::from_millis(
        session.expires_ms.saturating_sub(now_ms()),
    ));
    tokio::pin!(ends);
    loop {
        // A rotation of the collector's key is an accepted entry, which wakes this loop.
        if let Err(ended) = session.check(&ledger, now_ms()) {
            let _ = tx.send(Err(ended)).await;
            return;
        }
        if send_new(&ledger, &collector, &mut cursor, &tx)
            .await
            .is_err()
            || send_freezes(&ledger, &collector, &mut cursor, &tx)
                .await
                .is_err()
        {
            return;
        }
        tokio::select! {
            _ = tx.closed() => return,
            () = &mut ends => {
                let _ = tx.send(Err(Session::expired())).await;
                return;
            }
            r = accepted.recv() => {
                if matches!(r, Err(tokio::sync::broadcast::error::RecvError::Closed)) {
                    return;
                }
            }
            _ = expiry.tick() => {
                if send_expiries(&ledger, &collector, &mut cursor, &tx).await.is_err() {
                    return;
                }
            }
            _ = beat.tick() => {
                if send_expiries(&ledger, &collector, &mut cursor, &tx).await.is_err() {
                    return;
                }
                let event = pb::WatchEvent {
                    kind: pb::WatchKind::Heartbeat as i32,
                    cursor: cursor.encode(),
                    log_size: ledger.stats().log_size,
                    time_ms: now_ms(),
                    ..Default::default()
                };
                if tx.send(Ok(event)).await.is_err() {
                    return;
                }
            }
        }
    }
}

/// The client is gone (or the store failed and the stream ended with an error).
struct Gone;

async fn send_new(
    ledger: &Ledger,
    collector: &FeedId,
    cursor: &mut Cursor,
    tx: &mpsc::Sender<Result<pb::WatchEvent, Status>>,
) -> Result<(), Gone> {
    loop {
        // Everything below this size is committed and visible.
        let size = ledger.stats().log_size;
        let page = match ledger.watch_entries(collector, cursor.next_index, PAGE) {
            Ok(p) => p,
            Err(e) => {
                let _ = tx.send(Err(Status::from(e))).await;
                return Err(Gone);
            }
        };
        let full = page.len() == PAGE;
        for (index, entry) in page {
            cursor.next_index = index + 1;
            if let Some(event) = event(ledger, collector, index, &entry, cursor) {
                tx.send(Ok(event)).await.map_err(|_| Gone)?;
            }
        }
        if !full {
            cursor.next_index = cursor.next_index.max(size);
            return Ok(());
        }
    }
}

async fn send_freezes(
    ledger: &Ledger,
    collector: &FeedId,
    cursor: &mut Cursor,
    tx: &mpsc::Sender<Result<pb::WatchEvent, Status>>,
) -> Result<(), Gone> {
    loop {
        let (frozen, next) = match ledger.freezes(collector, cursor.next_freeze, PAGE) {
            Ok(found) => found,
            Err(e) => {
                let _ = tx.send(Err(Status::from(e))).await;
                return Err(Gone);
            }
        };
        let done = next == cursor.next_freeze;
        for (number, feed) in frozen {
            cursor.next_freeze = number + 1;
            let event = pb::WatchEvent {
                kind: pb::WatchKind::Frozen as i32,
                cursor: cursor.encode(),
                feed: Bytes::copy_from_slice(&feed.0),
                log_size: ledger.stats().log_size,
                time_ms: now_ms(),
                ..Default::default()
            };
            tx.send(Ok(event)).await.map_err(|_| Gone)?;
        }
        cursor.next_freeze = next;
        if done {
            return Ok(());
        }
    }
}

async fn send_expiries(
    ledger: &Ledger,
    collector: &FeedId,
    cursor: &mut Cursor,
    tx: &mpsc::Sender<Result<pb::WatchEvent, Status>>,
) -> Result<(), Gone> {
    let now = now_ms();
    loop {
        let due = match ledger.expiries(collector, cursor.expired_through, now, PAGE) {
            Ok(d) => d,
            Err(e) => {
                let _ = tx.send(Err(Status::from(e))).await;
                return Err(Gone);
            }
        };
        let full = due.len() == PAGE;
        for (valid_until, grant, subject) in due {
            cursor.expired_through = valid_until;
            let event = pb::WatchEvent {
                kind: pb::WatchKind::Expired as i32,
                cursor: cursor.encode(),
                subject: Bytes::copy_from_slice(&subject.0),
                grant: Bytes::copy_from_slice(&grant.0),
                valid_until,
                log_size: ledger.stats().log_size,
                time_ms: now,
                ..Default::default()
            };
            tx.send(Ok(event)).await.map_err(|_| Gone)?;
        }
        if !full {
            cursor.expired_through = cursor.expired_through.max(now);
            return Ok(());
        }
    }
}

/// The event for an entry of the watch index (`cursor` already covers it).
fn event(
    ledger: &Ledger,
    collector: &FeedId,
    index: u64,
    entry: &Entry,
    cursor: &Cursor,
) -> Option<pb::WatchEvent> {
    let mut event = pb::WatchEvent {
        cursor: cursor.encode(),
        index,
        entry: Some(entry.to_signed()),
        log_size: ledger.stats().log_size,
        time_ms: now_ms(),
        ..Default::default()
    };
    let id = |e: &EntryId| Bytes::copy_from_slice(&e.0);
    match &entry.body {
        Body::Grant(g) if g.collector == *collector => {
            event.kind = pb::WatchKind::Grant as i32;
            event.subject = Bytes::copy_from_slice(&entry.feed.0);
            event.grant = id(&entry.id);
            event.valid_until = g.valid_until.unwrap_or(0);
            // An expiry the stream has already passed is reported here, not as EXPIRED.
            event.already_expired = g
                .valid_until
                .is_some_and(|until| until <= cursor.expired_through);
        }
        Body::Revoke(r) => {
            event.kind = pb::WatchKind::Revoke as i32;
            event.subject = Bytes::copy_from_slice(&entry.feed.0);
            event.grant = id(&r.grant);
            event.erase = r.erase;
        }
        Body::Request(r) if r.collector == *collector => {
            event.kind = pb::WatchKind::Request as i32;
            event.subject = Bytes::copy_from_slice(&entry.feed.0);
        }
        Body::Accreditation(a) if a.collector == *collector => {
            event.kind = pb::WatchKind::Accredited as i32;
        }
        Body::Suspension(s) if s.collector == *collector => {
            event.kind = pb::WatchKind::Suspended as i32;
        }
        _ => return None,
    }
    Some(event)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use consent_proto::auth::TOKEN_TTL_MS;
    use consent_proto::fixtures::{self, T0};

    use super::*;
    use crate::api::auth::fingerprint;
    use crate::store::memory::MemoryStore;

    #[test]
    fn a_collector_holds_at_most_the_limit_of_streams_and_dropping_one_frees_it() {
        let watchers = Watchers::default();
        let (me, other) = (FeedId([1; 32]), FeedId([2; 32]));
        let mut slots: Vec<Slot> = (0..MAX_STREAMS_PER_COLLECTOR)
            .map(|_| watchers.admit(me).expect("admitted"))
            .collect();
        let refused = watchers.admit(me).expect_err("one too many");
        assert_eq!(refused.code(), Code::ResourceExhausted);
        assert!(refused.message().starts_with(TOO_MANY_STREAMS));
        assert_eq!(
            refused
                .metadata()
                .get("consent-reason")
                .and_then(|v| v.to_str().ok()),
            Some(TOO_MANY_STREAMS)
        );
        assert!(watchers.admit(other).is_ok(), "the limit is per collector");
        slots.pop();
        assert_eq!(watchers.open(&me), MAX_STREAMS_PER_COLLECTOR - 1);
        slots.push(watchers.admit(me).expect("a freed slot"));
        drop(slots);
        assert_eq!(watchers.open(&me), 0);
    }

    /// On a paused clock: the runtime moves time forward whenever every task waits.
    #[tokio::test(start_paused = true)]
    async fn a_stream_ends_when_its_session_expires() {
        let scene = fixtures::scene(T0);
        let collector = scene.collector.feed();
        let registrars = [scene.registrar.feed()].into_iter().collect();
        let (ledger, writer) = Ledger::open(
            Arc::new(MemoryStore::new()),
            registrars,
            "test",
            Default::default(),
        )
        .expect("open");
        ledger.submit(scene.entries.clone()).await.expect("submit");
        let session = Session {
            collector,
            expires_ms: now_ms() + TOKEN_TTL_MS,
            key: fingerprint(&scene.collector.key().public()),
        };
        let (tx, mut rx) = mpsc::channel(BUFFER);
        let started = tokio::time::Instant::now();
        tokio::spawn(run(
            ledger.clone(),
            session,
            Cursor::default(),
            Duration::from_secs(60),
            tx,
        ));
        let ended = tokio::time::timeout(Duration::from_millis(2 * TOKEN_TTL_MS), async {
            loop {
                match rx.recv().await {
                    Some(Ok(_)) => continue,
                    Some(Err(status)) => return status,
                    None => panic!("the stream ended without saying why"),
                }
            }
        })
        .await
        .expect("the stream ends with its session");
        assert_eq!(ended.code(), Code::Unauthenticated);
        assert!(ended.message().contains("session expired"), "{ended}");
        assert!(
            ended.message().contains("resume from your cursor"),
            "{ended}"
        );
        assert!(started.elapsed() >= Duration::from_millis(TOKEN_TTL_MS - 1_000));
        assert!(rx.recv().await.is_none(), "nothing after the end");
        ledger.shutdown().await;
        drop(ledger);
        writer.join();
    }
}
