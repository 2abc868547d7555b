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
//! The store is read on blocking threads, a page at a time, under the API's [`Limiter`] (as the
//! collector's checks are).
//!
//! Consultation events are opt-in (`WatchRequest.consultations`: an older client would read an
//! unknown kind as an event it cannot apply): POLICY (a new version of the collector's own
//! policy; with a consultation, one opened: `gated`, `state`), STANCES and OUTCOME (on one of
//! its consultations: `draft`, and `counts` or `state` as the node sees them when it sends).
//! Without the opt-in they are skipped and the cursor still passes them. Within one page read
//! ([`PAGE`] rows), a run of consecutive stances on one draft is sent as one STANCES event, for
//! the last of them (its entry, index and cursor): the rows it stands for lie below its cursor,
//! so resuming loses and repeats nothing.
//!
//! A stream lives no longer than the session it was opened with, and never waits on a client
//! without a limit:
//! - its session is re-checked before every event it sends (lock-free: the clock, and one atomic
//!   read that changes only when the collector's feed may have; only then are the collector's
//!   facts read, from the cache, or on a blocking thread under the API's [`Limiter`]); it ends
//!   with UNAUTHENTICATED and `consent-reason` [`SESSION_EXPIRED`] or [`KEY_CHANGED`] (the client
//!   authenticates again and resumes from its cursor);
//! - a send that finds the buffer ([`BUFFER`] events) full waits for room at most
//!   [`SEND_DEADLINE`], and no later than the session's end; a client that did not read for that
//!   long gets RESOURCE_EXHAUSTED, reason [`NOT_READING`]. A stream that ends on a full buffer
//!   drops what it buffered (the client resumes from the last cursor it received) so that its
//!   status is the next thing the client reads, and no memory stays held for a client that
//!   never reads ([`Events`]).
//!
//! A collector may hold at most [`MAX_STREAMS_PER_COLLECTOR`] streams open on a node at once, and
//! a node serves at most [`MAX_STREAMS`] in all ([`Watchers`]); one more is refused with
//! RESOURCE_EXHAUSTED, reason [`TOO_MANY_STREAMS`] or [`NODE_FULL`].

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use consent_proto::body::Body;
use consent_proto::ids::{EntryId, FeedId};
use consent_proto::pb;
use prost::bytes::Bytes;
use tokio::sync::mpsc;
use tokio::sync::mpsc::error::TrySendError;
use tokio::time::Instant;
use tokio_stream::Stream;
use tonic::Status;

use super::auth::Session;
use super::blocking::Limiter;
use super::error;
use crate::ledger::{Ledger, LedgerError};

mod event;

pub(crate) use self::event::Cursor;
use self::event::{consultation_of, event, stance_draft};

/// Events read from the store per step.
const PAGE: usize = 512;
/// Default heartbeat interval.
const DEFAULT_HEARTBEAT_MS: u32 = 5_000;
/// How often expiries are looked for.
const EXPIRY_EVERY: Duration = Duration::from_secs(1);
/// How often a send waiting for room re-checks the session.
const RECHECK_EVERY: Duration = Duration::from_secs(1);
/// Events buffered per stream before the sender waits for the client.
pub(crate) const BUFFER: usize = 256;
/// How long a stream waits for room in its full buffer (the client reading nothing) before it
/// ends with RESOURCE_EXHAUSTED, reason [`NOT_READING`].
pub(crate) const SEND_DEADLINE: Duration = Duration::from_secs(30);
/// Watch streams one collector may have open at once on a node.
pub const MAX_STREAMS_PER_COLLECTOR: usize = 4;
/// Watch streams a node serves at once, all collectors together.
pub(crate) const MAX_STREAMS: usize = 1_024;

/// The watch streams open on a node, per collector and in all.
#[derive(Debug, Clone)]
pub(crate) struct Watchers {
    open: Arc<Mutex<Open>>,
    /// Streams the node serves at once.
    limit: usize,
}

#[derive(Debug, Default)]
struct Open {
    total: usize,
    per_collector: HashMap<FeedId, usize>,
}

