//! Tests of the parent module.

use std::sync::Arc;

use consent_proto::auth::TOKEN_TTL_MS;
use consent_proto::entry::Author;
use consent_proto::fixtures::{self, T0};
use consent_proto::keys::SecretKey;
use consent_proto::vocab::Role;
use tokio_stream::StreamExt;
use tonic::Code;

use super::*;
use crate::api::auth::fingerprint;
use crate::api::error::REASON_KEY;
use crate::api::error::{KEY_CHANGED, NODE_FULL, NOT_READING, SESSION_EXPIRED, TOO_MANY_STREAMS};
use crate::ledger::WriterThread;
use crate::store::memory::MemoryStore;

fn reason(status: &Status) -> Option<&str> {
    status
        .metadata()
        .get(REASON_KEY)
        .and_then(|v| v.to_str().ok())
}

/// A ledger holding the fixture scene, and the scene's collector.
async fn scene() -> (Ledger, WriterThread, Author) {
    let scene = fixtures::scene(T0);
    let registrars = [scene.registrar.feed()].into_iter().collect();
    let (ledger, writer) = Ledger::open(
        Arc::new(MemoryStore::new()),
        registrars,
        "test",
        Default::default(),
    )
    .expect("open");
    ledger.submit(scene.entries.clone()).await.expect("submit");
    (ledger, writer, scene.collector)
}

/// A session of `collector` that ends `ttl_ms` from now.
fn session(collector: &Author, ttl_ms: u64) -> Session {
    Session {
        collector: collector.feed(),
        expires_ms: crate::clock::Clock::system().now_ms() + ttl_ms,
        key: fingerprint(&collector.key().public()),
        binding: crate::api::tls::Binding::default(),
    }
}

/// Starts a stream from the beginning: its task and its response.
fn start(
    ledger: &Ledger,
    session: Session,
    heartbeat: Duration,
) -> (tokio::task::JoinHandle<()>, Events) {
    let (out, events) = channel();
    let task = tokio::spawn(run(
        ledger.clone(),
        Limiter::new(4),
        session,
        Cursor::default(),
        heartbeat,
        out,
    ));
    (task, events)
}

async fn stop(ledger: Ledger, writer: WriterThread) {
    ledger.shutdown().await;
    drop(ledger);
    writer.join();
}

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
    assert_eq!(reason(&refused), Some(TOO_MANY_STREAMS));
    assert!(watchers.admit(other).is_ok(), "the limit is per collector");
    slots.pop();
    assert_eq!(watchers.open(&me), MAX_STREAMS_PER_COLLECTOR - 1);
    slots.push(watchers.admit(me).expect("a freed slot"));
    drop(slots);
    assert_eq!(watchers.open(&me), 0);
    assert_eq!(watchers.total(), 0);
}

#[test]
fn a_node_serves_at_most_its_limit_of_streams_in_all() {
    assert_eq!(Watchers::default().limit, MAX_STREAMS);
    let watchers = Watchers::with_limit(3);
    let slots: Vec<Slot> = (1..=3u8)
        .map(|i| watchers.admit(FeedId([i; 32])).expect("admitted"))
        .collect();
    // A collector with no stream yet is refused too: the node is full.
    let refused = watchers
        .admit(FeedId([9; 32]))
        .expect_err("one too many for the node");
    assert_eq!(refused.code(), Code::ResourceExhausted);
    assert!(refused.message().starts_with(NODE_FULL), "{refused}");
    assert_eq!(reason(&refused), Some(NODE_FULL));
    assert_eq!(watchers.total(), 3);
    drop(slots);
    assert_eq!(watchers.total(), 0);
    assert!(watchers.admit(FeedId([9; 32])).is_ok(), "a freed place");
}

/// On a paused clock: the runtime moves time forward whenever every task waits.
#[tokio::test(start_paused = true)]
async fn a_stream_ends_when_its_session_expires() {
    let (ledger, writer, collector) = scene().await;
    let started = Instant::now();
    let (_task, mut events) = start(
        &ledger,
        session(&collector, TOKEN_TTL_MS),
        Duration::from_secs(60),
    );
    let ended = tokio::time::timeout(Duration::from_millis(2 * TOKEN_TTL_MS), async {
        loop {
            match events.next().await {
                Some(Ok(_)) => continue,
                Some(Err(status)) => return status,
                None => panic!("the stream ended without saying why"),
            }
        }
    })
    .await
    .expect("the stream ends with its session");
    assert_eq!(ended.code(), Code::Unauthenticated);
    assert_eq!(reason(&ended), Some(SESSION_EXPIRED));
    assert!(ended.message().contains("session expired"), "{ended}");
    assert!(
        ended.message().contains("resume from your cursor"),
        "{ended}"
    );
    assert!(started.elapsed() >= Duration::from_millis(TOKEN_TTL_MS - 1_000));
    assert!(events.next().await.is_none(), "nothing after the end");
    stop(ledger, writer).await;
}

