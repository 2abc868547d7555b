//! `Consent.Watch`: a collector's stream of what concerns it, resumable from a cursor.
//!
//! The cursor is `next index (8, BE) ‖ expired-through ms (8, BE) ‖ next freeze (8, BE)`: every
//! log event with an arrival index below `next index`, every expiry at or before
//! `expired-through`, and every freeze numbered below `next freeze` has been sent. Log events come
//! from the collector's watch index in arrival order; freezes (which take no log index) from the
//! node's freeze list; expiries are sent when the node's clock passes them (checked every second
//! and at every heartbeat). Resuming sends exactly what the cursor has not covered, so nothing is
//! lost and nothing repeated. The first heartbeat follows the catch-up at once.

use std::time::Duration;

use consent_proto::Entry;
use consent_proto::body::Body;
use consent_proto::ids::{EntryId, FeedId};
use consent_proto::pb;
use prost::bytes::Bytes;
use tokio::sync::mpsc;
use tonic::Status;

use crate::ledger::{Ledger, now_ms};

/// Events read from the store per step.
const PAGE: usize = 512;
/// Default heartbeat interval.
const DEFAULT_HEARTBEAT_MS: u32 = 5_000;
/// How often expiries are looked for.
const EXPIRY_EVERY: Duration = Duration::from_secs(1);
/// Events buffered per stream before the sender waits for the client.
pub const BUFFER: usize = 256;

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

/// Runs one stream until the client goes away or the node shuts down.
pub async fn run(
    ledger: Ledger,
    collector: FeedId,
    mut cursor: Cursor,
    heartbeat: Duration,
    tx: mpsc::Sender<Result<pb::WatchEvent, Status>>,
) {
    // Subscribe before reading, so nothing committed in between is missed.
    let mut accepted = ledger.accepted();
    let mut expiry = tokio::time::interval(EXPIRY_EVERY);
    // Its first tick is immediate: the first heartbeat marks the end of the catch-up.
    let mut beat = tokio::time::interval(heartbeat);
    loop {
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