/// One admitted stream: its counts go down when this is dropped.
#[derive(Debug)]
pub(crate) struct Slot {
    watchers: Watchers,
    collector: FeedId,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Default for Watchers {
    fn default() -> Self {
        Self::with_limit(MAX_STREAMS)
    }
}

impl Watchers {
    /// Streams of a node that serves at most `limit` at once.
    pub(crate) fn with_limit(limit: usize) -> Self {
        Self {
            open: Arc::default(),
            limit,
        }
    }

    /// Admits one more stream of `collector`, or refuses it (RESOURCE_EXHAUSTED) if it already has
    /// [`MAX_STREAMS_PER_COLLECTOR`] open, or the node its limit in all.
    pub(crate) fn admit(&self, collector: FeedId) -> Result<Slot, Status> {
        let mut open = lock(&self.open);
        if open.per_collector.get(&collector).copied().unwrap_or(0) >= MAX_STREAMS_PER_COLLECTOR {
            return Err(error::too_many_streams(MAX_STREAMS_PER_COLLECTOR));
        }
        if open.total >= self.limit {
            return Err(error::node_full(self.limit));
        }
        open.total += 1;
        *open.per_collector.entry(collector).or_insert(0) += 1;
        Ok(Slot {
            watchers: self.clone(),
            collector,
        })
    }

    /// Streams `collector` has open.
    #[cfg(test)]
    pub(crate) fn open(&self, collector: &FeedId) -> usize {
        lock(&self.open)
            .per_collector
            .get(collector)
            .copied()
            .unwrap_or(0)
    }

    /// Streams open on the node.
    #[cfg(test)]
    pub(crate) fn total(&self) -> usize {
        lock(&self.open).total
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = lock(&self.watchers.open);
        open.total = open.total.saturating_sub(1);
        if let Some(n) = open.per_collector.get_mut(&self.collector) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                open.per_collector.remove(&self.collector);
            }
        }
    }
}

/// What a stream yields.
type Item = Result<pb::WatchEvent, Status>;

/// The buffer between a stream's task ([`Outbox`]) and its response ([`Events`]).
#[derive(Debug)]
struct Shared {
    /// `None` once the response is dropped, or the stream ended on a full buffer.
    rx: Option<mpsc::Receiver<Item>>,
    /// The status a stream that ended on a full buffer ends with.
    end: Option<Status>,
    /// The response's task, when it last waited for an event.
    waker: Option<Waker>,
}

/// The response stream of a watch: the events, then the status the stream ended with, if any.
#[derive(Debug)]
pub(crate) struct Events {
    shared: Arc<Mutex<Shared>>,
}

/// Where a stream's task puts its events.
#[derive(Debug)]
pub(crate) struct Outbox {
    tx: mpsc::Sender<Item>,
    shared: Arc<Mutex<Shared>>,
}

/// A stream's buffer of [`BUFFER`] events: the task's end and the response's end.
pub(crate) fn channel() -> (Outbox, Events) {
    let (tx, rx) = mpsc::channel(BUFFER);
    let shared = Arc::new(Mutex::new(Shared {
        rx: Some(rx),
        end: None,
        waker: None,
    }));
    (
        Outbox {
            tx,
            shared: Arc::clone(&shared),
        },
        Events { shared },
    )
}

impl Stream for Events {
    type Item = Item;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Item>> {
        let mut guard = lock(&self.shared);
        let shared = &mut *guard;
        match shared.rx.as_mut() {
            Some(rx) => {
                let polled = rx.poll_recv(cx);
                if polled.is_pending()
                    && !shared
                        .waker
                        .as_ref()
                        .is_some_and(|w| w.will_wake(cx.waker()))
                {
                    shared.waker = Some(cx.waker().clone());
                }
                polled
            }
            None => Poll::Ready(shared.end.take().map(Err)),
        }
    }
}

impl Drop for Events {
    fn drop(&mut self) {
        // Closes the channel: the task sees its client gone.
        let mut shared = lock(&self.shared);
        shared.rx = None;
        shared.end = None;
    }
}

