//! What a second device, a failing feed and `--help` do to the queue: no fork of the feed,
//! `revoke --all` that goes on and says what it did, help that says it queues.

use super::*;

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
    env.recover_from("ana.json", &master).await;
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
