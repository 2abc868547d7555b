//! The API's blocking work (checks that miss the cache, batches, signed receipts with their
//! evidence, session lookups that miss the cache, `Authenticate`'s signature check, the pages a
//! watch stream reads): bounded, fair between collectors, and cancelled when its request goes
//! away.
//!
//! tokio's blocking pool (512 threads) is shared with the rest of the node (p2p sync serving, the
//! transparency register's reads, store flushes), and a blocking task runs to its end even when
//! the request that started it is dropped (the request timeout, a client gone). So the API runs
//! such work through a [`Limiter`]: at most the limiter's permits of tasks at once on a node
//! (`2 x available cores`, at least 4), at most half of them for one collector; a permit is
//! awaited *before* the task is spawned, so waiting holds no thread. Each task gets a [`Cancel`]
//! flag, set as soon as its request future is dropped; long work (a batch, the search for a
//! revocation) checks it between steps and stops early.
//!
//! Calls that answer anyone (entries, heads, proofs, status, answer times, stream pages) have
//! no collector to charge: their short reads run on a blocking thread through [`read`], which
//! lets at most [`PUBLIC_READS`] run at once in the process (the others wait for a turn holding
//! no thread; a turn is held until its read has finished, even if its request went away).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use consent_proto::ids::FeedId;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tonic::Status;

use super::error;

/// Permits per available core.
const PERMITS_PER_CORE: usize = 2;
/// Fewest permits a node has.
const MIN_PERMITS: usize = 4;
/// Collectors tracked before idle entries are pruned.
const PRUNE_AT: usize = 4_096;

/// Bounds the API's concurrent blocking work. Cheap to clone.
#[derive(Debug, Clone)]
pub(crate) struct Limiter(Arc<Inner>);

#[derive(Debug)]
struct Inner {
    /// Every task of the node.
    all: Arc<Semaphore>,
    /// Permits one collector may hold at once.
    per_collector: usize,
    /// Each collector's own semaphore, while it holds or awaits a permit.
    collectors: Mutex<HashMap<FeedId, Arc<Semaphore>>>,
}

/// Leave to run one blocking task: returned to the limiter when dropped.
#[derive(Debug)]
pub(crate) struct Permit {
    inner: Arc<Inner>,
    collector: FeedId,
    mine: Option<OwnedSemaphorePermit>,
    all: Option<OwnedSemaphorePermit>,
}

/// Set once the request a blocking task works for is gone: stop and return early.
#[derive(Debug, Clone, Default)]
pub(crate) struct Cancel(Arc<AtomicBool>);

/// Sets its [`Cancel`] when dropped (the request future ended or was dropped).
struct CancelOnDrop(Cancel);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.0.store(true, Ordering::Release);
    }
}

impl Cancel {
    /// Whether the request is gone.
    pub(crate) fn is_set(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }

    /// `Err(CANCELLED)` once the request is gone: for `?` between the steps of long work.
    pub(crate) fn check(&self) -> Result<(), Status> {
        if self.is_set() {
            Err(error::request_dropped())
        } else {
            Ok(())
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Limiter {
    /// A limiter of `permits` tasks at once (at least 1), at most half of them (at least 1) for
    /// one collector.
    pub(crate) fn new(permits: usize) -> Self {
        let permits = permits.max(1);
        Self(Arc::new(Inner {
            all: Arc::new(Semaphore::new(permits)),
            per_collector: (permits / 2).max(1),
            collectors: Mutex::default(),
        }))
    }

    /// The limiter for this machine: [`PERMITS_PER_CORE`] per available core, at least
    /// [`MIN_PERMITS`].
    pub(crate) fn for_this_machine() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
        Self::new((PERMITS_PER_CORE * cores).max(MIN_PERMITS))
    }

    /// Tasks one collector may run at once.
    #[cfg(test)]
    pub(crate) fn per_collector(&self) -> usize {
        self.0.per_collector
    }

    /// Waits (holding no thread) for leave to run one task for `collector`.
    pub(crate) async fn acquire(&self, collector: FeedId) -> Result<Permit, Status> {
        let closed = error::shutting_down;
        let mine = {
            let mut collectors = lock(&self.0.collectors);
            if collectors.len() >= PRUNE_AT {
                // Entries left by requests dropped while they waited.
                collectors.retain(|_, s| Arc::strong_count(s) > 1);
            }
            Arc::clone(
                collectors
                    .entry(collector)
                    .or_insert_with(|| Arc::new(Semaphore::new(self.0.per_collector))),
            )
        };
        let mine = mine.acquire_owned().await.map_err(|_| closed())?;
        // From here on, dropping `permit` (this future dropped too) tidies up.
        let mut permit = Permit {
            inner: Arc::clone(&self.0),
            collector,
            mine: Some(mine),
            all: None,
        };
        permit.all = Some(
            Arc::clone(&self.0.all)
                .acquire_owned()
                .await
                .map_err(|_| closed())?,
        );
        Ok(permit)
    }

    /// Runs `work` for `collector` on a blocking thread once a permit is free, and returns what
    /// it returns. The permit goes with the task (it is held until the work really ends, even if
    /// this future is dropped); dropping this future sets the work's [`Cancel`].
    pub(crate) async fn run<T, F>(&self, collector: FeedId, work: F) -> Result<T, Status>
    where
        T: Send + 'static,
        F: FnOnce(&Cancel) -> Result<T, Status> + Send + 'static,
    {
        let permit = self.acquire(collector).await?;
        let cancel = Cancel::default();
        let _on_drop = CancelOnDrop(cancel.clone());
        let task = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            work(&cancel)
        });
        task.await.map_err(|e| error::blocking_task(&e))?
    }
}