impl Outbox {
    /// Ends the stream with `status`, without waiting: after what is buffered if there is room
    /// for it, otherwise instead of what is buffered (the client has not read it; it resumes from
    /// the last cursor it received).
    fn finish(self, status: Status) {
        let waker = {
            let mut shared = lock(&self.shared);
            match self.tx.try_send(Err(status)) {
                Ok(()) | Err(TrySendError::Closed(_)) => None,
                Err(TrySendError::Full(item)) => {
                    shared.rx = None;
                    shared.end = item.err();
                    shared.waker.take()
                }
            }
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

/// Validates the heartbeat interval.
pub(crate) fn heartbeat(ms: u32) -> Result<Duration, Status> {
    match ms {
        0 => Ok(Duration::from_millis(u64::from(DEFAULT_HEARTBEAT_MS))),
        100..=60_000 => Ok(Duration::from_millis(u64::from(ms))),
        _ => Err(error::bad_heartbeat()),
    }
}

/// Runs one stream until the client goes away, the node shuts down (the caller drops this
/// future), the client stops reading (RESOURCE_EXHAUSTED, [`NOT_READING`]), or `session` ends
/// (expiry or key rotation: UNAUTHENTICATED, [`SESSION_EXPIRED`] or [`KEY_CHANGED`]). A cache
/// miss while checking the session is read on a blocking thread under `limiter`.
pub(crate) async fn run(
    ledger: Ledger,
    limiter: Limiter,
    session: Session,
    cursor: Cursor,
    heartbeat: Duration,
    consultations: bool,
    out: Outbox,
) {
    let left = Duration::from_millis(session.expires_ms.saturating_sub(ledger.now_ms()));
    let mut stream = Watch {
        ledger,
        limiter,
        session,
        checked: None,
        ends: Instant::now() + left,
        cursor,
        consultations,
        out,
    };
    let ended = stream.serve(heartbeat).await;
    if let Err(End::Status(status)) = ended {
        stream.out.finish(status);
    }
}

/// Why a stream ends early.
#[derive(Debug)]
enum End {
    /// The client is gone: nothing to say.
    Gone,
    /// End with this status.
    Status(Status),
}

/// One running stream.
struct Watch {
    ledger: Ledger,
    limiter: Limiter,
    session: Session,
    /// The collector's feed generation ([`Ledger::feed_generation`]) at which the session's key
    /// was last found current (`None`: not yet checked).
    checked: Option<u64>,
    /// When the session ends (the node's monotonic clock).
    ends: Instant,
    cursor: Cursor,
    /// The client asked for consultation events.
    consultations: bool,
    out: Outbox,
}

impl Watch {
    /// Streams until the end; `Ok` if the ledger closed (the node is stopping).
    async fn serve(&mut self, heartbeat: Duration) -> Result<(), End> {
        // Subscribe before reading, so nothing committed in between is missed.
        let mut accepted = self.ledger.accepted();
        let mut expiry = tokio::time::interval(EXPIRY_EVERY);
        // Its first tick is immediate: the first heartbeat marks the end of the catch-up.
        let mut beat = tokio::time::interval(heartbeat);
        loop {
            // A rotation of the collector's key is an accepted entry, which wakes this loop.
            self.check_session().await?;
            self.send_new().await?;
            self.send_freezes().await?;
            tokio::select! {
                () = self.out.tx.closed() => return Err(End::Gone),
                () = tokio::time::sleep_until(self.ends) => {
                    return Err(End::Status(Session::expired()));
                }
                r = accepted.recv() => {
                    if matches!(r, Err(tokio::sync::broadcast::error::RecvError::Closed)) {
                        return Ok(());
                    }
                }
                _ = expiry.tick() => self.send_expiries().await?,
                _ = beat.tick() => {
                    self.send_expiries().await?;
                    let event = pb::WatchEvent {
                        kind: pb::WatchKind::Heartbeat as i32,
                        cursor: self.cursor.encode(),
                        log_size: self.ledger.stats().log_size,
                        time_ms: self.ledger.now_ms(),
                        ..Default::default()
                    };
                    self.send(event).await?;
                }
            }
        }
    }

    /// Whether the session still stands. Lock-free unless the collector's feed (or another of
    /// its shard) changed since the key was last found current: then from the cached collector
    /// facts, or on a miss from the store on a blocking thread (under the limiter, and no later
    /// than the session's end).
    async fn check_session(&mut self) -> Result<(), End> {
        let now = self.ledger.now_ms();
        if Instant::now() >= self.ends || self.session.expires_ms <= now {
            return Err(End::Status(Session::expired()));
        }
        // Read before the key, so a rotation that lands in between is seen next time.
        let generation = self.ledger.feed_generation(&self.session.collector);
        if self.checked == Some(generation) {
            return Ok(());
        }
        let verdict = match self.session.check_cached(&self.ledger, now) {
            Some(verdict) => verdict,
            None => {
                let (ledger, session) = (self.ledger.clone(), self.session);
                let check = self
                    .limiter
                    .run(session.collector, move |_| session.check(&ledger, now));
                tokio::select! {
                    verdict = check => verdict,
                    () = tokio::time::sleep_until(self.ends) => Err(Session::expired()),
                }
            }
        };
        verdict.map_err(End::Status)?;
        self.checked = Some(generation);
        Ok(())
    }

    /// Runs one bounded read of the store for this stream on a blocking thread, under the
    /// limiter (as the collector's checks are).
    async fn read<T, F>(&self, work: F) -> Result<T, End>
    where
        T: Send + 'static,
        F: FnOnce(&Ledger) -> Result<T, LedgerError> + Send + 'static,
    {
        let ledger = self.ledger.clone();
        self.limiter
            .run(self.session.collector, move |_| {
                work(&ledger).map_err(Status::from)
            })
            .await
            .map_err(End::Status)
    }

    /// Sends one event once the session is checked. A full buffer is waited on (the session
    /// re-checked every [`RECHECK_EVERY`]) no longer than [`SEND_DEADLINE`] and no later than the
    /// session's end.
    async fn send(&mut self, event: pb::WatchEvent) -> Result<(), End> {
        self.check_session().await?;
        let item = match self.out.tx.try_send(Ok(event)) {
            Ok(()) => return Ok(()),
            Err(TrySendError::Closed(_)) => return Err(End::Gone),
            Err(TrySendError::Full(item)) => item,
        };
        let stalled = Instant::now() + SEND_DEADLINE;
        loop {
            tokio::select! {
                biased;
                permit = self.out.tx.reserve() => {
                    permit.map_err(|_| End::Gone)?.send(item);
                    return Ok(());
                }
                () = tokio::time::sleep_until(self.ends) => {
                    return Err(End::Status(Session::expired()));
                }
                () = tokio::time::sleep_until(stalled) => return Err(End::Status(not_reading())),
                () = tokio::time::sleep(RECHECK_EVERY) => {}
            }
            self.check_session().await?;
        }
    }

    async fn send_new(&mut self) -> Result<(), End> {
        let collector = self.session.collector;
        loop {
            // A long catch-up re-checks its session page by page (and before every event).
            self.check_session().await?;
            // Everything below this size is committed and visible.
            let size = self.ledger.stats().log_size;
            let from = self.cursor.next_index;
            // A revocation's subject is its grant's (read here, off the async threads): a
            // delegate taking back its own grant made in a person's name revokes the person's.
            let page = self
                .read(move |ledger| {
                    let page = ledger.watch_entries(&collector, from, PAGE)?;
                    let mut out = Vec::with_capacity(page.len());
                    for (index, entry) in page {
                        let subject = match &entry.body {
                            Body::Revoke(r) => {
                                ledger.entry(&r.grant)?.and_then(|(_, g)| match &g.body {
                                    Body::Grant(grant) => {
                                        Some(grant.on_behalf.map_or(g.feed, |o| o.person))
                                    }
                                    _ => None,
                                })
                            }
                            _ => None,
                        };
                        out.push((index, entry, subject));
                    }
                    Ok(out)
                })
                .await?;
            let full = page.len() == PAGE;
            let mut rows = page.into_iter().peekable();
            while let Some((index, entry, revoked_subject)) = rows.next() {
                self.cursor.next_index = index + 1;
                // A run of stances on one draft: one event, for the last of them.
                if self.consultations
                    && let Some(draft) = stance_draft(&entry)
                    && rows
                        .peek()
                        .is_some_and(|(_, next, _)| stance_draft(next) == Some(draft))
                {
                    continue;
                }
                let Some(mut event) = event(
                    &self.ledger,
                    &collector,
                    index,
                    &entry,
                    revoked_subject,
                    &self.cursor,
                    self.consultations,
                ) else {
                    continue;
                };
                if let Some(draft) = consultation_of(&entry) {
                    self.describe(&mut event, draft).await?;
                }
                self.send(event).await?;
            }
            if !full {
                self.cursor.next_index = self.cursor.next_index.max(size);
                return Ok(());
            }
        }
    }

    /// Adds to a consultation event what the node sees of the consultation `draft` now: for
    /// POLICY whether it is a draft and its state, for STANCES its counts, for OUTCOME its state.
    async fn describe(&mut self, event: &mut pb::WatchEvent, draft: EntryId) -> Result<(), End> {
        let now = self.ledger.now_ms();
        let Some(summary) = self
            .read(move |ledger| ledger.consultation_summary(&draft, now))
            .await?
        else {
            return Ok(());
        };
        if event.kind == pb::WatchKind::Policy as i32 {
            event.gated = summary.facts.gated;
        }
        if event.kind == pb::WatchKind::Stances as i32 {
            event.counts = Some(summary.counts.to_wire());
        } else {
            event.state = summary.state.to_wire() as i32;
        }
        Ok(())
    }

    async fn send_freezes(&mut self) -> Result<(), End> {
        let collector = self.session.collector;
        loop {
            self.check_session().await?;
            let from = self.cursor.next_freeze;
            let (frozen, next) = self
                .read(move |ledger| ledger.freezes(&collector, from, PAGE))
                .await?;
            let done = next == self.cursor.next_freeze;
            for (number, feed) in frozen {
                self.cursor.next_freeze = number + 1;
                let event = pb::WatchEvent {
                    kind: pb::WatchKind::Frozen as i32,
                    cursor: self.cursor.encode(),
                    feed: Bytes::copy_from_slice(&feed.0),
                    log_size: self.ledger.stats().log_size,
                    time_ms: self.ledger.now_ms(),
                    ..Default::default()
                };
                self.send(event).await?;
            }
            self.cursor.next_freeze = next;
            if done {
                return Ok(());
            }
        }
    }

    async fn send_expiries(&mut self) -> Result<(), End> {
        let collector = self.session.collector;
        let now = self.ledger.now_ms();
        loop {
            self.check_session().await?;
            let after = self.cursor.expired_through;
            let due = self
                .read(move |ledger| ledger.expiries(&collector, after, now, PAGE))
                .await?;
            let full = due.len() == PAGE;
            for (valid_until, grant, subject) in due {
                self.cursor.expired_through = valid_until;
                let event = pb::WatchEvent {
                    kind: pb::WatchKind::Expired as i32,
                    cursor: self.cursor.encode(),
                    subject: Bytes::copy_from_slice(&subject.0),
                    grant: Bytes::copy_from_slice(&grant.0),
                    valid_until,
                    log_size: self.ledger.stats().log_size,
                    time_ms: now,
                    ..Default::default()
                };
                self.send(event).await?;
            }
            if !full {
                self.cursor.expired_through = self.cursor.expired_through.max(now);
                return Ok(());
            }
        }
    }
}

/// The status that ends a stream whose client read nothing for [`SEND_DEADLINE`].
fn not_reading() -> Status {
    error::not_reading(SEND_DEADLINE, BUFFER)
}

#[cfg(test)]
mod tests;
