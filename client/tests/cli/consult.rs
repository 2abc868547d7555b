//! Public consultations through the CLI: a collector drafts a widening version, citizens take
//! stances, the collector responds, the registrar decides. Nothing waits for time to pass: the
//! node runs on a manual clock and every `consent` run on the same shifted time
//! (`common::test_clock`), moved past the window when the test needs it closed.

use crate::common;

use common::{Env, policy_file, s, start_on, test_clock};
use consent_node::genesis::ConsultationSection;
use serde_json::Value;

/// The example policy, also used for marketing: a widening.
fn wider_policy(env: &Env) -> String {
    let base = policy_file(env.dir.path());
    let text = std::fs::read_to_string(&base).expect("policy");
    let wider = text.replace(
        r#"purposes = ["service-provision", "billing"]"#,
        r#"purposes = ["service-provision", "billing", "marketing"]"#,
    );
    assert_ne!(text, wider, "the example policy's purposes line changed");
    let path = env.path("wider-policy.toml");
    std::fs::write(&path, wider).expect("write");
    path.display().to_string()
}

/// The entry id after "consent consult show " in a command's output.
fn shown_id(out: &str) -> String {
    let at = out
        .find("consent consult show ")
        .unwrap_or_else(|| panic!("no `consent consult show ID` in {out}"));
    out[at + "consent consult show ".len()..]
        .split(|c: char| c.is_whitespace() || c == ')')
        .next()
        .expect("id")
        .to_string()
}