/// Blocking threads that public reads may hold at once in this process; beyond it they wait
/// for a turn holding no thread, so that no caller can fill tokio's blocking pool (512 threads)
/// with reads and starve the writer's and the collectors' blocking work.
pub(crate) const PUBLIC_READS: usize = 16;

/// The turns of [`read`] (one owner: this module).
static PUBLIC_TURNS: Semaphore = Semaphore::const_new(PUBLIC_READS);

/// Runs a short read (a few keys, or one bounded page) on a blocking thread, for calls that
/// answer anyone and so have no collector to charge it to (`Ledger`, `Log`, `Node`): the store
/// is never read on the async threads, and at most [`PUBLIC_READS`] such reads run at once.
pub(crate) async fn read<T, F>(work: F) -> Result<T, Status>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, Status> + Send + 'static,
{
    let turn = PUBLIC_TURNS
        .acquire()
        .await
        .map_err(|_| error::shutting_down())?;
    // The turn goes with the work: a request that goes away (a reset, the timeout) does not give
    // it back before its read has finished.
    tokio::task::spawn_blocking(move || {
        let _turn = turn;
        work()
    })
    .await
    .map_err(|e| error::blocking_task(&e))?
}

impl Drop for Permit {
    fn drop(&mut self) {
        drop(self.all.take());
        let Some(mine) = self.mine.take() else {
            return;
        };
        let mut collectors = lock(&self.inner.collectors);
        drop(mine);
        // Forget the collector when nobody holds or awaits its semaphore (a waiter holds a clone).
        if collectors
            .get(&self.collector)
            .is_some_and(|s| Arc::strong_count(s) == 1)
        {
            collectors.remove(&self.collector);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;
    use std::time::Duration;

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn with_every_permit_held_more_work_waits_without_a_thread() {
        let limiter = Limiter::new(4);
        assert_eq!(limiter.per_collector(), 2);
        let (a, b, c) = (FeedId([1; 32]), FeedId([2; 32]), FeedId([3; 32]));
        let mut held = Vec::new();
        for collector in [a, a, b, b] {
            held.push(limiter.acquire(collector).await.expect("a permit"));
        }
        let ran = Arc::new(AtomicUsize::new(0));
        let work = {
            let ran = Arc::clone(&ran);
            limiter.run(c, move |_| {
                ran.fetch_add(1, Ordering::SeqCst);
                Ok(())
            })
        };
        tokio::pin!(work);
        // A paused clock: the runtime moves it on when every task waits (a spawned blocking task
        // would hold it still), so this only times out if the work is waiting for a permit.
        assert!(
            tokio::time::timeout(Duration::from_secs(60), &mut work)
                .await
                .is_err(),
            "the work waits for a permit"
        );
        assert_eq!(ran.load(Ordering::SeqCst), 0, "nothing was spawned");
        drop(held.pop());
        tokio::time::timeout(Duration::from_secs(60), &mut work)
            .await
            .expect("it runs once a permit is free")
            .expect("its result");
        assert_eq!(ran.load(Ordering::SeqCst), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn one_collector_holds_at_most_half_the_permits() {
        let limiter = Limiter::new(4);
        let (a, b) = (FeedId([1; 32]), FeedId([2; 32]));
        let first = limiter.acquire(a).await.expect("a permit");
        let second = limiter.acquire(a).await.expect("a permit");
        assert!(
            tokio::time::timeout(Duration::from_secs(60), limiter.acquire(a))
                .await
                .is_err(),
            "a third permit for one collector waits"
        );
        let other = tokio::time::timeout(Duration::from_secs(60), limiter.acquire(b))
            .await
            .expect("another collector is not held up")
            .expect("a permit");
        drop((first, second, other));
        assert!(
            lock(&limiter.0.collectors).is_empty(),
            "idle collectors are forgotten"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_dropped_request_stops_its_work_early() {
        const STEPS: usize = 1_000;
        let limiter = Limiter::new(4);
        let (started_tx, started) = tokio::sync::oneshot::channel();
        let (go, wait) = std::sync::mpsc::channel::<()>();
        let (done_tx, done) = tokio::sync::oneshot::channel();
        let steps = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&steps);
        let request = tokio::spawn({
            let limiter = limiter.clone();
            async move {
                limiter
                    .run(FeedId([1; 32]), move |cancel| {
                        let mut started_tx = Some(started_tx);
                        for _ in 0..STEPS {
                            if cancel.check().is_err() {
                                break;
                            }
                            counted.fetch_add(1, Ordering::SeqCst);
                            if let Some(tx) = started_tx.take() {
                                let _ = tx.send(());
                                // Hold here until the request is gone.
                                let _ = wait.recv();
                            }
                        }
                        let _ = done_tx.send(());
                        Ok(())
                    })
                    .await
            }
        });
        started.await.expect("the work started");
        // The request goes away (a timeout or a client gone drops its future).
        request.abort();
        assert!(request.await.expect_err("aborted").is_cancelled());
        go.send(()).expect("the work waits");
        done.await.expect("the work ended");
        assert_eq!(
            steps.load(Ordering::SeqCst),
            1,
            "the work stopped at its first check after the request was dropped"
        );
        // Its permit came back when it ended: the collector may take both of its permits again
        // (the paused clock stands still while the blocking task runs).
        let mut back = Vec::new();
        for _ in 0..limiter.per_collector() {
            let permit =
                tokio::time::timeout(Duration::from_secs(60), limiter.acquire(FeedId([1; 32])))
                    .await
                    .expect("the task's permit is back")
                    .expect("a permit");
            back.push(permit);
        }
    }

    /// Public reads queue for a turn: however many are asked at once, at most [`PUBLIC_READS`]
    /// hold a blocking thread, and the others run as turns come free.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn public_reads_hold_at_most_their_bound_of_blocking_threads() {
        use std::sync::{Condvar, Mutex as StdMutex};
        let running = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let gate = Arc::new((StdMutex::new(false), Condvar::new()));
        let asked = PUBLIC_READS + 8;
        let reads: Vec<_> = (0..asked)
            .map(|_| {
                let (running, most, gate) = (running.clone(), most.clone(), gate.clone());
                tokio::spawn(read(move || {
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    let (open, turned) = &*gate;
                    let mut open = open.lock().expect("gate");
                    while !*open {
                        open = turned.wait(open).expect("gate");
                    }
                    running.fetch_sub(1, Ordering::SeqCst);
                    Ok(())
                }))
            })
            .collect();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while running.load(Ordering::SeqCst) < PUBLIC_READS {
            assert!(
                tokio::time::Instant::now() < deadline,
                "reads did not start"
            );
            tokio::task::yield_now().await;
        }
        assert_eq!(PUBLIC_TURNS.available_permits(), 0, "every turn is taken");
        assert_eq!(running.load(Ordering::SeqCst), PUBLIC_READS);
        {
            let (open, turned) = &*gate;
            *open.lock().expect("gate") = true;
            turned.notify_all();
        }
        for r in reads {
            r.await.expect("task").expect("read");
        }
        assert_eq!(
            most.load(Ordering::SeqCst),
            PUBLIC_READS,
            "never more at once"
        );
        assert_eq!(PUBLIC_TURNS.available_permits(), PUBLIC_READS);
    }
}
