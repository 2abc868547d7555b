//! Acting in someone else's name through the CLI: an assistant (offer, delegate, `--as` grant,
//! the lists, undelegate, refused after), and a child with two guardians (init --child, a 2-of-2
//! grant and its endorsement, either guardian revoking alone, the handover and takeover, the
//! listing at coming of age, guardians refused from then on), with the monitor's notices and
//! alerts and the `--json` shapes. Nothing waits for time to pass: the node runs on a manual
//! clock and every `consent` run on the same shifted time (`common::test_clock`).

use crate::common;

use common::{Env, PASS, policy_file, s, start_on, test_clock};
use serde_json::Value;

const CHILD_PASS: &str = "the child's own passphrase";
const MINUTE: u64 = 60_000;
const DAY: u64 = 86_400_000;

/// Every JSON object printed, one per line.
fn lines(out: &str) -> Vec<Value> {
    out.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

/// A registrar, a node on the test clock, a collector with the example policy, accredited.
async fn network() -> (Env, String) {
    let mut env = Env {
        dir: tempfile::tempdir().expect("tempdir"),
        node: None,
    };
    let reg = env.json("reg.json", &["registrar", "init"]).await;
    let registrar = s(&reg, "registrar");
    env.node = Some(start_on(env.dir.path(), &registrar, None, test_clock::clock()).await);
    let policy = policy_file(env.dir.path());
    let col = env
        .json("col.json", &["collector", "init", "--policy", &policy])
        .await;
    let collector = s(&col, "collector");
    env.json(
        "reg.json",
        &["registrar", "accredit", &collector, "--until", "365d"],
    )
    .await;
    (env, collector)
}

/// Runs with `--json`, the test passphrase and the child's, expects success, parses the one
/// object printed; returns it with stderr.
async fn json_child(env: &Env, keystore: &str, args: &[&str]) -> (Value, String) {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    let out = env
        .run_env(
            keystore,
            &all,
            &[
                ("CONSENT_PASSPHRASE", PASS),
                ("CONSENT_CHILD_PASSPHRASE", CHILD_PASS),
                ("CONSENT_NEW_PASSPHRASE", PASS),
            ],
        )
        .await;
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "consent {args:?} failed: {stderr}");
    let text = String::from_utf8_lossy(&out.stdout);
    let value = serde_json::from_str(text.trim())
        .unwrap_or_else(|e| panic!("not one JSON object ({e}): {text}"));
    (value, stderr)
}

/// The collector's answer about `subject` for service-provision / vehicle.
async fn check(env: &Env, subject: &str) -> Value {
    env.json(
        "col.json",
        &[
            "check",
            "--subject",
            subject,
            "--purpose",
            "service-provision",
            "--category",
            "vehicle",
        ],
    )
    .await
}

const SERVICE_VEHICLE: [&str; 5] = [
    "--purpose",
    "service-provision",
    "--category",
    "vehicle",
    "--yes",
];

