//! The consent check as users would build it without us: an indexed lookup in PostgreSQL over
//! loopback. `scripts/bench` starts a throwaway server from the distribution's packages in a
//! temp dir and passes its connection string; this loads the same grants the node holds and
//! asks the same question with the same concurrency (64 callers over 4 connections, prepared
//! statement, tokio-postgres pipelining), so the ratio compares like with like: grant in force
//! for this purpose and category, not revoked, collector accredited.

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
    let db = connect(conninfo).await?;
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
    db.batch_execute("ANALYZE grants; ANALYZE collectors;")
        .await?;
    eprintln!("postgres: {loaded} grants loaded");

    let mut clients = Vec::new();
    for _ in 0..CONNECTIONS {
        let c = connect(conninfo).await?;
        let statement = c.prepare(CHECK).await?;
        clients.push(Arc::new((c, statement)));
    }
    let stop = Arc::new(AtomicBool::new(false));
    let subjects = Arc::new(subjects.to_vec());
    let now = consent_proto::fixtures::T0 as i64 + 365 * 86_400_000;
    let (purpose, category) = (
        1i32 << P::ServiceProvision as i32,
        1i32 << C::Location as i32,
    );
    let mut tasks = Vec::new();
    for i in 0..CALLERS {
        let client = Arc::clone(&clients[i % clients.len()]);
        let (stop, subjects) = (Arc::clone(&stop), Arc::clone(&subjects));
        let collector = collector.0.to_vec();
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut n = i;
            while !stop.load(Ordering::Relaxed) {
                let subject = subjects[n % subjects.len()].0.as_slice();
                n += CALLERS;
                let t = Instant::now();
                let row = client
                    .0
                    .query_one(
                        &client.1,
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