/// The client reads nothing: 100 ms heartbeats fill the buffer in about 26 s, and the
/// stream ends [`SEND_DEADLINE`] later, long before its session would.
#[tokio::test(start_paused = true)]
async fn a_stream_whose_client_does_not_read_ends_within_the_deadline() {
    let (ledger, writer, collector) = scene().await;
    let started = Instant::now();
    let (task, mut events) = start(
        &ledger,
        session(&collector, TOKEN_TTL_MS),
        Duration::from_millis(100),
    );
    tokio::time::timeout(Duration::from_millis(TOKEN_TTL_MS / 2), task)
        .await
        .expect("the stream ends long before its session")
        .expect("the stream's task");
    let waited = started.elapsed();
    let filled = Duration::from_millis(100) * BUFFER as u32;
    assert!(waited >= SEND_DEADLINE, "{waited:?}");
    assert!(
        waited <= filled + SEND_DEADLINE + Duration::from_secs(2),
        "{waited:?}"
    );
    // What was buffered is dropped: the status is what the client reads next, then the end.
    let status = events
        .next()
        .await
        .expect("an item")
        .expect_err("the stream's end");
    assert_eq!(status.code(), Code::ResourceExhausted);
    assert_eq!(reason(&status), Some(NOT_READING));
    assert!(
        status.message().contains("did not read for 30 s"),
        "{status}"
    );
    assert!(events.next().await.is_none(), "nothing after the end");
    stop(ledger, writer).await;
}

/// The buffer is full at about 26 s and the session ends at 40 s, while the stream waits in
/// a send: it ends then, not at the send deadline (and never, before the fix).
#[tokio::test(start_paused = true)]
async fn a_stream_stalled_in_a_send_ends_when_its_session_expires() {
    let (ledger, writer, collector) = scene().await;
    let started = Instant::now();
    let (task, mut events) = start(
        &ledger,
        session(&collector, 40_000),
        Duration::from_millis(100),
    );
    tokio::time::timeout(Duration::from_millis(TOKEN_TTL_MS), task)
        .await
        .expect("the stream ends with its session")
        .expect("the stream's task");
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_secs(39) && waited < Duration::from_secs(45),
        "{waited:?}"
    );
    let status = events
        .next()
        .await
        .expect("an item")
        .expect_err("the stream's end");
    assert_eq!(status.code(), Code::Unauthenticated);
    assert_eq!(reason(&status), Some(SESSION_EXPIRED));
    assert!(events.next().await.is_none(), "nothing after the end");
    stop(ledger, writer).await;
}

/// The collector rotates its key while a stream of the old session waits in a send: the
/// stream ends within a second, with `key-changed`.
#[tokio::test(start_paused = true)]
async fn a_stream_stalled_in_a_send_ends_when_the_key_rotates() {
    let (ledger, writer, mut collector) = scene().await;
    let started = Instant::now();
    let (task, mut events) = start(
        &ledger,
        session(&collector, TOKEN_TTL_MS),
        Duration::from_millis(100),
    );
    // The buffer fills in about 26 s: the stream then waits in a send.
    tokio::time::sleep(Duration::from_secs(27)).await;
    let rotation = collector
        .rotate(T0 + 1, SecretKey::from_seed(&[42; 32]))
        .expect("rotation");
    // Submitted from a blocking thread: the paused clock stands still until it is committed.
    let submitter = ledger.clone();
    let outcomes = tokio::task::spawn_blocking(move || {
        futures::executor::block_on(submitter.submit(vec![rotation]))
    })
    .await
    .expect("the submit's thread")
    .expect("submit");
    assert!(
        matches!(
            outcomes.as_slice(),
            [crate::ledger::Outcome::Accepted { .. }]
        ),
        "{outcomes:?}"
    );
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .expect("the stream ends soon after the rotation")
        .expect("the stream's task");
    assert!(
        started.elapsed() < Duration::from_secs(40),
        "before the send deadline"
    );
    let status = events
        .next()
        .await
        .expect("an item")
        .expect_err("the stream's end");
    assert_eq!(status.code(), Code::Unauthenticated);
    assert_eq!(reason(&status), Some(KEY_CHANGED));
    stop(ledger, writer).await;
}

/// Another collector's entry makes every collector's cached facts stale; a stream's session
/// check must still not wait for the writer (it reads the store only when the collector's own
/// feed may have changed). The writer's lock is held by another thread, which gives up after
/// 10 s: before the fix, the check waited for it.
#[tokio::test]
async fn the_session_check_never_waits_for_the_writer_after_another_collectors_commit() {
    let (ledger, writer, collector) = scene().await;
    let (out, _events) = channel();
    let mut watch = Watch {
        ledger: ledger.clone(),
        limiter: Limiter::new(4),
        session: session(&collector, TOKEN_TTL_MS),
        checked: None,
        ends: Instant::now() + Duration::from_millis(TOKEN_TTL_MS),
        cursor: Cursor::default(),
        out,
    };
    watch.check_session().await.expect("a current session");
    let (_rival, rival0) = fixtures::author(Role::Collector, "rival", T0);
    ledger.submit(vec![rival0]).await.expect("submit");
    assert_eq!(
        Some(ledger.feed_generation(&collector.feed())),
        watch.checked,
        "the collector's own feed did not change"
    );
    assert!(
        ledger.cached_collector_state(&collector.feed()).is_none(),
        "its cached facts are stale"
    );
    let (held_tx, held) = std::sync::mpsc::channel();
    let (release, release_rx) = std::sync::mpsc::channel::<()>();
    let holder = {
        let ledger = ledger.clone();
        std::thread::spawn(move || {
            let _view = ledger.counters().view.write();
            let _ = held_tx.send(());
            release_rx.recv_timeout(Duration::from_secs(10)).is_err()
        })
    };
    held.recv().expect("the writer's lock is held");
    watch
        .check_session()
        .await
        .expect("still a current session");
    let _ = release.send(());
    let gave_up = holder.join().expect("the holder");
    assert!(!gave_up, "the check waited for the writer's lock");
    stop(ledger, writer).await;
}
