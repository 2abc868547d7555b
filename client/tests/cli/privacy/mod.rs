//! The wallet's unlinkability mitigations through the CLI, with its default setting (the other
//! tests run with `CONSENT_NOW=1`): a spread grant waits in the send queue, which survives the
//! command and is sent by a later one, and is in force only from after its moment; a queued grant
//! is withdrawn unseen, a revocation leaves at once; coarse signed times are accepted by a real
//! node and keep each feed in order; `wallet prepare` spreads inceptions over its window and one
//! run sends one overdue feed; a second device with the same recovery key never makes the queue
//! fork the feed (what conflicts is held, never sent); `revoke --all` goes on past a feed it
//! cannot revoke in and says so. Nothing waits for time to pass: the nodes run on a manual clock
//! and every `consent` run on the same shifted time (`common::test_clock`).

use crate::common;

use common::{Env, PASS, policy_file, s, start_on, test_clock};
use serde_json::Value;

const MINUTE: u64 = 60_000;
const QUARTER: u64 = 15 * MINUTE;

/// A registrar, a node on the manual clock, two accredited collectors (`col.json`,
/// `col2.json`) and Alice's wallet.
async fn network() -> (Env, String, String) {
    let mut env = Env {
        dir: tempfile::tempdir().expect("tempdir"),
        node: None,
    };
    let reg = env.json("reg.json", &["registrar", "init"]).await;
    let registrar = s(&reg, "registrar");
    env.node = Some(start_on(env.dir.path(), &registrar, None, test_clock::clock()).await);
    let policy = policy_file(env.dir.path());
    let mut collectors = Vec::new();
    for ks in ["col.json", "col2.json"] {
        let col = env
            .json(ks, &["collector", "init", "--policy", &policy])
            .await;
        let collector = s(&col, "collector");
        env.json(
            "reg.json",
            &["registrar", "accredit", &collector, "--until", "365d"],
        )
        .await;
        collectors.push(collector);
    }
    env.json("alice.json", &["wallet", "init"]).await;
    let second = collectors.pop().expect("two");
    let first = collectors.pop().expect("two");
    (env, first, second)
}

/// Runs `consent` with `keystore` and the wallet's own privacy setting (not `--now`), whatever
/// it ends with.
async fn run_private(env: &Env, keystore: &str, args: &[&str]) -> std::process::Output {
    env.run_env(
        keystore,
        args,
        &[("CONSENT_PASSPHRASE", PASS), ("CONSENT_NOW", "0")],
    )
    .await
}

/// Runs `consent` with `keystore` and the wallet's own privacy setting; expects success.
async fn private_as(env: &Env, keystore: &str, args: &[&str]) -> (String, String) {
    let out = run_private(env, keystore, args).await;
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    assert!(
        out.status.success(),
        "consent {args:?} failed: {stderr}\n{stdout}"
    );
    (stdout, stderr)
}

/// Runs `consent` as Alice with the wallet's own privacy setting (not `--now`).
async fn private(env: &Env, args: &[&str]) -> (String, String) {
    private_as(env, "alice.json", args).await
}

/// The JSON objects printed, one per line.
fn json_lines(stdout: &str) -> Vec<Value> {
    stdout
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

/// Every JSON object printed by `consent --json ARGS` with `keystore` (private).
async fn private_json_as(env: &Env, keystore: &str, args: &[&str]) -> Vec<Value> {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    let (stdout, _) = private_as(env, keystore, &all).await;
    json_lines(&stdout)
}

/// Every JSON object printed by `consent --json ARGS` as Alice (private), one per line.
async fn private_json(env: &Env, args: &[&str]) -> Vec<Value> {
    private_json_as(env, "alice.json", args).await
}

async fn grant_as(env: &Env, keystore: &str, collector: &str) -> Value {
    let mut out = private_json_as(
        env,
        keystore,
        &[
            "grant",
            collector,
            "--purpose",
            "service-provision",
            "--category",
            "vehicle",
            "--yes",
        ],
    )
    .await;
    assert_eq!(out.len(), 1, "{out:?}");
    out.remove(0)
}

async fn grant(env: &Env, collector: &str) -> Value {
    grant_as(env, "alice.json", collector).await
}

/// Runs `consent queue` as `keystore` until nothing is due any more (one overdue feed per run),
/// at most `runs` times; returns how many runs sent something.
async fn drain(env: &Env, keystore: &str, runs: usize) -> usize {
    let mut sending = 0;
    for _ in 0..runs {
        let (_, stderr) = private_as(env, keystore, &["queue"]).await;
        if !stderr.contains("sent your queued") {
            break;
        }
        sending += 1;
    }
    sending
}

async fn check(env: &Env, collector_ks: &str, collector: &str, subject: &str) -> (String, String) {
    let v = env
        .json(
            collector_ks,
            &[
                "check",
                "--subject",
                subject,
                "--collector",
                collector,
                "--purpose",
                "service-provision",
                "--category",
                "vehicle",
            ],
        )
        .await;
    (s(&v, "decision"), s(&v, "reason"))
}

/// Unix ms of an RFC 3339 time the CLI printed.
fn ms(text: &str) -> u64 {
    humantime::parse_rfc3339(text)
        .expect("an RFC 3339 time")
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_millis() as u64
}

fn now() -> u64 {
    consent_client::time::now_ms().saturating_add_signed(test_clock::shift_ms())
}

mod devices;
mod queue;