/// Every JSON object printed, one per line.
fn lines(out: &str) -> Vec<Value> {
    out.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

/// A registrar, a node, a collector with policy v1, accredited.
async fn network(consultation: Option<ConsultationSection>) -> (Env, String) {
    let mut env = Env {
        dir: tempfile::tempdir().expect("tempdir"),
        node: None,
    };
    let reg = env.json("reg.json", &["registrar", "init"]).await;
    let registrar = s(&reg, "registrar");
    env.node = Some(
        start_on(
            env.dir.path(),
            &registrar,
            consultation,
            test_clock::clock(),
        )
        .await,
    );
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_widening_draft_is_consulted_answered_and_approved_through_the_cli() {
    let (env, collector) = network(None).await;
    let wider = wider_policy(&env);
    env.json("alice.json", &["wallet", "init"]).await;
    env.json("bob.json", &["wallet", "init"]).await;
    env.json(
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
    // Another collector's voluntary consultation, closing before the draft's: the node lists it
    // first, Alice's list puts the one on her collector first.
    let policy = policy_file(env.dir.path());
    let other = env
        .json("other.json", &["collector", "init", "--policy", &policy])
        .await;
    let voluntary = env
        .ok(
            "other.json",
            &[
                "collector",
                "policy",
                "draft",
                "--policy",
                &policy,
                "--closes",
                "10s",
            ],
        )
        .await;
    assert!(voluntary.contains("does not widen"), "{voluntary}");
    let voluntary = shown_id(&voluntary);

    // The widening draft.
    let out = env
        .ok(
            "col.json",
            &[
                "collector",
                "policy",
                "draft",
                "--policy",
                &wider,
                "--closes",
                "1d",
            ],
        )
        .await;
    assert!(
        out.contains("wider: ") && out.contains("it is a draft"),
        "{out}"
    );
    let draft = shown_id(&out);
    assert!(draft.starts_with("ent1"), "{draft}");

    // The version in effect is still 1; the draft is named, not granted under.
    let human = env.ok("none.json", &["policy", &collector]).await;
    assert!(
        human.contains("policy version 1")
            && human.contains("Version 2 is under public consultation until"),
        "{human}"
    );
    let pj = env.json("none.json", &["policy", &collector]).await;
    assert_eq!(
        (pj["version"].clone(), pj["pending"]["version"].clone()),
        (1.into(), 2.into())
    );
    env.fails(
        "bob.json",
        &[
            "grant",
            &collector,
            "--purpose",
            "marketing",
            "--category",
            "vehicle",
            "--yes",
        ],
        "is a draft under consultation",
    )
    .await;

    // Stances: Alice supports, then objects (replacing it); Bob supports.
    let first = env
        .json("alice.json", &["consult", "support", &draft])
        .await;
    assert_eq!(
        (s(&first, "stance"), first["replaces"].clone()),
        ("support".into(), Value::Null)
    );
    let details = env.path("why.txt");
    std::fs::write(&details, "Ninety days is too long for marketing.").expect("write");
    let details = details.display().to_string();
    let second = env
        .ok(
            "alice.json",
            &[
                "consult",
                "object",
                &draft,
                "--reason",
                "retention-too-long,other",
                "--details",
                &details,
            ],
        )
        .await;
    assert!(
        second.contains(&format!(
            "This replaces your earlier stance {}",
            s(&first, "entry")
        )) && second.contains("the ledger holds only its digest: dig1"),
        "{second}"
    );
    let usage = env.run("bob.json", &["consult", "object", &draft]).await;
    assert_eq!(
        usage.status.code(),
        Some(2),
        "object without --reason is a usage error"
    );
    env.json("bob.json", &["consult", "support", &draft]).await;

    let shown = env.json("none.json", &["consult", "show", &draft]).await;
    assert_eq!(s(&shown, "state"), "open");
    assert_eq!(shown["widening"], true);
    let counts = &shown["counts"];
    assert_eq!(
        (
            counts["affected"]["support"].clone(),
            counts["affected"]["object"].clone()
        ),
        (0.into(), 1.into())
    );
    assert_eq!(counts["affected"]["reasons"]["retention-too-long"], 1);
    assert_eq!(counts["affected"]["reasons"]["other"], 1);
    assert_eq!(
        (
            counts["others"]["support"].clone(),
            counts["others"]["object"].clone()
        ),
        (1.into(), 0.into())
    );
    let changes = shown["compared"][0]["changes"].as_array().expect("changes");
    assert!(
        changes
            .iter()
            .any(|c| c["direction"] == "widens" && c["code"] == "purposes"),
        "{changes:?}"
    );
    let human = env.ok("none.json", &["consult", "show", &draft]).await;
    assert!(
        human.contains("Counts are signals to the registrar, not votes"),
        "{human}"
    );

    // Alice's list: her collector's consultation first, marked.
    let listed = lines(
        &env.ok("alice.json", &["--json", "consult", "list", "--all"])
            .await,
    );
    let order: Vec<String> = listed.iter().map(|v| s(v, "draft")).collect();
    assert_eq!(order, vec![draft.clone(), voluntary.clone()], "{listed:?}");
    assert_eq!(
        (
            listed[0]["affects_you"].clone(),
            listed[1]["affects_you"].clone()
        ),
        (true.into(), false.into())
    );
    assert_eq!(s(&listed[1], "collector"), s(&other, "collector"));

    // Too early to approve; the collector answers one reason.
    env.fails(
        "reg.json",
        &[
            "registrar",
            "decide",
            &draft,
            "--approve",
            "--text",
            "Approved as drafted",
        ],
        "outcome-too-early",
    )
    .await;
    let response = env
        .json(
            "col.json",
            &[
                "collector",
                "respond",
                &draft,
                "--reason",
                "retention-too-long",
                "--text",
                "Marketing data is kept 30 days; the 90 days are for billing",
            ],
        )
        .await;
    assert_eq!(response["raised_by"], 1);

    // Two days on (node and CLI alike): the window has closed.
    test_clock::advance(2 * 86_400_000);
    let v = env.json("none.json", &["consult", "show", &draft]).await;
    assert_eq!(s(&v, "state"), "awaiting-outcome", "{v}");
    env.fails(
        "bob.json",
        &["consult", "object", &draft, "--reason", "other"],
        "is not open",
    )
    .await;

    let decided = env
        .json(
            "reg.json",
            &[
                "registrar",
                "decide",
                &draft,
                "--approve",
                "--text",
                "Answered; approved",
            ],
        )
        .await;
    assert_eq!(s(&decided, "result"), "approved");
    assert_eq!(
        decided["responses"],
        serde_json::json!([s(&response, "response")])
    );
    let shown = env.json("none.json", &["consult", "show", &draft]).await;
    assert_eq!(s(&shown, "state"), "approved");
    assert_eq!(shown["outcomes"].as_array().map(Vec::len), Some(1));
    assert_eq!(shown["responses"].as_array().map(Vec::len), Some(1));
    // Now in effect: citizens see and grant under version 2.
    let pj = env.json("none.json", &["policy", &collector]).await;
    assert_eq!(
        (pj["version"].clone(), pj["pending"].clone()),
        (2.into(), Value::Null)
    );
    env.json(
        "bob.json",
        &[
            "grant",
            &collector,
            "--purpose",
            "marketing",
            "--category",
            "vehicle",
            "--yes",
        ],
    )
    .await;
    // Alice's history holds her stances.
    let history = env.ok("alice.json", &["history"]).await;
    assert!(
        history.contains("supported the consultation")
            && history.contains("objected to the consultation"),
        "{history}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_network_that_requires_consultations_refuses_a_widening_update_and_short_windows() {
    let section = ConsultationSection {
        widening_min_days: 14,
        objection_threshold: 3,
    };
    let (env, collector) = network(Some(section)).await;
    let wider = wider_policy(&env);
    env.fails(
        "col.json",
        &["collector", "policy", "update", "--policy", &wider],
        "publish it as a draft: consent collector policy draft --policy",
    )
    .await;
    env.fails(
        "col.json",
        &[
            "collector",
            "policy",
            "draft",
            "--policy",
            &wider,
            "--days",
            "3",
        ],
        "at least 14 days",
    )
    .await;
    let drafted = env
        .json(
            "col.json",
            &["collector", "policy", "draft", "--policy", &wider],
        )
        .await;
    assert_eq!(
        (drafted["draft"].clone(), drafted["version"].clone()),
        (true.into(), 2.into())
    );
    let draft = s(&drafted, "policy");
    let human = env.ok("none.json", &["consult", "show", &draft]).await;
    assert!(
        human.contains("open until")
            && (human.contains("in 13 days") || human.contains("in 14 days"))
            && human.contains("wider: "),
        "{human}"
    );
    env.fails(
        "reg.json",
        &[
            "registrar",
            "decide",
            &draft,
            "--approve",
            "--text",
            "Too early",
        ],
        "outcome-too-early",
    )
    .await;
    // Changes required: the draft never takes effect; a second outcome is refused.
    let decided = env
        .json(
            "reg.json",
            &[
                "registrar",
                "decide",
                &draft,
                "--changes-required",
                "--text",
                "Say why marketing",
            ],
        )
        .await;
    assert_eq!(s(&decided, "result"), "changes-required");
    env.fails(
        "reg.json",
        &[
            "registrar",
            "decide",
            &draft,
            "--changes-required",
            "--text",
            "Again",
        ],
        "outcome-exists",
    )
    .await;
    let human = env.ok("none.json", &["policy", &collector]).await;
    assert!(
        human.contains("policy version 1") && human.contains("changes required"),
        "{human}"
    );
    env.json("alice.json", &["wallet", "init"]).await;
    env.fails("alice.json", &["consult", "support", &draft], "is not open")
        .await;
}