fn grant_args(collector: &str) -> Vec<&str> {
    let mut args = vec!["grant", collector];
    args.extend_from_slice(&SERVICE_VEHICLE);
    args
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_assistant_acts_inside_its_delegation_until_it_is_withdrawn() {
    let (env, collector) = network().await;
    env.json("alice.json", &["wallet", "init"]).await;
    env.json("bob.json", &["wallet", "init"]).await;
    // Alice's own feed with the collector (a delegation sits in it).
    env.json(
        "alice.json",
        &[
            "grant",
            &collector,
            "--purpose",
            "billing",
            "--category",
            "location",
            "--yes",
        ],
    )
    .await;
    let subject = s(
        &env.json("alice.json", &["wallet", "id", &collector]).await,
        "subject",
    );

    // Bob offers; the code is one id, and it names a feed of his.
    let offer = env
        .json("bob.json", &["wallet", "delegate-offer", "--name", "Alice"])
        .await;
    let code = s(&offer, "code");
    assert!(code.starts_with("dlg1"), "{offer}");
    assert_eq!(offer["feeds"].as_array().map(Vec::len), Some(1), "{offer}");
    let bobs_feed = offer["feeds"][0].as_str().expect("feed").to_string();

    // Alice delegates granting for service provision to that code, once.
    let given = env
        .json(
            "alice.json",
            &[
                "wallet",
                "delegate",
                "--to",
                &code,
                "--can",
                "grant",
                "--purpose",
                "service-provision",
                "--name",
                "Bob",
                "--yes",
            ],
        )
        .await;
    let delegation = s(&given["delegations"][0], "delegation");
    assert_eq!(s(&given["delegations"][0], "delegate"), bobs_feed);
    assert_eq!(s(&given["delegations"][0], "collector"), collector);
    assert_eq!(given["powers"], serde_json::json!(["grant"]));
    env.fails(
        "alice.json",
        &["wallet", "delegate", "--to", &code, "--can", "all", "--yes"],
        "this code was used already",
    )
    .await;

    // Bob grants in Alice's name; outside the delegation he is refused before signing.
    let mut as_alice = vec!["--as", "Alice"];
    as_alice.extend(grant_args(&collector));
    let granted = env.json("bob.json", &as_alice).await;
    let grant = s(&granted, "grant");
    assert_eq!(s(&granted, "subject"), subject);
    assert_eq!(s(&granted, "delegation"), delegation);
    assert_eq!(s(&granted, "kind"), "assistant");
    assert_eq!(granted["needs_endorsement"], false);
    env.fails(
        "bob.json",
        &[
            "--as",
            "Alice",
            "grant",
            &collector,
            "--purpose",
            "billing",
            "--category",
            "vehicle",
            "--yes",
        ],
        "purpose-not-delegated",
    )
    .await;
    env.fails(
        "bob.json",
        &["--as", "Alice", "request", &collector, "access"],
        "power-not-delegated",
    )
    .await;
    env.fails(
        "bob.json",
        &["--as", "Nobody", "request", &collector, "access"],
        "acts for nobody by that name",
    )
    .await;
    let misuse = env.run("bob.json", &["--as", "Alice", "list"]).await;
    assert_eq!(
        misuse.status.code(),
        Some(2),
        "--as only with what it means"
    );

    // The collector's answer names the delegation.
    let answer = check(&env, &subject).await;
    assert_eq!(
        (s(&answer, "decision"), s(&answer, "reason")),
        ("allow".into(), "granted".into())
    );
    assert_eq!(s(&answer, "grant"), grant);
    assert_eq!(s(&answer["delegated"], "delegation"), delegation);
    assert_eq!(s(&answer["delegated"], "kind"), "assistant");

    // Both sides list it; Alice's list shows the grant Bob made in her name.
    let alices = lines(
        &env.ok("alice.json", &["--json", "wallet", "delegations"])
            .await,
    );
    assert!(
        alices.iter().any(|d| d["direction"] == "given"
            && d["delegation"] == delegation.as_str()
            && d["name"] == "Bob"
            && d["ended_from"].is_null()),
        "{alices:?}"
    );
    let bobs = lines(
        &env.ok("bob.json", &["--json", "wallet", "delegations"])
            .await,
    );
    assert!(
        bobs.iter().any(|d| d["direction"] == "held"
            && d["name"] == "Alice"
            && d["person"] == subject.as_str()
            && d["powers"] == serde_json::json!(["grant"])),
        "{bobs:?}"
    );
    let listed = lines(&env.ok("alice.json", &["--json", "list"]).await);
    assert!(
        listed
            .iter()
            .any(|g| g["grant"] == grant.as_str() && g["delegated"]["kind"] == "assistant"),
        "{listed:?}"
    );
    // The monitor lists Bob's grant, which counts: no alert.
    let watched = env.json("alice.json", &["wallet", "monitor"]).await;
    assert_eq!(watched["alerts"], serde_json::json!([]), "{watched}");
    assert!(
        watched["delegated"].as_array().is_some_and(|d| d
            .iter()
            .any(|x| x["entry"] == grant.as_str() && x["counts"] == true)),
        "{watched}"
    );

    // Ten minutes on, Alice withdraws: Bob's grant, signed before, stays; Bob is refused after.
    test_clock::advance(10 * MINUTE);
    let ended = env
        .json("alice.json", &["wallet", "undelegate", "--name", "Bob"])
        .await;
    assert_eq!(s(&ended, "delegation"), delegation);
    assert_eq!(s(&ended, "direction"), "given");
    assert!(s(&ended, "undelegation").starts_with("ent1"));
    let answer = check(&env, &subject).await;
    assert_eq!(s(&answer, "decision"), "allow", "{answer}");
    env.fails("bob.json", &as_alice, "delegation-withdrawn")
        .await;
    let alices = lines(
        &env.ok("alice.json", &["--json", "wallet", "delegations"])
            .await,
    );
    assert!(
        alices
            .iter()
            .any(|d| d["delegation"] == delegation.as_str() && !d["ended_from"].is_null()),
        "{alices:?}"
    );
    // Alice revokes the grant Bob made in her name herself.
    env.json("alice.json", &["revoke", &grant]).await;
    let answer = check(&env, &subject).await;
    assert_eq!(s(&answer, "reason"), "revoked", "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_grant_signed_just_before_a_withdrawal_does_not_count_and_the_monitor_says_so() {
    let (env, collector) = network().await;
    env.json("alice.json", &["wallet", "init"]).await;
    env.json("bob.json", &["wallet", "init"]).await;
    env.json("alice.json", &["request", &collector, "access"])
        .await;
    let subject = s(
        &env.json("alice.json", &["wallet", "id", &collector]).await,
        "subject",
    );
    let code = s(
        &env.json("bob.json", &["wallet", "delegate-offer", "--name", "Alice"])
            .await,
        "code",
    );
    env.json(
        "alice.json",
        &["wallet", "delegate", "--to", &code, "--can", "all", "--yes"],
    )
    .await;
    let mut as_alice = vec!["--as", "Alice"];
    as_alice.extend(grant_args(&collector));
    let grant = s(&env.json("bob.json", &as_alice).await, "grant");
    // Withdrawn a minute later: by default, what was signed in the 5 minutes before stops
    // counting (a delegate cannot slip in a grant dated just before it learnt of it).
    test_clock::advance(MINUTE);
    env.json("alice.json", &["wallet", "undelegate", "--all"])
        .await;
    let answer = check(&env, &subject).await;
    assert_eq!(
        (s(&answer, "decision"), s(&answer, "reason")),
        ("deny".into(), "delegation-withdrawn".into()),
        "{answer}"
    );
    assert_eq!(s(&answer, "grant"), grant);
    // The monitor alerts loudly (exit 1) and keeps the evidence in its output.
    let out = env
        .run("alice.json", &["--json", "wallet", "monitor"])
        .await;
    assert_eq!(out.status.code(), Some(1));
    let report: Value =
        serde_json::from_str(String::from_utf8_lossy(&out.stdout).trim()).expect("JSON");
    assert!(
        report["alerts"]
            .as_array()
            .is_some_and(|a| a.iter().any(|x| x
                .as_str()
                .is_some_and(|t| t.contains(&grant) && t.contains("does not count")))),
        "{report}"
    );
}

/// Issue 24 (N12): `undelegate --all` goes on past a delegation it cannot end (here one in a
/// feed the node froze), says what it ended and what it did not, in text and JSON, and fails so
/// that a retry does the rest.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn undelegate_all_goes_on_past_a_delegation_it_cannot_end_and_says_so() {
    use consent_proto::Entry;
    use consent_proto::body::{Body, Request};
    use consent_proto::ids::TypedFeedId;
    use consent_proto::vocab::{RequestKind, Role};

    let (env, first) = network().await;
    let policy = policy_file(env.dir.path());
    let second = s(
        &env.json("col2.json", &["collector", "init", "--policy", &policy])
            .await,
        "collector",
    );
    env.json(
        "reg.json",
        &["registrar", "accredit", &second, "--until", "365d"],
    )
    .await;
    // Alice's wallet from a secret the test knows: it forks one of her feeds below.
    let master = [7u8; 32];
    env.recover_from("alice.json", &master).await;
    env.json("bob.json", &["wallet", "init"]).await;
    for collector in [&first, &second] {
        env.json("alice.json", &["request", collector, "access"])
            .await;
    }
    let code = s(
        &env.json(
            "bob.json",
            &[
                "wallet",
                "delegate-offer",
                "--name",
                "Alice",
                "--feeds",
                "2",
            ],
        )
        .await,
        "code",
    );
    let given = env
        .json(
            "alice.json",
            &["wallet", "delegate", "--to", &code, "--can", "all", "--yes"],
        )
        .await;
    assert_eq!(
        given["delegations"].as_array().map(Vec::len),
        Some(2),
        "one per collector: {given}"
    );

    // Two entries at one seq of Alice's feed with the first collector, both signed with its key:
    // the node freezes the feed, and accepts nothing more in it.
    let c1 = TypedFeedId::parse_role(&first, Role::Collector).expect("collector id");
    let feed = consent_client::wallet::pairwise_feed(&master, &c1);
    let mut node = consent_client::node::NodeConnection::connect(&env.url())
        .await
        .expect("node");
    let last = node
        .feed(&feed)
        .await
        .expect("feed")
        .pop()
        .expect("entries");
    let fork = Entry::sign(
        Some(feed),
        last.seq,
        last.prev,
        last.time_ms,
        &Body::Request(Request {
            collector: c1,
            kind: RequestKind::Access,
            details_digest: None,
            on_behalf: None,
        }),
        &consent_client::wallet::pairwise_key(&master, &c1, 0),
    )
    .expect("signed");
    assert!(node.submit(&fork, "the fork").await.is_err(), "refused");
    assert!(
        node.head(&feed).await.expect("head").expect("known").frozen,
        "an equivocation freezes the feed"
    );

    // The delegation in the frozen feed cannot be ended; the other one is, and both are said.
    let out = env
        .run("alice.json", &["--json", "wallet", "undelegate", "--all"])
        .await;
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(stderr.contains("could not be ended"), "{stderr}");
    let report = lines(&stdout);
    assert_eq!(report.len(), 2, "{report:?}");
    let ended: Vec<&Value> = report
        .iter()
        .filter(|r| r["undelegation"].is_string())
        .collect();
    let not_ended: Vec<&Value> = report
        .iter()
        .filter(|r| r["undelegation"].is_null())
        .collect();
    assert_eq!((ended.len(), not_ended.len()), (1, 1), "{report:?}");
    assert_eq!(ended[0]["collector"], second.as_str(), "{report:?}");
    assert_eq!(not_ended[0]["collector"], first.as_str(), "{report:?}");
    assert_eq!(not_ended[0]["direction"], "given", "{report:?}");
    assert!(not_ended[0]["delegation"].is_string(), "{report:?}");
    assert!(s(not_ended[0], "error").contains("frozen"), "{report:?}");
    // It took effect: Bob no longer acts for Alice with the second collector.
    let mut as_alice = vec!["--as", "Alice"];
    as_alice.extend(grant_args(&second));
    env.fails("bob.json", &as_alice, "delegation-withdrawn")
        .await;
    // The text says the same.
    let out = env
        .run("alice.json", &["wallet", "undelegate", "--all"])
        .await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("Withdrew delegation") && stdout.contains("NOT withdrawn: delegation"),
        "{stdout}"
    );
}

