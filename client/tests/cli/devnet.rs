//! The built-in dev network from the CLI alone: a newcomer's path from nothing to an allow and a
//! deny, and `--dev` refused by any other network.

use crate::common;

use common::{Env, policy_file, s, start};

/// A newcomer's path on the built-in dev network (a node run with the dev defaults): act as the
/// dev registrar, accredit a collector, grant, check (allow), answer a request from the inbox,
/// revoke, check (deny) — from the CLI alone; and `--dev` is refused by any other network.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dev_network_gets_from_nothing_to_an_allow_and_a_deny_from_the_cli() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = consent_node::config::Config {
        data_dir: dir.path().join("node"),
        grpc_listen: "127.0.0.1:0".parse().expect("addr"),
        ..consent_node::config::Config::default()
    };
    assert!(config.genesis.is_none(), "the dev defaults");
    let node = consent_node::Node::start(config).await.expect("dev node");
    let env = Env {
        dir,
        node: Some(node),
    };
    let reg = env.json("reg.json", &["registrar", "init", "--dev"]).await;
    assert_eq!(reg["dev"], true);
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
    env.json("alice.json", &["wallet", "init"]).await;
    let subject = s(
        &env.json("alice.json", &["wallet", "id", &collector]).await,
        "subject",
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
                "--yes",
            ],
        )
        .await;
    // The address as the node writes it in <data-dir>/grpc.addr, without a scheme.
    let address = std::fs::read_to_string(env.path("node/grpc.addr")).expect("grpc.addr");
    let check = [
        "check",
        "--subject",
        &subject,
        "--purpose",
        "service-provision",
        "--category",
        "vehicle",
    ];
    let allowed = env.json_at(address.trim(), "col.json", &check).await;
    assert_eq!(
        (s(&allowed, "decision"), s(&allowed, "grant")),
        ("allow".to_string(), s(&grant, "grant"))
    );

    // The collector's inbox shows the request until it is acknowledged.
    let request = env
        .json("alice.json", &["request", &collector, "access"])
        .await;
    let inbox = env.ok("col.json", &["--json", "collector", "inbox"]).await;
    assert!(inbox.contains(&s(&request, "request")), "{inbox}");
    env.ok(
        "col.json",
        &["collector", "ack", &s(&request, "request"), "--done"],
    )
    .await;
    let inbox = env.ok("col.json", &["collector", "inbox"]).await;
    assert!(inbox.contains("Nothing to answer"), "{inbox}");

    env.json("alice.json", &["revoke", &s(&grant, "grant")])
        .await;
    let denied = env.json_at(address.trim(), "col.json", &check).await;
    assert_eq!(
        (s(&denied, "decision"), s(&denied, "reason")),
        ("deny".to_string(), "revoked".to_string())
    );

    // Any other network refuses the dev registrar.
    let other = tempfile::tempdir().expect("tempdir");
    let real = Env {
        node: Some(start(other.path(), &real_registrar()).await),
        dir: other,
    };
    real.fails(
        "dev.json",
        &["registrar", "init", "--dev"],
        "does not run the built-in dev network",
    )
    .await;
}

/// A registrar id that is not the dev one, for a genesis.
fn real_registrar() -> String {
    let (author, _) = consent_proto::fixtures::author(
        consent_proto::vocab::Role::Registrar,
        "cli-real-registrar",
        consent_proto::fixtures::T0,
    );
    author
        .feed()
        .typed(consent_proto::vocab::Role::Registrar)
        .to_string()
}
