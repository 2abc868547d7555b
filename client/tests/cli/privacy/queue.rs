//! The send queue from the command line: what waits, when it leaves, coarse times, prepared
//! inceptions, and revocations that leave at once.

use super::*;

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
async fn a_restored_queue_file_never_sends_a_grant_the_person_withdrew() {
    let (env, first, _) = network().await;
    let g1 = grant(&env, &first).await;
    assert_eq!(g1["queued"], true, "{g1}");
    let sub1 = s(&g1, "subject");
    let queue_file = env.path("alice.queue");
    let backup = std::fs::read(&queue_file).expect("the queue file");
    let revoked = private_json(&env, &["revoke", &s(&g1, "grant")]).await;
    assert_eq!(revoked[0]["withdrawn"], g1["grant"], "{revoked:?}");
    // A backup of the wallet's directory put back: its queue still holds the withdrawn grant.
    std::fs::write(&queue_file, &backup).expect("restore the old queue file");
    let (_, stderr) = private(&env, &["queue", "--send-now"]).await;
    assert!(
        stderr.contains("you had withdrawn it") && stderr.contains(&s(&g1, "grant")),
        "{stderr}"
    );
    let (decision, reason) = check(&env, "col.json", &first, &sub1).await;
    assert_eq!(decision, "deny", "{reason}");
    let history = private_json(&env, &["history"]).await;
    assert!(
        !history
            .iter()
            .any(|e| s(e, "feed") == sub1 && s(e, "kind") == "grant"),
        "the withdrawn grant was never published: {history:?}"
    );
    assert_eq!(
        private_json(&env, &["queue"]).await,
        vec![serde_json::json!({"queued": 0})]
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
    // Asked to spread: each revocation at its own moment; the grants stay in force until then,
    // and the command says so and fails (issue 24: exit 0 says every revocation is in effect).
    let ran = run_private(
        &env,
        "alice.json",
        &["--json", "revoke", "--all", "--spread", "10m", "--no-wait"],
    )
    .await;
    let (stdout, stderr) = (
        String::from_utf8_lossy(&ran.stdout).into_owned(),
        String::from_utf8_lossy(&ran.stderr).into_owned(),
    );
    assert_eq!(ran.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(stderr.contains("NOT in effect yet"), "{stderr}");
    let out = json_lines(&stdout);
    let revoked = out[0]["revoked"].as_array().expect("revoked").clone();
    assert_eq!(revoked.len(), 2, "{out:?}");
    assert!(
        revoked
            .iter()
            .all(|r| r["queued"] == true && r["in_effect"] == false),
        "{out:?}"
    );
    let ran = run_private(
        &env,
        "alice.json",
        &["revoke", "--all", "--spread", "10m", "--no-wait"],
    )
    .await;
    let text = String::from_utf8_lossy(&ran.stdout);
    assert_eq!(ran.status.code(), Some(1), "{text}");
    assert!(
        text.contains("still queued, NOT in effect yet"),
        "run again, it names the revocations still queued (their grants are in force): {text}"
    );
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