/// UTC midnight `days` after now (on the test clock), as YYYY-MM-DD.
fn date_in(days: u64) -> String {
    let now = consent_client::time::now_ms().saturating_add_signed(test_clock::shift_ms());
    consent_client::time::format(now + days * DAY)[..10].to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_guardians_act_for_a_child_until_it_comes_of_age() {
    let (env, collector) = network().await;
    env.json("ana.json", &["wallet", "init"]).await;
    env.json("ben.json", &["wallet", "init"]).await;
    let code = s(
        &env.json(
            "ben.json",
            &["wallet", "delegate-offer", "--feeds", "2", "--name", "Lea"],
        )
        .await,
        "code",
    );
    let coming_of_age = date_in(3);
    let (child, _) = json_child(
        &env,
        "ana.json",
        &[
            "wallet",
            "init",
            "--child",
            "--comes-of-age",
            &coming_of_age,
            "--name",
            "Lea",
            "--co-guardian",
            &code,
        ],
    )
    .await;
    assert_eq!(s(&child, "child"), "Lea");
    assert!(s(&child, "recovery_key").starts_with("recovery1"));
    assert_eq!(child["co_guardian_ids"], 2);
    assert_eq!(
        s(&child, "comes_of_age"),
        format!("{coming_of_age}T00:00:00Z")
    );

    // Ana's first grant for Lea creates Lea's feed with both guardians; it counts once Ben
    // endorses it.
    let mut as_lea = vec!["--as", "Lea"];
    as_lea.extend(grant_args(&collector));
    let (granted, _) = json_child(&env, "ana.json", &as_lea).await;
    let grant = s(&granted, "grant");
    let subject = s(&granted, "subject");
    assert_eq!(s(&granted, "kind"), "guardian");
    assert_eq!(granted["needs_endorsement"], true);
    let answer = check(&env, &subject).await;
    assert_eq!(s(&answer, "reason"), "endorsement-missing", "{answer}");
    let awaiting = lines(
        &env.ok(
            "ben.json",
            &["--json", "wallet", "delegations", "--awaiting"],
        )
        .await,
    );
    assert!(
        awaiting
            .iter()
            .any(|a| a["direction"] == "awaiting" && a["grant"] == grant.as_str()),
        "{awaiting:?}"
    );
    let endorsed = env
        .json("ben.json", &["--as", "Lea", "endorse", &grant])
        .await;
    assert!(s(&endorsed, "endorsement").starts_with("ent1"));
    let answer = check(&env, &subject).await;
    assert_eq!(s(&answer, "decision"), "allow", "{answer}");
    assert_eq!(s(&answer["delegated"], "kind"), "guardian");
    assert_eq!(
        s(&answer["delegated"], "endorsement"),
        s(&endorsed, "endorsement")
    );
    // Either guardian withdraws alone.
    env.json("ben.json", &["--as", "Lea", "revoke", &grant])
        .await;
    assert_eq!(s(&check(&env, &subject).await, "reason"), "revoked");
    // A grant in force at coming of age: Ana grants again, Ben endorses.
    let (again, _) = json_child(&env, "ana.json", &as_lea).await;
    let kept = s(&again, "grant");
    env.json("ben.json", &["--as", "Lea", "endorse", &kept])
        .await;

    // The handover: Lea's own copy, and Ana's wallet forgets Lea's keys.
    let lea = env.path("lea.json").display().to_string();
    let (handed, _) = json_child(
        &env,
        "ana.json",
        &["wallet", "export", "--for-child", "Lea", "--out", &lea],
    )
    .await;
    assert!(!std::path::Path::new(&s(&handed, "forgotten")).exists());
    let taken = env.json("lea.json", &["wallet", "takeover"]).await;
    assert_eq!(
        taken["rotated"].as_array().map(Vec::len),
        Some(1),
        "{taken}"
    );
    assert!(s(&taken, "recovery_key").starts_with("recovery1"));
    // A minor's feed does not grant itself.
    let own = grant_args(&collector);
    env.fails("lea.json", &own, "minor-feed").await;
    // Ana still acts for Lea, and her grant still counts.
    assert_eq!(s(&check(&env, &subject).await, "decision"), "allow");

    // Lea comes of age: the guardians' grants in force are listed once; guardians are refused;
    // Lea grants herself.
    test_clock::advance(4 * DAY);
    let first = env.run("lea.json", &["list"]).await;
    let said = String::from_utf8_lossy(&first.stderr);
    assert!(
        first.status.success() && said.contains("You came of age") && said.contains(&kept),
        "{said}"
    );
    let second = env.run("lea.json", &["list"]).await;
    assert!(!String::from_utf8_lossy(&second.stderr).contains("You came of age"));
    let out = env
        .run_env(
            "ana.json",
            &as_lea,
            &[
                ("CONSENT_PASSPHRASE", PASS),
                ("CONSENT_CHILD_PASSPHRASE", CHILD_PASS),
            ],
        )
        .await;
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("delegation-not-in-force"));
    let mine = env.json("lea.json", &own).await;
    assert_eq!(s(&mine, "subject"), subject, "the same feed, now Lea's own");
}
