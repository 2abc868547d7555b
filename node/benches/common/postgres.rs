//! The consent check as users would build it without us: an indexed lookup in PostgreSQL over
//! loopback. `scripts/bench` starts a throwaway server from the distribution's packages in a
//! temp dir and passes its connection string; this loads the same grants the node holds and
//! asks the same question with the same concurrency (64 callers over 4 connections, prepared
//! statement, tokio-postgres pipelining), so the ratio compares like with like: grant in force
//! for this purpose and category, not revoked, collector accredited. CheckBatch's counterpart
//! asks the same of 1,000 subjects in one query (`subject = ANY($1)`). [`Pool`] keeps its
//! connections (and so the server's processes) for several phases and names its backends, so
//! `cpu.rs` can read the server's CPU time.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use consent_proto::Entry;
use consent_proto::body::Body;
use consent_proto::ids::FeedId;
use consent_proto::vocab::{DataCategory as C, Purpose as P};

use super::{CALLERS, CONNECTIONS};

const SCHEMA: &str = "
DROP TABLE IF EXISTS grants, collectors;
CREATE TABLE collectors (feed bytea PRIMARY KEY, accredited_until bigint NOT NULL);
CREATE TABLE grants (
  id bytea PRIMARY KEY, subject bytea NOT NULL, collector bytea NOT NULL,
  purposes integer NOT NULL, categories integer NOT NULL,
  valid_from bigint NOT NULL, valid_until bigint, revoked boolean NOT NULL DEFAULT false);
CREATE INDEX grants_by_subject ON grants (subject, collector);";

const CHECK: &str = "
SELECT EXISTS (
  SELECT 1 FROM grants g JOIN collectors c ON c.feed = g.collector
  WHERE g.subject = $1 AND g.collector = $2 AND NOT g.revoked
    AND g.purposes & $3 <> 0 AND g.categories & $4 <> 0
    AND g.valid_from <= $5 AND (g.valid_until IS NULL OR g.valid_until > $5)
    AND c.accredited_until > $5)";

/// The same question for many subjects in one query: the subjects allowed come back.
const CHECK_MANY: &str = "
SELECT g.subject FROM grants g JOIN collectors c ON c.feed = g.collector
WHERE g.subject = ANY($1::bytea[]) AND g.collector = $2 AND NOT g.revoked
  AND g.purposes & $3 <> 0 AND g.categories & $4 <> 0
  AND g.valid_from <= $5 AND (g.valid_until IS NULL OR g.valid_until > $5)
  AND c.accredited_until > $5";

/// The grants table's columns, loaded in one statement.
#[derive(Default)]
struct Columns {
    ids: Vec<Vec<u8>>,
    subjects: Vec<Vec<u8>>,
    collectors: Vec<Vec<u8>>,
    purposes: Vec<i32>,
    categories: Vec<i32>,
    valid_from: Vec<i64>,
    valid_until: Vec<Option<i64>>,
}

async fn connect(conninfo: &str) -> anyhow::Result<tokio_postgres::Client> {
    let (client, connection) = tokio_postgres::connect(conninfo, tokio_postgres::NoTls).await?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            eprintln!("postgres connection: {e}");
        }
    });
    Ok(client)
}

/// Loads every grant among `entries` (and the collector's accreditation), then runs the check
/// for `phase`. Returns checks/s and latencies in µs.
pub async fn checks(
    conninfo: &str,
    entries: &[Entry],
    subjects: &[FeedId],
    collector: FeedId,
    phase: Duration,
) -> anyhow::Result<(f64, Vec<u32>)> {
    Pool::open(conninfo, entries, collector)
        .await?
        .checks(subjects, collector, phase)
        .await
}

/// One connection of the pool and the statements prepared on it.
struct Conn {
    client: tokio_postgres::Client,
    check: tokio_postgres::Statement,
    batch: tokio_postgres::Statement,
}

