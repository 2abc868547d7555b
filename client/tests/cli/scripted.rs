//! The `consent` binary driven as a script would: the whole life cycle in `--json`, and every error
//! path, against a real node on 127.0.0.1.

use crate::common;

use common::{Env, policy_file, s, start};
use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_life_cycle_through_the_cli() {
    let mut env = Env {
        dir: tempfile::tempdir().expect("tempdir"),
        node: None,
    };
    // The registrar exists before the network: its id goes into the genesis.
    let reg = env.json("reg.json", &["registrar", "init"]).await;
    let registrar = s(&reg, "registrar");
    assert!(registrar.starts_with("reg1") && reg["on_node"] == false);
    env.node = Some(start(env.dir.path(), &registrar).await);

    // Collector: keystore, feed, policy v1.
    let policy = policy_file(env.dir.path());
    let col = env
        .json("col.json", &["collector", "init", "--policy", &policy])
        .await;
    let collector = s(&col, "collector");
    assert_eq!(col["version"], 1);
    let human = env.ok("none.json", &["policy", &collector]).await;
    assert!(
        human.contains("Riverside Parking")
            && human.contains("keeps it at most 90 days")
            && human.contains("Payment processor")
    );
    let pj = env.json("none.json", &["policy", &collector]).await;
    assert_eq!(
        pj["purposes"],
        serde_json::json!(["service-provision", "billing"])
    );

    // Accreditation (submits the registrar's inception first).
    let acc = env
        .json(
            "reg.json",
            &["registrar", "accredit", &collector, "--until", "365d"],
        )
        .await;
    assert!(s(&acc, "entry").starts_with("ent1"));

    // Citizen.
    let init = env.json("alice.json", &["wallet", "init"]).await;
    let recovery = s(&init, "recovery_key");
    assert!(recovery.starts_with("recovery1"));
    let id = env.json("alice.json", &["wallet", "id", &collector]).await;
    let subject = s(&id, "subject");
    let check = |purpose: &'static str| {
        let (subject, collector) = (subject.clone(), collector.clone());
        let env = &env;
        async move {
            env.json(
                "col.json",
                &[
                    "check",
                    "--subject",
                    &subject,
                    "--collector",
                    &collector,
                    "--purpose",
                    purpose,
                    "--category",
                    "vehicle",
                ],
            )
            .await
        }
    };
    let before = check("service-provision").await;
    assert_eq!(
        (s(&before, "decision"), s(&before, "reason")),
        ("deny".into(), "unknown-subject".into())
    );

    let grant = env
        .json(
            "alice.json",
            &[
                "grant",
                &collector,
                "--purpose",
                "service-provision",
                "--category",
                "vehicle",
                "--until",
                "30d",
                "--yes",
            ],
        )
        .await;
    let grant_id = s(&grant, "grant");
    assert_eq!(
        s(&grant, "subject"),
        subject,
        "the grant is made in the pairwise feed `wallet id` printed"
    );
    let allowed = check("service-provision").await;
    assert_eq!(
        (s(&allowed, "decision"), s(&allowed, "grant")),
        ("allow".into(), grant_id.clone())
    );
    // A deny is an answer: exit 0.
    let other = check("billing").await;
    assert_eq!(
        (s(&other, "decision"), s(&other, "reason")),
        ("deny".into(), "purpose-not-covered".into())
    );
    let human = env
        .ok(
            "col.json",
            &[
                "check",
                "--subject",
                &subject,
                "--collector",
                &collector,
                "--purpose",
                "billing",
                "--category",
                "vehicle",
            ],
        )
        .await;
    assert!(human.starts_with("deny (purpose-not-covered)"), "{human}");

    // The decision signed by the node, with its log evidence, written and checked offline.
    let receipt = env.path("decision.receipt");
    let receipt_arg = receipt.to_string_lossy().to_string();
    env.ok(
        "col.json",
        &[
            "check",
            "--subject",
            &subject,
            "--purpose",
            "service-provision",
            "--category",
            "vehicle",
            "--receipt",
            &receipt_arg,
        ],
    )
    .await;
    let verified = env
        .json("col.json", &["verify-receipt", &receipt_arg])
        .await;
    assert_eq!(
        (s(&verified, "decision"), s(&verified, "grant")),
        ("allow".into(), grant_id.clone())
    );
    let mut bytes = std::fs::read(&receipt).expect("receipt written");
    let last = bytes.len() - 1;
    bytes[last / 2] ^= 0x01;
    let bad = env.path("tampered.receipt");
    std::fs::write(&bad, &bytes).expect("write");
    let bad_arg = bad.to_string_lossy().to_string();
    env.fails("col.json", &["verify-receipt", &bad_arg], "receipt")
        .await;
    let witness = consent_proto::keys::SecretKey::from_seed(&[7; 32])
        .public()
        .to_text("node");
    env.fails(
        "col.json",
        &[
            "verify-receipt",
            &receipt_arg,
            "--witness",
            &witness,
            "--need",
            "1",
        ],
        "witnesses",
    )
    .await;

    let listed = env.ok("alice.json", &["--json", "list"]).await;
    let lines: Vec<Value> = listed
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    assert_eq!(lines.len(), 1);
    assert_eq!(s(&lines[0], "grant"), grant_id);

    // Revoke with erase, the collector acks, the history shows it.
    let rev = env
        .json("alice.json", &["revoke", &grant_id, "--erase"])
        .await;
    let revocation = s(&rev, "revocation");
    let denied = check("service-provision").await;
    assert_eq!(
        (s(&denied, "decision"), s(&denied, "reason")),
        ("deny".into(), "revoked".into())
    );
    let req = env
        .json("alice.json", &["request", &collector, "access"])
        .await;
    assert_eq!(s(&req, "kind"), "access");
    let ack = env
        .json("col.json", &["collector", "ack", &revocation, "--done"])
        .await;
    assert_eq!(s(&ack, "outcome"), "done");
    env.json(
        "col.json",
        &[
            "collector",
            "ack",
            &s(&req, "request"),
            "--refused",
            "identity could not be verified",
        ],
    )
    .await;
    let history = env.ok("alice.json", &["history"]).await;
    assert!(
        history.contains("revoked grant")
            && history.contains("answered")
            && history.contains("refused (identity could not be verified)"),
        "{history}"
    );
    let hist_json = env.ok("alice.json", &["--json", "history"]).await;
    let revoke_line: Value = hist_json
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("json line"))
        .find(|v| v["kind"] == "revoke")
        .expect("revoke in history");
    assert_eq!(revoke_line["acks"][0]["body"]["outcome"], "done");
    assert_eq!(
        env.ok("alice.json", &["list"]).await.trim(),
        "No grants in force."
    );

    // A receipt for the revocation, proven in the node's signed log, checked offline.
    let rev_file = env.path("revocation.receipt");
    let rev_arg = rev_file.to_string_lossy().to_string();
    let mut written = false;
    for _ in 0..100 {
        let out = env
            .run("alice.json", &["receipt", &revocation, "--out", &rev_arg])
            .await;
        if out.status.success() {
            written = true;
            break;
        }
        // Not yet in a signed checkpoint (one is signed every second): the message says so.
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("not in the node's latest checkpoint"),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(written, "a checkpoint covered the revocation within 10 s");
    let proven = env.json("alice.json", &["verify-receipt", &rev_arg]).await;
    assert_eq!(s(&proven, "entry"), revocation);

    // A second node that holds Alice's feed without her revocation: the wallet's monitor says so.
    let other_dir = tempfile::tempdir().expect("tempdir");
    let other = start(other_dir.path(), &registrar).await;
    let revocation_id: consent_proto::EntryId = revocation.parse().expect("entry id");
    let mut log = consent_proto::pb::ledger_client::LedgerClient::connect(env.url())
        .await
        .expect("connect")
        .get_log(consent_proto::pb::GetLogRequest::default())
        .await
        .expect("log")
        .into_inner();
    let mut copied = Vec::new();
    let mut withheld = None;
    while let Some(item) = log.message().await.expect("log stream") {
        let signed = item.entry.expect("stored");
        if item.id.as_ref() == revocation_id.0.as_slice() {
            withheld = Some(signed);
        } else {
            copied.push(signed);
        }
    }
    let mut b = consent_proto::pb::ledger_client::LedgerClient::connect(other.grpc_url())
        .await
        .expect("connect");
    b.submit_batch(consent_proto::pb::SubmitBatchRequest { entries: copied })
        .await
        .expect("copied");
    let (url_a, url_b) = (env.url(), other.grpc_url());
    let monitor = ["wallet", "monitor", "--at", &url_a, "--at", &url_b];
    env.fails("alice.json", &monitor, "alert").await;
    let out = env.run("alice.json", &monitor).await;
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        report.contains(&format!(
            "{url_b} lacks your revocation of grant {grant_id}"
        )),
        "{report}"
    );
    b.submit(consent_proto::pb::SubmitRequest { entry: withheld })
        .await
        .expect("revocation");
    let well = env.ok("alice.json", &monitor).await;
    assert!(well.starts_with("all well"), "{well}");
    other.shutdown();
    other.join().await.expect("stops");

    // Export: one JSON document with entries, policy and acks.
    let export: Value =
        serde_json::from_str(&env.ok("alice.json", &["export"]).await).expect("export is JSON");
    assert_eq!(export["format"], "consent-export/v1");
    assert_eq!(
        export["feeds"][0]["entries"].as_array().map(Vec::len),
        Some(4)
    );
    assert_eq!(export["feeds"][0]["acks"].as_array().map(Vec::len), Some(2));
    assert_eq!(
        export["feeds"][0]["collector_policy"]["name"],
        "Riverside Parking - street parking"
    );

    // Policy update: version 2.
    let v2 = env
        .json(
            "col.json",
            &["collector", "policy", "update", "--policy", &policy],
        )
        .await;
    assert_eq!(v2["version"], 2);

    // Suspension turns an allow into a deny.
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
    let ok = env
        .json(
            "col.json",
            &[
                "check",
                "--subject",
                &subject,
                "--collector",
                &collector,
                "--purpose",
                "billing",
                "--category",
                "location",
            ],
        )
        .await;
    assert_eq!(s(&ok, "decision"), "allow");
    env.json(
        "reg.json",
        &[
            "registrar",
            "suspend",
            &collector,
            "--reason",
            "audit found violations",
        ],
    )
    .await;
    let ko = env
        .json(
            "col.json",
            &[
                "check",
                "--subject",
                &subject,
                "--collector",
                &collector,
                "--purpose",
                "billing",
                "--category",
                "location",
            ],
        )
        .await;
    assert_eq!(s(&ko, "reason"), "collector-not-accredited");

    // Rotation, then recovery on a "new device" from the recovery key alone.
    let rot = env.json("alice.json", &["wallet", "rotate"]).await;
    assert_eq!(rot["rotated"].as_array().map(Vec::len), Some(1));
    let recovered = env
        .run_env(
            "alice-new.json",
            &["--json", "wallet", "recover", "--collector", &collector],
            &[
                ("CONSENT_PASSPHRASE", "another passphrase"),
                ("CONSENT_RECOVERY_KEY", &recovery),
            ],
        )
        .await;
    assert!(
        recovered.status.success(),
        "{}",
        String::from_utf8_lossy(&recovered.stderr)
    );
    let rj: Value =
        serde_json::from_str(String::from_utf8_lossy(&recovered.stdout).trim()).expect("json");
    assert_eq!(rj["feeds"], serde_json::json!([subject.clone()]));
    // The recovered wallet signs with the rotated key: its request is accepted.
    let again = env
        .run_env(
            "alice-new.json",
            &["--json", "request", &collector, "portability"],
            &[("CONSENT_PASSPHRASE", "another passphrase")],
        )
        .await;
    assert!(
        again.status.success(),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    // The first device's monitor reports an entry in Alice's name that it did not sign; the new
    // device journals from its recovery on, and finds nothing wrong.
    let out = env.run("alice.json", &["wallet", "monitor"]).await;
    assert_eq!(out.status.code(), Some(1));
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(report.contains("this wallet never signed it"), "{report}");
    let mine = env
        .run_env(
            "alice-new.json",
            &["wallet", "monitor"],
            &[("CONSENT_PASSPHRASE", "another passphrase")],
        )
        .await;
    assert!(
        mine.status.success(),
        "{}{}",
        String::from_utf8_lossy(&mine.stdout),
        String::from_utf8_lossy(&mine.stderr)
    );

    // Pairwise: the same wallet's id for another collector shares nothing with the first.
    let col2 = env
        .json("col2.json", &["collector", "init", "--policy", &policy])
        .await;
    let other_subject = s(
        &env.json("alice.json", &["wallet", "id", &s(&col2, "collector")])
            .await,
        "subject",
    );
    assert_ne!(other_subject, subject);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_error_is_one_clear_line_and_a_non_zero_exit() {
    let mut env = Env {
        dir: tempfile::tempdir().expect("tempdir"),
        node: None,
    };
    let reg = env.json("reg.json", &["registrar", "init"]).await;
    // A malformed id is refused before anything is contacted.
    env.fails(
        "none.json",
        &[
            "policy",
            "col1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqlgpzfg",
        ],
        "argument <collector>",
    )
    .await;
    env.node = Some(start(env.dir.path(), &s(&reg, "registrar")).await);
    let policy = policy_file(env.dir.path());
    let collector = s(
        &env.json("col.json", &["collector", "init", "--policy", &policy])
            .await,
        "collector",
    );
    // Node unreachable, naming the URL.
    let unreachable = Env {
        dir: tempfile::tempdir().expect("tempdir"),
        node: None,
    };
    unreachable
        .fails(
            "x.json",
            &["policy", &collector],
            "cannot reach the node at http://127.0.0.1:9",
        )
        .await;
    // Keystore missing: suggests wallet init.
    env.fails("missing.json", &["list"], "consent wallet init")
        .await;
    // Wrong passphrase: nothing changed.
    env.json("alice.json", &["wallet", "init"]).await;
    let before = std::fs::read(env.path("alice.json")).expect("read");
    let out = env
        .run_env("alice.json", &["list"], &[("CONSENT_PASSPHRASE", "wrong")])
        .await;
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("wrong passphrase"));
    assert_eq!(std::fs::read(env.path("alice.json")).expect("read"), before);
    // No passphrase and no terminal.
    let out = env.run_env("alice.json", &["list"], &[]).await;
    assert!(String::from_utf8_lossy(&out.stderr).contains("CONSENT_PASSPHRASE"));
    // Malformed ids, naming the argument; a valid id of the wrong kind.
    env.fails(
        "alice.json",
        &["policy", "col1nonsense"],
        "argument <collector>",
    )
    .await;
    env.fails("alice.json", &["revoke", &collector], "argument <grant-id>")
        .await;
    env.fails(
        "col.json",
        &[
            "check",
            "--subject",
            &collector,
            "--collector",
            &collector,
            "--purpose",
            "billing",
            "--category",
            "vehicle",
        ],
        "argument --subject",
    )
    .await;
    // Unknown collector.

    let (unknown, _) = consent_proto::fixtures::author(
        consent_proto::vocab::Role::Collector,
        "nobody",
        consent_proto::fixtures::T0,
    );
    let unknown = unknown
        .feed()
        .typed(consent_proto::vocab::Role::Collector)
        .to_string();
    env.fails("alice.json", &["policy", &unknown], "unknown collector")
        .await;
    env.fails(
        "alice.json",
        &[
            "grant",
            &unknown,
            "--purpose",
            "billing",
            "--category",
            "vehicle",
            "--yes",
        ],
        "unknown collector",
    )
    .await;
    // Purpose or category not in the policy; unknown vocabulary names list the choices.
    env.fails(
        "alice.json",
        &[
            "grant",
            &collector,
            "--purpose",
            "marketing",
            "--category",
            "vehicle",
            "--yes",
        ],
        "not in",
    )
    .await;
    env.fails(
        "alice.json",
        &[
            "grant",
            &collector,
            "--purpose",
            "billing",
            "--category",
            "health",
            "--yes",
        ],
        "not in",
    )
    .await;
    env.fails(
        "alice.json",
        &[
            "grant",
            &collector,
            "--purpose",
            "spying",
            "--category",
            "vehicle",
            "--yes",
        ],
        "service-provision",
    )
    .await;
    // Without --yes and without a terminal, nothing is signed.
    env.fails(
        "alice.json",
        &[
            "grant",
            &collector,
            "--purpose",
            "billing",
            "--category",
            "vehicle",
        ],
        "--yes",
    )
    .await;
    // A keystore of the wrong role; a second init over an existing keystore.
    env.fails("col.json", &["list"], "belongs to a collector")
        .await;
    env.fails("alice.json", &["wallet", "init"], "already exists")
        .await;
    // Bad dates.
    env.fails(
        "alice.json",
        &[
            "grant",
            &collector,
            "--purpose",
            "billing",
            "--category",
            "vehicle",
            "--until",
            "soonish",
            "--yes",
        ],
        "not a date",
    )
    .await;
}
