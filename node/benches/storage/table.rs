//! The table the bench prints and writes: each size's rows, then the growth of each figure from
//! the first size to the last, against the targets.

use crate::common::{Row, at_most};
use crate::host::IDLE_LIMIT;
use crate::measure::Point;
use crate::population;

/// Restart targets, seconds (issue 23: at most 3 s at 10M entries).
const RESTART_TARGET: f64 = 3.0;

/// The table: each size's rows, then the growth from the first size to the last.
pub fn rows(points: &[Point], engine: &str) -> Vec<Row> {
    let mut rows = Vec::new();
    for p in points {
        let at = format!("at {}k entries ({engine})", p.entries / 1000);
        rows.push(Row {
            name: format!("on-disk bytes per entry {at}"),
            value: p.bytes_per_entry,
            unit: "B/entry",
            baseline: Some(("raw signed entry".into(), p.raw_per_entry)),
            target: at_most(3.0),
            extra: "after a clean stop".into(),
        });
        rows.push(Row {
            name: format!("node RSS after ingest {at}"),
            value: p.rss_loaded,
            unit: "MiB",
            baseline: Some((
                "raw log".into(),
                p.raw_per_entry * p.entries as f64 / 1048576.0,
            )),
            target: None,
            extra: String::new(),
        });
        rows.push(Row {
            name: format!("node RSS after restart {at}"),
            value: p.rss_restarted,
            unit: "MiB",
            baseline: None,
            target: None,
            extra: match p.idle_after {
                Some(t) => format!("idle {:.1} s after its first answer", t.as_secs_f64()),
                None => format!("not idle {} s after its first answer", IDLE_LIMIT.as_secs()),
            },
        });
        rows.push(Row {
            name: format!("restart after kill -9 {at}"),
            value: p.restart_killed.as_secs_f64(),
            unit: "s",
            baseline: None,
            target: at_most(RESTART_TARGET),
            extra: "SIGKILL right after ingest; spawn to first Status answer".into(),
        });
        rows.push(Row {
            name: format!("restart after a clean stop {at}"),
            value: p.restart.as_secs_f64(),
            unit: "s",
            baseline: None,
            target: at_most(RESTART_TARGET),
            extra: "SIGTERM; spawn to first Status answer".into(),
        });
        rows.push(Row {
            name: format!("SubmitBatch ingest up to {}k", p.entries / 1000),
            value: p.ingest_rate,
            unit: "entries/s",
            baseline: None,
            target: None,
            extra: p.off_clock.clone(),
        });
        rows.push(Row {
            name: format!(
                "SubmitBatch ingest, last {}k entries up to {}k",
                p.ingest_at.0 / 1000,
                p.entries / 1000
            ),
            value: p.ingest_at.1,
            unit: "entries/s",
            baseline: None,
            target: None,
            extra: String::new(),
        });
        rows.push(Row {
            name: format!("Check after restart {at}"),
            value: p.checks,
            unit: "checks/s",
            baseline: None,
            target: None,
            extra: format!(
                "{}; 64 callers, subjects uniform over {} citizens",
                p.checks_latency, p.citizens
            ),
        });
        rows.push(Row {
            name: format!("CheckBatch after restart {at}"),
            value: p.batches,
            unit: "decisions/s",
            baseline: None,
            target: None,
            extra: format!(
                "calls {}; {} checks per call, 4 callers, subjects uniform over {} citizens",
                p.batches_latency,
                population::BATCH,
                p.citizens
            ),
        });
    }
    if let (Some(first), Some(last)) = (points.first(), points.last())
        && points.len() > 1
    {
        let growth = |name: &str, a: f64, b: f64, unit: &'static str, target: Option<f64>| Row {
            name: format!(
                "growth {}k -> {}k: {name} ({engine})",
                first.entries / 1000,
                last.entries / 1000
            ),
            value: b,
            unit,
            baseline: Some((format!("at {}k", first.entries / 1000), a)),
            target,
            extra: String::new(),
        };
        rows.push(growth(
            "bytes per entry",
            first.bytes_per_entry,
            last.bytes_per_entry,
            "B/entry",
            None,
        ));
        rows.push(growth(
            "RSS after ingest",
            first.rss_loaded,
            last.rss_loaded,
            "MiB",
            None,
        ));
        rows.push(growth(
            "RSS after restart",
            first.rss_restarted,
            last.rss_restarted,
            "MiB",
            None,
        ));
        rows.push(growth(
            "restart time after kill -9",
            first.restart_killed.as_secs_f64(),
            last.restart_killed.as_secs_f64(),
            "s",
            None,
        ));
        rows.push(growth(
            "restart time",
            first.restart.as_secs_f64(),
            last.restart.as_secs_f64(),
            "s",
            None,
        ));
        rows.push(growth(
            "ingest rate",
            first.ingest_rate,
            last.ingest_rate,
            "entries/s",
            None,
        ));
        rows.push(growth(
            "ingest rate at the size (last entries)",
            first.ingest_at.1,
            last.ingest_at.1,
            "entries/s",
            Some(0.7),
        ));
        rows.push(growth(
            "Check rate",
            first.checks,
            last.checks,
            "checks/s",
            Some(0.8),
        ));
        rows.push(growth(
            "CheckBatch rate",
            first.batches,
            last.batches,
            "decisions/s",
            Some(0.8),
        ));
    }
    rows
}