/// [`CONNECTIONS`] connections to a server holding the grants, each with the check prepared, and
/// the pids of the server processes (backends) that serve them.
pub struct Pool {
    conns: Vec<Arc<Conn>>,
    backends: Vec<u32>,
}

/// The question every check asks: `(purpose mask, category mask, now in ms)`.
fn question() -> (i32, i32, i64) {
    (
        1i32 << P::ServiceProvision as i32,
        1i32 << C::Location as i32,
        consent_proto::fixtures::T0 as i64 + 365 * 86_400_000,
    )
}

impl Pool {
    /// Opens the connections, loads every grant among `entries` (and `collector`'s
    /// accreditation) through the first one, then prepares the statements on each. No
    /// connection is closed before the pool is dropped, so the server's set of processes stays
    /// the same from one phase to the next.
    pub async fn open(
        conninfo: &str,
        entries: &[Entry],
        collector: FeedId,
    ) -> anyhow::Result<Self> {
        let mut clients = Vec::new();
        for _ in 0..CONNECTIONS {
            clients.push(connect(conninfo).await?);
        }
        load(&clients[0], entries, collector).await?;
        let mut conns = Vec::new();
        let mut backends = Vec::new();
        for client in clients {
            let pid: i32 = client
                .query_one("SELECT pg_backend_pid()", &[])
                .await?
                .get(0);
            backends.push(u32::try_from(pid)?);
            let check = client.prepare(CHECK).await?;
            let batch = client.prepare(CHECK_MANY).await?;
            conns.push(Arc::new(Conn {
                client,
                check,
                batch,
            }));
        }
        Ok(Self { conns, backends })
    }

    /// The pids of the backends serving the pool's connections (`pg_backend_pid()`).
    pub fn backends(&self) -> &[u32] {
        &self.backends
    }

    /// The check, one subject per query, from [`CALLERS`] callers over the pool's connections
    /// (tokio-postgres pipelines the queries of one connection) for `phase`. Returns checks/s and
    /// latencies in µs.
    pub async fn checks(
        &self,
        subjects: &[FeedId],
        collector: FeedId,
        phase: Duration,
    ) -> anyhow::Result<(f64, Vec<u32>)> {
        let stop = Arc::new(AtomicBool::new(false));
        let subjects = Arc::new(subjects.to_vec());
        let (purpose, category, now) = question();
        let mut tasks = Vec::new();
        for i in 0..CALLERS {
            let conn = Arc::clone(&self.conns[i % self.conns.len()]);
            let (stop, subjects) = (Arc::clone(&stop), Arc::clone(&subjects));
            let collector = collector.0.to_vec();
            tasks.push(tokio::spawn(async move {
                let mut lat = Vec::new();
                let mut n = i;
                while !stop.load(Ordering::Relaxed) {
                    let subject = subjects[n % subjects.len()].0.as_slice();
                    n += CALLERS;
                    let t = Instant::now();
                    let row = conn
                        .client
                        .query_one(
                            &conn.check,
                            &[&subject, &collector.as_slice(), &purpose, &category, &now],
                        )
                        .await?;
                    anyhow::ensure!(
                        row.get::<_, bool>(0),
                        "postgres said no to a granted subject"
                    );
                    lat.push(t.elapsed().as_micros() as u32);
                }
                anyhow::Ok(lat)
            }));
        }
        let start = Instant::now();
        tokio::time::sleep(phase).await;
        stop.store(true, Ordering::Relaxed);
        let mut all = Vec::new();
        for t in tasks {
            all.extend(t.await??);
        }
        Ok((all.len() as f64 / start.elapsed().as_secs_f64(), all))
    }

