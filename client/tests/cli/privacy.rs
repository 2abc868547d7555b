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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spread_grant_waits_in_the_queue_that_survives_the_cli_and_a_later_command_sends_it() {
    let (env, collector, _) = network().await;
    let before = now();
    let g = grant(&env, &collector).await;
    let subject = s(&g, "subject");
    assert_eq!(g["queued"], true, "the default spreads: {g}");
    let send_at = ms(&s(&g, "send_at"));
    assert!(send_at <= now() + 30 * MINUTE, "within the window: {g}");
    // In force from a quarter hour, never before it was given, nor while it waits unsent: a
    // question about a moment before it leaves is never answered allow.
    let valid_from = ms(&s(&g, "valid_from"));
    assert!(
        valid_from.is_multiple_of(QUARTER) && valid_from + 1_000 >= before,
        "{g}"
    );
    assert!(valid_from >= send_at, "in force only after its moment: {g}");

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

    // Once its moment (and its quarter hour) has come, any command that opens the wallet sends
    // it.
    test_clock::advance(valid_from + MINUTE - now());
    let (_, stderr) = private(&env, &["list"]).await;
    assert!(stderr.contains("sent your queued grant"), "{stderr}");
    let (decision, reason) = check(&env, "col.json", &collector, &subject).await;
    assert_eq!((decision.as_str(), reason.as_str()), ("allow", "granted"));
    let left = private_json(&env, &["queue"]).await;
    assert_eq!(left, vec![serde_json::json!({"queued": 0})]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queued_grant_is_withdrawn_unseen_and_a_revocation_leaves_at_once() {
    let (env, first, second) = network().await;
    let g1 = grant(&env, &first).await;
    let g2 = grant(&env, &second).await;
    assert_eq!(
        (g1["queued"].clone(), g2["queued"].clone()),
        (true.into(), true.into())
    );
    let (sub1, sub2) = (s(&g1, "subject"), s(&g2, "subject"));

    // Withdrawing the first grant before it was ever sent: it leaves the queue, and nothing is
    // published (no grant, no revocation).
    let revoked = private_json(&env, &["revoke", &s(&g1, "grant")]).await;
    assert_eq!(revoked.len(), 1, "{revoked:?}");
    assert_eq!(revoked[0]["withdrawn"], g1["grant"], "{revoked:?}");
    assert_eq!(revoked[0]["revocation"], Value::Null, "{revoked:?}");
    let queued: Vec<(String, String)> = private_json(&env, &["queue"])
        .await
        .iter()
        .filter(|v| v.get("entry").is_some())
        .map(|v| (s(v, "subject"), s(v, "what")))
        .collect();
    assert!(
        !queued.contains(&(sub1.clone(), "grant".into())),
        "the grant left the queue: {queued:?}"
    );
    assert!(
        queued.contains(&(sub2.clone(), "grant".into())),
        "the other feed's queue was not touched: {queued:?}"
    );
    assert_eq!(
        check(&env, "col.json", &first, &sub1).await,
        ("deny".into(), "unknown-subject".into()),
        "nothing of the withdrawn grant reached the node"
    );

    // A grant that was sent is revoked at once, whatever the setting.
    private(&env, &["queue", "--send-now"]).await;
    test_clock::advance(ms(&s(&g2, "valid_from")).saturating_sub(now()) + MINUTE);
    assert_eq!(
        check(&env, "col2.json", &second, &sub2).await,
        ("allow".into(), "granted".into())
    );
    let revoked = private_json(&env, &["revoke", &s(&g2, "grant")]).await;
    assert!(revoked[0]["revocation"].is_string(), "{revoked:?}");
    assert_eq!(
        check(&env, "col2.json", &second, &sub2).await,
        ("deny".into(), "revoked".into())
    );
    let history = private_json(&env, &["history"]).await;
    let kinds = |sub: &str| -> Vec<String> {
        history
            .iter()
            .filter(|e| e.get("queued").is_none() && s(e, "feed") == sub)
            .map(|e| s(e, "kind"))
            .collect()
    };
    assert_eq!(
        kinds(&sub2),
        vec!["inception", "grant", "revoke"],
        "the sent feed in order: {history:?}"
    );
    assert_eq!(
        kinds(&sub1),
        vec!["inception"],
        "nothing of the withdrawn grant, only its feed's inception (as a prepared feed's): \
         {history:?}"
    );
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
        // Listed as sent and in force from then, never left out ("no grants" after "Granted").
        let listed = private_json(&env, &["list"]).await;
        assert!(
            listed
                .iter()
                .any(|v| v["grant"] == g["grant"] && v["in_force_from"] == g["valid_from"]),
            "{listed:?}"
        );
        let (text, _) = private(&env, &["list"]).await;
        assert!(text.contains("sent, in force from"), "{text}");
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

    // A day later everything is overdue: one run sends one feed (entries left overdue would
    // otherwise leave back to back), the next run the other.
    test_clock::advance(24 * 60 * MINUTE + MINUTE);
    let left = private_json(&env, &["queue"]).await;
    assert!(
        left.iter().any(|v| v.get("entry").is_some()),
        "the other feed waits for the next run: {left:?}"
    );
    assert!(drain(&env, "alice.json", 4).await >= 1);
    assert_eq!(
        private_json(&env, &["queue"]).await,
        vec![serde_json::json!({"queued": 0})]
    );
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
    let out = private_json(&env, &["revoke", "--all", "--spread", "10m", "--no-wait"]).await;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_device_never_makes_the_queue_fork_the_feed() {
    let (env, collector, _) = network().await;
    let init = env.json("laptop.json", &["wallet", "init"]).await;
    let key = s(&init, "recovery_key");
    // The laptop prepares its feeds: this collector's inception waits in its queue for a day.
    let prepared = private_json_as(&env, "laptop.json", &["wallet", "prepare"]).await;
    let subject = prepared[0]["prepared"]
        .as_array()
        .expect("prepared")
        .iter()
        .find(|p| s(p, "collector") == collector)
        .map(|p| s(p, "subject"))
        .expect("the collector's feed");
    // The phone, recovered from the same key, grants at once: the node holds the feed's
    // inception (the same bytes as the laptop's queued one) and the phone's grant at seq 1.
    let recovered = env
        .run_env(
            "phone.json",
            &["--json", "wallet", "recover"],
            &[
                ("CONSENT_PASSPHRASE", PASS),
                ("CONSENT_RECOVERY_KEY", key.as_str()),
            ],
        )
        .await;
    assert!(
        recovered.status.success(),
        "{}",
        String::from_utf8_lossy(&recovered.stderr)
    );
    let grant_args = [
        "grant",
        collector.as_str(),
        "--purpose",
        "service-provision",
        "--category",
        "vehicle",
        "--yes",
    ];
    let g1 = env.json("phone.json", &grant_args).await;
    assert_eq!(s(&g1, "subject"), subject);

    // The laptop grants: it asks the node first, finds its queued inception there (counted as
    // sent), and signs after the phone's grant, not at seq 1.
    let g2 = grant_as(&env, "laptop.json", &collector).await;
    assert_eq!(g2["queued"], true, "{g2}");
    private_as(&env, "laptop.json", &["queue", "--send-now"]).await;
    test_clock::advance(ms(&s(&g2, "valid_from")).saturating_sub(now()) + MINUTE);
    assert_eq!(
        check(&env, "col.json", &collector, &subject).await,
        ("allow".into(), "granted".into()),
        "no fork: the feed is not frozen"
    );
    let history = private_json_as(&env, "laptop.json", &["history"]).await;
    let seqs: Vec<(String, u64)> = history
        .iter()
        .map(|e| (s(e, "id"), e["seq"].as_u64().expect("seq")))
        .collect();
    assert!(
        seqs.contains(&(s(&g1, "grant"), 1)) && seqs.contains(&(s(&g2, "grant"), 2)),
        "{seqs:?}"
    );

    // The other way round: the laptop queues a grant, and the phone signs first at that seq.
    // The laptop's grant is held, never sent (sending it would freeze the feed); the person is
    // told, and drops it.
    let g3 = grant_as(&env, "laptop.json", &collector).await;
    assert_eq!(g3["queued"], true, "{g3}");
    env.json("phone.json", &["request", &collector, "access"])
        .await;
    let out = run_private(&env, "laptop.json", &["queue", "--send-now"]).await;
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("HELD") && stdout.contains(&s(&g3, "grant")),
        "{stdout}"
    );
    assert!(stderr.contains("HELD, NOT sent"), "{stderr}");
    assert_eq!(
        check(&env, "col.json", &collector, &subject).await,
        ("allow".into(), "granted".into()),
        "still no fork"
    );
    // Nothing more is signed in that feed until the person decides.
    let refused = run_private(
        &env,
        "laptop.json",
        &[
            "grant",
            &collector,
            "--purpose",
            "service-provision",
            "--category",
            "vehicle",
            "--yes",
        ],
    )
    .await;
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("consent queue --drop"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    private_as(&env, "laptop.json", &["queue", "--drop", &s(&g3, "grant")]).await;
    assert_eq!(
        private_json_as(&env, "laptop.json", &["queue"]).await,
        vec![serde_json::json!({"queued": 0})]
    );
    // Signing again works, after the phone's entry.
    let g4 = grant_as(&env, "laptop.json", &collector).await;
    private_as(&env, "laptop.json", &["queue", "--send-now"]).await;
    let history = private_json_as(&env, "laptop.json", &["history"]).await;
    assert!(
        history
            .iter()
            .any(|e| s(e, "id") == s(&g4, "grant") && e["seq"] == 4),
        "{history:?}"
    );
    assert_eq!(
        check(&env, "col.json", &collector, &subject).await,
        ("allow".into(), "granted".into())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoke_all_goes_on_past_a_feed_it_cannot_revoke_in_and_says_so() {
    use consent_proto::ids::TypedFeedId;
    use consent_proto::vocab::Role;
    let (env, first, second) = network().await;
    // A second node of the network that nothing reaches it from (it knows no collector).
    let other_dir = env.path("other");
    std::fs::create_dir_all(&other_dir).expect("dir");
    let reg = s(
        &env.json("reg2.json", &["registrar", "init"]).await,
        "registrar",
    );
    let other = start_on(&other_dir, &reg, None, test_clock::clock()).await;
    let other_url = other.grpc_url();
    // A wallet whose secret sends the first collector's feed to one node and the second's to
    // the other, when given both (the choice is fixed by the secret: found here beforehand).
    let id = |text: &str| TypedFeedId::parse_role(text, Role::Collector).expect("collector id");
    let (c1, c2) = (id(&first), id(&second));
    let master = (0u8..=255)
        .map(|n| [n; 32])
        .find(|m| {
            let f1 = consent_client::wallet::pairwise_feed(m, &c1);
            let f2 = consent_client::wallet::pairwise_feed(m, &c2);
            consent_client::privacy::schedule::node_for(m, &f1, 2)
                != consent_client::privacy::schedule::node_for(m, &f2, 2)
        })
        .expect("a secret that splits the two feeds");
    let key = consent_client::keystore::recovery_key(&master);
    let recovered = env
        .run_env(
            "ana.json",
            &["--json", "wallet", "recover"],
            &[
                ("CONSENT_PASSPHRASE", PASS),
                ("CONSENT_RECOVERY_KEY", key.as_str()),
            ],
        )
        .await;
    assert!(
        recovered.status.success(),
        "{}",
        String::from_utf8_lossy(&recovered.stderr)
    );
    let mut subjects = Vec::new();
    for collector in [&first, &second] {
        let g = env
            .json(
                "ana.json",
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
        subjects.push(s(&g, "subject"));
    }
    // The first feed's node is now the other one, which lacks what this wallet sent.
    let f1 = consent_client::wallet::pairwise_feed(&master, &c1);
    let nodes = if consent_client::privacy::schedule::node_for(&master, &f1, 2) == 0 {
        format!("{other_url},{}", env.url())
    } else {
        format!("{},{other_url}", env.url())
    };
    env.json("ana.json", &["wallet", "privacy", "--nodes", &nodes])
        .await;
    let out = env.run("ana.json", &["--json", "revoke", "--all"]).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report = json_lines(&stdout);
    assert_eq!(
        report[0]["revoked"].as_array().map(Vec::len),
        Some(1),
        "{report:?}"
    );
    assert_eq!(report[0]["revoked"][0]["collector"], second.as_str());
    assert_eq!(
        report[0]["failed"][0]["collector"],
        first.as_str(),
        "{report:?}"
    );
    assert_eq!(
        check(&env, "col2.json", &second, &subjects[1]).await,
        ("deny".into(), "revoked".into()),
        "the other feed was revoked"
    );
    assert_eq!(
        check(&env, "col.json", &first, &subjects[0]).await,
        ("allow".into(), "granted".into()),
        "not revoked, and said so"
    );
    // Back to the one node: a retry revokes the rest.
    env.json("ana.json", &["wallet", "privacy", "--nodes", "none"])
        .await;
    let again = env.json("ana.json", &["revoke", "--all"]).await;
    assert_eq!(
        again["revoked"].as_array().map(Vec::len),
        Some(1),
        "{again}"
    );
    assert_eq!(
        check(&env, "col.json", &first, &subjects[0]).await,
        ("deny".into(), "revoked".into())
    );
    drop(other);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grant_help_says_it_queues_and_how_to_send_now() {
    let env = Env {
        dir: tempfile::tempdir().expect("tempdir"),
        node: None,
    };
    let help = env.ok("none.json", &["grant", "--help"]).await;
    assert!(
        help.contains("queued") && help.contains("consent queue") && help.contains("--now"),
        "{help}"
    );
    let help = env.ok("none.json", &["wallet", "privacy", "--help"]).await;
    assert!(help.contains("Keep the default"), "{help}");
}
