//! While a node runs: its critical parts are supervised; when it stops — asked to, or because a
//! critical part ended — it stops in stages, each finished before the next begins:
//!
//! 1. stop accepting: gRPC and the side listeners take no new connections; calls and streams in
//!    flight get `[grpc] drain` to finish, then their connections are closed;
//! 2. stop p2p and background work (the checkpoint ticker, the transparency register), and wait
//!    for every tracked task;
//! 3. the writer finishes what is queued, flushes and stops;
//! 4. the store closes when the last ledger handle is gone (signalled, not polled);
//! 5. the address files go.

use std::path::PathBuf;
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::ledger::{Ledger, WriterThread};

/// How long tracked tasks and the last ledger handles may take to end once their stage begins
/// (beyond it the node says what it is still waiting for and goes on).
const STAGE_BOUND: Duration = Duration::from_secs(10);

/// The tokens each stage cancels, and the tracker of what must end before the writer stops.
#[derive(Clone, Debug)]
pub(super) struct Stages {
    /// Cancelled to ask the node to stop ([`super::Node::shutdown`], SIGTERM).
    pub asked: CancellationToken,
    /// Stage 1: listeners stop accepting; calls and streams drain.
    pub accepting: CancellationToken,
    /// Stage 2: p2p and background work stop.
    pub background: CancellationToken,
    /// Side servers, background tasks, open gRPC connections.
    pub tasks: TaskTracker,
}

impl Stages {
    pub(super) fn new() -> Stages {
        Stages {
            asked: CancellationToken::new(),
            accepting: CancellationToken::new(),
            background: CancellationToken::new(),
            tasks: TaskTracker::new(),
        }
    }
}

/// What a running node's supervisor holds.
pub(super) struct Running {
    pub stages: Stages,
    /// Serving gRPC until stage 1 is over.
    pub serving: JoinHandle<Result<(), crate::api::ServeError>>,
    /// The critical tasks.
    pub ticker: JoinHandle<()>,
    pub p2p_task: Option<JoinHandle<()>>,
    pub ledger: Ledger,
    pub writer: WriterThread,
    pub data_dir: PathBuf,
}

/// Runs until the node is asked to stop or a critical part ends, then stops it in stages.
/// `Err` when it stopped because something failed.
pub(super) async fn supervise(running: Running) -> anyhow::Result<()> {
    let Running {
        stages,
        serving,
        ticker,
        p2p_task,
        ledger,
        writer,
        data_dir,
    } = running;
    let (mut serving, mut ticker, mut p2p_task) = (Some(serving), Some(ticker), p2p_task);
    // Supervision: gRPC serving, the writer, the p2p task and the checkpoint ticker are critical.
    // If one ends before the node is asked to stop, the node stops, saying which.
    let failed = tokio::select! {
        () = stages.asked.cancelled() => None,
        ended = wait(&mut serving) => Some(format!("the gRPC server stopped ({ended})")),
        () = ledger.writer_stopped() => Some("the ledger's writer thread stopped (a panic or a store failure is in the log above)".to_string()),
        ended = wait(&mut ticker) => Some(format!("the checkpoint ticker stopped ({ended})")),
        ended = wait(&mut p2p_task) => Some(format!("the p2p task stopped ({ended})")),
    };
    if let Some(why) = &failed {
        tracing::error!(reason = %why, "a critical part of the node stopped: stopping the node");
    }
    stages.asked.cancel();

    // 1. Stop accepting; drain (the server closes what is left after its drain time).
    stages.accepting.cancel();
    let served = match serving {
        Some(serving) => match serving.await {
            Ok(served) => served.map_err(anyhow::Error::from),
            Err(e) => Err(anyhow::anyhow!("the gRPC server task failed: {e}")),
        },
        None => Ok(()),
    };
    // 2. Stop p2p and background work; wait for every tracked task.
    stages.background.cancel();
    for (what, task) in [
        ("the checkpoint ticker", ticker),
        ("the p2p task", p2p_task),
    ] {
        let Some(mut task) = task else { continue };
        if tokio::time::timeout(STAGE_BOUND, &mut task).await.is_err() {
            tracing::warn!("{what} still running {STAGE_BOUND:?} into the stop; aborting it");
            task.abort();
            let _ = task.await;
        }
    }
    stages.tasks.close();
    if tokio::time::timeout(STAGE_BOUND, stages.tasks.wait())
        .await
        .is_err()
    {
        tracing::warn!(
            left = stages.tasks.len(),
            "background tasks still running {STAGE_BOUND:?} into the stop; going on"
        );
    }
    // 3. The writer flushes and stops: submissions still queued (none acknowledged) are
    //    answered "shutting down" rather than written, so the queue cannot hold the stop up.
    ledger.shutdown().await;
    let closed = ledger.closed();
    drop(ledger);
    tokio::task::spawn_blocking(move || writer.join()).await?;
    // 4. The store closes with the last ledger handle.
    if tokio::time::timeout(STAGE_BOUND, closed.cancelled())
        .await
        .is_err()
    {
        tracing::warn!(
            "a ledger handle is still held {STAGE_BOUND:?} into the stop: the store closes when it goes"
        );
    }
    // 5. No address file outlives the node.
    super::files::remove_all(&data_dir);
    tracing::info!("node stopped; store flushed");
    match failed {
        Some(why) => Err(anyhow::anyhow!("{why}")),
        None => served,
    }
}

/// Waits for a critical task to end, if there is one (forever otherwise); says how it ended and
/// forgets it, so that it is not awaited twice.
async fn wait<T>(task: &mut Option<JoinHandle<T>>) -> String {
    let Some(handle) = task.as_mut() else {
        return std::future::pending().await;
    };
    let ended = handle.await;
    *task = None;
    match ended {
        Ok(_) => "it returned".into(),
        Err(e) if e.is_panic() => "it panicked; see the log".into(),
        Err(e) => e.to_string(),
    }
}
