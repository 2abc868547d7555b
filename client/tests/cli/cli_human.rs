//! The `consent` binary's human output: every command reads as sentences a person can follow.

use crate::common;

use common::{Env, policy_file, start};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn human_output_of_every_command_reads_as_sentences() {
    let mut env = Env {
        dir: tempfile::tempdir().expect("tempdir"),
        node: None,
    };
    let out = env.ok("reg.json", &["registrar", "init"]).await;
    assert!(
        out.contains("Registrar created: reg1") && out.contains("genesis"),
        "{out}"
    );
    let registrar = out
        .lines()
        .next()
        .and_then(|l| l.split_whitespace().last())
        .expect("id")
        .to_string();
    env.node = Some(start(env.dir.path(), &registrar).await);
    let policy = policy_file(env.dir.path());
    let out = env
        .ok("col.json", &["collector", "init", "--policy", &policy])
        .await;
    assert!(
        out.contains("Collector created: col1") && out.contains("Policy version 1 published"),
        "{out}"
    );
    let collector = out
        .lines()
        .next()
        .and_then(|l| l.split_whitespace().last())
        .expect("id")
        .to_string();
    let out = env
        .ok(
            "reg.json",
            &["registrar", "accredit", &collector, "--until", "2030-01-01"],
        )
        .await;
    assert!(
        out.contains("Accredited col1") && out.contains("2030-01-01T00:00:00Z"),
        "{out}"
    );
    let out = env.ok("alice.json", &["wallet", "init"]).await;
    assert!(
        out.contains("Recovery key")
            && out.contains("recovery1")
            && out.contains("shown only once"),
        "{out}"
    );
    let subject = env
        .ok("alice.json", &["wallet", "id", &collector])
        .await
        .trim()
        .to_string();
    assert!(subject.starts_with("cit1"));
    let out = env
        .ok(
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
    assert!(
        out.contains("Granted. Grant id: ent1") && out.contains(&subject),
        "{out}"
    );
    let grant = out
        .split_whitespace()
        .find(|w| w.starts_with("ent1"))
        .expect("grant id")
        .to_string();
    let out = env.ok("alice.json", &["list"]).await;
    assert!(
        out.contains("granted col1") && out.contains("location for billing"),
        "{out}"
    );
    let out = env
        .ok("alice.json", &["request", &collector, "opt-out-sale"])
        .await;
    assert!(out.contains("opt-out of sale and sharing"), "{out}");
    let out = env.ok("alice.json", &["revoke", &grant]).await;
    assert!(out.starts_with(&format!("Revoked grant {grant}")), "{out}");
    let out = env
        .ok(
            "col.json",
            &["collector", "policy", "update", "--policy", &policy],
        )
        .await;
    assert!(out.contains("Policy version 2 published"), "{out}");
    let out = env
        .ok(
            "reg.json",
            &["registrar", "suspend", &collector, "--reason", "late audit"],
        )
        .await;
    assert!(out.starts_with("Suspended col1"), "{out}");
    let out = env.ok("alice.json", &["wallet", "rotate"]).await;
    assert!(out.contains("Rotated 1 feed(s)"), "{out}");
    let out = env.ok("none.json", &["vocab"]).await;
    assert!(
        out.contains("purposes (--purpose):")
            && out.contains("sell-data")
            && out.contains("data categories (--category):")
            && !out.contains("categorys")
            && out.contains("requests (consent request COLLECTOR KIND):")
            && out.contains("number-plate-reader")
            && out.contains("pseudonymised")
            && out.contains("(rank 2, dpv:Pseudonymisation)")
            && out.ends_with('\n'),
        "{out}"
    );
    let lines = env
        .ok("none.json", &["--json", "vocab"])
        .await
        .lines()
        .count();
    // Purposes, categories, sensor kinds, requests and forms.
    assert_eq!(lines, 15 + 15 + 14 + 6 + 4);
}
