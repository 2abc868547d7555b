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
    start_with(ledger, session, heartbeat, false)
}

/// [`start`], asking for consultation events or not.
fn start_with(
    ledger: &Ledger,
    session: Session,
    heartbeat: Duration,
    consultations: bool,
) -> (tokio::task::JoinHandle<()>, Events) {
    let (out, events) = channel();
    let task = tokio::spawn(run(
        ledger.clone(),
        Limiter::new(4),
        session,
        Cursor::default(),
        heartbeat,
        consultations,
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
        consultations: false,
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

/// The events of a stream's catch-up (up to its first heartbeat).
async fn catch_up(events: &mut Events) -> Vec<pb::WatchEvent> {
    tokio::time::timeout(Duration::from_secs(10), async {
        let mut out = Vec::new();
        loop {
            let event = events.next().await.expect("an event").expect("no error");
            if event.kind == pb::WatchKind::Heartbeat as i32 {
                return out;
            }
            out.push(event);
        }
    })
    .await
    .expect("the catch-up ends with a heartbeat")
}

/// A collector's draft, three stances on it and a registrar's approval: with the opt-in, the
/// stream sends POLICY for each of its versions (the draft gated, with its state now), one
/// STANCES event for the three consecutive stances (the last one's entry and cursor, the counts
/// as now), and OUTCOME; without it, none of them, and the cursor passes them all.
#[tokio::test]
async fn watch_sends_policy_stances_coalesced_and_outcome_only_when_asked() {
    use consent_proto::vocab::ObjectionReason::{Other, RetentionTooLong};

    let mut scene = fixtures::scene(T0);
    let registrars = [scene.registrar.feed()].into_iter().collect();
    let (ledger, writer) = Ledger::open(
        Arc::new(MemoryStore::new()),
        registrars,
        "test",
        Default::default(),
    )
    .expect("open");
    let closes = T0 + 15 * fixtures::DAY;
    let draft = fixtures::append(
        &mut scene.collector,
        T0 + fixtures::DAY,
        fixtures::draft_policy(2, closes),
    );
    let mut entries = scene.entries.clone();
    entries.push(draft.clone());
    let positions: [&[_]; 3] = [&[], &[RetentionTooLong], &[RetentionTooLong, Other]];
    let mut last_stance = None;
    for (i, reasons) in positions.into_iter().enumerate() {
        let (mut citizen, inception) = fixtures::author(Role::Citizen, &format!("citizen-{i}"), T0);
        let stance = fixtures::append(
            &mut citizen,
            T0 + 2 * fixtures::DAY,
            fixtures::stance(draft.id, reasons),
        );
        last_stance = Some(stance.id);
        entries.extend([inception, stance]);
    }
    let outcome = fixtures::append(
        &mut scene.registrar,
        closes,
        fixtures::outcome(draft.id, true, "no objection stands", &[]),
    );
    entries.push(outcome.clone());
    let outcomes = ledger.submit(entries).await.expect("submit");
    assert!(
        outcomes
            .iter()
            .all(|o| matches!(o, crate::ledger::Outcome::Accepted { .. })),
        "{outcomes:?}"
    );

    let (_task, mut events) = start_with(
        &ledger,
        session(&scene.collector, TOKEN_TTL_MS),
        Duration::from_secs(60),
        true,
    );
    let seen = catch_up(&mut events).await;
    let kinds: Vec<i32> = seen.iter().map(|e| e.kind).collect();
    use pb::WatchKind::{Accredited, Outcome, Policy, Stances};
    assert_eq!(
        kinds,
        vec![
            Policy as i32,
            Accredited as i32,
            Policy as i32,
            Stances as i32,
            Outcome as i32
        ]
    );
    let (v1, drafted, stances, decided) = (&seen[0], &seen[2], &seen[3], &seen[4]);
    assert!(!v1.gated, "version 1 is no draft");
    assert_eq!(v1.state, pb::ConsultationState::Unspecified as i32);
    assert!(drafted.gated, "version 2 widens: a draft");
    assert_eq!(drafted.state, pb::ConsultationState::Approved as i32);
    let entry_id = |e: &pb::WatchEvent| {
        consent_proto::Entry::from_signed(e.entry.as_ref().expect("an entry"))
            .expect("decodes")
            .id
    };
    assert_eq!(entry_id(stances), last_stance.expect("stances"));
    assert_eq!(stances.draft.as_ref(), &draft.id.0[..]);
    let counts = stances.counts.as_ref().expect("counts");
    let others = counts.others.as_ref().expect("others");
    assert_eq!((others.support, others.object), (1, 2));
    assert_eq!(
        counts
            .affected
            .as_ref()
            .map_or((0, 0), |t| (t.support, t.object)),
        (0, 0),
        "nobody holds a grant"
    );
    // The coalesced event's cursor passes the three stances: the next event follows them.
    assert_eq!(
        Cursor::parse(&stances.cursor).expect("cursor").next_index,
        stances.index + 1
    );
    assert_eq!(entry_id(decided), outcome.id);
    assert_eq!(decided.draft.as_ref(), &draft.id.0[..]);
    assert_eq!(decided.state, pb::ConsultationState::Approved as i32);

    // Without the opt-in: only the accreditation; the cursor still passes everything.
    let (_task, mut events) = start(
        &ledger,
        session(&scene.collector, TOKEN_TTL_MS),
        Duration::from_secs(60),
    );
    let seen = catch_up(&mut events).await;
    let kinds: Vec<i32> = seen.iter().map(|e| e.kind).collect();
    assert_eq!(kinds, vec![Accredited as i32]);
    drop(events);
    stop(ledger, writer).await;
}
