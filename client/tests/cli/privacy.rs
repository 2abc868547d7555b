//! The wallet's unlinkability mitigations through the CLI, with its default setting (the other
//! tests run with `CONSENT_NOW=1`): a spread grant waits in the send queue, which survives the
//! command and is sent by a later one; a revocation leaves at once and takes its feed's queue
//! with it; coarse signed times are accepted by a real node and keep each feed in order;
//! `wallet prepare` spreads inceptions over its window. Nothing waits for time to pass: the node
//! runs on a manual clock and every `consent` run on the same shifted time
//! (`common::test_clock`).

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

/// Runs `consent` as Alice with the wallet's own privacy setting (not `--now`).
async fn private(env: &Env, args: &[&str]) -> (String, String) {
    let out = env
        .run_env(
            "alice.json",
            args,
            &[("CONSENT_PASSPHRASE", PASS), ("CONSENT_NOW", "0")],
        )
        .await;
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

/// Every JSON object printed by `consent --json ARGS` as Alice (private), one per line.
async fn private_json(env: &Env, args: &[&str]) -> Vec<Value> {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    let (stdout, _) = private(env, &all).await;
    stdout
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

async fn grant(env: &Env, collector: &str) -> Value {
    let mut out = private_json(
        env,
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spread_grant_waits_in_the_queue_that_survives_the_cli_and_a_later_command_sends_it() {
    let (env, collector, _) = network().await;
    let before = now();
    let g = grant(&env, &collector).await;
    let subject = s(&g, "subject");
    assert_eq!(g["queued"], true, "the default spreads: {g}");
    let send_at = ms(&s(&g, "send_at"));
    assert!(send_at <= now() + 30 * MINUTE, "within the window: {g}");
    // In force from the next quarter hour, never before it was given.
    let valid_from = ms(&s(&g, "valid_from"));
    assert!(
        valid_from.is_multiple_of(QUARTER) && valid_from + 1_000 >= before,
        "{g}"
    );

    // The CLI exited: the queue is a private, encrypted file beside the keystore.
    let queue_file = env.path("alice.queue");
    let text = std::fs::read_to_string(&queue_file).expect("the queue survives the command");
    assert!(
        !text.contains(&collector) && !text.contains(&subject),
        "encrypted"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&queue_file)
            .expect("meta")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    // Nothing reached the node: not the grant, not even the feed's inception.
    assert_eq!(
        check(&env, "col.json", &collector, &subject).await,
        ("deny".into(), "unknown-subject".into())
    );
    let queued = private_json(&env, &["queue"]).await;
    let what: Vec<String> = queued.iter().map(|v| s(v, "what")).collect();
    assert_eq!(what, vec!["feed inception", "grant"], "{queued:?}");
    assert!(queued.iter().all(|v| s(v, "subject") == subject));
    let (listed, _) = private(&env, &["list"]).await;
    assert!(
        listed.contains("queued, NOT in force until it is sent"),
        "{listed}"
    );

    // Half an hour later, any command that opens the wallet sends it.
    test_clock::advance(31 * MINUTE);
    let (_, stderr) = private(&env, &["list"]).await;
    assert!(stderr.contains("sent your queued grant"), "{stderr}");
    let (decision, reason) = check(&env, "col.json", &collector, &subject).await;
    assert_eq!((decision.as_str(), reason.as_str()), ("allow", "granted"));
    let left = private_json(&env, &["queue"]).await;
    assert_eq!(left, vec![serde_json::json!({"queued": 0})]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revocation_leaves_at_once_and_takes_only_its_own_feeds_queue() {
    let (env, first, second) = network().await;
    let g1 = grant(&env, &first).await;
    let g2 = grant(&env, &second).await;
    assert_eq!(
        (g1["queued"].clone(), g2["queued"].clone()),
        (true.into(), true.into())
    );
    let (sub1, sub2) = (s(&g1, "subject"), s(&g2, "subject"));

    // Withdrawing the first grant before it was ever sent: its feed's queue (inception, grant)
    // goes first, then the revocation, at once.
    let revoked = private_json(&env, &["revoke", &s(&g1, "grant")]).await;
    assert_eq!(revoked.len(), 1, "{revoked:?}");
    assert_eq!(
        check(&env, "col2.json", &second, &sub2).await,
        ("deny".into(), "unknown-subject".into()),
        "the other feed's queue was not pulled along"
    );
    let history = private_json(&env, &["history"]).await;
    let kinds: Vec<(String, String)> = history
        .iter()
        .map(|e| (s(e, "feed"), s(e, "kind")))
        .collect();
    assert_eq!(
        kinds,
        vec![
            (sub1.clone(), "inception".into()),
            (sub1.clone(), "grant".into()),
            (sub1.clone(), "revoke".into()),
        ],
        "the first feed in order; the second still queued: {history:?}"
    );
    test_clock::advance(20 * MINUTE);
    assert_eq!(
        check(&env, "col.json", &first, &sub1).await,
        ("deny".into(), "revoked".into())
    );
    // The other collector's grant was not pulled along.
    // `consent queue --json` lists the queued entries, or says `{"queued": 0}` when none is left.
    let queued: Vec<Value> = private_json(&env, &["queue"])
        .await
        .into_iter()
        .filter(|v| v.get("subject").is_some())
        .collect();
    assert!(
        !queued.is_empty() || check(&env, "col2.json", &second, &sub2).await.0 == "allow",
        "either still queued, or (its moment having come) sent on its own: {queued:?}"
    );
    assert!(queued.iter().all(|v| s(v, "subject") == sub2), "{queued:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn coarse_times_are_accepted_by_a_real_node_and_keep_each_feed_in_order() {
    let (env, collector, _) = network().await;
    // Coarse times, sent at once.
    let set = private_json(&env, &["wallet", "privacy", "--spread", "off"]).await;
    assert_eq!(
        (set[0]["coarse"].clone(), set[0]["spread"].clone()),
        ("15m".into(), Value::Null)
    );
    let before = now();
    let g = grant(&env, &collector).await;
    assert_eq!(g["queued"], false, "{g}");
    let subject = s(&g, "subject");
    let valid_from = ms(&s(&g, "valid_from"));
    // (Unless the grant was made in the last minute before a quarter hour.)
    if valid_from > before + MINUTE {
        assert_eq!(
            check(&env, "col.json", &collector, &subject).await,
            ("deny".into(), "not-yet-valid".into()),
            "a consent never starts before the quarter hour after it was given"
        );
    }
    // An exact entry, then a coarse one in the same quarter hour: raised to the exact one's time.
    private(&env, &["--now", "request", &collector, "access"]).await;
    private(&env, &["request", &collector, "rectification"]).await;
    let history = private_json(&env, &["history"]).await;
    let times: Vec<(String, u64)> = history
        .iter()
        .filter(|e| s(e, "kind") != "inception")
        .map(|e| (s(e, "kind"), ms(&s(e, "time"))))
        .collect();
    assert_eq!(times.len(), 3, "{history:?}");
    assert_eq!(
        times[0].1 % QUARTER,
        0,
        "the grant's time is coarse: {times:?}"
    );
    assert!(
        times.windows(2).all(|w| w[0].1 <= w[1].1),
        "in order: {times:?}"
    );
    assert_eq!(
        times[2].1 / 1_000,
        times[1].1 / 1_000,
        "not before the exact one: {times:?}"
    );
    test_clock::advance(QUARTER);
    assert_eq!(
        check(&env, "col.json", &collector, &subject).await,
        ("allow".into(), "granted".into())
    );
    // Everything off: exact again.
    let off = private_json(&env, &["wallet", "privacy", "--off"]).await;
    assert_eq!(off[0]["coarse"], Value::Null);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prepare_spreads_inceptions_and_a_grant_pulls_its_feeds_along() {
    let (env, first, second) = network().await;
    let prepared = private_json(&env, &["wallet", "prepare"]).await;
    let listed = prepared[0]["prepared"]
        .as_array()
        .expect("prepared")
        .clone();
    assert_eq!(listed.len(), 2, "every accredited collector: {prepared:?}");
    let moments: Vec<u64> = listed.iter().map(|p| ms(&s(p, "send_at"))).collect();
    assert!(
        moments.iter().all(|m| *m <= now() + 24 * 60 * MINUTE),
        "within a day: {moments:?}"
    );
    assert_ne!(moments[0], moments[1], "each at its own moment");
    let sub2 = listed
        .iter()
        .find(|p| s(p, "collector") == second)
        .map(|p| s(p, "subject"))
        .expect("the second collector's feed");
    assert_eq!(
        check(&env, "col2.json", &second, &sub2).await,
        ("deny".into(), "unknown-subject".into()),
        "nothing sent yet"
    );
    // Preparing again adds nothing.
    let again = private_json(&env, &["wallet", "prepare"]).await;
    assert_eq!(again[0]["prepared"], serde_json::json!([]));

    // A grant before its feed's inception went out: the inception goes with the grant.
    let g = grant(&env, &first).await;
    let queued = private_json(&env, &["queue"]).await;
    let of_first: Vec<(String, String)> = queued
        .iter()
        .filter(|v| s(v, "subject") == s(&g, "subject"))
        .map(|v| (s(v, "what"), s(v, "due")))
        .collect();
    assert_eq!(of_first.len(), 2, "{queued:?}");
    assert_eq!(of_first[0].0, "feed inception");
    assert!(
        ms(&of_first[0].1) <= ms(&of_first[1].1) && ms(&of_first[1].1) <= now() + 30 * MINUTE,
        "the inception leaves no later than the grant, within the grant's window: {of_first:?}"
    );

    // A day later everything has gone out.
    test_clock::advance(24 * 60 * MINUTE + MINUTE);
    private(&env, &["queue"]).await;
    assert_eq!(
        check(&env, "col2.json", &second, &sub2).await,
        ("deny".into(), "no-grant".into()),
        "the prepared feed exists now"
    );
    assert_eq!(
        check(&env, "col.json", &first, &s(&g, "subject")).await,
        ("allow".into(), "granted".into())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoking_everything_is_at_once_unless_the_person_asks_to_spread_it() {
    let (env, first, second) = network().await;
    let mut subjects = Vec::new();
    for collector in [&first, &second] {
        let g = private_json(
            &env,
            &[
                "--now",
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
        assert_eq!(g[0]["queued"], false, "--now sends at once: {g:?}");
        subjects.push(s(&g[0], "subject"));
    }
    // Asked to spread: each revocation at its own moment; the grants stay in force until then.
    let out = private_json(&env, &["revoke", "--all", "--spread", "10m"]).await;
    let revoked = out[0]["revoked"].as_array().expect("revoked").clone();
    assert_eq!(revoked.len(), 2, "{out:?}");
    assert!(revoked.iter().all(|r| r["queued"] == true), "{out:?}");
    assert_eq!(
        check(&env, "col.json", &first, &subjects[0]).await,
        ("allow".into(), "granted".into()),
        "in force until its revocation is sent"
    );
    test_clock::advance(11 * MINUTE);
    private(&env, &["queue"]).await;
    assert_eq!(
        check(&env, "col.json", &first, &subjects[0]).await,
        ("deny".into(), "revoked".into())
    );
    assert_eq!(
        check(&env, "col2.json", &second, &subjects[1]).await,
        ("deny".into(), "revoked".into())
    );
    // Nothing left in force: nothing to revoke, nothing queued.
    let none = private_json(&env, &["revoke", "--all"]).await;
    assert_eq!(none[0]["revoked"], serde_json::json!([]));
}