    /// The check of the first 1,000 `subjects` as ONE query (`subject = ANY($1)` over an array
    /// of them: the subjects allowed come back, the others are denied), the same batch again and
    /// again from 4 callers, one per connection, like CheckBatch's. Returns lookups/s and query
    /// latencies in µs; every query answers `subjects.len().min(1000)` lookups.
    pub async fn batches(
        &self,
        subjects: &[FeedId],
        collector: FeedId,
        phase: Duration,
    ) -> anyhow::Result<(f64, Vec<u32>)> {
        let stop = Arc::new(AtomicBool::new(false));
        let batch: Arc<Vec<Vec<u8>>> =
            Arc::new(subjects.iter().take(1000).map(|s| s.0.to_vec()).collect());
        let (purpose, category, now) = question();
        let mut tasks = Vec::new();
        for i in 0..4 {
            let conn = Arc::clone(&self.conns[i % self.conns.len()]);
            let (stop, batch) = (Arc::clone(&stop), Arc::clone(&batch));
            let collector = collector.0.to_vec();
            tasks.push(tokio::spawn(async move {
                let mut lat = Vec::new();
                let mut lookups = 0usize;
                while !stop.load(Ordering::Relaxed) {
                    let t = Instant::now();
                    let rows = conn
                        .client
                        .query(
                            &conn.batch,
                            &[&*batch, &collector.as_slice(), &purpose, &category, &now],
                        )
                        .await?;
                    anyhow::ensure!(
                        rows.len() == batch.len(),
                        "postgres allowed {} of {} granted subjects",
                        rows.len(),
                        batch.len()
                    );
                    lookups += batch.len();
                    lat.push(t.elapsed().as_micros() as u32);
                }
                anyhow::Ok((lookups, lat))
            }));
        }
        let start = Instant::now();
        tokio::time::sleep(phase).await;
        stop.store(true, Ordering::Relaxed);
        let (mut lookups, mut all) = (0, Vec::new());
        for t in tasks {
            let (n, l) = t.await??;
            lookups += n;
            all.extend(l);
        }
        Ok((lookups as f64 / start.elapsed().as_secs_f64(), all))
    }
}

/// Creates the tables and loads every grant among `entries` (and `collector`'s accreditation),
/// then vacuums and analyses them and writes them out (a checkpoint), so that no phase pays for
/// the load: no hint bits set by the first reads, no dirty pages left for the checkpointer.
async fn load(
    db: &tokio_postgres::Client,
    entries: &[Entry],
    collector: FeedId,
) -> anyhow::Result<()> {
    db.batch_execute(SCHEMA).await?;
    db.execute(
        "INSERT INTO collectors VALUES ($1, $2)",
        &[&collector.0.as_slice(), &i64::MAX],
    )
    .await?;
    let mut c = Columns::default();
    for e in entries {
        if let Body::Grant(g) = &e.body {
            c.ids.push(e.id.0.to_vec());
            c.subjects.push(e.feed.0.to_vec());
            c.collectors.push(g.collector.0.to_vec());
            c.purposes.push(g.purposes.bits() as i32);
            c.categories.push(g.categories.bits() as i32);
            c.valid_from.push(g.valid_from as i64);
            c.valid_until.push(g.valid_until.map(|v| v as i64));
        }
    }
    let loaded = db
        .execute(
            "INSERT INTO grants (id, subject, collector, purposes, categories, valid_from, valid_until)
             SELECT * FROM unnest($1::bytea[], $2::bytea[], $3::bytea[], $4::int[], $5::int[], $6::bigint[], $7::bigint[])",
            &[
                &c.ids,
                &c.subjects,
                &c.collectors,
                &c.purposes,
                &c.categories,
                &c.valid_from,
                &c.valid_until,
            ],
        )
        .await?;
    // One statement per call: VACUUM refuses to run inside the implicit transaction of a
    // multi-statement query.
    db.batch_execute("VACUUM (ANALYZE) grants, collectors")
        .await?;
    // A superuser's right (the bench's throwaway server runs as one); elsewhere the
    // checkpointer writes the pages on its own schedule, perhaps during a phase.
    if let Err(e) = db.batch_execute("CHECKPOINT").await {
        eprintln!("postgres: no CHECKPOINT after loading ({e})");
    }
    eprintln!("postgres: {loaded} grants loaded");
    Ok(())
}
